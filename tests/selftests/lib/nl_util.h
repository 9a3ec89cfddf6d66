/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: a small libnl client of the generic netlink family
 * "vhost_mem" (DEV_GET, its dump, DEV_SET, the events group).  Programs that use it link libnl-genl
 * (see the Makefile).
 *
 * Every request returns 0 or -errno, with the extended ack message in
 * n->msg; set-up failures (socket, parse errors) fail the test.
 */
#ifndef VMT_NL_UTIL_H
#define VMT_NL_UTIL_H

#include <netlink/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include <linux/vhost_mem_netlink.h>

#include "vhost_mem_util.h"

struct nlt {
	struct nl_sock *sk;
	int family;
	int err;		/* -errno of the last request */
	char msg[256];		/* its extended ack message */
};

/* DEV_GET, as far as the tests look at it. */
struct nlt_dev {
	u32 id;
	bool has_owner, has_vm, has_region, has_node, config_call;
	u32 owner_pid, flags, region_flags, memslots, memslots_max;
	s32 node;
	char vm_id[64];
	u64 features, dropped, addr, region_size, block_size, chunk_size;
	u64 usable, requested, plugged;
	bool has_cookie, busy;
	u64 cookie;
	unsigned int nr_req_stats;
	u64 req[VHOST_MEM_NR_REQ_TYPES][VHOST_MEM_NR_RESP_TYPES];
};

struct nlt_event {
	u8 cmd;
	u32 id;
	bool has_origin;
	u32 origin;
	u64 requested, plugged, usable;
	u32 error, req_type, errors;
	u64 req_addr, req_size;
};

#define NLT_MAX_DEVS	64
#define NLT_MAX_EVENTS	256

struct nlt_dump {
	unsigned int n;
	struct nlt_dev devs[NLT_MAX_DEVS];
};

struct nlt_events {
	struct nl_sock *sk;
	struct nl_cb *cb;
	unsigned int head, tail;
	struct nlt_event q[NLT_MAX_EVENTS];
};

/* 0, or -ENOENT when the family does not exist here. */
int nlt_open(struct nlt *n);
void nlt_close(struct nlt *n);
/* A message of the family with command cmd and NLM_F_* flags. */
struct nl_msg *nlt_msg(struct nlt *n, u8 cmd, int flags);
/*
 * Sends msg (freed) and reads up to the ack or the end of the dump, valid
 * called for each message.
 */
int nlt_transact(struct nlt *n, struct nl_msg *msg,
		 nl_recvmsg_msg_cb_t valid, void *arg);
/* DEV_GET of id; with a cookie unless it is 0; d may be NULL. */
int nlt_get_cookie(struct nlt *n, u32 id, u64 cookie, struct nlt_dev *d);
int nlt_get(struct nlt *n, u32 id, struct nlt_dev *d);
/* DEV_SET of id; with a cookie unless it is 0. */
int nlt_set_cookie(struct nlt *n, u32 id, u64 cookie, u64 size);
int nlt_set(struct nlt *n, u32 id, u64 size);
/* DEV_GET as a dump: every device of the namespace. */
int nlt_dump(struct nlt *n, struct nlt_dump *dump);
const struct nlt_dev *nlt_dump_find(const struct nlt_dump *dump, u32 id);

/* A non-blocking socket in the events group. */
void nlt_events_open(struct nlt_events *ev);
void nlt_events_close(struct nlt_events *ev);
/* The next event of device id within timeout_ms: true, or false. */
bool nlt_next_event(struct nlt_events *ev, u32 id, int timeout_ms,
		    struct nlt_event *out);
const char *nlt_cmd_name(u8 cmd);

#endif /* VMT_NL_UTIL_H */
