package format

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"
)

// goroutinesBackTo waits briefly for the goroutine count to fall to n.
func goroutinesBackTo(n int) int {
	got := runtime.NumGoroutine()
	for i := 0; i < 100 && got > n; i++ {
		time.Sleep(10 * time.Millisecond)
		got = runtime.NumGoroutine()
	}
	return got
}

// A Prefetch reader that NewReader refuses leaves no goroutine behind
// (nobody could Close it), and neither does one that is closed part-way.
func TestPrefetchLeavesNoGoroutine(t *testing.T) {
	c := writeSample(t, nil, true)
	bad := bytes.Clone(c.data)
	bad[frameHdrLen+20] ^= 0xff // the first chunk's header: its CRC fails
	base := runtime.NumGoroutine()
	for range 20 {
		if _, err := NewReader(bytes.NewReader(bad), ReaderOptions{Prefetch: true}); err == nil {
			t.Fatal("a damaged first chunk was accepted without Salvage")
		}
	}
	if got := goroutinesBackTo(base); got > base {
		t.Fatalf("%d goroutines after 20 refused readers, %d before", got, base)
	}

	for range 20 {
		r, err := NewReader(bytes.NewReader(c.data), ReaderOptions{Prefetch: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if _, err := r.Next(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after Close: %v, want ErrClosed", err)
		}
	}
	if got := goroutinesBackTo(base); got > base {
		t.Fatalf("%d goroutines after 20 readers closed part-way, %d before", got, base)
	}
}

// Reader.Index serves the blobs the stream has passed, with the same bytes
// as a separate OpenIndex pass.
func TestReaderIndexServesPassedBlobs(t *testing.T) {
	c := writeSample(t, nil, true)
	for _, pf := range []bool{false, true} {
		r, err := NewReader(bytes.NewReader(c.data), ReaderOptions{IndexPieces: true, Prefetch: pf})
		if err != nil {
			t.Fatal(err)
		}
		if ix := r.Index(bytes.NewReader(c.data)); ix == nil {
			t.Fatal("no index with IndexPieces")
		}
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		ix := r.Index(bytes.NewReader(c.data))
		if len(ix.Blobs()) != len(c.blobs) || !ix.Status().Clean {
			t.Fatalf("prefetch=%v: %d blobs, want %d; status %+v", pf, len(ix.Blobs()), len(c.blobs), ix.Status())
		}
		for sum, want := range c.blobs {
			rc, _, err := ix.Blob(sum)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("prefetch=%v: blob %x: %d bytes, %v", pf, sum[:4], len(got), err)
			}
		}
		r.Close()
	}
	r, err := NewReader(bytes.NewReader(c.data), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Index(bytes.NewReader(c.data)) != nil {
		t.Fatal("an index without IndexPieces")
	}
}
