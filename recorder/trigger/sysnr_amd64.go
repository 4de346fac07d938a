package trigger

import "golang.org/x/sys/unix"

// Syscall numbers on x86_64 (docs/kexec-facts.md).
const (
	SysKexecLoad     = 246
	SysKexecFileLoad = 320
)

// map32Bit places a compat caller's buffers below 4 GiB.
const map32Bit = unix.MAP_32BIT
