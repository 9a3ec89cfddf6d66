// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a hostile guest's chains that the vhost core
 * rejects, which stop the queue until the VMM resets it (here: a fresh
 * ring on the same device, or a new device): head or next index out of
 * range, loops, writable before readable, bad indirect tables, buffers
 * outside the guest's memory.
 */
#include "hostile.h"

/* The chain added to the ring (flags: __vmt_vq_add()'s), not published. */
static int add_unpublished(struct __test_metadata *_metadata,
			   struct vmt_rq_env *e, struct chain *c, u32 flags)
{
	int head = __vmt_vq_add(&e->vq, c->bufs, c->n, flags, 0);

	ASSERT_LE(0, head);
	return head;
}

/* The chain at head, broken, published: the vhost core must reject it. */
static void publish_stopped(struct __test_metadata *_metadata,
			    struct vmt_rq_env *e, u16 head, const char *shape)
{
	vmt_vq_publish(&e->vq, head);
	expect_stopped(_metadata, e, shape);
}

TEST_F(hostile, head_index_out_of_range)
{
	static const u16 heads[] = { VMT_VQ_NUM_DEFAULT, 1000, 0xffff };
	struct vmt_rq_env *e = &self->e;
	char shape[48];
	unsigned int i;

	for (i = 0; i < VMT_ARRAY_SIZE(heads); i++) {
		snprintf(shape, sizeof(shape), "head %u of %u", heads[i],
			 e->vq.num);
		publish_stopped(_metadata, e, heads[i], shape);
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
		head = add_unpublished(_metadata, e, &c, 0);
		d = vmt_vq_chain_desc(&e->vq, head, 0);
		d->next = htole16(nexts[i]);
		snprintf(shape, sizeof(shape), "next index %u", nexts[i]);
		publish_stopped(_metadata, e, head, shape);
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
	head = add_unpublished(_metadata, e, &c, 0);
	d = vmt_vq_chain_desc(&e->vq, head, c.n - 1);
	d->flags = htole16(VRING_DESC_F_NEXT);
	d->next = htole16(head);
	publish_stopped(_metadata, e, head, "a loop of readable descriptors");

	/* a descriptor that is its own next */
	memset(&c, 0, sizeof(c));
	add_resp(e, &c, 0, RESP_LEN, 10, 0);
	head = add_unpublished(_metadata, e, &c, 0);
	d = vmt_vq_chain_desc(&e->vq, head, 0);
	d->flags = htole16(VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
	d->next = htole16(head);
	publish_stopped(_metadata, e, head,
			"a writable descriptor chained to itself");

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
	head = add_unpublished(_metadata, e, &c, VMT_CHAIN_INDIRECT);
	d = vmt_vq_chain_desc(&e->vq, head, c.n - 1);
	d->flags = htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
	d->next = htole16(0);
	publish_stopped(_metadata, e, head, "an indirect table with no end");
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
	head = add_unpublished(_metadata, e, &c, 0);
	publish_stopped(_metadata, e, head, "the response before the request");

	head = add_unpublished(_metadata, e, &c, VMT_CHAIN_INDIRECT);
	publish_stopped(_metadata, e, head,
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
	head = add_unpublished(_metadata, e, &c, VMT_CHAIN_INDIRECT);
	e->vq.desc[head].len = htole32(16 * c.n - 1);
	publish_stopped(_metadata, e, head, "an indirect table of 31 bytes");

	head = add_unpublished(_metadata, e, &c, VMT_CHAIN_INDIRECT);
	e->vq.desc[head].len = 0;
	publish_stopped(_metadata, e, head, "an indirect table of 0 bytes");

	/* an indirect descriptor inside the table */
	head = add_unpublished(_metadata, e, &c, VMT_CHAIN_INDIRECT);
	d = vmt_vq_chain_desc(&e->vq, head, 0);
	d->flags = htole16(VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT);
	publish_stopped(_metadata, e, head, "a nested indirect table");

	/* a table outside the guest's memory (the device region itself) */
	head = add_unpublished(_metadata, e, &c, VMT_CHAIN_INDIRECT);
	e->vq.desc[head].addr = htole64(vmt_rq_gpa(e, 0));
	publish_stopped(_metadata, e, head,
			"an indirect table at a GPA vhost cannot map");
}

TEST_F(hostile, buffers_outside_guest_memory)
{
	struct vmt_rq_env *e = &self->e;
	struct vring_desc *d;
	struct chain c;
	int head;

	/* the request in the device region: not in the memory table */
	make_chain(e, &c, 0, PLUG, vmt_rq_gpa(e, 8), 1, 24, 0, 10, 0);
	head = add_unpublished(_metadata, e, &c, 0);
	vmt_vq_chain_desc(&e->vq, head, 0)->addr = htole64(vmt_rq_gpa(e, 0));
	publish_stopped(_metadata, e, head,
			"a request buffer at a GPA vhost cannot map");

	/* the response near 2^64 */
	head = add_unpublished(_metadata, e, &c, 0);
	vmt_vq_chain_desc(&e->vq, head, 1)->addr =
		htole64(0xfffffffffffffff8ULL);
	publish_stopped(_metadata, e, head, "a response buffer at 2^64 - 8");

	/* a length running past the end of boot RAM */
	head = add_unpublished(_metadata, e, &c, 0);
	d = vmt_vq_chain_desc(&e->vq, head, 1);
	d->len = htole32(0xffffffff);
	publish_stopped(_metadata, e, head, "a response buffer of 4 GiB - 1");
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

TEST_HARNESS_MAIN
