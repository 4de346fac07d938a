package replay

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/replay/synth"
)

// The benchmark capture: KEXECREC_BENCH_CALLS calls (default 1,000,000),
// generated once per test binary run with format.Writer + layout Marshal.
// Calls carry no payload blobs: the benchmark measures decoding and
// rendering of records (identification of payloads is cached per hash and
// measured by identify's own benchmarks).
var (
	benchOnce sync.Once
	benchDir  string
	benchPath string
	benchErr  error
)

func benchCalls() int {
	if n, err := strconv.Atoi(os.Getenv("KEXECREC_BENCH_CALLS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

func benchCapture(b *testing.B) string {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "kexecrec-bench-")
		if benchErr != nil {
			return
		}
		benchPath = filepath.Join(benchDir, "bench.zst")
		f, err := os.Create(benchPath)
		if err != nil {
			benchErr = err
			return
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		if err := synth.Write(bw, synth.Options{Calls: benchCalls()}); err != nil {
			benchErr = err
		}
		if err := bw.Flush(); err != nil && benchErr == nil {
			benchErr = err
		}
		f.Close()
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath
}

func TestMain(m *testing.M) {
	if os.Getenv("KEXECREC_BENCH_CHILD") != "" {
		// Child process of BenchmarkShowNDJSON: one pass, for peak RSS,
		// with the soft memory limit the show command sets.
		if os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(32 << 20)
		}
		n, err := showNDJSON(os.Getenv("KEXECREC_BENCH_CHILD"), io.Discard)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(n)
		if err := testenv.PrintPeakRSS(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// zstdBaseline times `zstd -d -c FILE >/dev/null` three times and returns
// the median wall and CPU (user+system) time. Its output goes straight to
// /dev/null, not through a pipe into this process, which would add the
// copying to zstd's time. ok is false when zstd is not installed.
func zstdBaseline(tb testing.TB, path string) (wall, cpu time.Duration, ok bool) {
	zstd, err := exec.LookPath("zstd")
	if err != nil {
		tb.Log("zstd not installed: no ratio")
		return 0, 0, false
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer null.Close()
	var walls, cpus []time.Duration
	for range 3 {
		cmd := exec.Command(zstd, "-q", "-d", "-c", path)
		cmd.Stdout = null
		start := time.Now()
		if err := cmd.Run(); err != nil {
			tb.Fatalf("zstd -d: %v", err)
		}
		walls = append(walls, time.Since(start))
		cpus = append(cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	return walls[1], cpus[1], true
}

// showNDJSON is what `kexecrec show --format ndjson FILE` does.
func showNDJSON(path string, w io.Writer) (int, error) {
	c, err := Open(path, OpenOptions{Salvage: true, Identify: true, Reuse: true, Pipelined: true})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	out := bufio.NewWriterSize(w, 64<<10)
	n := 0
	err = c.Calls(func(call *Call) error {
		n++
		return RenderJSON(out, call)
	})
	if err != nil {
		return n, err
	}
	if d, _ := c.Trouble(); len(d) > 0 {
		return n, fmt.Errorf("damage: %v", d)
	}
	return n, out.Flush()
}

// BenchmarkShowNDJSON reports calls/s, the time against `zstd -d` of the
// same file (ratio, target <= 2) and the peak RSS of a child process doing
// one pass (target < 64 MiB).
//
//	go test ./replay -run '^$' -bench ShowNDJSON -benchtime 1x
func BenchmarkShowNDJSON(b *testing.B) {
	path := benchCapture(b)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ResetTimer()
	start := time.Now()
	cpuStart := testenv.ProcessCPU()
	var n int
	for range b.N {
		var err error
		if n, err = showNDJSON(path, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	perCPU := (testenv.ProcessCPU() - cpuStart) / time.Duration(b.N)
	b.StopTimer()
	if n != benchCalls() {
		b.Fatalf("decoded %d calls of %d", n, benchCalls())
	}
	b.ReportMetric(float64(n)/per.Seconds(), "calls/s")

	if wall, cpu, ok := zstdBaseline(b, path); ok {
		b.ReportMetric(per.Seconds()/wall.Seconds(), "x_zstd_d")
		b.ReportMetric(perCPU.Seconds()/cpu.Seconds(), "x_zstd_d_cpu")
	}

	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	child := exec.Command(self)
	child.Env = append(os.Environ(), "KEXECREC_BENCH_CHILD="+path)
	out, err := child.CombinedOutput()
	if err != nil {
		b.Fatalf("child: %v %s", err, out)
	}
	rss, err := testenv.ParsePeakRSS(out)
	if err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	b.ReportMetric(rss, "peak_RSS_MiB")
	b.ReportMetric(float64(st.Size())/(1<<20), "file_MiB")
}
