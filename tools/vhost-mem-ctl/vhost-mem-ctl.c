// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem-ctl: list, inspect, resize and watch vhost-mem devices through
 * the "vhost-mem" generic netlink family.  See vhost-mem-ctl(8).
 *
 * Every message is built and parsed with libnl; the kernel decides every
 * rule (this tool only explains the errors it gets back).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include <linux/netlink.h>
#include <linux/virtio_mem.h>
#include <linux/vhost_mem.h>
#include <linux/vhost_mem_netlink.h>

#ifndef VHOST_MEM_CTL_VERSION
#define VHOST_MEM_CTL_VERSION "0"
#endif

/* Exit codes: vhost-mem-ctl(8), EXIT STATUS. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_NO_MODULE = 3,
	EXIT_NO_DEVICE = 4,
	EXIT_MISALIGNED = 5,
	EXIT_TOO_LARGE = 6,
	EXIT_PERM = 7,
	EXIT_NOT_FOLLOWED = 8,
	EXIT_NOT_READY = 9,
};

#define DEFAULT_TIMEOUT		60.0
#define REFRESH_INTERVAL	1.0	/* resize --wait: status poll, s */
#define NR_RESP			4	/* VIRTIO_MEM_RESP_ACK .. _ERROR */

static const char *progname = "vhost-mem-ctl";

static struct {
	bool json;
	bool wait;
	double timeout;
	long count;
	bool progress;
} opt = {
	.timeout = DEFAULT_TIMEOUT,
	.count = -1,
};

static volatile sig_atomic_t interrupted;

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void __attribute__((format(printf, 1, 2))) warn_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "E?";
}

/* Sizes: binary units, as the kernel's and QEMU's. */

static const char size_units[] = "KMGTPE";

/*
 * "4096", "512M", "1.5T", "4GiB", "2mb": a whole number of bytes.
 * Returns 0, -EINVAL (not a size) or -ERANGE (beyond 2^64 - 1).
 */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned __int128 whole = 0, frac = 0, div = 1, unit = 1, v;
	const char *p = s, *u;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > UINT64_MAX)
			return -ERANGE;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (div >= 1000000000000ULL)
				return -EINVAL;	/* absurd precision */
			frac = frac * 10 + (*p - '0');
			div *= 10;
		}
	}
	if (*p) {
		u = *p & ~0x20 ? strchr(size_units, *p & ~0x20) : NULL;
		if (u) {
			unit = (unsigned __int128)1 << (10 * (u - size_units + 1));
			p++;
			if (*p == 'i')
				p++;
		}
		if (*p == 'B' || *p == 'b')
			p++;
		if (*p)
			return -EINVAL;
	}
	if (frac * unit % div)
		return -EINVAL;		/* not a whole number of bytes */
	v = whole * unit + frac * unit / div;
	if (v > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

/* "0", "512", "2M", "1.25G": at most two decimals, trailing zeros cut. */
static const char *fmt_size(char *buf, size_t len, uint64_t v)
{
	unsigned int i = 0;
	uint64_t unit = 1;
	char *dot;

	while (i < sizeof(size_units) - 1 && v >= unit << 10) {
		unit <<= 10;
		i++;
	}
	if (!i) {
		snprintf(buf, len, "%" PRIu64, v);
		return buf;
	}
	if (v % unit == 0) {
		snprintf(buf, len, "%" PRIu64 "%c", v / unit, size_units[i - 1]);
		return buf;
	}
	snprintf(buf, len, "%.2f", (double)v / (double)unit);
	dot = strchr(buf, '.');
	if (dot) {
		char *end = buf + strlen(buf) - 1;

		while (end > dot && *end == '0')
			*end-- = '\0';
		if (end == dot)
			*end = '\0';
	}
	snprintf(buf + strlen(buf), len - strlen(buf), "%c", size_units[i - 1]);
	return buf;
}

/* fmt_size() into one of a few static buffers: several per printf. */
static const char *sz(uint64_t v)
{
	static char bufs[8][24];
	static unsigned int next;

	return fmt_size(bufs[next++ % 8], sizeof(bufs[0]), v);
}

/* "3" or "vhost-mem3". */
static uint32_t parse_dev_arg(const char *s)
{
	const char *p = s;
	unsigned long v;
	char *end;

	if (!strncmp(p, "vhost-mem", 9))
		p += 9;
	if (*p < '0' || *p > '9')
		die(EXIT_USAGE, "'%s' is not a device (an id such as 0 or vhost-mem0)", s);
	errno = 0;
	v = strtoul(p, &end, 10);
	if (*end || errno || v > INT32_MAX)
		die(EXIT_USAGE, "'%s' is not a device (an id such as 0 or vhost-mem0)", s);
	return (uint32_t)v;
}

/* A minimal JSON writer: compact, one document per line. */

static struct {
	int depth;
	bool comma[16];
} jw;

static void j_string_value(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void j_key(const char *key)
{
	if (jw.comma[jw.depth])
		putchar(',');
	jw.comma[jw.depth] = true;
	if (key) {
		j_string_value(key);
		putchar(':');
	}
}

static void j_open(const char *key, char c)
{
	j_key(key);
	putchar(c);
	jw.comma[++jw.depth] = false;
}

static void j_close(char c)
{
	jw.depth--;
	putchar(c);
	if (!jw.depth) {
		putchar('\n');
		jw.comma[0] = false;
	}
}

static void j_u64(const char *key, uint64_t v)
{
	j_key(key);
	printf("%" PRIu64, v);
}

static void j_s64(const char *key, int64_t v)
{
	j_key(key);
	printf("%" PRId64, v);
}

static void j_bool(const char *key, bool v)
{
	j_key(key);
	fputs(v ? "true" : "false", stdout);
}

static void j_str(const char *key, const char *s)
{
	j_key(key);
	j_string_value(s);
}

static void j_double(const char *key, double v)
{
	j_key(key);
	printf("%.3f", v);
}

/* The netlink side. */

struct ctl {
	struct nl_sock *sk;
	int family;
	int err;		/* -errno of the last request */
	char msg[256];		/* the kernel's extended ack message */
};

static void ctl_enable_ext_ack(struct nl_sock *sk)
{
	int one = 1;

	/* Older kernels lack these; the errno alone still works. */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));
}

static void __attribute__((noreturn)) die_no_module(void)
{
	die(EXIT_NO_MODULE,
	    "the vhost_mem kernel module is not loaded (no generic netlink family \"%s\"); load it with: modprobe vhost_mem",
	    VHOST_MEM_FAMILY_NAME);
}

static struct nl_sock *ctl_socket(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk)
		die(EXIT_FAIL, "out of memory");
	ret = genl_connect(sk);
	if (ret < 0)
		die(EXIT_FAIL, "cannot open a generic netlink socket: %s",
		    nl_geterror(ret));
	return sk;
}

static void ctl_open(struct ctl *c)
{
	c->sk = ctl_socket();
	ctl_enable_ext_ack(c->sk);
	c->family = genl_ctrl_resolve(c->sk, VHOST_MEM_FAMILY_NAME);
	if (c->family == -NLE_OBJ_NOTFOUND)
		die_no_module();
	if (c->family < 0)
		die(EXIT_FAIL, "cannot look up the family \"%s\": %s",
		    VHOST_MEM_FAMILY_NAME, nl_geterror(c->family));
}

/* A socket subscribed to the events group. */
static struct nl_sock *ctl_events_socket(void)
{
	struct nl_sock *sk = ctl_socket();
	int grp, ret;

	grp = genl_ctrl_resolve_grp(sk, VHOST_MEM_FAMILY_NAME,
				    VHOST_MEM_MCGRP_EVENTS);
	if (grp == -NLE_OBJ_NOTFOUND)
		die_no_module();
	if (grp < 0)
		die(EXIT_FAIL, "cannot look up the group \"%s\": %s",
		    VHOST_MEM_MCGRP_EVENTS, nl_geterror(grp));
	nl_socket_disable_seq_check(sk);
	ret = nl_socket_add_membership(sk, grp);
	if (ret < 0)
		die(EXIT_FAIL, "cannot join the group \"%s\": %s",
		    VHOST_MEM_MCGRP_EVENTS, nl_geterror(ret));
	nl_socket_set_buffer_size(sk, 1 << 20, 0);
	nl_socket_set_nonblocking(sk);
	return sk;
}

/* The event socket's callbacks (no sequence check), valid given to fn. */
static struct nl_cb *ctl_events_cb(struct nl_sock *sk, nl_recvmsg_msg_cb_t fn,
				   void *arg)
{
	struct nl_cb *sk_cb = nl_socket_get_cb(sk);
	struct nl_cb *cb = nl_cb_clone(sk_cb);

	nl_cb_put(sk_cb);
	if (!cb)
		die(EXIT_FAIL, "out of memory");
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, fn, arg);
	return cb;
}

static struct nl_msg *ctl_msg(struct ctl *c, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, c->family, 0,
				 flags, cmd, VHOST_MEM_FAMILY_VERSION))
		die(EXIT_FAIL, "out of memory");
	return msg;
}

/* The error, and the message the kernel attached to it (extended ack). */
static int ctl_on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct ctl *c = arg;
	int off, len;

	(void)who;
	c->err = e->error ? e->error : -EIO;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	off = NLMSG_HDRLEN + sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
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

static int ctl_on_done(struct nl_msg *msg, void *arg)
{
	(void)msg;
	*(bool *)arg = true;
	return NL_STOP;
}

/*
 * Send msg (freed here) and receive until the ack or the end of a dump,
 * giving each reply to valid.  Returns 0 or -errno (c->msg explains).
 */
static int ctl_transact(struct ctl *c, struct nl_msg *msg,
			nl_recvmsg_msg_cb_t valid, void *arg)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	bool done = false;
	int ret;

	if (!cb)
		die(EXIT_FAIL, "out of memory");
	c->err = 0;
	c->msg[0] = '\0';
	ret = nl_send_auto(c->sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		snprintf(c->msg, sizeof(c->msg), "%s", nl_geterror(ret));
		nl_cb_put(cb);
		return -EIO;
	}
	if (valid)
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid, arg);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, ctl_on_done, &done);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ctl_on_done, &done);
	nl_cb_err(cb, NL_CB_CUSTOM, ctl_on_error, c);
	while (!done && !c->err) {
		ret = nl_recvmsgs(c->sk, cb);
		if (ret < 0 && !c->err) {
			snprintf(c->msg, sizeof(c->msg), "%s", nl_geterror(ret));
			c->err = -EIO;
		}
	}
	nl_cb_put(cb);
	return c->err;
}

/* A device, as DEV_GET reports it. */
struct dev {
	uint32_t id;
	uint64_t cookie;	/* 0: a module without cookies */
	bool busy;		/* a dump's: only id and cookie are known */
	bool has_owner, has_vm, has_region, config_call;
	uint32_t owner_pid;
	char vm[64];
	uint32_t flags, region_flags, memslots, memslots_max;
	int32_t node;
	uint64_t features, dropped;
	uint64_t addr, region_size, block_size, chunk_size;
	uint64_t usable, requested, plugged;
	bool has_req[VHOST_MEM_NR_REQ_TYPES];
	uint64_t req[VHOST_MEM_NR_REQ_TYPES][NR_RESP];
};

struct dev_list {
	struct dev *devs;
	size_t n, cap;
};

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

/* The spec's "uint": 4 bytes when the value fits, else 8 (unaligned). */
static uint64_t get_uint(struct nlattr **tb, int type)
{
	if (!tb[type])
		return 0;
	if (nla_len(tb[type]) == sizeof(uint32_t))
		return nla_get_u32(tb[type]);
	return nla_get_u64(tb[type]);
}

static uint32_t get_u32(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u32(tb[type]) : 0;
}

static void parse_req_stats(struct dev *d, struct nlattr *nest)
{
	static const int resp_attr[NR_RESP] = {
		[VIRTIO_MEM_RESP_ACK] = VHOST_MEM_A_REQ_STATS_ACK,
		[VIRTIO_MEM_RESP_NACK] = VHOST_MEM_A_REQ_STATS_NACK,
		[VIRTIO_MEM_RESP_BUSY] = VHOST_MEM_A_REQ_STATS_BUSY,
		[VIRTIO_MEM_RESP_ERROR] = VHOST_MEM_A_REQ_STATS_ERROR,
	};
	struct nlattr *tb[VHOST_MEM_A_REQ_STATS_MAX + 1];
	uint32_t type;
	int r;

	if (nla_parse_nested(tb, VHOST_MEM_A_REQ_STATS_MAX, nest, stats_policy) < 0 ||
	    !tb[VHOST_MEM_A_REQ_STATS_TYPE])
		return;
	type = nla_get_u32(tb[VHOST_MEM_A_REQ_STATS_TYPE]);
	if (type >= VHOST_MEM_NR_REQ_TYPES)
		return;		/* a newer kernel's type: not shown */
	d->has_req[type] = true;
	for (r = 0; r < NR_RESP; r++)
		d->req[type][r] = get_uint(tb, resp_attr[r]);
}

static int parse_dev_msg(struct nl_msg *msg, struct dev *d)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[VHOST_MEM_A_MAX + 1], *a;
	int rem;

	memset(d, 0, sizeof(*d));
	if (genlmsg_parse(nlh, 0, tb, VHOST_MEM_A_MAX, dev_policy) < 0 ||
	    !tb[VHOST_MEM_A_ID])
		return -EINVAL;
	d->id = nla_get_u32(tb[VHOST_MEM_A_ID]);
	d->cookie = get_uint(tb, VHOST_MEM_A_COOKIE);
	d->busy = tb[VHOST_MEM_A_BUSY];
	d->has_owner = tb[VHOST_MEM_A_OWNER_PID];
	d->owner_pid = get_u32(tb, VHOST_MEM_A_OWNER_PID);
	if (tb[VHOST_MEM_A_VM_ID]) {
		d->has_vm = true;
		snprintf(d->vm, sizeof(d->vm), "%s",
			 nla_get_string(tb[VHOST_MEM_A_VM_ID]));
	}
	d->flags = get_u32(tb, VHOST_MEM_A_STATUS_FLAGS);
	d->has_region = d->flags & VHOST_MEM_STATUS_F_REGION;
	d->config_call = tb[VHOST_MEM_A_CONFIG_CALL];
	d->features = get_uint(tb, VHOST_MEM_A_FEATURES);
	d->dropped = get_uint(tb, VHOST_MEM_A_DROPPED);
	d->node = tb[VHOST_MEM_A_NODE_ID] ?
		  nla_get_s32(tb[VHOST_MEM_A_NODE_ID]) : -1;
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
	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(nlh), 0),
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem)
		if (nla_type(a) == VHOST_MEM_A_REQ_STATS)
			parse_req_stats(d, a);
	return 0;
}

static int on_dev(struct nl_msg *msg, void *arg)
{
	struct dev_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->devs = realloc(l->devs, l->cap * sizeof(*l->devs));
		if (!l->devs)
			die(EXIT_FAIL, "out of memory");
	}
	if (!parse_dev_msg(msg, &l->devs[l->n]))
		l->n++;
	return NL_OK;
}

/* Explains an error of DEV_GET or DEV_SET and exits. */
static void __attribute__((noreturn))
die_request(struct ctl *c, uint32_t id, const char *what)
{
	const char *kmsg = c->msg[0] ? c->msg : strerror(-c->err);

	switch (c->err) {
	case -ENODEV:
		die(EXIT_NO_DEVICE, "no such device: vhost-mem%" PRIu32 " (see '%s list')",
		    id, progname);
	case -ESTALE:
		die(EXIT_NO_DEVICE, "%s vhost-mem%" PRIu32 ": the device was closed, its id names another device now",
		    what, id);
	case -EPERM:
	case -EACCES:
		die(EXIT_PERM, "%s vhost-mem%" PRIu32 ": permission denied (needs CAP_SYS_RESOURCE over the user namespace of its VMM)",
		    what, id);
	case -EBADFD:
		die(EXIT_NOT_READY, "%s vhost-mem%" PRIu32 ": the device is not set up yet (no region)",
		    what, id);
	default:
		die(EXIT_FAIL, "%s vhost-mem%" PRIu32 ": %s (%s)", what, id, kmsg,
		    errno_name(-c->err));
	}
}

/* One device; with a cookie (not 0), only if it is still that device. */
static int get_dev(struct ctl *c, uint32_t id, uint64_t cookie, struct dev *d)
{
	struct dev_list l = { 0 };
	struct nl_msg *msg = ctl_msg(c, VHOST_MEM_CMD_DEV_GET, 0);
	int ret;

	if (nla_put_u32(msg, VHOST_MEM_A_ID, id) < 0 ||
	    (cookie && nla_put_u64(msg, VHOST_MEM_A_COOKIE, cookie) < 0))
		die(EXIT_FAIL, "out of memory");
	ret = ctl_transact(c, msg, on_dev, &l);
	if (!ret && l.n != 1)
		ret = c->err = -EPROTO;
	if (!ret)
		*d = l.devs[0];
	free(l.devs);
	return ret;
}

/* Text for the humans. */

static const char *const req_names[VHOST_MEM_NR_REQ_TYPES] = {
	[VIRTIO_MEM_REQ_PLUG] = "plug",
	[VIRTIO_MEM_REQ_UNPLUG] = "unplug",
	[VIRTIO_MEM_REQ_UNPLUG_ALL] = "unplug-all",
	[VIRTIO_MEM_REQ_STATE] = "state",
	[VHOST_MEM_REQ_UNKNOWN] = "unknown",
};

/* The same as keys of JSON objects. */
static const char *const req_keys[VHOST_MEM_NR_REQ_TYPES] = {
	[VIRTIO_MEM_REQ_PLUG] = "plug",
	[VIRTIO_MEM_REQ_UNPLUG] = "unplug",
	[VIRTIO_MEM_REQ_UNPLUG_ALL] = "unplug_all",
	[VIRTIO_MEM_REQ_STATE] = "state",
	[VHOST_MEM_REQ_UNKNOWN] = "unknown",
};

static const char *const resp_names[NR_RESP] = {
	[VIRTIO_MEM_RESP_ACK] = "ack",
	[VIRTIO_MEM_RESP_NACK] = "nack",
	[VIRTIO_MEM_RESP_BUSY] = "busy",
	[VIRTIO_MEM_RESP_ERROR] = "error",
};

static const char *req_name(uint32_t type)
{
	return type < VHOST_MEM_NR_REQ_TYPES - 1 ? req_names[type] : "unknown";
}

/* The region's options; a flag this build does not know shows as a number. */
static const struct {
	uint32_t flag;
	const char *name;
} region_options[] = {
	{ VHOST_MEM_REGION_F_BACKING_FD, "backing-fd" },
#ifdef VHOST_MEM_REGION_F_PREALLOC
	{ VHOST_MEM_REGION_F_PREALLOC, "prealloc" },
#endif
#ifdef VHOST_MEM_REGION_F_SMM
	{ VHOST_MEM_REGION_F_SMM, "smm" },
#endif
#ifdef VHOST_MEM_REGION_F_PERSISTENT_SUSPEND
	{ VHOST_MEM_REGION_F_PERSISTENT_SUSPEND, "persistent-suspend" },
#endif
#ifdef VHOST_MEM_REGION_F_HARD_PROTECT
	{ VHOST_MEM_REGION_F_HARD_PROTECT, "hard-protect" },
#endif
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Takes the first option out of *flags: its name, or NULL if none is left. */
static const char *next_option(uint32_t *flags, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(region_options); i++) {
		if (*flags & region_options[i].flag) {
			*flags &= ~region_options[i].flag;
			return region_options[i].name;
		}
	}
	if (!*flags)
		return NULL;
	snprintf(buf, len, "0x%" PRIx32, *flags);
	*flags = 0;
	return buf;
}

static const char *dev_state(const struct dev *d)
{
	if (d->busy)
		return "busy";
#ifdef VHOST_MEM_STATUS_F_PAUSED
	if (d->flags & VHOST_MEM_STATUS_F_PAUSED)
		return "paused";
#endif
	if (d->flags & VHOST_MEM_STATUS_F_RUNNING)
		return "running";
	if (d->flags & VHOST_MEM_STATUS_F_REGION)
		return "stopped";
	if (d->flags & VHOST_MEM_STATUS_F_VM)
		return "setup";
	return "new";
}

static void json_dev(const struct dev *d)
{
	const char *name;
	char buf[32];
	uint32_t opts;
	int t, r;

	snprintf(buf, sizeof(buf), "vhost-mem%" PRIu32, d->id);
	j_open(NULL, '{');
	j_u64("dev", d->id);
	j_str("name", buf);
	if (d->cookie)
		j_u64("cookie", d->cookie);
	if (d->has_owner)
		j_u64("owner_pid", d->owner_pid);
	if (d->has_vm)
		j_str("vm", d->vm);
	j_str("state", dev_state(d));
	j_u64("features", d->features);
	j_bool("config_call", d->config_call);
	if (d->has_region) {
		j_s64("node", d->node);
		j_bool("backing_fd", d->region_flags & VHOST_MEM_REGION_F_BACKING_FD);
		j_open("options", '[');
		opts = d->region_flags;
		while ((name = next_option(&opts, buf, sizeof(buf))))
			j_str(NULL, name);
		j_close(']');
		j_u64("addr", d->addr);
		j_u64("region_size", d->region_size);
		j_u64("block_size", d->block_size);
		j_u64("chunk_size", d->chunk_size);
		j_u64("usable_size", d->usable);
		j_u64("requested_size", d->requested);
		j_u64("plugged_size", d->plugged);
		j_u64("memslots", d->memslots);
		j_u64("memslots_max", d->memslots_max);
	}
	j_u64("dropped", d->dropped);
	j_open("requests", '{');
	for (t = 0; t < VHOST_MEM_NR_REQ_TYPES; t++) {
		if (!d->has_req[t])
			continue;
		j_open(req_keys[t], '{');
		for (r = 0; r < NR_RESP; r++)
			j_u64(resp_names[r], d->req[t][r]);
		j_close('}');
	}
	j_close('}');
	j_close('}');
}

static int cmp_dev(const void *a, const void *b)
{
	const struct dev *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* A column per field, as wide as its widest cell. */
#define LIST_COLS	9

static void print_table(char (*cells)[LIST_COLS][64], size_t rows)
{
	size_t w[LIST_COLS] = { 0 }, r, c, len;

	for (r = 0; r < rows; r++)
		for (c = 0; c < LIST_COLS; c++) {
			len = strlen(cells[r][c]);
			if (len > w[c])
				w[c] = len;
		}
	for (r = 0; r < rows; r++) {
		for (c = 0; c < LIST_COLS; c++) {
			if (c == LIST_COLS - 1)
				printf("%s\n", cells[r][c]);
			else
				printf("%-*s  ", (int)w[c], cells[r][c]);
		}
	}
}

static int cmd_list(struct ctl *c)
{
	static const char *const head[LIST_COLS] = {
		"DEV", "OWNER", "VM", "STATE", "SIZE", "BLOCK", "REQUESTED",
		"PLUGGED", "MEMSLOTS",
	};
	char (*cells)[LIST_COLS][64];
	struct dev_list l = { 0 };
	size_t i;

	if (ctl_transact(c, ctl_msg(c, VHOST_MEM_CMD_DEV_GET, NLM_F_DUMP),
			 on_dev, &l))
		die(c->err == -EPERM ? EXIT_PERM : EXIT_FAIL,
		    "cannot list the devices: %s",
		    c->msg[0] ? c->msg : strerror(-c->err));
	qsort(l.devs, l.n, sizeof(*l.devs), cmp_dev);
	if (opt.json) {
		j_open(NULL, '[');
		for (i = 0; i < l.n; i++)
			json_dev(&l.devs[i]);
		j_close(']');
		free(l.devs);
		return EXIT_OK;
	}
	if (!l.n) {
		printf("no vhost-mem devices\n");
		return EXIT_OK;
	}
	cells = calloc(l.n + 1, sizeof(*cells));
	if (!cells)
		die(EXIT_FAIL, "out of memory");
	for (i = 0; i < LIST_COLS; i++)
		snprintf(cells[0][i], sizeof(cells[0][i]), "%s", head[i]);
	for (i = 0; i < l.n; i++) {
		const struct dev *d = &l.devs[i];
		char (*row)[64] = cells[i + 1];

		snprintf(row[0], 64, "vhost-mem%" PRIu32, d->id);
		if (d->has_owner)
			snprintf(row[1], 64, "%" PRIu32, d->owner_pid);
		else
			snprintf(row[1], 64, "-");
		snprintf(row[2], 64, "%s", d->has_vm ? d->vm : "-");
		snprintf(row[3], 64, "%s", dev_state(d));
		if (d->has_region) {
			snprintf(row[4], 64, "%s", sz(d->region_size));
			snprintf(row[5], 64, "%s", sz(d->block_size));
			snprintf(row[6], 64, "%s", sz(d->requested));
			snprintf(row[7], 64, "%s", sz(d->plugged));
			snprintf(row[8], 64, "%" PRIu32 "/%" PRIu32,
				 d->memslots, d->memslots_max);
		} else {
			for (int k = 4; k < LIST_COLS; k++)
				snprintf(row[k], 64, "-");
		}
	}
	print_table(cells, l.n + 1);
	free(cells);
	free(l.devs);
	return EXIT_OK;
}

static void print_dev(const struct dev *d)
{
	const char *name, *sep;
	uint32_t opts;
	char buf[16];
	int t, r;

	printf("vhost-mem%" PRIu32 ": state %s", d->id, dev_state(d));
	if (d->has_owner)
		printf(" owner %" PRIu32, d->owner_pid);
	if (d->has_vm)
		printf(" vm %s", d->vm);
	printf(" features 0x%" PRIx64 " config-call %s\n", d->features,
	       d->config_call ? "yes" : "no");
	if (d->has_region) {
		printf("    region 0x%" PRIx64 " size %s block %s chunk %s node ",
		       d->addr, sz(d->region_size), sz(d->block_size),
		       sz(d->chunk_size));
		if (d->node < 0)
			printf("-");
		else
			printf("%" PRId32, d->node);
		printf(" backing %s\n",
		       d->region_flags & VHOST_MEM_REGION_F_BACKING_FD ?
		       "shared-file" : "private");
		opts = d->region_flags;
		for (sep = "    options "; (name = next_option(&opts, buf, sizeof(buf)));
		     sep = ",")
			printf("%s%s", sep, name);
		if (d->region_flags)
			printf("\n");
		printf("    requested %s plugged %s usable %s memslots %" PRIu32 "/%" PRIu32 "\n",
		       sz(d->requested), sz(d->plugged), sz(d->usable),
		       d->memslots, d->memslots_max);
	} else {
		printf("    no region yet\n");
	}
	printf("    requests    %10s %10s %10s %10s\n", "ack", "nack", "busy",
	       "error");
	for (t = 0; t < VHOST_MEM_NR_REQ_TYPES; t++) {
		if (!d->has_req[t])
			continue;
		printf("      %-10s", req_names[t]);
		for (r = 0; r < NR_RESP; r++)
			printf(" %10" PRIu64, d->req[t][r]);
		printf("\n");
	}
	printf("    dropped %" PRIu64 "\n", d->dropped);
}

static int cmd_status(struct ctl *c, uint32_t id)
{
	struct dev d;

	if (get_dev(c, id, 0, &d))
		die_request(c, id, "cannot read");
	if (opt.json)
		json_dev(&d);
	else
		print_dev(&d);
	return EXIT_OK;
}

/* Events. */

struct event {
	uint8_t cmd;
	uint32_t id;
	uint64_t requested, plugged, usable;
	uint32_t origin;
	uint32_t error, req_type, errors;
	uint64_t req_addr, req_size;
};

static int parse_event(struct nl_msg *msg, struct event *ev)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[VHOST_MEM_A_MAX + 1];

	memset(ev, 0, sizeof(*ev));
	if (genlmsg_parse(nlh, 0, tb, VHOST_MEM_A_MAX, dev_policy) < 0 ||
	    !tb[VHOST_MEM_A_ID])
		return -EINVAL;
	ev->cmd = genlmsg_hdr(nlh)->cmd;
	ev->id = nla_get_u32(tb[VHOST_MEM_A_ID]);
	ev->requested = get_uint(tb, VHOST_MEM_A_REQUESTED_SIZE);
	ev->plugged = get_uint(tb, VHOST_MEM_A_PLUGGED_SIZE);
	ev->usable = get_uint(tb, VHOST_MEM_A_USABLE_SIZE);
	ev->origin = get_u32(tb, VHOST_MEM_A_ORIGIN);
	ev->error = get_u32(tb, VHOST_MEM_A_ERROR);
	ev->req_type = get_u32(tb, VHOST_MEM_A_REQ_TYPE);
	ev->errors = get_u32(tb, VHOST_MEM_A_ERRORS);
	ev->req_addr = get_uint(tb, VHOST_MEM_A_REQ_ADDR);
	ev->req_size = get_uint(tb, VHOST_MEM_A_REQ_SIZE);
	return 0;
}

static const char *event_name(uint8_t cmd)
{
	switch (cmd) {
	case VHOST_MEM_CMD_REQUESTED_SIZE_NTF:
		return "requested-size";
	case VHOST_MEM_CMD_PLUGGED_SIZE_NTF:
		return "plugged-size";
	case VHOST_MEM_CMD_SIZE_REACHED_NTF:
		return "size-reached";
	case VHOST_MEM_CMD_ERROR_NTF:
		return "error";
	default:
		return "unknown";
	}
}

static const char *origin_name(uint32_t origin)
{
	switch (origin) {
	case VHOST_MEM_ORIGIN_VMM:
		return "vmm";
	case VHOST_MEM_ORIGIN_NETLINK:
		return "netlink";
	default:
		return "unknown";
	}
}

static void print_event(const struct event *ev)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (opt.json) {
		j_open(NULL, '{');
		j_double("time", ts.tv_sec + ts.tv_nsec / 1e9);
		j_str("event", event_name(ev->cmd));
		j_u64("dev", ev->id);
		j_u64("requested_size", ev->requested);
		j_u64("plugged_size", ev->plugged);
		j_u64("usable_size", ev->usable);
		if (ev->cmd == VHOST_MEM_CMD_REQUESTED_SIZE_NTF)
			j_str("origin", origin_name(ev->origin));
		if (ev->cmd == VHOST_MEM_CMD_ERROR_NTF) {
			j_u64("errno", ev->error);
			j_str("error", strerror(ev->error));
			j_str("request", req_name(ev->req_type));
			j_u64("addr", ev->req_addr);
			j_u64("size", ev->req_size);
			j_u64("count", ev->errors);
		}
		j_close('}');
		fflush(stdout);
		return;
	}
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%s.%03ld vhost-mem%" PRIu32 " ", when, ts.tv_nsec / 1000000,
	       ev->id);
	switch (ev->cmd) {
	case VHOST_MEM_CMD_REQUESTED_SIZE_NTF:
		printf("requested %s by %s (plugged %s, usable %s)\n",
		       sz(ev->requested), origin_name(ev->origin),
		       sz(ev->plugged), sz(ev->usable));
		break;
	case VHOST_MEM_CMD_PLUGGED_SIZE_NTF:
		printf("plugged %s of %s\n", sz(ev->plugged), sz(ev->requested));
		break;
	case VHOST_MEM_CMD_SIZE_REACHED_NTF:
		printf("reached %s\n", sz(ev->requested));
		break;
	case VHOST_MEM_CMD_ERROR_NTF:
		printf("error %s 0x%" PRIx64 " %s: %s (%" PRIu32 " failed request%s)\n",
		       req_name(ev->req_type), ev->req_addr, sz(ev->req_size),
		       strerror(ev->error), ev->errors, ev->errors == 1 ? "" : "s");
		break;
	default:
		printf("unknown event %u\n", ev->cmd);
		break;
	}
	fflush(stdout);
}

struct monitor {
	bool filter;
	uint32_t id;
	long seen;
};

static int on_monitor_event(struct nl_msg *msg, void *arg)
{
	struct monitor *m = arg;
	struct event ev;

	if (parse_event(msg, &ev) || (m->filter && ev.id != m->id))
		return NL_OK;
	print_event(&ev);
	m->seen++;
	return NL_OK;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* Reads what is queued on an event socket; false if events were lost. */
static bool read_events(struct nl_sock *sk, struct nl_cb *cb)
{
	bool lost = false;
	int ret;

	for (;;) {
		ret = nl_recvmsgs(sk, cb);
		if (ret == -NLE_AGAIN || ret >= 0)
			return !lost;
		if (ret == -NLE_NOMEM || ret == -NLE_MSG_OVERFLOW) {
			lost = true;	/* the queue overflowed: go on */
			continue;
		}
		die(EXIT_FAIL, "cannot read events: %s", nl_geterror(ret));
	}
}

static int cmd_monitor(struct ctl *c, const char *devname)
{
	struct monitor m = { 0 };
	struct nl_sock *ev = ctl_events_socket();
	struct nl_cb *cb = ctl_events_cb(ev, on_monitor_event, &m);
	struct pollfd pfd = { .fd = nl_socket_get_fd(ev), .events = POLLIN };
	struct dev d;

	if (devname) {
		m.filter = true;
		m.id = parse_dev_arg(devname);
		if (get_dev(c, m.id, 0, &d))
			die_request(c, m.id, "cannot monitor");
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	catch_signals();
	while (!interrupted && (opt.count < 0 || m.seen < opt.count)) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die(EXIT_FAIL, "poll: %s", strerror(errno));
		}
		if (!read_events(ev, cb))
			warn_msg("some events were lost (receive queue overflow)");
	}
	nl_cb_put(cb);
	nl_socket_free(ev);
	return EXIT_OK;
}

/* resize [--wait] */

struct waiter {
	uint32_t id;
	uint64_t cookie;	/* the device meant, 0: none known */
	uint64_t start, target, plugged;
	double t0, last_change;
	bool changed_elsewhere;
	uint64_t other_request;
	uint32_t other_origin;
	struct event failure;	/* the last host-side failure */
	uint32_t failures;
	bool bar_drawn;
};

static void clear_bar(struct waiter *w)
{
	if (w->bar_drawn)
		fputs("\r\033[K", stderr);
	w->bar_drawn = false;
}

static void draw_bar(struct waiter *w, double now)
{
	uint64_t total, done;
	struct winsize ws;
	char text[96];
	int cols = 80, width, fill;
	double frac;

	if (!opt.progress)
		return;
	if (!ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) && ws.ws_col)
		cols = ws.ws_col;
	total = w->target > w->start ? w->target - w->start : w->start - w->target;
	if (w->target >= w->start)
		done = w->plugged > w->start ? w->plugged - w->start : 0;
	else
		done = w->plugged < w->start ? w->start - w->plugged : 0;
	if (done > total)
		done = total;
	frac = total ? (double)done / (double)total : 1.0;
	snprintf(text, sizeof(text), " %s / %s %3d%% %4.0fs", sz(w->plugged),
		 sz(w->target), (int)(frac * 100), now - w->t0);
	width = cols - (int)strlen(text) - 3;
	if (width > 50)
		width = 50;
	if (width < 10)
		width = 10;
	fill = (int)(frac * width);
	fprintf(stderr, "\r[%.*s%.*s]%s\033[K", fill,
		"##################################################",
		width - fill,
		"..................................................", text);
	fflush(stderr);
	w->bar_drawn = true;
}

static int on_wait_event(struct nl_msg *msg, void *arg)
{
	struct waiter *w = arg;
	struct event ev;

	if (parse_event(msg, &ev) || ev.id != w->id)
		return NL_OK;
	switch (ev.cmd) {
	case VHOST_MEM_CMD_REQUESTED_SIZE_NTF:
		if (ev.requested != w->target) {
			w->changed_elsewhere = true;
			w->other_request = ev.requested;
			w->other_origin = ev.origin;
		}
		break;
	case VHOST_MEM_CMD_PLUGGED_SIZE_NTF:
	case VHOST_MEM_CMD_SIZE_REACHED_NTF:
		if (ev.plugged != w->plugged)
			w->last_change = now_s();
		w->plugged = ev.plugged;
		break;
	case VHOST_MEM_CMD_ERROR_NTF:
		w->failure = ev;
		w->failures += ev.errors;
		break;
	}
	return NL_OK;
}

static void json_resize(const struct waiter *w, uint64_t previous,
			bool waited, bool timed_out, double now)
{
	j_open(NULL, '{');
	j_u64("dev", w->id);
	j_u64("requested_size", w->target);
	j_u64("previous_requested_size", previous);
	j_u64("plugged_size", w->plugged);
	j_bool("reached", w->plugged == w->target);
	j_bool("waited", waited);
	if (waited) {
		j_bool("timed_out", timed_out);
		j_double("elapsed", now - w->t0);
		j_u64("host_failures", w->failures);
	}
	j_close('}');
}

/* The guest did not get there in time: say what we know. */
static void explain_timeout(const struct waiter *w, const struct dev *d,
			    double now)
{
	warn_msg("vhost-mem%" PRIu32 ": the guest did not follow the resize: plugged %s of %s after %.0f s (last change %.0f s ago)",
	      w->id, sz(w->plugged), sz(w->target), now - w->t0,
	      now - w->last_change);
	if (!(d->flags & VHOST_MEM_STATUS_F_RUNNING))
		warn_msg("hint: the device is not running, so no request of the guest is served");
	if (w->target > w->start && !d->config_call)
		warn_msg("hint: no config-change eventfd is registered (VHOST_MEM_SET_CONFIG_CALL): the guest learns of the new size only when the VMM tells it");
	if (w->target < w->start)
		warn_msg("hint: the guest may be unable to unplug memory that is in use");
	if (w->failures)
		warn_msg("the host failed %" PRIu32 " request%s of the guest, the last: %s 0x%" PRIx64 " %s: %s",
		      w->failures, w->failures == 1 ? "" : "s",
		      req_name(w->failure.req_type), w->failure.req_addr,
		      sz(w->failure.req_size), strerror(w->failure.error));
}

static int wait_for_guest(struct ctl *c, struct nl_sock *ev, struct waiter *w,
			  uint64_t previous)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(ev), .events = POLLIN };
	struct nl_cb *cb = ctl_events_cb(ev, on_wait_event, w);
	double now = now_s(), deadline = now + opt.timeout, next;
	bool timed_out = false;
	struct dev d;
	int ms;

	catch_signals();
	for (;;) {
		/* The status is the truth; events only make us look sooner. */
		if (get_dev(c, w->id, w->cookie, &d)) {
			clear_bar(w);
			die_request(c, w->id, "cannot follow");
		}
		now = now_s();
		if (d.plugged != w->plugged)
			w->last_change = now;
		w->plugged = d.plugged;
		if (d.requested != w->target && !w->changed_elsewhere) {
			w->changed_elsewhere = true;
			w->other_request = d.requested;
		}
		if (w->plugged == w->target || w->changed_elsewhere ||
		    interrupted)
			break;
		if (now >= deadline) {
			timed_out = true;
			break;
		}
		next = now + REFRESH_INTERVAL < deadline ?
		       now + REFRESH_INTERVAL : deadline;
		while (w->plugged != w->target && !w->changed_elsewhere &&
		       !interrupted && now < next) {
			draw_bar(w, now);
			ms = (int)((next - now) * 1000) + 1;
			if (poll(&pfd, 1, ms) > 0 && !read_events(ev, cb))
				break;	/* events were lost: ask for the status */
			now = now_s();
		}
	}
	clear_bar(w);
	nl_cb_put(cb);
	if (opt.json)
		json_resize(w, previous, true, timed_out, now);
	if (interrupted) {
		warn_msg("interrupted: plugged %s of %s", sz(w->plugged),
			 sz(w->target));
		return 128 + SIGINT;
	}
	if (w->changed_elsewhere) {
		warn_msg("vhost-mem%" PRIu32 ": the requested size changed to %s%s%s while waiting; not waiting any more",
			 w->id, sz(w->other_request),
			 w->other_origin ? " by the " : "",
			 w->other_origin ? origin_name(w->other_origin) : "");
		return EXIT_FAIL;
	}
	if (timed_out) {
		explain_timeout(w, &d, now);
		return EXIT_NOT_FOLLOWED;
	}
	if (!opt.json)
		printf("vhost-mem%" PRIu32 ": plugged %s, reached in %.1f s\n",
		       w->id, sz(w->plugged), now - w->t0);
	return EXIT_OK;
}

static int cmd_resize(struct ctl *c, const char *devname, const char *sizestr)
{
	uint32_t id = parse_dev_arg(devname);
	struct waiter w = { .id = id };
	struct nl_sock *ev = NULL;
	struct nl_msg *msg;
	struct dev before;
	uint64_t size;
	int ret;

	ret = parse_size(sizestr, &size);
	if (ret == -ERANGE)
		die(EXIT_TOO_LARGE, "size '%s' is too large", sizestr);
	if (ret)
		die(EXIT_USAGE, "'%s' is not a size (bytes, or a number with K, M, G, T or P, such as 512M or 1.5T)",
		    sizestr);
	/* Listen before acting, so that no event can slip by. */
	if (opt.wait)
		ev = ctl_events_socket();
	if (get_dev(c, id, 0, &before))
		die_request(c, id, "cannot resize");

	/* The device we read, not one that got its id meanwhile. */
	w.cookie = before.cookie;
	msg = ctl_msg(c, VHOST_MEM_CMD_DEV_SET, 0);
	if (nla_put_u32(msg, VHOST_MEM_A_ID, id) < 0 ||
	    (w.cookie && nla_put_u64(msg, VHOST_MEM_A_COOKIE, w.cookie) < 0) ||
	    nla_put_u64(msg, VHOST_MEM_A_REQUESTED_SIZE, size) < 0)
		die(EXIT_FAIL, "out of memory");
	if (ctl_transact(c, msg, NULL, NULL)) {
		switch (c->err) {
		case -EINVAL:
			die(EXIT_MISALIGNED, "cannot resize vhost-mem%" PRIu32 " to %s: not a multiple of its block size %s",
			    id, sizestr, sz(before.block_size));
		case -ERANGE:
			die(EXIT_TOO_LARGE, "cannot resize vhost-mem%" PRIu32 " to %s: beyond its region of %s",
			    id, sizestr, sz(before.region_size));
		default:
			die_request(c, id, "cannot resize");
		}
	}

	w.start = before.plugged;
	w.plugged = before.plugged;
	w.target = size;
	w.t0 = now_s();
	w.last_change = w.t0;
	if (!opt.wait) {
		struct dev after;

		if (!get_dev(c, id, w.cookie, &after))
			w.plugged = after.plugged;
		if (opt.json)
			json_resize(&w, before.requested, false, false, w.t0);
		else
			printf("vhost-mem%" PRIu32 ": requested size %s -> %s (plugged %s)\n",
			       id, sz(before.requested), sz(size), sz(w.plugged));
		return EXIT_OK;
	}
	if (!opt.json)
		printf("vhost-mem%" PRIu32 ": requested size %s -> %s, waiting for the guest (plugged %s)\n",
		       id, sz(before.requested), sz(size), sz(before.plugged));
	fflush(stdout);
	ret = wait_for_guest(c, ev, &w, before.requested);
	nl_socket_free(ev);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"List, inspect, resize and watch vhost-mem devices (in-kernel virtio-mem).\n"
		"\n"
		"Commands:\n"
		"  list                  every device of this network namespace\n"
		"  status DEV            one device in detail\n"
		"  resize DEV SIZE       set the size the guest is asked to plug\n"
		"  monitor [DEV]         print events as they happen\n"
		"\n"
		"Options:\n"
		"  -j, --json            JSON output (monitor: one object per line)\n"
		"  -w, --wait            resize: wait until the guest has plugged SIZE\n"
		"  -t, --timeout SECS    resize --wait: give up after SECS (default %.0f)\n"
		"  -c, --count N         monitor: stop after N events\n"
		"  -h, --help            this text\n"
		"  -V, --version         the version\n"
		"\n"
		"DEV is a device id as list shows it: 0 or vhost-mem0.  SIZE is in bytes,\n"
		"or a number with a binary unit: 512M, 4G, 1.5T (K, M, G, T, P).\n"
		"\n"
		"Exit status: 0 success, 1 failure, 2 usage, 3 module not loaded,\n"
		"4 no such device, 5 size not a multiple of the block size, 6 size\n"
		"beyond the region, 7 permission denied, 8 the guest did not follow\n"
		"(resize --wait), 9 device not set up.  See vhost-mem-ctl(8).\n",
		progname, DEFAULT_TIMEOUT);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", progname);
	exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool timeout_set = false, count_set = false;
	const char *cmd;
	struct ctl c = { 0 };
	char *end;
	int ch, nargs, ret;

	while ((ch = getopt_long(argc, argv, "jwt:c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			opt.json = true;
			break;
		case 'w':
			opt.wait = true;
			break;
		case 't':
			errno = 0;
			opt.timeout = strtod(optarg, &end);
			if (*end || errno || !(opt.timeout > 0) || opt.timeout > 1e7)
				die_usage("--timeout needs a number of seconds above 0, not '%s'",
					  optarg);
			timeout_set = true;
			break;
		case 'c':
			errno = 0;
			opt.count = strtol(optarg, &end, 10);
			if (*end || errno || opt.count < 1)
				die_usage("--count needs a number above 0, not '%s'",
					  optarg);
			count_set = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("%s %s\n", progname, VHOST_MEM_CTL_VERSION);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try '%s --help'.\n", progname);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		die_usage("no command given");
	cmd = argv[optind++];
	nargs = argc - optind;
	opt.progress = !opt.json && isatty(STDERR_FILENO);

	if (strcmp(cmd, "resize") && (opt.wait || timeout_set))
		die_usage("--wait and --timeout go with resize only");
	if (timeout_set && !opt.wait)
		die_usage("--timeout goes with --wait");
	if (strcmp(cmd, "monitor") && count_set)
		die_usage("--count goes with monitor only");

	if (!strcmp(cmd, "list")) {
		if (nargs)
			die_usage("list takes no arguments");
		ctl_open(&c);
		ret = cmd_list(&c);
	} else if (!strcmp(cmd, "status") || !strcmp(cmd, "show")) {
		if (nargs != 1)
			die_usage("usage: status DEV");
		ctl_open(&c);
		ret = cmd_status(&c, parse_dev_arg(argv[optind]));
	} else if (!strcmp(cmd, "resize")) {
		if (nargs != 2)
			die_usage("usage: resize DEV SIZE [--wait [--timeout SECS]]");
		ctl_open(&c);
		ret = cmd_resize(&c, argv[optind], argv[optind + 1]);
	} else if (!strcmp(cmd, "monitor")) {
		if (nargs > 1)
			die_usage("usage: monitor [DEV]");
		ctl_open(&c);
		ret = cmd_monitor(&c, nargs ? argv[optind] : NULL);
	} else {
		die_usage("unknown command '%s'", cmd);
	}
	nl_socket_free(c.sk);
	return ret;
}
