package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Disk is a Store of one file per key under a directory, which several
// processes on one machine can share: a reader never sees a torn entry and
// concurrent writers never corrupt one another.
//
//   - Layout: DIR/ab/abcdef... (the first two characters of the key name a
//     shard directory).
//   - Writes are atomic: a temporary file in the shard is written, fsynced
//     and renamed over the entry. The last writer of a key wins.
//   - Each file starts with a header (magic, payload length, CRC-32C of the
//     payload). A file that fails the check — a torn write after a crash on
//     a file system that reorders, a truncated or overwritten file — is a
//     miss, and is removed.
//   - Size: when a process has written about an eighth of the bound since
//     its last sweep (and on its first write), it lists the directory and,
//     if the entries exceed the bound, removes the least recently used ones
//     (by modification time, which a hit refreshes at most once a minute)
//     down to 90% of it. Two processes sweeping at once only remove files
//     both consider old; a file removed under a reader is a miss.
//   - Files are created 0600 and directories 0700.
//
// Disk is safe for concurrent use.
type Disk struct {
	dir      string
	maxBytes int64
	sweepAt  int64 // bytes written between sweeps

	written  atomic.Int64
	sweeping sync.Mutex
	now      func() time.Time
}

const (
	diskMagic      = "GDC1"
	diskHeaderSize = 4 + 8 + 4 // magic, payload length, CRC-32C
	// touchAfter: a hit on an entry older than this refreshes its mtime,
	// so eviction sees it as recently used.
	touchAfter = time.Minute
	// staleTemp: a temporary file older than this was left by a crashed
	// writer and is removed by a sweep.
	staleTemp  = time.Hour
	tempPrefix = ".tmp-"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// NewDisk returns a Disk store in dir, creating it (0700) if needed.
// maxBytes bounds the entries' total size, approximately (see Disk);
// <= 0 means no bound.
func NewDisk(dir string, maxBytes int64) (*Disk, error) {
	if dir == "" {
		return nil, errors.New("cache: disk store needs a directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache: create disk store: %w", err)
	}
	d := &Disk{dir: dir, maxBytes: maxBytes, now: time.Now}
	if maxBytes > 0 {
		d.sweepAt = max(maxBytes/8, 1)
		d.written.Store(d.sweepAt) // sweep on the first write
	}
	return d, nil
}

// Dir returns the store's directory.
func (d *Disk) Dir() string { return d.dir }

// validKey accepts the names the store can safely use as file names.
func validKey(key string) bool {
	if len(key) < 3 || len(key) > 128 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (d *Disk) path(key string) string { return filepath.Join(d.dir, key[:2], key) }

// Get reads the entry of key. A missing or corrupt entry is a miss; a
// corrupt one is removed.
func (d *Disk) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if !validKey(key) {
		return nil, false, fmt.Errorf("cache: invalid disk key %q", key)
	}
	p := d.path(key)
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("cache: read entry: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("cache: read entry: %w", err)
	}
	size := fi.Size()
	if size < diskHeaderSize || size > 1<<31 {
		d.removeIfSame(p, fi)
		return nil, false, nil
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			d.removeIfSame(p, fi)
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("cache: read entry: %w", err)
	}
	payload, ok := checkEntry(buf)
	if !ok {
		d.removeIfSame(p, fi)
		return nil, false, nil
	}
	if now := d.now(); now.Sub(fi.ModTime()) > touchAfter {
		_ = os.Chtimes(p, now, now) // best effort: only eviction order depends on it
	}
	return payload, true, nil
}

// checkEntry verifies a file's header and returns its payload.
func checkEntry(b []byte) ([]byte, bool) {
	if len(b) < diskHeaderSize || string(b[:4]) != diskMagic {
		return nil, false
	}
	n := binary.BigEndian.Uint64(b[4:12])
	sum := binary.BigEndian.Uint32(b[12:16])
	payload := b[diskHeaderSize:]
	if n != uint64(len(payload)) || crc32.Checksum(payload, crcTable) != sum {
		return nil, false
	}
	return payload, true
}

// removeIfSame removes path if it is still the file fi describes, so a
// reader that found a corrupt entry does not delete a good one a writer
// has just renamed into place.
func (d *Disk) removeIfSame(path string, fi fs.FileInfo) {
	cur, err := os.Stat(path)
	if err == nil && os.SameFile(fi, cur) {
		_ = os.Remove(path)
	}
}

// Set writes the entry of key atomically.
func (d *Disk) Set(ctx context.Context, key string, value []byte) error {
	if !validKey(key) {
		return fmt.Errorf("cache: invalid disk key %q", key)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	shard := filepath.Join(d.dir, key[:2])
	f, err := os.CreateTemp(shard, tempPrefix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(shard, 0o700); err == nil {
			f, err = os.CreateTemp(shard, tempPrefix+"*")
		}
	}
	if err != nil {
		return fmt.Errorf("cache: write entry: %w", err)
	}
	tmp := f.Name()
	var hdr [diskHeaderSize]byte
	copy(hdr[:4], diskMagic)
	binary.BigEndian.PutUint64(hdr[4:12], uint64(len(value)))
	binary.BigEndian.PutUint32(hdr[12:16], crc32.Checksum(value, crcTable))
	_, err = f.Write(hdr[:])
	if err == nil {
		_, err = f.Write(value)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, d.path(key))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("cache: write entry: %w", err)
	}
	if d.maxBytes > 0 && d.written.Add(int64(len(value)+diskHeaderSize)) >= d.sweepAt {
		if d.sweeping.TryLock() { // one sweep per process at a time; others skip
			defer d.sweeping.Unlock()
			d.written.Store(0)
			if err := d.sweep(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Sweep removes the least recently used entries while the store exceeds
// its bound, and temporary files left by crashed writers. Set calls it
// from time to time; call it to trim the store at a moment of your choice.
func (d *Disk) Sweep(ctx context.Context) error {
	d.sweeping.Lock()
	defer d.sweeping.Unlock()
	d.written.Store(0)
	return d.sweep(ctx)
}

type diskFile struct {
	path  string
	size  int64
	mtime time.Time
}

func (d *Disk) sweep(ctx context.Context) error {
	shards, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("cache: sweep: %w", err)
	}
	now := d.now()
	var files []diskFile
	var total int64
	for _, sh := range shards {
		if !sh.IsDir() || len(sh.Name()) != 2 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := filepath.Join(d.dir, sh.Name())
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue // removed by another process, or unreadable: skip
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			p := filepath.Join(dir, e.Name())
			if strings.HasPrefix(e.Name(), tempPrefix) {
				if now.Sub(fi.ModTime()) > staleTemp {
					_ = os.Remove(p)
				}
				continue
			}
			files = append(files, diskFile{path: p, size: fi.Size(), mtime: fi.ModTime()})
			total += fi.Size()
		}
	}
	if d.maxBytes <= 0 || total <= d.maxBytes {
		return nil
	}
	slices.SortFunc(files, func(a, b diskFile) int { return a.mtime.Compare(b.mtime) })
	target := d.maxBytes / 10 * 9
	for _, f := range files {
		if total <= target {
			break
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cache: sweep: %w", err)
		}
		total -= f.size // gone either way: removed here or by another process
	}
	return nil
}

// Size returns the total size of the entries now in the directory.
func (d *Disk) Size() (int64, error) {
	var total int64
	err := filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), tempPrefix) {
			if fi, err := e.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cache: size: %w", err)
	}
	return total, nil
}
