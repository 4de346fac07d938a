package recorder

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// Feature probes decide which hooks the running kernel really accepts. As in
// cilium/pwru, a probe loads a trivial program and attaches it to the very
// symbol the recorder will use: a symbol that exists in BTF may still refuse
// attachment (the kexec stubs of a kernel built without kexec alias
// sys_ni_syscall and fentry on them is refused), so asking BTF or kallsyms
// alone is not enough.

// Errors for an environment that cannot record at all.
var (
	ErrPermission = errors.New("recorder: needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)")
	ErrNoBPF      = errors.New("recorder: the kernel does not support the BPF features needed (BPF ring buffer, Linux 5.8+)")
	ErrNoBTF      = errors.New("recorder: kernel BTF not available (/sys/kernel/btf/vmlinux; needs CONFIG_DEBUG_INFO_BTF)")
)

// Capability numbers (linux/capability.h).
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// checkPrivileges fails early with ErrPermission instead of letting the
// first bpf() call fail with a bare EPERM.
func checkPrivileges() error {
	eff, err := effectiveCaps()
	if err != nil {
		if os.Geteuid() != 0 {
			return ErrPermission
		}
		return nil // cannot tell; root usually has them, let bpf() decide
	}
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	if has(capSysAdmin) || (has(capBPF) && has(capPerfmon)) {
		return nil
	}
	return ErrPermission
}

// effectiveCaps reads CapEff of this process from /proc.
func effectiveCaps() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}

// checkKernel verifies the BPF basics every mode needs.
func checkKernel() error {
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			return ErrNoBPF
		}
		return fmt.Errorf("%w: %v", ErrNoBPF, err)
	}
	if _, err := btf.LoadKernelSpec(); err != nil {
		return fmt.Errorf("%w: %v", ErrNoBTF, err)
	}
	return nil
}

func trivialInsns() asm.Instructions {
	return asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
}

// probeTracing loads and attaches a trivial fentry/fexit/tp_btf program,
// resolving target in kt's kernel BTF (where ambiguous wrappers are
// resolved), as the recorder's own programs will be.
func probeTracing(kt *kernelTargets, at ebpf.AttachType, target string) error {
	prog, err := loadProbe(kt, &ebpf.ProgramSpec{
		Name:         "kr_probe",
		Type:         ebpf.Tracing,
		AttachType:   at,
		AttachTo:     target,
		Instructions: trivialInsns(),
		License:      "GPL",
	})
	if err != nil {
		return fmt.Errorf("load %s %s: %w", at, target, err)
	}
	defer prog.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: at})
	if err != nil {
		return fmt.Errorf("attach %s %s: %w", at, target, err)
	}
	return l.Close()
}

// loadProbe loads one probe program against kt's kernel BTF. A collection
// of one program, because only a collection takes a btf.Cache.
func loadProbe(kt *kernelTargets, spec *ebpf.ProgramSpec) (*ebpf.Program, error) {
	coll, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{
		Programs: map[string]*ebpf.ProgramSpec{"kr_probe": spec},
	}, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{LogDisabled: true}, Cache: kt.cache})
	if err != nil {
		return nil, err
	}
	prog := coll.DetachProgram("kr_probe")
	coll.Close()
	return prog, nil
}

// probeKprobe loads and attaches a trivial kprobe (ret: kretprobe).
func probeKprobe(symbol string, ret bool) error {
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Name:         "kr_probe",
		Type:         ebpf.Kprobe,
		Instructions: trivialInsns(),
		License:      "GPL",
	}, ebpf.ProgramOptions{LogDisabled: true})
	if err != nil {
		return fmt.Errorf("load kprobe: %w", err)
	}
	defer prog.Close()
	attach := link.Kprobe
	if ret {
		attach = link.Kretprobe
	}
	l, err := attach(symbol, prog, nil)
	if err != nil {
		return fmt.Errorf("attach kprobe %s: %w", symbol, err)
	}
	return l.Close()
}

// symPostReadFile is where kexec_file_load's files are seen as the kernel
// read them. The syscall wrappers' names depend on the architecture
// (wrappers_x86.go, wrappers_arm64.go).
const symPostReadFile = "security_kernel_post_read_file"

// probeMode reports whether mode's mandatory hooks (the native kexec_load
// and kexec_file_load syscall wrappers, entry and exit) attach on this
// kernel.
func probeMode(kt *kernelTargets, mode string) error {
	switch mode {
	case ModeFentry:
		for _, sym := range []string{symKexecLoad, symKexecFileLoad} {
			if err := probeTracing(kt, ebpf.AttachTraceFEntry, sym); err != nil {
				return err
			}
			if err := probeTracing(kt, ebpf.AttachTraceFExit, sym); err != nil {
				return err
			}
		}
		return nil
	case ModeKprobe:
		for _, sym := range []string{symKexecLoad, symKexecFileLoad} {
			if err := probeKprobe(sym, false); err != nil {
				return err
			}
			if err := probeKprobe(sym, true); err != nil {
				return err
			}
		}
		return nil
	case ModeRaw:
		if err := probeTracing(kt, ebpf.AttachTraceRawTp, "sys_enter"); err != nil {
			return err
		}
		return probeTracing(kt, ebpf.AttachTraceRawTp, "sys_exit")
	}
	return fmt.Errorf("unknown attach mode %q", mode)
}

// probeOptional reports whether an optional wrapper (compat, x32) attaches
// in mode.
func probeOptional(kt *kernelTargets, mode, sym string) error {
	if mode == ModeKprobe {
		if err := probeKprobe(sym, false); err != nil {
			return err
		}
		return probeKprobe(sym, true)
	}
	if err := probeTracing(kt, ebpf.AttachTraceFEntry, sym); err != nil {
		return err
	}
	return probeTracing(kt, ebpf.AttachTraceFExit, sym)
}

// Limitation is one thing the recorder cannot see on this kernel.
type Limitation struct {
	// Plain says in one line what is lost and what still works.
	Plain string
	// Detail is the full error chain; it is what the capture's notes keep.
	Detail string
}

// limitationSource is a Source that can state its warnings in plain words.
type limitationSource interface {
	Limitations() []Limitation
}

// Limitations are src's start-up warnings: in plain words where src has
// them, otherwise each warning as it is.
func Limitations(src Source) []Limitation {
	if ls, ok := src.(limitationSource); ok {
		return ls.Limitations()
	}
	var out []Limitation
	for _, w := range src.Warnings() {
		out = append(out, Limitation{Plain: w, Detail: w})
	}
	return out
}

// optionalHookLimitation: a compat entry point (ia32, x32, AArch32) has no hook.
func optionalHookLimitation(mode, sym, lost string, err error) Limitation {
	return Limitation{
		Plain: fmt.Sprintf("%s: this kernel %s; 64-bit kexec_load and kexec_file_load are fully recorded",
			lost, refusal(mode, err)),
		Detail: fmt.Sprintf("no %s hook on %s (%s): %v", mode, sym, lost, shortErr(err)),
	}
}

// smallRingLimitation: the ring cannot hold one full payload piece.
func smallRingLimitation(ring int) Limitation {
	return Limitation{
		Plain: fmt.Sprintf("payloads over 4 KiB will not be captured: the %d-byte ring buffer cannot hold one payload piece "+
			"(raise --ringbuf-size); calls are still recorded", ring),
		Detail: fmt.Sprintf("ring buffer of %d bytes cannot hold a full %d-byte payload piece: payloads over 4 KiB will be dropped",
			ring, layout.PieceMax),
	}
}

// refusal says in a few words why a hook of mode could not be used.
func refusal(mode string, err error) string {
	msg := err.Error()
	switch mode {
	case ModeKprobe:
		switch {
		case strings.Contains(msg, "token ") && strings.Contains(msg, "not found"):
			return "has no such function to kprobe"
		case strings.Contains(msg, "kprobe_events") || strings.Contains(msg, "tracefs") || strings.Contains(msg, "debugfs"):
			// No perf kprobe PMU and no tracefs to fall back on.
			return "has no kprobes"
		case errors.Is(err, os.ErrNotExist):
			return "has no such function to kprobe"
		}
		return "refuses kprobes there"
	case ModeFentry:
		if errors.Is(err, os.ErrPermission) || strings.Contains(msg, "operation not permitted") {
			return "refuses fentry there"
		}
		if errors.Is(err, ebpf.ErrNotSupported) || strings.Contains(msg, "not supported") {
			return "does not support fentry there"
		}
		return "cannot use fentry there"
	}
	return "cannot hook it"
}

// noKexecLimitation says what recording means on a kernel built without
// kexec: only attempts can happen there, and each is still recorded whole.
func noKexecLimitation(evidence string) Limitation {
	return Limitation{
		Plain: "this kernel has no kexec: every kexec call fails with ENOSYS and loads nothing; " +
			"each attempt is still recorded with its caller and segments",
		Detail: "kernel without kexec: only sys_enter attached, each return recorded as ENOSYS known in advance (" +
			evidence + ")",
	}
}
