package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"

	"github.com/godspy/dspy/lm"
)

// keyVersion is hashed first; change it when the key encoding or the value
// codec changes, so old entries become unreachable instead of misread.
const keyVersion = "godspy-lm-cache-v2" // v2: the endpoint is in the key

// keyWriter builds a canonical, unambiguous encoding of a request, to be
// hashed: every field in a fixed order, every variable-length item prefixed
// by its length, every optional value by a presence byte.
type keyWriter struct {
	b []byte
}

func (w *keyWriter) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

func (w *keyWriter) int(v int64) { w.b = binary.AppendVarint(w.b, v) }

func (w *keyWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *keyWriter) str(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *keyWriter) bytes(b []byte) {
	w.uint(uint64(len(b)))
	w.b = append(w.b, b...)
}

// jsonValue writes v as JSON: encoding/json sorts map keys, so equal maps
// encode equally.
func (w *keyWriter) jsonValue(what string, v any) error {
	if v == nil {
		w.bool(false)
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cache: cannot key %s: %w", what, err)
	}
	w.bool(true)
	w.bytes(b)
	return nil
}

// requestKey returns the hex SHA-256 of everything in req that can change
// the reply, plus the LM's identity. It never reads credentials: a Request
// has none, and provider, model and salt are given by the caller.
func requestKey(provider, endpoint, model, salt string, req *lm.Request) (string, error) {
	size := 128 + len(provider) + len(endpoint) + len(model) + len(salt) + len(req.Model)
	for _, m := range req.Messages {
		size += 16 + len(m.Content) + len(m.Reasoning) + len(m.Name) + len(m.ToolCallID)
		for _, tc := range m.ToolCalls {
			size += 8 + len(tc.ID) + len(tc.Name) + len(tc.Arguments)
		}
	}
	w := keyWriter{b: make([]byte, 0, size)}
	w.str(keyVersion)
	w.str(provider)
	w.str(endpoint)
	if req.Model != "" {
		model = req.Model
	}
	w.str(model)
	w.str(salt)

	w.uint(uint64(len(req.Messages)))
	for _, m := range req.Messages {
		w.str(string(m.Role))
		w.str(m.Content)
		w.str(m.Reasoning)
		w.uint(uint64(len(m.ToolCalls)))
		for _, tc := range m.ToolCalls {
			w.str(tc.ID)
			w.str(tc.Name)
			w.str(tc.Arguments)
		}
		w.str(m.ToolCallID)
		w.str(m.Name)
	}

	w.bool(req.Temperature != nil)
	if req.Temperature != nil {
		w.uint(math.Float64bits(*req.Temperature))
	}
	w.bool(req.TopP != nil)
	if req.TopP != nil {
		w.uint(math.Float64bits(*req.TopP))
	}
	w.int(int64(req.MaxTokens))
	w.int(int64(req.N))
	w.uint(uint64(len(req.Stop)))
	for _, s := range req.Stop {
		w.str(s)
	}
	w.bool(req.Seed != nil)
	if req.Seed != nil {
		w.int(*req.Seed)
	}

	rf := req.ResponseFormat
	w.bool(rf != nil)
	if rf != nil {
		w.str(rf.Type)
		w.str(rf.Name)
		if err := w.jsonValue("response format schema", mapOrNil(rf.Schema)); err != nil {
			return "", err
		}
		w.bool(rf.Strict)
	}

	w.uint(uint64(len(req.Tools)))
	for _, t := range req.Tools {
		w.str(t.Name)
		w.str(t.Description)
		if err := w.jsonValue("parameters of tool "+t.Name, mapOrNil(t.Parameters)); err != nil {
			return "", err
		}
	}
	w.str(req.ToolChoice)
	if err := w.jsonValue("Extra", mapOrNil(req.Extra)); err != nil {
		return "", err
	}
	w.str(req.RolloutID)

	sum := sha256.Sum256(w.b)
	return hex.EncodeToString(sum[:]), nil
}

// mapOrNil turns a nil map into an untyped nil, so that a nil map and an
// absent one key alike, and an empty non-nil map keys as "{}".
func mapOrNil(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}
