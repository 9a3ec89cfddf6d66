// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a bounded, seeded fuzzer of the whole device.
 *
 * Five parts run for a set time, each in its own thread with its own PRNG
 * (or, with VHOST_MEM_FUZZ_THREADS=1, in turn in one thread, which then
 * replays exactly):
 *
 * - the guest's driver: batches of PLUG, UNPLUG, UNPLUG_ALL, STATE and
 *   unknown requests over the requestq, with valid and invalid ranges, each
 *   answer checked against the model (req_util.h); now and then a sweep of
 *   STATE over the usable region;
 * - the guest's vCPU: it must read a plugged block of every live chunk
 *   (and get an MMIO exit elsewhere), and it writes a tag into a plugged
 *   block and reads it back in a loop while the others run: no request
 *   unplugs that block meanwhile, so every read must find the tag, however
 *   its memslot is cut and joined around it;
 * - the VMM: VHOST_MEM_SET_REQUESTED_SIZE, SET_PAUSED, SET_RUNNING 0/1
 *   with requests waiting in the ring, a virtio reset (fresh ring),
 *   VHOST_MEM_RESET, GET_STATE / RESET / SET_STATE round trips with
 *   rejected blobs in between, ioctls that must fail and change nothing;
 * - the control plane: netlink DEV_SET resizes (which must signal the
 *   config eventfd), stale cookies, DEV_GET and dumps;
 * - a reader that goes through neither: GET_STATUS (sizes within bounds,
 *   counters never going back), the fdinfo id, GET_FEATURES, the module's
 *   reference count.
 *
 * The checks are exact, not fuzzy: whatever changes the plug state (the
 * requests, stop/start, resets, SET_STATE, pause) runs under dev_lock,
 * whatever changes the requested size (ioctl or netlink) under size_lock,
 * each together with the model's update; the block the vCPU reads is
 * left alone (no UNPLUG covers it, no UNPLUG_ALL or system reset).  A batch that holds only dev_lock
 * runs alongside resizes: it has no PLUG and no UNPLUG_ALL, and only
 * ranges that are valid or invalid whatever the usable region grows to,
 * so its answers do not depend on the order.  With both locks held,
 * GET_STATUS and DEV_GET must equal the model, and the config eventfd must
 * have been signalled once per netlink change and resume.  At the end: the
 * whole check (status, STATE sweep, vCPU, kernel log), the device closes,
 * its memory is gone for the vCPU, netlink forgets it, and the module's
 * reference count is back.
 *
 * VHOST_MEM_FUZZ_SEED=N replays a run (the seed is always printed, and
 * again with each thread's last operation on failure).
 * VHOST_MEM_FUZZ_SECONDS: the time for the whole program, split among its
 * cases (default 24).  VHOST_MEM_FUZZ_STEPS: stop after that many steps
 * (per thread) instead, for an exact replay whatever the machine's speed.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmt.h"
#include "req_util.h"
#include "vmm_util.h"
#include "nl_util.h"
#include "kselftest_harness.h"

#define BLK		VMT_RQ_BLOCK
#define DEFAULT_SECONDS	24
#define NR_CASES	3		/* the variants below */
#define CASE_TIMEOUT	1800		/* the harness's limit per case */
#define BATCH_MAX	16
#define STATE_HDR	64		/* the state blob's header, then the map */

#define PLUG		VIRTIO_MEM_REQ_PLUG
#define UNPLUG		VIRTIO_MEM_REQ_UNPLUG
#define UNPLUG_ALL	VIRTIO_MEM_REQ_UNPLUG_ALL
#define STATE		VIRTIO_MEM_REQ_STATE

/* ------------------------------------------------------------------ */
/* Seeded PRNGs                                                       */
/* ------------------------------------------------------------------ */

struct rng {
	u64 s;
};

static u64 splitmix64(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Stream i of the seed: independent of the others, never 0. */
static void rng_init(struct rng *r, u64 seed, unsigned int stream)
{
	r->s = splitmix64(seed ^ splitmix64(stream + 1)) | 1;
}

/* xorshift64* */
static u64 rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

static u64 rng_below(struct rng *r, u64 n)
{
	return n ? rng_next(r) % n : 0;
}

/* ------------------------------------------------------------------ */
/* The run                                                            */
/* ------------------------------------------------------------------ */

enum role {
	ROLE_GUEST, ROLE_VMM, ROLE_NETLINK, ROLE_READER, ROLE_VCPU, NR_ROLES
};

static const char * const role_names[NR_ROLES] = {
	"guest", "vmm", "netlink", "reader", "vcpu",
};

struct fuzz;

struct worker {
	struct fuzz *f;
	enum role role;
	struct rng rng;
	pthread_t thread;
	u64 steps;
	char last[192];		/* the operation in progress */
	struct nlc nl;		/* ROLE_NETLINK */
	struct vhost_mem_status seen;	/* ROLE_READER: the last status */
	struct vmt_scan scans;		/* ROLE_VCPU: all of them */
	u64 scan_reads;
};

struct fuzz {
	struct vmt_rq_env e;
	pthread_mutex_t dev_lock;	/* plug state, ring, running, paused */
	pthread_mutex_t size_lock;	/* requested and usable size */
	u64 seed;
	u64 deadline_ns;
	u64 max_steps;			/* per worker; 0: until the deadline */
	bool threads;
	int stop;			/* __atomic */
	u32 id;
	u64 cookie;
	int cfg_efd;
	u64 cfg_expected;		/* __atomic: signals not yet read */
	s64 pinned;			/* a block the vCPU reads, or -1 */
	u64 features;			/* offered */
	int refcnt;			/* the module's, before the device */
	struct worker w[NR_ROLES];
};

static struct fuzz *fuzz_current;

/* On any failure (TEST_ASSERT exits): how to get the same run again. */
static void fuzz_report(void)
{
	struct fuzz *f = fuzz_current;
	unsigned int i;

	if (!f)
		return;
	fprintf(stderr, "# fuzz: FAILED with seed %llu: rerun with VHOST_MEM_FUZZ_SEED=%llu%s\n",
		(unsigned long long)f->seed, (unsigned long long)f->seed,
		f->threads ? " (VHOST_MEM_FUZZ_THREADS=1 for one thread)" : "");
	for (i = 0; i < NR_ROLES; i++)
		fprintf(stderr, "#   %s, step %llu: %s\n", role_names[i],
			(unsigned long long)f->w[i].steps, f->w[i].last);
}

static __printf(2, 3) void doing(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->last, sizeof(w->last), fmt, ap);
	va_end(ap);
}

static void lock(pthread_mutex_t *m)
{
	TEST_ASSERT(!pthread_mutex_lock(m), "pthread_mutex_lock");
}

static void unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
}

/* Nothing else changes the device: the model is the truth. */
static void lock_all(struct fuzz *f)
{
	lock(&f->dev_lock);
	lock(&f->size_lock);
}

static void unlock_all(struct fuzz *f)
{
	unlock(&f->size_lock);
	unlock(&f->dev_lock);
}

static const char *errstr(int r)
{
	return r ? vmt_errname(-r) : "success";
}

/* Under lock_all(): the config eventfd saw exactly the expected signals. */
static void check_config_call(struct fuzz *f)
{
	u64 want = __atomic_exchange_n(&f->cfg_expected, 0, __ATOMIC_SEQ_CST);
	u64 got = 0;

	if (read(f->cfg_efd, &got, sizeof(got)) != sizeof(got))
		TEST_ASSERT(errno == EAGAIN, "reading the config eventfd");
	TEST_ASSERT(got == want,
		    "the config eventfd: expected %llu signals (netlink resizes and resumes) since the last check, got %llu",
		    (unsigned long long)want, (unsigned long long)got);
}

/* Under lock_all(). */
static void check_exact(struct fuzz *f)
{
	vmt_rq_check_status(&f->e);
	check_config_call(f);
}

/* A requested size: mostly valid, sometimes misaligned or too large. */
static u64 random_size(struct worker *w)
{
	const struct vmt_model *m = &w->f->e.model;
	u64 size = rng_below(&w->rng, m->nr_blocks + 1) * m->block_size;

	switch (rng_below(&w->rng, 20)) {
	case 0:
		return size + 4096;
	case 1:
		return m->region_size + m->block_size;
	case 2:
		return -m->block_size;
	case 3:
		return 0;
	}
	return size;
}

/* ------------------------------------------------------------------ */
/* The guest                                                          */
/* ------------------------------------------------------------------ */

/*
 * A range the answer to which does not depend on the usable region, which
 * only grows while dev_lock is not held: valid within the smallest it can
 * be (m's), or invalid within the largest (the region).
 */
static bool order_independent(const struct vmt_model *m, u64 addr, u16 nb)
{
	struct vmt_model whole = *m;

	whole.usable = m->region_size;
	return vmt_model_range_valid(m, addr, nb) ==
	       vmt_model_range_valid(&whole, addr, nb);
}

/* A run of up to 8 blocks in the state the request needs, or false. */
static bool guided_range(struct worker *w, const struct vmt_model *m,
			 struct vmt_mem_req *q)
{
	u64 usable = m->usable / m->block_size, b, n = 0, i;
	u64 len = 1 + rng_below(&w->rng, 8);
	bool plugged = q->type == UNPLUG;

	if (!usable)
		return false;
	b = rng_below(&w->rng, usable);
	for (i = 0; i < usable && vmt_model_plugged(m, b) != plugged; i++)
		b = (b + 1) % usable;
	while (b + n < usable && n < len &&
	       vmt_model_plugged(m, b + n) == plugged)
		n++;
	if (!n)
		return false;
	q->addr = vmt_model_block_gpa(m, b);
	q->nb_blocks = n;
	return true;
}

/* Under dev_lock: q would unplug the block the vCPU is reading. */
static bool covers_pinned(const struct fuzz *f, const struct vmt_model *m,
			  const struct vmt_mem_req *q)
{
	u64 gpa;

	if (f->pinned < 0)
		return false;
	if (q->type == UNPLUG_ALL)
		return true;
	gpa = vmt_model_block_gpa(m, f->pinned);
	return q->type == UNPLUG && q->addr <= gpa &&
	       gpa - q->addr < (u64)q->nb_blocks * m->block_size;
}

/*
 * One request.  Concurrent (only dev_lock held): no PLUG, no UNPLUG_ALL,
 * and a range whose answer no resize can change.
 */
static void random_request(struct worker *w, const struct vmt_model *m,
			   struct vmt_mem_req *q, bool concurrent)
{
	u64 r = rng_below(&w->rng, 100), blocks = m->nr_blocks;

	memset(q, 0, sizeof(*q));
	if (r < 35)
		q->type = concurrent ? UNPLUG : PLUG;
	else if (r < 65)
		q->type = UNPLUG;
	else if (r < 90)
		q->type = STATE;
	else if (r < 93)
		q->type = concurrent ? STATE : UNPLUG_ALL;
	else
		q->type = VHOST_MEM_REQ_UNKNOWN + rng_below(&w->rng, 0xfffb);

	r = rng_below(&w->rng, 100);
	if ((q->type == PLUG || q->type == UNPLUG) && r < 50 &&
	    guided_range(w, m, q))
		goto out;
	q->nb_blocks = 1 + rng_below(&w->rng, 8);
	if (r < 80) {		/* a block in or just around the region */
		q->addr = m->addr + (rng_below(&w->rng, blocks + 4) - 2) *
			  m->block_size;
	} else if (r < 88) {	/* misaligned */
		q->addr = m->addr + rng_below(&w->rng, m->region_size);
		q->addr |= 4096;
	} else if (r < 93) {	/* wraps around */
		q->addr = -(rng_below(&w->rng, 4) + 1) * m->block_size;
		q->nb_blocks = 8;
	} else if (r < 97) {
		q->addr = m->addr;
		q->nb_blocks = 0;
	} else {
		q->addr = m->addr;
		q->nb_blocks = 0xffff;
	}
out:
	if (concurrent && !order_independent(m, q->addr, q->nb_blocks)) {
		/* past the region: ERROR whatever the usable size */
		q->addr = m->addr + m->region_size;
		q->nb_blocks = 1;
	}
	if (covers_pinned(w->f, m, q))
		q->type = STATE;	/* the same range check, no change */
}

static void describe_batch(struct worker *w, const char *what,
			   const struct vmt_mem_req *q, unsigned int n)
{
	size_t len;
	unsigned int i;

	len = snprintf(w->last, sizeof(w->last), "%s of %u:", what, n);
	for (i = 0; i < n && len < sizeof(w->last); i++)
		len += snprintf(w->last + len, sizeof(w->last) - len,
				" %s 0x%llx x %u",
				q[i].type <= STATE ? vmt_mem_req_name(q[i].type) :
						     "unknown",
				(unsigned long long)q[i].addr, q[i].nb_blocks);
}

static void guest_batch(struct worker *w, bool concurrent)
{
	struct fuzz *f = w->f;
	struct vmt_mem_req q[BATCH_MAX];
	unsigned int n = 1 + rng_below(&w->rng, BATCH_MAX), i;
	struct vmt_model snap;

	lock(&f->dev_lock);
	lock(&f->size_lock);
	/* concurrent: the usable size only grows meanwhile, a lower bound */
	snap = f->e.model;
	if (concurrent)
		unlock(&f->size_lock);
	for (i = 0; i < n; i++)
		random_request(w, &snap, &q[i], concurrent);
	describe_batch(w, concurrent ? "a batch beside resizes" : "a batch",
		       q, n);
	vmt_rq_batch(&f->e, q, n);
	if (concurrent)
		lock(&f->size_lock);
	check_exact(f);
	unlock_all(f);
}

static void guest_states(struct worker *w)
{
	struct fuzz *f = w->f;

	doing(w, "STATE of every run of blocks");
	lock_all(f);
	vmt_rq_check_states(&f->e);
	check_exact(f);
	unlock_all(f);
}

static void guest_step(struct worker *w)
{
	u64 r = rng_below(&w->rng, 100);

	if (r < 50)
		guest_batch(w, false);
	else if (r < 92)
		guest_batch(w, true);
	else
		guest_states(w);
}

/* ------------------------------------------------------------------ */
/* The VMM                                                            */
/* ------------------------------------------------------------------ */

static void vmm_resize(struct worker *w)
{
	struct fuzz *f = w->f;
	u64 size = random_size(w);

	doing(w, "VHOST_MEM_SET_REQUESTED_SIZE 0x%llx",
	      (unsigned long long)size);
	lock(&f->size_lock);
	vmt_rq_resize(&f->e, size);
	unlock(&f->size_lock);
}

static void vmm_status(struct worker *w)
{
	doing(w, "VHOST_MEM_GET_STATUS against the model");
	lock_all(w->f);
	check_exact(w->f);
	unlock_all(w->f);
}

static void vmm_pause(struct worker *w)
{
	struct fuzz *f = w->f;
	struct vmt_model *m = &f->e.model;
	int paused, r;

	lock(&f->dev_lock);
	/* mostly short pauses: a paused guest makes no progress */
	paused = m->paused ? rng_below(&w->rng, 4) == 0 :
			     rng_below(&w->rng, 8) == 0;
	doing(w, "VHOST_MEM_SET_PAUSED %d (paused: %d)", paused, m->paused);
	r = __vmt_vmm_set_paused(f->e.dev.fd, paused);
	TEST_ASSERT(!r, "VHOST_MEM_SET_PAUSED %d: expected success, got %s",
		    paused, errstr(r));
	if (m->paused && !paused)
		__atomic_fetch_add(&f->cfg_expected, 1, __ATOMIC_SEQ_CST);
	m->paused = paused;
	unlock(&f->dev_lock);
}

/* Requests that arrive while stopped wait, and are answered on start. */
static void vmm_stop_start(struct worker *w)
{
	struct fuzz *f = w->f;
	struct vmt_rq_env *e = &f->e;
	struct vmt_mem_req q[4];
	unsigned int n = rng_below(&w->rng, 5), i;
	struct vmt_mem_req *done;
	struct vmt_used u;

	lock_all(f);
	for (i = 0; i < n; i++)
		random_request(w, &e->model, &q[i], false);
	describe_batch(w, "SET_RUNNING 0, requests, SET_RUNNING 1 with", q, n);
	vmt_rq_set_running(e, false);
	for (i = 0; i < n; i++)
		TEST_ASSERT(__vmt_mem_queue(&e->vq, &q[i]) >= 0,
			    "queueing request %u while stopped", i);
	vmt_vq_kick(&e->vq);
	TEST_ASSERT(!vmt_vq_wait_used(&e->vq, &u, 20),
		    "a stopped device answered (head %u)", u.id);
	vmt_rq_check_status(e);
	vmt_rq_set_running(e, true);
	for (i = 0; i < n; i++) {
		TEST_ASSERT(vmt_vq_wait_used(&e->vq, &u, vmt_timeout_ms()),
			    "after SET_RUNNING 1: %u of %u waiting requests answered",
			    i, n);
		done = vmt_mem_complete(&e->vq, &u);
		TEST_ASSERT(done == &q[i],
			    "after SET_RUNNING 1: answer %u is not for request %u",
			    i, i);
		vmt_rq_settle(e, done);
	}
	check_exact(f);
	unlock_all(f);
}

/* A virtio reset: stop, a fresh ring, start; the plug state stays. */
static void vmm_virtio_reset(struct worker *w)
{
	struct fuzz *f = w->f;

	doing(w, "a virtio reset (SET_RUNNING 0, a fresh ring, SET_RUNNING 1)");
	lock_all(f);
	vmt_rq_env_reattach(&f->e);
	check_exact(f);
	unlock_all(f);
}

static void vmm_system_reset(struct worker *w)
{
	struct fuzz *f = w->f;
	int r;

	doing(w, "VHOST_MEM_RESET");
	lock_all(f);
	if (f->pinned >= 0) {
		/* the vCPU reads a plugged block: not now */
		unlock_all(f);
		return;
	}
	r = __vmt_vmm_system_reset(f->e.dev.fd);
	TEST_ASSERT(!r, "VHOST_MEM_RESET: expected success, got %s",
		    errstr(r));
	vmt_model_system_reset(&f->e.model);
	check_exact(f);
	unlock_all(f);
}

/* After RESET, before SET_STATE: nothing plugged, no memslot. */
static void check_emptied(struct fuzz *f, const char *when)
{
	const struct vmt_model *m = &f->e.model;
	struct vhost_mem_status st;
	int r = __vmt_mem_get_status(f->e.dev.fd, &st);

	TEST_ASSERT(!r && !st.plugged_size && !st.memslots &&
		    st.usable_region_size == vmt_model_usable_for(m, m->requested),
		    "%s: expected nothing plugged, no memslot and usable 0x%llx, got %s, plugged 0x%llx, %u memslots, usable 0x%llx",
		    when,
		    (unsigned long long)vmt_model_usable_for(m, m->requested),
		    errstr(r), (unsigned long long)st.plugged_size,
		    st.memslots, (unsigned long long)st.usable_region_size);
}

/*
 * GET_STATE; SET_STATE refused while running and while blocks are
 * plugged; stop, RESET, a corrupted blob refused, the real one loaded,
 * start: the device is as before.
 */
static void vmm_state_round_trip(struct worker *w)
{
	struct fuzz *f = w->f;
	struct vmt_rq_env *e = &f->e;
	u64 len, bit;
	u8 *blob, *bad;
	int r;

	doing(w, "GET_STATE, RESET, SET_STATE (plugged 0x%llx)",
	      (unsigned long long)e->model.plugged);
	lock_all(f);
	if (f->pinned >= 0) {
		unlock_all(f);
		return;
	}
	blob = vmt_vmm_save(e->dev.fd, &len);
	TEST_ASSERT_EQ(len, STATE_HDR + (e->model.nr_blocks + 7) / 8);
	r = __vmt_vmm_set_state(e->dev.fd, blob, len);
	TEST_ASSERT(r == -EBUSY, "SET_STATE while running: expected EBUSY, got %s",
		    errstr(r));
	vmt_rq_set_running(e, false);
	if (e->model.plugged) {
		r = __vmt_vmm_set_state(e->dev.fd, blob, len);
		TEST_ASSERT(r == -EBUSY,
			    "SET_STATE with blocks plugged: expected EBUSY, got %s",
			    errstr(r));
	}
	r = __vmt_vmm_system_reset(e->dev.fd);
	TEST_ASSERT(!r, "VHOST_MEM_RESET before SET_STATE: expected success, got %s",
		    errstr(r));
	check_emptied(f, "after VHOST_MEM_RESET");

	bad = malloc(len);
	TEST_ASSERT(bad, "out of memory");
	memcpy(bad, blob, len);
	switch (rng_below(&w->rng, 3)) {
	case 0:		/* the magic */
		bad[rng_below(&w->rng, 4)] ^= 1 << rng_below(&w->rng, 8);
		r = __vmt_vmm_set_state(e->dev.fd, bad, len);
		break;
	case 1:		/* one block more or less than plugged_size says */
		bit = rng_below(&w->rng, e->model.nr_blocks);
		bad[STATE_HDR + bit / 8] ^= 1 << (bit % 8);
		r = __vmt_vmm_set_state(e->dev.fd, bad, len);
		break;
	default:	/* another length */
		r = __vmt_vmm_set_state(e->dev.fd, bad,
					rng_below(&w->rng, 2) ? len - 1 : len + 1);
		break;
	}
	free(bad);
	TEST_ASSERT(r == -EINVAL, "SET_STATE of a corrupted blob: expected EINVAL, got %s",
		    errstr(r));
	check_emptied(f, "after a refused SET_STATE");

	r = __vmt_vmm_set_state(e->dev.fd, blob, len);
	TEST_ASSERT(!r, "SET_STATE of the device's own state: expected success, got %s",
		    errstr(r));
	free(blob);
	vmt_rq_set_running(e, true);
	/* sizes, blocks and memslots as before; RESET counts no request */
	check_exact(f);
	unlock_all(f);
}

/* Wrong values change nothing. */
static void vmm_bad_ioctls(struct worker *w)
{
	struct fuzz *f = w->f;
	int r;

	doing(w, "SET_RUNNING 2, SET_PAUSED -1");
	lock_all(f);
	r = __vmt_mem_set_running(f->e.dev.fd, 2);
	TEST_ASSERT(r == -EINVAL, "SET_RUNNING 2: expected EINVAL, got %s",
		    errstr(r));
	r = __vmt_vmm_set_paused(f->e.dev.fd, -1);
	TEST_ASSERT(r == -EINVAL, "SET_PAUSED -1: expected EINVAL, got %s",
		    errstr(r));
	check_exact(f);
	unlock_all(f);
}

static void vmm_step(struct worker *w)
{
	u64 r = rng_below(&w->rng, 100);

	if (r < 35)
		vmm_resize(w);
	else if (r < 45)
		vmm_status(w);
	else if (r < 53)
		vmm_pause(w);
	else if (r < 70)
		vmm_stop_start(w);
	else if (r < 77)
		vmm_virtio_reset(w);
	else if (r < 82)
		vmm_system_reset(w);
	else if (r < 94)
		vmm_state_round_trip(w);
	else
		vmm_bad_ioctls(w);
}

/* ------------------------------------------------------------------ */
/* The control plane                                                  */
/* ------------------------------------------------------------------ */

/* What never changes, and what no state allows: lock-free checks. */
static void check_dev_bounds(struct fuzz *f, const struct nlc_dev *d,
			     const char *what)
{
	const struct vmt_model *m = &f->e.model;
	u32 set = VHOST_MEM_STATUS_F_VM | VHOST_MEM_STATUS_F_REGION;

	TEST_ASSERT(d->id == f->id && d->cookie == f->cookie,
		    "%s: expected id %u cookie 0x%llx, got %u 0x%llx", what,
		    f->id, (unsigned long long)f->cookie, d->id,
		    (unsigned long long)d->cookie);
	if (d->busy)
		return;
	TEST_ASSERT((d->flags & set) == set && d->has_region &&
		    d->addr == m->addr && d->region_size == m->region_size &&
		    d->block_size == m->block_size &&
		    d->chunk_size == m->chunk_size &&
		    d->memslots_max == vmt_model_memslots_max(m),
		    "%s: flags 0x%x, region 0x%llx+0x%llx, block 0x%llx, chunk 0x%llx, memslots_max %u: not the device's",
		    what, d->flags, (unsigned long long)d->addr,
		    (unsigned long long)d->region_size,
		    (unsigned long long)d->block_size,
		    (unsigned long long)d->chunk_size, d->memslots_max);
	TEST_ASSERT(d->requested <= m->region_size &&
		    d->usable <= m->region_size &&
		    d->plugged <= d->usable && d->memslots <= d->memslots_max &&
		    VMT_IS_ALIGNED(d->requested | d->usable | d->plugged,
				   m->block_size),
		    "%s: requested 0x%llx, usable 0x%llx, plugged 0x%llx, %u memslots: out of bounds",
		    what, (unsigned long long)d->requested,
		    (unsigned long long)d->usable,
		    (unsigned long long)d->plugged, d->memslots);
}

/* Under lock_all(): DEV_GET says what the model says. */
static void check_dev_exact(struct fuzz *f, const struct nlc_dev *d)
{
	const struct vmt_model *m = &f->e.model;
	u32 flags = VHOST_MEM_STATUS_F_VM | VHOST_MEM_STATUS_F_REGION |
		    (f->e.running ? VHOST_MEM_STATUS_F_RUNNING : 0) |
		    (m->paused ? VHOST_MEM_STATUS_F_PAUSED : 0);

	TEST_ASSERT(!d->busy, "DEV_GET of one device: marked busy");
	check_dev_bounds(f, d, "DEV_GET");
	TEST_ASSERT(d->flags == flags && d->requested == m->requested &&
		    d->usable == m->usable && d->plugged == m->plugged &&
		    d->memslots == vmt_model_memslots(m) &&
		    d->dropped == m->dropped &&
		    !memcmp(d->req, m->requests, sizeof(d->req)),
		    "DEV_GET: expected flags 0x%x requested 0x%llx usable 0x%llx plugged 0x%llx memslots %u dropped %llu (and the model's counters), got 0x%x 0x%llx 0x%llx 0x%llx %u %llu",
		    flags, (unsigned long long)m->requested,
		    (unsigned long long)m->usable,
		    (unsigned long long)m->plugged, vmt_model_memslots(m),
		    (unsigned long long)m->dropped, d->flags,
		    (unsigned long long)d->requested,
		    (unsigned long long)d->usable,
		    (unsigned long long)d->plugged, d->memslots,
		    (unsigned long long)d->dropped);
}

static void ctl_resize(struct worker *w)
{
	struct fuzz *f = w->f;
	struct vmt_model *m = &f->e.model;
	u64 size = random_size(w), old;
	int want, r;

	doing(w, "DEV_SET requested size 0x%llx", (unsigned long long)size);
	lock(&f->size_lock);
	old = m->requested;
	want = vmt_model_set_requested(m, size);
	r = __nlt_set_cookie(&w->nl, f->id, f->cookie, size);
	TEST_ASSERT(r == want, "DEV_SET requested size 0x%llx: expected %s, got %s (%s)",
		    (unsigned long long)size, errstr(want), errstr(r),
		    w->nl.msg);
	if (!r && size != old)
		__atomic_fetch_add(&f->cfg_expected, 1, __ATOMIC_SEQ_CST);
	unlock(&f->size_lock);
}

static void ctl_stale(struct worker *w)
{
	struct fuzz *f = w->f;
	u64 size = random_size(w);
	int r;

	doing(w, "DEV_SET 0x%llx with a stale cookie", (unsigned long long)size);
	r = __nlt_set_cookie(&w->nl, f->id, f->cookie + 1 + rng_below(&w->rng, 8),
			     size);
	TEST_ASSERT(r == -ESTALE, "DEV_SET with another device's cookie: expected ESTALE, got %s",
		    errstr(r));
	r = __nlt_get(&w->nl, f->id ^ 0x40000000, NULL);
	TEST_ASSERT(r == -ENODEV, "DEV_GET of an id no device has: expected ENODEV, got %s",
		    errstr(r));
}

static void ctl_get(struct worker *w, bool exact)
{
	struct fuzz *f = w->f;
	struct nlc_dev d;
	int r;

	doing(w, exact ? "DEV_GET against the model" : "DEV_GET");
	if (exact)
		lock_all(f);
	r = __nlt_get_cookie(&w->nl, f->id, f->cookie, &d);
	TEST_ASSERT(!r, "DEV_GET: expected success, got %s (%s)", errstr(r),
		    w->nl.msg);
	if (exact) {
		check_dev_exact(f, &d);
		unlock_all(f);
	} else {
		check_dev_bounds(f, &d, "DEV_GET");
	}
}

static void ctl_dump(struct worker *w)
{
	static struct nlt_dump dump;	/* one netlink worker */
	struct fuzz *f = w->f;
	const struct nlc_dev *d;
	int r;

	doing(w, "a DEV_GET dump");
	r = __nlt_dump(&w->nl, &dump);
	TEST_ASSERT(!r, "DEV_GET dump: expected success, got %s (%s)",
		    errstr(r), w->nl.msg);
	d = nlt_dump_find(&dump, f->id);
	TEST_ASSERT(d, "a dump of %u devices without ours (%u)", dump.n,
		    f->id);
	check_dev_bounds(f, d, "a dump");
}

static void netlink_step(struct worker *w)
{
	u64 r = rng_below(&w->rng, 100);

	if (r < 35)
		ctl_resize(w);
	else if (r < 42)
		ctl_stale(w);
	else if (r < 70)
		ctl_get(w, false);
	else if (r < 85)
		ctl_get(w, true);
	else
		ctl_dump(w);
}

/* ------------------------------------------------------------------ */
/* The reader                                                         */
/* ------------------------------------------------------------------ */

/* GET_STATUS without any lock: within bounds, counters never go back. */
static void reader_status(struct worker *w)
{
	struct fuzz *f = w->f;
	struct vhost_mem_status st;
	unsigned int t, a;
	struct nlc_dev d = {
		.id = f->id, .cookie = f->cookie,
	};
	int r;

	doing(w, "VHOST_MEM_GET_STATUS, unlocked");
	r = __vmt_mem_get_status(f->e.dev.fd, &st);
	TEST_ASSERT(!r, "VHOST_MEM_GET_STATUS: expected success, got %s",
		    errstr(r));
	d.flags = st.flags;
	d.has_region = true;
	d.addr = st.guest_phys_addr;
	d.region_size = st.region_size;
	d.block_size = st.block_size;
	d.chunk_size = st.chunk_size;
	d.memslots_max = st.memslots_max;
	d.requested = st.requested_size;
	d.usable = st.usable_region_size;
	d.plugged = st.plugged_size;
	d.memslots = st.memslots;
	check_dev_bounds(f, &d, "VHOST_MEM_GET_STATUS");
	TEST_ASSERT(st.dropped >= w->seen.dropped,
		    "dropped went back from %llu to %llu",
		    (unsigned long long)w->seen.dropped,
		    (unsigned long long)st.dropped);
	for (t = 0; t < VHOST_MEM_NR_REQ_TYPES; t++)
		for (a = 0; a < VHOST_MEM_NR_RESP_TYPES; a++)
			TEST_ASSERT(st.requests[t][a] >= w->seen.requests[t][a],
				    "requests[%u][%s] went back from %llu to %llu",
				    t, vmt_mem_resp_name(a),
				    (unsigned long long)w->seen.requests[t][a],
				    (unsigned long long)st.requests[t][a]);
	w->seen = st;
}

static void reader_other(struct worker *w)
{
	struct fuzz *f = w->f;
	u64 features;
	u32 id;
	int r;

	doing(w, "fdinfo, GET_FEATURES, the module's refcnt");
	id = vmt_dev_id(f->e.dev.fd);
	TEST_ASSERT(id == f->id, "fdinfo: expected vhost-mem-id %u, got %u",
		    f->id, id);
	r = __vmt_vhost_get_features(f->e.dev.fd, &features);
	TEST_ASSERT(!r && features == f->features,
		    "VHOST_GET_FEATURES: expected 0x%llx, got %s 0x%llx",
		    (unsigned long long)f->features, errstr(r),
		    (unsigned long long)features);
	r = __vmt_module_refcnt(VMT_MODULE_NAME);
	TEST_ASSERT(r > f->refcnt,
		    "the module's refcnt with our device open: expected more than %d, got %d",
		    f->refcnt, r);
}

static void reader_step(struct worker *w)
{
	if (rng_below(&w->rng, 100) < 70)
		reader_status(w);
	else
		reader_other(w);
}

/* ------------------------------------------------------------------ */
/* The vCPU                                                           */
/* ------------------------------------------------------------------ */

/* A plugged block from a random place on, or -1. */
static s64 random_plugged(struct worker *w, const struct vmt_model *m)
{
	u64 b = rng_below(&w->rng, m->nr_blocks), i;

	for (i = 0; i < m->nr_blocks; i++, b = (b + 1) % m->nr_blocks)
		if (vmt_model_plugged(m, b))
			return b;
	return -1;
}

/* Every live chunk (or run) readable, MMIO elsewhere. */
static void vcpu_chunks(struct worker *w)
{
	struct fuzz *f = w->f;

	doing(w, "reads of every chunk");
	lock(&f->dev_lock);
	vmt_rq_check_guest(&f->e);
	unlock(&f->dev_lock);
}

/*
 * The guest writes a tag into a plugged block, then reads it in a loop
 * without leaving guest mode while the other threads plug and unplug
 * around it (hard protection: its memslot is cut and joined, with the
 * vCPU held out meanwhile): never an MMIO exit, never another value.
 */
static void vcpu_scan(struct worker *w)
{
	struct fuzz *f = w->f;
	const struct vmt_model *m = &f->e.model;
	u64 count = 500 + rng_below(&w->rng, 5000), tag, gpa, reads = 0;
	u64 until = vmt_now_ns() + (20 + rng_below(&w->rng, 100)) * 1000000;
	struct vmt_scan scan = { 0 };
	s64 b;
	int r;

	lock(&f->dev_lock);
	b = random_plugged(w, m);
	if (b < 0) {
		unlock(&f->dev_lock);
		vcpu_chunks(w);
		return;
	}
	gpa = vmt_model_block_gpa(m, b) + rng_below(&w->rng, m->block_size / 8) * 8;
	tag = splitmix64(f->seed ^ (w->steps << 20) ^ gpa) | 1;
	doing(w, "guest scan of 0x%llx (block %lld) x %llu for 0x%llx",
	      (unsigned long long)gpa, (long long)b,
	      (unsigned long long)count, (unsigned long long)tag);
	r = vmt_guest_write_u64(f->e.vm, gpa, tag);
	TEST_ASSERT(r == VMT_ACCESS_OK,
		    "guest write to plugged block %lld (GPA 0x%llx): expected completed, got %s",
		    (long long)b, (unsigned long long)gpa, vmt_access_name(r));
	f->pinned = b;
	unlock(&f->dev_lock);

	/* with threads, for a while: the others must run meanwhile */
	do {
		vmt_guest_scan(f->e.vm, gpa, gpa, tag, count, &scan);
		reads += count;
	} while (f->threads && vmt_now_ns() < until &&
		 !__atomic_load_n(&f->stop, __ATOMIC_RELAXED));

	lock(&f->dev_lock);
	f->pinned = -1;
	unlock(&f->dev_lock);
	w->scan_reads += reads;
	w->scans.interrupted += scan.interrupted;
	TEST_ASSERT(!scan.mmio_exits && !scan.mismatches,
		    "the guest read plugged block %lld (GPA 0x%llx) %llu times while the others ran: %llu MMIO exits, %llu other values",
		    (long long)b, (unsigned long long)gpa,
		    (unsigned long long)reads,
		    (unsigned long long)scan.mmio_exits,
		    (unsigned long long)scan.mismatches);
}

static void vcpu_step(struct worker *w)
{
	if (rng_below(&w->rng, 100) < 25)
		vcpu_chunks(w);
	else
		vcpu_scan(w);
}

/* ------------------------------------------------------------------ */
/* Running the parts                                                  */
/* ------------------------------------------------------------------ */

static void (*const steps[NR_ROLES])(struct worker *w) = {
	guest_step, vmm_step, netlink_step, reader_step, vcpu_step,
};

static bool fuzz_over(struct fuzz *f, u64 steps_done)
{
	if (__atomic_load_n(&f->stop, __ATOMIC_RELAXED))
		return true;
	if (f->max_steps)
		return steps_done >= f->max_steps;
	return vmt_now_ns() >= f->deadline_ns;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	sigset_t set, old;

	/* the KVM_RUN deadline's signal belongs to the vCPU's thread */
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	pthread_sigmask(w->role == ROLE_VCPU ? SIG_UNBLOCK : SIG_BLOCK, &set,
			&old);
	while (!fuzz_over(w->f, w->steps)) {
		steps[w->role](w);
		w->steps++;
		/* the reader is quick: leave the device to the others */
		if (w->role == ROLE_READER)
			usleep(500);
	}
	doing(w, "done");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return NULL;
}

/* One thread: the parts in an order the seed decides. */
static void run_single(struct fuzz *f)
{
	/* weights: guest, vmm, netlink, reader, vcpu */
	static const unsigned int weight[NR_ROLES] = { 45, 20, 13, 12, 10 };
	struct rng sched;
	u64 total = 0, r;
	unsigned int i;

	rng_init(&sched, f->seed, NR_ROLES);
	while (!fuzz_over(f, total)) {
		r = rng_below(&sched, 100);
		for (i = 0; r >= weight[i]; i++)
			r -= weight[i];
		steps[i](&f->w[i]);
		f->w[i].steps++;
		total++;
	}
}

static void run_threads(struct fuzz *f)
{
	unsigned int i;

	for (i = 1; i < NR_ROLES; i++)
		TEST_ASSERT(!pthread_create(&f->w[i].thread, NULL, worker_main,
					    &f->w[i]),
			    "starting the %s thread", role_names[i]);
	worker_main(&f->w[ROLE_GUEST]);
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELAXED);
	for (i = 1; i < NR_ROLES; i++)
		pthread_join(f->w[i].thread, NULL);
}

static u64 env_u64(const char *name, u64 def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

FIXTURE(fuzz) {
	struct fuzz f;
};

FIXTURE_VARIANT(fuzz) {
	enum vmt_backing_type type;
	u64 region_size;
	u64 chunk_size;
	bool hard;
};

/* 512 MiB: beyond requested + 256 MiB, so the usable size moves. */
FIXTURE_VARIANT_ADD(fuzz, anon_chunks) {
	.type = VMT_BACKING_ANON,
	.region_size = 512ULL << 20,
	.chunk_size = 32ULL << 20,
};

FIXTURE_VARIANT_ADD(fuzz, memfd_chunks) {
	.type = VMT_BACKING_MEMFD,
	.region_size = 512ULL << 20,
	.chunk_size = 64ULL << 20,
};

FIXTURE_VARIANT_ADD(fuzz, anon_hard_protect) {
	.type = VMT_BACKING_ANON,
	.region_size = 384ULL << 20,
	.hard = true,
};

FIXTURE_SETUP(fuzz)
{
	struct fuzz *f = &self->f;
	struct vmt_rq_env *e = &f->e;
	u64 seconds, seed;
	struct nlc_dev d;
	unsigned int i;
	int r;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	seed = env_u64("VHOST_MEM_FUZZ_SEED", vmt_now_ns() ^ getpid());
	seconds = env_u64("VHOST_MEM_FUZZ_SECONDS", DEFAULT_SECONDS);
	f->seed = seed;
	f->max_steps = env_u64("VHOST_MEM_FUZZ_STEPS", 0);
	f->threads = env_u64("VHOST_MEM_FUZZ_THREADS", NR_ROLES) > 1;
	/* a case's share, within the harness's limit (boot-slow kernels) */
	seconds = seconds / NR_CASES ? seconds / NR_CASES : 1;
	if (seconds > CASE_TIMEOUT - 300)
		seconds = CASE_TIMEOUT - 300;
	TH_LOG("seed %llu: rerun with VHOST_MEM_FUZZ_SEED=%llu (%llu s, %s)",
	       (unsigned long long)seed, (unsigned long long)seed,
	       (unsigned long long)seconds,
	       f->threads ? "5 threads" : "1 thread");

	f->refcnt = __vmt_module_refcnt(VMT_MODULE_NAME);
	pthread_mutex_init(&f->dev_lock, NULL);
	pthread_mutex_init(&f->size_lock, NULL);
	vmt_rq_env_init(e, variant->type, variant->region_size, ~0ULL);
	e->region.chunk_size = variant->chunk_size;
	if (variant->hard)
		e->region.flags |= VHOST_MEM_REGION_F_HARD_PROTECT;
	vmt_rq_env_start(e, variant->region_size / 4);
	TEST_ASSERT_OK(__vmt_vhost_get_features(e->dev.fd, &f->features));
	f->cfg_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	TEST_ASSERT(f->cfg_efd >= 0, "eventfd");
	TEST_ASSERT_OK(__vmt_mem_set_config_call(e->dev.fd, f->cfg_efd));
	f->id = vmt_dev_id(e->dev.fd);
	f->pinned = -1;

	for (i = 0; i < NR_ROLES; i++) {
		f->w[i].f = f;
		f->w[i].role = i;
		rng_init(&f->w[i].rng, seed, i);
		doing(&f->w[i], "not started");
	}
	r = __nlt_open(&f->w[ROLE_NETLINK].nl);
	TEST_ASSERT(!r, "the netlink family %s: %s", VHOST_MEM_FAMILY_NAME,
		    errstr(r));
	r = __nlt_get(&f->w[ROLE_NETLINK].nl, f->id, &d);
	TEST_ASSERT(!r, "DEV_GET of our device: %s", errstr(r));
	f->cookie = d.cookie;

	fuzz_current = f;
	atexit(fuzz_report);
	f->deadline_ns = vmt_now_ns() + seconds * 1000000000ULL;
}

FIXTURE_TEARDOWN(fuzz)
{
	nlt_close(&self->f.w[ROLE_NETLINK].nl);
	vmt_rq_env_free(&self->f.e);
	if (self->f.cfg_efd > 0)
		close(self->f.cfg_efd);
}

TEST_F_TIMEOUT(fuzz, run, CASE_TIMEOUT)
{
	struct fuzz *f = &self->f;
	struct vmt_rq_env *e = &f->e;
	struct vmt_model *m = &e->model;
	u64 val, gpa;
	unsigned int i;
	int r;

	if (f->threads)
		run_threads(f);
	else
		run_single(f);
	for (i = 0; i < NR_ROLES; i++)
		TH_LOG("%s: %llu steps", role_names[i],
		       (unsigned long long)f->w[i].steps);
	TH_LOG("vcpu: %llu reads of a plugged block, %llu KVM_RUN interruptions (vCPU holds, signals)",
	       (unsigned long long)f->w[ROLE_VCPU].scan_reads,
	       (unsigned long long)f->w[ROLE_VCPU].scans.interrupted);
	TH_LOG("answers: PLUG %llu ACK %llu NACK %llu BUSY %llu ERROR; UNPLUG %llu ACK %llu BUSY %llu ERROR; UNPLUG_ALL %llu; STATE %llu ACK %llu ERROR; now %llu MiB plugged of %llu requested, %u memslots",
	       (unsigned long long)m->requests[PLUG][0],
	       (unsigned long long)m->requests[PLUG][1],
	       (unsigned long long)m->requests[PLUG][2],
	       (unsigned long long)m->requests[PLUG][3],
	       (unsigned long long)m->requests[UNPLUG][0],
	       (unsigned long long)m->requests[UNPLUG][2],
	       (unsigned long long)m->requests[UNPLUG][3],
	       (unsigned long long)m->requests[UNPLUG_ALL][0],
	       (unsigned long long)m->requests[STATE][0],
	       (unsigned long long)m->requests[STATE][3],
	       (unsigned long long)(m->plugged >> 20),
	       (unsigned long long)(m->requested >> 20),
	       vmt_model_memslots(m));

	/* everything once more, and no kernel report */
	doing(&f->w[ROLE_GUEST], "the final checks");
	if (m->paused) {
		TEST_ASSERT_OK(__vmt_vmm_set_paused(e->dev.fd, 0));
		m->paused = false;
		f->cfg_expected++;
	}
	check_exact(f);
	vmt_rq_check_all(e);

	/* a plugged block's memory goes with the device */
	gpa = m->addr;
	for (i = 0; i < m->nr_blocks; i++)
		if (vmt_model_plugged(m, i))
			gpa = vmt_model_block_gpa(m, i);
	vmt_rq_env_close(e);
	r = vmt_guest_read_u64(e->vm, gpa, &val);
	ASSERT_EQ(VMT_ACCESS_MMIO, r)
		TH_LOG("guest read at 0x%llx after the close: expected %s, got %s",
		       (unsigned long long)gpa,
		       vmt_access_name(VMT_ACCESS_MMIO), vmt_access_name(r));
	r = __nlt_get(&f->w[ROLE_NETLINK].nl, f->id, NULL);
	ASSERT_EQ(-ENODEV, r) TH_LOG("DEV_GET after the close: %s", errstr(r));
	ASSERT_EQ(f->refcnt, __vmt_module_refcnt(VMT_MODULE_NAME))
		TH_LOG("the module's refcnt after the close");
	fuzz_current = NULL;
}

TEST_HARNESS_MAIN
