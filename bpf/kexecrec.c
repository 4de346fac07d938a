//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kexecrec: record every kexec_load / kexec_file_load call with its caller,
 * arguments, return value and the bytes of every payload.
 *
 * Three interchangeable entry/exit hook sets feed the same handlers; user
 * space loads only the set it picked (the others are deleted from the spec):
 *   fentry/fexit   on the syscall wrappers (no cost for other syscalls),
 *   kprobe/kretprobe on the same wrappers,
 *   tp_btf sys_enter/sys_exit filtered by syscall number ("raw", works even
 *   where kexec is not built in, but runs for every syscall).
 * Plus a hook on security_kernel_post_read_file for the kernel and initrd
 * bytes kexec_file_load read itself.
 *
 * Records follow records.h exactly. Nothing is silently short: every payload
 * ends with a PAYLOAD_END saying how much was emitted, dropped or unreadable,
 * and every record that could not be reserved is counted per CPU.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "kernel.h"
#include "records.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Piece records are reserved in two fixed sizes because
 * bpf_ringbuf_reserve() needs a constant: small payloads (the usual
 * setup_data, command line, boot_params) must not take 256 KiB of ring each. */
#define KR_PIECE_SMALL 4096
/* A middle size, the default unprivileged snaplen: a 64 KiB prefix must not
 * hold 256 KiB of the ring (and of the unprivileged share of it). */
#define KR_PIECE_MID 65536

/* Spare loop iterations of one payload for trying a piece again when its
 * wait freed ring space but another CPU's record took it first (a flood of
 * small call records from other callers would otherwise cost a waiting
 * payload a piece each time). */
#define KR_PIECE_RETRIES 64

/* ENOSYS (include/uapi/asm-generic/errno.h; x86 and arm64 use it). */
#define KR_ENOSYS 38

/* Longest bpf_loop the kernel accepts (BPF_MAX_LOOPS). */
#define KR_MAX_LOOPS (1 << 23)

/* ---- configuration, set by user space before load ---- */

/* Bytes captured per payload; 0 = everything. */
volatile const __u64 cfg_snaplen = 0;
/* 1 = emit PAYLOAD_END (flag NO_PAYLOAD) but no bytes. */
volatile const __u32 cfg_no_payload = 0;
/*
 * Time policy. The hooks run at syscall entry, BEFORE the kernel checks
 * CAP_SYS_BOOT, so any user can make them copy and wait; and they run with
 * preemption disabled (kprobes) or inside an RCU read section without
 * cond_resched (fentry, tp_btf). So every hook invocation (a syscall entry
 * with all its payloads, one post-read, an exit) gets, when it starts:
 *   - a WAIT budget: how long in total it may wait for the consumer to free
 *     ring space. Callers that pass capable(CAP_SYS_BOOT) (may_boot: the ones
 *     that can actually load a kernel) get cfg_wait_ns (default 5 s, at most
 *     10 s); every other caller gets cfg_wait_unpriv_ns (default 0: none):
 *     the kernel will answer EPERM, and such a caller must not be able to
 *     stall a CPU. Once the budget is spent, a piece that cannot be reserved
 *     ENDS its payload at once (the rest is counted as dropped), so a spent
 *     budget costs one failed reserve per payload, not one per piece.
 *   - a HARD limit (cfg_limit_ns / cfg_limit_unpriv_ns, the wait budget plus
 *     an allowance for copying), checked before every piece: past it, the
 *     payload ends (flag LOOP_LIMIT, the rest counted as dropped). User
 *     space keeps it well below the soft-lockup and RCU-stall thresholds
 *     (~20 s).
 * Nobody waits when waiting cannot help: when one record cannot fit in the
 * ring at all, or when only one CPU is online (cfg_nr_cpus; with
 * preemption off, the consumer could not run to drain the ring).
 * The deadlines live in the per-thread call_state, never in per-CPU
 * scratch: on a preemptible kernel two invocations can share a CPU.
 */
volatile const __u64 cfg_wait_ns = 0;
volatile const __u64 cfg_wait_unpriv_ns = 0;
volatile const __u64 cfg_limit_ns = 0;
volatile const __u64 cfg_limit_unpriv_ns = 0;
volatile const __u32 cfg_nr_cpus = 1;
/* Record only calls of this process (tgid) and its children; 0 = every
 * process. Used by tests and benchmarks that share the machine with other
 * kexec callers. */
volatile const __u32 cfg_only_tgid = 0;
/* Bytes of the caller's argv recorded at entry (--max-args, at most
 * KR_ARGS_MAX); its environment too when cfg_env is 1 (--env). */
volatile const __u32 cfg_max_args = 4096;
volatile const __u32 cfg_env = 0;
/* 0 skips the caller reads: only benchmarks set it, to measure their cost. */
volatile const __u32 cfg_caller = 1;
/* 1 = raw mode on a kernel without kexec: sys_exit is not attached and
 * raw_sys_enter emits each call's EXIT itself, ret -ENOSYS, flagged
 * KR_XF_RET_KNOWN_ENOSYS (user space decides from kallsyms and BTF). */
volatile const __u32 cfg_ret_known_enosys = 0;
/*
 * Unprivileged policy. The copy happens before the kernel's permission check,
 * so without a bound any local user could make the recorder write as many
 * bytes as it likes and fill the ring while a real load happens. A caller
 * that fails may_boot() (the test of the time policy) gets, per payload:
 *   - at most cfg_unpriv_snaplen bytes (0 = no cut);
 *   - at most what its uid's token bucket holds (cfg_unpriv_rate bytes per
 *     second, up to cfg_unpriv_burst; rate 0 = no bucket), and of that at
 *     most what the bucket shared by all such uids holds (policy.h); an
 *     empty bucket leaves only the call's records and an empty payload;
 *   - no piece while the ring already holds cfg_unpriv_ring_bytes or more
 *     (0 = no share): the rest of the ring is for callers that can load.
 * Every cut sets KR_PF_POLICY on the payload and is counted
 * (KR_CNT_POLICY_*). ENTER, SEGMENTS, CALLER, ARGS and EXIT are never cut.
 */
volatile const __u64 cfg_unpriv_snaplen = 0;
volatile const __u64 cfg_unpriv_rate = 0;
volatile const __u64 cfg_unpriv_burst = 0;
volatile const __u64 cfg_unpriv_ring_bytes = 0;

static __always_inline int filtered_out(void)
{
	struct task_struct *t;

	if (!cfg_only_tgid || (bpf_get_current_pid_tgid() >> 32) == cfg_only_tgid)
		return 0;
	t = (void *)bpf_get_current_task();
	return BPF_CORE_READ(t, real_parent, tgid) != cfg_only_tgid;
}

/* ---- maps ---- */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* replaced by user space (RingBytes) */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KR_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Time budget of one hook invocation (see the time policy above), in
 * bpf_ktime_get_ns() time. */
struct budget {
	__u64 wait_until; /* waits for ring space stop here */
	__u64 stop_at;    /* hard limit: payloads end here */
};

/* Scratch for building a file path (see file_path). Only the first
 * KR_PATH_LEN bytes are used; the rest lets the verifier see every masked
 * access in bounds. */
struct path_scratch {
	char buf[2 * KR_PATH_LEN];
	char name[KR_PATH_LEN]; /* one kernfs node name (cgroup_path) */
	char res[KR_PATH_LEN];  /* a finished path (caller.h's global functions) */
	__u64 pos;              /* start of the path built so far in buf */
};

/* One payload being emitted (emit_payload, piece_cb). Lives in the
 * call_state, not on the stack: BPF-to-BPF calls and bpf_loop callbacks
 * share one 512-byte stack, and emit_payload runs under segment_cb with
 * piece_cb and the ring-space wait callbacks below it. */
struct payload_ctx {
	__u64 call_id;
	__u64 src;   /* user or kernel address of byte 0 */
	__u64 total; /* original length */
	__u64 cap;   /* bytes to capture (total cut at snaplen) */
	__u64 off;   /* next offset to emit */
	__u64 emitted;
	__u64 wait_until; /* the invocation's budget (copied from call_state) */
	__u64 stop_at;
	__u32 pieces;
	__u32 dropped;
	__u32 read_errors;
	__u32 flags;
	__u32 bad_in_row;
	__u16 kind;
	__u16 index;
	__u16 source;
	__u16 user;
	__u32 unpriv; /* the unprivileged policy applies (ring share) */
	__u32 policy; /* cut by it */
};

/* State of a kexec call in progress, keyed by thread id. Lives in a map
 * (not on the 512-byte stack) because the segment table alone is 512 bytes.
 * Everything an invocation needs beyond its stack (time budget, path
 * scratch) lives here too, not in per-CPU maps: fentry and tp_btf programs
 * can be preempted on preemptible kernels, so two invocations may
 * interleave on one CPU, but a thread runs one invocation at a time. */
struct call_state {
	__u64 call_id;
	__u64 enter_ns;
	__u32 syscall_nr;
	__u32 abi;
	__u32 hook;
	__u32 is_file; /* kexec_file_load: the post-read hook emits its files */
	__u64 nr_passed;
	__u32 nr_copied;
	__u32 entry_size;
	__s32 read_err;
	__u32 flags;
	__u32 unpriv;     /* failed may_boot() at entry: the unprivileged policy applies */
	__u32 policy_cut; /* a payload of this call was cut by that policy (counted once) */
	struct budget budget; /* of the hook invocation running now */
	struct kr_seg seg[KR_MAX_SEGMENTS];
	__u32 compat[KR_MAX_SEGMENTS * 4]; /* raw compat entries before widening */
	struct path_scratch path;
	struct payload_ctx payload; /* of the emit_payload running now */
	__u64 kflags; /* the call's flags argument (readback.h) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct call_state);
} calls SEC(".maps");

/* All-zero value used to create call_state entries (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct call_state);
} zero_state SEC(".maps");

/* Call ids are unique per load of the programs (one recorder run). */
__u64 next_call_id = 0;

/* Force bpf2go to emit Go types for every record (-type). */
const struct kr_enter *unused_enter __attribute__((unused));
const struct kr_segments *unused_segments __attribute__((unused));
const struct kr_piece *unused_piece __attribute__((unused));
const struct kr_payload_end *unused_payload_end __attribute__((unused));
const struct kr_exit *unused_exit __attribute__((unused));
const struct kr_file *unused_file __attribute__((unused));
const struct kr_caller *unused_caller __attribute__((unused));
const struct kr_args *unused_args __attribute__((unused));

/* ---- helpers ---- */

static __always_inline void count(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v) /* atomic: fentry/tp_btf programs may be preempted on one CPU */
		__sync_fetch_and_add(v, n);
}

/* CAP_SYS_BOOT (linux/capability.h). */
#define KR_CAP_SYS_BOOT 22

/* Whether the current task would pass the kernel's capable(CAP_SYS_BOOT):
 * the bit in its effective set (current->cred->cap_effective) AND its
 * credentials in the initial user namespace (a task in a user namespace of
 * its own, `unshare -Ur`, has every bit set there but is refused). kernel_cap_t
 * was u32 cap[2] before 6.3 and is u64 val since: both put bit 22 in the
 * first 8 bytes (little endian), so those are read at the CO-RE-relocated
 * offset. A failed read counts as unprivileged (the small budget). */
static __always_inline int may_boot(void)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	const struct cred *c = BPF_CORE_READ(t, cred);
	__u64 caps = 0;

	if (!c || BPF_CORE_READ(c, user_ns, level) != 0)
		return 0;
	if (bpf_probe_read_kernel(&caps, sizeof(caps),
				  (char *)c + bpf_core_field_offset(struct cred, cap_effective)))
		return 0;
	return (caps >> KR_CAP_SYS_BOOT) & 1;
}

/* Starts the time budget of a hook invocation. */
static __always_inline void start_budget(struct budget *b, int priv)
{
	__u64 now = bpf_ktime_get_ns();

	if (priv) {
		b->wait_until = now + cfg_wait_ns;
		b->stop_at = now + cfg_limit_ns;
	} else {
		b->wait_until = now + cfg_wait_unpriv_ns;
		b->stop_at = now + cfg_limit_unpriv_ns;
	}
}

struct wait_ctx {
	__u64 need;
	__u64 deadline;
	__u64 loops;
	__u32 ok;
	__u32 expired;
};

/* One iteration of the wait for ring space: stop when `need` bytes would
 * fit (the ring is virtually contiguous, so free space is all that matters)
 * or when the time budget is spent. */
static long wait_cb(__u64 i, void *arg)
{
	struct wait_ctx *w = arg;
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	__u64 used = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	w->loops++;
	/* The kernel refuses a reserve that would make the ring exactly full. */
	if (used + w->need < size) {
		w->ok = 1;
		return 1;
	}
	if (bpf_ktime_get_ns() > w->deadline) {
		w->expired = 1;
		return 1;
	}
	return 0;
}

/* One bpf_loop may run at most 2^23 iterations, which can be shorter than
 * the time budget on a fast machine: rounds of inner loops stretch it. */
#define KR_WAIT_ROUNDS 64

static long wait_round_cb(__u64 i, void *arg)
{
	struct wait_ctx *w = arg;

	bpf_loop(KR_MAX_LOOPS, wait_cb, w, 0);
	return w->ok || w->expired;
}

/* Waits until a record of `size` bytes could be reserved, at most until
 * wait_until (and 64 * 2^23 iterations). Returns 1 when it is worth trying
 * again; 0 when waiting cannot help or the budget is spent. Every iteration
 * is counted. */
static __always_inline int wait_for_space(__u64 size, __u64 wait_until)
{
	struct wait_ctx w = {};

	if (cfg_nr_cpus < 2)
		return 0; /* nobody else can run the consumer */
	/* +8: the ring's own record header. */
	w.need = ((size + 7) & ~7ULL) + 8;
	if (w.need >= bpf_ringbuf_query(&events, BPF_RB_RING_SIZE))
		return 0; /* would never fit */
	if (bpf_ktime_get_ns() >= wait_until)
		return 0; /* this invocation's budget is spent */
	w.deadline = wait_until;
	bpf_loop(KR_WAIT_ROUNDS, wait_round_cb, &w, 0);
	count(KR_CNT_WAIT_LOOPS, w.loops);
	return w.ok;
}

/* bpf_ringbuf_reserve with a constant size, retried once after waiting
 * (until wait_until at most). *hopeless is set when the wait could not
 * help: the budget is spent, or the record can never be reserved now. */
#define reserve(sz, wait_until, hopeless)                                      \
	({                                                                     \
		void *__r = bpf_ringbuf_reserve(&events, (sz), 0);             \
		if (!__r) {                                                    \
			if (wait_for_space((sz), (wait_until)))                \
				__r = bpf_ringbuf_reserve(&events, (sz), 0);   \
			else                                                   \
				*(hopeless) = 1;                               \
		}                                                              \
		__r;                                                           \
	})

static __always_inline void fill_hdr(struct kr_hdr *h, __u16 type, __u32 size, __u64 call_id)
{
	h->type = type;
	h->version = 1;
	h->size = size;
	h->call_id = call_id;
	h->ts_ns = bpf_ktime_get_boot_ns();
}

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

#include "arch.h"

/* The pid's entry in its own (deepest) pid namespace: numbers[level]. 0 when
 * unreadable. */
static __always_inline struct upid *active_upid(struct pid *pid)
{
	unsigned int level;
	struct upid *up;

	if (!pid)
		return 0;
	level = BPF_CORE_READ(pid, level);
	if (level > 32)
		return 0;
	up = (void *)__builtin_preserve_access_index(&pid->numbers[0]);
	return (void *)((char *)up + (__u64)level * bpf_core_type_size(struct upid));
}

static __always_inline __u32 pidns_inum(struct task_struct *t)
{
	struct upid *up = active_upid(BPF_CORE_READ(t, thread_pid));
	struct pid_namespace *ns;

	if (!up)
		return 0;
	ns = BPF_CORE_READ(up, ns);
	if (!ns)
		return 0;
	return BPF_CORE_READ(ns, ns.inum);
}

static __always_inline void emit_enter(struct call_state *st, __u64 args[6])
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct kr_enter *e;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 ugid = bpf_get_current_uid_gid();
	int hopeless = 0;

	e = reserve(sizeof(*e), st->budget.wait_until, &hopeless);
	if (!e) {
		count(KR_CNT_ENTER_DROPPED, 1);
		return;
	}
	fill_hdr(&e->h, KR_REC_ENTER, sizeof(*e), st->call_id);
	e->h.ts_ns = st->enter_ns;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->uid = (__u32)ugid;
	e->gid = ugid >> 32;
	e->euid = BPF_CORE_READ(t, cred, euid.val);
	e->egid = BPF_CORE_READ(t, cred, egid.val);
	if (bpf_core_field_exists(t->loginuid)) {
		e->loginuid = BPF_CORE_READ(t, loginuid.val);
		e->sessionid = BPF_CORE_READ(t, sessionid);
	} else {
		e->loginuid = 0xffffffff;
		e->sessionid = 0xffffffff;
	}
	e->syscall_nr = st->syscall_nr;
	e->abi = st->abi;
	e->hook = st->hook;
	e->cpu = bpf_get_smp_processor_id();
	e->mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	e->pidns = pidns_inum(t);
	e->_pad0 = 0;
	e->cgroup_id = bpf_get_current_cgroup_id();
	for (int i = 0; i < 6; i++)
		e->args[i] = args[i];
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

/* ---- payload pieces ---- */


/* Fills and submits one reserved piece of capacity `room` data bytes. */
static __always_inline void fill_piece(struct kr_piece *rec, struct payload_ctx *p, __u64 len, __u64 room)
{
	long err;

	if (len > room) /* never true; tells the verifier the bound */
		len = room;
	fill_hdr(&rec->h, KR_REC_PIECE, 0, p->call_id);
	rec->kind = p->kind;
	rec->index = p->index;
	rec->source = p->source;
	rec->_pad0 = 0;
	rec->offset = p->off;
	rec->total = p->total;
	/* Ring memory is reused: zero the word that holds the padding after
	 * the data (h.size rounds up to 8), so no stale bytes of an older
	 * record end up inside this one. The read below overwrites its head. */
	{
		__u64 zoff = len & ~7ULL;

		barrier_var(zoff);
		if (zoff <= room - 8)
			*(__u64 *)((char *)(rec + 1) + zoff) = 0;
	}
	if (p->user)
		err = bpf_probe_read_user((void *)(rec + 1), len, (void *)(p->src + p->off));
	else
		err = bpf_probe_read_kernel((void *)(rec + 1), len, (void *)(p->src + p->off));
	if (err) {
		/* The piece keeps its length and offset, so the hole is exact;
		 * its data is zeros: the probe-read helpers zero the whole
		 * destination when a read fails. Not counted as emitted. */
		rec->read_err = err;
		rec->len = len;
		rec->h.size = (sizeof(*rec) + len + 7) & ~7ULL;
		p->read_errors++;
		p->flags |= KR_PF_READ_ERROR;
		p->bad_in_row++;
		count(KR_CNT_READ_ERRORS, 1);
	} else {
		rec->read_err = 0;
		rec->len = len;
		rec->h.size = (sizeof(*rec) + len + 7) & ~7ULL;
		p->emitted += len;
		p->bad_in_row = 0;
	}
	p->pieces++;
	bpf_ringbuf_submit(rec, 0);
}

/* Ends a payload early because of the unprivileged policy: the bytes from
 * p->off to p->cap are not copied, counted in all and under `cause`. */
static __always_inline void policy_rest(struct payload_ctx *p, __u32 cause)
{
	__u64 rest = p->cap - p->off;

	p->flags |= KR_PF_POLICY;
	p->policy = 1;
	p->off = p->cap;
	count(KR_CNT_POLICY_BYTES, rest);
	count(cause, rest);
}

/* Ends a payload early: every byte from p->off to p->cap is counted as
 * dropped (in the END's piece count, saturated, and in the counters), with
 * `flags` saying why. */
static __always_inline void drop_rest(struct payload_ctx *p, __u32 flags)
{
	__u64 rest = p->cap - p->off;
	__u64 n = rest / KR_PIECE_MAX + (rest % KR_PIECE_MAX != 0);

	p->flags |= flags;
	if (!rest)
		return;
	count(KR_CNT_PIECES_DROPPED, n);
	count(KR_CNT_PIECE_BYTES_DROPPED, rest);
	if (n > 0xffffffffULL - p->dropped)
		n = 0xffffffffULL - p->dropped;
	p->dropped += n;
	p->off = p->cap;
}

/* bpf_loop's context must be on the stack: it carries the pointer to the
 * payload_ctx in map memory. */
struct payload_loop {
	struct payload_ctx *p;
};

static long piece_cb(__u64 i, void *arg)
{
	struct payload_ctx *p = ((struct payload_loop *)arg)->p;
	struct kr_piece *rec;
	int hopeless = 0;
	__u64 len;

	if (p->off >= p->cap)
		return 1;
	if (bpf_ktime_get_ns() >= p->stop_at) {
		/* The invocation's hard time limit. */
		drop_rest(p, KR_PF_LOOP_LIMIT);
		return 1;
	}
	len = p->cap - p->off;
	if (len > KR_PIECE_MAX)
		len = KR_PIECE_MAX;
	if (p->unpriv && cfg_unpriv_ring_bytes) {
		/* The share counts what is in the ring now, whoever put it
		 * there: an unprivileged piece only goes in below it. */
		__u64 room = len <= KR_PIECE_SMALL ? KR_PIECE_SMALL : len <= KR_PIECE_MID ? KR_PIECE_MID : KR_PIECE_MAX;

		if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + room + sizeof(struct kr_piece) + 8 >
		    cfg_unpriv_ring_bytes) {
			policy_rest(p, KR_CNT_POLICY_RING_BYTES);
			return 1;
		}
	}

	if (len <= KR_PIECE_SMALL) {
		rec = reserve(sizeof(struct kr_piece) + KR_PIECE_SMALL, p->wait_until, &hopeless);
		if (rec)
			fill_piece(rec, p, len, KR_PIECE_SMALL);
	} else if (len <= KR_PIECE_MID) {
		rec = reserve(sizeof(struct kr_piece) + KR_PIECE_MID, p->wait_until, &hopeless);
		if (rec)
			fill_piece(rec, p, len, KR_PIECE_MID);
	} else {
		rec = reserve(sizeof(struct kr_piece) + KR_PIECE_MAX, p->wait_until, &hopeless);
		if (rec)
			fill_piece(rec, p, len, KR_PIECE_MAX);
	}
	if (!rec) {
		if (hopeless) {
			/* No more waiting: end the payload now rather than
			 * fail one reserve per remaining piece. */
			drop_rest(p, KR_PF_RING_FULL);
			return 1;
		}
		/* The wait freed space but another CPU's record took it
		 * first: wait and try the same piece again. The budget and
		 * the loop's KR_PIECE_RETRIES spare iterations bound this
		 * (no retry counter: the verifier would walk every value of
		 * it); spent, the rest ends flagged loop-limit. */
		return 0;
	}
	p->off += len;
	/* An unmapped buffer fails every piece: stop after a few in a row
	 * rather than walking a bogus multi-terabyte length. */
	if (p->bad_in_row >= 4)
		return 1;
	return 0;
}

#include "policy.h"

/* Emits a payload as pieces followed by its PAYLOAD_END.
 *
 * A global (not inlined) function: the verifier checks it once instead of
 * at each of its call sites, which kept the search from exploding. BPF
 * functions take at most 5 arguments, so kind, index, source and whether
 * src is a user address travel packed in one. */
#define PAYLOAD_TAG(kind, index, source, user) \
	((__u64)(kind) | (__u64)(index) << 16 | (__u64)(source) << 32 | (__u64)(user) << 48)

__noinline int emit_payload(__u64 call_id, __u64 tag, __u64 src, __u64 total)
{
	__u16 kind = tag, index = tag >> 16, source = tag >> 32, user = tag >> 48;
	__u32 tid = current_tid();
	struct call_state *st = bpf_map_lookup_elem(&calls, &tid);
	int hopeless = 0;
	struct payload_ctx *p;
	struct payload_loop loop;
	struct kr_payload_end *end;

	if (!st) { /* never: every caller holds this thread's call_state */
		count(KR_CNT_END_DROPPED, 1);
		return 0;
	}
	p = &st->payload;
	__builtin_memset(p, 0, sizeof(*p));
	p->call_id = call_id;
	p->src = src;
	p->total = total;
	p->cap = total;
	p->kind = kind;
	p->index = index;
	p->source = source;
	p->user = user;
	p->wait_until = st->budget.wait_until;
	p->stop_at = st->budget.stop_at;
	p->unpriv = st->unpriv;
	if (cfg_no_payload) {
		p->cap = 0;
		p->flags |= KR_PF_NO_PAYLOAD;
	} else if (cfg_snaplen && total > cfg_snaplen) {
		p->cap = cfg_snaplen;
		p->flags |= KR_PF_SNAPLEN;
	}
	if (p->unpriv && p->cap) {
		__u64 want = p->cap;

		if (cfg_unpriv_snaplen && p->cap > cfg_unpriv_snaplen)
			p->cap = cfg_unpriv_snaplen;
		p->cap = policy_buckets(p->cap);
		if (p->cap < want) {
			p->flags |= KR_PF_POLICY;
			p->policy = 1;
			count(KR_CNT_POLICY_BYTES, want - p->cap);
		}
	}
	if (p->cap) {
		/* Room for the retries: the callback ends the loop once the
		 * payload is done. */
		__u64 n = (p->cap + KR_PIECE_MAX - 1) / KR_PIECE_MAX + KR_PIECE_RETRIES;

		if (n > KR_MAX_LOOPS) {
			n = KR_MAX_LOOPS;
			p->flags |= KR_PF_LOOP_LIMIT;
		}
		loop.p = p;
		bpf_loop(n, piece_cb, &loop, 0);
		/* Stopped early: by unreadable pieces in a row (the rest was
		 * never read) or by the iteration limit. Either way every byte
		 * not emitted is counted as dropped. */
		if (p->off < p->cap)
			drop_rest(p, p->bad_in_row >= 4 ? KR_PF_READ_ERROR : KR_PF_LOOP_LIMIT);
	}
	if (p->policy && !st->policy_cut) {
		st->policy_cut = 1;
		count(KR_CNT_POLICY_CALLS, 1);
	}

	end = reserve(sizeof(*end), p->wait_until, &hopeless);
	if (!end) {
		count(KR_CNT_END_DROPPED, 1);
		return 0;
	}
	fill_hdr(&end->h, KR_REC_PAYLOAD_END, sizeof(*end), call_id);
	end->kind = kind;
	end->index = index;
	end->source = source;
	end->_pad0 = 0;
	end->total = total;
	end->emitted = p->emitted;
	end->pieces = p->pieces;
	end->dropped = p->dropped;
	end->read_errors = p->read_errors;
	end->flags = p->flags;
	bpf_ringbuf_submit(end, 0);
	return 0;
}

#include "paths.h"
#include "caller.h"

/* ---- kexec_load: segment table and segment buffers ---- */

static __always_inline void read_segments(struct call_state *st, __u64 uptr, __u64 nr)
{
	__u32 n = nr > KR_MAX_SEGMENTS ? KR_MAX_SEGMENTS : nr;
	long err;

	st->nr_passed = nr;
	if (nr > KR_MAX_SEGMENTS)
		st->flags |= KR_SF_TOO_MANY;
	if (n == 0)
		return;
	if (st->entry_size == 16) {
		err = bpf_probe_read_user(st->compat, (n & 31) * 16, (void *)uptr);
		if (!err) {
			for (int i = 0; i < KR_MAX_SEGMENTS; i++) {
				if (i >= n)
					break;
				st->seg[i].buf = st->compat[i * 4 + 0];
				st->seg[i].bufsz = st->compat[i * 4 + 1];
				st->seg[i].mem = st->compat[i * 4 + 2];
				st->seg[i].memsz = st->compat[i * 4 + 3];
			}
		}
	} else {
		err = bpf_probe_read_user(st->seg, (n & 31) * sizeof(struct kr_seg), (void *)uptr);
	}
	st->read_err = err;
	if (!err)
		st->nr_copied = n;
}

static __always_inline void emit_segments(struct call_state *st)
{
	int hopeless = 0;
	struct kr_segments *s = reserve(sizeof(*s), st->budget.wait_until, &hopeless);

	if (!s) {
		count(KR_CNT_SEGMENTS_DROPPED, 1);
		return;
	}
	fill_hdr(&s->h, KR_REC_SEGMENTS, sizeof(*s), st->call_id);
	s->nr_passed = st->nr_passed;
	s->nr_copied = st->nr_copied;
	s->read_err = st->read_err;
	s->flags = st->flags;
	s->entry_size = st->entry_size;
	__builtin_memcpy(s->seg, st->seg, sizeof(s->seg));
	bpf_ringbuf_submit(s, 0);
}

struct seg_loop {
	struct call_state *st;
};

static long segment_cb(__u64 i, void *arg)
{
	struct seg_loop *l = arg;
	struct call_state *st = l->st;
	__u32 idx = i;

	if (idx >= KR_MAX_SEGMENTS || idx >= st->nr_copied)
		return 1;
	idx &= KR_MAX_SEGMENTS - 1; /* the verifier loses the bound above */
	emit_payload(st->call_id, PAYLOAD_TAG(KR_PAYLOAD_SEGMENT, idx, KR_SRC_SYSCALL_ENTRY, 1),
		     st->seg[idx].buf, st->seg[idx].bufsz);
	return 0;
}

#include "readback.h"

/* ---- common entry / exit ---- */

static __always_inline void on_enter(struct pt_regs *regs, __u32 nr, __u32 abi, __u32 hook)
{
	__u32 tid = current_tid(), zero = 0;
	struct call_state *st, *tmpl;
	__u64 args[6];
	int is_file = is_file_nr(nr, abi);

	if (filtered_out())
		return;
	count(KR_CNT_CALLS, 1);
	tmpl = bpf_map_lookup_elem(&zero_state, &zero);
	st = tmpl && !bpf_map_update_elem(&calls, &tid, tmpl, BPF_ANY) ? bpf_map_lookup_elem(&calls, &tid) : 0;
	if (!st) {
		/* 4096 threads inside kexec at once: count it, never hide it. */
		count(KR_CNT_ENTER_DROPPED, 1);
		return;
	}
	st->unpriv = !may_boot();
	start_budget(&st->budget, !st->unpriv);
	st->call_id = __sync_fetch_and_add(&next_call_id, 1) + 1;
	st->enter_ns = bpf_ktime_get_boot_ns();
	st->syscall_nr = nr;
	st->abi = abi;
	st->hook = hook;
	st->is_file = is_file;
	st->entry_size = (abi == KR_ABI_NATIVE) ? 32 : 16;

	read_args(regs, abi, args);
	st->kflags = is_file ? args[4] : args[3];
	/* The caller's facts go first, so that user space has them when the
	 * ENTER arrives (it reads /proc only for what they lack). */
	if (cfg_caller) {
		emit_caller(st->call_id);
		emit_args(st, KR_ARGS_ARGV);
		if (cfg_env)
			emit_args(st, KR_ARGS_ENV);
	}
	emit_enter(st, args);

	if (is_file) {
		/* kexec_file_load(kernel_fd, initrd_fd, cmdline_len, cmdline, flags):
		 * the command line as the caller passed it, cmdline_len bytes. */
		__u64 len = args[2], ptr = args[3];

		if (abi == KR_ABI_X32)
			ptr = (__u32)ptr;
		emit_payload(st->call_id, PAYLOAD_TAG(KR_PAYLOAD_CMDLINE, 0, KR_SRC_SYSCALL_ENTRY, 1), ptr, len);
		return;
	}

	/* kexec_load(entry, nr_segments, segments, flags) */
	{
		__u64 nseg = args[1], uptr = args[2];
		struct seg_loop l = { .st = st };

		if (abi != KR_ABI_NATIVE) {
			nseg = (__u32)nseg;
			uptr = (__u32)uptr;
		}
		read_segments(st, uptr, nseg);
		emit_segments(st);
		if (st->nr_copied)
			bpf_loop(KR_MAX_SEGMENTS, segment_cb, &l, 0);
	}
}

static __always_inline void on_exit(__s64 ret, __u32 nr, __u32 hook, __u32 flags)
{
	__u32 tid = current_tid();
	struct call_state *st = bpf_map_lookup_elem(&calls, &tid);
	struct kr_exit *x;
	__u64 now = bpf_ktime_get_boot_ns();
	__u64 call_id;
	struct budget b;
	int hopeless = 0;

	if (st) {
		call_id = st->call_id;
		nr = st->syscall_nr;
	} else {
		if (filtered_out())
			return;
		/* The entry happened before we attached: still report the exit. */
		call_id = __sync_fetch_and_add(&next_call_id, 1) + 1;
	}
	start_budget(&b, may_boot());
	if (st && !flags)
		readback_at_exit(st, ret, &b);
	x = reserve(sizeof(*x), b.wait_until, &hopeless);
	if (!x) {
		count(KR_CNT_EXIT_DROPPED, 1);
	} else {
		fill_hdr(&x->h, KR_REC_EXIT, sizeof(*x), call_id);
		x->h.ts_ns = now;
		x->ret = ret;
		/* A return known in advance has no duration to measure. */
		x->duration_ns = st && !flags ? now - st->enter_ns : 0;
		x->tid = tid;
		x->syscall_nr = nr;
		x->hook = hook;
		x->flags = flags;
		bpf_ringbuf_submit(x, 0);
	}
	if (st)
		bpf_map_delete_elem(&calls, &tid);
}

/* ---- fentry / fexit on the syscall wrappers (arg 0: user pt_regs) ---- */

static __always_inline int wrapper_enter(struct pt_regs *regs, __u32 hook)
{
	__u32 nr = KR_REGS_NR(regs);

	on_enter(regs, nr, abi_of(nr), hook);
	return 0;
}

static __always_inline int wrapper_exit(struct pt_regs *regs, __s64 ret, __u32 hook)
{
	on_exit(ret, KR_REGS_NR(regs), hook, 0);
	return 0;
}

SEC("fentry/" KR_SYS("kexec_load"))
int fentry_kexec_load(__u64 *ctx) { return wrapper_enter((void *)ctx[0], KR_HOOK_FENTRY); }
SEC("fexit/" KR_SYS("kexec_load"))
int fexit_kexec_load(__u64 *ctx) { return wrapper_exit((void *)ctx[0], ctx[1], KR_HOOK_FENTRY); }
SEC("fentry/" KR_SYS("kexec_file_load"))
int fentry_kexec_file_load(__u64 *ctx) { return wrapper_enter((void *)ctx[0], KR_HOOK_FENTRY); }
SEC("fexit/" KR_SYS("kexec_file_load"))
int fexit_kexec_file_load(__u64 *ctx) { return wrapper_exit((void *)ctx[0], ctx[1], KR_HOOK_FENTRY); }
#if defined(__TARGET_ARCH_x86)
SEC("fentry/__ia32_compat_sys_kexec_load")
int fentry_compat_kexec_load(__u64 *ctx) { return wrapper_enter((void *)ctx[0], KR_HOOK_FENTRY); }
SEC("fexit/__ia32_compat_sys_kexec_load")
int fexit_compat_kexec_load(__u64 *ctx) { return wrapper_exit((void *)ctx[0], ctx[1], KR_HOOK_FENTRY); }
SEC("fentry/__x32_compat_sys_kexec_load")
int fentry_x32_kexec_load(__u64 *ctx) { return wrapper_enter((void *)ctx[0], KR_HOOK_FENTRY); }
SEC("fexit/__x32_compat_sys_kexec_load")
int fexit_x32_kexec_load(__u64 *ctx) { return wrapper_exit((void *)ctx[0], ctx[1], KR_HOOK_FENTRY); }
#endif

/* ---- kprobe / kretprobe on the same wrappers (ctx: kernel regs; di = user regs) ---- */

SEC("kprobe/" KR_SYS("kexec_load"))
int kprobe_kexec_load(struct pt_regs *ctx) { return wrapper_enter((void *)KR_KPROBE_ARG1(ctx), KR_HOOK_KPROBE); }
SEC("kprobe/" KR_SYS("kexec_file_load"))
int kprobe_kexec_file_load(struct pt_regs *ctx) { return wrapper_enter((void *)KR_KPROBE_ARG1(ctx), KR_HOOK_KPROBE); }
#if defined(__TARGET_ARCH_x86)
SEC("kprobe/__ia32_compat_sys_kexec_load")
int kprobe_compat_kexec_load(struct pt_regs *ctx) { return wrapper_enter((void *)ctx->di, KR_HOOK_KPROBE); }
SEC("kprobe/__x32_compat_sys_kexec_load")
int kprobe_x32_kexec_load(struct pt_regs *ctx) { return wrapper_enter((void *)ctx->di, KR_HOOK_KPROBE); }
#endif

/* A kretprobe no longer sees the wrapper's argument: the syscall number
 * comes from the call state (and the exit is only reported when the entry
 * was seen). */
static __always_inline int kret(struct pt_regs *ctx)
{
	__u32 tid = current_tid();

	if (!bpf_map_lookup_elem(&calls, &tid))
		return 0;
	on_exit((__s64)KR_KPROBE_RET(ctx), 0, KR_HOOK_KPROBE, 0);
	return 0;
}

SEC("kretprobe/" KR_SYS("kexec_load"))
int kretprobe_kexec_load(struct pt_regs *ctx) { return kret(ctx); }
SEC("kretprobe/" KR_SYS("kexec_file_load"))
int kretprobe_kexec_file_load(struct pt_regs *ctx) { return kret(ctx); }
#if defined(__TARGET_ARCH_x86)
SEC("kretprobe/__ia32_compat_sys_kexec_load")
int kretprobe_compat_kexec_load(struct pt_regs *ctx) { return kret(ctx); }
SEC("kretprobe/__x32_compat_sys_kexec_load")
int kretprobe_x32_kexec_load(struct pt_regs *ctx) { return kret(ctx); }
#endif

/* ---- raw mode: every syscall, filtered by number as early as possible ---- */

SEC("tp_btf/sys_enter")
int raw_sys_enter(__u64 *ctx)
{
	struct pt_regs *regs = (void *)ctx[0];
	__u32 nr = ctx[1];
	__u32 abi;

	if (!is_kexec_nr(nr))
		return 0;
	abi = abi_of(nr);
	/* A number is a kexec call only in its own ABI (arch.h). */
	if (!raw_abi_ok(regs, nr, abi))
		return 0;
	on_enter(regs, nr, abi, KR_HOOK_RAW_SYSCALL);
	if (cfg_ret_known_enosys)
		on_exit(-KR_ENOSYS, nr, KR_HOOK_RAW_SYSCALL, KR_XF_RET_KNOWN_ENOSYS);
	return 0;
}

SEC("tp_btf/sys_exit")
int raw_sys_exit(__u64 *ctx)
{
	struct pt_regs *regs = (void *)ctx[0];
	__u32 nr = KR_REGS_NR_BTF(regs); /* trusted BTF pointer: a plain load */
	__u32 abi;

	if (!is_kexec_nr(nr))
		return 0;
	abi = abi_of(nr);
	if (!raw_abi_ok(regs, nr, abi))
		return 0;
	on_exit(raw_exit_ret((__s64)ctx[1], abi), nr, KR_HOOK_RAW_SYSCALL, 0);
	return 0;
}

/* ---- kexec_file_load: the files as the kernel read them ---- */

static __always_inline void on_post_read(struct file *file, __u64 buf, __u64 size, __u32 id)
{
	__u32 tid = current_tid();
	struct call_state *st = bpf_map_lookup_elem(&calls, &tid);
	struct kr_file *f;
	struct inode *inode;
	__u32 kind;
	int hopeless = 0;

	if (!st || !st->is_file)
		return;
	if (bpf_core_enum_value_exists(enum kernel_read_file_id, READING_KEXEC_IMAGE) &&
	    id == bpf_core_enum_value(enum kernel_read_file_id, READING_KEXEC_IMAGE))
		kind = KR_PAYLOAD_KERNEL;
	else if (bpf_core_enum_value_exists(enum kernel_read_file_id, READING_KEXEC_INITRAMFS) &&
		 id == bpf_core_enum_value(enum kernel_read_file_id, READING_KEXEC_INITRAMFS))
		kind = KR_PAYLOAD_INITRD;
	else
		return;

	start_budget(&st->budget, may_boot());
	f = reserve(sizeof(*f), st->budget.wait_until, &hopeless);
	if (!f) {
		count(KR_CNT_FILE_DROPPED, 1);
	} else {
		fill_hdr(&f->h, KR_REC_FILE, sizeof(*f), st->call_id);
		inode = BPF_CORE_READ(file, f_inode);
		f->kind = kind;
		f->dev = BPF_CORE_READ(inode, i_sb, s_dev);
		f->ino = BPF_CORE_READ(inode, i_ino);
		f->size = size;
		f->i_size = BPF_CORE_READ(inode, i_size);
		file_path(st, file, f->path);
		bpf_ringbuf_submit(f, 0);
	}
	if (buf)
		emit_payload(st->call_id, PAYLOAD_TAG(kind, 0, KR_SRC_KERNEL_READ, 0), buf, size);
}

/* int security_kernel_post_read_file(struct file *file, char *buf, loff_t size,
 *                                    enum kernel_read_file_id id) */
SEC("fentry/security_kernel_post_read_file")
int fentry_post_read_file(__u64 *ctx)
{
	on_post_read((void *)ctx[0], ctx[1], ctx[2], (__u32)ctx[3]);
	return 0;
}

SEC("kprobe/security_kernel_post_read_file")
int kprobe_post_read_file(struct pt_regs *ctx)
{
	on_post_read((void *)KR_KPROBE_ARG1(ctx), KR_KPROBE_ARG2(ctx), KR_KPROBE_ARG3(ctx), (__u32)KR_KPROBE_ARG4(ctx));
	return 0;
}

#include "lsm.h"
#include "aarch32.h"
