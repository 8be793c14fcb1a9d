// Package redisresume is a resume.Store on Redis, for a fleet: a stream
// written on one replica can be read, resumed and stopped from any other.
// It is a package of its own so that programs that do not use Redis do not
// link a Redis client.
//
// Each stream is a Redis stream (XADD, read with XRANGE and XREAD BLOCK),
// whose entry ids are 0-N for event id N, beside a hash of its state and a
// lease key the producer renews (SET PX, renewed every third of the lease
// by a Lua script that also fences every write: a producer that lost its
// lease cannot write). A writer batches appends: they are sent in one
// script call when 64 are pending or 5 ms after the first, and at Flush
// and End, so a chunk costs no round trip of its own. Stop sets a flag in
// the hash and publishes the id on one pub/sub channel, which every
// Store with a live writer listens to; the flag is also read at each
// lease renewal, in case the message was lost. Keys of one stream share a
// hash tag, so the store works on Redis Cluster. It needs Redis 6.2 or
// later (exclusive XRANGE bounds).
//
// The goroutines of this package (a Store's pub/sub listener, a writer's
// lease renewal and timed flushes) run no user code.
package redisresume

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godspy/dspy/streaming/resume"
)

// Defaults of a Store.
const (
	DefaultPrefix        = "godspy:resume:"
	DefaultLease         = 10 * time.Second
	DefaultTTL           = 10 * time.Minute
	DefaultFlushInterval = 5 * time.Millisecond
	DefaultBatch         = 64
	// DefaultPoll is the longest a Read blocks in one XREAD; it bounds how
	// long a cancelled Read takes to return.
	DefaultPoll           = 200 * time.Millisecond
	DefaultMaxStreamBytes = 8 << 20
	// DefaultPoolSize is the connection pool of Open's client: every Read
	// that waits holds a connection while it blocks.
	DefaultPoolSize = 1024
)

// Store is a resume.Store on a Redis server or cluster. It is safe for
// concurrent use. Appended events are visible to readers once Flush or End
// returns, or at most the flush interval (5 ms) after Append. A reader
// learns that a producer died within the lease (10 s) plus a fifth of a
// second; a stop reaches the writer through pub/sub at once, or else at
// its next lease renewal (a third of the lease). Finished streams expire
// after the TTL; a stream whose producer died expires the TTL after its
// lease would have.
type Store struct {
	c          redis.UniversalClient
	owned      bool
	prefix     string
	lease, ttl time.Duration
	flushEvery time.Duration
	batch      int
	poll       time.Duration
	maxStream  int64

	mu      sync.Mutex
	writers map[string]*writer // live writers of this Store, by stream id
	sub     *redis.PubSub
	subDone chan struct{}
	closed  bool
}

var _ resume.Store = (*Store)(nil)

// Option configures New and Open.
type Option interface{ apply(*Store) }

type optionFunc func(*Store)

func (f optionFunc) apply(s *Store) { f(s) }

// WithPrefix sets the prefix of the Redis keys and of the pub/sub channel
// (default DefaultPrefix).
func WithPrefix(p string) Option { return optionFunc(func(s *Store) { s.prefix = p }) }

// WithLease sets the producer's lease timeout (default DefaultLease).
func WithLease(d time.Duration) Option { return optionFunc(func(s *Store) { s.lease = d }) }

// WithTTL sets how long a finished stream is kept (default DefaultTTL).
func WithTTL(d time.Duration) Option { return optionFunc(func(s *Store) { s.ttl = d }) }

// WithBatch sets how appends are batched: a batch is sent when n events
// are pending or d after the first of them (defaults DefaultBatch,
// DefaultFlushInterval). n of 1 sends every event at once; an Append
// whose send fails then returns its event's id with the error, and the
// event is sent again by the next flush.
func WithBatch(n int, d time.Duration) Option {
	return optionFunc(func(s *Store) { s.batch, s.flushEvery = max(1, n), d })
}

// WithPoll sets the longest a Read blocks in one call to Redis (default
// DefaultPoll).
func WithPoll(d time.Duration) Option { return optionFunc(func(s *Store) { s.poll = d }) }

// WithMaxStreamBytes bounds the data of one stream (default
// DefaultMaxStreamBytes); an Append over it fails with resume.ErrTooLarge.
func WithMaxStreamBytes(n int64) Option { return optionFunc(func(s *Store) { s.maxStream = n }) }

// New returns a Store on an existing client, which should honour context
// deadlines (redis.Options.ContextTimeoutEnabled) and have a pool as large
// as the number of Reads that may wait at once. Close does not close it.
func New(c redis.UniversalClient, opts ...Option) *Store {
	s := &Store{c: c, prefix: DefaultPrefix, lease: DefaultLease, ttl: DefaultTTL,
		flushEvery: DefaultFlushInterval, batch: DefaultBatch, poll: DefaultPoll,
		maxStream: DefaultMaxStreamBytes, writers: map[string]*writer{}}
	for _, o := range opts {
		o.apply(s)
	}
	s.lease = max(s.lease, 10*time.Millisecond)
	s.ttl = max(s.ttl, time.Millisecond)
	s.poll = max(s.poll, time.Millisecond)
	return s
}

// Open connects to the server at rawURL ("redis://[:password@]host:port/db",
// "rediss://..." for TLS). Its client honours context deadlines and, unless
// the URL sets pool_size, has a pool of DefaultPoolSize connections (made
// as needed). Close releases it.
func Open(rawURL string, opts ...Option) (*Store, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		var ue *url.Error // it repeats the URL, which may hold a password
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redisresume: bad Redis URL: %w", err)
	}
	o.ContextTimeoutEnabled = true
	if o.PoolSize == 0 {
		o.PoolSize = DefaultPoolSize
	}
	s := New(redis.NewClient(o), opts...)
	s.owned = true
	return s, nil
}

// Close stops listening for Stop requests and closes the client if Open
// made it. Writers still open keep their lease but hear a Stop only at
// lease renewal.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	sub, done := s.sub, s.subDone
	s.sub = nil
	s.mu.Unlock()
	if sub != nil {
		sub.Close()
		<-done
	}
	if s.owned {
		return s.c.Close()
	}
	return nil
}

func (s *Store) key(id, kind string) string { return s.prefix + "{" + id + "}:" + kind }

func (s *Store) stopChannel() string { return s.prefix + "stop" }

func ms(d time.Duration) int64 { return max(1, d.Milliseconds()) }

// Scripts. KEYS of a stream: s (the stream), m (its state: last, end,
// stop), l (the lease, holding the producer's token).
var (
	createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'last', 0, 'end', 0)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
return 1`)

	// ARGV: token, keep ms, ttl ms, end code of the last entry, first id,
	// then one data argument per entry. Entries at or below 'last' were
	// written by an earlier try of the same batch and are skipped.
	appendScript = redis.NewScript(`
local last = tonumber(redis.call('HGET', KEYS[2], 'last'))
local first = tonumber(ARGV[5])
local n = #ARGV - 5
if tonumber(redis.call('HGET', KEYS[2], 'end') or '0') ~= 0 then
  if last ~= nil and last >= first + n - 1 then return 1 end
  return -2
end
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
local endc = tonumber(ARGV[4])
for i = 1, n do
  local id = first + i - 1
  if id > last then
    if i == n and endc ~= 0 then
      redis.call('XADD', KEYS[1], '0-' .. id, 'd', ARGV[5 + i], 'e', endc)
    else
      redis.call('XADD', KEYS[1], '0-' .. id, 'd', ARGV[5 + i])
    end
    last = id
  end
end
redis.call('HSET', KEYS[2], 'last', last)
if endc ~= 0 then
  redis.call('HSET', KEYS[2], 'end', endc)
  redis.call('DEL', KEYS[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1`)

	// ARGV: token, lease ms, keep ms. 0: lease lost; 1: renewed; 2:
	// renewed, and a stop was requested.
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if redis.call('HGET', KEYS[2], 'stop') then return 2 end
return 1`)

	// KEYS: m. ARGV: channel, id. 0: no such stream; 1: requested; 2:
	// already ended.
	stopScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'end')) ~= 0 then return 2 end
redis.call('HSET', KEYS[1], 'stop', 1)
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1`)
)

func (s *Store) keys(id string) []string {
	return []string{s.key(id, "s"), s.key(id, "m"), s.key(id, "l")}
}

// Create implements resume.Store.
func (s *Store) Create(ctx context.Context, id string) (resume.Writer, error) {
	if err := resume.CheckID(id); err != nil {
		return nil, err
	}
	if err := s.listen(ctx); err != nil {
		return nil, err
	}
	token := rand.Text()
	keys := s.keys(id)
	ok, err := createScript.Run(ctx, s.c, keys, token, ms(s.lease), ms(s.lease+s.ttl)).Int()
	if err != nil {
		return nil, fmt.Errorf("redisresume: create %q: %w", id, err)
	}
	if ok == 0 {
		return nil, fmt.Errorf("%w: %q", resume.ErrExists, id)
	}
	w := &writer{s: s, id: id, keys: keys, token: token, next: 1, done: make(chan struct{}),
		quit: make(chan struct{}), pending: make([]any, 0, 5+s.batch)}
	s.mu.Lock()
	s.writers[id] = w
	s.mu.Unlock()
	w.wg.Add(1)
	go w.renew(ctx)
	return w, nil
}

// listen subscribes to the stop channel once this Store has a writer, and
// dispatches stop requests to its writers.
func (s *Store) listen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("redisresume: store closed")
	}
	if s.sub != nil {
		return nil
	}
	sub := s.c.Subscribe(ctx, s.stopChannel())
	// Wait for the subscription, so that no Stop after Create is missed.
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return fmt.Errorf("redisresume: subscribe to stop requests: %w", err)
	}
	s.sub, s.subDone = sub, make(chan struct{})
	ch := sub.Channel()
	go func() {
		defer close(s.subDone)
		for msg := range ch {
			s.mu.Lock()
			w := s.writers[msg.Payload]
			s.mu.Unlock()
			if w != nil {
				w.requestStop()
			}
		}
	}()
	return nil
}

func (s *Store) forget(w *writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writers[w.id] == w {
		delete(s.writers, w.id)
	}
}

// Stop implements resume.Store.
func (s *Store) Stop(ctx context.Context, id string) error {
	if err := resume.CheckID(id); err != nil {
		return err
	}
	r, err := stopScript.Run(ctx, s.c, []string{s.key(id, "m")}, s.stopChannel(), id).Int()
	if err != nil {
		return fmt.Errorf("redisresume: stop %q: %w", id, err)
	}
	if r == 0 {
		return fmt.Errorf("%w: %q", resume.ErrNotFound, id)
	}
	return nil
}

// maxRead bounds the records of one Read.
const maxRead = 512

func entryID(id uint64) string { return "0-" + strconv.FormatUint(id, 10) }

func records(msgs []redis.XMessage) ([]resume.Record, error) {
	recs := make([]resume.Record, 0, len(msgs))
	for _, m := range msgs {
		seq, ok := strings.CutPrefix(m.ID, "0-")
		n, err := strconv.ParseUint(seq, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("redisresume: unexpected entry id %q", m.ID)
		}
		d, _ := m.Values["d"].(string)
		r := resume.Record{ID: n, Data: []byte(d)}
		if e, ok := m.Values["e"].(string); ok {
			code, _ := strconv.Atoi(e)
			r.End = resume.End(code)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// Read implements resume.Store. A Read that waits blocks in XREAD for up
// to the poll interval at a time, and checks the producer's lease when it
// would expire (its PTTL), so a dead producer is known right after its
// lease runs out.
func (s *Store) Read(ctx context.Context, id string, after uint64) ([]resume.Record, error) {
	if err := resume.CheckID(id); err != nil {
		return nil, err
	}
	keys := s.keys(id)
	start := entryID(after)
	var next time.Time // of the next check of the lease
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !time.Now().Before(next) {
			recs, ttl, err := s.check(ctx, keys, id, start)
			if recs != nil || err != nil {
				return recs, err
			}
			next = time.Now().Add(min(ttl+time.Millisecond, s.lease))
		}
		block := min(s.poll, max(time.Millisecond, time.Until(next)))
		if dl, ok := ctx.Deadline(); ok {
			// The client's read deadline is ctx's: end the block before it.
			block = min(block, time.Until(dl)-10*time.Millisecond)
			if block < time.Millisecond {
				<-ctx.Done()
				return nil, ctx.Err()
			}
		}
		res, err := s.c.XRead(ctx, &redis.XReadArgs{Streams: []string{keys[0], start}, Count: maxRead, Block: block}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("redisresume: read %q: %w", id, err)
		}
		if len(res) > 0 && len(res[0].Messages) > 0 {
			return records(res[0].Messages)
		}
	}
}

// check reads what is there without waiting and, when nothing is, says why
// if the stream will get no more: the records, an error, or neither and
// the time left on the producer's lease.
func (s *Store) check(ctx context.Context, keys []string, id, start string) ([]resume.Record, time.Duration, error) {
	p := s.c.Pipeline()
	state := p.HMGet(ctx, keys[1], "end")
	lease := p.PTTL(ctx, keys[2])
	rng := p.XRangeN(ctx, keys[0], "("+start, "+", maxRead)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		return nil, 0, fmt.Errorf("redisresume: read %q: %w", id, err)
	}
	if msgs := rng.Val(); len(msgs) > 0 {
		recs, err := records(msgs)
		return recs, 0, err
	}
	v := state.Val()
	if len(v) == 0 || v[0] == nil {
		return nil, 0, fmt.Errorf("%w: %q", resume.ErrNotFound, id)
	}
	if e, _ := v[0].(string); e != "0" {
		return nil, 0, resume.ErrEnded
	}
	ttl := lease.Val() // -2: no key, -1: no expiry
	if ttl == -2 {
		return nil, 0, resume.ErrLeaseExpired
	}
	if ttl < 0 {
		ttl = s.lease
	}
	return nil, ttl, nil
}

// writer is a resume.Writer on Redis.
type writer struct {
	s     *Store
	id    string
	keys  []string
	token string

	flushMu sync.Mutex // one batch at a time, in order

	mu      sync.Mutex
	next    uint64 // id of the next event
	first   uint64 // id of pending's first event
	pending []any  // script arguments: 5 fixed, then the data of each pending event
	endCode resume.End
	bytes   int64
	timer   *time.Timer
	closing error // set once writes are refused: ErrEnded, ErrStopped, ...
	err     error // set when done closes
	done    chan struct{}
	quit    chan struct{} // closed with done: ends the renewer

	wg sync.WaitGroup // the renewer, timer flushes, a stop in progress
}

func (w *writer) Append(ctx context.Context, data []byte) (uint64, error) {
	w.mu.Lock()
	if w.closing != nil {
		defer w.mu.Unlock()
		return 0, w.closing
	}
	if w.bytes+int64(len(data)) > w.s.maxStream {
		defer w.mu.Unlock()
		return 0, fmt.Errorf("%w: %d bytes, the bound is %d", resume.ErrTooLarge, w.bytes+int64(len(data)), w.s.maxStream)
	}
	if w.npending() >= w.s.batch {
		// A full batch is sent by this call: back-pressure on the producer.
		w.mu.Unlock()
		if err := w.flush(ctx); err != nil {
			return 0, err
		}
		w.mu.Lock()
		if w.closing != nil {
			defer w.mu.Unlock()
			return 0, w.closing
		}
	}
	id := w.add(data, resume.EndNone)
	if w.s.batch <= 1 {
		w.mu.Unlock()
		return id, w.flush(ctx)
	}
	if w.timer == nil {
		w.wg.Add(1)
		w.timer = time.AfterFunc(w.s.flushEvery, w.timerFlush)
	}
	w.mu.Unlock()
	return id, nil
}

func (w *writer) npending() int { return max(0, len(w.pending)-5) }

// add appends an event to the batch; w.mu is held.
func (w *writer) add(data []byte, end resume.End) uint64 {
	if w.npending() == 0 {
		w.pending = append(w.pending[:0], nil, nil, nil, nil, nil)
		w.first = w.next
	}
	w.pending = append(w.pending, data)
	w.endCode = end
	w.bytes += int64(len(data))
	id := w.next
	w.next++
	return id
}

// timerFlushTimeout bounds a timed flush.
const timerFlushTimeout = time.Second

func (w *writer) timerFlush() {
	defer w.wg.Done()
	w.mu.Lock()
	w.timer = nil
	w.mu.Unlock()
	// Bounded well under the lease: the producer's next Append may wait
	// for this flush, and an outage must not stall it for long.
	ctx, cancel := context.WithTimeout(context.Background(), min(w.s.lease, timerFlushTimeout))
	defer cancel()
	// A failure is kept pending and retried by the next flush.
	_ = w.flush(ctx)
}

// stopTimer cancels a pending timer flush; w.mu is held.
func (w *writer) stopTimer() {
	if w.timer != nil && w.timer.Stop() {
		w.wg.Done()
	}
	w.timer = nil
}

// flush sends the pending batch. On failure the batch stays pending, ahead
// of events appended meanwhile, and is sent again by the next flush (the
// script skips what an earlier try wrote).
func (w *writer) flush(ctx context.Context) error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	if w.npending() == 0 {
		w.mu.Unlock()
		return nil
	}
	args, end := w.pending, w.endCode
	args[0], args[1], args[2], args[3], args[4] = w.token, ms(w.s.lease+w.s.ttl), ms(w.s.ttl), int(end), w.first
	w.pending, w.endCode = make([]any, 0, cap(args)), resume.EndNone
	first := w.first
	w.mu.Unlock()

	r, err := appendScript.Run(ctx, w.s.c, w.keys, args...).Int()
	if err != nil {
		// Keep the batch for the next try, before what came meanwhile.
		w.mu.Lock()
		if w.npending() > 0 {
			args = append(args, w.pending[5:]...)
			if w.endCode != resume.EndNone {
				end = w.endCode
			}
		}
		w.pending, w.endCode, w.first = args, end, first
		w.mu.Unlock()
		return fmt.Errorf("redisresume: append to %q: %w", w.id, err)
	}
	switch r {
	case 1:
		return nil
	case -1:
		w.finish(resume.ErrLeaseExpired)
		return resume.ErrLeaseExpired
	}
	return resume.ErrEnded
}

func (w *writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	if w.closing != nil && w.closing != resume.ErrEnded {
		defer w.mu.Unlock()
		return w.closing
	}
	w.stopTimer()
	w.mu.Unlock()
	return w.flush(ctx)
}

func (w *writer) End(ctx context.Context, end resume.End, data []byte) error {
	if end == resume.EndNone {
		return fmt.Errorf("resume: End needs a terminal End, not %v", end)
	}
	w.mu.Lock()
	// Refused once done, or closed otherwise; a failed End is tried again.
	if w.closing != nil && (w.closing != resume.ErrEnded || w.err != nil) {
		defer w.mu.Unlock()
		return w.closing
	}
	if w.closing == nil {
		w.closing = resume.ErrEnded
		w.add(data, end)
	}
	w.stopTimer()
	w.mu.Unlock()
	// A failed End can be called again: it sends the terminal batch again.
	if err := w.flush(ctx); err != nil {
		return err
	}
	w.finish(resume.ErrEnded)
	w.wg.Wait()
	return nil
}

// requestStop ends the stream as stopped: the pending events and the
// terminal record EndStopped are written, then the writer is done.
func (w *writer) requestStop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing != nil {
		return
	}
	w.closing = resume.ErrStopped
	w.add(nil, resume.EndStopped)
	w.stopTimer()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), w.s.lease)
		defer cancel()
		_ = w.flush(ctx) // if this fails, readers see the lease expire
		w.finish(resume.ErrStopped)
	}()
}

// finish closes the writer with err, once.
func (w *writer) finish(err error) {
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return
	}
	w.err = err
	if w.closing == nil {
		w.closing = err
	}
	w.stopTimer()
	close(w.done)
	close(w.quit)
	w.mu.Unlock()
	w.s.forget(w)
}

// renew renews the lease every third of it until the writer is done or
// Create's ctx ends (which abandons the stream).
func (w *writer) renew(ctx context.Context) {
	defer w.wg.Done()
	t := time.NewTicker(w.s.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-ctx.Done():
			w.finish(context.Cause(ctx))
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.s.lease/3)
		r, err := renewScript.Run(rctx, w.s.c, w.keys, w.token, ms(w.s.lease), ms(w.s.lease+w.s.ttl)).Int()
		cancel()
		switch {
		case err != nil:
			// Redis unreachable: try again; if it stays so, the lease runs out.
		case r == 0:
			w.finish(resume.ErrLeaseExpired)
			return
		case r == 2:
			w.requestStop()
		}
	}
}

func (w *writer) Done() <-chan struct{} { return w.done }

func (w *writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
