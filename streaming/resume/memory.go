package resume

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults of NewMemory.
const (
	DefaultTTL            = 10 * time.Minute
	DefaultMaxStreamBytes = 8 << 20   // 8 MiB
	DefaultMaxBytes       = 256 << 20 // 256 MiB
	DefaultMaxStreams     = 10_000
)

// recordOverhead is what a record costs the memory store beyond its data,
// counted against the bounds.
const recordOverhead = 48

// maxReadRecords bounds the records one Read returns.
const maxReadRecords = 1024

// Memory is a Store in the memory of one process. Appended events are
// visible at once (Flush does nothing). Memory is bounded: each stream by
// MaxStreamBytes (then Append fails with ErrTooLarge), all streams together
// by MaxBytes and MaxStreams. A stream that would go over them evicts
// finished streams, oldest finished first, whether or not their TTL is
// over; when no finished stream is left, Create and Append fail with
// ErrFull. A terminal record is always accepted, so a stream can end. A
// stream whose producer abandoned it (Create's context ended) counts as
// finished. Append copies the event's data, into a few large blocks per
// stream, which the garbage collector keeps at little cost. Finished streams are forgotten TTL after they end (checked on
// every call, so an idle store frees nothing, but it does not grow).
//
// In one process the lease is the writer's life: a producer that abandons
// its stream is known at once, and Stop acts synchronously.
type Memory struct {
	ttl                 time.Duration
	maxStream, maxBytes int64
	maxStreams          int
	mu                  sync.Mutex
	streams             map[string]*memStream
	finished            list.List // *memStream, in the order they ended
	bytes               int64
}

var _ Store = (*Memory)(nil)

type memStream struct {
	id string
	// The records: their data copied into chunks, each record an index
	// entry. Neither holds a pointer per record, so the garbage collector
	// scans a few chunk headers per stream, not one pointer per event.
	recs    []memRec
	chunks  [][]byte // appended to in place; filled bytes never change
	bytes   int64
	end     End
	lost    bool // the lease expired: no terminal record will come
	endedAt time.Time
	elem    *list.Element // in finished, once ended or lost
	w       *memWriter
	wake    chan struct{} // closed on a change when watched
	watched bool
}

// MemoryOption configures NewMemory.
type MemoryOption interface{ applyMemory(*Memory) }

type memoryOptionFunc func(*Memory)

func (f memoryOptionFunc) applyMemory(m *Memory) { f(m) }

// WithTTL sets how long a finished stream is kept (default DefaultTTL).
func WithTTL(d time.Duration) MemoryOption { return memoryOptionFunc(func(m *Memory) { m.ttl = d }) }

// WithMaxStreamBytes bounds one stream's events (default
// DefaultMaxStreamBytes; each event counts its data and 48 bytes).
func WithMaxStreamBytes(n int64) MemoryOption {
	return memoryOptionFunc(func(m *Memory) { m.maxStream = n })
}

// WithMaxBytes bounds all streams' events together (default
// DefaultMaxBytes).
func WithMaxBytes(n int64) MemoryOption { return memoryOptionFunc(func(m *Memory) { m.maxBytes = n }) }

// WithMaxStreams bounds the number of streams kept, live and finished
// (default DefaultMaxStreams).
func WithMaxStreams(n int) MemoryOption {
	return memoryOptionFunc(func(m *Memory) { m.maxStreams = n })
}

// NewMemory returns an empty in-memory store.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{ttl: DefaultTTL, maxStream: DefaultMaxStreamBytes, maxBytes: DefaultMaxBytes,
		maxStreams: DefaultMaxStreams, streams: map[string]*memStream{}}
	for _, o := range opts {
		o.applyMemory(m)
	}
	return m
}

// MemoryStats describes what a Memory store holds.
type MemoryStats struct {
	Streams int   // streams kept, live and finished
	Live    int   // streams with a producer
	Bytes   int64 // events' bytes, as counted against the bounds
}

// Stats returns what m holds now, after forgetting expired streams.
func (m *Memory) Stats() MemoryStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(time.Now())
	return MemoryStats{Streams: len(m.streams), Live: len(m.streams) - m.finished.Len(), Bytes: m.bytes}
}

// sweep forgets finished streams whose TTL is over; m.mu is held.
func (m *Memory) sweep(now time.Time) {
	for e := m.finished.Front(); e != nil; e = m.finished.Front() {
		s := e.Value.(*memStream)
		if now.Sub(s.endedAt) < m.ttl {
			return
		}
		m.remove(s)
	}
}

func (m *Memory) remove(s *memStream) {
	m.finished.Remove(s.elem)
	delete(m.streams, s.id)
	m.bytes -= s.bytes
}

// room evicts finished streams, oldest first, until n more bytes and
// streams more streams fit; m.mu is held.
func (m *Memory) room(n int64, streams int) bool {
	for m.bytes+n > m.maxBytes || len(m.streams)+streams > m.maxStreams {
		e := m.finished.Front()
		if e == nil {
			return false
		}
		m.remove(e.Value.(*memStream))
	}
	return true
}

// Create implements Store.
func (m *Memory) Create(ctx context.Context, id string) (Writer, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(time.Now())
	if m.streams[id] != nil {
		return nil, fmt.Errorf("%w: %q", ErrExists, id)
	}
	if !m.room(0, 1) {
		return nil, fmt.Errorf("%w: %d live streams", ErrFull, len(m.streams))
	}
	s := &memStream{id: id, wake: make(chan struct{})}
	w := &memWriter{m: m, s: s, done: make(chan struct{})}
	s.w = w
	m.streams[id] = s
	w.release = context.AfterFunc(ctx, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if w.err != nil {
			return
		}
		s.lost = true
		m.ended(s)
		w.finish(context.Cause(ctx))
	})
	return w, nil
}

// ended moves s to the finished streams and wakes its readers; m.mu is
// held.
func (m *Memory) ended(s *memStream) {
	s.endedAt = time.Now()
	s.elem = m.finished.PushBack(s)
	s.changed()
}

func (s *memStream) changed() {
	if s.watched {
		close(s.wake)
		s.wake, s.watched = make(chan struct{}), false
	}
}

// memRec is one record of a memStream: its data is
// chunks[chunk][off:off+n]; its id is its index plus one.
type memRec struct {
	chunk, off uint32 // off < maxChunk, or 0 in a chunk of its own
	n          int
	end        End
}

// Chunk sizes of a stream's data: the first small, for short streams,
// then doubling up to the largest.
const (
	minChunk = 4 << 10
	maxChunk = 64 << 10
)

// add appends a record, copying data into the stream's chunks; m.mu is
// held.
func (s *memStream) add(data []byte, end End) uint64 {
	id := uint64(len(s.recs)) + 1
	last := len(s.chunks) - 1
	if last < 0 || cap(s.chunks[last])-len(s.chunks[last]) < len(data) {
		size := minChunk
		if last >= 0 {
			size = min(2*cap(s.chunks[last]), maxChunk)
		}
		s.chunks = append(s.chunks, make([]byte, 0, max(size, len(data))))
		last++
	}
	c := s.chunks[last]
	s.recs = append(s.recs, memRec{chunk: uint32(last), off: uint32(len(c)), n: len(data), end: end})
	s.chunks[last] = append(c, data...)
	n := int64(len(data)) + recordOverhead
	s.bytes += n
	s.w.m.bytes += n
	return id
}

// Read implements Store.
func (m *Memory) Read(ctx context.Context, id string, after uint64) ([]Record, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	for {
		m.mu.Lock()
		m.sweep(time.Now())
		s := m.streams[id]
		if s == nil {
			m.mu.Unlock()
			return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		if n := uint64(len(s.recs)); after < n {
			recs := s.records(after, min(n, after+maxReadRecords))
			m.mu.Unlock()
			return recs, nil
		}
		var err error
		switch {
		case s.end != EndNone:
			err = ErrEnded
		case s.lost:
			err = ErrLeaseExpired
		}
		if err != nil {
			m.mu.Unlock()
			return nil, err
		}
		wake := s.wake
		s.watched = true
		m.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// records returns records from+1 to to; m.mu is held. Their data are
// slices of the chunks, capped so that a reader's append cannot reach the
// next record.
func (s *memStream) records(from, to uint64) []Record {
	recs := make([]Record, 0, to-from)
	for i := from; i < to; i++ {
		r := s.recs[i]
		var data []byte
		if r.n > 0 {
			end := int(r.off) + r.n
			data = s.chunks[r.chunk][r.off:end:end]
		}
		recs = append(recs, Record{ID: i + 1, Data: data, End: r.end})
	}
	return recs
}

// Stop implements Store: the writer is stopped before Stop returns.
func (m *Memory) Stop(ctx context.Context, id string) error {
	if err := CheckID(id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(time.Now())
	s := m.streams[id]
	if s == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if s.end != EndNone || s.lost {
		return nil
	}
	s.add(nil, EndStopped)
	s.end = EndStopped
	m.ended(s)
	s.w.finish(ErrStopped)
	return nil
}

type memWriter struct {
	m       *Memory
	s       *memStream
	done    chan struct{}
	err     error // guarded by m.mu; set once, when done closes
	release func() bool
}

// finish closes the writer with err; m.mu is held.
func (w *memWriter) finish(err error) {
	w.err = err
	close(w.done)
	w.release()
}

func (w *memWriter) Append(ctx context.Context, data []byte) (uint64, error) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	n := int64(len(data)) + recordOverhead
	if w.s.bytes+n > w.m.maxStream {
		return 0, fmt.Errorf("%w: %d bytes, the bound is %d", ErrTooLarge, w.s.bytes+n, w.m.maxStream)
	}
	if !w.m.room(n, 0) {
		return 0, fmt.Errorf("%w: %d bytes held by live streams", ErrFull, w.m.bytes)
	}
	id := w.s.add(data, EndNone)
	w.s.changed()
	return id, nil
}

func (w *memWriter) Flush(ctx context.Context) error {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.err != nil && w.err != ErrEnded {
		return w.err
	}
	return nil
}

func (w *memWriter) End(ctx context.Context, end End, data []byte) error {
	if end == EndNone {
		return fmt.Errorf("resume: End needs a terminal End, not %v", end)
	}
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.m.room(int64(len(data))+recordOverhead, 0) // best effort: a stream can always end
	w.s.add(data, end)
	w.s.end = end
	w.m.ended(w.s)
	w.finish(ErrEnded)
	return nil
}

func (w *memWriter) Done() <-chan struct{} { return w.done }

func (w *memWriter) Err() error {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	return w.err
}
