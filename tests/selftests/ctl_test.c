// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: vhost-mem-ctl, the admin's tool, against live
 * devices that this process drives as VMM and guest driver.
 *
 * - list, status, resize and monitor, in text and in JSON (which must
 *   parse: python3's json module reads it);
 * - a resize through the tool fires the config-change eventfd, and the
 *   guest's next PLUGs are ACKed up to the new size;
 * - resize --wait returns once the guest followed, and gives up with its
 *   own exit code when it does not;
 * - every error has its exit code and message: module not loaded, no such
 *   device, misaligned size, size beyond the region, permission denied
 *   (an unprivileged user, root without CAP_SYS_RESOURCE, only
 *   CAP_NET_ADMIN), no region,
 *   usage.
 *
 * The tool is build/tools/vhost-mem-ctl/vhost-mem-ctl next to this
 * program's build directory, or $VHOST_MEM_CTL.
 *
 * And the kernel's own YNL CLI (tools/net/ynl/cli.py of linux-source-6.12)
 * against the spec: a dump, a do of each command and a subscription to
 * the events; ynl.env in this program's directory (make selftests writes
 * it) says where the CLI and the spec are.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"
#include "kselftest_harness.h"

#define TEST_REGION_GPA		(4ULL << 30)
#define TEST_REGION_SIZE	(256ULL << 20)
#define TEST_BLOCK_SIZE		(2ULL << 20)
#define TEST_SLOT_BASE		300

/* The tool's exit codes (vhost-mem-ctl(8)). */
enum {
	CTL_OK = 0,
	CTL_FAIL = 1,
	CTL_USAGE = 2,
	CTL_NO_MODULE = 3,
	CTL_NO_DEVICE = 4,
	CTL_MISALIGNED = 5,
	CTL_TOO_LARGE = 6,
	CTL_PERM = 7,
	CTL_NOT_FOLLOWED = 8,
	CTL_NOT_READY = 9,
};

#define OUT_MAX		(256 * 1024)

static char ctl_path[PATH_MAX];

static const char *python(void)
{
	return access("/usr/bin/python3", X_OK) ? "python3" : "/usr/bin/python3";
}

/* NULL, or why the tool cannot be found. */
static const char *find_ctl(void)
{
	const char *env = getenv("VHOST_MEM_CTL");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(ctl_path, sizeof(ctl_path), "%s", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return "cannot read /proc/self/exe";
		exe[n] = '\0';
		snprintf(ctl_path, sizeof(ctl_path),
			 "%s/../tools/vhost-mem-ctl/vhost-mem-ctl", dirname(exe));
	}
	if (access(ctl_path, X_OK))
		return "vhost-mem-ctl is not built (make tools), or set VHOST_MEM_CTL";
	return NULL;
}

/* A run of a program: its output and how it ended. */
struct run {
	pid_t pid;
	int out_fd, err_fd;
	int status;		/* exit code, or 128 + signal */
	char out[OUT_MAX];
	char err[16384];
};

static void read_all(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
}

/* Starts argv (argv[0] a path) with stdout and stderr into memfds. */
static void spawn(struct run *r, const char *const argv[], int stdin_fd)
{
	r->out[0] = r->err[0] = '\0';
	r->out_fd = memfd_create("stdout", MFD_CLOEXEC);
	r->err_fd = memfd_create("stderr", MFD_CLOEXEC);
	TEST_ASSERT(r->out_fd >= 0 && r->err_fd >= 0, "memfd_create");
	r->pid = fork();
	TEST_ASSERT(r->pid >= 0, "fork");
	if (!r->pid) {
		if (stdin_fd >= 0)
			dup2(stdin_fd, 0);
		else
			close(0);
		dup2(r->out_fd, 1);
		dup2(r->err_fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

/* Waits up to timeout_ms (then kills it); fills in status and output. */
static void finish(struct run *r, int timeout_ms)
{
	u64 deadline = vmt_now_ns() + (u64)timeout_ms * 1000000;
	int st;

	while (waitpid(r->pid, &st, WNOHANG) != r->pid) {
		if (vmt_now_ns() > deadline) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &st, 0);
			break;
		}
		vmt_sleep_ms(20);
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	read_all(r->out_fd, r->out, sizeof(r->out));
	read_all(r->err_fd, r->err, sizeof(r->err));
	close(r->out_fd);
	close(r->err_fd);
}

static struct run *run_argv(const char *const argv[])
{
	struct run *r = calloc(1, sizeof(*r));

	TEST_ASSERT(r, "out of memory");
	spawn(r, argv, -1);
	finish(r, 60000);
	return r;
}

/* vhost-mem-ctl ARGS..., NULL. */
#define CTL(...) run_argv((const char *const []){ ctl_path, __VA_ARGS__, NULL })

/*
 * python3 evaluates expr with d = the JSON document in json; its output
 * goes to out.  Returns python's exit status (non-zero: did not parse, or
 * the expression failed).
 */
static int py_eval(const char *json, const char *expr, char *out, size_t len)
{
	char script[1024];
	struct run *r;
	int in, status;
	size_t n;

	snprintf(script, sizeof(script),
		 "import json, sys\nd = json.load(sys.stdin)\nprint(%s)\n", expr);
	in = memfd_create("json", MFD_CLOEXEC);
	TEST_ASSERT(in >= 0 && write(in, json, strlen(json)) == (ssize_t)strlen(json),
		    "memfd for python");
	lseek(in, 0, SEEK_SET);
	r = calloc(1, sizeof(*r));
	TEST_ASSERT(r, "out of memory");
	spawn(r, (const char *const []){ python(), "-c", script, NULL }, in);
	finish(r, 60000);
	close(in);
	n = strnlen(r->out, len - 1);
	memcpy(out, r->out, n);
	out[n] = '\0';
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
	if (r->status)
		fprintf(stderr, "# python: %s\n", r->err);
	status = r->status;
	free(r);
	return status;
}

/* The expression's value as text; fails the test if it does not evaluate. */
#define PY(json, expr) ({						\
	static char __v[4096];						\
	int __s = py_eval((json), (expr), __v, sizeof(__v));		\
	TEST_ASSERT(!__s, "python could not evaluate %s on: %s", (expr), (json)); \
	(const char *)__v;						\
})

/* Waits up to timeout_ms for the eventfd: its count, or 0. */
static u64 wait_eventfd(int efd, int timeout_ms)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	u64 count = 0;

	if (poll(&pfd, 1, timeout_ms) == 1 &&
	    read(efd, &count, sizeof(count)) != sizeof(count))
		count = 0;
	return count;
}

static u64 requested_size(int fd)
{
	struct vhost_mem_status st;

	TEST_ASSERT(!__vmt_mem_get_status(fd, &st), "VHOST_MEM_GET_STATUS");
	return st.requested_size;
}

static void plug_range(struct vmt_vq *vq, u64 from, u64 to)
{
	vmt_mem_plug_range(vq, TEST_REGION_GPA, from, to, TEST_BLOCK_SIZE);
}

FIXTURE(ctl) {
	struct vmt_vm *vm;
	struct vmt_vq vq;
	struct vmt_dev dev;
	struct vmt_backing backing;
	struct vhost_mem_region region;
	u32 id;
	char id_str[16], name[32];
	int efd;
};

FIXTURE_SETUP(ctl)
{
	const char *why;

	self->efd = -1;
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	why = find_ctl();
	if (why && vmt_modroot())
		ASSERT_EQ(NULL, why) TH_LOG("%s", why);
	if (why)
		SKIP(return, "%s", why);
	self->vm = vmt_vm_create(0);
	vmt_vq_init(&self->vq, self->vm, 0);
	vmt_dev_open_ready(&self->dev, self->vm, &self->vq, ~0ULL);
	vmt_backing_init(&self->backing, VMT_BACKING_MEMFD, TEST_REGION_SIZE);
	vmt_region_init(&self->region, &self->backing, TEST_REGION_GPA,
			TEST_BLOCK_SIZE, TEST_SLOT_BASE);
	vmt_dev_start(&self->dev, &self->region, 0);
	self->id = vmt_dev_id(self->dev.fd);
	snprintf(self->id_str, sizeof(self->id_str), "%u", self->id);
	snprintf(self->name, sizeof(self->name), "vhost-mem%u", self->id);
	self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, self->efd);
	ASSERT_EQ(0, __vmt_mem_set_config_call(self->dev.fd, self->efd));
}

FIXTURE_TEARDOWN(ctl)
{
	if (self->efd >= 0)
		close(self->efd);
	if (self->vm) {
		vmt_dev_close(&self->dev);
		vmt_vq_destroy(&self->vq);
		vmt_backing_free(&self->backing);
		vmt_vm_free(self->vm);
	}
}

/* The exit code, and all the output when it is not the one expected. */
static void expect_run(struct __test_metadata *_metadata, int line,
		       const struct run *r, int code)
{
	EXPECT_EQ(code, r->status)
		TH_LOG("line %d: exit %d, stdout:\n%s\nstderr:\n%s", line,
		       r->status, r->out, r->err);
}

#define EXPECT_RUN(r, code)	expect_run(_metadata, __LINE__, (r), (code))

TEST_F_TIMEOUT(ctl, list, 120)
{
	char expr[256];
	struct run *r;

	r = CTL("list");
	EXPECT_RUN(r, CTL_OK);
	EXPECT_NE(NULL, strstr(r->out, "DEV")) TH_LOG("no header:\n%s", r->out);
	EXPECT_NE(NULL, strstr(r->out, self->name)) TH_LOG("no %s:\n%s",
							   self->name, r->out);
	EXPECT_NE(NULL, strstr(r->out, "256M"));
	EXPECT_NE(NULL, strstr(r->out, "running"));
	TH_LOG("list:\n%s", r->out);
	free(r);

	r = CTL("--json", "list");
	EXPECT_RUN(r, CTL_OK);
	snprintf(expr, sizeof(expr),
		 "[(x['region_size'], x['block_size'], x['owner_pid'], x['state']) for x in d if x['dev'] == %u]",
		 self->id);
	{
		char want[128];

		snprintf(want, sizeof(want), "[(268435456, 2097152, %d, 'running')]",
			 getpid());
		EXPECT_STREQ(want, PY(r->out, expr));
	}
	free(r);
}

TEST_F_TIMEOUT(ctl, status, 120)
{
	struct vhost_mem_status st;
	char want[64];
	struct run *r;

	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 16ULL << 20));
	plug_range(&self->vq, 0, 8ULL << 20);
	ASSERT_EQ(0, __vmt_mem_get_status(self->dev.fd, &st));

	r = CTL("status", self->id_str);
	EXPECT_RUN(r, CTL_OK);
	EXPECT_NE(NULL, strstr(r->out, "requested 16M plugged 8M"))
		TH_LOG("status:\n%s", r->out);
	EXPECT_NE(NULL, strstr(r->out, "backing shared-file"));
	TH_LOG("status:\n%s", r->out);
	free(r);

	r = CTL("-j", "status", self->name);
	EXPECT_RUN(r, CTL_OK);
	EXPECT_STREQ("16777216", PY(r->out, "d['requested_size']"));
	EXPECT_STREQ("8388608", PY(r->out, "d['plugged_size']"));
	snprintf(want, sizeof(want), "%llu", (unsigned long long)st.usable_region_size);
	EXPECT_STREQ(want, PY(r->out, "d['usable_size']"));
	snprintf(want, sizeof(want), "%llu", (unsigned long long)TEST_REGION_GPA);
	EXPECT_STREQ(want, PY(r->out, "d['addr']"));
	EXPECT_STREQ("4", PY(r->out, "d['requests']['plug']['ack']"));
	EXPECT_STREQ("True", PY(r->out, "d['config_call']"));
	EXPECT_STREQ("True", PY(r->out, "d['backing_fd']"));
	snprintf(want, sizeof(want), "kvm-%d", getpid());
	EXPECT_STREQ(want, PY(r->out, "d['vm']"));
	free(r);
}

/* The admin resizes, the guest is told and can plug up to the size. */
TEST_F(ctl, resize_reaches_guest)
{
	struct run *r;
	int p;

	r = CTL("resize", self->id_str, "64M");
	EXPECT_RUN(r, CTL_OK);
	EXPECT_NE(NULL, strstr(r->out, "-> 64M")) TH_LOG("%s", r->out);
	free(r);
	EXPECT_EQ(1, wait_eventfd(self->efd, 5000))
		TH_LOG("the config-change eventfd did not fire");
	EXPECT_EQ(64ULL << 20, requested_size(self->dev.fd));
	plug_range(&self->vq, 0, 64ULL << 20);
	p = __vmt_mem_plug(&self->vq, TEST_REGION_GPA + (64ULL << 20), 1);
	EXPECT_EQ(VIRTIO_MEM_RESP_NACK, p);

	/* JSON, units, and the other spelling of the device */
	r = CTL("--json", "resize", self->name, "32MiB");
	EXPECT_RUN(r, CTL_OK);
	EXPECT_STREQ("33554432", PY(r->out, "d['requested_size']"));
	EXPECT_STREQ("67108864", PY(r->out, "d['previous_requested_size']"));
	EXPECT_STREQ("67108864", PY(r->out, "d['plugged_size']"));
	EXPECT_STREQ("False", PY(r->out, "d['reached']"));
	free(r);
	EXPECT_EQ(1, wait_eventfd(self->efd, 5000));
	EXPECT_EQ(VIRTIO_MEM_RESP_ACK,
		  __vmt_mem_unplug(&self->vq, TEST_REGION_GPA + (32ULL << 20), 16));

	r = CTL("resize", self->id_str, "8192K");
	EXPECT_RUN(r, CTL_OK);
	free(r);
	EXPECT_EQ(8ULL << 20, requested_size(self->dev.fd));
	r = CTL("resize", self->id_str, "0.0625G");
	EXPECT_RUN(r, CTL_OK);
	free(r);
	EXPECT_EQ(64ULL << 20, requested_size(self->dev.fd));
	r = CTL("resize", self->id_str, "4194304");
	EXPECT_RUN(r, CTL_OK);
	free(r);
	EXPECT_EQ(4ULL << 20, requested_size(self->dev.fd));
}

TEST_F(ctl, resize_errors)
{
	static const struct {
		const char *size;
		int code;
		const char *msg;
	} cases[] = {
		{ "3M", CTL_MISALIGNED, "block size" },
		{ "1000", CTL_MISALIGNED, "block size" },
		{ "0.5M", CTL_MISALIGNED, "block size" },
		{ "258M", CTL_TOO_LARGE, "region" },
		{ "512M", CTL_TOO_LARGE, "region" },
		{ "1.5T", CTL_TOO_LARGE, "region" },
		{ "16E", CTL_TOO_LARGE, "too large" },
		{ "abc", CTL_USAGE, "not a size" },
		{ "1.5", CTL_USAGE, "not a size" },
		{ "-4M", CTL_USAGE, "invalid option" },
		{ "4X", CTL_USAGE, "not a size" },
		{ "", CTL_USAGE, "not a size" },
	};
	unsigned int i;
	struct run *r;
	u64 count;

	for (i = 0; i < VMT_ARRAY_SIZE(cases); i++) {
		r = CTL("resize", self->id_str, cases[i].size);
		EXPECT_RUN(r, cases[i].code);
		EXPECT_NE(NULL, strstr(r->err, cases[i].msg))
			TH_LOG("size '%s': no '%s' in: %s", cases[i].size,
			       cases[i].msg, r->err);
		free(r);
	}
	EXPECT_EQ(0, requested_size(self->dev.fd));
	EXPECT_EQ(-1, read(self->efd, &count, sizeof(count)))
		TH_LOG("a failed resize signalled the guest");

	r = CTL("resize", "999999", "2M");
	EXPECT_RUN(r, CTL_NO_DEVICE);
	EXPECT_NE(NULL, strstr(r->err, "no such device")) TH_LOG("%s", r->err);
	free(r);
	r = CTL("status", "vhost-mem999999");
	EXPECT_RUN(r, CTL_NO_DEVICE);
	free(r);
	r = CTL("monitor", "999999");
	EXPECT_RUN(r, CTL_NO_DEVICE);
	free(r);
	r = CTL("status", "notadevice");
	EXPECT_RUN(r, CTL_USAGE);
	free(r);
}

TEST_F(ctl, device_without_region)
{
	char id[16];
	struct run *r;
	int fd;

	fd = vmt_mem_open();
	snprintf(id, sizeof(id), "%u", vmt_dev_id(fd));
	r = CTL("resize", id, "2M");
	EXPECT_RUN(r, CTL_NOT_READY);
	EXPECT_NE(NULL, strstr(r->err, "not set up")) TH_LOG("%s", r->err);
	free(r);
	r = CTL("-j", "status", id);
	EXPECT_RUN(r, CTL_OK);
	EXPECT_STREQ("new", PY(r->out, "d['state']"));
	EXPECT_STREQ("True", PY(r->out, "d['cookie'] > 0"));
	EXPECT_STREQ("False", PY(r->out, "'region_size' in d"));
	EXPECT_STREQ("False", PY(r->out, "'owner_pid' in d"));
	free(r);
	close(fd);
}

TEST_F(ctl, unprivileged_cannot_resize)
{
	struct run *r;

	if (access("/usr/bin/setpriv", X_OK))
		SKIP(return, "no setpriv");
	/* nobody: no capabilities at all */
	r = run_argv((const char *const []){ "/usr/bin/setpriv", "--reuid=65534",
		"--regid=65534", "--clear-groups", "--", ctl_path, "resize",
		self->id_str, "8M", NULL });
	EXPECT_RUN(r, CTL_PERM);
	EXPECT_NE(NULL, strstr(r->err, "permission denied")) TH_LOG("%s", r->err);
	free(r);
	/* but reading is for everyone */
	r = run_argv((const char *const []){ "/usr/bin/setpriv", "--reuid=65534",
		"--regid=65534", "--clear-groups", "--", ctl_path, "-j", "status",
		self->id_str, NULL });
	EXPECT_RUN(r, CTL_OK);
	free(r);
	r = run_argv((const char *const []){ "/usr/bin/setpriv", "--reuid=65534",
		"--regid=65534", "--clear-groups", "--", ctl_path, "list", NULL });
	EXPECT_RUN(r, CTL_OK);
	free(r);

	/* root without CAP_SYS_RESOURCE */
	r = run_argv((const char *const []){ "/usr/bin/setpriv",
		"--inh-caps=-sys_resource", "--bounding-set=-sys_resource", "--",
		ctl_path, "resize", self->id_str, "8M", NULL });
	EXPECT_RUN(r, CTL_PERM);
	EXPECT_NE(NULL, strstr(r->err, "CAP_SYS_RESOURCE")) TH_LOG("%s", r->err);
	free(r);
	/* a networking capability decides nothing about memory */
	r = run_argv((const char *const []){ "/usr/bin/setpriv",
		"--inh-caps=-all", "--bounding-set=-all,+net_admin", "--",
		ctl_path, "resize", self->id_str, "8M", NULL });
	EXPECT_RUN(r, CTL_PERM);
	free(r);
	EXPECT_EQ(0, requested_size(self->dev.fd));
	/* CAP_SYS_RESOURCE alone is enough */
	r = run_argv((const char *const []){ "/usr/bin/setpriv",
		"--inh-caps=-all", "--bounding-set=-all,+sys_resource", "--",
		ctl_path, "resize", self->id_str, "4M", NULL });
	EXPECT_RUN(r, CTL_OK);
	free(r);
	EXPECT_EQ(4ULL << 20, requested_size(self->dev.fd));

	/* and root with it */
	r = CTL("resize", self->id_str, "8M");
	EXPECT_RUN(r, CTL_OK);
	free(r);
}

/* resize --wait: the guest follows, up and down. */
TEST_F_TIMEOUT(ctl, resize_wait_guest_follows, 120)
{
	struct run *r = calloc(1, sizeof(*r));
	u64 off;

	ASSERT_NE(NULL, r);
	spawn(r, (const char *const []){ ctl_path, "-j", "resize", "--wait",
		  "--timeout", "60", self->id_str, "32M", NULL }, -1);
	/* the guest learns of it, and plugs, block after block */
	ASSERT_EQ(1, wait_eventfd(self->efd, 20000))
		TH_LOG("the config-change eventfd did not fire");
	EXPECT_EQ(32ULL << 20, requested_size(self->dev.fd));
	for (off = 0; off < (32ULL << 20); off += 4 * TEST_BLOCK_SIZE) {
		EXPECT_EQ(VIRTIO_MEM_RESP_ACK,
			  __vmt_mem_plug(&self->vq, TEST_REGION_GPA + off, 4));
		vmt_sleep_ms(50);
	}
	finish(r, 60000);
	EXPECT_RUN(r, CTL_OK);
	EXPECT_STREQ("True", PY(r->out, "d['reached']"));
	EXPECT_STREQ("False", PY(r->out, "d['timed_out']"));
	EXPECT_STREQ("33554432", PY(r->out, "d['plugged_size']"));

	/* down, in text */
	spawn(r, (const char *const []){ ctl_path, "resize", "--wait",
		  self->id_str, "8M", NULL }, -1);
	ASSERT_EQ(1, wait_eventfd(self->efd, 20000));
	EXPECT_EQ(VIRTIO_MEM_RESP_ACK,
		  __vmt_mem_unplug(&self->vq, TEST_REGION_GPA + (8ULL << 20), 12));
	finish(r, 60000);
	EXPECT_RUN(r, CTL_OK);
	EXPECT_NE(NULL, strstr(r->out, "reached")) TH_LOG("%s", r->out);
	free(r);
}

/* resize --wait gives up when the guest does nothing, and says why. */
TEST_F_TIMEOUT(ctl, resize_wait_guest_does_not_follow, 120)
{
	struct run *r;
	u64 t0;

	t0 = vmt_now_ns();
	r = CTL("resize", "--wait", "--timeout", "2", self->id_str, "16M");
	EXPECT_RUN(r, CTL_NOT_FOLLOWED);
	EXPECT_NE(NULL, strstr(r->err, "did not follow")) TH_LOG("%s", r->err);
	EXPECT_LE(2000, (vmt_now_ns() - t0) / 1000000);
	free(r);

	/* part of the way, no config eventfd, JSON */
	plug_range(&self->vq, 0, 4ULL << 20);
	ASSERT_EQ(0, __vmt_mem_set_config_call(self->dev.fd, -1));
	r = CTL("-j", "resize", "-w", "-t", "1.5", self->id_str, "32M");
	EXPECT_RUN(r, CTL_NOT_FOLLOWED);
	EXPECT_STREQ("True", PY(r->out, "d['timed_out']"));
	EXPECT_STREQ("False", PY(r->out, "d['reached']"));
	EXPECT_STREQ("4194304", PY(r->out, "d['plugged_size']"));
	EXPECT_NE(NULL, strstr(r->err, "no config-change eventfd"))
		TH_LOG("%s", r->err);
	free(r);

	/* the VMM stopped the device */
	ASSERT_EQ(0, __vmt_mem_set_running(self->dev.fd, 0));
	r = CTL("resize", "-w", "-t", "1", self->id_str, "8M");
	EXPECT_RUN(r, CTL_NOT_FOLLOWED);
	EXPECT_NE(NULL, strstr(r->err, "not running")) TH_LOG("%s", r->err);
	free(r);
}

static unsigned int count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Waits until r's stdout has at least n lines. */
static bool wait_lines(struct run *r, unsigned int n, int timeout_ms)
{
	u64 deadline = vmt_now_ns() + (u64)timeout_ms * 1000000;

	do {
		read_all(r->out_fd, r->out, sizeof(r->out));
		if (count_lines(r->out) >= n)
			return true;
		vmt_sleep_ms(20);
	} while (vmt_now_ns() < deadline);
	return false;
}

TEST_F_TIMEOUT(ctl, monitor, 120)
{
	struct run *r = calloc(1, sizeof(*r));
	unsigned int first, i;
	char expr[256];
	struct run *rr;

	ASSERT_NE(NULL, r);
	spawn(r, (const char *const []){ ctl_path, "--json", "monitor",
		  self->id_str, NULL }, -1);
	/* until it listens: each change is an event */
	for (i = 0; i < 100 && !count_lines(r->out); i++) {
		ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd,
							  (i % 2) * TEST_BLOCK_SIZE));
		wait_lines(r, 1, 100);
	}
	ASSERT_NE(0, count_lines(r->out)) TH_LOG("monitor printed nothing: %s",
						 r->err);
	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 0));
	vmt_sleep_ms(300);
	read_all(r->out_fd, r->out, sizeof(r->out));
	first = count_lines(r->out);

	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 4ULL << 20));
	plug_range(&self->vq, 0, 2ULL << 20);
	plug_range(&self->vq, 2ULL << 20, 4ULL << 20);
	rr = CTL("resize", self->id_str, "8M");
	EXPECT_RUN(rr, CTL_OK);
	free(rr);
	ASSERT_TRUE(wait_lines(r, first + 5, 10000))
		TH_LOG("monitor printed:\n%s", r->out);
	kill(r->pid, SIGINT);
	finish(r, 10000);
	EXPECT_RUN(r, CTL_OK);	/* SIGINT ends it cleanly */

	/* every line is a JSON document: take those after the first ones */
	snprintf(expr, sizeof(expr),
		 "[(e['event'], e.get('origin'), e['plugged_size'] >> 20, e['requested_size'] >> 20) for e in d[%u:]]",
		 first);
	{
		char *json = malloc(OUT_MAX + 16), *p, *line;
		size_t len = 0;

		ASSERT_NE(NULL, json);
		len += sprintf(json, "[");
		for (line = strtok_r(r->out, "\n", &p); line;
		     line = strtok_r(NULL, "\n", &p))
			len += sprintf(json + len, "%s%s", len > 1 ? "," : "", line);
		sprintf(json + len, "]");
		EXPECT_STREQ("[('requested-size', 'vmm', 0, 4), "
			     "('plugged-size', None, 2, 4), "
			     "('plugged-size', None, 4, 4), "
			     "('size-reached', None, 4, 4), "
			     "('requested-size', 'netlink', 4, 8)]",
			     PY(json, expr));
		free(json);
	}

	/* in text */
	spawn(r, (const char *const []){ ctl_path, "monitor", NULL }, -1);
	for (i = 0; i < 100 && !count_lines(r->out); i++) {
		rr = CTL("resize", self->id_str, i % 2 ? "8M" : "10M");
		free(rr);
		wait_lines(r, 1, 100);
	}
	kill(r->pid, SIGTERM);
	finish(r, 10000);
	EXPECT_RUN(r, CTL_OK);
	EXPECT_NE(NULL, strstr(r->out, "by netlink")) TH_LOG("%s", r->out);
	TH_LOG("monitor:\n%s", r->out);

	/* --count */
	spawn(r, (const char *const []){ ctl_path, "monitor", "--count", "1",
		  self->id_str, NULL }, -1);
	for (i = 0; i < 100 && waitpid(r->pid, NULL, WNOHANG) == 0; i++) {
		ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd,
							  (i % 2) * TEST_BLOCK_SIZE));
		vmt_sleep_ms(100);
	}
	ASSERT_LT(i, 100) TH_LOG("monitor --count 1 did not end");
	read_all(r->out_fd, r->out, sizeof(r->out));
	EXPECT_EQ(1, count_lines(r->out)) TH_LOG("%s", r->out);
	close(r->out_fd);
	close(r->err_fd);
	free(r);
}

/* The kernel's YNL CLI: what ynl.env (tests/selftests/Makefile) says. */
struct ynl {
	char tree[PATH_MAX], pythonpath[PATH_MAX], spec[PATH_MAX];
	char cli[PATH_MAX + 32], schema[PATH_MAX + 64];
};

/* NULL, or why the CLI cannot be found. */
static const char *find_ynl(struct ynl *y)
{
	char exe[PATH_MAX], env[PATH_MAX + 16], line[PATH_MAX];
	ssize_t n;
	FILE *f;

	memset(y, 0, sizeof(*y));
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return "cannot read /proc/self/exe";
	exe[n] = '\0';
	snprintf(env, sizeof(env), "%s/ynl.env", dirname(exe));
	f = fopen(env, "r");
	if (!f)
		return "no ynl.env (make selftests writes it with scripts/ynl-gen.sh --env)";
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "YNL_TREE=", 9))
			snprintf(y->tree, sizeof(y->tree), "%s", line + 9);
		else if (!strncmp(line, "YNL_PYTHONPATH=", 15))
			snprintf(y->pythonpath, sizeof(y->pythonpath), "%s", line + 15);
		else if (!strncmp(line, "YNL_SPEC=", 9))
			snprintf(y->spec, sizeof(y->spec), "%s", line + 9);
	}
	fclose(f);
	snprintf(y->cli, sizeof(y->cli), "%s/tools/net/ynl/cli.py", y->tree);
	snprintf(y->schema, sizeof(y->schema),
		 "%s/Documentation/netlink/genetlink.yaml", y->tree);
	if (access(y->cli, R_OK) || access(y->spec, R_OK) ||
	    access(y->schema, R_OK))
		return "ynl.env names no YNL CLI, spec or schema";
	if (y->pythonpath[0])
		setenv("PYTHONPATH", y->pythonpath, 1);
	return NULL;
}

/* cli.py --spec ... --output-json ARGS..., NULL: not waited for. */
#define YNL_START(r, y, ...)						\
	spawn((r), (const char *const []){ python(), (y)->cli,		\
		"--spec", (y)->spec, "--schema", (y)->schema,		\
		"--output-json", __VA_ARGS__, NULL }, -1)

static struct run *ynl_run(struct ynl *y, const char *op_kind,
			   const char *op, const char *json)
{
	struct run *r = calloc(1, sizeof(*r));

	TEST_ASSERT(r, "out of memory");
	if (json)
		YNL_START(r, y, op_kind, op, "--json", json);
	else
		YNL_START(r, y, op_kind, op);
	finish(r, 60000);
	return r;
}

/* Several Python starts: minutes on the debug kernel under load. */
TEST_F_TIMEOUT(ctl, ynl_cli, 600)
{
	struct run *r;
	const char *why;
	struct ynl y;
	char json[128], expr[256];
	int i, st = 0;

	why = find_ynl(&y);
	if (why)
		SKIP(return, "%s", why);

	/* dump: our device is there, with its region */
	r = ynl_run(&y, "--dump", "dev-get", NULL);
	ASSERT_EQ(0, r->status) TH_LOG("cli.py --dump dev-get: %s%s", r->out, r->err);
	snprintf(expr, sizeof(expr),
		 "[(x['region-size'] >> 20, x['block-size'] >> 20) for x in d if x['id'] == %u]",
		 self->id);
	EXPECT_STREQ("[(256, 2)]", PY(r->out, expr)) TH_LOG("%s", r->out);
	free(r);

	/* do dev-set, then dev-get: the size the guest is asked for */
	snprintf(json, sizeof(json), "{\"id\": %u, \"requested-size\": %llu}",
		 self->id, 8ULL << 20);
	r = ynl_run(&y, "--do", "dev-set", json);
	EXPECT_EQ(0, r->status) TH_LOG("cli.py --do dev-set: %s%s", r->out, r->err);
	free(r);
	EXPECT_EQ(8ULL << 20, requested_size(self->dev.fd));
	snprintf(json, sizeof(json), "{\"id\": %u}", self->id);
	r = ynl_run(&y, "--do", "dev-get", json);
	ASSERT_EQ(0, r->status) TH_LOG("cli.py --do dev-get: %s%s", r->out, r->err);
	EXPECT_STREQ("8 0", PY(r->out, "'%d %d' % (d['requested-size'] >> 20, d['plugged-size'])"))
		TH_LOG("%s", r->out);
	free(r);
	/* an error is the kernel's, extack and all */
	snprintf(json, sizeof(json), "{\"id\": %u, \"requested-size\": 1}",
		 self->id);
	r = ynl_run(&y, "--do", "dev-set", json);
	EXPECT_NE(0, r->status);
	EXPECT_NE(NULL, strstr(r->out, "multiple of the block size"))
		TH_LOG("cli.py on a misaligned size: %s%s", r->out, r->err);
	free(r);

	/*
	 * --subscribe events: the CLI prints what arrived during its sleep
	 * when it ends; the size changes until then, so that some changes
	 * fall after it subscribed however slowly it starts.
	 */
	r = calloc(1, sizeof(*r));
	ASSERT_NE(NULL, r);
	YNL_START(r, &y, "--subscribe", "events", "--sleep", "10");
	for (i = 0; i < 600 && waitpid(r->pid, &st, WNOHANG) == 0; i++) {
		ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd,
							  (i % 2) * TEST_BLOCK_SIZE));
		vmt_sleep_ms(100);
	}
	ASSERT_LT(i, 600) TH_LOG("cli.py --subscribe did not end");
	read_all(r->out_fd, r->out, sizeof(r->out));
	read_all(r->err_fd, r->err, sizeof(r->err));
	close(r->out_fd);
	close(r->err_fd);
	ASSERT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st))
		TH_LOG("cli.py --subscribe: %s%s", r->out, r->err);
	snprintf(expr, sizeof(expr),
		 "sorted({(n['name'], n['msg']['id'] == %u, n['msg'].get('origin')) for n in d})",
		 self->id);
	EXPECT_STREQ("[('requested-size-ntf', True, 'vmm')]", PY(r->out, expr))
		TH_LOG("%s", r->out);
	free(r);
}

TEST(usage)
{
	static const char *const bad[][4] = {
		{ NULL },
		{ "bogus" },
		{ "status" },
		{ "status", "0", "1" },
		{ "resize", "0" },
		{ "list", "0" },
		{ "--wait", "list" },
		{ "--timeout", "3", "resize" },
		{ "--count", "0", "monitor" },
		{ "--timeout", "-1", "resize" },
		{ "--frobnicate" },
	};
	const char *why = find_ctl();
	const char *argv[6];
	unsigned int i, k;
	struct run *r;

	if (why)
		SKIP(return, "%s", why);
	r = CTL("--help");
	EXPECT_RUN(r, CTL_OK);
	EXPECT_NE(NULL, strstr(r->out, "Usage:"));
	EXPECT_NE(NULL, strstr(r->out, "resize DEV SIZE"));
	free(r);
	r = CTL("--version");
	EXPECT_RUN(r, CTL_OK);
	free(r);
	for (i = 0; i < VMT_ARRAY_SIZE(bad); i++) {
		argv[0] = ctl_path;
		for (k = 0; k < 4 && bad[i][k]; k++)
			argv[k + 1] = bad[i][k];
		argv[k + 1] = NULL;
		r = run_argv(argv);
		EXPECT_RUN(r, CTL_USAGE);
		EXPECT_NE('\0', r->err[0]) TH_LOG("no message for case %u", i);
		free(r);
	}
}

/* Without the module, every command says so with its own exit code. */
TEST(module_not_loaded)
{
	const char *why = find_ctl();
	char out[2048];
	struct run *r;
	int ret;

	if (why)
		SKIP(return, "%s", why);
	if (!vmt_modroot() || !vmt_modules_supported())
		SKIP(return, "the module cannot be reloaded here (run through tests/vm/run.sh)");
	if (__vmt_module_refcnt(VMT_MODULE_NAME) > 0)
		SKIP(return, "a device is open: cannot unload the module");
	ret = __vmt_modprobe(VMT_MODULE_NAME, true, out, sizeof(out));
	ASSERT_EQ(0, ret) TH_LOG("modprobe -r: %s", out);

	r = CTL("list");
	EXPECT_RUN(r, CTL_NO_MODULE);
	EXPECT_NE(NULL, strstr(r->err, "not loaded")) TH_LOG("%s", r->err);
	free(r);
	r = CTL("status", "0");
	EXPECT_RUN(r, CTL_NO_MODULE);
	free(r);
	r = CTL("resize", "0", "1G");
	EXPECT_RUN(r, CTL_NO_MODULE);
	free(r);
	r = CTL("monitor");
	EXPECT_RUN(r, CTL_NO_MODULE);
	free(r);

	ret = __vmt_modprobe(VMT_MODULE_NAME, false, out, sizeof(out));
	ASSERT_EQ(0, ret) TH_LOG("modprobe: %s", out);
	ASSERT_EQ(0, __vmt_wait_path(VMT_VHOST_MEM_DEV, true, 5000));
	r = CTL("list");
	EXPECT_RUN(r, CTL_OK);
	free(r);
}

TEST_HARNESS_MAIN
