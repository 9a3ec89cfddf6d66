// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: DEV_SET of the generic netlink family "vhost-mem".
 *
 * - its errors are the ioctl's (sizes: EINVAL, ERANGE), and a device
 *   without region refuses it, each with an extended ack message;
 * - a netlink resize signals VHOST_MEM_SET_CONFIG_CALL's eventfd, the
 *   VMM's own resize does not, and the next PLUG succeeds up to the size;
 * - a DEV_SET with the cookie of a closed device never resizes a newer one
 *   that has its id; ids are not reused right away.
 */
#include "netlink_fixture.h"

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

TEST_HARNESS_MAIN
