package cache_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/godspy/dspy/lm/cache"
)

func TestMemoryBoundedByEntries(t *testing.T) {
	ctx := t.Context()
	m := cache.NewMemory(3, 0)
	for i := range 5 {
		m.Set(ctx, fmt.Sprint("k", i), []byte("v"))
	}
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want 3", m.Len())
	}
	for i, want := range []bool{false, false, true, true, true} {
		if _, ok, _ := m.Get(ctx, fmt.Sprint("k", i)); ok != want {
			t.Errorf("k%d present = %v, want %v", i, ok, want)
		}
	}
	// Get refreshes: k2 survives the next insert, k3 goes.
	m.Get(ctx, "k2")
	m.Set(ctx, "k5", []byte("v"))
	if _, ok, _ := m.Get(ctx, "k2"); !ok {
		t.Error("recently read k2 was evicted")
	}
	if _, ok, _ := m.Get(ctx, "k3"); ok {
		t.Error("least recently used k3 was kept")
	}
}

func TestMemoryBoundedByBytes(t *testing.T) {
	ctx := t.Context()
	m := cache.NewMemory(0, 100) // entries of 2+18 = 20 bytes: 5 fit
	for i := range 10 {
		m.Set(ctx, fmt.Sprint("k", i), make([]byte, 18))
		if m.Bytes() > 100 {
			t.Fatalf("Bytes = %d > 100", m.Bytes())
		}
	}
	if m.Len() != 5 || m.Bytes() != 100 {
		t.Errorf("Len, Bytes = %d, %d; want 5, 100", m.Len(), m.Bytes())
	}
	// Replacing a key does not count it twice.
	m.Set(ctx, "k9", make([]byte, 8))
	if m.Len() != 5 || m.Bytes() != 90 {
		t.Errorf("after replace: Len, Bytes = %d, %d; want 5, 90", m.Len(), m.Bytes())
	}
	// A value over the bound is not stored and evicts nothing.
	m.Set(ctx, "big", make([]byte, 200))
	if _, ok, _ := m.Get(ctx, "big"); ok || m.Len() != 5 {
		t.Errorf("oversized value: stored=%v Len=%d", ok, m.Len())
	}
}

func TestMemoryConcurrent(t *testing.T) {
	ctx := t.Context()
	m := cache.NewMemory(50, 2000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprint("k", (g*7+i)%80)
				if v, ok, _ := m.Get(ctx, k); ok && string(v) != k {
					t.Errorf("Get(%s) = %q", k, v)
				}
				m.Set(ctx, k, []byte(k))
			}
		})
	}
	wg.Wait()
	if m.Len() > 50 || m.Bytes() > 2000 {
		t.Errorf("bounds broken: %d entries, %d bytes", m.Len(), m.Bytes())
	}
}

func TestTiered(t *testing.T) {
	ctx := t.Context()
	front, back := cache.NewMemory(10, 0), cache.NewMemory(10, 0)
	s := cache.NewTiered(front, back)
	s.Set(ctx, "a", []byte("1"))
	if front.Len() != 1 || back.Len() != 1 {
		t.Fatalf("Set wrote %d front, %d back", front.Len(), back.Len())
	}
	back.Set(ctx, "b", []byte("2"))
	if v, ok, err := s.Get(ctx, "b"); !ok || err != nil || string(v) != "2" {
		t.Fatalf("Get(b) = %q, %v, %v", v, ok, err)
	}
	if _, ok, _ := front.Get(ctx, "b"); !ok {
		t.Error("a back hit was not copied to the front")
	}
	if _, ok, err := s.Get(ctx, "c"); ok || err != nil {
		t.Errorf("Get(c) = %v, %v", ok, err)
	}

	// A failing front falls through to the back store.
	f := cache.NewTiered(failingStore{}, back)
	if v, ok, err := f.Get(ctx, "b"); !ok || err != nil || string(v) != "2" {
		t.Errorf("failing front: Get(b) = %q, %v, %v", v, ok, err)
	}
	if _, _, err := f.Get(ctx, "zz"); err == nil {
		t.Error("failing front and back miss: no error")
	}
	if err := f.Set(ctx, "x", nil); err == nil {
		t.Error("failing front: Set returned no error")
	}
}

func TestConfig(t *testing.T) {
	if _, err := cache.New(cache.Config{}); !errors.Is(err, cache.ErrNoLevel) {
		t.Errorf("empty config: err = %v", err)
	}
	s, err := cache.New(cache.Config{Memory: true})
	if _, ok := s.(*cache.Memory); err != nil || !ok {
		t.Errorf("memory only: %T, %v", s, err)
	}
	dir := t.TempDir()
	remote := cache.NewMemory(10, 0)
	s, err = cache.New(cache.Config{Memory: true, Disk: true, Dir: dir, Remote: remote})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.Set(ctx, "abcdef", []byte("v"))
	if _, ok, _ := remote.Get(ctx, "abcdef"); !ok {
		t.Error("the remote level was not written")
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "ab", "abcdef")); len(matches) != 1 {
		t.Error("the disk level was not written")
	}
	d, err := cache.DefaultDir()
	if err == nil && !strings.HasSuffix(d, filepath.Join("godspy", "lm")) {
		t.Errorf("DefaultDir = %q", d)
	}
}
