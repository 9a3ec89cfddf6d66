// SPDX-License-Identifier: GPL-2.0
/*
 * One memslot by index over a range of blocks: what both layouts (chunks.c,
 * runs.c) create and delete their memslots with.  memslot.c keeps the
 * records; here the blocks become addresses, and failures are reported.
 */
#include "device.h"
#include "layout.h"

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
