package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	model := offlineLM()
	if err := run(context.Background(), &out, model); err != nil {
		t.Fatalf("run: %v", err)
	}
	want := "Weather in San Francisco: 72°F, sunny\nIt's 64°F with light rain in Tokyo.\n"
	if out.String() != want {
		t.Errorf("output =\n%s\nwant\n%s", out.String(), want)
	}
	// The agent's second prompt holds what the weather API said.
	reqs := model.Requests()
	if last := reqs[1].Messages[len(reqs[1].Messages)-1].Content; !strings.Contains(last, "[[ ## observation_0 ## ]]\nWeather in Tokyo: 64°F, light rain") {
		t.Errorf("second prompt lacks the tool's observation:\n%s", last)
	}
}

func TestUnknownCityIsAnObservation(t *testing.T) {
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		if strings.Contains(req.Messages[0].Content, "`reasoning`") {
			return dspytest.Reply{Text: dspytest.ChatReply("reasoning", "r", "answer", "unknown")}, nil
		}
		if strings.Contains(req.Messages[len(req.Messages)-1].Content, "observation_0") {
			return dspytest.Reply{Text: dspytest.ChatReply("next_thought", "t", "next_tool_name", "finish", "next_tool_args", "{}")}, nil
		}
		return dspytest.Reply{Text: dspytest.ChatReply("next_thought", "t", "next_tool_name", "fetch_weather", "next_tool_args", `{"city": "Atlantis"}`)}, nil
	})
	var out bytes.Buffer
	if err := run(context.Background(), &out, model); err != nil {
		t.Fatalf("run: %v", err)
	}
	last := model.Requests()[1].Messages
	if c := last[len(last)-1].Content; !strings.Contains(c, `Execution error in fetch_weather: weather API: 404 Not Found for "Atlantis"`) {
		t.Errorf("second prompt lacks the tool's error:\n%s", c)
	}
}
