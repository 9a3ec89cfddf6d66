// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: each memslot also exists in KVM's address space 1 (a userspace memslot
 * there overlapping it gets EEXIST), only with the flag; a conflict there
 * makes the PLUG BUSY and changes nothing.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "vmt.h"
#include "kselftest_harness.h"
#include "rq_expect.h"

/* 32 blocks in 4 chunks of 8; ids 100-103 */
#define SMM_BLOCKS	32
#define SMM_SIZE	(SMM_BLOCKS * BLK)
#define SMM_CHUNK	(8 * BLK)
#define AS1		(1U << 16)
#define VMM_SLOT	50
#define FAR_GPA		(64ULL << 30)

FIXTURE(smm) {
	struct vmt_rq_env e;
	void *page;
	int nr_as;
};

FIXTURE_SETUP(smm)
{
	struct vmt_rq_env *e = &self->e;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ACK_ALL);
	vmt_rq_backing_anon_aligned(&e->backing, SMM_SIZE, BLK);
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = SMM_CHUNK;
	self->nr_as = __vmt_vm_check_cap(e->vm, KVM_CAP_MULTI_ADDRESS_SPACE);
	self->page = mmap(NULL, 2 * BLK, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->page);
}

FIXTURE_TEARDOWN(smm)
{
	vmt_rq_env_free(&self->e);
	munmap(self->page, 2 * BLK);
}

/* FIXTURE_DATA(smm), spelt so that checkpatch can parse the helpers. */
#define smm_fixture_data _test_data_smm

/* A userspace memslot of one block: 0 or -errno.  Deleted again if made. */
static int probe_slot(struct __test_metadata *_metadata,
		      struct smm_fixture_data *self, u32 slot, u64 gpa)
{
	int r = __vmt_vm_set_memslot(self->e.vm, slot, gpa, BLK, self->page, 0);

	if (!r) {
		r = __vmt_vm_set_memslot(self->e.vm, slot, 0, 0, NULL, 0);
		EXPECT_EQ(0, r) TH_LOG("deleting memslot 0x%x: %s", slot,
				       vmt_errstr(r));
		return 0;
	}
	return r;
}

#define EXPECT_PROBE(want, slot, gpa, what) do { \
	int __r = probe_slot(_metadata, self, (slot), (gpa)); \
	EXPECT_EQ((want), __r) \
		TH_LOG("userspace memslot %u of address space %u at GPA 0x%llx (%s): expected %s, got %s", \
		       (slot) & 0xffff, (slot) >> 16, \
		       (unsigned long long)(gpa), what, vmt_errstr(want), \
		       vmt_errstr(__r)); \
} while (0)

static bool smm_supported(struct __test_metadata *_metadata,
			  struct smm_fixture_data *self)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	if (self->nr_as >= 2)
		return true;
	/* one address space: the option cannot work */
	e->region.flags |= VHOST_MEM_REGION_F_SMM;
	ASSERT_EQ(0, __vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd));
	r = __vmt_mem_set_region(e->dev.fd, &e->region);
	EXPECT_EQ(-EOPNOTSUPP, r)
		TH_LOG("VHOST_MEM_REGION_F_SMM with %d address space(s): expected EOPNOTSUPP, got %s",
		       self->nr_as, vmt_errstr(r));
	return false;
}

TEST_F(smm, twin_in_address_space_1)
{
	struct vmt_rq_env *e = &self->e;

	if (!smm_supported(_metadata, self))
		SKIP(return, "KVM has %d address space(s)", self->nr_as);
	e->region.flags |= VHOST_MEM_REGION_F_SMM;
	vmt_rq_env_start(e, SMM_SIZE);
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 9), "nothing plugged");

	VMT_RQ_EXPECT(e, ACK, PLUG, 9, 1);
	EXPECT_PROBE(-EEXIST, AS1 | VMM_SLOT, vmt_rq_gpa(e, 9),
		     "over the plugged block");
	EXPECT_PROBE(-EEXIST, AS1 | VMM_SLOT, vmt_rq_gpa(e, 15),
		     "over the plugged block's chunk");
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 16),
		     "over a chunk without a plugged block");
	/* our ids: chunk 1's is taken in address space 1, chunk 2's not */
	EXPECT_PROBE(-EINVAL, AS1 | (SLOT_BASE + 1), FAR_GPA,
		     "the device's id of a live chunk");
	EXPECT_PROBE(0, AS1 | (SLOT_BASE + 2), FAR_GPA,
		     "the device's id of an empty chunk");
	/* address space 0 is the same as ever */
	EXPECT_PROBE(-EEXIST, VMM_SLOT, vmt_rq_gpa(e, 9),
		     "address space 0, over the plugged block");
	vmt_vm_expect_write(e->vm, vmt_rq_gpa(e, 9) + 8, 0x5a11, "plugged");
	vmt_vm_expect_read(e->vm, vmt_rq_gpa(e, 9) + 8, 0x5a11, "plugged");

	VMT_RQ_EXPECT(e, ACK, UNPLUG, 9, 1);
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 9),
		     "after the UNPLUG of the chunk's only block");
	EXPECT_PROBE(0, AS1 | (SLOT_BASE + 1), FAR_GPA,
		     "the device's id after its chunk emptied");
	vmt_rq_check_all(e);
}

TEST_F(smm, no_twin_without_the_flag)
{
	struct vmt_rq_env *e = &self->e;

	if (self->nr_as < 2)
		SKIP(return, "KVM has %d address space(s)", self->nr_as);
	vmt_rq_env_start(e, SMM_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 9, 1);
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 9),
		     "over the plugged block, no VHOST_MEM_REGION_F_SMM");
	EXPECT_PROBE(0, AS1 | (SLOT_BASE + 1), FAR_GPA,
		     "the device's id of a live chunk, no VHOST_MEM_REGION_F_SMM");
	EXPECT_PROBE(-EEXIST, VMM_SLOT, vmt_rq_gpa(e, 9),
		     "address space 0, over the plugged block");
	vmt_rq_check_all(e);
}

/* The twin cannot be made: BUSY, and address space 0 is rolled back. */
TEST_F(smm, conflict_in_address_space_1_is_busy)
{
	struct vmt_rq_env *e = &self->e;
	int klog, lines, r;

	if (!smm_supported(_metadata, self))
		SKIP(return, "KVM has %d address space(s)", self->nr_as);
	e->region.flags |= VHOST_MEM_REGION_F_SMM;
	vmt_rq_env_start(e, SMM_SIZE);
	/* the VMM maps something into the SMM view of chunk 0 */
	r = __vmt_vm_set_memslot(e->vm, AS1 | VMM_SLOT, vmt_rq_gpa(e, 4), BLK,
				 self->page, 0);
	ASSERT_EQ(0, r) TH_LOG("AS 1 memslot over chunk 0: %s", vmt_errstr(r));
	klog = __vmt_klog_mark();
	ASSERT_LE(0, klog);

	vmt_rq_send_busy(e, PLUG, vmt_rq_gpa(e, 1), 1);
	vmt_rq_check_status(e);
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 1),
			   "the PLUG was BUSY: no memslot in address space 0");
	EXPECT_PROBE(0, SLOT_BASE, FAR_GPA,
		     "the device's id of chunk 0 after the BUSY PLUG");
	lines = vmt_klog_count(klog, "cannot create memslot", true);
	EXPECT_EQ(1, lines)
		TH_LOG("kernel log lines about the memslot: expected 1, got %d",
		       lines);
	close(klog);

	VMT_RQ_EXPECT(e, ACK, PLUG, 8, 1);		/* chunk 1 is fine */
	ASSERT_EQ(0, __vmt_vm_set_memslot(e->vm, AS1 | VMM_SLOT, 0, 0, NULL, 0));
	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 1);
	vmt_rq_check_all(e);
}

TEST_F(smm, close_removes_the_twins)
{
	struct vmt_rq_env *e = &self->e;

	if (!smm_supported(_metadata, self))
		SKIP(return, "KVM has %d address space(s)", self->nr_as);
	e->region.flags |= VHOST_MEM_REGION_F_SMM;
	vmt_rq_env_start(e, SMM_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 1);
	VMT_RQ_EXPECT(e, ACK, PLUG, 30, 2);
	vmt_rq_check_all(e);
	vmt_rq_env_close(e);
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 0),
		     "chunk 0 after the device was closed");
	EXPECT_PROBE(0, AS1 | VMM_SLOT, vmt_rq_gpa(e, 31),
		     "chunk 3 after the device was closed");
	EXPECT_PROBE(0, AS1 | SLOT_BASE, FAR_GPA,
		     "the device's id after it was closed");
}

TEST_HARNESS_MAIN
