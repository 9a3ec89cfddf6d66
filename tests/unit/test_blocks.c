// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of kernel/blocks.c: every rule of the virtio-mem protocol the
 * device follows, with the values a hostile guest can send.
 *
 * Default geometry: a 4 GiB region at 4 GiB, 2 MiB blocks (2048), 1 GiB
 * chunks (4 chunks of 512 blocks).
 */
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "kselftest_harness.h"

#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)
#define TiB		(1ULL << 40)
#define EXTENT		VHOST_MEM_USABLE_EXTENT

#define BASE		(4 * GiB)
#define REGION		(4 * GiB)
#define BLOCK		(2 * MiB)

#define ACK		VIRTIO_MEM_RESP_ACK
#define NACK		VIRTIO_MEM_RESP_NACK
#define BUSY		VIRTIO_MEM_RESP_BUSY
#define ERROR		VIRTIO_MEM_RESP_ERROR
#define PLUG		VIRTIO_MEM_REQ_PLUG
#define UNPLUG		VIRTIO_MEM_REQ_UNPLUG
#define UNPLUG_ALL	VIRTIO_MEM_REQ_UNPLUG_ALL
#define STATE		VIRTIO_MEM_REQ_STATE

/* Decides on a request by raw guest address and nb_blocks; no commit. */
static u16 decide(struct vhost_mem_blocks *b, u16 type, u64 addr, u16 nb_blocks, bool busy)
{
	struct vhost_mem_plan plan;

	vhost_mem_blocks_decide(b, type, addr, nb_blocks, busy, &plan);
	return plan.resp;
}

/* Decides on a request by block index and commits it if it was ACKed. */
static u16 request(struct vhost_mem_blocks *b, u16 type, u64 first_block, u16 nb_blocks)
{
	struct vhost_mem_plan plan;

	vhost_mem_blocks_decide(b, type, vhost_mem_blocks_gpa(b, first_block), nb_blocks,
				false, &plan);
	vhost_mem_blocks_commit(b, &plan);
	return plan.resp;
}

static u16 state_of(struct vhost_mem_blocks *b, u64 first_block, u16 nb_blocks)
{
	struct vhost_mem_plan plan;

	vhost_mem_blocks_decide(b, STATE, vhost_mem_blocks_gpa(b, first_block), nb_blocks,
				true, &plan);
	return plan.resp == ACK ? plan.state : 0xffff;
}

static u64 popcount(const struct vhost_mem_blocks *b)
{
	u64 i, n = 0;

	for (i = 0; i < b->nr_blocks; i++)
		n += vhost_mem_blocks_is_plugged(b, i);
	return n;
}

/* ---------------------------------------------------------------- init */

TEST(init_geometry_and_initial_state)
{
	struct vhost_mem_blocks b;
	u64 i;

	ASSERT_EQ(0, vhost_mem_blocks_init(&b, BASE, REGION, BLOCK, 0));
	EXPECT_EQ(BASE, b.addr);
	EXPECT_EQ(REGION, b.region_size);
	EXPECT_EQ(BLOCK, b.block_size);
	EXPECT_EQ(VHOST_MEM_DEFAULT_CHUNK_SIZE, b.chunk_size);
	EXPECT_EQ(2048ULL, b.nr_blocks);
	EXPECT_EQ(4ULL, b.nr_chunks);
	EXPECT_EQ(512ULL, b.blocks_per_chunk);
	EXPECT_EQ(0ULL, b.usable_size);
	EXPECT_EQ(0ULL, b.requested_size);
	EXPECT_EQ(0ULL, b.plugged_size);
	EXPECT_EQ(0ULL, popcount(&b));
	for (i = 0; i < b.nr_chunks + 2; i++)
		EXPECT_TRUE(vhost_mem_blocks_chunk_is_empty(&b, i));
	vhost_mem_blocks_free(&b);
	/* A second free is harmless. */
	vhost_mem_blocks_free(&b);
}

TEST(init_chunk_size)
{
	struct vhost_mem_blocks b;

	/* 0 = 1 GiB default, raised to a larger block size. */
	ASSERT_EQ(0, vhost_mem_blocks_init(&b, 2 * GiB, 8 * GiB, 2 * GiB, 0));
	EXPECT_EQ(2 * GiB, b.chunk_size);
	EXPECT_EQ(1ULL, b.blocks_per_chunk);
	EXPECT_EQ(4ULL, b.nr_chunks);
	vhost_mem_blocks_free(&b);

	/* Chunk = block. */
	ASSERT_EQ(0, vhost_mem_blocks_init(&b, BASE, REGION, BLOCK, BLOCK));
	EXPECT_EQ(2048ULL, b.nr_chunks);
	vhost_mem_blocks_free(&b);

	/* A chunk larger than the region: one short chunk. */
	ASSERT_EQ(0, vhost_mem_blocks_init(&b, BASE, 6 * MiB, BLOCK, 1ULL << 62));
	EXPECT_EQ(1ULL, b.nr_chunks);
	EXPECT_EQ(6 * MiB, vhost_mem_blocks_chunk_size(&b, 0));
	vhost_mem_blocks_free(&b);

	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, REGION, BLOCK, 1 * MiB));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, REGION, BLOCK, 3 * GiB));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, REGION, BLOCK, 6 * MiB));
	vhost_mem_blocks_free(&b);
}

TEST(init_block_size)
{
	struct vhost_mem_blocks b;

	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, REGION, 0, 0));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, REGION, 4096, 0));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, REGION, 512 * 1024, 0));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, REGION, 3 * MiB, 0));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, REGION, MiB + 4096, 0));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, REGION, ~0ULL, 0));
	/* Free after a failed init is safe. */
	vhost_mem_blocks_free(&b);

	ASSERT_EQ(0, vhost_mem_blocks_init(&b, BASE, REGION, VHOST_MEM_MIN_BLOCK_SIZE, 0));
	EXPECT_EQ(4096ULL, b.nr_blocks);
	vhost_mem_blocks_free(&b);
}

TEST(init_addr_and_region)
{
	struct vhost_mem_blocks b;

	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, 0, REGION, BLOCK, 0));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE + MiB, REGION, BLOCK, 0));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, 0, BLOCK, 0));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, REGION + MiB, BLOCK, 0));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, BASE, BLOCK / 2, BLOCK, 0));
}

TEST(init_overflow)
{
	struct vhost_mem_blocks b;

	/* Ends exactly at 2^64: the end is not representable. */
	EXPECT_EQ(-EOVERFLOW, vhost_mem_blocks_init(&b, -BLOCK, BLOCK, BLOCK, 0));
	EXPECT_EQ(-EOVERFLOW, vhost_mem_blocks_init(&b, 1ULL << 63, 1ULL << 63, BLOCK, 0));
	EXPECT_EQ(-EOVERFLOW, vhost_mem_blocks_init(&b, -4 * BLOCK, 8 * BLOCK, BLOCK, 0));
	/* The highest region that fits. */
	ASSERT_EQ(0, vhost_mem_blocks_init(&b, -2 * BLOCK, BLOCK, BLOCK, 0));
	EXPECT_EQ(1ULL, b.nr_blocks);
	vhost_mem_blocks_free(&b);
}

TEST(init_limits)
{
	struct vhost_mem_blocks b;
	u64 max_region = VHOST_MEM_BLOCKS_MAX_BLOCKS * MiB;
	u64 max_chunked = VHOST_MEM_BLOCKS_MAX_CHUNKS * MiB;

	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, MiB, max_region + MiB, MiB, 0));
	ASSERT_EQ(0, vhost_mem_blocks_init(&b, MiB, max_region, MiB, 0));
	EXPECT_EQ(VHOST_MEM_BLOCKS_MAX_BLOCKS, b.nr_blocks);
	vhost_mem_blocks_free(&b);

	EXPECT_EQ(-EINVAL, vhost_mem_blocks_init(&b, MiB, max_chunked + MiB, MiB, MiB));
	ASSERT_EQ(0, vhost_mem_blocks_init(&b, MiB, max_chunked, MiB, MiB));
	EXPECT_EQ(VHOST_MEM_BLOCKS_MAX_CHUNKS, b.nr_chunks);
	vhost_mem_blocks_free(&b);
}

/* ------------------------------------------------------ set_requested */

FIXTURE(blocks) {
	struct vhost_mem_blocks b;
};

FIXTURE_SETUP(blocks)
{
	ASSERT_EQ(0, vhost_mem_blocks_init(&self->b, BASE, REGION, BLOCK, 0));
}

FIXTURE_TEARDOWN(blocks)
{
	vhost_mem_blocks_free(&self->b);
}

TEST_F(blocks, set_requested_errors)
{
	struct vhost_mem_blocks *b = &self->b;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, GiB));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_set_requested(b, MiB));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_set_requested(b, GiB + 4096));
	EXPECT_EQ(-ERANGE, vhost_mem_blocks_set_requested(b, REGION + BLOCK));
	EXPECT_EQ(-ERANGE, vhost_mem_blocks_set_requested(b, -BLOCK));
	/* Alignment is checked first, as QEMU. */
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_set_requested(b, REGION + MiB));
	/* Nothing changed by the failures. */
	EXPECT_EQ(GiB, b->requested_size);
	EXPECT_EQ(GiB + EXTENT, b->usable_size);
}

TEST_F(blocks, set_requested_grows_usable_never_shrinks)
{
	struct vhost_mem_blocks *b = &self->b;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, BLOCK));
	EXPECT_EQ(BLOCK + EXTENT, b->usable_size);
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, GiB));
	EXPECT_EQ(GiB, b->requested_size);
	EXPECT_EQ(GiB + EXTENT, b->usable_size);

	/* Lower, and 0: requested follows, usable stays. */
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 512 * MiB));
	EXPECT_EQ(512 * MiB, b->requested_size);
	EXPECT_EQ(GiB + EXTENT, b->usable_size);
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 0));
	EXPECT_EQ(0ULL, b->requested_size);
	EXPECT_EQ(GiB + EXTENT, b->usable_size);

	/* Capped at the region. */
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, REGION - 128 * MiB));
	EXPECT_EQ(REGION, b->usable_size);
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, REGION - EXTENT));
	EXPECT_EQ(REGION, b->usable_size);
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, REGION));
	EXPECT_EQ(REGION, b->usable_size);
	EXPECT_EQ(REGION, b->requested_size);
}

TEST(set_requested_aligns_usable_to_large_blocks)
{
	struct vhost_mem_blocks b;

	ASSERT_EQ(0, vhost_mem_blocks_init(&b, 4 * GiB, 8 * GiB, GiB, 0));
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(&b, GiB));
	/* 1 GiB + 256 MiB, aligned up to the 1 GiB block. */
	EXPECT_EQ(2 * GiB, b.usable_size);
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(&b, 7 * GiB));
	EXPECT_EQ(8 * GiB, b.usable_size);
	vhost_mem_blocks_free(&b);
}

TEST_F(blocks, requested_below_plugged_is_allowed)
{
	struct vhost_mem_blocks *b = &self->b;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 64 * BLOCK));
	ASSERT_EQ(ACK, request(b, PLUG, 0, 64));
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 16 * BLOCK));
	EXPECT_EQ(64 * BLOCK, b->plugged_size);
	EXPECT_EQ(NACK, request(b, PLUG, 64, 1));
	/* UNPLUG is never NACKed. */
	EXPECT_EQ(ACK, request(b, UNPLUG, 0, 48));
	EXPECT_EQ(16 * BLOCK, b->plugged_size);
	EXPECT_EQ(NACK, request(b, PLUG, 0, 1));
}

/* ------------------------------------------------------------- decide */

TEST_F(blocks, unknown_type_is_error)
{
	struct vhost_mem_blocks *b = &self->b;
	struct vhost_mem_plan plan;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, GiB));
	vhost_mem_blocks_decide(b, 4, BASE, 1, false, &plan);
	EXPECT_EQ(ERROR, plan.resp);
	EXPECT_EQ(4, plan.type);
	EXPECT_EQ(0ULL, plan.nr_blocks);
	EXPECT_FALSE(vhost_mem_plan_needs_commit(&plan));
	/* Type before busy. */
	EXPECT_EQ(ERROR, decide(b, 0xffff, BASE, 1, true));
	EXPECT_EQ(ERROR, decide(b, 0x100, BASE, 1, false));
}

TEST_F(blocks, plug_ack_plan)
{
	struct vhost_mem_blocks *b = &self->b;
	struct vhost_mem_plan plan;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, GiB));
	/* Blocks 500..529 span chunks 0 and 1. */
	vhost_mem_blocks_decide(b, PLUG, BASE + 500 * BLOCK, 30, false, &plan);
	ASSERT_EQ(ACK, plan.resp);
	EXPECT_EQ(PLUG, plan.type);
	EXPECT_EQ(500ULL, plan.first_block);
	EXPECT_EQ(30ULL, plan.nr_blocks);
	EXPECT_EQ(0ULL, plan.first_chunk);
	EXPECT_EQ(2ULL, plan.nr_chunks);
	EXPECT_TRUE(vhost_mem_plan_needs_commit(&plan));
	/* Deciding changed nothing. */
	EXPECT_EQ(0ULL, b->plugged_size);
	EXPECT_EQ(0ULL, popcount(b));
}

/* A bad range gets ERROR; on failure say which request it was. */
static void expect_range_error(struct __test_metadata *_metadata, struct vhost_mem_blocks *b,
			       u16 type, u64 addr, u16 nb_blocks, bool busy)
{
	EXPECT_EQ(ERROR, decide(b, type, addr, nb_blocks, busy))
		TH_LOG("type %u addr 0x%llx nb_blocks %u busy %d", type,
		       (unsigned long long)addr, nb_blocks, busy);
}

#define EXPECT_RANGE_ERROR(type, addr, nb_blocks, busy) \
	expect_range_error(_metadata, b, type, addr, nb_blocks, busy)

TEST_F(blocks, range_errors)
{
	struct vhost_mem_blocks *b = &self->b;
	u64 usable_end;
	u16 types[] = { PLUG, UNPLUG, STATE };
	unsigned int i;

	/*
	 * Usable: 640 blocks.  Plug the last 512 of them: the budget is used
	 * up, so a bad PLUG range shows ERROR comes before NACK, and UNPLUG
	 * of the last usable blocks would otherwise be ACKed.
	 */
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, GiB));
	usable_end = BASE + b->usable_size;
	for (i = 0; i < 8; i++)
		ASSERT_EQ(ACK, request(b, PLUG, 128 + i * 64, 64));
	EXPECT_EQ(NACK, decide(b, PLUG, BASE, 1, false));

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		u16 t = types[i];

		EXPECT_RANGE_ERROR(t, BASE, 0, false);
		EXPECT_RANGE_ERROR(t, BASE + 4096, 1, false);
		EXPECT_RANGE_ERROR(t, BASE + MiB, 1, false);
		EXPECT_RANGE_ERROR(t, BASE - BLOCK, 1, false);
		EXPECT_RANGE_ERROR(t, BASE - BLOCK, 2, false);
		EXPECT_RANGE_ERROR(t, 0, 1, false);
		EXPECT_RANGE_ERROR(t, usable_end, 1, false);
		EXPECT_RANGE_ERROR(t, usable_end - BLOCK, 2, false);
		EXPECT_RANGE_ERROR(t, BASE, 65535, false);
		EXPECT_RANGE_ERROR(t, BASE + REGION, 1, false);
		EXPECT_RANGE_ERROR(t, BASE + REGION - BLOCK, 1, false);
		EXPECT_RANGE_ERROR(t, -BLOCK, 1, false);
		EXPECT_RANGE_ERROR(t, -BLOCK, 65535, false);
		EXPECT_RANGE_ERROR(t, -2 * BLOCK, 2, false);
		EXPECT_RANGE_ERROR(t, ~0ULL, 65535, false);
		/* A bad range is ERROR even while busy (QEMU checks it first). */
		EXPECT_RANGE_ERROR(t, BASE, 0, true);
		EXPECT_RANGE_ERROR(t, usable_end - BLOCK, 2, true);
	}
	/* The last usable block itself is fine. */
	EXPECT_EQ(ACK, decide(b, UNPLUG, usable_end - BLOCK, 1, false));
	EXPECT_EQ(ACK, decide(b, STATE, usable_end - BLOCK, 1, false));
}

TEST(hostile_region_at_top_of_address_space)
{
	struct vhost_mem_blocks b;
	u64 base = -4 * BLOCK;

	/* Two blocks ending one block below 2^64. */
	ASSERT_EQ(0, vhost_mem_blocks_init(&b, base, 2 * BLOCK, BLOCK, 0));
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(&b, 2 * BLOCK));
	EXPECT_EQ(2 * BLOCK, b.usable_size);
	EXPECT_EQ(ACK, decide(&b, PLUG, base, 2, false));
	EXPECT_EQ(ACK, decide(&b, PLUG, base + BLOCK, 1, false));
	EXPECT_EQ(ERROR, decide(&b, PLUG, base, 3, false));
	EXPECT_EQ(ERROR, decide(&b, PLUG, base + BLOCK, 2, false));
	EXPECT_EQ(ERROR, decide(&b, PLUG, base + 2 * BLOCK, 1, false));
	EXPECT_EQ(ERROR, decide(&b, PLUG, -BLOCK, 1, false));
	EXPECT_EQ(ERROR, decide(&b, PLUG, base, 65535, false));
	EXPECT_EQ(ERROR, decide(&b, STATE, -BLOCK, 65535, false));
	vhost_mem_blocks_free(&b);
}

TEST(hostile_size_overflow)
{
	struct vhost_mem_blocks b;
	u64 block = 1ULL << 50;

	ASSERT_EQ(0, vhost_mem_blocks_init(&b, block, 4 * block, block, 0));
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(&b, 4 * block));
	/* nb_blocks * 2^50 does not fit in 64 bits. */
	EXPECT_EQ(ERROR, decide(&b, PLUG, block, 65535, false));
	EXPECT_EQ(ERROR, decide(&b, STATE, block, 65535, false));
	EXPECT_EQ(ERROR, decide(&b, UNPLUG, block, 16384, false));
	/* The size fits, the end is exactly 2^64. */
	EXPECT_EQ(ERROR, decide(&b, PLUG, block, 16383, false));
	/* Fits, but past the region. */
	EXPECT_EQ(ERROR, decide(&b, PLUG, block, 5, false));
	EXPECT_EQ(ACK, decide(&b, PLUG, block, 4, false));
	vhost_mem_blocks_free(&b);
}

TEST(max_nb_blocks_request)
{
	struct vhost_mem_blocks b;
	u64 base = TiB;

	ASSERT_EQ(0, vhost_mem_blocks_init(&b, base, 256 * GiB, BLOCK, 0));
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(&b, 200 * GiB));
	ASSERT_EQ(ACK, request(&b, PLUG, 0, 65535));
	EXPECT_EQ(65535 * BLOCK, b.plugged_size);
	EXPECT_EQ(VIRTIO_MEM_STATE_PLUGGED, state_of(&b, 0, 65535));
	EXPECT_EQ(VIRTIO_MEM_STATE_MIXED, state_of(&b, 1, 65535));
	/* Chunks 0..126 full, chunk 127 has 511 blocks. */
	EXPECT_EQ(512U, b.chunk_plugged[126]);
	EXPECT_EQ(511U, b.chunk_plugged[127]);
	EXPECT_EQ(0U, b.chunk_plugged[128]);
	ASSERT_EQ(ACK, request(&b, UNPLUG, 0, 65535));
	EXPECT_EQ(0ULL, b.plugged_size);
	vhost_mem_blocks_free(&b);
}

TEST_F(blocks, nack_for_over_budget_plug)
{
	struct vhost_mem_blocks *b = &self->b;

	/* Nothing requested: the usable region is empty, so a range ERROR. */
	EXPECT_EQ(ERROR, decide(b, PLUG, BASE, 1, false));
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 64 * BLOCK));
	EXPECT_EQ(NACK, decide(b, PLUG, BASE, 65, false));
	ASSERT_EQ(ACK, request(b, PLUG, 0, 63));
	EXPECT_EQ(NACK, request(b, PLUG, 63, 2));
	ASSERT_EQ(ACK, request(b, PLUG, 63, 1));
	EXPECT_EQ(64 * BLOCK, b->plugged_size);
	EXPECT_EQ(NACK, request(b, PLUG, 64, 1));
}

TEST_F(blocks, nack_before_opposite_state_check)
{
	struct vhost_mem_blocks *b = &self->b;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 8 * BLOCK));
	ASSERT_EQ(ACK, request(b, PLUG, 0, 8));
	/* Already plugged and over budget: NACK, not ERROR. */
	EXPECT_EQ(NACK, decide(b, PLUG, BASE, 1, false));
	EXPECT_EQ(NACK, decide(b, PLUG, BASE + 4 * BLOCK, 8, false));
	/* ... and NACK wins over busy too. */
	EXPECT_EQ(NACK, decide(b, PLUG, BASE + 8 * BLOCK, 1, true));
	/* With budget left, plugged blocks are an ERROR. */
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 64 * BLOCK));
	EXPECT_EQ(ERROR, decide(b, PLUG, BASE, 1, false));
}

TEST_F(blocks, opposite_state_errors)
{
	struct vhost_mem_blocks *b = &self->b;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, GiB));
	ASSERT_EQ(ACK, request(b, PLUG, 10, 10));
	/* PLUG of plugged or mixed ranges. */
	EXPECT_EQ(ERROR, request(b, PLUG, 10, 10));
	EXPECT_EQ(ERROR, request(b, PLUG, 19, 1));
	EXPECT_EQ(ERROR, request(b, PLUG, 5, 6));
	EXPECT_EQ(ERROR, request(b, PLUG, 19, 5));
	EXPECT_EQ(ERROR, request(b, PLUG, 0, 100));
	/* UNPLUG of unplugged or mixed ranges. */
	EXPECT_EQ(ERROR, request(b, UNPLUG, 0, 10));
	EXPECT_EQ(ERROR, request(b, UNPLUG, 20, 1));
	EXPECT_EQ(ERROR, request(b, UNPLUG, 9, 2));
	EXPECT_EQ(ERROR, request(b, UNPLUG, 19, 2));
	EXPECT_EQ(ERROR, request(b, UNPLUG, 0, 100));
	/* State never changed through all that. */
	EXPECT_EQ(10 * BLOCK, b->plugged_size);
	EXPECT_EQ(10ULL, popcount(b));
	/* Exactly the opposite state works. */
	EXPECT_EQ(ACK, request(b, PLUG, 0, 10));
	EXPECT_EQ(ACK, request(b, UNPLUG, 5, 10));
	EXPECT_EQ(ACK, request(b, PLUG, 5, 5));
	EXPECT_EQ(15 * BLOCK, b->plugged_size);
	EXPECT_EQ(15ULL, popcount(b));
}

TEST_F(blocks, busy_only_for_otherwise_acked_requests)
{
	struct vhost_mem_blocks *b = &self->b;
	struct vhost_mem_plan plan;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, GiB));
	ASSERT_EQ(ACK, request(b, PLUG, 0, 4));
	EXPECT_EQ(BUSY, decide(b, PLUG, BASE + 4 * BLOCK, 4, true));
	EXPECT_EQ(BUSY, decide(b, UNPLUG, BASE, 4, true));
	EXPECT_EQ(ERROR, decide(b, PLUG, BASE, 4, true));
	EXPECT_EQ(ERROR, decide(b, UNPLUG, BASE + 4 * BLOCK, 4, true));
	EXPECT_EQ(ERROR, decide(b, UNPLUG, BASE + 4096, 4, true));
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 4 * BLOCK));
	EXPECT_EQ(NACK, decide(b, PLUG, BASE + 4 * BLOCK, 1, true));

	/* BUSY plans carry nothing to do. */
	vhost_mem_blocks_decide(b, UNPLUG, BASE, 4, true, &plan);
	EXPECT_EQ(BUSY, plan.resp);
	EXPECT_EQ(0ULL, plan.nr_blocks);
	EXPECT_FALSE(vhost_mem_plan_needs_commit(&plan));
	vhost_mem_blocks_commit(b, &plan);
	EXPECT_EQ(4 * BLOCK, b->plugged_size);
}

TEST_F(blocks, unplug_all_decisions)
{
	struct vhost_mem_blocks *b = &self->b;
	struct vhost_mem_plan plan;

	/* Nothing plugged: ACK even while busy (as QEMU). */
	vhost_mem_blocks_decide(b, UNPLUG_ALL, 0, 0, true, &plan);
	EXPECT_EQ(ACK, plan.resp);
	EXPECT_TRUE(vhost_mem_plan_needs_commit(&plan));

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, GiB));
	ASSERT_EQ(ACK, request(b, PLUG, 100, 1));
	EXPECT_EQ(BUSY, decide(b, UNPLUG_ALL, BASE, 1, true));
	/* addr and nb_blocks are ignored, whatever they hold. */
	vhost_mem_blocks_decide(b, UNPLUG_ALL, ~0ULL, 0, false, &plan);
	EXPECT_EQ(ACK, plan.resp);
	EXPECT_EQ(0ULL, plan.first_block);
	EXPECT_EQ(b->nr_blocks, plan.nr_blocks);
	EXPECT_EQ(0ULL, plan.first_chunk);
	EXPECT_EQ(b->nr_chunks, plan.nr_chunks);
}

TEST_F(blocks, state_answers)
{
	struct vhost_mem_blocks *b = &self->b;
	struct vhost_mem_plan plan;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, GiB));
	ASSERT_EQ(ACK, request(b, PLUG, 10, 10));
	EXPECT_EQ(VIRTIO_MEM_STATE_PLUGGED, state_of(b, 10, 10));
	EXPECT_EQ(VIRTIO_MEM_STATE_PLUGGED, state_of(b, 19, 1));
	EXPECT_EQ(VIRTIO_MEM_STATE_UNPLUGGED, state_of(b, 0, 10));
	EXPECT_EQ(VIRTIO_MEM_STATE_UNPLUGGED, state_of(b, 20, 100));
	EXPECT_EQ(VIRTIO_MEM_STATE_MIXED, state_of(b, 9, 2));
	EXPECT_EQ(VIRTIO_MEM_STATE_MIXED, state_of(b, 19, 2));
	EXPECT_EQ(VIRTIO_MEM_STATE_MIXED, state_of(b, 0, 640));
	/* STATE is never BUSY and changes nothing. */
	vhost_mem_blocks_decide(b, STATE, BASE + 10 * BLOCK, 10, true, &plan);
	EXPECT_EQ(ACK, plan.resp);
	EXPECT_EQ(10ULL, plan.first_block);
	EXPECT_FALSE(vhost_mem_plan_needs_commit(&plan));
	vhost_mem_blocks_commit(b, &plan);
	EXPECT_EQ(10 * BLOCK, b->plugged_size);
	/* Beyond usable (but inside the region) is an ERROR. */
	EXPECT_EQ(ERROR, decide(b, STATE, BASE + b->usable_size, 1, false));
}

/* ------------------------------------------------------------- commit */

TEST_F(blocks, commit_plug_and_unplug)
{
	struct vhost_mem_blocks *b = &self->b;
	u64 i;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 2 * GiB));
	ASSERT_EQ(ACK, request(b, PLUG, 500, 30));
	EXPECT_EQ(30 * BLOCK, b->plugged_size);
	for (i = 0; i < b->nr_blocks; i++)
		EXPECT_EQ(i >= 500 && i < 530, vhost_mem_blocks_is_plugged(b, i));
	EXPECT_EQ(12U, b->chunk_plugged[0]);
	EXPECT_EQ(18U, b->chunk_plugged[1]);
	EXPECT_EQ(0U, b->chunk_plugged[2]);

	ASSERT_EQ(ACK, request(b, UNPLUG, 510, 5));
	EXPECT_EQ(25 * BLOCK, b->plugged_size);
	EXPECT_EQ(10U, b->chunk_plugged[0]);
	EXPECT_EQ(15U, b->chunk_plugged[1]);
	EXPECT_FALSE(vhost_mem_blocks_is_plugged(b, 511));
	EXPECT_TRUE(vhost_mem_blocks_is_plugged(b, 515));
	EXPECT_EQ(25ULL, popcount(b));
}

TEST_F(blocks, commit_ignores_non_acked_plans)
{
	struct vhost_mem_blocks *b = &self->b;
	struct vhost_mem_plan plan;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 4 * BLOCK));
	vhost_mem_blocks_decide(b, PLUG, BASE, 5, false, &plan);
	ASSERT_EQ(NACK, plan.resp);
	vhost_mem_blocks_commit(b, &plan);
	vhost_mem_blocks_decide(b, PLUG, BASE, 0, false, &plan);
	vhost_mem_blocks_commit(b, &plan);
	vhost_mem_blocks_decide(b, 7, BASE, 1, false, &plan);
	vhost_mem_blocks_commit(b, &plan);
	EXPECT_EQ(0ULL, b->plugged_size);
	EXPECT_EQ(0ULL, popcount(b));
}

TEST_F(blocks, commit_unplug_all_shrinks_usable)
{
	struct vhost_mem_blocks *b = &self->b;
	u64 i;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 3 * GiB));
	EXPECT_EQ(3 * GiB + EXTENT, b->usable_size);
	ASSERT_EQ(ACK, request(b, PLUG, 0, 3));
	ASSERT_EQ(ACK, request(b, PLUG, 1500, 100));
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 512 * MiB));
	EXPECT_EQ(3 * GiB + EXTENT, b->usable_size);

	ASSERT_EQ(ACK, request(b, UNPLUG_ALL, 0, 0));
	EXPECT_EQ(0ULL, b->plugged_size);
	EXPECT_EQ(0ULL, popcount(b));
	for (i = 0; i < b->nr_chunks; i++)
		EXPECT_EQ(0U, b->chunk_plugged[i]);
	EXPECT_EQ(512 * MiB + EXTENT, b->usable_size);
	EXPECT_EQ(512 * MiB, b->requested_size);
	/* The old usable tail is gone for the guest. */
	EXPECT_EQ(ERROR, decide(b, STATE, BASE + 512 * MiB + EXTENT, 1, false));

	/* Nothing plugged: still shrinks, to 0 with nothing requested. */
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 0));
	EXPECT_EQ(512 * MiB + EXTENT, b->usable_size);
	ASSERT_EQ(ACK, request(b, UNPLUG_ALL, 0, 0));
	EXPECT_EQ(0ULL, b->usable_size);
	EXPECT_EQ(ERROR, decide(b, STATE, BASE, 1, false));
}

TEST_F(blocks, unplug_all_keeps_usable_at_region_cap)
{
	struct vhost_mem_blocks *b = &self->b;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, REGION));
	ASSERT_EQ(ACK, request(b, PLUG, 2047, 1));
	ASSERT_EQ(ACK, request(b, UNPLUG_ALL, 0, 0));
	EXPECT_EQ(REGION, b->usable_size);
	EXPECT_EQ(ACK, request(b, PLUG, 2047, 1));
}

/* ------------------------------------------------------------- chunks */

FIXTURE(short_chunk) {
	struct vhost_mem_blocks b;
};

/* 2.5 GiB: chunks 0 and 1 of 1 GiB (512 blocks), chunk 2 of 512 MiB. */
FIXTURE_SETUP(short_chunk)
{
	ASSERT_EQ(0, vhost_mem_blocks_init(&self->b, BASE, 2 * GiB + 512 * MiB, BLOCK, GiB));
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(&self->b, 2 * GiB + 512 * MiB));
}

FIXTURE_TEARDOWN(short_chunk)
{
	vhost_mem_blocks_free(&self->b);
}

TEST_F(short_chunk, geometry)
{
	struct vhost_mem_blocks *b = &self->b;

	EXPECT_EQ(1280ULL, b->nr_blocks);
	EXPECT_EQ(3ULL, b->nr_chunks);
	EXPECT_EQ(0ULL, vhost_mem_blocks_chunk_first_block(b, 0));
	EXPECT_EQ(1024ULL, vhost_mem_blocks_chunk_first_block(b, 2));
	EXPECT_EQ(512ULL, vhost_mem_blocks_chunk_nr_blocks(b, 1));
	EXPECT_EQ(256ULL, vhost_mem_blocks_chunk_nr_blocks(b, 2));
	EXPECT_EQ(GiB, vhost_mem_blocks_chunk_size(b, 0));
	EXPECT_EQ(512 * MiB, vhost_mem_blocks_chunk_size(b, 2));
	EXPECT_EQ(GiB, vhost_mem_blocks_chunk_offset(b, 1));
	EXPECT_EQ(2 * GiB, vhost_mem_blocks_chunk_offset(b, 2));
	EXPECT_EQ(BASE + 2 * GiB, vhost_mem_blocks_chunk_gpa(b, 2));
	EXPECT_EQ(0ULL, vhost_mem_blocks_chunk_of(b, 511));
	EXPECT_EQ(1ULL, vhost_mem_blocks_chunk_of(b, 512));
	EXPECT_EQ(2ULL, vhost_mem_blocks_chunk_of(b, 1279));
	/* The chunks tile the region exactly. */
	EXPECT_EQ(b->region_size, vhost_mem_blocks_chunk_offset(b, 2) +
				  vhost_mem_blocks_chunk_size(b, 2));
}

TEST_F(short_chunk, conversions)
{
	struct vhost_mem_blocks *b = &self->b;

	EXPECT_EQ(BASE, vhost_mem_blocks_gpa(b, 0));
	EXPECT_EQ(BASE + 1279 * BLOCK, vhost_mem_blocks_gpa(b, 1279));
	EXPECT_EQ(1279 * BLOCK, vhost_mem_blocks_offset(b, 1279));
	EXPECT_EQ(1279ULL, vhost_mem_blocks_block_at_gpa(b, BASE + 1279 * BLOCK));
	EXPECT_EQ(1279ULL, vhost_mem_blocks_block_at_offset(b, 1279 * BLOCK));
	/* Any address inside a block maps to that block. */
	EXPECT_EQ(7ULL, vhost_mem_blocks_block_at_gpa(b, BASE + 7 * BLOCK + BLOCK - 1));
	EXPECT_EQ(3 * BLOCK, vhost_mem_blocks_bytes(b, 3));
}

TEST_F(short_chunk, populates_chunk)
{
	struct vhost_mem_blocks *b = &self->b;
	struct vhost_mem_plan plan;

	ASSERT_EQ(ACK, request(b, PLUG, 0, 1));
	/* Blocks 500..529: chunk 0 has a plugged block, chunk 1 none. */
	vhost_mem_blocks_decide(b, PLUG, BASE + 500 * BLOCK, 30, false, &plan);
	ASSERT_EQ(ACK, plan.resp);
	EXPECT_FALSE(vhost_mem_plan_populates_chunk(b, &plan, 0));
	EXPECT_TRUE(vhost_mem_plan_populates_chunk(b, &plan, 1));
	EXPECT_FALSE(vhost_mem_plan_populates_chunk(b, &plan, 2));
	EXPECT_FALSE(vhost_mem_plan_populates_chunk(b, &plan, 3));
	EXPECT_FALSE(vhost_mem_plan_populates_chunk(b, &plan, ~0ULL));
	EXPECT_FALSE(vhost_mem_plan_empties_chunk(b, &plan, 1));
	vhost_mem_blocks_commit(b, &plan);
	EXPECT_FALSE(vhost_mem_blocks_chunk_is_empty(b, 1));

	/* The short last chunk, up to its last block. */
	vhost_mem_blocks_decide(b, PLUG, BASE + 1270 * BLOCK, 10, false, &plan);
	ASSERT_EQ(ACK, plan.resp);
	EXPECT_EQ(2ULL, plan.first_chunk);
	EXPECT_EQ(1ULL, plan.nr_chunks);
	EXPECT_TRUE(vhost_mem_plan_populates_chunk(b, &plan, 2));

	/* Not for plans that are not ACKed PLUGs. */
	vhost_mem_blocks_decide(b, PLUG, BASE + 1270 * BLOCK, 10, true, &plan);
	EXPECT_FALSE(vhost_mem_plan_populates_chunk(b, &plan, 2));
	vhost_mem_blocks_decide(b, STATE, BASE + 1270 * BLOCK, 10, false, &plan);
	EXPECT_FALSE(vhost_mem_plan_populates_chunk(b, &plan, 2));
	vhost_mem_blocks_decide(b, UNPLUG_ALL, 0, 0, false, &plan);
	EXPECT_FALSE(vhost_mem_plan_populates_chunk(b, &plan, 2));
}

TEST_F(short_chunk, empties_chunk)
{
	struct vhost_mem_blocks *b = &self->b;
	struct vhost_mem_plan plan;

	ASSERT_EQ(ACK, request(b, PLUG, 500, 30));
	ASSERT_EQ(ACK, request(b, PLUG, 1279, 1));
	/* Unplug chunk 1's part and half of chunk 0's. */
	vhost_mem_blocks_decide(b, UNPLUG, BASE + 506 * BLOCK, 24, false, &plan);
	ASSERT_EQ(ACK, plan.resp);
	EXPECT_FALSE(vhost_mem_plan_empties_chunk(b, &plan, 0));
	EXPECT_TRUE(vhost_mem_plan_empties_chunk(b, &plan, 1));
	EXPECT_FALSE(vhost_mem_plan_empties_chunk(b, &plan, 2));
	EXPECT_FALSE(vhost_mem_plan_populates_chunk(b, &plan, 1));
	vhost_mem_blocks_commit(b, &plan);
	EXPECT_TRUE(vhost_mem_blocks_chunk_is_empty(b, 1));
	EXPECT_FALSE(vhost_mem_blocks_chunk_is_empty(b, 0));

	/* The last block of the short chunk. */
	vhost_mem_blocks_decide(b, UNPLUG, BASE + 1279 * BLOCK, 1, false, &plan);
	ASSERT_EQ(ACK, plan.resp);
	EXPECT_TRUE(vhost_mem_plan_empties_chunk(b, &plan, 2));

	/* UNPLUG_ALL empties exactly the chunks that hold plugged blocks. */
	vhost_mem_blocks_decide(b, UNPLUG_ALL, 0, 0, false, &plan);
	ASSERT_EQ(ACK, plan.resp);
	EXPECT_TRUE(vhost_mem_plan_empties_chunk(b, &plan, 0));
	EXPECT_FALSE(vhost_mem_plan_empties_chunk(b, &plan, 1));
	EXPECT_TRUE(vhost_mem_plan_empties_chunk(b, &plan, 2));
	EXPECT_FALSE(vhost_mem_plan_empties_chunk(b, &plan, 3));
	/* A BUSY UNPLUG_ALL empties nothing. */
	vhost_mem_blocks_decide(b, UNPLUG_ALL, 0, 0, true, &plan);
	ASSERT_EQ(BUSY, plan.resp);
	EXPECT_FALSE(vhost_mem_plan_empties_chunk(b, &plan, 0));
}

/* ----------------------------------------------------------- iterator */

TEST_F(blocks, plugged_runs)
{
	struct vhost_mem_blocks *b = &self->b;
	static const u64 want[][2] = { { 3, 5 }, { 10, 20 }, { 511, 513 }, { 2040, 2048 } };
	u64 start, end, n = 0;

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, REGION));
	ASSERT_EQ(ACK, request(b, PLUG, 3, 2));
	ASSERT_EQ(ACK, request(b, PLUG, 10, 10));
	ASSERT_EQ(ACK, request(b, PLUG, 511, 2));
	ASSERT_EQ(ACK, request(b, PLUG, 2040, 8));

	vhost_mem_blocks_for_each_plugged(b, start, end, 0, b->nr_blocks) {
		ASSERT_LT(n, ARRAY_SIZE(want));
		EXPECT_EQ(want[n][0], start);
		EXPECT_EQ(want[n][1], end);
		n++;
	}
	EXPECT_EQ(ARRAY_SIZE(want), n);

	/* Clipped to [4, 12). */
	n = 0;
	vhost_mem_blocks_for_each_plugged(b, start, end, 4, 12) {
		if (n == 0) {
			EXPECT_EQ(4ULL, start);
			EXPECT_EQ(5ULL, end);
		} else {
			EXPECT_EQ(10ULL, start);
			EXPECT_EQ(12ULL, end);
		}
		n++;
	}
	EXPECT_EQ(2ULL, n);

	/* A limit past the region is clamped. */
	ASSERT_TRUE(vhost_mem_blocks_next_plugged(b, 2000, ~0ULL, &start, &end));
	EXPECT_EQ(2040ULL, start);
	EXPECT_EQ(2048ULL, end);
	EXPECT_FALSE(vhost_mem_blocks_next_plugged(b, 2048, ~0ULL, &start, &end));
	EXPECT_FALSE(vhost_mem_blocks_next_plugged(b, 20, 511, &start, &end));
	EXPECT_FALSE(vhost_mem_blocks_next_plugged(b, 12, 10, &start, &end));
}

TEST_F(blocks, unplugged_runs)
{
	struct vhost_mem_blocks *b = &self->b;
	u64 start, end, n = 0, total = 0;

	/* Empty: one run, the whole region. */
	ASSERT_TRUE(vhost_mem_blocks_next_unplugged(b, 0, b->nr_blocks, &start, &end));
	EXPECT_EQ(0ULL, start);
	EXPECT_EQ(b->nr_blocks, end);
	EXPECT_FALSE(vhost_mem_blocks_next_plugged(b, 0, b->nr_blocks, &start, &end));

	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, REGION));
	ASSERT_EQ(ACK, request(b, PLUG, 0, 1));
	ASSERT_EQ(ACK, request(b, PLUG, 100, 100));
	vhost_mem_blocks_for_each_unplugged(b, start, end, 0, b->nr_blocks) {
		total += end - start;
		n++;
	}
	EXPECT_EQ(2ULL, n);
	EXPECT_EQ(b->nr_blocks - 101, total);
}

TEST_F(blocks, full_sequence)
{
	struct vhost_mem_blocks *b = &self->b;
	u64 start, end, n = 0;

	/* What a Linux guest does: 64-block PLUGs up to the request, then back. */
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, GiB));
	while (b->plugged_size < b->requested_size)
		ASSERT_EQ(ACK, request(b, PLUG, n++ * 64, 64));
	EXPECT_EQ(NACK, request(b, PLUG, n * 64, 64));
	EXPECT_EQ(512U, b->chunk_plugged[0]);
	vhost_mem_blocks_for_each_plugged(b, start, end, 0, b->nr_blocks) {
		EXPECT_EQ(0ULL, start);
		EXPECT_EQ(512ULL, end);
	}
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 256 * MiB));
	while (b->plugged_size > b->requested_size)
		ASSERT_EQ(ACK, request(b, UNPLUG, --n * 64, 64));
	EXPECT_EQ(256 * MiB, b->plugged_size);
	EXPECT_EQ(128U, b->chunk_plugged[0]);
	EXPECT_EQ(GiB + EXTENT, b->usable_size);
}

/* -------------------------------------------------------- migration state */

/* A device with plugged runs in two chunks and a resize behind it. */
static void make_migrated_state(struct __test_metadata *_metadata,
				struct vhost_mem_blocks *b)
{
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 2 * GiB));
	ASSERT_EQ(ACK, request(b, PLUG, 3, 5));
	ASSERT_EQ(ACK, request(b, PLUG, 600, 64));
	ASSERT_EQ(ACK, request(b, UNPLUG, 610, 2));
	ASSERT_EQ(0, vhost_mem_blocks_set_requested(b, 1 * GiB));
}

static u8 *saved_state(struct vhost_mem_blocks *b, size_t *len)
{
	u8 *buf;

	*len = vhost_mem_blocks_state_size(b);
	buf = malloc(*len);
	if (buf)
		vhost_mem_blocks_save(b, buf);
	return buf;
}

TEST_F(blocks, state_round_trip)
{
	struct vhost_mem_blocks dst;
	size_t len;
	u8 *buf;
	u64 i;

	make_migrated_state(_metadata, &self->b);
	buf = saved_state(&self->b, &len);
	ASSERT_NE(NULL, buf);
	EXPECT_EQ(64 + 2048 / 8, len);

	ASSERT_EQ(0, vhost_mem_blocks_init(&dst, BASE, REGION, BLOCK, 0));
	ASSERT_EQ(0, vhost_mem_blocks_restore(&dst, buf, len));
	EXPECT_EQ(self->b.requested_size, dst.requested_size);
	EXPECT_EQ(self->b.usable_size, dst.usable_size);
	EXPECT_EQ(self->b.plugged_size, dst.plugged_size);
	EXPECT_EQ(67ULL * BLOCK, dst.plugged_size);
	for (i = 0; i < dst.nr_blocks; i++)
		EXPECT_EQ(vhost_mem_blocks_is_plugged(&self->b, i),
			  vhost_mem_blocks_is_plugged(&dst, i));
	for (i = 0; i < dst.nr_chunks; i++)
		EXPECT_EQ(self->b.chunk_plugged[i], dst.chunk_plugged[i]);
	/* The restored device answers as the source did. */
	EXPECT_EQ(VIRTIO_MEM_STATE_MIXED, state_of(&dst, 0, 10));
	EXPECT_EQ(VIRTIO_MEM_STATE_PLUGGED, state_of(&dst, 600, 10));
	EXPECT_EQ(ACK, request(&dst, UNPLUG, 600, 10));
	vhost_mem_blocks_free(&dst);
	free(buf);
}

TEST_F(blocks, state_rejected_into_plugged_device)
{
	size_t len;
	u8 *buf;

	make_migrated_state(_metadata, &self->b);
	buf = saved_state(&self->b, &len);
	ASSERT_NE(NULL, buf);
	EXPECT_EQ(-EBUSY, vhost_mem_blocks_restore(&self->b, buf, len));
	free(buf);
}

/* Up to two byte edits of a valid blob, and bytes cut from its end. */
struct state_edit {
	size_t at[2];
	u8 value[2];
	size_t cut;
};

/* Each corruption of a valid blob is refused and changes nothing. */
static void expect_rejected(struct __test_metadata *_metadata, const u8 *good,
			    size_t len, struct state_edit e)
{
	struct vhost_mem_blocks dst;
	u8 *bad = malloc(len);
	int i;

	ASSERT_NE(NULL, bad);
	memcpy(bad, good, len);
	for (i = 0; i < 2; i++)
		if (e.at[i])
			bad[e.at[i]] = e.value[i];
	ASSERT_EQ(0, vhost_mem_blocks_init(&dst, BASE, REGION, BLOCK, 0));
	EXPECT_EQ(-EINVAL, vhost_mem_blocks_restore(&dst, bad, len - e.cut))
		TH_LOG("bytes %zu=0x%x %zu=0x%x, %zu cut", e.at[0], e.value[0],
		       e.at[1], e.value[1], e.cut);
	EXPECT_EQ(0ULL, dst.plugged_size);
	EXPECT_EQ(0ULL, dst.requested_size);
	EXPECT_EQ(0ULL, popcount(&dst));
	vhost_mem_blocks_free(&dst);
	free(bad);
}

#define REJECTED(...) expect_rejected(_metadata, buf, len, (struct state_edit){ __VA_ARGS__ })

/*
 * The saved state: requested 1 GiB, usable 2.25 GiB (1152 blocks), 67
 * blocks plugged (134 MiB = 0x08600000: byte 50 of the header is 0x60).
 */
TEST_F(blocks, state_rejects_bad_blobs)
{
	const size_t map = 64;
	size_t len;
	u8 *buf;

	make_migrated_state(_metadata, &self->b);
	buf = saved_state(&self->b, &len);
	ASSERT_NE(NULL, buf);

	REJECTED(.cut = 1);					/* truncated */
	REJECTED(.at = { 1 }, .value = { 'X' });		/* magic */
	REJECTED(.at = { 4 }, .value = { 2 });			/* version */
	REJECTED(.at = { 12 }, .value = { 2 });		/* addr */
	REJECTED(.at = { 20 }, .value = { 9 });		/* region size */
	REJECTED(.at = { 26 }, .value = { 0x40 });		/* block size */
	REJECTED(.at = { 56 }, .value = { 1 });		/* nr_blocks */
	REJECTED(.at = { 32 }, .value = { 1 });		/* requested misaligned */
	REJECTED(.at = { 37 }, .value = { 0x10 });		/* requested > region */
	REJECTED(.at = { 43 }, .value = { 0 });		/* usable < requested */
	REJECTED(.at = { 50 }, .value = { 0x80 });		/* plugged != map */
	/* One more plugged block, counted: fine inside the usable region... */
	buf[50] = 0x80;
	buf[map] |= 0x01;
	{
		struct vhost_mem_blocks dst;

		ASSERT_EQ(0, vhost_mem_blocks_init(&dst, BASE, REGION, BLOCK, 0));
		EXPECT_EQ(0, vhost_mem_blocks_restore(&dst, buf, len));
		EXPECT_EQ(68ULL * BLOCK, dst.plugged_size);
		vhost_mem_blocks_free(&dst);
	}
	/* ...but not beyond it (block 1200), nor past the region's end. */
	buf[map] &= ~0x01;
	REJECTED(.at = { map + 1200 / 8 }, .value = { 0x01 });
	free(buf);
}

TEST_HARNESS_MAIN
