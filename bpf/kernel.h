/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types the programs touch, declared by hand instead of a
 * generated vmlinux.h (no bpftool on the build machines). Every struct is
 * marked preserve_access_index, so clang emits CO-RE relocations and libbpf
 * (cilium/ebpf) resolves each field by name against the running kernel's BTF:
 * only the names and types must match, not the offsets or the member order.
 */
#ifndef KEXECREC_KERNEL_H
#define KEXECREC_KERNEL_H

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* User registers saved at syscall entry (arch/x86/include/asm/ptrace.h). */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

typedef struct { unsigned int val; } kuid_t;
typedef struct { unsigned int val; } kgid_t;

struct thread_info {
	__u32 status; /* TS_COMPAT lives here on x86 */
};

/* kernel_cap_t is struct { __u32 cap[2]; } before 6.3 and struct { u64 val; }
 * since: only cap_effective's offset is relocated (a struct-typed field
 * matches either) and its first 8 bytes are read raw. */
struct kr_kernel_cap {
	__u64 val;
};

struct user_namespace {
	int level; /* 0 = the initial user namespace */
};

struct cred {
	kuid_t euid;
	kgid_t egid;
	struct kr_kernel_cap cap_effective;
	struct user_namespace *user_ns;
};

struct ns_common {
	unsigned int inum;
};

struct mnt_namespace {
	struct ns_common ns;
};

struct pid_namespace {
	struct ns_common ns;
};

struct nsproxy {
	struct mnt_namespace *mnt_ns;
};

struct upid {
	int nr;
	struct pid_namespace *ns;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

struct task_struct {
	struct thread_info thread_info;
	int tgid;
	struct task_struct *real_parent;
	const struct cred *cred;
	kuid_t loginuid;
	unsigned int sessionid;
	struct nsproxy *nsproxy;
	struct pid *thread_pid;
};

struct qstr {
	union {
		struct {
			__u32 hash;
			__u32 len;
		};
		__u64 hash_len;
	};
	const unsigned char *name;
};

struct super_block {
	unsigned int s_dev;
};

struct inode {
	unsigned long i_ino;
	long long i_size;
	struct super_block *i_sb;
};

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
};

struct vfsmount {
	struct dentry *mnt_root;
};

/* fs/mount.h: the vfsmount is embedded in struct mount. */
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
};

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
};

struct file {
	struct path f_path;
	struct inode *f_inode;
};

#pragma clang attribute pop

/* Resolved at load time with bpf_core_enum_value(): the numbers differ between
 * kernels (READING_KEXEC_IMAGE is 4 in 5.4 and 3 in 5.15+), so the values
 * below are placeholders that are never used as such. */
enum kernel_read_file_id {
	READING_KEXEC_IMAGE = 1000,
	READING_KEXEC_INITRAMFS = 1001,
};

/* x86 thread_info status bit for a task inside a 32-bit (ia32) syscall. */
#define TS_COMPAT 0x0002
/* x32 syscalls carry this bit in their number. */
#define X32_SYSCALL_BIT 0x40000000

#endif
