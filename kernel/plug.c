// SPDX-License-Identifier: GPL-2.0
/*
 * Making KVM and the backing match the block state: the host work of an
 * ACKed plan (memslots, discard, populate), and a full resync for start,
 * restore and reset.  The block state itself changes only in blocks.c;
 * which memslots map what is the device's layout (layout.h): here is only
 * the order of memslots, populate and discard.
 */
#include <linux/virtio_mem.h>

#include "device.h"
#include "layout.h"
#include "plug.h"

static int vhost_mem_discard_blocks(struct vhost_mem *vmem, u64 first, u64 nr)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;
	int ret;

	ret = vhost_mem_backing_discard(&vmem->backing,
					vhost_mem_blocks_offset(b, first),
					vhost_mem_blocks_bytes(b, nr));
	if (ret)
		vhost_mem_warn(vmem, "cannot discard blocks %llu-%llu: %d\n",
			       first, first + nr - 1, ret);
	return ret;
}

/* Prealloc: the blocks' memory allocated now; 0 without F_PREALLOC. */
static int vhost_mem_prealloc_blocks(struct vhost_mem *vmem, u64 first, u64 nr)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;
	int ret;

	if (!(vmem->region_flags & VHOST_MEM_REGION_F_PREALLOC))
		return 0;
	ret = vhost_mem_backing_populate(&vmem->backing,
					 vhost_mem_blocks_offset(b, first),
					 vhost_mem_blocks_bytes(b, nr));
	if (ret)
		vhost_mem_warn(vmem, "cannot preallocate blocks %llu-%llu: %d\n",
			       first, first + nr - 1, ret);
	return ret;
}

/* A PLUG's blocks: populated before the ACK, discarded again if that fails. */
static int vhost_mem_populate_blocks(struct vhost_mem *vmem, u64 first, u64 nr)
{
	int ret = vhost_mem_prealloc_blocks(vmem, first, nr);

	if (ret)
		vhost_mem_discard_blocks(vmem, first, nr);
	return ret;
}

static int vhost_mem_plug_map_first(struct vhost_mem *vmem,
				    const struct vhost_mem_plan *plan)
{
	int ret = vmem->layout->plug(vmem, plan);

	if (ret)
		return ret;
	ret = vhost_mem_populate_blocks(vmem, plan->first_block, plan->nr_blocks);
	if (ret)
		vmem->layout->cancel_plug(vmem, plan);
	return ret;
}

static int vhost_mem_plug_populate_first(struct vhost_mem *vmem,
					 const struct vhost_mem_plan *plan)
{
	int ret;

	ret = vhost_mem_populate_blocks(vmem, plan->first_block, plan->nr_blocks);
	if (ret)
		return ret;
	ret = vmem->layout->plug(vmem, plan);
	if (ret)
		vhost_mem_discard_blocks(vmem, plan->first_block, plan->nr_blocks);
	return ret;
}

/*
 * UNPLUG, UNPLUG_ALL: discarded first, a failure answers BUSY with nothing
 * changed.  UNPLUG_ALL's range is the whole region, not only the plugged
 * runs: memory the guest could reach while unplugged (a live chunk, or all
 * of it for an old driver) must lose its data.
 */
static int vhost_mem_unplug(struct vhost_mem *vmem,
			    const struct vhost_mem_plan *plan)
{
	int ret;

	/*
	 * Nothing plugged and nothing mapped: no block can hold guest data,
	 * so a guest looping on UNPLUG_ALL costs no discard (as QEMU).
	 */
	if (plan->type == VIRTIO_MEM_REQ_UNPLUG_ALL &&
	    !vmem->blocks.plugged_size && !vmem->slots.live)
		return 0;
	ret = vhost_mem_discard_blocks(vmem, plan->first_block, plan->nr_blocks);
	if (ret)
		return ret;
	return vmem->layout->unplug(vmem, plan);
}

/* Makes KVM and the backing match an ACKed plan; the state is untouched. */
int vhost_mem_execute(struct vhost_mem *vmem, const struct vhost_mem_plan *plan)
{
	switch (plan->type) {
	case VIRTIO_MEM_REQ_PLUG:
		if (vmem->layout->populate_first)
			return vhost_mem_plug_populate_first(vmem, plan);
		return vhost_mem_plug_map_first(vmem, plan);
	case VIRTIO_MEM_REQ_UNPLUG:
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		return vhost_mem_unplug(vmem, plan);
	default:
		return -EINVAL;
	}
}

/* Every memslot as the state and the unplugged-inaccessible mode want. */
int vhost_mem_sync_memslots(struct vhost_mem *vmem)
{
	return vmem->layout->sync(vmem);
}

/* Restore: what a failure leaves allocated may hold migrated RAM, kept. */
int vhost_mem_populate_plugged(struct vhost_mem *vmem)
{
	u64 start, end;
	int ret;

	vhost_mem_blocks_for_each_plugged(&vmem->blocks, start, end, 0,
					  vmem->blocks.nr_blocks) {
		ret = vhost_mem_prealloc_blocks(vmem, start, end - start);
		if (ret)
			return ret;
	}
	return 0;
}
