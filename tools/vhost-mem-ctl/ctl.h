/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem-ctl: what the commands (dev.c, monitor.c, resize.c) share
 * with the front end (vhost-mem-ctl.c).
 */
#ifndef VHOST_MEM_CTL_H
#define VHOST_MEM_CTL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "nl_client.h"

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

/* The command line's options. */
struct ctl_options {
	bool json;
	bool wait;
	double timeout;
	long count;
	bool progress;
};

extern struct ctl_options opt;
extern const char *progname;
extern volatile sig_atomic_t interrupted;

void __attribute__((noreturn, format(printf, 2, 3)))
die(int code, const char *fmt, ...);
void __attribute__((format(printf, 1, 2))) warn_msg(const char *fmt, ...);
/* Explains the error of a request about device id and exits. */
void __attribute__((noreturn))
die_request(const struct nlc *c, uint32_t id, const char *what);
/* "3" or "vhost-mem3"; anything else is a usage error. */
uint32_t parse_dev_arg(const char *s);
double now_s(void);
/* SIGINT, SIGTERM and SIGHUP set interrupted. */
void catch_signals(void);

/* A subscriber of the events group, or the tool exits. */
struct nl_cb *ctl_events_open(struct nlc *ev, nl_recvmsg_msg_cb_t fn,
			      void *arg);
/* Reads what is queued on an event socket; false if events were lost. */
bool read_events(struct nlc *ev, struct nl_cb *cb);

/* Names of the family's values, as the output shows them. */
const char *req_name(uint32_t type);
const char *origin_name(uint32_t origin);

/* Each command: its arguments after the command's name. */
int cmd_list(struct nlc *c, int argc, char **argv);
int cmd_status(struct nlc *c, int argc, char **argv);
int cmd_resize(struct nlc *c, int argc, char **argv);
int cmd_monitor(struct nlc *c, int argc, char **argv);

#endif /* VHOST_MEM_CTL_H */
