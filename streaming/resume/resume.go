// Package resume stores the events of streamed runs so that a client can
// reconnect and resume a stream where it left off, on any replica of a
// service, and so that a run can be stopped from anywhere.
//
// A Store holds streams by id. One producer (the replica running the run)
// creates a stream and appends its events through a Writer; each event gets
// the next event id of its stream, 1, 2, 3, ... (the SSE "id"). Any number
// of readers, on any replica, read "every event after id N" and then the
// live ones as they come (Read, or Follow as an iterator), with no gap and
// no duplicate, until the stream's terminal record: finished, failed or
// stopped. The producer holds a lease on its stream; a reader learns within
// the lease timeout that a producer died, as ErrLeaseExpired. A finished
// stream is kept for a TTL, then forgotten.
//
// NewMemory is the store of one process; package redisresume has one on
// Redis for a fleet; package resumetest checks any implementation against
// the contract below.
package resume

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"iter"
)

// Sentinel errors of stores and writers.
var (
	// ErrNotFound: no stream has that id (never created, or expired).
	ErrNotFound = errors.New("resume: no such stream")
	// ErrExists: Create of an id already in use.
	ErrExists = errors.New("resume: stream already exists")
	// ErrEnded: a Read after the terminal record, or a write after End.
	ErrEnded = errors.New("resume: stream has ended")
	// ErrStopped: the stream was stopped (Store.Stop); its writer takes no
	// more events. A Writer's Err after a stop.
	ErrStopped = errors.New("resume: stream stopped")
	// ErrLeaseExpired: the producer stopped renewing its lease (it died,
	// lost its store, or abandoned the stream) before the terminal record.
	// Readers get it after the last event the producer wrote; the writer
	// gets it once it learns its lease is gone.
	ErrLeaseExpired = errors.New("resume: producer's lease expired")
	// ErrTooLarge: an append over the store's bound for one stream.
	ErrTooLarge = errors.New("resume: stream over its size limit")
	// ErrFull: the store has no room for a new stream or event even after
	// evicting every finished stream.
	ErrFull = errors.New("resume: store full")
	// ErrBadID: a stream id that is empty or longer than MaxIDLen bytes.
	ErrBadID = errors.New("resume: bad stream id")
)

// MaxIDLen is the longest stream id a store must accept.
const MaxIDLen = 256

// End says how a stream ended: the End of its terminal record.
type End uint8

const (
	// EndNone marks an ordinary event, not the last one.
	EndNone End = iota
	// EndFinished: the run finished; the record's data is its final event
	// (the prediction).
	EndFinished
	// EndFailed: the run failed; the data is its error event.
	EndFailed
	// EndStopped: the stream was stopped (Store.Stop); no data.
	EndStopped
)

func (e End) String() string {
	switch e {
	case EndNone:
		return "none"
	case EndFinished:
		return "finished"
	case EndFailed:
		return "failed"
	case EndStopped:
		return "stopped"
	}
	return fmt.Sprintf("End(%d)", uint8(e))
}

// Record is one event of a stream.
type Record struct {
	// ID is the event id: 1 for the first event, then one more per event.
	ID uint64
	// Data is the event as the producer wrote it; readers must not modify
	// it.
	Data []byte
	// End is EndNone but on the stream's terminal record, its last.
	End End
}

// Store keeps the events of streams. Implementations must be safe for
// concurrent use, by any number of producers and readers; resumetest.Run
// checks the contract:
//
// Create makes a new, empty stream with the given id and returns its writer,
// which holds the stream's lease: it renews it in the background until the
// stream ends (End, or a stop), or until ctx is done, which abandons the
// stream without a terminal record (readers then get ErrLeaseExpired). An id
// in use, also by a stream that has ended but not expired, is ErrExists; an
// empty or too long id ErrBadID.
//
// Read returns records of stream id with ids greater than after, in order,
// at least one and as many as the store chooses, waiting until there is
// one. The terminal record, if returned, is the last. When there is none to
// return it returns ErrEnded (after is at or past the terminal record),
// ErrLeaseExpired (the producer's lease ran out before a terminal record),
// ErrNotFound (no such stream), or ctx's error once ctx is done. Records
// appended through a Writer are visible to Read once the writer's Flush (or
// End) returns, and without one after a short delay the store documents.
// Read never returns a record twice for one after, nor skips one: a reader
// that always passes the id of the last record it got sees every record
// exactly once.
//
// Stop ends stream id on whichever process holds its writer: that writer
// writes the terminal record EndStopped (after what it had flushed), its
// Done channel closes and its Err is ErrStopped. Stop returns once the
// request is recorded; the writer acts on it within a second. Stopping an
// ended stream does nothing and returns nil; an unknown one is
// ErrNotFound.
type Store interface {
	Create(ctx context.Context, id string) (Writer, error)
	Read(ctx context.Context, id string, after uint64) ([]Record, error)
	Stop(ctx context.Context, id string) error
}

// Writer appends the events of one stream. It is safe for concurrent use;
// events get ids in the order their Appends return.
//
// Append adds an event and returns its id; it may hold the event in a
// buffer until Flush, End or the store's flush interval. The store keeps
// data: the caller must not modify it afterwards. Append fails with
// ErrTooLarge over the store's bound for a stream (the stream stays open
// for End), and with the writer's Err once it is done.
//
// Flush makes every event appended so far visible to readers.
//
// End appends the terminal record (end must not be EndNone; data may be
// nil), flushes and releases the lease. After End, or once the writer is
// done for another reason, End returns Err (ErrEnded after an End).
//
// Done is closed when the writer can take no more events: after End, a
// stop (Err is ErrStopped), the loss of its lease (ErrLeaseExpired) or the
// end of Create's context (that context's error). A producer watches it to
// cancel its run (Context does that).
type Writer interface {
	Append(ctx context.Context, data []byte) (uint64, error)
	Flush(ctx context.Context) error
	End(ctx context.Context, end End, data []byte) error
	Done() <-chan struct{}
	Err() error
}

// Follow reads stream id from the record after after to its terminal
// record, waiting for live ones: an iterator over Read. The terminal record
// is the last element; an error (the Read's) ends the iteration as its last
// element. Breaking out of the loop stops reading.
func Follow(ctx context.Context, s Store, id string, after uint64) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for {
			recs, err := s.Read(ctx, id, after)
			if err != nil {
				yield(Record{}, err)
				return
			}
			for _, r := range recs {
				if !yield(r, nil) {
					return
				}
				after = r.ID
				if r.End != EndNone {
					return
				}
			}
		}
	}
}

// Context returns a copy of parent that is cancelled, with w.Err() as its
// cause, when w is done: the run of a stream stops when the stream is
// stopped from anywhere or its lease is lost. The returned CancelFunc
// cancels it too and releases its watcher; call it when the run ends.
func Context(parent context.Context, w Writer) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-w.Done():
			cancel(w.Err())
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// NewID returns a new random stream id (26 base32 characters: 130 bits).
func NewID() string { return rand.Text() }

// CheckID returns ErrBadID, wrapped with the reason, for an id no store
// must accept; stores call it.
func CheckID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrBadID)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%w: %d bytes, over %d", ErrBadID, len(id), MaxIDLen)
	}
	return nil
}
