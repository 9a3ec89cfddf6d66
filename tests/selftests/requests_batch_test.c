// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: batches of requests and the interrupts they raise,
 * with and without EVENT_IDX: one kick, all answered, one interrupt, and
 * interrupt suppression honoured.
 */
#include "requests.h"

FIXTURE(batch) {
	struct vmt_rq_env e;
};

FIXTURE_VARIANT(batch) {
	bool event_idx;
};

FIXTURE_VARIANT_ADD(batch, event_idx) {
	.event_idx = true,
};

FIXTURE_VARIANT_ADD(batch, no_event_idx) {
	.event_idx = false,
};

FIXTURE_SETUP(batch)
{
	u64 want = ~0ULL;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	if (!variant->event_idx)
		want &= ~(1ULL << VIRTIO_RING_F_EVENT_IDX);
	vmt_rq_env_init(&self->e, VMT_BACKING_ANON, REGION_SIZE, want);
	self->e.region.chunk_size = CHUNK_SIZE;
}

FIXTURE_TEARDOWN(batch)
{
	vmt_rq_env_free(&self->e);
}

/* Wait until used->idx reaches idx, without taking anything. */
static bool wait_used_idx(struct vmt_vq *vq, u16 idx)
{
	u64 deadline = vmt_now_ns() + vmt_timeout_ms() * 1000000ULL;

	while (vmt_vq_used_idx(vq) != idx) {
		if (vmt_now_ns() > deadline)
			return false;
		vmt_sleep_ms(1);
	}
	return true;
}

static struct vmt_mem_req mkreq(u16 type, u64 addr, u16 nb)
{
	return (struct vmt_mem_req){
		.type = type, .addr = addr, .nb_blocks = nb,
	};
}

/* 32 requests of every kind, in a ring of 128 descriptors. */
static unsigned int fill_batch(struct vmt_rq_env *e, struct vmt_mem_req *r)
{
	unsigned int n = 0, i;

	for (i = 0; i < 12; i++)
		r[n++] = mkreq(PLUG, vmt_rq_gpa(e, 2 * i), 1);
	r[n++] = mkreq(PLUG, vmt_rq_gpa(e, 0), 1);
	r[n++] = mkreq(PLUG, vmt_rq_gpa(e, 1), 1);
	r[n++] = mkreq(STATE, vmt_rq_gpa(e, 0), 4);
	r[n++] = mkreq(STATE, vmt_rq_gpa(e, 2), 1);
	r[n++] = mkreq(UNPLUG, vmt_rq_gpa(e, 2), 1);
	r[n++] = mkreq(UNPLUG, vmt_rq_gpa(e, 2), 1);
	r[n++] = mkreq(PLUG, vmt_rq_gpa(e, 40), 4);
	r[n++] = mkreq(PLUG, vmt_rq_gpa(e, 40), 3);
	r[n++] = mkreq(7, vmt_rq_gpa(e, 40), 3);
	r[n++] = mkreq(STATE, vmt_rq_gpa(e, 39), 3);
	r[n++] = mkreq(UNPLUG, vmt_rq_gpa(e, 4), 1);
	r[n++] = mkreq(UNPLUG, vmt_rq_gpa(e, 6), 1);
	r[n++] = mkreq(PLUG, vmt_rq_gpa(e, 5), 1);
	r[n++] = mkreq(STATE, vmt_rq_gpa(e, 0), 24);
	r[n++] = mkreq(PLUG, 0, 1);
	r[n++] = mkreq(UNPLUG_ALL, 0, 0);
	r[n++] = mkreq(STATE, vmt_rq_gpa(e, 0), 100);
	r[n++] = mkreq(PLUG, vmt_rq_gpa(e, 31), 2);
	r[n++] = mkreq(STATE, vmt_rq_gpa(e, 31), 2);
	r[n++] = mkreq(UNPLUG, vmt_rq_gpa(e, 32), 1);
	return n;
}

/* Take n used entries: they must be the requests, in ring order. */
static void collect_batch(struct __test_metadata *_metadata,
			  struct vmt_rq_env *e, struct vmt_mem_req *r,
			  unsigned int n)
{
	struct vmt_used u;
	unsigned int i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(1, vmt_vq_pop_used(&e->vq, &u))
			TH_LOG("used entry %u of %u is missing", i, n);
		ASSERT_EQ(&r[i], vmt_mem_complete(&e->vq, &u))
			TH_LOG("used entry %u is head %u, not request %u", i,
			       u.id, i);
		vmt_rq_settle(e, &r[i]);
	}
}

TEST_F(batch, one_kick_all_answered_one_interrupt)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_mem_req r[32];
	unsigned int n, i;
	u64 calls, late;
	u16 used0;

	vmt_rq_env_start(e, 16 * BLK);
	n = fill_batch(e, r);
	vmt_vq_drain_calls(&e->vq);
	used0 = vmt_vq_used_idx(&e->vq);
	for (i = 0; i < n; i++)
		ASSERT_LE(0, __vmt_mem_queue(&e->vq, &r[i]));
	ASSERT_TRUE(vmt_vq_kick(&e->vq))
		TH_LOG("the idle device did not ask for a kick");
	ASSERT_EQ(1, e->vq.kicks);

	calls = vmt_vq_wait_call(&e->vq, vmt_timeout_ms());
	ASSERT_LT(0, calls) TH_LOG("no interrupt within %d ms for a batch of %u requests",
				   vmt_timeout_ms(), n);
	/* the interrupt comes after the whole batch */
	EXPECT_EQ(n, (u16)(vmt_vq_used_idx(&e->vq) - used0))
		TH_LOG("at the interrupt %u of the %u requests were answered",
		       (u16)(vmt_vq_used_idx(&e->vq) - used0), n);
	ASSERT_TRUE(wait_used_idx(&e->vq, used0 + n));
	vmt_sleep_ms(100);
	late = vmt_vq_drain_calls(&e->vq);
	EXPECT_EQ(1, calls + late)
		TH_LOG("%llu interrupts for one batch of %u requests",
		       (unsigned long long)(calls + late), n);
	collect_batch(_metadata, e, r, n);
	vmt_rq_check_all(e);
}

TEST_F(batch, interrupt_suppression_honoured)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_mem_req r[32], one = mkreq(STATE, vmt_rq_gpa(e, 0), 1);
	struct vmt_used u;
	unsigned int n, i;
	u16 used0;

	vmt_rq_env_start(e, 16 * BLK);
	/* a first request, so that the device has signalled once */
	vmt_rq_send(e, STATE, vmt_rq_gpa(e, 0), 1, NULL);
	n = fill_batch(e, r);
	vmt_vq_drain_calls(&e->vq);
	used0 = vmt_vq_used_idx(&e->vq);
	if (variant->event_idx)
		/* no interrupt until used->idx passes used0 + n */
		e->vq.avail->ring[e->vq.num] = htole16(used0 + n);
	else
		e->vq.avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	for (i = 0; i < n; i++)
		ASSERT_LE(0, __vmt_mem_queue(&e->vq, &r[i]));
	vmt_vq_kick(&e->vq);
	ASSERT_TRUE(wait_used_idx(&e->vq, used0 + n))
		TH_LOG("the batch was not answered within %d ms",
		       vmt_timeout_ms());
	vmt_sleep_ms(100);
	EXPECT_EQ(0, vmt_vq_drain_calls(&e->vq))
		TH_LOG("the device interrupted the driver that asked for none (%s)",
		       variant->event_idx ? "used_event" :
		       "VRING_AVAIL_F_NO_INTERRUPT");
	collect_batch(_metadata, e, r, n);

	/* asked for again: the next answer interrupts */
	e->vq.avail->flags = 0;
	ASSERT_LE(0, __vmt_mem_queue(&e->vq, &one));
	vmt_vq_kick(&e->vq);
	ASSERT_LT(0, vmt_vq_wait_call(&e->vq, vmt_timeout_ms()))
		TH_LOG("no interrupt for a request once interrupts were wanted again");
	ASSERT_EQ(1, vmt_vq_pop_used(&e->vq, &u));
	ASSERT_EQ(&one, vmt_mem_complete(&e->vq, &u));
	vmt_rq_settle(e, &one);
	vmt_rq_check_all(e);
}

TEST_HARNESS_MAIN
