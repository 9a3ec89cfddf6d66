// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a hostile guest.
 *
 * The guest controls the descriptor chains and every byte of the requests.
 * Whatever it sends, the host must not crash (the VM runner fails on any
 * kernel WARNING or oops, and each case also reads the kernel log), the
 * device's state must not change beyond what a valid request would do, and
 * valid requests must keep working afterwards.
 *
 * - chains the device answers: any split of the request and of the
 *   response, indirect tables, extra bytes, request and response in the
 *   same buffer, garbage in the padding;
 * - chains the device answers ERROR (counted as an unknown request): a
 *   request shorter than 24 bytes, or in device-writable memory;
 * - chains the device cannot answer (used length 0, counted in dropped,
 *   reported on the vring error eventfd): a response buffer shorter than
 *   10 bytes or device-readable;
 * - chains the vhost core rejects, which stop the queue until the VMM
 *   resets it (here: a fresh ring on the same device, or a new device):
 *   head or next index out of range, loops, writable before readable, bad
 *   indirect tables, buffers outside the guest's memory;
 * - values: unknown types, nb_blocks 0 and 65535, addresses near 2^64;
 * - 10000 random requests and chains against the model of the device.
 */
#include <endian.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmt.h"
#include "req_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

#define REGION_SIZE	(32ULL << 20)	/* 16 blocks */
#define CHUNK_SIZE	(8ULL << 20)	/* 4 blocks per chunk */
#define REQUESTED	(16ULL << 20)
#define RESP_OFF	512		/* of the response in an area slot */
#define STOP_WAIT_MS	300

#define RESP_LEN	((u32)sizeof(struct virtio_mem_resp))
#define REQ_LEN		((u32)sizeof(struct virtio_mem_req))

/* A chain under construction. */
struct chain {
	struct vmt_buf bufs[VMT_VQ_MAX_CHAIN];
	unsigned int n;
	unsigned int flags;
};

/* The request bytes (len of them, cut into pieces) at area slot `slot`. */
static void add_req(struct vmt_rq_env *e, struct chain *c, unsigned int slot,
		    const u8 *req, u32 len, u32 piece, u32 gap, bool write)
{
	vmt_rq_scatter(e, c->bufs, &c->n, vmt_rq_slot_gpa(e, slot), req, len,
		       piece, gap, write);
}

/* A device-writable response buffer of len bytes, poisoned. */
static void add_resp(struct vmt_rq_env *e, struct chain *c, unsigned int slot,
		     u32 len, u32 piece, u32 gap)
{
	vmt_rq_scatter(e, c->bufs, &c->n, vmt_rq_slot_gpa(e, slot) + RESP_OFF,
		       NULL, len, piece, gap, true);
}

/* The usual chain: 24 readable bytes, 10 writable, split as asked. */
static void make_chain(struct vmt_rq_env *e, struct chain *c, unsigned int slot,
		       u16 type, u64 addr, u16 nb, u32 req_piece, u32 req_gap,
		       u32 resp_piece, u32 resp_gap)
{
	u8 req[REQ_LEN];

	memset(c, 0, sizeof(*c));
	vmt_rq_encode(req, type, addr, nb);
	add_req(e, c, slot, req, REQ_LEN, req_piece, req_gap, false);
	add_resp(e, c, slot, RESP_LEN, resp_piece, resp_gap);
}

static const char *what_of(u16 type)
{
	return type <= STATE ? vmt_mem_req_name(type) : "unknown type";
}

/* The chain is answered as the model says (a valid request). */
static void expect_answer(struct __test_metadata *_metadata,
			  struct vmt_rq_env *e, struct chain *c, u16 type,
			  u64 addr, u16 nb, const char *shape)
{
	struct virtio_mem_resp resp;
	u16 want, state = 0xffff;
	struct vmt_used u;

	want = vmt_model_decide(&e->model, type, addr, nb, &state);
	ASSERT_EQ(1, vmt_rq_raw(e, c->bufs, c->n, c->flags, &u,
				vmt_timeout_ms()))
		TH_LOG("%s 0x%llx x %u as %s: no answer", what_of(type),
		       (unsigned long long)addr, nb, shape);
	EXPECT_EQ(RESP_LEN, u.len)
		TH_LOG("%s as %s: used length %u, expected %u", what_of(type),
		       shape, u.len, RESP_LEN);
	vmt_rq_gather(e, c->bufs, c->n, &resp, RESP_LEN);
	ASSERT_EQ(want, le16toh(resp.type))
		TH_LOG("%s 0x%llx x %u as %s: expected %s, got %s (0x%x)",
		       what_of(type), (unsigned long long)addr, nb, shape,
		       vmt_mem_resp_name(want),
		       vmt_mem_resp_name(le16toh(resp.type)),
		       le16toh(resp.type));
	if (type == STATE && want == ACK)
		ASSERT_EQ(state, le16toh(resp.u.state.state))
			TH_LOG("STATE as %s: expected %s, got %s", shape,
			       vmt_mem_state_name(state),
			       vmt_mem_state_name(le16toh(resp.u.state.state)));
	vmt_model_apply(&e->model, type, addr, nb, want);
}

/*
 * As expect_answer(), with descriptor i of the chain changed before it is
 * published: next set to `next`, and NEXT cleared if clear_next.
 */
static void expect_answer_patched(struct __test_metadata *_metadata,
				  struct vmt_rq_env *e, struct chain *c,
				  int want_head, unsigned int i, u16 next,
				  bool clear_next, u16 type, u64 addr, u16 nb,
				  const char *shape)
{
	struct virtio_mem_resp resp;
	u16 want, state = 0xffff;
	struct vring_desc *d;
	struct vmt_used u;
	int head;

	want = vmt_model_decide(&e->model, type, addr, nb, &state);
	head = __vmt_vq_add(&e->vq, c->bufs, c->n, c->flags, 0);
	ASSERT_EQ(want_head, head);
	d = vmt_vq_chain_desc(&e->vq, head, i);
	d->next = htole16(next);
	if (clear_next)
		d->flags &= ~htole16(VRING_DESC_F_NEXT);
	vmt_vq_publish(&e->vq, head);
	vmt_vq_kick(&e->vq);
	ASSERT_EQ(1, vmt_vq_wait_used(&e->vq, &u, vmt_timeout_ms()))
		TH_LOG("%s: no answer", shape);
	ASSERT_EQ(head, u.id);
	EXPECT_EQ(RESP_LEN, u.len) TH_LOG("%s: used length %u", shape, u.len);
	vmt_rq_gather(e, c->bufs, c->n, &resp, RESP_LEN);
	ASSERT_EQ(want, le16toh(resp.type))
		TH_LOG("%s: expected %s, got %s", shape,
		       vmt_mem_resp_name(want),
		       vmt_mem_resp_name(le16toh(resp.type)));
	vmt_model_apply(&e->model, type, addr, nb, want);
	vmt_rq_check_status(e);
}

/* The chain is answered ERROR and counted as an unknown request. */
static void expect_short(struct __test_metadata *_metadata,
			 struct vmt_rq_env *e, struct chain *c,
			 const char *shape)
{
	struct virtio_mem_resp resp;
	struct vmt_used u;

	ASSERT_EQ(1, vmt_rq_raw(e, c->bufs, c->n, c->flags, &u,
				vmt_timeout_ms()))
		TH_LOG("%s: no answer", shape);
	EXPECT_EQ(RESP_LEN, u.len) TH_LOG("%s: used length %u, expected %u",
					  shape, u.len, RESP_LEN);
	vmt_rq_gather(e, c->bufs, c->n, &resp, RESP_LEN);
	ASSERT_EQ(ERROR, le16toh(resp.type))
		TH_LOG("%s: expected ERROR, got %s (0x%x)", shape,
		       vmt_mem_resp_name(le16toh(resp.type)),
		       le16toh(resp.type));
	vmt_model_short_request(&e->model);
	vmt_vq_wait_errors(&e->vq, 0);
	vmt_rq_check_status(e);
}

/* Returned unanswered: used length 0, dropped, an error on the eventfd. */
static void expect_dropped(struct __test_metadata *_metadata,
			   struct vmt_rq_env *e, struct chain *c,
			   const char *shape)
{
	struct vmt_used u;
	unsigned int i;
	u32 j;

	vmt_vq_wait_errors(&e->vq, 0);
	ASSERT_EQ(1, vmt_rq_raw(e, c->bufs, c->n, c->flags, &u,
				vmt_timeout_ms()))
		TH_LOG("%s: the chain was not returned", shape);
	EXPECT_EQ(0, u.len) TH_LOG("%s: used length %u, expected 0", shape,
				   u.len);
	/* nothing was written into the response buffers */
	for (i = 0; i < c->n; i++) {
		const u8 *p = vmt_gpa2hva(e->vm, c->bufs[i].gpa);

		if ((c->bufs[i].gpa - e->area_gpa) % VMT_RQ_AREA_SLOT <
		    RESP_OFF)
			continue;	/* the request */
		for (j = 0; j < c->bufs[i].len; j++)
			ASSERT_EQ(VMT_MEM_RESP_POISON, p[j])
				TH_LOG("%s: byte %u of buffer %u was written",
				       shape, j, i);
	}
	EXPECT_LE(1, vmt_vq_wait_errors(&e->vq, vmt_timeout_ms()))
		TH_LOG("%s: nothing on the vring error eventfd", shape);
	e->model.dropped++;
	vmt_rq_check_status(e);
}

/* The state is what the model says, and a valid request still works. */
static void still_works(struct vmt_rq_env *e)
{
	vmt_rq_check_all(e);
	TEST_ASSERT(vmt_rq_send(e, PLUG, vmt_rq_gpa(e, 12), 1, NULL) == ACK,
		    "a valid PLUG after the hostile chains was not ACKed");
	TEST_ASSERT(vmt_rq_send(e, UNPLUG, vmt_rq_gpa(e, 12), 1, NULL) == ACK,
		    "a valid UNPLUG after the hostile chains was not ACKed");
	vmt_rq_check_status(e);
}

/*
 * The vhost core rejected what was published: nothing comes back, an error
 * is reported, a valid request behind it waits too, nothing changed.  Then
 * the VMM gives the device a fresh ring and everything works again.
 */
static void expect_stopped(struct __test_metadata *_metadata,
			   struct vmt_rq_env *e, const char *shape)
{
	struct vmt_mem_req behind = {
		.type = STATE, .addr = vmt_rq_gpa(e, 0), .nb_blocks = 1,
	};
	struct vmt_used u;
	u16 used = vmt_vq_used_idx(&e->vq);

	vmt_vq_kick_force(&e->vq);
	EXPECT_EQ(0, vmt_vq_wait_used(&e->vq, &u, STOP_WAIT_MS))
		TH_LOG("%s: the chain came back (head %u, length %u), expected the vhost core to reject it",
		       shape, u.id, u.len);
	EXPECT_LE(1, vmt_vq_wait_errors(&e->vq, vmt_timeout_ms()))
		TH_LOG("%s: nothing on the vring error eventfd", shape);
	ASSERT_LE(0, __vmt_mem_queue(&e->vq, &behind));
	vmt_vq_kick_force(&e->vq);
	vmt_sleep_ms(STOP_WAIT_MS);
	EXPECT_EQ(used, vmt_vq_used_idx(&e->vq))
		TH_LOG("%s: the queue went on past the rejected chain", shape);
	vmt_rq_check_status(e);
	vmt_rq_check_guest(e);

	vmt_rq_env_reattach(e);
	vmt_vq_wait_errors(&e->vq, 0);
	still_works(e);
}

FIXTURE(hostile) {
	struct vmt_rq_env e;
};

FIXTURE_SETUP(hostile)
{
	struct vmt_rq_env *e = &self->e;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(e, VMT_BACKING_ANON, REGION_SIZE, ~0ULL);
	e->region.chunk_size = CHUNK_SIZE;
	vmt_rq_env_start(e, REQUESTED);
	/* some state to keep: blocks 0, 1 and 5 in chunks 0 and 1 */
	TEST_ASSERT(vmt_rq_send(e, PLUG, vmt_rq_gpa(e, 0), 2, NULL) == ACK,
		    "set-up PLUG");
	TEST_ASSERT(vmt_rq_send(e, PLUG, vmt_rq_gpa(e, 5), 1, NULL) == ACK,
		    "set-up PLUG");
	*(u64 *)vmt_rq_hva(e, 5) = 0x1234;
}

FIXTURE_TEARDOWN(hostile)
{
	vmt_rq_env_free(&self->e);
}

/* ------------------------------------------------------------------ */
/* Chains that are answered                                           */
/* ------------------------------------------------------------------ */

/* Any split of the request and of the response is legal. */
TEST_F(hostile, split_request_and_response)
{
	static const struct { u32 piece, gap; } req_splits[] = {
		{ 1, 1 }, { 1, 0 }, { 2, 3 }, { 3, 0 }, { 5, 7 }, { 8, 16 },
		{ 23, 1 }, { 12, 100 }, { 24, 0 },
	}, resp_splits[] = {
		{ 1, 1 }, { 1, 0 }, { 9, 3 }, { 3, 2 }, { 2, 0 }, { 10, 0 },
	};
	struct vmt_rq_env *e = &self->e;
	unsigned int i, j, k, ind;
	char shape[96];
	struct chain c;
	const struct { u16 type; u64 block; u16 nb; } reqs[] = {
		{ STATE, 0, 2 }, { PLUG, 8, 1 }, { STATE, 7, 2 },
		{ UNPLUG, 8, 1 }, { PLUG, 0, 1 }, { 9, 0, 1 },
	};

	for (ind = 0; ind < 2; ind++)
		for (i = 0; i < VMT_ARRAY_SIZE(req_splits); i++)
			for (j = 0; j < VMT_ARRAY_SIZE(resp_splits); j++) {
				k = (i + j) % VMT_ARRAY_SIZE(reqs);
				make_chain(e, &c, 0, reqs[k].type,
					   vmt_rq_gpa(e, reqs[k].block),
					   reqs[k].nb, req_splits[i].piece,
					   req_splits[i].gap,
					   resp_splits[j].piece,
					   resp_splits[j].gap);
				c.flags = ind ? VMT_CHAIN_INDIRECT : 0;
				snprintf(shape, sizeof(shape),
					 "%s%u descriptors (request in %u-byte pieces, response in %u-byte pieces)",
					 ind ? "an indirect table of " : "",
					 c.n, req_splits[i].piece,
					 resp_splits[j].piece);
				expect_answer(_metadata, e, &c, reqs[k].type,
					      vmt_rq_gpa(e, reqs[k].block),
					      reqs[k].nb, shape);
			}
	still_works(e);
}

TEST_F(hostile, empty_descriptors_extra_bytes_and_overlap)
{
	struct vmt_rq_env *e = &self->e;
	u8 req[64];
	struct chain c;
	const u8 *resp;
	unsigned int i;

	/* zero-length descriptors around both parts */
	memset(&c, 0, sizeof(c));
	vmt_rq_encode(req, PLUG, vmt_rq_gpa(e, 9), 1);
	add_req(e, &c, 0, req, 0, 1, 0, false);
	add_req(e, &c, 1, req, REQ_LEN, 10, 4, false);
	add_req(e, &c, 2, req, 0, 1, 0, false);
	add_resp(e, &c, 3, 0, 1, 0);
	add_resp(e, &c, 0, RESP_LEN, 4, 4);
	add_resp(e, &c, 4, 0, 1, 0);
	expect_answer(_metadata, e, &c, PLUG, vmt_rq_gpa(e, 9), 1,
		      "zero-length descriptors");

	/* 64 readable bytes (garbage after the 24), 100 writable */
	memset(&c, 0, sizeof(c));
	vmt_rq_encode(req, STATE, vmt_rq_gpa(e, 8), 2);
	for (i = REQ_LEN; i < sizeof(req); i++)
		req[i] = 0xc0 + i;
	add_req(e, &c, 0, req, sizeof(req), 64, 0, false);
	add_resp(e, &c, 0, 100, 100, 0);
	expect_answer(_metadata, e, &c, STATE, vmt_rq_gpa(e, 8), 2,
		      "a 64-byte request and a 100-byte response buffer");
	resp = vmt_gpa2hva(e->vm, vmt_rq_slot_gpa(e, 0) + RESP_OFF);
	for (i = RESP_LEN; i < 100; i++)
		ASSERT_EQ(VMT_MEM_RESP_POISON, resp[i])
			TH_LOG("byte %u of a 100-byte response buffer was written",
			       i);

	/* garbage in both padding fields: ignored */
	memset(&c, 0, sizeof(c));
	vmt_rq_encode(req, UNPLUG, vmt_rq_gpa(e, 9), 1);
	memset(req + 2, 0xff, 6);
	memset(req + 18, 0xee, 6);
	add_req(e, &c, 0, req, REQ_LEN, 24, 0, false);
	add_resp(e, &c, 0, RESP_LEN, 10, 0);
	expect_answer(_metadata, e, &c, UNPLUG, vmt_rq_gpa(e, 9), 1,
		      "non-zero padding");

	/* the response written over the request it answers */
	memset(&c, 0, sizeof(c));
	vmt_rq_encode(req, STATE, vmt_rq_gpa(e, 0), 2);
	add_req(e, &c, 0, req, REQ_LEN, 24, 0, false);
	c.bufs[c.n++] = (struct vmt_buf){ vmt_rq_slot_gpa(e, 0), RESP_LEN,
					  true };
	expect_answer(_metadata, e, &c, STATE, vmt_rq_gpa(e, 0), 2,
		      "the response buffer over the request buffer");
	still_works(e);
}

/* Shorter than 24 bytes: ERROR, counted as unknown, never executed. */
TEST_F(hostile, request_too_short)
{
	static const u32 lens[] = { 1, 2, 8, 16, 18, 23 };
	struct vmt_rq_env *e = &self->e;
	char shape[64];
	struct chain c;
	u8 req[REQ_LEN];
	unsigned int i;

	/* a valid PLUG of block 8, cut short */
	vmt_rq_encode(req, PLUG, vmt_rq_gpa(e, 8), 1);
	for (i = 0; i < VMT_ARRAY_SIZE(lens); i++) {
		memset(&c, 0, sizeof(c));
		add_req(e, &c, 0, req, lens[i], 7, 1, false);
		add_resp(e, &c, 0, RESP_LEN, 10, 0);
		snprintf(shape, sizeof(shape), "a PLUG cut to %u bytes",
			 lens[i]);
		expect_short(_metadata, e, &c, shape);
	}
	/* no device-readable part at all */
	memset(&c, 0, sizeof(c));
	add_resp(e, &c, 0, RESP_LEN, 10, 0);
	expect_short(_metadata, e, &c, "a chain with no request");
	/* the same, indirect */
	memset(&c, 0, sizeof(c));
	add_req(e, &c, 0, req, 20, 3, 0, false);
	add_resp(e, &c, 0, RESP_LEN, 2, 0);
	c.flags = VMT_CHAIN_INDIRECT;
	expect_short(_metadata, e, &c, "an indirect PLUG cut to 20 bytes");
	still_works(e);
}

/* A request in device-writable memory is no request: ERROR. */
TEST_F(hostile, request_in_writable_buffer)
{
	struct vmt_rq_env *e = &self->e;
	struct chain c;
	u8 req[REQ_LEN];

	vmt_rq_encode(req, PLUG, vmt_rq_gpa(e, 8), 1);
	memset(&c, 0, sizeof(c));
	add_req(e, &c, 0, req, REQ_LEN, 24, 0, true);
	add_resp(e, &c, 0, RESP_LEN, 10, 0);
	expect_short(_metadata, e, &c, "a PLUG in a device-writable buffer");
	still_works(e);
}

/* A response that cannot be written: returned unanswered, not executed. */
TEST_F(hostile, response_buffer_unusable)
{
	static const struct { u32 len, piece; } resps[] = {
		{ 0, 1 }, { 1, 1 }, { 4, 4 }, { 9, 9 }, { 9, 5 }, { 9, 1 },
	};
	struct vmt_rq_env *e = &self->e;
	char shape[80];
	struct chain c;
	u8 req[REQ_LEN];
	unsigned int i;

	vmt_rq_encode(req, PLUG, vmt_rq_gpa(e, 8), 1);
	for (i = 0; i < VMT_ARRAY_SIZE(resps); i++) {
		memset(&c, 0, sizeof(c));
		add_req(e, &c, 0, req, REQ_LEN, 24, 0, false);
		if (resps[i].len)
			add_resp(e, &c, 0, resps[i].len, resps[i].piece, 1);
		c.flags = i % 2 ? VMT_CHAIN_INDIRECT : 0;
		snprintf(shape, sizeof(shape),
			 "a PLUG with %u writable bytes in %u-byte pieces%s",
			 resps[i].len, resps[i].piece,
			 c.flags ? " (indirect)" : "");
		expect_dropped(_metadata, e, &c, shape);
	}
	/* a response buffer the device may only read */
	memset(&c, 0, sizeof(c));
	add_req(e, &c, 0, req, REQ_LEN, 24, 0, false);
	vmt_rq_scatter(e, c.bufs, &c.n, vmt_rq_slot_gpa(e, 0) + RESP_OFF,
		       NULL, RESP_LEN, 10, 0, false);
	expect_dropped(_metadata, e, &c, "a device-readable response buffer");
	still_works(e);
}

/* Values no valid request has: ERROR, nothing changes. */
TEST_F(hostile, bad_values)
{
	static const u16 types[] = { PLUG, UNPLUG, STATE };
	static const u64 addrs[] = {
		0xffffffffffe00000ULL, 0xfffffffffff00000ULL,
		0xffffffffffffffffULL, 0xfffffffffffff000ULL,
		0x8000000000000000ULL, 0xfffffffffe000000ULL,
		0xffffffff00000000ULL,
	};
	static const u16 nbs[] = { 0, 1, 2, 0x100, 0x8000, 0xffff };
	static const u16 odd_types[] = { 4, 5, 0x80, 0xfffe, 0xffff };
	struct vmt_rq_env *e = &self->e;
	u64 before[VHOST_MEM_NR_REQ_TYPES][VHOST_MEM_NR_RESP_TYPES];
	struct vmt_mem_req reqs[64];
	unsigned int t, a, n, k = 0;

	memcpy(before, e->model.requests, sizeof(before));

	/* addresses near 2^64 */
	for (t = 0; t < VMT_ARRAY_SIZE(types); t++)
		for (a = 0; a < VMT_ARRAY_SIZE(addrs); a++)
			for (n = 0; n < VMT_ARRAY_SIZE(nbs); n++) {
				reqs[k++] = (struct vmt_mem_req){
					.type = types[t], .addr = addrs[a],
					.nb_blocks = nbs[n],
				};
				if (k == VMT_ARRAY_SIZE(reqs)) {
					vmt_rq_batch(e, reqs, k);
					k = 0;
				}
			}
	/* nb_blocks 0 and 65535 at and near the region */
	for (t = 0; t < VMT_ARRAY_SIZE(types); t++)
		for (a = 0; a <= 16; a += 4) {
			reqs[k++] = (struct vmt_mem_req){
				.type = types[t], .addr = vmt_rq_gpa(e, a),
			};
			reqs[k++] = (struct vmt_mem_req){
				.type = types[t], .addr = vmt_rq_gpa(e, a),
				.nb_blocks = 0xffff,
			};
		}
	vmt_rq_batch(e, reqs, k);
	k = 0;
	for (t = 0; t < VMT_ARRAY_SIZE(odd_types); t++)
		for (a = 0; a < 3; a++)
			reqs[k++] = (struct vmt_mem_req){
				.type = odd_types[t],
				.addr = a < 2 ? vmt_rq_gpa(e, a * 8) : addrs[0],
				.nb_blocks = a ? 0xffff : 1,
			};
	vmt_rq_batch(e, reqs, k);
	/* every one of them was an ERROR */
	for (t = 0; t < VHOST_MEM_NR_REQ_TYPES; t++) {
		for (n = 0; n < VHOST_MEM_NR_RESP_TYPES; n++) {
			if (n == ERROR ||
			    e->model.requests[t][n] == before[t][n])
				continue;
			TH_LOG("%llu bad values got answer %s to %s",
			       (unsigned long long)(e->model.requests[t][n] -
						    before[t][n]),
			       vmt_mem_resp_name(n),
			       t < 4 ? vmt_mem_req_name(t) : "unknown type");
			_metadata->exit_code = KSFT_FAIL;
		}
	}
	still_works(e);
}

/* ------------------------------------------------------------------ */
/* Chains the vhost core rejects: the queue stops                     */
/* ------------------------------------------------------------------ */

TEST_F(hostile, head_index_out_of_range)
{
	static const u16 heads[] = { VMT_VQ_NUM_DEFAULT, 1000, 0xffff };
	struct vmt_rq_env *e = &self->e;
	char shape[48];
	unsigned int i;

	for (i = 0; i < VMT_ARRAY_SIZE(heads); i++) {
		snprintf(shape, sizeof(shape), "head %u of %u", heads[i],
			 e->vq.num);
		vmt_vq_publish(&e->vq, heads[i]);
		expect_stopped(_metadata, e, shape);
	}
}

TEST_F(hostile, next_index_out_of_range)
{
	static const u16 nexts[] = { VMT_VQ_NUM_DEFAULT, 0x7fff, 0xffff };
	struct vmt_rq_env *e = &self->e;
	struct vring_desc *d;
	char shape[48];
	struct chain c;
	unsigned int i;
	int head;

	for (i = 0; i < VMT_ARRAY_SIZE(nexts); i++) {
		make_chain(e, &c, 0, PLUG, vmt_rq_gpa(e, 8), 1, 24, 0, 10, 0);
		head = __vmt_vq_add(&e->vq, c.bufs, c.n, 0, 0);
		ASSERT_LE(0, head);
		d = vmt_vq_chain_desc(&e->vq, head, 0);
		d->next = htole16(nexts[i]);
		vmt_vq_publish(&e->vq, head);
		snprintf(shape, sizeof(shape), "next index %u", nexts[i]);
		expect_stopped(_metadata, e, shape);
	}
}

TEST_F(hostile, descriptor_loops)
{
	struct vmt_rq_env *e = &self->e;
	struct vring_desc *d;
	struct chain c;
	u8 req[REQ_LEN];
	int head;

	/* readable descriptors that point back at the head */
	vmt_rq_encode(req, PLUG, vmt_rq_gpa(e, 8), 1);
	memset(&c, 0, sizeof(c));
	add_req(e, &c, 0, req, REQ_LEN, 8, 0, false);
	head = __vmt_vq_add(&e->vq, c.bufs, c.n, 0, 0);
	ASSERT_LE(0, head);
	d = vmt_vq_chain_desc(&e->vq, head, c.n - 1);
	d->flags = htole16(VRING_DESC_F_NEXT);
	d->next = htole16(head);
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "a loop of readable descriptors");

	/* a descriptor that is its own next */
	memset(&c, 0, sizeof(c));
	add_resp(e, &c, 0, RESP_LEN, 10, 0);
	head = __vmt_vq_add(&e->vq, c.bufs, c.n, 0, 0);
	ASSERT_LE(0, head);
	d = vmt_vq_chain_desc(&e->vq, head, 0);
	d->flags = htole16(VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
	d->next = htole16(head);
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "a writable descriptor chained to itself");

	/*
	 * In an indirect table vhost reads the entries in order and looks
	 * only at NEXT: a next index pointing back is no loop, the chain is
	 * answered as laid out.
	 */
	make_chain(e, &c, 0, PLUG, vmt_rq_gpa(e, 8), 1, 12, 0, 10, 0);
	c.flags = VMT_CHAIN_INDIRECT;
	head = __vmt_vq_peek_head(&e->vq);
	ASSERT_LE(0, head);
	/* vmt_rq_raw() adds it: break it in the table it will use */
	expect_answer_patched(_metadata, e, &c, head, 1, 0, false, PLUG,
			      vmt_rq_gpa(e, 8), 1,
			      "an indirect table whose next index points back");

	/* an indirect table whose last entry still says NEXT: a loop */
	head = __vmt_vq_add(&e->vq, c.bufs, c.n, VMT_CHAIN_INDIRECT, 0);
	ASSERT_LE(0, head);
	d = vmt_vq_chain_desc(&e->vq, head, c.n - 1);
	d->flags = htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
	d->next = htole16(0);
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "an indirect table with no end");
}

TEST_F(hostile, writable_before_readable)
{
	struct vmt_rq_env *e = &self->e;
	struct chain c;
	u8 req[REQ_LEN];
	int head;

	vmt_rq_encode(req, PLUG, vmt_rq_gpa(e, 8), 1);
	memset(&c, 0, sizeof(c));
	add_resp(e, &c, 0, RESP_LEN, 10, 0);
	add_req(e, &c, 0, req, REQ_LEN, 24, 0, false);
	head = __vmt_vq_add(&e->vq, c.bufs, c.n, 0, 0);
	ASSERT_LE(0, head);
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "the response before the request");

	head = __vmt_vq_add(&e->vq, c.bufs, c.n, VMT_CHAIN_INDIRECT, 0);
	ASSERT_LE(0, head);
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e,
		       "the response before the request (indirect)");
}

TEST_F(hostile, bad_indirect_tables)
{
	struct vmt_rq_env *e = &self->e;
	struct vring_desc *d;
	struct chain c;
	int head;

	/* a table length that is not a multiple of 16, and 0 */
	make_chain(e, &c, 0, PLUG, vmt_rq_gpa(e, 8), 1, 24, 0, 10, 0);
	head = __vmt_vq_add(&e->vq, c.bufs, c.n, VMT_CHAIN_INDIRECT, 0);
	ASSERT_LE(0, head);
	e->vq.desc[head].len = htole32(16 * c.n - 1);
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "an indirect table of 31 bytes");

	head = __vmt_vq_add(&e->vq, c.bufs, c.n, VMT_CHAIN_INDIRECT, 0);
	ASSERT_LE(0, head);
	e->vq.desc[head].len = 0;
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "an indirect table of 0 bytes");

	/* an indirect descriptor inside the table */
	head = __vmt_vq_add(&e->vq, c.bufs, c.n, VMT_CHAIN_INDIRECT, 0);
	ASSERT_LE(0, head);
	d = vmt_vq_chain_desc(&e->vq, head, 0);
	d->flags = htole16(VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT);
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "a nested indirect table");

	/* a table outside the guest's memory (the device region itself) */
	head = __vmt_vq_add(&e->vq, c.bufs, c.n, VMT_CHAIN_INDIRECT, 0);
	ASSERT_LE(0, head);
	e->vq.desc[head].addr = htole64(vmt_rq_gpa(e, 0));
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "an indirect table at a GPA vhost cannot map");
}

TEST_F(hostile, buffers_outside_guest_memory)
{
	struct vmt_rq_env *e = &self->e;
	struct vring_desc *d;
	struct chain c;
	int head;

	/* the request in the device region: not in the memory table */
	make_chain(e, &c, 0, PLUG, vmt_rq_gpa(e, 8), 1, 24, 0, 10, 0);
	head = __vmt_vq_add(&e->vq, c.bufs, c.n, 0, 0);
	ASSERT_LE(0, head);
	vmt_vq_chain_desc(&e->vq, head, 0)->addr = htole64(vmt_rq_gpa(e, 0));
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "a request buffer at a GPA vhost cannot map");

	/* the response near 2^64 */
	head = __vmt_vq_add(&e->vq, c.bufs, c.n, 0, 0);
	ASSERT_LE(0, head);
	vmt_vq_chain_desc(&e->vq, head, 1)->addr =
		htole64(0xfffffffffffffff8ULL);
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "a response buffer at 2^64 - 8");

	/* a length running past the end of boot RAM */
	head = __vmt_vq_add(&e->vq, c.bufs, c.n, 0, 0);
	ASSERT_LE(0, head);
	d = vmt_vq_chain_desc(&e->vq, head, 1);
	d->len = htole32(0xffffffff);
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, "a response buffer of 4 GiB - 1");
}

/* After the queue stopped, a new device on the same VM works. */
TEST_F(hostile, new_device_after_stopped_queue)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_used u;
	u64 val;

	vmt_vq_publish(&e->vq, 0xffff);
	vmt_vq_kick_force(&e->vq);
	EXPECT_EQ(0, vmt_vq_wait_used(&e->vq, &u, STOP_WAIT_MS));
	EXPECT_LE(1, vmt_vq_wait_errors(&e->vq, vmt_timeout_ms()));
	vmt_rq_check_status(e);

	vmt_rq_env_recreate(e, REQUESTED);
	EXPECT_EQ(VMT_ACCESS_MMIO, vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, 5),
						      &val))
		TH_LOG("block 5 of the closed device is still mapped");
	ASSERT_EQ(ACK, vmt_rq_send(e, PLUG, vmt_rq_gpa(e, 5), 1, NULL));
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(e->vm, vmt_rq_gpa(e, 5),
						    &val));
	still_works(e);
}

/* ------------------------------------------------------------------ */
/* Random garbage against the model                                   */
/* ------------------------------------------------------------------ */

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
