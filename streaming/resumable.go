package streaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/streaming/resume"
)

// Defaults of NewRuns.
const (
	DefaultMaxRuns    = 1000
	DefaultMaxRunTime = 10 * time.Minute
	// DefaultReconnectDelay is the SSE "retry" hint of resumable streams:
	// how long a client waits before it reconnects.
	DefaultReconnectDelay = 2 * time.Second
)

// ErrShutdown is the cause of runs cancelled by Runs.Shutdown.
var ErrShutdown = errors.New("streaming: server shutting down")

// errStoreLost cancels a run whose store failed after its client left:
// nobody could ever read the rest.
var errStoreLost = errors.New("streaming: the stream store failed and no client is attached")

// Runs owns the resumable runs of one replica: the runs Handler started
// WithResume, which go on when the client that started them leaves. It
// bounds them (WithMaxRuns at once, each for at most WithMaxRunTime), and
// Shutdown cancels them and waits for their end. One Runs may serve
// several handlers; it is safe for concurrent use.
type Runs struct {
	store   resume.Store
	max     int
	maxTime time.Duration
	retry   time.Duration

	ctx    context.Context // cancelled by Shutdown
	cancel context.CancelCauseFunc

	mu     sync.Mutex
	n      int
	closed bool
	wg     sync.WaitGroup // one per run, for its goroutines
}

// RunsOption configures NewRuns.
type RunsOption interface{ applyRuns(*Runs) }

type runsOptionFunc func(*Runs)

func (f runsOptionFunc) applyRuns(r *Runs) { f(r) }

// WithMaxRuns bounds the resumable runs of the replica, attached to a
// client or not (default DefaultMaxRuns). A POST over it is a 503 with
// Retry-After.
func WithMaxRuns(n int) RunsOption { return runsOptionFunc(func(r *Runs) { r.max = n }) }

// WithMaxRunTime bounds how long a resumable run may go on (default
// DefaultMaxRunTime); it then ends with a timeout error. A request's own
// deadline does not reach a run that outlives its request, so this is
// the bound.
func WithMaxRunTime(d time.Duration) RunsOption {
	return runsOptionFunc(func(r *Runs) { r.maxTime = d })
}

// WithReconnectDelay sets the "retry" hint sent to clients of resumable
// streams (default DefaultReconnectDelay).
func WithReconnectDelay(d time.Duration) RunsOption {
	return runsOptionFunc(func(r *Runs) { r.retry = d })
}

// NewRuns returns the run registry of a replica whose streams are kept in
// store.
func NewRuns(store resume.Store, opts ...RunsOption) *Runs {
	r := &Runs{store: store, max: DefaultMaxRuns, maxTime: DefaultMaxRunTime, retry: DefaultReconnectDelay}
	for _, o := range opts {
		o.applyRuns(r)
	}
	r.ctx, r.cancel = context.WithCancelCause(context.Background())
	return r
}

// Len returns the number of runs going on.
func (r *Runs) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Shutdown refuses new runs, cancels those going on (each ends its stream
// with an error event saying the server shut down) and waits for them to
// end, or for ctx.
func (r *Runs) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel(ErrShutdown)
	done := make(chan struct{})
	go func() { // ends when the runs have, which were just cancelled
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire takes a run slot: "" or why none is free.
func (r *Runs) acquire() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return "the server is shutting down; try again on another"
	case r.n >= r.max:
		return fmt.Sprintf("the server is running its maximum of %d resumable streams; try again shortly", r.max)
	}
	r.n++
	r.wg.Add(1)
	return ""
}

func (r *Runs) release() {
	r.mu.Lock()
	r.n--
	r.mu.Unlock()
	r.wg.Done()
}

// createTimeout bounds the creation of a stream in the store.
const createTimeout = 2 * time.Second

// create makes stream id in the store, bounded by createTimeout. ctx is
// the writer's life (Store.Create), so the bound cannot be a deadline on
// it: a Create that takes too long is abandoned by cancelling ctx.
func (r *Runs) create(ctx context.Context, abandon context.CancelFunc, id string) (resume.Writer, error) {
	type result struct {
		w   resume.Writer
		err error
	}
	res := make(chan result, 1)
	go func() {
		w, err := r.store.Create(ctx, id)
		res <- result{w, err}
	}()
	t := time.NewTimer(createTimeout)
	defer t.Stop()
	select {
	case x := <-res:
		return x.w, x.err
	case <-t.C:
		abandon()
		x := <-res // Create honours its context
		if x.err == nil {
			x.err = fmt.Errorf("streaming: creating stream %q took over %v", id, createTimeout)
		}
		return nil, x.err
	}
}

// WithResume makes Handler's runs resumable, kept in runs' store: each
// stream gets an id, sent first (the X-Stream-Id header and a "stream"
// event with the stream's URL), every event is appended to the store, and
// the run goes on when its client leaves. The handler then also serves, at
// the URL of a stream (the POST's path, "/", the id; it reads the id as
// the request's path value "id", so mount it with a pattern that has
// one):
//
//	mux.Handle("/v1/stream", h)                 // POST: a new run
//	mux.Handle("/v1/stream/{id}", h)            // GET: resume (Last-Event-ID); DELETE: stop
//	mux.Handle("POST /v1/stream/{id}/stop", h)  // stop
//
// A GET returns the stream's events after the Last-Event-ID header's id
// (all without one), those stored and then the live ones as they come,
// with no gap and no duplicate, and ends as the stream ends; a stream
// unknown or expired is a 404. A stop request reaches the run on whichever
// replica runs it; the stream then ends with a "stopped" event.
// docs/sse.md specifies it. Without WithResume, a run ends when its
// client leaves.
func WithResume(runs *Runs) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.runs = runs })
}

// streamJSON is the payload of a resumable stream's first event.
type streamJSON struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// stoppedFrame is the event of a stream's EndStopped record, which holds
// no data.
var stoppedFrame = []byte("event: stopped\ndata: {}")

// lostMessage is what followers are told when the producer's lease ran out.
const lostMessage = "the server running this answer stopped before it finished; ask again"

// resumableRun is one run of Handler WithResume.
type resumableRun struct {
	h       *handler
	id      string
	w       resume.Writer
	sw      *sseWriter // the client that started the run, until it leaves
	base    context.Context
	cancel  context.CancelCauseFunc // the run
	abandon context.CancelFunc      // the writer: gives the stream up
	last    uint64                  // id of the last event, stored or not
	// actx bounds Appends (one that flushes may wait on the store), until
	// actxUntil; renewed as it nears its end, so that an event costs no
	// context of its own.
	actx       context.Context
	actxCancel context.CancelFunc
	actxUntil  time.Time
	lost       atomic.Bool   // the store cannot keep the stream any more
	done       chan struct{} // closed when the run has ended
	frames     frameArena    // encodes the events; the run's goroutine's
}

// Sizes of a frameArena's blocks: a new block is started when less than
// frameReserve is left in the current one.
const (
	frameBlock   = 16 << 10
	frameReserve = 1 << 10
)

// frameArena encodes the events of a resumable run, each into bytes of
// its own that never change afterwards, as a resume.Writer may keep them:
// the frames are appended to a block, many to one allocation, and each is
// handed out capped at its end. Not safe for concurrent use.
type frameArena struct {
	b   []byte
	enc *json.Encoder // writes to the arena (Write)
}

// Write appends p to the block; for enc.
func (a *frameArena) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// frame encodes one event as sseWriter.frame does, into bytes that stay
// valid and unchanged.
func (a *frameArena) frame(name string, payload any) ([]byte, error) {
	if cap(a.b)-len(a.b) < frameReserve {
		a.b = make([]byte, 0, frameBlock)
	}
	start := len(a.b)
	if name != "" {
		a.b = append(a.b, "event: "...)
		a.b = append(a.b, name...)
		a.b = append(a.b, '\n')
	}
	a.b = append(a.b, "data: "...)
	if c, ok := payload.(chunkJSON); ok { // the event per token
		a.b = appendChunkJSON(a.b, c)
	} else {
		if a.enc == nil {
			a.enc = json.NewEncoder(a)
			a.enc.SetEscapeHTML(false) // as sseWriter's
		}
		if err := a.enc.Encode(payload); err != nil {
			a.b = a.b[:start]
			return nil, err
		}
		a.b = a.b[:len(a.b)-1] // Encode's newline
	}
	end := len(a.b)
	return a.b[start:end:end], nil
}

// startResumable starts a resumable run for r and serves its client until
// the run ends or the client leaves. It returns false, having written
// nothing, when the store cannot take a stream now: the run is then
// served as one that ends with its request.
func (h *handler) startResumable(w http.ResponseWriter, r *http.Request, in dspy.Inputs) bool {
	rs := h.cfg.runs
	if msg := rs.acquire(); msg != "" {
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, msg)
		return true
	}
	id := resume.NewID()
	base := context.WithoutCancel(r.Context())
	wctx, abandon := context.WithCancel(base)
	wr, err := rs.create(wctx, abandon, id)
	if err != nil {
		abandon()
		rs.release()
		if errors.Is(err, resume.ErrFull) {
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusServiceUnavailable, "the server has no room for another resumable stream; try again shortly")
			return true
		}
		h.cfg.logger.WarnContext(r.Context(), "streaming: the stream store failed; serving the run without resumption", "error", err)
		return false
	}
	ctx, cancel := context.WithCancelCause(base)
	ctx, cancelTime := context.WithTimeout(ctx, rs.maxTime)
	stopOnShutdown := context.AfterFunc(rs.ctx, func() { cancel(ErrShutdown) })

	rr := &resumableRun{h: h, id: id, w: wr, base: base, cancel: cancel, abandon: abandon, done: make(chan struct{})}
	rr.sw = newSSEWriter(w, h.cfg.writeTimeout, setEventStreamHeaders)
	rr.sw.ids, rr.sw.retry = true, rs.retry
	w.Header().Set("X-Stream-Id", id)
	url := strings.TrimSuffix(r.URL.Path, "/") + "/" + id
	rr.sw.keepAlive(h.cfg.keepAlive)
	if f, err := rr.frames.frame("stream", streamJSON{ID: id, URL: url}); err == nil {
		rr.append(ctx, f)
	}

	watched := make(chan struct{})
	go func() { // the run's; ends with the writer or the run
		defer close(watched)
		select {
		case <-wr.Done():
			switch err := wr.Err(); {
			case errors.Is(err, resume.ErrStopped):
				cancel(resume.ErrStopped)
			case !errors.Is(err, resume.ErrEnded):
				rr.loseStore(ctx, err)
			}
		case <-ctx.Done():
		}
	}()
	go func() {
		defer rs.release()
		defer abandon()
		defer stopOnShutdown()
		defer cancelTime()
		defer func() { <-watched }()
		defer cancel(nil)
		defer close(rr.done)
		rr.run(ctx, in)
	}()

	select {
	case <-rr.done:
	case <-r.Context().Done():
		// The client left: the run goes on for whoever resumes it, unless
		// the store already failed it.
		if rr.lost.Load() {
			cancel(errStoreLost)
		}
	}
	rr.sw.close()
	return true
}

// run runs the program, appends each event to the store and writes it to
// the client while it is there, then ends the stream. A panic in the
// handler's own code on this goroutine (a store's, say) fails the stream
// with an internal error; the program's panics already arrive as a
// *dspy.PanicError.
func (rr *resumableRun) run(ctx context.Context, in dspy.Inputs) {
	end, final := resume.EndFinished, []byte(nil)
	func() {
		defer func() {
			if v := recover(); v != nil {
				err := &dspy.PanicError{Value: v, Stack: debug.Stack()}
				rr.h.cfg.logger.ErrorContext(ctx, "streaming: resumable run panicked", "error", err)
				end, final = resume.EndFailed, rr.errorFrame(ctx, err)
			}
		}()
		for ev, err := range rr.h.p.Stream(ctx, in) {
			if err != nil {
				if !errors.Is(context.Cause(ctx), resume.ErrStopped) {
					rr.h.cfg.logger.ErrorContext(ctx, "streaming: run failed", "error", err, "stream", rr.id)
				}
				end, final = resume.EndFailed, rr.errorFrame(ctx, err)
				return
			}
			name, payload := rr.h.cfg.sseEvent(ev)
			if name == "" {
				continue
			}
			f, err := rr.frames.frame(name, payload)
			if err != nil {
				end, final = resume.EndFailed, rr.errorFrame(ctx, err)
				return
			}
			if _, ok := ev.(*Final); ok {
				final = f // the terminal record
				continue
			}
			rr.append(ctx, f)
		}
	}()
	if rr.actxCancel != nil {
		rr.actxCancel()
	}
	rr.end(ctx, end, final)
}

// append stores an event and writes it to the client, with the id the
// store gave it. When the store fails, the stream is given up (its
// followers learn it from the lease) and the events go on to the client
// alone, numbered on.
func (rr *resumableRun) append(ctx context.Context, data []byte) {
	id := rr.last + 1
	if !rr.lost.Load() {
		got, err := rr.w.Append(rr.appendContext(ctx), data)
		switch {
		case err == nil:
			id = got
		case errors.Is(err, resume.ErrStopped):
			return // stopped: the stream's next record is the stop marker
		case errors.Is(err, resume.ErrTooLarge), errors.Is(err, resume.ErrFull):
			rr.cancel(err) // the run ends with this error, kept in the store
			return
		case ctx.Err() != nil:
			return // the run is ending (a shutdown): End records how
		default:
			rr.loseStore(ctx, err)
		}
	}
	rr.last = id
	_ = rr.sw.write(id, data) // a client that cannot be written to has left
}

// appendTimeout bounds an Append: a store that takes longer is lost for
// this stream, and the run goes on for its client.
const appendTimeout = time.Second

// appendContext returns a context whose deadline is between half of
// appendTimeout and appendTimeout from now.
func (rr *resumableRun) appendContext(ctx context.Context) context.Context {
	now := time.Now()
	if rr.actx == nil || rr.actxUntil.Sub(now) < appendTimeout/2 {
		if rr.actxCancel != nil {
			rr.actxCancel()
		}
		rr.actxUntil = now.Add(appendTimeout)
		rr.actx, rr.actxCancel = context.WithDeadline(ctx, rr.actxUntil)
	}
	return rr.actx
}

// loseStore gives the stream up after its store failed: the writer is
// abandoned, so followers learn from its lease that the stream is lost,
// and the run goes on only while its client is there.
func (rr *resumableRun) loseStore(ctx context.Context, err error) {
	if rr.lost.Swap(true) {
		return
	}
	rr.h.cfg.logger.WarnContext(ctx, "streaming: the stream store failed; the stream can no longer be resumed", "stream", rr.id, "error", err)
	rr.abandon()
	rr.sw.mu.Lock()
	gone := rr.sw.closed
	rr.sw.mu.Unlock()
	if gone {
		rr.cancel(errStoreLost)
	}
}

// endTimeout bounds the write of a stream's terminal record.
const endTimeout = 2 * time.Second

// end writes the terminal record and the client's last events. A stopped
// stream's record is the store's stop marker: its id is the one after the
// last event appended, since this goroutine is the stream's only writer
// and a writer refuses appends once it is stopping.
func (rr *resumableRun) end(ctx context.Context, end resume.End, final []byte) {
	stopped := errors.Is(context.Cause(ctx), resume.ErrStopped)
	if !stopped && !rr.lost.Load() {
		ectx, cancel := context.WithTimeout(rr.base, endTimeout)
		err := rr.w.End(ectx, end, final)
		cancel()
		switch {
		case errors.Is(err, resume.ErrStopped):
			stopped = true
		case err != nil:
			rr.loseStore(ctx, err)
		}
	}
	if stopped {
		final = stoppedFrame
	}
	if len(final) > 0 {
		_ = rr.sw.write(rr.last+1, final)
	}
	_ = rr.sw.done()
}

// errorFrame encodes the error event of a failed run; a run cancelled for
// a reason (a shutdown, a stream over its bound) is told that reason.
func (rr *resumableRun) errorFrame(ctx context.Context, err error) []byte {
	if cause := context.Cause(ctx); cause != nil && errors.Is(err, context.Canceled) && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	f, ferr := rr.frames.frame("error", errorJSON{Error: UserMessage(err), Detail: rr.h.cfg.detail(err)})
	if ferr != nil {
		return []byte(`event: error` + "\n" + `data: {"error":"internal error"}`)
	}
	return f
}

// serveStream serves the URL of stream id: GET resumes it, a stop request
// stops it.
func (h *handler) serveStream(w http.ResponseWriter, r *http.Request, id string) {
	switch {
	case r.Method == http.MethodDelete, r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/stop"):
		h.stop(w, r, id)
		return
	case r.Method == http.MethodGet:
	default:
		w.Header().Set("Allow", "GET, DELETE")
		httpError(w, http.StatusMethodNotAllowed, "GET a stream to resume it (with Last-Event-ID), DELETE it or POST to its /stop to stop it")
		return
	}
	after := uint64(0)
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("Last-Event-ID %q is not an event id (a number)", v))
			return
		}
		after = n
	}
	rs := h.cfg.runs
	sw := newSSEWriter(w, h.cfg.writeTimeout, setEventStreamHeaders)
	sw.retry = rs.retry
	w.Header().Set("X-Stream-Id", id)
	sw.keepAlive(h.cfg.keepAlive)
	defer sw.close()
	for rec, err := range resume.Follow(r.Context(), rs.store, id, after) {
		if err != nil {
			switch {
			case r.Context().Err() != nil:
				return // the client left
			case errors.Is(err, resume.ErrEnded):
			case errors.Is(err, resume.ErrLeaseExpired):
				_ = sw.event("error", errorJSON{Error: lostMessage})
			case errors.Is(err, resume.ErrNotFound), errors.Is(err, resume.ErrBadID):
				if !sw.isStarted() {
					sw.close()
					httpError(w, http.StatusNotFound, fmt.Sprintf("no stream %q: it never existed, or it ended and expired", id))
					return
				}
				_ = sw.event("error", errorJSON{Error: "the stream expired before it could be read to its end"})
			default:
				// The store failed: a client that reconnects may resume.
				h.cfg.logger.WarnContext(r.Context(), "streaming: reading a stream failed", "stream", id, "error", err)
				if !sw.isStarted() {
					sw.close()
					w.Header().Set("Retry-After", "1")
					httpError(w, http.StatusServiceUnavailable, "the stream store is unavailable; try again shortly")
				}
				return // cut, without [DONE]
			}
			break
		}
		data := rec.Data
		if rec.End == resume.EndStopped {
			data = stoppedFrame
		}
		if len(data) > 0 {
			if sw.write(rec.ID, data) != nil {
				return
			}
		}
	}
	_ = sw.done()
}

// stopTimeout bounds a stop request's call to the store.
const stopTimeout = 5 * time.Second

// stop asks the store to stop stream id: 202 once recorded.
func (h *handler) stop(w http.ResponseWriter, r *http.Request, id string) {
	ctx, cancel := context.WithTimeout(r.Context(), stopTimeout)
	defer cancel()
	switch err := h.cfg.runs.store.Stop(ctx, id); {
	case err == nil:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		b, _ := marshal(streamJSON{ID: id, URL: strings.TrimSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/stop")})
		w.Write(append(b, '\n'))
	case errors.Is(err, resume.ErrNotFound), errors.Is(err, resume.ErrBadID):
		httpError(w, http.StatusNotFound, fmt.Sprintf("no stream %q: it never existed, or it ended and expired", id))
	default:
		h.cfg.logger.WarnContext(r.Context(), "streaming: stopping a stream failed", "stream", id, "error", err)
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "the stream store is unavailable; try again shortly")
	}
}
