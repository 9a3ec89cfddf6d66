// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: hard protection (VHOST_MEM_REGION_F_HARD_PROTECT).
 *
 * The memslots cover exactly the plugged blocks, one per run of adjacent
 * plugged blocks.  A real vCPU proves it:
 *
 * - an unplugged block between two plugged ones is an MMIO exit, its
 *   neighbours read what the test wrote, before and after resizes that
 *   merge and split runs; GET_STATUS memslots == runs (coalesced);
 * - a random walk of PLUG/UNPLUG/UNPLUG_ALL checked block by block;
 * - while a vCPU reads two plugged blocks in a loop inside the guest, runs
 *   around them are split and merged again and again: it never meets an
 *   MMIO exit or a wrong value (the vCPUs are held while a memslot is
 *   replaced), and was really sent out of KVM_RUN for it.  Without the
 *   hold, 72 of 80 replacements were caught on 6.12 with one CPU in the
 *   test VM, none on 6.1, where the window closes before the vCPU runs
 *   again: make check runs this program on two CPUs too (92 caught);
 * - set-up: chunk_size set, unplugged-inaccessible "off" (EINVAL), too few
 *   memslot ids (ENOSPC), memslots_max; a driver without
 *   VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE cannot start the device;
 * - a restored state maps one memslot per run; a system reset none;
 * - the VMM moves one of the device's memslots elsewhere (same id, another
 *   GPA) and the device restarts: no oops, the run is mapped again from
 *   another id, the VMM's moved memslot is left alone, and the module's
 *   refcount is 0 once the device is closed;
 * - a torn layout (four memslots over one run, as the VMM can make by
 *   deleting a memslot and putting it back after a PLUG next to it): an
 *   UNPLUG cutting both ends holds the vCPUs once, counted with a kprobe.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmt.h"
#include "req_util.h"
#include "vmm_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

#define REGION_SIZE	(32ULL << 20)	/* 16 blocks */
#define NR_BLOCKS	(REGION_SIZE / BLK)
#define HARD		VHOST_MEM_REGION_F_HARD_PROTECT

/* Where in each block the test keeps its tag. */
#define TAG_OFF		0x2340

/* Every request here must be ACKed (and match the model). */
#define RQ_ACK(e, type, block, nb) VMT_RQ_EXPECT(e, ACK, type, block, nb)

static u64 tag(u64 block)
{
	return vmt_block_tag(7, block, TAG_OFF);
}

static void put_tag(struct vmt_rq_env *e, u64 block)
{
	*(volatile u64 *)((u8 *)vmt_rq_hva(e, block) + TAG_OFF) = tag(block);
}

static u32 status_memslots(struct vmt_rq_env *e)
{
	struct vhost_mem_status st;

	TEST_ASSERT(!__vmt_mem_get_status(e->dev.fd, &st), "GET_STATUS");
	return st.memslots;
}

/*
 * Block by block: plugged ones read their tag (or 0 once discarded, if
 * fresh), unplugged ones and the first GPA past the region are MMIO.
 */
static void expect_layout(struct vmt_rq_env *e, const bool *fresh)
{
	u64 b, gpa, val;
	int r;

	for (b = 0; b <= NR_BLOCKS; b++) {
		gpa = vmt_rq_gpa(e, b) + TAG_OFF;
		r = vmt_guest_read_u64(e->vm, gpa, &val);
		if (b == NR_BLOCKS || !vmt_model_plugged(&e->model, b)) {
			TEST_ASSERT(r == VMT_ACCESS_MMIO,
				    "block %llu (unplugged or past the region): expected %s, got %s",
				    (unsigned long long)b,
				    vmt_access_name(VMT_ACCESS_MMIO),
				    vmt_access_name(r));
			continue;
		}
		TEST_ASSERT(r == VMT_ACCESS_OK,
			    "plugged block %llu: expected a completed read, got %s",
			    (unsigned long long)b, vmt_access_name(r));
		TEST_ASSERT(val == (fresh && fresh[b] ? 0 : tag(b)),
			    "plugged block %llu: expected 0x%llx, got 0x%llx",
			    (unsigned long long)b,
			    (unsigned long long)(fresh && fresh[b] ? 0 : tag(b)),
			    (unsigned long long)val);
	}
	vmt_rq_check_status(e);
}

FIXTURE(hard) {
	struct vmt_rq_env e;
};

VMT_BACKING_VARIANTS(hard);

FIXTURE_SETUP(hard)
{
	struct vmt_rq_env *e = &self->e;
	u64 b;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	if (variant->type == VMT_BACKING_ANON) {
		vmt_rq_env_init(e, variant->type, 0, ~0ULL);
		vmt_rq_backing_anon_aligned(&e->backing, REGION_SIZE, BLK);
		vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, BLK,
				VMT_RQ_SLOT_BASE);
	} else {
		vmt_rq_env_init(e, variant->type, REGION_SIZE, ~0ULL);
	}
	e->region.flags |= HARD;
	vmt_rq_env_start(e, REGION_SIZE);
	for (b = 0; b < NR_BLOCKS; b++)
		put_tag(e, b);
}

FIXTURE_TEARDOWN(hard)
{
	vmt_rq_env_free(&self->e);
}

TEST_F(hard, unplugged_between_plugged_is_mmio)
{
	struct vmt_rq_env *e = &self->e;
	bool fresh[NR_BLOCKS] = { false };

	expect_layout(e, NULL);
	RQ_ACK(e, PLUG, 2, 2);
	RQ_ACK(e, PLUG, 6, 2);
	EXPECT_EQ(2, status_memslots(e));
	/* 4 and 5 lie between two plugged runs */
	expect_layout(e, NULL);

	/* the gap closes: one run, one memslot */
	RQ_ACK(e, PLUG, 4, 2);
	EXPECT_EQ(1, status_memslots(e));
	expect_layout(e, NULL);

	/* a hole in the middle: split into two */
	RQ_ACK(e, UNPLUG, 4, 1);
	EXPECT_EQ(2, status_memslots(e));
	expect_layout(e, NULL);

	/* plugged again: discarded meanwhile, so it reads 0 */
	RQ_ACK(e, PLUG, 4, 1);
	fresh[4] = true;
	EXPECT_EQ(1, status_memslots(e));
	expect_layout(e, fresh);

	/* the edges, and a run at the end of the region */
	RQ_ACK(e, UNPLUG, 2, 1);
	RQ_ACK(e, UNPLUG, 7, 1);
	RQ_ACK(e, PLUG, 15, 1);
	RQ_ACK(e, PLUG, 0, 1);
	EXPECT_EQ(3, status_memslots(e));
	expect_layout(e, fresh);

	RQ_ACK(e, UNPLUG_ALL, 0, 0);
	EXPECT_EQ(0, status_memslots(e));
	expect_layout(e, NULL);
	vmt_rq_check_all(e);
}

/* A seeded random walk; after each request, every block is checked. */
TEST_F(hard, random_resizes)
{
	struct vmt_rq_env *e = &self->e;
	bool fresh[NR_BLOCKS] = { false };
	unsigned int i, seed = 4242;
	u64 first, nb, b;
	u16 type, resp;

	for (i = 0; i < 60; i++) {
		first = rand_r(&seed) % NR_BLOCKS;
		nb = 1 + rand_r(&seed) % 4;
		if (first + nb > NR_BLOCKS)
			nb = NR_BLOCKS - first;
		type = rand_r(&seed) % 16 ? rand_r(&seed) % 2 ? PLUG : UNPLUG :
		       UNPLUG_ALL;
		if (type == UNPLUG_ALL) {
			first = 0;
			nb = NR_BLOCKS;
		}
		/* the model predicts NACK/ERROR for the ranges that need it */
		resp = vmt_rq_send(e, type, vmt_rq_gpa(e, first),
				   type == UNPLUG_ALL ? 0 : nb, NULL);
		/* what an UNPLUG discarded reads 0 once plugged again */
		for (b = first; resp == ACK && type != PLUG && b < first + nb; b++)
			fresh[b] = true;
		expect_layout(e, fresh);
	}
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* No plugged block is ever unmapped while the vCPU runs              */
/* ------------------------------------------------------------------ */

#define CHURN_ROUNDS	40
#define CHURN_BATCHES	5	/* at most, until a vCPU was held in KVM_RUN */
#define SCAN_LOOPS	20000

struct churn {
	struct vmt_rq_env *e;
	int done;		/* __atomic */
	unsigned int rounds;
	bool failed;
};

/* Splits the run of blocks 0-15 around block 8, and merges it again. */
static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	struct vmt_rq_env *e = c->e;
	u64 gpa = vmt_rq_gpa(e, 8);

	for (c->rounds = 0; c->rounds < CHURN_ROUNDS; c->rounds++) {
		if (__vmt_mem_unplug(&e->vq, gpa, 1) != ACK ||
		    __vmt_mem_plug(&e->vq, gpa, 1) != ACK) {
			c->failed = true;
			break;
		}
	}
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST_F(hard, neighbours_stay_mapped_while_runs_change)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_scan scan = { 0 };
	struct churn c = { .e = e };
	unsigned int scans = 0, batches;
	pthread_t thread;

	RQ_ACK(e, PLUG, 0, NR_BLOCKS);
	EXPECT_EQ(1, status_memslots(e));
	/* the same value in both neighbours of block 8 */
	*(volatile u64 *)((u8 *)vmt_rq_hva(e, 7) + TAG_OFF) = tag(99);
	*(volatile u64 *)((u8 *)vmt_rq_hva(e, 9) + TAG_OFF) = tag(99);

	/*
	 * A hold takes a vCPU that is out of KVM_RUN without an EINTR: with
	 * several vCPUs waiting for each other, a batch may meet none inside,
	 * so batches go on until one was held through its thread.
	 */
	for (batches = 0; batches < CHURN_BATCHES && !scan.interrupted; batches++) {
		c.done = 0;
		ASSERT_EQ(0, pthread_create(&thread, NULL, churn_thread, &c));
		while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE)) {
			vmt_guest_scan(e->vm, vmt_rq_gpa(e, 7) + TAG_OFF,
				       vmt_rq_gpa(e, 9) + TAG_OFF, tag(99),
				       SCAN_LOOPS, &scan);
			scans++;
		}
		ASSERT_EQ(0, pthread_join(thread, NULL));
		ASSERT_FALSE(c.failed) TH_LOG("a PLUG or UNPLUG of block 8 was not ACKed");
	}
	TH_LOG("%u batches of %u splits and merges during %u guest scans: %llu KVM_RUN EINTRs",
	       batches, c.rounds, scans, (unsigned long long)scan.interrupted);
	EXPECT_EQ(0, scan.mmio_exits)
		TH_LOG("the vCPU found a plugged neighbour unmapped %llu times",
		       (unsigned long long)scan.mmio_exits);
	EXPECT_EQ(0, scan.mismatches)
		TH_LOG("the vCPU read a wrong value %llu times",
		       (unsigned long long)scan.mismatches);
	/* it was held through its thread, not by luck */
	EXPECT_LT(0, scan.interrupted)
		TH_LOG("KVM_RUN never returned EINTR: the vCPU was not held");
	/* (the thread drove the ring behind the model's back: no status check) */
}

/* ------------------------------------------------------------------ */
/* Set-up                                                             */
/* ------------------------------------------------------------------ */

FIXTURE(hard_setup) {
	struct vmt_rq_env e;
};

FIXTURE_SETUP(hard_setup)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(&self->e, VMT_BACKING_ANON, REGION_SIZE, ~0ULL);
	self->e.region.flags |= HARD;
	self->e.region.slot_count = NR_BLOCKS / 2;
	ASSERT_EQ(0, __vmt_mem_set_vm(self->e.dev.fd, self->e.vm->vm_fd));
}

FIXTURE_TEARDOWN(hard_setup)
{
	vmt_rq_env_free(&self->e);
}

#define EXPECT_REGION_ERR(want, stmt, what) do { \
	struct vhost_mem_region r = self->e.region; \
	int __r; \
	stmt; \
	__r = __vmt_mem_set_region(self->e.dev.fd, &r); \
	EXPECT_EQ(want, __r) TH_LOG("%s: expected %s, got %s", what, \
				    vmt_errname(-(want)), vmt_errname(-__r)); \
} while (0)

TEST_F(hard_setup, bad_regions_then_the_good_one)
{
	struct vhost_mem_status st;

	EXPECT_REGION_ERR(-EINVAL, r.chunk_size = 4 * BLK,
			  "hard protection with a chunk size");
	EXPECT_REGION_ERR(-EINVAL, r.chunk_size = BLK,
			  "hard protection with chunk size = block size");
	EXPECT_REGION_ERR(-EINVAL, r.unplugged_inaccessible = VHOST_MEM_UI_OFF,
			  "hard protection with unplugged-inaccessible off");
	/* every other block plugged needs 8 memslots */
	EXPECT_REGION_ERR(-ENOSPC, r.slot_count = NR_BLOCKS / 2 - 1,
			  "7 memslot ids for 16 blocks");

	ASSERT_EQ(0, __vmt_mem_set_region(self->e.dev.fd, &self->e.region));
	ASSERT_EQ(0, __vmt_mem_get_status(self->e.dev.fd, &st));
	EXPECT_EQ(NR_BLOCKS / 2, st.memslots_max);
	EXPECT_EQ(BLK, st.chunk_size);
	EXPECT_EQ(0, st.memslots);
}

/* A driver that may touch unplugged memory cannot have hard protection. */
TEST(hard_needs_unplugged_inaccessible)
{
	struct vmt_rq_env e;
	int r;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(&e, VMT_BACKING_ANON, REGION_SIZE, ~0ULL);
	e.region.flags |= HARD;
	vmt_vmm_open(&e, ~VMT_MEM_F_UI);
	ASSERT_EQ(0, __vmt_mem_set_requested_size(e.dev.fd, BLK));
	r = __vmt_mem_set_running(e.dev.fd, 1);
	EXPECT_EQ(-EINVAL, r)
		TH_LOG("SET_RUNNING, driver without UNPLUGGED_INACCESSIBLE: expected EINVAL, got %s",
		       vmt_errname(-r));
	vmt_rq_env_free(&e);
}

/* ------------------------------------------------------------------ */
/* Restore and reset                                                  */
/* ------------------------------------------------------------------ */

TEST_F(hard, restore_maps_runs_reset_unmaps_all)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_model saved;
	u8 *blob;
	u64 len;

	RQ_ACK(e, PLUG, 1, 3);
	RQ_ACK(e, PLUG, 5, 1);
	RQ_ACK(e, PLUG, 9, 4);
	RQ_ACK(e, UNPLUG, 10, 1);
	ASSERT_EQ(4, status_memslots(e));
	ASSERT_EQ(0, __vmt_vmm_set_paused(e->dev.fd, 1));
	blob = vmt_vmm_save(e->dev.fd, &len);
	vmt_model_copy(&saved, &e->model, 0);

	/* a fresh device on the same VM, backing and region */
	vmt_vmm_open(e, ~0ULL);
	ASSERT_EQ(0, __vmt_vmm_set_state(e->dev.fd, blob, len));
	free(blob);
	vmt_vmm_start(e, saved.requested);
	vmt_model_free(&e->model);
	e->model = saved;
	e->model.hard = true;
	/* the tags are still in the backing: nothing was discarded */
	EXPECT_EQ(4, status_memslots(e));
	expect_layout(e, NULL);

	vmt_vmm_system_reset(e);
	EXPECT_EQ(0, status_memslots(e));
	expect_layout(e, NULL);
}

/* ------------------------------------------------------------------ */
/* The VMM changes the device's memslots behind its back              */
/* ------------------------------------------------------------------ */

/* below the region: a block index from it wraps */
#define FAR_GPA		(2ULL << 30)

/* SET_RUNNING 0, a fresh ring, SET_RUNNING 1: its answer. */
static int restart(struct vmt_rq_env *e)
{
	vmt_rq_set_running(e, false);
	TEST_ASSERT(!__vmt_vq_attach(&e->vq, e->dev.fd, VHOST_MEM_REQUESTQ,
				     e->dev.features), "re-attaching the requestq");
	return __vmt_mem_set_running(e->dev.fd, 1);
}

TEST_F(hard, vmm_moves_a_memslot_then_restart)
{
	struct vmt_rq_env *e = &self->e;
	u64 val = 0;
	int r, refs;

	RQ_ACK(e, PLUG, 2, 2);
	ASSERT_EQ(1, status_memslots(e));
	/* KVM takes it as a move: same id, size and memory, another GPA */
	r = __vmt_vm_set_memslot(e->vm, SLOT_BASE, FAR_GPA, 2 * BLK,
				 vmt_rq_hva(e, 2), 0);
	ASSERT_EQ(0, r) TH_LOG("the VMM moves memslot %u: %s", SLOT_BASE,
			       vmt_errname(-r));
	r = restart(e);
	ASSERT_EQ(0, r) TH_LOG("restart after the VMM moved memslot %u: %s",
			       SLOT_BASE, vmt_errname(-r));
	e->running = true;
	/* the run is mapped again, from another id; the VMM's one is left */
	expect_layout(e, NULL);
	EXPECT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(e->vm, FAR_GPA + TAG_OFF, &val));
	EXPECT_EQ(tag(2), val) TH_LOG("the VMM's moved memslot was touched");
	RQ_ACK(e, PLUG, 4, 1);
	RQ_ACK(e, UNPLUG, 3, 1);
	expect_layout(e, NULL);
	vmt_rq_check_all(e);

	vmt_rq_env_close(e);
	EXPECT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(e->vm, FAR_GPA + TAG_OFF, &val));
	vmt_vm_delete_memslot(e->vm, SLOT_BASE);
	refs = __vmt_module_refcnt(VMT_MODULE_NAME);
	if (refs != -ENOENT)
		EXPECT_EQ(0, refs) TH_LOG("vhost_mem's refcount after the close: %d",
					  refs);
}

/* kprobe hits on the module's vCPU hold; -1 where kprobes are not to be had. */
#define TRACEFS		"/sys/kernel/tracing/"
#define HOLD_PROBE	"vmt_vcpus_stop"

static int tracefs_write(const char *file, const char *text, bool append)
{
	char path[128];
	int fd, r;

	snprintf(path, sizeof(path), TRACEFS "%s", file);
	fd = open(path, O_WRONLY | (append ? O_APPEND : O_TRUNC));
	if (fd < 0)
		return -1;
	r = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return r;
}

static int hold_probe_add(void)
{
	if (tracefs_write("kprobe_events",
			  "p:" HOLD_PROBE " " VMT_MODULE_NAME ":vhost_mem_vcpus_stop\n",
			  true))
		return -1;
	return tracefs_write("events/kprobes/" HOLD_PROBE "/enable", "1", false);
}

static void hold_probe_del(void)
{
	tracefs_write("events/kprobes/" HOLD_PROBE "/enable", "0", false);
	tracefs_write("kprobe_events", "-:" HOLD_PROBE "\n", true);
}

static long hold_probe_hits(void)
{
	FILE *f = fopen(TRACEFS "kprobe_profile", "r");
	char name[64];
	long hits = -1, h, missed;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld %ld", name, &h, &missed) == 3)
		if (!strcmp(name, HOLD_PROBE))
			hits = h;
	fclose(f);
	return hits;
}

/*
 * The VMM deletes memslot id, the guest plugs [first, first + nr) next to
 * its blocks (the device finds no memslot there: a new one), and the VMM
 * creates the memslot again as the device had it.
 */
static void tear(struct vmt_rq_env *e, u32 id, u64 id_first, u64 id_nr,
		 u64 first, u64 nr)
{
	int r;

	vmt_vm_delete_memslot(e->vm, id);
	TEST_ASSERT(vmt_rq_send(e, PLUG, vmt_rq_gpa(e, first), nr, NULL) == ACK,
		    "PLUG of blocks %llu-%llu", (unsigned long long)first,
		    (unsigned long long)(first + nr - 1));
	r = __vmt_vm_set_memslot(e->vm, id, vmt_rq_gpa(e, id_first), id_nr * BLK,
				 vmt_rq_hva(e, id_first), 0);
	TEST_ASSERT(!r, "the VMM puts memslot %u back: %s", id, vmt_errname(-r));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

TEST_F(hard, torn_layout_unplug_holds_vcpus_once)
{
	struct vmt_rq_env *e = &self->e;
	long before, holds;
	double t;

	/* four memslots over the run of blocks 0-15, ids 0-3 */
	RQ_ACK(e, PLUG, 0, 4);
	tear(e, SLOT_BASE, 0, 4, 4, 4);
	tear(e, SLOT_BASE + 1, 4, 4, 8, 4);
	tear(e, SLOT_BASE + 2, 8, 4, 12, 4);
	/* (more memslots than runs: no status check against the model yet) */
	ASSERT_EQ(4, status_memslots(e));

	if (hold_probe_add()) {
		hold_probe_del();
		SKIP(return, "no kprobe on vhost_mem_vcpus_stop (tracefs: %s)",
		     strerror(errno));
	}
	before = hold_probe_hits();
	t = now_ms();
	/* cuts ids 0 and 3, deletes 1 and 2 */
	RQ_ACK(e, UNPLUG, 2, 12);
	t = now_ms() - t;
	holds = hold_probe_hits() - before;
	hold_probe_del();
	TH_LOG("UNPLUG over 4 memslots: %ld vCPU holds, %.1f ms", holds, t);
	EXPECT_EQ(1, holds)
		TH_LOG("one UNPLUG held the vCPUs %ld times", holds);
	EXPECT_EQ(2, status_memslots(e));
	expect_layout(e, NULL);
	RQ_ACK(e, PLUG, 2, 12);
	EXPECT_EQ(1, status_memslots(e));
	vmt_rq_check_all(e);
}

TEST_HARNESS_MAIN
