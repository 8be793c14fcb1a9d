package dspy_test

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

// bonLM answers by rollout id. An attempt whose reply is "" waits for its
// context to end and records that it saw ctx.Done.
type bonLM struct {
	replies map[string]string // rollout id -> answer
	errs    map[string]error  // rollout id -> failure

	mu          sync.Mutex
	rollouts    []string
	temps       []float64
	cancelled   []string
	inFlight    int
	maxInFlight int
}

func (m *bonLM) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	m.mu.Lock()
	m.rollouts = append(m.rollouts, req.RolloutID)
	if req.Temperature != nil {
		m.temps = append(m.temps, *req.Temperature)
	}
	m.inFlight++
	m.maxInFlight = max(m.maxInFlight, m.inFlight)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.inFlight--
		m.mu.Unlock()
	}()

	if err := m.errs[req.RolloutID]; err != nil {
		time.Sleep(time.Millisecond) // let others start
		return nil, err
	}
	answer := m.replies[req.RolloutID]
	if answer == "" {
		<-ctx.Done()
		m.mu.Lock()
		m.cancelled = append(m.cancelled, req.RolloutID)
		m.mu.Unlock()
		return nil, ctx.Err()
	}
	time.Sleep(time.Millisecond) // keep attempts overlapping
	return &lm.Response{Choices: []lm.Choice{{Message: lm.Message{Role: lm.RoleAssistant, Content: dspytest.ChatReply("answer", answer)}}}}, nil
}

func (m *bonLM) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		resp, err := m.Generate(ctx, req)
		if err != nil {
			yield(lm.Chunk{}, err)
			return
		}
		yield(lm.Chunk{Text: resp.Text(), FinishReason: "stop"}, nil)
	}
}

// oneWord rewards short answers: 1 for one word, less for more.
func oneWord(_ dspy.Inputs, p *dspy.Prediction) float64 {
	return 1 / float64(len(strings.Fields(p.String("answer"))))
}

var question = dspy.Inputs{"question": "What is the capital of Belgium?"}

func TestBestOfNEarlyStopCancelsTheRest(t *testing.T) {
	model := &bonLM{replies: map[string]string{"2": "Brussels"}}
	b := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 5, oneWord, 1.0)
	pred, err := b.Call(context.Background(), question)
	if err != nil {
		t.Fatalf("BestOfN.Call: %v", err)
	}
	if got := pred.Get("answer"); got != "Brussels" {
		t.Errorf("BestOfN answer = %v, want Brussels", got)
	}
	model.mu.Lock()
	defer model.mu.Unlock()
	slices.Sort(model.rollouts)
	if d := cmp.Diff([]string{"0", "1", "2", "3", "4"}, model.rollouts); d != "" {
		t.Errorf("rollout ids (-want +got):\n%s", d)
	}
	slices.Sort(model.cancelled)
	if d := cmp.Diff([]string{"0", "1", "3", "4"}, model.cancelled); d != "" {
		t.Errorf("attempts that saw ctx.Done (-want +got):\n%s", d)
	}
	for _, temp := range model.temps {
		if temp != 1.0 {
			t.Errorf("attempt temperature = %v, want 1.0", temp)
		}
	}
	if len(model.temps) != 5 {
		t.Errorf("%d requests had a temperature, want 5", len(model.temps))
	}
}

func TestBestOfNReturnsTheBest(t *testing.T) {
	model := &bonLM{replies: map[string]string{"0": "It is Brussels", "1": "Brussels, Belgium", "2": "I think it is Brussels"}}
	b := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 3, oneWord, 1.0)
	pred, err := b.Call(context.Background(), question)
	if err != nil {
		t.Fatalf("BestOfN.Call: %v", err)
	}
	if got := pred.Get("answer"); got != "Brussels, Belgium" {
		t.Errorf("BestOfN answer = %v, want the best, Brussels, Belgium", got)
	}
}

func TestBestOfNOwnTemperatureWins(t *testing.T) {
	model := &bonLM{replies: map[string]string{"0": "Brussels"}}
	b := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model), dspy.WithTemperature(0.3)), 1, oneWord, 1.0)
	if _, err := b.Call(context.Background(), question); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]float64{0.3}, model.temps); d != "" {
		t.Errorf("temperatures (-want +got):\n%s", d)
	}
}

func TestBestOfNToleratesFailures(t *testing.T) {
	boom := errors.New("boom")
	model := &bonLM{
		replies: map[string]string{"2": "It is Brussels", "3": "Brussels, Belgium", "4": "Brussels is it"},
		errs:    map[string]error{"0": boom, "1": boom},
	}
	b := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 5, oneWord, 1.0, dspy.WithFailCount(2))
	pred, err := b.Call(context.Background(), question)
	if err != nil {
		t.Fatalf("BestOfN with 2 failures, WithFailCount(2): %v", err)
	}
	if got := pred.Get("answer"); got != "Brussels, Belgium" {
		t.Errorf("BestOfN answer = %v, want Brussels, Belgium", got)
	}
}

func TestBestOfNTooManyFailures(t *testing.T) {
	boom := errors.New("boom")
	model := &bonLM{
		replies: map[string]string{"3": "It is Brussels", "4": "Brussels"},
		errs:    map[string]error{"0": boom, "1": boom, "2": boom},
	}
	// One attempt at a time: the third failure stops the run before
	// attempts 3 and 4 start.
	b := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 5, oneWord, 1.0,
		dspy.WithFailCount(2), dspy.WithConcurrency(1))
	_, err := b.Call(context.Background(), question)
	if !errors.Is(err, dspy.ErrTooManyFailures) || !errors.Is(err, boom) {
		t.Fatalf("BestOfN error = %v, want ErrTooManyFailures wrapping boom", err)
	}
	if got := len(model.rollouts); got != 3 {
		t.Errorf("BestOfN made %d attempts, want 3 (it stops at the third failure)", got)
	}
}

func TestBestOfNAllFail(t *testing.T) {
	boom := errors.New("boom")
	model := &bonLM{errs: map[string]error{"0": boom, "1": boom}}
	b := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 2, oneWord, 1.0)
	if _, err := b.Call(context.Background(), question); !errors.Is(err, dspy.ErrTooManyFailures) || !errors.Is(err, boom) {
		t.Fatalf("BestOfN error = %v, want ErrTooManyFailures wrapping boom", err)
	}
}

func TestBestOfNConcurrencyLimit(t *testing.T) {
	model := &bonLM{replies: map[string]string{"0": "a b", "1": "a b", "2": "a b", "3": "a b", "4": "a b", "5": "a b"}}
	b := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 6, oneWord, 1.0, dspy.WithConcurrency(2))
	if _, err := b.Call(context.Background(), question); err != nil {
		t.Fatal(err)
	}
	if len(model.rollouts) != 6 || model.maxInFlight > 2 {
		t.Errorf("BestOfN made %d attempts with up to %d at once, want 6 with at most 2", len(model.rollouts), model.maxInFlight)
	}
}

func TestBestOfNCallerCancels(t *testing.T) {
	model := &bonLM{} // every attempt waits for ctx
	b := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 3, oneWord, 1.0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Call(ctx, question); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BestOfN error = %v, want context.DeadlineExceeded", err)
	}
	if len(model.cancelled) != 3 {
		t.Errorf("%d attempts saw ctx.Done, want 3", len(model.cancelled))
	}
}

func TestNestedRolloutIDs(t *testing.T) {
	model := &bonLM{replies: map[string]string{"0.0": "a b", "0.1": "a b", "1.0": "a b", "1.1": "a b"}}
	inner := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 2, oneWord, 1.0)
	outer := dspy.NewBestOfN(inner, 2, oneWord, 1.0)
	if _, err := outer.Call(context.Background(), question); err != nil {
		t.Fatal(err)
	}
	slices.Sort(model.rollouts)
	if d := cmp.Diff([]string{"0.0", "0.1", "1.0", "1.1"}, model.rollouts); d != "" {
		t.Errorf("rollout ids (-want +got):\n%s", d)
	}
}

func TestModulePaths(t *testing.T) {
	paths := func(m dspy.Module) []string {
		var out []string
		for _, np := range dspy.NamedPredictors(m) {
			out = append(out, np.Path)
		}
		return out
	}
	cot := dspy.NewChainOfThought("question -> answer")
	for _, tc := range []struct {
		m    dspy.Module
		want []string
	}{
		{dspy.NewBestOfN(cot, 3, oneWord, 1), []string{"module.predict"}},
		{dspy.NewRefine(cot, 3, oneWord, 1), []string{"module.predict"}},
		{dspy.NewMultiChainComparison("question -> answer", 3), []string{"predict", "attempts.predict"}},
	} {
		if d := cmp.Diff(tc.want, paths(tc.m)); d != "" {
			t.Errorf("NamedPredictors(%T) (-want +got):\n%s", tc.m, d)
		}
	}
}

// A listener bound to the inner module's predictor streams every attempt
// of BestOfN; the attempts' chunks interleave and are told apart by CallID.
func TestBestOfNStreamsAttemptsApart(t *testing.T) {
	answers := map[string]string{"0": "Brussels is the capital", "1": "It is Brussels", "2": "Brussels, in Belgium, [[ 2 ]]"}
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		return dspytest.Reply{Text: dspytest.ChatReply("reasoning", "Known.", "answer", answers[req.RolloutID])}, nil
	})
	model.ChunkSize = 3
	model.ChunkDelay = 200 * time.Microsecond
	b := dspy.NewBestOfN(dspy.NewChainOfThought("question -> answer"), 3, oneWord, 2.0) // 2.0: no attempt passes
	prog := streaming.MustStreamify(b, streaming.WithListeners(
		streaming.NewListener("answer", streaming.WithPredictName("module.predict"), streaming.WithAllowReuse())))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))

	text := map[uint64]string{}
	last := map[uint64]int{}
	var final *dspy.Prediction
	for ev, err := range prog.Stream(ctx, question) {
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			if e.PredictName != "module.predict" {
				t.Errorf("chunk from %q, want module.predict", e.PredictName)
			}
			if last[e.CallID] > 0 {
				t.Errorf("call %d: chunk %q after its last chunk", e.CallID, e.Chunk)
			}
			text[e.CallID] += e.Chunk
			if e.IsLastChunk {
				last[e.CallID]++
			}
		case *streaming.Final:
			final = e.Prediction
		}
	}
	var got []string
	for id, s := range text {
		got = append(got, s)
		if last[id] != 1 {
			t.Errorf("call %d: %d last chunks, want 1", id, last[id])
		}
	}
	slices.Sort(got)
	want := []string{answers["0"], answers["1"], answers["2"]}
	slices.Sort(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("streamed answers per call (-want +got):\n%s", d)
	}
	if final == nil || final.Get("answer") != answers["1"] {
		t.Errorf("final prediction = %v, want the best answer %q", final, answers["1"])
	}
}

// BenchmarkBestOfN5 runs five attempts on an LM with 100 ms latency: they
// run at once, so a call takes about one latency ("concurrent"); one at a
// time ("sequential", ConcurrentAttempts(1)) it takes five.
func BenchmarkBestOfN5(b *testing.B) {
	const latency = 100 * time.Millisecond
	for _, bc := range []struct {
		name string
		opts []dspy.BestOfNOption
	}{
		{"concurrent", nil},
		{"sequential", []dspy.BestOfNOption{dspy.WithConcurrency(1)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			model := dspytest.Repeat(dspytest.ChatReply("answer", "Brussels, Belgium")).DontRecord()
			model.Latency = latency
			// No attempt reaches the threshold: all five run.
			bon := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 5, oneWord, 1.0, bc.opts...)
			ctx := context.Background()
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if _, err := bon.Call(ctx, question); err != nil {
					b.Fatal(err)
				}
			}
			per := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(per)/float64(time.Millisecond), "ms/call")
			b.ReportMetric(float64(per)/float64(latency), "latencies/call")
		})
	}
}

func TestBestOfNRewardPanicIsError(t *testing.T) {
	model := &bonLM{replies: map[string]string{"0": "Brussels", "1": "Brussels"}}
	panicky := func(dspy.Inputs, *dspy.Prediction) float64 { panic("reward exploded") }
	b := dspy.NewBestOfN(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 2, panicky, 1.0)
	_, err := b.Call(context.Background(), question)
	var pe *dspy.PanicError
	if !errors.As(err, &pe) || pe.Value != "reward exploded" {
		t.Fatalf("BestOfN.Call() error = %v, want a *dspy.PanicError with the reward's panic", err)
	}
	if errors.Is(err, dspy.ErrTooManyFailures) {
		t.Errorf("a panic counted as a failed attempt: %v", err)
	}
}
