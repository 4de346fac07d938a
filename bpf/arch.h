/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What differs between the architectures kexecrec's BPF programs are built
 * for (bpf2go -target amd64,arm64 compiles kexecrec.c once per target with
 * __TARGET_ARCH_x86 or __TARGET_ARCH_arm64): syscall numbers, the ABIs a
 * number belongs to, where the arguments sit in the user registers, the
 * syscall wrappers' names, and the kprobe context's argument registers.
 * Included by kexecrec.c after its helpers; everything else there is shared.
 *
 *   KR_ABI_NATIVE          the 64-bit ABI (kexec_segment entries of 32 bytes)
 *   KR_SYS(name)           the syscall wrapper's symbol, e.g. "__x64_sys_kexec_load"
 *   KR_REGS_NR(regs)       the syscall number in the user pt_regs (CO-RE read)
 *   KR_REGS_NR_BTF(regs)   the same from a trusted BTF pointer (tp_btf)
 *   KR_KPROBE_ARGn(ctx)    argument n of a kprobed kernel function
 *   KR_KPROBE_RET(ctx)     the return value in a kretprobe
 *   is_kexec_nr(nr)        nr is kexec_load/kexec_file_load in some ABI
 *   abi_of(nr)             the caller's ABI (KR_ABI_*)
 *   raw_abi_ok(regs,nr,abi) nr means kexec in that ABI (raw mode filter)
 *   is_file_nr(nr, abi)    the call is kexec_file_load
 *   read_args(regs,abi,a)  the six syscall arguments
 * Syscall numbers: docs/kexec-facts.md.
 */
#ifndef KEXECREC_ARCH_H
#define KEXECREC_ARCH_H

#if defined(__TARGET_ARCH_x86)

#define NR_KEXEC_LOAD_X64 246
#define NR_KEXEC_FILE_LOAD_X64 320
#define NR_KEXEC_LOAD_IA32 283
#define NR_KEXEC_LOAD_X32 (X32_SYSCALL_BIT | 528)
#define NR_KEXEC_FILE_LOAD_X32 (X32_SYSCALL_BIT | 320)

#define KR_ABI_NATIVE KR_ABI_X64
#define KR_SYS(name) "__x64_sys_" name
#define KR_REGS_NR(regs) BPF_CORE_READ(regs, orig_ax)
#define KR_REGS_NR_BTF(regs) ((regs)->orig_ax)
#define KR_KPROBE_ARG1(ctx) ((ctx)->di)
#define KR_KPROBE_ARG2(ctx) ((ctx)->si)
#define KR_KPROBE_ARG3(ctx) ((ctx)->dx)
#define KR_KPROBE_ARG4(ctx) ((ctx)->cx)
#define KR_KPROBE_RET(ctx) ((ctx)->ax)

/* in_ia32_syscall(): the task is inside a 32-bit syscall. */
static __always_inline int in_ia32_syscall(void)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	if (!bpf_core_field_exists(t->thread_info.status))
		return 0;
	return (BPF_CORE_READ(t, thread_info.status) & TS_COMPAT) != 0;
}

static __always_inline __u32 abi_of(__u32 nr)
{
	if (in_ia32_syscall())
		return KR_ABI_IA32;
	if (nr & X32_SYSCALL_BIT)
		return KR_ABI_X32;
	return KR_ABI_X64;
}

/* Syscall arguments from the user registers, per ABI. */
static __always_inline void read_args(struct pt_regs *regs, __u32 abi, __u64 args[6])
{
	if (abi == KR_ABI_IA32) {
		/* ebx, ecx, edx, esi, edi, ebp; only the low 32 bits are the argument. */
		args[0] = (__u32)BPF_CORE_READ(regs, bx);
		args[1] = (__u32)BPF_CORE_READ(regs, cx);
		args[2] = (__u32)BPF_CORE_READ(regs, dx);
		args[3] = (__u32)BPF_CORE_READ(regs, si);
		args[4] = (__u32)BPF_CORE_READ(regs, di);
		args[5] = (__u32)BPF_CORE_READ(regs, bp);
		return;
	}
	args[0] = BPF_CORE_READ(regs, di);
	args[1] = BPF_CORE_READ(regs, si);
	args[2] = BPF_CORE_READ(regs, dx);
	args[3] = BPF_CORE_READ(regs, r10);
	args[4] = BPF_CORE_READ(regs, r8);
	args[5] = BPF_CORE_READ(regs, r9);
	/* x32 arguments stay as the registers held them (raw evidence); the
	 * pointers and counts used for reading are cut to 32 bits in on_enter,
	 * as the kernel's compat handler does. */
}

static __always_inline int is_kexec_nr(__u32 nr)
{
	return nr == NR_KEXEC_LOAD_X64 || nr == NR_KEXEC_FILE_LOAD_X64 || nr == NR_KEXEC_LOAD_IA32 ||
	       nr == NR_KEXEC_LOAD_X32 || nr == NR_KEXEC_FILE_LOAD_X32;
}

/* 283 is kexec_load only for 32-bit tasks; 246/320 only for 64-bit ones. */
static __always_inline int raw_abi_ok(struct pt_regs *regs, __u32 nr, __u32 abi)
{
	return (abi == KR_ABI_IA32) == (nr == NR_KEXEC_LOAD_IA32);
}

/* The return value sys_exit reports: the handler's long, as is. */
static __always_inline __s64 raw_exit_ret(__s64 ret, __u32 abi)
{
	return ret;
}

/* ia32 has no kexec_file_load. */
static __always_inline int is_file_nr(__u32 nr, __u32 abi)
{
	return (nr == NR_KEXEC_FILE_LOAD_X64 || nr == NR_KEXEC_FILE_LOAD_X32) && abi != KR_ABI_IA32;
}

#elif defined(__TARGET_ARCH_arm64)

/* include/uapi/asm-generic/unistd.h */
#define NR_KEXEC_LOAD_ARM64 104
#define NR_KEXEC_FILE_LOAD_ARM64 294
/* An AArch32 (compat) task's numbers (arch/arm64/tools/syscall_32.tbl):
 * kexec_load enters through __arm64_compat_sys_kexec_load (compat segment
 * entries), kexec_file_load through the native __arm64_sys_kexec_file_load
 * (its arguments need no conversion). */
#define NR_KEXEC_LOAD_AARCH32 347
#define NR_KEXEC_FILE_LOAD_AARCH32 401

/* pstate of an AArch32 (compat) task: PSR_MODE32_BIT (arch/arm64/include/uapi/asm/ptrace.h). */
#define KR_PSR_MODE32_BIT 0x10

#define KR_ABI_NATIVE KR_ABI_ARM64
#define KR_SYS(name) "__arm64_sys_" name
#define KR_REGS_NR(regs) BPF_CORE_READ(regs, syscallno)
#define KR_REGS_NR_BTF(regs) ((regs)->syscallno)
#define KR_KPROBE_ARG1(ctx) ((ctx)->regs[0])
#define KR_KPROBE_ARG2(ctx) ((ctx)->regs[1])
#define KR_KPROBE_ARG3(ctx) ((ctx)->regs[2])
#define KR_KPROBE_ARG4(ctx) ((ctx)->regs[3])
#define KR_KPROBE_RET(ctx) ((ctx)->regs[0])

/* The ABI a kexec number belongs to. The number sets are disjoint, and the
 * wrappers are entered only with their own ABI's number (the kernel
 * dispatches an AArch32 task's 347 to the compat wrapper and its 401 to
 * __arm64_sys_kexec_file_load, where regs->syscallno is 401); in raw mode
 * raw_abi_ok then checks the task's execution state, since an AArch32
 * task's 104 and 294 are other syscalls and an AArch64 task's 347 and 401
 * are not kexec. */
static __always_inline __u32 abi_of(__u32 nr)
{
	if (nr == NR_KEXEC_LOAD_AARCH32 || nr == NR_KEXEC_FILE_LOAD_AARCH32)
		return KR_ABI_AARCH32;
	return KR_ABI_ARM64;
}

static __always_inline int is_kexec_nr(__u32 nr)
{
	return nr == NR_KEXEC_LOAD_ARM64 || nr == NR_KEXEC_FILE_LOAD_ARM64 || nr == NR_KEXEC_LOAD_AARCH32 ||
	       nr == NR_KEXEC_FILE_LOAD_AARCH32;
}

/* The number means kexec only when the task runs in that ABI's execution
 * state: AArch32 (PSR_MODE32_BIT in the saved pstate) for 347/401, AArch64
 * for 104/294. */
static __always_inline int raw_abi_ok(struct pt_regs *regs, __u32 nr, __u32 abi)
{
	int aarch32 = (BPF_CORE_READ(regs, pstate) & KR_PSR_MODE32_BIT) != 0;

	return aarch32 == (abi == KR_ABI_AARCH32);
}

static __always_inline int is_file_nr(__u32 nr, __u32 abi)
{
	return nr == NR_KEXEC_FILE_LOAD_ARM64 || nr == NR_KEXEC_FILE_LOAD_AARCH32;
}

/* The return value sys_exit reports. An AArch32 task's result is a 32-bit
 * int: the kernel keeps only the low 32 bits of x0 for a compat task, and
 * kernels whose regs_return_value does not sign-extend them for compat
 * tasks hand the tracepoint -EPERM as 4294967295. Sign-extending here
 * gives the result the task sees on every kernel. */
static __always_inline __s64 raw_exit_ret(__s64 ret, __u32 abi)
{
	if (abi == KR_ABI_AARCH32)
		return (__s32)ret;
	return ret;
}

/* Arguments in x0-x5 (an AArch32 task's r0-r5). At syscall entry x0 still
 * holds the first argument (the kernel overwrites it with the return value
 * only on the way out). An AArch32 argument is the low 32 bits: that is
 * what the task passed (its registers are 32 bits wide) and what the compat
 * wrappers take. */
static __always_inline void read_args(struct pt_regs *regs, __u32 abi, __u64 args[6])
{
	args[0] = BPF_CORE_READ(regs, regs[0]);
	args[1] = BPF_CORE_READ(regs, regs[1]);
	args[2] = BPF_CORE_READ(regs, regs[2]);
	args[3] = BPF_CORE_READ(regs, regs[3]);
	args[4] = BPF_CORE_READ(regs, regs[4]);
	args[5] = BPF_CORE_READ(regs, regs[5]);
	if (abi == KR_ABI_AARCH32) {
		for (int i = 0; i < 6; i++)
			args[i] = (__u32)args[i];
	}
}

#endif

#endif
