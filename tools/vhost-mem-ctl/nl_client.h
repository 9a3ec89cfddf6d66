/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A libnl client of the "vhost-mem" generic netlink family, shared by
 * vhost-mem-ctl and the selftests (tests/selftests/lib/nl_util.c): the
 * socket, the family and its events group, requests with the kernel's
 * extended ack message, and the replies and events parsed into structs.
 *
 * Nothing here prints or exits: every call returns 0 or a negative code,
 * and each caller decides what a failure means (the tool explains it, a
 * test fails).
 */
#ifndef VHOST_MEM_NL_CLIENT_H
#define VHOST_MEM_NL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include <netlink/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include <linux/virtio_mem.h>
#include <linux/vhost_mem.h>
#include <linux/vhost_mem_netlink.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

struct nlc {
	struct nl_sock *sk;
	int family;
	/* set by nlc_open() and nlc_events_open() when a step fails */
	const char *failed;
	/* of the last request */
	int err;		/* 0 or -errno */
	bool local;		/* err is this side's (libnl, the replies) */
	unsigned int bad_replies;	/* replies that did not parse */
	char msg[256];		/* the kernel's extended ack message */
};

/* DEV_GET's reply; has_region: the region's attributes are there. */
struct nlc_dev {
	__u8 cmd;
	__u32 id;
	bool has_owner, has_vm, has_region, has_node, config_call;
	__u32 owner_pid, flags, region_flags, memslots, memslots_max;
	__s32 node;		/* 0 without has_node */
	char vm_id[64];
	__u64 features, dropped, addr, region_size, block_size, chunk_size;
	__u64 usable, requested, plugged;
	bool has_cookie, busy;	/* busy: a dump's, only id and cookie */
	__u64 cookie;
	/* VHOST_MEM_A_REQ_STATS nests: known, malformed, of newer types */
	unsigned int nr_req_stats, bad_req_stats, new_req_stats;
	bool has_req[VHOST_MEM_NR_REQ_TYPES];
	__u64 req[VHOST_MEM_NR_REQ_TYPES][VHOST_MEM_NR_RESP_TYPES];
};

/* A message of the events group. */
struct nlc_event {
	__u8 cmd;
	__u32 id;
	bool has_origin;
	__u32 origin;
	__u64 requested, plugged, usable;
	__u32 error, req_type, errors;
	__u64 req_addr, req_size;
};

/*
 * A socket with extended acks that knows the family: 0, or a libnl error
 * (-NLE_OBJ_NOTFOUND: no such family, the module is not loaded) with
 * c->failed naming the step (NULL: out of memory).
 */
int nlc_open(struct nlc *c);
void nlc_close(struct nlc *c);

/* A request of the family with command cmd and NLM_F_* flags, or NULL. */
struct nl_msg *nlc_msg(struct nlc *c, __u8 cmd, int flags);
/*
 * Sends msg (freed here) and receives up to the ack or the end of a dump,
 * giving each reply to valid.  Returns c->err: 0 or -errno, explained by
 * c->msg (the kernel's message, or libnl's when c->local).
 */
int nlc_transact(struct nlc *c, struct nl_msg *msg,
		 nl_recvmsg_msg_cb_t valid, void *arg);

/* DEV_GET as a dump: fn gets every device that parses. */
int nlc_dump_devs(struct nlc *c,
		  void (*fn)(const struct nlc_dev *d, void *arg), void *arg);
/*
 * DEV_GET of id, with the cookie unless it is 0; -EPROTO (c->local) when
 * the reply is not one device.
 */
int nlc_get_dev(struct nlc *c, __u32 id, __u64 cookie, struct nlc_dev *d);
/* DEV_SET of id's requested size, with the cookie unless it is 0. */
int nlc_set_size(struct nlc *c, __u32 id, __u64 cookie, __u64 size);

/* 0, or -EINVAL when msg does not parse or names no device. */
int nlc_parse_dev(struct nl_msg *msg, struct nlc_dev *d);
int nlc_parse_event(struct nl_msg *msg, struct nlc_event *ev);

/*
 * A non-blocking socket in the events group, whose callbacks (without the
 * sequence check) give each message to fn: 0 or a libnl error, as
 * nlc_open().  *cb is the caller's to put, before ev closes.
 */
int nlc_events_open(struct nlc *ev, nl_recvmsg_msg_cb_t fn, void *arg,
		    struct nl_cb **cb);

#endif /* VHOST_MEM_NL_CLIENT_H */
