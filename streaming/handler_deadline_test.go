package streaming

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// deadlineRecorder is a ResponseWriter that records the write deadlines
// set on it (http.ResponseController finds SetWriteDeadline) and, for each
// write, the deadline in force and when it came.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	deadline time.Time
	sets     int
	writes   []struct{ at, deadline time.Time }
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.deadline = t
	d.sets++
	return nil
}

func (d *deadlineRecorder) Write(b []byte) (int, error) {
	d.writes = append(d.writes, struct{ at, deadline time.Time }{time.Now(), d.deadline})
	return d.ResponseRecorder.Write(b)
}

// TestSSEWriterDeadline: every write has at least 7/8 of the write
// timeout ahead of it, and the deadline is not moved for every event (a
// runtime timer update each).
func TestSSEWriterDeadline(t *testing.T) {
	const timeout, events = 30 * time.Second, 1000
	rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	sw := newSSEWriter(rec, timeout, func(h http.Header) { h.Set("Content-Type", "text/event-stream") })
	sw.ids = true
	start := time.Now()
	for i := range events {
		if err := sw.event("chunk", chunkJSON{Chunk: "x", CallID: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	for i, w := range rec.writes {
		if left := w.deadline.Sub(w.at); left < timeout-timeout/8 {
			t.Fatalf("write %d had %v before its deadline, want at least %v", i, left, timeout-timeout/8)
		}
	}
	// Once, and once more for each 1/8 of the timeout the writes took.
	if most := 1 + int(took/(timeout/8)); rec.sets > most {
		t.Errorf("%d events in %v set the write deadline %d times, want at most %d", events, took, rec.sets, most)
	}
}
