// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem-ctl: list, inspect, resize and watch vhost-mem devices through
 * the "vhost-mem" generic netlink family.  See vhost-mem-ctl(8).
 *
 * This file is the front end: the options, the table of commands, and the
 * explanations of errors.  The commands are in dev.c, monitor.c and
 * resize.c, the netlink client in nl_client.c (shared with the selftests),
 * text and JSON in output.c.  The kernel decides every rule (this tool only
 * explains the errors it gets back).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "output.h"

#ifndef VHOST_MEM_CTL_VERSION
#define VHOST_MEM_CTL_VERSION "0"
#endif

const char *progname = "vhost-mem-ctl";

struct ctl_options opt = {
	.timeout = DEFAULT_TIMEOUT,
	.count = -1,
};

volatile sig_atomic_t interrupted;

void __attribute__((noreturn, format(printf, 2, 3)))
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

void __attribute__((format(printf, 1, 2))) warn_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

double now_s(void)
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

/* "3" or "vhost-mem3". */
uint32_t parse_dev_arg(const char *s)
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

static void __attribute__((noreturn)) die_no_module(void)
{
	die(EXIT_NO_MODULE,
	    "the vhost_mem kernel module is not loaded (no generic netlink family \"%s\"); load it with: modprobe vhost_mem",
	    VHOST_MEM_FAMILY_NAME);
}

/* A step of opening a socket failed with libnl's code ret: exits. */
static void __attribute__((noreturn)) die_open(const struct nlc *c, int ret)
{
	if (ret == -NLE_OBJ_NOTFOUND)
		die_no_module();
	if (!c->failed)
		die(EXIT_FAIL, "out of memory");
	die(EXIT_FAIL, "%s: %s", c->failed, nl_geterror(ret));
}

static void ctl_open(struct nlc *c)
{
	int ret = nlc_open(c);

	if (ret)
		die_open(c, ret);
}

struct nl_cb *ctl_events_open(struct nlc *ev, nl_recvmsg_msg_cb_t fn,
			      void *arg)
{
	struct nl_cb *cb;
	int ret = nlc_events_open(ev, fn, arg, &cb);

	if (ret)
		die_open(ev, ret);
	/* a burst of events (a large resize) must not overflow it */
	nl_socket_set_buffer_size(ev->sk, 1 << 20, 0);
	return cb;
}

/* Explains an error of DEV_GET or DEV_SET and exits. */
void die_request(const struct nlc *c, uint32_t id, const char *what)
{
	const char *kmsg = c->msg[0] ? c->msg : strerror(-c->err);

	if (c->local && c->err == -ENOMEM)
		die(EXIT_FAIL, "out of memory");
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

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int cmd_help(struct nlc *c, int argc, char **argv);

/* Which options go with a command. */
#define CMD_WAIT	0x1	/* --wait, --timeout */
#define CMD_COUNT	0x2	/* --count */
#define CMD_NO_SOCKET	0x4	/* needs no netlink socket */

static const struct command {
	const char *name;
	int (*handler)(struct nlc *c, int argc, char **argv);
	const char *usage;	/* the arguments; NULL: none */
	const char *summary;	/* for --help; NULL: an alias */
	const char *alias_of;	/* the command an alias's usage names */
	int min_args, max_args;
	unsigned int flags;
} commands[] = {
	{ .name = "list", .handler = cmd_list,
	  .summary = "every device of this network namespace" },
	{ .name = "status", .handler = cmd_status, .usage = "DEV",
	  .summary = "one device in detail", .min_args = 1, .max_args = 1 },
	{ .name = "show", .handler = cmd_status, .usage = "DEV",
	  .alias_of = "status", .min_args = 1, .max_args = 1 },
	{ .name = "resize", .handler = cmd_resize,
	  .usage = "DEV SIZE [--wait [--timeout SECS]]",
	  .summary = "set the size the guest is asked to plug",
	  .min_args = 2, .max_args = 2, .flags = CMD_WAIT },
	{ .name = "monitor", .handler = cmd_monitor, .usage = "[DEV]",
	  .summary = "print events as they happen", .max_args = 1,
	  .flags = CMD_COUNT },
	{ .name = "help", .handler = cmd_help, .summary = "this text",
	  .flags = CMD_NO_SOCKET },
};

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* A line of --help's commands: the options have a section of their own. */
static void print_command_usage(FILE *f, const struct command *cmd)
{
	const char *args = cmd->usage ? cmd->usage : "";
	const char *opts = strstr(args, " [--");
	int args_len = opts ? (int)(opts - args) : (int)strlen(args);
	char line[64];

	snprintf(line, sizeof(line), "%s%s%.*s", cmd->name, *args ? " " : "",
		 args_len, args);
	fprintf(f, "  %-22s%s\n", line, cmd->summary);
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: %s [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"List, inspect, resize and watch vhost-mem devices (in-kernel virtio-mem).\n"
		"\n"
		"Commands:\n", progname);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].summary)
			print_command_usage(f, &commands[i]);
	fprintf(f,
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
		DEFAULT_TIMEOUT);
}

static int cmd_help(struct nlc *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	usage(stdout);
	return EXIT_OK;
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

/* What getopt_long() found, beyond opt. */
struct options_given {
	bool timeout, count;
};

/* The options before the command; returns -1, or an exit code. */
static int parse_options(int argc, char **argv, struct options_given *given)
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
	char *end;
	int ch;

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
			given->timeout = true;
			break;
		case 'c':
			errno = 0;
			opt.count = strtol(optarg, &end, 10);
			if (*end || errno || opt.count < 1)
				die_usage("--count needs a number above 0, not '%s'",
					  optarg);
			given->count = true;
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
	return -1;
}

/* The options that go with one command only, and the count of arguments. */
static void check_usage(const char *name, const struct command *cmd,
			const struct options_given *given, int nargs)
{
	unsigned int flags = cmd ? cmd->flags : 0;

	if (!(flags & CMD_WAIT) && (opt.wait || given->timeout))
		die_usage("--wait and --timeout go with resize only");
	if (given->timeout && !opt.wait)
		die_usage("--timeout goes with --wait");
	if (!(flags & CMD_COUNT) && given->count)
		die_usage("--count goes with monitor only");
	if (!cmd)
		die_usage("unknown command '%s'", name);
	if (nargs >= cmd->min_args && nargs <= cmd->max_args)
		return;
	if (!cmd->max_args)
		die_usage("%s takes no arguments", cmd->name);
	die_usage("usage: %s %s", cmd->alias_of ? cmd->alias_of : cmd->name,
		  cmd->usage);
}

int main(int argc, char **argv)
{
	struct options_given given = { 0 };
	const struct command *cmd;
	struct nlc c = { 0 };
	const char *name;
	int nargs, ret;

	ret = parse_options(argc, argv, &given);
	if (ret >= 0)
		return ret;
	if (optind >= argc)
		die_usage("no command given");
	name = argv[optind++];
	nargs = argc - optind;
	opt.progress = !opt.json && isatty(STDERR_FILENO);
	output_set_json(opt.json);

	cmd = find_command(name);
	check_usage(name, cmd, &given, nargs);
	if (!(cmd->flags & CMD_NO_SOCKET))
		ctl_open(&c);
	ret = cmd->handler(&c, nargs, argv + optind);
	nlc_close(&c);
	return ret;
}
