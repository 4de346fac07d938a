//go:build arm64

package recorder

import "github.com/kexecrec/kexecrec/bpf"

// The arm64 syscall wrappers (arch/arm64/include/asm/syscall_wrapper.h).
// AArch32 (compat) callers make kexec_load through
// __arm64_compat_sys_kexec_load (syscall 347, compat segment entries) and
// kexec_file_load through the native __arm64_sys_kexec_file_load (syscall
// 401); the BPF programs tell them from AArch64 calls by the number
// (bpf/arch.h), and raw mode by the task's execution state as well.
const (
	symKexecLoad        = "__arm64_sys_kexec_load"
	symKexecFileLoad    = "__arm64_sys_kexec_file_load"
	symAArch32KexecLoad = "__arm64_compat_sys_kexec_load"
)

// fentryTargets are the syscall wrappers whose BTF funcs newKernelTargets
// resolves where the kernel BTF names them more than once.
var fentryTargets = []string{symKexecLoad, symKexecFileLoad, symAArch32KexecLoad}

// kexecWrappers are the syscall wrappers the fentry and kprobe modes hook,
// mandatory ones first. The compat one is optional: a kernel built without
// CONFIG_COMPAT runs no AArch32 task, and has no such wrapper.
func kexecWrappers(progs *bpf.KexecrecProgramSpecs) []wrapperHooks {
	return []wrapperHooks{
		{symKexecLoad, false, "",
			progs.FentryKexecLoad, progs.FexitKexecLoad, progs.KprobeKexecLoad, progs.KretprobeKexecLoad},
		{symKexecFileLoad, false, "",
			progs.FentryKexecFileLoad, progs.FexitKexecFileLoad, progs.KprobeKexecFileLoad, progs.KretprobeKexecFileLoad},
		{symAArch32KexecLoad, true, "32-bit ARM (AArch32) kexec_load calls will not be seen",
			progs.FentryAarch32KexecLoad, progs.FexitAarch32KexecLoad, progs.KprobeAarch32KexecLoad, progs.KretprobeAarch32KexecLoad},
	}
}
