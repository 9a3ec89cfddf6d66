// SPDX-License-Identifier: GPL-2.0
/*
 * KVM memslots for the device region: created and deleted through KVM's
 * in-kernel API, from the ids the VMM reserved for this device.
 *
 * The VMM shares those ids with us in KVM: it can move one of our memslots
 * (same id, another address), delete it, or put its own there.  So each
 * live id has a record of what we created, every look at KVM's memslot
 * compares it with the record under kvm->slots_lock, and a memslot that
 * differs is dropped: never used, never deleted (it may be the VMM's now),
 * and said so once.  Nothing is ever computed from KVM's copy.
 */
#include <linux/kvm_host.h>
#include <linux/bitmap.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

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

int vhost_mem_memslots_init(struct vhost_mem_memslots *s, int dev_id,
			    struct kvm *kvm, struct mm_struct *owner, u32 base,
			    u32 count, u64 gpa, u64 size, bool smm)
{
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
	s->mapped = bitmap_zalloc(count, GFP_KERNEL_ACCOUNT);
	s->records = kvcalloc(count, sizeof(*s->records), GFP_KERNEL_ACCOUNT);
	if (!s->mapped || !s->records) {
		bitmap_free(s->mapped);
		kvfree(s->records);
		s->mapped = NULL;
		s->records = NULL;
		return -ENOMEM;
	}
	s->kvm = kvm;
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

static bool vhost_mem_memslot_intact(struct vhost_mem_memslots *s, u32 index)
{
	int as;

	for (as = 0; as < vhost_mem_memslot_nr_as(s); as++)
		if (!vhost_mem_kvm_slot_matches(vhost_mem_kvm_slot(s, index, as),
						&s->records[index]))
			return false;
	return true;
}

/* KVM's slot number: the address space in the upper 16 bits. */
static u32 vhost_mem_slot_id(const struct vhost_mem_memslots *s, u32 index,
			     int as)
{
	return (as << 16) | (s->base + index);
}

/*
 * Deletes what is still ours of the memslot, the SMM twin first so that
 * the memslot stays whole until the end; true if some of it was not ours
 * any more.  slots_lock held, so the VMM cannot change it meanwhile.
 */
static int vhost_mem_kvm_delete_ours(struct vhost_mem_memslots *s, u32 index,
				     bool *tampered)
{
	int as, ret;

	*tampered = false;
	for (as = vhost_mem_memslot_nr_as(s) - 1; as >= 0; as--) {
		if (!vhost_mem_kvm_slot_matches(vhost_mem_kvm_slot(s, index, as),
						&s->records[index])) {
			*tampered = true;
			continue;
		}
		/* A size of 0 deletes the memslot. */
		ret = vhost_mem_kvm_set_memslot(s->kvm,
						vhost_mem_slot_id(s, index, as),
						0, 0, 0);
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

/* The VMM changed it: what is still ours goes, the rest is left.  slots_lock held. */
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

/* Our live, intact memslot at KVM's slot, if it is one; slots_lock held. */
static bool vhost_mem_memslot_of(struct vhost_mem_memslots *s, u32 index,
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

/* Which of our memslots maps gpa: KVM's own lookup finds the id. */
bool vhost_mem_memslot_at(struct vhost_mem_memslots *s, u64 gpa,
			  struct vhost_mem_memslot *slot)
{
	struct kvm_memory_slot *ks;
	bool found = false;

	mutex_lock(&s->kvm->slots_lock);
	ks = __gfn_to_memslot(__kvm_memslots(s->kvm, 0), gpa >> PAGE_SHIFT);
	if (ks && (u16)ks->id >= s->base)
		found = vhost_mem_memslot_of(s, (u16)ks->id - s->base, slot);
	mutex_unlock(&s->kvm->slots_lock);
	return found;
}

bool vhost_mem_memslot_get(struct vhost_mem_memslots *s, u32 index,
			   struct vhost_mem_memslot *slot)
{
	bool found;

	if (index >= s->count)
		return false;
	mutex_lock(&s->kvm->slots_lock);
	found = vhost_mem_memslot_of(s, index, slot);
	mutex_unlock(&s->kvm->slots_lock);
	return found;
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

/* An id neither we nor the VMM use. */
int vhost_mem_memslot_free_index(struct vhost_mem_memslots *s)
{
	unsigned long index;
	int ret = -ENOSPC;

	mutex_lock(&s->kvm->slots_lock);
	for_each_clear_bit(index, s->mapped, s->count) {
		if (!vhost_mem_kvm_id_taken(s, index)) {
			ret = index;
			break;
		}
	}
	mutex_unlock(&s->kvm->slots_lock);
	return ret;
}

/*
 * KVM charges a memslot's metadata to the current task's memory cgroup;
 * a 6.1 vhost worker is a kernel thread, so name the VMM's explicitly.
 */
static int vhost_mem_kvm_add(struct vhost_mem_memslots *s, u32 index, int as,
			     const struct vhost_mem_memslot_record *rec)
{
	struct mem_cgroup *old = set_active_memcg(s->memcg);
	int ret;

	ret = vhost_mem_kvm_set_memslot(s->kvm, vhost_mem_slot_id(s, index, as),
					rec->gpa, rec->size, rec->hva);
	set_active_memcg(old);
	return ret;
}

/* Both address spaces or none; slots_lock held. */
static int vhost_mem_kvm_add_all(struct vhost_mem_memslots *s, u32 index,
				 const struct vhost_mem_memslot_record *rec)
{
	int ret;

	/* An id the VMM took is not ours to reuse (or to move). */
	if (vhost_mem_kvm_id_taken(s, index)) {
		vhost_mem_slots_warn(s,
			       "memslot id %u is in use by the VMM\n",
			       s->base + index);
		return -EBUSY;
	}
	ret = vhost_mem_kvm_add(s, index, 0, rec);
	if (ret || !s->smm)
		return ret;
	ret = vhost_mem_kvm_add(s, index, 1, rec);
	if (ret)
		vhost_mem_kvm_set_memslot(s->kvm, vhost_mem_slot_id(s, index, 0),
					  0, 0, 0);
	return ret;
}

/* Within the region: every block index from a record is in range. */
static bool vhost_mem_memslot_in_region(const struct vhost_mem_memslots *s,
					u64 gpa, u64 size)
{
	return size && gpa >= s->gpa && size <= s->size &&
	       gpa - s->gpa <= s->size - size;
}

int vhost_mem_memslot_add(struct vhost_mem_memslots *s, u32 index,
			  u64 gpa, u64 size, u64 hva)
{
	struct vhost_mem_memslot_record rec = { gpa, size, hva };
	int ret;

	if (WARN_ON_ONCE(index >= s->count || test_bit(index, s->mapped) ||
			 !vhost_mem_memslot_in_region(s, gpa, size)))
		return -EINVAL;
	mutex_lock(&s->kvm->slots_lock);
	ret = vhost_mem_kvm_add_all(s, index, &rec);
	mutex_unlock(&s->kvm->slots_lock);
	if (ret)
		return ret;
	s->records[index] = rec;
	__set_bit(index, s->mapped);
	s->live++;
	return 0;
}

/*
 * Deletes our memslot, only as far as KVM's still is the one we created:
 * one the VMM moved or replaced is left to it.  Checked and deleted under
 * one hold of slots_lock, so the VMM cannot swap it in between.
 */
int vhost_mem_memslot_remove(struct vhost_mem_memslots *s, u32 index)
{
	bool tampered;
	int ret;

	if (WARN_ON_ONCE(!vhost_mem_memslot_is_live(s, index)))
		return -EINVAL;
	mutex_lock(&s->kvm->slots_lock);
	ret = vhost_mem_kvm_delete_ours(s, index, &tampered);
	mutex_unlock(&s->kvm->slots_lock);
	if (ret)
		return ret;
	if (tampered)
		vhost_mem_memslot_warn_tampered(s, index);
	vhost_mem_memslot_forget(s, index);
	return 0;
}

void vhost_mem_memslots_destroy(struct vhost_mem_memslots *s)
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
	bitmap_free(s->mapped);
	s->mapped = NULL;
	kvfree(s->records);
	s->records = NULL;
	mem_cgroup_put(s->memcg);
	s->memcg = NULL;
}
