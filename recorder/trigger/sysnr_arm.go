package trigger

// Syscall numbers of 32-bit ARM (EABI, arch/arm/tools/syscall.tbl). An
// arm64 kernel runs such a binary as an AArch32 (compat) task with the same
// numbers (arch/arm64/tools/syscall_32.tbl): kexec_load enters
// compat_sys_kexec_load there, kexec_file_load the native handler.
const (
	SysKexecLoad     = 347
	SysKexecFileLoad = 401
)

// map32Bit: every pointer of a 32-bit process is below 4 GiB already.
const map32Bit = 0

// segments32: a 32-bit process's struct kexec_segment is four u32, the
// layout of struct compat_kexec_segment.
const segments32 = true
