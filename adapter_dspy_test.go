package dspy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

// dspyMessagesCase is one case of testdata/dspy/adapter_messages.json: the
// messages one of DSPy's adapter tests asserts for a signature, demos and
// inputs (or, with System set, the system message alone).
type dspyMessagesCase struct {
	ID           string            `json:"id"`
	Source       string            `json:"source"`
	Adapter      string            `json:"adapter"`
	Signature    string            `json:"signature"`
	Instructions string            `json:"instructions"`
	Descs        map[string]string `json:"descs"`
	Demos        []Example         `json:"demos"`
	Inputs       Inputs            `json:"inputs"`
	Messages     []dspyMessage     `json:"messages"`
	System       string            `json:"system"`
	// Count and Some: a test that asserts only the number of messages and
	// the content of some (by index).
	Count int               `json:"count"`
	Some  map[string]string `json:"some"`
}

type dspyMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func loadDSPyMessages(t *testing.T) []dspyMessagesCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dspy", "adapter_messages.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Commit string             `json:"dspy_commit"`
		Cases  []dspyMessagesCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Commit == "" || len(f.Cases) == 0 {
		t.Fatal("adapter_messages.json: no commit or no cases")
	}
	return f.Cases
}

// signature builds the case's signature in godspy.
func (c dspyMessagesCase) signature(t *testing.T) *Signature {
	t.Helper()
	sig := MustSignature(c.Signature)
	if c.Instructions != "" {
		sig = sig.WithInstructions(c.Instructions)
	}
	if len(c.Descs) > 0 {
		outs := sig.Outputs()
		for i := range outs {
			if d, ok := c.Descs[outs[i].Name]; ok {
				outs[i].Desc = d
			}
		}
		sig = sig.WithOutputs(outs...)
	}
	return sig
}

// dspyAdapters are the adapters as DSPy 3 lays them out.
var dspyAdapters = map[string]Adapter{
	"ChatAdapter": ChatAdapter{Layout: LayoutDSPy3},
	"JSONAdapter": JSONAdapter{},
	"XMLAdapter":  XMLAdapter{},
}

// TestDSPyAdapterMessages builds the signature, demos and inputs of DSPy's
// exact-format adapter tests and compares the messages byte for byte.
func TestDSPyAdapterMessages(t *testing.T) {
	for _, c := range loadDSPyMessages(t) {
		t.Run(c.ID, func(t *testing.T) {
			a, ok := dspyAdapters[c.Adapter]
			if !ok {
				t.Fatalf("unknown adapter %q", c.Adapter)
			}
			sig := c.signature(t)
			var req lm.Request
			if err := a.Format(sig, c.Demos, c.Inputs, &req); err != nil {
				t.Fatalf("Format: %v", err)
			}
			got := make([]dspyMessage, len(req.Messages))
			for i, m := range req.Messages {
				got[i] = dspyMessage{string(m.Role), m.Content}
			}
			if c.Count > 0 {
				if len(got) != c.Count {
					t.Fatalf("%d messages, want %d (%s)", len(got), c.Count, c.Source)
				}
				for k, want := range c.Some {
					i, _ := strconv.Atoi(k)
					if d := cmp.Diff(want, got[i].Content); d != "" {
						t.Errorf("message %d mismatch with %s (-want +got):\n%s", i, c.Source, d)
					}
				}
				return
			}
			if c.System != "" {
				if d := cmp.Diff(c.System, got[0].Content); d != "" {
					t.Errorf("system message mismatch with %s (-want +got):\n%s", c.Source, d)
				}
				return
			}
			if d := cmp.Diff(c.Messages, got); d != "" {
				t.Errorf("messages mismatch with %s (-want +got):\n%s", c.Source, d)
			}
		})
	}
}
