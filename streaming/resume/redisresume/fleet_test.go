package redisresume_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godspy/dspy/internal/redistest"
	"github.com/godspy/dspy/streaming/resume"
	"github.com/godspy/dspy/streaming/resume/redisresume"
)

// replicas returns n stores on one Redis and prefix, each with its own
// client, as n replicas of a service have, and a client for inspection.
func replicas(t *testing.T, n int, opts ...redisresume.Option) ([]*redisresume.Store, *redis.Client, string) {
	t.Helper()
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t, addr)
	var stores []*redisresume.Store
	for range n {
		s, err := redisresume.Open("redis://"+addr+"/0", append([]redisresume.Option{redisresume.WithPrefix(prefix)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return stores, c, prefix
}

// TestStopFromAnotherReplica: a run on replica A is stopped by a request
// to replica B; A's run context is cancelled through pub/sub, well within
// a second (the lease renewal, the fallback, would take 3.3 s), and
// readers on both see the stopped marker.
func TestStopFromAnotherReplica(t *testing.T) {
	rs, _, _ := replicas(t, 2)
	a, b := rs[0], rs[1]
	id := resume.NewID()
	w, err := a.Create(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := resume.Context(t.Context(), w)
	defer cancel()
	for i := range 3 {
		w.Append(t.Context(), fmt.Appendf(nil, "event %d", i+1))
	}
	w.Flush(t.Context())

	start := time.Now()
	if err := b.Stop(t.Context(), id); err != nil {
		t.Fatalf("Stop on replica B: %v", err)
	}
	select {
	case <-runCtx.Done():
	case <-time.After(time.Second):
		t.Fatal("the run on replica A was not cancelled within 1 s of Stop on replica B")
	}
	took := time.Since(start)
	if cause := context.Cause(runCtx); !errors.Is(cause, resume.ErrStopped) {
		t.Errorf("run cancelled with %v, want ErrStopped", cause)
	}
	t.Logf("Stop on replica B cancelled the run on replica A after %v", took)
	for _, s := range rs {
		var last resume.Record
		n := 0
		for r, err := range resume.Follow(t.Context(), s, id, 0) {
			if err != nil {
				t.Fatalf("follow: %v", err)
			}
			last = r
			n++
		}
		if n != 4 || last.End != resume.EndStopped {
			t.Errorf("reader saw %d records ending %v, want 3 events and the stopped marker", n, last.End)
		}
	}
}

// TestStopWithoutPubSub: a stop whose message is lost (the flag set with
// no PUBLISH) still reaches the writer at its next lease renewal.
func TestStopWithoutPubSub(t *testing.T) {
	rs, c, prefix := replicas(t, 1, redisresume.WithLease(600*time.Millisecond))
	id := resume.NewID()
	w, err := rs[0].Create(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(t.Context(), prefix+"{"+id+"}:m", "stop", 1).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("writer did not see the stop flag at its lease renewal")
	}
	if !errors.Is(w.Err(), resume.ErrStopped) {
		t.Errorf("Err = %v, want ErrStopped", w.Err())
	}
}

// TestLeaseAcrossReplicas: the producer on A stops renewing; a follower
// on B gets ErrLeaseExpired within the lease.
func TestLeaseAcrossReplicas(t *testing.T) {
	const lease = time.Second
	rs, _, _ := replicas(t, 2, redisresume.WithLease(lease))
	pctx, die := context.WithCancel(t.Context())
	defer die()
	id := resume.NewID()
	w, err := rs[0].Create(pctx, id)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(t.Context(), []byte("one"))
	w.Flush(t.Context())
	got := make(chan error, 1)
	var at atomic.Int64
	go func() {
		for _, err := range resume.Follow(t.Context(), rs[1], id, 0) {
			if err != nil {
				at.Store(time.Now().UnixNano())
				got <- err
				return
			}
		}
		got <- errors.New("stream ended without an error")
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	die()
	select {
	case err := <-got:
		if !errors.Is(err, resume.ErrLeaseExpired) {
			t.Fatalf("follower on B: %v, want ErrLeaseExpired", err)
		}
	case <-time.After(lease + 2*time.Second):
		t.Fatal("follower on B did not learn of the dead producer")
	}
	took := time.Duration(at.Load() - start.UnixNano())
	if took > lease+100*time.Millisecond {
		t.Errorf("follower learned after %v, want within the lease (%v)", took, lease)
	}
	t.Logf("follower on B got ErrLeaseExpired %v after the producer on A stopped renewing (lease %v)", took, lease)
}

// TestFencedAfterLeaseLoss: a producer whose lease is gone (taken away
// here by deleting it) cannot write, and learns so.
func TestFencedAfterLeaseLoss(t *testing.T) {
	rs, c, prefix := replicas(t, 1)
	id := resume.NewID()
	w, _ := rs[0].Create(t.Context(), id)
	w.Append(t.Context(), []byte("one"))
	w.Flush(t.Context())
	c.Del(t.Context(), prefix+"{"+id+"}:l")
	w.Append(t.Context(), []byte("two"))
	if err := w.Flush(t.Context()); !errors.Is(err, resume.ErrLeaseExpired) {
		t.Fatalf("Flush without the lease = %v, want ErrLeaseExpired", err)
	}
	<-w.Done()
	if n, _ := c.XLen(t.Context(), prefix+"{"+id+"}:s").Result(); n != 1 {
		t.Errorf("stream has %d entries, want 1 (nothing written without the lease)", n)
	}
}

// roundTrips counts the commands and pipelines a client sends.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// countedStore returns a store whose client counts its round trips.
func countedStore(t testing.TB, opts ...redisresume.Option) (*redisresume.Store, *roundTrips) {
	t.Helper()
	addr := redistest.Addr(t)
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	h := &roundTrips{}
	c.AddHook(h)
	s := redisresume.New(c, append([]redisresume.Option{redisresume.WithPrefix(redistest.Prefix(t, addr))}, opts...)...)
	t.Cleanup(func() { s.Close(); c.Close() })
	return s, h
}

// TestAppendBatches: 100 events and a Flush cost 2 round trips with the
// default batch of 64 (a timer flush may add one), against 100 unbatched.
func TestAppendBatches(t *testing.T) {
	for _, tt := range []struct {
		name     string
		opts     []redisresume.Option
		min, max int64
	}{
		{"batched", nil, 2, 3},
		{"unbatched", []redisresume.Option{redisresume.WithBatch(1, 0)}, 100, 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, h := countedStore(t, tt.opts...)
			w, err := s.Create(t.Context(), resume.NewID())
			if err != nil {
				t.Fatal(err)
			}
			before := h.n.Load()
			for i := range 100 {
				if _, err := w.Append(t.Context(), fmt.Appendf(nil, `event: chunk\ndata: {"chunk":"token %d"}`, i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			n := h.n.Load() - before
			if n < tt.min || n > tt.max {
				t.Errorf("%d round trips for 100 events and a Flush, want %d to %d", n, tt.min, tt.max)
			}
			t.Logf("%s: %d round trips per 100 events", tt.name, n)
			w.End(t.Context(), resume.EndFinished, nil)
		})
	}
}

// BenchmarkAppend: the cost per chunk event of appending to a store
// (Append of an ~80-byte SSE frame, a Flush every 100 events, as a
// stream's end would), against building the frame alone.
func BenchmarkAppend(b *testing.B) {
	frame := func(i int) []byte {
		return fmt.Appendf(nil, "event: chunk\ndata: {\"predict_name\":\"self\",\"chunk\":\"tok%d\"}", i)
	}
	run := func(b *testing.B, s resume.Store, h *roundTrips) {
		ctx := context.Background()
		w, err := s.Create(ctx, resume.NewID())
		if err != nil {
			b.Fatal(err)
		}
		var trips int64
		if h != nil {
			trips = h.n.Load()
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := w.Append(ctx, frame(i)); err != nil {
				b.Fatal(err)
			}
			if i%100 == 99 {
				if err := w.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := w.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if h != nil {
			b.ReportMetric(float64(h.n.Load()-trips)*100/float64(b.N), "roundtrips/100ev")
		}
		w.End(ctx, resume.EndFinished, nil)
	}
	b.Run("none", func(b *testing.B) {
		b.ReportAllocs()
		var sink []byte
		for i := range b.N {
			sink = frame(i)
		}
		_ = sink
	})
	b.Run("memory", func(b *testing.B) {
		run(b, resume.NewMemory(resume.WithMaxStreamBytes(1<<40), resume.WithMaxBytes(1<<40)), nil)
	})
	b.Run("redis", func(b *testing.B) {
		s, h := countedStore(b, redisresume.WithMaxStreamBytes(1<<40))
		run(b, s, h)
	})
	b.Run("redis-unbatched", func(b *testing.B) {
		s, h := countedStore(b, redisresume.WithBatch(1, 0), redisresume.WithMaxStreamBytes(1<<40))
		run(b, s, h)
	})
}

// TestAbandonedStreamExpires: the keys of a stream whose producer died
// expire the TTL after its lease would have.
func TestAbandonedStreamExpires(t *testing.T) {
	const lease, ttl = 300 * time.Millisecond, 300 * time.Millisecond
	rs, c, prefix := replicas(t, 1, redisresume.WithLease(lease), redisresume.WithTTL(ttl))
	pctx, die := context.WithCancel(t.Context())
	id := resume.NewID()
	w, _ := rs[0].Create(pctx, id)
	w.Append(t.Context(), []byte("one"))
	w.Flush(t.Context())
	die()
	<-w.Done()
	deadline := time.Now().Add(lease + ttl + 3*time.Second)
	for {
		n, err := c.Exists(t.Context(), prefix+"{"+id+"}:s", prefix+"{"+id+"}:m", prefix+"{"+id+"}:l").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d keys of an abandoned stream still there after lease + TTL + 3 s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := rs[0].Read(t.Context(), id, 0); !errors.Is(err, resume.ErrNotFound) {
		t.Errorf("Read of an expired abandoned stream = %v, want ErrNotFound", err)
	}
}
