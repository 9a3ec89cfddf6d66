// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem-ctl resize [--wait]: set the requested size, and with --wait
 * follow the guest until it has plugged that much.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl.h"
#include "output.h"
#include "size.h"

#define REFRESH_INTERVAL	1.0	/* resize --wait: status poll, s */

struct waiter {
	uint32_t id;
	uint64_t cookie;	/* the device meant, 0: none known */
	uint64_t start, target, plugged;
	double t0, last_change;
	bool changed_elsewhere;
	uint64_t other_request;
	uint32_t other_origin;
	struct nlc_event failure;	/* the last host-side failure */
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
	struct nlc_event ev;

	if (nlc_parse_event(msg, &ev) || ev.id != w->id)
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

/* What resize without --wait did: one line, or a JSON object. */
static void print_resize(const struct waiter *w, uint64_t previous)
{
	open_json_object(NULL);
	print_uint(PRINT_ANY, "dev", "vhost-mem%" PRIu64 ":", w->id);
	print_size(PRINT_ANY, "previous_requested_size", " requested size %s",
		   previous);
	print_size(PRINT_ANY, "requested_size", " -> %s", w->target);
	print_size(PRINT_ANY, "plugged_size", " (plugged %s)\n", w->plugged);
	print_bool(PRINT_JSON, "reached", NULL, w->plugged == w->target,
		   NULL, NULL);
	print_bool(PRINT_JSON, "waited", NULL, false, NULL, NULL);
	close_json_object();
}

/*
 * What resize --wait came to; the text says it only when the guest got
 * there (the other ends are explained on standard error).
 */
static void print_wait_result(const struct waiter *w, uint64_t previous,
			      bool timed_out, bool got_there, double now)
{
	enum output_type type = got_there ? PRINT_ANY : PRINT_JSON;

	open_json_object(NULL);
	print_uint(type, "dev", "vhost-mem%" PRIu64 ":", w->id);
	print_size(PRINT_JSON, "requested_size", NULL, w->target);
	print_size(PRINT_JSON, "previous_requested_size", NULL, previous);
	print_size(type, "plugged_size", " plugged %s", w->plugged);
	print_bool(PRINT_JSON, "reached", NULL, w->plugged == w->target,
		   NULL, NULL);
	print_bool(PRINT_JSON, "waited", NULL, true, NULL, NULL);
	print_bool(PRINT_JSON, "timed_out", NULL, timed_out, NULL, NULL);
	print_float(type, "elapsed", ", reached in %.1f s\n", now - w->t0);
	print_uint(PRINT_JSON, "host_failures", NULL, w->failures);
	close_json_object();
}

/* The guest did not get there in time: say what we know. */
static void explain_timeout(const struct waiter *w, const struct nlc_dev *d,
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
		      req_name(w->failure.req_type), (uint64_t)w->failure.req_addr,
		      sz(w->failure.req_size), strerror(w->failure.error));
}

static int wait_for_guest(struct nlc *c, struct nlc *ev, struct nl_cb *cb,
			  struct waiter *w, uint64_t previous)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(ev->sk), .events = POLLIN };
	double now = now_s(), deadline = now + opt.timeout, next;
	bool timed_out = false;
	struct nlc_dev d;
	int ms;

	catch_signals();
	for (;;) {
		/* The status is the truth; events only make us look sooner. */
		if (nlc_get_dev(c, w->id, w->cookie, &d)) {
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
	print_wait_result(w, previous, timed_out,
			  !interrupted && !w->changed_elsewhere && !timed_out,
			  now);
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
	return EXIT_OK;
}

/* SIZE, or the tool exits. */
static uint64_t parse_size_arg(const char *sizestr)
{
	uint64_t size;
	int ret = parse_size(sizestr, &size);

	if (ret == -ERANGE)
		die(EXIT_TOO_LARGE, "size '%s' is too large", sizestr);
	if (ret)
		die(EXIT_USAGE, "'%s' is not a size (bytes, or a number with K, M, G, T or P, such as 512M or 1.5T)",
		    sizestr);
	return size;
}

/* Sets the requested size of the device read before, or the tool exits. */
static void set_size(struct nlc *c, const struct nlc_dev *before,
		     const char *sizestr, uint64_t size)
{
	uint32_t id = before->id;

	/* The device we read, not one that got its id meanwhile. */
	if (!nlc_set_size(c, id, before->cookie, size))
		return;
	switch (c->err) {
	case -EINVAL:
		die(EXIT_MISALIGNED, "cannot resize vhost-mem%" PRIu32 " to %s: not a multiple of its block size %s",
		    id, sizestr, sz(before->block_size));
	case -ERANGE:
		die(EXIT_TOO_LARGE, "cannot resize vhost-mem%" PRIu32 " to %s: beyond its region of %s",
		    id, sizestr, sz(before->region_size));
	default:
		die_request(c, id, "cannot resize");
	}
}

int cmd_resize(struct nlc *c, int argc, char **argv)
{
	uint32_t id = parse_dev_arg(argv[0]);
	uint64_t size = parse_size_arg(argv[1]);
	struct waiter w = { .id = id };
	struct nl_cb *cb = NULL;
	struct nlc_dev before;
	struct nlc ev;
	int ret;

	(void)argc;
	/* Listen before acting, so that no event can slip by. */
	if (opt.wait)
		cb = ctl_events_open(&ev, on_wait_event, &w);
	if (nlc_get_dev(c, id, 0, &before))
		die_request(c, id, "cannot resize");
	w.cookie = before.cookie;
	set_size(c, &before, argv[1], size);

	w.start = before.plugged;
	w.plugged = before.plugged;
	w.target = size;
	w.t0 = now_s();
	w.last_change = w.t0;
	if (!opt.wait) {
		struct nlc_dev after;

		if (!nlc_get_dev(c, id, w.cookie, &after))
			w.plugged = after.plugged;
		print_resize(&w, before.requested);
		return EXIT_OK;
	}
	if (!output_is_json())
		printf("vhost-mem%" PRIu32 ": requested size %s -> %s, waiting for the guest (plugged %s)\n",
		       id, sz(before.requested), sz(size), sz(before.plugged));
	fflush(stdout);
	ret = wait_for_guest(c, &ev, cb, &w, before.requested);
	nl_cb_put(cb);
	nlc_close(&ev);
	return ret;
}
