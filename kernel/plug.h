/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VHOST_MEM_PLUG_H
#define VHOST_MEM_PLUG_H

#include "blocks.h"

struct vhost_mem;

/* All with vq.mutex held; the block state is the caller's to commit. */
int vhost_mem_execute(struct vhost_mem *vmem, const struct vhost_mem_plan *plan);
int vhost_mem_sync_memslots(struct vhost_mem *vmem);
int vhost_mem_populate_plugged(struct vhost_mem *vmem);

#endif /* VHOST_MEM_PLUG_H */
