package identify

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
)

// Many callers asking for the same hash at once: one load, one report.
func TestCacheOncePerHash(t *testing.T) {
	c := NewCache(16)
	payload := []byte("root=/dev/sda console=ttyS0\x00")
	var loads atomic.Int32
	load := func() (io.ReaderAt, int64, error) {
		loads.Add(1)
		return bytes.NewReader(payload), int64(len(payload)), nil
	}
	reports := make([]*Report, 32)
	var wg sync.WaitGroup
	for i := range reports {
		wg.Go(func() {
			r, err := c.Identify("aa", Options{}, load)
			if err != nil {
				t.Error(err)
			}
			reports[i] = r
		})
	}
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("loaded %d times, want once", n)
	}
	for _, r := range reports {
		if r != reports[0] || r.Type != "cmdline" {
			t.Fatalf("report %+v, want the one cmdline report", r)
		}
	}
	// Other options are another identification.
	if r, _ := c.Identify("aa", Options{NoDecompress: true}, load); r == reports[0] || loads.Load() != 2 {
		t.Fatalf("options not part of the key: %d loads", loads.Load())
	}
}

// A failed load is returned, not remembered; a full cache starts over.
func TestCacheLoadErrorAndBound(t *testing.T) {
	c := NewCache(2)
	boom := errors.New("boom")
	if _, err := c.Identify("x", Options{}, func() (io.ReaderAt, int64, error) { return nil, 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	ok := func() (io.ReaderAt, int64, error) { return bytes.NewReader(nil), 0, nil }
	if r, err := c.Identify("x", Options{}, ok); err != nil || r.Type != "empty" {
		t.Fatalf("after a failed load: %+v %v", r, err)
	}
	for _, sha := range []string{"a", "b", "c", "d"} {
		c.Identify(sha, Options{}, ok)
	}
	if n := len(c.entries); n > 2 {
		t.Fatalf("%d entries kept, max 2", n)
	}
}
