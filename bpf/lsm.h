/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kexec_file_load's kernel and initrd bytes through BPF LSM: the same
 * handler as the fentry and kprobe hooks on security_kernel_post_read_file
 * (on_post_read), run by the LSM framework on its kernel_post_read_file hook.
 * User space uses it only where bpf is in the active LSM list and neither
 * fentry nor a kprobe works there, or when --attach lsm forces it; see
 * recorder/filehook.go for the order and why.
 *
 * Included at the end of kexecrec.c (after on_post_read).
 */
#ifndef KEXECREC_LSM_H
#define KEXECREC_LSM_H

/* int kernel_post_read_file(struct file *file, char *buf, loff_t size,
 *                           enum kernel_read_file_id id)
 * ctx[4] is the return of the BPF LSM programs before this one. This one
 * only observes: it returns 0 (no objection), never changing the decision
 * of the other LSMs, which the framework takes in list order. */
SEC("lsm/kernel_post_read_file")
int lsm_post_read_file(__u64 *ctx)
{
	on_post_read((void *)ctx[0], ctx[1], ctx[2], (__u32)ctx[3]);
	return 0;
}

#endif /* KEXECREC_LSM_H */
