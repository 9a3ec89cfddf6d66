/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: the fixture of the netlink_*_test programs, which
 * test the generic netlink family "vhost-mem": a device driven by this
 * process (VM, requestq, anonymous backing, a region of 256 MiB at 4 GiB,
 * running) and a socket of the family.  Include it instead of
 * kselftest_harness.h.
 */
#ifndef VMT_NETLINK_FIXTURE_H
#define VMT_NETLINK_FIXTURE_H

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
static inline void plug_range(struct vmt_vq *vq, u64 from, u64 to)
{
	vmt_mem_plug_range(vq, TEST_REGION_GPA, from, to, TEST_BLOCK_SIZE);
}

#endif /* VMT_NETLINK_FIXTURE_H */
