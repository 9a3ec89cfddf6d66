// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a virtio reset keeps the plug state; VHOST_MEM_RESET unplugs and
 * discards everything (also what the guest wrote to unplugged blocks of a
 * live chunk), deletes the memslots and recomputes the usable region;
 * VIRTIO_MEM_F_PERSISTENT_SUSPEND offered with its flag.
 */
#include "vmt.h"
#include "kselftest_harness.h"
#include "rq_expect.h"

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

	r = __vmt_vmm_virtio_reset(e, ACK_ALL);
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
	VMT_RQ_EXPECT_STATE(e, PLUGGED, 3, 3);
	VMT_RQ_EXPECT_STATE(e, MIXED, 2, 3);
	VMT_RQ_EXPECT_STATE(e, PLUGGED, 40, 2);
	VMT_RQ_EXPECT_STATE(e, UNPLUGGED, 6, 34);
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

	vmt_vmm_system_reset(e);
	expect_status(_metadata, e->dev.fd, "after VHOST_MEM_RESET", 0, 0,
		      RS_USABLE);
	vmt_rq_check_status(e);
	EXPECT_EQ(0, held(e, 0, RS_BLOCKS))
		TH_LOG("%s backing after VHOST_MEM_RESET: expected nothing, got %llu KiB",
		       vmt_backing_name(e->backing.type),
		       (unsigned long long)held(e, 0, RS_BLOCKS) / 1024);
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 300), "after VHOST_MEM_RESET");
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 3), "after VHOST_MEM_RESET");
	VMT_RQ_EXPECT(e, ERROR, STATE, 300, 1);
	VMT_RQ_EXPECT_STATE(e, UNPLUGGED, 0, RS_USABLE / BLK);
	vmt_rq_check_all(e);

	/* the guest boots again and plugs: zeroed memory */
	VMT_RQ_EXPECT(e, ACK, PLUG, 3, 2);
	vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, 3) + 8, 0,
			   "plugged again after a system reset");
	vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, 4) + BLK - 8, 0,
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

	vmt_rq_env_start(e, RS_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 3, 1);
	vmt_vm_expect_write(e->vm, vmt_rq_gpa(e, 3) + 8, 1, "plugged");
	vmt_vm_expect_write(e->vm, vmt_rq_gpa(e, 10) + 8, 2,
			    "unplugged block of a live chunk");
	EXPECT_LT(0, held(e, 10, 1));
	vmt_vmm_system_reset(e);
	EXPECT_EQ(0, vmt_backing_allocated(&e->backing))
		TH_LOG("after VHOST_MEM_RESET, %llu KiB of the backing are left (the guest wrote to unplugged block 10: %llu KiB there)",
		       (unsigned long long)vmt_backing_allocated(&e->backing) / 1024,
		       (unsigned long long)held(e, 10, 1) / 1024);
	vmt_rq_check_all(e);
}

TEST_F(reset, system_reset_stopped_or_empty)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	r = __vmt_vmm_system_reset(e->dev.fd);
	EXPECT_EQ(-EBADFD, r)
		TH_LOG("VHOST_MEM_RESET before SET_REGION: expected EBADFD, got %s",
		       vmt_errstr(r));
	vmt_rq_env_start(e, RS_REQUESTED);
	/* nothing plugged: only the usable region changes */
	vmt_rq_resize(e, 512ULL << 20);
	vmt_rq_resize(e, 0);
	vmt_vmm_system_reset(e);
	expect_status(_metadata, e->dev.fd, "empty device reset", 0, 0, 0);
	vmt_rq_check_status(e);

	/* stopped: the VM reboots while the device does not run */
	vmt_rq_resize(e, RS_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 10, 2);
	vmt_rq_set_running(e, false);
	vmt_vmm_system_reset(e);
	vmt_rq_check_status(e);
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 10), "reset while stopped");
	vmt_rq_set_running(e, true);
	VMT_RQ_EXPECT(e, ACK, PLUG, 10, 2);
	vmt_rq_check_all(e);
}

TEST_F(reset, persistent_suspend_offered)
{
	struct vmt_rq_env *e = &self->e;
	u64 offered;
	int r;

	offered = vmt_vmm_open(e, ACK_ALL);
	EXPECT_FALSE(offered & VMT_MEM_F_PS)
		TH_LOG("no VHOST_MEM_REGION_F_PERSISTENT_SUSPEND: features 0x%llx offer VIRTIO_MEM_F_PERSISTENT_SUSPEND",
		       (unsigned long long)offered);
	r = __vmt_vhost_set_features(e->dev.fd, e->dev.features | VMT_MEM_F_PS);
	EXPECT_EQ(-EOPNOTSUPP, r)
		TH_LOG("SET_FEATURES with PERSISTENT_SUSPEND not offered: expected EOPNOTSUPP, got %s",
		       vmt_errstr(r));

	e->region.flags |= VHOST_MEM_REGION_F_PERSISTENT_SUSPEND;
	offered = vmt_vmm_open(e, ACK_ALL);
	ASSERT_TRUE(offered & VMT_MEM_F_PS)
		TH_LOG("VHOST_MEM_REGION_F_PERSISTENT_SUSPEND: features 0x%llx lack VIRTIO_MEM_F_PERSISTENT_SUSPEND (bit %d)",
		       (unsigned long long)offered,
		       VIRTIO_MEM_F_PERSISTENT_SUSPEND);
	ASSERT_TRUE(e->dev.features & VMT_MEM_F_PS);
	vmt_vmm_start(e, RS_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 5, 3);
	tag_blocks(e, 5, 3, 8);
	/* suspend and resume: the driver resets the device, state stays */
	r = __vmt_vmm_virtio_reset(e, ACK_ALL);
	ASSERT_EQ(0, r) TH_LOG("resume: %s", vmt_errstr(r));
	VMT_RQ_EXPECT_STATE(e, PLUGGED, 5, 3);
	expect_tags(e, 5, 3, 8, "kept across suspend");
	vmt_rq_check_all(e);
}

TEST_HARNESS_MAIN
