package dspy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGatherOrder(t *testing.T) {
	ctx := context.Background()
	var futs []*Future[int]
	for i := range 20 {
		futs = append(futs, Go(ctx, func(ctx context.Context) (int, error) {
			time.Sleep(time.Duration(20-i) * time.Millisecond / 10) // finish in reverse
			return i * i, nil
		}))
	}
	got, err := Gather(ctx, futs...)
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := range 20 {
		want = append(want, i*i)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Gather (-want +got):\n%s", d)
	}
}

func TestGatherFirstErrorCancelsRest(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	cancelled := make(chan int, 10)
	release := make(chan struct{}) // ends the futures should the bug be back
	defer close(release)
	var futs []*Future[int]
	for i := range 5 {
		futs = append(futs, Go(ctx, func(ctx context.Context) (int, error) {
			if i == 3 {
				return 0, boom
			}
			select { // the others wait until cancelled
			case <-ctx.Done():
				cancelled <- i
				return 0, ctx.Err()
			case <-release:
				return 0, errors.New("never cancelled")
			}
		}))
	}
	done := make(chan error, 1)
	go func() {
		_, err := Gather(ctx, futs...)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Fatalf("Gather error = %v, want %v", err, boom)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Gather did not return 5 s after a future failed: the others were not cancelled")
	}
	if len(cancelled) != 4 {
		t.Errorf("%d futures saw cancellation before Gather returned, want 4", len(cancelled))
	}
}

func TestGatherContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := Go(ctx, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
	gctx, gcancel := context.WithCancel(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); gcancel() }()
	_, err := Gather(gctx, f)
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case <-f.Done():
	default:
		t.Fatal("Gather returned before the future ended")
	}
}

func TestFutureAwaitTimeout(t *testing.T) {
	release := make(chan struct{})
	f := Go(context.Background(), func(ctx context.Context) (string, error) { <-release; return "late", nil })
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := f.Await(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await err = %v, want DeadlineExceeded", err)
	}
	close(release)
	v, err := f.Await(context.Background())
	if v != "late" || err != nil {
		t.Fatalf("Await = %q, %v; want late, nil", v, err)
	}
}

func TestFutureCancel(t *testing.T) {
	f := Go(context.Background(), func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
	f.Cancel()
	if _, err := f.Await(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
}

func TestFuturePanicIsAwaitsError(t *testing.T) {
	f := Go(context.Background(), func(ctx context.Context) (int, error) { panic("kaboom") })
	_, err := f.Await(context.Background())
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Await() error = %v (%T), want a *PanicError", err, err)
	}
	if pe.Value != "kaboom" {
		t.Errorf("PanicError.Value = %#v, want %q", pe.Value, "kaboom")
	}
	if !strings.Contains(string(pe.Stack), "future_test.go") {
		t.Errorf("PanicError.Stack does not show the panicking function:\n%s", pe.Stack)
	}
	if got, want := err.Error(), "dspy: panic: kaboom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// Gather delivers it as the first error and cancels the rest.
	slow := Go(context.Background(), func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	bad := Go(context.Background(), func(ctx context.Context) (int, error) { panic(fmt.Errorf("wrapped: %w", io.ErrUnexpectedEOF)) })
	if _, err := Gather(context.Background(), slow, bad); !errors.As(err, &pe) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Gather() error = %v, want a *PanicError that unwraps to the panicked error", err)
	}
}

func TestFutureAwaitReturnsCause(t *testing.T) {
	cause := errors.New("request abandoned")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	f := Go(context.Background(), func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, nil
	})
	defer f.Cancel()
	if _, err := f.Await(ctx); err != cause {
		t.Fatalf("Await(cancelled ctx) = %v, want the cause %v", err, cause)
	}
}
