// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: prealloc on hugetlbfs with a pool smaller than the PLUG: the answer is
 * BUSY, nothing changes, the huge pages go back to the pool, the kernel
 * logs one (rate-limited) line, a PLUG that fits works, and the VMM never
 * gets SIGBUS (without prealloc, the same PLUG is ACKed and the guest then
 * faults on memory that cannot exist).
 */
#include <signal.h>
#include <unistd.h>

#include "vmt.h"
#include "kselftest_harness.h"
#include "rq_expect.h"

#define HUGEPAGES_DIR	"/dev/hugepages"

#define HT_BLOCKS	8
#define HT_SIZE		(HT_BLOCKS * BLK)
#define HT_POOL		4	/* free 2 MiB pages */
#define HT_STORM	40
#define PREALLOC_MSG	"cannot preallocate"

FIXTURE(hugetlb) {
	struct vmt_rq_env e;
	int klog;
};

static void sigbus_handler(int sig)
{
	static const char msg[] =
		"# ==== SIGBUS in the VMM: it touched backing that was never allocated ====\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(VMT_KSFT_FAIL);
	_exit(VMT_KSFT_FAIL);
}

FIXTURE_SETUP(hugetlb)
{
	struct vmt_rq_env *e = &self->e;
	struct sigaction sa = { .sa_handler = sigbus_handler };
	const char *why;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	self->klog = -1;
	vmt_rq_env_init(e, VMT_BACKING_MEMFD, 0, ACK_ALL);
	why = vmt_hugetlb_pool(HT_POOL);
	if (!why)
		why = vmt_backing_hugetlbfs(&e->backing, HUGEPAGES_DIR,
					    HT_SIZE);
	if (why) {
		/* teardown does not run after a failed setup */
		vmt_hugetlb_restore();
		vmt_rq_env_free(e);
		/* the test VM has huge pages and mounts hugetlbfs */
		if (vmt_modroot())
			ASSERT_EQ(NULL, why) TH_LOG("in the test VM: %s", why);
		SKIP(return, "%s", why);
	}
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = 2 * BLK;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
}

FIXTURE_TEARDOWN(hugetlb)
{
	if (self->klog >= 0)
		close(self->klog);
	vmt_rq_env_free(&self->e);
	vmt_hugetlb_restore();
}

static void expect_pool_free(struct __test_metadata *_metadata,
			     const char *when, long long want)
{
	long long got = vmt_hugetlb_free();

	EXPECT_EQ(want, got)
		TH_LOG("%s: HugePages_Free expected %lld, got %lld", when,
		       want, got);
}

/* What prealloc prevents: an ACK for memory that cannot be. */
TEST_F(hugetlb, without_prealloc_the_guest_faults)
{
	struct vmt_rq_env *e = &self->e;
	u64 b, val;

	vmt_rq_env_start(e, HT_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 6);
	expect_pool_free(_metadata, "PLUG of 6 blocks, no prealloc", HT_POOL);
	for (b = 1; b < 1 + HT_POOL; b++)
		vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, b), 0,
				   "the pool still has a page for it");
	ASSERT_EQ(VMT_ACCESS_EFAULT,
		  vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, 1 + HT_POOL), &val))
		TH_LOG("guest read of an ACKed block beyond the pool: expected %s (the VMM would get SIGBUS there)",
		       vmt_access_name(VMT_ACCESS_EFAULT));
	VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	expect_pool_free(_metadata, "after UNPLUG_ALL", HT_POOL);
}

TEST_F(hugetlb, prealloc_pool_too_small)
{
	struct vmt_rq_env *e = &self->e;
	int lines, all;
	u64 b;

	e->region.flags |= VHOST_MEM_REGION_F_PREALLOC;
	vmt_rq_env_start(e, HT_SIZE);
	self->klog = __vmt_klog_mark();
	ASSERT_LE(0, self->klog) TH_LOG("/dev/kmsg: %s", vmt_errstr(self->klog));
	expect_pool_free(_metadata, "before the PLUG", HT_POOL);

	/* 6 blocks across 4 chunks: 12 MiB from a pool of 8 MiB */
	vmt_rq_send_busy(e, PLUG, vmt_rq_gpa(e, 1), 6);
	vmt_rq_check_status(e);
	expect_status(_metadata, e->dev.fd, "after the BUSY PLUG", 0, 0, HT_SIZE);
	VMT_RQ_EXPECT_STATE(e, UNPLUGGED, 1, 6);
	VMT_RQ_EXPECT_STATE(e, UNPLUGGED, 0, HT_BLOCKS);
	expect_pool_free(_metadata, "after the BUSY PLUG", HT_POOL);
	EXPECT_EQ(0, vmt_memfd_allocated(e->backing.fd))
		TH_LOG("hugetlbfs file after the BUSY PLUG: expected 0 bytes allocated, got %llu KiB",
		       (unsigned long long)vmt_memfd_allocated(e->backing.fd) / 1024);
	for (b = 0; b < HT_BLOCKS; b++)
		vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, b),
				   "the BUSY PLUG left no memslot");

	lines = vmt_klog_count(self->klog, PREALLOC_MSG, true);
	all = lines;
	EXPECT_EQ(1, lines)
		TH_LOG("kernel log lines with \"%s\" after one failed PLUG: expected 1, got %d",
		       PREALLOC_MSG, lines);

	/* a PLUG that fits */
	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 3);
	expect_pool_free(_metadata, "after a PLUG of 3 blocks", HT_POOL - 3);
	EXPECT_EQ(3 * BLK, vmt_memfd_allocated(e->backing.fd));
	/* the VMM touches it (no SIGBUS), the guest reads and writes it */
	for (b = 1; b < 4; b++)
		*(volatile u64 *)((u8 *)vmt_rq_hva(e, b) + 64) =
			vmt_block_tag(2, b, 64);
	for (b = 1; b < 4; b++)
		vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, b) + 64,
				   vmt_block_tag(2, b, 64),
				   "written by the VMM into a preallocated huge page");
	tag_blocks(e, 1, 3, 3);
	expect_tags(e, 1, 3, 3, "preallocated huge pages");
	/* one more block than the pool has left: BUSY again */
	vmt_rq_send_busy(e, PLUG, vmt_rq_gpa(e, 4), 2);
	expect_pool_free(_metadata, "after a second BUSY PLUG", HT_POOL - 3);
	expect_tags(e, 1, 3, 3, "after a BUSY PLUG next to them");
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 1, 3);
	expect_pool_free(_metadata, "after UNPLUG", HT_POOL);
	EXPECT_EQ(0, vmt_memfd_allocated(e->backing.fd));
	lines = vmt_klog_count(self->klog, "vhost-mem", true);
	all += lines;
	EXPECT_EQ(1, lines)
		TH_LOG("kernel log lines of vhost-mem after the second failed PLUG: expected 1, got %d",
		       lines);
	fprintf(stderr, "# %d kernel log lines for 2 failed PLUGs\n", all);
	vmt_rq_check_all(e);
}

/* Many failures, few lines: at most a burst of 10 per 5 s. */
TEST_F(hugetlb, prealloc_failure_log_is_rate_limited)
{
	struct vmt_rq_env *e = &self->e;
	u64 t0, ms;
	int lines, bound, i;

	e->region.flags |= VHOST_MEM_REGION_F_PREALLOC;
	vmt_rq_env_start(e, HT_SIZE);
	self->klog = __vmt_klog_mark();
	ASSERT_LE(0, self->klog) TH_LOG("/dev/kmsg: %s", vmt_errstr(self->klog));
	t0 = vmt_now_ns();
	for (i = 0; i < HT_STORM; i++)
		vmt_rq_send_busy(e, PLUG, vmt_rq_gpa(e, i % 2), 6);
	ms = (vmt_now_ns() - t0) / 1000000;
	lines = vmt_klog_count(self->klog, PREALLOC_MSG, false);
	bound = 10 * (int)(ms / 5000 + 2);
	fprintf(stderr, "# %d failed PLUGs in %llu ms: %d kernel log lines\n",
		HT_STORM, (unsigned long long)ms, lines);
	EXPECT_LE(1, lines);
	EXPECT_GE(bound, lines)
		TH_LOG("%d failures in %llu ms: expected at most %d lines (10 per 5 s), got %d",
		       HT_STORM, (unsigned long long)ms, bound, lines);
	EXPECT_GT(HT_STORM, lines);
	expect_pool_free(_metadata, "after the failures", HT_POOL);
	EXPECT_EQ(0, vmt_memfd_allocated(e->backing.fd));
	vmt_rq_check_all(e);
}

TEST_HARNESS_MAIN
