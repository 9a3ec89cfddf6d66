/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VHOST_MEM_BACKING_H
#define VHOST_MEM_BACKING_H

#include <linux/types.h>

struct mm_struct;
struct file;

/*
 * The memory behind the device region, in the owner's (the VMM's) address
 * space.  Private mappings (anonymous memory, private hugetlb) are
 * discarded by zapping their pages, as MADV_DONTNEED does; shared file
 * mappings (memfd, shmem, hugetlbfs) by punching a hole in the file, as
 * FALLOC_FL_PUNCH_HOLE does.  Set-up accepts only whole pages of one size
 * that can be discarded so; discard and populate check the mapping again
 * and fail -EBUSY (or -EFAULT: unmapped) if the VMM changed it since.
 */
struct vhost_mem_backing {
	struct mm_struct *mm;	/* the owner's; pinned by the vhost core */
	unsigned long hva;	/* start of the region's backing */
	u64 size;
	struct file *file;	/* shared file backing, or NULL: zap */
	u64 file_offset;	/* of hva in file */
	unsigned long page_size;
};

int vhost_mem_backing_init(struct vhost_mem_backing *b, struct mm_struct *mm,
			   u64 hva, u64 size, int fd, u64 file_offset);
void vhost_mem_backing_release(struct vhost_mem_backing *b);
int vhost_mem_backing_discard(struct vhost_mem_backing *b, u64 offset, u64 len);
int vhost_mem_backing_populate(struct vhost_mem_backing *b, u64 offset, u64 len);

#endif /* VHOST_MEM_BACKING_H */
