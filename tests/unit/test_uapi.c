// SPDX-License-Identifier: GPL-2.0
/*
 * The uapi header compiles on its own in userspace (it is included first,
 * before any other header), and its structs have the layout we document:
 * no implicit padding, the same on 32 and 64-bit, sizes that only grow.
 */
#include <linux/vhost_mem.h>

#include <stddef.h>
#include "kselftest_harness.h"

TEST(vm_layout)
{
	EXPECT_EQ(8, sizeof(struct vhost_mem_vm));
	EXPECT_EQ(4, offsetof(struct vhost_mem_vm, vm_fd));
}

TEST(region_layout)
{
	EXPECT_EQ(80, sizeof(struct vhost_mem_region));
	EXPECT_EQ(8, offsetof(struct vhost_mem_region, guest_phys_addr));
	EXPECT_EQ(56, offsetof(struct vhost_mem_region, backing_fd));
	EXPECT_EQ(64, offsetof(struct vhost_mem_region, slot_base));
	EXPECT_EQ(68, offsetof(struct vhost_mem_region, slot_count));
	EXPECT_EQ(72, offsetof(struct vhost_mem_region, unplugged_inaccessible));
}

TEST(status_layout)
{
	EXPECT_EQ(80, offsetof(struct vhost_mem_status, requests));
	EXPECT_EQ(80 + 8 * VHOST_MEM_NR_REQ_TYPES * VHOST_MEM_NR_RESP_TYPES,
		  sizeof(struct vhost_mem_status));
}

TEST(state_layout)
{
	EXPECT_EQ(24, sizeof(struct vhost_mem_state));
	EXPECT_EQ(8, offsetof(struct vhost_mem_state, buf));
}

/* The worst cases the ids must cover: every chunk, every other block. */
TEST(slots_needed)
{
	const unsigned long long mib = 1ULL << 20, tib = 1ULL << 40;

	EXPECT_EQ(1, VHOST_MEM_SLOTS_NEEDED(2 * mib, 1ULL << 30));
	EXPECT_EQ(3, VHOST_MEM_SLOTS_NEEDED((2ULL << 30) + 2 * mib, 1ULL << 30));
	EXPECT_EQ(1024, VHOST_MEM_SLOTS_NEEDED(tib, 1ULL << 30));
	EXPECT_EQ(1, VHOST_MEM_SLOTS_NEEDED_HARD(2 * mib, 2 * mib));
	EXPECT_EQ(8, VHOST_MEM_SLOTS_NEEDED_HARD(32 * mib, 2 * mib));
	EXPECT_EQ(9, VHOST_MEM_SLOTS_NEEDED_HARD(34 * mib, 2 * mib));
	EXPECT_EQ(262144, VHOST_MEM_SLOTS_NEEDED_HARD(tib, 2 * mib));
}

TEST(ioctl_numbers_distinct)
{
	const unsigned long nr[] = {
		VHOST_MEM_SET_VM, VHOST_MEM_SET_REGION,
		VHOST_MEM_SET_REQUESTED_SIZE, VHOST_MEM_SET_RUNNING,
		VHOST_MEM_GET_STATUS, VHOST_MEM_SET_CONFIG_CALL,
		VHOST_MEM_SET_PAUSED, VHOST_MEM_GET_STATE, VHOST_MEM_SET_STATE,
		VHOST_MEM_RESET,
	};
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(nr); i++)
		for (j = i + 1; j < ARRAY_SIZE(nr); j++)
			EXPECT_NE(_IOC_NR(nr[i]), _IOC_NR(nr[j]));
}

/* The key of a number is the same whatever struct size it was built with. */
TEST(ioctl_key_ignores_the_size)
{
	unsigned long small = _IOW(VHOST_VIRTIO, 0xC1, __u32);
	unsigned long big = _IOC(_IOC_WRITE, VHOST_VIRTIO, 0xC1, 4096);

	EXPECT_EQ(VHOST_MEM_IOC_KEY(VHOST_MEM_SET_REGION), VHOST_MEM_IOC_KEY(small));
	EXPECT_EQ(VHOST_MEM_IOC_KEY(VHOST_MEM_SET_REGION), VHOST_MEM_IOC_KEY(big));
	/* the direction and the number still count */
	EXPECT_NE(VHOST_MEM_IOC_KEY(VHOST_MEM_GET_STATE),
		  VHOST_MEM_IOC_KEY(VHOST_MEM_SET_STATE));
	EXPECT_NE(VHOST_MEM_IOC_KEY(_IOR(VHOST_VIRTIO, 0xC1, __u32)),
		  VHOST_MEM_IOC_KEY(small));
	EXPECT_EQ(VHOST_MEM_IOC_NR_FIRST, _IOC_NR(VHOST_MEM_SET_VM));
}

TEST_HARNESS_MAIN
