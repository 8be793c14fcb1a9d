package dspy

import (
	"context"
	"errors"
	"fmt"
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
	var futs []*Future[int]
	for i := range 5 {
		futs = append(futs, Go(ctx, func(ctx context.Context) (int, error) {
			if i == 3 {
				return 0, boom
			}
			<-ctx.Done() // the others wait until cancelled
			cancelled <- i
			return 0, ctx.Err()
		}))
	}
	_, err := Gather(ctx, futs...)
	if !errors.Is(err, boom) {
		t.Fatalf("Gather error = %v, want %v", err, boom)
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

func TestFuturePanicReachesAwait(t *testing.T) {
	f := Go(context.Background(), func(ctx context.Context) (int, error) { panic("kaboom") })
	<-f.Done()
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "kaboom") {
			t.Fatalf("recover() = %v, want the work's panic", r)
		}
	}()
	f.Await(context.Background())
	t.Fatal("Await did not panic")
}
