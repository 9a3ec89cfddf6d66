/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: what the hostile_*_test programs share: a device
 * with a small region (16 blocks in chunks of 4), chains built by hand in
 * the environment's area of boot RAM, and checks of what the device made
 * of them: an answer, an ERROR for a short request, a dropped chain, a
 * stopped queue; and that valid requests still work.  Whatever the guest
 * sends, the host must not crash (the VM runner fails on any kernel
 * WARNING or oops, and each case also reads the kernel log).  Include it
 * instead of kselftest_harness.h.
 */
#ifndef VMT_HOSTILE_H
#define VMT_HOSTILE_H

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
static inline void add_req(struct vmt_rq_env *e, struct chain *c, unsigned int slot,
			   const u8 *req, u32 len, u32 piece, u32 gap, bool write)
{
	vmt_rq_scatter(e, c->bufs, &c->n, vmt_rq_slot_gpa(e, slot), req, len,
		       piece, gap, write);
}

/* A device-writable response buffer of len bytes, poisoned. */
static inline void add_resp(struct vmt_rq_env *e, struct chain *c, unsigned int slot,
			    u32 len, u32 piece, u32 gap)
{
	vmt_rq_scatter(e, c->bufs, &c->n, vmt_rq_slot_gpa(e, slot) + RESP_OFF,
		       NULL, len, piece, gap, true);
}

/* The usual chain: 24 readable bytes, 10 writable, split as asked. */
static inline void make_chain(struct vmt_rq_env *e, struct chain *c, unsigned int slot,
			      u16 type, u64 addr, u16 nb, u32 req_piece, u32 req_gap,
			      u32 resp_piece, u32 resp_gap)
{
	u8 req[REQ_LEN];

	memset(c, 0, sizeof(*c));
	vmt_rq_encode(req, type, addr, nb);
	add_req(e, c, slot, req, REQ_LEN, req_piece, req_gap, false);
	add_resp(e, c, slot, RESP_LEN, resp_piece, resp_gap);
}

static inline const char *what_of(u16 type)
{
	return type <= STATE ? vmt_mem_req_name(type) : "unknown type";
}

/* The chain is answered as the model says (a valid request). */
static inline void expect_answer(struct __test_metadata *_metadata,
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
static inline void expect_answer_patched(struct __test_metadata *_metadata,
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
static inline void expect_short(struct __test_metadata *_metadata,
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
static inline void expect_dropped(struct __test_metadata *_metadata,
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
static inline void still_works(struct vmt_rq_env *e)
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
static inline void expect_stopped(struct __test_metadata *_metadata,
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

#endif /* VMT_HOSTILE_H */
