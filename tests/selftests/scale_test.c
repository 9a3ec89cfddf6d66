// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a 1 TiB device, and what its memslots cost KVM.
 *
 * - A 1 TiB region at GPA 1 TiB (anonymous backing, MAP_NORESERVE) with
 *   1 GiB plugged in four runs far apart: the vCPU reads and writes the
 *   plugged runs, gets KVM_EXIT_MMIO everywhere else, STATE covers the
 *   region in requests of 65535 blocks, and the state migrates into a fresh
 *   1 TiB device of another VM.
 * - The memslot metadata KVM allocates: for our device with 1 GiB plugged
 *   (one 1 GiB memslot), against one 1 TiB memslot made by userspace as
 *   QEMU 7.2 maps a virtio-mem device, each on a fresh VM, as the rise of
 *   the kernel's unreclaimable memory (SUnreclaim + VmallocUsed + Percpu +
 *   KernelStack + PageTables + SecPageTables) and the drop of MemAvailable
 *   around the one operation: the median of several samples, page cache
 *   dropped first, a no-op sample for the noise.  Also with
 *   KVM_MEM_LOG_DIRTY_PAGES (as while migrating).  On 6.1
 *   (VHOST_MEM_SERIES=6.1) the ratio must be at least 500; on 6.12, which
 *   allocates most metadata lazily, it is reported.
 * - That metadata is charged to the VMM's memory cgroup, as it is for
 *   memslots the VMM makes itself (64 memslots each way, to be above the
 *   cgroup's per-cpu charge batching).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmt.h"
#include "vmm_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

#define SC_GPA		VMT_TIB
#define SC_SIZE		VMT_TIB
#define SC_BLOCKS	(SC_SIZE / BLK)		/* 524288 */
#define BLOCKS_PER_GIB	(VMT_GIB / BLK)		/* 512 */
#define SC_CHUNKS	(SC_SIZE / VMT_GIB)	/* 1024 */
#define USER_SLOT	1

#define RATIO_MIN	500	/* issue 4, on 6.1 */
#define SAMPLES_TIB	3	/* a 1 TiB memslot takes ~3 s on 6.1 in TCG */
#define SAMPLES_SMALL	5

/* 1 GiB in four runs of 128 blocks: chunks 0, 300, 700 and the last. */
static const u64 run_first[] = {
	0,
	300 * BLOCKS_PER_GIB + 64,
	700 * BLOCKS_PER_GIB + 384,
	SC_BLOCKS - 128,
};

#define RUN_BLOCKS	128

static void scale_region(struct vmt_rq_env *e)
{
	vmt_region_init(&e->region, &e->backing, SC_GPA, BLK, SLOT_BASE);
	e->region.slot_count = SC_CHUNKS;
}

FIXTURE(scale) {
	struct vmt_rq_env e, dst;
};

FIXTURE_SETUP(scale)
{
	struct vmt_rq_env *e = &self->e;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	self->dst.dev.fd = -1;
	self->dst.backing.fd = -1;
	/* MAP_NORESERVE: 1 TiB of address space, nothing reserved */
	vmt_rq_env_init(e, VMT_BACKING_ANON, SC_SIZE, ~0ULL);
	scale_region(e);
}

FIXTURE_TEARDOWN(scale)
{
	vmt_rq_env_free(&self->dst);
	vmt_rq_env_free(&self->e);
}

static void plug_gib(struct __test_metadata *_metadata, struct vmt_rq_env *e)
{
	unsigned int i;

	for (i = 0; i < VMT_ARRAY_SIZE(run_first); i++)
		VMT_RQ_EXPECT(e, ACK, PLUG, run_first[i], RUN_BLOCKS);
}

/* Tags at both ends of each run, through the backing or the guest. */
static void check_runs(struct vmt_rq_env *e, bool write, const char *why)
{
	unsigned int i;
	u64 lo, hi;

	for (i = 0; i < VMT_ARRAY_SIZE(run_first); i++) {
		lo = vmt_rq_gpa(e, run_first[i]) + 8;
		hi = vmt_rq_gpa(e, run_first[i] + RUN_BLOCKS) - 8;
		if (write) {
			vmt_vm_expect_write(e->vm, lo, vmt_block_tag(9, i, 0), why);
			vmt_vm_expect_write(e->vm, hi, vmt_block_tag(9, i, 1), why);
		}
		vmt_vm_expect_read(e->vm, lo, vmt_block_tag(9, i, 0), why);
		vmt_vm_expect_read(e->vm, hi, vmt_block_tag(9, i, 1), why);
	}
}

TEST_F(scale, tib_region_gib_plugged)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status st;

	vmt_rq_env_start(e, SC_SIZE);
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	EXPECT_EQ(SC_CHUNKS, st.memslots_max);
	plug_gib(_metadata, e);
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	EXPECT_EQ(VMT_GIB, st.plugged_size);
	EXPECT_EQ(4, st.memslots)
		TH_LOG("1 GiB in four runs in four chunks: expected 4 memslots, got %u",
		       st.memslots);

	check_runs(e, true, "1 GiB plugged of 1 TiB");
	vmt_vm_expect_mmio(e->vm, SC_GPA + VMT_GIB, "chunk 1");
	vmt_vm_expect_mmio(e->vm, SC_GPA + 512 * VMT_GIB, "chunk 512");
	vmt_vm_expect_mmio(e->vm, SC_GPA + SC_SIZE - VMT_GIB - 8, "chunk 1022");
	vmt_vm_expect_mmio(e->vm, SC_GPA + SC_SIZE, "past the region");
	/* the memslot is the whole chunk: its unplugged part reads 0 */
	vmt_vm_expect_read(e->vm, SC_GPA + 300 * VMT_GIB, 0,
			   "chunk 300 before its run");
	/* STATE in requests of 65535 blocks, guest and status checks */
	vmt_rq_check_all(e);

	VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	EXPECT_EQ(0, st.memslots);
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, run_first[3]), "after UNPLUG_ALL");
	vmt_rq_check_all(e);
}

TEST_F(scale, tib_state_round_trip)
{
	struct vmt_rq_env *e = &self->e, *dst = &self->dst;
	struct vhost_mem_status st;
	unsigned int i;
	u64 len;
	u8 *blob;
	int r;

	vmt_rq_env_start(e, SC_SIZE);
	plug_gib(_metadata, e);
	check_runs(e, true, "source");
	ASSERT_EQ(0, __vmt_vmm_set_paused(e->dev.fd, 1));
	blob = vmt_vmm_save(e->dev.fd, &len);
	EXPECT_EQ(64 + SC_BLOCKS / 8, len);

	vmt_rq_env_init(dst, VMT_BACKING_ANON, SC_SIZE, ~0ULL);
	scale_region(dst);
	ASSERT_EQ(0, __vmt_mem_set_vm(dst->dev.fd, dst->vm->vm_fd));
	ASSERT_EQ(0, __vmt_mem_set_region(dst->dev.fd, &dst->region));
	r = __vmt_vmm_set_state(dst->dev.fd, blob, len);
	ASSERT_EQ(0, r) TH_LOG("SET_STATE of %llu bytes: %s",
			       (unsigned long long)len, vmt_errstr(r));
	free(blob);
	ASSERT_EQ(0, __vmt_mem_get_status(dst->dev.fd, &st));
	EXPECT_EQ(4, st.memslots);
	EXPECT_EQ(VMT_GIB, st.plugged_size);
	/* the VMM copies the RAM that is plugged: the tags' pages */
	for (i = 0; i < VMT_ARRAY_SIZE(run_first); i++) {
		memcpy(vmt_rq_hva(dst, run_first[i]), vmt_rq_hva(e, run_first[i]),
		       4096);
		memcpy((u8 *)vmt_rq_hva(dst, run_first[i] + RUN_BLOCKS) - 4096,
		       (u8 *)vmt_rq_hva(e, run_first[i] + RUN_BLOCKS) - 4096,
		       4096);
	}
	check_runs(dst, false, "migrated");
	ASSERT_EQ(0, __vmt_mem_set_running(dst->dev.fd, 1));
	vmt_model_copy(&dst->model, &e->model, 0);
	dst->started = true;
	dst->running = true;
	vmt_rq_check_all(dst);
}

/* ------------------------------------------------------------------ */
/* KVM's memslot metadata                                             */
/* ------------------------------------------------------------------ */

struct snap {
	long long avail;	/* MemAvailable, KiB */
	long long kernel;	/* unreclaimable kernel memory, KiB */
	long long vmalloc;	/* VmallocUsed, KiB */
	long long memcg;	/* our memory cgroup's "kernel", KiB, or -1 */
};

/*
 * A memory cgroup of our own (cgroup2, mounted if need be), to see what of
 * the metadata is charged to the VMM: KVM allocates it __GFP_ACCOUNT.
 */
#define CG_ROOT		"/sys/fs/cgroup"

static char memcg_dir[64];

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static bool memcg_enter(void)
{
	char pid[16], procs[96];

	/* mounted here only in the test VM, never on a real host */
	if (access(CG_ROOT "/cgroup.controllers", F_OK) &&
	    (!vmt_modroot() || mount("none", CG_ROOT, "cgroup2", 0, NULL)))
		return false;
	write_str(CG_ROOT "/cgroup.subtree_control", "+memory");
	snprintf(memcg_dir, sizeof(memcg_dir), CG_ROOT "/vmt-scale-%d",
		 (int)getpid());
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (mkdir(memcg_dir, 0755) && errno != EEXIST)
		return false;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", memcg_dir);
	if (!write_str(procs, pid))
		return true;
	rmdir(memcg_dir);
	memcg_dir[0] = '\0';
	return false;
}

static void memcg_leave(void)
{
	char pid[16];

	if (!memcg_dir[0])
		return;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	write_str(CG_ROOT "/cgroup.procs", pid);
	rmdir(memcg_dir);
	memcg_dir[0] = '\0';
}

static long long memcg_kernel_kb(void)
{
	char path[96], line[128];
	long long v = -1;
	FILE *f;

	if (!memcg_dir[0])
		return -1;
	snprintf(path, sizeof(path), "%s/memory.stat", memcg_dir);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "kernel ", 7))
			v = strtoll(line + 7, NULL, 10) / 1024;
	fclose(f);
	return v;
}

static const char * const kernel_fields[] = {
	"SUnreclaim:", "VmallocUsed:", "Percpu:", "KernelStack:",
	"PageTables:", "SecPageTables:",
};

static void take_snap(struct snap *s)
{
	char line[256];
	unsigned int i;
	long long v;
	FILE *f;

	memset(s, 0, sizeof(*s));
	f = fopen("/proc/meminfo", "re");
	TEST_ASSERT(f, "cannot open /proc/meminfo");
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < VMT_ARRAY_SIZE(kernel_fields); i++) {
			size_t n = strlen(kernel_fields[i]);

			if (strncmp(line, kernel_fields[i], n))
				continue;
			v = strtoll(line + n, NULL, 10);
			s->kernel += v;
			if (i == 1)
				s->vmalloc = v;
		}
		if (!strncmp(line, "MemAvailable:", 13))
			s->avail = strtoll(line + 13, NULL, 10);
	}
	fclose(f);
	s->memcg = memcg_kernel_kb();
}

/* The cost of one operation: what the kernel took, what left MemAvailable. */
struct cost {
	long long kernel, avail, vmalloc, memcg;
};

static struct cost cost_of(const struct snap *a, const struct snap *b)
{
	return (struct cost){
		.kernel = b->kernel - a->kernel,
		.avail = a->avail - b->avail,
		.vmalloc = b->vmalloc - a->vmalloc,
		.memcg = a->memcg < 0 ? -1 : b->memcg - a->memcg,
	};
}

/* Quiet memory before a sample: no dirty or cached pages to come and go. */
static void settle(void)
{
	FILE *f;

	sync();
	f = fopen("/proc/sys/vm/drop_caches", "we");
	if (f) {
		fputs("3\n", f);
		fclose(f);
	}
	vmt_sleep_ms(20);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static long long median(long long *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_ll);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The medians of n samples of one kind. */
struct series {
	const char *what;
	unsigned int n;
	long long kernel[SAMPLES_SMALL], avail[SAMPLES_SMALL];
	long long vmalloc[SAMPLES_SMALL], memcg[SAMPLES_SMALL];
	struct cost med;
};

static void add(struct series *s, struct cost c)
{
	s->kernel[s->n] = c.kernel;
	s->avail[s->n] = c.avail;
	s->vmalloc[s->n] = c.vmalloc;
	s->memcg[s->n] = c.memcg;
	s->n++;
}

static void finish(struct series *s)
{
	unsigned int i;

	fprintf(stderr, "#   %-58s kernel", s->what);
	for (i = 0; i < s->n; i++)
		fprintf(stderr, " %lld", s->kernel[i]);
	s->med.kernel = median(s->kernel, s->n);
	s->med.avail = median(s->avail, s->n);
	s->med.vmalloc = median(s->vmalloc, s->n);
	s->med.memcg = median(s->memcg, s->n);
	fprintf(stderr, " -> %lld KiB (MemAvailable -%lld, VmallocUsed +%lld, memcg +%lld)\n",
		s->med.kernel, s->med.avail, s->med.vmalloc, s->med.memcg);
}

/*
 * Our device on a fresh VM, 1 TiB region, 1 GiB requested; the cost of
 * the PLUG of 1 GiB (one 1 GiB memslot).  Then, if dirty is given, the cost
 * of the VMM turning on dirty logging for that memslot (a flags-only
 * KVM_SET_USER_MEMORY_REGION of the device's id: the device itself never
 * sets flags).
 */
static void sample_ours(struct __test_metadata *_metadata, struct series *plug,
			struct series *dirty)
{
	struct vmt_rq_env e;
	struct snap a, b;
	int r;

	vmt_rq_env_init(&e, VMT_BACKING_ANON, SC_SIZE, ~0ULL);
	scale_region(&e);
	vmt_dev_start(&e.dev, &e.region, VMT_GIB);
	settle();
	take_snap(&a);
	r = __vmt_mem_plug(&e.vq, SC_GPA, BLOCKS_PER_GIB);
	take_snap(&b);
	ASSERT_EQ(ACK, r) TH_LOG("PLUG of 1 GiB: %s", vmt_mem_resp_name(r));
	add(plug, cost_of(&a, &b));
	if (dirty) {
		settle();
		take_snap(&a);
		r = __vmt_vm_set_memslot(e.vm, SLOT_BASE, SC_GPA, VMT_GIB,
					 e.backing.hva, KVM_MEM_LOG_DIRTY_PAGES);
		take_snap(&b);
		ASSERT_EQ(0, r) TH_LOG("dirty logging on the device's memslot %u: %s",
				       SLOT_BASE, vmt_errstr(r));
		add(dirty, cost_of(&a, &b));
	}
	vmt_rq_env_free(&e);
}

/* One memslot made by userspace on a fresh VM; size 0: nothing at all. */
static void sample_user(struct __test_metadata *_metadata, struct series *s,
			u64 size, u32 flags)
{
	struct vmt_backing bk;
	struct vmt_vm *vm;
	struct snap a, b;
	int r = 0;

	vm = vmt_vm_create(0);
	vmt_backing_init(&bk, VMT_BACKING_ANON, size ? size : VMT_GIB);
	settle();
	take_snap(&a);
	if (size)
		r = __vmt_vm_set_memslot(vm, USER_SLOT, SC_GPA, size, bk.hva,
					 flags);
	take_snap(&b);
	ASSERT_EQ(0, r) TH_LOG("a userspace memslot of %llu GiB (flags 0x%x): %s",
			       (unsigned long long)(size >> 30), flags,
			       vmt_errstr(r));
	add(s, cost_of(&a, &b));
	if (size)
		vmt_vm_delete_memslot(vm, USER_SLOT);
	vmt_vm_free(vm);
	vmt_backing_free(&bk);
}

/*
 * Containment: 64 memslots (one plugged block in each of 64 chunks, or 64
 * userspace memslots of 1 GiB), enough to be above memcg's per-cpu charge
 * batching.  How much of the kernel memory lands in the VMM's cgroup.
 */
#define CG_SLOTS	64

static void memcg_probe(struct __test_metadata *_metadata)
{
	struct cost ours, user;
	struct vmt_backing bk;
	struct vmt_rq_env e;
	struct snap a, b;
	struct vmt_vm *vm;
	unsigned int i;
	int r;

	vmt_rq_env_init(&e, VMT_BACKING_ANON, SC_SIZE, ~0ULL);
	scale_region(&e);
	vmt_dev_start(&e.dev, &e.region, CG_SLOTS * VMT_GIB);
	settle();
	take_snap(&a);
	for (i = 0; i < CG_SLOTS; i++) {
		r = __vmt_mem_plug(&e.vq, SC_GPA + i * VMT_GIB, 1);
		ASSERT_EQ(ACK, r) TH_LOG("PLUG in chunk %u: %s", i,
					 vmt_mem_resp_name(r));
	}
	take_snap(&b);
	ours = cost_of(&a, &b);
	vmt_rq_env_free(&e);

	vm = vmt_vm_create(0);
	vmt_backing_init(&bk, VMT_BACKING_ANON, VMT_GIB);
	settle();
	take_snap(&a);
	for (i = 0; i < CG_SLOTS; i++)
		vmt_vm_add_memslot(vm, USER_SLOT + i, SC_GPA + i * VMT_GIB,
				   VMT_GIB, bk.hva);
	take_snap(&b);
	user = cost_of(&a, &b);
	vmt_vm_free(vm);
	vmt_backing_free(&bk);

	fprintf(stderr, "# %u memslots, charged to the VMM's memory cgroup (\"kernel\" of memory.stat) of the kernel memory they took: vhost-mem %lld of %lld KiB, userspace %lld of %lld KiB\n",
		CG_SLOTS, ours.memcg, ours.kernel, user.memcg, user.kernel);
	ASSERT_LE(user.kernel / 2, user.memcg)
		TH_LOG("userspace memslots are not charged either: nothing to compare");
	EXPECT_LE(ours.kernel / 2, ours.memcg)
		TH_LOG("vhost-mem's memslots took %lld KiB of kernel memory, %lld KiB of it charged to the VMM's memory cgroup (userspace memslots: %lld of %lld): the metadata escapes the cgroup",
		       ours.kernel, ours.memcg, user.memcg, user.kernel);
}

/* A ratio that does not blow up when the small side is lost in noise. */
static double ratio(long long big, long long small)
{
	return (double)big / (double)(small > 4 ? small : 4);
}

TEST_F_TIMEOUT(scale, memslot_metadata, 240)
{
	struct series ours = { .what = "vhost-mem, 1 GiB plugged of 1 TiB (one 1 GiB memslot)" };
	struct series tib = { .what = "userspace, one 1 TiB memslot (QEMU 7.2)" };
	struct series gib = { .what = "userspace, one 1 GiB memslot" };
	struct series noise = { .what = "nothing (noise)" };
	struct series ours_d = { .what = "vhost-mem's 1 GiB memslot: +KVM_MEM_LOG_DIRTY_PAGES" };
	struct series tib_d = { .what = "userspace, one 1 TiB memslot, KVM_MEM_LOG_DIRTY_PAGES" };
	struct series gib_d = { .what = "userspace, one 1 GiB memslot, KVM_MEM_LOG_DIRTY_PAGES" };
	const char *series = getenv("VHOST_MEM_SERIES");
	bool assert_ratio = series && !strcmp(series, "6.1");
	double r_kernel, r_avail, r_dirty, r_dirty_gib;
	bool memcg = memcg_enter();
	u64 t0 = vmt_now_ns();
	unsigned int i;

	for (i = 0; i < SAMPLES_SMALL; i++) {
		sample_user(_metadata, &noise, 0, 0);
		sample_ours(_metadata, &ours, i < SAMPLES_TIB ? &ours_d : NULL);
		sample_user(_metadata, &gib, VMT_GIB, 0);
		if (i < SAMPLES_TIB) {
			sample_user(_metadata, &gib_d, VMT_GIB,
				    KVM_MEM_LOG_DIRTY_PAGES);
			sample_user(_metadata, &tib, SC_SIZE, 0);
			sample_user(_metadata, &tib_d, SC_SIZE,
				    KVM_MEM_LOG_DIRTY_PAGES);
		}
	}
	fprintf(stderr, "# KVM memslot metadata on %s, per sample in KiB, median:\n",
		series ? series : "this kernel");
	finish(&noise);
	finish(&ours);
	finish(&gib);
	finish(&tib);
	finish(&ours_d);
	finish(&gib_d);
	finish(&tib_d);

	/* with dirty logging, ours is the plug plus the VMM's flags update */
	r_kernel = ratio(tib.med.kernel, ours.med.kernel);
	r_avail = ratio(tib.med.avail, ours.med.avail);
	r_dirty = ratio(tib_d.med.kernel, ours.med.kernel + ours_d.med.kernel);
	r_dirty_gib = ratio(tib_d.med.kernel, gib_d.med.kernel);
	fprintf(stderr, "# ratio 1 TiB memslot / vhost-mem with 1 GiB plugged: %.0f (kernel memory)\n",
		r_kernel);
	/* freed pages parked on per-cpu lists are not in MemAvailable */
	if (tib.med.avail > tib.med.kernel / 2)
		fprintf(stderr, "# ratio by MemAvailable: %.0f\n", r_avail);
	else
		fprintf(stderr, "# MemAvailable missed the 1 TiB memslot (%lld of %lld KiB): the pages came from per-cpu free lists; no ratio from it\n",
			tib.med.avail, tib.med.kernel);
	fprintf(stderr, "# with dirty logging: %.0f (vhost-mem's memslot with the flag set by the VMM), %.0f (against a userspace 1 GiB memslot with the flag)\n",
		r_dirty, r_dirty_gib);
	fprintf(stderr, "# (vhost-mem creates its memslots without flags; a VMM that migrates must set KVM_MEM_LOG_DIRTY_PAGES on them itself)\n");
	if (!memcg)
		fprintf(stderr, "# no memory cgroup: the memcg column is -1\n");
	memcg_leave();
	fprintf(stderr, "# %u + %u samples in %llu ms\n", SAMPLES_SMALL,
		SAMPLES_TIB, (unsigned long long)((vmt_now_ns() - t0) / 1000000));

	/* the numbers must at least be sane */
	EXPECT_LT(ours.med.kernel, tib.med.kernel)
		TH_LOG("vhost-mem with 1 GiB plugged cost %lld KiB, one 1 TiB memslot %lld KiB",
		       ours.med.kernel, tib.med.kernel);
	EXPECT_LT(tib.med.kernel, tib_d.med.kernel)
		TH_LOG("a dirty bitmap of 1 TiB costs nothing? %lld vs %lld KiB",
		       tib.med.kernel, tib_d.med.kernel);
	if (assert_ratio)
		EXPECT_LE(RATIO_MIN, (long long)r_kernel)
			TH_LOG("6.1: one 1 TiB memslot costs %lld KiB, vhost-mem with 1 GiB plugged %lld KiB: ratio %.0f, expected at least %d",
			       tib.med.kernel, ours.med.kernel, r_kernel,
			       RATIO_MIN);
}

/*
 * KVM charges memslot metadata to the memory cgroup of whoever creates the
 * memslot; for vhost-mem's memslots that must be the VMM's, as for
 * QEMU's, or a guest makes the host allocate outside the VM's limits.
 */
TEST_F(scale, memslot_metadata_charged_to_the_vmm)
{
	if (!memcg_enter()) {
		if (vmt_modroot())
			ASSERT_TRUE(false) TH_LOG("no cgroup2 memory controller in the test VM");
		SKIP(return, "no cgroup2 memory controller");
	}
	memcg_probe(_metadata);
	memcg_leave();
}

TEST_HARNESS_MAIN
