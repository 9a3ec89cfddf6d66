// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: what the device discards, and when.
 *
 * - an UNPLUG_ALL with nothing plugged and nothing mapped has no host work:
 *   a guest looping on it must not turn each request into a discard of
 *   the whole region (the probe: a page the VMM faulted in stays there);
 *   with a block plugged, UNPLUG_ALL still discards everything;
 * - an old driver (no VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE) gets the whole
 *   region mapped and may write to unplugged blocks; when a new driver
 *   starts the device, the empty chunks are unmapped and what the old
 *   driver wrote there is freed.
 */
#include "vmt.h"
#include "req_util.h"
#include "vmm_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

/* 8 blocks in 4 chunks of 2 */
#define NR_BLOCKS	8
#define REGION_SIZE	(NR_BLOCKS * BLK)
#define CHUNK		(2 * BLK)
#define NR_CHUNKS	4
#define FLOOD		64	/* UNPLUG_ALLs of the looping guest */

#define ACK_ALL		(~0ULL)
#define ACK_NO_UI	(~VMT_MEM_F_UI)

FIXTURE(discard) {
	struct vmt_rq_env e;
};

VMT_BACKING_VARIANTS(discard);

FIXTURE_SETUP(discard)
{
	struct vmt_rq_env *e = &self->e;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	if (variant->type == VMT_BACKING_ANON) {
		vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ACK_ALL);
		vmt_rq_backing_anon_aligned(&e->backing, REGION_SIZE, BLK);
	} else {
		vmt_rq_env_init(e, VMT_BACKING_MEMFD, REGION_SIZE, ACK_ALL);
	}
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = CHUNK;
}

FIXTURE_TEARDOWN(discard)
{
	vmt_rq_env_free(&self->e);
}

static u64 held(struct vmt_rq_env *e, u64 block)
{
	return vmt_backing_held(&e->backing, block * BLK, BLK);
}

/* The VMM faults a page of an unplugged block in: the discard probe. */
static void vmm_touch(struct vmt_rq_env *e, u64 block)
{
	*(volatile u64 *)vmt_rq_hva(e, block) = 0x5a5a;
}

TEST_F(discard, unplug_all_with_nothing_plugged_discards_nothing)
{
	struct vmt_rq_env *e = &self->e;
	unsigned int i;

	vmt_vmm_open(e, ACK_ALL);
	vmt_vmm_start(e, REGION_SIZE);
	vmm_touch(e, 5);
	ASSERT_LT(0, held(e, 5));
	for (i = 0; i < FLOOD; i++)
		VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	EXPECT_LT(0, held(e, 5))
		TH_LOG("%u UNPLUG_ALLs with nothing plugged and nothing mapped discarded the region",
		       FLOOD);
	vmt_rq_check_all(e);

	/* with one block plugged, UNPLUG_ALL discards the whole region */
	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 1);
	vmt_vm_expect_write(e->vm, vmt_rq_gpa(e, 1) + 8, 1, "plugged");
	VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	EXPECT_EQ(0, vmt_backing_allocated(&e->backing))
		TH_LOG("UNPLUG_ALL with block 1 plugged left %llu KiB",
		       (unsigned long long)vmt_backing_allocated(&e->backing) / 1024);
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 1), "after UNPLUG_ALL");
	vmt_rq_check_all(e);
}

/*
 * kexec from a driver without the bit into one with it: chunk 2 was
 * mapped for the old driver, which wrote to its unplugged block 5.
 */
TEST_F(discard, new_driver_frees_what_the_old_one_wrote)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status st;
	int r;

	vmt_vmm_open(e, ACK_NO_UI);
	vmt_vmm_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 1);
	vmt_vm_expect_write(e->vm, vmt_rq_gpa(e, 0) + 8, 1, "plugged block 0");
	vmt_vm_expect_write(e->vm, vmt_rq_gpa(e, 5) + 8, 2,
			    "unplugged block 5, mapped for the old driver");
	ASSERT_LT(0, held(e, 5));

	r = __vmt_vmm_virtio_reset(e, ACK_ALL);
	ASSERT_EQ(0, r) TH_LOG("restart with the bit: %s", vmt_errname(-r));
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	EXPECT_EQ(1, st.memslots) TH_LOG("memslots: expected 1, got %u",
					 st.memslots);
	EXPECT_EQ(0, held(e, 5))
		TH_LOG("the new driver's start left %llu KiB of what the old driver wrote to unplugged block 5",
		       (unsigned long long)held(e, 5) / 1024);
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 5), "chunk 2, nothing plugged");
	vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, 0) + 8, 1,
			   "plugged block 0 kept its data");
	EXPECT_EQ(held(e, 0), vmt_backing_allocated(&e->backing))
		TH_LOG("the backing holds %llu KiB, block 0 %llu KiB of it",
		       (unsigned long long)vmt_backing_allocated(&e->backing) / 1024,
		       (unsigned long long)held(e, 0) / 1024);
}

TEST_HARNESS_MAIN
