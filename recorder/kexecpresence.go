package recorder

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// KnownENOSYS is the format.Header KnownReturn of a capture recorded on a
// kernel without kexec: every kexec call returns ENOSYS, known in advance.
const KnownENOSYS = "ENOSYS"

// kexecImplSymbols exist only in a kernel built with kexec (KEXEC_CORE,
// KEXEC or KEXEC_FILE): the implementation behind the syscalls, not the
// entry points, which a kernel without kexec still has as stubs.
var kexecImplSymbols = []string{
	"kexec_image", "kexec_crash_image", "kimage_load_segment", "kimage_alloc_init",
	"kimage_file_alloc_init", "do_kexec_load", "__do_sys_kexec_load", "__do_sys_kexec_file_load",
	"machine_kexec", "kernel_kexec",
}

// kexecEntrySymbols are the syscall entry points. Without kexec the kernel
// keeps them as COND_SYSCALL stubs that run sys_ni_syscall: weak functions
// (kallsyms type W) on current kernels, weak aliases of sys_ni_syscall
// (same address) on older ones (docs/kexec-facts.md).
var kexecEntrySymbols = []string{
	"__x64_sys_kexec_load", "__x64_sys_kexec_file_load", "__ia32_compat_sys_kexec_load", "__ia32_sys_kexec_load",
	"__ia32_sys_kexec_file_load", "__x32_compat_sys_kexec_load", "__arm64_sys_kexec_load", "__arm64_sys_kexec_file_load",
	"__arm64_compat_sys_kexec_load",
	"sys_kexec_load", "sys_kexec_file_load",
}

// kexecBTFTypes are struct types the kernel's BTF has only when kexec is
// built in (include/linux/kexec.h is only used then).
var kexecBTFTypes = []string{"kimage", "kexec_segment"}

// kallsymsSanity must be listed for a kallsyms listing to be trusted when
// it lacks the kexec symbols (an empty or cut listing proves nothing).
var kallsymsSanity = []string{"_stext", "sys_ni_syscall"}

// kexecVerdict is what the kernel's symbols and types say about kexec.
type kexecVerdict struct {
	Absent   bool   // the kernel has no kexec: every kexec call returns ENOSYS
	Evidence string // one line: what was found (or missing) where
}

// decideKexecAbsent decides, from a kallsyms listing (/proc/kallsyms or
// System.map format: "address type name [module]") and the kernel's BTF,
// whether the kernel has no kexec at all. It says Absent only when both
// agree: no implementation symbol, every entry point a stub (or missing),
// and no kexec type in BTF. Anything else, including an unreadable or
// implausible listing, keeps the answer "present", which costs only the
// sys_exit hook; a wrong "absent" would record made-up return values.
func decideKexecAbsent(kallsyms io.Reader, types *btf.Spec) (kexecVerdict, error) {
	if types == nil {
		return kexecVerdict{}, errors.New("no kernel BTF")
	}
	type sym struct {
		kind byte
		addr string
	}
	want := map[string]bool{}
	for _, list := range [][]string{kexecImplSymbols, kexecEntrySymbols, kallsymsSanity, {"__x64_sys_ni_syscall", "__arm64_sys_ni_syscall"}} {
		for _, n := range list {
			want[n] = true
		}
	}
	found := map[string]sym{}
	sc := bufio.NewScanner(kallsyms)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || len(f[1]) != 1 || len(f) > 3 {
			continue // module symbols ("[mod]") never implement kexec
		}
		if want[f[2]] {
			if _, dup := found[f[2]]; !dup {
				found[f[2]] = sym{kind: f[1][0], addr: f[0]}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return kexecVerdict{}, fmt.Errorf("read kallsyms: %w", err)
	}
	for _, n := range kallsymsSanity {
		if _, ok := found[n]; !ok {
			return kexecVerdict{Evidence: "kallsyms lists no " + n + ": cannot tell"}, nil
		}
	}
	for _, n := range kexecImplSymbols {
		if _, ok := found[n]; ok {
			return kexecVerdict{Evidence: "kallsyms lists " + n}, nil
		}
	}
	niAddrs := map[string]bool{}
	for _, n := range []string{"sys_ni_syscall", "__x64_sys_ni_syscall", "__arm64_sys_ni_syscall"} {
		if s, ok := found[n]; ok && strings.Trim(s.addr, "0") != "" {
			niAddrs[s.addr] = true
		}
	}
	var stubs []string
	for _, n := range kexecEntrySymbols {
		s, ok := found[n]
		if !ok {
			continue
		}
		if s.kind != 'W' && s.kind != 'w' && !niAddrs[s.addr] {
			return kexecVerdict{Evidence: fmt.Sprintf("kallsyms lists %s as a real function (%c)", n, s.kind)}, nil
		}
		stubs = append(stubs, n)
	}
	for _, n := range kexecBTFTypes {
		if _, err := types.AnyTypeByName(n); err == nil {
			return kexecVerdict{Evidence: "kernel BTF has struct " + n}, nil
		} else if !errors.Is(err, btf.ErrNotFound) {
			return kexecVerdict{}, fmt.Errorf("kernel BTF: %w", err)
		}
	}
	entries := "no kexec syscall entry points"
	switch len(stubs) {
	case 0:
	case 1:
		entries = stubs[0] + " is a sys_ni_syscall stub"
	default:
		entries = fmt.Sprintf("%s and %d more entry points are sys_ni_syscall stubs", stubs[0], len(stubs)-1)
	}
	// Short: it is shown in every capture's header.
	return kexecVerdict{Absent: true, Evidence: fmt.Sprintf("kernel has no kexec: kallsyms: %s, no kexec implementation symbol; BTF: no struct %s",
		entries, kexecBTFTypes[0])}, nil
}

// probeKexecAbsent decides for the running kernel (/proc/kallsyms and
// /sys/kernel/btf/vmlinux). Names are listed even where kptr_restrict
// hides the addresses; only the older alias form of the stubs needs them.
func probeKexecAbsent() (kexecVerdict, error) {
	types, err := btf.LoadKernelSpec()
	if err != nil {
		return kexecVerdict{}, fmt.Errorf("load kernel BTF: %w", err)
	}
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return kexecVerdict{}, err
	}
	defer f.Close()
	return decideKexecAbsent(f, types)
}
