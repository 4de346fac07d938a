package trigger

import "golang.org/x/sys/unix"

// Syscall numbers on x86_64 (docs/kexec-facts.md).
const (
	SysKexecLoad     = 246
	SysKexecFileLoad = 320
)

// map32Bit places a compat caller's buffers below 4 GiB.
const map32Bit = unix.MAP_32BIT

// segments32: struct kexec_segment is four 64-bit words here; only ia32
// and x32 callers pass the four-u32 compat layout.
const segments32 = false
