/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: checks of a vmt_rq_env that report through the
 * harness (EXPECT, ASSERT) rather than TEST_ASSERT(): a STATE answer, the
 * sizes and memslots of the status, tags the guest writes into blocks and
 * reads back, the memory a range of blocks holds.  Include this header
 * after kselftest_harness.h.
 */
#ifndef VMT_RQ_EXPECT_H
#define VMT_RQ_EXPECT_H

#include "vmm_util.h"
#include "short_names.h"

/* The driver accepts every feature the device offers. */
#define ACK_ALL		(~0ULL)

/* A STATE request that must be ACKed with want_state. */
#define VMT_RQ_EXPECT_STATE(e, want_state, block, nb) do { \
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

static inline struct vhost_mem_status
status_of(struct __test_metadata *_metadata, int fd)
{
	struct vhost_mem_status st;
	int r = __vmt_mem_get_status(fd, &st);

	EXPECT_EQ(0, r) TH_LOG("VHOST_MEM_GET_STATUS: %s", vmt_errstr(r));
	return st;
}

/* Literal sizes and memslots of the status. */
static inline void expect_status(struct __test_metadata *_metadata, int fd,
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

static inline u64 held(struct vmt_rq_env *e, u64 block, u64 nr)
{
	return vmt_backing_held(&e->backing, block * BLK, nr * BLK);
}

/* The guest writes a tag at both ends of each block of [first, first + n). */
static inline void tag_blocks(struct vmt_rq_env *e, u64 first, u64 n, u64 seed)
{
	u64 b;

	for (b = first; b < first + n; b++) {
		vmt_vm_expect_write(e->vm, vmt_rq_gpa(e, b) + 8,
				    vmt_block_tag(seed, b, 8), "plugged block");
		vmt_vm_expect_write(e->vm, vmt_rq_gpa(e, b) + BLK - 8,
				    vmt_block_tag(seed, b, BLK - 8),
				    "plugged block");
	}
}

static inline void expect_tags(struct vmt_rq_env *e, u64 first, u64 n, u64 seed,
			const char *why)
{
	u64 b;

	for (b = first; b < first + n; b++) {
		vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, b) + 8,
				   vmt_block_tag(seed, b, 8), why);
		vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, b) + BLK - 8,
				   vmt_block_tag(seed, b, BLK - 8), why);
	}
}

#endif /* VMT_RQ_EXPECT_H */
