package resume_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/streaming/resume"
	"github.com/godspy/dspy/streaming/resume/resumetest"
)

func TestMemoryConformance(t *testing.T) {
	resumetest.Run(t, func(t *testing.T, cfg resumetest.Config) resume.Store {
		return resume.NewMemory(resume.WithTTL(cfg.TTL))
	})
}

// finish creates stream id with n events of size bytes each and ends it.
func finish(t *testing.T, m *resume.Memory, id string, n, size int) {
	t.Helper()
	w, err := m.Create(context.Background(), id)
	if err != nil {
		t.Fatalf("Create(%q): %v", id, err)
	}
	for range n {
		if _, err := w.Append(context.Background(), make([]byte, size)); err != nil {
			t.Fatalf("Append to %q: %v", id, err)
		}
	}
	if err := w.End(context.Background(), resume.EndFinished, nil); err != nil {
		t.Fatal(err)
	}
}

// exists reports whether m has stream id, without waiting on it.
func exists(m *resume.Memory, id string) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Read(ctx, id, 1<<60)
	return !errors.Is(err, resume.ErrNotFound)
}

func TestMemoryStreamBound(t *testing.T) {
	m := resume.NewMemory(resume.WithMaxStreamBytes(1000))
	w, _ := m.Create(t.Context(), "s")
	n := 0
	for {
		_, err := w.Append(t.Context(), make([]byte, 52))
		if errors.Is(err, resume.ErrTooLarge) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 10 { // 10 × (52 + 48) = 1000
		t.Errorf("%d events of 100 counted bytes fit a 1000-byte bound, want 10", n)
	}
	// The stream can still end.
	if err := w.End(t.Context(), resume.EndFailed, []byte("too large")); err != nil {
		t.Fatalf("End after ErrTooLarge: %v", err)
	}
}

// TestMemoryEvictsFinishedFirst: over the total bound, the oldest finished
// streams go first; live ones are never evicted, and when only live ones
// are left the store is full.
func TestMemoryEvictsFinishedFirst(t *testing.T) {
	m := resume.NewMemory(resume.WithMaxBytes(1000), resume.WithMaxStreams(100))
	finish(t, m, "old", 2, 52) // 300 bytes with the terminal record (48)
	finish(t, m, "mid", 2, 52)
	live, err := m.Create(t.Context(), "live")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := live.Append(t.Context(), make([]byte, 52)); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Stats(); got.Bytes != 248*2+200 {
		t.Fatalf("Stats = %+v", got)
	}
	appendOK := func(n int) {
		t.Helper()
		for range n {
			if _, err := live.Append(t.Context(), make([]byte, 52)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 3 more events fit (996 bytes); the 4th evicts "old", not "mid".
	appendOK(3)
	if !exists(m, "old") {
		t.Fatal("old evicted under the bound")
	}
	appendOK(1)
	if exists(m, "old") || !exists(m, "mid") {
		t.Errorf("after eviction: old kept %v, mid kept %v; want old evicted first", exists(m, "old"), exists(m, "mid"))
	}
	appendOK(3) // 948, then "mid" goes: 900 bytes, all live
	if exists(m, "mid") {
		t.Error("mid kept past the bound")
	}
	// Only the live stream is left: 1 more fits, the next does not.
	appendOK(1)
	if _, err := live.Append(t.Context(), make([]byte, 52)); !errors.Is(err, resume.ErrFull) {
		t.Fatalf("append over the bound with no finished stream = %v, want ErrFull", err)
	}
	if got := m.Stats(); got.Bytes != 1000 || got.Streams != 1 || got.Live != 1 {
		t.Errorf("Stats = %+v, want 1000 bytes in 1 live stream", got)
	}
	live.End(t.Context(), resume.EndFinished, nil)
}

func TestMemoryStreamCount(t *testing.T) {
	m := resume.NewMemory(resume.WithMaxStreams(3))
	finish(t, m, "a", 0, 0)
	var ws []resume.Writer
	for _, id := range []string{"b", "c", "d"} { // "d" evicts finished "a"
		w, err := m.Create(t.Context(), id)
		if err != nil {
			t.Fatalf("Create(%q): %v", id, err)
		}
		ws = append(ws, w)
	}
	if exists(m, "a") {
		t.Error("finished stream a kept over the stream bound")
	}
	if _, err := m.Create(t.Context(), "e"); !errors.Is(err, resume.ErrFull) {
		t.Errorf("Create with 3 live streams of 3 = %v, want ErrFull", err)
	}
	for _, w := range ws {
		w.End(t.Context(), resume.EndFinished, nil)
	}
}

// TestMemoryTTL: finished and abandoned streams are forgotten exactly TTL
// after they end, live ones never.
func TestMemoryTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := resume.NewMemory(resume.WithTTL(time.Minute))
		finish(t, m, "done", 1, 10)
		pctx, abandon := context.WithCancel(context.Background())
		if _, err := m.Create(pctx, "abandoned"); err != nil {
			t.Fatal(err)
		}
		live, _ := m.Create(context.Background(), "live")
		time.Sleep(30 * time.Second)
		abandon()
		synctest.Wait()
		time.Sleep(30*time.Second - time.Nanosecond)
		want := resume.MemoryStats{Streams: 3, Live: 1, Bytes: 58 + 48}
		if diff := cmp.Diff(want, m.Stats()); diff != "" {
			t.Errorf("just before the TTL (-want +got):\n%s", diff)
		}
		time.Sleep(time.Nanosecond)
		if exists(m, "done") || !exists(m, "abandoned") || !exists(m, "live") {
			t.Errorf("at the TTL of done: done %v, abandoned %v, live %v", exists(m, "done"), exists(m, "abandoned"), exists(m, "live"))
		}
		time.Sleep(30 * time.Second)
		want = resume.MemoryStats{Streams: 1, Live: 1}
		if diff := cmp.Diff(want, m.Stats()); diff != "" {
			t.Errorf("after both TTLs (-want +got):\n%s", diff)
		}
		live.End(context.Background(), resume.EndFinished, nil)
	})
}

func ExampleFollow() {
	ctx := context.Background()
	store := resume.NewMemory()
	id := "run-1"
	w, _ := store.Create(ctx, id)
	for _, ev := range []string{"Hel", "lo"} {
		w.Append(ctx, []byte(ev))
	}
	w.End(ctx, resume.EndFinished, []byte("Hello"))

	// A client that got event 1 reconnects with Last-Event-ID: 1.
	for r, err := range resume.Follow(ctx, store, id, 1) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("id %d %q %v\n", r.ID, r.Data, r.End)
	}
	// Output:
	// id 2 "lo" none
	// id 3 "Hello" finished
}
