// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: assertions and small helpers.
 */
#include <dirent.h>
#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

static void vmt_vreport(const char *kind, const char *file, int line,
			const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "# ==== %s (pid %d) ====\n# %s:%d: ", kind,
		(int)getpid(), file, line);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* Frames of a failure's stack that are printed, the failing helper first. */
#define VMT_STACK_DEPTH	32

/*
 * The calls that led to the failure, symbolised by addr2line (as KVM's
 * test_dump_stack()): a report from a library helper then names the test
 * that called it.  The programs are linked -no-pie, so the addresses are
 * the executable's own.  Without addr2line, the raw addresses.
 */
void vmt_dump_stack(void)
{
	void *stack[VMT_STACK_DEPTH];
	/* the command, " 0x..." per frame, the pipe through sed */
	char cmd[128 + VMT_STACK_DEPTH * 20];
	size_t len;
	int n, i;

	n = backtrace(stack, VMT_STACK_DEPTH);
	len = snprintf(cmd, sizeof(cmd),
		       "addr2line -s -p -f -i -e /proc/%d/exe", (int)getpid());
	/* frame 0 is this function; each return address - 1 is its call */
	for (i = 1; i < n; i++)
		len += snprintf(cmd + len, sizeof(cmd) - len, " %p",
				(char *)stack[i] - 1);
	snprintf(cmd + len, sizeof(cmd) - len, " | sed 's/^/#   /' >&2");
	fprintf(stderr, "#   stack:\n");
	fflush(stderr);
	if (system(cmd))
		backtrace_symbols_fd(stack + 1, n - 1, STDERR_FILENO);
}

void vmt_assert_fail(const char *file, int line, const char *expr,
		     int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmt_vreport("Test assertion failure", file, line, fmt, ap);
	va_end(ap);
	if (expr)
		fprintf(stderr, "#   condition: %s\n", expr);
	if (err)
		fprintf(stderr, "#   errno: %d (%s: %s)\n", err,
			vmt_errname(err), strerror(err));
	vmt_dump_stack();
	fflush(stderr);
	exit(VMT_KSFT_FAIL);
}

void vmt_skip(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmt_vreport("Test skipped", file, line, fmt, ap);
	va_end(ap);
	fflush(stderr);
	exit(VMT_KSFT_SKIP);
}

const char *vmt_errname(int err)
{
	static __thread char buf[24];	/* "errno -2147483648" */
	const char *name = strerrorname_np(err);

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

const char *vmt_errstr(int ret)
{
	return ret ? vmt_errname(-ret) : "success";
}

int vmt_timeout_ms(void)
{
	const char *env = getenv("VMT_TIMEOUT_MS");
	long v;

	if (!env || !*env)
		return 10000;
	v = strtol(env, NULL, 0);
	return v > 0 ? (int)v : 10000;
}

u64 vmt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

void vmt_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int __vmt_read_file(const char *path, char *buf, size_t size)
{
	ssize_t n, len = 0;
	int fd, err;

	if (!size)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			close(fd);
			return -err;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	return (int)len;
}

int __vmt_read_long(const char *path, long long *val)
{
	char buf[64], *end;
	int r;

	r = __vmt_read_file(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	errno = 0;
	*val = strtoll(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

long long vmt_meminfo_kb(const char *field)
{
	char line[256];
	size_t flen = strlen(field);
	long long val = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	TEST_ASSERT(f, "cannot open /proc/meminfo");
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			val = strtoll(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

long long vmt_nr_files(void)
{
	long long v;
	int r = __vmt_read_long("/proc/sys/fs/file-nr", &v);

	TEST_ASSERT(!r, "cannot read /proc/sys/fs/file-nr: %s",
		    vmt_errname(-r));
	return v;
}

bool vmt_kernel_has_symbol(const char *name)
{
	char line[512], *sym;
	bool found = false;
	FILE *f;

	f = fopen("/proc/kallsyms", "re");
	TEST_ASSERT(f, "cannot open /proc/kallsyms");
	while (!found && fgets(line, sizeof(line), f)) {
		/* "ADDRESS TYPE NAME[\t[MODULE]]" */
		sym = strchr(line, ' ');
		sym = sym ? strchr(sym + 1, ' ') : NULL;
		if (sym)
			found = !strcmp(strtok(sym + 1, " \t\n"), name);
	}
	fclose(f);
	return found;
}

static int vmt_count_comm_in(const char *taskdir, const char *comm)
{
	char path[600], buf[64];
	struct dirent *de;
	int count = 0;
	DIR *d;

	d = opendir(taskdir);
	if (!d)
		return 0;	/* the process is gone */
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "%s/%s/comm", taskdir,
			 de->d_name);
		if (__vmt_read_file(path, buf, sizeof(buf)) < 0)
			continue;
		if (!strcmp(buf, comm))
			count++;
	}
	closedir(d);
	return count;
}

int vmt_count_tasks_named(const char *comm)
{
	char taskdir[300];
	struct dirent *de;
	int count = 0;
	DIR *d;

	d = opendir("/proc");
	TEST_ASSERT(d, "cannot open /proc");
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(taskdir, sizeof(taskdir), "/proc/%s/task",
			 de->d_name);
		count += vmt_count_comm_in(taskdir, comm);
	}
	closedir(d);
	return count;
}

/* Numbered entries of a /proc directory. */
static int vmt_count_numbered(const char *dir)
{
	struct dirent *de;
	int count = 0;
	DIR *d;

	d = opendir(dir);
	TEST_ASSERT(d, "cannot open %s", dir);
	while ((de = readdir(d)))
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
			count++;
	closedir(d);
	return count;
}

int vmt_count_own_threads(void)
{
	return vmt_count_numbered("/proc/self/task");
}

int vmt_count_own_fds(void)
{
	/* the directory's own fd counts too, the same each time */
	return vmt_count_numbered("/proc/self/fd");
}

int __vmt_wait_path(const char *path, bool exists, int timeout_ms)
{
	u64 end = vmt_now_ns() + (u64)timeout_ms * 1000000ULL;
	struct stat st;

	for (;;) {
		if ((stat(path, &st) == 0) == exists)
			return 0;
		if (vmt_now_ns() >= end)
			return -ETIMEDOUT;
		vmt_sleep_ms(10);
	}
}

int __vmt_send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

int __vmt_recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -ENODATA;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* Reap pid if it ends within timeout_ms: true with *status, else false. */
static bool vmt_reap_within(pid_t pid, int *status, int timeout_ms)
{
	u64 deadline = vmt_now_ns() + (u64)timeout_ms * 1000000ULL;

	for (;;) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		if (vmt_now_ns() >= deadline)
			return false;
		vmt_sleep_ms(1);
	}
}

pid_t vmt_fork_ready(void (*fn)(int ready_fd, void *arg), void *arg,
		     int timeout_ms)
{
	int fds[2], r, status, err;
	struct pollfd pfd;
	ssize_t n = -1;
	pid_t pid;
	char byte;

	TEST_ASSERT(!pipe2(fds, O_CLOEXEC), "pipe2");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		close(fds[0]);
		fn(fds[1], arg);
		_exit(VMT_KSFT_FAIL);
	}
	close(fds[1]);
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	r = poll(&pfd, 1, timeout_ms);
	err = errno;
	if (r == 1) {
		n = read(fds[0], &byte, 1);
		err = errno;
	}
	close(fds[0]);
	if (r == 1 && n == 1)
		return pid;
	if (r == 1 && n == 0 && vmt_reap_within(pid, &status, 1000)) {
		/* EOF: the child ended without writing the byte. */
		if (WIFEXITED(status))
			TEST_FAIL("the child exited with status %d before it was ready",
				  WEXITSTATUS(status));
		TEST_FAIL("the child was killed by signal %d (%s) before it was ready",
			  WTERMSIG(status), strsignal(WTERMSIG(status)));
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (r == 0)
		TEST_FAIL("the child took longer than %d ms to be ready",
			  timeout_ms);
	if (r < 0 || n < 0)
		TEST_FAIL("%s of the ready pipe failed: %s (the child killed)",
			  r < 0 ? "poll" : "read", vmt_errname(err));
	/* EOF, yet the child lives on: it closed its end (exec, dup2). */
	TEST_FAIL("the child closed its ready fd without writing to it (killed)");
}

pid_t vmt_fork_socket(int *sock)
{
	int sv[2];
	pid_t pid;

	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
		    "socketpair");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	close(sv[pid ? 1 : 0]);
	*sock = sv[pid ? 0 : 1];
	return pid;
}

void vmt_kill_wait(pid_t pid)
{
	int status;

	TEST_ASSERT(!kill(pid, SIGKILL), "kill(%d, SIGKILL)", (int)pid);
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid(%d)", (int)pid);
	TEST_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "the child ended with status 0x%x, not by SIGKILL", status);
}
