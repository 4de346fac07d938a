/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * AArch32 (compat) callers on arm64. A 32-bit ARM task's kexec_load is
 * syscall 347 and enters __arm64_compat_sys_kexec_load(const struct pt_regs *)
 * with struct compat_kexec_segment entries (four u32); its kexec_file_load,
 * 401, enters the native __arm64_sys_kexec_file_load, which the programs of
 * kexecrec.c already hook. Raw mode sees both numbers through arch.h's
 * is_kexec_nr/raw_abi_ok. Included last by kexecrec.c: the fentry and kprobe
 * programs below reuse its wrapper_enter, wrapper_exit and kret, and exist
 * only in the arm64 object.
 */
#ifndef KEXECREC_AARCH32_H
#define KEXECREC_AARCH32_H

#if defined(__TARGET_ARCH_arm64)

SEC("fentry/__arm64_compat_sys_kexec_load")
int fentry_aarch32_kexec_load(__u64 *ctx) { return wrapper_enter((void *)ctx[0], KR_HOOK_FENTRY); }
SEC("fexit/__arm64_compat_sys_kexec_load")
int fexit_aarch32_kexec_load(__u64 *ctx) { return wrapper_exit((void *)ctx[0], ctx[1], KR_HOOK_FENTRY); }
SEC("kprobe/__arm64_compat_sys_kexec_load")
int kprobe_aarch32_kexec_load(struct pt_regs *ctx) { return wrapper_enter((void *)KR_KPROBE_ARG1(ctx), KR_HOOK_KPROBE); }
SEC("kretprobe/__arm64_compat_sys_kexec_load")
int kretprobe_aarch32_kexec_load(struct pt_regs *ctx) { return kret(ctx); }

/* enum kr_abi in the object's BTF, so that bpf/objects_test.go can hold
 * bpf/layout's ABI values to the ones compiled here (records.h is the same
 * for both objects). */
const enum kr_abi *unused_abi __attribute__((unused));

#endif

#endif
