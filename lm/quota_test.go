package lm

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// fakeQuota records what Limited asks of a shared quota.
type fakeQuota struct {
	mu      sync.Mutex
	waits   []int
	charges []int
	err     error
	held    func() int // in-flight slots held when Wait is called
	heldAt  []int
}

func (q *fakeQuota) Wait(ctx context.Context, tokens int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waits = append(q.waits, tokens)
	if q.held != nil {
		q.heldAt = append(q.heldAt, q.held())
	}
	return q.err
}

func (q *fakeQuota) Charge(ctx context.Context, tokens int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.charges = append(q.charges, tokens)
}

func TestLimitQuota(t *testing.T) {
	q := &fakeQuota{}
	l := Limit(&slowLM{tokens: 100}, Limits{MaxInFlight: 2, Quota: q})
	q.held = func() int { return len(l.sem) }
	req := &Request{Messages: []Message{{Role: RoleUser, Content: "0123456789abcdef0123456789abcdef"}}} // (32+4)/4 = 9 tokens
	if _, err := l.Generate(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	for range l.Stream(t.Context(), req) {
	}
	if len(q.waits) != 2 || q.waits[0] != 9 || q.waits[1] != 9 {
		t.Errorf("Quota.Wait tokens = %v, want [9 9]", q.waits)
	}
	if len(q.charges) != 2 || q.charges[0] != 91 || q.charges[1] != 91 {
		t.Errorf("Quota.Charge = %v, want [91 91] (100 used, 9 estimated)", q.charges)
	}
	if q.heldAt[0] != 1 {
		t.Errorf("Quota.Wait called holding %d in-flight slots, want 1 (it is waited for last)", q.heldAt[0])
	}

	// A quota failure fails the call and gives back the in-flight slot.
	q.err = errors.New("quota store down")
	for range 3 {
		if _, err := l.Generate(t.Context(), req); !errors.Is(err, q.err) {
			t.Fatalf("Generate = %v, want the quota's error", err)
		}
	}
	if n := len(l.sem); n != 0 {
		t.Errorf("%d in-flight slots held after failed quota waits", n)
	}
}
