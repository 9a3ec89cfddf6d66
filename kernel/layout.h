/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which blocks each of the device's memslots maps: whole chunks
 * (chunks.c), or with hard protection one memslot per run of plugged
 * blocks (runs.c).  Chosen once, when the region is set; plug.c orders
 * the memslot work against populate and discard through it.
 */
#ifndef VHOST_MEM_LAYOUT_H
#define VHOST_MEM_LAYOUT_H

#include "blocks.h"

struct vhost_mem;

/* All with vq.mutex held; the block state is the caller's to commit. */
struct vhost_mem_layout {
	/* A PLUG's blocks mapped, before it is ACKed. */
	int (*plug)(struct vhost_mem *vmem, const struct vhost_mem_plan *plan);
	/* Undoes plug() when the PLUG fails after it; NULL if never needed. */
	void (*cancel_plug)(struct vhost_mem *vmem,
			    const struct vhost_mem_plan *plan);
	/*
	 * UNPLUG and UNPLUG_ALL, after the blocks were discarded: unmapped,
	 * and what the guest could write meanwhile discarded again.
	 */
	int (*unplug)(struct vhost_mem *vmem, const struct vhost_mem_plan *plan);
	/* Start, restore, reset: every memslot as the block state wants. */
	int (*sync)(struct vhost_mem *vmem);
	/* Populate before plug(), so that a failed populate maps nothing. */
	bool populate_first;
};

extern const struct vhost_mem_layout vhost_mem_chunks_layout;
extern const struct vhost_mem_layout vhost_mem_runs_layout;

/* Both layouts' memslot work, by memslot index (layout.c). */
int vhost_mem_map_blocks(struct vhost_mem *vmem, u32 index, u64 first, u64 nr);
int vhost_mem_unmap_index(struct vhost_mem *vmem, u32 index);

/*
 * A driver that accepts VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE starts after
 * one that did not (chunks.c).
 */
void vhost_mem_discard_empty_chunks(struct vhost_mem *vmem);

#endif /* VHOST_MEM_LAYOUT_H */
