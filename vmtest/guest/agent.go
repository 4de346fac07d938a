package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kexecrec/kexecrec/vmtest/plan"
)

type agent struct {
	p          plan.Plan
	out        *outDisk
	boot       *plan.Boot
	seq        int
	execLoaded bool // ExecLoad succeeded: kexec -e may run
}

// run executes the plan: the overhead rounds in every mode, every per-mode scenario in every mode, the load
// for kexec -e once (in the first mode whose recorded load worked), then the
// one-way kexec_load_disabled scenario in every mode (it must come last:
// nothing can load after it).
func (a *agent) run() {
	if a.p.OverheadCalls > 0 {
		for _, mode := range a.p.Modes {
			a.overhead(mode)
		}
	}
	if a.p.OnlyOverhead {
		return
	}
	execMode := ""
	for _, mode := range a.p.Modes {
		for _, s := range plan.PerMode {
			if !a.p.Runs(mode, s) {
				continue
			}
			r := a.scenario(mode, s)
			if s == plan.Load && len(r.Errors) == 0 && execMode == "" {
				execMode = mode
			}
		}
	}
	if execMode == "" {
		execMode = a.p.Modes[0]
	}
	if r := a.scenario(execMode, plan.ExecLoad); r.KexecLoaded == "1" {
		a.execLoaded = true
	}
	for _, mode := range a.p.Modes {
		if a.p.Runs(mode, plan.Disabled) {
			a.scenario(mode, plan.Disabled)
		}
	}
}

func (a *agent) writeBoot() {
	b, _ := json.MarshalIndent(a.boot, "", "  ")
	if err := a.out.addBytes(plan.BootEntry, b); err != nil {
		logf("%v", err)
	}
}

// scenario runs one scenario, recorded in mode, and
// appends its capture and result to the results disk.
func (a *agent) scenario(mode, name string) *plan.Result {
	a.seq++
	a.boot.Scenarios++
	r := &plan.Result{Seq: a.seq, Mode: mode, Scenario: name}
	start := time.Now()
	logf("[%d] %s/%s", r.Seq, mode, name)
	a.recorded(r)
	if name == plan.Race {
		// The race leaves its last image staged; the next mode's scenarios
		// start, as without it, with none (unloaded after the recorder
		// stopped, so not recorded).
		c := a.command(60*time.Second, a.p.Kexec, "-u", "--kexec-syscall")
		if c.Exit != 0 {
			r.Errors = append(r.Errors, "race: kexec -u: "+lastLine(c.Output))
		}
	}
	r.KexecLoaded = readTrim("/sys/kernel/kexec_loaded")
	r.CrashLoaded = readTrim("/sys/kernel/kexec_crash_loaded")
	r.LoadDisabled = readTrim("/proc/sys/kernel/kexec_load_disabled")
	r.Seconds = time.Since(start).Seconds()
	if r.Capture != "" {
		path := filepath.Join(a.p.OutDir, r.Capture)
		if _, err := os.Stat(path); err == nil {
			n, err := a.out.addFile(plan.CapturesDir+r.Capture, path)
			if err != nil {
				r.Errors = append(r.Errors, err.Error())
			}
			if r.Recorder != nil {
				r.Recorder.CaptureBytes = n
			}
			os.Remove(path) // keep guest memory small: it is on the disk now
		} else {
			r.Errors = append(r.Errors, "no capture file: "+err.Error())
			r.Capture = ""
		}
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := a.out.addBytes(fmt.Sprintf("%s%03d-%s-%s.json", plan.ResultsDir, r.Seq, mode, name), b); err != nil {
		logf("%v", err)
	}
	status := "done"
	if len(r.Errors) > 0 {
		status = "GUEST ERRORS: " + strings.Join(r.Errors, "; ")
	}
	logf("[%d] %s/%s: %s in %.1fs (kexec_loaded=%s crash_loaded=%s)", r.Seq, mode, name, status, r.Seconds, r.KexecLoaded, r.CrashLoaded)
	return r
}

// act does what a scenario does, recorded or not.
func (a *agent) act(r *plan.Result) {
	p := a.p
	load := func(extra ...string) []string {
		args := append([]string{p.Kexec}, extra...)
		args = append(args, "--initrd="+p.Initrd, "--append="+p.Append)
		if p.Dtb != "" {
			args = append(args, "--dtb="+p.Dtb)
		}
		return append(args, p.Vmlinuz)
	}
	run := func(argv ...string) {
		r.Commands = append(r.Commands, a.command(180*time.Second, argv[0], argv[1:]...))
	}
	switch r.Scenario {
	case plan.Load:
		run(load("-l", "--kexec-syscall")...)
	case plan.FileLoad:
		run(load("-l", "--kexec-file-syscall")...)
	case plan.Crash:
		run(load("-p", "--kexec-syscall")...)
	case plan.Unload:
		run(p.Kexec, "-u", "--kexec-syscall")
	case plan.NoPerm:
		run(append([]string{"/init", "dropcap"}, load("-l", "--kexec-syscall")...)...)
	case plan.BadFlags:
		c := a.command(60*time.Second, "/init", "trigger", "badflags", p.Vmlinuz, p.Initrd)
		r.Commands = append(r.Commands, c)
		if err := json.Unmarshal([]byte(lastLine(c.Output)), &r.Triggers); err != nil {
			r.Errors = append(r.Errors, "trigger output: "+err.Error())
		}
	case plan.Race:
		c := a.command(180*time.Second, "/init", "trigger", "race")
		r.Commands = append(r.Commands, c)
		if err := json.Unmarshal([]byte(lastLine(c.Output)), &r.Triggers); err != nil {
			r.Errors = append(r.Errors, "trigger output: "+err.Error())
		}
	case plan.AArch32:
		if p.Trigger32 == "" {
			r.Errors = append(r.Errors, "aarch32: the plan has no 32-bit trigger")
			return
		}
		sizes := make([]string, len(plan.AArch32Sizes))
		for i, n := range plan.AArch32Sizes {
			sizes[i] = strconv.Itoa(n)
		}
		// Each prints what it passed as JSON, which the host compares with
		// the capture.
		run(p.Trigger32, "-sizes", strings.Join(sizes, ","), "-seed", strconv.Itoa(plan.AArch32Seed),
			"-flags", fmt.Sprintf("%#x", plan.AArch32Flags))
		run(p.Trigger32, "-file", "-kernel", p.Vmlinuz, "-initrd", p.Initrd, "-cmdline", plan.AArch32Cmdline)
	case plan.ExecLoad:
		args := []string{p.Kexec, "-l", "--kexec-syscall", "--initrd=" + p.ExecInitrd, "--append=" + p.ExecAppend}
		if p.Dtb != "" {
			args = append(args, "--dtb="+p.Dtb)
		}
		run(append(args, p.Vmlinuz)...)
	case plan.Disabled:
		if readTrim("/proc/sys/kernel/kexec_load_disabled") != "1" {
			if err := os.WriteFile("/proc/sys/kernel/kexec_load_disabled", []byte("1\n"), 0); err != nil {
				r.Errors = append(r.Errors, "set kexec_load_disabled: "+err.Error())
			}
		}
		run(load("-l", "--kexec-syscall")...)
		run(load("-l", "--kexec-file-syscall")...)
	default:
		r.Errors = append(r.Errors, "unknown scenario "+r.Scenario)
	}
}

// recorded runs the scenario under `kexecrec record --attach MODE --count N`.
// The recorder must report that it is attached before the scenario starts
// and must stop by itself once it saw the scenario's calls.
func (a *agent) recorded(r *plan.Result) {
	r.Capture = plan.CaptureName(a.p.Series, r.Mode, r.Scenario)
	outPath := filepath.Join(a.p.OutDir, r.Capture)
	os.Remove(outPath)
	// The ring holds a load's entry copy and its read-back at once: with
	// one CPU no BPF program waits for the reader, so the read-back at the
	// exit finds the ring as the (slower, TCG) reader left it.
	argv := []string{a.p.Kexecrec, "record", "--attach", r.Mode,
		"--count", strconv.Itoa(plan.Calls[r.Scenario]), "--ringbuf-size", cmp.Or(a.p.RingBuf, "64M"), "-o", outPath}
	rec := &plan.Recorder{Argv: argv, Exit: -1}
	r.Recorder = rec
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = childEnv()
	var stderr lockedBuffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		rec.StoppedBy = "start-failed"
		r.Errors = append(r.Errors, "recorder: "+err.Error()+"; scenario ran unrecorded")
		r.Capture = ""
		a.act(r)
		return
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	finish := func(by string, err error) {
		rec.StoppedBy = by
		rec.Seconds = time.Since(start).Seconds()
		rec.Exit = exitCode(cmd.ProcessState, err)
		rec.Stderr = tail(stderr.String(), 8<<10)
		if rec.Exit != 0 {
			r.Errors = append(r.Errors, fmt.Sprintf("recorder exit %d (%s): %s", rec.Exit, by, lastLine(rec.Stderr)))
		}
	}

	ready := waitReady(&stderr, r.Mode, outPath, exited, time.Duration(a.p.ReadyTimeout)*time.Second)
	rec.ReadySeconds = time.Since(start).Seconds()
	if ready != readyOK {
		// Run the scenario anyway, unrecorded: the kexec side is still
		// checked, and the kernel state later scenarios rely on stays right.
		if ready == readyExited {
			finish("exited-early", <-exited)
			r.Errors = append(r.Errors, "recorder exited before it was ready; scenario ran unrecorded")
		} else {
			cmd.Process.Kill()
			finish("not-ready", <-exited)
			r.Errors = append(r.Errors, "recorder not ready in time; scenario ran unrecorded")
		}
		r.Capture = existing(r.Capture, outPath)
		a.act(r)
		return
	}

	a.act(r)

	select {
	case err := <-exited:
		finish("count", err)
	case <-time.After(time.Duration(a.p.StopTimeout) * time.Second):
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			finish("sigint", err)
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			finish("sigkill", <-exited)
		}
		r.Errors = append(r.Errors, "recorder did not stop by itself after the scenario's calls ("+rec.StoppedBy+")")
	}
}

func existing(name, path string) string {
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return name
}

type readiness int

const (
	readyOK readiness = iota
	readyExited
	readyTimeout
)

// waitReady waits until the recorder says it is recording. The recorder
// prints the attach mode it uses on stderr once its programs are attached
// and has created the output file by then; both must be seen.
func waitReady(stderr *lockedBuffer, mode, outPath string, exited chan error, timeout time.Duration) readiness {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err // let the caller collect it
			return readyExited
		default:
		}
		if attachedLine(stderr.String(), mode) {
			if _, err := os.Stat(outPath); err == nil {
				return readyOK
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return readyTimeout
}

// attachedLine reports whether the recorder's output says it is attached
// (it prints the attach mode it uses once its programs are attached).
func attachedLine(s, mode string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, mode) || strings.Contains(s, "recording") || strings.Contains(s, "attached")
}

// command runs one program with a timeout and keeps the tail of its output.
func (a *agent) command(timeout time.Duration, name string, args ...string) plan.Command {
	c := plan.Command{Argv: append([]string{name}, args...), Exit: -1}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = childEnv()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	c.Seconds = time.Since(start).Seconds()
	c.Output = tail(string(out), 4<<10)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		c.StartErr = err.Error()
	}
	c.Exit = exitCode(cmd.ProcessState, err)
	return c
}

func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1
	}
	return ps.ExitCode()
}

func childEnv() []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "TERM=dumb"}
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.TrimSpace(string(b))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// lockedBuffer is an io.Writer shared by the child's output copier and the
// readiness poller.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
