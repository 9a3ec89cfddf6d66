// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: several devices in one VM: side by side; over another's region
 * EEXIST, over its memslot ids EBUSY, nothing changed.
 */
#include "vmt.h"
#include "kselftest_harness.h"
#include "rq_expect.h"

/* Each device: 64 MiB in 4 chunks of 16 MiB, 4 ids. */
#define MD_SIZE		(64ULL << 20)
#define MD_CHUNK	(16ULL << 20)
#define MD_BLOCKS	(MD_SIZE / BLK)

FIXTURE(multi) {
	struct vmt_rq_env e;		/* device A: GPA 4 GiB, ids 100-103 */
	struct vmt_side side[3];
	struct vmt_vm *vm2;
};

FIXTURE_SETUP(multi)
{
	struct vmt_rq_env *e = &self->e;
	unsigned int i;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	for (i = 0; i < VMT_ARRAY_SIZE(self->side); i++) {
		self->side[i].dev.fd = -1;
		self->side[i].backing.fd = -1;
	}
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ACK_ALL);
	vmt_rq_backing_anon_aligned(&e->backing, MD_SIZE, BLK);
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = MD_CHUNK;
}

FIXTURE_TEARDOWN(multi)
{
	unsigned int i;

	for (i = 0; i < VMT_ARRAY_SIZE(self->side); i++)
		vmt_side_free(&self->side[i]);
	vmt_rq_env_free(&self->e);
	vmt_vm_free(self->vm2);
}

/* A PLUG on a side device, with its answer. */
static void side_rq(struct __test_metadata *_metadata, struct vmt_side *s,
		    u16 want, u16 type, u64 block, u16 nb)
{
	u64 gpa = s->region.guest_phys_addr + block * BLK;
	int got = __vmt_mem_request(&s->vq, type, gpa, nb, NULL);

	ASSERT_EQ(want, got)
		TH_LOG("side device (GPA 0x%llx): %s block %llu x %u: expected %s, got %s",
		       (unsigned long long)s->region.guest_phys_addr,
		       vmt_mem_req_name(type), (unsigned long long)block, nb,
		       vmt_mem_resp_name(want),
		       got < 0 ? "no answer" : vmt_mem_resp_name(got));
}

TEST_F(multi, devices_side_by_side)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_side *b = &self->side[0];
	u64 b_gpa = GPA + MD_SIZE;
	int r;

	vmt_rq_env_start(e, MD_SIZE);
	/* right next to A, in GPA and in ids */
	vmt_side_init(b, e->vm, MD_SIZE, b_gpa, MD_CHUNK, SLOT_BASE + 4);
	r = __vmt_side_setup(b);
	ASSERT_EQ(0, r) TH_LOG("device B next to A: %s", vmt_errstr(r));
	vmt_side_start(b, MD_SIZE);

	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 2);
	side_rq(_metadata, b, ACK, PLUG, 1, 2);
	side_rq(_metadata, b, ACK, PLUG, 31, 1);
	tag_blocks(e, 1, 2, 9);
	vmt_vm_expect_write(e->vm, b_gpa + BLK + 8, 0xb0b, "device B's block");
	vmt_vm_expect_write(e->vm, b_gpa + 31 * BLK, 0xb1b, "device B's block");
	expect_tags(e, 1, 2, 9, "device A's blocks");
	EXPECT_EQ(0xb0bULL, *(u64 *)((u8 *)b->backing.hva + BLK + 8))
		TH_LOG("the guest's write to device B's block is not in B's backing");
	expect_status(_metadata, e->dev.fd, "device A", 2 * BLK, 1, MD_SIZE);
	expect_status(_metadata, b->dev.fd, "device B", 3 * BLK, 2, MD_SIZE);

	/* one device's UNPLUG leaves the other alone */
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 1, 2);
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 1), "A's block unplugged");
	vmt_vm_expect_read(e->vm, b_gpa + BLK + 8, 0xb0b, "device B's block");
	side_rq(_metadata, b, ACK, UNPLUG_ALL, 0, 0);
	vmt_vm_expect_mmio(e->vm, b_gpa + 31 * BLK, "B unplugged all");
	VMT_RQ_EXPECT(e, ACK, PLUG, 30, 2);
	expect_status(_metadata, b->dev.fd, "device B", 0, 0, MD_SIZE);
	vmt_rq_check_all(e);
}

/* SET_REGION of device s must fail with want; nothing is set on it. */
static void expect_refused(struct __test_metadata *_metadata,
			   struct vmt_side *s, int want, const char *what)
{
	struct vhost_mem_status st;
	int r = __vmt_side_setup(s);

	EXPECT_EQ(want, r)
		TH_LOG("%s (GPA 0x%llx + 0x%llx, ids %u-%u): expected %s, got %s",
		       what, (unsigned long long)s->region.guest_phys_addr,
		       (unsigned long long)s->region.region_size,
		       s->region.slot_base,
		       s->region.slot_base + s->region.slot_count - 1,
		       vmt_errstr(want), vmt_errstr(r));
	st = status_of(_metadata, s->dev.fd);
	EXPECT_FALSE(st.flags & VHOST_MEM_STATUS_F_REGION)
		TH_LOG("%s: the refused device has a region (flags 0x%x)",
		       what, st.flags);
}

TEST_F(multi, overlaps_refused)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_side *s = self->side;
	struct vhost_mem_status before;
	int r;

	vmt_rq_env_start(e, MD_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 1);		/* chunk 0 (id 100) is live */
	tag_blocks(e, 1, 1, 10);
	before = status_of(_metadata, e->dev.fd);

	/* over A's region: where A has a memslot, and where it has none */
	vmt_side_init(&s[0], e->vm, MD_SIZE, GPA, MD_CHUNK, 200);
	expect_refused(_metadata, &s[0], -EEXIST, "device over A's region");
	vmt_side_init(&s[1], e->vm, MD_SIZE, GPA + MD_SIZE - MD_CHUNK,
		      MD_CHUNK, 210);
	expect_refused(_metadata, &s[1], -EEXIST,
		       "device over A's empty last chunk");
	/* over A's ids: a live one, and free ones */
	vmt_side_init(&s[2], e->vm, MD_SIZE, 16ULL << 30, MD_CHUNK,
		      SLOT_BASE - 2);
	expect_refused(_metadata, &s[2], -EBUSY, "device over A's ids 100-101");
	s[2].region.slot_base = SLOT_BASE + 2;
	r = __vmt_mem_set_region(s[2].dev.fd, &s[2].region);
	EXPECT_EQ(-EBUSY, r)
		TH_LOG("device over A's ids 102-105 (no memslot live): expected EBUSY, got %s",
		       vmt_errstr(r));

	/* A did not notice */
	expect_status(_metadata, e->dev.fd, "device A after the refusals",
		      before.plugged_size, before.memslots,
		      before.usable_region_size);
	expect_tags(e, 1, 1, 10, "device A's block after the refusals");
	VMT_RQ_EXPECT(e, ACK, PLUG, 30, 1);
	vmt_rq_check_all(e);

	/* the refused devices can still be set up elsewhere */
	s[0].region.guest_phys_addr = 8ULL << 30;
	r = __vmt_mem_set_region(s[0].dev.fd, &s[0].region);
	EXPECT_EQ(0, r) TH_LOG("refused device, then disjoint: %s", vmt_errstr(r));
	s[2].region.slot_base = 300;
	r = __vmt_mem_set_region(s[2].dev.fd, &s[2].region);
	EXPECT_EQ(0, r) TH_LOG("refused device, then disjoint ids: %s",
			       vmt_errstr(r));
	vmt_side_start(&s[2], MD_SIZE);
	side_rq(_metadata, &s[2], ACK, PLUG, 0, 1);
	vmt_vm_expect_read(e->vm, (16ULL << 30) + 8, 0, "the third device");

	/* A gone, its region and ids are free */
	vmt_rq_env_close(e);
	s[1].region.guest_phys_addr = GPA;
	s[1].region.slot_base = SLOT_BASE;
	r = __vmt_mem_set_region(s[1].dev.fd, &s[1].region);
	EXPECT_EQ(0, r) TH_LOG("A's region and ids after A was closed: %s",
			       vmt_errstr(r));
}

/* Claims are per VM: another VM may use the same GPA and ids. */
TEST_F(multi, other_vm_same_layout)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_side *s = &self->side[0];
	int r;

	vmt_rq_env_start(e, MD_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 1);
	tag_blocks(e, 2, 1, 11);
	self->vm2 = vmt_vm_create(0);
	vmt_side_init(s, self->vm2, MD_SIZE, GPA, MD_CHUNK, SLOT_BASE);
	r = __vmt_side_setup(s);
	ASSERT_EQ(0, r) TH_LOG("same GPA and ids in another VM: %s",
			       vmt_errstr(r));
	vmt_side_start(s, MD_SIZE);
	side_rq(_metadata, s, ACK, PLUG, 2, 1);
	vmt_vm_expect_read(self->vm2, GPA + 2 * BLK + 8, 0,
			   "the other VM's device");
	expect_tags(e, 2, 1, 11, "the first VM's device");
	vmt_rq_check_all(e);
}

TEST_HARNESS_MAIN
