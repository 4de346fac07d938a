package trigger

// int80 issues an ia32 compat system call (see int80_amd64.s).
func int80(nr, a1, a2, a3, a4, a5 uintptr) uintptr

const haveIA32 = true
