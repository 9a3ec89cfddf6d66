// SPDX-License-Identifier: GPL-2.0
/*
 * The libnl client of the "vhost-mem" family that vhost-mem-ctl and the
 * selftests share (nl_client.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include "nl_client.h"

/* libnl 3.7 has no NLA_UINT: 4 or 8 bytes, read by get_uint(). */
#define NLA_UINT_POLICY	{ .type = NLA_UNSPEC, .minlen = 4, .maxlen = 8 }

static struct nla_policy dev_policy[VHOST_MEM_A_MAX + 1] = {
	[VHOST_MEM_A_ID] = { .type = NLA_U32 },
	[VHOST_MEM_A_OWNER_PID] = { .type = NLA_U32 },
	[VHOST_MEM_A_VM_ID] = { .type = NLA_STRING },
	[VHOST_MEM_A_NODE_ID] = { .type = NLA_S32 },
	[VHOST_MEM_A_STATUS_FLAGS] = { .type = NLA_U32 },
	[VHOST_MEM_A_REGION_FLAGS] = { .type = NLA_U32 },
	[VHOST_MEM_A_FEATURES] = NLA_UINT_POLICY,
	[VHOST_MEM_A_CONFIG_CALL] = { .type = NLA_FLAG },
	[VHOST_MEM_A_ADDR] = NLA_UINT_POLICY,
	[VHOST_MEM_A_REGION_SIZE] = NLA_UINT_POLICY,
	[VHOST_MEM_A_BLOCK_SIZE] = NLA_UINT_POLICY,
	[VHOST_MEM_A_CHUNK_SIZE] = NLA_UINT_POLICY,
	[VHOST_MEM_A_USABLE_SIZE] = NLA_UINT_POLICY,
	[VHOST_MEM_A_REQUESTED_SIZE] = NLA_UINT_POLICY,
	[VHOST_MEM_A_PLUGGED_SIZE] = NLA_UINT_POLICY,
	[VHOST_MEM_A_MEMSLOTS] = { .type = NLA_U32 },
	[VHOST_MEM_A_MEMSLOTS_MAX] = { .type = NLA_U32 },
	[VHOST_MEM_A_DROPPED] = NLA_UINT_POLICY,
	[VHOST_MEM_A_REQ_STATS] = { .type = NLA_NESTED },
	[VHOST_MEM_A_ORIGIN] = { .type = NLA_U32 },
	[VHOST_MEM_A_ERROR] = { .type = NLA_U32 },
	[VHOST_MEM_A_REQ_TYPE] = { .type = NLA_U32 },
	[VHOST_MEM_A_REQ_ADDR] = NLA_UINT_POLICY,
	[VHOST_MEM_A_REQ_SIZE] = NLA_UINT_POLICY,
	[VHOST_MEM_A_ERRORS] = { .type = NLA_U32 },
	[VHOST_MEM_A_COOKIE] = NLA_UINT_POLICY,
	[VHOST_MEM_A_BUSY] = { .type = NLA_FLAG },
};

static struct nla_policy stats_policy[VHOST_MEM_A_REQ_STATS_MAX + 1] = {
	[VHOST_MEM_A_REQ_STATS_TYPE] = { .type = NLA_U32 },
	[VHOST_MEM_A_REQ_STATS_ACK] = NLA_UINT_POLICY,
	[VHOST_MEM_A_REQ_STATS_NACK] = NLA_UINT_POLICY,
	[VHOST_MEM_A_REQ_STATS_BUSY] = NLA_UINT_POLICY,
	[VHOST_MEM_A_REQ_STATS_ERROR] = NLA_UINT_POLICY,
};

/* The socket and its connection; c->failed names the step that failed. */
static int nlc_connect(struct nlc *c)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->sk = nl_socket_alloc();
	if (!c->sk)
		return -NLE_NOMEM;
	ret = genl_connect(c->sk);
	if (ret < 0) {
		c->failed = "cannot open a generic netlink socket";
		nlc_close(c);
	}
	return ret;
}

static void nlc_enable_ext_ack(struct nl_sock *sk)
{
	int one = 1;

	/* Older kernels lack these; the errno alone still works. */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));
}

int nlc_open(struct nlc *c)
{
	int ret = nlc_connect(c);

	if (ret < 0)
		return ret;
	nlc_enable_ext_ack(c->sk);
	c->family = genl_ctrl_resolve(c->sk, VHOST_MEM_FAMILY_NAME);
	if (c->family < 0) {
		ret = c->family;
		nlc_close(c);
		c->failed = "cannot look up the family \"" VHOST_MEM_FAMILY_NAME "\"";
		return ret;
	}
	return 0;
}

void nlc_close(struct nlc *c)
{
	if (c->sk)
		nl_socket_free(c->sk);
	c->sk = NULL;
}

struct nl_msg *nlc_msg(struct nlc *c, __u8 cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (msg && !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, c->family, 0,
				flags, cmd, VHOST_MEM_FAMILY_VERSION)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

/* Where the attributes of an extended ack start: after the echoed request. */
static int ext_ack_offset(const struct nlmsghdr *nlh, const struct nlmsgerr *e)
{
	int off = NLMSG_HDRLEN + sizeof(*e);

	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	return off;
}

/* The error, and the message the kernel attached to it. */
static int nlc_on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct nlc *c = arg;
	int off, len;

	(void)who;
	c->err = e->error ? e->error : -EIO;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	off = ext_ack_offset(nlh, e);
	len = (int)nlh->nlmsg_len - off;
	if (len <= 0 ||
	    nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)nlh + off),
		      len, NULL) < 0)
		return NL_STOP;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(c->msg, sizeof(c->msg), "%.*s",
			 nla_len(tb[NLMSGERR_ATTR_MSG]),
			 (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	return NL_STOP;
}

static int nlc_on_done(struct nl_msg *msg, void *arg)
{
	(void)msg;
	*(bool *)arg = true;
	return NL_STOP;
}

/* A failure of this side: libnl's code, said in c->msg. */
static int nlc_fail_local(struct nlc *c, int err, int nl_err)
{
	c->err = err;
	c->local = true;
	snprintf(c->msg, sizeof(c->msg), "%s", nl_geterror(nl_err));
	return err;
}

static void nlc_reset(struct nlc *c)
{
	c->err = 0;
	c->local = false;
	c->bad_replies = 0;
	c->msg[0] = '\0';
}

int nlc_transact(struct nlc *c, struct nl_msg *msg,
		 nl_recvmsg_msg_cb_t valid, void *arg)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	bool done = false;
	int ret;

	nlc_reset(c);
	if (!cb) {
		nlmsg_free(msg);
		return nlc_fail_local(c, -ENOMEM, -NLE_NOMEM);
	}
	ret = nl_send_auto(c->sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		nl_cb_put(cb);
		return nlc_fail_local(c, -EIO, ret);
	}
	if (valid)
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid, arg);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, nlc_on_done, &done);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, nlc_on_done, &done);
	nl_cb_err(cb, NL_CB_CUSTOM, nlc_on_error, c);
	while (!done && !c->err) {
		ret = nl_recvmsgs(c->sk, cb);
		if (ret < 0 && !c->err)
			nlc_fail_local(c, -EIO, ret);
	}
	nl_cb_put(cb);
	return c->err;
}

/* The spec's "uint": 4 bytes when the value fits, else 8 (unaligned). */
static __u64 get_uint(struct nlattr **tb, int type)
{
	if (!tb[type])
		return 0;
	if (nla_len(tb[type]) == sizeof(__u32))
		return nla_get_u32(tb[type]);
	return nla_get_u64(tb[type]);
}

static __u32 get_u32(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u32(tb[type]) : 0;
}

static void parse_req_stats(struct nlc_dev *d, struct nlattr *nest)
{
	static const int resp_attr[VHOST_MEM_NR_RESP_TYPES] = {
		[VIRTIO_MEM_RESP_ACK] = VHOST_MEM_A_REQ_STATS_ACK,
		[VIRTIO_MEM_RESP_NACK] = VHOST_MEM_A_REQ_STATS_NACK,
		[VIRTIO_MEM_RESP_BUSY] = VHOST_MEM_A_REQ_STATS_BUSY,
		[VIRTIO_MEM_RESP_ERROR] = VHOST_MEM_A_REQ_STATS_ERROR,
	};
	struct nlattr *tb[VHOST_MEM_A_REQ_STATS_MAX + 1];
	__u32 type;
	int r;

	if (nla_parse_nested(tb, VHOST_MEM_A_REQ_STATS_MAX, nest,
			     stats_policy) < 0 ||
	    !tb[VHOST_MEM_A_REQ_STATS_TYPE]) {
		d->bad_req_stats++;
		return;
	}
	type = nla_get_u32(tb[VHOST_MEM_A_REQ_STATS_TYPE]);
	if (type >= VHOST_MEM_NR_REQ_TYPES) {
		d->new_req_stats++;	/* a newer kernel's type */
		return;
	}
	d->has_req[type] = true;
	for (r = 0; r < VHOST_MEM_NR_RESP_TYPES; r++)
		d->req[type][r] = get_uint(tb, resp_attr[r]);
	d->nr_req_stats++;
}

static void parse_dev_region(struct nlc_dev *d, struct nlattr **tb)
{
	d->has_region = tb[VHOST_MEM_A_REGION_SIZE];
	d->region_flags = get_u32(tb, VHOST_MEM_A_REGION_FLAGS);
	d->addr = get_uint(tb, VHOST_MEM_A_ADDR);
	d->region_size = get_uint(tb, VHOST_MEM_A_REGION_SIZE);
	d->block_size = get_uint(tb, VHOST_MEM_A_BLOCK_SIZE);
	d->chunk_size = get_uint(tb, VHOST_MEM_A_CHUNK_SIZE);
	d->usable = get_uint(tb, VHOST_MEM_A_USABLE_SIZE);
	d->requested = get_uint(tb, VHOST_MEM_A_REQUESTED_SIZE);
	d->plugged = get_uint(tb, VHOST_MEM_A_PLUGGED_SIZE);
	d->memslots = get_u32(tb, VHOST_MEM_A_MEMSLOTS);
	d->memslots_max = get_u32(tb, VHOST_MEM_A_MEMSLOTS_MAX);
}

int nlc_parse_dev(struct nl_msg *msg, struct nlc_dev *d)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[VHOST_MEM_A_MAX + 1], *a;
	int rem;

	memset(d, 0, sizeof(*d));
	if (genlmsg_parse(nlh, 0, tb, VHOST_MEM_A_MAX, dev_policy) < 0 ||
	    !tb[VHOST_MEM_A_ID])
		return -EINVAL;
	d->cmd = genlmsg_hdr(nlh)->cmd;
	d->id = nla_get_u32(tb[VHOST_MEM_A_ID]);
	d->has_cookie = tb[VHOST_MEM_A_COOKIE];
	d->cookie = get_uint(tb, VHOST_MEM_A_COOKIE);
	d->busy = tb[VHOST_MEM_A_BUSY];
	d->has_owner = tb[VHOST_MEM_A_OWNER_PID];
	d->owner_pid = get_u32(tb, VHOST_MEM_A_OWNER_PID);
	d->has_vm = tb[VHOST_MEM_A_VM_ID];
	if (d->has_vm)
		snprintf(d->vm_id, sizeof(d->vm_id), "%s",
			 nla_get_string(tb[VHOST_MEM_A_VM_ID]));
	d->flags = get_u32(tb, VHOST_MEM_A_STATUS_FLAGS);
	d->config_call = tb[VHOST_MEM_A_CONFIG_CALL];
	d->features = get_uint(tb, VHOST_MEM_A_FEATURES);
	d->dropped = get_uint(tb, VHOST_MEM_A_DROPPED);
	d->has_node = tb[VHOST_MEM_A_NODE_ID];
	d->node = d->has_node ? nla_get_s32(tb[VHOST_MEM_A_NODE_ID]) : 0;
	parse_dev_region(d, tb);
	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(nlh), 0),
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem)
		if (nla_type(a) == VHOST_MEM_A_REQ_STATS)
			parse_req_stats(d, a);
	return 0;
}

int nlc_parse_event(struct nl_msg *msg, struct nlc_event *ev)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[VHOST_MEM_A_MAX + 1];

	memset(ev, 0, sizeof(*ev));
	if (genlmsg_parse(nlh, 0, tb, VHOST_MEM_A_MAX, dev_policy) < 0 ||
	    !tb[VHOST_MEM_A_ID])
		return -EINVAL;
	ev->cmd = genlmsg_hdr(nlh)->cmd;
	ev->id = nla_get_u32(tb[VHOST_MEM_A_ID]);
	ev->has_origin = tb[VHOST_MEM_A_ORIGIN];
	ev->origin = get_u32(tb, VHOST_MEM_A_ORIGIN);
	ev->requested = get_uint(tb, VHOST_MEM_A_REQUESTED_SIZE);
	ev->plugged = get_uint(tb, VHOST_MEM_A_PLUGGED_SIZE);
	ev->usable = get_uint(tb, VHOST_MEM_A_USABLE_SIZE);
	ev->error = get_u32(tb, VHOST_MEM_A_ERROR);
	ev->req_type = get_u32(tb, VHOST_MEM_A_REQ_TYPE);
	ev->errors = get_u32(tb, VHOST_MEM_A_ERRORS);
	ev->req_addr = get_uint(tb, VHOST_MEM_A_REQ_ADDR);
	ev->req_size = get_uint(tb, VHOST_MEM_A_REQ_SIZE);
	return 0;
}

/* What a request of devices hands to its reply handler. */
struct dev_replies {
	struct nlc *c;
	void (*fn)(const struct nlc_dev *d, void *arg);
	void *arg;
};

static int nlc_on_dev(struct nl_msg *msg, void *arg)
{
	struct dev_replies *r = arg;
	struct nlc_dev d;

	if (nlc_parse_dev(msg, &d))
		r->c->bad_replies++;
	else
		r->fn(&d, r->arg);
	return NL_OK;
}

static int nlc_request_devs(struct nlc *c, struct nl_msg *msg,
			    void (*fn)(const struct nlc_dev *d, void *arg),
			    void *arg)
{
	struct dev_replies r = { .c = c, .fn = fn, .arg = arg };

	return nlc_transact(c, msg, nlc_on_dev, &r);
}

int nlc_dump_devs(struct nlc *c,
		  void (*fn)(const struct nlc_dev *d, void *arg), void *arg)
{
	struct nl_msg *msg = nlc_msg(c, VHOST_MEM_CMD_DEV_GET, NLM_F_DUMP);

	if (!msg) {
		nlc_reset(c);
		return nlc_fail_local(c, -ENOMEM, -NLE_NOMEM);
	}
	return nlc_request_devs(c, msg, fn, arg);
}

/* The one device of a DEV_GET's reply, and how many there were. */
struct one_dev {
	struct nlc_dev *d;
	unsigned int n;
};

static void keep_first_dev(const struct nlc_dev *d, void *arg)
{
	struct one_dev *one = arg;

	if (!one->n++)
		*one->d = *d;
}

/* A request that names the device id, and its cookie unless it is 0. */
static struct nl_msg *nlc_dev_msg(struct nlc *c, __u8 cmd, __u32 id,
				  __u64 cookie)
{
	struct nl_msg *msg = nlc_msg(c, cmd, 0);

	if (msg && (nla_put_u32(msg, VHOST_MEM_A_ID, id) < 0 ||
		    (cookie && nla_put_u64(msg, VHOST_MEM_A_COOKIE, cookie) < 0))) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

int nlc_get_dev(struct nlc *c, __u32 id, __u64 cookie, struct nlc_dev *d)
{
	struct nl_msg *msg = nlc_dev_msg(c, VHOST_MEM_CMD_DEV_GET, id, cookie);
	struct one_dev one = { .d = d };
	int ret;

	if (!msg) {
		nlc_reset(c);
		return nlc_fail_local(c, -ENOMEM, -NLE_NOMEM);
	}
	ret = nlc_request_devs(c, msg, keep_first_dev, &one);
	if (!ret && one.n != 1) {
		/* no message: the caller's own words say what is wrong */
		c->local = true;
		ret = c->err = -EPROTO;
	}
	return ret;
}

int nlc_set_size(struct nlc *c, __u32 id, __u64 cookie, __u64 size)
{
	struct nl_msg *msg = nlc_dev_msg(c, VHOST_MEM_CMD_DEV_SET, id, cookie);

	if (!msg || nla_put_u64(msg, VHOST_MEM_A_REQUESTED_SIZE, size) < 0) {
		nlmsg_free(msg);
		nlc_reset(c);
		return nlc_fail_local(c, -ENOMEM, -NLE_NOMEM);
	}
	return nlc_transact(c, msg, NULL, NULL);
}

/* The socket's callbacks without the sequence check, fn on each message. */
static struct nl_cb *events_cb(struct nl_sock *sk, nl_recvmsg_msg_cb_t fn,
			       void *arg)
{
	struct nl_cb *sk_cb = nl_socket_get_cb(sk);
	struct nl_cb *cb = nl_cb_clone(sk_cb);

	nl_cb_put(sk_cb);
	if (cb)
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, fn, arg);
	return cb;
}

int nlc_events_open(struct nlc *ev, nl_recvmsg_msg_cb_t fn, void *arg,
		    struct nl_cb **cb)
{
	int grp, ret = nlc_connect(ev);

	if (ret < 0)
		return ret;
	grp = genl_ctrl_resolve_grp(ev->sk, VHOST_MEM_FAMILY_NAME,
				    VHOST_MEM_MCGRP_EVENTS);
	if (grp < 0) {
		ret = grp;
		ev->failed = "cannot look up the group \"" VHOST_MEM_MCGRP_EVENTS "\"";
		goto fail;
	}
	nl_socket_disable_seq_check(ev->sk);
	ret = nl_socket_add_membership(ev->sk, grp);
	if (ret < 0) {
		ev->failed = "cannot join the group \"" VHOST_MEM_MCGRP_EVENTS "\"";
		goto fail;
	}
	nl_socket_set_nonblocking(ev->sk);
	*cb = events_cb(ev->sk, fn, arg);
	if (*cb)
		return 0;
	ret = -NLE_NOMEM;
fail:
	nlc_close(ev);
	return ret;
}
