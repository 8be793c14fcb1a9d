package openai_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// responsesDir holds the recorded Responses API bodies (see ATTRIBUTION.md
// there): NAME.sse streams, NAME.json blocking bodies, each with
// NAME.expected.json.
var responsesDir = filepath.Join("testdata", "responses")

// apiErr checks an *lm.APIError that is not inside an *lm.StreamError
// (nothing was delivered before it).
func apiErr(status int, code string, is error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var api *lm.APIError
		var se *lm.StreamError
		if !errors.As(err, &api) || errors.As(err, &se) {
			t.Fatalf("err = %T %v, want *lm.APIError outside a StreamError", err, err)
		}
		if api.StatusCode != status || api.Code != code || !errors.Is(err, is) {
			t.Errorf("APIError = %+v, want status %d code %q matching %v", api, status, code, is)
		}
	}
}

// responsesTyped holds the checks of captures whose error must be of a
// kind, beyond its text in the expected values.
var responsesTyped = map[string]func(*testing.T, error){
	"openai_gpt-5-nano_error-event-insufficient-quota.sse": apiErr(429, "insufficient_quota", lm.ErrRateLimited),
	"openai_gpt-4o_refusal-deltas.sse":                     refusal("I'm sorry, I can't assist with that."),
	"openai_gpt-4o_refusal_blocking.json":                  refusal("I'm very sorry, but I can't assist with that."),
	"openai_http-401_invalid-api-key_blocking.json":        apiErr(401, "invalid_api_key", lm.ErrAuth),
	"openai_http-400_model-not-found_blocking.json":        apiErr(400, "model_not_found", lm.ErrBadRequest),
}

func checkTyped(t *testing.T, name string, err error) {
	t.Helper()
	if check, ok := responsesTyped[name]; ok {
		check(t, err)
	} else if err != nil {
		t.Errorf("err = %v", err)
	}
}

// TestResponsesConformance replays every real recorded Responses stream in
// testdata/responses, written in small random pieces, and compares the
// whole outcome (text, reasoning, tool calls, finish, usage, error) with
// NAME.expected.json.
func TestResponsesConformance(t *testing.T) {
	captures := replay.Captures(t, responsesDir, func(string) bool { return true })
	if len(captures) < 12 {
		t.Fatalf("%d Responses stream captures, want the 12 recorded", len(captures))
	}
	replay.Conformance(t, captures, func(url string) lm.LM {
		return openai.NewResponses("m", openai.WithBaseURL(url), openai.WithRetry(lm.NoRetry()))
	}, *update, checkTyped)
}

// httpStatus reads the status of a recorded blocking body from its name
// ("…_http-401_…"); bodies without one were answered with 200.
var httpStatus = regexp.MustCompile(`_http-(\d{3})_`)

// TestResponsesBlockingConformance answers Generate with every recorded
// blocking Responses body (NAME.json, with the status it was recorded
// with) and compares the outcome with NAME.expected.json.
func TestResponsesBlockingConformance(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(responsesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range files {
		if strings.HasSuffix(path, ".expected.json") {
			continue
		}
		n++
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			status := 200
			if m := httpStatus.FindStringSubmatch(name); m != nil {
				status, _ = strconv.Atoi(m[1])
			}
			ft := &replay.Script{Answers: []replay.Answer{replay.Status(status, http.Header{"Content-Type": {"application/json"}}, string(body))}}
			c := openai.NewResponses("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithRetry(lm.NoRetry()))
			resp, err := c.Generate(t.Context(), userReq("hi"))
			checkTyped(t, name, err)
			replay.Golden(t, strings.TrimSuffix(path, ".json")+".expected.json", replay.Outcome(resp, err), *update)
		})
	}
	if n < 7 {
		t.Fatalf("%d blocking captures, want the 7 recorded", n)
	}
}
