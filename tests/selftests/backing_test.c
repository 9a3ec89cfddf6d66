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
 * backing gets BUSY rather than a silent success.  Private hugetlb memory
 * (MAP_HUGETLB, or a private mapping of a hugetlbfs file) is zapped: its
 * huge pages go back to the pool, the file never holds any.
 *
 * Then a hostile VMM: backings that could not be discarded are refused at
 * SET_REGION (hugetlb memory off its huge-page grid, a private mapping of a
 * memfd), and a backing replaced under the device (huge pages over small
 * ones, a shared memfd over private memory, private memory over the
 * backing file) gets BUSY for UNPLUG and a preallocating PLUG, with the
 * memory checked either way and the kernel log clean.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/memfd.h>

#include "vmt.h"
#include "req_util.h"
#include "vmm_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

#define NR_BLOCKS	8
#define REGION_SIZE	(NR_BLOCKS * BLK)
#define HUGE_PAGES	(NR_BLOCKS + 2)

#define RW		(PROT_READ | PROT_WRITE)

/*
 * HUGETLB: a shared hugetlbfs memfd (BACKING_FD); HUGETLB_PRIVATE:
 * MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB; HUGETLBFS_PRIVATE: a hugetlbfs
 * memfd mapped MAP_PRIVATE, without BACKING_FD.
 */
enum kind { ANON, MEMFD, HUGETLB, HUGETLB_PRIVATE, HUGETLBFS_PRIVATE };

static const char * const kind_name[] = {
	"anonymous", "memfd", "hugetlbfs", "private hugetlb",
	"private hugetlbfs file",
};

/* Discarded by zapping our page tables (no BACKING_FD). */
static bool is_private(enum kind kind)
{
	return kind == ANON || kind == HUGETLB_PRIVATE ||
	       kind == HUGETLBFS_PRIVATE;
}

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

FIXTURE_VARIANT_ADD(backing, hugetlb_private) {
	.kind = HUGETLB_PRIVATE,
};

FIXTURE_VARIANT_ADD(backing, hugetlbfs_private) {
	.kind = HUGETLBFS_PRIVATE,
};

static void write_long(const char *path, long long val)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return;
	fprintf(f, "%lld\n", val);
	fclose(f);
}

/* 2 MiB huge pages of the given hugetlb kind, as the environment's backing. */
static const char *hugetlb_backing(struct vmt_backing *b, long long *before,
				   enum kind kind)
{
	long long free_pages, total = 0;
	int fd = -1, flags = MAP_SHARED;
	void *hva;

	*before = -1;
	free_pages = vmt_meminfo_kb("HugePages_Free");
	if (free_pages < 0)
		return "no hugetlbfs in this kernel";
	if (free_pages < HUGE_PAGES) {
		if (__vmt_read_long("/proc/sys/vm/nr_hugepages", &total))
			return "cannot read /proc/sys/vm/nr_hugepages";
		*before = total;
		write_long("/proc/sys/vm/nr_hugepages",
			   total + HUGE_PAGES - free_pages);
		if (vmt_meminfo_kb("HugePages_Free") < HUGE_PAGES)
			return "cannot reserve 10 huge pages of 2 MiB";
	}
	if (kind == HUGETLB_PRIVATE) {
		flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
		goto map;
	}
	fd = memfd_create("vhost-mem-huge",
			  MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	if (fd < 0)
		return "memfd_create(MFD_HUGETLB | MFD_HUGE_2MB) failed";
	if (ftruncate(fd, REGION_SIZE)) {
		close(fd);
		return "ftruncate of a hugetlbfs memfd failed";
	}
	if (kind == HUGETLBFS_PRIVATE)
		flags = MAP_PRIVATE;
map:
	hva = mmap(NULL, REGION_SIZE, RW, flags, fd, 0);
	if (hva == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		return "mmap of 2 MiB huge pages failed";
	}
	*b = (struct vmt_backing){
		.type = fd >= 0 ? VMT_BACKING_MEMFD : VMT_BACKING_ANON,
		.hva = hva, .size = REGION_SIZE, .fd = fd,
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
	why = hugetlb_backing(&e->backing, &self->huge_before, variant->kind);
	if (why) {
		if (self->huge_before >= 0)
			write_long("/proc/sys/vm/nr_hugepages",
				   self->huge_before);
		vmt_rq_env_free(e);
		SKIP(return, "%s", why);
	}
	vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, BLK,
			VMT_RQ_SLOT_BASE);
	/* the memfd only to watch st_blocks: the device zaps */
	if (variant->kind == HUGETLBFS_PRIVATE) {
		e->region.flags &= ~VHOST_MEM_REGION_F_BACKING_FD;
		e->region.backing_fd = -1;
	}
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
	/* a private mapping never puts a page into its file */
	want = self->kind == HUGETLBFS_PRIVATE ? 0 : total;
	if (e->backing.fd >= 0) {
		got = vmt_memfd_allocated(e->backing.fd);
		EXPECT_EQ(want, got)
			TH_LOG("%s: the %s file has %llu KiB allocated (st_blocks), expected %llu KiB",
			       when, kind_name[self->kind],
			       (unsigned long long)got / 1024,
			       (unsigned long long)want / 1024);
	}
	if (self->kind != MEMFD)
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
TEST_F_TIMEOUT(backing, guest_data_discarded, 120)
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
 * The VMM unmapped the backing of a plugged block: private memory cannot
 * be zapped (BUSY), a file can still be punched (ACK).
 */
TEST_F(backing, vmm_unmapped_its_backing)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 3);
	fill(e, 0, 3);
	ASSERT_EQ(0, munmap(vmt_rq_hva(e, 1), BLK));
	if (is_private(self->kind)) {
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

/* ------------------------------------------------------------------ */
/* A hostile VMM: backings that cannot be discarded, and replaced ones */
/* ------------------------------------------------------------------ */

#define SMALL_BLK	(1ULL << 20)
#define TAG		0x7e57000000000000ULL

/*
 * One request whose answer the test judges itself, from the memory: the
 * model is told the answer, whatever it is.  Fails only if none comes.
 */
static u16 request(struct vmt_rq_env *e, u16 type, u64 block, u16 nb)
{
	struct vmt_mem_req req = {
		.type = type, .nb_blocks = nb,
		.addr = type == UNPLUG_ALL ? 0 : vmt_rq_gpa(e, block),
	};

	vmt_mem_batch(&e->vq, &req, 1, vmt_timeout_ms());
	TEST_ASSERT(req.answered, "%s of block %llu x %u: no answer within %d ms",
		    vmt_mem_req_name(type), (unsigned long long)block, nb,
		    vmt_timeout_ms());
	vmt_model_apply(&e->model, type, req.addr, nb, req.resp_type);
	return req.resp_type;
}

/*
 * SET_VM, then SET_REGION with e->region: 0 or its -errno.  Accepted, the
 * device also runs (requested: the whole region) under the model, so that
 * a test can show what the backing then does.
 */
static int try_region(struct vmt_rq_env *e)
{
	struct vhost_mem_region *r = &e->region;
	int ret;

	if (r->slot_count < vmt_region_slots_needed(r))
		r->slot_count = vmt_region_slots_needed(r);
	ret = __vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd);
	TEST_ASSERT(!ret, "VHOST_MEM_SET_VM: %s", vmt_errname(-ret));
	ret = __vmt_mem_set_region(e->dev.fd, r);
	if (ret)
		return ret;
	TEST_ASSERT(!__vmt_mem_set_requested_size(e->dev.fd, r->region_size) &&
		    !__vmt_mem_set_running(e->dev.fd, 1),
		    "the accepted region does not start");
	vmt_rq_env_adopt(e, r->region_size);
	vmt_rq_check_status(e);
	return 0;
}

/* The guest writes tag | offset every 64 KiB of block b. */
static void guest_tag(struct vmt_rq_env *e, u64 b, u64 tag)
{
	u64 off;

	for (off = 0; off < e->region.block_size; off += 16 * PAGE)
		TEST_ASSERT(vmt_guest_write_u64(e->vm, vmt_rq_gpa(e, b) + off,
						tag | off) == VMT_ACCESS_OK,
			    "guest write to block %llu", (unsigned long long)b);
}

/* Offsets of block b where the guest reads back guest_tag(e, b, tag). */
static u64 guest_tagged(struct vmt_rq_env *e, u64 b, u64 tag)
{
	u64 off, val, n = 0;

	for (off = 0; off < e->region.block_size; off += 16 * PAGE) {
		TEST_ASSERT(vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, b) + off,
					       &val) == VMT_ACCESS_OK,
			    "guest read of block %llu", (unsigned long long)b);
		n += val == (tag | off);
	}
	return n;
}

/*
 * After an UNPLUG of block 1 that was ACKed although it should not have
 * been: plugged again, the guest must read none of its old tags.
 */
static void expect_replug_fresh(struct __test_metadata *_metadata,
				struct vmt_rq_env *e)
{
	u64 n;

	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 1);
	n = guest_tagged(e, 1, TAG);
	EXPECT_EQ(0, n)
		TH_LOG("plugged again, the guest reads its old data at %llu offsets of block 1",
		       (unsigned long long)n);
}

/* After a BUSY UNPLUG of block 1: the guest reads every tag of it. */
static void expect_tags_kept(struct __test_metadata *_metadata,
			     struct vmt_rq_env *e)
{
	u64 n = guest_tagged(e, 1, TAG);

	EXPECT_EQ(BLK / (16 * PAGE), n)
		TH_LOG("after the BUSY UNPLUG block 1 keeps only %llu of its tags",
		       (unsigned long long)n);
}

/* nr blocks of blk bytes over 2 MiB aligned anonymous memory. */
static void anon_env(struct vmt_rq_env *e, u64 blk, u64 nr, u32 flags)
{
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ~0ULL);
	vmt_rq_backing_anon_aligned(&e->backing, nr * blk, BLK);
	vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, blk,
			VMT_RQ_SLOT_BASE);
	e->region.flags |= flags;
}

/* MAP_FIXED over len bytes at hva: a shared memfd (*memfd) or anon. */
static void remap(void *hva, u64 len, int *memfd, int flags)
{
	int fd = -1;

	if (memfd) {
		fd = memfd_create("vhost-mem-intruder", MFD_CLOEXEC);
		TEST_ASSERT(fd >= 0 && !ftruncate(fd, len), "memfd of %llu bytes",
			    (unsigned long long)len);
		*memfd = fd;
	}
	TEST_ASSERT(mmap(hva, len, RW, flags | MAP_FIXED, fd, 0) == hva,
		    "mmap(MAP_FIXED) at %p: %s", hva, vmt_errname(errno));
}

static const char *huge_pages_or_skip(void)
{
	return vmt_hugetlb_pool(HUGE_PAGES);
}

/*
 * Private hugetlb memory from 4 KiB past a huge page: refused.  Accepted,
 * the first UNPLUG zapped half a huge page: a BUG_ON in the hugetlb code,
 * the worker dead with the queue's mutex held.
 */
TEST(hugetlb_private_misaligned_refused)
{
	struct vmt_rq_env env, *e = &env;
	const char *why;
	int ret;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	why = huge_pages_or_skip();
	if (why)
		SKIP(return, "%s", why);
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ~0ULL);
	e->backing.size = REGION_SIZE + BLK;
	e->backing.hva = mmap(NULL, e->backing.size, RW,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	ASSERT_NE(MAP_FAILED, e->backing.hva);
	vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, BLK,
			VMT_RQ_SLOT_BASE);
	e->region.userspace_addr += PAGE;
	e->region.region_size = REGION_SIZE;
	ret = try_region(e);
	if (!ret) {
		TH_LOG("SET_REGION took hugetlb memory at 4 KiB past a huge page; PLUG, write, UNPLUG:");
		VMT_RQ_EXPECT(e, ACK, PLUG, 0, 1);
		guest_tag(e, 0, TAG);
		TH_LOG("UNPLUG answered %s",
		       vmt_mem_resp_name(request(e, UNPLUG, 0, 1)));
	}
	ASSERT_EQ(-EINVAL, ret)
		TH_LOG("SET_REGION of MAP_PRIVATE | MAP_HUGETLB memory 4 KiB off its huge pages: expected EINVAL, got %s",
		       vmt_errname(-ret));
	vmt_rq_env_free(e);
}

/*
 * A shared hugetlbfs file from 4 KiB into a huge page: refused.  Accepted,
 * the punch of a block rounded inward to nothing and the UNPLUG was ACKed
 * with the memory still allocated.
 */
TEST(hugetlbfs_shared_misaligned_refused)
{
	struct vmt_rq_env env, *e = &env;
	u64 before;
	const char *why;
	int ret;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	why = huge_pages_or_skip();
	if (why)
		SKIP(return, "%s", why);
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ~0ULL);
	e->backing.fd = memfd_create("vhost-mem-huge",
				     MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	ASSERT_LE(0, e->backing.fd);
	e->backing.size = REGION_SIZE + BLK;
	ASSERT_EQ(0, ftruncate(e->backing.fd, e->backing.size));
	e->backing.hva = mmap(NULL, e->backing.size, RW, MAP_SHARED,
			      e->backing.fd, 0);
	ASSERT_NE(MAP_FAILED, e->backing.hva);
	vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, BLK,
			VMT_RQ_SLOT_BASE);
	e->region.userspace_addr += PAGE;
	e->region.backing_offset = PAGE;
	e->region.region_size = REGION_SIZE;
	ret = try_region(e);
	if (!ret) {
		VMT_RQ_EXPECT(e, ACK, PLUG, 0, 1);
		fill(e, 0, 1);
		before = vmt_memfd_allocated(e->backing.fd);
		TH_LOG("accepted; UNPLUG of the filled block 0 answered %s, st_blocks %llu KiB -> %llu KiB",
		       vmt_mem_resp_name(request(e, UNPLUG, 0, 1)),
		       (unsigned long long)before / 1024,
		       (unsigned long long)vmt_memfd_allocated(e->backing.fd) / 1024);
	}
	ASSERT_EQ(-EINVAL, ret)
		TH_LOG("SET_REGION of a hugetlbfs file at offset 4 KiB: expected EINVAL, got %s",
		       vmt_errname(-ret));
	vmt_rq_env_free(e);
}

/*
 * Huge pages mapped over the small pages the region was set up with, 1 MiB
 * blocks: the UNPLUG of an odd block would zap half a huge page.  BUSY, the
 * new memory keeps its data; blocks still on small pages work.
 */
TEST(hugetlb_mapped_over_small_pages)
{
	struct vmt_rq_env env, *e = &env;
	const char *why;
	u64 b, got;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	why = huge_pages_or_skip();
	if (why)
		SKIP(return, "%s", why);
	anon_env(e, SMALL_BLK, NR_BLOCKS, 0);
	vmt_rq_env_start(e, NR_BLOCKS * SMALL_BLK);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, NR_BLOCKS);
	/* blocks 0-3: two huge pages */
	remap(vmt_rq_hva(e, 0), 4 * SMALL_BLK, NULL,
	      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB);
	for (b = 0; b < NR_BLOCKS; b++)
		vmt_fill_pattern(vmt_rq_hva(e, b), SMALL_BLK, b + 1);

	ASSERT_EQ(BUSY, request(e, UNPLUG, 1, 1))
		TH_LOG("UNPLUG of a 1 MiB block on a huge page");
	ASSERT_EQ(BUSY, request(e, UNPLUG, 2, 2))
		TH_LOG("UNPLUG of 2 MiB blocks set up on small pages, now huge");
	ASSERT_EQ(BUSY, request(e, UNPLUG_ALL, 0, 0));
	for (b = 0; b < NR_BLOCKS; b++) {
		got = vmt_check_pattern(vmt_rq_hva(e, b), SMALL_BLK, b + 1);
		EXPECT_EQ(SMALL_BLK, got)
			TH_LOG("block %llu lost its data after the BUSY answers",
			       (unsigned long long)b);
	}
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 5, 1);
	EXPECT_EQ(0, vmt_present_pages(vmt_rq_hva(e, 5), SMALL_BLK));
	vmt_rq_check_all(e);
	vmt_rq_env_free(e);
}

/*
 * A MAP_PRIVATE memfd without BACKING_FD: refused.  Accepted, every write
 * faulted a page into the memfd and the zap freed only the private copy.
 */
TEST(private_memfd_refused)
{
	struct vmt_rq_env env, *e = &env;
	int ret, cycle;
	u64 got;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(e, VMT_BACKING_MEMFD, REGION_SIZE, ~0ULL);
	munmap(e->backing.hva, REGION_SIZE);
	e->backing.hva = mmap(NULL, REGION_SIZE, RW, MAP_PRIVATE,
			      e->backing.fd, 0);
	ASSERT_NE(MAP_FAILED, e->backing.hva);
	vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, BLK,
			VMT_RQ_SLOT_BASE);
	e->region.flags &= ~VHOST_MEM_REGION_F_BACKING_FD;
	e->region.backing_fd = -1;
	ret = try_region(e);
	/* each cycle uses two other blocks: the file grows by 4 MiB each */
	for (cycle = 0; !ret && cycle < 3; cycle++) {
		VMT_RQ_EXPECT(e, ACK, PLUG, 2 * cycle, 2);
		fill(e, 2 * cycle, 1);
		guest_tag(e, 2 * cycle + 1, TAG);
		VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
		got = vmt_memfd_allocated(e->backing.fd);
		EXPECT_EQ(0, got)
			TH_LOG("accepted; after plug, write, UNPLUG_ALL cycle %d the memfd holds %llu KiB",
			       cycle + 1, (unsigned long long)got / 1024);
	}
	ASSERT_EQ(-EINVAL, ret)
		TH_LOG("SET_REGION of a MAP_PRIVATE memfd without backing_fd: expected EINVAL, got %s",
		       vmt_errname(-ret));
	vmt_rq_env_free(e);
}

/*
 * A shared memfd mapped over plugged private memory: zapping it would free
 * nothing and the guest would read its data again after the next PLUG.
 * BUSY, nothing changes; mapped back, the block unplugs.
 */
TEST(shared_memfd_over_private)
{
	struct vmt_rq_env env, *e = &env;
	int memfd = -1;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	anon_env(e, BLK, NR_BLOCKS, 0);
	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 3);
	remap(vmt_rq_hva(e, 1), BLK, &memfd, MAP_SHARED);
	guest_tag(e, 1, TAG);
	if (request(e, UNPLUG, 1, 1) == ACK) {
		EXPECT_EQ(0, vmt_memfd_data_bytes(memfd, 0, BLK))
			TH_LOG("UNPLUG of block 1 ACKed, the memfd over it still holds %llu KiB",
			       (unsigned long long)vmt_memfd_data_bytes(memfd, 0, BLK) / 1024);
		expect_replug_fresh(_metadata, e);
		ASSERT_TRUE(0) TH_LOG("UNPLUG over a shared memfd: expected BUSY, got ACK");
	}
	expect_tags_kept(_metadata, e);
	/* the VMM puts private memory back: the block unplugs */
	remap(vmt_rq_hva(e, 1), BLK, NULL, MAP_PRIVATE | MAP_ANONYMOUS);
	guest_tag(e, 1, TAG);
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 1, 1);
	EXPECT_EQ(0, vmt_present_pages(vmt_rq_hva(e, 1), BLK));
	vmt_rq_check_all(e);
	close(memfd);
	vmt_rq_env_free(e);
}

/*
 * Private memory mapped over the backing file: the punch frees the file,
 * but the guest's data is in the new mapping.  BUSY; the file mapped back,
 * the block unplugs.
 */
TEST(private_over_shared_file)
{
	struct vmt_rq_env env, *e = &env;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(e, VMT_BACKING_MEMFD, REGION_SIZE, ~0ULL);
	vmt_rq_env_start(e, REGION_SIZE);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 3);
	remap(vmt_rq_hva(e, 1), BLK, NULL, MAP_PRIVATE | MAP_ANONYMOUS);
	guest_tag(e, 1, TAG);
	if (request(e, UNPLUG, 1, 1) == ACK) {
		EXPECT_EQ(0, vmt_present_pages(vmt_rq_hva(e, 1), BLK))
			TH_LOG("UNPLUG of block 1 ACKed, its private memory still maps %llu pages",
			       (unsigned long long)vmt_present_pages(vmt_rq_hva(e, 1), BLK));
		expect_replug_fresh(_metadata, e);
		ASSERT_TRUE(0) TH_LOG("UNPLUG over replaced file memory: expected BUSY, got ACK");
	}
	expect_tags_kept(_metadata, e);
	/* the file mapped back where it belongs: the block unplugs */
	TEST_ASSERT(mmap(vmt_rq_hva(e, 1), BLK, RW, MAP_SHARED | MAP_FIXED,
			 e->backing.fd, BLK) == vmt_rq_hva(e, 1), "mmap back");
	guest_tag(e, 1, TAG);
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 1, 1);
	EXPECT_EQ(0, vmt_memfd_data_bytes(e->backing.fd, BLK, BLK));
	vmt_rq_check_all(e);
	vmt_rq_env_free(e);
}

/*
 * Prealloc over a replaced backing: it would populate memory the device
 * does not discard (a foreign memfd), or the file the guest no longer
 * maps.  BUSY, and nothing allocated.
 */
TEST(prealloc_over_replaced_backing)
{
	struct vmt_rq_env env, *e = &env;
	int memfd = -1;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	anon_env(e, BLK, NR_BLOCKS, VHOST_MEM_REGION_F_PREALLOC);
	vmt_rq_env_start(e, REGION_SIZE);
	remap(vmt_rq_hva(e, 2), BLK, &memfd, MAP_SHARED);
	EXPECT_EQ(BUSY, request(e, PLUG, 2, 1))
		TH_LOG("prealloc PLUG over a shared memfd");
	EXPECT_EQ(0, vmt_memfd_allocated(memfd))
		TH_LOG("the foreign memfd got %llu KiB",
		       (unsigned long long)vmt_memfd_allocated(memfd) / 1024);
	VMT_RQ_EXPECT(e, ACK, PLUG, 3, 1);
	vmt_rq_check_all(e);
	close(memfd);
	vmt_rq_env_free(e);

	vmt_rq_env_init(e, VMT_BACKING_MEMFD, REGION_SIZE, ~0ULL);
	e->region.flags |= VHOST_MEM_REGION_F_PREALLOC;
	vmt_rq_env_start(e, REGION_SIZE);
	remap(vmt_rq_hva(e, 2), BLK, NULL, MAP_PRIVATE | MAP_ANONYMOUS);
	EXPECT_EQ(BUSY, request(e, PLUG, 2, 1))
		TH_LOG("prealloc PLUG of a file block the VMM mapped away");
	EXPECT_EQ(0, vmt_memfd_allocated(e->backing.fd))
		TH_LOG("the backing file got %llu KiB for memory the guest does not see",
		       (unsigned long long)vmt_memfd_allocated(e->backing.fd) / 1024);
	VMT_RQ_EXPECT(e, ACK, PLUG, 3, 1);
	vmt_rq_check_all(e);
	vmt_rq_env_free(e);
}

TEST_HARNESS_MAIN
