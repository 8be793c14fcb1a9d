// Package resumetest checks that a resume.Store keeps the contract the
// package resume documents, as slogtest does for a slog.Handler. Run it
// from a test of your store:
//
//	func TestConformance(t *testing.T) {
//		resumetest.Run(t, func(t *testing.T, cfg resumetest.Config) resume.Store {
//			return mystore.New(mystore.WithLease(cfg.Lease), mystore.WithTTL(cfg.TTL))
//		})
//	}
//
// It covers order, resuming after every id, live reads by concurrent
// readers with no gap and no duplicate, the terminal states (finished,
// failed, stopped), errors, expiry after the TTL, expiry of a producer's
// lease, cancellation of a blocked read and goroutine leaks. It runs in
// real time, with the short lease and TTL of Config, in a few seconds.
package resumetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/godspy/dspy/streaming/resume"
)

// Config is what a store under test must be configured with.
type Config struct {
	// Lease is the producer's lease timeout: a reader must learn within
	// it that a producer stopped renewing.
	Lease time.Duration
	// TTL is how long a finished stream is kept.
	TTL time.Duration
}

// Bounds of the suite's waits; a store slower than this fails.
const (
	// slack is added to every bound the contract sets, for a loaded
	// machine.
	slack = 2 * time.Second
	// wait bounds a wait that the contract bounds only as "short".
	wait = 5 * time.Second
)

// Run runs the conformance suite as subtests of t. newStore is called once
// per subtest; it must register the store's cleanup (Close) with t, and
// the store must be empty (or use ids of its own, as a key prefix).
func Run(t *testing.T, newStore func(t *testing.T, cfg Config) resume.Store) {
	cfg := Config{Lease: 600 * time.Millisecond, TTL: 500 * time.Millisecond}
	tests := []struct {
		name string
		f    func(t *testing.T, s resume.Store, cfg Config)
	}{
		{"Order", testOrder},
		{"ResumeFromEveryID", testResumeFromEveryID},
		{"LiveReaders", testLiveReaders},
		{"ReadWaits", testReadWaits},
		{"CancelBlockedRead", testCancelBlockedRead},
		{"Failed", testFailed},
		{"Stop", testStop},
		{"StopCancelsContext", testStopCancelsContext},
		{"Errors", testErrors},
		{"TTL", testTTL},
		{"Lease", testLease},
		{"ManyStreams", testManyStreams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Registered first, so it runs after the store's own cleanup.
			leaks := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
			tt.f(t, newStore(t, cfg), cfg)
		})
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func create(t *testing.T, s resume.Store, ctx context.Context) (string, resume.Writer) {
	t.Helper()
	id := resume.NewID()
	w, err := s.Create(ctx, id)
	if err != nil {
		t.Fatalf("Create(%q) = %v", id, err)
	}
	return id, w
}

func event(i int) string { return fmt.Sprintf(`event: chunk\ndata: {"n":%d}`, i) }

// appendN appends events 1..n and checks their ids.
func appendN(t *testing.T, w resume.Writer, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		id, err := w.Append(t.Context(), []byte(event(i)))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if id != uint64(i) {
			t.Fatalf("Append %d: id %d, want %d", i, id, i)
		}
	}
}

// follow reads the stream from after to its end, failing the test if that
// takes longer than d.
func follow(t *testing.T, s resume.Store, id string, after uint64, d time.Duration) ([]resume.Record, error) {
	t.Helper()
	var got []resume.Record
	for r, err := range resume.Follow(ctxFor(t, d), s, id, after) {
		if err != nil {
			return got, err
		}
		got = append(got, r)
	}
	return got, nil
}

// checkSeq checks that recs are events from+1.. with ids in order, ending
// with the terminal record end (EndNone: no terminal record).
func checkSeq(t *testing.T, recs []resume.Record, from uint64, events int, end resume.End, endData string) {
	t.Helper()
	want := events - int(from)
	if end != resume.EndNone {
		want++
	}
	if len(recs) != want {
		t.Fatalf("read %d records after %d, want %d", len(recs), from, want)
	}
	for i, r := range recs {
		id := from + uint64(i) + 1
		if r.ID != id {
			t.Fatalf("record %d has id %d, want %d (gap or duplicate)", i, r.ID, id)
		}
		if id <= uint64(events) {
			if r.End != resume.EndNone || string(r.Data) != event(int(id)) {
				t.Fatalf("record %d = %q, %v; want %q, EndNone", id, r.Data, r.End, event(int(id)))
			}
			continue
		}
		if r.End != end || string(r.Data) != endData {
			t.Fatalf("terminal record %d = %q, %v; want %q, %v", id, r.Data, r.End, endData, end)
		}
	}
}

func testOrder(t *testing.T, s resume.Store, _ Config) {
	id, w := create(t, s, t.Context())
	appendN(t, w, 1, 50)
	if err := w.End(t.Context(), resume.EndFinished, []byte("final")); err != nil {
		t.Fatalf("End: %v", err)
	}
	recs, err := follow(t, s, id, 0, wait)
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	checkSeq(t, recs, 0, 50, resume.EndFinished, "final")
}

func testResumeFromEveryID(t *testing.T, s resume.Store, _ Config) {
	id, w := create(t, s, t.Context())
	const n = 40
	appendN(t, w, 1, n)
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// While live: a Read from every id returns the next record first.
	for after := uint64(0); after < n; after++ {
		recs, err := s.Read(ctxFor(t, wait), id, after)
		if err != nil || len(recs) == 0 || recs[0].ID != after+1 {
			t.Fatalf("live Read after %d = %d records, %v; want one starting at %d", after, len(recs), err, after+1)
		}
	}
	if err := w.End(t.Context(), resume.EndFinished, nil); err != nil {
		t.Fatal(err)
	}
	for after := uint64(0); after <= n; after++ {
		recs, err := follow(t, s, id, after, wait)
		if err != nil {
			t.Fatalf("Follow after %d: %v", after, err)
		}
		checkSeq(t, recs, after, n, resume.EndFinished, "")
	}
	for _, after := range []uint64{n + 1, n + 2, 1 << 40} {
		if recs, err := s.Read(ctxFor(t, wait), id, after); !errors.Is(err, resume.ErrEnded) {
			t.Errorf("Read after %d of an ended stream of %d records = %d records, %v; want ErrEnded", after, n+1, len(recs), err)
		}
	}
}

func testLiveReaders(t *testing.T, s resume.Store, _ Config) {
	id, w := create(t, s, t.Context())
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	reader := func(after uint64) {
		defer wg.Done()
		var next = after + 1
		for r, err := range resume.Follow(ctxFor(t, 30*time.Second), s, id, after) {
			if err != nil {
				errs <- fmt.Errorf("reader after %d: %w at id %d", after, err, next)
				return
			}
			if r.ID != next {
				errs <- fmt.Errorf("reader after %d: got id %d, want %d (gap or duplicate)", after, r.ID, next)
				return
			}
			if r.ID <= n && string(r.Data) != event(int(r.ID)) {
				errs <- fmt.Errorf("reader after %d: record %d = %q", after, r.ID, r.Data)
				return
			}
			next++
		}
		if next != n+2 {
			errs <- fmt.Errorf("reader after %d ended at id %d, want %d", after, next-1, n+1)
		}
	}
	for range 4 {
		wg.Add(1)
		go reader(0)
	}
	for i := 1; i <= n; i++ {
		if _, err := w.Append(t.Context(), []byte(event(i))); err != nil {
			t.Fatal(err)
		}
		switch {
		case i%7 == 0:
			if err := w.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		case i%50 == 0:
			time.Sleep(5 * time.Millisecond)
			// Readers joining mid-stream, from the start and from here.
			wg.Add(2)
			go reader(0)
			go reader(uint64(i / 2))
		}
	}
	if err := w.End(t.Context(), resume.EndFinished, []byte("final")); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testReadWaits(t *testing.T, s resume.Store, _ Config) {
	id, w := create(t, s, t.Context())
	got := make(chan []resume.Record, 1)
	go func() {
		recs, err := s.Read(ctxFor(t, wait), id, 0)
		if err != nil {
			t.Errorf("Read: %v", err)
		}
		got <- recs
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case recs := <-got:
		t.Fatalf("Read of an empty stream returned %d records at once, want it to wait", len(recs))
	default:
	}
	appendN(t, w, 1, 1)
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	recs := <-got
	checkSeq(t, recs, 0, 1, resume.EndNone, "")
	w.End(t.Context(), resume.EndFinished, nil)
}

func testCancelBlockedRead(t *testing.T, s resume.Store, _ Config) {
	id, w := create(t, s, t.Context())
	defer w.End(t.Context(), resume.EndFinished, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := s.Read(ctx, id, 0); done <- err }()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Read = %v, want context.Canceled", err)
		}
		t.Logf("a blocked Read returned %v after its context was cancelled", time.Since(start))
	case <-time.After(slack):
		t.Fatalf("a blocked Read did not return within %v of its context's cancellation", slack)
	}
}

func testFailed(t *testing.T, s resume.Store, _ Config) {
	id, w := create(t, s, t.Context())
	appendN(t, w, 1, 3)
	if err := w.End(t.Context(), resume.EndFailed, []byte("error: boom")); err != nil {
		t.Fatal(err)
	}
	recs, err := follow(t, s, id, 0, wait)
	if err != nil {
		t.Fatal(err)
	}
	checkSeq(t, recs, 0, 3, resume.EndFailed, "error: boom")
}

func waitDone(t *testing.T, w resume.Writer, want error) {
	t.Helper()
	select {
	case <-w.Done():
	case <-time.After(time.Second + slack):
		t.Fatalf("writer not done within %v", time.Second+slack)
	}
	if err := w.Err(); !errors.Is(err, want) {
		t.Fatalf("writer Err = %v, want %v", err, want)
	}
}

func testStop(t *testing.T, s resume.Store, _ Config) {
	id, w := create(t, s, t.Context())
	appendN(t, w, 1, 5)
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A follower waiting for more sees the stop.
	followed := make(chan []resume.Record, 1)
	go func() {
		recs, err := follow(t, s, id, 0, 10*time.Second)
		if err != nil {
			t.Errorf("follower: %v", err)
		}
		followed <- recs
	}()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	if err := s.Stop(t.Context(), id); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitDone(t, w, resume.ErrStopped)
	t.Logf("writer done %v after Stop", time.Since(start))
	if _, err := w.Append(t.Context(), []byte("late")); !errors.Is(err, resume.ErrStopped) {
		t.Errorf("Append after a stop = %v, want ErrStopped", err)
	}
	if err := w.End(t.Context(), resume.EndFinished, nil); !errors.Is(err, resume.ErrStopped) {
		t.Errorf("End after a stop = %v, want ErrStopped", err)
	}
	checkSeq(t, <-followed, 0, 5, resume.EndStopped, "")
	recs, err := follow(t, s, id, 0, wait)
	if err != nil {
		t.Fatal(err)
	}
	checkSeq(t, recs, 0, 5, resume.EndStopped, "")
	if err := s.Stop(t.Context(), id); err != nil {
		t.Errorf("second Stop = %v, want nil", err)
	}

	// Stopping a finished stream changes nothing.
	id2, w2 := create(t, s, t.Context())
	w2.End(t.Context(), resume.EndFinished, []byte("final"))
	if err := s.Stop(t.Context(), id2); err != nil {
		t.Errorf("Stop of a finished stream = %v, want nil", err)
	}
	recs, err = follow(t, s, id2, 0, wait)
	if err != nil {
		t.Fatal(err)
	}
	checkSeq(t, recs, 0, 0, resume.EndFinished, "final")
	if err := s.Stop(t.Context(), resume.NewID()); !errors.Is(err, resume.ErrNotFound) {
		t.Errorf("Stop of an unknown stream = %v, want ErrNotFound", err)
	}
}

func testStopCancelsContext(t *testing.T, s resume.Store, _ Config) {
	id, w := create(t, s, t.Context())
	ctx, cancel := resume.Context(t.Context(), w)
	defer cancel()
	if err := s.Stop(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Second + slack):
		t.Fatal("the run's context was not cancelled after Stop")
	}
	if cause := context.Cause(ctx); !errors.Is(cause, resume.ErrStopped) {
		t.Errorf("cause = %v, want ErrStopped", cause)
	}
}

func testErrors(t *testing.T, s resume.Store, _ Config) {
	ctx := t.Context()
	for _, bad := range []string{"", strings.Repeat("x", resume.MaxIDLen+1)} {
		if _, err := s.Create(ctx, bad); !errors.Is(err, resume.ErrBadID) {
			t.Errorf("Create(%d bytes) = %v, want ErrBadID", len(bad), err)
		}
		if _, err := s.Read(ctx, bad, 0); !errors.Is(err, resume.ErrBadID) {
			t.Errorf("Read(%d bytes) = %v, want ErrBadID", len(bad), err)
		}
		if err := s.Stop(ctx, bad); !errors.Is(err, resume.ErrBadID) {
			t.Errorf("Stop(%d bytes) = %v, want ErrBadID", len(bad), err)
		}
	}
	long := strings.Repeat("y", resume.MaxIDLen-8) + resume.NewID()[:8]
	w, err := s.Create(ctx, long)
	if err != nil {
		t.Fatalf("Create with a %d-byte id: %v", len(long), err)
	}
	w.End(ctx, resume.EndFinished, nil)

	if _, err := s.Read(ctx, resume.NewID(), 0); !errors.Is(err, resume.ErrNotFound) {
		t.Errorf("Read of an unknown stream = %v, want ErrNotFound", err)
	}
	id, w := create(t, s, ctx)
	if _, err := s.Create(ctx, id); !errors.Is(err, resume.ErrExists) {
		t.Errorf("second Create = %v, want ErrExists", err)
	}
	if err := w.End(ctx, resume.EndNone, nil); err == nil {
		t.Error("End(EndNone) = nil, want an error")
	}
	select {
	case <-w.Done():
		t.Fatal("writer done before End")
	default:
	}
	if w.Err() != nil {
		t.Errorf("Err before End = %v", w.Err())
	}
	if err := w.End(ctx, resume.EndFinished, nil); err != nil {
		t.Fatal(err)
	}
	waitDone(t, w, resume.ErrEnded)
	if err := w.End(ctx, resume.EndFinished, nil); !errors.Is(err, resume.ErrEnded) {
		t.Errorf("second End = %v, want ErrEnded", err)
	}
	if _, err := w.Append(ctx, []byte("x")); !errors.Is(err, resume.ErrEnded) {
		t.Errorf("Append after End = %v, want ErrEnded", err)
	}
	if _, err := s.Create(ctx, id); !errors.Is(err, resume.ErrExists) {
		t.Errorf("Create of an ended stream = %v, want ErrExists", err)
	}
}

func testTTL(t *testing.T, s resume.Store, cfg Config) {
	id, w := create(t, s, t.Context())
	appendN(t, w, 1, 2)
	if err := w.End(t.Context(), resume.EndFinished, nil); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	if recs, err := follow(t, s, id, 0, wait); err != nil || len(recs) != 3 {
		t.Fatalf("right after End: %d records, %v", len(recs), err)
	}
	deadline := ended.Add(cfg.TTL + slack)
	for {
		_, err := s.Read(ctxFor(t, wait), id, 0)
		if errors.Is(err, resume.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatalf("Read while expiring = %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("finished stream still there %v after End (TTL %v)", time.Since(ended), cfg.TTL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if gone := time.Since(ended); gone < cfg.TTL/2 {
		t.Errorf("finished stream gone %v after End, before its TTL of %v", gone, cfg.TTL)
	}
	w2, err := s.Create(t.Context(), id)
	if err != nil {
		t.Fatalf("Create of an expired id = %v", err)
	}
	w2.End(t.Context(), resume.EndFinished, nil)
}

func testLease(t *testing.T, s resume.Store, cfg Config) {
	pctx, abandon := context.WithCancel(t.Context())
	defer abandon()
	id, w := create(t, s, pctx)
	appendN(t, w, 1, 3)
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Longer than the lease: a live producer keeps it.
	time.Sleep(cfg.Lease + cfg.Lease/2)
	if recs, err := s.Read(ctxFor(t, wait), id, 0); err != nil || len(recs) != 3 {
		t.Fatalf("Read of a live stream after %v: %d records, %v", cfg.Lease+cfg.Lease/2, len(recs), err)
	}
	type result struct {
		recs []resume.Record
		err  error
		at   time.Time
	}
	res := make(chan result, 1)
	go func() {
		recs, err := follow(t, s, id, 0, cfg.Lease+10*slack)
		res <- result{recs, err, time.Now()}
	}()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	abandon() // the producer stops renewing, as a crashed one does
	r := <-res
	if !errors.Is(r.err, resume.ErrLeaseExpired) {
		t.Fatalf("follower of an abandoned stream: %d records, %v; want ErrLeaseExpired", len(r.recs), r.err)
	}
	checkSeq(t, r.recs, 0, 3, resume.EndNone, "")
	took := r.at.Sub(start)
	if took > cfg.Lease+slack {
		t.Errorf("the follower learned of the lost producer after %v, want within the lease (%v)", took, cfg.Lease)
	}
	t.Logf("follower got ErrLeaseExpired %v after the producer stopped renewing (lease %v)", took, cfg.Lease)
	waitDone(t, w, context.Canceled)
	if recs, err := follow(t, s, id, 0, wait); !errors.Is(err, resume.ErrLeaseExpired) || len(recs) != 3 {
		t.Errorf("late reader: %d records, %v; want 3 then ErrLeaseExpired", len(recs), err)
	}
}

func testManyStreams(t *testing.T, s resume.Store, _ Config) {
	const streams, readers, events = 8, 3, 60
	var wg sync.WaitGroup
	errs := make(chan error, streams*(readers+1))
	for range streams {
		id, w := create(t, s, t.Context())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= events; i++ {
				if _, err := w.Append(t.Context(), []byte(event(i))); err != nil {
					errs <- err
					return
				}
			}
			if err := w.End(t.Context(), resume.EndFinished, []byte(id)); err != nil {
				errs <- err
			}
		}()
		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var n uint64
				for r, err := range resume.Follow(ctxFor(t, 30*time.Second), s, id, 0) {
					if err != nil {
						errs <- fmt.Errorf("stream %s: %w", id, err)
						return
					}
					n++
					if r.ID != n || (r.End == resume.EndNone && string(r.Data) != event(int(n))) || (r.End != resume.EndNone && string(r.Data) != id) {
						errs <- fmt.Errorf("stream %s: record %d = %d %q %v", id, n, r.ID, r.Data, r.End)
						return
					}
				}
				if n != events+1 {
					errs <- fmt.Errorf("stream %s: %d records, want %d", id, n, events+1)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
