// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: the device's options (issue 4), seen from outside.
 *
 * - prealloc: with VHOST_MEM_REGION_F_PREALLOC the blocks of a PLUG hold
 *   memory when the ACK arrives (pagemap, SEEK_DATA), without it they do
 *   not; on hugetlbfs with a pool smaller than the PLUG the answer is BUSY,
 *   nothing changes, the huge pages go back to the pool, the kernel logs
 *   one (rate-limited) line, a PLUG that fits works, and the VMM never gets
 *   SIGBUS (without prealloc, the same PLUG is ACKed and the guest then
 *   faults on memory that cannot exist);
 * - unplugged_inaccessible: VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE offered with
 *   auto and on, not off; off, or auto with a driver that does not accept
 *   it: the whole region is readable (unplugged memory reads 0) and the
 *   memslots stay across UNPLUG and system reset, and what such a driver
 *   wrote to unplugged memory is gone after UNPLUG_ALL; on refuses such a
 *   driver at start, and so does off a driver that accepted the bit before
 *   the region was set; with the bit accepted, chunks without a plugged
 *   block are MMIO; a new driver after a virtio reset changes the mapping;
 * - SMM: each memslot also exists in KVM's address space 1 (a userspace
 *   memslot there overlapping it gets EEXIST), only with the flag; a
 *   conflict there makes the PLUG BUSY and changes nothing;
 * - pause: PLUG, UNPLUG and UNPLUG_ALL get BUSY, STATE is served, nothing
 *   changes; resume signals the config-change eventfd at once and the
 *   retried PLUG works; the new ioctls are the owner's (EPERM);
 * - resets: a virtio reset keeps the plug state; VHOST_MEM_RESET unplugs
 *   and discards everything (also what the guest wrote to unplugged blocks
 *   of a live chunk), deletes the memslots and recomputes the usable
 *   region; VIRTIO_MEM_F_PERSISTENT_SUSPEND offered with its flag;
 * - several devices in one VM: side by side; over another's region EEXIST,
 *   over its memslot ids EBUSY, nothing changed.
 */
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"
#include "feature_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

#define ACK_ALL		(~0ULL)
#define ACK_NO_UI	(~VMT_FT_UI_BIT)
#define HUGEPAGES_DIR	"/dev/hugepages"

/* A STATE request that must be ACKed with want_state. */
#define RQ_STATE(e, want_state, block, nb) do { \
	u64 __b = (block); \
	u16 __st = 0xffff, __got; \
	__got = vmt_rq_send((e), STATE, vmt_rq_gpa((e), __b), (nb), &__st); \
	ASSERT_EQ(ACK, __got) \
		TH_LOG("STATE block %llu x %u: expected ACK, got %s", \
		       (unsigned long long)__b, (unsigned int)(nb), \
		       vmt_mem_resp_name(__got)); \
	ASSERT_EQ((want_state), __st) \
		TH_LOG("STATE block %llu x %u: expected %s, got %s", \
		       (unsigned long long)__b, (unsigned int)(nb), \
		       vmt_mem_state_name(want_state), \
		       vmt_mem_state_name(__st)); \
} while (0)

static struct vhost_mem_status status_of(struct __test_metadata *_metadata,
					 int fd)
{
	struct vhost_mem_status st;
	int r = vmt_mem_get_status(fd, &st);

	EXPECT_EQ(0, r) TH_LOG("VHOST_MEM_GET_STATUS: %s", vmt_errstr(r));
	return st;
}

/* Literal sizes and memslots of the status. */
static void expect_status(struct __test_metadata *_metadata, int fd,
			  const char *when, u64 plugged, u32 memslots,
			  u64 usable)
{
	struct vhost_mem_status st = status_of(_metadata, fd);

	EXPECT_EQ(plugged, st.plugged_size)
		TH_LOG("%s: plugged_size expected 0x%llx, got 0x%llx", when,
		       (unsigned long long)plugged,
		       (unsigned long long)st.plugged_size);
	EXPECT_EQ(memslots, st.memslots)
		TH_LOG("%s: memslots expected %u, got %u", when, memslots,
		       st.memslots);
	EXPECT_EQ(usable, st.usable_region_size)
		TH_LOG("%s: usable_region_size expected 0x%llx, got 0x%llx",
		       when, (unsigned long long)usable,
		       (unsigned long long)st.usable_region_size);
}

static u64 held(struct vmt_rq_env *e, u64 block, u64 nr)
{
	return vmt_ft_held(&e->backing, block * BLK, nr * BLK);
}

/*
 * Each block of [0, n) holds all of its memory (1) or none (0): per block
 * for anonymous memory, in total for a memfd (its st_blocks; preallocated
 * shmem pages hold no data yet, so no per-range probe sees them).
 */
static void expect_held(struct __test_metadata *_metadata,
			struct vmt_rq_env *e, const char *when,
			const int *full, unsigned int n)
{
	unsigned int b;
	u64 got, want = 0;

	if (e->backing.fd >= 0) {
		for (b = 0; b < n; b++)
			want += full[b] ? BLK : 0;
		got = vmt_ft_allocated(&e->backing);
		EXPECT_EQ(want, got)
			TH_LOG("%s: the memfd has %llu KiB allocated, expected %llu KiB",
			       when, (unsigned long long)got / 1024,
			       (unsigned long long)want / 1024);
		return;
	}
	for (b = 0; b < n; b++) {
		got = held(e, b, 1);
		EXPECT_EQ(full[b] ? BLK : 0, got)
			TH_LOG("%s: block %u of the %s backing holds %llu KiB, expected %llu KiB",
			       when, b, vmt_backing_name(e->backing.type),
			       (unsigned long long)got / 1024,
			       full[b] ? (unsigned long long)BLK / 1024 : 0ULL);
	}
}

/* The guest writes a tag at both ends of each block of [first, first + n). */
static void tag_blocks(struct vmt_rq_env *e, u64 first, u64 n, u64 seed)
{
	u64 b;

	for (b = first; b < first + n; b++) {
		vmt_ft_expect_write(e->vm, vmt_rq_gpa(e, b) + 8,
				    vmt_ft_tag(seed, b, 8), "plugged block");
		vmt_ft_expect_write(e->vm, vmt_rq_gpa(e, b) + BLK - 8,
				    vmt_ft_tag(seed, b, BLK - 8),
				    "plugged block");
	}
}

static void expect_tags(struct vmt_rq_env *e, u64 first, u64 n, u64 seed,
			const char *why)
{
	u64 b;

	for (b = first; b < first + n; b++) {
		vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, b) + 8,
				   vmt_ft_tag(seed, b, 8), why);
		vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, b) + BLK - 8,
				   vmt_ft_tag(seed, b, BLK - 8), why);
	}
}

/* ------------------------------------------------------------------ */
/* Prealloc: anonymous memory and memfd                               */
/* ------------------------------------------------------------------ */

#define PA_BLOCKS	8
#define PA_SIZE		(PA_BLOCKS * BLK)

FIXTURE(prealloc) {
	struct vmt_rq_env e;
};

VMT_BACKING_VARIANTS(prealloc);

FIXTURE_SETUP(prealloc)
{
	struct vmt_rq_env *e = &self->e;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	if (variant->type == VMT_BACKING_ANON) {
		/* block aligned: a THP stays inside its block */
		vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ACK_ALL);
		vmt_rq_backing_anon_aligned(&e->backing, PA_SIZE, BLK);
	} else {
		vmt_rq_env_init(e, VMT_BACKING_MEMFD, PA_SIZE, ACK_ALL);
	}
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = 2 * BLK;
}

FIXTURE_TEARDOWN(prealloc)
{
	vmt_rq_env_free(&self->e);
}

TEST_F(prealloc, plug_populates_before_the_ack)
{
	struct vmt_rq_env *e = &self->e;
	const int none[PA_BLOCKS] = { 0 };
	const int two[PA_BLOCKS] = { 0, 0, 1, 1 };
	const int three[PA_BLOCKS] = { 0, 0, 1, 1, 0, 0, 0, 1 };
	const int unplugged2[PA_BLOCKS] = { 0, 0, 0, 1, 0, 0, 0, 1 };

	e->region.flags |= VHOST_MEM_REGION_F_PREALLOC;
	vmt_rq_env_start(e, PA_SIZE);
	expect_held(_metadata, e, "before any PLUG", none, PA_BLOCKS);

	/* the very next thing after the ACK: the memory is there */
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 2);
	expect_held(_metadata, e, "right after the ACK of PLUG 2-3", two,
		    PA_BLOCKS);
	VMT_RQ_EXPECT(e, ACK, PLUG, 7, 1);
	expect_held(_metadata, e, "right after the ACK of PLUG 7", three,
		    PA_BLOCKS);

	/* unplugged: gone; plugged again: there again */
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 2, 1);
	expect_held(_metadata, e, "after UNPLUG 2", unplugged2, PA_BLOCKS);
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 1);
	expect_held(_metadata, e, "after PLUG 2 again", three, PA_BLOCKS);

	/* preallocated memory is the guest's, zeroed */
	vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, 3) + BLK / 2, 0,
			   "preallocated block");
	tag_blocks(e, 2, 2, 1);
	expect_tags(e, 2, 2, 1, "preallocated block, written by the guest");

	VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	expect_held(_metadata, e, "after UNPLUG_ALL", none, PA_BLOCKS);
	vmt_rq_check_all(e);
}

TEST_F(prealloc, without_prealloc_plug_populates_nothing)
{
	struct vmt_rq_env *e = &self->e;
	const int none[PA_BLOCKS] = { 0 };

	vmt_rq_env_start(e, PA_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 2);
	VMT_RQ_EXPECT(e, ACK, PLUG, 7, 1);
	expect_held(_metadata, e, "PLUG without VHOST_MEM_REGION_F_PREALLOC",
		    none, PA_BLOCKS);
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* Prealloc: hugetlbfs with a pool that is too small                  */
/* ------------------------------------------------------------------ */

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
	why = vmt_ft_hugetlb_pool(HT_POOL);
	if (!why)
		why = vmt_ft_backing_hugetlbfs(&e->backing, HUGEPAGES_DIR,
					       HT_SIZE);
	if (why) {
		/* teardown does not run after a failed setup */
		vmt_ft_hugetlb_restore();
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
	vmt_ft_hugetlb_restore();
}

static void expect_pool_free(struct __test_metadata *_metadata,
			     const char *when, long long want)
{
	long long got = vmt_ft_hugetlb_free();

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
		vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, b), 0,
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
	self->klog = vmt_ft_klog_mark();
	ASSERT_LE(0, self->klog) TH_LOG("/dev/kmsg: %s", vmt_errstr(self->klog));
	expect_pool_free(_metadata, "before the PLUG", HT_POOL);

	/* 6 blocks across 4 chunks: 12 MiB from a pool of 8 MiB */
	vmt_rq_send_busy(e, PLUG, vmt_rq_gpa(e, 1), 6);
	vmt_rq_check_status(e);
	expect_status(_metadata, e->dev.fd, "after the BUSY PLUG", 0, 0, HT_SIZE);
	RQ_STATE(e, UNPLUGGED, 1, 6);
	RQ_STATE(e, UNPLUGGED, 0, HT_BLOCKS);
	expect_pool_free(_metadata, "after the BUSY PLUG", HT_POOL);
	EXPECT_EQ(0, vmt_memfd_allocated(e->backing.fd))
		TH_LOG("hugetlbfs file after the BUSY PLUG: expected 0 bytes allocated, got %llu KiB",
		       (unsigned long long)vmt_memfd_allocated(e->backing.fd) / 1024);
	for (b = 0; b < HT_BLOCKS; b++)
		vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, b),
				   "the BUSY PLUG left no memslot");

	lines = vmt_ft_klog_count(self->klog, PREALLOC_MSG, true);
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
			vmt_ft_tag(2, b, 64);
	for (b = 1; b < 4; b++)
		vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, b) + 64,
				   vmt_ft_tag(2, b, 64),
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
	lines = vmt_ft_klog_count(self->klog, "vhost-mem", true);
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
	self->klog = vmt_ft_klog_mark();
	ASSERT_LE(0, self->klog) TH_LOG("/dev/kmsg: %s", vmt_errstr(self->klog));
	t0 = vmt_now_ns();
	for (i = 0; i < HT_STORM; i++)
		vmt_rq_send_busy(e, PLUG, vmt_rq_gpa(e, i % 2), 6);
	ms = (vmt_now_ns() - t0) / 1000000;
	lines = vmt_ft_klog_count(self->klog, PREALLOC_MSG, false);
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

/* ------------------------------------------------------------------ */
/* Unplugged-inaccessible                                             */
/* ------------------------------------------------------------------ */

/* 8 blocks in 4 chunks of 2 */
#define UI_BLOCKS	8
#define UI_SIZE		(UI_BLOCKS * BLK)
#define UI_CHUNKS	4

FIXTURE(ui) {
	struct vmt_rq_env e;
};

VMT_BACKING_VARIANTS(ui);

FIXTURE_SETUP(ui)
{
	struct vmt_rq_env *e = &self->e;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	if (variant->type == VMT_BACKING_ANON) {
		vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ACK_ALL);
		vmt_rq_backing_anon_aligned(&e->backing, UI_SIZE, BLK);
	} else {
		vmt_rq_env_init(e, VMT_BACKING_MEMFD, UI_SIZE, ACK_ALL);
	}
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = 2 * BLK;
}

FIXTURE_TEARDOWN(ui)
{
	vmt_rq_env_free(&self->e);
}

static const char * const ui_name[] = { "auto", "on", "off" };

/* Every block reads 0 (unplugged, but mapped) or its tag. */
static void expect_all_readable(struct vmt_rq_env *e, u64 seed,
				const char *why)
{
	u64 b;

	for (b = 0; b < UI_BLOCKS; b++) {
		if (vmt_model_plugged(&e->model, b))
			expect_tags(e, b, 1, seed, why);
		else
			vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, b) + 8, 0, why);
	}
	vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, UI_BLOCKS), "past the region");
}

/* Whether each mode offers the bit, after the region is known. */
TEST_F(ui, feature_offered_by_mode)
{
	struct vmt_rq_env *e = &self->e;
	u32 mode;
	u64 offered;
	int r;

	for (mode = VHOST_MEM_UI_AUTO; mode <= VHOST_MEM_UI_OFF; mode++) {
		e->region.unplugged_inaccessible = mode;
		offered = vmt_ft_open(e, ACK_ALL);
		EXPECT_EQ(mode != VHOST_MEM_UI_OFF, !!(offered & VMT_FT_UI_BIT))
			TH_LOG("unplugged_inaccessible=%s: VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE expected %s, features 0x%llx",
			       ui_name[mode],
			       mode != VHOST_MEM_UI_OFF ? "offered" : "not offered",
			       (unsigned long long)offered);
		EXPECT_EQ(mode != VHOST_MEM_UI_OFF,
			  !!(e->dev.features & VMT_FT_UI_BIT));
		if (mode != VHOST_MEM_UI_OFF)
			continue;
		r = vmt_vhost_set_features(e->dev.fd,
					   e->dev.features | VMT_FT_UI_BIT);
		EXPECT_EQ(-EOPNOTSUPP, r)
			TH_LOG("SET_FEATURES with UNPLUGGED_INACCESSIBLE on an 'off' device: expected EOPNOTSUPP, got %s",
			       vmt_errstr(r));
	}
	/* an unknown mode */
	e->region.unplugged_inaccessible = VHOST_MEM_UI_OFF + 1;
	vmt_rq_env_close(e);
	vmt_dev_open_ready(&e->dev, e->vm, &e->vq, ACK_ALL);
	ASSERT_EQ(0, vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd));
	r = vmt_mem_set_region(e->dev.fd, &e->region);
	EXPECT_EQ(-EINVAL, r)
		TH_LOG("unplugged_inaccessible=3: expected EINVAL, got %s",
		       vmt_errstr(r));
}

/* off: no feature, and the guest may read all of the region. */
static void whole_region_readable(struct __test_metadata *_metadata,
				  struct vmt_rq_env *e, const char *what)
{
	ASSERT_FALSE(e->dev.features & VMT_FT_UI_BIT);
	expect_status(_metadata, e->dev.fd, what, 0, UI_CHUNKS, UI_SIZE);
	expect_all_readable(e, 1, "nothing plugged, every chunk mapped");

	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 2);
	VMT_RQ_EXPECT(e, ACK, PLUG, 7, 1);
	tag_blocks(e, 2, 2, 1);
	tag_blocks(e, 7, 1, 1);
	expect_all_readable(e, 1, "plugged blocks and mapped unplugged ones");
	expect_status(_metadata, e->dev.fd, what, 3 * BLK, UI_CHUNKS, UI_SIZE);

	/* UNPLUG discards, the memslot stays: the block reads 0 */
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 2, 1);
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 7, 1);
	expect_status(_metadata, e->dev.fd, "after UNPLUG", BLK, UI_CHUNKS,
		      UI_SIZE);
	vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, 2) + 8, 0,
			   "unplugged (discarded) and still mapped");
	vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, 7) + BLK - 8, 0,
			   "its chunk's last block unplugged, still mapped");
	expect_all_readable(e, 1, "after UNPLUG");
	VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	expect_status(_metadata, e->dev.fd, "after UNPLUG_ALL", 0, UI_CHUNKS,
		      UI_SIZE);
	expect_all_readable(e, 1, "after UNPLUG_ALL");
	vmt_rq_check_states(e);
}

TEST_F(ui, off_whole_region_readable)
{
	struct vmt_rq_env *e = &self->e;

	e->region.unplugged_inaccessible = VHOST_MEM_UI_OFF;
	vmt_ft_open(e, ACK_ALL);
	vmt_ft_start(e, UI_SIZE);
	whole_region_readable(_metadata, e, "unplugged_inaccessible=off");
}

/* A system reset discards all, but off keeps the whole region mapped. */
TEST_F(ui, off_system_reset_keeps_the_mapping)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	e->region.unplugged_inaccessible = VHOST_MEM_UI_OFF;
	vmt_ft_open(e, ACK_ALL);
	vmt_ft_start(e, UI_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 2);
	tag_blocks(e, 2, 2, 12);
	r = vmt_ft_reset(e->dev.fd);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_RESET: %s", vmt_errstr(r));
	vmt_ft_model_system_reset(&e->model);
	expect_status(_metadata, e->dev.fd, "off, after VHOST_MEM_RESET", 0,
		      UI_CHUNKS, UI_SIZE);
	EXPECT_EQ(0, vmt_ft_allocated(&e->backing))
		TH_LOG("backing after VHOST_MEM_RESET: %llu KiB left",
		       (unsigned long long)vmt_ft_allocated(&e->backing) / 1024);
	expect_all_readable(e, 12, "off, after VHOST_MEM_RESET: zeroed, mapped");
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 1);
	vmt_rq_check_states(e);
}

/*
 * An old driver's writes to unplugged memory: "the next UNPLUG or
 * UNPLUG_ALL discards" them (Documentation/vhost-mem.rst), as QEMU's
 * UNPLUG_ALL and system reset discard the whole region.
 */
TEST_F(ui, off_unplug_all_discards_writes_to_unplugged_memory)
{
	struct vmt_rq_env *e = &self->e;

	e->region.unplugged_inaccessible = VHOST_MEM_UI_OFF;
	vmt_ft_open(e, ACK_ALL);
	vmt_ft_start(e, UI_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 1);
	vmt_ft_expect_write(e->vm, vmt_rq_gpa(e, 2) + 8, 1, "plugged");
	vmt_ft_expect_write(e->vm, vmt_rq_gpa(e, 5) + 8, 2,
			    "unplugged, mapped for an old driver");
	EXPECT_LT(0, held(e, 5, 1));
	VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	EXPECT_EQ(0, vmt_ft_allocated(&e->backing))
		TH_LOG("after UNPLUG_ALL, %llu KiB of the backing are left (the old driver wrote to unplugged block 5: %llu KiB there)",
		       (unsigned long long)vmt_ft_allocated(&e->backing) / 1024,
		       (unsigned long long)held(e, 5, 1) / 1024);
	vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, 5) + 8, 0,
			   "unplugged block after UNPLUG_ALL");
}

TEST_F(ui, auto_driver_without_the_bit_reads_everything)
{
	struct vmt_rq_env *e = &self->e;
	u64 offered;

	e->region.unplugged_inaccessible = VHOST_MEM_UI_AUTO;
	offered = vmt_ft_open(e, ACK_NO_UI);
	ASSERT_TRUE(offered & VMT_FT_UI_BIT);
	vmt_ft_start(e, UI_SIZE);
	whole_region_readable(_metadata, e,
			      "auto, a driver without UNPLUGGED_INACCESSIBLE");
}

TEST_F(ui, on_refuses_a_driver_without_the_bit)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status st;
	int r;

	e->region.unplugged_inaccessible = VHOST_MEM_UI_ON;
	vmt_ft_open(e, ACK_NO_UI);
	ASSERT_EQ(0, vmt_mem_set_requested_size(e->dev.fd, UI_SIZE));
	r = vmt_mem_set_running(e->dev.fd, 1);
	EXPECT_EQ(-EINVAL, r)
		TH_LOG("unplugged_inaccessible=on, driver without the bit: SET_RUNNING 1 expected EINVAL, got %s",
		       vmt_errstr(r));
	st = status_of(_metadata, e->dev.fd);
	EXPECT_FALSE(st.flags & VHOST_MEM_STATUS_F_RUNNING)
		TH_LOG("refused start: flags 0x%x say running", st.flags);
	EXPECT_EQ(0, st.memslots);
	vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 0), "refused start");

	/* the driver accepts the bit: the device starts */
	r = vmt_ft_virtio_reset(e, ACK_ALL);
	ASSERT_EQ(0, r) TH_LOG("SET_RUNNING 1 with the bit accepted: %s",
			       vmt_errstr(r));
	vmt_rq_env_adopt(e, UI_SIZE);
	vmt_rq_check_all(e);
	VMT_RQ_EXPECT(e, ACK, PLUG, 3, 1);
	vmt_rq_check_all(e);
}

TEST_F(ui, accepted_unplugged_chunks_are_mmio)
{
	struct vmt_rq_env *e = &self->e;
	u32 mode;

	for (mode = VHOST_MEM_UI_AUTO; mode <= VHOST_MEM_UI_ON; mode++) {
		e->region.unplugged_inaccessible = mode;
		vmt_ft_open(e, ACK_ALL);
		ASSERT_TRUE(e->dev.features & VMT_FT_UI_BIT);
		vmt_ft_start(e, UI_SIZE);
		vmt_rq_check_all(e);
		VMT_RQ_EXPECT(e, ACK, PLUG, 2, 1);
		vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 4),
				   "a chunk without a plugged block");
		vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, 3), 0,
				   "the plugged block's chunk");
		vmt_rq_check_all(e);
		VMT_RQ_EXPECT(e, ACK, UNPLUG, 2, 1);
		vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 2),
				   "its only plugged block went");
		vmt_rq_check_all(e);
	}
}

/* kexec into a driver that sees things otherwise: the mapping follows. */
TEST_F(ui, new_driver_after_virtio_reset)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	vmt_ft_open(e, ACK_NO_UI);
	vmt_ft_start(e, UI_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 2);
	VMT_RQ_EXPECT(e, ACK, PLUG, 6, 1);
	tag_blocks(e, 2, 2, 4);
	tag_blocks(e, 6, 1, 4);
	expect_status(_metadata, e->dev.fd, "old driver", 3 * BLK, UI_CHUNKS,
		      UI_SIZE);

	r = vmt_ft_virtio_reset(e, ACK_ALL);
	ASSERT_EQ(0, r) TH_LOG("restart with the bit: %s", vmt_errstr(r));
	expect_status(_metadata, e->dev.fd, "driver with the bit", 3 * BLK, 2,
		      UI_SIZE);
	vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 0), "chunk 0, nothing plugged");
	vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 5), "chunk 2, nothing plugged");
	expect_tags(e, 2, 2, 4, "kept across the virtio reset");
	expect_tags(e, 6, 1, 4, "kept across the virtio reset");
	vmt_rq_check_all(e);

	r = vmt_ft_virtio_reset(e, ACK_NO_UI);
	ASSERT_EQ(0, r) TH_LOG("restart without the bit: %s", vmt_errstr(r));
	expect_status(_metadata, e->dev.fd, "driver without the bit again",
		      3 * BLK, UI_CHUNKS, UI_SIZE);
	expect_all_readable(e, 4, "driver without the bit again");
}

/*
 * The order of Documentation/vhost-mem.rst: features (step 2) before the
 * region (step 4).  The driver accepted the bit that the device offered
 * then; the region says off.  Either start refuses the driver (it accepted
 * what the device does not offer) or off holds; the device must not treat
 * the guest as one that never touches unplugged memory.
 */
TEST_F(ui, off_with_the_bit_accepted_before_the_region)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status st;
	int r;

	if (!(e->dev.features & VMT_FT_UI_BIT))
		SKIP(return, "the device does not offer the bit before SET_REGION");
	e->region.unplugged_inaccessible = VHOST_MEM_UI_OFF;
	e->region.slot_count = UI_CHUNKS;
	ASSERT_EQ(0, vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd));
	r = vmt_mem_set_region(e->dev.fd, &e->region);
	ASSERT_EQ(0, r) TH_LOG("SET_REGION off: %s", vmt_errstr(r));
	ASSERT_EQ(0, vmt_mem_set_requested_size(e->dev.fd, UI_SIZE));
	r = vmt_mem_set_running(e->dev.fd, 1);
	if (r) {
		EXPECT_EQ(-EINVAL, r)
			TH_LOG("start with a feature the device does not offer: expected EINVAL (or success with 'off' in effect), got %s",
			       vmt_errstr(r));
		return;
	}
	st = status_of(_metadata, e->dev.fd);
	EXPECT_EQ(UI_CHUNKS, st.memslots)
		TH_LOG("unplugged_inaccessible=off, started with the bit accepted before SET_REGION: expected %u memslots (whole region mapped), got %u",
		       UI_CHUNKS, st.memslots);
	vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, 0), 0,
			   "unplugged_inaccessible=off: unplugged memory is readable");
}

/* ------------------------------------------------------------------ */
/* SMM: the memslots in KVM's address space 1                         */
/* ------------------------------------------------------------------ */

/* 32 blocks in 4 chunks of 8; ids 100-103 */
#define SMM_BLOCKS	32
#define SMM_SIZE	(SMM_BLOCKS * BLK)
#define SMM_CHUNK	(8 * BLK)
#define AS1		(1U << 16)
#define VMM_SLOT	50
#define FAR_GPA		(64ULL << 30)

FIXTURE(smm) {
	struct vmt_rq_env e;
	void *page;
	int nr_as;
};

FIXTURE_SETUP(smm)
{
	struct vmt_rq_env *e = &self->e;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ACK_ALL);
	vmt_rq_backing_anon_aligned(&e->backing, SMM_SIZE, BLK);
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = SMM_CHUNK;
	self->nr_as = vmt_vm_check_cap(e->vm, KVM_CAP_MULTI_ADDRESS_SPACE);
	self->page = mmap(NULL, 2 * BLK, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->page);
}

FIXTURE_TEARDOWN(smm)
{
	vmt_rq_env_free(&self->e);
	munmap(self->page, 2 * BLK);
}

/* FIXTURE_DATA(smm), spelt so that checkpatch can parse the helpers. */
#define smm_fixture_data _test_data_smm

/* A userspace memslot of one block: 0 or -errno.  Deleted again if made. */
static int probe_slot(struct __test_metadata *_metadata,
		      struct smm_fixture_data *self, u32 slot, u64 gpa)
{
	int r = vmt_vm_set_memslot(self->e.vm, slot, gpa, BLK, self->page, 0);

	if (!r) {
		r = vmt_vm_set_memslot(self->e.vm, slot, 0, 0, NULL, 0);
		EXPECT_EQ(0, r) TH_LOG("deleting memslot 0x%x: %s", slot,
				       vmt_errstr(r));
		return 0;
	}
	return r;
}

#define EXPECT_PROBE(want, slot, gpa, what) do { \
	int __r = probe_slot(_metadata, self, (slot), (gpa)); \
	EXPECT_EQ((want), __r) \
		TH_LOG("userspace memslot %u of address space %u at GPA 0x%llx (%s): expected %s, got %s", \
		       (slot) & 0xffff, (slot) >> 16, \
		       (unsigned long long)(gpa), what, vmt_errstr(want), \
		       vmt_errstr(__r)); \
} while (0)

static bool smm_supported(struct __test_metadata *_metadata,
			  struct smm_fixture_data *self)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	if (self->nr_as >= 2)
		return true;
	/* one address space: the option cannot work */
	e->region.flags |= VHOST_MEM_REGION_F_SMM;
	ASSERT_EQ(0, vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd));
	r = vmt_mem_set_region(e->dev.fd, &e->region);
	EXPECT_EQ(-EOPNOTSUPP, r)
		TH_LOG("VHOST_MEM_REGION_F_SMM with %d address space(s): expected EOPNOTSUPP, got %s",
		       self->nr_as, vmt_errstr(r));
	return false;
}

TEST_F(smm, twin_in_address_space_1)
{
	struct vmt_rq_env *e = &self->e;

	if (!smm_supported(_metadata, self))
		SKIP(return, "KVM has %d address space(s)", self->nr_as);
	e->region.flags |= VHOST_MEM_REGION_F_SMM;
	vmt_rq_env_start(e, SMM_SIZE);
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 9), "nothing plugged");

	VMT_RQ_EXPECT(e, ACK, PLUG, 9, 1);
	EXPECT_PROBE(-EEXIST, AS1 | VMM_SLOT, vmt_rq_gpa(e, 9),
		     "over the plugged block");
	EXPECT_PROBE(-EEXIST, AS1 | VMM_SLOT, vmt_rq_gpa(e, 15),
		     "over the plugged block's chunk");
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 16),
		     "over a chunk without a plugged block");
	/* our ids: chunk 1's is taken in address space 1, chunk 2's not */
	EXPECT_PROBE(-EINVAL, AS1 | (SLOT_BASE + 1), FAR_GPA,
		     "the device's id of a live chunk");
	EXPECT_PROBE(0, AS1 | (SLOT_BASE + 2), FAR_GPA,
		     "the device's id of an empty chunk");
	/* address space 0 is the same as ever */
	EXPECT_PROBE(-EEXIST, VMM_SLOT, vmt_rq_gpa(e, 9),
		     "address space 0, over the plugged block");
	vmt_ft_expect_write(e->vm, vmt_rq_gpa(e, 9) + 8, 0x5a11, "plugged");
	vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, 9) + 8, 0x5a11, "plugged");

	VMT_RQ_EXPECT(e, ACK, UNPLUG, 9, 1);
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 9),
		     "after the UNPLUG of the chunk's only block");
	EXPECT_PROBE(0, AS1 | (SLOT_BASE + 1), FAR_GPA,
		     "the device's id after its chunk emptied");
	vmt_rq_check_all(e);
}

TEST_F(smm, no_twin_without_the_flag)
{
	struct vmt_rq_env *e = &self->e;

	if (self->nr_as < 2)
		SKIP(return, "KVM has %d address space(s)", self->nr_as);
	vmt_rq_env_start(e, SMM_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 9, 1);
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 9),
		     "over the plugged block, no VHOST_MEM_REGION_F_SMM");
	EXPECT_PROBE(0, AS1 | (SLOT_BASE + 1), FAR_GPA,
		     "the device's id of a live chunk, no VHOST_MEM_REGION_F_SMM");
	EXPECT_PROBE(-EEXIST, VMM_SLOT, vmt_rq_gpa(e, 9),
		     "address space 0, over the plugged block");
	vmt_rq_check_all(e);
}

/* The twin cannot be made: BUSY, and address space 0 is rolled back. */
TEST_F(smm, conflict_in_address_space_1_is_busy)
{
	struct vmt_rq_env *e = &self->e;
	int klog, lines, r;

	if (!smm_supported(_metadata, self))
		SKIP(return, "KVM has %d address space(s)", self->nr_as);
	e->region.flags |= VHOST_MEM_REGION_F_SMM;
	vmt_rq_env_start(e, SMM_SIZE);
	/* the VMM maps something into the SMM view of chunk 0 */
	r = vmt_vm_set_memslot(e->vm, AS1 | VMM_SLOT, vmt_rq_gpa(e, 4), BLK,
			       self->page, 0);
	ASSERT_EQ(0, r) TH_LOG("AS 1 memslot over chunk 0: %s", vmt_errstr(r));
	klog = vmt_ft_klog_mark();
	ASSERT_LE(0, klog);

	vmt_rq_send_busy(e, PLUG, vmt_rq_gpa(e, 1), 1);
	vmt_rq_check_status(e);
	vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 1),
			   "the PLUG was BUSY: no memslot in address space 0");
	EXPECT_PROBE(0, SLOT_BASE, FAR_GPA,
		     "the device's id of chunk 0 after the BUSY PLUG");
	lines = vmt_ft_klog_count(klog, "cannot create memslot", true);
	EXPECT_EQ(1, lines)
		TH_LOG("kernel log lines about the memslot: expected 1, got %d",
		       lines);
	close(klog);

	VMT_RQ_EXPECT(e, ACK, PLUG, 8, 1);		/* chunk 1 is fine */
	ASSERT_EQ(0, vmt_vm_set_memslot(e->vm, AS1 | VMM_SLOT, 0, 0, NULL, 0));
	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 1);
	vmt_rq_check_all(e);
}

TEST_F(smm, close_removes_the_twins)
{
	struct vmt_rq_env *e = &self->e;

	if (!smm_supported(_metadata, self))
		SKIP(return, "KVM has %d address space(s)", self->nr_as);
	e->region.flags |= VHOST_MEM_REGION_F_SMM;
	vmt_rq_env_start(e, SMM_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 1);
	VMT_RQ_EXPECT(e, ACK, PLUG, 30, 2);
	vmt_rq_check_all(e);
	vmt_rq_env_close(e);
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 0),
		     "chunk 0 after the device was closed");
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 31),
		     "chunk 3 after the device was closed");
	EXPECT_PROBE(0, AS1 | SLOT_BASE, FAR_GPA,
		     "the device's id after it was closed");
}

/* ------------------------------------------------------------------ */
/* Pause and resume                                                   */
/* ------------------------------------------------------------------ */

/* 32 blocks in 4 chunks of 8, requested 16 MiB (usable: the region) */
#define PZ_BLOCKS	32
#define PZ_SIZE		(PZ_BLOCKS * BLK)
#define PZ_REQUESTED	(8 * BLK)
#define RESUME_MS	1000

FIXTURE(pause) {
	struct vmt_rq_env e;
	int efd;
};

FIXTURE_SETUP(pause)
{
	struct vmt_rq_env *e = &self->e;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	self->efd = -1;
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ACK_ALL);
	vmt_rq_backing_anon_aligned(&e->backing, PZ_SIZE, BLK);
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = 8 * BLK;
	self->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, self->efd);
}

FIXTURE_TEARDOWN(pause)
{
	vmt_rq_env_free(&self->e);
	if (self->efd >= 0)
		close(self->efd);
}

/*
 * A request to a paused device: the literal answer, which must also be
 * the model's answer with BUSY for anything that would change the state
 * (QEMU's order: a bad range is still ERROR, an over-budget PLUG NACK).
 */
static void paused_rq(struct __test_metadata *_metadata, struct vmt_rq_env *e,
		      u16 want, u16 type, u64 addr, u16 nb, u16 want_state)
{
	struct vmt_mem_req req = { .type = type, .addr = addr, .nb_blocks = nb };
	u16 model, state = 0xffff;

	model = vmt_model_decide(&e->model, type, addr, nb, &state);
	if (model == ACK && (type == PLUG || type == UNPLUG ||
			     (type == UNPLUG_ALL && e->model.plugged)))
		model = BUSY;
	ASSERT_EQ(model, want)
		TH_LOG("test bug: %s GPA 0x%llx x %u to a paused device would be %s, the test says %s",
		       vmt_mem_req_name(type), (unsigned long long)addr, nb,
		       vmt_mem_resp_name(model), vmt_mem_resp_name(want));
	vmt_mem_batch(&e->vq, &req, 1, vmt_timeout_ms());
	ASSERT_TRUE(req.answered)
		TH_LOG("%s GPA 0x%llx x %u while paused: no answer within %d ms (expected %s)",
		       vmt_mem_req_name(type), (unsigned long long)addr, nb,
		       vmt_timeout_ms(), vmt_mem_resp_name(want));
	ASSERT_EQ(want, req.resp_type)
		TH_LOG("%s GPA 0x%llx x %u while paused: expected %s, got %s",
		       vmt_mem_req_name(type), (unsigned long long)addr, nb,
		       vmt_mem_resp_name(want), vmt_mem_resp_name(req.resp_type));
	if (type == STATE && want == ACK)
		ASSERT_EQ(want_state, req.state)
			TH_LOG("STATE GPA 0x%llx x %u while paused: expected %s, got %s",
			       (unsigned long long)addr, nb,
			       vmt_mem_state_name(want_state),
			       vmt_mem_state_name(req.state));
	vmt_model_apply(&e->model, type, addr, nb, req.resp_type);
}

/* GET_STATUS as the model says, with VHOST_MEM_STATUS_F_PAUSED. */
static void check_status_paused(struct __test_metadata *_metadata,
				struct vmt_rq_env *e, bool paused)
{
	struct vhost_mem_status st = status_of(_metadata, e->dev.fd);
	int diffs;

	EXPECT_EQ(paused, !!(st.flags & VHOST_MEM_STATUS_F_PAUSED))
		TH_LOG("status flags 0x%x: expected VHOST_MEM_STATUS_F_PAUSED %s",
		       st.flags, paused ? "set" : "clear");
	st.flags &= ~VHOST_MEM_STATUS_F_PAUSED;
	fflush(stdout);
	diffs = vmt_model_diff(&e->model, &st, e->running, stderr);
	EXPECT_EQ(0, diffs)
		TH_LOG("GET_STATUS differs from what the guest saw (above)");
}

/* Signals on the eventfd within ms: the count, 0 if none came. */
static u64 wait_eventfd(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	u64 count = 0;

	if (poll(&p, 1, ms) != 1)
		return 0;
	if (read(efd, &count, sizeof(count)) != sizeof(count))
		return 0;
	return count;
}

TEST_F(pause, requests_busy_state_served)
{
	struct vmt_rq_env *e = &self->e;
	u64 present;
	int r;

	vmt_rq_env_start(e, PZ_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 4);
	VMT_RQ_EXPECT(e, ACK, PLUG, 20, 1);
	tag_blocks(e, 0, 4, 5);
	tag_blocks(e, 20, 1, 5);
	present = held(e, 0, PZ_BLOCKS);

	r = vmt_ft_set_paused(e->dev.fd, 1);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_SET_PAUSED 1: %s", vmt_errstr(r));
	check_status_paused(_metadata, e, true);

	paused_rq(_metadata, e, BUSY, PLUG, vmt_rq_gpa(e, 8), 2, 0);
	paused_rq(_metadata, e, BUSY, UNPLUG, vmt_rq_gpa(e, 0), 1, 0);
	paused_rq(_metadata, e, BUSY, UNPLUG, vmt_rq_gpa(e, 20), 1, 0);
	paused_rq(_metadata, e, BUSY, UNPLUG_ALL, 0, 0, 0);
	paused_rq(_metadata, e, ACK, STATE, vmt_rq_gpa(e, 0), 4, PLUGGED);
	paused_rq(_metadata, e, ACK, STATE, vmt_rq_gpa(e, 0), 8, MIXED);
	paused_rq(_metadata, e, ACK, STATE, vmt_rq_gpa(e, 8), 12, UNPLUGGED);
	/* the checks before BUSY still answer as ever */
	paused_rq(_metadata, e, ERROR, PLUG, vmt_rq_gpa(e, 8) + 4096, 1, 0);
	paused_rq(_metadata, e, ERROR, PLUG, vmt_rq_gpa(e, 0), 1, 0);
	paused_rq(_metadata, e, NACK, PLUG, vmt_rq_gpa(e, 8), 4, 0);
	paused_rq(_metadata, e, ERROR, UNPLUG, vmt_rq_gpa(e, 8), 1, 0);
	paused_rq(_metadata, e, ERROR, STATE, vmt_rq_gpa(e, PZ_BLOCKS), 1, 0);

	/* nothing changed, and STATE sweeps work */
	check_status_paused(_metadata, e, true);
	expect_status(_metadata, e->dev.fd, "paused", 5 * BLK, 2, PZ_SIZE);
	vmt_rq_check_states(e);
	expect_tags(e, 0, 4, 5, "plugged before the pause");
	expect_tags(e, 20, 1, 5, "plugged before the pause");
	vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 8), "the BUSY PLUG");
	EXPECT_EQ(present, held(e, 0, PZ_BLOCKS))
		TH_LOG("backing while paused: expected %llu KiB, got %llu KiB",
		       (unsigned long long)present / 1024,
		       (unsigned long long)held(e, 0, PZ_BLOCKS) / 1024);

	r = vmt_ft_set_paused(e->dev.fd, 0);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_SET_PAUSED 0: %s", vmt_errstr(r));
	check_status_paused(_metadata, e, false);
	VMT_RQ_EXPECT(e, ACK, PLUG, 8, 2);
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 0, 1);
	VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	vmt_rq_check_all(e);
}

TEST_F(pause, resume_signals_config_change)
{
	struct vmt_rq_env *e = &self->e;
	u64 t0, signal_us, retry_us, n;
	int r;

	vmt_rq_env_start(e, PZ_REQUESTED);
	ASSERT_EQ(0, vmt_mem_set_config_call(e->dev.fd, self->efd));
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 1);

	ASSERT_EQ(0, vmt_ft_set_paused(e->dev.fd, 1));
	EXPECT_EQ(0, wait_eventfd(self->efd, 0))
		TH_LOG("the pause itself signalled the config eventfd");
	paused_rq(_metadata, e, BUSY, PLUG, vmt_rq_gpa(e, 1), 1, 0);

	/* resume: the guest hears of it at once, and its retry works */
	t0 = vmt_now_ns();
	r = vmt_ft_set_paused(e->dev.fd, 0);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_SET_PAUSED 0: %s", vmt_errstr(r));
	n = wait_eventfd(self->efd, RESUME_MS);
	signal_us = (vmt_now_ns() - t0) / 1000;
	ASSERT_EQ(1, n)
		TH_LOG("config eventfd after resume: expected 1 signal within %d ms, got %llu after %llu us",
		       RESUME_MS, (unsigned long long)n,
		       (unsigned long long)signal_us);
	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 1);
	retry_us = (vmt_now_ns() - t0) / 1000;
	fprintf(stderr, "# resume -> config eventfd: %llu us, -> retried PLUG ACKed: %llu us\n",
		(unsigned long long)signal_us, (unsigned long long)retry_us);

	/* no resume, no signal: resuming a running device, pausing twice */
	ASSERT_EQ(0, vmt_ft_set_paused(e->dev.fd, 0));
	EXPECT_EQ(0, wait_eventfd(self->efd, 100))
		TH_LOG("SET_PAUSED 0 on a device that was not paused signalled the config eventfd");
	ASSERT_EQ(0, vmt_ft_set_paused(e->dev.fd, 1));
	ASSERT_EQ(0, vmt_ft_set_paused(e->dev.fd, 1));
	ASSERT_EQ(0, vmt_ft_set_paused(e->dev.fd, 0));
	n = wait_eventfd(self->efd, RESUME_MS);
	EXPECT_EQ(1, n) TH_LOG("paused twice, resumed once: expected 1 signal, got %llu",
			       (unsigned long long)n);

	/* without an eventfd, resume just works */
	ASSERT_EQ(0, vmt_mem_set_config_call(e->dev.fd, -1));
	ASSERT_EQ(0, vmt_ft_set_paused(e->dev.fd, 1));
	paused_rq(_metadata, e, BUSY, PLUG, vmt_rq_gpa(e, 2), 1, 0);
	ASSERT_EQ(0, vmt_ft_set_paused(e->dev.fd, 0));
	EXPECT_EQ(0, wait_eventfd(self->efd, 0));
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 1);
	vmt_rq_check_all(e);
}

TEST_F(pause, bad_values)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	r = vmt_ft_set_paused(e->dev.fd, 1);
	EXPECT_EQ(-EBADFD, r)
		TH_LOG("SET_PAUSED 1 before SET_REGION: expected EBADFD, got %s",
		       vmt_errstr(r));
	vmt_rq_env_start(e, PZ_REQUESTED);
	r = vmt_ft_set_paused(e->dev.fd, 2);
	EXPECT_EQ(-EINVAL, r) TH_LOG("SET_PAUSED 2: expected EINVAL, got %s",
				     vmt_errstr(r));
	r = vmt_ft_set_paused(e->dev.fd, -1);
	EXPECT_EQ(-EINVAL, r) TH_LOG("SET_PAUSED -1: expected EINVAL, got %s",
				     vmt_errstr(r));
	check_status_paused(_metadata, e, false);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 1);
	vmt_rq_check_all(e);
}

/* The new ioctls are the owner's: another process gets EPERM. */
TEST_F(pause, other_process_gets_eperm)
{
	struct vmt_rq_env *e = &self->e;
	static const char * const names[] = {
		"VHOST_MEM_SET_PAUSED", "VHOST_MEM_GET_STATE",
		"VHOST_MEM_SET_STATE", "VHOST_MEM_RESET",
	};
	int status = 0, bad = 0, r[4];
	unsigned int i;
	pid_t pid;

	vmt_rq_env_start(e, PZ_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 2);
	tag_blocks(e, 0, 2, 13);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		u8 buf[256] = { 0 };
		u64 len = sizeof(buf);

		r[0] = vmt_ft_set_paused(e->dev.fd, 1);
		r[1] = vmt_ft_get_state(e->dev.fd, buf, &len);
		r[2] = vmt_ft_set_state(e->dev.fd, buf, 64 + PZ_BLOCKS / 8);
		r[3] = vmt_ft_reset(e->dev.fd);
		for (i = 0; i < VMT_ARRAY_SIZE(r); i++)
			bad |= (r[i] != -EPERM) << i;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	bad = WEXITSTATUS(status);
	for (i = 0; i < VMT_ARRAY_SIZE(names); i++) {
		const char *name = names[i] ? names[i] : "?";

		EXPECT_FALSE(bad & (1 << i))
			TH_LOG("%s from a process that is not the owner: expected EPERM",
			       name);
	}
	check_status_paused(_metadata, e, false);
	expect_tags(e, 0, 2, 13, "after the other process's attempts");
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* Resets                                                             */
/* ------------------------------------------------------------------ */

/* 512 blocks (1 GiB) in 16 chunks of 32 */
#define RS_BLOCKS	512
#define RS_SIZE		(RS_BLOCKS * BLK)
#define RS_CHUNK	(64ULL << 20)
#define RS_REQUESTED	(64ULL << 20)	/* usable: 320 MiB, 160 blocks */
#define RS_USABLE	(RS_REQUESTED + VHOST_MEM_USABLE_EXTENT)

FIXTURE(reset) {
	struct vmt_rq_env e;
};

VMT_BACKING_VARIANTS(reset);

FIXTURE_SETUP(reset)
{
	struct vmt_rq_env *e = &self->e;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	if (variant->type == VMT_BACKING_ANON) {
		vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ACK_ALL);
		vmt_rq_backing_anon_aligned(&e->backing, RS_SIZE, BLK);
	} else {
		vmt_rq_env_init(e, VMT_BACKING_MEMFD, RS_SIZE, ACK_ALL);
	}
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = RS_CHUNK;
}

FIXTURE_TEARDOWN(reset)
{
	vmt_rq_env_free(&self->e);
}

/* The guest reboots its driver (status 0), as at boot and in kdump. */
TEST_F(reset, virtio_reset_keeps_the_plug_state)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status before, after;
	u64 bytes;
	int r;

	vmt_rq_env_start(e, RS_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 3, 3);
	VMT_RQ_EXPECT(e, ACK, PLUG, 40, 2);
	VMT_RQ_EXPECT(e, ACK, PLUG, 100, 1);
	tag_blocks(e, 3, 3, 6);
	tag_blocks(e, 40, 2, 6);
	tag_blocks(e, 100, 1, 6);
	before = status_of(_metadata, e->dev.fd);
	bytes = held(e, 0, RS_BLOCKS);

	r = vmt_ft_virtio_reset(e, ACK_ALL);
	ASSERT_EQ(0, r) TH_LOG("SET_RUNNING 1 after the virtio reset: %s",
			       vmt_errstr(r));
	after = status_of(_metadata, e->dev.fd);
	EXPECT_EQ(before.plugged_size, after.plugged_size);
	EXPECT_EQ(before.usable_region_size, after.usable_region_size);
	EXPECT_EQ(before.requested_size, after.requested_size);
	EXPECT_EQ(before.memslots, after.memslots);
	EXPECT_EQ(bytes, held(e, 0, RS_BLOCKS))
		TH_LOG("backing after a virtio reset: expected %llu KiB, got %llu KiB",
		       (unsigned long long)bytes / 1024,
		       (unsigned long long)held(e, 0, RS_BLOCKS) / 1024);
	/* the new driver's first requests: it reads the state back */
	RQ_STATE(e, PLUGGED, 3, 3);
	RQ_STATE(e, MIXED, 2, 3);
	RQ_STATE(e, PLUGGED, 40, 2);
	RQ_STATE(e, UNPLUGGED, 6, 34);
	vmt_rq_check_states(e);
	expect_tags(e, 3, 3, 6, "kept across a virtio reset");
	expect_tags(e, 40, 2, 6, "kept across a virtio reset");
	expect_tags(e, 100, 1, 6, "kept across a virtio reset");
	vmt_rq_check_all(e);
	/* and goes on */
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 40, 1);
	VMT_RQ_EXPECT(e, ACK, PLUG, 60, 2);
	VMT_RQ_EXPECT(e, ERROR, PLUG, 3, 1);
	vmt_rq_check_all(e);
}

TEST_F(reset, system_reset_unplugs_everything)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	vmt_rq_env_start(e, RS_REQUESTED);
	/* grow the usable region to 768 MiB, plug high and low, shrink */
	vmt_rq_resize(e, 512ULL << 20);
	VMT_RQ_EXPECT(e, ACK, PLUG, 300, 4);
	VMT_RQ_EXPECT(e, ACK, PLUG, 3, 3);
	tag_blocks(e, 300, 4, 7);
	tag_blocks(e, 3, 3, 7);
	vmt_rq_resize(e, RS_REQUESTED);
	expect_status(_metadata, e->dev.fd, "before the reset", 7 * BLK, 2,
		      768ULL << 20);
	EXPECT_LT(0, held(e, 300, 4));
	EXPECT_LT(0, held(e, 3, 3));

	r = vmt_ft_reset(e->dev.fd);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_RESET: %s", vmt_errstr(r));
	vmt_ft_model_system_reset(&e->model);
	expect_status(_metadata, e->dev.fd, "after VHOST_MEM_RESET", 0, 0,
		      RS_USABLE);
	vmt_rq_check_status(e);
	EXPECT_EQ(0, held(e, 0, RS_BLOCKS))
		TH_LOG("%s backing after VHOST_MEM_RESET: expected nothing, got %llu KiB",
		       vmt_backing_name(e->backing.type),
		       (unsigned long long)held(e, 0, RS_BLOCKS) / 1024);
	vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 300), "after VHOST_MEM_RESET");
	vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 3), "after VHOST_MEM_RESET");
	VMT_RQ_EXPECT(e, ERROR, STATE, 300, 1);
	RQ_STATE(e, UNPLUGGED, 0, RS_USABLE / BLK);
	vmt_rq_check_all(e);

	/* the guest boots again and plugs: zeroed memory */
	VMT_RQ_EXPECT(e, ACK, PLUG, 3, 2);
	vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, 3) + 8, 0,
			   "plugged again after a system reset");
	vmt_ft_expect_read(e->vm, vmt_rq_gpa(e, 4) + BLK - 8, 0,
			   "plugged again after a system reset");
	VMT_RQ_EXPECT(e, ERROR, PLUG, 300, 1);
	vmt_rq_check_all(e);
}

/*
 * A live chunk's memslot covers its unplugged blocks too: a guest that
 * writes there (it must not) gets memory.  A system reset "discards
 * everything", as QEMU's discards the whole region.
 */
TEST_F(reset, system_reset_discards_writes_to_unplugged_blocks)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	vmt_rq_env_start(e, RS_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 3, 1);
	vmt_ft_expect_write(e->vm, vmt_rq_gpa(e, 3) + 8, 1, "plugged");
	vmt_ft_expect_write(e->vm, vmt_rq_gpa(e, 10) + 8, 2,
			    "unplugged block of a live chunk");
	EXPECT_LT(0, held(e, 10, 1));
	r = vmt_ft_reset(e->dev.fd);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_RESET: %s", vmt_errstr(r));
	vmt_ft_model_system_reset(&e->model);
	EXPECT_EQ(0, vmt_ft_allocated(&e->backing))
		TH_LOG("after VHOST_MEM_RESET, %llu KiB of the backing are left (the guest wrote to unplugged block 10: %llu KiB there)",
		       (unsigned long long)vmt_ft_allocated(&e->backing) / 1024,
		       (unsigned long long)held(e, 10, 1) / 1024);
	vmt_rq_check_all(e);
}

TEST_F(reset, system_reset_stopped_or_empty)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	r = vmt_ft_reset(e->dev.fd);
	EXPECT_EQ(-EBADFD, r)
		TH_LOG("VHOST_MEM_RESET before SET_REGION: expected EBADFD, got %s",
		       vmt_errstr(r));
	vmt_rq_env_start(e, RS_REQUESTED);
	/* nothing plugged: only the usable region changes */
	vmt_rq_resize(e, 512ULL << 20);
	vmt_rq_resize(e, 0);
	ASSERT_EQ(0, vmt_ft_reset(e->dev.fd));
	vmt_ft_model_system_reset(&e->model);
	expect_status(_metadata, e->dev.fd, "empty device reset", 0, 0, 0);
	vmt_rq_check_status(e);

	/* stopped: the VM reboots while the device does not run */
	vmt_rq_resize(e, RS_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 10, 2);
	vmt_rq_set_running(e, false);
	ASSERT_EQ(0, vmt_ft_reset(e->dev.fd));
	vmt_ft_model_system_reset(&e->model);
	vmt_rq_check_status(e);
	vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 10), "reset while stopped");
	vmt_rq_set_running(e, true);
	VMT_RQ_EXPECT(e, ACK, PLUG, 10, 2);
	vmt_rq_check_all(e);
}

TEST_F(reset, persistent_suspend_offered)
{
	struct vmt_rq_env *e = &self->e;
	u64 offered;
	int r;

	offered = vmt_ft_open(e, ACK_ALL);
	EXPECT_FALSE(offered & VMT_FT_PS_BIT)
		TH_LOG("no VHOST_MEM_REGION_F_PERSISTENT_SUSPEND: features 0x%llx offer VIRTIO_MEM_F_PERSISTENT_SUSPEND",
		       (unsigned long long)offered);
	r = vmt_vhost_set_features(e->dev.fd, e->dev.features | VMT_FT_PS_BIT);
	EXPECT_EQ(-EOPNOTSUPP, r)
		TH_LOG("SET_FEATURES with PERSISTENT_SUSPEND not offered: expected EOPNOTSUPP, got %s",
		       vmt_errstr(r));

	e->region.flags |= VHOST_MEM_REGION_F_PERSISTENT_SUSPEND;
	offered = vmt_ft_open(e, ACK_ALL);
	ASSERT_TRUE(offered & VMT_FT_PS_BIT)
		TH_LOG("VHOST_MEM_REGION_F_PERSISTENT_SUSPEND: features 0x%llx lack VIRTIO_MEM_F_PERSISTENT_SUSPEND (bit %d)",
		       (unsigned long long)offered,
		       VIRTIO_MEM_F_PERSISTENT_SUSPEND);
	ASSERT_TRUE(e->dev.features & VMT_FT_PS_BIT);
	vmt_ft_start(e, RS_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 5, 3);
	tag_blocks(e, 5, 3, 8);
	/* suspend and resume: the driver resets the device, state stays */
	r = vmt_ft_virtio_reset(e, ACK_ALL);
	ASSERT_EQ(0, r) TH_LOG("resume: %s", vmt_errstr(r));
	RQ_STATE(e, PLUGGED, 5, 3);
	expect_tags(e, 5, 3, 8, "kept across suspend");
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* Several devices in one VM                                          */
/* ------------------------------------------------------------------ */

/* Each device: 64 MiB in 4 chunks of 16 MiB, 4 ids. */
#define MD_SIZE		(64ULL << 20)
#define MD_CHUNK	(16ULL << 20)
#define MD_BLOCKS	(MD_SIZE / BLK)

FIXTURE(multi) {
	struct vmt_rq_env e;		/* device A: GPA 4 GiB, ids 100-103 */
	struct vmt_ft_side side[3];
	struct vmt_vm *vm2;
};

FIXTURE_SETUP(multi)
{
	struct vmt_rq_env *e = &self->e;
	unsigned int i;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	for (i = 0; i < VMT_ARRAY_SIZE(self->side); i++) {
		self->side[i].dev.fd = -1;
		self->side[i].backing.fd = -1;
	}
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ACK_ALL);
	vmt_rq_backing_anon_aligned(&e->backing, MD_SIZE, BLK);
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = MD_CHUNK;
}

FIXTURE_TEARDOWN(multi)
{
	unsigned int i;

	for (i = 0; i < VMT_ARRAY_SIZE(self->side); i++)
		vmt_ft_side_free(&self->side[i]);
	vmt_rq_env_free(&self->e);
	vmt_vm_free(self->vm2);
}

/* A PLUG on a side device, with its answer. */
static void side_rq(struct __test_metadata *_metadata, struct vmt_ft_side *s,
		    u16 want, u16 type, u64 block, u16 nb)
{
	u64 gpa = s->region.guest_phys_addr + block * BLK;
	int got = vmt_mem_request(&s->vq, type, gpa, nb, NULL);

	ASSERT_EQ(want, got)
		TH_LOG("side device (GPA 0x%llx): %s block %llu x %u: expected %s, got %s",
		       (unsigned long long)s->region.guest_phys_addr,
		       vmt_mem_req_name(type), (unsigned long long)block, nb,
		       vmt_mem_resp_name(want),
		       got < 0 ? "no answer" : vmt_mem_resp_name(got));
}

TEST_F(multi, devices_side_by_side)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_ft_side *b = &self->side[0];
	u64 b_gpa = GPA + MD_SIZE;
	int r;

	vmt_rq_env_start(e, MD_SIZE);
	/* right next to A, in GPA and in ids */
	vmt_ft_side_init(b, e->vm, MD_SIZE, b_gpa, MD_CHUNK, SLOT_BASE + 4);
	r = vmt_ft_side_setup(b);
	ASSERT_EQ(0, r) TH_LOG("device B next to A: %s", vmt_errstr(r));
	vmt_ft_side_start(b, MD_SIZE);

	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 2);
	side_rq(_metadata, b, ACK, PLUG, 1, 2);
	side_rq(_metadata, b, ACK, PLUG, 31, 1);
	tag_blocks(e, 1, 2, 9);
	vmt_ft_expect_write(e->vm, b_gpa + BLK + 8, 0xb0b, "device B's block");
	vmt_ft_expect_write(e->vm, b_gpa + 31 * BLK, 0xb1b, "device B's block");
	expect_tags(e, 1, 2, 9, "device A's blocks");
	EXPECT_EQ(0xb0bULL, *(u64 *)((u8 *)b->backing.hva + BLK + 8))
		TH_LOG("the guest's write to device B's block is not in B's backing");
	expect_status(_metadata, e->dev.fd, "device A", 2 * BLK, 1, MD_SIZE);
	expect_status(_metadata, b->dev.fd, "device B", 3 * BLK, 2, MD_SIZE);

	/* one device's UNPLUG leaves the other alone */
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 1, 2);
	vmt_ft_expect_mmio(e->vm, vmt_rq_gpa(e, 1), "A's block unplugged");
	vmt_ft_expect_read(e->vm, b_gpa + BLK + 8, 0xb0b, "device B's block");
	side_rq(_metadata, b, ACK, UNPLUG_ALL, 0, 0);
	vmt_ft_expect_mmio(e->vm, b_gpa + 31 * BLK, "B unplugged all");
	VMT_RQ_EXPECT(e, ACK, PLUG, 30, 2);
	expect_status(_metadata, b->dev.fd, "device B", 0, 0, MD_SIZE);
	vmt_rq_check_all(e);
}

/* SET_REGION of device s must fail with want; nothing is set on it. */
static void expect_refused(struct __test_metadata *_metadata,
			   struct vmt_ft_side *s, int want, const char *what)
{
	struct vhost_mem_status st;
	int r = vmt_ft_side_setup(s);

	EXPECT_EQ(want, r)
		TH_LOG("%s (GPA 0x%llx + 0x%llx, ids %u-%u): expected %s, got %s",
		       what, (unsigned long long)s->region.guest_phys_addr,
		       (unsigned long long)s->region.region_size,
		       s->region.slot_base,
		       s->region.slot_base + s->region.slot_count - 1,
		       vmt_errstr(want), vmt_errstr(r));
	st = status_of(_metadata, s->dev.fd);
	EXPECT_FALSE(st.flags & VHOST_MEM_STATUS_F_REGION)
		TH_LOG("%s: the refused device has a region (flags 0x%x)",
		       what, st.flags);
}

TEST_F(multi, overlaps_refused)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_ft_side *s = self->side;
	struct vhost_mem_status before;
	int r;

	vmt_rq_env_start(e, MD_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 1);		/* chunk 0 (id 100) is live */
	tag_blocks(e, 1, 1, 10);
	before = status_of(_metadata, e->dev.fd);

	/* over A's region: where A has a memslot, and where it has none */
	vmt_ft_side_init(&s[0], e->vm, MD_SIZE, GPA, MD_CHUNK, 200);
	expect_refused(_metadata, &s[0], -EEXIST, "device over A's region");
	vmt_ft_side_init(&s[1], e->vm, MD_SIZE, GPA + MD_SIZE - MD_CHUNK,
			 MD_CHUNK, 210);
	expect_refused(_metadata, &s[1], -EEXIST,
		       "device over A's empty last chunk");
	/* over A's ids: a live one, and free ones */
	vmt_ft_side_init(&s[2], e->vm, MD_SIZE, 16ULL << 30, MD_CHUNK,
			 SLOT_BASE - 2);
	expect_refused(_metadata, &s[2], -EBUSY, "device over A's ids 100-101");
	s[2].region.slot_base = SLOT_BASE + 2;
	r = vmt_mem_set_region(s[2].dev.fd, &s[2].region);
	EXPECT_EQ(-EBUSY, r)
		TH_LOG("device over A's ids 102-105 (no memslot live): expected EBUSY, got %s",
		       vmt_errstr(r));

	/* A did not notice */
	expect_status(_metadata, e->dev.fd, "device A after the refusals",
		      before.plugged_size, before.memslots,
		      before.usable_region_size);
	expect_tags(e, 1, 1, 10, "device A's block after the refusals");
	VMT_RQ_EXPECT(e, ACK, PLUG, 30, 1);
	vmt_rq_check_all(e);

	/* the refused devices can still be set up elsewhere */
	s[0].region.guest_phys_addr = 8ULL << 30;
	r = vmt_mem_set_region(s[0].dev.fd, &s[0].region);
	EXPECT_EQ(0, r) TH_LOG("refused device, then disjoint: %s", vmt_errstr(r));
	s[2].region.slot_base = 300;
	r = vmt_mem_set_region(s[2].dev.fd, &s[2].region);
	EXPECT_EQ(0, r) TH_LOG("refused device, then disjoint ids: %s",
			       vmt_errstr(r));
	vmt_ft_side_start(&s[2], MD_SIZE);
	side_rq(_metadata, &s[2], ACK, PLUG, 0, 1);
	vmt_ft_expect_read(e->vm, (16ULL << 30) + 8, 0, "the third device");

	/* A gone, its region and ids are free */
	vmt_rq_env_close(e);
	s[1].region.guest_phys_addr = GPA;
	s[1].region.slot_base = SLOT_BASE;
	r = vmt_mem_set_region(s[1].dev.fd, &s[1].region);
	EXPECT_EQ(0, r) TH_LOG("A's region and ids after A was closed: %s",
			       vmt_errstr(r));
}

/* Claims are per VM: another VM may use the same GPA and ids. */
TEST_F(multi, other_vm_same_layout)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_ft_side *s = &self->side[0];
	int r;

	vmt_rq_env_start(e, MD_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 1);
	tag_blocks(e, 2, 1, 11);
	self->vm2 = vmt_vm_create(0);
	vmt_ft_side_init(s, self->vm2, MD_SIZE, GPA, MD_CHUNK, SLOT_BASE);
	r = vmt_ft_side_setup(s);
	ASSERT_EQ(0, r) TH_LOG("same GPA and ids in another VM: %s",
			       vmt_errstr(r));
	vmt_ft_side_start(s, MD_SIZE);
	side_rq(_metadata, s, ACK, PLUG, 2, 1);
	vmt_ft_expect_read(self->vm2, GPA + 2 * BLK + 8, 0,
			   "the other VM's device");
	expect_tags(e, 2, 1, 11, "the first VM's device");
	vmt_rq_check_all(e);
}

TEST_HARNESS_MAIN
