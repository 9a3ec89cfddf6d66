// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: the events group of the generic netlink family
 * "vhost-mem": requested size (with who changed it), plugged size,
 * reached, and a request the host fails.
 */
#include "netlink_fixture.h"

TEST_F(nl, events)
{
	struct nlt_events ev;
	struct nlc_event e;

	nlt_events_open(&ev);

	ASSERT_EQ(0, __nlt_set(&self->nl, self->id, 8ULL << 20));
	ASSERT_TRUE(nlt_next_event(&ev, self->id, 5000, &e))
		TH_LOG("no event after a netlink resize");
	EXPECT_EQ(VHOST_MEM_CMD_REQUESTED_SIZE_NTF, e.cmd)
		TH_LOG("got %s", nlt_cmd_name(e.cmd));
	EXPECT_TRUE(e.has_origin);
	EXPECT_EQ(VHOST_MEM_ORIGIN_NETLINK, e.origin);
	EXPECT_EQ(8ULL << 20, e.requested);
	EXPECT_EQ(0, e.plugged);
	EXPECT_LE(e.requested, e.usable);

	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 4ULL << 20));
	ASSERT_TRUE(nlt_next_event(&ev, self->id, 5000, &e))
		TH_LOG("no event after an ioctl resize");
	EXPECT_EQ(VHOST_MEM_CMD_REQUESTED_SIZE_NTF, e.cmd);
	EXPECT_EQ(VHOST_MEM_ORIGIN_VMM, e.origin);
	EXPECT_EQ(4ULL << 20, e.requested);

	/* one block: plugged changes, not reached yet */
	plug_range(&self->vq, 0, TEST_BLOCK_SIZE);
	ASSERT_TRUE(nlt_next_event(&ev, self->id, 5000, &e))
		TH_LOG("no event after a PLUG");
	EXPECT_EQ(VHOST_MEM_CMD_PLUGGED_SIZE_NTF, e.cmd)
		TH_LOG("got %s", nlt_cmd_name(e.cmd));
	EXPECT_EQ(TEST_BLOCK_SIZE, e.plugged);
	EXPECT_EQ(4ULL << 20, e.requested);
	EXPECT_FALSE(e.has_origin);

	/* the second: plugged, then reached */
	plug_range(&self->vq, TEST_BLOCK_SIZE, 2 * TEST_BLOCK_SIZE);
	ASSERT_TRUE(nlt_next_event(&ev, self->id, 5000, &e));
	EXPECT_EQ(VHOST_MEM_CMD_PLUGGED_SIZE_NTF, e.cmd);
	EXPECT_EQ(4ULL << 20, e.plugged);
	ASSERT_TRUE(nlt_next_event(&ev, self->id, 5000, &e))
		TH_LOG("no SIZE_REACHED_NTF when plugged == requested");
	EXPECT_EQ(VHOST_MEM_CMD_SIZE_REACHED_NTF, e.cmd)
		TH_LOG("got %s", nlt_cmd_name(e.cmd));
	EXPECT_EQ(4ULL << 20, e.plugged);
	EXPECT_EQ(4ULL << 20, e.requested);

	/* requests that change nothing send nothing */
	EXPECT_EQ(VIRTIO_MEM_RESP_NACK,
		  __vmt_mem_plug(&self->vq, TEST_REGION_GPA + (4ULL << 20), 1));
	EXPECT_EQ(VIRTIO_MEM_RESP_ERROR,
		  __vmt_mem_unplug(&self->vq, TEST_REGION_GPA + (8ULL << 20), 1));
	EXPECT_FALSE(nlt_next_event(&ev, self->id, 300, &e))
		TH_LOG("unexpected %s", nlt_cmd_name(e.cmd));

	/* UNPLUG_ALL after shrinking to 0: plugged 0 == requested 0 */
	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 0));
	ASSERT_TRUE(nlt_next_event(&ev, self->id, 5000, &e));
	EXPECT_EQ(VHOST_MEM_CMD_REQUESTED_SIZE_NTF, e.cmd);
	EXPECT_EQ(VIRTIO_MEM_RESP_ACK, __vmt_mem_unplug_all(&self->vq));
	ASSERT_TRUE(nlt_next_event(&ev, self->id, 5000, &e));
	EXPECT_EQ(VHOST_MEM_CMD_PLUGGED_SIZE_NTF, e.cmd);
	EXPECT_EQ(0, e.plugged);
	ASSERT_TRUE(nlt_next_event(&ev, self->id, 5000, &e));
	EXPECT_EQ(VHOST_MEM_CMD_SIZE_REACHED_NTF, e.cmd);

	nlt_events_close(&ev);
}

/*
 * A request the host fails is answered BUSY and reported: here the VMM took
 * the memslot id the device needs for its chunk.
 */
TEST_F(nl, error_event)
{
	const u64 stolen_gpa = 1ULL << 30, stolen_size = 2ULL << 20;
	struct nlt_events ev;
	struct nlc_event e;
	void *mem;
	int r;

	mem = mmap(NULL, stolen_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	vmt_vm_add_memslot(self->vm, TEST_SLOT_BASE, stolen_gpa, stolen_size, mem);
	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 8ULL << 20));
	nlt_events_open(&ev);

	r = __vmt_mem_plug(&self->vq, TEST_REGION_GPA, 2);
	EXPECT_EQ(VIRTIO_MEM_RESP_BUSY, r)
		TH_LOG("PLUG whose memslot id is taken: expected BUSY, got %s",
		       vmt_mem_resp_name(r));
	ASSERT_TRUE(nlt_next_event(&ev, self->id, 5000, &e))
		TH_LOG("no event for a failed PLUG");
	EXPECT_EQ(VHOST_MEM_CMD_ERROR_NTF, e.cmd) TH_LOG("got %s",
							 nlt_cmd_name(e.cmd));
	EXPECT_NE(0, e.error);
	TH_LOG("the failed PLUG: %s", strerror(e.error));
	EXPECT_EQ(VIRTIO_MEM_REQ_PLUG, e.req_type);
	EXPECT_EQ(TEST_REGION_GPA, e.req_addr);
	EXPECT_EQ(2 * TEST_BLOCK_SIZE, e.req_size);
	EXPECT_EQ(1, e.errors);
	EXPECT_EQ(0, e.plugged);
	EXPECT_FALSE(nlt_next_event(&ev, self->id, 300, &e))
		TH_LOG("unexpected %s after a failed PLUG", nlt_cmd_name(e.cmd));

	/* given back, the guest's retry succeeds */
	vmt_vm_delete_memslot(self->vm, TEST_SLOT_BASE);
	r = __vmt_mem_plug(&self->vq, TEST_REGION_GPA, 2);
	EXPECT_EQ(VIRTIO_MEM_RESP_ACK, r) TH_LOG("the retry: %s",
						 vmt_mem_resp_name(r));
	ASSERT_TRUE(nlt_next_event(&ev, self->id, 5000, &e));
	EXPECT_EQ(VHOST_MEM_CMD_PLUGGED_SIZE_NTF, e.cmd);
	nlt_events_close(&ev);
	munmap(mem, stolen_size);
}

TEST_HARNESS_MAIN
