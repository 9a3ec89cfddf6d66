// SPDX-License-Identifier: GPL-2.0
/*
 * vmem-agent: the end-to-end test's program inside the nested guest.
 *
 * Built static into the guest's initramfs.  It serves one command per line
 * on a serial port (raw mode, no echo) and answers each with exactly one
 * line starting with "ok " or "err ", so the test on the other side never
 * has to parse a shell:
 *
 *   ping [TOKEN]          ok pong [TOKEN] (the test pings until it hears
 *                         its token, so that stale pongs do not confuse it)
 *   meminfo               ok total_kb=N free_kb=N node1_total_kb=N node1_free_kb=N
 *   hold MIB              fills MIB MiB of memory bound to NUMA node 1 (the
 *                         virtio-mem device's node) with a pattern that
 *                         depends on each word's address and a generation
 *   check                 reads the held memory back: ok intact MIB / err ...
 *   pin                   pins the held memory (io_uring fixed buffers,
 *                         a long-term pin), so that the guest cannot
 *                         migrate it away and cannot unplug its blocks
 *   unpin                 undoes pin
 *   release               frees the held memory (unpins it first)
 *   watch MIB MS          polls node 1's MemTotal every 10 ms until it is MIB
 *                         MiB (ok reached T) or MS milliseconds have passed
 *                         (ok waited T node1_total_kb=N); T in ms.  The
 *                         benchmark times resizes with it, and polls alike
 *                         in its idle baselines
 *   reboot | poweroff     no answer: the guest goes away
 *
 *   vmem-agent [TTY]      default /dev/ttyS1
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MPOL_BIND	2
#define DEVICE_NODE	1
#define MIB		(1UL << 20)

#define IORING_REGISTER_BUFFERS	0

static FILE *out;
static uint64_t *held;
static size_t held_bytes;
static uint64_t generation;
static int pin_fd = -1;

static void reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputs("\r\n", out);
	fflush(out);
}

/* A field of a meminfo file ("MemTotal:", "Node 1 MemFree:"), in kB. */
static long meminfo_kb(const char *path, const char *field)
{
	char line[256], *p;
	long kb = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, field);
		if (p) {
			kb = strtol(p + strlen(field), NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

#define NODE1 "/sys/devices/system/node/node1/meminfo"

static void cmd_meminfo(void)
{
	reply("ok total_kb=%ld free_kb=%ld node1_total_kb=%ld node1_free_kb=%ld",
	      meminfo_kb("/proc/meminfo", "MemTotal:"),
	      meminfo_kb("/proc/meminfo", "MemFree:"),
	      meminfo_kb(NODE1, "MemTotal:"), meminfo_kb(NODE1, "MemFree:"));
}

static uint64_t pattern(const uint64_t *p)
{
	uint64_t x = (uintptr_t)p ^ (generation * 0x9e3779b97f4a7c15ULL);

	/* splitmix64's finaliser: neighbouring words differ in every bit. */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void cmd_unpin(void)
{
	if (pin_fd >= 0)
		close(pin_fd);
	pin_fd = -1;
}

/* One io_uring with the held memory as a registered (pinned) buffer. */
static void cmd_pin(void)
{
	struct iovec iov = { .iov_base = held, .iov_len = held_bytes };
	unsigned char params[120] = { 0 };	/* struct io_uring_params */

	cmd_unpin();
	if (!held) {
		reply("err nothing held");
		return;
	}
	pin_fd = syscall(SYS_io_uring_setup, 1, params);
	if (pin_fd < 0) {
		reply("err io_uring_setup: %s", strerror(errno));
		return;
	}
	if (syscall(SYS_io_uring_register, pin_fd, IORING_REGISTER_BUFFERS,
		    &iov, 1)) {
		reply("err io_uring_register: %s", strerror(errno));
		cmd_unpin();
		return;
	}
	reply("ok pinned %zu MiB", held_bytes / MIB);
}

static void cmd_release(void)
{
	cmd_unpin();
	if (held)
		munmap(held, held_bytes);
	held = NULL;
	held_bytes = 0;
}

static void cmd_hold(const char *arg)
{
	unsigned long nodemask = 1UL << DEVICE_NODE, mib = strtoul(arg, NULL, 10);
	size_t i, words;
	long free_kb;
	void *p;

	cmd_release();
	free_kb = meminfo_kb(NODE1, "MemFree:");
	if (!mib) {
		reply("err hold needs a size in MiB");
		return;
	}
	/* A bound allocation beyond the node's memory ends in the OOM killer. */
	if (free_kb < 0 || (unsigned long)free_kb / 1024 < mib + 32) {
		reply("err node %d has %ld kB free, not enough for %lu MiB",
		      DEVICE_NODE, free_kb, mib);
		return;
	}
	p = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		reply("err mmap: %s", strerror(errno));
		return;
	}
	if (syscall(SYS_mbind, p, mib * MIB, MPOL_BIND, &nodemask,
		    sizeof(nodemask) * 8, 0)) {
		reply("err mbind: %s", strerror(errno));
		munmap(p, mib * MIB);
		return;
	}
	held = p;
	held_bytes = mib * MIB;
	generation++;
	words = held_bytes / sizeof(*held);
	for (i = 0; i < words; i++)
		held[i] = pattern(&held[i]);
	reply("ok held %lu MiB on node %d", mib, DEVICE_NODE);
}

static void cmd_check(void)
{
	size_t i, words = held_bytes / sizeof(*held), bad = 0, first = 0;

	if (!held) {
		reply("err nothing held");
		return;
	}
	for (i = 0; i < words; i++) {
		if (held[i] != pattern(&held[i]) && !bad++)
			first = i;
	}
	if (bad)
		reply("err pattern: %zu of %zu words differ, first at byte %zu",
		      bad, words, first * sizeof(*held));
	else
		reply("ok intact %zu MiB", held_bytes / MIB);
}

static unsigned long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void cmd_watch(const char *arg)
{
	struct timespec t0, tick = { .tv_nsec = 10 * 1000 * 1000 };
	unsigned long mib, limit, ms;
	char *end;
	long kb;

	mib = strtoul(arg, &end, 10);
	limit = strtoul(end, NULL, 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		kb = meminfo_kb(NODE1, "MemTotal:");
		ms = ms_since(&t0);
		if (kb >= 0 && (unsigned long)kb == mib * 1024) {
			reply("ok reached %lu", ms);
			return;
		}
		if (ms >= limit) {
			reply("ok waited %lu node1_total_kb=%ld", ms, kb);
			return;
		}
		nanosleep(&tick, NULL);
	}
}

static int open_tty(const char *path)
{
	struct termios t;
	int fd = open(path, O_RDWR | O_NOCTTY);

	if (fd < 0)
		return -1;
	if (!tcgetattr(fd, &t)) {
		cfmakeraw(&t);
		cfsetispeed(&t, B115200);
		cfsetospeed(&t, B115200);
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *tty = argc > 1 ? argv[1] : "/dev/ttyS1";
	char line[256];
	FILE *in;
	int fd;

	fd = open_tty(tty);
	if (fd < 0) {
		perror(tty);
		return 1;
	}
	in = fdopen(fd, "r");
	out = fdopen(dup(fd), "w");
	if (!in || !out)
		return 1;
	reply("ok ready");
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (!strncmp(line, "ping", 4) && (!line[4] || line[4] == ' ')) {
			reply("ok pong%s", line + 4);
		} else if (!strcmp(line, "meminfo")) {
			cmd_meminfo();
		} else if (!strncmp(line, "hold ", 5)) {
			cmd_hold(line + 5);
		} else if (!strcmp(line, "check")) {
			cmd_check();
		} else if (!strcmp(line, "pin")) {
			cmd_pin();
		} else if (!strcmp(line, "unpin")) {
			cmd_unpin();
			reply("ok unpinned");
		} else if (!strncmp(line, "watch ", 6)) {
			cmd_watch(line + 6);
		} else if (!strcmp(line, "release")) {
			cmd_release();
			reply("ok released");
		} else if (!strcmp(line, "reboot") || !strcmp(line, "poweroff")) {
			sync();
			reboot(line[0] == 'r' ? RB_AUTOBOOT : RB_POWER_OFF);
			reply("err %s: %s", line, strerror(errno));
		} else {
			reply("err unknown command '%s'", line);
		}
	}
	return 0;
}
