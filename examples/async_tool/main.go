// Command async_tool is the Go twin of the DSPy guide's async tool: a
// fetch_weather tool that calls a weather API over HTTP, run with ACall
// and then used by a ReAct agent. The weather API is a local httptest
// server, so the example runs offline.
// With OPENAI_API_KEY (or DSPY_LM=provider/model) set, the agent runs on
// a real model instead.
//
//	go run ./examples/async_tool
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

func main() {
	model, err := pickLM(os.Stderr, offlineLM())
	if err == nil {
		err = run(context.Background(), os.Stdout, model)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// weatherAPI stands in for a real weather service.
func weatherAPI() *httptest.Server {
	reports := map[string]report{
		"San Francisco": {TempF: 72, Conditions: "sunny"},
		"Tokyo":         {TempF: 64, Conditions: "light rain"},
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep, ok := reports[r.URL.Query().Get("city")]
		if !ok {
			http.Error(w, "unknown city", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	}))
}

type report struct {
	TempF      int    `json:"temp_f"`
	Conditions string `json:"conditions"`
}

type weatherArgs struct {
	City string `json:"city" desc:"the city name"`
}

// fetchWeather returns the tool function. The request carries the call's
// ctx: cancelling the agent cancels the HTTP request.
func fetchWeather(client *http.Client, baseURL string) func(context.Context, weatherArgs) (string, error) {
	return func(ctx context.Context, a weatherArgs) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/v1/weather?city="+url.QueryEscape(a.City), nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("weather API: %s for %q", resp.Status, a.City)
		}
		var rep report
		if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
			return "", fmt.Errorf("weather API: %w", err)
		}
		return fmt.Sprintf("Weather in %s: %d°F, %s", a.City, rep.TempF, rep.Conditions), nil
	}
}

func run(ctx context.Context, w io.Writer, model lm.LM) error {
	api := weatherAPI()
	defer api.Close()
	weatherTool := dspy.NewTool("fetch_weather", "Fetch weather information for a city.", fetchWeather(api.Client(), api.URL))

	// Call the tool directly, asynchronously: start it, then await it.
	result, err := weatherTool.ACall(ctx, map[string]any{"city": "San Francisco"}).Await(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, result)

	// The same tool in an agent.
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{weatherTool})
	pred, err := agent.ACall(ctx, dspy.Inputs{"question": "What's the weather like in Tokyo?"}).Await(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, pred.String("answer"))
	return nil
}

// offlineLM plays the LM's side of the agent's conversation, so the
// example runs without a model.
func offlineLM() *dspytest.ScriptedLM {
	return dspytest.NewScriptedLM(
		dspytest.ChatReply("next_thought", "I should look up the current weather in Tokyo.",
			"next_tool_name", "fetch_weather", "next_tool_args", `{"city": "Tokyo"}`),
		dspytest.ChatReply("next_thought", "I have the weather in Tokyo.",
			"next_tool_name", "finish", "next_tool_args", "{}"),
		dspytest.ChatReply("reasoning", "The weather tool reported 64°F and light rain in Tokyo.",
			"answer", "It's 64°F with light rain in Tokyo."),
	)
}

// pickLM returns the LM the environment names (DSPY_LM, or a provider's API
// key such as OPENAI_API_KEY), else offline.
func pickLM(log io.Writer, offline lm.LM) (lm.LM, error) {
	model, err := dspy.LMFromEnv()
	if errors.Is(err, dspy.ErrNoLMInEnv) {
		fmt.Fprintln(log, "(offline demo LM: set OPENAI_API_KEY, or DSPY_LM=ollama_chat/llama3.2, to use a real model)")
		return offline, nil
	}
	if err != nil {
		return nil, err
	}
	name, _ := dspy.LMNameFromEnv()
	fmt.Fprintf(log, "(using %s)\n", name)
	return model, nil
}
