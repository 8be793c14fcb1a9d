package cache

import (
	"container/list"
	"context"
	"sync"
)

// Memory is an in-process least-recently-used Store bounded by a number of
// entries and a number of bytes (keys plus values). It is safe for
// concurrent use.
type Memory struct {
	maxEntries int
	maxBytes   int64

	mu    sync.Mutex
	ll    list.List // of *memEntry, most recently used first
	items map[string]*list.Element
	bytes int64
}

type memEntry struct {
	key   string
	value []byte
}

// NewMemory returns an empty Memory holding at most maxEntries entries and
// maxBytes bytes; a bound <= 0 means no bound of that kind. A value larger
// than maxBytes is not stored.
func NewMemory(maxEntries int, maxBytes int64) *Memory {
	return &Memory{maxEntries: maxEntries, maxBytes: maxBytes, items: make(map[string]*list.Element)}
}

// Get returns the value of key and marks it most recently used.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[key]
	if !ok {
		return nil, false, nil
	}
	m.ll.MoveToFront(e)
	return e.Value.(*memEntry).value, true, nil
}

// Set stores value under key, evicting the least recently used entries
// beyond the bounds.
func (m *Memory) Set(_ context.Context, key string, value []byte) error {
	size := int64(len(key) + len(value))
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.items[key]; ok {
		m.remove(e)
	}
	if m.maxBytes > 0 && size > m.maxBytes {
		return nil
	}
	m.items[key] = m.ll.PushFront(&memEntry{key: key, value: value})
	m.bytes += size
	for (m.maxEntries > 0 && m.ll.Len() > m.maxEntries) || (m.maxBytes > 0 && m.bytes > m.maxBytes) {
		m.remove(m.ll.Back())
	}
	return nil
}

func (m *Memory) remove(e *list.Element) {
	ent := m.ll.Remove(e).(*memEntry)
	delete(m.items, ent.key)
	m.bytes -= int64(len(ent.key) + len(ent.value))
}

// Len returns the number of entries.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ll.Len()
}

// Bytes returns the size of the entries (keys plus values).
func (m *Memory) Bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}
