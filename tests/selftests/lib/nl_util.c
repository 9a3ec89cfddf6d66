// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a small libnl client of the "vhost_mem" family.
 */
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include "nl_util.h"


static void nlt_ext_ack(struct nl_sock *sk)
{
	int one = 1;

	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one,
		   sizeof(one));
}

/* 0, or -ENOENT when the family does not exist here. */
int nlt_open(struct nlt *n)
{
	memset(n, 0, sizeof(*n));
	n->sk = nl_socket_alloc();
	TEST_ASSERT(n->sk, "nl_socket_alloc() failed");
	TEST_ASSERT(!genl_connect(n->sk), "genl_connect() failed");
	nlt_ext_ack(n->sk);
	n->family = genl_ctrl_resolve(n->sk, VHOST_MEM_FAMILY_NAME);
	if (n->family < 0) {
		nl_socket_free(n->sk);
		n->sk = NULL;
		return -ENOENT;
	}
	return 0;
}

void nlt_close(struct nlt *n)
{
	if (n->sk)
		nl_socket_free(n->sk);
	n->sk = NULL;
}

struct nl_msg *nlt_msg(struct nlt *n, u8 cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	TEST_ASSERT(msg, "nlmsg_alloc() failed");
	TEST_ASSERT(genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, n->family, 0,
				flags, cmd, VHOST_MEM_FAMILY_VERSION),
		    "genlmsg_put() failed");
	return msg;
}

static int nlt_on_error(struct sockaddr_nl *who, struct nlmsgerr *e,
			void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct nlt *n = arg;
	int off, len;

	(void)who;
	n->err = e->error ? e->error : -EIO;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	off = NLMSG_HDRLEN + sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	len = (int)nlh->nlmsg_len - off;
	if (len > 0 && !nla_parse(tb, NLMSGERR_ATTR_MAX,
				  (struct nlattr *)((char *)nlh + off), len,
				  NULL) &&
	    tb[NLMSGERR_ATTR_MSG])
		snprintf(n->msg, sizeof(n->msg), "%.*s",
			 nla_len(tb[NLMSGERR_ATTR_MSG]),
			 (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	return NL_STOP;
}

static int nlt_on_done(struct nl_msg *msg, void *arg)
{
	(void)msg;
	*(bool *)arg = true;
	return NL_STOP;
}

/* Sends msg (freed) and reads up to the ack or the end of the dump. */
int nlt_transact(struct nlt *n, struct nl_msg *msg,
		 nl_recvmsg_msg_cb_t valid, void *arg)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	bool done = false;
	int ret;

	TEST_ASSERT(cb, "nl_cb_alloc() failed");
	n->err = 0;
	n->msg[0] = '\0';
	ret = nl_send_auto(n->sk, msg);
	nlmsg_free(msg);
	TEST_ASSERT(ret >= 0, "nl_send_auto(): %s", nl_geterror(ret));
	if (valid)
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid, arg);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, nlt_on_done, &done);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, nlt_on_done, &done);
	nl_cb_err(cb, NL_CB_CUSTOM, nlt_on_error, n);
	while (!done && !n->err) {
		ret = nl_recvmsgs(n->sk, cb);
		TEST_ASSERT(ret >= 0 || n->err, "nl_recvmsgs(): %s",
			    nl_geterror(ret));
	}
	nl_cb_put(cb);
	return n->err;
}

/* The spec's "uint": 4 bytes when the value fits, else 8 (unaligned). */
static u64 nlt_uint(struct nlattr **tb, int type)
{
	if (!tb[type])
		return 0;
	if (nla_len(tb[type]) == sizeof(u32))
		return nla_get_u32(tb[type]);
	return nla_get_u64(tb[type]);
}

static u32 nlt_u32(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u32(tb[type]) : 0;
}

static void nlt_parse_stats(struct nlt_dev *d, struct nlattr *nest)
{
	struct nlattr *tb[VHOST_MEM_A_REQ_STATS_MAX + 1];
	u32 t;

	TEST_ASSERT(!nla_parse_nested(tb, VHOST_MEM_A_REQ_STATS_MAX, nest, NULL),
		    "a VHOST_MEM_A_REQ_STATS nest does not parse");
	TEST_ASSERT(tb[VHOST_MEM_A_REQ_STATS_TYPE],
		    "a VHOST_MEM_A_REQ_STATS nest without its type");
	t = nla_get_u32(tb[VHOST_MEM_A_REQ_STATS_TYPE]);
	TEST_ASSERT(t < VHOST_MEM_NR_REQ_TYPES, "request stats of type %u", t);
	d->req[t][VIRTIO_MEM_RESP_ACK] = nlt_uint(tb, VHOST_MEM_A_REQ_STATS_ACK);
	d->req[t][VIRTIO_MEM_RESP_NACK] = nlt_uint(tb, VHOST_MEM_A_REQ_STATS_NACK);
	d->req[t][VIRTIO_MEM_RESP_BUSY] = nlt_uint(tb, VHOST_MEM_A_REQ_STATS_BUSY);
	d->req[t][VIRTIO_MEM_RESP_ERROR] = nlt_uint(tb, VHOST_MEM_A_REQ_STATS_ERROR);
	d->nr_req_stats++;
}

static void nlt_parse_dev(struct nl_msg *msg, struct nlt_dev *d)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[VHOST_MEM_A_MAX + 1], *a;
	int rem;

	memset(d, 0, sizeof(*d));
	TEST_ASSERT(genlmsg_hdr(nlh)->cmd == VHOST_MEM_CMD_DEV_GET,
		    "a reply with command %u", genlmsg_hdr(nlh)->cmd);
	TEST_ASSERT(!genlmsg_parse(nlh, 0, tb, VHOST_MEM_A_MAX, NULL),
		    "a DEV_GET reply does not parse");
	TEST_ASSERT(tb[VHOST_MEM_A_ID], "a DEV_GET reply without VHOST_MEM_A_ID");
	d->id = nla_get_u32(tb[VHOST_MEM_A_ID]);
	d->has_owner = tb[VHOST_MEM_A_OWNER_PID];
	d->owner_pid = nlt_u32(tb, VHOST_MEM_A_OWNER_PID);
	d->has_vm = tb[VHOST_MEM_A_VM_ID];
	if (d->has_vm)
		snprintf(d->vm_id, sizeof(d->vm_id), "%s",
			 nla_get_string(tb[VHOST_MEM_A_VM_ID]));
	d->flags = nlt_u32(tb, VHOST_MEM_A_STATUS_FLAGS);
	d->has_region = tb[VHOST_MEM_A_REGION_SIZE];
	d->has_node = tb[VHOST_MEM_A_NODE_ID];
	d->node = d->has_node ? (s32)nla_get_u32(tb[VHOST_MEM_A_NODE_ID]) : 0;
	d->config_call = tb[VHOST_MEM_A_CONFIG_CALL];
	d->region_flags = nlt_u32(tb, VHOST_MEM_A_REGION_FLAGS);
	d->features = nlt_uint(tb, VHOST_MEM_A_FEATURES);
	d->dropped = nlt_uint(tb, VHOST_MEM_A_DROPPED);
	d->addr = nlt_uint(tb, VHOST_MEM_A_ADDR);
	d->region_size = nlt_uint(tb, VHOST_MEM_A_REGION_SIZE);
	d->block_size = nlt_uint(tb, VHOST_MEM_A_BLOCK_SIZE);
	d->chunk_size = nlt_uint(tb, VHOST_MEM_A_CHUNK_SIZE);
	d->usable = nlt_uint(tb, VHOST_MEM_A_USABLE_SIZE);
	d->requested = nlt_uint(tb, VHOST_MEM_A_REQUESTED_SIZE);
	d->plugged = nlt_uint(tb, VHOST_MEM_A_PLUGGED_SIZE);
	d->memslots = nlt_u32(tb, VHOST_MEM_A_MEMSLOTS);
	d->memslots_max = nlt_u32(tb, VHOST_MEM_A_MEMSLOTS_MAX);
	d->has_cookie = tb[VHOST_MEM_A_COOKIE];
	d->cookie = nlt_uint(tb, VHOST_MEM_A_COOKIE);
	d->busy = tb[VHOST_MEM_A_BUSY];
	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(nlh), 0),
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem)
		if (nla_type(a) == VHOST_MEM_A_REQ_STATS)
			nlt_parse_stats(d, a);
}

static int nlt_on_dev(struct nl_msg *msg, void *arg)
{
	struct nlt_dump *dump = arg;

	TEST_ASSERT(dump->n < NLT_MAX_DEVS, "more than %d devices",
		    NLT_MAX_DEVS);
	nlt_parse_dev(msg, &dump->devs[dump->n++]);
	return NL_OK;
}

/* DEV_GET of id; with a cookie unless it is 0. */
int nlt_get_cookie(struct nlt *n, u32 id, u64 cookie, struct nlt_dev *d)
{
	struct nl_msg *msg = nlt_msg(n, VHOST_MEM_CMD_DEV_GET, 0);
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	int ret;

	TEST_ASSERT(dump, "out of memory");
	nla_put_u32(msg, VHOST_MEM_A_ID, id);
	if (cookie)
		nla_put_u64(msg, VHOST_MEM_A_COOKIE, cookie);
	ret = nlt_transact(n, msg, nlt_on_dev, dump);
	if (!ret) {
		TEST_ASSERT_EQ(dump->n, 1);
		if (d)
			*d = dump->devs[0];
	}
	free(dump);
	return ret;
}

int nlt_get(struct nlt *n, u32 id, struct nlt_dev *d)
{
	return nlt_get_cookie(n, id, 0, d);
}

/* DEV_SET of id; with a cookie unless it is 0. */
int nlt_set_cookie(struct nlt *n, u32 id, u64 cookie, u64 size)
{
	struct nl_msg *msg = nlt_msg(n, VHOST_MEM_CMD_DEV_SET, 0);

	nla_put_u32(msg, VHOST_MEM_A_ID, id);
	if (cookie)
		nla_put_u64(msg, VHOST_MEM_A_COOKIE, cookie);
	nla_put_u64(msg, VHOST_MEM_A_REQUESTED_SIZE, size);
	return nlt_transact(n, msg, NULL, NULL);
}

int nlt_set(struct nlt *n, u32 id, u64 size)
{
	return nlt_set_cookie(n, id, 0, size);
}

int nlt_dump(struct nlt *n, struct nlt_dump *dump)
{
	memset(dump, 0, sizeof(*dump));
	return nlt_transact(n, nlt_msg(n, VHOST_MEM_CMD_DEV_GET, NLM_F_DUMP),
			    nlt_on_dev, dump);
}

const struct nlt_dev *nlt_dump_find(const struct nlt_dump *dump, u32 id)
{
	unsigned int i;

	for (i = 0; i < dump->n; i++)
		if (dump->devs[i].id == id)
			return &dump->devs[i];
	return NULL;
}

static int nlt_on_event(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[VHOST_MEM_A_MAX + 1];
	struct nlt_events *ev = arg;
	struct nlt_event *e;

	if (ev->tail - ev->head == NLT_MAX_EVENTS)
		return NL_OK;	/* full: the test reads too slowly */
	e = &ev->q[ev->tail % NLT_MAX_EVENTS];
	memset(e, 0, sizeof(*e));
	TEST_ASSERT(!genlmsg_parse(nlh, 0, tb, VHOST_MEM_A_MAX, NULL),
		    "an event does not parse");
	TEST_ASSERT(tb[VHOST_MEM_A_ID], "an event without VHOST_MEM_A_ID");
	e->cmd = genlmsg_hdr(nlh)->cmd;
	e->id = nla_get_u32(tb[VHOST_MEM_A_ID]);
	e->has_origin = tb[VHOST_MEM_A_ORIGIN];
	e->origin = nlt_u32(tb, VHOST_MEM_A_ORIGIN);
	e->requested = nlt_uint(tb, VHOST_MEM_A_REQUESTED_SIZE);
	e->plugged = nlt_uint(tb, VHOST_MEM_A_PLUGGED_SIZE);
	e->usable = nlt_uint(tb, VHOST_MEM_A_USABLE_SIZE);
	e->error = nlt_u32(tb, VHOST_MEM_A_ERROR);
	e->req_type = nlt_u32(tb, VHOST_MEM_A_REQ_TYPE);
	e->errors = nlt_u32(tb, VHOST_MEM_A_ERRORS);
	e->req_addr = nlt_uint(tb, VHOST_MEM_A_REQ_ADDR);
	e->req_size = nlt_uint(tb, VHOST_MEM_A_REQ_SIZE);
	ev->tail++;
	return NL_OK;
}

void nlt_events_open(struct nlt_events *ev)
{
	struct nl_cb *sk_cb;
	int grp;

	memset(ev, 0, sizeof(*ev));
	ev->sk = nl_socket_alloc();
	TEST_ASSERT(ev->sk && !genl_connect(ev->sk), "event socket");
	grp = genl_ctrl_resolve_grp(ev->sk, VHOST_MEM_FAMILY_NAME,
				    VHOST_MEM_MCGRP_EVENTS);
	TEST_ASSERT(grp >= 0, "genl_ctrl_resolve_grp(%s, %s): %s",
		    VHOST_MEM_FAMILY_NAME, VHOST_MEM_MCGRP_EVENTS,
		    nl_geterror(grp));
	nl_socket_disable_seq_check(ev->sk);
	TEST_ASSERT(!nl_socket_add_membership(ev->sk, grp),
		    "joining the events group");
	nl_socket_set_nonblocking(ev->sk);
	/* the socket's callbacks, without the sequence check */
	sk_cb = nl_socket_get_cb(ev->sk);
	ev->cb = nl_cb_clone(sk_cb);
	nl_cb_put(sk_cb);
	TEST_ASSERT(ev->cb, "nl_cb_clone() failed");
	nl_cb_set(ev->cb, NL_CB_VALID, NL_CB_CUSTOM, nlt_on_event, ev);
}

void nlt_events_close(struct nlt_events *ev)
{
	nl_cb_put(ev->cb);
	nl_socket_free(ev->sk);
}

/* The next event of device id within timeout_ms: true, or false. */
bool nlt_next_event(struct nlt_events *ev, u32 id, int timeout_ms,
		    struct nlt_event *out)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(ev->sk), .events = POLLIN };
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
			nl_recvmsgs(ev->sk, ev->cb);
	}
}

const char *nlt_cmd_name(u8 cmd)
{
	switch (cmd) {
	case VHOST_MEM_CMD_REQUESTED_SIZE_NTF:
		return "REQUESTED_SIZE_NTF";
	case VHOST_MEM_CMD_PLUGGED_SIZE_NTF:
		return "PLUGGED_SIZE_NTF";
	case VHOST_MEM_CMD_SIZE_REACHED_NTF:
		return "SIZE_REACHED_NTF";
	case VHOST_MEM_CMD_ERROR_NTF:
		return "ERROR_NTF";
	default:
		return "?";
	}
}
