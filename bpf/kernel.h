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

#if defined(__TARGET_ARCH_x86)
/* User registers saved at syscall entry (arch/x86/include/asm/ptrace.h). */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
#elif defined(__TARGET_ARCH_arm64)
/* arch/arm64/include/asm/ptrace.h: x0-x30 are regs[], the syscall number
 * is syscallno. The names mirror the kernel's (anonymous members included),
 * so the CO-RE relocations resolve through the same path. */
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};

struct pt_regs {
	union {
		struct user_pt_regs user_regs;
		struct {
			__u64 regs[31];
			__u64 sp;
			__u64 pc;
			__u64 pstate;
		};
	};
	__u64 orig_x0;
	__s32 syscallno;
};
#else
#error "kexecrec's BPF programs are built for x86 and arm64 only (bpf2go -target amd64,arm64)"
#endif

typedef struct { unsigned int val; } kuid_t;
typedef struct { unsigned int val; } kgid_t;

struct thread_info {
	__u32 status; /* TS_COMPAT lives here on x86 (only read there) */
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
	kuid_t uid;
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

struct file;
struct path;

struct mm_struct {
	unsigned long arg_start, arg_end, env_start, env_end;
	struct file *exe_file;
};

struct tty_driver {
	int major;
	int minor_start;
};

struct tty_struct {
	int index;
	struct tty_driver *driver;
	char name[64];
};

struct signal_struct {
	struct tty_struct *tty;
};

/* kernfs_node.parent became __parent in 6.15 (RCU-protected access). */
struct kernfs_node {
	struct kernfs_node *__parent;
	const char *name;
};

struct kernfs_node___old {
	struct kernfs_node *parent;
};

struct cgroup {
	struct kernfs_node *kn;
};

struct css_set {
	struct cgroup *dfl_cgrp;
};

struct task_struct {
	struct thread_info thread_info;
	int pid;
	int tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	const struct cred *cred;
	kuid_t loginuid;
	unsigned int sessionid;
	struct nsproxy *nsproxy;
	struct pid *thread_pid;
	struct mm_struct *mm;
	struct fs_struct *fs;
	struct signal_struct *signal;
	struct css_set *cgroups;
	__u64 start_boottime;
	char comm[16];
};

/* start_boottime was real_start_time before 5.5. */
struct task_struct___old {
	__u64 real_start_time;
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
	long long i_mtime_sec; /* 6.7+: seconds and nanoseconds apart */
	long long i_ctime_sec;
	__u32 i_mtime_nsec;
	__u32 i_ctime_nsec;
};

struct timespec64 {
	long long tv_sec;
	long tv_nsec;
};

/* Before 6.6 the times are timespec64s; 6.6 renamed i_ctime to __i_ctime. */
struct inode___tspec {
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
};

struct inode___v66 {
	struct timespec64 i_mtime;
	struct timespec64 __i_ctime;
};

struct hlist_bl_node {
	struct hlist_bl_node *next, **pprev;
};

struct dentry {
	struct hlist_bl_node d_hash; /* pprev NULL: unhashed (unlinked, d_unlinked) */
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

struct fs_struct {
	struct path pwd;
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
