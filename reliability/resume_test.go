package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/internal/redistest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
	"github.com/godspy/dspy/streaming/resume/redisresume"
	"github.com/google/go-cmp/cmp"
)

// The resumable streams of streaming.Handler on a fleet: replicas of one
// service sharing a Redis (redisresume), with the LM a dspytest.Server
// whose chunks come slowly enough for clients to leave mid-stream.

// resumeProgram is what the replicas serve: a streamed Predict without
// trace events (they carry durations, which differ from run to run).
func resumeProgram() *streaming.Program {
	return streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
}

// replica is one replica of the service: its own Redis client and store,
// run registry, LM client and HTTP server.
type replica struct {
	srv   *httptest.Server
	store *redisresume.Store
	runs  *streaming.Runs
}

// streamMux mounts a resumable handler at /v1/stream as a service does.
func streamMux(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/v1/stream", h)
	mux.Handle("/v1/stream/{id}", h)
	mux.Handle("POST /v1/stream/{id}/stop", h)
	return mux
}

func newReplica(t *testing.T, redisAddr, prefix, lmURL string, opts ...redisresume.Option) *replica {
	t.Helper()
	store, err := redisresume.Open("redis://"+redisAddr+"/0", append([]redisresume.Option{redisresume.WithPrefix(prefix)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	runs := streaming.NewRuns(store)
	model := newClient(t, lmURL)
	h := streaming.Handler(resumeProgram(), streaming.WithResume(runs), streaming.WithLogger(discardLogger()))
	withModel := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(model))))
	})
	rp := &replica{srv: newHandlerServer(t, streamMux(withModel)), store: store, runs: runs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := runs.Shutdown(ctx); err != nil {
			t.Errorf("Runs.Shutdown: %v", err)
		}
		store.Close()
	})
	return rp
}

// wire is one event as a client reads it, with its id.
type wire struct{ id, name, data string }

// text is the event as it was written (without the retry line).
func (w wire) text() string {
	var b strings.Builder
	if w.id != "" {
		b.WriteString("id: " + w.id + "\n")
	}
	if w.name != "" {
		b.WriteString("event: " + w.name + "\n")
	}
	b.WriteString("data: " + w.data + "\n\n")
	return b.String()
}

// readWire reads events until [DONE], the end of the body, or n events
// (n < 0: no bound). Comments are skipped.
func readWire(br *bufio.Reader, n int) ([]wire, error) {
	var out []wire
	var cur wire
	any := false
	for n < 0 || len(out) < n {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if any {
				out = append(out, cur)
				if cur.data == "[DONE]" {
					return out, nil
				}
			}
			cur, any = wire{}, false
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry: "):
		case strings.HasPrefix(line, "id: "):
			cur.id, any = line[len("id: "):], true
		case strings.HasPrefix(line, "event: "):
			cur.name, any = line[len("event: "):], true
		case strings.HasPrefix(line, "data: "):
			cur.data, any = line[len("data: "):], true
		}
	}
	return out, nil
}

var callIDPattern = regexp.MustCompile(`"call_id":\d+`)

// assemble joins a stream's events as they were written, with the stream
// id and the call ids (unique in a process) made comparable across runs.
func assemble(evs []wire) string {
	var b strings.Builder
	id := ""
	calls := map[string]string{}
	for _, ev := range evs {
		if ev.name == "stream" {
			var s struct{ ID string }
			json.Unmarshal([]byte(ev.data), &s)
			id = s.ID
		}
		t := ev.text()
		if id != "" {
			t = strings.ReplaceAll(t, id, "STREAM")
		}
		t = callIDPattern.ReplaceAllStringFunc(t, func(s string) string {
			if _, ok := calls[s]; !ok {
				calls[s] = fmt.Sprintf(`"call_id":C%d`, len(calls)+1)
			}
			return calls[s]
		})
		b.WriteString(t)
	}
	return b.String()
}

func postStream(ctx context.Context, c *http.Client, base string) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/stream", strings.NewReader(`{"question": "What causes the tides?"}`))
	resp, err := c.Do(req)
	if err == nil && resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("POST: %d %s", resp.StatusCode, b)
	}
	return resp, err
}

func getStream(ctx context.Context, c *http.Client, base, id, lastID string) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/stream/"+id, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := c.Do(req)
	if err == nil && resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("GET: %d %s", resp.StatusCode, b)
	}
	return resp, err
}

func testHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// resumeAnswer is the answer of the resume tests: 50 chunks of 4 bytes.
var resumeAnswer = strings.Repeat("tide", 50)

// TestFleetResume: 200 streams start on replica A; each client leaves
// after a random number of events and resumes on replica B with
// Last-Event-ID; every client's assembled stream equals the uninterrupted
// one, byte for byte.
func TestFleetResume(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t, addr)
	lmSrv := dspytest.NewServer(dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer {
		return dspytest.Answer{Text: dspytest.ChatReply("answer", resumeAnswer), Usage: &lm.Usage{PromptTokens: 30, CompletionTokens: 50, TotalTokens: 80}}
	}), dspytest.WithChunkBytes(4), dspytest.WithChunkDelay(4*time.Millisecond), dspytest.WithoutRecording())
	defer lmSrv.Close()
	a := newReplica(t, addr, prefix, lmSrv.URL())
	b := newReplica(t, addr, prefix, lmSrv.URL())
	c := testHTTPClient(t)

	// The reference: one client that stays.
	resp, err := postStream(t.Context(), c, a.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := readWire(bufio.NewReader(resp.Body), -1)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	n := len(ref)
	if n < 20 || ref[n-2].name != "prediction" || ref[n-1].data != "[DONE]" {
		t.Fatalf("reference stream of %d events ends %+v", n, ref[max(0, n-2):])
	}
	want := assemble(ref)

	const clients = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	var resumedLive atomic.Int64 // resumed while the run was still going
	start := time.Now()
	for i := range clients {
		k := 1 + rand.IntN(n-2) // events read before leaving: 1 .. all but the last and [DONE]
		wg.Go(func() {
			fail := func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				bad = append(bad, fmt.Sprintf("client %d (left after %d): ", i, k)+fmt.Sprintf(format, args...))
			}
			ctx, leave := context.WithCancel(t.Context())
			defer leave()
			resp, err := postStream(ctx, c, a.srv.URL)
			if err != nil {
				fail("%v", err)
				return
			}
			got, err := readWire(bufio.NewReader(resp.Body), k)
			leave()
			resp.Body.Close()
			if err != nil || len(got) != k {
				fail("read %d events: %v", len(got), err)
				return
			}
			var s struct{ ID string }
			json.Unmarshal([]byte(got[0].data), &s)
			r, err := getStream(t.Context(), c, b.srv.URL, s.ID, got[k-1].id)
			if err != nil {
				fail("resume on B: %v", err)
				return
			}
			br := bufio.NewReader(r.Body)
			rest, err := readWire(br, -1)
			r.Body.Close()
			if err != nil {
				fail("resume on B: %v", err)
				return
			}
			if len(rest) > 2 {
				resumedLive.Add(1)
			}
			if got := assemble(append(got, rest...)); got != want {
				fail("assembled stream differs from the reference:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	for _, b := range bad[:min(len(bad), 3)] {
		t.Error(b)
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d clients got a wrong stream", len(bad), clients)
	}
	t.Logf("%d clients, each left replica A after a random number of events and resumed on B: %v; %d of them before the run ended", clients, took, resumedLive.Load())
	row(t, areaFleet, fmt.Sprintf("resume across replicas: %d streams started on replica A (Redis store), each client leaves after a random number of its %d events and resumes on replica B with Last-Event-ID", clients, n),
		fmt.Sprintf("every client's assembled stream equals the uninterrupted one byte for byte (ids 1..%d, every chunk once, one prediction, [DONE]); %d of %d resumed while the run was still going; %v in all",
			n-1, resumedLive.Load(), clients, took.Round(10*time.Millisecond)))
}

// TestFleetStop: a stop sent to replica B cancels the run on replica A
// and its LM request within a second; the client on A and a follower on
// B both see the stream end with "stopped".
func TestFleetStop(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t, addr)
	lmSrv := dspytest.NewServer(dspytest.WithAnswers(dspytest.Answer{Text: dspytest.ChatReply("answer", strings.Repeat("tide ", 3000))}),
		dspytest.WithChunkBytes(5), dspytest.WithChunkDelay(2*time.Millisecond))
	defer lmSrv.Close()
	a := newReplica(t, addr, prefix, lmSrv.URL())
	b := newReplica(t, addr, prefix, lmSrv.URL())
	c := testHTTPClient(t)

	resp, err := postStream(t.Context(), c, a.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	head, err := readWire(br, 5)
	if err != nil || len(head) != 5 {
		t.Fatalf("read %d events: %v", len(head), err)
	}
	id := resp.Header.Get("X-Stream-Id")
	follow, err := getStream(t.Context(), c, b.srv.URL, id, head[4].id)
	if err != nil {
		t.Fatal(err)
	}
	defer follow.Body.Close()

	start := time.Now()
	sr, err := c.Post(b.srv.URL+"/v1/stream/"+id+"/stop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	sr.Body.Close()
	if sr.StatusCode != http.StatusAccepted {
		t.Fatalf("stop on B: %d, want 202", sr.StatusCode)
	}
	if !waitFor(time.Second, func() bool { return lmSrv.Disconnects() == 1 }) {
		t.Fatalf("the LM request of the run on A was not cancelled within 1 s of the stop on B (disconnects: %d)", lmSrv.Disconnects())
	}
	took := time.Since(start)
	rest, err := readWire(br, -1)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := readWire(bufio.NewReader(follow.Body), -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		who string
		evs []wire
	}{{"client on A", rest}, {"follower on B", fw}} {
		n := len(s.evs)
		if n < 2 || s.evs[n-2].name != "stopped" || s.evs[n-1].data != "[DONE]" {
			t.Errorf("%s: stream ends %+v, want stopped, [DONE]", s.who, s.evs[max(0, n-2):])
		}
	}
	if rest[len(rest)-2].id != fw[len(fw)-2].id {
		t.Errorf("the stopped event has id %s on A, %s on B", rest[len(rest)-2].id, fw[len(fw)-2].id)
	}
	t.Logf("stop on B: the LM request of the run on A cancelled after %v", took)
	row(t, areaFleet, "stop from another replica: POST /v1/stream/ID/stop to replica B while the run streams on replica A",
		fmt.Sprintf("202; the run on A and its LM request cancelled after %v (bound 1 s; pub/sub); the client on A and a follower on B both get `stopped` (same id), then [DONE]", took.Round(time.Millisecond)))
}

// Replicas as processes: the test binary, started again with
// envReplica set, serves a resumable Handler on Redis until it is killed.
const envReplica = "DSPY_TEST_FLEET_REPLICA"

// replicaConfig is what a replica process is given, as JSON in
// envReplica.
type replicaConfig struct {
	Redis, Prefix, LM string
	Lease             time.Duration
}

// runReplica is the replica process: it prints "listening ADDR" and
// serves until killed.
func runReplica(cfg string) int {
	var rc replicaConfig
	if err := json.Unmarshal([]byte(cfg), &rc); err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		return 2
	}
	store, err := redisresume.Open("redis://"+rc.Redis+"/0", redisresume.WithPrefix(rc.Prefix), redisresume.WithLease(rc.Lease))
	if err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		return 2
	}
	model := openai.New("test-model", openai.WithBaseURL(rc.LM), openai.WithAPIKey(testKey))
	h := streaming.Handler(resumeProgram(), streaming.WithResume(streaming.NewRuns(store)), streaming.WithLogger(discardLogger()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		return 2
	}
	fmt.Printf("listening %s\n", ln.Addr())
	err = http.Serve(ln, streamMux(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(model))))
	})))
	fmt.Fprintln(os.Stderr, "replica:", err)
	return 1
}

// startReplica starts a replica process and returns its URL and process.
func startReplica(t *testing.T, cfg replicaConfig) (string, *os.Process) {
	t.Helper()
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envReplica+"="+string(b))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addrs := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addrs <- a
			}
		}
		cmd.Wait()
	}()
	select {
	case a := <-addrs:
		return "http://" + a, cmd.Process
	case <-exited:
		t.Fatal("the replica process exited before it listened")
	case <-time.After(30 * time.Second):
		t.Fatal("the replica process did not listen within 30 s")
	}
	return "", nil
}

// TestFleetProducerKilled: replicas as separate processes on one Redis.
// A stream runs on A; a follower reads it on B; A gets SIGKILL. The
// follower gets the lost-stream error within the lease, then [DONE].
func TestFleetProducerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t, addr)
	lmSrv := dspytest.NewServer(dspytest.WithAnswers(dspytest.Answer{Text: dspytest.ChatReply("answer", strings.Repeat("tide ", 3000))}),
		dspytest.WithChunkBytes(5), dspytest.WithChunkDelay(2*time.Millisecond))
	defer lmSrv.Close()
	const lease = 2 * time.Second
	cfg := replicaConfig{Redis: addr, Prefix: prefix, LM: lmSrv.URL(), Lease: lease}
	aURL, aProc := startReplica(t, cfg)
	bURL, _ := startReplica(t, cfg)
	c := testHTTPClient(t)

	resp, err := postStream(t.Context(), c, aURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head, err := readWire(bufio.NewReader(resp.Body), 5)
	if err != nil || len(head) != 5 {
		t.Fatalf("read %d events from A: %v", len(head), err)
	}
	id := resp.Header.Get("X-Stream-Id")
	follow, err := getStream(t.Context(), c, bURL, id, "")
	if err != nil {
		t.Fatal(err)
	}
	defer follow.Body.Close()
	fr := bufio.NewReader(follow.Body)
	if got, err := readWire(fr, 5); err != nil || len(got) != 5 {
		t.Fatalf("follower on B read %d events: %v", len(got), err)
	}
	if err := aProc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	type result struct {
		evs []wire
		err error
	}
	res := make(chan result, 1)
	go func() {
		evs, err := readWire(fr, -1)
		res <- result{evs, err}
	}()
	var r result
	select {
	case r = <-res:
	case <-time.After(lease + 3*time.Second):
		follow.Body.Close()
		<-res
		t.Fatalf("the follower on B got no end within %v of the producer's SIGKILL (lease %v)", lease+3*time.Second, lease)
	}
	took := time.Since(killed)
	n := len(r.evs)
	if r.err != nil || n < 2 || r.evs[n-2].name != "error" || r.evs[n-2].id != "" || r.evs[n-1].data != "[DONE]" ||
		!strings.Contains(r.evs[n-2].data, "the server running this answer stopped before it finished") {
		t.Fatalf("the follower's stream ends %+v (%v), want the lost-stream error without an id, then [DONE]", r.evs[max(0, n-2):], r.err)
	}
	if took > lease+500*time.Millisecond {
		t.Errorf("the follower learned of the dead producer after %v, over the lease %v (+0.5 s)", took, lease)
	}
	t.Logf("follower on B got the lost-stream error %v after SIGKILL of A (lease %v)", took, lease)
	row(t, areaFleet, fmt.Sprintf("producer killed: replicas as processes on one Redis; a follower on replica B reads a live stream of replica A; A gets SIGKILL (lease %v)", lease),
		fmt.Sprintf("the follower gets the `error` event \"the server running this answer stopped before it finished; ask again\" (no id), then [DONE], %v after the kill (the lease's end plus the reader's poll of at most 0.2 s); it never waits forever", took.Round(10*time.Millisecond)))
}

// TestFleetRedisOutageDuringStream: Redis is killed while a resumable
// stream runs. The client that started it gets the whole stream; a
// follower on another replica is cut (no [DONE]) and a reconnect is a
// 503 while Redis is down; a new POST during the outage is served
// without resumption.
func TestFleetRedisOutageDuringStream(t *testing.T) {
	rs := redistest.Start(t)
	lmSrv := dspytest.NewServer(dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer {
		return dspytest.Answer{Text: dspytest.ChatReply("answer", strings.Repeat("tide ", 200))}
	}), dspytest.WithChunkBytes(5), dspytest.WithChunkDelay(3*time.Millisecond))
	defer lmSrv.Close()
	a := newReplica(t, rs.Addr, "outage:", lmSrv.URL())
	b := newReplica(t, rs.Addr, "outage:", lmSrv.URL())
	c := testHTTPClient(t)

	resp, err := postStream(t.Context(), c, a.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	head, err := readWire(br, 10)
	if err != nil || len(head) != 10 {
		t.Fatalf("read %d events: %v", len(head), err)
	}
	id := resp.Header.Get("X-Stream-Id")
	follow, err := getStream(t.Context(), c, b.srv.URL, id, "")
	if err != nil {
		t.Fatal(err)
	}
	defer follow.Body.Close()
	fr := bufio.NewReader(follow.Body)
	if got, err := readWire(fr, 5); err != nil || len(got) != 5 {
		t.Fatalf("follower read %d events: %v", len(got), err)
	}

	rs.Stop()
	killed := time.Now()
	rest, err := readWire(br, -1)
	clientDone := time.Since(killed)
	if err != nil {
		t.Fatal(err)
	}
	all := append(head, rest...)
	var text strings.Builder
	for _, ev := range all {
		if ev.name == "chunk" {
			var ch struct{ Chunk string }
			json.Unmarshal([]byte(ev.data), &ch)
			text.WriteString(ch.Chunk)
		}
	}
	n := len(all)
	if text.String() != strings.TrimSpace(strings.Repeat("tide ", 200)) || all[n-2].name != "prediction" || all[n-1].data != "[DONE]" {
		t.Fatalf("the client that started the run got %q ... ending %+v, want the whole answer, the prediction, [DONE]", text.String()[:min(40, text.Len())], all[max(0, n-2):])
	}
	if clientDone > 5*time.Second {
		t.Errorf("the client's stream ended %v after Redis was killed: the outage stalled it (want under 5 s; an Append waits at most 1 s)", clientDone)
	}
	for i, ev := range all[:n-1] {
		if ev.id != fmt.Sprint(i+1) {
			t.Fatalf("event %d has id %q, want %d (ids go on when the store is lost)", i, ev.id, i+1)
		}
	}
	fw, err := readWire(fr, -1)
	cut := len(fw) == 0 || fw[len(fw)-1].data != "[DONE]"
	if !cut {
		t.Errorf("the follower's stream ended with [DONE] (%+v), want it cut for the client to reconnect", fw[max(0, len(fw)-2):])
	}
	_ = err
	followerCut := time.Since(killed)
	_, gerr := getStream(t.Context(), c, b.srv.URL, id, "3")
	getTook := time.Since(killed) - followerCut
	t.Logf("after the kill: the client's stream ended at %v, the follower was cut at %v; the GET's 503 took %v", clientDone, followerCut, getTook)
	if gerr == nil || !strings.Contains(gerr.Error(), "503") {
		t.Errorf("GET during the outage: %v, want a 503", gerr)
	}
	// A new run during the outage: served, not resumable.
	r2, err := postStream(t.Context(), c, a.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	evs2, _ := readWire(bufio.NewReader(r2.Body), -1)
	r2.Body.Close()
	m := len(evs2)
	if m < 3 || evs2[0].name == "stream" || r2.Header.Get("X-Stream-Id") != "" || evs2[m-2].name != "prediction" {
		t.Errorf("POST during the outage: first %+v, last %+v, X-Stream-Id %q; want a whole stream without a stream event", evs2[0], evs2[max(0, m-2):], r2.Header.Get("X-Stream-Id"))
	}
	row(t, areaFleet, "Redis killed while a resumable stream runs on replica A, a follower reading it on replica B",
		fmt.Sprintf("the client on A gets the whole stream (%d events, ids 1..%d, the prediction, [DONE]), done %v after the kill (an Append waits at most 1 s for the store, then the run goes on without it); the follower on B is cut without [DONE] (to reconnect) %v after the kill; a reconnect is a 503 while Redis is down (%v); a POST during the outage is served whole, not resumable (no `stream` event)",
			n, n-1, clientDone.Round(10*time.Millisecond), followerCut.Round(10*time.Millisecond), getTook.Round(10*time.Millisecond)))
}

// TestFleetRedisHungDuringStream: Redis stops answering (CLIENT PAUSE
// ALL, as a hung server) while a resumable stream runs: the client that
// started it still gets the whole stream, late by about the 1 s an Append
// may wait for the store, not by the outage.
func TestFleetRedisHungDuringStream(t *testing.T) {
	rs := redistest.Start(t)
	lmSrv := dspytest.NewServer(dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer {
		return dspytest.Answer{Text: dspytest.ChatReply("answer", strings.Repeat("tide ", 200))}
	}), dspytest.WithChunkBytes(5), dspytest.WithChunkDelay(3*time.Millisecond))
	defer lmSrv.Close()
	a := newReplica(t, rs.Addr, "hung:", lmSrv.URL())
	c := testHTTPClient(t)
	resp, err := postStream(t.Context(), c, a.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	head, err := readWire(br, 10)
	if err != nil || len(head) != 10 {
		t.Fatalf("read %d events: %v", len(head), err)
	}
	const pause = 6 * time.Second
	admin := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer admin.Close()
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	hung := time.Now()
	rest, err := readWire(br, -1)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(hung)
	all := append(head, rest...)
	n := len(all)
	if all[n-2].name != "prediction" || all[n-1].data != "[DONE]" {
		t.Fatalf("the stream ends %+v, want the prediction, [DONE]", all[max(0, n-2):])
	}
	// Every chunk, the one whose Append timed out included.
	var text strings.Builder
	for _, ev := range all {
		if ev.name == "chunk" {
			var ch struct{ Chunk string }
			json.Unmarshal([]byte(ev.data), &ch)
			text.WriteString(ch.Chunk)
		}
	}
	if diff := cmp.Diff(strings.TrimSpace(strings.Repeat("tide ", 200)), text.String()); diff != "" {
		t.Errorf("the chunks the client got are not the whole answer, -want +got:\n%s", diff)
	}
	for i, ev := range all[:n-1] {
		if ev.id != fmt.Sprint(i+1) {
			t.Fatalf("event %d has id %q, want %d", i, ev.id, i+1)
		}
	}
	if took > 3*time.Second {
		t.Errorf("the stream ended %v after Redis hung (for %v): the outage stalled it (want under 3 s)", took, pause)
	}
	// Let the pause end before the cleanup talks to Redis.
	time.Sleep(time.Until(hung.Add(pause)))
	row(t, areaFleet, fmt.Sprintf("Redis hung (CLIENT PAUSE ALL for %v) while a resumable stream runs", pause),
		fmt.Sprintf("the client gets the whole stream (%d events, ids 1..%d, the prediction, [DONE]) %v after Redis hung: an Append waits at most 1 s, then the stream is given up and the run goes on without the store", n, n-1, took.Round(10*time.Millisecond)))
}
