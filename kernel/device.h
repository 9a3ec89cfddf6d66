/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VHOST_MEM_DEVICE_H
#define VHOST_MEM_DEVICE_H

#include <linux/list.h>
#include <linux/vhost_mem.h>

#include "vhost.h"
#include "blocks.h"
#include "memslot.h"
#include "backing.h"

/*
 * One virtio-mem device: one open of /dev/vhost-mem.
 *
 * Locking: dev.mutex (outer) serialises set-up and start/stop; vq.mutex
 * (inner) protects the block state and the counters, which the request
 * handler changes from the vhost worker.
 */
struct vhost_mem {
	struct vhost_dev dev;
	struct vhost_virtqueue vq;
	struct vhost_virtqueue *vqs[VHOST_MEM_NUM_VQS];
	int id;
	struct list_head node;

	/* Set once under dev.mutex, then read-only. */
	struct file *vm_file;
	struct kvm *kvm;
	bool has_region;
	struct vhost_mem_memslots slots;
	struct vhost_mem_backing backing;

	/* Under vq.mutex. */
	struct vhost_mem_blocks blocks;
	u64 requests[VHOST_MEM_NR_REQ_TYPES][VHOST_MEM_NR_RESP_TYPES];
	u64 dropped;
};

struct vhost_mem *vhost_mem_create(void);
void vhost_mem_destroy(struct vhost_mem *vm);

u64 vhost_mem_get_features(void);
int vhost_mem_set_features(struct vhost_mem *vm, u64 features);
int vhost_mem_check_owner(struct vhost_mem *vm);
int vhost_mem_set_vm(struct vhost_mem *vm, const struct vhost_mem_vm *arg);
int vhost_mem_set_region(struct vhost_mem *vm,
			 const struct vhost_mem_region *arg);
int vhost_mem_set_requested_size(struct vhost_mem *vm, u64 size);
int vhost_mem_set_running(struct vhost_mem *vm, bool running);
int vhost_mem_get_status(struct vhost_mem *vm, struct vhost_mem_status *st);

/* Called by the request handler with vq.mutex held. */
u16 vhost_mem_handle_request(struct vhost_mem *vm, u16 type, u64 addr,
			     u16 nb_blocks, u16 *state);

/* request.c */
void vhost_mem_handle_kick(struct vhost_work *work);

#endif /* VHOST_MEM_DEVICE_H */
