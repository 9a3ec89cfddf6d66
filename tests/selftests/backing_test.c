// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: unplugged memory is really given back.
 *
 * After UNPLUG (and UNPLUG_ALL) the backing pages of the blocks are gone,
 * measured from outside the device:
 * - anonymous memory: /proc/self/pagemap (present) and mincore() (resident)
 *   drop to 0 for the block's range, the neighbours keep theirs;
 * - memfd: SEEK_DATA/SEEK_HOLE show a hole, st_blocks shrinks;
 * - hugetlbfs memfd (if huge pages can be reserved): st_blocks shrinks and
 *   the huge page returns to the pool.
 * The neighbours' data survives (a pattern check), PLUG populates nothing,
 * an ERROR answer discards nothing, and a VMM that unmapped its anonymous
 * backing gets BUSY rather than a silent success.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/memfd.h>

#include "vmt.h"
#include "req_util.h"
#include "kselftest_harness.h"

#define BLK		VMT_RQ_BLOCK
#define NR_BLOCKS	8
#define REGION_SIZE	(NR_BLOCKS * BLK)
#define PAGE		4096ULL
#define HUGE_PAGES	(NR_BLOCKS + 2)

#define PLUG		VIRTIO_MEM_REQ_PLUG
#define UNPLUG		VIRTIO_MEM_REQ_UNPLUG
#define UNPLUG_ALL	VIRTIO_MEM_REQ_UNPLUG_ALL
#define ACK		VIRTIO_MEM_RESP_ACK
#define ERROR		VIRTIO_MEM_RESP_ERROR

enum kind { ANON, MEMFD, HUGETLB };

static const char * const kind_name[] = { "anonymous", "memfd", "hugetlbfs" };

FIXTURE(backing) {
	struct vmt_rq_env e;
	enum kind kind;
	long long huge_before;	/* nr_hugepages to restore, or -1 */
	long long huge_free;	/* HugePages_Free before the test */
};

FIXTURE_VARIANT(backing) {
	enum kind kind;
};

FIXTURE_VARIANT_ADD(backing, anon) {
	.kind = ANON,
};

FIXTURE_VARIANT_ADD(backing, memfd) {
	.kind = MEMFD,
};

FIXTURE_VARIANT_ADD(backing, hugetlb) {
	.kind = HUGETLB,
};

static void write_long(const char *path, long long val)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return;
	fprintf(f, "%lld\n", val);
	fclose(f);
}

/* A memfd on hugetlbfs with 2 MiB pages, as the environment's backing. */
static const char *hugetlb_backing(struct vmt_backing *b, long long *before)
{
	long long free_pages, total = 0;
	void *hva;
	int fd;

	*before = -1;
	free_pages = vmt_meminfo_kb("HugePages_Free");
	if (free_pages < 0)
		return "no hugetlbfs in this kernel";
	if (free_pages < HUGE_PAGES) {
		if (vmt_read_long("/proc/sys/vm/nr_hugepages", &total))
			return "cannot read /proc/sys/vm/nr_hugepages";
		*before = total;
		write_long("/proc/sys/vm/nr_hugepages",
			   total + HUGE_PAGES - free_pages);
		if (vmt_meminfo_kb("HugePages_Free") < HUGE_PAGES)
			return "cannot reserve 10 huge pages of 2 MiB";
	}
	fd = memfd_create("vhost-mem-huge",
			  MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	if (fd < 0)
		return "memfd_create(MFD_HUGETLB | MFD_HUGE_2MB) failed";
	if (ftruncate(fd, REGION_SIZE)) {
		close(fd);
		return "ftruncate of a hugetlbfs memfd failed";
	}
	hva = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (hva == MAP_FAILED) {
		close(fd);
		return "mmap of a hugetlbfs memfd failed";
	}
	*b = (struct vmt_backing){
		.type = VMT_BACKING_MEMFD, .hva = hva, .size = REGION_SIZE,
		.fd = fd,
	};
	return NULL;
}

/* FIXTURE_DATA(...), spelt so that checkpatch can parse the helpers. */
#define backing_fixture _test_data_backing

FIXTURE_SETUP(backing)
{
	struct vmt_rq_env *e = &self->e;
	const char *why;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	self->kind = variant->kind;
	self->huge_before = -1;
	if (variant->kind == MEMFD) {
		vmt_rq_env_init(e, VMT_BACKING_MEMFD, REGION_SIZE, ~0ULL);
		return;
	}
	if (variant->kind == ANON) {
		/* block aligned, as a VMM maps its RAM (THPs stay inside) */
		vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ~0ULL);
		vmt_rq_backing_anon_aligned(&e->backing, REGION_SIZE, BLK);
		vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, BLK,
				VMT_RQ_SLOT_BASE);
		return;
	}
	vmt_rq_env_init(e, VMT_BACKING_MEMFD, 0, ~0ULL);
	why = hugetlb_backing(&e->backing, &self->huge_before);
	if (why) {
		if (self->huge_before >= 0)
			write_long("/proc/sys/vm/nr_hugepages",
				   self->huge_before);
		vmt_rq_env_free(e);
		SKIP(return, "%s", why);
	}
	vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, BLK,
			VMT_RQ_SLOT_BASE);
	self->huge_free = vmt_meminfo_kb("HugePages_Free");
}

FIXTURE_TEARDOWN(backing)
{
	vmt_rq_env_free(&self->e);
	if (self->huge_before >= 0)
		write_long("/proc/sys/vm/nr_hugepages", self->huge_before);
}

/* Bytes of blocks [first, first + n) that the backing really holds. */
static u64 held(struct backing_fixture *self, u64 first, u64 n)
{
	struct vmt_rq_env *e = &self->e;

	if (self->kind == MEMFD)
		return vmt_memfd_data_bytes(e->backing.fd, first * BLK, n * BLK);
	/* anonymous or hugetlbfs: what our own page tables map */
	return vmt_present_pages(vmt_rq_hva(e, first), n * BLK) * PAGE;
}

/* Every block's expected holding: full (1) or empty (0). */
static void expect_held(struct __test_metadata *_metadata,
			struct backing_fixture *self, const char *when,
			const int full[NR_BLOCKS])
{
	struct vmt_rq_env *e = &self->e;
	u64 b, want, got, total = 0;

	for (b = 0; b < NR_BLOCKS; b++) {
		want = full[b] ? BLK : 0;
		got = held(self, b, 1);
		total += want;
		EXPECT_EQ(want, got)
			TH_LOG("%s: %s backing of block %llu holds %llu KiB, expected %llu KiB",
			       when, kind_name[self->kind],
			       (unsigned long long)b,
			       (unsigned long long)got / 1024,
			       (unsigned long long)want / 1024);
		if (self->kind == ANON && !full[b])
			EXPECT_EQ(0, vmt_resident_pages(vmt_rq_hva(e, b), BLK))
				TH_LOG("%s: mincore() still sees pages of block %llu",
				       when, (unsigned long long)b);
	}
	if (self->kind == ANON)
		return;
	got = vmt_memfd_allocated(e->backing.fd);
	EXPECT_EQ(total, got)
		TH_LOG("%s: the %s file has %llu KiB allocated (st_blocks), expected %llu KiB",
		       when, kind_name[self->kind],
		       (unsigned long long)got / 1024,
		       (unsigned long long)total / 1024);
	if (self->kind == HUGETLB)
		EXPECT_EQ(self->huge_free - (long long)(total / BLK),
			  vmt_meminfo_kb("HugePages_Free"))
			TH_LOG("%s: HugePages_Free", when);
}

/* Fill blocks through the backing: every 4 KiB page gets a value. */
static void fill(struct vmt_rq_env *e, u64 first, u64 n)
{
	u64 b;

	for (b = first; b < first + n; b++)
		vmt_fill_pattern(vmt_rq_hva(e, b), BLK, b + 1);
}

/* Block b still holds what fill(e, b, 1) wrote. */
static void expect_pattern(struct __test_metadata *_metadata,
			   struct vmt_rq_env *e, u64 b)
{
	u64 off = vmt_check_pattern(vmt_rq_hva(e, b), BLK, b + 1);

	EXPECT_EQ(BLK, off)
		TH_LOG("block %llu, still plugged, lost its data at offset 0x%llx",
		       (unsigned long long)b, (unsigned long long)off);
}

TEST_F(backing, plug_populates_nothing)
{
	static const int none[NR_BLOCKS];
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, NR_BLOCKS);
	expect_held(_metadata, self, "after PLUG of every block", none);
	vmt_rq_check_status(e);
}

TEST_F(backing, unplug_frees_the_block_only)
{
	static const int all3[NR_BLOCKS] = { 1, 1, 1 };
	static const int edges[NR_BLOCKS] = { 1, 0, 1 };
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 3);
	fill(e, 0, 3);
	expect_held(_metadata, self, "blocks 0-2 filled", all3);
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 1, 1);
	expect_held(_metadata, self, "after UNPLUG of block 1", edges);
	expect_pattern(_metadata, e, 0);
	expect_pattern(_metadata, e, 2);
	vmt_rq_check_all(e);
}

TEST_F(backing, unplug_range_keeps_the_edges)
{
	static const int all[NR_BLOCKS] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	static const int edges[NR_BLOCKS] = { 1, 1, 0, 0, 0, 0, 1, 1 };
	struct vmt_rq_env *e = &self->e;
	u64 b;

	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, NR_BLOCKS);
	fill(e, 0, NR_BLOCKS);
	expect_held(_metadata, self, "every block filled", all);
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 2, 4);
	expect_held(_metadata, self, "after UNPLUG of blocks 2-5", edges);
	for (b = 0; b < NR_BLOCKS; b++) {
		if (edges[b])
			expect_pattern(_metadata, e, b);
		else
			EXPECT_EQ(0, *(volatile u64 *)vmt_rq_hva(e, b))
				TH_LOG("unplugged block %llu still reads its old data",
				       (unsigned long long)b);
	}
	vmt_rq_check_all(e);
}

/* What the guest wrote through KVM is what goes. */
TEST_F(backing, guest_data_discarded)
{
	static const int two[NR_BLOCKS] = { 0, 0, 0, 0, 1, 1 };
	static const int one[NR_BLOCKS] = { 0, 0, 0, 0, 0, 1 };
	struct vmt_rq_env *e = &self->e;
	u64 off, val;

	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 4, 2);
	for (off = 0; off < 2 * BLK; off += PAGE)
		ASSERT_EQ(VMT_ACCESS_OK,
			  vmt_guest_write_u64(e->vm, vmt_rq_gpa(e, 4) + off,
					      0xa000000000000000ULL | off));
	expect_held(_metadata, self, "the guest wrote blocks 4-5", two);
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 4, 1);
	expect_held(_metadata, self, "after UNPLUG of block 4", one);
	for (off = 0; off < BLK; off += PAGE)
		ASSERT_EQ(0, *(volatile u64 *)((u8 *)vmt_rq_hva(e, 4) + off))
			TH_LOG("unplugged block 4 reads the guest's data at offset 0x%llx",
			       (unsigned long long)off);
	for (off = BLK; off < 2 * BLK; off += 16 * PAGE) {
		ASSERT_EQ(VMT_ACCESS_OK,
			  vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, 4) + off,
					     &val));
		ASSERT_EQ(0xa000000000000000ULL | off, val)
			TH_LOG("block 5 lost the guest's data at offset 0x%llx",
			       (unsigned long long)(off - BLK));
	}
	vmt_rq_check_all(e);
}

TEST_F(backing, unplug_all_frees_everything)
{
	static const int some[NR_BLOCKS] = { 1, 1, 0, 1, 0, 1, 1, 1 };
	static const int none[NR_BLOCKS];
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 2);
	VMT_RQ_EXPECT(e, ACK, PLUG, 3, 1);
	VMT_RQ_EXPECT(e, ACK, PLUG, 5, 3);
	fill(e, 0, 2);
	fill(e, 3, 1);
	fill(e, 5, 3);
	expect_held(_metadata, self, "plugged blocks filled", some);
	VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	expect_held(_metadata, self, "after UNPLUG_ALL", none);
	vmt_rq_check_all(e);
}

/* An answer other than ACK discards nothing. */
TEST_F(backing, refused_unplug_keeps_memory)
{
	static const int two[NR_BLOCKS] = { 0, 1, 1 };
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 2);
	fill(e, 1, 2);
	VMT_RQ_EXPECT(e, ERROR, UNPLUG, 2, 2);	/* block 3 is not plugged */
	VMT_RQ_EXPECT(e, ERROR, UNPLUG, 0, 2);	/* block 0 is not plugged */
	VMT_RQ_EXPECT(e, ERROR, UNPLUG, 1, 0);
	ASSERT_EQ(ERROR, vmt_rq_send(e, UNPLUG, vmt_rq_gpa(e, 1) + PAGE, 1,
				     NULL));
	VMT_RQ_EXPECT(e, ERROR, PLUG, 1, 1);
	expect_held(_metadata, self, "after refused UNPLUGs", two);
	expect_pattern(_metadata, e, 1);
	expect_pattern(_metadata, e, 2);
	vmt_rq_check_all(e);
}

/*
 * The VMM unmapped the backing of a plugged block: anonymous memory
 * cannot be zapped (BUSY), a file can still be punched (ACK).
 */
TEST_F(backing, vmm_unmapped_its_backing)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 3);
	fill(e, 0, 3);
	ASSERT_EQ(0, munmap(vmt_rq_hva(e, 1), BLK));
	if (self->kind == ANON) {
		vmt_rq_send_busy(e, UNPLUG, vmt_rq_gpa(e, 1), 1);
		vmt_rq_check_status(e);
		/* the rest still works */
		VMT_RQ_EXPECT(e, ACK, UNPLUG, 2, 1);
		EXPECT_EQ(0, held(self, 2, 1));
		expect_pattern(_metadata, e, 0);
		vmt_rq_check_status(e);
		return;
	}
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 1, 1);
	EXPECT_EQ(2 * BLK, vmt_memfd_allocated(e->backing.fd))
		TH_LOG("st_blocks after the UNPLUG of the unmapped block 1");
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 2, 1);
	EXPECT_EQ(BLK, vmt_memfd_allocated(e->backing.fd))
		TH_LOG("st_blocks after the UNPLUG of block 2");
	expect_pattern(_metadata, e, 0);
	vmt_rq_check_status(e);
}

/*
 * A backing off the 2 MiB grid by 1 MiB: every transparent huge page
 * straddles two blocks, so the discard of one block must split them and
 * leave the halves of its plugged neighbours alone.
 */
TEST(anon_unplug_splits_huge_pages)
{
	struct vmt_rq_env env, *e = &env;
	struct vmt_backing whole;
	u64 b, got;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ~0ULL);
	vmt_rq_backing_anon_aligned(&whole, REGION_SIZE + 2 * BLK, BLK);
	e->backing = whole;
	e->backing.hva = (u8 *)whole.hva + BLK / 2;
	e->backing.size = REGION_SIZE;
	/* huge pages even if THP is only "madvise" here */
	madvise(whole.hva, whole.size, MADV_HUGEPAGE);
	vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, BLK,
			VMT_RQ_SLOT_BASE);
	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 3);
	fill(e, 0, 3);
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 1, 1);
	got = vmt_present_pages(vmt_rq_hva(e, 1), BLK);
	EXPECT_EQ(0, got) TH_LOG("block 1 keeps %llu pages after its UNPLUG",
				 (unsigned long long)got);
	EXPECT_EQ(0, vmt_resident_pages(vmt_rq_hva(e, 1), BLK));
	for (b = 0; b < 3; b += 2) {
		got = vmt_present_pages(vmt_rq_hva(e, b), BLK);
		EXPECT_EQ(BLK / PAGE, got)
			TH_LOG("plugged block %llu keeps %llu of its %llu pages",
			       (unsigned long long)b, (unsigned long long)got,
			       BLK / PAGE);
		expect_pattern(_metadata, e, b);
	}
	vmt_rq_check_all(e);
	/* free the whole mapping, not the window */
	e->backing = whole;
	vmt_rq_env_free(e);
}

TEST_HARNESS_MAIN
