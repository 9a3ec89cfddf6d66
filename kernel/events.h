/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The events a device sends to the netlink family's multicast group
 * (events.c): resizes, and per batch of requests the sizes reached and
 * the requests the host failed.
 */
#ifndef VHOST_MEM_EVENTS_H
#define VHOST_MEM_EVENTS_H

#include <linux/types.h>

struct vhost_mem;

/*
 * What an event reports: the sizes after the change; for
 * VHOST_MEM_CMD_REQUESTED_SIZE_NTF who made it; for VHOST_MEM_CMD_ERROR_NTF
 * the first failed request of a batch and how many failed.
 */
struct vhost_mem_ntf {
	u64 requested;
	u64 plugged;
	u64 usable;
	u32 origin;		/* enum vhost_mem_origin */
	int error;		/* -errno */
	u16 req_type;
	u64 req_addr;
	u64 req_size;
	u32 nr_errors;
};

/*
 * Sends event cmd (VHOST_MEM_CMD_*_NTF) to the device's network namespace,
 * if anyone listens there.  Process context; may sleep; the caller holds a
 * reference to the device (its file or a registry reference).
 */
void vhost_mem_nl_notify(struct vhost_mem *vmem, u8 cmd,
			 const struct vhost_mem_ntf *ntf);

/* The sizes an event reports, vq.mutex held. */
void vhost_mem_ntf_sizes(struct vhost_mem *vmem, struct vhost_mem_ntf *ntf);
/* A request answered BUSY because the host failed; vq.mutex held. */
void vhost_mem_record_failure(struct vhost_mem *vmem, u16 type, u64 addr,
			      u16 nb_blocks, int error);

/*
 * The events of a batch of requests: begin and end under vq.mutex, send
 * after dropping it.  A zeroed batch sends nothing.
 */
struct vhost_mem_batch {
	u64 plugged_before;
	struct vhost_mem_ntf sizes;	/* at the end */
	struct vhost_mem_ntf failure;
};

void vhost_mem_batch_begin(struct vhost_mem *vmem, struct vhost_mem_batch *batch);
void vhost_mem_batch_end(struct vhost_mem *vmem, struct vhost_mem_batch *batch);
void vhost_mem_batch_send(struct vhost_mem *vmem,
			  const struct vhost_mem_batch *batch);

#endif /* VHOST_MEM_EVENTS_H */
