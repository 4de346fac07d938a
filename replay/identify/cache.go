package identify

import (
	"io"
	"runtime"
	"sync"
)

// Cache identifies each distinct payload once: payloads are named by their
// SHA-256, so equal names mean equal bytes and equal reports. Callers asking
// for a payload that is being identified wait for that one identification
// instead of starting their own. Safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	max     int
}

type cacheKey struct {
	sha string
	o   Options
}

type cacheEntry struct {
	done chan struct{}
	r    *Report // nil when loading the payload failed
}

// Shared is the process-wide cache: every capture a command opens (diff
// opens two) identifies a payload at most once per run.
var Shared = NewCache(4096)

// NewCache keeps at most max reports (a full cache forgets its finished
// entries and starts over: a report costs little to recompute compared with
// the memory a long follow would otherwise pin).
func NewCache(max int) *Cache {
	return &Cache{entries: make(map[cacheKey]*cacheEntry), max: max}
}

// workers bounds the identifications running at once in the process: each
// is CPU-bound decompression, so more than one per core only adds memory.
var workers = make(chan struct{}, runtime.GOMAXPROCS(0))

// Identify returns the report for the payload named sha. Only the first
// caller for a name calls load (for the payload's bytes) and identifies
// them; a load error is returned and not remembered.
func (c *Cache) Identify(sha string, o Options, load func() (io.ReaderAt, int64, error)) (*Report, error) {
	k := cacheKey{sha, o}
	for {
		c.mu.Lock()
		e, ok := c.entries[k]
		if !ok {
			if len(c.entries) >= c.max {
				c.forgetFinished()
			}
			e = &cacheEntry{done: make(chan struct{})}
			c.entries[k] = e
		}
		c.mu.Unlock()
		if ok {
			<-e.done
			if e.r != nil {
				return e.r, nil
			}
			continue // the loader failed: try loading ourselves
		}
		r, err := identifyBounded(load, o)
		e.r = r
		if err != nil {
			c.mu.Lock()
			delete(c.entries, k)
			c.mu.Unlock()
		}
		close(e.done)
		return r, err
	}
}

func identifyBounded(load func() (io.ReaderAt, int64, error), o Options) (*Report, error) {
	ra, size, err := load()
	if err != nil {
		return nil, err
	}
	workers <- struct{}{}
	defer func() { <-workers }()
	return Identify(ra, size, o), nil
}

// forgetFinished drops every entry that is not being identified right now
// (those have waiters). Called with mu held.
func (c *Cache) forgetFinished() {
	for k, e := range c.entries {
		select {
		case <-e.done:
			delete(c.entries, k)
		default:
		}
	}
}
