// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: the generic netlink family "vhost-mem".
 *
 * - DEV_GET (do and dump) reports what VHOST_MEM_GET_STATUS reports, and
 *   the owner, the VM and the NUMA node;
 * - every error: unknown or missing id (ENODEV, EINVAL), sizes (EINVAL,
 *   ERANGE, as the ioctl), unknown attributes, a device without region,
 *   each with an extended ack message;
 * - DEV_SET needs CAP_SYS_RESOURCE over the opener's user namespace (in
 *   the caller and the socket's opener), CAP_NET_ADMIN is not enough, reads
 *   need nothing; another network namespace sees none of our devices;
 * - a DEV_SET with the cookie of a closed device never resizes a newer one
 *   that has its id; ids are not reused right away;
 * - the VM id names the VM's creator in the reader's pid namespace;
 * - a device busy for long under its own locks delays neither the open
 *   and close of other devices nor dumps (which mark it busy);
 * - a netlink resize signals VHOST_MEM_SET_CONFIG_CALL's eventfd, the
 *   VMM's own resize does not, and the next PLUG succeeds up to the size;
 * - events: requested size (with who changed it), plugged size, reached;
 * - thousands of requests, and devices coming and going during dumps,
 *   leave the device working.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/userfaultfd.h>

#include "vmt.h"
#include "vmm_util.h"
#include "nl_util.h"
#include "kselftest_harness.h"

#define TEST_REGION_GPA		(4ULL << 30)
#define TEST_REGION_SIZE	(256ULL << 20)
#define TEST_BLOCK_SIZE		(2ULL << 20)
#define TEST_SLOT_BASE		200
#define MIB			(1ULL << 20)

#define CAP_BIT(cap)	(1ULL << (cap))

/* Sets every capability set of this process to caps (stays root). */
static void set_caps(u64 caps)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	int i;

	TEST_ASSERT(!syscall(SYS_capget, &hdr, data), "capget");
	for (i = 0; i < 2; i++) {
		data[i].effective = (u32)(caps >> (32 * i));
		data[i].permitted = data[i].effective;
		data[i].inheritable = data[i].effective;
	}
	TEST_ASSERT(!syscall(SYS_capset, &hdr, data), "capset");
}

/* Every capability this process has, as a mask. */
static u64 get_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	TEST_ASSERT(!syscall(SYS_capget, &hdr, data), "capget");
	return data[0].effective | (u64)data[1].effective << 32;
}

/* ------------------------------------------------------------------ */
/* A device driven by this process                                    */
/* ------------------------------------------------------------------ */

FIXTURE(nl) {
	struct vmt_vm *vm;
	struct vmt_vq vq;
	struct vmt_dev dev;
	struct vmt_backing backing;
	struct vhost_mem_region region;
	struct nlc nl;
	u32 id;
};

FIXTURE_SETUP(nl)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	ASSERT_EQ(0, __nlt_open(&self->nl))
		TH_LOG("the generic netlink family %s does not exist although the module is loaded",
		       VHOST_MEM_FAMILY_NAME);
	self->vm = vmt_vm_create(0);
	vmt_vq_init(&self->vq, self->vm, 0);
	vmt_dev_open_ready(&self->dev, self->vm, &self->vq, ~0ULL);
	vmt_backing_init(&self->backing, VMT_BACKING_ANON, TEST_REGION_SIZE);
	vmt_region_init(&self->region, &self->backing, TEST_REGION_GPA,
			TEST_BLOCK_SIZE, TEST_SLOT_BASE);
	vmt_dev_start(&self->dev, &self->region, 0);
	self->id = vmt_dev_id(self->dev.fd);
}

FIXTURE_TEARDOWN(nl)
{
	nlt_close(&self->nl);
	if (self->vm) {
		vmt_dev_close(&self->dev);
		vmt_vq_destroy(&self->vq);
		vmt_backing_free(&self->backing);
		vmt_vm_free(self->vm);
	}
}

/* Plugs [from, to) of the region block by block: every answer must be ACK. */
static void plug_range(struct vmt_vq *vq, u64 from, u64 to)
{
	vmt_mem_plug_range(vq, TEST_REGION_GPA, from, to, TEST_BLOCK_SIZE);
}

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

/* The errors of DEV_SET are those of VHOST_MEM_SET_REQUESTED_SIZE. */
TEST_F(nl, set_errors_match_ioctl)
{
	static const struct {
		u64 size;
		int err;
		const char *what;
	} cases[] = {
		{ TEST_BLOCK_SIZE / 2, -EINVAL, "half a block" },
		{ TEST_BLOCK_SIZE + 4096, -EINVAL, "a block and a page" },
		{ 1, -EINVAL, "one byte" },
		{ TEST_REGION_SIZE + TEST_BLOCK_SIZE, -ERANGE, "a block beyond the region" },
		{ ~0ULL & ~(TEST_BLOCK_SIZE - 1), -ERANGE, "2^64 - 2 MiB" },
		{ TEST_REGION_SIZE, 0, "the whole region" },
		{ 0, 0, "zero" },
	};
	struct nl_msg *msg;
	struct nlc_dev d;
	unsigned int i;
	int r, ri;

	for (i = 0; i < VMT_ARRAY_SIZE(cases); i++) {
		r = __nlt_set(&self->nl, self->id, cases[i].size);
		EXPECT_EQ(cases[i].err, r)
			TH_LOG("DEV_SET %s (0x%llx): expected %s, got %s (%s)",
			       cases[i].what, (unsigned long long)cases[i].size,
			       vmt_errname(-cases[i].err), vmt_errname(-r),
			       self->nl.msg);
		if (r)
			EXPECT_NE('\0', self->nl.msg[0])
				TH_LOG("no extack message for %s", cases[i].what);
		ri = __vmt_mem_set_requested_size(self->dev.fd, cases[i].size);
		EXPECT_EQ(r, ri) TH_LOG("%s: netlink %s but ioctl %s",
					cases[i].what, vmt_errname(-r),
					vmt_errname(-ri));
	}
	TH_LOG("extack for a misaligned size: '%s'",
	       (__nlt_set(&self->nl, self->id, 1), self->nl.msg));

	r = __nlt_set(&self->nl, 1000000, 0);
	EXPECT_EQ(-ENODEV, r) TH_LOG("DEV_SET on an unknown id: %s",
				     vmt_errname(-r));

	/* missing attributes */
	msg = nlt_msg(&self->nl, VHOST_MEM_CMD_DEV_SET, 0);
	nla_put_u32(msg, VHOST_MEM_A_ID, self->id);
	r = __nlt_transact(&self->nl, msg, NULL, NULL);
	EXPECT_EQ(-EINVAL, r) TH_LOG("DEV_SET without a size: %s",
				     vmt_errname(-r));
	msg = nlt_msg(&self->nl, VHOST_MEM_CMD_DEV_SET, 0);
	nla_put_u64(msg, VHOST_MEM_A_REQUESTED_SIZE, 0);
	r = __nlt_transact(&self->nl, msg, NULL, NULL);
	EXPECT_EQ(-EINVAL, r) TH_LOG("DEV_SET without an id: %s",
				     vmt_errname(-r));
	/* a size of the wrong length: a uint has 4 or 8 bytes */
	msg = nlt_msg(&self->nl, VHOST_MEM_CMD_DEV_SET, 0);
	nla_put_u32(msg, VHOST_MEM_A_ID, self->id);
	nla_put_u16(msg, VHOST_MEM_A_REQUESTED_SIZE, 0);
	r = __nlt_transact(&self->nl, msg, NULL, NULL);
	EXPECT_EQ(-EINVAL, r) TH_LOG("a u16 size: %s", vmt_errname(-r));
	msg = nlt_msg(&self->nl, VHOST_MEM_CMD_DEV_SET, 0);
	nla_put_u32(msg, VHOST_MEM_A_ID, self->id);
	nla_put(msg, VHOST_MEM_A_REQUESTED_SIZE, 12, "twelve bytes");
	r = __nlt_transact(&self->nl, msg, NULL, NULL);
	EXPECT_EQ(-EINVAL, r) TH_LOG("a 12-byte size: %s", vmt_errname(-r));
	/* and 4 bytes are a uint too */
	msg = nlt_msg(&self->nl, VHOST_MEM_CMD_DEV_SET, 0);
	nla_put_u32(msg, VHOST_MEM_A_ID, self->id);
	nla_put_u32(msg, VHOST_MEM_A_REQUESTED_SIZE, 0);
	r = __nlt_transact(&self->nl, msg, NULL, NULL);
	EXPECT_EQ(0, r) TH_LOG("a u32 size: %s", vmt_errname(-r));

	ASSERT_EQ(0, __nlt_get(&self->nl, self->id, &d));
	EXPECT_EQ(0, d.requested);
}

TEST_F(nl, set_without_region)
{
	int fd2, id2, r;

	fd2 = vmt_mem_open();
	id2 = vmt_dev_id(fd2);
	r = __nlt_set(&self->nl, id2, 0);
	EXPECT_EQ(-EBADFD, r) TH_LOG("DEV_SET on a device without region: %s",
				     vmt_errname(-r));
	EXPECT_NE('\0', self->nl.msg[0]);
	EXPECT_EQ(0, __nlt_get(&self->nl, id2, NULL));
	close(fd2);
	r = __nlt_get(&self->nl, id2, NULL);
	EXPECT_EQ(-ENODEV, r) TH_LOG("DEV_GET on a closed device: %s",
				     vmt_errname(-r));
}

/*
 * The admin's resize reaches the guest: the config-change eventfd fires,
 * and the guest's next PLUGs are ACKed up to the new size.
 */
TEST_F(nl, resize_signals_config_and_plug_follows)
{
	const u64 size = 64ULL << 20;
	struct nlc_dev d;
	u64 count;
	int efd, r;

	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, __vmt_mem_set_config_call(self->dev.fd, efd));
	ASSERT_EQ(0, __nlt_get(&self->nl, self->id, &d));
	EXPECT_TRUE(d.config_call);

	/* before any resize the guest may plug nothing */
	r = __vmt_mem_plug(&self->vq, TEST_REGION_GPA, 1);
	EXPECT_NE(VIRTIO_MEM_RESP_ACK, r) TH_LOG("PLUG before the resize: %s",
						 vmt_mem_resp_name(r));

	r = __nlt_set(&self->nl, self->id, size);
	ASSERT_EQ(0, r) TH_LOG("DEV_SET 64 MiB: %s (%s)", vmt_errname(-r),
			       self->nl.msg);
	ASSERT_EQ(sizeof(count), read(efd, &count, sizeof(count)))
		TH_LOG("the config-change eventfd did not fire after a netlink resize");
	EXPECT_EQ(1, count);

	plug_range(&self->vq, 0, size);
	r = __vmt_mem_plug(&self->vq, TEST_REGION_GPA + size, 1);
	EXPECT_EQ(VIRTIO_MEM_RESP_NACK, r) TH_LOG("PLUG beyond the new size: %s",
						  vmt_mem_resp_name(r));
	ASSERT_EQ(0, __nlt_get(&self->nl, self->id, &d));
	EXPECT_EQ(size, d.plugged);
	EXPECT_EQ(size, d.requested);

	/* the same size again: nothing changed, nothing to tell */
	ASSERT_EQ(0, __nlt_set(&self->nl, self->id, size));
	EXPECT_EQ(-1, read(efd, &count, sizeof(count)));
	EXPECT_EQ(EAGAIN, errno);

	/* the VMM's own resize: it tells the guest itself */
	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 2 * size));
	EXPECT_EQ(-1, read(efd, &count, sizeof(count)))
		TH_LOG("the ioctl resize signalled the config eventfd");

	/* a failed resize does not signal either */
	EXPECT_EQ(-ERANGE, __nlt_set(&self->nl, self->id, 2 * TEST_REGION_SIZE));
	EXPECT_EQ(-1, read(efd, &count, sizeof(count)));

	/* shrinking: signalled too, and the guest may unplug */
	ASSERT_EQ(0, __nlt_set(&self->nl, self->id, TEST_BLOCK_SIZE));
	ASSERT_EQ(sizeof(count), read(efd, &count, sizeof(count)));
	r = __vmt_mem_unplug(&self->vq, TEST_REGION_GPA + TEST_BLOCK_SIZE,
			     (size - TEST_BLOCK_SIZE) / TEST_BLOCK_SIZE);
	EXPECT_EQ(VIRTIO_MEM_RESP_ACK, r);

	/* removed: no more signals */
	ASSERT_EQ(0, __vmt_mem_set_config_call(self->dev.fd, -1));
	ASSERT_EQ(0, __nlt_set(&self->nl, self->id, size));
	EXPECT_EQ(-1, read(efd, &count, sizeof(count)));
	ASSERT_EQ(0, __nlt_get(&self->nl, self->id, &d));
	EXPECT_FALSE(d.config_call);
	close(efd);
}

TEST_F(nl, config_call_errors)
{
	pid_t pid;
	int efd, nullfd, status, r;

	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, nullfd);
	r = __vmt_mem_set_config_call(self->dev.fd, nullfd);
	EXPECT_EQ(-EINVAL, r) TH_LOG("not an eventfd: %s", vmt_errname(-r));
	r = __vmt_mem_set_config_call(self->dev.fd, 1000000);
	EXPECT_EQ(-EBADF, r) TH_LOG("not a file: %s", vmt_errname(-r));
	r = __vmt_mem_set_config_call(self->dev.fd, -2);
	EXPECT_EQ(-EBADF, r) TH_LOG("-2: %s", vmt_errname(-r));

	/* only the owner */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(__vmt_mem_set_config_call(self->dev.fd, efd) == -EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("another process could set the config eventfd");

	EXPECT_EQ(0, __vmt_mem_set_config_call(self->dev.fd, efd));
	EXPECT_EQ(0, __vmt_mem_set_config_call(self->dev.fd, efd)) TH_LOG("replacing it");
	EXPECT_EQ(0, __vmt_mem_set_config_call(self->dev.fd, -1));
	EXPECT_EQ(0, __vmt_mem_set_config_call(self->dev.fd, -1)) TH_LOG("clearing twice");
	close(nullfd);
	close(efd);
}

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

/*
 * Runs fn in a child and returns its exit status: 0 if it did what the
 * test wants.  The child may change its credentials freely.
 */
static int in_child(void (*fn)(u32 id), u32 id)
{
	int status;
	pid_t pid;

	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		fn(id);
		_exit(0);
	}
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The DEV_SET of a caller with only the capabilities caps. */
static int set_with_caps(u32 id, u64 caps, int *r)
{
	struct nlc n;

	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	set_caps(caps);
	*r = __nlt_set(&n, id, 8ULL << 20);
	TEST_ASSERT(!__nlt_get(&n, id, NULL), "DEV_GET with caps 0x%llx",
		    (unsigned long long)caps);
	nlt_close(&n);
	return *r;
}

static void only_net_admin(u32 id)
{
	int r;

	set_with_caps(id, CAP_BIT(CAP_NET_ADMIN), &r);
	TEST_ASSERT(r == -EPERM, "DEV_SET with only CAP_NET_ADMIN: expected EPERM, got %s",
		    vmt_errname(-r));
}

static void all_but_sys_resource(u32 id)
{
	int r;

	set_with_caps(id, get_caps() & ~CAP_BIT(CAP_SYS_RESOURCE), &r);
	TEST_ASSERT(r == -EPERM, "DEV_SET as root without CAP_SYS_RESOURCE: expected EPERM, got %s",
		    vmt_errname(-r));
}

static void only_sys_resource(u32 id)
{
	int r;

	set_with_caps(id, CAP_BIT(CAP_SYS_RESOURCE), &r);
	TEST_ASSERT(!r, "DEV_SET with only CAP_SYS_RESOURCE: %s", vmt_errname(-r));
}

/* A socket opened with the capability, used without it. */
static void dropped_after_open(u32 id)
{
	struct nlc n;
	int r;

	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	set_caps(get_caps() & ~CAP_BIT(CAP_SYS_RESOURCE));
	r = __nlt_set(&n, id, 8ULL << 20);
	TEST_ASSERT(r == -EPERM, "DEV_SET after dropping CAP_SYS_RESOURCE: expected EPERM, got %s",
		    vmt_errname(-r));
}

/* And a socket opened with it, passed to a process without it. */
static void opened_by_other(u32 id)
{
	struct nlc n;
	int r;

	set_caps(get_caps() & ~CAP_BIT(CAP_SYS_RESOURCE));
	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	r = __nlt_set(&n, id, 8ULL << 20);
	TEST_ASSERT(r == -EPERM, "DEV_SET without CAP_SYS_RESOURCE: expected EPERM, got %s",
		    vmt_errname(-r));
}

static void as_nobody(u32 id)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	struct nlc n;
	int r;

	TEST_ASSERT(!setresgid(65534, 65534, 65534) &&
		    !setresuid(65534, 65534, 65534), "becoming nobody");
	TEST_ASSERT(!__nlt_open(&n), "family lookup as nobody");
	r = __nlt_set(&n, id, 8ULL << 20);
	TEST_ASSERT(r == -EPERM, "DEV_SET as nobody: expected EPERM, got %s",
		    vmt_errname(-r));
	TEST_ASSERT(!__nlt_get(&n, id, NULL), "DEV_GET as nobody");
	TEST_ASSERT(dump && !__nlt_dump(&n, dump) && nlt_dump_find(dump, id),
		    "the dump as nobody lacks our device");
}

/*
 * The test VM runs us chrooted, and a chrooted process may not create a
 * user namespace: climb out first (root may; the files we need are open).
 */
static void leave_chroot(void)
{
	int i, top = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	TEST_ASSERT(top >= 0 && !chroot("/proc") && !fchdir(top),
		    "chroot(/proc)");
	for (i = 0; i < 64; i++)
		TEST_ASSERT(!chdir(".."), "chdir(..)");
	TEST_ASSERT(!chroot("."), "chroot(.)");
	close(top);
}

/* Root of a new user namespace, still in our network namespace. */
static void new_userns(u32 id)
{
	struct nlc n;
	int r;

	leave_chroot();
	TEST_ASSERT(!unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)");
	TEST_ASSERT(get_caps() & CAP_BIT(CAP_SYS_RESOURCE),
		    "no CAP_SYS_RESOURCE in a new user namespace");
	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	TEST_ASSERT(!__nlt_get(&n, id, NULL), "DEV_GET from a new user namespace");
	r = __nlt_set(&n, id, 8ULL << 20);
	TEST_ASSERT(r == -EPERM, "DEV_SET from a new user namespace: expected EPERM, got %s",
		    vmt_errname(-r));
}

/*
 * New user and network namespaces: none of our devices, but its own one,
 * which its root may resize (EBADFD: allowed, but it has no region).
 */
static void new_userns_netns(u32 id)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	int r, fd, node, proc;
	char path[32];
	struct nlc n;

	/* opened again below, from the new namespaces */
	node = open("/dev/vhost-mem", O_PATH | O_CLOEXEC);
	proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	TEST_ASSERT(node >= 0 && proc >= 0, "/dev/vhost-mem, /proc");
	leave_chroot();
	TEST_ASSERT(!unshare(CLONE_NEWUSER | CLONE_NEWNET),
		    "unshare(CLONE_NEWUSER | CLONE_NEWNET)");
	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	TEST_ASSERT(dump && !__nlt_dump(&n, dump) && dump->n == 0,
		    "a new user and network namespace lists %u devices",
		    dump ? dump->n : 0);
	r = __nlt_get(&n, id, NULL);
	TEST_ASSERT(r == -ENODEV, "DEV_GET of the parent's device: %s",
		    vmt_errname(-r));
	snprintf(path, sizeof(path), "self/fd/%d", node);
	fd = openat(proc, path, O_RDWR | O_CLOEXEC);
	TEST_ASSERT(fd >= 0, "opening /dev/vhost-mem in the new namespaces");
	TEST_ASSERT(!__nlt_dump(&n, dump) && dump->n == 1,
		    "the new namespace lists %u devices, not its own one",
		    dump->n);
	r = __nlt_set(&n, dump->devs[0].id, 0);
	TEST_ASSERT(r == -EBADFD, "DEV_SET of its own device: expected EBADFD, got %s",
		    vmt_errname(-r));
	close(fd);
}

/*
 * Resizing needs CAP_SYS_RESOURCE over the user namespace of the process
 * that opened the device, in the caller and in the socket's opener:
 * networking capabilities decide nothing.  Reading is for everyone who
 * sees the device.
 */
TEST_F(nl, permissions)
{
	static const struct {
		void (*fn)(u32 id);
		const char *what;
		bool allowed;
	} callers[] = {
		{ only_net_admin, "only CAP_NET_ADMIN", false },
		{ all_but_sys_resource, "root without CAP_SYS_RESOURCE", false },
		{ dropped_after_open, "a socket opened with CAP_SYS_RESOURCE", false },
		{ opened_by_other, "root without CAP_SYS_RESOURCE, own socket", false },
		{ as_nobody, "nobody", false },
		{ new_userns, "root of a new user namespace", false },
		{ new_userns_netns, "a new user and network namespace", false },
		{ only_sys_resource, "only CAP_SYS_RESOURCE", true },
	};
	struct vhost_mem_status st;
	unsigned int i;
	u64 want;

	for (i = 0; i < VMT_ARRAY_SIZE(callers); i++) {
		EXPECT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 0));
		EXPECT_EQ(0, in_child(callers[i].fn, self->id))
			TH_LOG("%s", callers[i].what);
		ASSERT_EQ(0, __vmt_mem_get_status(self->dev.fd, &st));
		want = callers[i].allowed ? 8 * MIB : 0;
		EXPECT_EQ(want, st.requested_size)
			TH_LOG("%s: the device's requested size is %llu MiB",
			       callers[i].what,
			       (unsigned long long)st.requested_size >> 20);
	}
	/* and root, as every other test */
	EXPECT_EQ(0, __nlt_set(&self->nl, self->id, 4ULL << 20));
}

/* Another network namespace sees none of our devices, and we none of its. */
TEST_F(nl, netns_isolation)
{
	int pipefd[2], status, r;
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	pid_t pid;
	u32 child_id = ~0U;

	ASSERT_NE(NULL, dump);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct nlc n;
		u32 id;
		int fd;

		close(pipefd[0]);
		TEST_ASSERT(!unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
		TEST_ASSERT(!__nlt_open(&n),
			    "the family is missing in a new network namespace");
		TEST_ASSERT(!__nlt_dump(&n, dump) && !nlt_dump_find(dump, self->id),
			    "another namespace lists our device");
		r = __nlt_get(&n, self->id, NULL);
		TEST_ASSERT(r == -ENODEV, "DEV_GET from another namespace: %s",
			    vmt_errname(-r));
		r = __nlt_set(&n, self->id, 8ULL << 20);
		TEST_ASSERT(r == -ENODEV, "DEV_SET from another namespace: %s",
			    vmt_errname(-r));
		/* a device opened here belongs here */
		fd = vmt_mem_open();
		id = vmt_dev_id(fd);
		TEST_ASSERT(!__nlt_dump(&n, dump) && nlt_dump_find(dump, id) &&
			    dump->n == 1,
			    "the namespace should list exactly its own device");
		TEST_ASSERT(write(pipefd[1], &id, sizeof(id)) == sizeof(id),
			    "pipe");
		/* the parent looks, then kills us */
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ASSERT_EQ(sizeof(child_id), read(pipefd[0], &child_id, sizeof(child_id)))
		TH_LOG("the child failed before opening its device");
	r = __nlt_get(&self->nl, child_id, NULL);
	EXPECT_EQ(-ENODEV, r) TH_LOG("the other namespace's device is visible here: %s",
				     vmt_errname(-r));
	EXPECT_EQ(-ENODEV, __nlt_set(&self->nl, child_id, 0));
	ASSERT_EQ(0, __nlt_dump(&self->nl, dump));
	EXPECT_EQ(NULL, nlt_dump_find(dump, child_id));
	EXPECT_NE(NULL, nlt_dump_find(dump, self->id));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("the child exited with %d",
						WEXITSTATUS(status));
	close(pipefd[0]);
	free(dump);
}

/*
 * An admin reads a device, its VMM exits, another VMM's device comes: the
 * admin's DEV_SET of the id it read must not resize the newcomer.  With
 * the cookie it is refused; without, the id is not reused so soon.
 */
TEST_F(nl, stale_id_never_resizes_newer_device)
{
	struct vhost_mem_status st;
	struct vmt_vm *vm2;
	struct vmt_vq vq2;
	struct vmt_dev dev2;
	struct vmt_backing backing2;
	struct vhost_mem_region region2;
	struct nlc_dev a, b;
	u32 id_a, id_b;
	int fd, r;

	fd = vmt_mem_open();
	id_a = vmt_dev_id(fd);
	ASSERT_EQ(0, __nlt_get(&self->nl, id_a, &a));
	EXPECT_TRUE(a.has_cookie) TH_LOG("DEV_GET has no VHOST_MEM_A_COOKIE");
	close(fd);

	/* the next device opened, with a region of its own */
	vm2 = vmt_vm_create(0);
	vmt_vq_init(&vq2, vm2, 0);
	vmt_dev_open_ready(&dev2, vm2, &vq2, ~0ULL);
	vmt_backing_init(&backing2, VMT_BACKING_ANON, TEST_REGION_SIZE);
	vmt_region_init(&region2, &backing2, TEST_REGION_GPA, TEST_BLOCK_SIZE,
			TEST_SLOT_BASE);
	vmt_dev_start(&dev2, &region2, 0);
	id_b = vmt_dev_id(dev2.fd);
	ASSERT_EQ(0, __nlt_get(&self->nl, id_b, &b));
	TH_LOG("closed vhost-mem%u (cookie %llu), opened vhost-mem%u (cookie %llu)",
	       id_a, (unsigned long long)a.cookie, id_b,
	       (unsigned long long)b.cookie);
	EXPECT_NE(id_a, id_b) TH_LOG("the id of a closed device was reused at once");
	EXPECT_LT(a.cookie, b.cookie) TH_LOG("cookies increase");

	r = __nlt_set_cookie(&self->nl, id_a, a.cookie, 8ULL << 20);
	EXPECT_TRUE(r == -ENODEV || r == -ESTALE)
		TH_LOG("DEV_SET of the closed device with its cookie: %s (%s)",
		       vmt_errname(-r), self->nl.msg);
	r = __nlt_set(&self->nl, id_a, 8ULL << 20);
	EXPECT_EQ(-ENODEV, r) TH_LOG("DEV_SET of the closed device's id: %s",
				     vmt_errname(-r));
	ASSERT_EQ(0, __vmt_mem_get_status(dev2.fd, &st));
	EXPECT_EQ(0, st.requested_size)
		TH_LOG("a DEV_SET meant for the closed device resized the new one");

	/* a live id with another device's cookie */
	r = __nlt_set_cookie(&self->nl, id_b, a.cookie, 8ULL << 20);
	EXPECT_EQ(-ESTALE, r) TH_LOG("DEV_SET with a wrong cookie: %s",
				     vmt_errname(-r));
	EXPECT_NE('\0', self->nl.msg[0]) TH_LOG("no extack for a stale cookie");
	r = __nlt_get_cookie(&self->nl, id_b, a.cookie, NULL);
	EXPECT_EQ(-ESTALE, r) TH_LOG("DEV_GET with a wrong cookie: %s",
				     vmt_errname(-r));
	ASSERT_EQ(0, __vmt_mem_get_status(dev2.fd, &st));
	EXPECT_EQ(0, st.requested_size);
	/* and the right one */
	EXPECT_EQ(0, __nlt_set_cookie(&self->nl, id_b, b.cookie, 8ULL << 20));
	ASSERT_EQ(0, __vmt_mem_get_status(dev2.fd, &st));
	EXPECT_EQ(8ULL << 20, st.requested_size);

	vmt_dev_close(&dev2);
	vmt_vq_destroy(&vq2);
	vmt_backing_free(&backing2);
	vmt_vm_free(vm2);
}

/* pid 1 of a new pid namespace: what it sees of us, and of its own VM. */
static void pidns_reader(u32 parent_id, int report)
{
	struct nlc_dev d;
	struct vmt_vm *vm;
	struct nlc n;
	char want[32];
	u32 id;
	int fd;

	TEST_ASSERT(getpid() == 1, "not pid 1 of a new pid namespace");
	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	TEST_ASSERT(!__nlt_get(&n, parent_id, &d), "DEV_GET of the parent's device");
	TEST_ASSERT(!d.has_owner, "the owner is visible: pid %u", d.owner_pid);
	TEST_ASSERT(!d.has_vm, "the VM id '%s' names a process of another pid namespace",
		    d.vm_id);
	vm = vmt_vm_create(0);
	fd = vmt_mem_open();
	TEST_ASSERT(!__vmt_vhost_set_owner(fd), "VHOST_SET_OWNER");
	TEST_ASSERT(!__vmt_mem_set_vm(fd, vm->vm_fd), "VHOST_MEM_SET_VM");
	id = vmt_dev_id(fd);
	TEST_ASSERT(!__nlt_get(&n, id, &d), "DEV_GET of its own device");
	TEST_ASSERT(d.has_owner && d.owner_pid == 1, "its own owner: %u",
		    d.owner_pid);
	snprintf(want, sizeof(want), "kvm-%d", getpid());
	TEST_ASSERT(d.has_vm && !strcmp(d.vm_id, want),
		    "its own VM id: '%s', expected '%s'", d.vm_id, want);
	TEST_ASSERT(write(report, &id, sizeof(id)) == sizeof(id), "pipe");
	/* the parent looks, then closes the pipe */
	TEST_ASSERT(read(report, &id, sizeof(id)) == 0, "pipe");
	close(fd);
	vmt_vm_free(vm);
}

/*
 * KVM's VM id is "kvm-" and the creator's pid in the initial namespace: a
 * reader in another pid namespace gets it translated, or not at all.
 */
TEST_F(nl, vm_id_in_pid_namespace)
{
	int sv[2], status;
	struct nlc_dev d;
	char want[32];
	pid_t pid;
	u32 id;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		pid_t inner;

		close(sv[0]);
		TEST_ASSERT(!unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)");
		inner = fork();
		TEST_ASSERT(inner >= 0, "fork");
		if (!inner) {
			pidns_reader(self->id, sv[1]);
			_exit(0);
		}
		TEST_ASSERT(waitpid(inner, &status, 0) == inner, "waitpid");
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	}
	close(sv[1]);
	if (read(sv[0], &id, sizeof(id)) == sizeof(id)) {
		/* from here, its VM is named by its pid here */
		ASSERT_EQ(0, __nlt_get(&self->nl, id, &d));
		ASSERT_TRUE(d.has_owner);
		EXPECT_NE(1, d.owner_pid);
		snprintf(want, sizeof(want), "kvm-%u", d.owner_pid);
		EXPECT_STREQ(want, d.vm_id);
	}
	close(sv[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the reader in the new pid namespace failed");
}

/* ------------------------------------------------------------------ */
/* A device busy for long under its own locks                         */
/* ------------------------------------------------------------------ */

#define BUSY_HOLD_MS	5000
#define BUSY_RUN_MS	(BUSY_HOLD_MS + 1500)
#define BUSY_BOUND_NS	1000000000ULL

/* Resolves the first missing fault of [start, start + len) late. */
struct uffd_holder {
	int uffd;
	u64 start, len;
	u64 fault_ns;		/* when the fault came, 0: never */
};

static void *uffd_hold(void *arg)
{
	struct uffd_holder *h = arg;
	struct pollfd pfd = { .fd = h->uffd, .events = POLLIN };
	struct uffdio_zeropage zp = {
		.range = { .start = h->start, .len = h->len },
	};
	struct uffd_msg msg;

	if (poll(&pfd, 1, 20000) == 1 &&
	    read(h->uffd, &msg, sizeof(msg)) == sizeof(msg) &&
	    msg.event == UFFD_EVENT_PAGEFAULT) {
		h->fault_ns = vmt_now_ns();
		vmt_sleep_ms(BUSY_HOLD_MS);
	}
	/* the whole range at once: no second fault */
	ioctl(h->uffd, UFFDIO_ZEROPAGE, &zp);
	return NULL;
}

static int uffd_register(void *addr, u64 len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (u64)(uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (uffd < 0)
		return -errno;
	if (ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		close(uffd);
		return -errno;
	}
	return uffd;
}

struct busy_dumps {
	u64 max_ns;
	unsigned int dumps, failed, idle_missing, idle_incomplete, busy_seen;
};

/* As nobody: dumps for BUSY_RUN_MS, timing each. */
static void busy_dumper(int report, u32 idle_id, u32 busy_id)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	struct busy_dumps res = {};
	const struct nlc_dev *d;
	u64 end, t;
	struct nlc n;

	TEST_ASSERT(dump, "out of memory");
	TEST_ASSERT(!setresgid(65534, 65534, 65534) &&
		    !setresuid(65534, 65534, 65534), "becoming nobody");
	TEST_ASSERT(!__nlt_open(&n), "family lookup as nobody");
	end = vmt_now_ns() + BUSY_RUN_MS * 1000000ULL;
	while ((t = vmt_now_ns()) < end) {
		res.failed += !!__nlt_dump(&n, dump);
		t = vmt_now_ns() - t;
		if (t > res.max_ns)
			res.max_ns = t;
		res.dumps++;
		d = nlt_dump_find(dump, idle_id);
		res.idle_missing += !d;
		res.idle_incomplete += d && (d->busy || !d->has_region);
		d = nlt_dump_find(dump, busy_id);
		res.busy_seen += d && d->busy;
		vmt_sleep_ms(10);
	}
	TEST_ASSERT(write(report, &res, sizeof(res)) == sizeof(res), "pipe");
}

/* Times open() and close() of /dev/vhost-mem for BUSY_RUN_MS. */
static void busy_opener(int report)
{
	u64 end, t, max_ns = 0;
	int fd;

	end = vmt_now_ns() + BUSY_RUN_MS * 1000000ULL;
	while ((t = vmt_now_ns()) < end) {
		fd = vmt_mem_open();
		close(fd);
		t = vmt_now_ns() - t;
		if (t > max_ns)
			max_ns = t;
		vmt_sleep_ms(10);
	}
	TEST_ASSERT(write(report, &max_ns, sizeof(max_ns)) == sizeof(max_ns),
		    "pipe");
}

static pid_t busy_spawn(int *rfd, void (*fn)(int report, u32 a, u32 b),
			u32 a, u32 b)
{
	int p[2];
	pid_t pid;

	TEST_ASSERT(!pipe(p), "pipe");
	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		close(p[0]);
		fn(p[1], a, b);
		_exit(0);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static void busy_opener_fn(int report, u32 a, u32 b)
{
	(void)a;
	(void)b;
	busy_opener(report);
}

/* DEV_SET of a busy device from a child, SIGKILLed while it waits. */
struct busy_kill {
	u32 busy_id;
	bool killed;		/* by the SIGKILL, not done before it */
	u64 wait_ns;		/* from kill() to waitpid() */
};

static void busy_setter(int report, u32 busy_id, u32 b)
{
	struct nlc n;

	(void)report;
	(void)b;
	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	__nlt_set(&n, busy_id, 8ULL << 20);
}

static void *busy_kill_setter(void *arg)
{
	struct busy_kill *k = arg;
	int fd, status;
	pid_t pid;
	u64 t;

	vmt_sleep_ms(1000);
	pid = busy_spawn(&fd, busy_setter, k->busy_id, 0);
	vmt_sleep_ms(500);
	t = vmt_now_ns();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	k->wait_ns = vmt_now_ns() - t;
	k->killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	close(fd);
	return NULL;
}

/*
 * A VMM's SET_STATE with prealloc holds its device's locks for seconds
 * (here: the backing is a userfaultfd range whose fault is resolved only
 * after BUSY_HOLD_MS).  Meanwhile nobody dumps the family in a loop, and
 * another process opens and closes devices: neither may wait for it; a
 * DEV_SET waiting for it dies at once when killed.
 */
TEST_F_TIMEOUT(nl, busy_device_stalls_nobody, 120)
{
	struct uffd_holder holder = {};
	struct busy_kill kill_set = {};
	struct busy_dumps dumps = {};
	struct vhost_mem_region region2;
	struct vmt_backing backing2;
	u64 t0, held_ns, open_max = ~0ULL;
	int dump_fd, open_fd, status, r;
	pid_t dumper, opener;
	pthread_t thread, killer;
	struct vmt_dev dev2;
	struct vmt_vq vq2;
	struct vmt_vm *vm2;
	u32 busy_id;
	u64 len;
	u8 *blob;

	/* the state to load: 16 MiB plugged */
	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 16ULL << 20));
	plug_range(&self->vq, 0, 16ULL << 20);
	blob = vmt_ft_save(self->dev.fd, &len);

	/* the busy device: prealloc, over a userfaultfd range */
	vm2 = vmt_vm_create(0);
	vmt_vq_init(&vq2, vm2, 0);
	vmt_dev_open_ready(&dev2, vm2, &vq2, ~0ULL);
	vmt_backing_init(&backing2, VMT_BACKING_ANON, TEST_REGION_SIZE);
	holder.uffd = uffd_register(backing2.hva, backing2.size);
	if (holder.uffd < 0)
		SKIP(return, "userfaultfd: %s", vmt_errname(-holder.uffd));
	holder.start = (u64)(uintptr_t)backing2.hva;
	holder.len = backing2.size;
	vmt_region_init(&region2, &backing2, TEST_REGION_GPA, TEST_BLOCK_SIZE,
			TEST_SLOT_BASE);
	region2.flags |= VHOST_MEM_REGION_F_PREALLOC;
	ASSERT_EQ(0, __vmt_mem_set_vm(dev2.fd, vm2->vm_fd));
	ASSERT_EQ(0, __vmt_mem_set_region(dev2.fd, &region2));
	busy_id = vmt_dev_id(dev2.fd);

	dumper = busy_spawn(&dump_fd, busy_dumper, self->id, busy_id);
	opener = busy_spawn(&open_fd, busy_opener_fn, 0, 0);
	kill_set.busy_id = busy_id;
	ASSERT_EQ(0, pthread_create(&killer, NULL, busy_kill_setter,
				    &kill_set));
	ASSERT_EQ(0, pthread_create(&thread, NULL, uffd_hold, &holder));
	vmt_sleep_ms(200);
	t0 = vmt_now_ns();
	r = __vmt_ft_set_state(dev2.fd, blob, len);
	held_ns = vmt_now_ns() - t0;
	pthread_join(thread, NULL);
	pthread_join(killer, NULL);
	EXPECT_EQ(0, r) TH_LOG("SET_STATE: %s", vmt_errname(-r));
	TH_LOG("SET_STATE held its device for %llu ms",
	       (unsigned long long)held_ns / 1000000);
	EXPECT_NE(0, holder.fault_ns) TH_LOG("the prealloc never faulted");
	EXPECT_LE((BUSY_HOLD_MS - 500) * 1000000ULL, held_ns)
		TH_LOG("the device was not busy long enough to show anything");

	EXPECT_EQ(sizeof(dumps), read(dump_fd, &dumps, sizeof(dumps)))
		TH_LOG("the dumper did not report");
	EXPECT_EQ(sizeof(open_max), read(open_fd, &open_max, sizeof(open_max)))
		TH_LOG("the opener did not report");
	ASSERT_EQ(dumper, waitpid(dumper, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(opener, waitpid(opener, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));

	TH_LOG("open+close: at most %llu ms; %u dumps as nobody, at most %llu ms, busy device marked in %u",
	       (unsigned long long)open_max / 1000000, dumps.dumps,
	       (unsigned long long)dumps.max_ns / 1000000, dumps.busy_seen);
	EXPECT_GT(BUSY_BOUND_NS, open_max)
		TH_LOG("another tenant's open()/close() waited for the busy device");
	EXPECT_GT(BUSY_BOUND_NS, dumps.max_ns)
		TH_LOG("a dump waited for the busy device");
	EXPECT_EQ(0, dumps.failed);
	EXPECT_EQ(0, dumps.idle_missing) TH_LOG("dumps lacked the idle device");
	EXPECT_EQ(0, dumps.idle_incomplete)
		TH_LOG("the idle device was reported busy or without its region");
	EXPECT_LT(0, dumps.busy_seen) TH_LOG("no dump marked the device busy");
	EXPECT_TRUE(kill_set.killed)
		TH_LOG("the DEV_SET of the busy device was done before its SIGKILL");
	EXPECT_GT(BUSY_BOUND_NS, kill_set.wait_ns)
		TH_LOG("a DEV_SET waiting for the busy device died %llu ms after its SIGKILL",
		       (unsigned long long)kill_set.wait_ns / 1000000);

	/* afterwards the busy device reads in full */
	{
		struct nlc_dev d;

		ASSERT_EQ(0, __nlt_get(&self->nl, busy_id, &d));
		EXPECT_FALSE(d.busy);
		EXPECT_EQ(16ULL << 20, d.plugged);
	}
	close(dump_fd);
	close(open_fd);
	close(holder.uffd);
	free(blob);
	vmt_dev_close(&dev2);
	vmt_vq_destroy(&vq2);
	vmt_backing_free(&backing2);
	vmt_vm_free(vm2);
}

/* Thousands of requests of every kind, from two processes at once. */
static void spam(struct nlc *n, u32 id, unsigned int rounds, unsigned int seed)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	struct nl_msg *msg;
	unsigned int i;
	int r, want;

	TEST_ASSERT(dump, "out of memory");
	for (i = 0; i < rounds; i++) {
		switch ((i + seed) % 9) {
		case 0:
			want = 0;
			r = __nlt_get(n, id, NULL);
			break;
		case 1:
			want = -ENODEV;
			r = __nlt_get(n, id + 1000 + i, NULL);
			break;
		case 2:
			want = 0;
			r = __nlt_set(n, id, (i % 4) * TEST_BLOCK_SIZE);
			break;
		case 3:
			want = -EINVAL;
			r = __nlt_set(n, id, TEST_BLOCK_SIZE + i % 4096 + 1);
			break;
		case 4:
			want = -ERANGE;
			r = __nlt_set(n, id, TEST_REGION_SIZE + TEST_BLOCK_SIZE * (1 + i));
			break;
		case 5:
			want = 0;
			r = __nlt_dump(n, dump);
			TEST_ASSERT(r || nlt_dump_find(dump, id),
				    "round %u: the dump lacks the device", i);
			break;
		case 6:
			/* garbage: anything but a crash or a hang */
			msg = nlt_msg(n, VHOST_MEM_CMD_DEV_GET, 0);
			nla_put_u32(msg, VHOST_MEM_A_ID, id);
			nla_put(msg, 1 + i % 60, i % 13, "0123456789abc");
			r = __nlt_transact(n, msg, NULL, NULL);
			want = r;
			break;
		case 7:
			want = -EINVAL;
			msg = nlt_msg(n, VHOST_MEM_CMD_DEV_SET, 0);
			nla_put_u32(msg, VHOST_MEM_A_ID, id);
			r = __nlt_transact(n, msg, NULL, NULL);
			break;
		default:
			/* every command number, as a dump */
			r = __nlt_transact(n, nlt_msg(n, (u8)(i % 256), NLM_F_DUMP),
					   NULL, NULL);
			want = r;
			break;
		}
		TEST_ASSERT(r == want, "round %u (kind %u): expected %s, got %s (%s)",
			    i, (i + seed) % 9, vmt_errname(-want),
			    vmt_errname(-r), n->msg);
	}
	free(dump);
}

TEST_F_TIMEOUT(nl, spam_leaves_device_working, 300)
{
	const unsigned int rounds = 3000;
	struct nlt_events idle;
	struct nlc_dev d;
	pid_t pid;
	int status, r;

	/* a listener that never reads: its queue overflows */
	nlt_events_open(&idle);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct nlc n;

		TEST_ASSERT(!__nlt_open(&n), "family lookup");
		spam(&n, self->id, rounds, 4);
		_exit(0);
	}
	spam(&self->nl, self->id, rounds, 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("the second spammer failed");

	/* the device still works: resize, plug up to it, events */
	nlt_events_close(&idle);
	ASSERT_EQ(0, __nlt_set(&self->nl, self->id, 0));
	EXPECT_EQ(VIRTIO_MEM_RESP_ACK, __vmt_mem_unplug_all(&self->vq));
	ASSERT_EQ(0, __nlt_set(&self->nl, self->id, 16ULL << 20));
	plug_range(&self->vq, 0, 16ULL << 20);
	r = __vmt_mem_plug(&self->vq, TEST_REGION_GPA + (16ULL << 20), 1);
	EXPECT_EQ(VIRTIO_MEM_RESP_NACK, r);
	ASSERT_EQ(0, __nlt_get(&self->nl, self->id, &d));
	EXPECT_EQ(16ULL << 20, d.plugged);
	EXPECT_EQ(0, d.dropped);
}

/* Devices opened and closed while others dump and look them up. */
TEST_F_TIMEOUT(nl, churn_during_dumps, 300)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	u64 deadline;
	pid_t pid;
	int status, r, i;
	u32 id;

	ASSERT_NE(NULL, dump);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fds[4], k;

		for (i = 0; i < 300; i++) {
			for (k = 0; k < 4; k++)
				fds[k] = vmt_mem_open();
			TEST_ASSERT(!__vmt_vhost_set_owner(fds[i % 4]), "owner");
			for (k = 0; k < 4; k++)
				close(fds[k]);
		}
		_exit(0);
	}
	deadline = vmt_now_ns() + 120ULL * 1000000000ULL;
	for (i = 0; vmt_now_ns() < deadline; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		r = __nlt_dump(&self->nl, dump);
		ASSERT_EQ(0, r) TH_LOG("dump %d: %s", i, vmt_errname(-r));
		ASSERT_NE(NULL, nlt_dump_find(dump, self->id));
		for (id = 0; id < 12; id++) {
			r = __nlt_get(&self->nl, id, NULL);
			ASSERT_TRUE(r == 0 || r == -ENODEV)
				TH_LOG("DEV_GET %u: %s", id, vmt_errname(-r));
			r = __nlt_set(&self->nl, id, 0);
			ASSERT_TRUE(r == 0 || r == -ENODEV || r == -EBADFD)
				TH_LOG("DEV_SET %u: %s", id, vmt_errname(-r));
		}
	}
	if (vmt_now_ns() >= deadline) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	TH_LOG("%d rounds of dumps while devices came and went", i);
	EXPECT_EQ(0, __nlt_get(&self->nl, self->id, NULL));
	free(dump);
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
