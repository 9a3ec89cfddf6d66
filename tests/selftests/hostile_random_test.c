// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a hostile guest's random garbage: 10000 random
 * requests and chains checked against the model of the device
 * (VHOST_MEM_TEST_SEED replays).
 */
#include "hostile.h"

#define RANDOM_REQUESTS		10000
#define RANDOM_BATCH_MAX	32

static u64 rnd_state;

/* xorshift64* */
static u64 rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dULL;
}

static u64 rnd_below(u64 n)
{
	return n ? rnd() % n : 0;
}

enum shape { SHAPE_OK, SHAPE_SHORT_REQ, SHAPE_SMALL_RESP, SHAPE_REQ_WRITABLE };

struct random_req {
	enum shape shape;
	u16 type;
	u64 addr;
	u16 nb;
	struct chain c;
};

static u16 random_type(void)
{
	u64 r = rnd_below(100);

	if (r < 35)
		return PLUG;
	if (r < 66)
		return UNPLUG;
	if (r < 67)
		return UNPLUG_ALL;
	if (r < 90)
		return STATE;
	return (u16)rnd();
}

static u64 random_addr(struct vmt_rq_env *e)
{
	u64 r = rnd_below(100), blocks = e->model.nr_blocks;

	if (r < 75)	/* a block in or just around the region */
		return vmt_rq_gpa(e, 0) + (rnd_below(blocks + 4) - 2) * BLK;
	if (r < 82)	/* unaligned, in the region */
		return vmt_rq_gpa(e, 0) + rnd_below(REGION_SIZE);
	if (r < 88)
		return rnd();
	if (r < 95)	/* the last 64 MiB below 2^64 */
		return -(rnd_below(32) + 1) * BLK - (rnd_below(4) ? 0 : 4096);
	return rnd_below(8) * BLK;
}

static u16 random_nb(struct vmt_rq_env *e)
{
	u64 r = rnd_below(100);

	if (r < 65)
		return 1 + rnd_below(3);
	if (r < 85)
		return 1 + rnd_below(e->model.nr_blocks + 2);
	if (r < 91)
		return 0;
	if (r < 96)
		return (u16)rnd();
	return 0xffff;
}

/*
 * Half of the PLUGs and UNPLUGs go where they can succeed: a run of up to
 * 4 blocks in the opposite state (then the requested size decides).
 */
static void guided_range(struct vmt_rq_env *e, struct random_req *q)
{
	const struct vmt_model *m = &e->model;
	bool want_plugged = q->type == UNPLUG;
	u64 b = rnd_below(m->nr_blocks), n = 0, i;

	/* the first block in that state from a random place on */
	for (i = 0; i < m->nr_blocks &&
	     vmt_model_plugged(m, b) != want_plugged; i++)
		b = (b + 1) % m->nr_blocks;
	while (b + n < m->nr_blocks && n < 1 + rnd_below(4) &&
	       vmt_model_plugged(m, b + n) == want_plugged)
		n++;
	if (!n)
		return;
	q->addr = vmt_model_block_gpa(m, b);
	q->nb = n;
}

/* Pieces of at least len / max bytes: a chain stays within its limits. */
static u32 piece_for(u32 len, u32 piece, u32 max)
{
	u32 least = (len + max - 1) / max;

	return piece < least ? least : piece;
}

/* One random chain in area slot `slot`; false if the ring is too full. */
static bool random_chain(struct vmt_rq_env *e, struct random_req *q,
			 unsigned int slot)
{
	u32 gap = rnd_below(3), req_len, resp_len, extra = 0;
	struct chain *c = &q->c;
	u8 req[64];
	u64 r = rnd_below(100);
	unsigned int i;

	q->type = random_type();
	q->addr = random_addr(e);
	q->nb = random_nb(e);
	if ((q->type == PLUG || q->type == UNPLUG) && rnd_below(2))
		guided_range(e, q);
	q->shape = SHAPE_OK;
	if (r < 6)
		q->shape = SHAPE_SHORT_REQ;
	else if (r < 11)
		q->shape = SHAPE_SMALL_RESP;
	else if (r < 14)
		q->shape = SHAPE_REQ_WRITABLE;

	vmt_rq_encode(req, q->type, q->addr, q->nb);
	/* the padding is the guest's to fill */
	for (i = 2; i < 8; i++)
		req[i] = (u8)rnd();
	for (i = 18; i < sizeof(req); i++)
		req[i] = (u8)rnd();
	if (rnd_below(5) == 0)
		extra = rnd_below(40);
	req_len = q->shape == SHAPE_SHORT_REQ ? rnd_below(REQ_LEN) :
		  REQ_LEN + extra;
	resp_len = q->shape == SHAPE_SMALL_RESP ? rnd_below(RESP_LEN) :
		   RESP_LEN + extra;

	memset(c, 0, sizeof(*c));
	c->flags = rnd_below(3) == 0 ? VMT_CHAIN_INDIRECT : 0;
	/* at most 40 + 20 descriptors */
	if (req_len)
		add_req(e, c, slot, req, req_len,
			piece_for(req_len, 1 + rnd_below(REQ_LEN), 40), gap,
			q->shape == SHAPE_REQ_WRITABLE);
	if (resp_len)
		add_resp(e, c, slot, resp_len,
			 piece_for(resp_len, 1 + rnd_below(RESP_LEN), 20), gap);
	if (c->flags & VMT_CHAIN_INDIRECT)
		return e->vq.nfree >= 1;
	return e->vq.nfree >= c->n;
}

/* What the model says of one returned chain; fails the test on mismatch. */
static void random_settle(struct __test_metadata *_metadata,
			  struct vmt_rq_env *e, struct random_req *q,
			  const struct vmt_used *u, u64 nr)
{
	struct virtio_mem_resp resp;
	u16 want = ERROR, state = 0xffff;

	if (q->shape == SHAPE_SMALL_RESP) {
		ASSERT_EQ(0, u->len)
			TH_LOG("random request %llu (writable part < 10 bytes): used length %u",
			       (unsigned long long)nr, u->len);
		e->model.dropped++;
		return;
	}
	ASSERT_EQ(RESP_LEN, u->len)
		TH_LOG("random request %llu: used length %u",
		       (unsigned long long)nr, u->len);
	vmt_rq_gather(e, q->c.bufs, q->c.n, &resp, RESP_LEN);
	if (q->shape == SHAPE_OK)
		want = vmt_model_decide(&e->model, q->type, q->addr, q->nb,
					&state);
	ASSERT_EQ(want, le16toh(resp.type))
		TH_LOG("random request %llu (%s 0x%llx x %u, %s): expected %s, got %s",
		       (unsigned long long)nr, what_of(q->type),
		       (unsigned long long)q->addr, q->nb,
		       q->shape == SHAPE_OK ? "well formed" : "malformed",
		       vmt_mem_resp_name(want),
		       vmt_mem_resp_name(le16toh(resp.type)));
	if (q->shape != SHAPE_OK) {
		vmt_model_short_request(&e->model);
		return;
	}
	if (q->type == STATE && want == ACK)
		ASSERT_EQ(state, le16toh(resp.u.state.state))
			TH_LOG("random request %llu: STATE 0x%llx x %u: expected %s, got %s",
			       (unsigned long long)nr,
			       (unsigned long long)q->addr, q->nb,
			       vmt_mem_state_name(state),
			       vmt_mem_state_name(le16toh(resp.u.state.state)));
	vmt_model_apply(&e->model, q->type, q->addr, q->nb, want);
}

TEST_F_TIMEOUT(hostile, random_garbage, 300)
{
	struct vmt_rq_env *e = &self->e;
	static struct random_req qs[RANDOM_BATCH_MAX];
	const char *env = getenv("VHOST_MEM_TEST_SEED");
	u64 seed, sent = 0, batches = 0;
	unsigned int k, i, got;
	struct vmt_used u;

	seed = env ? strtoull(env, NULL, 0) : vmt_now_ns() ^ getpid();
	if (!seed)
		seed = 1;
	rnd_state = seed;
	TH_LOG("seed 0x%llx (VHOST_MEM_TEST_SEED=0x%llx repeats this run)",
	       (unsigned long long)seed, (unsigned long long)seed);

	while (sent < RANDOM_REQUESTS) {
		/* the VMM resizes now and then, sometimes wrongly */
		if (rnd_below(8) == 0) {
			u64 size = rnd_below(REGION_SIZE / BLK + 1) * BLK;

			if (rnd_below(10) == 0)
				size += rnd_below(2) ? 4096 : REGION_SIZE;
			vmt_rq_resize(e, size);
		}
		k = 1 + rnd_below(RANDOM_BATCH_MAX);
		for (i = 0; i < k && sent + i < RANDOM_REQUESTS; i++) {
			int head;

			if (!random_chain(e, &qs[i], i))
				break;
			head = __vmt_vq_add(&e->vq, qs[i].c.bufs, qs[i].c.n,
					    qs[i].c.flags, i + 1);
			ASSERT_LE(0, head);
			vmt_vq_publish(&e->vq, head);
		}
		k = i;
		vmt_vq_kick(&e->vq);
		for (got = 0; got < k; got++) {
			ASSERT_EQ(1, vmt_vq_wait_used(&e->vq, &u,
						      vmt_timeout_ms()))
				TH_LOG("batch %llu: %u of %u chains came back (seed 0x%llx)",
				       (unsigned long long)batches, got, k,
				       (unsigned long long)seed);
			/* in ring order */
			ASSERT_EQ(got + 1, u.cookie)
				TH_LOG("batch %llu: used entry %u is chain %llu",
				       (unsigned long long)batches, got,
				       (unsigned long long)u.cookie - 1);
			random_settle(_metadata, e, &qs[got], &u, sent + got);
		}
		sent += k;
		vmt_vq_wait_errors(&e->vq, 0);
		if (++batches % 64 == 0)
			vmt_rq_check_status(e);
	}
	TH_LOG("%llu requests in %llu batches: ACKed %llu PLUG, %llu UNPLUG, %llu UNPLUG_ALL, %llu STATE; %llu NACK; %llu ERROR; %llu dropped; now %llu MiB plugged in %u memslots",
	       (unsigned long long)sent, (unsigned long long)batches,
	       (unsigned long long)e->model.requests[PLUG][ACK],
	       (unsigned long long)e->model.requests[UNPLUG][ACK],
	       (unsigned long long)e->model.requests[UNPLUG_ALL][ACK],
	       (unsigned long long)e->model.requests[STATE][ACK],
	       (unsigned long long)e->model.requests[PLUG][VIRTIO_MEM_RESP_NACK],
	       (unsigned long long)(e->model.requests[PLUG][ERROR] +
				    e->model.requests[UNPLUG][ERROR] +
				    e->model.requests[STATE][ERROR] +
				    e->model.requests[4][ERROR]),
	       (unsigned long long)e->model.dropped,
	       (unsigned long long)(e->model.plugged >> 20),
	       vmt_model_live_chunks(&e->model));
	vmt_rq_check_all(e);
	vmt_rq_send(e, UNPLUG_ALL, 0, 0, NULL);
	vmt_rq_resize(e, REGION_SIZE);
	still_works(e);
}

TEST_HARNESS_MAIN
