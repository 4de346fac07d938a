package trigger

// Syscall numbers on arm64 (docs/kexec-facts.md).
const (
	SysKexecLoad     = 104
	SysKexecFileLoad = 294
)

// map32Bit: IA32 and X32 are refused on arm64 (an AArch32 caller is this
// package built for GOARCH=arm: sysnr_arm.go).
const map32Bit = 0

// segments32: struct kexec_segment is four 64-bit words here.
const segments32 = false
