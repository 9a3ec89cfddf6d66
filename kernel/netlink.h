/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The generic netlink family "vhost-mem" (netlink.c): registration, and the
 * events the device sends to its multicast group.
 */
#ifndef VHOST_MEM_NETLINK_H
#define VHOST_MEM_NETLINK_H

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

int vhost_mem_nl_init(void);
void vhost_mem_nl_exit(void);

/*
 * Sends event cmd (VHOST_MEM_CMD_*_NTF) to the device's network namespace,
 * if anyone listens there.  Process context; may sleep; the caller holds a
 * reference to the device (its file or a registry reference).
 */
void vhost_mem_nl_notify(struct vhost_mem *vmem, u8 cmd,
			 const struct vhost_mem_ntf *ntf);

#endif /* VHOST_MEM_NETLINK_H */
