// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: hard protection holds every vCPU, however the VMM
 * runs them.
 *
 * With VHOST_MEM_REGION_F_HARD_PROTECT, splitting or merging a run of
 * plugged blocks replaces memslots; the device holds every vCPU of the VM
 * out of KVM_RUN meanwhile (kernel/vcpus.c).  Here block 8 of a run of 16
 * is unplugged and plugged again and again while vCPUs read its plugged
 * neighbours 7 and 9 inside the guest: any MMIO exit there is a moment a
 * plugged block was unmapped under a running vCPU.
 *
 * - 4 and 64 vCPUs, each run by its own thread (64 needs more locks than
 *   lockdep tracks at once: on a lockdep kernel, a splat fails the run);
 * - vCPUs created while the churn goes on, reading as soon as they exist;
 * - one vCPU run by two threads that take turns (KVM runs it in one at a
 *   time): the thread that last entered KVM_RUN is not always the one in
 *   it;
 * - the VMM killed while its vCPUs are held: the module's reference count
 *   goes back, and /dev/vhost-mem still serves a new VM.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"
#include "req_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

#define REGION_SIZE	(32ULL << 20)	/* 16 blocks */
#define NR_BLOCKS	(REGION_SIZE / BLK)
#define CHURN_BLOCK	8
#define TAG_OFF		0x2340
#define TAG		0x7a6b5c4d3e2f1001ULL

#define CHURN_ROUNDS	40
#define SCAN_LOOPS	2000
#define MAX_VCPUS	64
#define NEW_VCPUS	48

/* A VM with hard protection, blocks 0-15 plugged (one run, one memslot). */
static void hold_env_start(struct vmt_rq_env *e)
{
	u16 resp;

	vmt_rq_env_init_aligned(e, REGION_SIZE, ~0ULL);
	e->region.flags |= VHOST_MEM_REGION_F_HARD_PROTECT;
	vmt_rq_env_start(e, REGION_SIZE);
	resp = vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, vmt_rq_gpa(e, 0), NR_BLOCKS,
			   NULL);
	TEST_ASSERT(resp == VIRTIO_MEM_RESP_ACK, "PLUG of all 16 blocks: %s",
		    vmt_mem_resp_name(resp));
	*(volatile u64 *)((u8 *)vmt_rq_hva(e, CHURN_BLOCK - 1) + TAG_OFF) = TAG;
	*(volatile u64 *)((u8 *)vmt_rq_hva(e, CHURN_BLOCK + 1) + TAG_OFF) = TAG;
	vmt_guest_map_gpa(e->vm, vmt_rq_gpa(e, 0));
}

static u64 gpa_a(struct vmt_rq_env *e)
{
	return vmt_rq_gpa(e, CHURN_BLOCK - 1) + TAG_OFF;
}

static u64 gpa_b(struct vmt_rq_env *e)
{
	return vmt_rq_gpa(e, CHURN_BLOCK + 1) + TAG_OFF;
}

/* ------------------------------------------------------------------ */
/* Churn and vCPU threads                                             */
/* ------------------------------------------------------------------ */

struct churn {
	struct vmt_rq_env *e;
	unsigned int max_rounds;	/* 0: until stop */
	int stop;			/* __atomic */
	int done;			/* __atomic */
	unsigned int rounds;		/* __atomic */
	bool failed;
	int resp;			/* the last answer, or -errno */
};

/* Splits the run around block 8 and merges it again. */
static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	u64 gpa = vmt_rq_gpa(c->e, CHURN_BLOCK);
	unsigned int n;

	for (n = 0; !c->max_rounds || n < c->max_rounds; n++) {
		if (__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
			break;
		c->resp = __vmt_mem_unplug(&c->e->vq, gpa, 1);
		if (c->resp == VIRTIO_MEM_RESP_ACK)
			c->resp = __vmt_mem_plug(&c->e->vq, gpa, 1);
		if (c->resp != VIRTIO_MEM_RESP_ACK) {
			c->failed = true;
			break;
		}
		__atomic_store_n(&c->rounds, n + 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static const char *churn_resp_name(const struct churn *c)
{
	return c->resp < 0 ? vmt_errname(-c->resp) : vmt_mem_resp_name(c->resp);
}

static bool churn_done(struct churn *c)
{
	return __atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
}

struct runner {
	struct vmt_rq_env *e;
	struct vmt_vcpu vcpu;
	struct churn *churn;
	struct vmt_scan scan;
	u64 runs;		/* KVM_RUNs of this thread */
	pthread_t thread;
};

/* Scans until the churn is done; a scan another thread ended is restarted. */
static void *runner_thread(void *arg)
{
	struct runner *r = arg;
	enum vmt_scan_step step = VMT_SCAN_DONE;

	while (!churn_done(r->churn)) {
		if (step != VMT_SCAN_RUNNING)
			vmt_vcpu_scan_setup(&r->vcpu, gpa_a(r->e), gpa_b(r->e),
					    TAG, SCAN_LOOPS);
		step = vmt_vcpu_scan_step(&r->vcpu, TAG, &r->scan);
		r->runs++;
	}
	return NULL;
}

static void scan_add(struct vmt_scan *sum, const struct vmt_scan *s)
{
	sum->mmio_exits += s->mmio_exits;
	sum->mismatches += s->mismatches;
	sum->interrupted += s->interrupted;
}

/* A VM, its vCPUs' runners and a churn. */
struct hold {
	struct vmt_rq_env e;
	struct runner runners[MAX_VCPUS];
	unsigned int nr_runners;
	struct churn churn;
};

FIXTURE(hold) {
	struct hold h;
};

FIXTURE_SETUP(hold)
{
	struct hold *h = &self->h;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	hold_env_start(&h->e);
	h->churn.e = &h->e;
}

FIXTURE_TEARDOWN(hold)
{
	struct hold *h = &self->h;
	unsigned int i;

	for (i = 0; i < h->nr_runners; i++)
		vmt_vcpu_free(&h->runners[i].vcpu);
	vmt_rq_env_free(&h->e);
}

/* A runner on vcpu (not started). */
static struct runner *runner_add(struct hold *h,
				 const struct vmt_vcpu *vcpu)
{
	struct runner *r = &h->runners[h->nr_runners++];

	r->e = &h->e;
	r->vcpu = *vcpu;
	r->churn = &h->churn;
	return r;
}

/* Every runner's thread started, then the churn's (*churn). */
static void start_threads(struct hold *h, pthread_t *churn)
{
	unsigned int i;

	for (i = 0; i < h->nr_runners; i++)
		TEST_ASSERT(!pthread_create(&h->runners[i].thread, NULL,
					    runner_thread, &h->runners[i]),
			    "pthread_create");
	TEST_ASSERT(!pthread_create(churn, NULL, churn_thread, &h->churn),
		    "pthread_create");
}

/* Every runner's threads started, then the churn; all joined. */
static void run_churn(struct hold *h, unsigned int rounds)
{
	pthread_t churn;
	unsigned int i;

	h->churn.max_rounds = rounds;
	start_threads(h, &churn);
	TEST_ASSERT(!pthread_join(churn, NULL), "pthread_join");
	for (i = 0; i < h->nr_runners; i++)
		TEST_ASSERT(!pthread_join(h->runners[i].thread, NULL),
			    "pthread_join");
}

/* N vCPUs, one thread each, all reading block 8's neighbours. */
static void n_vcpus(struct __test_metadata *_metadata,
		    struct hold *h, unsigned int n)
{
	struct vmt_scan sum = { 0 };
	struct vmt_vcpu vcpu;
	unsigned int i;

	vmt_vcpu_first(h->e.vm, &vcpu);
	runner_add(h, &vcpu);
	for (i = 1; i < n; i++) {
		vmt_vcpu_add(h->e.vm, i, &vcpu);
		runner_add(h, &vcpu);
	}
	run_churn(h, CHURN_ROUNDS);
	for (i = 0; i < n; i++)
		scan_add(&sum, &h->runners[i].scan);
	ASSERT_FALSE(h->churn.failed)
		TH_LOG("a PLUG or UNPLUG of block 8 was answered %s",
		       churn_resp_name(&h->churn));
	TH_LOG("%u vCPUs, %u splits and merges: %llu KVM_RUN EINTRs", n,
	       h->churn.rounds, (unsigned long long)sum.interrupted);
	EXPECT_EQ(0, sum.mmio_exits)
		TH_LOG("the vCPUs found a plugged neighbour unmapped %llu times",
		       (unsigned long long)sum.mmio_exits);
	EXPECT_EQ(0, sum.mismatches)
		TH_LOG("the vCPUs read a wrong value %llu times",
		       (unsigned long long)sum.mismatches);
	EXPECT_LT(0, sum.interrupted)
		TH_LOG("KVM_RUN never returned EINTR: no vCPU was held in KVM_RUN");
}

TEST_F_TIMEOUT(hold, four_vcpus, 120)
{
	n_vcpus(_metadata, &self->h, 4);
}

TEST_F_TIMEOUT(hold, sixty_four_vcpus, 300)
{
	n_vcpus(_metadata, &self->h, MAX_VCPUS);
}

/* ------------------------------------------------------------------ */
/* vCPUs created during the churn                                     */
/* ------------------------------------------------------------------ */

struct creator {
	struct vmt_rq_env *e;
	struct vmt_vcpu vcpus[NEW_VCPUS];
	unsigned int created;
	struct vmt_scan scan;	/* of the new vCPUs */
	struct churn *churn;
};

/* Creates a vCPU, makes it read at once, a few times; the next one. */
static void *creator_thread(void *arg)
{
	struct creator *c = arg;
	unsigned int i, k;

	/* wait until the churn runs */
	while (!__atomic_load_n(&c->churn->rounds, __ATOMIC_ACQUIRE))
		usleep(1000);
	for (i = 0; i < NEW_VCPUS && !churn_done(c->churn); i++) {
		vmt_vcpu_add(c->e->vm, i + 1, &c->vcpus[i]);
		c->created = i + 1;
		for (k = 0; k < 3; k++)
			vmt_vcpu_scan(&c->vcpus[i], gpa_a(c->e), gpa_b(c->e),
				      TAG, SCAN_LOOPS / 4, &c->scan);
	}
	__atomic_store_n(&c->churn->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST_F_TIMEOUT(hold, vcpu_created_during_churn, 300)
{
	struct hold *h = &self->h;
	struct creator *c = calloc(1, sizeof(*c));
	struct vmt_scan *first;
	struct vmt_vcpu vcpu;
	pthread_t thread;
	unsigned int i;

	ASSERT_NE(NULL, c);
	c->e = &h->e;
	c->churn = &h->churn;
	/* vCPU 0 keeps a hold busy kicking it meanwhile */
	vmt_vcpu_first(h->e.vm, &vcpu);
	first = &runner_add(h, &vcpu)->scan;
	ASSERT_EQ(0, pthread_create(&thread, NULL, creator_thread, c));
	run_churn(h, 0);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_FALSE(h->churn.failed)
		TH_LOG("a PLUG or UNPLUG of block 8 was answered %s",
		       churn_resp_name(&h->churn));
	TH_LOG("%u vCPUs created during %u splits and merges; %llu EINTRs of vCPU 0, %llu of the new ones",
	       c->created, h->churn.rounds,
	       (unsigned long long)first->interrupted,
	       (unsigned long long)c->scan.interrupted);
	EXPECT_LT(1, c->created);
	EXPECT_EQ(0, c->scan.mmio_exits)
		TH_LOG("new vCPUs found a plugged neighbour unmapped %llu times",
		       (unsigned long long)c->scan.mmio_exits);
	EXPECT_EQ(0, c->scan.mismatches);
	EXPECT_EQ(0, first->mmio_exits)
		TH_LOG("vCPU 0 found a plugged neighbour unmapped %llu times",
		       (unsigned long long)first->mmio_exits);
	EXPECT_EQ(0, first->mismatches);
	for (i = 0; i < c->created; i++)
		vmt_vcpu_free(&c->vcpus[i]);
	free(c);
}

/* ------------------------------------------------------------------ */
/* One vCPU, two threads                                              */
/* ------------------------------------------------------------------ */

TEST_F_TIMEOUT(hold, vcpu_run_from_two_threads, 120)
{
	struct hold *h = &self->h;
	struct vmt_vcpu vcpu;
	struct vmt_scan sum = { 0 };
	struct runner *a, *b;

	vmt_vcpu_first(h->e.vm, &vcpu);
	vcpu.shared = true;
	a = runner_add(h, &vcpu);
	b = runner_add(h, &vcpu);
	/* the thread switch is caught less often: more rounds */
	run_churn(h, 3 * CHURN_ROUNDS);
	scan_add(&sum, &a->scan);
	scan_add(&sum, &b->scan);
	ASSERT_FALSE(h->churn.failed)
		TH_LOG("a PLUG or UNPLUG of block 8 was answered %s",
		       churn_resp_name(&h->churn));
	TH_LOG("%u splits and merges: thread A ran the vCPU %llu times, B %llu times; %llu EINTRs",
	       h->churn.rounds, (unsigned long long)a->runs,
	       (unsigned long long)b->runs,
	       (unsigned long long)sum.interrupted);
	EXPECT_LT(0, a->runs);
	EXPECT_LT(0, b->runs);
	/* either thread may see the exit of the other's KVM_RUN: any is one */
	EXPECT_EQ(0, sum.mmio_exits)
		TH_LOG("the vCPU found a plugged neighbour unmapped %llu times",
		       (unsigned long long)sum.mmio_exits);
	EXPECT_EQ(0, sum.mismatches)
		TH_LOG("the vCPU read a wrong value %llu times",
		       (unsigned long long)sum.mismatches);
	EXPECT_LT(0, sum.interrupted);
}

/* ------------------------------------------------------------------ */
/* The VMM killed during holds                                        */
/* ------------------------------------------------------------------ */

/* Child: 4 vCPUs and a churn that never ends; a byte on fd once it runs. */
static void churn_forever(int fd, void *arg)
{
	struct hold *h = calloc(1, sizeof(*h));
	struct vmt_vcpu vcpu;
	pthread_t churn;
	unsigned int i;

	(void)arg;
	TEST_ASSERT(h, "out of memory");
	hold_env_start(&h->e);
	h->churn.e = &h->e;
	vmt_vcpu_first(h->e.vm, &vcpu);
	runner_add(h, &vcpu);
	for (i = 1; i < 4; i++) {
		vmt_vcpu_add(h->e.vm, i, &vcpu);
		runner_add(h, &vcpu);
	}
	start_threads(h, &churn);
	while (__atomic_load_n(&h->churn.rounds, __ATOMIC_ACQUIRE) < 3)
		usleep(1000);
	TEST_ASSERT(write(fd, "r", 1) == 1, "write to the parent");
	for (;;)
		pause();
}

FIXTURE(kill) {
	int refcnt;
	int klog;
};

FIXTURE_SETUP(kill)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	self->refcnt = __vmt_module_refcnt(VMT_MODULE_NAME);
	self->klog = __vmt_klog_problems(false);
}

FIXTURE_TEARDOWN(kill)
{
}

TEST_F_TIMEOUT(kill, sigkill_during_holds, 180)
{
	struct vmt_rq_env *e = calloc(1, sizeof(*e));
	struct vmt_scan scan = { 0 };
	unsigned int round;
	int refcnt;
	pid_t pid;

	ASSERT_NE(NULL, e);
	for (round = 0; round < 4; round++) {
		pid = vmt_fork_ready(churn_forever, NULL, 60000);
		/* at varying points of the holds */
		usleep(round * 7000);
		vmt_kill_wait(pid);
	}
	/* the dead VMMs' files may be released a little later */
	refcnt = vmt_module_refcnt_wait(VMT_MODULE_NAME, self->refcnt, 10000);
	EXPECT_EQ(self->refcnt, refcnt)
		TH_LOG("module reference count %d after the VMMs died, %d before",
		       refcnt, self->refcnt);

	/* the device still serves a new VM, with the vCPUs held as before */
	hold_env_start(e);
	vmt_guest_scan(e->vm, gpa_a(e), gpa_b(e), TAG, SCAN_LOOPS, &scan);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  __vmt_mem_unplug(&e->vq, vmt_rq_gpa(e, CHURN_BLOCK), 1));
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  __vmt_mem_plug(&e->vq, vmt_rq_gpa(e, CHURN_BLOCK), 1));
	vmt_guest_scan(e->vm, gpa_a(e), gpa_b(e), TAG, SCAN_LOOPS, &scan);
	EXPECT_EQ(0, scan.mmio_exits);
	EXPECT_EQ(0, scan.mismatches);
	vmt_rq_env_free(e);
	free(e);
	EXPECT_EQ(self->klog, __vmt_klog_problems(true))
		TH_LOG("the kernel complained while the VMMs died");
}

TEST_HARNESS_MAIN
