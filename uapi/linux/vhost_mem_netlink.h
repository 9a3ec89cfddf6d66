/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * vhost-mem: the generic netlink family "vhost_mem", the admin's control
 * plane.  Specified in Documentation/netlink/specs/vhost_mem.yaml and
 * described in Documentation/vhost-mem.rst ("Control plane").
 *
 * Commands
 *   VHOST_MEM_CMD_DEV_GET   do: one device (VHOST_MEM_A_ID, optionally
 *                           VHOST_MEM_A_COOKIE); dump: every device of the
 *                           caller's network namespace
 *   VHOST_MEM_CMD_DEV_SET   VHOST_MEM_A_ID, VHOST_MEM_A_REQUESTED_SIZE,
 *                           optionally VHOST_MEM_A_COOKIE (ESTALE if the id
 *                           now names another device): as the
 *                           VHOST_MEM_SET_REQUESTED_SIZE ioctl, and the
 *                           guest is told (config-change eventfd); needs
 *                           CAP_SYS_RESOURCE over the user namespace of the
 *                           process that opened the device
 *
 * Notifications, to the multicast group VHOST_MEM_MCGRP_EVENTS:
 *   VHOST_MEM_CMD_REQUESTED_SIZE_NTF  the requested size changed
 *   VHOST_MEM_CMD_PLUGGED_SIZE_NTF    the guest plugged or unplugged memory
 *   VHOST_MEM_CMD_SIZE_REACHED_NTF    ... and now plugged == requested
 *   VHOST_MEM_CMD_ERROR_NTF           the host failed a guest request
 *
 * The names and values are those tools/net/ynl/ynl-gen-c.py generates from
 * the spec (--mode uapi); keep the two in step.
 */
#ifndef _UAPI_LINUX_VHOST_MEM_NETLINK_H
#define _UAPI_LINUX_VHOST_MEM_NETLINK_H

#define VHOST_MEM_GENL_NAME		"vhost_mem"
#define VHOST_MEM_GENL_VERSION		1

#define VHOST_MEM_MCGRP_EVENTS		"events"

/* VHOST_MEM_A_ORIGIN: who changed the requested size. */
enum vhost_mem_origin {
	VHOST_MEM_ORIGIN_VMM = 1,	/* the VHOST_MEM_SET_REQUESTED_SIZE ioctl */
	VHOST_MEM_ORIGIN_NETLINK,	/* VHOST_MEM_CMD_DEV_SET */
};

/* Attributes of the messages of every command (u64 values are padded). */
enum vhost_mem_attr {
	VHOST_MEM_A_UNSPEC,
	VHOST_MEM_A_PAD,
	VHOST_MEM_A_ID,			/* u32: N of vhost-memN */
	VHOST_MEM_A_OWNER_PID,		/* u32: VHOST_SET_OWNER's process */
	VHOST_MEM_A_VM_ID,		/* string: "kvm-" and the creator's pid */
	VHOST_MEM_A_NODE_ID,		/* s32: proximity domain, -1: none */
	VHOST_MEM_A_STATUS_FLAGS,	/* u32: VHOST_MEM_STATUS_F_* */
	VHOST_MEM_A_REGION_FLAGS,	/* u32: VHOST_MEM_REGION_F_* */
	VHOST_MEM_A_FEATURES,		/* u64: acked virtio features */
	VHOST_MEM_A_CONFIG_CALL,	/* flag: a config eventfd is set */
	VHOST_MEM_A_ADDR,		/* u64: guest-physical base */
	VHOST_MEM_A_REGION_SIZE,	/* u64 */
	VHOST_MEM_A_BLOCK_SIZE,		/* u64 */
	VHOST_MEM_A_CHUNK_SIZE,		/* u64 */
	VHOST_MEM_A_USABLE_SIZE,	/* u64: usable_region_size */
	VHOST_MEM_A_REQUESTED_SIZE,	/* u64 */
	VHOST_MEM_A_PLUGGED_SIZE,	/* u64 */
	VHOST_MEM_A_MEMSLOTS,		/* u32: KVM memslots live now */
	VHOST_MEM_A_MEMSLOTS_MAX,	/* u32 */
	VHOST_MEM_A_DROPPED,		/* u64: chains dropped unanswered */
	VHOST_MEM_A_REQ_STATS,		/* nest, one per request type */
	VHOST_MEM_A_ORIGIN,		/* u32: enum vhost_mem_origin */
	VHOST_MEM_A_ERROR,		/* u32: errno of a failed request */
	VHOST_MEM_A_REQ_TYPE,		/* u32: VIRTIO_MEM_REQ_* */
	VHOST_MEM_A_REQ_ADDR,		/* u64: the request's guest address */
	VHOST_MEM_A_REQ_SIZE,		/* u64: the request's size in bytes */
	VHOST_MEM_A_ERRORS,		/* u32: failures the event stands for */
	VHOST_MEM_A_COOKIE,		/* u64: unique for the module's life */
	VHOST_MEM_A_BUSY,		/* flag: dump only, device too busy */

	__VHOST_MEM_A_MAX,
	VHOST_MEM_A_MAX = (__VHOST_MEM_A_MAX - 1)
};

/* Inside VHOST_MEM_A_REQ_STATS: answers given to one request type. */
enum vhost_mem_req_stats_attr {
	VHOST_MEM_A_REQ_STATS_UNSPEC,
	VHOST_MEM_A_REQ_STATS_PAD,
	VHOST_MEM_A_REQ_STATS_TYPE,	/* u32: VIRTIO_MEM_REQ_*, _UNKNOWN */
	VHOST_MEM_A_REQ_STATS_ACK,	/* u64 */
	VHOST_MEM_A_REQ_STATS_NACK,	/* u64 */
	VHOST_MEM_A_REQ_STATS_BUSY,	/* u64 */
	VHOST_MEM_A_REQ_STATS_ERROR,	/* u64 */

	__VHOST_MEM_A_REQ_STATS_MAX,
	VHOST_MEM_A_REQ_STATS_MAX = (__VHOST_MEM_A_REQ_STATS_MAX - 1)
};

enum vhost_mem_cmd {
	VHOST_MEM_CMD_DEV_GET = 1,
	VHOST_MEM_CMD_DEV_SET,
	VHOST_MEM_CMD_REQUESTED_SIZE_NTF,
	VHOST_MEM_CMD_PLUGGED_SIZE_NTF,
	VHOST_MEM_CMD_SIZE_REACHED_NTF,
	VHOST_MEM_CMD_ERROR_NTF,

	__VHOST_MEM_CMD_MAX,
	VHOST_MEM_CMD_MAX = (__VHOST_MEM_CMD_MAX - 1)
};

#endif /* _UAPI_LINUX_VHOST_MEM_NETLINK_H */
