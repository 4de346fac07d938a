//go:build !amd64

package trigger

func int80(nr, a1, a2, a3, a4, a5 uintptr) uintptr { panic("ia32 syscalls need amd64") }

const haveIA32 = false
