package trigger

// Syscall numbers on arm64 (docs/kexec-facts.md).
const (
	SysKexecLoad     = 104
	SysKexecFileLoad = 294
)

// map32Bit: arm64 has no compat caller here (IA32 and X32 are refused).
const map32Bit = 0
