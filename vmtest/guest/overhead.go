package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// overhead times getppid, a syscall the recorder does not record, before,
// while and after `kexecrec record --attach mode` runs idle, and appends the
// rounds to the results disk. fentry and kprobe hook only the kexec
// syscall functions, so getppid should not notice them; raw mode runs BPF
// on every syscall's entry and exit, which these rounds show too.
func (a *agent) overhead(mode string) {
	o := plan.Overhead{Mode: mode, Calls: a.p.OverheadCalls}
	defer func() {
		b, _ := json.MarshalIndent(o, "", "  ")
		if err := a.out.addBytes(plan.OverheadDir+mode+".json", b); err != nil {
			logf("%v", err)
		}
		logf("overhead %s: getppid ns, fastest round: before %.1f, with recorder %.1f, after %.1f %v",
			mode, fastest(o.Before), fastest(o.With), fastest(o.After), o.Errors)
	}()
	timeGetppid(a.p.OverheadCalls, 3) // settle: not kept
	o.Before = timeGetppid(a.p.OverheadCalls, a.p.OverheadRounds)

	out := filepath.Join(a.p.OutDir, "overhead-"+mode+".zst")
	defer os.Remove(out)
	cmd := exec.Command(a.p.Kexecrec, "record", "--attach", mode, "-o", out)
	cmd.Env = childEnv()
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		o.Errors = append(o.Errors, "recorder: "+err.Error())
		return
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if ready := waitReady(&stderr, mode, out, exited, time.Duration(a.p.ReadyTimeout)*time.Second); ready != readyOK {
		cmd.Process.Kill()
		<-exited
		o.Errors = append(o.Errors, "recorder not ready: "+lastLine(stderr.String()))
		return
	}
	o.With = timeGetppid(a.p.OverheadCalls, a.p.OverheadRounds)
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			o.Errors = append(o.Errors, "recorder: "+err.Error()+": "+lastLine(stderr.String()))
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-exited
		o.Errors = append(o.Errors, "recorder did not stop on SIGINT")
	}
	o.After = timeGetppid(a.p.OverheadCalls, a.p.OverheadRounds)
}

// timeGetppid returns ns per getppid for each of rounds rounds of calls
// calls, on one locked thread.
func timeGetppid(calls, rounds int) []float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	out := make([]float64, 0, rounds)
	for range rounds {
		start := time.Now()
		for range calls {
			syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
		}
		out = append(out, float64(time.Since(start).Nanoseconds())/float64(calls))
	}
	return out
}

func fastest(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Min(v)
}
