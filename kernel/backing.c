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
 * How the VMA over [start, end) differs from what set-up accepted, or NULL.
 * The checks are madvise(MADV_DONTNEED)'s and fallocate()'s: what they
 * refuse, the zap or the punch would get wrong (a hugetlb zap of part of a
 * huge page is a BUG_ON, a punch of part of one rounds inward to nothing).
 */
static const char *vhost_mem_vma_changed(const struct vhost_mem_backing *b,
					 struct vm_area_struct *vma,
					 unsigned long start, unsigned long end)
{
	unsigned long page_size = vma_kernel_pagesize(vma);

	if (vma->vm_flags & (VM_PFNMAP | VM_IO | VM_MIXEDMAP))
		return "is a PFN or I/O mapping";
	/* Locked memory cannot be discarded (QEMU refuses it too). */
	if (vma->vm_flags & VM_LOCKED)
		return "is locked (mlock)";
	/* KVM would map it read-only: every guest write an exit. */
	if (!(vma->vm_flags & VM_WRITE))
		return "is not writable";
	if (page_size != b->page_size)
		return "has another page size";
	if (!IS_ALIGNED(start | end, page_size))
		return "does not cover whole huge pages";
	if (b->file)
		return vhost_mem_vma_maps_file(vma, start, b->file,
					       b->file_offset + (start - b->hva)) ?
		       NULL : "does not map the backing file at its offset";
	/* A zap drops only the page tables of a shared mapping. */
	if (vma->vm_flags & VM_MAYSHARE)
		return "is a shared mapping without backing_fd";
	/*
	 * A private file mapping keeps the page cache its faults filled.  A
	 * private hugetlb mapping never fills it: its pages are anonymous.
	 */
	if (!vma_is_anonymous(vma) && !is_vm_hugetlb_page(vma))
		return "is a private file mapping";
	return NULL;
}

/*
 * Every VMA over [start, end) must still be what set-up accepted.  With
 * holes_ok, unmapped parts pass: a file is punched without its mapping,
 * and the guest cannot reach memory that is not mapped.  Returns 0,
 * -EFAULT (unmapped) or -EINVAL (changed), with *why.  mmap_lock held.
 */
static int vhost_mem_backing_check(const struct vhost_mem_backing *b,
				   unsigned long start, unsigned long end,
				   bool holes_ok, const char **why)
{
	struct vm_area_struct *vma;
	unsigned long addr;

	for (addr = start; addr < end; addr = vma->vm_end) {
		/* Also after a VMA that passed: a hole may follow it. */
		*why = "is not mapped";
		vma = find_vma(b->mm, addr);
		if (!vma || vma->vm_start >= end)
			return holes_ok ? 0 : -EFAULT;
		if (vma->vm_start > addr) {
			if (!holes_ok)
				return -EFAULT;
			addr = vma->vm_start;
		}
		*why = vhost_mem_vma_changed(b, vma, addr,
					     min(end, vma->vm_end));
		if (*why)
			return -EINVAL;
	}
	return 0;
}

/*
 * Before (and after) a discard or populate: the VMM may have changed its
 * mapping since set-up (munmap, mmap MAP_FIXED, mlock).  A change is
 * -EBUSY, never acted on; the caller answers BUSY.  mmap_lock held.
 */
static int vhost_mem_backing_recheck(const struct vhost_mem_backing *b,
				     unsigned long start, unsigned long end,
				     bool holes_ok)
{
	const char *why;
	int ret;

	ret = vhost_mem_backing_check(b, start, end, holes_ok, &why);
	if (!ret)
		return 0;
	pr_warn_ratelimited("vhost-mem: backing 0x%lx-0x%lx changed since set-up: it %s\n",
			    start, end - 1, why);
	return ret == -EINVAL ? -EBUSY : ret;
}

static int vhost_mem_backing_recheck_file(const struct vhost_mem_backing *b,
					  unsigned long start,
					  unsigned long end, bool holes_ok)
{
	int ret;

	mmap_read_lock(b->mm);
	ret = vhost_mem_backing_recheck(b, start, end, holes_ok);
	mmap_read_unlock(b->mm);
	return ret;
}

/* Set-up: whole pages of one size, of one kind that can be discarded. */
static int vhost_mem_backing_accept(struct vhost_mem_backing *b)
{
	struct vm_area_struct *vma;
	const char *why;
	int ret = -EFAULT;

	mmap_read_lock(b->mm);
	vma = vma_lookup(b->mm, b->hva);
	if (vma) {
		b->page_size = vma_kernel_pagesize(vma);
		ret = vhost_mem_backing_check(b, b->hva, b->hva + b->size,
					      false, &why);
	}
	mmap_read_unlock(b->mm);
	if (ret)
		return ret;
	/* hugetlbfs: the punch must not round inward either. */
	if (!IS_ALIGNED(b->hva | b->size | b->file_offset, b->page_size))
		return -EINVAL;
	return 0;
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
	ret = vhost_mem_backing_accept(b);
	/* The file mapped: without it every UNPLUG is BUSY (ramfs, for one). */
	if (!ret && b->file && !b->file->f_op->fallocate)
		ret = -EOPNOTSUPP;
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

/* As MADV_DONTNEED, after checking what madvise() would refuse. */
static int vhost_mem_backing_zap(struct vhost_mem_backing *b,
				 unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma;
	unsigned long addr;
	int ret;

	mmap_read_lock(b->mm);
	ret = vhost_mem_backing_recheck(b, start, end, false);
	for (addr = start; !ret && addr < end; addr = vma->vm_end) {
		vma = vma_lookup(b->mm, addr);
		vhost_mem_zap_range(vma, addr, min(end, vma->vm_end) - addr);
	}
	mmap_read_unlock(b->mm);
	return ret;
}

/*
 * fallocate() on the backing file.  Checked again afterwards, since the
 * filesystem runs without mmap_lock: a mapping swapped in meanwhile holds
 * memory the guest sees and the file operation did not touch.
 */
static int vhost_mem_backing_fallocate(struct vhost_mem_backing *b, int mode,
				       u64 offset, u64 len, bool holes_ok)
{
	unsigned long start = b->hva + offset, end = start + len;
	int ret;

	ret = vhost_mem_backing_recheck_file(b, start, end, holes_ok);
	if (ret)
		return ret;
	ret = vfs_fallocate(b->file, mode, b->file_offset + offset, len);
	if (ret)
		return ret;
	return vhost_mem_backing_recheck_file(b, start, end, holes_ok);
}

int vhost_mem_backing_discard(struct vhost_mem_backing *b, u64 offset, u64 len)
{
	if (WARN_ON_ONCE(offset > b->size || len > b->size - offset))
		return -EINVAL;
	if (b->file)
		return vhost_mem_backing_fallocate(b, FALLOC_FL_PUNCH_HOLE |
						   FALLOC_FL_KEEP_SIZE,
						   offset, len, true);
	return vhost_mem_backing_zap(b, b->hva + offset, b->hva + offset + len);
}

/*
 * Faults the pages in writable, as MADV_POPULATE_WRITE does, keeping no
 * reference: they belong to the VMM's mapping from now on.  Checked each
 * time the lock is taken: GUP may drop it, and must not fill memory that
 * the device does not discard.
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
		n = vhost_mem_backing_recheck(b, addr, end, false);
		if (n)
			break;
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
 * allocated in the page cache, private mappings faulted in.  The guest's
 * memory is its mapping: a file that is not mapped there any more is not
 * allocated (-EFAULT).
 */
int vhost_mem_backing_populate(struct vhost_mem_backing *b, u64 offset, u64 len)
{
	if (WARN_ON_ONCE(offset > b->size || len > b->size - offset))
		return -EINVAL;
	if (b->file)
		return vhost_mem_backing_fallocate(b, FALLOC_FL_KEEP_SIZE,
						   offset, len, false);
	return vhost_mem_backing_fault_in(b, b->hva + offset,
					  b->hva + offset + len);
}
