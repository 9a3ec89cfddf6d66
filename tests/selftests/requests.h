/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: what the requests_*test programs share: the
 * region's geometry and requests whose answer is stated with a literal.
 * Each answer is also checked against a model of the device
 * (lib/req_util.h), which then predicts GET_STATUS.  Include it instead of
 * kselftest_harness.h.
 */
#ifndef VMT_REQUESTS_H
#define VMT_REQUESTS_H

#include <endian.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmt.h"
#include "req_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

/* 256 blocks in 8 chunks of 32 */
#define REGION_SIZE	(512ULL << 20)
#define CHUNK_SIZE	(64ULL << 20)
#define BLOCKS_PER_CHUNK	(CHUNK_SIZE / BLK)
/* Requested 8 MiB: the usable region is 264 MiB, blocks 0-131. */
#define REQUESTED	(8ULL << 20)
#define USABLE_BLOCKS	132

static inline const char *type_name(u16 type)
{
	return type <= STATE ? vmt_mem_req_name(type) : "unknown type";
}

/*
 * One request; the answer must be want, and the model must agree (the
 * library fails the test, naming both, if the device does not).
 */
#define RQ(e, want, type, addr, nb) do { \
	u64 __addr = (addr); \
	u16 __nb = (nb); \
	u16 __got = vmt_rq_send((e), (type), __addr, __nb, NULL); \
	ASSERT_EQ((want), __got) \
		TH_LOG("%s GPA 0x%llx x %u: expected %s, got %s", \
		       type_name(type), (unsigned long long)__addr, __nb, \
		       vmt_mem_resp_name(want), vmt_mem_resp_name(__got)); \
} while (0)

/* A STATE request that must be ACKed with want_state. */
#define RQ_STATE(e, want_state, addr, nb) do { \
	u64 __addr = (addr); \
	u16 __nb = (nb), __st = 0xffff; \
	u16 __got = vmt_rq_send((e), STATE, __addr, __nb, &__st); \
	ASSERT_EQ(ACK, __got) \
		TH_LOG("STATE GPA 0x%llx x %u: expected ACK, got %s", \
		       (unsigned long long)__addr, __nb, \
		       vmt_mem_resp_name(__got)); \
	ASSERT_EQ((want_state), __st) \
		TH_LOG("STATE GPA 0x%llx x %u: expected %s, got %s", \
		       (unsigned long long)__addr, __nb, \
		       vmt_mem_state_name(want_state), \
		       vmt_mem_state_name(__st)); \
} while (0)

/* Status field checks with literal values. */
static inline void expect_sizes(struct __test_metadata *_metadata,
				struct vmt_rq_env *e, u64 usable, u64 plugged,
				u32 memslots)
{
	struct vhost_mem_status st;

	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	EXPECT_EQ(usable, st.usable_region_size)
		TH_LOG("usable_region_size: expected 0x%llx, got 0x%llx",
		       (unsigned long long)usable,
		       (unsigned long long)st.usable_region_size);
	EXPECT_EQ(plugged, st.plugged_size)
		TH_LOG("plugged_size: expected 0x%llx, got 0x%llx",
		       (unsigned long long)plugged,
		       (unsigned long long)st.plugged_size);
	EXPECT_EQ(memslots, st.memslots)
		TH_LOG("memslots: expected %u, got %u", memslots, st.memslots);
}

#endif /* VMT_REQUESTS_H */
