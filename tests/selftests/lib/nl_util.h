/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: the generic netlink family "vhost-mem" (DEV_GET,
 * its dump, DEV_SET, the events group) through vhost-mem-ctl's client,
 * tools/vhost-mem-ctl/nl_client.h.  Programs that use it link libnl-genl
 * (see the Makefile).
 *
 * Every request returns 0 or -errno, with the extended ack message in
 * n->msg; set-up failures (socket, replies that do not parse) fail the
 * test.
 */
#ifndef VMT_NL_UTIL_H
#define VMT_NL_UTIL_H

#include "nl_client.h"
#include "vhost_mem_util.h"

#define NLT_MAX_DEVS	64
#define NLT_MAX_EVENTS	256

struct nlt_dump {
	unsigned int n;
	struct nlc_dev devs[NLT_MAX_DEVS];
};

struct nlt_events {
	struct nlc nl;
	struct nl_cb *cb;
	unsigned int head, tail;
	struct nlc_event q[NLT_MAX_EVENTS];
};

/* 0, or -ENOENT when the family does not exist here. */
int __nlt_open(struct nlc *n);
void nlt_close(struct nlc *n);
/* A message of the family with command cmd and NLM_F_* flags. */
struct nl_msg *nlt_msg(struct nlc *n, u8 cmd, int flags);
/*
 * Sends msg (freed) and reads up to the ack or the end of the dump, valid
 * called for each message.
 */
int __nlt_transact(struct nlc *n, struct nl_msg *msg,
		   nl_recvmsg_msg_cb_t valid, void *arg);
/* DEV_GET of id; with a cookie unless it is 0; d may be NULL. */
int __nlt_get_cookie(struct nlc *n, u32 id, u64 cookie, struct nlc_dev *d);
int __nlt_get(struct nlc *n, u32 id, struct nlc_dev *d);
/* DEV_SET of id; with a cookie unless it is 0. */
int __nlt_set_cookie(struct nlc *n, u32 id, u64 cookie, u64 size);
int __nlt_set(struct nlc *n, u32 id, u64 size);
/* DEV_GET as a dump: every device of the namespace. */
int __nlt_dump(struct nlc *n, struct nlt_dump *dump);
const struct nlc_dev *nlt_dump_find(const struct nlt_dump *dump, u32 id);

/* A non-blocking socket in the events group. */
void nlt_events_open(struct nlt_events *ev);
void nlt_events_close(struct nlt_events *ev);
/* The next event of device id within timeout_ms: true, or false. */
bool nlt_next_event(struct nlt_events *ev, u32 id, int timeout_ms,
		    struct nlc_event *out);
const char *nlt_cmd_name(u8 cmd);

#endif /* VMT_NL_UTIL_H */
