package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Defaults of Config's zero fields.
const (
	DefaultMemoryEntries = 10_000
	DefaultMemoryBytes   = 256 << 20 // 256 MiB
	DefaultDiskBytes     = 4 << 30   // 4 GiB
)

// Config describes a cache, as DSPy's configure_cache does: which levels
// are on, where the disk level lives and how large each may grow. New
// builds the Store.
type Config struct {
	// Memory turns on the in-process LRU level.
	Memory bool
	// MemoryMaxEntries and MemoryMaxBytes bound it (0: the defaults).
	MemoryMaxEntries int
	MemoryMaxBytes   int64

	// Disk turns on the directory level, shared by every process that
	// uses the same Dir.
	Disk bool
	// Dir is the disk level's directory; "" means DefaultDir().
	Dir string
	// DiskMaxBytes bounds it (0: DefaultDiskBytes).
	DiskMaxBytes int64

	// Remote, if set, is the last level: a store shared by a fleet, such
	// as rediscache.Open("redis://host:6379/0"). It is given as a Store so
	// that this package does not depend on a Redis client. New puts it
	// behind a Breaker with the defaults, unless it is a *Breaker already,
	// so that an outage of the remote store costs calls almost nothing.
	Remote Store
}

// DefaultDir returns the default directory of the disk level:
// os.UserCacheDir()/godspy/lm.
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache: no default directory: %w", err)
	}
	return filepath.Join(base, "godspy", "lm"), nil
}

// ErrNoLevel is returned by New for a Config with every level off.
var ErrNoLevel = errors.New("cache: no cache level enabled (set Memory, Disk or Remote)")

// New returns the Store that cfg describes: the enabled levels in the order
// memory, disk, remote (behind a Breaker), each in front of the next
// (Tiered).
func New(cfg Config) (Store, error) {
	var levels []Store
	if cfg.Memory {
		n, b := cfg.MemoryMaxEntries, cfg.MemoryMaxBytes
		if n == 0 {
			n = DefaultMemoryEntries
		}
		if b == 0 {
			b = DefaultMemoryBytes
		}
		levels = append(levels, NewMemory(n, b))
	}
	if cfg.Disk {
		dir := cfg.Dir
		if dir == "" {
			var err error
			if dir, err = DefaultDir(); err != nil {
				return nil, err
			}
		}
		b := cfg.DiskMaxBytes
		if b == 0 {
			b = DefaultDiskBytes
		}
		d, err := NewDisk(dir, b)
		if err != nil {
			return nil, err
		}
		levels = append(levels, d)
	}
	if cfg.Remote != nil {
		r := cfg.Remote
		if _, ok := r.(*Breaker); !ok {
			r = NewBreaker(r)
		}
		levels = append(levels, r)
	}
	if len(levels) == 0 {
		return nil, ErrNoLevel
	}
	s := levels[len(levels)-1]
	for i := len(levels) - 2; i >= 0; i-- {
		s = NewTiered(levels[i], s)
	}
	return s, nil
}
