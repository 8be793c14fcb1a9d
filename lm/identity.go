package lm

// Identify returns the provider and model names of m, asking m and then the
// LMs it wraps (through an Unwrap() LM method) for methods Provider() string
// and Model() string. A name that no LM in the chain gives is "". Caches use
// it for their keys and histories for their entries.
func Identify(m LM) (provider, model string) {
	for m != nil {
		if p, ok := m.(interface{ Provider() string }); ok && provider == "" {
			provider = p.Provider()
		}
		if md, ok := m.(interface{ Model() string }); ok && model == "" {
			model = md.Model()
		}
		if provider != "" && model != "" {
			break
		}
		u, ok := m.(interface{ Unwrap() LM })
		if !ok {
			break
		}
		m = u.Unwrap()
	}
	return provider, model
}

// Endpoint returns the API root m sends its requests to ("" when unknown),
// looking through wrapping LMs for a method BaseURL() string, as the
// providers' clients have. The cache keys on it, so that two servers behind
// the same provider and model name (a local vLLM and a hosted one) never
// answer for each other.
func Endpoint(m LM) string {
	for m != nil {
		if b, ok := m.(interface{ BaseURL() string }); ok {
			return b.BaseURL()
		}
		u, ok := m.(interface{ Unwrap() LM })
		if !ok {
			return ""
		}
		m = u.Unwrap()
	}
	return ""
}
