package recorder

import (
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// pairedRounds is how many interleaved rounds one op of
// BenchmarkGetppidPaired runs (the metrics are medians over them).
const pairedRounds = 9

// pairedCalls is how many getppid calls one variant gets per round.
const pairedCalls = 200_000

// BenchmarkGetppidPaired measures raw mode's cost per getppid against its
// floor (an empty program on sys_enter) and its peers in rounds: each round
// attaches every variant in turn and times the same number of calls on the
// thread CPU clock, so every variant sees the same load, and each variant's
// overhead is taken against "none" (and raw against the floor) within its
// round. On a shared machine whose load drifts over seconds, these paired
// differences are steady where the sequential Getppid rows are not. Metrics:
// the medians over the rounds of the per-call CPU ns of each variant minus
// none (*-ns), of raw minus the empty sys_enter floor (raw-vs-floor-ns),
// and of each variant itself (*-cpu-ns).
func BenchmarkGetppidPaired(b *testing.B) {
	testenv.Root(b)
	bt := testenv.Tool(b, "bpftrace")
	ensureTracefs(b)
	variants := []struct {
		name   string
		attach func(b *testing.B) func()
	}{
		{"none", func(*testing.B) func() { return func() {} }},
		{"raw", func(b *testing.B) func() { return attachForBench(b, AttachConfig{Mode: ModeRaw}) }},
		{"raw-observe-returns", func(b *testing.B) func() {
			return attachForBench(b, AttachConfig{Mode: ModeRaw, observeReturns: true})
		}},
		{"empty-sys_enter", func(b *testing.B) func() { return attachEmpty(b, []string{"sys_enter"}) }},
		{"empty-sys_enter+sys_exit", func(b *testing.B) func() { return attachEmpty(b, []string{"sys_enter", "sys_exit"}) }},
		{"bpftrace", func(b *testing.B) func() { return startBpftrace(b, bt) }},
	}
	cpu := map[string][]float64{}
	for b.Loop() {
		for round := range pairedRounds {
			// Rotate the order so no variant always follows the same one.
			for i := range variants {
				v := variants[(i+round)%len(variants)]
				detach := v.attach(b)
				settle()
				cpu[v.name] = append(cpu[v.name], getppidCPU(pairedCalls))
				detach()
			}
		}
	}
	n := len(cpu["none"])
	diff := func(a, base string) float64 {
		d := make([]float64, n)
		for i := range d {
			d[i] = cpu[a][i] - cpu[base][i]
		}
		return median(d)
	}
	for _, v := range variants {
		b.ReportMetric(median(cpu[v.name]), v.name+"-cpu-ns")
		if v.name != "none" {
			b.ReportMetric(diff(v.name, "none"), v.name+"-ns")
		}
	}
	b.ReportMetric(diff("raw", "empty-sys_enter"), "raw-vs-floor-ns")
}

// attachForBench attaches the recorder's programs, drains their ring and
// returns the detach function.
func attachForBench(b *testing.B, cfg AttachConfig) func() {
	src, err := Attach(cfg)
	if err != nil {
		b.Skipf("attach %s: %v", cfg.Mode, shortErr(err))
	}
	go drain(src)
	return func() { src.Close() }
}

// settle lets the work an attach leaves behind finish before a variant is
// timed: loading a large program queues RCU callbacks that free the
// verifier's state, and softirq work is charged to whichever thread it
// interrupts, which would be the timed loop. Every variant, "none"
// included, gets the same pause and the same untimed calls.
func settle() {
	time.Sleep(50 * time.Millisecond)
	getppidCPU(pairedCalls / 10)
}

// getppidCPU is the calling thread's CPU ns per getppid over n calls.
func getppidCPU(n int) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var t0, t1 unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t0)
	for range n {
		syscall.Getppid()
	}
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t1)
	return float64(t1.Nano()-t0.Nano()) / float64(n)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
