// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: requests at the limits of the geometry: 65535 blocks
 * in one request, and a usable region that stays block aligned when the
 * blocks are larger than the extent.
 */
#include "requests.h"

/* ------------------------------------------------------------------ */
/* 65535 blocks in one request                                        */
/* ------------------------------------------------------------------ */

FIXTURE(big) {
	struct vmt_rq_env e;
};

VMT_BACKING_VARIANTS(big);

/* 64 GiB of 1 MiB blocks: 65536 blocks, 64 chunks of 1 GiB. */
FIXTURE_SETUP(big)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(&self->e, variant->type, 64ULL << 30, ~0ULL);
	self->e.region.block_size = 1ULL << 20;
}

FIXTURE_TEARDOWN(big)
{
	vmt_rq_env_free(&self->e);
}

TEST_F_TIMEOUT(big, max_nb_blocks, 120)
{
	struct vmt_rq_env *e = &self->e;
	const u64 mib = 1ULL << 20;

	vmt_rq_env_start(e, 65535 * mib);
	/* blocks 2-65536: one past the region */
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 2), 0xffff);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 0xffff);
	expect_sizes(_metadata, e, 64ULL << 30, 65535 * mib, 64);
	RQ_STATE(e, PLUGGED, vmt_rq_gpa(e, 0), 0xffff);
	RQ_STATE(e, MIXED, vmt_rq_gpa(e, 1), 0xffff);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 65535), 1);
	vmt_rq_resize(e, 64ULL << 30);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 65535), 1);
	vmt_rq_check_all(e);

	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 1), 0xffff);
	expect_sizes(_metadata, e, 64ULL << 30, mib, 1);
	RQ(e, ACK, UNPLUG_ALL, 0, 0);
	expect_sizes(_metadata, e, 64ULL << 30, 0, 0);
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* Block-aligned usable region (blocks larger than the extent)        */
/* ------------------------------------------------------------------ */

FIXTURE(bigblock) {
	struct vmt_rq_env e;
};

FIXTURE_SETUP(bigblock)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	/* 2 GiB of 512 MiB blocks */
	vmt_rq_env_init(&self->e, VMT_BACKING_ANON, 2ULL << 30, ~0ULL);
	self->e.region.block_size = 512ULL << 20;
}

FIXTURE_TEARDOWN(bigblock)
{
	vmt_rq_env_free(&self->e);
}

TEST_F(bigblock, usable_region_block_aligned)
{
	struct vmt_rq_env *e = &self->e;
	const u64 blk = 512ULL << 20;

	vmt_rq_env_start(e, blk);
	/* 512 + 256 MiB, aligned up to 1 GiB */
	expect_sizes(_metadata, e, 2 * blk, 0, 0);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 1), 1);
	RQ(e, ERROR, STATE, vmt_rq_gpa(e, 2), 1);
	/* 1 GiB + 256 MiB: 1.5 GiB */
	vmt_rq_resize(e, 2 * blk);
	expect_sizes(_metadata, e, 3 * blk, blk, 1);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 2), 1);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 3), 1);
	/* 1.5 GiB + 256 MiB: the whole region */
	vmt_rq_resize(e, 3 * blk);
	expect_sizes(_metadata, e, 4 * blk, 2 * blk, 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 3), 1);
	RQ(e, ACK, UNPLUG_ALL, 0, 0);
	expect_sizes(_metadata, e, 4 * blk, 0, 0);
	vmt_rq_resize(e, blk);
	RQ(e, ACK, UNPLUG_ALL, 0, 0);
	expect_sizes(_metadata, e, 2 * blk, 0, 0);
	vmt_rq_check_all(e);
}

TEST_HARNESS_MAIN
