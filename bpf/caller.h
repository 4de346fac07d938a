/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Who made the call, read at syscall entry in every attach mode (on_enter
 * calls these before it emits the ENTER record): a caller that exits right
 * after the syscall is gone before user space could read /proc.
 *   KR_REC_CALLER: executable (path, dev, inode, size, times), working
 *     directory, controlling tty, cgroup v2 path, pid-namespace ids and up
 *     to KR_MAX_ANCESTORS ancestors (stopping after pid 1 or the pid
 *     namespace's init);
 *   KR_REC_ARGS: the bytes of argv (and of the environment with --env) up
 *     to cfg_max_args, with their real length.
 * Included by kexecrec.c after paths.h.
 */
#ifndef KEXECREC_CALLER_H
#define KEXECREC_CALLER_H

/* Reserved sizes of an ARGS record's data (bpf_ringbuf_reserve needs a
 * constant): the default bound fits the small one. */
#define KR_ARGS_SMALL 4096
#define KR_ARGS_MAX (64 * 1024)

/* All-zero CALLER record: reserved ring memory is reused, so each record
 * starts as a copy of this (too big for an inlined memset). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kr_caller);
} zero_caller SEC(".maps");

/* CLOCK_BOOTTIME of the task's fork: start_boottime (5.5+), real_start_time
 * before. */
static __always_inline __u64 task_start_ns(struct task_struct *t)
{
	if (bpf_core_field_exists(t->start_boottime))
		return BPF_CORE_READ(t, start_boottime);
	return BPF_CORE_READ((struct task_struct___old *)t, real_start_time);
}

/* The number a pid has in its own (deepest) pid namespace; 0 if unreadable. */
static __always_inline __u32 own_ns_nr(struct pid *pid)
{
	struct upid *up = active_upid(pid);

	return up ? BPF_CORE_READ(up, nr) : 0;
}

/* The executable's times: seconds and nanoseconds fields since 6.7,
 * timespec64s before (ctime renamed __i_ctime in 6.6). */
static __always_inline void inode_times(struct inode *ino, struct kr_caller *c)
{
	if (bpf_core_field_exists(ino->i_mtime_sec)) {
		c->exe_mtime_sec = BPF_CORE_READ(ino, i_mtime_sec);
		c->exe_mtime_nsec = BPF_CORE_READ(ino, i_mtime_nsec);
		c->exe_ctime_sec = BPF_CORE_READ(ino, i_ctime_sec);
		c->exe_ctime_nsec = BPF_CORE_READ(ino, i_ctime_nsec);
		return;
	}
	if (bpf_core_field_exists(((struct inode___v66 *)ino)->__i_ctime)) {
		struct inode___v66 *i = (void *)ino;

		c->exe_mtime_sec = BPF_CORE_READ(i, i_mtime.tv_sec);
		c->exe_mtime_nsec = BPF_CORE_READ(i, i_mtime.tv_nsec);
		c->exe_ctime_sec = BPF_CORE_READ(i, __i_ctime.tv_sec);
		c->exe_ctime_nsec = BPF_CORE_READ(i, __i_ctime.tv_nsec);
		return;
	}
	{
		struct inode___tspec *i = (void *)ino;

		c->exe_mtime_sec = BPF_CORE_READ(i, i_mtime.tv_sec);
		c->exe_mtime_nsec = BPF_CORE_READ(i, i_mtime.tv_nsec);
		c->exe_ctime_sec = BPF_CORE_READ(i, i_ctime.tv_sec);
		c->exe_ctime_nsec = BPF_CORE_READ(i, i_ctime.tv_nsec);
	}
}

/* Result bit of the path functions besides KR_PATH_CUT / KR_PATH_DELETED:
 * there was something to name. */
#define KR_PATH_FOUND 0x4

/* Each of these builds one path of task (an address: global functions
 * take scalars) into the thread's call_state path.res and returns
 * KR_PATH_* bits (0: nothing to name). Global (not inlined) functions with
 * one walk each, verified once: path walks inlined into the ancestor loop
 * made the verifier's search explode. */
__noinline __u32 exe_path(__u64 task)
{
	struct task_struct *t = (void *)task;
	__u32 tid = current_tid();
	struct call_state *st = bpf_map_lookup_elem(&calls, &tid);
	struct file *exe;

	if (!st)
		return 0;
	st->path.res[0] = 0;
	exe = BPF_CORE_READ(t, mm, exe_file);
	if (!exe)
		return 0;
	return file_path(st, exe, st->path.res) | KR_PATH_FOUND;
}

__noinline __u32 cwd_path(__u64 task)
{
	struct task_struct *t = (void *)task;
	__u32 tid = current_tid();
	struct call_state *st = bpf_map_lookup_elem(&calls, &tid);
	__u32 r;

	if (!st)
		return 0;
	st->path.res[0] = 0;
	r = path_of(st, BPF_CORE_READ(t, fs, pwd.mnt), BPF_CORE_READ(t, fs, pwd.dentry), st->path.res);
	return st->path.res[0] ? r | KR_PATH_FOUND : 0;
}

__noinline __u32 task_cgroup_path(__u64 task)
{
	struct task_struct *t = (void *)task;
	__u32 tid = current_tid();
	struct call_state *st = bpf_map_lookup_elem(&calls, &tid);
	int r;

	if (!st)
		return 0;
	st->path.res[0] = 0;
	r = cgroup_path(st, t, st->path.res);
	return r < 0 ? 0 : r | KR_PATH_FOUND;
}

/* Copies the path exe_path, cwd_path or task_cgroup_path built into out (KR_PATH_LEN bytes). */
static __always_inline void copy_path(struct call_state *st, char *out)
{
	bpf_probe_read_kernel_str(out, KR_PATH_LEN, st->path.res);
}

/* Fills one ancestor; returns 1 when it is an init (the chain ends there). */
static __always_inline int fill_ancestor(struct call_state *st, struct task_struct *t, struct kr_ancestor *a)
{
	__u32 r;

	a->pid = BPF_CORE_READ(t, tgid);
	a->tid = BPF_CORE_READ(t, pid);
	a->uid = BPF_CORE_READ(t, cred, uid.val);
	a->euid = BPF_CORE_READ(t, cred, euid.val);
	a->start_ns = task_start_ns(t);
	a->ns_pid = own_ns_nr(BPF_CORE_READ(t, group_leader, thread_pid));
	bpf_probe_read_kernel_str(a->comm, sizeof(a->comm), (void *)__builtin_preserve_access_index(&t->comm));
	r = exe_path((__u64)t);
	copy_path(st, a->exe);
	a->flags = (r & KR_PATH_FOUND ? KR_AF_EXE : 0) | (r & KR_PATH_CUT ? KR_AF_EXE_CUT : 0) |
		   (r & KR_PATH_DELETED ? KR_AF_EXE_DELETED : 0);
	if (a->pid == 1 || a->ns_pid == 1) {
		a->flags |= KR_AF_NS_INIT;
		return 1;
	}
	return 0;
}

static __always_inline void fill_exe(struct call_state *st, struct task_struct *t, struct kr_caller *c)
{
	struct file *exe = BPF_CORE_READ(t, mm, exe_file);
	struct inode *ino;
	__u32 r;

	if (!exe)
		return;
	ino = BPF_CORE_READ(exe, f_inode);
	c->exe_dev = BPF_CORE_READ(ino, i_sb, s_dev);
	c->exe_ino = BPF_CORE_READ(ino, i_ino);
	c->exe_size = BPF_CORE_READ(ino, i_size);
	inode_times(ino, c);
	r = exe_path((__u64)t);
	copy_path(st, c->exe);
	c->flags |= (r & KR_PATH_FOUND ? KR_CF_EXE : 0) | (r & KR_PATH_CUT ? KR_CF_EXE_CUT : 0) |
		    (r & KR_PATH_DELETED ? KR_CF_EXE_DELETED : 0);
}

static __always_inline void fill_tty(struct task_struct *t, struct kr_caller *c)
{
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);

	if (!tty)
		return;
	c->flags |= KR_CF_TTY;
	/* tty_devnum(): MKDEV(driver->major, driver->minor_start) + index */
	c->tty_major = BPF_CORE_READ(tty, driver, major);
	c->tty_minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	bpf_probe_read_kernel_str(c->tty, sizeof(c->tty), (void *)__builtin_preserve_access_index(&tty->name));
}

/* Emits the CALLER record of the current task. A global function, like
 * emit_payload; it looks the call_state up itself. */
__noinline int emit_caller(__u64 call_id)
{
	__u32 tid = current_tid();
	struct call_state *st = bpf_map_lookup_elem(&calls, &tid);
	struct task_struct *t = (void *)bpf_get_current_task();
	struct task_struct *p;
	struct kr_caller *c;
	struct upid *up;
	int hopeless = 0;
	__u32 r, n = 0, zero = 0;
	void *zeros = bpf_map_lookup_elem(&zero_caller, &zero);

	if (!st || !zeros)
		return 0;
	c = reserve(sizeof(*c), st->budget.wait_until, &hopeless);
	if (!c) {
		count(KR_CNT_CALLER_DROPPED, 1);
		return 0;
	}
	/* Start from zeros: no stale bytes after a string's NUL or in unused
	 * ancestor slots. */
	bpf_probe_read_kernel(c, sizeof(*c), zeros);
	fill_hdr(&c->h, KR_REC_CALLER, sizeof(*c), call_id);
	fill_exe(st, t, c);

	r = cwd_path((__u64)t);
	copy_path(st, c->cwd);
	c->flags |= (r & KR_PATH_FOUND ? KR_CF_CWD : 0) | (r & KR_PATH_CUT ? KR_CF_CWD_CUT : 0) |
		    (r & KR_PATH_DELETED ? KR_CF_CWD_DELETED : 0);
	fill_tty(t, c);
	r = task_cgroup_path((__u64)t);
	copy_path(st, c->cgroup);
	c->flags |= (r & KR_PATH_FOUND ? KR_CF_CGROUP : 0) | (r & KR_PATH_CUT ? KR_CF_CGROUP_CUT : 0);

	up = active_upid(BPF_CORE_READ(t, thread_pid));
	if (up) {
		c->ns_level = BPF_CORE_READ(t, thread_pid, level);
		c->ns_tid = BPF_CORE_READ(up, nr);
		c->ns_pid = own_ns_nr(BPF_CORE_READ(t, group_leader, thread_pid));
		c->flags |= KR_CF_NS_PID;
	}

	p = BPF_CORE_READ(t, real_parent);
	for (int i = 0; i < KR_MAX_ANCESTORS; i++) {
		if (!p || BPF_CORE_READ(p, tgid) == 0)
			break;
		n++;
		if (fill_ancestor(st, p, &c->anc[i])) {
			c->flags |= KR_CF_ANC_INIT;
			break;
		}
		p = BPF_CORE_READ(p, real_parent);
		if (i == KR_MAX_ANCESTORS - 1 && p && BPF_CORE_READ(p, tgid) != 0)
			c->flags |= KR_CF_ANC_MORE;
	}
	c->nr_ancestors = n;
	bpf_ringbuf_submit(c, 0);
	return 0;
}

/* Fills and submits a reserved ARGS record with room for `room` data bytes. */
static __always_inline void fill_args(struct kr_args *rec, __u64 call_id, __u32 kind, __u64 start, __u64 total,
				      __u64 len, __u64 room)
{
	long err = 0;

	if (len > room) /* never true; tells the verifier the bound */
		len = room;
	fill_hdr(&rec->h, KR_REC_ARGS, (sizeof(*rec) + len + 7) & ~7ULL, call_id);
	rec->kind = kind;
	rec->total = total;
	rec->len = len;
	rec->_pad0 = 0;
	{ /* zero the padding word after the data (see fill_piece) */
		__u64 zoff = len & ~7ULL;

		barrier_var(zoff);
		if (zoff <= room - 8)
			*(__u64 *)((char *)(rec + 1) + zoff) = 0;
	}
	if (len)
		err = bpf_probe_read_user((void *)(rec + 1), len, (void *)start);
	rec->read_err = err;
	bpf_ringbuf_submit(rec, 0);
}

/* Emits the caller's argv (KR_ARGS_ARGV) or environment (KR_ARGS_ENV) as
 * one ARGS record of at most cfg_max_args data bytes. Nothing when the task
 * has no mm. */
static __always_inline void emit_args(struct call_state *st, __u32 kind)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	__u64 start, end, total, len;
	struct kr_args *rec;
	int hopeless = 0;

	if (!mm)
		return;
	if (kind == KR_ARGS_ARGV) {
		start = BPF_CORE_READ(mm, arg_start);
		end = BPF_CORE_READ(mm, arg_end);
	} else {
		start = BPF_CORE_READ(mm, env_start);
		end = BPF_CORE_READ(mm, env_end);
	}
	total = end > start ? end - start : 0;
	len = total < cfg_max_args ? total : cfg_max_args;
	if (cfg_max_args <= KR_ARGS_SMALL) {
		rec = reserve(sizeof(*rec) + KR_ARGS_SMALL, st->budget.wait_until, &hopeless);
		if (rec)
			fill_args(rec, st->call_id, kind, start, total, len, KR_ARGS_SMALL);
	} else {
		rec = reserve(sizeof(*rec) + KR_ARGS_MAX, st->budget.wait_until, &hopeless);
		if (rec)
			fill_args(rec, st->call_id, kind, start, total, len, KR_ARGS_MAX);
	}
	if (!rec)
		count(KR_CNT_CALLER_DROPPED, 1);
}

#endif
