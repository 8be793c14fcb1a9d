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
