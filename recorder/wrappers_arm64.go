//go:build arm64

package recorder

import "github.com/kexecrec/kexecrec/bpf"

// The arm64 syscall wrappers (arch/arm64/include/asm/syscall_wrapper.h).
// AArch32 (compat) callers enter through __arm64_compat_sys_kexec_load,
// which the BPF object has no program for: their calls are not recorded.
const (
	symKexecLoad     = "__arm64_sys_kexec_load"
	symKexecFileLoad = "__arm64_sys_kexec_file_load"
)

// fentryTargets are the syscall wrappers whose BTF funcs newKernelTargets
// resolves where the kernel BTF names them more than once.
var fentryTargets = []string{symKexecLoad, symKexecFileLoad}

// kexecWrappers are the syscall wrappers the fentry and kprobe modes hook.
func kexecWrappers(progs *bpf.KexecrecProgramSpecs) []wrapperHooks {
	return []wrapperHooks{
		{symKexecLoad, false, "",
			progs.FentryKexecLoad, progs.FexitKexecLoad, progs.KprobeKexecLoad, progs.KretprobeKexecLoad},
		{symKexecFileLoad, false, "",
			progs.FentryKexecFileLoad, progs.FexitKexecFileLoad, progs.KprobeKexecFileLoad, progs.KretprobeKexecFileLoad},
	}
}
