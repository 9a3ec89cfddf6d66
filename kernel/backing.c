// SPDX-License-Identifier: GPL-2.0
/*
 * Discarding the backing pages of unplugged blocks.
 */
#include <linux/mm.h>
#include <linux/file.h>
#include <linux/falloc.h>
#include <linux/hugetlb.h>
#include <linux/sched/signal.h>

#include "compat.h"
#include "backing.h"

/* A VMA of the backing must map @file at the matching offset, shared. */
static bool vhost_mem_vma_maps_file(struct vm_area_struct *vma,
				    unsigned long addr, struct file *file,
				    u64 file_offset)
{
	u64 off = ((u64)vma->vm_pgoff << PAGE_SHIFT) + (addr - vma->vm_start);

	return vma->vm_file && file_inode(vma->vm_file) == file_inode(file) &&
	       (vma->vm_flags & VM_SHARED) && off == file_offset;
}

/*
 * The whole range must be mapped, with one page size, by VMAs that we can
 * discard: no PFN/IO maps, no shared mapping that we could not punch.
 */
static int vhost_mem_backing_check(struct vhost_mem_backing *b)
{
	unsigned long addr = b->hva, end = b->hva + b->size;
	struct vm_area_struct *vma;
	int ret = 0;

	mmap_read_lock(b->mm);
	for (; addr < end; addr = vma->vm_end) {
		vma = vma_lookup(b->mm, addr);
		if (!vma) {
			ret = -EFAULT;
			break;
		}
		/* Locked memory cannot be discarded (QEMU refuses it too). */
		if (vma->vm_flags & (VM_PFNMAP | VM_IO | VM_MIXEDMAP | VM_LOCKED)) {
			ret = -EINVAL;
			break;
		}
		if (b->page_size && b->page_size != vma_kernel_pagesize(vma)) {
			ret = -EINVAL;
			break;
		}
		b->page_size = vma_kernel_pagesize(vma);
		if (b->file ? !vhost_mem_vma_maps_file(vma, addr, b->file,
					b->file_offset + (addr - b->hva)) :
			      !!(vma->vm_flags & VM_SHARED)) {
			ret = -EINVAL;
			break;
		}
	}
	mmap_read_unlock(b->mm);
	return ret;
}

int vhost_mem_backing_init(struct vhost_mem_backing *b, struct mm_struct *mm,
			   u64 hva, u64 size, int fd, u64 file_offset)
{
	int ret;

	if (!PAGE_ALIGNED(hva) || !size || hva + size < hva ||
	    hva + size > TASK_SIZE_MAX)
		return -EINVAL;
	*b = (struct vhost_mem_backing){
		.mm = mm, .hva = hva, .size = size, .file_offset = file_offset,
	};
	if (fd >= 0) {
		b->file = fget(fd);
		if (!b->file)
			return -EBADF;
		/* Punching a hole writes the file. */
		if (!(b->file->f_mode & FMODE_WRITE)) {
			ret = -EBADF;
			goto err;
		}
	}
	ret = vhost_mem_backing_check(b);
	if (ret)
		goto err;
	return 0;
err:
	vhost_mem_backing_release(b);
	return ret;
}

void vhost_mem_backing_release(struct vhost_mem_backing *b)
{
	if (b->file)
		fput(b->file);
	b->file = NULL;
}

static int vhost_mem_backing_zap(struct vhost_mem_backing *b,
				 unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma;
	unsigned long addr;
	int ret = 0;

	mmap_read_lock(b->mm);
	for (addr = start; addr < end; addr = vma->vm_end) {
		vma = vma_lookup(b->mm, addr);
		/* The VMM unmapped or locked its backing under our feet. */
		if (!vma || (vma->vm_flags & (VM_LOCKED | VM_PFNMAP))) {
			ret = -EFAULT;
			break;
		}
		vhost_mem_zap_range(vma, addr, min(end, vma->vm_end) - addr);
	}
	mmap_read_unlock(b->mm);
	return ret;
}

int vhost_mem_backing_discard(struct vhost_mem_backing *b, u64 offset, u64 len)
{
	if (WARN_ON_ONCE(offset > b->size || len > b->size - offset))
		return -EINVAL;
	/* The filesystem takes its own locks: no mmap_lock here. */
	if (b->file)
		return vfs_fallocate(b->file,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     b->file_offset + offset, len);
	return vhost_mem_backing_zap(b, b->hva + offset, b->hva + offset + len);
}

/*
 * Faults the pages in writable, as MADV_POPULATE_WRITE does, keeping no
 * reference: they belong to the VMM's mapping from now on.
 */
static int vhost_mem_backing_fault_in(struct vhost_mem_backing *b,
				      unsigned long start, unsigned long end)
{
	unsigned long addr = start;
	int locked = 1;
	long n = 0;

	mmap_read_lock(b->mm);
	while (addr < end) {
		if (!locked) {
			mmap_read_lock(b->mm);
			locked = 1;
		}
		n = vhost_mem_gup_remote(b->mm, addr, (end - addr) >> PAGE_SHIFT,
					 &locked);
		if (n <= 0)
			break;
		addr += n << PAGE_SHIFT;
		if (fatal_signal_pending(current)) {
			n = -EINTR;
			break;
		}
		cond_resched();
	}
	if (locked)
		mmap_read_unlock(b->mm);
	if (addr >= end)
		return 0;
	return n < 0 ? n : -EFAULT;
}

/*
 * Allocates the backing of [offset, offset + len) now, so that a PLUG is
 * only acknowledged when the memory exists (a hugetlb pool that is too
 * small fails here instead of with SIGBUS later).  Shared files are
 * allocated in the page cache, private mappings faulted in.
 */
int vhost_mem_backing_populate(struct vhost_mem_backing *b, u64 offset, u64 len)
{
	if (WARN_ON_ONCE(offset > b->size || len > b->size - offset))
		return -EINVAL;
	if (b->file)
		return vfs_fallocate(b->file, FALLOC_FL_KEEP_SIZE,
				     b->file_offset + offset, len);
	return vhost_mem_backing_fault_in(b, b->hva + offset,
					  b->hva + offset + len);
}
