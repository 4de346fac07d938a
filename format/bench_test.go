package format

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// Benchmarks (numbers go to BENCHMARKS.md):
//
//	go test ./format/ -run '^$' -bench . -benchtime 1x -count 3
//
// BenchmarkReadVsZstd interleaves 5 runs of each reader and reports medians;
// BenchmarkPeakRSS writes a 1 GiB file in a temp dir (KEXECREC_RSS_BYTES overrides).

// benchRecord fills a record the way raw BPF records look: small integers,
// addresses, mostly-zero padding, and a few random bytes.
func benchRecord(rng *rand.Rand, buf []byte, i int) Record {
	n := []int{160, 560, 64, 56, 312}[i%5]
	d := buf[:n]
	clear(d)
	binary.LittleEndian.PutUint16(d, uint16(1+i%5))
	binary.LittleEndian.PutUint32(d[4:], uint32(n))
	binary.LittleEndian.PutUint64(d[8:], uint64(i/5))
	binary.LittleEndian.PutUint64(d[16:], 5_000_000_000+uint64(i)*20_000+rng.Uint64N(1000))
	for j := 24; j+8 <= n && j < 120; j += 8 {
		binary.LittleEndian.PutUint64(d[j:], rng.Uint64N(1<<20))
	}
	return Record{Type: uint16(1 + i%5), Data: d}
}

// makeCapture writes records until about rawBytes of record data, with a
// distinct 1 MiB-ish semi-compressible blob every blobEvery records.
func makeCapture(tb testing.TB, w io.Writer, rawBytes int, blobBytes int) (records int, raw int64) {
	cw, err := NewWriter(w, testHeader(), WriterOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 1024)
	blob := make([]byte, 1<<20)
	for raw < int64(rawBytes) {
		r := benchRecord(rng, buf, records)
		if err := cw.WriteRecord(r); err != nil {
			tb.Fatal(err)
		}
		records++
		raw += int64(len(r.Data) + recordHeaderLen)
	}
	for done := 0; done < blobBytes; done += len(blob) {
		fillPayload(rng, blob)
		bw := cw.NewBlob()
		bw.Write(blob)
		if _, err := bw.Close(); err != nil {
			tb.Fatal(err)
		}
		raw += int64(len(blob))
	}
	if err := cw.Close(); err != nil {
		tb.Fatal(err)
	}
	return records, raw
}

// fillPayload makes kernel-image-like bytes: compressible about 2:1.
func fillPayload(rng *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		if i%16 == 0 {
			v &= 0x00FF00FF00FF00FF
		}
		binary.LittleEndian.PutUint64(b[i:], v)
	}
}

func BenchmarkWriteRecords(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	buf := make([]byte, 1024)
	recs := make([]Record, 10000)
	size := 0
	for i := range recs {
		r := benchRecord(rng, buf, i)
		recs[i] = Record{r.Type, append([]byte{}, r.Data...)}
		size += len(r.Data)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		w, _ := NewWriter(io.Discard, Header{}, WriterOptions{})
		for _, r := range recs {
			w.WriteRecord(r)
		}
		w.Close()
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkWriteBlob(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	payload := make([]byte, 16<<20)
	fillPayload(rng, payload)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		w, _ := NewWriter(io.Discard, Header{}, WriterOptions{})
		bw := w.NewBlob()
		bw.Write(payload)
		bw.Close()
		w.Close()
	}
}

func BenchmarkReadRecords(b *testing.B) {
	var buf bytes.Buffer
	n, raw := makeCapture(b, &buf, 32<<20, 0)
	b.SetBytes(raw)
	b.ResetTimer()
	for range b.N {
		r, err := NewReader(bytes.NewReader(buf.Bytes()), ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			got++
		}
		if got != n || !r.Status().ChainOK {
			b.Fatalf("read %d of %d records", got, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// readFile reads a capture file completely (records, every piece decoded
// and hashed, chain) and returns how long it took.
func readFile(tb testing.TB, path string, o ReaderOptions) time.Duration {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f, o)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	for {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			tb.Fatal(err)
		}
	}
	if st := r.Status(); !st.ChainOK || !st.Clean {
		tb.Fatalf("status %+v", st)
	}
	return time.Since(start)
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// BenchmarkReadVsZstd: reading every record and blob piece with all checks
// against `zstd -d` of the same file (target: ratio <= 2).
func BenchmarkReadVsZstd(b *testing.B) {
	zstdPath := testenv.Tool(b, "zstd")
	path := filepath.Join(b.TempDir(), "cap.zst")
	f, _ := os.Create(path)
	_, raw := makeCapture(b, f, 16<<20, 48<<20)
	f.Close()
	b.SetBytes(raw)
	b.ResetTimer()
	// zstd writes straight to /dev/null: through a pipe into this process
	// the copying would count as zstd's time.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	var ours, skip, theirs, oursCPU, theirsCPU []time.Duration
	for range b.N {
		for range 5 {
			// As `kexecrec verify` reads: frames checked on every core
			// (Prefetch), where zstd -d uses one; the CPU ratio says what
			// that is worth.
			c0 := testenv.ProcessCPU()
			ours = append(ours, readFile(b, path, ReaderOptions{Prefetch: true}))
			oursCPU = append(oursCPU, testenv.ProcessCPU()-c0)
			skip = append(skip, readFile(b, path, ReaderOptions{SkipBlobData: true, Prefetch: true}))
			start := time.Now()
			cmd := exec.Command(zstdPath, "-q", "-d", "-c", path)
			cmd.Stdout = null
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
			theirs = append(theirs, time.Since(start))
			theirsCPU = append(theirsCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		}
	}
	b.ReportMetric(median(oursCPU).Seconds()/median(theirsCPU).Seconds(), "cpu-ratio-vs-zstd-d")
	m, s, z := median(ours), median(skip), median(theirs)
	b.ReportMetric(float64(raw)/m.Seconds()/1e6, "read-MB/s")
	b.ReportMetric(float64(raw)/z.Seconds()/1e6, "zstd-d-MB/s")
	b.ReportMetric(m.Seconds()/z.Seconds(), "ratio-vs-zstd-d")
	b.ReportMetric(s.Seconds()/z.Seconds(), "ratio-records-only")
}

const rssChildEnv = "KEXECREC_FORMAT_RSS_CHILD"

// TestRSSChild is the child process of BenchmarkPeakRSS.
func TestRSSChild(t *testing.T) {
	path := os.Getenv(rssChildEnv)
	if path == "" {
		t.Skip("helper process for BenchmarkPeakRSS")
	}
	readFile(t, path, ReaderOptions{Prefetch: true}) // as verify reads
	if err := testenv.PrintPeakRSS(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPeakRSS: peak RSS of a child process reading a 1 GiB capture
// (records and blobs, every check; target < 64 MiB).
func BenchmarkPeakRSS(b *testing.B) {
	size := 1 << 30
	if s := os.Getenv("KEXECREC_RSS_BYTES"); s != "" {
		size, _ = strconv.Atoi(s)
	}
	path := filepath.Join(b.TempDir(), "big.zst")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	// Incompressible blob bytes make the file itself about `size` bytes.
	cw, _ := NewWriter(f, testHeader(), WriterOptions{})
	rng := rand.New(rand.NewPCG(9, 9))
	rec := make([]byte, 1024)
	blob := make([]byte, 1<<20)
	for i := 0; cw.Written() < int64(size); i++ {
		for j := range 2000 {
			cw.WriteRecord(benchRecord(rng, rec, i*2000+j))
		}
		for j := 0; j+8 <= len(blob); j += 8 {
			binary.LittleEndian.PutUint64(blob[j:], rng.Uint64())
		}
		bw := cw.NewBlob()
		bw.Write(blob)
		bw.Write(blob[:1<<19])
		bw.Close()
	}
	if err := cw.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	b.ResetTimer()
	var maxRSS float64
	for range b.N {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), rssChildEnv+"="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		mib, err := testenv.ParsePeakRSS(out)
		if err != nil {
			b.Fatalf("%v:\n%s", err, out)
		}
		maxRSS = max(maxRSS, mib)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "file-MiB")
	b.ReportMetric(maxRSS, "peak-RSS-MiB")
}

// BenchmarkDedup: 100 identical 8 MiB payloads against one (target <= 1.05).
func BenchmarkDedup(b *testing.B) {
	payload := make([]byte, 8<<20)
	rng := rand.New(rand.NewPCG(5, 5))
	fillPayload(rng, payload)
	write := func(copies int) int64 {
		w, _ := NewWriter(io.Discard, testHeader(), WriterOptions{Now: fixedClock()})
		for range copies {
			bw := w.NewBlob()
			bw.Write(payload)
			ref, _ := bw.Close()
			if ref.Size != uint64(len(payload)) {
				b.Fatal("bad ref")
			}
			w.WriteRecord(Record{Type: 16, Data: []byte(`{"sha256":"...","kind":2}`)})
		}
		w.Close()
		return w.Written()
	}
	var one, hundred int64
	for range b.N {
		one = write(1)
		hundred = write(100)
	}
	b.ReportMetric(float64(one)/(1<<20), "one-MiB")
	b.ReportMetric(float64(hundred)/(1<<20), "hundred-MiB")
	b.ReportMetric(float64(hundred)/float64(one), "ratio")
}
