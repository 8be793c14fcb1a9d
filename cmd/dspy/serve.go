package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/mcp"
	dspyotel "github.com/godspy/dspy/otel"
	"github.com/godspy/dspy/streaming"
)

//go:embed web
var webFiles embed.FS

// runServe is "dspy serve": the program over HTTP, with a web page.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("serve", "serve [flags]", stderr)
	var pf programFlags
	pf.register(fs, chatSignature)
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on (host:port; port 0 picks a free one)")
	debug := fs.Bool("debug", false, "serve run counters at GET /debug/stats")
	serveMCP := fs.Bool("serve-mcp", false, "also serve the program as an MCP tool over streamable HTTP at /mcp")
	var mf mcpServeFlags
	mf.register(fs)
	var ff fleetFlags
	ff.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagErrorCode(err)
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "dspy serve: unexpected argument %q (serve takes only flags)\n", pos[0])
		return exitUsage
	}
	pf.traceEvents = true
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	fl, err := openFleet(ctx, ff, logger)
	if err != nil {
		return exitCode(stderr, "serve", err)
	}
	defer fl.close()
	pf.lmOpts, pf.limits = fl.lmOpts, fl.limits
	prog, err := buildProgram(pf, getenv)
	if err != nil {
		return exitCode(stderr, "serve", err)
	}
	defer prog.close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return exitCode(stderr, "serve", fmt.Errorf("listening on %s: %w", *addr, err))
	}
	s := newServer(prog, logger, *debug)
	maxTime := pf.timeout
	if maxTime <= 0 {
		maxTime = 24 * time.Hour // --timeout 0: no limit but a day's
	}
	s.runs = streaming.NewRuns(fl.store, streaming.WithMaxRuns(ff.maxRuns), streaming.WithMaxRunTime(maxTime))
	if *serveMCP {
		if s.mcp, err = mcpServer(prog, mf); err != nil {
			return exitCode(stderr, "serve", err)
		}
	}
	// On loopback the person at the page runs the server: show them why a
	// run failed. Elsewhere clients get the user-facing message alone.
	s.errorDetail = isLoopback(ln.Addr())
	s.continueTraces = telemetryOn(ctx)
	fmt.Fprintln(stdout, prog.lm.banner)
	fmt.Fprintf(stdout, "Fleet: %s.\n", fl.banner(prog.lm.demo))
	fmt.Fprintf(stdout, "Serving %s (%s) at http://%s/ — POST /v1/stream for server-sent events, /api/chat for the AI SDK's useChat. Ctrl-C stops.\n",
		prog.flags.module, prog.sig.String(), ln.Addr())
	if s.mcp != nil {
		fmt.Fprintf(stdout, "The program is also the MCP tool %q at http://%s/mcp (streamable HTTP).\n", mf.toolName, ln.Addr())
	}
	if err := s.serve(ctx, ln); err != nil {
		return exitCode(stderr, "serve", err)
	}
	return exitOK
}

// server serves one program: the SSE endpoint, its description and the
// page. It counts runs, and logs each run that ends early ("run
// cancelled"), so an aborted request can be seen from outside.
type server struct {
	prog  *program
	log   *slog.Logger
	debug bool
	mcp   *mcp.Server // --serve-mcp: at /mcp
	// errorDetail shows clients the cause of a failed run (loopback only).
	errorDetail bool
	// continueTraces makes a run's spans children of the caller's
	// traceparent (telemetry on).
	continueTraces bool
	// runs makes /v1/stream's runs resumable; nil: a run ends with its
	// request.
	runs  *streaming.Runs
	stats struct {
		started, completed, cancelled atomic.Int64
	}
}

func newServer(p *program, log *slog.Logger, debug bool) *server {
	return &server{prog: p, log: log, debug: debug}
}

// handler returns the server's routes.
func (s *server) handler() http.Handler {
	static, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux := http.NewServeMux()
	opts := []streaming.HandlerOption{streaming.WithLogger(s.log), streaming.WithErrorDetail(s.errorDetail)}
	traced := func(h http.Handler) http.Handler {
		if s.continueTraces {
			return dspyotel.Handler(h)
		}
		return h
	}
	sse := opts
	if s.runs != nil {
		sse = append(opts[:len(opts):len(opts)], streaming.WithResume(s.runs))
	}
	stream := traced(s.observe(streaming.Handler(s.prog.stream, sse...)))
	mux.Handle("/v1/stream", stream)
	if s.runs != nil {
		mux.Handle("/v1/stream/{id}", stream)           // GET: resume; DELETE: stop
		mux.Handle("POST /v1/stream/{id}/stop", stream) // stop
	}
	mux.Handle("/api/chat", traced(s.observe(streaming.UIMessageHandler(s.prog.stream, opts...))))
	mux.HandleFunc("GET /v1/info", s.info)
	if s.debug {
		mux.HandleFunc("GET /debug/stats", s.statsHandler)
	}
	if s.mcp != nil {
		mux.Handle("/mcp", s.mcp.Handler())
	}
	mux.Handle("/", securityHeaders(http.FileServerFS(static)))
	return mux
}

// serve runs the HTTP server on ln until ctx is cancelled, then cancels the
// runs in flight and shuts down gracefully.
func (s *server) serve(ctx context.Context, ln net.Listener) error {
	runs, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // the request; a stream's writes have their own deadline per event
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return runs },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "reason", context.Cause(ctx))
	cancelRuns() // streams in flight end now rather than at their last token
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.runs != nil {
		// Resumable runs outlive their requests: cancel them too; their
		// streams end with an error saying the server shut down.
		if err := s.runs.Shutdown(shutdown); err != nil {
			s.log.Warn("resumable runs still going at shutdown", "error", err)
		}
	}
	err := srv.Shutdown(shutdown)
	<-errc // http.ErrServerClosed
	if err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// observe wraps the SSE handler: it applies the run timeout, counts runs,
// and logs those the client (or shutdown) cancelled before the end.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.PathValue("id") != "" {
			next.ServeHTTP(w, r) // a resume or a stop is no new run
			return
		}
		ctx := dspy.WithSettings(r.Context(), dspy.WithUsageTracking(true))
		if t := s.prog.flags.timeout; t > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, t)
			defer cancel()
		}
		s.stats.started.Add(1)
		start := time.Now()
		rec := &doneRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		switch {
		case rec.stopped:
			s.stats.cancelled.Add(1)
			s.log.Info("run cancelled", "reason", "stopped by a stop request", "elapsed", time.Since(start).Round(time.Millisecond))
		case rec.done:
			s.log.Info("run finished", "elapsed", time.Since(start).Round(time.Millisecond))
			s.stats.completed.Add(1) // after the log line: a test that sees the count sees the line
		case r.Context().Err() != nil && rec.Header().Get("X-Stream-Id") != "":
			// Resumable: the run goes on, and ends in its stream.
			s.log.Info("client left", "reason", "the run goes on, resumable", "stream", rec.Header().Get("X-Stream-Id"), "elapsed", time.Since(start).Round(time.Millisecond))
		case r.Context().Err() != nil:
			s.stats.cancelled.Add(1)
			s.log.Info("run cancelled", "reason", "client went away or server shutting down", "elapsed", time.Since(start).Round(time.Millisecond))
		}
	})
}

// isLoopback reports whether addr is a loopback address (127.0.0.0/8, ::1).
func isLoopback(addr net.Addr) bool {
	a, ok := addr.(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// doneRecorder notes whether a stream reached its "data: [DONE]" end
// (both protocols end so).
type doneRecorder struct {
	http.ResponseWriter
	done    bool
	stopped bool // a resumable stream ended "stopped"
}

var (
	sseDone    = []byte("data: [DONE]\n\n")
	sseStopped = []byte("event: stopped\n")
)

func (d *doneRecorder) Write(b []byte) (int, error) {
	n, err := d.ResponseWriter.Write(b)
	if err == nil && bytes.HasSuffix(b, sseDone) {
		d.done = true
	}
	if err == nil && bytes.HasPrefix(b, sseStopped) {
		d.stopped = true
	}
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and SetWriteDeadline.
func (d *doneRecorder) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// programInfo describes the served program to the page.
type programInfo struct {
	LM        string   `json:"lm"`
	Demo      bool     `json:"demo"`
	Banner    string   `json:"banner"`
	Module    string   `json:"module"`
	Signature string   `json:"signature"`
	Inputs    []string `json:"inputs"`
	// History is the History input that carries the conversation, "" when
	// the signature has none.
	History  string   `json:"history,omitempty"`
	Outputs  []string `json:"outputs"`
	Streamed []string `json:"streamed"`
}

func (s *server) info(w http.ResponseWriter, _ *http.Request) {
	p := s.prog
	info := programInfo{LM: p.lm.label, Demo: p.lm.demo, Banner: p.lm.banner, Module: p.flags.module,
		Signature: p.sig.String(), Streamed: p.streams}
	for _, f := range p.sig.Inputs() {
		info.Inputs = append(info.Inputs, f.Name)
		if f.Type.Kind() == dspy.KindHistory && info.History == "" {
			info.History = f.Name
		}
	}
	for _, f := range p.sig.Outputs() {
		info.Outputs = append(info.Outputs, f.Name)
	}
	writeJSON(w, info)
}

func (s *server) statsHandler(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]int64{
		"started":   s.stats.started.Load(),
		"completed": s.stats.completed.Load(),
		"cancelled": s.stats.cancelled.Load(),
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v) // an error means the client left
}

// securityHeaders keeps the page to its own origin's scripts and styles,
// and to GET and HEAD.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: the page is read with GET", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
