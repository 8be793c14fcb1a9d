package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
)

// BenchmarkResume1000 serves 1,000 concurrent resumable streams from one
// `dspy serve` process (built from ../cmd/dspy), with the Redis store
// (DSPY_TEST_REDIS=host:port) and, for comparison, the memory store. Half
// the clients leave after 20 events and resume with Last-Event-ID; every
// client must get the whole stream. Reported per configuration: the wall
// time of the load, Redis's CPU over it (INFO cpu, used_cpu_sys +
// used_cpu_user, before and after) and the replica's peak RSS (VmHWM).
// The LM is dspytest.NewServer in this process, 100 chunks 10 ms apart
// per answer. Run it once:
//
//	DSPY_TEST_REDIS=127.0.0.1:6379 go test -run '^$' -bench Resume1000 -benchtime 1x
func BenchmarkResume1000(b *testing.B) {
	addr := os.Getenv("DSPY_TEST_REDIS")
	if addr == "" {
		b.Skip("set DSPY_TEST_REDIS=host:port to run it")
	}
	bin := filepath.Join(b.TempDir(), "dspy")
	build := exec.Command("go", "build", "-o", bin, "./cmd/dspy")
	build.Dir = ".." // the root module's, not this one's
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build ../cmd/dspy: %v\n%s", err, out)
	}
	answer := strings.TrimSpace(strings.Repeat("tide ", 100))
	lmSrv := dspytest.NewServer(dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer {
		return dspytest.Answer{Text: dspytest.ChatReply("answer", answer)}
	}), dspytest.WithChunkBytes(5), dspytest.WithChunkDelay(10*time.Millisecond), dspytest.WithoutRecording())
	defer lmSrv.Close()
	for _, cfg := range []struct {
		name string
		args []string
	}{
		{"redis", []string{"--redis", "redis://" + addr + "/0"}},
		{"memory", nil},
	} {
		b.Run(cfg.name, func(b *testing.B) {
			for b.Loop() {
				url, pid, stop := startResumeServe(b, bin, lmSrv.URL(), cfg.args)
				cpu0 := redisCPU(b, addr)
				took, resumed := resumeLoad(b, url, 1000)
				cpu1 := redisCPU(b, addr)
				peak := vmHWM(b, pid)
				stop()
				b.ReportMetric(took.Seconds(), "wall-s")
				b.ReportMetric(cpu1-cpu0, "redis-cpu-s")
				b.ReportMetric(float64(peak)/1024, "replica-peak-MiB")
				b.ReportMetric(float64(resumed), "resumed")
			}
		})
	}
}

// startResumeServe starts `dspy serve` on a free port and returns its URL, pid
// and a stop function.
func startResumeServe(b *testing.B, bin, lmURL string, extra []string) (string, int, func()) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--lm", "openai/gpt-bench", "--base-url", lmURL, "--module", "predict",
		"--signature", "question -> answer", "--cache", "off", "--max-runs", "2000"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=sk-bench", "DSPY_LM=")
	cmd.Dir = b.TempDir()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "http://"); ok {
				host, _, _ := strings.Cut(rest, "/")
				urls <- "http://" + host
			}
		}
	}()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	select {
	case u := <-urls:
		return u, cmd.Process.Pid, stop
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		b.Fatal("dspy serve did not start")
	}
	return "", 0, nil
}

// resumeLoad runs n concurrent clients; half leave after 20 events and resume.
func resumeLoad(b *testing.B, url string, n int) (time.Duration, int64) {
	tr := &http.Transport{MaxIdleConnsPerHost: n + 100, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 3 * time.Minute}
	var wg sync.WaitGroup
	var failed, resumed atomic.Int64
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			if err := resumeClient(c, url, i%2 == 0, &resumed); err != nil {
				if failed.Add(1) == 1 {
					b.Errorf("client %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d clients failed", f, n)
	}
	return took, resumed.Load()
}

// resumeClient reads one stream to its end, leaving after 20 events and
// resuming when leave is set.
func resumeClient(c *http.Client, url string, leave bool, resumed *atomic.Int64) error {
	resp, err := c.Post(url+"/v1/stream", "application/json", strings.NewReader(`{"question": "What causes the tides?"}`))
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return fmt.Errorf("POST: %d", resp.StatusCode)
	}
	id := resp.Header.Get("X-Stream-Id")
	limit := -1
	if leave {
		limit = 20
	}
	last, done, err := readResumeStream(resp.Body, limit)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if !done {
		req, _ := http.NewRequest("GET", url+"/v1/stream/"+id, nil)
		req.Header.Set("Last-Event-ID", last)
		r, err := c.Do(req)
		if err != nil {
			return err
		}
		defer r.Body.Close()
		if r.StatusCode != 200 {
			return fmt.Errorf("GET: %d", r.StatusCode)
		}
		resumed.Add(1)
		if _, done, err = readResumeStream(r.Body, -1); err != nil {
			return err
		}
	}
	if !done {
		return fmt.Errorf("stream %s ended without the prediction and [DONE]", id)
	}
	return nil
}

// readResumeStream reads events until [DONE] (done is then true if the
// prediction came before it) or limit events; it returns the last id.
func readResumeStream(r io.Reader, limit int) (last string, done bool, err error) {
	br := bufio.NewReader(r)
	events, predicted := 0, false
	for limit < 0 || events < limit {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				return last, false, nil
			}
			return last, false, err
		}
		switch {
		case strings.HasPrefix(line, "id: "):
			last = strings.TrimSpace(line[4:])
		case line == "event: prediction\n":
			predicted = true
		case line == "data: [DONE]\n":
			return last, predicted, nil
		case line == "\n":
			events++
		}
	}
	return last, false, nil
}

// redisCPU is the Redis server's CPU time so far, in seconds.
func redisCPU(b *testing.B, addr string) float64 {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprint(c, "INFO cpu\r\n")
	br := bufio.NewReader(c)
	head, err := br.ReadString('\n') // $LEN
	if err != nil || !strings.HasPrefix(head, "$") {
		b.Fatalf("INFO cpu: %q %v", head, err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, line := range strings.Split(string(body), "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}

// vmHWM is a process's peak resident set, in KiB.
func vmHWM(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
