// SPDX-License-Identifier: GPL-2.0
/*
 * The chunk layout: memslot index c maps chunk c, while the chunk has a
 * plugged block; when the guest may read unplugged memory
 * (VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE not in effect), every chunk has
 * one, as QEMU maps the whole region then.
 */
#include "device.h"
#include "layout.h"

static bool vhost_mem_chunk_wants_memslot(const struct vhost_mem *vmem, u64 c)
{
	return !vmem->unplugged_inaccessible ||
	       !vhost_mem_blocks_chunk_is_empty(&vmem->blocks, c);
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
static int vhost_mem_chunks_plug(struct vhost_mem *vmem,
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

/* The PLUG failed: its chunks are as empty as before. */
static void vhost_mem_chunks_cancel_plug(struct vhost_mem *vmem,
					 const struct vhost_mem_plan *plan)
{
	u64 c, end = plan->first_chunk + plan->nr_chunks;

	for (c = plan->first_chunk; c < end; c++)
		if (!vhost_mem_chunk_wants_memslot(vmem, c))
			vhost_mem_unmap_index(vmem, c);
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
static int vhost_mem_chunks_unplug(struct vhost_mem *vmem,
				   const struct vhost_mem_plan *plan)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;
	u64 c, end = plan->first_chunk + plan->nr_chunks;

	if (!vmem->unplugged_inaccessible)
		return 0;
	for (c = plan->first_chunk; c < end; c++)
		if (vhost_mem_memslot_is_live(&vmem->slots, c) &&
		    vhost_mem_plan_empties_chunk(b, plan, c))
			vhost_mem_unmap_empty_chunk(vmem, c);
	return 0;
}

/* Every memslot as the state and the unplugged-inaccessible mode want. */
static int vhost_mem_chunks_sync(struct vhost_mem *vmem)
{
	bool live, wanted;
	int ret, err = 0;
	u64 c;

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
 * Every chunk was mapped for the old driver, so every chunk without a
 * plugged block may hold what it wrote.  After the resync unmapped them.
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

/* Mapped first: a failed map costs no populate. */
const struct vhost_mem_layout vhost_mem_chunks_layout = {
	.plug		= vhost_mem_chunks_plug,
	.cancel_plug	= vhost_mem_chunks_cancel_plug,
	.unplug		= vhost_mem_chunks_unplug,
	.sync		= vhost_mem_chunks_sync,
	.populate_first	= false,
};
