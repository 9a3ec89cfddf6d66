// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: migration of the device state.
 *
 * The source device has plugged runs in several chunks (one run across a
 * chunk boundary, a hole made by UNPLUG, a requested size below the plugged
 * size).  It is paused, its state read with VHOST_MEM_GET_STATE (ENOSPC
 * first, which tells the size), and loaded with VHOST_MEM_SET_STATE into a
 * fresh device of a fresh VM with the same region geometry and a new
 * backing, before that device starts:
 * - the memslots exist at once: the destination's vCPU reads the plugged
 *   GPAs (and, once the VMM copied the RAM, the source's data) and gets
 *   KVM_EXIT_MMIO in every chunk without a plugged block;
 * - GET_STATUS sizes and memslots equal the source's, and STATE answers
 *   equal the source's for a sweep of ranges; the destination then goes on;
 * - with VHOST_MEM_REGION_F_PREALLOC on the destination, the restored
 *   plugged blocks hold memory right after SET_STATE, the others do not;
 *   on hugetlbfs with a pool too small for them, SET_STATE fails with
 *   ENOSPC and one line is logged; what it allocated stays (it may hold
 *   migrated RAM), and a retry with a larger pool loads.
 * - a failed SET_STATE keeps the RAM the VMM loaded before it;
 * - a non-owner's SET_STATE, or one of the wrong length, fails before the
 *   kernel allocates or reads anything (a userfaultfd probe).
 * Rejected, each with its errno and nothing changed (status, memslots,
 * backing): a truncated or longer blob, wrong magic or version, another
 * geometry (block size, base, region size), an inconsistent plugged map or
 * sizes, bad struct fields; SET_STATE while running (EBUSY), into a device
 * with plugged blocks (EBUSY), and a restore whose memslot cannot be made
 * (KVM's errno, everything rolled back).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "vmt.h"
#include "vmm_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

/* 256 blocks in 16 chunks of 16 blocks */
#define NR_BLOCKS	256
#define REGION_SIZE	(NR_BLOCKS * BLK)
#define CHUNK		(16 * BLK)
#define REQUESTED	(64ULL << 20)	/* usable: 320 MiB, 160 blocks */
#define USABLE_BLOCKS	160
#define SHRUNK		(16ULL << 20)	/* requested after the plugs */

/* The blob, as kernel/blocks.c writes it (little endian). */
#define ST_HDR		64
#define ST_VERSION	4
#define ST_REQUESTED	32
#define ST_USABLE	40
#define ST_PLUGGED	48
#define ST_SIZE		(ST_HDR + NR_BLOCKS / 8)

/* The plugged runs of the source (after the UNPLUG of block 16). */
static const struct { u64 first, n; } runs[] = {
	{ 2, 5 },	/* chunk 0 */
	{ 15, 1 },	/* chunk 0, its other half went */
	{ 17, 2 },	/* chunk 1 */
	{ 40, 1 },	/* chunk 2 */
	{ 100, 4 },	/* chunk 6 */
	{ 150, 2 },	/* chunk 9 */
};

#define LIVE_CHUNKS	5
/* The id of a memslot the VMM maps in the device's region. */
#define VMM_SLOT	50
#define PLUGGED_BLOCKS	15

FIXTURE(mig) {
	struct vmt_rq_env src, dst;
	u8 *blob;
	u64 len;
};

FIXTURE_VARIANT(mig) {
	enum vmt_backing_type type;
	bool prealloc;		/* on the destination */
};

FIXTURE_VARIANT_ADD(mig, anon) {
	.type = VMT_BACKING_ANON,
};

FIXTURE_VARIANT_ADD(mig, memfd) {
	.type = VMT_BACKING_MEMFD,
};

FIXTURE_VARIANT_ADD(mig, anon_prealloc) {
	.type = VMT_BACKING_ANON,
	.prealloc = true,
};

FIXTURE_VARIANT_ADD(mig, memfd_prealloc) {
	.type = VMT_BACKING_MEMFD,
	.prealloc = true,
};

static void env_backing(struct vmt_rq_env *e, enum vmt_backing_type type,
			u64 size)
{
	if (type == VMT_BACKING_ANON)
		vmt_rq_backing_anon_aligned(&e->backing, size, BLK);
	else
		vmt_backing_init(&e->backing, type, size);
}

static u64 tag(u64 block, u64 off)
{
	return vmt_block_tag(0x3c, block, off);
}

/*
 * The tags at both ends of each block of the plugged runs: the guest writes
 * them (write), or reads them back.
 */
static void run_tags(struct vmt_rq_env *e, bool write, const char *why)
{
	const u64 offs[] = { 8, BLK - 8 };
	unsigned int i, j;
	u64 b, gpa;

	for (i = 0; i < VMT_ARRAY_SIZE(runs); i++)
		for (b = runs[i].first; b < runs[i].first + runs[i].n; b++)
			for (j = 0; j < VMT_ARRAY_SIZE(offs); j++) {
				gpa = vmt_rq_gpa(e, b) + offs[j];
				if (write)
					vmt_vm_expect_write(e->vm, gpa,
							    tag(b, offs[j]), why);
				else
					vmt_vm_expect_read(e->vm, gpa,
							   tag(b, offs[j]), why);
			}
}

FIXTURE_SETUP(mig)
{
	struct vmt_rq_env *src = &self->src;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	/* nothing of dst exists until a test makes it */
	self->dst.dev.fd = -1;
	self->dst.backing.fd = -1;

	vmt_rq_env_init(src, variant->type, 0, ~0ULL);
	env_backing(src, variant->type, REGION_SIZE);
	vmt_region_init(&src->region, &src->backing, GPA, BLK, SLOT_BASE);
	src->region.chunk_size = CHUNK;
	vmt_rq_env_start(src, REQUESTED);

	VMT_RQ_EXPECT(src, ACK, PLUG, 2, 5);
	VMT_RQ_EXPECT(src, ACK, PLUG, 15, 4);	/* across chunks 0 and 1 */
	VMT_RQ_EXPECT(src, ACK, PLUG, 40, 1);
	VMT_RQ_EXPECT(src, ACK, PLUG, 100, 4);
	VMT_RQ_EXPECT(src, ACK, PLUG, 150, 2);
	VMT_RQ_EXPECT(src, ACK, UNPLUG, 16, 1);
	/* the host asks for less than is plugged: the guest is shrinking */
	vmt_rq_resize(src, SHRUNK);
	run_tags(src, true, "source");
	vmt_rq_check_all(src);
	ASSERT_EQ(PLUGGED_BLOCKS * BLK, src->model.plugged);
	ASSERT_EQ(LIVE_CHUNKS, vmt_model_live_chunks(&src->model));
}

/* FIXTURE_DATA(mig) and its variant, spelt so that checkpatch can parse. */
#define mig_fixture	_test_data_mig
#define mig_variant	_fixture_variant_mig

FIXTURE_TEARDOWN(mig)
{
	vmt_rq_env_free(&self->dst);
	vmt_rq_env_free(&self->src);
	free(self->blob);
	vmt_hugetlb_restore();
}

/* The source stops changing and hands out its state. */
static void save_source(struct __test_metadata *_metadata,
			struct mig_fixture *self)
{
	int r = __vmt_vmm_set_paused(self->src.dev.fd, 1);

	ASSERT_EQ(0, r) TH_LOG("pausing the source: %s", vmt_errstr(r));
	self->blob = vmt_vmm_save(self->src.dev.fd, &self->len);
}

/*
 * A fresh VM, ring and device, a new backing and a region at gpa with the
 * given block and region size; SET_VM and SET_REGION done, not running.
 */
static void make_dst(struct __test_metadata *_metadata,
		     struct mig_fixture *self,
		     const struct mig_variant *variant,
		     u64 gpa, u64 block, u64 size, u64 chunk)
{
	struct vmt_rq_env *dst = &self->dst;
	int r;

	vmt_rq_env_free(dst);
	vmt_rq_env_init(dst, variant->type, 0, ~0ULL);
	env_backing(dst, variant->type, size);
	vmt_region_init(&dst->region, &dst->backing, gpa, block, SLOT_BASE);
	dst->region.chunk_size = chunk;
	dst->region.slot_count = VHOST_MEM_SLOTS_NEEDED(size, chunk);
	if (variant->prealloc)
		dst->region.flags |= VHOST_MEM_REGION_F_PREALLOC;
	ASSERT_EQ(0, __vmt_mem_set_vm(dst->dev.fd, dst->vm->vm_fd));
	r = __vmt_mem_set_region(dst->dev.fd, &dst->region);
	ASSERT_EQ(0, r) TH_LOG("destination SET_REGION: %s", vmt_errstr(r));
}

static bool src_plugged(struct mig_fixture *self, u64 block)
{
	return vmt_model_plugged(&self->src.model, block);
}

/* The sweep: STATE of many ranges, in and past the usable region. */
#define SWEEP_MAX	512

static unsigned int sweep_fill(struct vmt_rq_env *e, struct vmt_mem_req *reqs)
{
	static const u16 lens[] = { 1, 2, 5, 16, 33 };
	unsigned int n = 0, i;
	u64 first;

	for (first = 0; first < USABLE_BLOCKS + 3; first += 3) {
		for (i = 0; i < VMT_ARRAY_SIZE(lens); i++) {
			reqs[n++] = (struct vmt_mem_req){
				.type = STATE,
				.addr = vmt_rq_gpa(e, first),
				.nb_blocks = lens[i],
			};
		}
	}
	return n;
}

/* Nothing of the blob took effect in the device nor in KVM. */
static void expect_dst_unchanged(struct __test_metadata *_metadata,
				 struct mig_fixture *self,
				 const struct vhost_mem_status *before,
				 const char *what)
{
	struct vmt_rq_env *dst = &self->dst;
	struct vhost_mem_status st;

	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &st));
	EXPECT_EQ(before->plugged_size, st.plugged_size)
		TH_LOG("%s: plugged_size expected 0x%llx, got 0x%llx", what,
		       (unsigned long long)before->plugged_size,
		       (unsigned long long)st.plugged_size);
	EXPECT_EQ(before->requested_size, st.requested_size)
		TH_LOG("%s: requested_size expected 0x%llx, got 0x%llx", what,
		       (unsigned long long)before->requested_size,
		       (unsigned long long)st.requested_size);
	EXPECT_EQ(before->usable_region_size, st.usable_region_size)
		TH_LOG("%s: usable_region_size expected 0x%llx, got 0x%llx",
		       what, (unsigned long long)before->usable_region_size,
		       (unsigned long long)st.usable_region_size);
	EXPECT_EQ(before->memslots, st.memslots)
		TH_LOG("%s: memslots expected %u, got %u", what,
		       before->memslots, st.memslots);
	EXPECT_EQ(before->flags, st.flags)
		TH_LOG("%s: flags expected 0x%x, got 0x%x", what,
		       before->flags, st.flags);
	vmt_vm_expect_mmio(dst->vm, vmt_rq_gpa(dst, 2), what);
	vmt_vm_expect_mmio(dst->vm, vmt_rq_gpa(dst, 150), what);
}

/* ... and nothing was allocated in the (fresh) backing either. */
static void expect_dst_untouched(struct __test_metadata *_metadata,
				 struct mig_fixture *self,
				 const struct vhost_mem_status *before,
				 const char *what)
{
	struct vmt_rq_env *dst = &self->dst;

	expect_dst_unchanged(_metadata, self, before, what);
	EXPECT_EQ(0, vmt_backing_allocated(&dst->backing))
		TH_LOG("%s: the destination's backing has %llu KiB", what,
		       (unsigned long long)vmt_backing_allocated(&dst->backing) / 1024);
}

TEST_F(mig, round_trip)
{
	struct vmt_rq_env *src = &self->src, *dst = &self->dst;
	static struct vmt_mem_req before[SWEEP_MAX], after[SWEEP_MAX];
	struct vhost_mem_status s_st, d_st;
	unsigned int i, n;
	u64 b, c, want;
	int r;

	save_source(_metadata, self);
	ASSERT_EQ(0, __vmt_mem_get_status(src->dev.fd, &s_st));
	/* the paused source still answers STATE */
	n = sweep_fill(src, before);
	ASSERT_EQ(n, vmt_mem_batch(&src->vq, before, n, 4 * vmt_timeout_ms()));

	make_dst(_metadata, self, variant, GPA, BLK, REGION_SIZE, CHUNK);
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	ASSERT_EQ(0, r) TH_LOG("SET_STATE of the source's %llu bytes: %s",
			       (unsigned long long)self->len, vmt_errstr(r));

	/* before the destination runs: sizes and memslots are there */
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &d_st));
	EXPECT_EQ(s_st.plugged_size, d_st.plugged_size);
	EXPECT_EQ(s_st.requested_size, d_st.requested_size);
	EXPECT_EQ(s_st.usable_region_size, d_st.usable_region_size);
	EXPECT_EQ(s_st.region_size, d_st.region_size);
	EXPECT_EQ(s_st.block_size, d_st.block_size);
	EXPECT_EQ(LIVE_CHUNKS, d_st.memslots)
		TH_LOG("memslots right after SET_STATE: expected %u, got %u",
		       LIVE_CHUNKS, d_st.memslots);
	EXPECT_FALSE(d_st.flags & VHOST_MEM_STATUS_F_RUNNING);

	/* prealloc: exactly the plugged blocks hold memory */
	want = variant->prealloc ? PLUGGED_BLOCKS * BLK : 0;
	EXPECT_EQ(want, vmt_backing_allocated(&dst->backing))
		TH_LOG("destination backing after SET_STATE%s: expected %llu KiB, got %llu KiB",
		       variant->prealloc ? " with prealloc" : "",
		       (unsigned long long)want / 1024,
		       (unsigned long long)vmt_backing_allocated(&dst->backing) / 1024);
	if (variant->prealloc && variant->type == VMT_BACKING_ANON)
		for (b = 0; b < NR_BLOCKS; b++)
			EXPECT_EQ(src_plugged(self, b) ? BLK : 0,
				  vmt_backing_held(&dst->backing, b * BLK, BLK))
				TH_LOG("block %llu after SET_STATE with prealloc: expected %s",
				       (unsigned long long)b,
				       src_plugged(self, b) ? "resident" : "nothing");

	/* the destination's vCPU: plugged GPAs are RAM, the rest MMIO */
	for (c = 0; c < NR_BLOCKS / 16; c++) {
		bool live = vmt_model_chunk_live(&src->model, c);

		if (!live) {
			vmt_vm_expect_mmio(dst->vm, vmt_rq_gpa(dst, c * 16),
					   "a chunk the source had no plugged block in");
			continue;
		}
		for (b = c * 16; !src_plugged(self, b); b++)
			;
		vmt_vm_expect_read(dst->vm, vmt_rq_gpa(dst, b) + 8, 0,
				   "restored plugged block, RAM not copied yet");
	}
	/* the VMM migrates the RAM of the plugged blocks */
	for (b = 0; b < NR_BLOCKS; b++)
		if (src_plugged(self, b))
			memcpy(vmt_rq_hva(dst, b), vmt_rq_hva(src, b), BLK);
	run_tags(dst, false, "migrated block");

	/* the destination runs and answers as the source did */
	r = __vmt_mem_set_running(dst->dev.fd, 1);
	ASSERT_EQ(0, r) TH_LOG("destination SET_RUNNING 1: %s", vmt_errstr(r));
	vmt_model_copy(&dst->model, &src->model, 0);
	dst->started = true;
	dst->running = true;
	vmt_rq_check_all(dst);
	/* each answer also checked against the source's model */
	ASSERT_EQ(n, sweep_fill(dst, after));
	vmt_rq_batch(dst, after, n);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(before[i].resp_type, after[i].resp_type)
			TH_LOG("STATE GPA 0x%llx x %u: the source said %s, the destination %s",
			       (unsigned long long)before[i].addr,
			       before[i].nb_blocks,
			       vmt_mem_resp_name(before[i].resp_type),
			       vmt_mem_resp_name(after[i].resp_type));
		if (before[i].resp_type == ACK)
			EXPECT_EQ(before[i].state, after[i].state)
				TH_LOG("STATE GPA 0x%llx x %u: the source said %s, the destination %s",
				       (unsigned long long)before[i].addr,
				       before[i].nb_blocks,
				       vmt_mem_state_name(before[i].state),
				       vmt_mem_state_name(after[i].state));
	}
	fprintf(stderr, "# %u STATE answers compared, state blob %llu bytes\n",
		n, (unsigned long long)self->len);

	/* and goes on: the guest shrinks to what is requested */
	VMT_RQ_EXPECT(dst, NACK, PLUG, 60, 1);
	VMT_RQ_EXPECT(dst, ACK, UNPLUG, 100, 4);
	VMT_RQ_EXPECT(dst, ACK, UNPLUG, 2, 2);
	vmt_vm_expect_mmio(dst->vm, vmt_rq_gpa(dst, 100), "chunk 6 emptied");
	vmt_rq_check_all(dst);
}

TEST_F(mig, get_state_sizes)
{
	struct vmt_rq_env *src = &self->src;
	struct vhost_mem_state st;
	u64 len, need = 0;
	u8 *buf;
	int r;

	save_source(_metadata, self);
	/* no room: ENOSPC and the size */
	r = __vmt_vmm_get_state(src->dev.fd, NULL, &need);
	EXPECT_EQ(-ENOSPC, r);
	EXPECT_EQ(self->len, need);
	EXPECT_EQ(ST_SIZE, need)
		TH_LOG("state of %u blocks: expected %u bytes, got %llu",
		       NR_BLOCKS, ST_SIZE, (unsigned long long)need);
	buf = calloc(1, need + 64);
	ASSERT_NE(NULL, buf);
	len = need - 1;
	r = __vmt_vmm_get_state(src->dev.fd, buf, &len);
	EXPECT_EQ(-ENOSPC, r) TH_LOG("one byte short: expected ENOSPC, got %s",
				     vmt_errstr(r));
	EXPECT_EQ(need, len);
	EXPECT_EQ(0, buf[0]) TH_LOG("ENOSPC wrote into the buffer");
	/* more room than needed: the size comes back */
	len = need + 64;
	r = __vmt_vmm_get_state(src->dev.fd, buf, &len);
	EXPECT_EQ(0, r) TH_LOG("64 bytes to spare: %s", vmt_errstr(r));
	EXPECT_EQ(need, len);
	EXPECT_EQ(0, memcmp(buf, self->blob, need))
		TH_LOG("two GET_STATEs of a paused device differ");
	/* a bad buffer, flags, struct size */
	len = need;
	r = __vmt_vmm_get_state(src->dev.fd, (void *)8, &len);
	EXPECT_EQ(-EFAULT, r) TH_LOG("GET_STATE into address 8: expected EFAULT, got %s",
				     vmt_errstr(r));
	st = (struct vhost_mem_state){
		.size = sizeof(st), .flags = 1,
		.buf = (u64)(uintptr_t)buf, .buf_len = need,
	};
	r = __vmt_vmm_state_ioctl(src->dev.fd, VHOST_MEM_GET_STATE, &st);
	EXPECT_EQ(-EINVAL, r) TH_LOG("GET_STATE flags 1: expected EINVAL, got %s",
				     vmt_errstr(r));
	st.flags = 0;
	st.size = 4;
	r = __vmt_vmm_state_ioctl(src->dev.fd, VHOST_MEM_GET_STATE, &st);
	EXPECT_EQ(-EINVAL, r) TH_LOG("GET_STATE size 4: expected EINVAL, got %s",
				     vmt_errstr(r));
	/* no region yet */
	make_dst(_metadata, self, variant, GPA, BLK, REGION_SIZE, CHUNK);
	vmt_dev_close(&self->dst.dev);
	vmt_dev_open_ready(&self->dst.dev, self->dst.vm, &self->dst.vq, ~0ULL);
	len = need;
	r = __vmt_vmm_get_state(self->dst.dev.fd, buf, &len);
	EXPECT_EQ(-EBADFD, r) TH_LOG("GET_STATE without a region: expected EBADFD, got %s",
				     vmt_errstr(r));
	r = __vmt_vmm_set_state(self->dst.dev.fd, self->blob, self->len);
	EXPECT_EQ(-EBADFD, r) TH_LOG("SET_STATE without a region: expected EBADFD, got %s",
				     vmt_errstr(r));
	/* the source is still paused and unchanged */
	vmt_vm_expect_read(src->vm, vmt_rq_gpa(src, 40) + 8, tag(40, 8),
			   "source after GET_STATEs");
	free(buf);
}

/* One corruption of the blob: SET_STATE must fail with EINVAL. */
struct bad_blob {
	const char *what;
	u64 len_delta;		/* added to the length (may wrap: shorter) */
	unsigned int at[2];	/* byte offsets to change (0: none) */
	u8 xor[2];
};

/*
 * The source's blob: requested 16 MiB (bytes 32-39), usable 320 MiB
 * (0x14000000, bytes 40-47), plugged 30 MiB (0x01e00000, bytes 48-55),
 * blocks 2-6, 15, 17-18, 40, 100-103, 150-151 in the map from byte 64.
 */
TEST_F(mig, rejected_blobs)
{
	const struct bad_blob bad[] = {
		{ .what = "truncated by one byte", .len_delta = -1ULL },
		{ .what = "the header only", .len_delta = -(u64)(NR_BLOCKS / 8) },
		{ .what = "one byte longer", .len_delta = 1 },
		{ .what = "wrong magic", .at = { 1 }, .xor = { 0xff } },
		{ .what = "wrong version", .at = { ST_VERSION }, .xor = { 0x03 } },
		/* block 8 plugged in the map, not in plugged_size */
		{ .what = "a plugged bit too many",
		  .at = { ST_HDR + 1 }, .xor = { 0x01 } },
		/* plugged_size 28 MiB: one block less than the map */
		{ .what = "plugged size below the map",
		  .at = { ST_PLUGGED + 2 }, .xor = { 0x20 } },
		/* block 2 moved to block 200, past the usable 160 */
		{ .what = "a plugged block past the usable region",
		  .at = { ST_HDR, ST_HDR + 200 / 8 }, .xor = { 0x04, 0x01 } },
		{ .what = "requested not block aligned",
		  .at = { ST_REQUESTED }, .xor = { 0x01 } },
		/* usable 64 MiB: blocks 40 and up would be past it */
		{ .what = "usable region below plugged blocks",
		  .at = { ST_USABLE + 3 }, .xor = { 0x10 } },
	};
	struct vmt_rq_env *dst = &self->dst;
	struct vhost_mem_status before;
	struct vhost_mem_state st;
	unsigned int i, j;
	u8 *copy;
	int r;

	save_source(_metadata, self);
	ASSERT_EQ(ST_SIZE, self->len);
	make_dst(_metadata, self, variant, GPA, BLK, REGION_SIZE, CHUNK);
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &before));
	copy = calloc(1, self->len + 1);
	ASSERT_NE(NULL, copy);

	for (i = 0; i < VMT_ARRAY_SIZE(bad); i++) {
		memcpy(copy, self->blob, self->len);
		for (j = 0; j < 2; j++)
			if (bad[i].at[j])
				copy[bad[i].at[j]] ^= bad[i].xor[j];
		r = __vmt_vmm_set_state(dst->dev.fd, copy,
					self->len + bad[i].len_delta);
		EXPECT_EQ(-EINVAL, r)
			TH_LOG("SET_STATE, %s: expected EINVAL, got %s",
			       bad[i].what, vmt_errstr(r));
		expect_dst_untouched(_metadata, self, &before, bad[i].what);
	}

	/* the struct around it */
	st = (struct vhost_mem_state){
		.size = sizeof(st), .flags = 1,
		.buf = (u64)(uintptr_t)self->blob, .buf_len = self->len,
	};
	r = __vmt_vmm_state_ioctl(dst->dev.fd, VHOST_MEM_SET_STATE, &st);
	EXPECT_EQ(-EINVAL, r) TH_LOG("SET_STATE flags 1: expected EINVAL, got %s",
				     vmt_errstr(r));
	r = __vmt_vmm_set_state(dst->dev.fd, (void *)8, self->len);
	EXPECT_EQ(-EFAULT, r) TH_LOG("SET_STATE from address 8: expected EFAULT, got %s",
				     vmt_errstr(r));
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, 2ULL << 30);
	EXPECT_EQ(-EINVAL, r) TH_LOG("SET_STATE of 2 GiB: expected EINVAL, got %s",
				     vmt_errstr(r));
	expect_dst_untouched(_metadata, self, &before, "bad struct fields");

	/* the genuine blob still loads */
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	EXPECT_EQ(0, r) TH_LOG("SET_STATE of the genuine blob after the bad ones: %s",
			       vmt_errstr(r));
	vmt_vm_expect_read(dst->vm, vmt_rq_gpa(dst, 150), 0,
			   "restored after the rejected blobs");
	free(copy);
}

/* Another geometry: each refused, nothing changed; the chunk may differ. */
TEST_F(mig, other_geometry)
{
	static const struct {
		const char *what;
		u64 gpa, block, size, chunk;
		int want;
	} geo[] = {
		{ "block size 4 MiB", GPA, 2 * BLK, REGION_SIZE, CHUNK, -EINVAL },
		{ "base 8 GiB", 2 * GPA, BLK, REGION_SIZE, CHUNK, -EINVAL },
		{ "region 256 MiB", GPA, BLK, REGION_SIZE / 2, CHUNK, -EINVAL },
		{ "region 1 GiB", GPA, BLK, 2 * REGION_SIZE, CHUNK, -EINVAL },
		{ "chunk 64 MiB", GPA, BLK, REGION_SIZE, 2 * CHUNK, 0 },
	};
	struct vmt_rq_env *dst = &self->dst;
	struct vhost_mem_status before, st;
	unsigned int i;
	int r;

	save_source(_metadata, self);
	for (i = 0; i < VMT_ARRAY_SIZE(geo); i++) {
		make_dst(_metadata, self, variant, geo[i].gpa, geo[i].block,
			 geo[i].size, geo[i].chunk);
		ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &before));
		r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
		EXPECT_EQ(geo[i].want, r)
			TH_LOG("SET_STATE into a device with %s: expected %s, got %s",
			       geo[i].what, vmt_errstr(geo[i].want), vmt_errstr(r));
		if (!geo[i].want)
			continue;
		ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &st));
		EXPECT_EQ(0, st.plugged_size);
		EXPECT_EQ(before.requested_size, st.requested_size);
		EXPECT_EQ(before.usable_region_size, st.usable_region_size);
		EXPECT_EQ(0, st.memslots)
			TH_LOG("%s: memslots after the refusal: %u", geo[i].what,
			       st.memslots);
		EXPECT_EQ(0, vmt_backing_allocated(&dst->backing));
		vmt_vm_expect_mmio(dst->vm, geo[i].gpa + 2 * BLK,
				   "refused restore");
	}
	/* the state does not say how the host cuts memslots: 64 MiB chunks */
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &st));
	EXPECT_EQ(PLUGGED_BLOCKS * BLK, st.plugged_size);
	EXPECT_EQ(4, st.memslots)
		TH_LOG("the source's runs in 64 MiB chunks: expected 4 memslots, got %u",
		       st.memslots);
	ASSERT_EQ(0, __vmt_mem_set_running(dst->dev.fd, 1));
	vmt_model_copy(&dst->model, &self->src.model, 2 * CHUNK);
	dst->started = true;
	dst->running = true;
	vmt_rq_check_all(dst);
}

TEST_F(mig, set_state_while_running)
{
	struct vmt_rq_env *dst = &self->dst;
	struct vhost_mem_status before;
	int r;

	save_source(_metadata, self);
	make_dst(_metadata, self, variant, GPA, BLK, REGION_SIZE, CHUNK);
	ASSERT_EQ(0, __vmt_mem_set_requested_size(dst->dev.fd, REQUESTED));
	ASSERT_EQ(0, __vmt_mem_set_running(dst->dev.fd, 1));
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &before));
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	EXPECT_EQ(-EBUSY, r)
		TH_LOG("SET_STATE into a running device: expected EBUSY, got %s",
		       vmt_errstr(r));
	expect_dst_untouched(_metadata, self, &before, "SET_STATE while running");
	/* stopped again, it takes the state */
	ASSERT_EQ(0, __vmt_mem_set_running(dst->dev.fd, 0));
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	EXPECT_EQ(0, r) TH_LOG("SET_STATE into the stopped device: %s",
			       vmt_errstr(r));
}

/* A restore only goes into a device with nothing plugged. */
TEST_F(mig, set_state_into_plugged_device)
{
	struct vmt_rq_env *dst = &self->dst;
	struct vhost_mem_status before, st;
	u16 state;
	int r;

	save_source(_metadata, self);

	/* 1: a restored device, restored again */
	make_dst(_metadata, self, variant, GPA, BLK, REGION_SIZE, CHUNK);
	ASSERT_EQ(0, __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len));
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &before));
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	EXPECT_EQ(-EBUSY, r)
		TH_LOG("a second SET_STATE (%llu bytes plugged): expected EBUSY, got %s",
		       (unsigned long long)before.plugged_size, vmt_errstr(r));

	/* 2: a device whose guest plugged, then stopped */
	make_dst(_metadata, self, variant, GPA, BLK, REGION_SIZE, CHUNK);
	vmt_vmm_start(dst, REQUESTED);
	VMT_RQ_EXPECT(dst, ACK, PLUG, 60, 3);
	vmt_vm_expect_write(dst->vm, vmt_rq_gpa(dst, 61) + 8, 0x6161,
			    "the destination's own block");
	vmt_rq_set_running(dst, false);
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &before));
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	EXPECT_EQ(-EBUSY, r)
		TH_LOG("SET_STATE into a stopped device with %llu bytes plugged: expected EBUSY, got %s",
		       (unsigned long long)before.plugged_size, vmt_errstr(r));
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &st));
	EXPECT_EQ(before.plugged_size, st.plugged_size)
		TH_LOG("plugged_size: expected 0x%llx (its own blocks), got 0x%llx",
		       (unsigned long long)before.plugged_size,
		       (unsigned long long)st.plugged_size);
	EXPECT_EQ(before.memslots, st.memslots);
	EXPECT_EQ(before.requested_size, st.requested_size);
	vmt_vm_expect_read(dst->vm, vmt_rq_gpa(dst, 61) + 8, 0x6161,
			   "the destination's own block after the refused SET_STATE");
	vmt_rq_set_running(dst, true);
	r = __vmt_mem_state(&dst->vq, vmt_rq_gpa(dst, 60), 3, &state);
	EXPECT_EQ(ACK, r);
	EXPECT_EQ(PLUGGED, state)
		TH_LOG("STATE of its own blocks after the refused SET_STATE: expected PLUGGED, got %s",
		       vmt_mem_state_name(state));
}

/*
 * The VMM maps a page of its own into chunk 6 (block 100) behind the
 * device's back, as memslot VMM_SLOT: a restore cannot make that chunk's.
 */
static void *vmm_takes_chunk6(struct __test_metadata *_metadata,
			      struct vmt_rq_env *dst)
{
	void *page;
	int r;

	page = mmap(NULL, BLK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	r = __vmt_vm_set_memslot(dst->vm, VMM_SLOT, vmt_rq_gpa(dst, 100), BLK,
				 page, 0);
	ASSERT_EQ(0, r) TH_LOG("VMM memslot in chunk 6: %s", vmt_errstr(r));
	return page;
}

/* The memslot of vmm_takes_chunk6() deleted: chunk 6 is free again. */
static void vmm_frees_chunk6(struct __test_metadata *_metadata,
			     struct vmt_rq_env *dst)
{
	ASSERT_EQ(0, __vmt_vm_set_memslot(dst->vm, VMM_SLOT, 0, 0, NULL, 0));
}

/* The memslot of a restored chunk cannot be made: all rolled back. */
TEST_F(mig, restore_rolls_back)
{
	struct vmt_rq_env *dst = &self->dst;
	struct vhost_mem_status before;
	void *page;
	int r;

	save_source(_metadata, self);
	make_dst(_metadata, self, variant, GPA, BLK, REGION_SIZE, CHUNK);
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &before));
	page = vmm_takes_chunk6(_metadata, dst);
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	EXPECT_EQ(-EEXIST, r)
		TH_LOG("SET_STATE with chunk 6 taken by the VMM: expected EEXIST, got %s",
		       vmt_errstr(r));
	expect_dst_untouched(_metadata, self, &before,
			     "restore whose memslot failed");
	vmm_frees_chunk6(_metadata, dst);
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	EXPECT_EQ(0, r) TH_LOG("SET_STATE once chunk 6 is free: %s", vmt_errstr(r));
	vmt_vm_expect_read(dst->vm, vmt_rq_gpa(dst, 100), 0,
			   "chunk 6 restored");
	munmap(page, BLK);
}

/*
 * Prealloc at restore on hugetlbfs: a pool smaller than the plugged
 * memory fails SET_STATE with the allocation's errno, maps nothing, logs
 * once and keeps what it allocated; with a pool that fits, it loads.
 */
TEST_F(mig, prealloc_restore_pool_too_small)
{
	struct vmt_rq_env *dst = &self->dst;
	struct vhost_mem_status before, st;
	const char *why;
	int klog, lines, r;
	u64 kept;

	save_source(_metadata, self);
	vmt_rq_env_free(dst);
	vmt_rq_env_init(dst, VMT_BACKING_MEMFD, 0, ~0ULL);
	why = vmt_hugetlb_pool(PLUGGED_BLOCKS / 2);
	if (!why)
		why = vmt_backing_hugetlbfs(&dst->backing, "/dev/hugepages",
					    REGION_SIZE);
	if (why && !vmt_modroot())
		SKIP(return, "%s", why);
	ASSERT_EQ(NULL, why) TH_LOG("in the test VM: %s", why);
	vmt_region_init(&dst->region, &dst->backing, GPA, BLK, SLOT_BASE);
	dst->region.chunk_size = CHUNK;
	dst->region.slot_count = VHOST_MEM_SLOTS_NEEDED(REGION_SIZE, CHUNK);
	dst->region.flags |= VHOST_MEM_REGION_F_PREALLOC;
	ASSERT_EQ(0, __vmt_mem_set_vm(dst->dev.fd, dst->vm->vm_fd));
	ASSERT_EQ(0, __vmt_mem_set_region(dst->dev.fd, &dst->region));
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &before));
	klog = __vmt_klog_mark();
	ASSERT_LE(0, klog);

	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	EXPECT_EQ(-ENOSPC, r)
		TH_LOG("SET_STATE of %u plugged blocks with %u huge pages free: expected ENOSPC, got %s",
		       PLUGGED_BLOCKS, PLUGGED_BLOCKS / 2, vmt_errstr(r));
	/* What was allocated stays: it may hold migrated RAM already. */
	expect_dst_unchanged(_metadata, self, &before,
			     "restore that could not preallocate");
	EXPECT_EQ(0, vmt_hugetlb_free())
		TH_LOG("HugePages_Free after the failed restore: expected 0 (the pool was used and kept), got %lld",
		       vmt_hugetlb_free());
	kept = vmt_backing_allocated(&dst->backing) / BLK;
	EXPECT_EQ(PLUGGED_BLOCKS / 2, kept);
	lines = vmt_klog_count(klog, "cannot preallocate", true);
	EXPECT_EQ(1, lines) TH_LOG("kernel log lines: expected 1, got %d",
				   lines);
	close(klog);

	ASSERT_EQ(NULL, vmt_hugetlb_pool(PLUGGED_BLOCKS + 1));
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	ASSERT_EQ(0, r) TH_LOG("SET_STATE with a pool that fits: %s",
			       vmt_errstr(r));
	/* the retry allocated what was missing, of PLUGGED_BLOCKS + 1 free */
	EXPECT_EQ(1 + kept, vmt_hugetlb_free());
	EXPECT_EQ(PLUGGED_BLOCKS * BLK, vmt_backing_allocated(&dst->backing));
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &st));
	EXPECT_EQ(LIVE_CHUNKS, st.memslots);
	vmt_vm_expect_read(dst->vm, vmt_rq_gpa(dst, 151) + 8, 0,
			   "restored and preallocated huge page");
}

/*
 * The VMM loaded the migrated RAM into the plugged blocks before the
 * device state, as QEMU does: a SET_STATE that fails must leave it there,
 * so that a retry (once the conflict is gone) brings the guest its data.
 */
TEST_F(mig, failed_restore_keeps_the_loaded_ram)
{
	struct vmt_rq_env *dst = &self->dst;
	unsigned int i;
	void *page;
	u64 b;
	int r;

	save_source(_metadata, self);
	make_dst(_metadata, self, variant, GPA, BLK, REGION_SIZE, CHUNK);
	for (i = 0; i < VMT_ARRAY_SIZE(runs); i++)
		for (b = runs[i].first; b < runs[i].first + runs[i].n; b++)
			*(u64 *)((u8 *)vmt_rq_hva(dst, b) + 8) = tag(b, 8);
	page = vmm_takes_chunk6(_metadata, dst);
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	ASSERT_EQ(-EEXIST, r)
		TH_LOG("SET_STATE with chunk 6 taken by the VMM: expected EEXIST, got %s",
		       vmt_errstr(r));
	for (i = 0; i < VMT_ARRAY_SIZE(runs); i++)
		for (b = runs[i].first; b < runs[i].first + runs[i].n; b++)
			EXPECT_EQ(tag(b, 8),
				  *(u64 *)((u8 *)vmt_rq_hva(dst, b) + 8))
				TH_LOG("block %llu: the failed SET_STATE destroyed the migrated RAM",
				       (unsigned long long)b);

	vmm_frees_chunk6(_metadata, dst);
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	ASSERT_EQ(0, r) TH_LOG("SET_STATE once chunk 6 is free: %s", vmt_errstr(r));
	for (i = 0; i < VMT_ARRAY_SIZE(runs); i++)
		for (b = runs[i].first; b < runs[i].first + runs[i].n; b++)
			vmt_vm_expect_read(dst->vm, vmt_rq_gpa(dst, b) + 8,
					   tag(b, 8),
					   "migrated RAM after the retry");
	munmap(page, BLK);
}

/*
 * A probe of whether the kernel reads a buffer: its first page is missing
 * and registered with userfaultfd, so a read (by the kernel too: no
 * UFFD_USER_MODE_ONLY) waits until the thread here counts it and lets it
 * go, reading VmallocUsed meanwhile.
 */
struct uffd_probe {
	int uffd;
	u8 *buf;
	u64 len;
	pthread_t thread;
	int faults;
	long long vmalloc_kib_at_fault;
};

static long long vmalloc_used_kib(void)
{
	char line[128];
	long long kib = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmallocUsed: %lld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void *uffd_probe_thread(void *arg)
{
	struct uffd_probe *p = arg;
	struct pollfd pfd = { .fd = p->uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, 10000) == 1 &&
	    read(p->uffd, &msg, sizeof(msg)) == sizeof(msg) &&
	    msg.event == UFFD_EVENT_PAGEFAULT) {
		p->vmalloc_kib_at_fault = vmalloc_used_kib();
		__atomic_store_n(&p->faults, 1, __ATOMIC_RELEASE);
		fprintf(stderr, "# probe: the %llu MiB buffer is read; VmallocUsed %lld KiB then\n",
			(unsigned long long)p->len >> 20,
			p->vmalloc_kib_at_fault);
	}
	/* Unregisters the range: the waiting read goes on with zero pages. */
	close(p->uffd);
	return NULL;
}

/* NULL if it is armed, else why not. */
static const char *uffd_probe_arm(struct uffd_probe *p, u64 len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	memset(p, 0, sizeof(*p));
	p->len = len;
	p->buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->buf == MAP_FAILED)
		return "no memory for the buffer";
	p->uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (p->uffd < 0)
		return "no userfaultfd";
	reg.range.start = (uintptr_t)p->buf;
	reg.range.len = len;
	if (ioctl(p->uffd, UFFDIO_API, &api) ||
	    ioctl(p->uffd, UFFDIO_REGISTER, &reg))
		return "userfaultfd registration failed";
	if (pthread_create(&p->thread, NULL, uffd_probe_thread, p))
		return "no thread";
	return NULL;
}

/* SET_STATE of len bytes from a probe; the kernel must not touch them. */
static int set_state_probed(int fd, u64 len, long long *vmalloc_growth_kib,
			    int *faults)
{
	struct uffd_probe p;
	long long before = vmalloc_used_kib();
	const char *why = uffd_probe_arm(&p, len);
	int r;

	if (why) {
		fprintf(stderr, "# probe: %s\n", why);
		return -EOPNOTSUPP;
	}
	r = __vmt_vmm_set_state(fd, p.buf, len);
	/* A read by the kernel was counted before the ioctl could return. */
	*faults = __atomic_load_n(&p.faults, __ATOMIC_ACQUIRE);
	*vmalloc_growth_kib = *faults ? p.vmalloc_kib_at_fault - before : 0;
	/* Nothing read: wake the thread up with a read of our own. */
	if (!*faults)
		(void)*(volatile u8 *)p.buf;
	pthread_join(p.thread, NULL);
	munmap(p.buf, len);
	return r;
}

/*
 * SET_STATE from a process that holds the fd but is not the owner (a
 * forked child): EPERM before the kernel allocates or reads anything; the
 * owner with a length that is not the state's: EINVAL, likewise.
 */
TEST_F(mig, set_state_checks_before_it_allocates)
{
	const u64 len = 256ULL << 20;
	long long growth;
	int faults, r, status;
	pid_t child;

	make_dst(_metadata, self, variant, GPA, BLK, REGION_SIZE, CHUNK);
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		r = set_state_probed(self->dst.dev.fd, len, &growth, &faults);
		fprintf(stderr, "# non-owner SET_STATE of 256 MiB: %s, the kernel read the buffer %d time(s), VmallocUsed +%lld KiB meanwhile\n",
			vmt_errstr(r), faults, growth);
		_exit(r == -EOPNOTSUPP ? 4 : r == -EPERM && !faults ? 0 : 1);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 4)
		SKIP(return, "no userfaultfd probe");
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("a non-owner's SET_STATE made the kernel allocate or read (see above)");

	r = set_state_probed(self->dst.dev.fd, len, &growth, &faults);
	EXPECT_EQ(-EINVAL, r) TH_LOG("owner, 256 MiB: expected EINVAL, got %s",
				     vmt_errstr(r));
	EXPECT_EQ(0, faults)
		TH_LOG("owner, 256 MiB: the kernel read the buffer (VmallocUsed +%lld KiB)",
		       growth);
}

/* An empty device migrates too, and the copy stays empty. */
TEST_F(mig, empty_device)
{
	struct vmt_rq_env *src = &self->src, *dst = &self->dst;
	struct vhost_mem_status st;
	int r;

	VMT_RQ_EXPECT(src, ACK, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0);
	save_source(_metadata, self);
	make_dst(_metadata, self, variant, GPA, BLK, REGION_SIZE, CHUNK);
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	ASSERT_EQ(0, r) TH_LOG("SET_STATE of an empty device: %s", vmt_errstr(r));
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &st));
	EXPECT_EQ(0, st.plugged_size);
	EXPECT_EQ(0, st.memslots);
	EXPECT_EQ(SHRUNK, st.requested_size);
	EXPECT_EQ(SHRUNK + VHOST_MEM_USABLE_EXTENT, st.usable_region_size)
		TH_LOG("usable region after UNPLUG_ALL with 16 MiB requested: expected 272 MiB, got 0x%llx",
		       (unsigned long long)st.usable_region_size);
	EXPECT_EQ(0, vmt_backing_allocated(&dst->backing));
	/* and another SET_STATE is fine: nothing is plugged */
	r = __vmt_vmm_set_state(dst->dev.fd, self->blob, self->len);
	EXPECT_EQ(0, r) TH_LOG("second SET_STATE of an empty state: %s",
			       vmt_errstr(r));
}

TEST_HARNESS_MAIN
