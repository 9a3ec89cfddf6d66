// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: every request type and every answer rule.
 *
 * The test is the guest's driver: it sends PLUG, UNPLUG, UNPLUG_ALL, STATE
 * and unknown requests over the requestq and states the answer it expects
 * with a literal.  Each answer is also checked against a model of the
 * device (lib/req_util.h), which then predicts GET_STATUS: sizes, memslots
 * and the requests[type][answer] counters are cross-checked against what the
 * guest saw, and so are STATE answers and guest accesses to the region.
 *
 * - PLUG: ACK, NACK beyond the requested size (checked before the blocks'
 *   state), ERROR for bad ranges and blocks not all unplugged;
 * - UNPLUG: ACK, never NACK, ERROR likewise;
 * - UNPLUG_ALL with and without plugged memory, the usable region shrinking;
 * - STATE: PLUGGED, UNPLUGGED, MIXED, ERROR; unknown types: ERROR;
 * - the usable region on resize: grows, block aligned, capped, never shrinks;
 * - BUSY when the host side fails (memslot or discard), state unchanged;
 * - stop/start: requests wait while stopped and are answered after start;
 * - the counters against a script with literal totals.
 */
#include "requests.h"

/* Near the top of the 64-bit space: every one must be refused. */
static const u64 wrapping_addrs[] = {
	0xffffffffffe00000ULL,	/* the last 2 MiB: ends at 2^64 */
	0xffffffffffc00000ULL,
	0xfffffffffe000000ULL,
	0x8000000000000000ULL,
};

FIXTURE(req) {
	struct vmt_rq_env e;
};

VMT_BACKING_VARIANTS(req);

FIXTURE_SETUP(req)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(&self->e, variant->type, REGION_SIZE, ~0ULL);
	self->e.region.chunk_size = CHUNK_SIZE;
}

FIXTURE_TEARDOWN(req)
{
	vmt_rq_env_free(&self->e);
}

TEST_F(req, plug_ack)
{
	struct vmt_rq_env *e = &self->e;
	u64 val = 0;

	vmt_rq_env_start(e, REQUESTED);
	expect_sizes(_metadata, e, 264ULL << 20, 0, 0);

	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 1);
	expect_sizes(_metadata, e, 264ULL << 20, BLK, 1);
	RQ_STATE(e, PLUGGED, vmt_rq_gpa(e, 0), 1);

	/* the last two blocks of chunk 0 and the first of chunk 1 */
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 30), 3);
	expect_sizes(_metadata, e, 264ULL << 20, 4 * BLK, 2);
	RQ_STATE(e, PLUGGED, vmt_rq_gpa(e, 30), 3);
	RQ_STATE(e, MIXED, vmt_rq_gpa(e, 29), 2);

	/* the guest reaches what it plugged */
	*(u64 *)vmt_rq_hva(e, 32) = 0x1122334455667788ULL;
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, 32),
						    &val));
	EXPECT_EQ(0x1122334455667788ULL, val);
	vmt_rq_check_all(e);
}

TEST_F(req, plug_nack_beyond_requested_size)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, 4 * BLK);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 0), 5);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 3);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 3), 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 3), 1);
	/* plugged == requested: even one block is too many */
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 4), 1);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 100), 1);
	expect_sizes(_metadata, e, 264ULL << 20, 4 * BLK, 1);

	/* resize up: the same request is ACKed */
	vmt_rq_resize(e, 6 * BLK);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 4), 1);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 40), 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 40), 1);
	expect_sizes(_metadata, e, 6 * BLK + (256ULL << 20), 6 * BLK, 2);

	/* resize below what is plugged: PLUG is NACKed, UNPLUG still works */
	vmt_rq_resize(e, 2 * BLK);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 10), 1);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 40), 1);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 2), 3);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 10), 1);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 1), 1);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 10), 1);
	expect_sizes(_metadata, e, 6 * BLK + (256ULL << 20), 2 * BLK, 1);

	/* requested 0: every PLUG is NACKed, the usable region stays */
	vmt_rq_resize(e, 0);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 11), 1);
	expect_sizes(_metadata, e, 6 * BLK + (256ULL << 20), 2 * BLK, 1);
	vmt_rq_check_all(e);
}

/* QEMU's order: the requested size is checked before the blocks' state. */
TEST_F(req, plug_nack_before_state_check)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, 2 * BLK);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 2);
	/* already plugged and over the requested size: NACK, not ERROR */
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 0), 1);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 1), 2);
	/* within the requested size: now the state check speaks */
	vmt_rq_resize(e, 4 * BLK);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 0), 1);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 1), 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 2), 2);
	/* and the range check comes before both */
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, USABLE_BLOCKS), 1);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 0) + 4096, 1);
	vmt_rq_check_all(e);
}

/* Bad ranges for a request type; nothing may change. */
static void bad_ranges(struct __test_metadata *_metadata,
		       struct vmt_rq_env *e, u16 type)
{
	const u64 base = vmt_rq_gpa(e, 0), usable = e->model.usable / BLK;
	unsigned int i;

	/* unaligned */
	RQ(e, ERROR, type, base + 4096, 1);
	RQ(e, ERROR, type, base + (1ULL << 20), 1);
	RQ(e, ERROR, type, vmt_rq_gpa(e, 1) + 8, 1);
	RQ(e, ERROR, type, vmt_rq_gpa(e, 1) - 4096, 2);
	/* zero blocks */
	RQ(e, ERROR, type, base, 0);
	RQ(e, ERROR, type, vmt_rq_gpa(e, 1), 0);
	/* wrapping around 2^64 */
	for (i = 0; i < VMT_ARRAY_SIZE(wrapping_addrs); i++) {
		RQ(e, ERROR, type, wrapping_addrs[i], 1);
		RQ(e, ERROR, type, wrapping_addrs[i], 2);
		RQ(e, ERROR, type, wrapping_addrs[i], 0xffff);
	}
	/* below the base */
	RQ(e, ERROR, type, base - BLK, 1);
	RQ(e, ERROR, type, base - BLK, 2);
	RQ(e, ERROR, type, 0, 1);
	RQ(e, ERROR, type, BLK, 1);
	/* beyond the usable region, and beyond the region */
	RQ(e, ERROR, type, vmt_rq_gpa(e, usable), 1);
	RQ(e, ERROR, type, vmt_rq_gpa(e, usable - 1), 2);
	RQ(e, ERROR, type, base, usable + 1);
	RQ(e, ERROR, type, vmt_rq_gpa(e, REGION_SIZE / BLK - 1), 1);
	RQ(e, ERROR, type, vmt_rq_gpa(e, REGION_SIZE / BLK), 1);
	RQ(e, ERROR, type, base, 0xffff);
}

TEST_F(req, plug_error_bad_range)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, REQUESTED);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 2), 1);
	bad_ranges(_metadata, e, PLUG);
	/* the edges themselves are fine */
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 1);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, USABLE_BLOCKS - 1), 1);
	expect_sizes(_metadata, e, 264ULL << 20, 3 * BLK, 2);
	vmt_rq_check_all(e);
}

TEST_F(req, plug_error_not_all_unplugged)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, 8 * BLK);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 2), 1);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 2), 1);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 1), 2);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 2), 2);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 0), 4);
	expect_sizes(_metadata, e, 8 * BLK + (256ULL << 20), BLK, 1);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 3), 5);
	RQ_STATE(e, PLUGGED, vmt_rq_gpa(e, 0), 8);
	vmt_rq_check_all(e);
}

TEST_F(req, unplug_ack)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, 8 * BLK);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 28), 8);
	expect_sizes(_metadata, e, 8 * BLK + (256ULL << 20), 8 * BLK, 2);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 29), 2);
	RQ_STATE(e, MIXED, vmt_rq_gpa(e, 28), 3);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 29), 2);
	expect_sizes(_metadata, e, 8 * BLK + (256ULL << 20), 6 * BLK, 2);
	/* chunk 1 loses its last blocks: one memslot left */
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 32), 4);
	expect_sizes(_metadata, e, 8 * BLK + (256ULL << 20), 2 * BLK, 1);
	/* UNPLUG is never NACKed, even with nothing requested */
	vmt_rq_resize(e, 0);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 28), 1);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 31), 1);
	expect_sizes(_metadata, e, 8 * BLK + (256ULL << 20), 0, 0);
	vmt_rq_check_all(e);
}

TEST_F(req, unplug_error_bad_range)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, REQUESTED);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 4);
	bad_ranges(_metadata, e, UNPLUG);
	expect_sizes(_metadata, e, 264ULL << 20, 4 * BLK, 1);
	vmt_rq_check_all(e);
}

TEST_F(req, unplug_error_not_all_plugged)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, 8 * BLK);
	RQ(e, ERROR, UNPLUG, vmt_rq_gpa(e, 0), 1);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 2), 2);
	RQ(e, ERROR, UNPLUG, vmt_rq_gpa(e, 1), 2);
	RQ(e, ERROR, UNPLUG, vmt_rq_gpa(e, 3), 2);
	RQ(e, ERROR, UNPLUG, vmt_rq_gpa(e, 0), 8);
	RQ(e, ERROR, UNPLUG, vmt_rq_gpa(e, 5), 1);
	expect_sizes(_metadata, e, 8 * BLK + (256ULL << 20), 2 * BLK, 1);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 2), 2);
	RQ(e, ERROR, UNPLUG, vmt_rq_gpa(e, 2), 2);
	vmt_rq_check_all(e);
}

TEST_F(req, unplug_all_with_plugged_memory)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, 16 * BLK);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 4);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 31), 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 100), 1);
	expect_sizes(_metadata, e, 16 * BLK + (256ULL << 20), 7 * BLK, 3);
	/* grow the usable region to all of it, then ask for less */
	vmt_rq_resize(e, 300ULL << 20);
	vmt_rq_resize(e, 16 * BLK);
	expect_sizes(_metadata, e, REGION_SIZE, 7 * BLK, 3);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 200), 1);

	RQ(e, ACK, UNPLUG_ALL, 0, 0);
	/* shrunk to what 32 MiB needs: 288 MiB, blocks 0-143 */
	expect_sizes(_metadata, e, 16 * BLK + (256ULL << 20), 0, 0);
	RQ(e, ERROR, STATE, vmt_rq_gpa(e, 200), 1);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 144), 1);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 0), 144);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 143), 1);
	/* again, with the one block plugged */
	RQ(e, ACK, UNPLUG_ALL, 0, 0);
	expect_sizes(_metadata, e, 16 * BLK + (256ULL << 20), 0, 0);
	vmt_rq_check_all(e);
}

TEST_F(req, unplug_all_with_nothing_plugged)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, 0);
	expect_sizes(_metadata, e, 0, 0, 0);
	RQ(e, ACK, UNPLUG_ALL, 0, 0);
	expect_sizes(_metadata, e, 0, 0, 0);

	vmt_rq_resize(e, 300ULL << 20);
	vmt_rq_resize(e, 0);
	expect_sizes(_metadata, e, REGION_SIZE, 0, 0);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 255), 1);
	/* addr and nb_blocks mean nothing to UNPLUG_ALL */
	RQ(e, ACK, UNPLUG_ALL, 0xffffffffffe00000ULL, 0xffff);
	expect_sizes(_metadata, e, 0, 0, 0);
	RQ(e, ERROR, STATE, vmt_rq_gpa(e, 0), 1);

	vmt_rq_resize(e, 2 * BLK);
	vmt_rq_resize(e, BLK);
	expect_sizes(_metadata, e, 2 * BLK + (256ULL << 20), 0, 0);
	RQ(e, ACK, UNPLUG_ALL, vmt_rq_gpa(e, 0), 1);
	expect_sizes(_metadata, e, BLK + (256ULL << 20), 0, 0);
	vmt_rq_check_all(e);
}

TEST_F(req, state)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status before, after;

	vmt_rq_env_start(e, 16 * BLK);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 0), 1);
	/* 32 MiB requested: 288 MiB usable, blocks 0-143 */
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 0), 144);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 4), 4);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 40), 1);
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &before));

	RQ_STATE(e, PLUGGED, vmt_rq_gpa(e, 4), 4);
	RQ_STATE(e, PLUGGED, vmt_rq_gpa(e, 5), 2);
	RQ_STATE(e, PLUGGED, vmt_rq_gpa(e, 40), 1);
	RQ_STATE(e, MIXED, vmt_rq_gpa(e, 3), 2);
	RQ_STATE(e, MIXED, vmt_rq_gpa(e, 7), 2);
	RQ_STATE(e, MIXED, vmt_rq_gpa(e, 0), 144);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 8), 32);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 41), 103);
	bad_ranges(_metadata, e, STATE);

	/* STATE changes nothing but its own counters */
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &after));
	EXPECT_EQ(before.plugged_size, after.plugged_size);
	EXPECT_EQ(before.usable_region_size, after.usable_region_size);
	EXPECT_EQ(before.memslots, after.memslots);
	EXPECT_EQ(0, memcmp(before.requests, after.requests,
			    sizeof(before.requests[0]) * STATE));
	EXPECT_EQ(8, after.requests[STATE][ACK] - before.requests[STATE][ACK]);
	vmt_rq_check_all(e);
}

TEST_F(req, unknown_type)
{
	static const u16 types[] = { 4, 5, 0x100, 0x8000, 0xffff };
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status st;
	unsigned int i;

	vmt_rq_env_start(e, REQUESTED);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 1);
	for (i = 0; i < VMT_ARRAY_SIZE(types); i++) {
		/* fields that would make a valid PLUG, UNPLUG or STATE */
		RQ(e, ERROR, types[i], vmt_rq_gpa(e, 1), 1);
		RQ(e, ERROR, types[i], vmt_rq_gpa(e, 0), 1);
		RQ(e, ERROR, types[i], 0, 0);
	}
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	EXPECT_EQ(3 * VMT_ARRAY_SIZE(types),
		  st.requests[VHOST_MEM_REQ_UNKNOWN][ERROR]);
	expect_sizes(_metadata, e, 264ULL << 20, BLK, 1);
	vmt_rq_check_all(e);
}

/* The usable region: requested + 256 MiB, capped, never shrunk by a resize. */
TEST_F(req, usable_region_on_resize)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, 0);
	/* nothing requested: no usable region at all */
	expect_sizes(_metadata, e, 0, 0, 0);
	RQ(e, ERROR, STATE, vmt_rq_gpa(e, 0), 1);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 0), 1);
	vmt_rq_resize(e, 0);
	expect_sizes(_metadata, e, 0, 0, 0);

	vmt_rq_resize(e, BLK);
	expect_sizes(_metadata, e, 258ULL << 20, 0, 0);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 128), 1);
	RQ(e, ERROR, STATE, vmt_rq_gpa(e, 129), 1);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 128), 1);

	vmt_rq_resize(e, 100ULL << 20);
	expect_sizes(_metadata, e, 356ULL << 20, BLK, 1);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 177), 1);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 178), 1);

	/* capped by the region */
	vmt_rq_resize(e, 300ULL << 20);
	expect_sizes(_metadata, e, REGION_SIZE, 2 * BLK, 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 255), 1);
	vmt_rq_resize(e, REGION_SIZE);
	expect_sizes(_metadata, e, REGION_SIZE, 3 * BLK, 3);

	/* never shrunk by a resize, not even to 0 */
	vmt_rq_resize(e, BLK);
	expect_sizes(_metadata, e, REGION_SIZE, 3 * BLK, 3);
	vmt_rq_resize(e, 0);
	expect_sizes(_metadata, e, REGION_SIZE, 3 * BLK, 3);
	RQ_STATE(e, PLUGGED, vmt_rq_gpa(e, 255), 1);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 255), 1);
	vmt_rq_check_all(e);

	/* only UNPLUG_ALL shrinks it: to nothing for requested 0 */
	RQ(e, ACK, UNPLUG_ALL, 0, 0);
	expect_sizes(_metadata, e, 0, 0, 0);
	vmt_rq_check_all(e);
}

TEST_F(req, plug_unplug_across_chunks)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, 80 * BLK);
	/* blocks 30-95: the end of chunk 0, all of chunks 1 and 2 */
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 30), 66);
	expect_sizes(_metadata, e, 80 * BLK + (256ULL << 20), 66 * BLK, 3);
	vmt_rq_check_all(e);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 30), 2);
	expect_sizes(_metadata, e, 80 * BLK + (256ULL << 20), 64 * BLK, 2);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 33), 62);
	expect_sizes(_metadata, e, 80 * BLK + (256ULL << 20), 2 * BLK, 2);
	RQ_STATE(e, MIXED, vmt_rq_gpa(e, 32), 64);
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* BUSY: the host side fails, the state stays                         */
/* ------------------------------------------------------------------ */

/* The VMM maps a memslot of its own where the device needs one. */
TEST_F(req, busy_when_memslot_cannot_be_created)
{
	struct vmt_rq_env *e = &self->e;
	const u32 vmm_slot = 50;
	u64 val;
	void *mem;

	vmt_rq_env_start(e, 64 * BLK);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 64), 1);
	mem = mmap(NULL, BLK, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	/* a VMM memslot over block 33, in chunk 1 */
	vmt_vm_add_memslot(e->vm, vmm_slot, vmt_rq_gpa(e, 33), BLK, mem);

	vmt_rq_send_busy(e, PLUG, vmt_rq_gpa(e, 32), 1);
	/* chunk 0's memslot is made, chunk 1's fails: both must go */
	vmt_rq_send_busy(e, PLUG, vmt_rq_gpa(e, 31), 2);
	vmt_rq_check_status(e);
	expect_sizes(_metadata, e, 64 * BLK + (256ULL << 20), BLK, 1);
	EXPECT_EQ(VMT_ACCESS_MMIO, vmt_guest_read_u64(e->vm,
						      vmt_rq_gpa(e, 31), &val))
		TH_LOG("the memslot of chunk 0 outlived the PLUG answered BUSY");
	/* STATE is never BUSY; other chunks work */
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 31), 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 65), 1);

	/* a reserved id taken by the VMM: chunk 3's memslot */
	vmt_vm_add_memslot(e->vm, VMT_RQ_SLOT_BASE + 3, 64ULL << 30, BLK, mem);
	vmt_rq_send_busy(e, PLUG, vmt_rq_gpa(e, 96), 1);
	vmt_vm_delete_memslot(e->vm, VMT_RQ_SLOT_BASE + 3);

	vmt_vm_delete_memslot(e->vm, vmm_slot);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 31), 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 96), 1);
	vmt_rq_check_all(e);
	munmap(mem, BLK);
}

/* A memfd that accepts seals, as e->backing. */
static void sealable_memfd(struct __test_metadata *_metadata,
			   struct vmt_backing *b, u64 size)
{
	memset(b, 0, sizeof(*b));
	b->type = VMT_BACKING_MEMFD;
	b->size = size;
	b->fd = memfd_create("vhost-mem-seal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ASSERT_LE(0, b->fd);
	ASSERT_EQ(0, ftruncate(b->fd, size));
	b->hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	ASSERT_NE(MAP_FAILED, b->hva);
}

/*
 * The backing cannot be discarded: mlock()ed anonymous memory is not
 * zapped, a memfd sealed against writes is not punched.
 */
TEST_F(req, busy_when_discard_fails)
{
	struct vmt_rq_env *e = &self->e;
	u64 val = 0;

	if (variant->type == VMT_BACKING_MEMFD) {
		vmt_backing_free(&e->backing);
		sealable_memfd(_metadata, &e->backing, REGION_SIZE);
		vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, BLK,
				VMT_RQ_SLOT_BASE);
		e->region.chunk_size = CHUNK_SIZE;
	}
	vmt_rq_env_start(e, 8 * BLK);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 40), 1);
	*(u64 *)vmt_rq_hva(e, 1) = 0xfeedULL;

	if (variant->type == VMT_BACKING_ANON) {
		ASSERT_EQ(0, mlock(vmt_rq_hva(e, 1), BLK));
	} else {
		ASSERT_EQ(0, fcntl(e->backing.fd, F_ADD_SEALS,
				   F_SEAL_FUTURE_WRITE));
	}

	vmt_rq_send_busy(e, UNPLUG, vmt_rq_gpa(e, 1), 1);
	/* still plugged, still mapped, still holding its data */
	RQ_STATE(e, PLUGGED, vmt_rq_gpa(e, 0), 2);
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, 1),
						    &val));
	EXPECT_EQ(0xfeedULL, val);
	vmt_rq_send_busy(e, UNPLUG_ALL, 0, 0);
	expect_sizes(_metadata, e, 8 * BLK + (256ULL << 20), 3 * BLK, 2);
	/* PLUG needs no discard */
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 41), 1);
	vmt_rq_check_all(e);

	if (variant->type == VMT_BACKING_MEMFD)
		return;	/* a seal is forever */
	ASSERT_EQ(0, munlock(vmt_rq_hva(e, 1), BLK));
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 1), 1);
	RQ(e, ACK, UNPLUG_ALL, 0, 0);
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* Counters against literal totals                                    */
/* ------------------------------------------------------------------ */

TEST_F(req, status_counters)
{
	/* requests[type][answer] after the script below */
	static const u64 want[VHOST_MEM_NR_REQ_TYPES][VHOST_MEM_NR_RESP_TYPES] = {
		[PLUG]		= { [ACK] = 3, [NACK] = 2, [ERROR] = 4 },
		[UNPLUG]	= { [ACK] = 2, [ERROR] = 3 },
		[UNPLUG_ALL]	= { [ACK] = 2 },
		[STATE]		= { [ACK] = 5, [ERROR] = 2 },
		[VHOST_MEM_REQ_UNKNOWN] = { [ERROR] = 3 },
	};
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status st;
	unsigned int t, r, bad = 0;

	vmt_rq_env_start(e, 4 * BLK);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 0), 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 2), 1);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 3), 2);
	RQ(e, NACK, PLUG, vmt_rq_gpa(e, 9), 3);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 0), 1);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 3), 0);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, 3) + 4096, 1);
	RQ(e, ERROR, PLUG, vmt_rq_gpa(e, USABLE_BLOCKS), 1);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 2), 1);
	RQ(e, ERROR, UNPLUG, vmt_rq_gpa(e, 2), 1);
	RQ(e, ERROR, UNPLUG, vmt_rq_gpa(e, 1), 2);
	RQ(e, ERROR, UNPLUG, 0, 1);
	RQ(e, ACK, UNPLUG, vmt_rq_gpa(e, 0), 2);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 7), 1);
	RQ(e, ACK, UNPLUG_ALL, 0, 0);
	RQ(e, ACK, UNPLUG_ALL, 0, 0);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 0), 1);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 0), 10);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 131), 1);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 5), 5);
	RQ_STATE(e, UNPLUGGED, vmt_rq_gpa(e, 100), 32);
	RQ(e, ERROR, STATE, vmt_rq_gpa(e, 132), 1);
	RQ(e, ERROR, STATE, 0xffffffffffe00000ULL, 1);
	RQ(e, ERROR, 4, vmt_rq_gpa(e, 0), 1);
	RQ(e, ERROR, 42, vmt_rq_gpa(e, 0), 1);
	RQ(e, ERROR, 0xffff, 0, 0);

	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	for (t = 0; t < VHOST_MEM_NR_REQ_TYPES; t++) {
		for (r = 0; r < VHOST_MEM_NR_RESP_TYPES; r++) {
			u64 w = want[t][r], got = st.requests[t][r];

			if (w == got)
				continue;
			bad++;
			TH_LOG("requests[%s][%s]: expected %llu, got %llu",
			       t < VHOST_MEM_REQ_UNKNOWN ?
			       vmt_mem_req_name(t) : "unknown",
			       vmt_mem_resp_name(r), (unsigned long long)w,
			       (unsigned long long)got);
		}
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, st.dropped);
	vmt_rq_check_status(e);
}

/* ------------------------------------------------------------------ */
/* Stop and start                                                     */
/* ------------------------------------------------------------------ */

TEST_F(req, requests_wait_while_stopped)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_mem_req reqs[4] = {
		{ .type = PLUG, .addr = vmt_rq_gpa(e, 0), .nb_blocks = 2 },
		{ .type = STATE, .addr = vmt_rq_gpa(e, 0), .nb_blocks = 3 },
		{ .type = UNPLUG, .addr = vmt_rq_gpa(e, 1), .nb_blocks = 1 },
		{ .type = PLUG, .addr = vmt_rq_gpa(e, 40), .nb_blocks = 1 },
	};
	struct vhost_mem_status st;
	unsigned int i;
	struct vmt_used u;
	u16 used0;
	u64 val;

	vmt_rq_env_start(e, 8 * BLK);
	RQ(e, ACK, PLUG, vmt_rq_gpa(e, 100), 1);
	vmt_rq_set_running(e, false);
	/* stopping twice is fine */
	vmt_rq_set_running(e, false);
	vmt_rq_check_status(e);

	used0 = vmt_vq_used_idx(&e->vq);
	for (i = 0; i < VMT_ARRAY_SIZE(reqs); i++)
		ASSERT_LE(0, __vmt_mem_queue(&e->vq, &reqs[i]));
	vmt_vq_kick_force(&e->vq);
	vmt_sleep_ms(300);
	EXPECT_EQ(used0, vmt_vq_used_idx(&e->vq))
		TH_LOG("a stopped device answered %u requests",
		       (u16)(vmt_vq_used_idx(&e->vq) - used0));
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	EXPECT_FALSE(st.flags & VHOST_MEM_STATUS_F_RUNNING);
	EXPECT_EQ(BLK, st.plugged_size);
	EXPECT_EQ(VMT_ACCESS_MMIO, vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, 0),
						      &val))
		TH_LOG("a request sent while stopped took effect");
	vmt_rq_check_status(e);

	/* start: they are answered, in order, without another kick */
	vmt_rq_set_running(e, true);
	for (i = 0; i < VMT_ARRAY_SIZE(reqs); i++) {
		ASSERT_EQ(1, vmt_vq_wait_used(&e->vq, &u, vmt_timeout_ms()))
			TH_LOG("request %u sent while stopped: no answer within %d ms of the start",
			       i, vmt_timeout_ms());
		ASSERT_EQ(&reqs[i], vmt_mem_complete(&e->vq, &u));
		vmt_rq_settle(e, &reqs[i]);
	}
	EXPECT_EQ(ACK, reqs[0].resp_type);
	EXPECT_EQ(MIXED, reqs[1].state);
	EXPECT_EQ(ACK, reqs[2].resp_type);
	EXPECT_EQ(ACK, reqs[3].resp_type);
	/* starting twice is fine too */
	vmt_rq_set_running(e, true);
	vmt_rq_check_all(e);
}

TEST_HARNESS_MAIN
