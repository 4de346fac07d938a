package format

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
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

// manyChunks writes a capture of a few hundred chunks of mixed sizes:
// records sealed in chunks of varying length, and blobs of several pieces.
func manyChunks(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader(), WriterOptions{SealBytes: 2000, PieceSize: 2048, Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 3000 {
		d := make([]byte, rng.IntN(200))
		for j := range d {
			d[j] = byte(rng.UintN(256))
		}
		if err := w.WriteRecord(Record{Type: uint16(1 + i%5), Data: d}); err != nil {
			t.Fatal(err)
		}
		if i%300 == 299 {
			bw := w.NewBlob()
			p := make([]byte, 1000+rng.IntN(20000))
			for j := range p {
				p[j] = byte(rng.UintN(4)) // compressible, unlike the records
			}
			bw.Write(p)
			if _, err := bw.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// With one, two or four frames finished at once, on whole, damaged and cut
// files, the prefetching reader tells exactly what the plain one does; and
// closing it after any number of records leaves no goroutine behind.
func TestPrefetchWorkersManyChunks(t *testing.T) {
	data := manyChunks(t)
	damaged := bytes.Clone(data)
	for _, at := range []int{len(data) / 5, len(data) / 2, len(data) * 4 / 5} {
		damaged[at] ^= 0x5a
	}
	inputs := map[string][]byte{"whole": data, "damaged": damaged, "cut": data[:len(data)*3/4]}
	old := prefetchWorkers
	defer func() { prefetchWorkers = old }()
	base := runtime.NumGoroutine()
	for _, workers := range []int{1, 2, 4} {
		prefetchWorkers = workers
		for name, in := range inputs {
			for _, salvage := range []bool{false, true} {
				plain := readAllOnce(in, ReaderOptions{Salvage: salvage})
				ahead := readAllOnce(in, ReaderOptions{Salvage: salvage, Prefetch: true})
				if !reflect.DeepEqual(plain, ahead) {
					t.Fatalf("%d workers, %s, salvage=%v: Prefetch reads differently", workers, name, salvage)
				}
				if name == "whole" && (len(plain.records) != 3000 || plain.status.Chunks < 200) {
					t.Fatalf("%d records in %d chunks: not the capture meant", len(plain.records), plain.status.Chunks)
				}
			}
		}
		for k := 0; k < 3000; k += 97 {
			r, err := NewReader(bytes.NewReader(data), ReaderOptions{Prefetch: true})
			if err != nil {
				t.Fatal(err)
			}
			for range k {
				if _, err := r.Next(); err != nil {
					t.Fatal(err)
				}
			}
			r.Close()
		}
	}
	if got := goroutinesBackTo(base); got > base {
		t.Fatalf("%d goroutines after closing readers part-way, %d before", got, base)
	}
}
