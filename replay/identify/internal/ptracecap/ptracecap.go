//go:build amd64

// Package ptracecap runs a kexec loader (kexec-tools' `kexec -l ...`) under
// ptrace and captures the kexec_load arguments and every segment buffer at
// the syscall-entry stop, then makes the syscall a no-op (orig_rax = -1, so
// the kernel skips it and returns ENOSYS). Nothing is ever loaded. It is an
// oracle for tests, independent of the BPF recorder: same bytes, other path.
//
// x86_64 only (register names and syscall numbers).
package ptracecap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// Syscall numbers on x86_64 (see docs/kexec-facts.md).
const (
	SysKexecLoad     = 246
	SysKexecFileLoad = 320

	maxSegments = 16        // KEXEC_SEGMENT_MAX
	maxBufSize  = 512 << 20 // refuse to copy absurd buffers
)

// Segment is one struct kexec_segment and the bytes its buf pointed at.
type Segment struct {
	Buf, BufSz, Mem, MemSz uint64
	Data                   []byte
}

// Capture is what the traced process passed to kexec_load.
type Capture struct {
	Entry, NrSegments, Flags uint64
	Segments                 []Segment
	FileLoadAttempts         int    // kexec_file_load calls seen (and skipped)
	Output                   string // the loader's stdout+stderr
}

// Run starts argv under ptrace and returns the first kexec_load it makes.
func Run(argv []string) (*Capture, error) {
	if len(argv) == 0 {
		return nil, errors.New("ptracecap: empty command")
	}
	// Every ptrace request must come from the thread that attached.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	out, err := os.CreateTemp("", "ptracecap-out-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return nil, fmt.Errorf("wait for exec stop: %w", err)
	}
	if !ws.Stopped() {
		return nil, fmt.Errorf("traced process did not stop at exec (status %v)", ws)
	}
	if err := syscall.PtraceSetOptions(pid, syscall.PTRACE_O_TRACESYSGOOD|0x100000 /* PTRACE_O_EXITKILL */); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		return nil, fmt.Errorf("PTRACE_SETOPTIONS: %w", err)
	}

	capt := &Capture{}
	var found bool
	var loopErr error
	inSyscall := false
	sig := 0
	for {
		if err := syscall.PtraceSyscall(pid, sig); err != nil {
			loopErr = fmt.Errorf("PTRACE_SYSCALL: %w", err)
			break
		}
		sig = 0
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			loopErr = fmt.Errorf("wait4: %w", err)
			break
		}
		if ws.Exited() || ws.Signaled() {
			break
		}
		if !ws.Stopped() {
			continue
		}
		if ws.StopSignal() != syscall.SIGTRAP|0x80 {
			sig = int(ws.StopSignal()) // a real signal: deliver it
			continue
		}
		inSyscall = !inSyscall
		if !inSyscall {
			continue // syscall-exit stop
		}
		var regs syscall.PtraceRegs
		if err := syscall.PtraceGetRegs(pid, &regs); err != nil {
			loopErr = fmt.Errorf("PTRACE_GETREGS: %w", err)
			break
		}
		switch regs.Orig_rax {
		case SysKexecLoad:
			if !found {
				if err := readCall(pid, &regs, capt); err != nil {
					loopErr = err
				}
				found = true
			}
		case SysKexecFileLoad:
			capt.FileLoadAttempts++
		default:
			continue
		}
		// Never let the kernel see it: -1 makes it skip the call (ENOSYS).
		regs.Orig_rax = ^uint64(0)
		if err := syscall.PtraceSetRegs(pid, &regs); err != nil {
			syscall.Kill(pid, syscall.SIGKILL)
			loopErr = fmt.Errorf("PTRACE_SETREGS: %w", err)
			break
		}
		if loopErr != nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	// Reap whatever is left (after an error the child was killed).
	for {
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.Exited() || ws.Signaled() {
			break
		}
		syscall.Kill(pid, syscall.SIGKILL)
		syscall.PtraceCont(pid, 0)
	}
	b, _ := os.ReadFile(out.Name())
	capt.Output = string(b)
	if loopErr != nil {
		return capt, loopErr
	}
	if !found {
		return capt, fmt.Errorf("process exited without calling kexec_load; output: %s", bytes.TrimSpace(b))
	}
	return capt, nil
}

// readCall copies the segment array and every buffer out of the stopped
// process through /proc/PID/mem.
func readCall(pid int, regs *syscall.PtraceRegs, c *Capture) error {
	c.Entry, c.NrSegments, c.Flags = regs.Rdi, regs.Rsi, regs.R10
	if c.NrSegments > maxSegments {
		return fmt.Errorf("kexec_load with %d segments (max %d)", c.NrSegments, maxSegments)
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return err
	}
	defer mem.Close()
	arr := make([]byte, 32*c.NrSegments)
	if _, err := mem.ReadAt(arr, int64(regs.Rdx)); err != nil {
		return fmt.Errorf("read segment array at 0x%x: %w", regs.Rdx, err)
	}
	for i := uint64(0); i < c.NrSegments; i++ {
		e := arr[32*i:]
		s := Segment{
			Buf:   binary.LittleEndian.Uint64(e[0:]),
			BufSz: binary.LittleEndian.Uint64(e[8:]),
			Mem:   binary.LittleEndian.Uint64(e[16:]),
			MemSz: binary.LittleEndian.Uint64(e[24:]),
		}
		if s.BufSz > maxBufSize {
			return fmt.Errorf("segment %d: bufsz %d too large", i, s.BufSz)
		}
		s.Data = make([]byte, s.BufSz)
		if s.BufSz > 0 {
			if _, err := mem.ReadAt(s.Data, int64(s.Buf)); err != nil {
				return fmt.Errorf("segment %d: read %d bytes at 0x%x: %w", i, s.BufSz, s.Buf, err)
			}
		}
		c.Segments = append(c.Segments, s)
	}
	return nil
}
