// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: DEV_GET of the generic netlink family "vhost-mem".
 *
 * - DEV_GET (do and dump) reports what VHOST_MEM_GET_STATUS reports, and
 *   the owner, the VM and the NUMA node;
 * - its errors: unknown or missing id (ENODEV, EINVAL), unknown
 *   attributes, each with an extended ack message;
 * - the family and its events group exist.
 */
#include "netlink_fixture.h"

TEST_F(nl, get_matches_status)
{
	struct vhost_mem_status st;
	struct nlc_dev d;
	char vm_id[64];
	int r;

	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 32ULL << 20));
	plug_range(&self->vq, 0, 16ULL << 20);
	ASSERT_EQ(0, __vmt_mem_get_status(self->dev.fd, &st));

	r = __nlt_get(&self->nl, self->id, &d);
	ASSERT_EQ(0, r) TH_LOG("DEV_GET %u: %s (%s)", self->id,
			       vmt_errname(-r), self->nl.msg);
	EXPECT_EQ(self->id, d.id);
	EXPECT_TRUE(d.has_owner);
	EXPECT_EQ((u32)getpid(), d.owner_pid)
		TH_LOG("the owner is the process that issued VHOST_SET_OWNER");
	snprintf(vm_id, sizeof(vm_id), "kvm-%d", getpid());
	EXPECT_STREQ(vm_id, d.vm_id) TH_LOG("the VM's KVM stats id");
	EXPECT_EQ(st.flags, d.flags);
	EXPECT_TRUE(d.flags & VHOST_MEM_STATUS_F_RUNNING);
	EXPECT_TRUE(d.has_node);
	EXPECT_EQ(-1, d.node);
	EXPECT_EQ(0, d.region_flags);
	EXPECT_EQ(self->dev.features, d.features);
	EXPECT_FALSE(d.config_call);
	EXPECT_EQ(st.guest_phys_addr, d.addr);
	EXPECT_EQ(st.region_size, d.region_size);
	EXPECT_EQ(st.block_size, d.block_size);
	EXPECT_EQ(st.chunk_size, d.chunk_size);
	EXPECT_EQ(st.usable_region_size, d.usable);
	EXPECT_EQ(32ULL << 20, d.requested);
	EXPECT_EQ(16ULL << 20, d.plugged);
	EXPECT_EQ(st.memslots, d.memslots);
	EXPECT_EQ(st.memslots_max, d.memslots_max);
	EXPECT_EQ(st.dropped, d.dropped);
	EXPECT_EQ(VHOST_MEM_NR_REQ_TYPES, d.nr_req_stats);
	EXPECT_EQ(0, memcmp(st.requests, d.req, sizeof(d.req)))
		TH_LOG("request counters differ from VHOST_MEM_GET_STATUS");
	EXPECT_EQ(8, d.req[VIRTIO_MEM_REQ_PLUG][VIRTIO_MEM_RESP_ACK]);
}

TEST_F(nl, dump_lists_devices)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	const struct nlc_dev *d;
	int fd2, r, id2;
	unsigned int i;

	ASSERT_NE(NULL, dump);
	/* a second device, without owner or region */
	fd2 = vmt_mem_open();
	id2 = vmt_dev_id(fd2);

	r = __nlt_dump(&self->nl, dump);
	ASSERT_EQ(0, r) TH_LOG("dump: %s (%s)", vmt_errname(-r), self->nl.msg);
	d = nlt_dump_find(dump, self->id);
	ASSERT_NE(NULL, d) TH_LOG("the dump of %u devices lacks vhost-mem%u",
				  dump->n, self->id);
	EXPECT_EQ(TEST_REGION_SIZE, d->region_size);
	d = nlt_dump_find(dump, id2);
	ASSERT_NE(NULL, d) TH_LOG("the dump lacks the new device vhost-mem%d",
				  id2);
	EXPECT_FALSE(d->has_owner);
	EXPECT_FALSE(d->has_vm);
	EXPECT_FALSE(d->has_region);
	EXPECT_EQ(0, d->flags);
	for (i = 1; i < dump->n; i++)
		EXPECT_LT(dump->devs[i - 1].id, dump->devs[i].id)
			TH_LOG("the dump is in increasing id order");

	close(fd2);
	r = __nlt_dump(&self->nl, dump);
	ASSERT_EQ(0, r);
	EXPECT_EQ(NULL, nlt_dump_find(dump, id2))
		TH_LOG("a closed device is still listed");
	free(dump);
}

TEST_F(nl, get_errors)
{
	struct nl_msg *msg;
	int r;

	r = __nlt_get(&self->nl, 1000000, NULL);
	EXPECT_EQ(-ENODEV, r) TH_LOG("unknown id: %s", vmt_errname(-r));
	EXPECT_NE(NULL, strstr(self->nl.msg, "No such"))
		TH_LOG("extack for an unknown id: '%s'", self->nl.msg);
	r = __nlt_get(&self->nl, 0x80000000U, NULL);
	EXPECT_EQ(-ENODEV, r) TH_LOG("id above INT_MAX: %s", vmt_errname(-r));
	r = __nlt_get(&self->nl, ~0U, NULL);
	EXPECT_EQ(-ENODEV, r) TH_LOG("id ~0: %s", vmt_errname(-r));

	/* no id */
	r = __nlt_transact(&self->nl, nlt_msg(&self->nl, VHOST_MEM_CMD_DEV_GET, 0),
			   NULL, NULL);
	EXPECT_EQ(-EINVAL, r) TH_LOG("DEV_GET without an id: %s",
				     vmt_errname(-r));
	EXPECT_NE('\0', self->nl.msg[0]) TH_LOG("no extack for a missing id");

	/* an id of the wrong size */
	msg = nlt_msg(&self->nl, VHOST_MEM_CMD_DEV_GET, 0);
	nla_put_u64(msg, VHOST_MEM_A_ID, self->id);
	r = __nlt_transact(&self->nl, msg, NULL, NULL);
	EXPECT_NE(0, r) TH_LOG("a u64 id was accepted");

	/* attributes the family does not take in requests */
	msg = nlt_msg(&self->nl, VHOST_MEM_CMD_DEV_GET, 0);
	nla_put_u32(msg, VHOST_MEM_A_ID, self->id);
	nla_put_u64(msg, VHOST_MEM_A_PLUGGED_SIZE, 0);
	r = __nlt_transact(&self->nl, msg, NULL, NULL);
	EXPECT_EQ(-EINVAL, r) TH_LOG("an output-only attribute: %s",
				     vmt_errname(-r));
	msg = nlt_msg(&self->nl, VHOST_MEM_CMD_DEV_GET, 0);
	nla_put_u32(msg, VHOST_MEM_A_ID, self->id);
	nla_put(msg, VHOST_MEM_A_MAX + 10, 3, "abc");
	r = __nlt_transact(&self->nl, msg, NULL, NULL);
	EXPECT_EQ(-EINVAL, r) TH_LOG("an unknown attribute: %s",
				     vmt_errname(-r));

	/* commands the family does not have */
	r = __nlt_transact(&self->nl,
			   nlt_msg(&self->nl, VHOST_MEM_CMD_PLUGGED_SIZE_NTF, 0),
			   NULL, NULL);
	EXPECT_EQ(-EOPNOTSUPP, r) TH_LOG("a notification sent as a request: %s",
					 vmt_errname(-r));
	r = __nlt_transact(&self->nl, nlt_msg(&self->nl, 200, 0), NULL, NULL);
	EXPECT_EQ(-EOPNOTSUPP, r) TH_LOG("command 200: %s", vmt_errname(-r));

	/* and the device is fine */
	EXPECT_EQ(0, __nlt_get(&self->nl, self->id, NULL));
}

TEST(family_and_group)
{
	struct nlc n;
	int grp;

	VMT_REQUIRE_DEVICE();
	ASSERT_EQ(0, __nlt_open(&n));
	grp = genl_ctrl_resolve_grp(n.sk, VHOST_MEM_FAMILY_NAME,
				    VHOST_MEM_MCGRP_EVENTS);
	EXPECT_LT(0, grp) TH_LOG("group %s: %s", VHOST_MEM_MCGRP_EVENTS,
				 nl_geterror(grp));
	nlt_close(&n);
}

TEST_HARNESS_MAIN
