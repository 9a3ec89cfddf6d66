// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a device busy for long under its own locks (its
 * backing held by userfaultfd) delays neither the open and close of other
 * devices nor netlink dumps, which mark it busy.
 */
#include "netlink_fixture.h"

#define BUSY_HOLD_MS	5000
#define BUSY_RUN_MS	(BUSY_HOLD_MS + 1500)
#define BUSY_BOUND_NS	1000000000ULL

/* Resolves the first missing fault of [start, start + len) late. */
struct uffd_holder {
	int uffd;
	u64 start, len;
	u64 fault_ns;		/* when the fault came, 0: never */
};

static void *uffd_hold(void *arg)
{
	struct uffd_holder *h = arg;
	struct pollfd pfd = { .fd = h->uffd, .events = POLLIN };
	struct uffdio_zeropage zp = {
		.range = { .start = h->start, .len = h->len },
	};
	struct uffd_msg msg;

	if (poll(&pfd, 1, 20000) == 1 &&
	    read(h->uffd, &msg, sizeof(msg)) == sizeof(msg) &&
	    msg.event == UFFD_EVENT_PAGEFAULT) {
		h->fault_ns = vmt_now_ns();
		vmt_sleep_ms(BUSY_HOLD_MS);
	}
	/* the whole range at once: no second fault */
	ioctl(h->uffd, UFFDIO_ZEROPAGE, &zp);
	return NULL;
}

static int uffd_register(void *addr, u64 len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (u64)(uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (uffd < 0)
		return -errno;
	if (ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		close(uffd);
		return -errno;
	}
	return uffd;
}

struct busy_dumps {
	u64 max_ns;
	unsigned int dumps, failed, idle_missing, idle_incomplete, busy_seen;
};

/* As nobody: dumps for BUSY_RUN_MS, timing each. */
static void busy_dumper(int report, u32 idle_id, u32 busy_id)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	struct busy_dumps res = {};
	const struct nlc_dev *d;
	u64 end, t;
	struct nlc n;

	TEST_ASSERT(dump, "out of memory");
	TEST_ASSERT(!setresgid(65534, 65534, 65534) &&
		    !setresuid(65534, 65534, 65534), "becoming nobody");
	TEST_ASSERT(!__nlt_open(&n), "family lookup as nobody");
	end = vmt_now_ns() + BUSY_RUN_MS * 1000000ULL;
	while ((t = vmt_now_ns()) < end) {
		res.failed += !!__nlt_dump(&n, dump);
		t = vmt_now_ns() - t;
		if (t > res.max_ns)
			res.max_ns = t;
		res.dumps++;
		d = nlt_dump_find(dump, idle_id);
		res.idle_missing += !d;
		res.idle_incomplete += d && (d->busy || !d->has_region);
		d = nlt_dump_find(dump, busy_id);
		res.busy_seen += d && d->busy;
		vmt_sleep_ms(10);
	}
	TEST_ASSERT(write(report, &res, sizeof(res)) == sizeof(res), "pipe");
}

/* Times open() and close() of /dev/vhost-mem for BUSY_RUN_MS. */
static void busy_opener(int report)
{
	u64 end, t, max_ns = 0;
	int fd;

	end = vmt_now_ns() + BUSY_RUN_MS * 1000000ULL;
	while ((t = vmt_now_ns()) < end) {
		fd = vmt_mem_open();
		close(fd);
		t = vmt_now_ns() - t;
		if (t > max_ns)
			max_ns = t;
		vmt_sleep_ms(10);
	}
	TEST_ASSERT(write(report, &max_ns, sizeof(max_ns)) == sizeof(max_ns),
		    "pipe");
}

static pid_t busy_spawn(int *rfd, void (*fn)(int report, u32 a, u32 b),
			u32 a, u32 b)
{
	int p[2];
	pid_t pid;

	TEST_ASSERT(!pipe(p), "pipe");
	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		close(p[0]);
		fn(p[1], a, b);
		_exit(0);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static void busy_opener_fn(int report, u32 a, u32 b)
{
	(void)a;
	(void)b;
	busy_opener(report);
}

/* DEV_SET of a busy device from a child, SIGKILLed while it waits. */
struct busy_kill {
	u32 busy_id;
	bool killed;		/* by the SIGKILL, not done before it */
	u64 wait_ns;		/* from kill() to waitpid() */
};

static void busy_setter(int report, u32 busy_id, u32 b)
{
	struct nlc n;

	(void)report;
	(void)b;
	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	__nlt_set(&n, busy_id, 8ULL << 20);
}

static void *busy_kill_setter(void *arg)
{
	struct busy_kill *k = arg;
	int fd, status;
	pid_t pid;
	u64 t;

	vmt_sleep_ms(1000);
	pid = busy_spawn(&fd, busy_setter, k->busy_id, 0);
	vmt_sleep_ms(500);
	t = vmt_now_ns();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	k->wait_ns = vmt_now_ns() - t;
	k->killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	close(fd);
	return NULL;
}

/*
 * A VMM's SET_STATE with prealloc holds its device's locks for seconds
 * (here: the backing is a userfaultfd range whose fault is resolved only
 * after BUSY_HOLD_MS).  Meanwhile nobody dumps the family in a loop, and
 * another process opens and closes devices: neither may wait for it; a
 * DEV_SET waiting for it dies at once when killed.
 */
TEST_F_TIMEOUT(nl, busy_device_stalls_nobody, 120)
{
	struct uffd_holder holder = {};
	struct busy_kill kill_set = {};
	struct busy_dumps dumps = {};
	struct vhost_mem_region region2;
	struct vmt_backing backing2;
	u64 t0, held_ns, open_max = ~0ULL;
	int dump_fd, open_fd, status, r;
	pid_t dumper, opener;
	pthread_t thread, killer;
	struct vmt_dev dev2;
	struct vmt_vq vq2;
	struct vmt_vm *vm2;
	u32 busy_id;
	u64 len;
	u8 *blob;

	/* the state to load: 16 MiB plugged */
	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 16ULL << 20));
	plug_range(&self->vq, 0, 16ULL << 20);
	blob = vmt_vmm_save(self->dev.fd, &len);

	/* the busy device: prealloc, over a userfaultfd range */
	vm2 = vmt_vm_create(0);
	vmt_vq_init(&vq2, vm2, 0);
	vmt_dev_open_ready(&dev2, vm2, &vq2, ~0ULL);
	vmt_backing_init(&backing2, VMT_BACKING_ANON, TEST_REGION_SIZE);
	holder.uffd = uffd_register(backing2.hva, backing2.size);
	if (holder.uffd < 0)
		SKIP(return, "userfaultfd: %s", vmt_errname(-holder.uffd));
	holder.start = (u64)(uintptr_t)backing2.hva;
	holder.len = backing2.size;
	vmt_region_init(&region2, &backing2, TEST_REGION_GPA, TEST_BLOCK_SIZE,
			TEST_SLOT_BASE);
	region2.flags |= VHOST_MEM_REGION_F_PREALLOC;
	ASSERT_EQ(0, __vmt_mem_set_vm(dev2.fd, vm2->vm_fd));
	ASSERT_EQ(0, __vmt_mem_set_region(dev2.fd, &region2));
	busy_id = vmt_dev_id(dev2.fd);

	dumper = busy_spawn(&dump_fd, busy_dumper, self->id, busy_id);
	opener = busy_spawn(&open_fd, busy_opener_fn, 0, 0);
	kill_set.busy_id = busy_id;
	ASSERT_EQ(0, pthread_create(&killer, NULL, busy_kill_setter,
				    &kill_set));
	ASSERT_EQ(0, pthread_create(&thread, NULL, uffd_hold, &holder));
	vmt_sleep_ms(200);
	t0 = vmt_now_ns();
	r = __vmt_vmm_set_state(dev2.fd, blob, len);
	held_ns = vmt_now_ns() - t0;
	pthread_join(thread, NULL);
	pthread_join(killer, NULL);
	EXPECT_EQ(0, r) TH_LOG("SET_STATE: %s", vmt_errname(-r));
	TH_LOG("SET_STATE held its device for %llu ms",
	       (unsigned long long)held_ns / 1000000);
	EXPECT_NE(0, holder.fault_ns) TH_LOG("the prealloc never faulted");
	EXPECT_LE((BUSY_HOLD_MS - 500) * 1000000ULL, held_ns)
		TH_LOG("the device was not busy long enough to show anything");

	EXPECT_EQ(sizeof(dumps), read(dump_fd, &dumps, sizeof(dumps)))
		TH_LOG("the dumper did not report");
	EXPECT_EQ(sizeof(open_max), read(open_fd, &open_max, sizeof(open_max)))
		TH_LOG("the opener did not report");
	ASSERT_EQ(dumper, waitpid(dumper, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(opener, waitpid(opener, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));

	TH_LOG("open+close: at most %llu ms; %u dumps as nobody, at most %llu ms, busy device marked in %u",
	       (unsigned long long)open_max / 1000000, dumps.dumps,
	       (unsigned long long)dumps.max_ns / 1000000, dumps.busy_seen);
	EXPECT_GT(BUSY_BOUND_NS, open_max)
		TH_LOG("another tenant's open()/close() waited for the busy device");
	EXPECT_GT(BUSY_BOUND_NS, dumps.max_ns)
		TH_LOG("a dump waited for the busy device");
	EXPECT_EQ(0, dumps.failed);
	EXPECT_EQ(0, dumps.idle_missing) TH_LOG("dumps lacked the idle device");
	EXPECT_EQ(0, dumps.idle_incomplete)
		TH_LOG("the idle device was reported busy or without its region");
	EXPECT_LT(0, dumps.busy_seen) TH_LOG("no dump marked the device busy");
	EXPECT_TRUE(kill_set.killed)
		TH_LOG("the DEV_SET of the busy device was done before its SIGKILL");
	EXPECT_GT(BUSY_BOUND_NS, kill_set.wait_ns)
		TH_LOG("a DEV_SET waiting for the busy device died %llu ms after its SIGKILL",
		       (unsigned long long)kill_set.wait_ns / 1000000);

	/* afterwards the busy device reads in full */
	{
		struct nlc_dev d;

		ASSERT_EQ(0, __nlt_get(&self->nl, busy_id, &d));
		EXPECT_FALSE(d.busy);
		EXPECT_EQ(16ULL << 20, d.plugged);
	}
	close(dump_fd);
	close(open_fd);
	close(holder.uffd);
	free(blob);
	vmt_dev_close(&dev2);
	vmt_vq_destroy(&vq2);
	vmt_backing_free(&backing2);
	vmt_vm_free(vm2);
}

TEST_HARNESS_MAIN
