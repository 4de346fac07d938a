package recorder

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/bpf"
)

// kexec_file_load reads the kernel and initrd itself; the recorder takes
// their bytes where the kernel hands them to the security hooks,
// security_kernel_post_read_file. Three ways to get there, tried in this
// order (FileHookOrder):
//
//   - fentry on security_kernel_post_read_file: cheapest, and it runs
//     before any LSM decides, so a file that IMA or another LSM then refuses
//     is captured too;
//   - a kprobe on the same function: the same view, where fentry is not
//     available, at a kprobe's cost;
//   - a BPF-LSM program on the kernel_post_read_file hook: needs bpf in the
//     active LSM list (lsm=... or CONFIG_LSM); it runs in the LSM order, and
//     the LSM framework stops at the first LSM that refuses, so a file an
//     earlier LSM refuses is not seen. It is the way in for kernels without
//     kprobes whose fentry is refused, and `--attach lsm` forces it.

// File hook paths (FileHook, the capture header's file_hook option).
const (
	FileHookFentry = "fentry"
	FileHookKprobe = "kprobe"
	FileHookLSM    = "lsm"
	FileHookNone   = "none"
)

// FileHookOrder is the order the file hook paths are tried in auto.
const FileHookOrder = "fentry,kprobe,lsm"

// lsmHook is the LSM hook the lsm path attaches to (bpf_lsm_<hook> in BTF).
const lsmHook = "kernel_post_read_file"

// fileHookSource is a Source that says how it reads kexec_file_load's files.
type fileHookSource interface {
	FileHook() string
}

// FileHook is the path src captures kexec_file_load's files through
// (FileHookFentry, ...), "" when src does not say.
func FileHook(src Source) string {
	if fs, ok := src.(fileHookSource); ok {
		return fs.FileHook()
	}
	return ""
}

// chooseFileHook picks the hook for kexec_file_load's files: the first of
// FileHookOrder that works, or the LSM path alone when forced.
func chooseFileHook(kt *kernelTargets, forceLSM bool, progs *bpf.KexecrecProgramSpecs) (*hook, string, *Limitation, error) {
	lsm := func() (*hook, error) {
		if err := probeLSM(kt); err != nil {
			return nil, err
		}
		return &hook{prog: progs.LsmPostReadFile, kind: "lsm"}, nil
	}
	if forceLSM {
		h, err := lsm()
		if err != nil {
			return nil, "", nil, fmt.Errorf("recorder: attach mode lsm not available on this kernel: %w", err)
		}
		return h, FileHookLSM, nil, nil
	}
	fentryErr := probeTracing(kt, ebpf.AttachTraceFEntry, symPostReadFile)
	if fentryErr == nil {
		return &hook{prog: progs.FentryPostReadFile, kind: "tracing"}, FileHookFentry, nil, nil
	}
	kprobeErr := probeKprobe(symPostReadFile, false)
	if kprobeErr == nil {
		return &hook{prog: progs.KprobePostReadFile, kind: "kprobe", symbol: symPostReadFile}, FileHookKprobe, nil, nil
	}
	h, lsmErr := lsm()
	if lsmErr == nil {
		return h, FileHookLSM, nil, nil
	}
	l := postReadFileLimitation(fentryErr, kprobeErr, lsmErr)
	return nil, FileHookNone, &l, nil
}

// probeLSM checks that BPF LSM is active and that a trivial program loads
// and attaches on the kernel_post_read_file hook. Where bpf is not in the
// active LSM list the kernel accepts such a program but never runs it, so
// the list is checked first.
func probeLSM(kt *kernelTargets) error {
	if err := bpfLSMActive(); err != nil {
		return err
	}
	prog, err := loadProbe(kt, &ebpf.ProgramSpec{
		Name:         "kr_probe",
		Type:         ebpf.LSM,
		AttachType:   ebpf.AttachLSMMac,
		AttachTo:     lsmHook,
		Instructions: trivialInsns(),
		License:      "GPL",
	})
	if err != nil {
		return fmt.Errorf("load lsm %s: %w", lsmHook, err)
	}
	defer prog.Close()
	l, err := link.AttachLSM(link.LSMOptions{Program: prog})
	if err != nil {
		return fmt.Errorf("attach lsm %s: %w", lsmHook, err)
	}
	return l.Close()
}

// Where the active LSM list is read.
var (
	lsmListPath    = "/sys/kernel/security/lsm"
	kernelCmdline  = "/proc/cmdline"
	kernelConfigGz = "/proc/config.gz"
	bootConfigDir  = "/boot" // config-<release>, as distributions install it
)

// errLSMInactive: bpf is not in the active LSM list.
var errLSMInactive = errors.New("BPF LSM not active")

// lsmRefusal says in a few words why the LSM path could not be used.
func lsmRefusal(err error) string {
	switch {
	case errors.Is(err, errLSMUnknown):
		return "whether BPF LSM is active cannot be told"
	case errors.Is(err, errLSMInactive):
		return "BPF LSM is not active"
	}
	return "its BPF LSM hook cannot be used"
}

// errLSMUnknown: the active LSM list could not be read anywhere.
var errLSMUnknown = errors.New("cannot tell whether BPF LSM is active (no " +
	"/sys/kernel/security/lsm: securityfs not mounted; no lsm= on the kernel command line; no CONFIG_LSM in /proc/config.gz or /boot/config-<release>)")

// bpfLSMActive reports whether bpf is in the active LSM list: securityfs's
// list when mounted, else the lsm= boot parameter, else the kernel's
// default CONFIG_LSM (which applies when no lsm= was given).
func bpfLSMActive() error {
	list, from, err := activeLSMs()
	if err != nil {
		return err
	}
	if !slices.Contains(list, "bpf") {
		return fmt.Errorf("%w (%s: %s; boot with lsm=...,bpf)", errLSMInactive, from, strings.Join(list, ","))
	}
	return nil
}

// activeLSMs is the active LSM list and where it was read.
func activeLSMs() ([]string, string, error) {
	if b, err := os.ReadFile(lsmListPath); err == nil {
		return splitList(string(b)), lsmListPath, nil
	}
	if b, err := os.ReadFile(kernelCmdline); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if f == "--" {
				break // what follows is init's
			}
			if v, ok := strings.CutPrefix(f, "lsm="); ok {
				return splitList(v), "lsm= on the kernel command line", nil
			}
		}
	}
	if list, from, ok := configLSM(); ok {
		return list, "CONFIG_LSM in " + from, nil
	}
	return nil, "", errLSMUnknown
}

// configLSM reads CONFIG_LSM from the running kernel's config:
// /proc/config.gz, else /boot/config-<release>.
func configLSM() ([]string, string, bool) {
	var b []byte
	from := kernelConfigGz
	if f, err := os.Open(kernelConfigGz); err == nil {
		defer f.Close()
		if zr, err := gzip.NewReader(f); err == nil {
			b, _ = io.ReadAll(io.LimitReader(zr, 4<<20))
		}
	}
	if b == nil {
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			return nil, "", false
		}
		from = filepath.Join(bootConfigDir, "config-"+unix.ByteSliceToString(u.Release[:]))
		f, err := os.Open(from)
		if err != nil {
			return nil, "", false
		}
		defer f.Close()
		b, _ = io.ReadAll(io.LimitReader(f, 4<<20))
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("CONFIG_LSM=")); ok {
			return splitList(strings.Trim(string(v), `"`)), from, true
		}
	}
	return nil, "", false
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(strings.TrimSpace(s), ",") {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// postReadFileLimitation: no hook on security_kernel_post_read_file, where
// kexec_file_load's files are read.
func postReadFileLimitation(fentryErr, kprobeErr, lsmErr error) Limitation {
	return Limitation{
		Plain: fmt.Sprintf("kexec_file_load's files will not be captured: this kernel %s and %s, and %s; "+
			"kexec_load is fully recorded and kexec_file_load calls still are, without the files",
			refusal(ModeFentry, fentryErr), refusal(ModeKprobe, kprobeErr), lsmRefusal(lsmErr)),
		Detail: fmt.Sprintf("no hook on %s: kexec_file_load kernel and initrd bytes will not be captured (fentry: %v; kprobe: %v; lsm: %v)",
			symPostReadFile, shortErr(fentryErr), shortErr(kprobeErr), shortErr(lsmErr)),
	}
}
