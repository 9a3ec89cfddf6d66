/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: the virtio-mem driver side (requests over the
 * requestq) and the ioctls of /dev/vhost-mem.
 */
#ifndef VMT_VHOST_MEM_UTIL_H
#define VMT_VHOST_MEM_UTIL_H

#include <linux/virtio_mem.h>
#include <linux/vhost_mem.h>

#include "backing.h"
#include "vhost_util.h"

#define VMT_VHOST_MEM_DEV	"/dev/vhost-mem"

/* Offsets of the request and response in a head's scratch buffer. */
#define VMT_MEM_REQ_OFF		0
#define VMT_MEM_RESP_OFF	64
/* A response byte the device never wrote reads as this. */
#define VMT_MEM_RESP_POISON	0xa5

/* One request and what came back for it. */
struct vmt_mem_req {
	u16 type;		/* VIRTIO_MEM_REQ_* */
	u64 addr;
	u16 nb_blocks;
	unsigned int flags;	/* VMT_CHAIN_* for its chain */
	/* filled in on completion */
	bool answered;		/* a used entry came for it */
	u16 resp_type;		/* VIRTIO_MEM_RESP_* */
	u16 state;		/* VIRTIO_MEM_STATE_* (ACKed STATE only) */
	u32 used_len;		/* length in the used entry */
	struct virtio_mem_resp resp;	/* the raw 10 bytes */
};

const char *vmt_mem_req_name(u16 type);
const char *vmt_mem_resp_name(u16 type);
const char *vmt_mem_state_name(u16 state);

/* Encode a request (little endian, 24 bytes) at gpa in boot RAM. */
void vmt_mem_write_req(struct vmt_vm *vm, u64 gpa, u16 type, u64 addr,
		       u16 nb_blocks);

/*
 * Put one request on the ring (1 device-readable descriptor of 24 bytes and
 * 1 device-writable of 10, both in the head's scratch; req->flags as for
 * __vmt_vq_add()), publish it, do not kick.  Returns the head or -ENOSPC.
 */
int __vmt_mem_queue(struct vmt_vq *vq, struct vmt_mem_req *req);
/*
 * Fill in the request a used entry belongs to (its cookie).  Returns the
 * request, or NULL for an entry that is not a queued virtio-mem request.
 */
struct vmt_mem_req *vmt_mem_complete(struct vmt_vq *vq,
				     const struct vmt_used *u);

/*
 * Send n requests with one kick (more kicks only if they do not fit in the
 * ring at once) and wait for all of them, up to timeout_ms in total.
 * Returns the number answered; the others have answered == false.
 */
unsigned int vmt_mem_batch(struct vmt_vq *vq, struct vmt_mem_req *reqs,
			   unsigned int n, int timeout_ms);

/*
 * One request, default timeout.  Return the response type (>= 0), or
 * -ETIMEDOUT if the device did not answer.
 */
int __vmt_mem_request(struct vmt_vq *vq, u16 type, u64 addr, u16 nb_blocks,
		      struct vmt_mem_req *out);
int __vmt_mem_plug(struct vmt_vq *vq, u64 addr, u16 nb_blocks);
int __vmt_mem_unplug(struct vmt_vq *vq, u64 addr, u16 nb_blocks);
int __vmt_mem_unplug_all(struct vmt_vq *vq);
/*
 * Plugs [gpa + from, gpa + to) one block at a time; each answer must be
 * an ACK, or the test fails.
 */
void vmt_mem_plug_range(struct vmt_vq *vq, u64 gpa, u64 from, u64 to,
			u64 block_size);
/* The response type; *state is set when it is an ACK. */
int __vmt_mem_state(struct vmt_vq *vq, u64 addr, u16 nb_blocks, u16 *state);

/* Our ioctls: 0 or -errno.  The size fields are filled in here. */
int __vmt_mem_set_vm(int fd, int vm_fd);
int __vmt_mem_set_region(int fd, struct vhost_mem_region *region);
int __vmt_mem_set_requested_size(int fd, u64 size);
int __vmt_mem_set_running(int fd, int running);
int __vmt_mem_get_status(int fd, struct vhost_mem_status *st);
/* The config-change eventfd (-1 removes it). */
int __vmt_mem_set_config_call(int fd, int efd);
void vmt_mem_status_print(FILE *f, const struct vhost_mem_status *st);
/* The device id of an open /dev/vhost-mem (the netlink id), from its fdinfo. */
u32 vmt_dev_id(int fd);

/*
 * A device ready for requests.  vmt_dev_open_ready() does, failing the test
 * on any error: open /dev/vhost-mem, VHOST_SET_OWNER, GET_FEATURES and
 * SET_FEATURES (offered & want & VMT_VQ_DRIVER_FEATURES), SET_MEM_TABLE
 * (boot RAM), and attaches
 * vq (which must have been vmt_vq_init()ed on vm) to the requestq.
 */
struct vmt_dev {
	int fd;
	struct vmt_vm *vm;
	struct vmt_vq *vq;
	u64 features;		/* negotiated */
};

void vmt_dev_open_ready(struct vmt_dev *d, struct vmt_vm *vm,
			struct vmt_vq *vq, u64 want_features);
/* The same for an open device without an owner (d->fd, d->vm, d->vq set). */
void vmt_dev_ready(struct vmt_dev *d, u64 want_features);
/* Region parameters with QEMU-like defaults for a backing. */
void vmt_region_init(struct vhost_mem_region *r, const struct vmt_backing *b,
		     u64 gpa, u64 block_size, u32 slot_base);
/* The memslot ids the region needs at least (block_size set). */
u32 vmt_region_slots_needed(const struct vhost_mem_region *r);
/*
 * VHOST_MEM_SET_VM (d->vm), VHOST_MEM_SET_REGION (r), requested size, and
 * VHOST_MEM_SET_RUNNING 1, failing the test on any error.
 */
void vmt_dev_start(struct vmt_dev *d, struct vhost_mem_region *r,
		   u64 requested_size);
/* Detach the vq and close the device fd. */
void vmt_dev_close(struct vmt_dev *d);

#endif /* VMT_VHOST_MEM_UTIL_H */
