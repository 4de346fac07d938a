package replay

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/testenv"
)

// BenchmarkSummarizeMillion measures what `kexecrec summarize` does (hash
// the file, decode every call, identify distinct payloads, count) over a
// generated capture of 1,000,000 kexec_load calls (KEXECREC_BENCH_CALLS
// overrides the number), and reports:
//
//	calls/s      calls summarized per second (wall clock)
//	x-zstd       summarize / `zstd -d -c FILE >/dev/null` (median of 3), wall clock (target <= 2)
//	x-zstd-cpu   the same ratio in CPU time (user+system): on a shared,
//	             busy machine wall clock mostly measures waiting for a core
//	peak-RSS-MiB peak RSS of a child process that summarizes the file (target < 64)
//
// Run: go test ./replay -run '^$' -bench SummarizeMillion -benchtime 1x
func BenchmarkSummarizeMillion(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("KEXECREC_BENCH_CALLS")); err == nil && v > 0 {
		n = v
	}
	// KEXECREC_BENCH_FILE keeps the generated capture (and reuses it when
	// it exists) for profiling outside the benchmark.
	path := os.Getenv("KEXECREC_BENCH_FILE")
	if path == "" {
		path = filepath.Join(b.TempDir(), "million.kxr")
	}
	if _, err := os.Stat(path); err != nil {
		genStart := time.Now()
		writeBenchCapture(b, path, n)
		b.Logf("generated %d calls in %s", n, time.Since(genStart).Round(time.Millisecond))
	}
	st, _ := os.Stat(path)
	b.Logf("capture: %d bytes", st.Size())

	b.ResetTimer()
	var elapsed time.Duration
	cpuStart := testenv.ProcessCPU()
	for range b.N {
		start := time.Now()
		s := benchSummarize(b, path)
		elapsed += time.Since(start)
		if s.Calls != n {
			b.Fatalf("summarized %d calls, want %d", s.Calls, n)
		}
	}
	b.StopTimer()
	perCPU := (testenv.ProcessCPU() - cpuStart) / time.Duration(b.N)
	per := elapsed / time.Duration(b.N)
	b.ReportMetric(float64(n)/per.Seconds(), "calls/s")

	if z, zCPU, ok := zstdBaseline(b, path); ok {
		b.ReportMetric(per.Seconds()/z.Seconds(), "x-zstd")
		b.ReportMetric(perCPU.Seconds()/zCPU.Seconds(), "x-zstd-cpu")
		b.Logf("summarize %s wall %s cpu; zstd -d (median of 3) %s wall %s cpu", per.Round(time.Millisecond),
			perCPU.Round(time.Millisecond), z.Round(time.Millisecond), zCPU.Round(time.Millisecond))
	}

	// Peak RSS, measured in a fresh process so that this one's generation
	// buffers do not count.
	child := exec.Command(os.Args[0], "-test.run", "^TestSummaryRSSChild$", "-test.count=1")
	child.Env = append(os.Environ(), "KEXECREC_RSS_CAPTURE="+path, fmt.Sprintf("KEXECREC_RSS_CALLS=%d", n))
	out, err := child.CombinedOutput()
	if err != nil {
		b.Fatalf("child: %v\n%s", err, out)
	}
	b.Logf("%s", bytes.TrimSpace(out))
	// The child reports its own peak RSS (see testenv.PeakRSSMarker).
	hwm, err := testenv.ParsePeakRSS(out)
	if err != nil {
		b.Fatalf("%v:\n%s", err, out)
	}
	b.ReportMetric(hwm, "peak-RSS-MiB")
}

// TestSummaryRSSChild is the benchmark's child process; it does nothing
// unless the benchmark started it.
func TestSummaryRSSChild(t *testing.T) {
	path := os.Getenv("KEXECREC_RSS_CAPTURE")
	if path == "" {
		return
	}
	// The summarize command runs under this soft limit (summarizeMemLimit
	// in cmd/kexecrec/summarize.go) unless GOMEMLIMIT is set.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(40 << 20)
	}
	want, _ := strconv.Atoi(os.Getenv("KEXECREC_RSS_CALLS"))
	if s := benchSummarize(t, path); s.Calls != want {
		t.Fatalf("summarized %d calls, want %d", s.Calls, want)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if err := testenv.PrintPeakRSS(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "child: heap in use %.1f MiB, peak heap goal %.1f MiB, Go runtime total %.1f MiB, %d GCs\n",
		float64(ms.HeapInuse)/(1<<20), float64(ms.NextGC)/(1<<20), float64(ms.Sys)/(1<<20), ms.NumGC)
}

// benchSummarize does what the summarize command does for one file.
func benchSummarize(tb testing.TB, path string) *Summary {
	rep, err := Summarize([]string{path}, SummarizeOptions{Identify: true})
	if err != nil {
		tb.Fatal(err)
	}
	return rep.Files[0]
}

// writeBenchCapture writes n kexec_load calls: most by kexec with the same
// purgatory and kernel, some failing, a few by other processes, so the
// summary has several keys in every table.
func writeBenchCapture(tb testing.TB, path string, n int) {
	sw, f := newSynthWriter(tb, path)
	purg := make([]byte, 512)
	copy(purg, "purgatory")
	kernels := [][]byte{make([]byte, 16<<10), make([]byte, 16<<10)}
	copy(kernels[0], "kernel one")
	copy(kernels[1], "kernel two")
	for i := range n {
		c := synthCall{id: uint64(i + 1), comm: "kexec", exe: "/usr/sbin/kexec", flags: 0x3e0000,
			segs: [][]byte{purg, kernels[i%2]}, trunc: -1}
		switch {
		case i%1000 == 999:
			c.comm, c.exe, c.uid = "evil", "/tmp/evil", 1000
		case i%10 == 9:
			c.ret = -1
		}
		sw.call(tb, c)
	}
	sw.finish(tb, f, format.Stats{"calls": uint64(n)}, true)
}
