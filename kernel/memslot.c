// SPDX-License-Identifier: GPL-2.0
/*
 * KVM memslots for the device region, from the ids the VMM reserved for
 * this device.  They are created and deleted as the VMM does it: with
 * KVM_SET_USER_MEMORY_REGION (the v1 struct, which every kernel takes) on
 * the VM file's own ioctl, so no KVM internal is called.  KVM takes that
 * ioctl only from a task in the VMM's mm (the vhost worker, or the VMM's
 * thread in our ioctl), and reads its struct from user memory: a page we
 * mapped in the VMM's mm at set-up.
 *
 * The VMM shares those ids with us in KVM: it can move one of our memslots
 * (same id, another address), delete it, or put its own there.  So each
 * live id has a record of what we created, every look at KVM's memslot
 * compares it with the record under kvm->slots_lock, and a memslot that
 * differs is dropped: never used, never deleted (it may be the VMM's now),
 * and said so once.  Nothing is ever computed from KVM's copy.
 *
 * What the VMM can still do, and why it only hurts its own VM:
 * - KVM's ioctl takes slots_lock itself, so we check a memslot and change
 *   it under two holds of the lock.  A VMM that replaces our memslot in
 *   between gets its own memslot deleted, or our create refused.
 * - A VMM thread can rewrite the struct in the scratch page between our
 *   copy and KVM's, and so make KVM change any memslot the VMM could
 *   change with its own ioctl.  A memslot created that way differs from
 *   the record: it is dropped and the request fails.
 * - A scratch page unmapped or made read-only fails our copy or KVM's
 *   with EFAULT: we map a new page and try once more, else the guest gets
 *   BUSY, the VMM an errno.  Each old page is left to the VMM.
 */
#include <linux/kvm_host.h>
#include <linux/bitmap.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/memcontrol.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "memslot.h"

/* As vhost_mem_warn(), for the device whose memslots these are. */
#define vhost_mem_slots_warn(s, fmt, ...) \
	pr_warn_ratelimited("vhost-mem%d: " fmt, (s)->dev_id, ##__VA_ARGS__)

/* Our ids must be free and the region must not overlap any memslot. */
static int vhost_mem_memslots_check(struct kvm *kvm, u32 base, u32 count,
				    gfn_t first, gfn_t end)
{
	struct kvm_memory_slot *slot;
	int as, bkt, ret = 0;

	mutex_lock(&kvm->slots_lock);
	for (as = 0; as < vhost_mem_kvm_nr_as(kvm) && !ret; as++) {
		kvm_for_each_memslot(slot, bkt, __kvm_memslots(kvm, as)) {
			if ((u16)slot->id >= base && (u16)slot->id < base + count) {
				ret = -EBUSY;
				break;
			}
			if (slot->base_gfn < end &&
			    first < slot->base_gfn + slot->npages) {
				ret = -EEXIST;
				break;
			}
		}
	}
	mutex_unlock(&kvm->slots_lock);
	return ret;
}

/*
 * KVM's ioctl checks it too; we check first so that our copy_to_user()
 * never writes into another process.
 */
static bool vhost_mem_in_vmm_mm(const struct vhost_mem_memslots *s)
{
	return current->mm == s->kvm->mm;
}

/*
 * A private page of the VMM's, for the struct KVM's ioctl reads.  A page
 * mapped before is left as it is: the VMM may have put its own there.
 */
static int vhost_mem_scratch_map(struct vhost_mem_memslots *s)
{
	unsigned long addr;

	if (!vhost_mem_in_vmm_mm(s))
		return -EIO;
	addr = vm_mmap(NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, 0);
	if (IS_ERR_VALUE(addr))
		return (int)addr;
	s->scratch = (void __user *)addr;
	return 0;
}

/* Whatever the VMM mapped there meanwhile is its own; it goes too. */
static void vhost_mem_scratch_unmap(struct vhost_mem_memslots *s)
{
	if (!s->scratch || !vhost_mem_in_vmm_mm(s))
		return;
	vm_munmap((unsigned long)s->scratch, PAGE_SIZE);
	s->scratch = NULL;
}

int vhost_mem_memslots_init(struct vhost_mem_memslots *s, int dev_id,
			    struct file *vm_file, struct mm_struct *owner,
			    u32 base, u32 count, u64 gpa, u64 size, bool smm)
{
	struct kvm *kvm = vm_file->private_data;
	int ret;

	if (!count || base >= KVM_USER_MEM_SLOTS ||
	    count > KVM_USER_MEM_SLOTS - base)
		return -EINVAL;
	/* No SMM address space (not x86 SMM, or a private-memory VM). */
	if (smm && vhost_mem_kvm_nr_as(kvm) < 2)
		return -EOPNOTSUPP;
	ret = vhost_mem_memslots_check(kvm, base, count, gpa >> PAGE_SHIFT,
				       (gpa + size) >> PAGE_SHIFT);
	if (ret)
		return ret;
	s->kvm = kvm;
	s->vm_file = vm_file;
	ret = vhost_mem_scratch_map(s);
	if (ret)
		return ret;
	s->mapped = bitmap_zalloc(count, GFP_KERNEL_ACCOUNT);
	s->records = kvcalloc(count, sizeof(*s->records), GFP_KERNEL_ACCOUNT);
	if (!s->mapped || !s->records) {
		vhost_mem_scratch_unmap(s);
		bitmap_free(s->mapped);
		kvfree(s->records);
		s->mapped = NULL;
		s->records = NULL;
		return -ENOMEM;
	}
	s->gpa = gpa;
	s->size = size;
	s->base = base;
	s->count = count;
	s->live = 0;
	s->smm = smm;
	s->memcg = get_mem_cgroup_from_mm(owner);
	return 0;
}

bool vhost_mem_memslot_is_live(const struct vhost_mem_memslots *s, u32 index)
{
	return index < s->count && test_bit(index, s->mapped);
}

static int vhost_mem_memslot_nr_as(const struct vhost_mem_memslots *s)
{
	return s->smm ? 2 : 1;
}

static struct kvm_memory_slot *vhost_mem_kvm_slot(struct vhost_mem_memslots *s,
						  u32 index, int as)
{
	return id_to_memslot(__kvm_memslots(s->kvm, as), s->base + index);
}

/* KVM's slot number: the address space in the upper 16 bits. */
static u32 vhost_mem_slot_id(const struct vhost_mem_memslots *s, u32 index,
			     int as)
{
	return (as << 16) | (s->base + index);
}

static int vhost_mem_kvm_ioctl(struct vhost_mem_memslots *s,
			       const struct kvm_userspace_memory_region *region)
{
	struct file *f = s->vm_file;

	if (copy_to_user(s->scratch, region, sizeof(*region)))
		return -EFAULT;
	return f->f_op->unlocked_ioctl(f, KVM_SET_USER_MEMORY_REGION,
				       (unsigned long)s->scratch);
}

/*
 * The VMM's own KVM_SET_USER_MEMORY_REGION on its VM file, with the struct
 * in the scratch page; a size of 0 deletes the memslot.  KVM takes
 * slots_lock inside: holding it here would deadlock.
 */
static int vhost_mem_kvm_set_memslot(struct vhost_mem_memslots *s, u32 index,
				     int as, u64 gpa, u64 size, u64 hva)
{
	struct kvm_userspace_memory_region region = {
		.slot = vhost_mem_slot_id(s, index, as),
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};
	int ret;

	lockdep_assert_not_held(&s->kvm->slots_lock);
	if (WARN_ON_ONCE(!vhost_mem_in_vmm_mm(s)))
		return -EIO;
	ret = vhost_mem_kvm_ioctl(s, &region);
	/* The VMM unmapped or protected the page: once more with a new one. */
	if (ret == -EFAULT && !vhost_mem_scratch_map(s))
		ret = vhost_mem_kvm_ioctl(s, &region);
	return ret;
}

static int vhost_mem_kvm_delete(struct vhost_mem_memslots *s, u32 index, int as)
{
	return vhost_mem_kvm_set_memslot(s, index, as, 0, 0, 0);
}

/*
 * Is KVM's memslot the one we created?  Dirty logging is the VMM's to
 * switch (KVM_MEM_LOG_DIRTY_PAGES, while migrating); nothing else may
 * differ.  slots_lock held.
 */
static bool vhost_mem_kvm_slot_matches(const struct kvm_memory_slot *ks,
				       const struct vhost_mem_memslot_record *rec)
{
	return ks && ks->base_gfn == rec->gpa >> PAGE_SHIFT &&
	       ks->npages == rec->size >> PAGE_SHIFT &&
	       ks->userspace_addr == rec->hva &&
	       !(ks->flags & ~KVM_MEM_LOG_DIRTY_PAGES);
}

static bool vhost_mem_kvm_slot_is_ours(struct vhost_mem_memslots *s,
				       u32 index, int as)
{
	bool ours;

	mutex_lock(&s->kvm->slots_lock);
	ours = vhost_mem_kvm_slot_matches(vhost_mem_kvm_slot(s, index, as),
					  &s->records[index]);
	mutex_unlock(&s->kvm->slots_lock);
	return ours;
}

static bool vhost_mem_memslot_intact(struct vhost_mem_memslots *s, u32 index)
{
	int as;

	for (as = 0; as < vhost_mem_memslot_nr_as(s); as++)
		if (!vhost_mem_kvm_slot_is_ours(s, index, as))
			return false;
	return true;
}

/*
 * Deletes what is still ours of the memslot, the SMM twin first so that
 * the memslot stays whole until the end; *tampered if some of it was not
 * ours any more.  Each address space is checked, then deleted: see the
 * top for what the VMM can do in between.
 */
static int vhost_mem_kvm_delete_ours(struct vhost_mem_memslots *s, u32 index,
				     bool *tampered)
{
	int as, ret;

	*tampered = false;
	for (as = vhost_mem_memslot_nr_as(s) - 1; as >= 0; as--) {
		if (!vhost_mem_kvm_slot_is_ours(s, index, as)) {
			*tampered = true;
			continue;
		}
		ret = vhost_mem_kvm_delete(s, index, as);
		if (ret)
			return ret;
	}
	return 0;
}

static void vhost_mem_memslot_forget(struct vhost_mem_memslots *s, u32 index)
{
	__clear_bit(index, s->mapped);
	s->records[index] = (struct vhost_mem_memslot_record){};
	s->live--;
}

static void vhost_mem_memslot_warn_tampered(struct vhost_mem_memslots *s,
					    u32 index)
{
	const struct vhost_mem_memslot_record *rec = &s->records[index];

	vhost_mem_slots_warn(s,
		       "memslot %u (gpa 0x%llx size 0x%llx) was moved, replaced or deleted by the VMM: dropped, left to the VMM\n",
		       s->base + index, rec->gpa, rec->size);
}

/* The VMM changed it: what is still ours goes, the rest is left. */
static void vhost_mem_memslot_drop(struct vhost_mem_memslots *s, u32 index)
{
	bool tampered;

	vhost_mem_memslot_warn_tampered(s, index);
	if (vhost_mem_kvm_delete_ours(s, index, &tampered))
		vhost_mem_slots_warn(s,
			       "cannot delete the rest of memslot %u\n",
			       s->base + index);
	vhost_mem_memslot_forget(s, index);
}

bool vhost_mem_memslot_get(struct vhost_mem_memslots *s, u32 index,
			   struct vhost_mem_memslot *slot)
{
	if (!vhost_mem_memslot_is_live(s, index))
		return false;
	if (!vhost_mem_memslot_intact(s, index)) {
		vhost_mem_memslot_drop(s, index);
		return false;
	}
	slot->index = index;
	slot->gpa = s->records[index].gpa;
	slot->size = s->records[index].size;
	return true;
}

/* The id of KVM's memslot at gpa in the first address space, or -1. */
static int vhost_mem_kvm_id_at(struct vhost_mem_memslots *s, u64 gpa)
{
	struct kvm_memory_slot *ks;
	int id = -1;

	mutex_lock(&s->kvm->slots_lock);
	ks = __gfn_to_memslot(__kvm_memslots(s->kvm, 0), gpa >> PAGE_SHIFT);
	if (ks)
		id = (u16)ks->id;
	mutex_unlock(&s->kvm->slots_lock);
	return id;
}

/* Which of our memslots maps gpa: KVM's own lookup finds the id. */
bool vhost_mem_memslot_at(struct vhost_mem_memslots *s, u64 gpa,
			  struct vhost_mem_memslot *slot)
{
	int id = vhost_mem_kvm_id_at(s, gpa);

	/* The record must say so too: the VMM may move it meanwhile. */
	return id >= (int)s->base &&
	       vhost_mem_memslot_get(s, id - s->base, slot) &&
	       gpa >= slot->gpa && gpa - slot->gpa < slot->size;
}

/* Does KVM have a memslot at the id, ours or the VMM's?  slots_lock held. */
static bool vhost_mem_kvm_id_taken(struct vhost_mem_memslots *s, u32 index)
{
	int as;

	for (as = 0; as < vhost_mem_memslot_nr_as(s); as++)
		if (vhost_mem_kvm_slot(s, index, as))
			return true;
	return false;
}

static bool vhost_mem_kvm_id_free(struct vhost_mem_memslots *s, u32 index)
{
	bool taken;

	mutex_lock(&s->kvm->slots_lock);
	taken = vhost_mem_kvm_id_taken(s, index);
	mutex_unlock(&s->kvm->slots_lock);
	return !taken;
}

/* An id neither we nor the VMM use. */
int vhost_mem_memslot_free_index(struct vhost_mem_memslots *s)
{
	unsigned long index;

	for_each_clear_bit(index, s->mapped, s->count)
		if (vhost_mem_kvm_id_free(s, index))
			return index;
	return -ENOSPC;
}

/*
 * KVM charges a memslot's metadata to the current task's memory cgroup;
 * a 6.1 vhost worker is a kernel thread, so name the VMM's explicitly.
 */
static int vhost_mem_kvm_add(struct vhost_mem_memslots *s, u32 index, int as)
{
	const struct vhost_mem_memslot_record *rec = &s->records[index];
	struct mem_cgroup *old = set_active_memcg(s->memcg);
	int ret;

	ret = vhost_mem_kvm_set_memslot(s, index, as, rec->gpa, rec->size,
					rec->hva);
	set_active_memcg(old);
	return ret;
}

/* Both address spaces or none, as the record says. */
static int vhost_mem_kvm_add_all(struct vhost_mem_memslots *s, u32 index)
{
	int ret;

	/* An id the VMM took is not ours to reuse (or to move). */
	if (!vhost_mem_kvm_id_free(s, index)) {
		vhost_mem_slots_warn(s,
			       "memslot id %u is in use by the VMM\n",
			       s->base + index);
		return -EBUSY;
	}
	ret = vhost_mem_kvm_add(s, index, 0);
	if (ret || !s->smm)
		return ret;
	ret = vhost_mem_kvm_add(s, index, 1);
	if (ret && vhost_mem_kvm_slot_is_ours(s, index, 0))
		vhost_mem_kvm_delete(s, index, 0);
	return ret;
}

/* Within the region: every block index from a record is in range. */
static bool vhost_mem_memslot_in_region(const struct vhost_mem_memslots *s,
					u64 gpa, u64 size)
{
	return size && gpa >= s->gpa && size <= s->size &&
	       gpa - s->gpa <= s->size - size;
}

/*
 * A memslot KVM made from a struct the VMM rewrote is not the record's:
 * dropped, and the add fails.
 */
int vhost_mem_memslot_add(struct vhost_mem_memslots *s, u32 index,
			  u64 gpa, u64 size, u64 hva)
{
	int ret;

	if (WARN_ON_ONCE(index >= s->count || test_bit(index, s->mapped) ||
			 !vhost_mem_memslot_in_region(s, gpa, size)))
		return -EINVAL;
	s->records[index] = (struct vhost_mem_memslot_record){ gpa, size, hva };
	ret = vhost_mem_kvm_add_all(s, index);
	if (ret) {
		s->records[index] = (struct vhost_mem_memslot_record){};
		return ret;
	}
	__set_bit(index, s->mapped);
	s->live++;
	if (!vhost_mem_memslot_intact(s, index)) {
		vhost_mem_memslot_drop(s, index);
		return -EBUSY;
	}
	return 0;
}

/*
 * Deletes our memslot, only as far as KVM's still is the one we created:
 * one the VMM moved or replaced is left to it.
 */
int vhost_mem_memslot_remove(struct vhost_mem_memslots *s, u32 index)
{
	bool tampered;
	int ret;

	if (WARN_ON_ONCE(!vhost_mem_memslot_is_live(s, index)))
		return -EINVAL;
	ret = vhost_mem_kvm_delete_ours(s, index, &tampered);
	if (ret)
		return ret;
	if (tampered)
		vhost_mem_memslot_warn_tampered(s, index);
	vhost_mem_memslot_forget(s, index);
	return 0;
}

/* Every memslot deleted and the scratch page unmapped: in the VMM's mm. */
void vhost_mem_memslots_delete_all(struct vhost_mem_memslots *s)
{
	unsigned long i;
	int ret;

	if (!s->mapped)
		return;
	for_each_set_bit(i, s->mapped, s->count) {
		ret = vhost_mem_memslot_remove(s, i);
		if (ret)	/* KVM's allocation failed: nothing else to do */
			vhost_mem_slots_warn(s, "memslot %u outlives the device: KVM could not delete it: %d\n",
					     s->base + (u32)i, ret);
	}
	vhost_mem_scratch_unmap(s);
}

/*
 * Frees the records.  Memslots still live are left to the VM: it dies
 * with the VMM's mm, which they point into (see vhost_mem_destroy()).
 */
void vhost_mem_memslots_destroy(struct vhost_mem_memslots *s)
{
	if (!s->mapped)
		return;
	bitmap_free(s->mapped);
	s->mapped = NULL;
	kvfree(s->records);
	s->records = NULL;
	s->live = 0;
	s->scratch = NULL;
	s->vm_file = NULL;
	mem_cgroup_put(s->memcg);
	s->memcg = NULL;
}
