// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: the blocks of a PLUG on a region with VHOST_MEM_REGION_F_PREALLOC hold
 * memory when the ACK arrives (pagemap for anonymous memory, st_blocks for
 * a memfd); without the flag they do not.
 */
#include "vmt.h"
#include "kselftest_harness.h"
#include "rq_expect.h"

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
		got = vmt_backing_allocated(&e->backing);
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
	vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, 3) + BLK / 2, 0,
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

TEST_HARNESS_MAIN
