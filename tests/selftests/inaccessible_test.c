// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE offered with auto and on, not off;
 * off, or auto with a driver that does not accept it: the whole region is
 * readable (unplugged memory reads 0) and the memslots stay across UNPLUG
 * and system reset, and what such a driver wrote to unplugged memory is
 * gone after UNPLUG_ALL; on refuses such a driver at start, and so does
 * off a driver that accepted the bit before the region was set; with the
 * bit accepted, chunks without a plugged block are MMIO; a new driver
 * after a virtio reset changes the mapping.
 */
#include "vmt.h"
#include "kselftest_harness.h"
#include "rq_expect.h"

#define ACK_NO_UI	(~VMT_MEM_F_UI)

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
			vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, b) + 8, 0, why);
	}
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, UI_BLOCKS), "past the region");
}

/*
 * A device with unplugged_inaccessible off, opened in a VMM's order with
 * every feature acked, UI_SIZE requested.
 */
static void start_ui_off(struct vmt_rq_env *e)
{
	e->region.unplugged_inaccessible = VHOST_MEM_UI_OFF;
	vmt_vmm_open(e, ACK_ALL);
	vmt_vmm_start(e, UI_SIZE);
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
		offered = vmt_vmm_open(e, ACK_ALL);
		EXPECT_EQ(mode != VHOST_MEM_UI_OFF, !!(offered & VMT_MEM_F_UI))
			TH_LOG("unplugged_inaccessible=%s: VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE expected %s, features 0x%llx",
			       ui_name[mode],
			       mode != VHOST_MEM_UI_OFF ? "offered" : "not offered",
			       (unsigned long long)offered);
		EXPECT_EQ(mode != VHOST_MEM_UI_OFF,
			  !!(e->dev.features & VMT_MEM_F_UI));
		if (mode != VHOST_MEM_UI_OFF)
			continue;
		r = __vmt_vhost_set_features(e->dev.fd,
					     e->dev.features | VMT_MEM_F_UI);
		EXPECT_EQ(-EOPNOTSUPP, r)
			TH_LOG("SET_FEATURES with UNPLUGGED_INACCESSIBLE on an 'off' device: expected EOPNOTSUPP, got %s",
			       vmt_errstr(r));
	}
	/* an unknown mode */
	e->region.unplugged_inaccessible = VHOST_MEM_UI_OFF + 1;
	vmt_rq_env_close(e);
	vmt_dev_open_ready(&e->dev, e->vm, &e->vq, ACK_ALL);
	ASSERT_EQ(0, __vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd));
	r = __vmt_mem_set_region(e->dev.fd, &e->region);
	EXPECT_EQ(-EINVAL, r)
		TH_LOG("unplugged_inaccessible=3: expected EINVAL, got %s",
		       vmt_errstr(r));
}

/* off: no feature, and the guest may read all of the region. */
static void whole_region_readable(struct __test_metadata *_metadata,
				  struct vmt_rq_env *e, const char *what)
{
	ASSERT_FALSE(e->dev.features & VMT_MEM_F_UI);
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
	vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, 2) + 8, 0,
			   "unplugged (discarded) and still mapped");
	vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, 7) + BLK - 8, 0,
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

	start_ui_off(e);
	whole_region_readable(_metadata, e, "unplugged_inaccessible=off");
}

/* A system reset discards all, but off keeps the whole region mapped. */
TEST_F(ui, off_system_reset_keeps_the_mapping)
{
	struct vmt_rq_env *e = &self->e;

	start_ui_off(e);
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 2);
	tag_blocks(e, 2, 2, 12);
	vmt_vmm_system_reset(e);
	expect_status(_metadata, e->dev.fd, "off, after VHOST_MEM_RESET", 0,
		      UI_CHUNKS, UI_SIZE);
	EXPECT_EQ(0, vmt_backing_allocated(&e->backing))
		TH_LOG("backing after VHOST_MEM_RESET: %llu KiB left",
		       (unsigned long long)vmt_backing_allocated(&e->backing) / 1024);
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

	start_ui_off(e);
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 1);
	vmt_vm_expect_write(e->vm, vmt_rq_gpa(e, 2) + 8, 1, "plugged");
	vmt_vm_expect_write(e->vm, vmt_rq_gpa(e, 5) + 8, 2,
			    "unplugged, mapped for an old driver");
	EXPECT_LT(0, held(e, 5, 1));
	VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	EXPECT_EQ(0, vmt_backing_allocated(&e->backing))
		TH_LOG("after UNPLUG_ALL, %llu KiB of the backing are left (the old driver wrote to unplugged block 5: %llu KiB there)",
		       (unsigned long long)vmt_backing_allocated(&e->backing) / 1024,
		       (unsigned long long)held(e, 5, 1) / 1024);
	vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, 5) + 8, 0,
			   "unplugged block after UNPLUG_ALL");
}

TEST_F(ui, auto_driver_without_the_bit_reads_everything)
{
	struct vmt_rq_env *e = &self->e;
	u64 offered;

	e->region.unplugged_inaccessible = VHOST_MEM_UI_AUTO;
	offered = vmt_vmm_open(e, ACK_NO_UI);
	ASSERT_TRUE(offered & VMT_MEM_F_UI);
	vmt_vmm_start(e, UI_SIZE);
	whole_region_readable(_metadata, e,
			      "auto, a driver without UNPLUGGED_INACCESSIBLE");
}

TEST_F(ui, on_refuses_a_driver_without_the_bit)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status st;
	int r;

	e->region.unplugged_inaccessible = VHOST_MEM_UI_ON;
	vmt_vmm_open(e, ACK_NO_UI);
	ASSERT_EQ(0, __vmt_mem_set_requested_size(e->dev.fd, UI_SIZE));
	r = __vmt_mem_set_running(e->dev.fd, 1);
	EXPECT_EQ(-EINVAL, r)
		TH_LOG("unplugged_inaccessible=on, driver without the bit: SET_RUNNING 1 expected EINVAL, got %s",
		       vmt_errstr(r));
	st = status_of(_metadata, e->dev.fd);
	EXPECT_FALSE(st.flags & VHOST_MEM_STATUS_F_RUNNING)
		TH_LOG("refused start: flags 0x%x say running", st.flags);
	EXPECT_EQ(0, st.memslots);
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 0), "refused start");

	/* the driver accepts the bit: the device starts */
	r = __vmt_vmm_virtio_reset(e, ACK_ALL);
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
		vmt_vmm_open(e, ACK_ALL);
		ASSERT_TRUE(e->dev.features & VMT_MEM_F_UI);
		vmt_vmm_start(e, UI_SIZE);
		vmt_rq_check_all(e);
		VMT_RQ_EXPECT(e, ACK, PLUG, 2, 1);
		vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 4),
				   "a chunk without a plugged block");
		vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, 3), 0,
				   "the plugged block's chunk");
		vmt_rq_check_all(e);
		VMT_RQ_EXPECT(e, ACK, UNPLUG, 2, 1);
		vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 2),
				   "its only plugged block went");
		vmt_rq_check_all(e);
	}
}

/* kexec into a driver that sees things otherwise: the mapping follows. */
TEST_F(ui, new_driver_after_virtio_reset)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	vmt_vmm_open(e, ACK_NO_UI);
	vmt_vmm_start(e, UI_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 2);
	VMT_RQ_EXPECT(e, ACK, PLUG, 6, 1);
	tag_blocks(e, 2, 2, 4);
	tag_blocks(e, 6, 1, 4);
	expect_status(_metadata, e->dev.fd, "old driver", 3 * BLK, UI_CHUNKS,
		      UI_SIZE);

	r = __vmt_vmm_virtio_reset(e, ACK_ALL);
	ASSERT_EQ(0, r) TH_LOG("restart with the bit: %s", vmt_errstr(r));
	expect_status(_metadata, e->dev.fd, "driver with the bit", 3 * BLK, 2,
		      UI_SIZE);
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 0), "chunk 0, nothing plugged");
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 5), "chunk 2, nothing plugged");
	expect_tags(e, 2, 2, 4, "kept across the virtio reset");
	expect_tags(e, 6, 1, 4, "kept across the virtio reset");
	vmt_rq_check_all(e);

	r = __vmt_vmm_virtio_reset(e, ACK_NO_UI);
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

	if (!(e->dev.features & VMT_MEM_F_UI))
		SKIP(return, "the device does not offer the bit before SET_REGION");
	e->region.unplugged_inaccessible = VHOST_MEM_UI_OFF;
	e->region.slot_count = UI_CHUNKS;
	ASSERT_EQ(0, __vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd));
	r = __vmt_mem_set_region(e->dev.fd, &e->region);
	ASSERT_EQ(0, r) TH_LOG("SET_REGION off: %s", vmt_errstr(r));
	ASSERT_EQ(0, __vmt_mem_set_requested_size(e->dev.fd, UI_SIZE));
	r = __vmt_mem_set_running(e->dev.fd, 1);
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
	vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, 0), 0,
			   "unplugged_inaccessible=off: unplugged memory is readable");
}

TEST_HARNESS_MAIN
