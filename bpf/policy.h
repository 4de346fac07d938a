/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Token buckets of the unprivileged policy (see the config block of
 * kexecrec.c): the payload bytes a caller failing may_boot() may have
 * copied are taken first from its uid's bucket, then from one bucket shared
 * by every such uid. The shared bucket bounds what a range of uids (a
 * subuid range, a set of throw-away accounts) can make the recorder copy:
 * without it each uid would bring its own burst.
 * Included by kexecrec.c after its helpers (count).
 */
#ifndef KEXECREC_POLICY_H
#define KEXECREC_POLICY_H

/* The bucket of all unprivileged uids together: cfg_unpriv_total_rate bytes
 * per second, up to cfg_unpriv_total_burst (rate 0 = no such bucket). */
volatile const __u64 cfg_unpriv_total_rate = 0;
volatile const __u64 cfg_unpriv_total_burst = 0;

/* A token bucket. tokens may go below 0 when callers race on several CPUs:
 * that debt is repaid by the refill before anyone gets more. */
struct token_bucket {
	__u64 last_ns; /* bpf_ktime_get_ns() of the last refill */
	__s64 tokens;  /* payload bytes that may still be sent */
};

/* Per uid. An LRU map: a uid pushed out by 4096 newer ones comes back with a
 * full bucket, which the shared bucket still bounds. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct token_bucket);
} unpriv_buckets SEC(".maps");

/* Shared by every unprivileged uid. All zero at load: the first refill
 * (from time 0) fills it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct token_bucket);
} unpriv_total_bucket SEC(".maps");

/* Refills b for the time since its last refill (rate bytes per second, at
 * most burst), then takes up to `want` bytes; returns how many it took.
 * rate <= 2^34 (user space checks), so rem * rate cannot overflow. */
static __always_inline __u64 bucket_take(struct token_bucket *b, __u64 rate, __u64 burst, __u64 want)
{
	__u64 now = bpf_ktime_get_ns(), last = b->last_ns, take;
	__s64 have;

	/* One CPU wins the refill for a time span, so it is added once. */
	if (now > last && __sync_val_compare_and_swap(&b->last_ns, last, now) == last) {
		__u64 d = now - last, secs = d / 1000000000, add;

		/* last 0: the shared bucket's first use fills it. */
		if (!last || secs > burst / rate)
			add = burst;
		else
			add = secs * rate + (d % 1000000000) * rate / 1000000000;
		__sync_fetch_and_add(&b->tokens, add);
		if (b->tokens > (__s64)burst)
			b->tokens = burst;
	}
	have = b->tokens;
	if (have <= 0)
		return 0;
	take = want < (__u64)have ? want : (__u64)have;
	__sync_fetch_and_add(&b->tokens, -(__s64)take);
	return take;
}

/* The current uid's bucket; a uid seen for the first time starts full. */
static __always_inline struct token_bucket *uid_bucket(void)
{
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct token_bucket *b, fresh = { .last_ns = bpf_ktime_get_ns(), .tokens = cfg_unpriv_burst };

	b = bpf_map_lookup_elem(&unpriv_buckets, &uid);
	if (b)
		return b;
	bpf_map_update_elem(&unpriv_buckets, &uid, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&unpriv_buckets, &uid);
}

/* How many of `want` payload bytes the buckets let an unprivileged caller
 * send: what its uid's bucket gives, then what the shared bucket gives of
 * that (the uid gets back what the shared bucket refused). What a bucket
 * cut is counted under its own cause. */
static __always_inline __u64 policy_buckets(__u64 want)
{
	__u64 take = want, shared;
	__u32 zero = 0;
	struct token_bucket *u = 0, *all;

	if (cfg_unpriv_rate) {
		u = uid_bucket();
		take = u ? bucket_take(u, cfg_unpriv_rate, cfg_unpriv_burst, want) : 0;
		count(KR_CNT_POLICY_RATE_BYTES, want - take);
	}
	if (cfg_unpriv_total_rate && take) {
		all = bpf_map_lookup_elem(&unpriv_total_bucket, &zero);
		shared = all ? bucket_take(all, cfg_unpriv_total_rate, cfg_unpriv_total_burst, take) : 0;
		if (u && shared < take)
			__sync_fetch_and_add(&u->tokens, take - shared);
		count(KR_CNT_POLICY_TOTAL_RATE_BYTES, take - shared);
		take = shared;
	}
	return take;
}

#endif /* KEXECREC_POLICY_H */
