// SPDX-License-Identifier: GPL-2.0
/*
 * Making KVM and the backing match the block state: the host work of an
 * ACKed plan (memslots, discard, populate), and a full resync for start,
 * restore and reset.  The block state itself changes only in blocks.c.
 *
 * Chunk c has a memslot while it has a plugged block; when the guest may
 * read unplugged memory (VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE not in effect),
 * every chunk has one, as QEMU maps the whole region then.  With hard
 * protection, runs.c maps the runs of plugged blocks instead.
 */
#include <linux/virtio_mem.h>

#include "device.h"
#include "plug.h"

static bool vhost_mem_chunk_wants_memslot(const struct vhost_mem *vmem, u64 c)
{
	return !vmem->unplugged_inaccessible ||
	       !vhost_mem_blocks_chunk_is_empty(&vmem->blocks, c);
}

/* Memslot index maps blocks [first, first + nr). */
int vhost_mem_map_blocks(struct vhost_mem *vmem, u32 index, u64 first, u64 nr)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;
	int ret;

	ret = vhost_mem_memslot_add(&vmem->slots, index,
				    vhost_mem_blocks_gpa(b, first),
				    vhost_mem_blocks_bytes(b, nr),
				    vmem->backing.hva +
				    vhost_mem_blocks_offset(b, first));
	if (ret)
		vhost_mem_warn(vmem, "cannot create memslot %u: %d\n",
			       vmem->slots.base + index, ret);
	return ret;
}

int vhost_mem_unmap_index(struct vhost_mem *vmem, u32 index)
{
	int ret = vhost_mem_memslot_remove(&vmem->slots, index);

	if (ret)
		vhost_mem_warn(vmem, "cannot delete memslot %u: %d\n",
			       vmem->slots.base + index, ret);
	return ret;
}

/* Chunk c's memslot is live and still the one we created (memslot.c). */
static bool vhost_mem_chunk_mapped(struct vhost_mem *vmem, u64 c)
{
	struct vhost_mem_memslot slot;

	return vhost_mem_memslot_get(&vmem->slots, c, &slot);
}

static int vhost_mem_map_chunk(struct vhost_mem *vmem, u64 c)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;

	return vhost_mem_map_blocks(vmem, c, vhost_mem_blocks_chunk_first_block(b, c),
				    vhost_mem_blocks_chunk_nr_blocks(b, c));
}

/* Memslots for the chunks a PLUG brings to life, before it is ACKed. */
static int vhost_mem_map_chunks(struct vhost_mem *vmem,
				const struct vhost_mem_plan *plan)
{
	u64 c, end = plan->first_chunk + plan->nr_chunks;
	int ret;

	for (c = plan->first_chunk; c < end; c++) {
		if (vhost_mem_chunk_mapped(vmem, c))
			continue;
		ret = vhost_mem_map_chunk(vmem, c);
		if (ret)
			goto undo;
	}
	return 0;
undo:
	while (c-- > plan->first_chunk)
		if (!vhost_mem_chunk_wants_memslot(vmem, c))
			vhost_mem_unmap_index(vmem, c);
	return ret;
}

/*
 * The memslot of a chunk with nothing plugged, then the whole chunk's
 * memory: the guest may have written to its unplugged blocks while they
 * were mapped (between PLUGs, or all along with an old driver).  So an
 * unplugged block that no memslot maps never holds guest data.
 */
static int vhost_mem_unmap_empty_chunk(struct vhost_mem *vmem, u64 c)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;
	int ret = vhost_mem_unmap_index(vmem, c);

	if (!ret)
		vhost_mem_backing_discard(&vmem->backing,
					  vhost_mem_blocks_chunk_offset(b, c),
					  vhost_mem_blocks_chunk_size(b, c));
	return ret;
}

/*
 * Memslots of the chunks an UNPLUG empties, after their pages are gone.
 * The unplug stands even if KVM refuses: a memslot over unplugged memory
 * is harmless, and the next resync (start, restore, reset) removes it.
 */
static void vhost_mem_unmap_chunks(struct vhost_mem *vmem,
				   const struct vhost_mem_plan *plan)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;
	u64 c, end = plan->first_chunk + plan->nr_chunks;

	if (!vmem->unplugged_inaccessible)
		return;
	for (c = plan->first_chunk; c < end; c++)
		if (vhost_mem_memslot_is_live(&vmem->slots, c) &&
		    vhost_mem_plan_empties_chunk(b, plan, c))
			vhost_mem_unmap_empty_chunk(vmem, c);
}

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

static int vhost_mem_plug_plan(struct vhost_mem *vmem,
			       const struct vhost_mem_plan *plan)
{
	int ret = vhost_mem_map_chunks(vmem, plan);
	u64 c;

	if (ret)
		return ret;
	ret = vhost_mem_populate_blocks(vmem, plan->first_block, plan->nr_blocks);
	if (ret)
		for (c = plan->first_chunk; c < plan->first_chunk + plan->nr_chunks; c++)
			if (!vhost_mem_chunk_wants_memslot(vmem, c))
				vhost_mem_unmap_index(vmem, c);
	return ret;
}

static bool vhost_mem_hard_protect(const struct vhost_mem *vmem)
{
	return vmem->region_flags & VHOST_MEM_REGION_F_HARD_PROTECT;
}

/* Hard protection: populated first, so a failure has no memslot to undo. */
static int vhost_mem_plug_run(struct vhost_mem *vmem,
			      const struct vhost_mem_plan *plan)
{
	int ret;

	ret = vhost_mem_populate_blocks(vmem, plan->first_block, plan->nr_blocks);
	if (ret)
		return ret;
	ret = vhost_mem_runs_plug(vmem, plan->first_block, plan->nr_blocks);
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
static int vhost_mem_unplug_plan(struct vhost_mem *vmem,
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
	if (!vhost_mem_hard_protect(vmem)) {
		vhost_mem_unmap_chunks(vmem, plan);
		return 0;
	}
	if (plan->type == VIRTIO_MEM_REQ_UNPLUG_ALL)
		vhost_mem_runs_unmap_all(vmem);
	else
		ret = vhost_mem_runs_unplug(vmem, plan->first_block,
					    plan->first_block + plan->nr_blocks);
	/* Again, in case the guest wrote to them until they were unmapped. */
	if (!ret)
		vhost_mem_backing_discard(&vmem->backing,
					  vhost_mem_blocks_offset(&vmem->blocks, plan->first_block),
					  vhost_mem_blocks_bytes(&vmem->blocks, plan->nr_blocks));
	return ret;
}

/* Makes KVM and the backing match an ACKed plan; the state is untouched. */
int vhost_mem_execute(struct vhost_mem *vmem, const struct vhost_mem_plan *plan)
{
	switch (plan->type) {
	case VIRTIO_MEM_REQ_PLUG:
		if (vhost_mem_hard_protect(vmem))
			return vhost_mem_plug_run(vmem, plan);
		return vhost_mem_plug_plan(vmem, plan);
	case VIRTIO_MEM_REQ_UNPLUG:
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		return vhost_mem_unplug_plan(vmem, plan);
	default:
		return -EINVAL;
	}
}

/* Every memslot as the state and the unplugged-inaccessible mode want. */
int vhost_mem_sync_memslots(struct vhost_mem *vmem)
{
	bool live, wanted;
	int ret, err = 0;
	u64 c;

	if (vhost_mem_hard_protect(vmem))
		return vhost_mem_runs_sync(vmem);
	for (c = 0; c < vmem->blocks.nr_chunks; c++) {
		live = vhost_mem_chunk_mapped(vmem, c);
		wanted = vhost_mem_chunk_wants_memslot(vmem, c);
		ret = 0;
		if (wanted && !live)
			ret = vhost_mem_map_chunk(vmem, c);
		else if (!wanted && live)
			ret = vhost_mem_unmap_index(vmem, c);
		if (ret)
			err = ret;
	}
	return err;
}

/*
 * A driver that accepts VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE starts after
 * one that did not (a kexec): every chunk was mapped, so every chunk
 * without a plugged block may hold what the old driver wrote.  After the
 * resync unmapped them.
 */
void vhost_mem_discard_empty_chunks(struct vhost_mem *vmem)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;
	u64 c;

	for (c = 0; c < b->nr_chunks; c++)
		if (vhost_mem_blocks_chunk_is_empty(b, c) &&
		    !vhost_mem_memslot_is_live(&vmem->slots, c))
			vhost_mem_backing_discard(&vmem->backing,
						  vhost_mem_blocks_chunk_offset(b, c),
						  vhost_mem_blocks_chunk_size(b, c));
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
