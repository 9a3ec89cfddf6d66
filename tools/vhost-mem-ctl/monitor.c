// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem-ctl monitor: the events group, one line (or JSON object) per
 * event.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "output.h"

static const char *const event_names[] = {
	[VHOST_MEM_CMD_REQUESTED_SIZE_NTF] = "requested-size",
	[VHOST_MEM_CMD_PLUGGED_SIZE_NTF] = "plugged-size",
	[VHOST_MEM_CMD_SIZE_REACHED_NTF] = "size-reached",
	[VHOST_MEM_CMD_ERROR_NTF] = "error",
};

static const char *const origin_names[] = {
	[VHOST_MEM_ORIGIN_VMM] = "vmm",
	[VHOST_MEM_ORIGIN_NETLINK] = "netlink",
};

/* names[i], or "unknown" for a value a newer kernel may send. */
static const char *lookup_name(const char *const *names, size_t n, uint32_t i)
{
	return i < n && names[i] ? names[i] : "unknown";
}

static const char *event_name(uint8_t cmd)
{
	return lookup_name(event_names, ARRAY_SIZE(event_names), cmd);
}

const char *origin_name(uint32_t origin)
{
	return lookup_name(origin_names, ARRAY_SIZE(origin_names), origin);
}

/*
 * The sizes of each event: JSON has all three, the text of each event
 * the ones that matter to it.
 */
static void print_requested_ntf(const struct nlc_event *ev)
{
	print_size(PRINT_ANY, "requested_size", "requested %s", ev->requested);
	print_string(PRINT_ANY, "origin", " by %s", origin_name(ev->origin));
	print_size(PRINT_ANY, "plugged_size", " (plugged %s", ev->plugged);
	print_size(PRINT_ANY, "usable_size", ", usable %s)\n", ev->usable);
}

static void print_plugged_ntf(const struct nlc_event *ev)
{
	print_size(PRINT_ANY, "plugged_size", "plugged %s", ev->plugged);
	print_size(PRINT_ANY, "requested_size", " of %s\n", ev->requested);
	print_size(PRINT_JSON, "usable_size", NULL, ev->usable);
}

static void print_reached_ntf(const struct nlc_event *ev)
{
	print_size(PRINT_ANY, "requested_size", "reached %s\n", ev->requested);
	print_size(PRINT_JSON, "plugged_size", NULL, ev->plugged);
	print_size(PRINT_JSON, "usable_size", NULL, ev->usable);
}

/* A request of the guest that the host failed. */
static void print_error_ntf(const struct nlc_event *ev)
{
	print_size(PRINT_JSON, "requested_size", NULL, ev->requested);
	print_size(PRINT_JSON, "plugged_size", NULL, ev->plugged);
	print_size(PRINT_JSON, "usable_size", NULL, ev->usable);
	print_string(PRINT_ANY, "request", "error %s", req_name(ev->req_type));
	print_uint(PRINT_ANY, "addr", " 0x%" PRIx64, ev->req_addr);
	print_size(PRINT_ANY, "size", " %s", ev->req_size);
	print_uint(PRINT_JSON, "errno", NULL, ev->error);
	print_string(PRINT_ANY, "error", ": %s", strerror(ev->error));
	print_uint(PRINT_ANY, "count", " (%" PRIu64 " failed request",
		   ev->errors);
	print_string(PRINT_FP, NULL, "%s)\n", ev->errors == 1 ? "" : "s");
}

static void print_unknown_ntf(const struct nlc_event *ev)
{
	print_uint(PRINT_FP, NULL, "unknown event %" PRIu64 "\n", ev->cmd);
	print_size(PRINT_JSON, "requested_size", NULL, ev->requested);
	print_size(PRINT_JSON, "plugged_size", NULL, ev->plugged);
	print_size(PRINT_JSON, "usable_size", NULL, ev->usable);
}

static void print_event(const struct nlc_event *ev)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	open_json_object(NULL);
	print_time(PRINT_ANY, "time", "%s ", &ts);
	print_string(PRINT_JSON, "event", NULL, event_name(ev->cmd));
	print_uint(PRINT_ANY, "dev", "vhost-mem%" PRIu64 " ", ev->id);
	switch (ev->cmd) {
	case VHOST_MEM_CMD_REQUESTED_SIZE_NTF:
		print_requested_ntf(ev);
		break;
	case VHOST_MEM_CMD_PLUGGED_SIZE_NTF:
		print_plugged_ntf(ev);
		break;
	case VHOST_MEM_CMD_SIZE_REACHED_NTF:
		print_reached_ntf(ev);
		break;
	case VHOST_MEM_CMD_ERROR_NTF:
		print_error_ntf(ev);
		break;
	default:
		print_unknown_ntf(ev);
		break;
	}
	close_json_object();
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
	struct nlc_event ev;

	if (nlc_parse_event(msg, &ev) || (m->filter && ev.id != m->id))
		return NL_OK;
	print_event(&ev);
	m->seen++;
	return NL_OK;
}

bool read_events(struct nlc *ev, struct nl_cb *cb)
{
	bool lost = false;
	int ret;

	for (;;) {
		ret = nl_recvmsgs(ev->sk, cb);
		if (ret == -NLE_AGAIN || ret >= 0)
			return !lost;
		if (ret == -NLE_NOMEM || ret == -NLE_MSG_OVERFLOW) {
			lost = true;	/* the queue overflowed: go on */
			continue;
		}
		die(EXIT_FAIL, "cannot read events: %s", nl_geterror(ret));
	}
}

int cmd_monitor(struct nlc *c, int argc, char **argv)
{
	struct monitor m = { 0 };
	struct nlc ev;
	struct nl_cb *cb = ctl_events_open(&ev, on_monitor_event, &m);
	struct pollfd pfd = { .fd = nl_socket_get_fd(ev.sk), .events = POLLIN };
	struct nlc_dev d;

	if (argc) {
		m.filter = true;
		m.id = parse_dev_arg(argv[0]);
		if (nlc_get_dev(c, m.id, 0, &d))
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
		if (!read_events(&ev, cb))
			warn_msg("some events were lost (receive queue overflow)");
	}
	nl_cb_put(cb);
	nlc_close(&ev);
	return EXIT_OK;
}
