/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: the vhost ioctls and a split-virtqueue driver.
 *
 * The test process plays the guest's driver and the VMM at once.  The ring
 * (descriptor table, avail ring, used ring), indirect tables and per-head
 * scratch buffers live in the test VM's boot RAM; vhost reaches them through
 * the memory table (VHOST_SET_MEM_TABLE) that maps boot RAM.  The kick and
 * call eventfds are ours; waits on the call eventfd go through io_uring
 * (IORING_OP_POLL_ADD linked to IORING_OP_LINK_TIMEOUT).
 *
 * Chains are built in two steps so that tests can break them on purpose:
 * __vmt_vq_add() writes the descriptors, vmt_vq_chain_desc() gives access to
 * each of them, vmt_vq_publish() makes a head available (any u16, also an
 * index out of range), vmt_vq_kick() notifies.  __vmt_vq_submit() does all.
 *
 * A vq is used by one process: a forked child must not touch it.
 */
#ifndef VMT_VHOST_UTIL_H
#define VMT_VHOST_UTIL_H

#include <liburing.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "kvm_util.h"

/* Raw ioctls: 0 (or an fd) on success, -errno on failure. */
int __vmt_vhost_open(const char *path);
int __vmt_vhost_set_owner(int fd);
int __vmt_vhost_reset_owner(int fd);
int __vmt_vhost_get_features(int fd, u64 *features);
int __vmt_vhost_set_features(int fd, u64 features);
int __vmt_vhost_get_backend_features(int fd, u64 *features);
int __vmt_vhost_set_mem_table(int fd, const struct vhost_memory_region *regions,
			      unsigned int n);
/* A table with one region: the VM's boot RAM. */
int __vmt_vhost_set_mem_table_vm(int fd, struct vmt_vm *vm);
int __vmt_vhost_set_vring_num(int fd, unsigned int index, unsigned int num);
int __vmt_vhost_set_vring_base(int fd, unsigned int index, unsigned int base);
int __vmt_vhost_get_vring_base(int fd, unsigned int index, unsigned int *base);
int __vmt_vhost_set_vring_addr(int fd, const struct vhost_vring_addr *addr);
int __vmt_vhost_set_vring_kick(int fd, unsigned int index, int efd);
int __vmt_vhost_set_vring_call(int fd, unsigned int index, int efd);
int __vmt_vhost_set_vring_err(int fd, unsigned int index, int efd);

#define VMT_VQ_NUM_DEFAULT	128
#define VMT_VQ_MAX_CHAIN	64	/* descriptors in one chain */
#define VMT_VQ_SCRATCH_SIZE	256	/* bytes of scratch per head */

/* One buffer of a chain. */
struct vmt_buf {
	u64 gpa;
	u32 len;
	bool write;		/* device-writable (VRING_DESC_F_WRITE) */
};

/*
 * Features this driver implements: it can accept these (and any
 * device-specific bit, 0-23).  Not VHOST_F_LOG_ALL, not ACCESS_PLATFORM.
 */
#define VMT_VQ_DRIVER_FEATURES	(1ULL << VIRTIO_F_VERSION_1 | \
				 1ULL << VIRTIO_RING_F_INDIRECT_DESC | \
				 1ULL << VIRTIO_RING_F_EVENT_IDX | \
				 ((1ULL << 24) - 1))

/* __vmt_vq_add() flags */
#define VMT_CHAIN_INDIRECT	(1U << 0) /* one ring descriptor -> table */

/* One used-ring entry as the driver sees it. */
struct vmt_used {
	u16 id;			/* head the device returned */
	u32 len;		/* bytes the device says it wrote */
	bool known;		/* id was one of our outstanding heads */
	u64 cookie;		/* what __vmt_vq_add() got for that head */
};

struct vmt_vq_chain {
	bool busy;
	bool indirect;
	u16 n;				/* buffers */
	u16 ndesc;			/* ring descriptors held */
	u16 desc[VMT_VQ_MAX_CHAIN];	/* ring descriptor indices */
	u64 cookie;
};

struct vmt_vq {
	struct vmt_vm *vm;
	int dev_fd;			/* -1 while detached */
	unsigned int index;		/* vring index */
	unsigned int num;		/* queue size */
	bool event_idx;			/* VIRTIO_RING_F_EVENT_IDX in use */

	/* guest-physical and host addresses, all in boot RAM */
	u64 desc_gpa, avail_gpa, used_gpa, indirect_gpa, scratch_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	struct vring_desc *indirect;	/* num tables of VMT_VQ_MAX_CHAIN */
	u8 *scratch;			/* num x VMT_VQ_SCRATCH_SIZE */

	u16 *free_stack;		/* free descriptor indices */
	unsigned int nfree;
	struct vmt_vq_chain *chains;	/* by head */
	unsigned int inflight;		/* chains added, not yet used */

	u16 avail_idx;			/* our copy of avail->idx */
	u16 kicked_avail;		/* avail_idx at the last kick check */
	u16 last_used;			/* next used entry to consume */

	int kick_fd, call_fd;
	int err_fd;			/* VHOST_SET_VRING_ERR: vq_err() */
	struct io_uring ring;

	const char *failed_op;		/* ioctl that made attach fail */

	u64 kicks;			/* eventfd writes */
	u64 kicks_suppressed;		/* kicks the device did not want */
	u64 calls;			/* signals counted on call_fd */
};

/* Reserve ring memory in boot RAM (once per vq) and set up io_uring. */
void vmt_vq_init(struct vmt_vq *vq, struct vmt_vm *vm, unsigned int num);
/*
 * Reset the ring, make new kick/call/err eventfds and issue
 * VHOST_SET_VRING_NUM, _BASE (0), _ADDR, _KICK, _CALL and _ERR for vring
 * index on dev_fd.  features is what was negotiated with VHOST_SET_FEATURES
 * (for EVENT_IDX).  Returns 0 or the -errno of the first failing ioctl,
 * named in vq->failed_op.
 */
int __vmt_vq_attach(struct vmt_vq *vq, int dev_fd, unsigned int index,
		    u64 features);
/* The same with the rings' indices starting at base (to test wrapping). */
int __vmt_vq_attach_base(struct vmt_vq *vq, int dev_fd, unsigned int index,
			 u64 features, u16 base);
/* Close the eventfds (the caller closes dev_fd). */
void vmt_vq_detach(struct vmt_vq *vq);
/* Detach and release io_uring.  Ring memory stays reserved in boot RAM. */
void vmt_vq_destroy(struct vmt_vq *vq);

/* The head the next __vmt_vq_add() will return, or -ENOSPC. */
int __vmt_vq_peek_head(struct vmt_vq *vq);
/* Scratch memory reserved for a head: GPA and host address. */
u64 vmt_vq_scratch_gpa(struct vmt_vq *vq, u16 head);
void *vmt_vq_scratch(struct vmt_vq *vq, u16 head);

/*
 * Write a chain of n buffers into the descriptor table (or an indirect
 * table).  Nothing is published.  Returns the head, or -EINVAL (n out of
 * range), -ENOSPC (not enough free descriptors).
 */
int __vmt_vq_add(struct vmt_vq *vq, const struct vmt_buf *bufs, unsigned int n,
		 unsigned int flags, u64 cookie);
/* The i-th descriptor of a chain as __vmt_vq_add() built it (to break it). */
struct vring_desc *vmt_vq_chain_desc(struct vmt_vq *vq, u16 head,
				     unsigned int i);
/* Put any value into the next avail slot and publish avail->idx. */
void vmt_vq_publish(struct vmt_vq *vq, u16 head);
/*
 * Kick if the device asked for it (VRING_USED_F_NO_NOTIFY or avail_event).
 * Returns true if the eventfd was written.
 */
bool vmt_vq_kick(struct vmt_vq *vq);
void vmt_vq_kick_force(struct vmt_vq *vq);
/* add + publish + kick; returns the head or a negative error. */
int __vmt_vq_submit(struct vmt_vq *vq, const struct vmt_buf *bufs,
		    unsigned int n, unsigned int flags, u64 cookie);

/* Take one used entry if there is one: 1, or 0.  Frees its descriptors. */
int vmt_vq_pop_used(struct vmt_vq *vq, struct vmt_used *u);
/* Wait up to timeout_ms for a used entry: 1, or 0 on timeout. */
int vmt_vq_wait_used(struct vmt_vq *vq, struct vmt_used *u, int timeout_ms);
/*
 * Wait up to timeout_ms for the call eventfd: returns the signal count read
 * (> 0), or 0 on timeout.
 */
u64 vmt_vq_wait_call(struct vmt_vq *vq, int timeout_ms);
/* Read the call eventfd without waiting: the count, 0 if none. */
u64 vmt_vq_drain_calls(struct vmt_vq *vq);
/*
 * Vring errors (vq_err() in vhost signals the VHOST_SET_VRING_ERR eventfd)
 * since the last call, waiting up to timeout_ms for the first one.
 */
u64 vmt_vq_wait_errors(struct vmt_vq *vq, int timeout_ms);
/* used->idx as the device last wrote it. */
u16 vmt_vq_used_idx(struct vmt_vq *vq);

#endif /* VMT_VHOST_UTIL_H */
