/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VHOST_MEM_PLUG_H
#define VHOST_MEM_PLUG_H

#include "blocks.h"

struct vhost_mem;

/* All with vq.mutex held; the block state is the caller's to commit. */
int vhost_mem_execute(struct vhost_mem *vmem, const struct vhost_mem_plan *plan);
int vhost_mem_sync_memslots(struct vhost_mem *vmem);
int vhost_mem_populate_plugged(struct vhost_mem *vmem);
void vhost_mem_discard_empty_chunks(struct vhost_mem *vmem);

/* For runs.c: one memslot by index. */
int vhost_mem_map_blocks(struct vhost_mem *vmem, u32 index, u64 first, u64 nr);
int vhost_mem_unmap_index(struct vhost_mem *vmem, u32 index);

/* runs.c: hard protection's memslots, one per run of plugged blocks. */
int vhost_mem_runs_plug(struct vhost_mem *vmem, u64 first, u64 nr);
int vhost_mem_runs_unplug(struct vhost_mem *vmem, u64 first, u64 end);
void vhost_mem_runs_unmap_all(struct vhost_mem *vmem);
int vhost_mem_runs_sync(struct vhost_mem *vmem);

#endif /* VHOST_MEM_PLUG_H */
