/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Absolute paths of files (the FILE records, the caller's executable and
 * working directory) and of the caller's cgroup, built in BPF because
 * bpf_d_path is not allowed in every hook these programs use.
 *
 * Included by kexecrec.c after struct call_state: a path is built right to
 * left, leaf first, in the thread's call_state scratch (a per-CPU buffer
 * would be shared by two invocations preempted on one CPU; the call_state
 * exists anyway and is this thread's alone) and copied out with one string
 * read. The walk's position lives in the scratch too, not on the stack: the
 * verifier does not track map memory, so each bpf_loop iteration looks the
 * same to it and the callback is verified in a few passes instead of one per
 * possible position. A path longer than KR_PATH_LEN - 1 bytes or deeper than its walk's
 * depth keeps its leaf end and starts with "...".
 */
#ifndef KEXECREC_PATHS_H
#define KEXECREC_PATHS_H

#define KR_PATH_DEPTH 32

/* path_of / cgroup_path result bits */
#define KR_PATH_CUT 0x1     /* too long or too deep: starts with "..." */
#define KR_PATH_DELETED 0x2 /* the dentry is unlinked (d_unlinked) */

struct path_walk {
	struct path_scratch *ps;
	struct dentry *d;
	struct mount *mnt;
	struct kernfs_node *kn;
	__u32 cut;
	__u32 done;
	__u32 pseudo; /* a pseudo file named by its dentry alone */
};

static long path_cb(__u64 i, void *arg)
{
	struct path_walk *w = arg;
	/* Locals, not w->...: inside BPF_CORE_READ an expression like
	 * w->mnt would get a CO-RE relocation against struct path_walk. */
	struct mount *m = w->mnt;
	struct dentry *d = w->d, *parent = BPF_CORE_READ(d, d_parent);
	struct dentry *mnt_root = BPF_CORE_READ(m, mnt.mnt_root);
	__u64 len, pos = w->ps->pos;
	int pseudo = 0;

	if (d == parent && d != mnt_root && pos == KR_PATH_LEN - 1) {
		/* A file of no mount's tree (memfd, anonymous inode: a pseudo
		 * dentry, its own parent): the kernel names it "/NAME (deleted)"
		 * (simple_dname); the component below, then stop. */
		pseudo = 1;
	} else if (d == mnt_root || d == parent) {
		/* Top of this mount: continue from where it is mounted. */
		struct mount *up = BPF_CORE_READ(m, mnt_parent);

		if (!up || up == m) {
			w->done = 1;
			return 1;
		}
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->mnt = up;
		return 0;
	}
	len = BPF_CORE_READ(d, d_name.len);
	if (len + 1 > pos) {
		w->cut = 1;
		return 1;
	}
	pos -= len;
	bpf_probe_read_kernel(w->ps->buf + (pos & (KR_PATH_LEN - 1)), len & (KR_PATH_LEN - 1),
			      BPF_CORE_READ(d, d_name.name));
	pos--;
	w->ps->buf[pos & (KR_PATH_LEN - 1)] = '/';
	w->ps->pos = pos;
	w->d = parent;
	if (pseudo) {
		w->pseudo = 1;
		w->done = 1;
		return 1;
	}
	return 0;
}

/* Copies the path built in w (ps->pos .. KR_PATH_LEN - 1) to out, "/" when
 * empty, "..." first when cut; returns KR_PATH_CUT or 0. */
static __always_inline __u32 path_out(struct path_walk *w, char *out)
{
	struct path_scratch *ps = w->ps;
	__u64 pos = ps->pos;

	if (pos == KR_PATH_LEN - 1) {
		pos--;
		ps->buf[pos & (KR_PATH_LEN - 1)] = '/';
	}
	if (w->cut && pos >= 3) {
		pos -= 3;
		ps->buf[(pos + 0) & (KR_PATH_LEN - 1)] = '.';
		ps->buf[(pos + 1) & (KR_PATH_LEN - 1)] = '.';
		ps->buf[(pos + 2) & (KR_PATH_LEN - 1)] = '.';
	}
	bpf_probe_read_kernel_str(out, KR_PATH_LEN, ps->buf + (pos & (KR_PATH_LEN - 1)));
	return w->cut ? KR_PATH_CUT : 0;
}

/* d_unlinked(): unhashed and not a root. A file deleted while open (or an
 * executable deleted after exec) keeps its dentry, unhashed; the kernel's
 * d_path appends " (deleted)" to such a path. */
static __always_inline int dentry_unlinked(struct dentry *d)
{
	return d && !BPF_CORE_READ(d, d_hash.pprev) && BPF_CORE_READ(d, d_parent) != d;
}

/* The absolute path (as seen from the global root, crossing mount points)
 * of dentry d on vfsmount vm, into out (KR_PATH_LEN bytes). Returns
 * KR_PATH_* bits; out is "" when vm is NULL. */
static __always_inline __u32 path_of(struct call_state *st, struct vfsmount *vm, struct dentry *d, char *out)
{
	struct path_walk w = {};
	__u32 r;

	out[0] = 0;
	if (!vm || !d)
		return 0;
	w.ps = &st->path;
	w.d = d;
	w.mnt = (void *)((char *)vm - bpf_core_field_offset(struct mount, mnt));
	w.ps->pos = KR_PATH_LEN - 1;
	w.ps->buf[KR_PATH_LEN - 1] = 0;
	bpf_loop(KR_PATH_DEPTH, path_cb, &w, 0);
	if (!w.done)
		w.cut = 1;
	r = path_out(&w, out);
	if (w.pseudo || dentry_unlinked(d))
		r |= KR_PATH_DELETED;
	return r;
}

static __always_inline __u32 file_path(struct call_state *st, struct file *file, char *out)
{
	out[0] = 0;
	if (!file)
		return 0;
	return path_of(st, BPF_CORE_READ(file, f_path.mnt), BPF_CORE_READ(file, f_path.dentry), out);
}

/* ---- cgroup v2 path: kernfs names up to the hierarchy's root ---- */

#define KR_CGROUP_DEPTH 32

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

static long kn_cb(__u64 i, void *arg)
{
	struct path_walk *w = arg;
	struct kernfs_node *kn = w->kn, *parent = kn_parent(kn);
	__u64 pos = w->ps->pos;
	long n;

	if (!parent) { /* the root's own name is not part of the path */
		w->done = 1;
		return 1;
	}
	n = bpf_probe_read_kernel_str(w->ps->name, KR_PATH_LEN, BPF_CORE_READ(kn, name));
	if (n < 1)
		n = 1;
	n--; /* without the NUL */
	if (n + 1 > pos) {
		w->cut = 1;
		return 1;
	}
	pos -= n;
	bpf_probe_read_kernel(w->ps->buf + (pos & (KR_PATH_LEN - 1)), n & (KR_PATH_LEN - 1), w->ps->name);
	pos--;
	w->ps->buf[pos & (KR_PATH_LEN - 1)] = '/';
	w->ps->pos = pos;
	w->kn = parent;
	return 0;
}

/* The task's path in the cgroup v2 hierarchy (cgroups->dfl_cgrp), "/" for
 * the root; into out (KR_PATH_LEN bytes). Returns KR_PATH_CUT, 0, or -1
 * when there is no cgroup to name. */
static __always_inline int cgroup_path(struct call_state *st, struct task_struct *t, char *out)
{
	struct path_walk w = {};

	out[0] = 0;
	w.kn = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn);
	if (!w.kn)
		return -1;
	w.ps = &st->path;
	w.ps->pos = KR_PATH_LEN - 1;
	w.ps->buf[KR_PATH_LEN - 1] = 0;
	bpf_loop(KR_CGROUP_DEPTH, kn_cb, &w, 0);
	if (!w.done)
		w.cut = 1;
	return path_out(&w, out);
}

#endif
