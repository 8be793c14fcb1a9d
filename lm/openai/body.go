package openai

import "sync"

// reqBody is the JSON body of one call. The bytes encoded up front go to
// the first send and are not kept after it: a resend (a retry of the
// policy, or net/http's rewind after a dead keep-alive connection) encodes
// the request again. A call waiting on a slow provider then holds its
// lm.Request, which its caller holds anyway, but not a second copy of it
// as JSON: at 10,000 calls in flight that is 10,000 bodies.
type reqBody struct {
	mu     sync.Mutex
	first  []byte // nil once taken
	encode func() ([]byte, error)
}

func newBody(first []byte, encode func() ([]byte, error)) *reqBody {
	return &reqBody{first: first, encode: encode}
}

// take returns the bytes to send: the first ones once, then fresh ones.
func (r *reqBody) take() ([]byte, error) {
	r.mu.Lock()
	b := r.first
	r.first = nil
	r.mu.Unlock()
	if b != nil {
		return b, nil
	}
	return r.encode()
}
