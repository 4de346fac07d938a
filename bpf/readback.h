/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Readback: at the exit of a successful kexec_load / kexec_file_load, read
 * every segment of the image the call staged back from the kernel's own
 * pages, so a capture holds the bytes that will run, not only the bytes
 * the caller offered at entry (a second thread can rewrite the caller's
 * buffers between our entry copy and the kernel's copy in
 * kimage_load_segment).
 *
 * Why the syscall's exit: do_kexec_load() and kexec_file_load() install the
 * new image in the global kexec_image (kexec_crash_image for crash loads)
 * before returning, and the exit is hooked in every mode (fexit,
 * kretprobe, tp_btf sys_exit), so the readback needs no extra hook and
 * works in raw mode too. The globals and page_offset_base have no BTF
 * (Debian's BTF has no global variables): user space passes their
 * kallsyms addresses as configuration.
 *
 * Normal images: the kernel copied each segment page by page into pages it
 * allocated; the kimage entry list (image->head: IND_DESTINATION sets the
 * destination, IND_SOURCE names the page holding the next destination
 * page, IND_INDIRECTION continues the list on another page, IND_DONE ends
 * it) is the only map from destination to page. It is walked once into
 * rb_pages, in list order (the kernel loads segments in index order, one
 * entry per page of each), then each page is read through the direct map
 * (page_offset_base + physical address) after checking its destination.
 * Crash images: the kernel copied straight into the crash range at the
 * destination; x86's arch_kexec_protect_crashkres() marks that range
 * read-only (set_pages_ro), not absent, so it is still readable at the
 * exit (arm64 unmaps it: there the readback would need a hook before the
 * protection).
 *
 * Each segment gives a KR_REC_LOADED record, then its bytes [0, bufsz) as a
 * KR_PAYLOAD_LOADED payload (pieces at the same offsets as the entry copy,
 * so equal bytes make the same blob and the capture stores them once) and
 * [bufsz, memsz), which the kernel zero-fills, as KR_PAYLOAD_LOADED_TAIL.
 * Bounded like every copy: the exit invocation's time budget, ring waits
 * by the same policy.
 */
#ifndef KEXECREC_READBACK_H
#define KEXECREC_READBACK_H

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
/* include/linux/kexec.h. Flavors (___rb): they match struct kexec_segment
 * and struct kimage where the kernel has kexec, and are only read there
 * (bpf_core_type_exists below), so a kernel without kexec loads the
 * programs too. */
struct kexec_segment___rb {
	__u64 bufsz;
	__u64 mem;
	__u64 memsz;
};

struct kimage___rb {
	unsigned long head; /* kimage_entry_t: the first entry of the list */
	unsigned long nr_segments;
	struct kexec_segment___rb segment[KR_MAX_SEGMENTS];
};
#pragma clang attribute pop

/* kimage entry flags (include/linux/kexec.h). */
#define KR_IND_DESTINATION 0x1
#define KR_IND_INDIRECTION 0x2
#define KR_IND_DONE 0x4
#define KR_IND_SOURCE 0x8
#define KR_PAGE_SIZE 4096ULL
#define KR_PAGE_MASK (~(KR_PAGE_SIZE - 1))

/* kexec_load's KEXEC_ON_CRASH, kexec_file_load's KEXEC_FILE_UNLOAD and
 * KEXEC_FILE_ON_CRASH. */
#define KR_KEXEC_ON_CRASH 0x1
#define KR_KEXEC_FILE_UNLOAD 0x1
#define KR_KEXEC_FILE_ON_CRASH 0x2

/* Pages the readback can map per image (256 MiB of segments). */
#define KR_RB_MAX_PAGES (1 << 16)
/* Entries walked at most: every page, one indirection per 511, the
 * destinations, with room. */
#define KR_RB_MAX_ENTRIES (KR_RB_MAX_PAGES + KR_RB_MAX_PAGES / 256 + 64)

/* ---- configuration (user space, from kallsyms) ---- */

/* 0 = read back; else the enum kr_loaded_status every segment gets. */
volatile const __u32 cfg_rb_off = KR_LS_MODE;
volatile const __u64 cfg_rb_kexec_image = 0;       /* &kexec_image */
volatile const __u64 cfg_rb_kexec_crash_image = 0; /* &kexec_crash_image */
volatile const __u64 cfg_rb_page_offset_base = 0;  /* &page_offset_base, or 0: */
volatile const __u64 cfg_rb_page_offset = 0;       /* the direct map's fixed base */

/* One source page: its destination and the page holding its bytes
 * (physical addresses). */
struct rb_page {
	__u64 dest;
	__u64 src;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KR_RB_MAX_PAGES);
	__type(key, __u32);
	__type(value, struct rb_page);
} rb_pages SEC(".maps");

/* Everything one readback works with. One readback runs at a time
 * (rb_busy), so the callbacks below find it in this one-entry map instead
 * of on the stack (the BPF stack is shared by the nested loops). */
struct rb_state {
	__u64 call_id;
	__u64 pob;     /* the direct map's base */
	__u64 image;   /* struct kimage * */
	struct budget b;
	__u32 crash;
	__u32 nseg;
	struct kr_seg seg[KR_MAX_SEGMENTS]; /* from the image; buf unused */
	/* entry list walk */
	__u64 ptr;
	__u64 dest;
	__u32 npages;
	__u32 walk_err;
	__u32 too_large;
	__u32 first;      /* rb_pages index of the current segment's first page */
	__u32 next_first; /* ... and of the next segment's */
	__u32 _pad2;
	/* the payload being emitted (see rb_region) */
	__u32 idx;
	__u16 kind;
	__u16 _pad0;
	__u64 base;  /* segment offset of the payload's byte 0 */
	__u64 total; /* payload length */
	__u64 off;   /* next payload offset to emit */
	__u64 emitted;
	__u32 pieces;
	__u32 dropped;
	__u32 read_errors;
	__u32 flags;
	/* the piece being filled (see rb_page_cb) */
	__u64 pos;   /* segment offset of the next byte */
	__u64 end;   /* segment offset where the piece ends */
	__u64 start; /* segment offset of the piece's byte 0 */
	__s32 err;
	__u32 tail_flags;   /* KR_TF_* of the segment being read */
	__u64 zero_checked; /* ... and its tail bytes found zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rb_state);
} rb_state_map SEC(".maps");

/* A piece built outside the ring (bpf_ringbuf_output copies it): the data
 * comes from up to 65 pages at computed offsets, which the verifier can
 * bound in a map value. The extra page keeps every masked offset in
 * bounds. */
struct rb_piece_buf {
	struct kr_piece rec;
	__u8 data[KR_PIECE_MAX + KR_PAGE_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rb_piece_buf);
} rb_piece_map SEC(".maps");

/* The readback's lock: an insert with BPF_NOEXIST is an atomic try-lock
 * (the programs are built for -mcpu=v1, which has no fetching atomics). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} rb_busy SEC(".maps");

static __always_inline int rb_lock(void)
{
	__u32 zero = 0, one = 1;

	return bpf_map_update_elem(&rb_busy, &zero, &one, BPF_NOEXIST) == 0;
}

static __always_inline void rb_unlock(void)
{
	__u32 zero = 0;

	bpf_map_delete_elem(&rb_busy, &zero);
}

const struct kr_loaded *unused_loaded __attribute__((unused));

static __always_inline struct rb_state *rb_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&rb_state_map, &zero);
}

static __always_inline void rb_emit_loaded(struct rb_state *s, __u32 idx, __u32 status)
{
	int hopeless = 0;
	struct kr_loaded *l = reserve(sizeof(*l), s->b.wait_until, &hopeless);

	if (!l) {
		count(KR_CNT_SEGMENTS_DROPPED, 1);
		return;
	}
	idx &= KR_MAX_SEGMENTS - 1;
	fill_hdr(&l->h, KR_REC_LOADED, sizeof(*l), s->call_id);
	l->index = idx;
	l->nr_segments = s->nseg;
	l->status = status;
	l->image_type = s->crash ? KR_IMAGE_CRASH : KR_IMAGE_NORMAL;
	l->_pad0 = 0;
	l->_pad1 = 0;
	l->zero_checked = status == KR_LS_READ ? s->zero_checked : 0;
	l->tail_flags = status == KR_LS_READ ? s->tail_flags : 0;
	if (idx < s->nseg) {
		l->bufsz = s->seg[idx].bufsz;
		l->mem = s->seg[idx].mem;
		l->memsz = s->seg[idx].memsz;
	} else {
		l->bufsz = 0;
		l->mem = 0;
		l->memsz = 0;
	}
	bpf_ringbuf_submit(l, 0);
}

/* One entry of the kimage list (for_each_kimage_entry in kexec_core.c). */
static long rb_walk_cb(__u64 i, void *unused)
{
	struct rb_state *s = rb_state();
	struct rb_page *pg;
	__u64 e = 0;
	__u32 n;

	if (!s)
		return 1;
	if (bpf_probe_read_kernel(&e, sizeof(e), (void *)s->ptr)) {
		s->walk_err = 1;
		return 1;
	}
	if (!e || (e & KR_IND_DONE))
		return 1;
	if (e & KR_IND_INDIRECTION) {
		s->ptr = s->pob + (e & KR_PAGE_MASK);
		return 0;
	}
	s->ptr += sizeof(e);
	if (e & KR_IND_DESTINATION) {
		s->dest = e & KR_PAGE_MASK;
		return 0;
	}
	if (!(e & KR_IND_SOURCE))
		return 0;
	n = s->npages;
	pg = bpf_map_lookup_elem(&rb_pages, &n);
	if (!pg) {
		s->too_large = 1;
		return 1;
	}
	pg->dest = s->dest;
	pg->src = e & KR_PAGE_MASK;
	s->npages = n + 1;
	s->dest += KR_PAGE_SIZE;
	return 0;
}

/* The kernel address of segment offset so (the segment's destination is
 * mem): a crash image is read where it is staged, a normal image through
 * the source page the entry list gives for that destination page. 0 when
 * the list names no such page: the read then fails and leaves a hole. */
static __always_inline __u64 rb_src(struct rb_state *s, __u64 mem, __u64 so)
{
	__u32 k;
	struct rb_page *pg;

	if (s->crash)
		return s->pob + mem + so;
	k = s->first + (__u32)(so / KR_PAGE_SIZE);
	pg = bpf_map_lookup_elem(&rb_pages, &k);
	if (pg && pg->dest == mem + (so & KR_PAGE_MASK))
		return s->pob + pg->src + (so & (KR_PAGE_SIZE - 1));
	return 0;
}

/* Copies the piece's next run of bytes (up to the end of a page) into the
 * piece buffer. A page the list does not name, or a failed read, leaves
 * zeros there and an error in s->err (the whole piece is then a hole). */
static long rb_page_cb(__u64 i, void *unused)
{
	struct rb_state *s = rb_state();
	__u32 zero = 0;
	struct rb_piece_buf *buf = bpf_map_lookup_elem(&rb_piece_map, &zero);
	__u64 so, n, d, src;
	__u32 seg;
	long err;

	if (!s || !buf || s->pos >= s->end)
		return 1;
	seg = s->idx & (KR_MAX_SEGMENTS - 1);
	so = s->pos;
	n = KR_PAGE_SIZE - (so & (KR_PAGE_SIZE - 1));
	if (n > s->end - so)
		n = s->end - so;
	src = rb_src(s, s->seg[seg].mem, so);
	d = (so - s->start) & (KR_PIECE_MAX - 1);
	if (n > KR_PAGE_SIZE)
		n = KR_PAGE_SIZE;
	if (n == 0)
		return 1;
	/* 1..4096 in a form older verifiers (6.1) can bound */
	barrier_var(n);
	n = ((n - 1) & (KR_PAGE_SIZE - 1)) + 1;
	/* src 0 fails and zero-fills: the hole of a page the list lacks. */
	err = bpf_probe_read_kernel(buf->data + d, n, (void *)src);
	if (err && !s->err)
		s->err = err;
	s->pos = so + n;
	return 0;
}

static __always_inline void rb_drop_rest(struct rb_state *s, __u32 flags)
{
	__u64 rest = s->total - s->off;
	__u64 n = rest / KR_PIECE_MAX + (rest % KR_PIECE_MAX != 0);

	s->flags |= flags;
	if (!rest)
		return;
	count(KR_CNT_PIECES_DROPPED, n);
	count(KR_CNT_PIECE_BYTES_DROPPED, rest);
	if (n > 0xffffffffULL - s->dropped)
		n = 0xffffffffULL - s->dropped;
	s->dropped += n;
	s->off = s->total;
}

/* One piece of the payload s->kind of segment s->idx. */
static long rb_piece_cb(__u64 i, void *unused)
{
	struct rb_state *s = rb_state();
	__u32 zero = 0;
	struct rb_piece_buf *buf = bpf_map_lookup_elem(&rb_piece_map, &zero);
	__u64 len, size, pad;
	long ret;

	if (!s || !buf || s->off >= s->total)
		return 1;
	if (bpf_ktime_get_ns() >= s->b.stop_at) {
		rb_drop_rest(s, KR_PF_LOOP_LIMIT);
		return 1;
	}
	len = s->total - s->off;
	if (len > KR_PIECE_MAX)
		len = KR_PIECE_MAX;
	/* The word holding the padding after the data is zeroed first (the
	 * buffer is reused); the reads then overwrite its head. */
	pad = len & ~7ULL;
	if (pad <= KR_PIECE_MAX)
		*(__u64 *)(buf->data + pad) = 0;
	s->start = s->base + s->off;
	s->pos = s->start;
	s->end = s->start + len;
	s->err = 0;
	bpf_loop(KR_PIECE_MAX / KR_PAGE_SIZE + 2, rb_page_cb, NULL, 0);
	if (s->pos < s->end && !s->err)
		s->err = -7; /* -E2BIG: the page loop stopped short (never expected) */

	size = (sizeof(struct kr_piece) + len + 7) & ~7ULL;
	fill_hdr(&buf->rec.h, KR_REC_PIECE, size, s->call_id);
	buf->rec.kind = s->kind;
	buf->rec.index = s->idx;
	buf->rec.source = KR_SRC_KERNEL_PAGES;
	buf->rec._pad0 = 0;
	buf->rec.read_err = s->err;
	buf->rec.len = len;
	buf->rec.offset = s->off;
	buf->rec.total = s->total;
	if (size > sizeof(struct kr_piece) + KR_PIECE_MAX)
		size = sizeof(struct kr_piece) + KR_PIECE_MAX;
	ret = bpf_ringbuf_output(&events, buf, size, 0);
	if (ret) {
		if (!wait_for_space(size, s->b.wait_until)) {
			rb_drop_rest(s, KR_PF_RING_FULL);
			return 1;
		}
		ret = bpf_ringbuf_output(&events, buf, size, 0);
	}
	if (ret) {
		s->dropped++;
		s->flags |= KR_PF_RING_FULL;
		count(KR_CNT_PIECES_DROPPED, 1);
		count(KR_CNT_PIECE_BYTES_DROPPED, len);
	} else {
		s->pieces++;
		if (s->err) {
			s->read_errors++;
			s->flags |= KR_PF_READ_ERROR;
			count(KR_CNT_READ_ERRORS, 1);
		} else {
			s->emitted += len;
		}
	}
	s->off += len;
	return 0;
}

/* Emits one payload: bytes [base, base + total) of segment idx. */
static __always_inline void rb_region(struct rb_state *s, __u32 idx, __u16 kind, __u64 base, __u64 total)
{
	struct kr_payload_end *end;
	int hopeless = 0;

	s->idx = idx;
	s->kind = kind;
	s->base = base;
	s->total = total;
	s->off = 0;
	s->emitted = 0;
	s->pieces = 0;
	s->dropped = 0;
	s->read_errors = 0;
	s->flags = 0;
	if (cfg_no_payload) {
		s->flags |= KR_PF_NO_PAYLOAD;
	} else if (total) {
		bpf_loop((total + KR_PIECE_MAX - 1) / KR_PIECE_MAX, rb_piece_cb, NULL, 0);
		if (s->off < s->total)
			rb_drop_rest(s, KR_PF_LOOP_LIMIT);
	}
	end = reserve(sizeof(*end), s->b.wait_until, &hopeless);
	if (!end) {
		count(KR_CNT_END_DROPPED, 1);
		return;
	}
	fill_hdr(&end->h, KR_REC_PAYLOAD_END, sizeof(*end), s->call_id);
	end->kind = kind;
	end->index = idx;
	end->source = KR_SRC_KERNEL_PAGES;
	end->_pad0 = 0;
	end->total = total;
	end->emitted = s->emitted;
	end->pieces = s->pieces;
	end->dropped = s->dropped;
	end->read_errors = s->read_errors;
	end->flags = s->flags;
	bpf_ringbuf_submit(end, 0);
}

/* Checks one whole page of the tail, at segment offset s->pos, for zeros
 * (read into the piece buffer, not sent). */
static long rb_zero_cb(__u64 i, void *unused)
{
	struct rb_state *s = rb_state();
	__u32 zero = 0, seg;
	struct rb_piece_buf *buf = bpf_map_lookup_elem(&rb_piece_map, &zero);
	__u64 so, src, *w;

	if (!s || !buf || s->pos >= s->end)
		return 1;
	if (bpf_ktime_get_ns() >= s->b.stop_at) {
		s->tail_flags |= KR_TF_CUT;
		return 1;
	}
	seg = s->idx & (KR_MAX_SEGMENTS - 1);
	so = s->pos;
	src = rb_src(s, s->seg[seg].mem, so);
	if (bpf_probe_read_kernel(buf->data, KR_PAGE_SIZE, (void *)src)) {
		s->tail_flags |= KR_TF_NONZERO; /* unreadable: send it, the hole says so */
		return 1;
	}
	w = (void *)buf->data;
	for (int j = 0; j < KR_PAGE_SIZE / 8; j++) {
		if (w[j]) {
			s->tail_flags |= KR_TF_NONZERO;
			return 1;
		}
	}
	s->zero_checked += KR_PAGE_SIZE;
	s->pos = so + KR_PAGE_SIZE;
	return 0;
}

static long rb_segment_cb(__u64 i, void *unused)
{
	struct rb_state *s = rb_state();
	__u32 idx = i;
	__u64 bufsz, memsz;

	if (!s || idx >= s->nseg || idx >= KR_MAX_SEGMENTS)
		return 1;
	idx &= KR_MAX_SEGMENTS - 1;
	bufsz = s->seg[idx].bufsz;
	memsz = s->seg[idx].memsz;
	/* The kernel loads segments in index order, each one page per
	 * IND_SOURCE entry from its mem on (kimage_load_normal_segment), so a
	 * segment's pages start where the previous one's end; rb_page_cb
	 * checks each page's destination. */
	s->first = s->next_first;
	s->next_first += (memsz + KR_PAGE_SIZE - 1) / KR_PAGE_SIZE;
	if (!s->crash && (s->walk_err || s->too_large)) {
		rb_emit_loaded(s, idx, s->too_large ? KR_LS_TOO_LARGE : KR_LS_ENTRY_LIST);
		return 0;
	}
	if (bufsz > memsz)
		bufsz = memsz; /* never: sanity_check_segment_list refuses it */
	rb_region(s, idx, KR_PAYLOAD_LOADED, 0, bufsz);
	/* The tail: its whole pages checked for zeros here, only the partial
	 * page after bufsz sent, unless a page is not zero (then all of it). */
	s->tail_flags = 0;
	s->zero_checked = 0;
	s->idx = idx;
	s->pos = (bufsz + KR_PAGE_SIZE - 1) & KR_PAGE_MASK;
	s->end = memsz;
	if (!cfg_no_payload && s->pos < s->end)
		bpf_loop(KR_RB_MAX_PAGES, rb_zero_cb, NULL, 0);
	if (s->tail_flags & KR_TF_NONZERO) {
		s->zero_checked = 0;
		rb_region(s, idx, KR_PAYLOAD_LOADED_TAIL, bufsz, memsz - bufsz);
	} else {
		__u64 head = ((bufsz + KR_PAGE_SIZE - 1) & KR_PAGE_MASK) - bufsz;

		if (head > memsz - bufsz)
			head = memsz - bufsz;
		if (head)
			rb_region(s, idx, KR_PAYLOAD_LOADED_TAIL, bufsz, head);
	}
	rb_emit_loaded(s, idx, KR_LS_READ);
	return 0;
}

/* Every segment the call passed gets a record saying why it was not read. */
static __always_inline void rb_refuse(struct rb_state *s, struct call_state *st, __u32 status)
{
	__u32 n = st->is_file ? 1 : st->nr_copied;

	for (__u32 i = 0; i < KR_MAX_SEGMENTS; i++) {
		if (i >= n)
			break;
		rb_emit_loaded(s, i, status);
	}
}

/* Reads the image's segment table; 0 when it is readable. The element
 * address is computed from the kernel's element size: a CO-RE access
 * img->segment[i] with a variable i would use this header's (smaller)
 * struct kexec_segment for the stride. */
static __always_inline int rb_read_image(struct rb_state *s)
{
	struct kimage___rb *img = (void *)s->image;
	__u64 n = BPF_CORE_READ(img, nr_segments);
	__u64 base = s->image + bpf_core_field_offset(struct kimage___rb, segment);
	__u64 stride = bpf_core_type_size(struct kexec_segment___rb);

	if (n == 0 || n > KR_MAX_SEGMENTS)
		return -1;
	s->nseg = n;
	for (int i = 0; i < KR_MAX_SEGMENTS; i++) {
		struct kexec_segment___rb *ks = (void *)(base + i * stride);

		if (i >= n)
			break;
		s->seg[i].buf = 0;
		s->seg[i].bufsz = BPF_CORE_READ(ks, bufsz);
		s->seg[i].mem = BPF_CORE_READ(ks, mem);
		s->seg[i].memsz = BPF_CORE_READ(ks, memsz);
		if (s->seg[i].bufsz > s->seg[i].memsz || s->seg[i].memsz > (__u64)KR_RB_MAX_PAGES * KR_PAGE_SIZE)
			return -1; /* not a segment the kernel would have accepted */
	}
	return 0;
}

/* Whether the image holds the segments this kexec_load passed (another
 * load may have replaced it between the kernel's unlock and this exit). */
static __always_inline int rb_same_table(struct rb_state *s, struct call_state *st)
{
	if (st->is_file)
		return 1;
	if (st->nr_passed != s->nseg || st->nr_copied != s->nseg)
		return 0;
	for (int i = 0; i < KR_MAX_SEGMENTS; i++) {
		if (i >= s->nseg)
			break;
		if (st->seg[i].mem != s->seg[i].mem || st->seg[i].memsz != s->seg[i].memsz)
			return 0;
	}
	return 1;
}

/* Called from the syscall's exit, before its EXIT record, with the exit
 * invocation's budget. kflags is the call's flags argument. */
static __always_inline void readback_at_exit(struct call_state *st, __s64 ret, struct budget *b)
{
	struct rb_state *s;
	__u64 kflags = st->kflags, addr, img = 0, pob = cfg_rb_page_offset;
	__u32 status = KR_LS_READ;

	if (ret != 0)
		return; /* nothing was staged */
	if (st->is_file ? (kflags & KR_KEXEC_FILE_UNLOAD) : st->nr_passed == 0)
		return; /* an unload */
	if (!rb_lock()) {
		s = 0;
		status = KR_LS_BUSY;
	} else {
		s = rb_state();
	}
	if (!s) {
		/* Busy (or no state): records built on the stack are not
		 * possible here (no rb_state), so the refusal goes out
		 * without segment facts through a zeroed local state. */
		struct kr_loaded *l;
		int hopeless = 0;
		__u32 n = st->is_file ? 1 : st->nr_copied;

		for (__u32 i = 0; i < KR_MAX_SEGMENTS; i++) {
			if (i >= n)
				break;
			l = reserve(sizeof(*l), b->wait_until, &hopeless);
			if (!l) {
				count(KR_CNT_SEGMENTS_DROPPED, 1);
				continue;
			}
			fill_hdr(&l->h, KR_REC_LOADED, sizeof(*l), st->call_id);
			l->index = i;
			l->nr_segments = 0;
			l->status = KR_LS_BUSY;
			l->image_type = 0;
			l->_pad0 = 0;
			l->bufsz = 0;
			l->mem = 0;
			l->memsz = 0;
			bpf_ringbuf_submit(l, 0);
		}
		if (status != KR_LS_BUSY)
			rb_unlock();
		return;
	}
	s->call_id = st->call_id;
	s->b = *b;
	s->crash = st->is_file ? (kflags & KR_KEXEC_FILE_ON_CRASH) != 0 : (kflags & KR_KEXEC_ON_CRASH) != 0;
	s->nseg = 0;
	s->npages = 0;
	s->walk_err = 0;
	s->too_large = 0;
	s->first = 0;
	s->next_first = 0;
	addr = s->crash ? cfg_rb_kexec_crash_image : cfg_rb_kexec_image;
	if (cfg_rb_off) {
		status = cfg_rb_off;
	} else if (!bpf_core_type_exists(struct kimage___rb)) {
		status = KR_LS_MODE; /* no kexec in this kernel's BTF */
	} else if (!addr) {
		status = KR_LS_NO_SYMBOLS;
	} else if (cfg_rb_page_offset_base && bpf_probe_read_kernel(&pob, sizeof(pob), (void *)cfg_rb_page_offset_base)) {
		status = KR_LS_NO_SYMBOLS;
	} else if (bpf_probe_read_kernel(&img, sizeof(img), (void *)addr) || !img) {
		status = KR_LS_NO_IMAGE;
	} else {
		s->image = img;
		s->pob = pob;
		if (rb_read_image(s))
			status = KR_LS_NO_IMAGE;
		else if (!rb_same_table(s, st))
			status = KR_LS_REPLACED;
	}
	if (status != KR_LS_READ) {
		s->nseg = 0;
		rb_refuse(s, st, status);
		rb_unlock();
		return;
	}
	if (!s->crash) {
		s->ptr = img + bpf_core_field_offset(struct kimage___rb, head);
		bpf_loop(KR_RB_MAX_ENTRIES, rb_walk_cb, NULL, 0);
	}
	bpf_loop(KR_MAX_SEGMENTS, rb_segment_cb, NULL, 0);
	rb_unlock();
}

#endif
