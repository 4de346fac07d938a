package recorder

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// BenchmarkGetppid measures what recording costs every other process
// on the machine: ns per getppid (an unrelated, trivially cheap syscall) with
// no recorder, with each attach mode this kernel offers, and with the
// bpftrace one-liner a peer would use. Run as root:
//
//	go test ./recorder -run '^$' -bench Getppid -benchtime 1000000x -count 5
//
// and take medians; on a machine shared with other work prefer the
// cpu-ns/getppid figure (see benchGetppid).
func BenchmarkGetppid(b *testing.B) {
	b.Run("none", benchGetppid)
	for _, mode := range []string{ModeFentry, ModeKprobe, ModeRaw} {
		b.Run(mode, func(b *testing.B) {
			testenv.Root(b)
			src, err := Attach(AttachConfig{Mode: mode})
			if err != nil {
				// A mode the kernel does not offer is expected here (the
				// dev kernel has only raw), not a failure.
				b.Skipf("mode %s not available: %v", mode, shortErr(err))
			}
			defer src.Close()
			go drain(src)
			benchGetppid(b)
			if bs, ok := src.(*bpfSource); ok {
				b.ReportMetric(float64(len(bs.links)), "hooks")
			}
		})
	}
	// Raw mode as it runs on a kernel with kexec (sys_enter and sys_exit),
	// beside the row above, which on a kernel without kexec has sys_enter
	// alone: what knowing the return in advance saves.
	b.Run("raw-observe-returns", func(b *testing.B) {
		testenv.Root(b)
		src, err := Attach(AttachConfig{Mode: ModeRaw, observeReturns: true})
		if err != nil {
			b.Skipf("raw mode not available: %v", shortErr(err))
		}
		defer src.Close()
		go drain(src)
		benchGetppid(b)
	})
	// The floor under raw mode: BPF programs that return at once, attached
	// where raw mode attaches (tp_btf raw_syscalls sys_enter, and sys_exit).
	// What they cost is what any raw_syscalls-based recorder pays on this
	// kernel before doing anything at all.
	for _, tps := range [][]string{{"sys_enter"}, {"sys_enter", "sys_exit"}} {
		b.Run("empty-"+strings.Join(tps, "+"), func(b *testing.B) {
			testenv.Root(b)
			defer attachEmpty(b, tps)()
			benchGetppid(b)
		})
	}
	b.Run("bpftrace", func(b *testing.B) {
		testenv.Root(b)
		bt := testenv.Tool(b, "bpftrace")
		ensureTracefs(b)
		stop := startBpftrace(b, bt)
		defer stop()
		benchGetppid(b)
	})
}

// benchGetppid reports two figures: wall ns per call (ns/op) and the
// calling thread's CPU ns per call (cpu-ns/getppid). On a shared, loaded
// machine the wall figure includes time the thread spent waiting for a CPU;
// the thread CPU clock counts only the time it ran, in user and kernel
// space, which is where a BPF program attached to sys_enter adds its cost.
func benchGetppid(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var t0, t1 unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t0)
	for b.Loop() {
		syscall.Getppid()
	}
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t1)
	b.ReportMetric(float64(t1.Nano()-t0.Nano())/float64(b.N), "cpu-ns/getppid")
}

// attachEmpty attaches a program that returns 0 to each raw tracepoint
// in tps (as tp_btf, like raw mode) and returns a detach function.
func attachEmpty(b *testing.B, tps []string) func() {
	b.Helper()
	if err := rlimit.RemoveMemlock(); err != nil {
		b.Fatal(err)
	}
	var closers []io.Closer
	detach := func() {
		for i := len(closers) - 1; i >= 0; i-- { // links before their programs
			closers[i].Close()
		}
	}
	for _, tp := range tps {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp,
			AttachTo: tp, License: "GPL", Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}})
		if err != nil {
			detach()
			b.Fatalf("empty program for %s: %v", tp, err)
		}
		closers = append(closers, prog)
		l, err := link.AttachTracing(link.TracingOptions{Program: prog})
		if err != nil {
			detach()
			b.Fatalf("attach to %s: %v", tp, err)
		}
		closers = append(closers, l)
	}
	return detach
}

// drain keeps the ring empty (there is nothing to read unless someone calls
// kexec during the benchmark).
func drain(src Source) {
	for {
		if _, err := src.Read(); err != nil {
			return
		}
	}
}

// ensureTracefs mounts tracefs where bpftrace looks for tracepoint formats
// when the machine has not mounted it (the dev VM boots without it).
func ensureTracefs(b *testing.B) {
	b.Helper()
	const dir = "/sys/kernel/tracing"
	if _, err := os.Stat(dir + "/events"); err == nil {
		return
	}
	if err := syscall.Mount("nodev", dir, "tracefs", 0, ""); err != nil {
		b.Skipf("tracefs not mounted and mounting it failed: %v", err)
	}
	b.Logf("mounted tracefs on %s for bpftrace", dir)
}

// startBpftrace runs the peer one-liner and returns once its probes are
// attached: bpftrace runs BEGIN only after attaching every probe.
func startBpftrace(b *testing.B, bt string) func() {
	b.Helper()
	prog := `BEGIN { printf("kexecrec-ready\n"); } tracepoint:raw_syscalls:sys_enter /args->id == 246/ { @[comm] = count(); }`
	cmd := exec.Command(bt, "-B", "line", "-e", prog)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	// bpftrace's warnings (e.g. about RLIMIT_MEMLOCK, which this process
	// already lifted) must not land in the middle of a benchmark result
	// line, where the harness could no longer parse it.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "kexecrec-ready") {
			ready = true
			break
		}
	}
	if !ready {
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("bpftrace exited before attaching: %s", bytes.TrimSpace(stderr.Bytes()))
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return func() {
		// bpftrace sometimes ignores a SIGINT that arrives right after it
		// attached (a short benchmark run): kill it if it does.
		cmd.Process.Signal(os.Interrupt)
		exited := make(chan struct{})
		go func() {
			cmd.Wait()
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
}
