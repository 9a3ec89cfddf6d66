/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VHOST_MEM_DEVICE_H
#define VHOST_MEM_DEVICE_H

#include <linux/list.h>
#include <linux/refcount.h>
#include <linux/vhost_mem.h>
#include <linux/vhost_mem_netlink.h>

#include "vhost.h"
#include "blocks.h"
#include "memslot.h"
#include "backing.h"
#include "events.h"

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

	/* Set once under dev.mutex, then read-only (but see "dead"). */
	struct file *vm_file;
	struct kvm *kvm;
	bool has_region;		/* false again once dead */
	struct list_head region_node;	/* vhost_mem_regions, its lock */
	u32 ui_mode;			/* VHOST_MEM_UI_* */
	struct vhost_mem_memslots slots;
	const struct vhost_mem_layout *layout;	/* what each memslot maps */
	struct vhost_mem_backing backing;

	/* Under vq.mutex. */
	struct vhost_mem_blocks blocks;
	bool paused;			/* PLUG/UNPLUG/UNPLUG_ALL get BUSY */
	bool unplugged_inaccessible;	/* in effect: decided at start */
	u64 requests[VHOST_MEM_NR_REQ_TYPES][VHOST_MEM_NR_RESP_TYPES];
	u64 dropped;

	/* Control plane: see control.c and registry.c. */
	refcount_t refs;		/* the file's and lookups' (registry.c) */
	u64 cookie;			/* unique, fixed */
	bool dead;			/* dev.mutex: closed, being torn down */
	struct user_namespace *user_ns;	/* the opener's, fixed: who may resize */
	struct net *net;		/* the opener's network namespace, fixed */
	struct pid *owner;		/* VHOST_SET_OWNER's process, dev.mutex */
	struct eventfd_ctx *config_ctx;	/* VHOST_MEM_SET_CONFIG_CALL, dev.mutex */
	int node_id;			/* set with the region */
	u32 region_flags;		/* set with the region */
	struct vhost_mem_ntf failure;	/* vq.mutex: the batch's failures */
};

#define vhost_mem_warn(vmem, fmt, ...) \
	pr_warn_ratelimited("vhost-mem%d: " fmt, (vmem)->id, ##__VA_ARGS__)

struct vhost_mem *vhost_mem_create(void);
void vhost_mem_destroy(struct vhost_mem *vmem);

u64 vhost_mem_get_features(struct vhost_mem *vmem);
int vhost_mem_set_features(struct vhost_mem *vmem, u64 features);
int vhost_mem_set_vm(struct vhost_mem *vmem, const struct vhost_mem_vm *arg);
int vhost_mem_set_region(struct vhost_mem *vmem,
			 const struct vhost_mem_region *arg);
int vhost_mem_set_requested_size(struct vhost_mem *vmem, u64 size,
				 enum vhost_mem_origin origin);
int vhost_mem_set_running(struct vhost_mem *vmem, bool running);
int vhost_mem_get_status(struct vhost_mem *vmem, struct vhost_mem_status *st);
/* The same, with dev.mutex and vq.mutex held. */
void vhost_mem_read_status(struct vhost_mem *vmem, struct vhost_mem_status *st);
int vhost_mem_set_paused(struct vhost_mem *vmem, bool paused);
int vhost_mem_get_state(struct vhost_mem *vmem, void __user *buf, u64 *len);
int vhost_mem_set_state(struct vhost_mem *vmem, const void __user *buf, u64 len);
int vhost_mem_reset(struct vhost_mem *vmem);
int vhost_mem_reset_owner(struct vhost_mem *vmem);

/* request.c */
void vhost_mem_handle_kick(struct vhost_work *work);

/*
 * Control plane hooks (control.c): what netlink.c reads of a device, the
 * owner, the config-change eventfd.  The device registry is registry.h,
 * what a device sends is events.h.
 */
#define VHOST_MEM_VM_ID_LEN	48

struct vhost_mem_info {
	struct vhost_mem_status st;
	pid_t owner_pid;		/* in the caller's pid namespace, 0: none */
	char vm_id[VHOST_MEM_VM_ID_LEN];	/* "" without a VM */
	int node_id;
	u32 region_flags;
	u64 features;
	bool config_call;
};

/* After a successful VHOST_SET_OWNER, with dev.mutex held. */
void vhost_mem_record_owner(struct vhost_mem *vmem);
int vhost_mem_set_config_call(struct vhost_mem *vmem, int fd);
/*
 * A reference held: 0, -ENODEV (dead), -EINTR (killed while waiting for
 * the device's locks) or, if !wait, -EBUSY (they are taken).
 */
int vhost_mem_get_info(struct vhost_mem *vmem, struct vhost_mem_info *info,
		       bool wait);
#endif /* VHOST_MEM_DEVICE_H */
