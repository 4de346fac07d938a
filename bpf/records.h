/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Raw record layout shared by the BPF programs (producer) and bpf/layout
 * (the Go decoder). These bytes are stored verbatim in captures ("raw in,
 * decode late"), so this layout is a file format:
 *   - all integers are in the recording host's byte order (the capture
 *     header says which), naturally aligned, no implicit padding;
 *   - a record type's fields are only ever appended; the header's size says
 *     how long this instance is, and h.version is bumped when fields are
 *     appended, so an old reader skips what it does not know and a new
 *     reader recognises an old record by its length;
 *   - any change here must be mirrored in bpf/layout/layout.go, whose tests
 *     compare the sizes and offsets with the bpf2go-generated Go types.
 */
#ifndef KEXECREC_RECORDS_H
#define KEXECREC_RECORDS_H

/* Bumped when a record's meaning changes incompatibly (never for appends). */
#define KR_LAYOUT_VERSION 1

/* Record types emitted by BPF (1..15). 16.. are written by user space. */
enum kr_rec_type {
	KR_REC_ENTER = 1,       /* struct kr_enter: syscall entry, caller, raw args */
	KR_REC_SEGMENTS = 2,    /* struct kr_segments: kexec_load segment table */
	KR_REC_PIECE = 3,       /* struct kr_piece + data: a piece of payload bytes */
	KR_REC_PAYLOAD_END = 4, /* struct kr_payload_end: BPF's accounting of one payload */
	KR_REC_EXIT = 5,        /* struct kr_exit: return value and duration */
	KR_REC_FILE = 6,        /* struct kr_file: a file the kernel read for kexec_file_load */
	KR_REC_CALLER = 7,      /* struct kr_caller: the caller's exe, cwd, tty, cgroup, ancestry */
	KR_REC_ARGS = 8,        /* struct kr_args + data: the caller's argv or environment bytes */
	KR_REC_LOADED = 9,      /* struct kr_loaded: one segment of the image the kernel staged (readback.h) */
};

/* Which payload a piece belongs to. */
enum kr_payload_kind {
	KR_PAYLOAD_SEGMENT = 1, /* kexec_load segment buffer, index = segment number */
	KR_PAYLOAD_KERNEL = 2,  /* kexec_file_load kernel image */
	KR_PAYLOAD_INITRD = 3,  /* kexec_file_load initrd */
	KR_PAYLOAD_CMDLINE = 4, /* kexec_file_load command line (cmdline_len bytes) */
	KR_PAYLOAD_LOADED = 5,  /* a segment's bytes [0, bufsz) as the kernel holds them, index = segment */
	KR_PAYLOAD_LOADED_TAIL = 6, /* the same segment's [bufsz, memsz): the kernel zero-fills it */
};

/* Where the bytes were read: this matters for TOCTOU questions. */
enum kr_source {
	KR_SRC_SYSCALL_ENTRY = 1, /* caller's memory, read at syscall entry */
	KR_SRC_KERNEL_READ = 2,   /* kernel's own buffer (security_kernel_post_read_file / LSM) */
	KR_SRC_KERNEL_PAGES = 3,  /* the staged image's pages, read back at the syscall's exit */
};

/* Which hook produced an ENTER/EXIT record. */
enum kr_hook {
	KR_HOOK_FENTRY = 1,  /* fentry/fexit on the syscall wrapper */
	KR_HOOK_KPROBE = 2,  /* kprobe/kretprobe on the syscall wrapper */
	KR_HOOK_RAW_SYSCALL = 3, /* tp_btf sys_enter/sys_exit filtered by number */
};

/* Syscall ABI of the caller. */
enum kr_abi {
	KR_ABI_X64 = 1,
	KR_ABI_IA32 = 2,
	KR_ABI_X32 = 3,
	KR_ABI_ARM64 = 4,
	KR_ABI_AARCH32 = 5, /* a 32-bit ARM (compat) task on arm64 */
};

/* kr_exit.flags */
enum kr_exit_flag {
	/* ret was not observed at the syscall's exit but known in advance: the
	 * kernel has no kexec (every kexec call runs sys_ni_syscall), so raw
	 * mode attaches sys_enter only and emits this EXIT from there with
	 * ret = -ENOSYS and duration_ns = 0 (docs/kexec-facts.md). */
	KR_XF_RET_KNOWN_ENOSYS = 0x1,
};

/* kr_payload_end.flags */
#define KR_PF_SNAPLEN 0x1      /* capture stopped at the configured snaplen */
#define KR_PF_NO_PAYLOAD 0x2   /* payload capture disabled (--no-payload) */
#define KR_PF_READ_ERROR 0x4   /* at least one piece could not be read */
#define KR_PF_RING_FULL 0x8    /* at least one piece could not be reserved */
#define KR_PF_LOOP_LIMIT 0x10  /* gave up: bpf_loop iteration limit or the hook
				* invocation's time limit reached (rest dropped) */
#define KR_PF_POLICY 0x20      /* cut by the unprivileged-caller policy (caller
				* failed the CAP_SYS_BOOT test): per-payload
				* snaplen, per-uid rate, or ring share */

/* kr_segments.flags */
#define KR_SF_TOO_MANY 0x1 /* nr_segments > KR_MAX_SEGMENTS: only the first 16 read */

/* Indexes of the per-CPU counter array (map "counters"); user space sums
 * them over CPUs and writes them into the capture's statistics chunks. */
enum kr_counter {
	KR_CNT_CALLS = 0,          /* syscall entries seen (recorded or not) */
	KR_CNT_ENTER_DROPPED,      /* ENTER records that could not be reserved */
	KR_CNT_EXIT_DROPPED,       /* EXIT records that could not be reserved */
	KR_CNT_SEGMENTS_DROPPED,   /* SEGMENTS records that could not be reserved */
	KR_CNT_PIECES_DROPPED,     /* PIECE records that could not be reserved */
	KR_CNT_PIECE_BYTES_DROPPED,/* payload bytes in those pieces */
	KR_CNT_END_DROPPED,        /* PAYLOAD_END records that could not be reserved */
	KR_CNT_FILE_DROPPED,       /* FILE records that could not be reserved */
	KR_CNT_READ_ERRORS,        /* pieces whose user/kernel read failed */
	KR_CNT_WAIT_LOOPS,         /* iterations spent waiting for ring space */
	KR_CNT_CALLER_DROPPED,     /* CALLER and ARGS records that could not be reserved */
	KR_CNT_POLICY_CALLS,       /* calls with at least one payload cut by the unprivileged policy */
	KR_CNT_POLICY_BYTES,       /* payload bytes not captured because of that policy (all causes) */
	KR_CNT_POLICY_RATE_BYTES,  /* of those, cut by the per-uid token bucket */
	KR_CNT_POLICY_RING_BYTES,  /* of those, cut because the ring share was used up */
	KR_CNT_POLICY_TOTAL_RATE_BYTES, /* of those, cut by the bucket shared by all unprivileged uids */
	KR_CNT_MAX,
};

#define KR_MAX_SEGMENTS 16
#define KR_COMM_LEN 16
#define KR_PATH_LEN 256
/* Largest data part of one KR_REC_PIECE. */
#define KR_PIECE_MAX (256 * 1024)

struct kr_hdr {
	__u16 type;    /* enum kr_rec_type */
	__u16 version; /* per-type layout version, 1 at first */
	__u32 size;    /* bytes of this record including this header */
	__u64 call_id; /* unique per recorder run; ties every record of one call together */
	__u64 ts_ns;   /* bpf_ktime_get_boot_ns() */
};

struct kr_enter {
	struct kr_hdr h;
	__u32 pid;       /* tgid */
	__u32 tid;
	__u32 ppid;      /* real_parent's tgid */
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 loginuid;  /* audit loginuid, 4294967295 when unset */
	__u32 sessionid; /* audit session id */
	__u32 syscall_nr; /* as the caller issued it (x32 bit included) */
	__u32 abi;        /* enum kr_abi */
	__u32 hook;       /* enum kr_hook */
	__u32 cpu;
	__u32 mntns;      /* mount namespace inum */
	__u32 pidns;      /* pid namespace inum (of the task's active ns) */
	__u32 _pad0;
	__u64 cgroup_id;
	__u64 args[6];    /* raw arguments in ABI order */
	char comm[KR_COMM_LEN];
};

struct kr_seg {
	__u64 buf;
	__u64 bufsz;
	__u64 mem;
	__u64 memsz;
};

struct kr_segments {
	struct kr_hdr h;
	__u64 nr_passed;  /* nr_segments exactly as passed */
	__u32 nr_copied;  /* entries read into seg[] (<= 16) */
	__s32 read_err;   /* bpf_probe_read_user() result for the array, 0 = ok */
	__u32 flags;      /* KR_SF_* */
	__u32 entry_size; /* 32 (native) or 16 (compat) as read from the caller */
	struct kr_seg seg[KR_MAX_SEGMENTS];
};

struct kr_piece {
	struct kr_hdr h;
	__u16 kind;     /* enum kr_payload_kind */
	__u16 index;    /* segment number, 0 otherwise */
	__u16 source;   /* enum kr_source */
	__u16 _pad0;
	__s32 read_err; /* 0, or the error reading this piece: the piece then still
			 * has its full len, and its data is all zeros (a hole of
			 * exactly [offset, offset + len)) */
	__u32 len;      /* bytes of data that follow (<= KR_PIECE_MAX), the bytes
			 * attempted even when the read failed */
	__u64 offset;   /* offset of data[0] in the payload */
	__u64 total;    /* original length of the payload */
	/* __u8 data[len] follows; h.size = sizeof(struct kr_piece) + len rounded up to 8 */
};

struct kr_payload_end {
	struct kr_hdr h;
	__u16 kind;
	__u16 index;
	__u16 source;
	__u16 _pad0;
	__u64 total;         /* original length */
	__u64 emitted;       /* bytes read and emitted in pieces (read-error pieces,
			      * zero-filled, are not counted) */
	__u32 pieces;        /* pieces submitted (read-error ones included) */
	__u32 dropped;       /* pieces not emitted because of the ring (or the time
			      * limit): once waiting cannot help, the payload ends
			      * and all its remaining pieces count (saturated) */
	__u32 read_errors;   /* pieces whose read failed */
	__u32 flags;         /* KR_PF_* */
};

struct kr_exit {
	struct kr_hdr h;
	__s64 ret;
	__u64 duration_ns; /* exit ts - enter ts; 0 when the entry was not seen */
	__u32 tid;
	__u32 syscall_nr;
	__u32 hook;
	__u32 flags; /* KR_XF_*; 0 in captures from before the field (was padding) */
};

struct kr_file {
	struct kr_hdr h;
	__u32 kind;   /* KR_PAYLOAD_KERNEL or KR_PAYLOAD_INITRD (from the CO-RE-resolved read id) */
	__u32 dev;    /* s_dev of the inode's superblock (kernel encoding: major<<20 | minor) */
	__u64 ino;
	__u64 size;   /* bytes the kernel read */
	__u64 i_size; /* the inode's size */
	char path[KR_PATH_LEN]; /* d_path of the file, NUL-terminated, may be cut */
};

/* ---- the caller, read at syscall entry (KR_REC_CALLER, KR_REC_ARGS) ----
 * Emitted before the call's ENTER record (the recorder then knows, when it
 * sees the ENTER, which facts it must still read from /proc). */

#define KR_MAX_ANCESTORS 8
#define KR_TTY_NAME_LEN 64

/* kr_caller.flags: which facts were read, and how */
#define KR_CF_EXE 0x1          /* exe_* filled from mm->exe_file */
#define KR_CF_EXE_DELETED 0x2  /* the executable's dentry is unlinked: "(deleted)" */
#define KR_CF_EXE_CUT 0x4      /* exe path too long or deep: starts with "..." */
#define KR_CF_CWD 0x8          /* cwd filled from fs->pwd */
#define KR_CF_CWD_CUT 0x10
#define KR_CF_CWD_DELETED 0x20
#define KR_CF_TTY 0x40         /* the task has a controlling tty */
#define KR_CF_CGROUP 0x80      /* cgroup: the cgroup v2 path (kernfs walk) */
#define KR_CF_CGROUP_CUT 0x100 /* deeper or longer than read: starts with "..." */
#define KR_CF_NS_PID 0x200     /* ns_pid/ns_tid are valid */
#define KR_CF_ANC_MORE 0x400   /* ancestry stopped at KR_MAX_ANCESTORS before an init */
#define KR_CF_ANC_INIT 0x800   /* ancestry ends at pid 1 or the pid namespace's init */

/* kr_ancestor.flags */
#define KR_AF_EXE 0x1         /* exe path read (kernel threads have none) */
#define KR_AF_EXE_DELETED 0x2
#define KR_AF_EXE_CUT 0x4
#define KR_AF_NS_INIT 0x8     /* pid 1 of its own pid namespace */

struct kr_ancestor {
	__u32 pid;   /* tgid */
	__u32 tid;
	__u32 uid;
	__u32 euid;
	__u64 start_ns; /* start_boottime: CLOCK_BOOTTIME of its fork */
	__u32 ns_pid;   /* tgid in its own pid namespace */
	__u32 flags;    /* KR_AF_* */
	char comm[KR_COMM_LEN];
	char exe[KR_PATH_LEN];
};

struct kr_caller {
	struct kr_hdr h;
	__u32 flags;     /* KR_CF_* */
	__u32 exe_dev;   /* kernel encoding: major<<20 | minor */
	__u64 exe_ino;
	__u64 exe_size;
	__s64 exe_mtime_sec;
	__s64 exe_ctime_sec;
	__u32 exe_mtime_nsec;
	__u32 exe_ctime_nsec;
	__u32 tty_major;
	__u32 tty_minor;
	__u32 ns_pid;    /* tgid as the caller's own pid namespace sees it */
	__u32 ns_tid;
	__u32 ns_level;  /* depth of the caller's pid namespace, 0 = initial */
	__u32 nr_ancestors;
	char exe[KR_PATH_LEN];    /* NUL-terminated; "..." first when cut */
	char cwd[KR_PATH_LEN];
	char cgroup[KR_PATH_LEN]; /* cgroup v2 path from the hierarchy's root */
	char tty[KR_TTY_NAME_LEN];
	struct kr_ancestor anc[KR_MAX_ANCESTORS]; /* parent first */
};

/* kr_args.kind */
#define KR_ARGS_ARGV 1
#define KR_ARGS_ENV 2

struct kr_args {
	struct kr_hdr h;
	__u32 kind;     /* KR_ARGS_* */
	__s32 read_err; /* 0, or the bpf_probe_read_user error (data then all zeros) */
	__u64 total;    /* real length: arg_end - arg_start (env_end - env_start) */
	__u32 len;      /* bytes of data that follow (<= total, cut at --max-args) */
	__u32 _pad0;
	/* __u8 data[len] follows: NUL-separated strings as in /proc/PID/cmdline;
	 * h.size = sizeof(struct kr_args) + len rounded up to 8 */
};

/* ---- the staged image read back at the syscall's exit (KR_REC_LOADED) ----
 * One record per segment of the image the call installed, after its
 * KR_PAYLOAD_LOADED / KR_PAYLOAD_LOADED_TAIL payloads (read only when
 * status is KR_LS_READ). */

/* kr_loaded.status: read, or why the segment was not read back */
enum kr_loaded_status {
	KR_LS_READ = 0,      /* read back: the payloads follow */
	KR_LS_MODE = 1,      /* this run cannot read back (user space said why in the header notes) */
	KR_LS_NO_SYMBOLS = 2,/* kexec_image / kexec_crash_image / page_offset_base not in kallsyms */
	KR_LS_NO_IMAGE = 3,  /* the kernel's image pointer was empty or unreadable at the exit */
	KR_LS_REPLACED = 4,  /* the image's segments are not the call's: another load replaced it */
	KR_LS_BUSY = 5,      /* another readback was running (one at a time: shared page table) */
	KR_LS_TOO_LARGE = 6, /* the image has more pages than the readback's page table holds */
	KR_LS_ENTRY_LIST = 7,/* the kimage entry list did not lead to this segment's pages */
};

/* kr_loaded.image_type */
#define KR_IMAGE_NORMAL 0 /* kexec_image: pages found through the kimage entry list */
#define KR_IMAGE_CRASH 1  /* kexec_crash_image: the crash range at the destination */

/* kr_loaded.tail_flags. The tail [bufsz, memsz) is zero-filled by the
 * kernel: BPF checks its whole pages (from bufsz rounded up to a page) for
 * zeros instead of sending them; the tail payload carries only the partial
 * page after bufsz, or, once a page is found not zero, everything from
 * bufsz to memsz. */
#define KR_TF_NONZERO 0x1 /* a page not zero: the tail payload is [bufsz, memsz) */
#define KR_TF_CUT 0x2     /* the time limit stopped the check at zero_checked */

struct kr_loaded {
	struct kr_hdr h;
	__u16 index;       /* segment number in the kernel's image */
	__u16 nr_segments; /* image->nr_segments (0 when no image was read) */
	__u32 status;      /* enum kr_loaded_status */
	__u32 image_type;  /* KR_IMAGE_* */
	__u32 _pad0;
	__u64 bufsz;       /* the kernel's bufsz for this segment */
	__u64 mem;         /* physical destination */
	__u64 memsz;
	__u64 zero_checked; /* bytes from bufsz rounded up to a page found zero by BPF */
	__u32 tail_flags;   /* KR_TF_* */
	__u32 _pad1;
};

#endif
