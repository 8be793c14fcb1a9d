package cache

import (
	"context"
	"errors"
)

// Store keeps encoded responses by key. Keys are lowercase hex strings (the
// cache's SHA-256 keys); values are opaque bytes. Implementations must be
// safe for concurrent use.
//
// Get reports found=false with a nil error for a missing, expired or
// unreadable entry; an error means the store itself failed. The slice Get
// returns must not be modified. Set takes ownership of value: the caller
// must not modify it afterwards.
type Store interface {
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	Set(ctx context.Context, key string, value []byte) error
}

// Tiered is a Store that looks in a fast front store first and in a slower
// back store on a front miss, copying back hits to the front: memory in
// front of disk, or memory in front of Redis.
type Tiered struct {
	front, back Store
}

// NewTiered returns a Store with front before back.
func NewTiered(front, back Store) *Tiered { return &Tiered{front: front, back: back} }

// Get looks in the front store, then in the back one. A front failure falls
// through to the back store; it is returned only if the back store misses
// too.
func (t *Tiered) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, ok, ferr := t.front.Get(ctx, key)
	if ok && ferr == nil {
		return v, true, nil
	}
	v, ok, err := t.back.Get(ctx, key)
	if err != nil || !ok {
		return nil, false, errors.Join(ferr, err)
	}
	// A failure to fill the front store does not fail the hit.
	_ = t.front.Set(ctx, key, v)
	return v, true, nil
}

// Set stores value in both stores, back first.
func (t *Tiered) Set(ctx context.Context, key string, value []byte) error {
	berr := t.back.Set(ctx, key, value)
	ferr := t.front.Set(ctx, key, value)
	return errors.Join(berr, ferr)
}
