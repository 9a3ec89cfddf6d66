// SPDX-License-Identifier: GPL-2.0
/*
 * Hard protection (VHOST_MEM_REGION_F_HARD_PROTECT): the memslots cover
 * exactly the plugged blocks, one memslot per run of adjacent plugged
 * blocks, so an access to any unplugged block is an MMIO exit.
 *
 * A PLUG next to a run grows it, an UNPLUG inside one splits it.  KVM does
 * either only by deleting the memslot and creating the new ones, so every
 * vCPU is held out of guest mode meanwhile (vcpus.c): no vCPU ever finds a
 * plugged block unmapped.  A PLUG with no plugged neighbour and an UNPLUG
 * of a whole run create or delete one memslot and hold no vCPU.  Each
 * request holds them at most once, however torn the layout.
 *
 * KVM's lookup says which id maps a block, but where that memslot lies is
 * memslot.c's record of what it created: the VMM can move or replace our
 * memslots, so KVM's copy is only compared with it, never used.  Records
 * lie within the region, so no block index below can leave it.
 */
#include <linux/virtio_mem.h>

#include "device.h"
#include "layout.h"
#include "vcpus.h"

/* Blocks [first, end). */
struct vhost_mem_run {
	u64 first, end;
};

static u64 vhost_mem_slot_first(const struct vhost_mem *vmem,
				const struct vhost_mem_memslot *slot)
{
	return vhost_mem_blocks_block_at_gpa(&vmem->blocks, slot->gpa);
}

static u64 vhost_mem_slot_end(const struct vhost_mem *vmem,
			      const struct vhost_mem_memslot *slot)
{
	return vhost_mem_blocks_block_at_gpa(&vmem->blocks, slot->gpa + slot->size);
}

/* Maps a run with a free memslot id; returns the index or -errno. */
static int vhost_mem_map_run(struct vhost_mem *vmem, const struct vhost_mem_run *run)
{
	int index = vhost_mem_memslot_free_index(&vmem->slots);
	int ret;

	if (index < 0)
		return index;
	ret = vhost_mem_map_blocks(vmem, index, run->first, run->end - run->first);
	if (ret)
		return ret;
	return index;
}

/* Puts back a memslot a failed reshape deleted. */
static void vhost_mem_restore_slot(struct vhost_mem *vmem,
				   const struct vhost_mem_memslot *slot)
{
	u64 first = vhost_mem_slot_first(vmem, slot);

	if (vhost_mem_map_blocks(vmem, slot->index, first,
				 vhost_mem_slot_end(vmem, slot) - first))
		pr_err("vhost-mem%d: blocks %llu-%llu stay unmapped: the guest faults on them\n",
		       vmem->id, first, vhost_mem_slot_end(vmem, slot) - 1);
}

#define VHOST_MEM_RESHAPE_MAX	2

/*
 * Deletes the memslots old[] and maps the runs new[] instead, all or
 * nothing.  Blocks that stay plugged change memslot with every vCPU held.
 */
static int vhost_mem_reshape(struct vhost_mem *vmem,
			     const struct vhost_mem_memslot *old, unsigned int nr_old,
			     const struct vhost_mem_run *new, unsigned int nr_new)
{
	struct vhost_mem_vcpus_stop *stop = NULL;
	int index[VHOST_MEM_RESHAPE_MAX];
	unsigned int removed = 0, added = 0;
	int ret = 0;

	if (nr_old && nr_new) {
		stop = vhost_mem_vcpus_stop(vmem->kvm);
		if (IS_ERR(stop)) {
			vhost_mem_warn(vmem, "cannot hold the vCPUs: %ld\n",
				       PTR_ERR(stop));
			return PTR_ERR(stop);
		}
	}
	for (; removed < nr_old; removed++) {
		ret = vhost_mem_unmap_index(vmem, old[removed].index);
		if (ret)
			goto undo;
	}
	for (; added < nr_new; added++) {
		index[added] = vhost_mem_map_run(vmem, &new[added]);
		if (index[added] < 0) {
			ret = index[added];
			goto undo;
		}
	}
	goto out;
undo:
	while (added--)
		vhost_mem_unmap_index(vmem, index[added]);
	while (removed--)
		vhost_mem_restore_slot(vmem, &old[removed]);
out:
	if (stop)
		vhost_mem_vcpus_resume(stop);
	return ret;
}

/* Before a PLUG is committed: its blocks one run with their neighbours. */
static int vhost_mem_runs_plug(struct vhost_mem *vmem,
			       const struct vhost_mem_plan *plan)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;
	struct vhost_mem_memslot old[VHOST_MEM_RESHAPE_MAX];
	u64 first = plan->first_block;
	struct vhost_mem_run run = { first, first + plan->nr_blocks };
	unsigned int nr_old = 0;

	if (first && vhost_mem_memslot_at(&vmem->slots, vhost_mem_blocks_gpa(b, first - 1),
					  &old[nr_old]))
		run.first = vhost_mem_slot_first(vmem, &old[nr_old++]);
	if (run.end < b->nr_blocks &&
	    vhost_mem_memslot_at(&vmem->slots, vhost_mem_blocks_gpa(b, run.end), &old[nr_old]) &&
	    !(nr_old && old[0].index == old[1].index))
		run.end = vhost_mem_slot_end(vmem, &old[nr_old++]);
	return vhost_mem_reshape(vmem, old, nr_old, &run, 1);
}

/*
 * The memslots that an UNPLUG of [first, end) cuts, the one over first
 * and the one over end - 1 (maybe the same), and what they keep outside.
 */
static unsigned int vhost_mem_runs_cut(struct vhost_mem *vmem, u64 first, u64 end,
				       struct vhost_mem_memslot *cut,
				       struct vhost_mem_run *rest, unsigned int *nr_rest)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;
	unsigned int n = 0;

	*nr_rest = 0;
	if (vhost_mem_memslot_at(&vmem->slots, vhost_mem_blocks_gpa(b, first), &cut[n]) &&
	    vhost_mem_slot_first(vmem, &cut[n]) < first)
		rest[(*nr_rest)++] = (struct vhost_mem_run){
			vhost_mem_slot_first(vmem, &cut[n++]), first };
	if (vhost_mem_memslot_at(&vmem->slots, vhost_mem_blocks_gpa(b, end - 1), &cut[n]) &&
	    vhost_mem_slot_end(vmem, &cut[n]) > end) {
		rest[(*nr_rest)++] = (struct vhost_mem_run){
			end, vhost_mem_slot_end(vmem, &cut[n]) };
		if (!n || cut[0].index != cut[n].index)
			n++;
	}
	return n;
}

/*
 * Before an UNPLUG of [first, end) is committed: what the memslots over it
 * keep on either side is mapped again.  One memslot covers all of it,
 * unless an earlier failure (or the VMM) left the layout torn: then the
 * two at the ends are cut in one reshape, one vCPU hold for the request,
 * and those wholly inside are deleted, which holds none.  Should one of
 * those fail, the request is BUSY with blocks of it already unmapped: the
 * guest is giving them up, and its retry finishes the job.
 */
static int vhost_mem_runs_cut_out(struct vhost_mem *vmem, u64 first, u64 end)
{
	struct vhost_mem_memslot cut[VHOST_MEM_RESHAPE_MAX], slot;
	struct vhost_mem_run rest[VHOST_MEM_RESHAPE_MAX];
	unsigned int nr_cut, nr_rest;
	u64 block = first;
	int ret;

	nr_cut = vhost_mem_runs_cut(vmem, first, end, cut, rest, &nr_rest);
	ret = vhost_mem_reshape(vmem, cut, nr_cut, rest, nr_rest);
	while (!ret && block < end) {
		if (!vhost_mem_memslot_at(&vmem->slots,
					  vhost_mem_blocks_gpa(&vmem->blocks, block), &slot)) {
			block++;
			continue;
		}
		/* Wholly inside: the cut took those over first and end - 1. */
		ret = vhost_mem_unmap_index(vmem, slot.index);
		block = vhost_mem_slot_end(vmem, &slot);
	}
	return ret;
}

/* UNPLUG_ALL: nothing stays plugged, so no vCPU needs holding. */
static void vhost_mem_runs_unmap_all(struct vhost_mem *vmem)
{
	u32 i;

	for (i = 0; i < vmem->slots.count; i++)
		if (vhost_mem_memslot_is_live(&vmem->slots, i))
			vhost_mem_unmap_index(vmem, i);
}

/*
 * UNPLUG, UNPLUG_ALL, after the discard: the blocks unmapped, and
 * discarded again, in case the guest wrote to them until then.
 */
static int vhost_mem_runs_unplug(struct vhost_mem *vmem,
				 const struct vhost_mem_plan *plan)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;
	int ret = 0;

	if (plan->type == VIRTIO_MEM_REQ_UNPLUG_ALL)
		vhost_mem_runs_unmap_all(vmem);
	else
		ret = vhost_mem_runs_cut_out(vmem, plan->first_block,
					     plan->first_block + plan->nr_blocks);
	if (!ret)
		vhost_mem_backing_discard(&vmem->backing,
					  vhost_mem_blocks_offset(b, plan->first_block),
					  vhost_mem_blocks_bytes(b, plan->nr_blocks));
	return ret;
}

/* Does the memslot map exactly one whole run of plugged blocks? */
static bool vhost_mem_slot_is_run(const struct vhost_mem *vmem,
				  const struct vhost_mem_memslot *slot)
{
	u64 first = vhost_mem_slot_first(vmem, slot), start, end;

	return (!first || !vhost_mem_blocks_is_plugged(&vmem->blocks, first - 1)) &&
	       vhost_mem_blocks_next_plugged(&vmem->blocks, first, vmem->blocks.nr_blocks,
					     &start, &end) &&
	       start == first && end == vhost_mem_slot_end(vmem, slot);
}

static bool vhost_mem_slot_has_plugged(const struct vhost_mem *vmem,
				       const struct vhost_mem_memslot *slot)
{
	u64 start, end;

	return vhost_mem_blocks_next_plugged(&vmem->blocks, vhost_mem_slot_first(vmem, slot),
					     vhost_mem_slot_end(vmem, slot), &start, &end);
}

/* Any of our memslots that is not exactly a run; deleted if del. */
static bool vhost_mem_runs_drop_stale(struct vhost_mem *vmem, bool del, bool *over_plugged)
{
	struct vhost_mem_memslot slot;
	bool found = false;
	u32 i;

	for (i = 0; i < vmem->slots.count; i++) {
		if (!vhost_mem_memslot_get(&vmem->slots, i, &slot) ||
		    vhost_mem_slot_is_run(vmem, &slot))
			continue;
		found = true;
		*over_plugged |= vhost_mem_slot_has_plugged(vmem, &slot);
		if (del)
			vhost_mem_unmap_index(vmem, i);
	}
	return found;
}

/* Start, restore, reset: a memslot for each run of plugged blocks, no other. */
static int vhost_mem_runs_sync(struct vhost_mem *vmem)
{
	struct vhost_mem_vcpus_stop *stop = NULL;
	struct vhost_mem_memslot slot;
	bool over_plugged = false;
	int ret, err = 0;
	struct vhost_mem_run run;

	if (vhost_mem_runs_drop_stale(vmem, false, &over_plugged) && over_plugged) {
		stop = vhost_mem_vcpus_stop(vmem->kvm);
		if (IS_ERR(stop))
			return PTR_ERR(stop);
	}
	vhost_mem_runs_drop_stale(vmem, true, &over_plugged);
	vhost_mem_blocks_for_each_plugged(&vmem->blocks, run.first, run.end, 0,
					  vmem->blocks.nr_blocks) {
		if (vhost_mem_memslot_at(&vmem->slots,
					 vhost_mem_blocks_gpa(&vmem->blocks, run.first), &slot))
			continue;	/* kept: exactly this run */
		ret = vhost_mem_map_run(vmem, &run);
		if (ret < 0)
			err = ret;
	}
	if (stop)
		vhost_mem_vcpus_resume(stop);
	return err;
}

/* Populated first: a failed PLUG then has no memslot reshape to undo. */
const struct vhost_mem_layout vhost_mem_runs_layout = {
	.plug		= vhost_mem_runs_plug,
	.unplug		= vhost_mem_runs_unplug,
	.sync		= vhost_mem_runs_sync,
	.populate_first	= true,
};
