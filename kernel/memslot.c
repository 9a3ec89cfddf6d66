// SPDX-License-Identifier: GPL-2.0
/*
 * KVM memslots for the device region: created and deleted through KVM's
 * in-kernel API, from the ids the VMM reserved for this device.
 */
#include <linux/kvm_host.h>
#include <linux/bitmap.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "memslot.h"

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

int vhost_mem_memslots_init(struct vhost_mem_memslots *s, struct kvm *kvm,
			    struct mm_struct *owner, u32 base, u32 count,
			    u64 gpa, u64 size, bool smm)
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
	if (!s->mapped)
		return -ENOMEM;
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

/* Our live memslot with KVM's slot, if it is one; slots_lock held. */
static bool vhost_mem_memslot_of(struct vhost_mem_memslots *s,
				 const struct kvm_memory_slot *ks,
				 struct vhost_mem_memslot *slot)
{
	u32 index;

	if (!ks || (u16)ks->id < s->base)
		return false;
	index = (u16)ks->id - s->base;
	if (!vhost_mem_memslot_is_live(s, index))
		return false;
	slot->index = index;
	slot->gpa = (u64)ks->base_gfn << PAGE_SHIFT;
	slot->size = (u64)ks->npages << PAGE_SHIFT;
	return true;
}

/* Which of our memslots maps gpa: KVM's own lookup. */
bool vhost_mem_memslot_at(struct vhost_mem_memslots *s, u64 gpa,
			  struct vhost_mem_memslot *slot)
{
	bool found;

	mutex_lock(&s->kvm->slots_lock);
	found = vhost_mem_memslot_of(s, __gfn_to_memslot(__kvm_memslots(s->kvm, 0),
							 gpa >> PAGE_SHIFT), slot);
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
	found = vhost_mem_memslot_of(s, id_to_memslot(__kvm_memslots(s->kvm, 0),
						      s->base + index), slot);
	mutex_unlock(&s->kvm->slots_lock);
	return found;
}

int vhost_mem_memslot_free_index(const struct vhost_mem_memslots *s)
{
	unsigned long index = find_first_zero_bit(s->mapped, s->count);

	return index < s->count ? index : -ENOSPC;
}

/* KVM's slot number: the address space in the upper 16 bits. */
static u32 vhost_mem_slot_id(const struct vhost_mem_memslots *s, u32 index,
			     int as)
{
	return (as << 16) | (s->base + index);
}

/*
 * KVM charges a memslot's metadata to the current task's memory cgroup;
 * a 6.1 vhost worker is a kernel thread, so name the VMM's explicitly.
 */
static int vhost_mem_kvm_add(struct vhost_mem_memslots *s, u32 index, int as,
			     u64 gpa, u64 size, u64 hva)
{
	struct mem_cgroup *old = set_active_memcg(s->memcg);
	int ret;

	ret = vhost_mem_kvm_set_memslot(s->kvm, vhost_mem_slot_id(s, index, as),
					gpa, size, hva);
	set_active_memcg(old);
	return ret;
}

int vhost_mem_memslot_add(struct vhost_mem_memslots *s, u32 index,
			  u64 gpa, u64 size, u64 hva)
{
	int ret;

	if (WARN_ON_ONCE(index >= s->count || test_bit(index, s->mapped)))
		return -EINVAL;
	ret = vhost_mem_kvm_add(s, index, 0, gpa, size, hva);
	if (ret)
		return ret;
	if (s->smm) {
		ret = vhost_mem_kvm_add(s, index, 1, gpa, size, hva);
		if (ret) {
			vhost_mem_kvm_set_memslot(s->kvm,
						  vhost_mem_slot_id(s, index, 0),
						  0, 0, 0);
			return ret;
		}
	}
	__set_bit(index, s->mapped);
	s->live++;
	return 0;
}

/* The SMM twin goes first: the memslot stays whole until the end. */
int vhost_mem_memslot_remove(struct vhost_mem_memslots *s, u32 index)
{
	int ret;

	if (WARN_ON_ONCE(!vhost_mem_memslot_is_live(s, index)))
		return -EINVAL;
	/* A size of 0 deletes the memslot. */
	if (s->smm) {
		ret = vhost_mem_kvm_set_memslot(s->kvm,
						vhost_mem_slot_id(s, index, 1),
						0, 0, 0);
		if (ret && ret != -EINVAL)
			return ret;
	}
	ret = vhost_mem_kvm_set_memslot(s->kvm, vhost_mem_slot_id(s, index, 0),
					0, 0, 0);
	/* KVM says EINVAL for a memslot that no longer exists. */
	if (ret == -EINVAL)
		pr_warn_ratelimited("vhost-mem: memslot %u was deleted by someone else\n",
				    s->base + index);
	else if (ret)
		return ret;
	__clear_bit(index, s->mapped);
	s->live--;
	return 0;
}

void vhost_mem_memslots_destroy(struct vhost_mem_memslots *s)
{
	unsigned long i;

	if (!s->mapped)
		return;
	for_each_set_bit(i, s->mapped, s->count)
		vhost_mem_memslot_remove(s, i);
	bitmap_free(s->mapped);
	s->mapped = NULL;
	mem_cgroup_put(s->memcg);
	s->memcg = NULL;
}
