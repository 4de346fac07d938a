package recorder

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/kexecrec/kexecrec/bpf"
)

// hook is one program of the BPF object and where it attaches. Programs are
// named through bpf2go's generated specs, so a program renamed or removed in
// bpf/kexecrec.c breaks the build here instead of failing at attach time.
type hook struct {
	prog   *ebpf.ProgramSpec
	kind   string // "tracing", "kprobe", "kretprobe", "lsm"
	symbol string // kprobe symbol
}

// wrapperHooks are the four programs of one syscall wrapper: entry and exit
// in fentry mode, entry and exit in kprobe mode.
type wrapperHooks struct {
	sym      string
	optional bool   // an optional wrapper's absence is a warning, not an error
	why      string // what is not seen without it

	fentry, fexit, kprobe, kretprobe *ebpf.ProgramSpec
}

// chooseMode resolves "auto" by probing, or checks a forced mode. The
// lsm mode forces the BPF-LSM file hook and takes the first syscall mode
// that works without kprobes (fentry, then raw).
func chooseMode(kt *kernelTargets, mode string) (string, error) {
	order := []string{ModeFentry, ModeKprobe, ModeRaw}
	switch mode {
	case ModeAuto:
	case ModeLSM:
		order = []string{ModeFentry, ModeRaw}
	default:
		if err := probeMode(kt, mode); err != nil {
			return "", fmt.Errorf("recorder: attach mode %s not available on this kernel: %w", mode, err)
		}
		return mode, nil
	}
	var why []string
	for _, m := range order {
		err := probeMode(kt, m)
		if err == nil {
			return m, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", m, err))
	}
	return "", fmt.Errorf("recorder: no attach mode works on this kernel (%s)", strings.Join(why, "; "))
}

// hooksFor lists the syscall programs of a mode, dropping optional ones the
// kernel does not offer (with a limitation each). noKexec (raw mode on a
// kernel without kexec, see decideKexecAbsent) leaves sys_enter alone: the
// return is known in advance. The hook for kexec_file_load's files is
// chosen apart (chooseFileHook).
func hooksFor(kt *kernelTargets, mode string, noKexec bool, progs *bpf.KexecrecProgramSpecs) ([]hook, []Limitation) {
	var hooks []hook
	var warnings []Limitation
	switch mode {
	case ModeRaw:
		if noKexec {
			return []hook{{prog: progs.RawSysEnter, kind: "tracing"}}, nil
		}
		hooks = append(hooks, hook{prog: progs.RawSysEnter, kind: "tracing"}, hook{prog: progs.RawSysExit, kind: "tracing"})
	case ModeFentry, ModeKprobe:
		for _, w := range kexecWrappers(progs) {
			if w.optional {
				if err := probeOptional(kt, mode, w.sym); err != nil {
					warnings = append(warnings, optionalHookLimitation(mode, w.sym, w.why, err))
					continue
				}
			}
			if mode == ModeFentry {
				hooks = append(hooks,
					hook{prog: w.fentry, kind: "tracing"},
					hook{prog: w.fexit, kind: "tracing"})
			} else {
				hooks = append(hooks,
					hook{prog: w.kprobe, kind: "kprobe", symbol: w.sym},
					hook{prog: w.kretprobe, kind: "kretprobe", symbol: w.sym})
			}
		}
	}
	return hooks, warnings
}

// attachHook attaches prog, the loaded program of h.
func attachHook(prog *ebpf.Program, h hook) (link.Link, error) {
	if prog == nil {
		return nil, fmt.Errorf("program %s missing from the loaded collection", h.prog.Name)
	}
	switch h.kind {
	case "lsm":
		return link.AttachLSM(link.LSMOptions{Program: prog})
	case "kprobe":
		return link.Kprobe(h.symbol, prog, nil)
	case "kretprobe":
		return link.Kretprobe(h.symbol, prog, nil)
	default:
		return link.AttachTracing(link.TracingOptions{Program: prog})
	}
}

// shortErr keeps warnings on one line.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// verifierTail keeps the end of a verifier log, where the reason is.
func verifierTail(ve *ebpf.VerifierError) string {
	log := ve.Log
	if len(log) > 8 {
		log = log[len(log)-8:]
	}
	return ve.Cause.Error() + ": " + strings.Join(log, " | ")
}
