// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: adversarial lifecycles (hardening issue 13).
 *
 * - owner threads race every ioctl against a guest request flood, then
 *   VHOST_RESET_OWNER under the flood: afterwards the device answers as
 *   the model says, GET_STATUS agrees with what the vCPU sees;
 * - the VMM SIGKILLed with requests in flight, during a long prealloc
 *   (PLUG and SET_STATE) and during vCPU holds: module references,
 *   memory and files come back, /dev/vhost-mem works again;
 * - the device fd passed over SCM_RIGHTS: the other process gets EPERM on
 *   everything that drives the device; when the owner exits first, the
 *   last close still tears it down (VM destroyed, backing freed);
 * - the backing unmapped or remapped with MAP_FIXED while blocks are
 *   plugged: BUSY or ACK as Documentation/vhost-mem.rst says, and no data
 *   of a new mapping discarded wrongly;
 * - the KVM VM closed before the device, with blocks plugged;
 * - 64 devices at once, closed in random order.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"
#include "req_util.h"
#include "vmm_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

/* What a dead or closed device may leave behind at most. */
#define LEAK_MEM_KB	(32 * 1024)
#define LEAK_FILES	64	/* file-nr is a per-CPU approximation */
#define SETTLE_MS	10000

static void expect_no_leak(struct __test_metadata *_metadata,
			   const struct vmt_sys_sample *base, const char *what)
{
	struct vmt_sys_sample now;

	vmt_sys_sample(&now, base, SETTLE_MS);
	fflush(stdout);
	EXPECT_EQ(0, vmt_sys_diff(base, &now, LEAK_MEM_KB, LEAK_FILES, what,
				  stderr));
}

/* A full small plug/unplug cycle on a new device: it still works. */
static void device_works(struct __test_metadata *_metadata)
{
	struct vmt_rq_env *e = calloc(1, sizeof(*e));

	ASSERT_NE(NULL, e);
	vmt_rq_env_init(e, VMT_BACKING_ANON, 32ULL << 20, ~0ULL);
	vmt_rq_env_start(e, 32ULL << 20);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_PLUG, 0, 4);
	vmt_rq_check_all(e);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG, 1, 2);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0);
	vmt_rq_check_all(e);
	EXPECT_EQ(0, vmt_present_pages(e->backing.hva, e->backing.size));
	vmt_rq_env_free(e);
	free(e);
}

/* The tests that need no set-up of their own. */
FIXTURE(life) {
	int unused;
};

FIXTURE_SETUP(life)
{
}

FIXTURE_TEARDOWN(life)
{
}

/*
 * What the system holds before a test: after one device and VM came and
 * went, so that what the first of them allocates for good (KVM's caches,
 * the module's) is not taken for a leak.
 */
static void sample_base(struct __test_metadata *_metadata,
			struct vmt_sys_sample *base)
{
	device_works(_metadata);
	vmt_sys_sample(base, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Owner threads race every ioctl against a request flood             */
/* ------------------------------------------------------------------ */

#define RACE_SIZE	(128ULL << 20)		/* 64 blocks */
#define RACE_BLOCKS	(RACE_SIZE / BLK)
#define RACE_CHUNK	(32ULL << 20)		/* 4 memslots */
#define RACE_THREADS	4
#define RACE_MS		3000
#define FLOOD_BATCH	8
#define STATE_ROOM	4096

struct race {
	struct vmt_rq_env *e;
	pthread_mutex_t ring_lock;	/* SET_RUNNING 0 ... 1 */
	int stop;			/* __atomic */
	int reset;			/* __atomic: VHOST_RESET_OWNER issued */
	int efd;
	u64 ops;			/* __atomic */
	u64 answers[VHOST_MEM_NR_RESP_TYPES];	/* flood, __atomic */
};

struct racer {
	struct race *r;
	unsigned int seed;
	u8 state[STATE_ROOM];
	u64 state_len;			/* 0: none saved yet */
	pthread_t thread;
};

/*
 * cond: what the ioctl must give.  After a reset of the owner anything may
 * fail: false, the thread just ends.  Otherwise fails the test.
 */
static bool race_ok(struct racer *rc, bool cond, const char *what, int ret)
{
	if (cond)
		return true;
	if (__atomic_load_n(&rc->r->reset, __ATOMIC_ACQUIRE))
		return false;
	TEST_FAIL("%s under the race: got %s", what,
		  vmt_errstr(ret));
}

static int raw_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static bool race_status(struct racer *rc)
{
	struct vmt_rq_env *e = rc->r->e;
	struct vhost_mem_status st;
	int ret = __vmt_mem_get_status(e->dev.fd, &st);

	if (!race_ok(rc, !ret, "GET_STATUS", ret))
		return false;
	if (__atomic_load_n(&rc->r->reset, __ATOMIC_ACQUIRE))
		return false;
	TEST_ASSERT(st.block_size == BLK && st.region_size == RACE_SIZE &&
		    st.plugged_size <= RACE_SIZE &&
		    !(st.plugged_size % BLK) &&
		    st.usable_region_size <= RACE_SIZE &&
		    st.memslots <= st.memslots_max,
		    "GET_STATUS under the race: block 0x%llx, plugged 0x%llx, usable 0x%llx, memslots %u of %u",
		    (unsigned long long)st.block_size,
		    (unsigned long long)st.plugged_size,
		    (unsigned long long)st.usable_region_size, st.memslots,
		    st.memslots_max);
	return true;
}

/* Stopped: the vring's base and size again, or a saved state loaded. */
static bool race_stopped(struct racer *rc, int fd)
{
	struct vmt_vq *vq = &rc->r->e->vq;
	unsigned int base;
	int ret;

	switch (rand_r(&rc->seed) % 3) {
	case 0:
		ret = __vmt_vhost_get_vring_base(fd, VHOST_MEM_REQUESTQ, &base);
		if (!race_ok(rc, !ret, "GET_VRING_BASE", ret))
			return false;
		ret = __vmt_vhost_set_vring_base(fd, VHOST_MEM_REQUESTQ, base);
		if (!race_ok(rc, !ret, "SET_VRING_BASE (stopped)", ret))
			return false;
		break;
	case 1:
		ret = __vmt_vhost_set_vring_num(fd, VHOST_MEM_REQUESTQ, vq->num);
		if (!race_ok(rc, !ret, "SET_VRING_NUM (stopped)", ret))
			return false;
		break;
	default:
		if (!rc->state_len)
			break;
		ret = __vmt_vmm_set_state(fd, rc->state, rc->state_len);
		/* accepted only with nothing plugged */
		if (!race_ok(rc, !ret || ret == -EBUSY, "SET_STATE (stopped)",
			    ret))
			return false;
	}
	return true;
}

static bool race_stop_start(struct racer *rc, int fd)
{
	bool ok;
	int ret;

	pthread_mutex_lock(&rc->r->ring_lock);
	ret = __vmt_mem_set_running(fd, 0);
	ok = !ret && race_stopped(rc, fd);
	if (ok)
		ret = __vmt_mem_set_running(fd, 1);
	pthread_mutex_unlock(&rc->r->ring_lock);
	return race_ok(rc, ok && !ret, "SET_RUNNING 0, vring ioctls, 1", ret);
}

/* The vring as it is set up, again: harmless while running. */
static bool race_vring_again(struct racer *rc, int fd)
{
	struct vmt_vq *vq = &rc->r->e->vq;
	struct vhost_vring_addr addr = {
		.index = VHOST_MEM_REQUESTQ,
		.desc_user_addr = (u64)(uintptr_t)vq->desc,
		.avail_user_addr = (u64)(uintptr_t)vq->avail,
		.used_user_addr = (u64)(uintptr_t)vq->used,
	};
	int ret;

	ret = __vmt_vhost_set_vring_addr(fd, &addr);
	if (!race_ok(rc, !ret, "SET_VRING_ADDR", ret))
		return false;
	ret = __vmt_vhost_set_vring_kick(fd, VHOST_MEM_REQUESTQ, vq->kick_fd);
	if (!race_ok(rc, !ret, "SET_VRING_KICK", ret))
		return false;
	ret = __vmt_vhost_set_vring_call(fd, VHOST_MEM_REQUESTQ, vq->call_fd);
	if (!race_ok(rc, !ret, "SET_VRING_CALL", ret))
		return false;
	ret = __vmt_vhost_set_vring_err(fd, VHOST_MEM_REQUESTQ, vq->err_fd);
	if (!race_ok(rc, !ret, "SET_VRING_ERR", ret))
		return false;
	/* a running ring keeps its size and base */
	ret = __vmt_vhost_set_vring_num(fd, VHOST_MEM_REQUESTQ, vq->num);
	return race_ok(rc, !ret || ret == -EBUSY, "SET_VRING_NUM", ret);
}

/*
 * One random ioctl; false once the owner was reset.  What empties the
 * device (a system reset, a small requested size) is rare, so that there
 * is mostly something plugged for the others to race with.
 */
static bool race_one(struct racer *rc)
{
	struct vmt_rq_env *e = rc->r->e;
	unsigned int op = rand_r(&rc->seed) % 64;
	int fd = e->dev.fd, ret, efd;
	u64 features, len, size;

	if (!op) {
		ret = __vmt_vmm_system_reset(fd);
		return race_ok(rc, !ret, "VHOST_MEM_RESET", ret);
	}
	if (op < 4)
		return race_stop_start(rc, fd);
	switch (op % 9) {
	case 0:
		return race_status(rc);
	case 1:
		size = rand_r(&rc->seed) % 4 ? RACE_SIZE :
		       rand_r(&rc->seed) % (RACE_BLOCKS + 1) * BLK;
		ret = __vmt_mem_set_requested_size(fd, size);
		return race_ok(rc, !ret, "SET_REQUESTED_SIZE", ret);
	case 2:
		ret = __vmt_vmm_set_paused(fd, 1) ?:
		      __vmt_vmm_set_paused(fd, 0);
		return race_ok(rc, !ret, "SET_PAUSED 1, 0", ret);
	case 3:
		len = sizeof(rc->state);
		ret = __vmt_vmm_get_state(fd, rc->state, &len);
		rc->state_len = len;
		return race_ok(rc, !ret, "GET_STATE", ret);
	case 4:
		efd = rand_r(&rc->seed) % 2 ? rc->r->efd : -1;
		ret = __vmt_mem_set_config_call(fd, efd);
		return race_ok(rc, !ret, "SET_CONFIG_CALL", ret);
	case 5:
		ret = __vmt_vhost_get_features(fd, &features) ?:
		      __vmt_vhost_set_features(fd, e->dev.features);
		return race_ok(rc, !ret, "GET_FEATURES, SET_FEATURES", ret);
	case 6:
		ret = __vmt_vhost_set_mem_table_vm(fd, e->vm);
		return race_ok(rc, !ret, "SET_MEM_TABLE", ret);
	case 7:
		return race_vring_again(rc, fd);
	default:
		ret = __vmt_vhost_set_owner(fd);
		return race_ok(rc, ret == -EBUSY, "a second SET_OWNER", ret);
	}
}

static void *racer_thread(void *arg)
{
	struct racer *rc = arg;

	while (!__atomic_load_n(&rc->r->stop, __ATOMIC_ACQUIRE)) {
		if (!race_one(rc))
			break;
		__atomic_add_fetch(&rc->r->ops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* A valid answer, whatever the order of things was. */
static void flood_check(struct race *r, const struct vmt_mem_req *q)
{
	u16 resp = q->resp_type;
	bool ok;

	switch (q->type) {
	case VIRTIO_MEM_REQ_STATE:
		ok = resp == VIRTIO_MEM_RESP_ERROR ||
		     (resp == VIRTIO_MEM_RESP_ACK &&
		      q->state <= VIRTIO_MEM_STATE_MIXED);
		break;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		ok = resp == VIRTIO_MEM_RESP_ACK || resp == VIRTIO_MEM_RESP_BUSY;
		break;
	case VIRTIO_MEM_REQ_UNPLUG:
		ok = resp != VIRTIO_MEM_RESP_NACK &&
		     resp < VHOST_MEM_NR_RESP_TYPES;
		break;
	default:
		ok = resp < VHOST_MEM_NR_RESP_TYPES;
	}
	TEST_ASSERT(ok && q->used_len == sizeof(struct virtio_mem_resp),
		    "%s 0x%llx x %u under the race: answered %s (state %u, used length %u)",
		    vmt_mem_req_name(q->type), (unsigned long long)q->addr,
		    q->nb_blocks, vmt_mem_resp_name(resp), q->state, q->used_len);
	__atomic_add_fetch(&r->answers[resp], 1, __ATOMIC_RELAXED);
}

static void *flood_thread(void *arg)
{
	static const u16 types[] = {
		VIRTIO_MEM_REQ_PLUG, VIRTIO_MEM_REQ_PLUG, VIRTIO_MEM_REQ_PLUG,
		VIRTIO_MEM_REQ_PLUG, VIRTIO_MEM_REQ_UNPLUG,
		VIRTIO_MEM_REQ_UNPLUG, VIRTIO_MEM_REQ_STATE,
		VIRTIO_MEM_REQ_STATE, VIRTIO_MEM_REQ_UNPLUG_ALL,
	};
	struct race *r = arg;
	struct vmt_mem_req reqs[FLOOD_BATCH];
	unsigned int seed = 7, i, got;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < FLOOD_BATCH; i++) {
			u16 type = types[rand_r(&seed) % VMT_ARRAY_SIZE(types)];

			/* a few past the region: ERROR */
			reqs[i] = (struct vmt_mem_req){
				.type = type,
				.addr = vmt_rq_gpa(r->e, rand_r(&seed) %
						   (RACE_BLOCKS + 2)),
				.nb_blocks = 1 + rand_r(&seed) % 4,
			};
		}
		got = vmt_mem_batch(&r->e->vq, reqs, FLOOD_BATCH,
				    vmt_timeout_ms());
		if (__atomic_load_n(&r->reset, __ATOMIC_ACQUIRE))
			break;
		TEST_ASSERT(got == FLOOD_BATCH,
			    "only %u of %u requests answered under the race",
			    got, FLOOD_BATCH);
		for (i = 0; i < got; i++)
			flood_check(r, &reqs[i]);
	}
	return NULL;
}

struct race_fx {
	struct vmt_rq_env e;
	struct race r;
	struct racer racers[RACE_THREADS];
	pthread_t flood;
};

FIXTURE(race) {
	struct race_fx f;
};

static void race_fx_init(struct __test_metadata *_metadata, struct race_fx *f)
{
	struct vmt_rq_env *e = &f->e;
	unsigned int i;

	vmt_rq_env_init_aligned(e, RACE_SIZE, ~0ULL);
	e->region.chunk_size = RACE_CHUNK;
	vmt_rq_env_start(e, RACE_SIZE);
	f->r.e = e;
	f->r.efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, f->r.efd);
	pthread_mutex_init(&f->r.ring_lock, NULL);
	for (i = 0; i < RACE_THREADS; i++) {
		f->racers[i].r = &f->r;
		f->racers[i].seed = 1000 + i;
	}
}

static void race_fx_free(struct race_fx *f)
{
	vmt_rq_env_free(&f->e);
	close(f->r.efd);
}

FIXTURE_SETUP(race)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	race_fx_init(_metadata, &self->f);
}

FIXTURE_TEARDOWN(race)
{
	race_fx_free(&self->f);
}

static void race_start(struct __test_metadata *_metadata,
		       struct race_fx *f)
{
	unsigned int i;

	for (i = 0; i < RACE_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&f->racers[i].thread, NULL,
					    racer_thread, &f->racers[i]));
	ASSERT_EQ(0, pthread_create(&f->flood, NULL, flood_thread,
				    &f->r));
}

/* The vCPU reads anywhere in the region meanwhile: RAM or MMIO. */
static void race_guest(struct __test_metadata *_metadata,
		       struct race_fx *f, unsigned int ms)
{
	u64 deadline = vmt_now_ns() + ms * 1000000ULL, val, reads = 0;
	unsigned int seed = 3;
	int r;

	f->e.vm->racing = true;

	while (vmt_now_ns() < deadline) {
		r = vmt_guest_read_u64(f->e.vm,
				       vmt_rq_gpa(&f->e, rand_r(&seed) %
						  RACE_BLOCKS), &val);
		ASSERT_TRUE(r == VMT_ACCESS_OK || r == VMT_ACCESS_MMIO)
			TH_LOG("a guest read under the race: %s",
			       vmt_access_name(r));
		reads++;
	}
	f->e.vm->racing = false;
	TH_LOG("%llu guest reads", (unsigned long long)reads);
}

static void race_join(struct __test_metadata *_metadata,
		      struct race_fx *f)
{
	struct race *r = &f->r;
	unsigned int i;

	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < RACE_THREADS; i++)
		ASSERT_EQ(0, pthread_join(f->racers[i].thread, NULL));
	ASSERT_EQ(0, pthread_join(f->flood, NULL));
	TH_LOG("%llu ioctls; answers: %llu ACK, %llu NACK, %llu BUSY, %llu ERROR",
	       (unsigned long long)r->ops,
	       (unsigned long long)r->answers[VIRTIO_MEM_RESP_ACK],
	       (unsigned long long)r->answers[VIRTIO_MEM_RESP_NACK],
	       (unsigned long long)r->answers[VIRTIO_MEM_RESP_BUSY],
	       (unsigned long long)r->answers[VIRTIO_MEM_RESP_ERROR]);
}

/* From the state the race left, requests the model predicts. */
static void race_after(struct __test_metadata *_metadata,
		       struct vmt_rq_env *e)
{
	ASSERT_EQ(0, __vmt_vmm_set_paused(e->dev.fd, 0));
	vmt_rq_resize(e, RACE_SIZE);
	vmt_rq_env_resync(e);
	vmt_rq_check_all(e);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_PLUG, 0, 3);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_PLUG, 40, 2);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ERROR, VIRTIO_MEM_REQ_PLUG, 1, 1);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG, 1, 1);
	vmt_rq_check_all(e);
}

TEST_F_TIMEOUT(race, ioctls_against_requests, 180)
{
	race_start(_metadata, &self->f);
	race_guest(_metadata, &self->f, RACE_MS);
	race_join(_metadata, &self->f);
	EXPECT_LT(100, self->f.r.ops);
	EXPECT_LT(0, self->f.r.answers[VIRTIO_MEM_RESP_ACK]);
	race_after(_metadata, &self->f.e);
}

TEST_F_TIMEOUT(race, reset_owner_under_requests, 180)
{
	struct vmt_rq_env *e = &self->f.e;
	int ret;

	race_start(_metadata, &self->f);
	race_guest(_metadata, &self->f, RACE_MS / 3);
	__atomic_store_n(&self->f.r.reset, 1, __ATOMIC_RELEASE);
	ret = __vmt_vhost_reset_owner(e->dev.fd);
	ASSERT_EQ(0, ret) TH_LOG("VHOST_RESET_OWNER under the race: %s",
				 vmt_errname(-ret));
	race_join(_metadata, &self->f);
	EXPECT_LT(0, self->f.r.answers[VIRTIO_MEM_RESP_ACK])
		TH_LOG("no request was acknowledged before the reset");

	/* as just opened: no memslot left in the VM */
	vmt_model_free(&e->model);
	vmt_model_init(&e->model, VMT_RQ_GPA, RACE_SIZE, BLK, RACE_CHUNK);
	e->started = true;
	vmt_rq_check_guest(e);
	vmt_model_free(&e->model);
	e->started = false;
	/*
	 * A racer's SET_OWNER after the reset may have taken the device for
	 * this process (and set its ring up): reset that too.
	 */
	ret = __vmt_vhost_reset_owner(e->dev.fd);
	ASSERT_TRUE(!ret || ret == -EPERM)
		TH_LOG("VHOST_RESET_OWNER after the race: %s",
		       vmt_errname(-ret));
	/* and set up again from the start */
	vmt_vq_detach(&e->vq);
	vmt_dev_ready(&e->dev, e->want_features);
	vmt_rq_env_start(e, RACE_SIZE);
	race_after(_metadata, e);
}

/* ------------------------------------------------------------------ */
/* The page of the module's memslot ioctl attacked under a flood      */
/* ------------------------------------------------------------------ */

#define SCRATCH_MAX_HITS	200	/* each PROT_NONE page stays a VMA */
#define SCAN_MAX_VMA		(64ULL << 20)

enum scratch_attack { SCRATCH_UNMAP, SCRATCH_PROT_NONE, SCRATCH_REWRITE };

struct scratch_attacker {
	struct race *r;
	enum scratch_attack how;
	u64 hits;
};

/* The struct KVM_SET_USER_MEMORY_REGION reads, as the module writes it. */
static bool is_scratch(const struct vmt_rq_env *e,
		       const struct kvm_userspace_memory_region *m)
{
	return m->slot >= SLOT_BASE &&
	       m->slot < SLOT_BASE + e->region.slot_count && !m->flags &&
	       (!m->memory_size ||
		(m->guest_phys_addr >= VMT_RQ_GPA &&
		 m->guest_phys_addr < VMT_RQ_GPA + RACE_SIZE));
}

/* The module's page in our mm: a private anonymous page holding it. */
static void *find_scratch(const struct vmt_rq_env *e)
{
	unsigned long start, end, ino, backing = (unsigned long)e->backing.hva;
	char line[512], perms[8];
	void *found = NULL;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s %*x %*s %lu", &start, &end, perms,
			   &ino) != 4 || strcmp(perms, "rw-p") || ino ||
		    end - start > SCAN_MAX_VMA ||
		    (start < backing + e->backing.size && backing < end))
			continue;
		for (; start < end && !found; start += 4096)
			if (is_scratch(e, (void *)start))
				found = (void *)start;
	}
	fclose(f);
	return found;
}

static void *scratch_attack_thread(void *arg)
{
	struct scratch_attacker *a = arg;
	struct kvm_userspace_memory_region *m = NULL;

	while (!__atomic_load_n(&a->r->stop, __ATOMIC_ACQUIRE) &&
	       a->hits < SCRATCH_MAX_HITS) {
		if (!m || a->how != SCRATCH_REWRITE)
			m = find_scratch(a->r->e);
		if (!m) {
			usleep(1000);
			continue;
		}
		a->hits++;
		if (a->how == SCRATCH_UNMAP)
			munmap(m, 4096);
		else if (a->how == SCRATCH_PROT_NONE)
			mprotect(m, 4096, PROT_NONE);
		else	/* flags KVM refuses, between our copy and KVM's */
			__atomic_store_n(&m->flags, ~0u, __ATOMIC_RELAXED);
	}
	return NULL;
}

FIXTURE(scratch) {
	struct race_fx f;
};

FIXTURE_VARIANT(scratch) {
	enum scratch_attack how;
};

FIXTURE_VARIANT_ADD(scratch, unmap) {
	.how = SCRATCH_UNMAP,
};

FIXTURE_VARIANT_ADD(scratch, prot_none) {
	.how = SCRATCH_PROT_NONE,
};

FIXTURE_VARIANT_ADD(scratch, rewrite) {
	.how = SCRATCH_REWRITE,
};

FIXTURE_SETUP(scratch)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	race_fx_init(_metadata, &self->f);
}

FIXTURE_TEARDOWN(scratch)
{
	race_fx_free(&self->f);
}

/*
 * The module writes KVM's memslot struct to a page of ours: unmapped,
 * made PROT_NONE or rewritten from another thread while the guest floods
 * the device, it costs the guest BUSY answers at most; the device and
 * KVM's memslots then agree with the model, and close deletes them all.
 */
TEST_F_TIMEOUT(scratch, page_attacked_under_requests, 180)
{
	struct scratch_attacker a = { .r = &self->f.r, .how = variant->how };
	struct vmt_rq_env *e = &self->f.e;
	pthread_t attacker;
	u64 block;

	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_PLUG, 0, 1);
	ASSERT_NE(NULL, find_scratch(e))
		TH_LOG("no page of the module holds KVM's memslot struct");
	ASSERT_EQ(0, pthread_create(&attacker, NULL, scratch_attack_thread, &a));
	ASSERT_EQ(0, pthread_create(&self->f.flood, NULL, flood_thread,
				    &self->f.r));
	race_guest(_metadata, &self->f, RACE_MS);
	__atomic_store_n(&self->f.r.stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(self->f.flood, NULL));
	ASSERT_EQ(0, pthread_join(attacker, NULL));
	TH_LOG("%llu attacks; answers: %llu ACK, %llu NACK, %llu BUSY, %llu ERROR",
	       (unsigned long long)a.hits,
	       (unsigned long long)self->f.r.answers[VIRTIO_MEM_RESP_ACK],
	       (unsigned long long)self->f.r.answers[VIRTIO_MEM_RESP_NACK],
	       (unsigned long long)self->f.r.answers[VIRTIO_MEM_RESP_BUSY],
	       (unsigned long long)self->f.r.answers[VIRTIO_MEM_RESP_ERROR]);
	EXPECT_LT(0, a.hits);
	EXPECT_LT(0, self->f.r.answers[VIRTIO_MEM_RESP_ACK]);

	/* a restart resyncs what failed; then the model holds exactly */
	vmt_rq_set_running(e, false);
	ASSERT_EQ(0, __vmt_vq_attach(&e->vq, e->dev.fd, VHOST_MEM_REQUESTQ,
				     e->dev.features));
	vmt_rq_set_running(e, true);
	race_after(_metadata, e);

	/* the last close, from the VMM: every memslot goes */
	vmt_rq_env_close(e);
	for (block = 0; block < RACE_BLOCKS; block += RACE_CHUNK / BLK) {
		u64 val;
		int r = vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, block), &val);

		EXPECT_EQ(VMT_ACCESS_MMIO, r)
			TH_LOG("block %llu after the close: %s",
			       (unsigned long long)block, vmt_access_name(r));
	}
	EXPECT_EQ(e->klog_problems, __vmt_klog_problems(true));
}

/* ------------------------------------------------------------------ */
/* The VMM killed                                                     */
/* ------------------------------------------------------------------ */

#define KILL_ROUNDS	3
#define FLIGHT_SIZE	(64ULL << 20)
#define FLIGHT_BLOCKS	(FLIGHT_SIZE / BLK)
#define PREALLOC_SIZE	(1ULL << 30)
#define PREALLOC_BLOCKS	(PREALLOC_SIZE / BLK)
#define HOLD_SIZE	(32ULL << 20)
#define HOLD_BLOCKS	(HOLD_SIZE / BLK)

/* What the parent learns of the child (shared memory). */
struct kill_shared {
	int done;		/* __atomic: the long operation ended */
};

static void ready(int fd)
{
	TEST_ASSERT(write(fd, "r", 1) == 1, "write to the parent");
}

/* In a child: blocks [first, first + nb) plugged, as the model says. */
static void plug(struct vmt_rq_env *e, u64 first, u16 nb)
{
	u16 resp = vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, vmt_rq_gpa(e, first),
			       nb, NULL);

	TEST_ASSERT(resp == VIRTIO_MEM_RESP_ACK, "PLUG of %u blocks: %s", nb,
		    vmt_mem_resp_name(resp));
}

static void __noreturn hang(void)
{
	for (;;)
		pause();
}

/* Requests in flight all the time, on a memfd the child filled. */
static void child_in_flight(int fd, void *arg)
{
	struct vmt_rq_env *e = calloc(1, sizeof(*e));
	struct vmt_mem_req reqs[32];
	unsigned int seed = getpid(), i, round;

	(void)arg;
	TEST_ASSERT(e, "out of memory");
	vmt_rq_env_init(e, VMT_BACKING_MEMFD, FLIGHT_SIZE, ~0ULL);
	vmt_rq_env_start(e, FLIGHT_SIZE);
	memset(e->backing.hva, 0x5a, FLIGHT_SIZE);
	for (round = 0;; round++) {
		for (i = 0; i < VMT_ARRAY_SIZE(reqs); i++)
			reqs[i] = (struct vmt_mem_req){
				.type = rand_r(&seed) % 2 ? VIRTIO_MEM_REQ_PLUG :
					VIRTIO_MEM_REQ_UNPLUG,
				.addr = vmt_rq_gpa(e, rand_r(&seed) %
						   FLIGHT_BLOCKS),
				.nb_blocks = 1 + rand_r(&seed) % 3,
			};
		vmt_mem_batch(&e->vq, reqs, VMT_ARRAY_SIZE(reqs),
			      vmt_timeout_ms());
		if (!round)
			ready(fd);
	}
}

/* A prealloc region of 1 GiB: a PLUG of all of it, or a SET_STATE. */
static struct vmt_rq_env *prealloc_env(bool plug)
{
	struct vmt_rq_env *e = calloc(1, sizeof(*e));

	TEST_ASSERT(e, "out of memory");
	vmt_rq_env_init_aligned(e, PREALLOC_SIZE, ~0ULL);
	if (plug)
		e->region.flags |= VHOST_MEM_REGION_F_PREALLOC;
	vmt_rq_env_start(e, PREALLOC_SIZE);
	return e;
}

static void child_prealloc_plug(int fd, void *arg)
{
	struct kill_shared *sh = arg;
	struct vmt_rq_env *e = prealloc_env(true);

	ready(fd);
	__vmt_mem_plug(&e->vq, vmt_rq_gpa(e, 0), PREALLOC_BLOCKS);
	__atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
	hang();
}

static void child_prealloc_set_state(int fd, void *arg)
{
	struct kill_shared *sh = arg;
	struct vmt_rq_env *e = prealloc_env(false);
	u64 len;
	u8 *blob;
	int r;

	/* the state of everything plugged, without memory yet */
	plug(e, 0, PREALLOC_BLOCKS);
	blob = vmt_vmm_save(e->dev.fd, &len);
	vmt_rq_env_close(e);
	e->region.flags |= VHOST_MEM_REGION_F_PREALLOC;
	vmt_dev_open_ready(&e->dev, e->vm, &e->vq, ~0ULL);
	TEST_ASSERT(!__vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd), "SET_VM");
	TEST_ASSERT(!__vmt_mem_set_region(e->dev.fd, &e->region), "SET_REGION");
	ready(fd);
	r = __vmt_vmm_set_state(e->dev.fd, blob, len);
	__atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
	TEST_ASSERT(!r, "SET_STATE with prealloc: %s", vmt_errname(-r));
	hang();
}

static void *hold_vcpu_thread(void *arg)
{
	struct vmt_rq_env *e = arg;
	struct vmt_vcpu vcpu;
	struct vmt_scan scan = { 0 };

	vmt_vcpu_first(e->vm, &vcpu);
	for (;;)
		vmt_vcpu_scan(&vcpu, vmt_rq_gpa(e, 7), vmt_rq_gpa(e, 9), 0,
			      100000, &scan);
	return NULL;
}

/* Hard protection: block 8 split off its run and merged, vCPU held. */
static void child_vcpu_hold(int fd, void *arg)
{
	struct vmt_rq_env *e = calloc(1, sizeof(*e));
	unsigned int round;
	pthread_t thread;

	(void)arg;
	TEST_ASSERT(e, "out of memory");
	vmt_rq_env_init_aligned(e, HOLD_SIZE, ~0ULL);
	e->region.flags |= VHOST_MEM_REGION_F_HARD_PROTECT;
	vmt_rq_env_start(e, HOLD_SIZE);
	plug(e, 0, HOLD_BLOCKS);
	vmt_guest_map_gpa(e->vm, vmt_rq_gpa(e, 0));
	TEST_ASSERT(!pthread_create(&thread, NULL, hold_vcpu_thread, e),
		    "pthread_create");
	for (round = 0;; round++) {
		TEST_ASSERT(__vmt_mem_unplug(&e->vq, vmt_rq_gpa(e, 8), 1) ==
			    VIRTIO_MEM_RESP_ACK, "UNPLUG of block 8");
		TEST_ASSERT(__vmt_mem_plug(&e->vq, vmt_rq_gpa(e, 8), 1) ==
			    VIRTIO_MEM_RESP_ACK, "PLUG of block 8");
		if (round == 2)
			ready(fd);
	}
}

FIXTURE(kill) {
	struct vmt_sys_sample base;
	int klog;
	struct kill_shared *sh;
};

FIXTURE_VARIANT(kill) {
	void (*child)(int fd, void *arg);
	bool long_op;		/* kill once memory grows, before it ends */
	unsigned int delay_ms;	/* after ready, times the round */
};

FIXTURE_VARIANT_ADD(kill, requests_in_flight) {
	.child = child_in_flight,
	.delay_ms = 20,
};

FIXTURE_VARIANT_ADD(kill, prealloc_plug) {
	.child = child_prealloc_plug,
	.long_op = true,
};

FIXTURE_VARIANT_ADD(kill, prealloc_set_state) {
	.child = child_prealloc_set_state,
	.long_op = true,
};

FIXTURE_VARIANT_ADD(kill, vcpu_hold) {
	.child = child_vcpu_hold,
	.delay_ms = 7,
};

FIXTURE_SETUP(kill)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	self->klog = __vmt_klog_problems(false);
	sample_base(_metadata, &self->base);
}

FIXTURE_TEARDOWN(kill)
{
	munmap(self->sh, sizeof(*self->sh));
}

/* Until the child's preallocation took 64 MiB (or ended). */
static bool wait_prealloc(struct kill_shared *sh, long long avail_kb)
{
	u64 deadline = vmt_now_ns() + 60000000000ULL;

	while (vmt_now_ns() < deadline &&
	       !__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE)) {
		if (avail_kb - vmt_meminfo_kb("MemAvailable") > 64 * 1024)
			return true;
		usleep(2000);
	}
	return false;
}

TEST_F_TIMEOUT(kill, sigkill_vmm, 300)
{
	unsigned int round, during = 0;
	long long avail;
	pid_t pid;

	for (round = 0; round < KILL_ROUNDS; round++) {
		__atomic_store_n(&self->sh->done, 0, __ATOMIC_RELEASE);
		avail = vmt_meminfo_kb("MemAvailable");
		pid = vmt_fork_ready(variant->child, self->sh, 60000);
		if (variant->long_op)
			during += wait_prealloc(self->sh, avail) &&
				  !__atomic_load_n(&self->sh->done,
						   __ATOMIC_ACQUIRE);
		else
			usleep(round * variant->delay_ms * 1000);
		vmt_kill_wait(pid);
		expect_no_leak(_metadata, &self->base, "after the SIGKILL");
	}
	if (variant->long_op)
		EXPECT_LT(0, during)
			TH_LOG("the preallocation never was under way at the SIGKILL");
	if (variant->long_op)
		TH_LOG("%u of %u kills during the long operation", during,
		       KILL_ROUNDS);
	device_works(_metadata);
	EXPECT_EQ(self->klog, __vmt_klog_problems(true))
		TH_LOG("the kernel complained while the VMMs died");
}

/* ------------------------------------------------------------------ */
/* The device fd in another process                                   */
/* ------------------------------------------------------------------ */

#define SCM_SIZE	(64ULL << 20)
#define SCM_PLUGGED	16		/* blocks, 32 MiB of shmem */

/* The owner: a device on a memfd, its fd sent; then commands. */
static void __noreturn scm_owner(int sock)
{
	struct vmt_rq_env *e = calloc(1, sizeof(*e));
	char cmd;

	TEST_ASSERT(e, "out of memory");
	vmt_rq_env_init(e, VMT_BACKING_MEMFD, SCM_SIZE, ~0ULL);
	vmt_rq_env_start(e, SCM_SIZE);
	plug(e, 0, SCM_PLUGGED);
	memset(e->backing.hva, 0x6b, SCM_PLUGGED * BLK);
	TEST_ASSERT(!__vmt_send_fd(sock, e->dev.fd), "sending the device fd");
	while (read(sock, &cmd, 1) == 1) {
		if (cmd == 'x')
			_exit(0);	/* as a VMM that exits, device set up */
		/* nothing the other process did changed the device */
		vmt_rq_check_all(e);
		TEST_ASSERT(vmt_rq_send(e, VIRTIO_MEM_REQ_UNPLUG,
					vmt_rq_gpa(e, 0), 1, NULL) ==
			    VIRTIO_MEM_RESP_ACK, "UNPLUG by the owner");
		plug(e, 0, 1);
		vmt_rq_check_all(e);
		TEST_ASSERT(write(sock, "k", 1) == 1, "write to the parent");
	}
	_exit(1);
}

struct foreign_ioctl {
	const char *name;
	int expected;
	int got;
};

static struct foreign_ioctl foreign(const char *name, int expected, int got)
{
	return (struct foreign_ioctl){
		.name = name, .expected = expected, .got = got,
	};
}

/* Everything that drives the device, from a process that is not its owner. */
static unsigned int foreign_ioctls(int fd, struct foreign_ioctl *out)
{
	struct vhost_mem_region region = { .block_size = BLK };
	struct vhost_vring_addr addr = { .index = VHOST_MEM_REQUESTQ };
	struct vhost_mem_status st;
	u8 state[STATE_ROOM] = { 0 };
	u64 features = 0, len = sizeof(state), log = 0;
	int efd = eventfd(0, EFD_CLOEXEC), kvm, vm, log_fd = -1;
	unsigned int n = 0, base;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	out[n++] = foreign("VHOST_SET_OWNER", -EBUSY, __vmt_vhost_set_owner(fd));
	out[n++] = foreign("VHOST_RESET_OWNER", -EPERM,
			   __vmt_vhost_reset_owner(fd));
	out[n++] = foreign("VHOST_SET_FEATURES", -EPERM,
			   __vmt_vhost_set_features(fd, 0));
	out[n++] = foreign("VHOST_GET_BACKEND_FEATURES", -EPERM,
			   raw_ioctl(fd, VHOST_GET_BACKEND_FEATURES, &features));
	out[n++] = foreign("VHOST_SET_BACKEND_FEATURES", -EPERM,
			   raw_ioctl(fd, VHOST_SET_BACKEND_FEATURES, &features));
	out[n++] = foreign("VHOST_SET_MEM_TABLE", -EPERM,
			   __vmt_vhost_set_mem_table(fd, NULL, 0));
	out[n++] = foreign("VHOST_SET_LOG_BASE", -EPERM,
			   raw_ioctl(fd, VHOST_SET_LOG_BASE, &log));
	out[n++] = foreign("VHOST_SET_LOG_FD", -EPERM,
			   raw_ioctl(fd, VHOST_SET_LOG_FD, &log_fd));
	out[n++] = foreign("VHOST_SET_VRING_NUM", -EPERM,
			   __vmt_vhost_set_vring_num(fd, VHOST_MEM_REQUESTQ, 64));
	out[n++] = foreign("VHOST_SET_VRING_BASE", -EPERM,
			   __vmt_vhost_set_vring_base(fd, VHOST_MEM_REQUESTQ, 5));
	out[n++] = foreign("VHOST_GET_VRING_BASE", -EPERM,
			   __vmt_vhost_get_vring_base(fd, VHOST_MEM_REQUESTQ,
						      &base));
	out[n++] = foreign("VHOST_SET_VRING_ADDR", -EPERM,
			   __vmt_vhost_set_vring_addr(fd, &addr));
	out[n++] = foreign("VHOST_SET_VRING_KICK", -EPERM,
			   __vmt_vhost_set_vring_kick(fd, VHOST_MEM_REQUESTQ,
						      efd));
	out[n++] = foreign("VHOST_SET_VRING_CALL", -EPERM,
			   __vmt_vhost_set_vring_call(fd, VHOST_MEM_REQUESTQ,
						      efd));
	out[n++] = foreign("VHOST_SET_VRING_ERR", -EPERM,
			   __vmt_vhost_set_vring_err(fd, VHOST_MEM_REQUESTQ,
						     efd));
	out[n++] = foreign("VHOST_MEM_SET_VM", -EPERM, __vmt_mem_set_vm(fd, vm));
	out[n++] = foreign("VHOST_MEM_SET_REGION", -EPERM,
			   __vmt_mem_set_region(fd, &region));
	out[n++] = foreign("VHOST_MEM_SET_REQUESTED_SIZE", -EPERM,
			   __vmt_mem_set_requested_size(fd, BLK));
	out[n++] = foreign("VHOST_MEM_SET_RUNNING 0", -EPERM,
			   __vmt_mem_set_running(fd, 0));
	out[n++] = foreign("VHOST_MEM_SET_RUNNING 1", -EPERM,
			   __vmt_mem_set_running(fd, 1));
	out[n++] = foreign("VHOST_MEM_SET_PAUSED", -EPERM,
			   __vmt_vmm_set_paused(fd, 1));
	out[n++] = foreign("VHOST_MEM_GET_STATE", -EPERM,
			   __vmt_vmm_get_state(fd, state, &len));
	out[n++] = foreign("VHOST_MEM_SET_STATE", -EPERM,
			   __vmt_vmm_set_state(fd, state, 64));
	out[n++] = foreign("VHOST_MEM_RESET", -EPERM,
			   __vmt_vmm_system_reset(fd));
	out[n++] = foreign("VHOST_MEM_SET_CONFIG_CALL", -EPERM,
			   __vmt_mem_set_config_call(fd, efd));
	/* reading is allowed */
	out[n++] = foreign("VHOST_GET_FEATURES", 0,
			   __vmt_vhost_get_features(fd, &features));
	out[n++] = foreign("VHOST_MEM_GET_STATUS", 0,
			   __vmt_mem_get_status(fd, &st));
	close(vm);
	close(kvm);
	close(efd);
	return n;
}

static void expect_foreign_eperm(struct __test_metadata *_metadata, int fd,
				 const char *when)
{
	struct foreign_ioctl res[40] = { 0 };
	unsigned int i, n = foreign_ioctls(fd, res);

	for (i = 0; i < n; i++) {
		EXPECT_EQ(res[i].expected, res[i].got)
			TH_LOG("%s %s: expected %s, got %s", res[i].name, when,
			       res[i].expected ? vmt_errname(-res[i].expected) :
			       "success",
			       res[i].got ? vmt_errname(-res[i].got) : "success");
	}
}

static int status_of(int fd, struct vhost_mem_status *st)
{
	memset(st, 0, sizeof(*st));
	return __vmt_mem_get_status(fd, st);
}

TEST_F_TIMEOUT(life, fd_passed_to_another_process, 180)
{
	struct vhost_mem_status before, after;
	struct vmt_sys_sample base, now;
	int sock, fd, status, klog;
	char reply;
	pid_t pid;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	klog = __vmt_klog_problems(false);
	sample_base(_metadata, &base);
	pid = vmt_fork_socket(&sock);
	if (!pid)
		scm_owner(sock);
	fd = __vmt_recv_fd(sock);
	ASSERT_LE(0, fd) TH_LOG("receiving the device fd: %s",
				vmt_errname(-fd));

	ASSERT_EQ(0, status_of(fd, &before));
	expect_foreign_eperm(_metadata, fd, "from another process");
	ASSERT_EQ(0, status_of(fd, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)))
		TH_LOG("GET_STATUS changed under the other process's ioctls");
	EXPECT_EQ(SCM_PLUGGED * BLK, after.plugged_size);

	/* the owner keeps working */
	ASSERT_EQ(1, write(sock, "w", 1));
	ASSERT_EQ(1, read(sock, &reply, 1))
		TH_LOG("the owner failed to use its device (above)");

	/* the owner exits; the device lives on in our fd */
	ASSERT_EQ(1, write(sock, "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the owner ended with status 0x%x", status);
	close(sock);
	ASSERT_EQ(0, status_of(fd, &after));
	EXPECT_EQ(SCM_PLUGGED * BLK, after.plugged_size);
	EXPECT_TRUE(after.flags & VHOST_MEM_STATUS_F_VM);
	expect_foreign_eperm(_metadata, fd, "after the owner exited");
	vmt_sys_sample(&now, NULL, 0);
	TH_LOG("the owner gone, its device open: %s refcnt %d (was %d), Shmem %lld kB (was %lld)",
	       vmt_kvm_module(), now.kvm_refcnt, base.kvm_refcnt, now.shmem_kb,
	       base.shmem_kb);
	EXPECT_LT(base.kvm_refcnt, now.kvm_refcnt)
		TH_LOG("the device's VM is gone while the device is open");
	EXPECT_EQ(base.refcnt + 1, now.refcnt);

	/* the last close tears it down: VM destroyed, backing freed */
	ASSERT_EQ(0, close(fd));
	expect_no_leak(_metadata, &base, "after the last close");
	EXPECT_EQ(klog, __vmt_klog_problems(true));
}

/* ------------------------------------------------------------------ */
/* The backing changed under plugged blocks                           */
/* ------------------------------------------------------------------ */

#define REMAP_SIZE	(32ULL << 20)	/* 16 blocks */
#define SEED_OLD	11
#define SEED_NEW	22
#define UNMAPPED_MSG	"changed since set-up: it is not mapped"

/* A pattern per block, from seed + block. */
static void fill_blocks(struct vmt_rq_env *e, u64 first, u64 n, u64 seed)
{
	u64 b;

	for (b = first; b < first + n; b++)
		vmt_fill_pattern(vmt_rq_hva(e, b), BLK, seed + b);
}

/* Bytes of blocks [first, first + n) the backing still holds. */
static u64 held(struct vmt_rq_env *e, u64 first, u64 n)
{
	if (e->backing.fd >= 0)
		return vmt_memfd_data_bytes(e->backing.fd, first * BLK, n * BLK);
	return vmt_present_pages(vmt_rq_hva(e, first), n * BLK) * 4096;
}

static bool blocks_hold(struct vmt_rq_env *e, u64 first, u64 n, u64 seed)
{
	u64 b;

	for (b = first; b < first + n; b++)
		if (vmt_check_pattern(vmt_rq_hva(e, b), BLK, seed + b) != BLK)
			return false;
	return true;
}

FIXTURE(remap) {
	struct vmt_rq_env e;
	int memfd;
};

VMT_BACKING_VARIANTS(remap);

/* Blocks 0-3 plugged and filled. */
FIXTURE_SETUP(remap)
{
	struct vmt_rq_env *e = &self->e;

	self->memfd = -1;
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(e, variant->type, 0, ~0ULL);
	if (variant->type == VMT_BACKING_ANON)
		vmt_rq_backing_anon_aligned(&e->backing, REMAP_SIZE, BLK);
	else
		vmt_backing_init(&e->backing, variant->type, REMAP_SIZE);
	vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, BLK,
			VMT_RQ_SLOT_BASE);
	vmt_rq_env_start(e, REMAP_SIZE);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_PLUG, 0, 4);
	fill_blocks(e, 0, 4, SEED_OLD);
}

FIXTURE_TEARDOWN(remap)
{
	if (self->memfd >= 0)
		close(self->memfd);
	vmt_rq_env_free(&self->e);
}

/* MAP_FIXED over blocks [first, first + n): anonymous, or the fd at off. */
static void *remap_blocks(struct vmt_rq_env *e, u64 first, u64 n, int fd,
			  u64 off)
{
	void *p = mmap(vmt_rq_hva(e, first), n * BLK, PROT_READ | PROT_WRITE,
		       MAP_FIXED | (fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS :
				    MAP_SHARED), fd, off);

	TEST_ASSERT(p == vmt_rq_hva(e, first), "mmap MAP_FIXED over blocks %llu-%llu",
		    (unsigned long long)first,
		    (unsigned long long)(first + n - 1));
	return p;
}

/* The guest reads what the backing holds at a block now. */
static void expect_guest_sees(struct __test_metadata *_metadata,
			      struct vmt_rq_env *e, u64 block)
{
	u64 val = 0;

	ASSERT_EQ(VMT_ACCESS_OK,
		  vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, block) + 8, &val));
	EXPECT_EQ(((u64 *)vmt_rq_hva(e, block))[1], val)
		TH_LOG("the guest reads another value than the mapping at block %llu",
		       (unsigned long long)block);
}

/* Back to a mapping set-up accepts: requests succeed again. */
static void remap_restored(struct __test_metadata *_metadata,
			   struct vmt_rq_env *e)
{
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0);
	vmt_rq_check_all(e);
	EXPECT_EQ(0, held(e, 0, REMAP_SIZE / BLK));
}

/*
 * Unmapped: BUSY for a private backing (nothing to discard, EFAULT), ACK
 * for a file, which is punched without its mapping.
 */
TEST_F(remap, unmapped)
{
	struct vmt_rq_env *e = &self->e;
	u64 val;

	int said = __vmt_klog_mark(), null = __vmt_klog_mark();

	ASSERT_EQ(0, munmap(vmt_rq_hva(e, 2), BLK));
	EXPECT_EQ(VMT_ACCESS_EFAULT,
		  vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, 2), &val));
	if (e->backing.fd < 0) {
		vmt_rq_send_busy(e, VIRTIO_MEM_REQ_UNPLUG, vmt_rq_gpa(e, 2), 1);
		vmt_rq_send_busy(e, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0);
		vmt_rq_send_busy(e, VIRTIO_MEM_REQ_UNPLUG, vmt_rq_gpa(e, 1), 2);
		/* each says what changed, also when the hole comes later */
		EXPECT_EQ(3, vmt_klog_count(said, UNMAPPED_MSG, false));
		EXPECT_EQ(0, vmt_klog_count(null, "(null)", true));
	} else {
		VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG, 2, 1);
		EXPECT_EQ(0, held(e, 2, 1))
			TH_LOG("the unmapped block of the file was not punched");
	}
	vmt_rq_check_status(e);
	/* the neighbours keep their data */
	EXPECT_TRUE(blocks_hold(e, 0, 2, SEED_OLD));
	EXPECT_TRUE(blocks_hold(e, 3, 1, SEED_OLD));
	expect_guest_sees(_metadata, e, 3);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG, 0, 1);
	EXPECT_TRUE(blocks_hold(e, 1, 1, SEED_OLD));

	remap_blocks(e, 2, 1, e->backing.fd, 2 * BLK);
	remap_restored(_metadata, e);
	close(said);
	close(null);
}

/*
 * Another mapping of the kind set-up accepted (anonymous over anonymous,
 * the file again at its offset): it is the backing now, ACK, and only the
 * unplugged block of it is discarded.
 */
TEST_F(remap, same_kind_over_backing)
{
	struct vmt_rq_env *e = &self->e;

	remap_blocks(e, 2, 2, e->backing.fd, 2 * BLK);
	fill_blocks(e, 2, 2, SEED_NEW);
	expect_guest_sees(_metadata, e, 3);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG, 2, 1);
	EXPECT_EQ(0, held(e, 2, 1))
		TH_LOG("the unplugged block of the new mapping was not discarded");
	EXPECT_TRUE(blocks_hold(e, 3, 1, SEED_NEW))
		TH_LOG("the new mapping's plugged block lost its data");
	EXPECT_TRUE(blocks_hold(e, 0, 2, SEED_OLD));
	vmt_rq_check_all(e);
	remap_restored(_metadata, e);
}

/*
 * A mapping of another kind (a shared memfd over private memory, private
 * memory over the backing file): BUSY, and its data stays.
 */
TEST_F(remap, other_kind_over_backing)
{
	struct vmt_rq_env *e = &self->e;
	bool anon = e->backing.fd < 0;

	if (anon) {
		self->memfd = memfd_create("vmt-remap", MFD_CLOEXEC);
		ASSERT_LE(0, self->memfd);
		ASSERT_EQ(0, ftruncate(self->memfd, 2 * BLK));
	}
	remap_blocks(e, 2, 2, self->memfd, 0);
	fill_blocks(e, 2, 2, SEED_NEW);
	expect_guest_sees(_metadata, e, 2);
	vmt_rq_send_busy(e, VIRTIO_MEM_REQ_UNPLUG, vmt_rq_gpa(e, 2), 1);
	vmt_rq_send_busy(e, VIRTIO_MEM_REQ_UNPLUG, vmt_rq_gpa(e, 1), 2);
	vmt_rq_send_busy(e, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0);
	/* nothing discarded: the new mapping's data, the old blocks' */
	EXPECT_TRUE(blocks_hold(e, 2, 2, SEED_NEW))
		TH_LOG("the new mapping lost its data");
	EXPECT_EQ(2 * BLK, anon ? vmt_memfd_data_bytes(self->memfd, 0, 2 * BLK) :
		  held(e, 2, 2))
		TH_LOG("memory of the new mapping or the file under it was discarded");
	EXPECT_TRUE(blocks_hold(e, 0, 2, SEED_OLD));
	vmt_rq_check_status(e);
	/* a block still mapped as set up is discarded as usual */
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG, 0, 1);

	remap_blocks(e, 2, 2, e->backing.fd, 2 * BLK);
	remap_restored(_metadata, e);
}

/* ------------------------------------------------------------------ */
/* The KVM VM closed before the device                                */
/* ------------------------------------------------------------------ */

#define VMFIRST_SIZE	(32ULL << 20)
#define VMFIRST_CHUNK	(8ULL << 20)	/* 4 memslots */

TEST_F_TIMEOUT(life, vm_closed_before_device, 120)
{
	struct vmt_rq_env *e = calloc(1, sizeof(*e));
	struct vmt_sys_sample base, now;

	ASSERT_NE(NULL, e);
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	sample_base(_metadata, &base);
	vmt_rq_env_init_aligned(e, VMFIRST_SIZE, ~0ULL);
	e->region.chunk_size = VMFIRST_CHUNK;
	vmt_rq_env_start(e, VMFIRST_SIZE);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_PLUG, 0, 4);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_PLUG, 8, 2);
	memset(vmt_rq_hva(e, 0), 0x3c, 6 * BLK);
	vmt_rq_check_all(e);

	vmt_vm_close_fds(e->vm);
	vmt_sys_sample(&now, NULL, 0);
	EXPECT_LT(base.kvm_refcnt, now.kvm_refcnt)
		TH_LOG("the VM went away under the device that holds it");

	/* requests still work on a VM only the device holds */
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG, 0, 2);
	EXPECT_EQ(0, vmt_present_pages(vmt_rq_hva(e, 0), 2 * BLK));
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_PLUG, 12, 3);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ERROR, VIRTIO_MEM_REQ_PLUG, 2, 1);
	vmt_rq_check_status(e);
	vmt_rq_check_states(e);
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0);
	EXPECT_EQ(0, vmt_present_pages(e->backing.hva, VMFIRST_SIZE));
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_PLUG, 0, 2);
	vmt_rq_check_status(e);
	ASSERT_EQ(0, __vmt_vmm_system_reset(e->dev.fd));
	vmt_model_request(&e->model, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL);
	e->model.requests[VIRTIO_MEM_REQ_UNPLUG_ALL][VIRTIO_MEM_RESP_ACK]--;
	VMT_RQ_EXPECT(e, VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_REQ_PLUG, 4, 2);
	vmt_rq_check_status(e);

	/* the close drops the last reference: the VM is destroyed */
	vmt_rq_env_close(e);
	vmt_sys_sample(&now, &base, SETTLE_MS);
	EXPECT_EQ(base.kvm_refcnt, now.kvm_refcnt)
		TH_LOG("the VM outlived the device's close");
	EXPECT_EQ(base.refcnt, now.refcnt);
	vmt_rq_env_free(e);
	free(e);
	expect_no_leak(_metadata, &base, "after the device and the VM");
}

/* ------------------------------------------------------------------ */
/* Many devices                                                       */
/* ------------------------------------------------------------------ */

#define MANY_DEVS	64
#define MANY_SIZE	(8ULL << 20)	/* 4 blocks each */
#define MANY_STRIDE	(16ULL << 20)	/* GPA between regions */
#define MANY_RAM	(16ULL << 20)
#define MANY_QUEUE	8

struct many {
	struct vmt_vm *vm;
	struct vmt_vq vq[MANY_DEVS];
	struct vmt_dev dev[MANY_DEVS];
	unsigned int order[MANY_DEVS];
	u8 *mem;
};

static u64 many_gpa(unsigned int i)
{
	return VMT_RQ_GPA + i * MANY_STRIDE;
}

static u64 *many_tag(struct many *m, unsigned int i)
{
	return (u64 *)(m->mem + i * MANY_SIZE + 8);
}

static void many_open(struct many *m, unsigned int i)
{
	struct vmt_backing b = {
		.type = VMT_BACKING_ANON,
		.hva = m->mem + i * MANY_SIZE,
		.size = MANY_SIZE,
		.fd = -1,
	};
	struct vhost_mem_region r;
	int resp;

	vmt_vq_init(&m->vq[i], m->vm, MANY_QUEUE);
	vmt_dev_open_ready(&m->dev[i], m->vm, &m->vq[i], ~0ULL);
	vmt_region_init(&r, &b, many_gpa(i), BLK, VMT_RQ_SLOT_BASE + i);
	r.slot_count = 1;
	vmt_dev_start(&m->dev[i], &r, MANY_SIZE);
	resp = __vmt_mem_plug(&m->vq[i], many_gpa(i), 2);
	TEST_ASSERT(resp == VIRTIO_MEM_RESP_ACK, "PLUG on device %u: %s", i,
		    resp < 0 ? vmt_errname(-resp) : vmt_mem_resp_name(resp));
	*many_tag(m, i) = 0x4d414e5900000000ULL | i;
}

/* Device i's plugged block is the guest's (or, closed, not). */
static void many_expect(struct __test_metadata *_metadata, struct many *m,
			unsigned int i, bool open)
{
	u64 val = 0;
	int r = vmt_guest_read_u64(m->vm, many_gpa(i) + 8, &val);

	if (!open) {
		EXPECT_EQ(VMT_ACCESS_MMIO, r)
			TH_LOG("device %u closed: the guest still reads its block (%s)",
			       i, vmt_access_name(r));
		return;
	}
	EXPECT_EQ(VMT_ACCESS_OK, r)
		TH_LOG("device %u: the guest cannot read its plugged block (%s)",
		       i, vmt_access_name(r));
	EXPECT_EQ(*many_tag(m, i), val);
}

TEST_F_TIMEOUT(life, many_devices_closed_in_random_order, 300)
{
	struct many *m = calloc(1, sizeof(*m));
	struct vmt_sys_sample base;
	struct vhost_mem_status st;
	unsigned int i, j, k, seed = 13;

	ASSERT_NE(NULL, m);
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	sample_base(_metadata, &base);
	m->vm = vmt_vm_create(MANY_RAM);
	m->mem = mmap(NULL, MANY_DEVS * MANY_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, m->mem);
	for (i = 0; i < MANY_DEVS; i++) {
		many_open(m, i);
		m->order[i] = i;
	}
	EXPECT_EQ(base.refcnt + MANY_DEVS, __vmt_module_refcnt(VMT_MODULE_NAME));
	for (i = 0; i < MANY_DEVS; i++) {
		ASSERT_EQ(0, __vmt_mem_get_status(m->dev[i].fd, &st));
		EXPECT_EQ(2 * BLK, st.plugged_size) TH_LOG("device %u", i);
		EXPECT_EQ(1, st.memslots) TH_LOG("device %u", i);
		many_expect(_metadata, m, i, true);
	}

	for (i = MANY_DEVS - 1; i > 0; i--) {
		j = rand_r(&seed) % (i + 1);
		k = m->order[i];
		m->order[i] = m->order[j];
		m->order[j] = k;
	}
	for (k = 0; k < MANY_DEVS; k++) {
		i = m->order[k];
		vmt_dev_close(&m->dev[i]);
		EXPECT_EQ(base.refcnt + MANY_DEVS - k - 1,
			  __vmt_module_refcnt(VMT_MODULE_NAME))
			TH_LOG("after closing %u devices", k + 1);
		many_expect(_metadata, m, i, false);
		if (k + 1 < MANY_DEVS)
			many_expect(_metadata, m, m->order[k + 1], true);
	}
	for (i = 0; i < MANY_DEVS; i++)
		vmt_vq_destroy(&m->vq[i]);
	vmt_vm_free(m->vm);
	munmap(m->mem, MANY_DEVS * MANY_SIZE);
	free(m);
	expect_no_leak(_metadata, &base, "after 64 devices");
}

TEST_HARNESS_MAIN
