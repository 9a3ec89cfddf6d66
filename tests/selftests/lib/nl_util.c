// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: the "vhost-mem" family through the client that
 * vhost-mem-ctl uses (nl_client.c); here a failure of this side fails
 * the test.
 */
#include <poll.h>
#include <stdlib.h>

#include "nl_util.h"

int __nlt_open(struct nlc *n)
{
	int ret = nlc_open(n);

	if (ret && n->family < 0)
		return -ENOENT;
	TEST_ASSERT(!ret, "netlink socket: %s: %s",
		    n->failed ? n->failed : "out of memory", nl_geterror(ret));
	return 0;
}

void nlt_close(struct nlc *n)
{
	nlc_close(n);
}

struct nl_msg *nlt_msg(struct nlc *n, u8 cmd, int flags)
{
	struct nl_msg *msg = nlc_msg(n, cmd, flags);

	TEST_ASSERT(msg, "a message of command %u: out of memory", cmd);
	return msg;
}

/* The request failed on this side (libnl), or a reply did not parse. */
static void nlt_check_local(const struct nlc *n, const char *what, u32 id)
{
	TEST_ASSERT(!n->bad_replies, "%s %u: %u replies do not parse", what,
		    id, n->bad_replies);
	TEST_ASSERT(!n->local, "%s %u: %s", what, id,
		    n->msg[0] ? n->msg : "not one device in the reply");
}

int __nlt_transact(struct nlc *n, struct nl_msg *msg,
		   nl_recvmsg_msg_cb_t valid, void *arg)
{
	int ret = nlc_transact(n, msg, valid, arg);

	TEST_ASSERT(!n->local, "netlink: %s", n->msg);
	return ret;
}

/* What the tests expect of every device in a reply. */
static void nlt_check_dev(const struct nlc_dev *d)
{
	TEST_ASSERT(d->cmd == VHOST_MEM_CMD_DEV_GET, "a reply with command %u",
		    d->cmd);
	TEST_ASSERT(!d->bad_req_stats,
		    "a VHOST_MEM_A_REQ_STATS nest without its type, or that does not parse");
	TEST_ASSERT(!d->new_req_stats, "request stats of an unknown type");
}

int __nlt_get_cookie(struct nlc *n, u32 id, u64 cookie, struct nlc_dev *d)
{
	struct nlc_dev dev;
	int ret = nlc_get_dev(n, id, cookie, &dev);

	nlt_check_local(n, "DEV_GET", id);
	if (!ret) {
		nlt_check_dev(&dev);
		if (d)
			*d = dev;
	}
	return ret;
}

int __nlt_get(struct nlc *n, u32 id, struct nlc_dev *d)
{
	return __nlt_get_cookie(n, id, 0, d);
}

int __nlt_set_cookie(struct nlc *n, u32 id, u64 cookie, u64 size)
{
	int ret = nlc_set_size(n, id, cookie, size);

	nlt_check_local(n, "DEV_SET", id);
	return ret;
}

int __nlt_set(struct nlc *n, u32 id, u64 size)
{
	return __nlt_set_cookie(n, id, 0, size);
}

static void nlt_add_dev(const struct nlc_dev *d, void *arg)
{
	struct nlt_dump *dump = arg;

	TEST_ASSERT(dump->n < NLT_MAX_DEVS, "more than %d devices",
		    NLT_MAX_DEVS);
	nlt_check_dev(d);
	dump->devs[dump->n++] = *d;
}

int __nlt_dump(struct nlc *n, struct nlt_dump *dump)
{
	int ret;

	memset(dump, 0, sizeof(*dump));
	ret = nlc_dump_devs(n, nlt_add_dev, dump);
	TEST_ASSERT(!n->bad_replies, "dump: %u replies do not parse",
		    n->bad_replies);
	TEST_ASSERT(!n->local, "dump: %s", n->msg);
	return ret;
}

const struct nlc_dev *nlt_dump_find(const struct nlt_dump *dump, u32 id)
{
	unsigned int i;

	for (i = 0; i < dump->n; i++)
		if (dump->devs[i].id == id)
			return &dump->devs[i];
	return NULL;
}

static int nlt_on_event(struct nl_msg *msg, void *arg)
{
	struct nlt_events *ev = arg;

	if (ev->tail - ev->head == NLT_MAX_EVENTS)
		return NL_OK;	/* full: the test reads too slowly */
	TEST_ASSERT(!nlc_parse_event(msg, &ev->q[ev->tail % NLT_MAX_EVENTS]),
		    "an event does not parse, or names no device");
	ev->tail++;
	return NL_OK;
}

void nlt_events_open(struct nlt_events *ev)
{
	int ret;

	memset(ev, 0, sizeof(*ev));
	ret = nlc_events_open(&ev->nl, nlt_on_event, ev, &ev->cb);
	TEST_ASSERT(!ret, "event socket: %s: %s",
		    ev->nl.failed ? ev->nl.failed : "out of memory",
		    nl_geterror(ret));
}

void nlt_events_close(struct nlt_events *ev)
{
	nl_cb_put(ev->cb);
	nlc_close(&ev->nl);
}

/* The next event of device id within timeout_ms: true, or false. */
bool nlt_next_event(struct nlt_events *ev, u32 id, int timeout_ms,
		    struct nlc_event *out)
{
	struct pollfd pfd = {
		.fd = nl_socket_get_fd(ev->nl.sk), .events = POLLIN,
	};
	u64 deadline = vmt_now_ns() + (u64)timeout_ms * 1000000;
	s64 left;

	for (;;) {
		while (ev->head != ev->tail) {
			*out = ev->q[ev->head++ % NLT_MAX_EVENTS];
			if (out->id == id)
				return true;
		}
		left = (s64)(deadline - vmt_now_ns());
		if (left <= 0)
			return false;
		if (poll(&pfd, 1, (int)(left / 1000000) + 1) > 0)
			nl_recvmsgs(ev->nl.sk, ev->cb);
	}
}

static const char *const nlt_cmd_names[] = {
	[VHOST_MEM_CMD_REQUESTED_SIZE_NTF] = "REQUESTED_SIZE_NTF",
	[VHOST_MEM_CMD_PLUGGED_SIZE_NTF] = "PLUGGED_SIZE_NTF",
	[VHOST_MEM_CMD_SIZE_REACHED_NTF] = "SIZE_REACHED_NTF",
	[VHOST_MEM_CMD_ERROR_NTF] = "ERROR_NTF",
};

const char *nlt_cmd_name(u8 cmd)
{
	if (cmd < ARRAY_SIZE(nlt_cmd_names) && nlt_cmd_names[cmd])
		return nlt_cmd_names[cmd];
	return "?";
}
