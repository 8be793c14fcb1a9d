package cache_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/godspy/dspy/lm/cache"
)

// Environment of a child process of TestDiskTwoProcesses.
const (
	childEnv      = "DSPY_CACHE_DISK_CHILD" // the directory; set only in a child
	childIDEnv    = "DSPY_CACHE_DISK_CHILD_ID"
	childBoundEnv = "DSPY_CACHE_DISK_CHILD_BOUND"
	sharedKeys    = 64
	ownKeys       = 64
)

func hexKey(s string) string { return fmt.Sprintf("%064x", []byte(s))[:64] }

func sharedKey(i int) string     { return hexKey(fmt.Sprint("shared-", i)) }
func ownKey(child, i int) string { return hexKey(fmt.Sprint("own-", child, "-", i)) }

// entryValue is self-checking: the key, the writer, a length and that many
// bytes of a pattern, so a reader can tell a whole value from a torn one.
// Sizes vary up to 96 KiB, larger than one write on most systems.
func entryValue(key string, child int, rng *rand.Rand) []byte {
	n := rng.IntN(96 << 10)
	v := fmt.Appendf(nil, "%s|%d|%d|", key, child, n)
	for i := range n {
		v = append(v, byte('a'+(i+child)%26))
	}
	return v
}

func checkValue(key string, v []byte) error {
	parts := bytes.SplitN(v, []byte("|"), 4)
	if len(parts) != 4 || string(parts[0]) != key {
		return fmt.Errorf("value of %s has a bad head: %.80q", key, v)
	}
	child, err1 := strconv.Atoi(string(parts[1]))
	n, err2 := strconv.Atoi(string(parts[2]))
	if err1 != nil || err2 != nil || len(parts[3]) != n {
		return fmt.Errorf("value of %s is torn: head %.80q, body %d bytes", key, v, len(parts[3]))
	}
	for i, b := range parts[3] {
		if b != byte('a'+(i+child)%26) {
			return fmt.Errorf("value of %s is corrupt at byte %d", key, i)
		}
	}
	return nil
}

// diskChild is a child process: it writes its own keys and every shared
// key, reading shared keys as it goes, and fails on any torn read.
func diskChild() int {
	dir := os.Getenv(childEnv)
	id, _ := strconv.Atoi(os.Getenv(childIDEnv))
	bound, _ := strconv.ParseInt(os.Getenv(childBoundEnv), 10, 64)
	d, err := cache.NewDisk(dir, bound)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(id), 1))
	for i := range max(sharedKeys, ownKeys) {
		writes := []string{}
		if i < ownKeys {
			writes = append(writes, ownKey(id, i))
		}
		if i < sharedKeys {
			writes = append(writes, sharedKey((i+id*sharedKeys/2)%sharedKeys))
		}
		for _, k := range writes {
			if err := d.Set(ctx, k, entryValue(k, id, rng)); err != nil {
				fmt.Fprintln(os.Stderr, "set:", err)
				return 1
			}
		}
		for range 4 {
			k := sharedKey(rng.IntN(sharedKeys))
			v, ok, err := d.Get(ctx, k)
			if err != nil {
				fmt.Fprintln(os.Stderr, "get:", err)
				return 1
			}
			if ok {
				if err := checkValue(k, v); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
		}
	}
	return 0
}

// runChildren re-executes the test binary as n children on dir, while this
// process reads the shared keys too.
func runChildren(t *testing.T, dir string, n int, bound int64) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	reader, err := cache.NewDisk(dir, bound)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var readerWG sync.WaitGroup
	readerWG.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			k := sharedKey(i % sharedKeys)
			v, ok, err := reader.Get(t.Context(), k)
			if err != nil {
				t.Errorf("parent Get: %v", err)
				return
			}
			if ok {
				if err := checkValue(k, v); err != nil {
					t.Errorf("parent read: %v", err)
					return
				}
			}
		}
	})
	var wg sync.WaitGroup
	for id := range n {
		cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir, childIDEnv+"="+strconv.Itoa(id), childBoundEnv+"="+strconv.FormatInt(bound, 10))
		wg.Go(func() {
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("child %d: %v\n%s", id, err, out)
			}
		})
	}
	wg.Wait()
	close(done)
	readerWG.Wait()
}

func TestDiskTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	ctx := t.Context()
	t.Run("unbounded: nothing lost, nothing torn", func(t *testing.T) {
		dir := t.TempDir()
		runChildren(t, dir, 2, 0)
		d, _ := cache.NewDisk(dir, 0)
		var keys []string
		for i := range sharedKeys {
			keys = append(keys, sharedKey(i))
		}
		for id := range 2 {
			for i := range ownKeys {
				keys = append(keys, ownKey(id, i))
			}
		}
		for _, k := range keys {
			v, ok, err := d.Get(ctx, k)
			if err != nil || !ok {
				t.Errorf("key %s: found=%v err=%v", k[:12], ok, err)
				continue
			}
			if err := checkValue(k, v); err != nil {
				t.Error(err)
			}
		}
		if temps, _ := filepath.Glob(filepath.Join(dir, "*", ".tmp-*")); len(temps) > 0 {
			t.Errorf("temporary files left: %v", temps)
		}
	})
	t.Run("bounded: both evict, nothing torn", func(t *testing.T) {
		dir := t.TempDir()
		const bound = 1 << 20
		runChildren(t, dir, 2, bound)
		d, _ := cache.NewDisk(dir, bound)
		size, err := d.Size()
		if err != nil {
			t.Fatal(err)
		}
		// Each process sweeps after writing an eighth of the bound; the
		// largest value is 96 KiB.
		if limit := int64(bound + 2*(bound/8+96<<10)); size > limit {
			t.Errorf("size %d after concurrent writers, want <= %d", size, limit)
		}
		if err := d.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if size, _ := d.Size(); size > bound {
			t.Errorf("size %d after Sweep, want <= %d", size, bound)
		}
	})
}

func TestDiskRoundTripAndPermissions(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "cache")
	d, err := cache.NewDisk(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	k := hexKey("perm")
	if _, ok, err := d.Get(ctx, k); ok || err != nil {
		t.Fatalf("empty store: Get = %v, %v", ok, err)
	}
	if err := d.Set(ctx, k, []byte("value")); err != nil {
		t.Fatal(err)
	}
	v, ok, err := d.Get(ctx, k)
	if err != nil || !ok || string(v) != "value" {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	for path, want := range map[string]fs.FileMode{
		dir:                          0o700,
		filepath.Join(dir, k[:2]):    0o700,
		filepath.Join(dir, k[:2], k): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	for _, bad := range []string{"", "ab", "../etc/passwd", "ab/cd", "a b c"} {
		if _, _, err := d.Get(ctx, bad); err == nil {
			t.Errorf("Get(%q): no error", bad)
		}
		if err := d.Set(ctx, bad, nil); err == nil {
			t.Errorf("Set(%q): no error", bad)
		}
	}
}

func TestDiskTornEntryIsAMiss(t *testing.T) {
	ctx := t.Context()
	d, err := cache.NewDisk(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("0123456789"), 100)
	tests := []struct {
		name string
		edit func(b []byte) []byte
	}{
		{"empty", func([]byte) []byte { return nil }},
		{"header only", func(b []byte) []byte { return b[:16] }},
		{"truncated header", func(b []byte) []byte { return b[:7] }},
		{"truncated payload", func(b []byte) []byte { return b[:len(b)/2] }},
		{"extra bytes", func(b []byte) []byte { return append(b, 'x') }},
		{"flipped payload byte", func(b []byte) []byte { b[500] ^= 1; return b }},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"garbage", func(b []byte) []byte { return bytes.Repeat([]byte{0xff}, len(b)) }},
		{"zero length claim", func(b []byte) []byte { clear(b[4:12]); return b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := hexKey(tt.name)
			if err := d.Set(ctx, k, value); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(d.Dir(), k[:2], k)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.edit(b), 0o600); err != nil {
				t.Fatal(err)
			}
			v, ok, err := d.Get(ctx, k)
			if ok || err != nil || v != nil {
				t.Fatalf("Get = %d bytes, %v, %v; want a miss", len(v), ok, err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("the corrupt file is still there (%v)", err)
			}
			// The next write repairs it.
			d.Set(ctx, k, value)
			if v, ok, _ := d.Get(ctx, k); !ok || !bytes.Equal(v, value) {
				t.Error("rewrite did not repair the entry")
			}
		})
	}
}

func TestDiskEvictionBound(t *testing.T) {
	ctx := t.Context()
	const bound = 64 << 10
	d, err := cache.NewDisk(t.TempDir(), bound)
	if err != nil {
		t.Fatal(err)
	}
	value := make([]byte, 1000)
	var last string
	for i := range 300 {
		last = hexKey(fmt.Sprint("evict", i))
		if err := d.Set(ctx, last, value); err != nil {
			t.Fatal(err)
		}
		size, err := d.Size()
		if err != nil {
			t.Fatal(err)
		}
		if limit := int64(bound + bound/8 + 1016); size > limit {
			t.Fatalf("after %d writes: size %d > %d", i+1, size, limit)
		}
	}
	if err := d.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if size, _ := d.Size(); size > bound {
		t.Errorf("after Sweep: size %d > %d", size, bound)
	}
	if _, ok, _ := d.Get(ctx, last); !ok {
		t.Error("the newest entry was evicted")
	}
	if _, ok, _ := d.Get(ctx, hexKey("evict0")); ok {
		t.Error("the oldest entry survived")
	}

	// A temporary file a crashed writer left is removed once stale.
	stale := filepath.Join(d.Dir(), "ab", ".tmp-crashed")
	os.MkdirAll(filepath.Dir(stale), 0o700)
	os.WriteFile(stale, []byte("partial"), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	fresh := filepath.Join(d.Dir(), "ab", ".tmp-writing")
	os.WriteFile(fresh, []byte("partial"), 0o600)
	d.Sweep(ctx)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("a stale temporary file survived a sweep")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a fresh temporary file (a writer at work) was removed")
	}
}

func TestDiskConcurrentInProcess(t *testing.T) {
	ctx := t.Context()
	d, err := cache.NewDisk(t.TempDir(), 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for i := range 40 {
				k := sharedKey(i % 16)
				if err := d.Set(ctx, k, entryValue(k, g, rng)); err != nil {
					t.Error(err)
				}
				if v, ok, err := d.Get(ctx, k); err != nil {
					t.Error(err)
				} else if ok {
					if err := checkValue(k, v); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
}
