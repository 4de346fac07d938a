//go:build 386 || amd64

package recorder

import "github.com/kexecrec/kexecrec/bpf"

// The x86 syscall wrappers (arch/x86/include/asm/syscall_wrapper.h): the
// 64-bit entry points, and the compat ones for ia32 and x32 callers.
const (
	symKexecLoad       = "__x64_sys_kexec_load"
	symKexecFileLoad   = "__x64_sys_kexec_file_load"
	symCompatKexecLoad = "__ia32_compat_sys_kexec_load"
	symX32KexecLoad    = "__x32_compat_sys_kexec_load"
)

// fentryTargets are the syscall wrappers whose BTF funcs newKernelTargets
// resolves where the kernel BTF names them more than once.
var fentryTargets = []string{symKexecLoad, symKexecFileLoad, symCompatKexecLoad, symX32KexecLoad}

// kexecWrappers are the syscall wrappers the fentry and kprobe modes hook,
// mandatory ones first.
func kexecWrappers(progs *bpf.KexecrecProgramSpecs) []wrapperHooks {
	return []wrapperHooks{
		{symKexecLoad, false, "",
			progs.FentryKexecLoad, progs.FexitKexecLoad, progs.KprobeKexecLoad, progs.KretprobeKexecLoad},
		{symKexecFileLoad, false, "",
			progs.FentryKexecFileLoad, progs.FexitKexecFileLoad, progs.KprobeKexecFileLoad, progs.KretprobeKexecFileLoad},
		{symCompatKexecLoad, true, "32-bit (ia32) kexec_load calls will not be seen",
			progs.FentryCompatKexecLoad, progs.FexitCompatKexecLoad, progs.KprobeCompatKexecLoad, progs.KretprobeCompatKexecLoad},
		{symX32KexecLoad, true, "x32 kexec_load calls will not be seen",
			progs.FentryX32KexecLoad, progs.FexitX32KexecLoad, progs.KprobeX32KexecLoad, progs.KretprobeX32KexecLoad},
	}
}
