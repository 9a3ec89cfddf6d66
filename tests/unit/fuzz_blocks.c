// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for kernel/blocks.c.
 *
 * The input picks a geometry (sane or raw hostile values for init), then a
 * sequence of resizes, requests (hostile addresses, sizes, types, busy,
 * host failures that skip the commit) and range walks.  Every answer is
 * compared with a slow reference model written independently from the
 * rules (128-bit arithmetic, one bool per block), and the invariants are
 * checked after every step.
 */
#include <stdio.h>

#include "blocks.h"

#define MiB	(1ULL << 20)
#define GiB	(1ULL << 30)

#define CHECK(cond) do {							\
	if (!(cond)) {								\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,	\
			#cond);							\
		abort();							\
	}									\
} while (0)

struct input {
	const u8 *data;
	size_t size;
};

static u64 take(struct input *in, unsigned int bytes)
{
	u64 value = 0;

	while (bytes--) {
		value <<= 8;
		if (in->size) {
			value |= *in->data++;
			in->size--;
		}
	}
	return value;
}

/* The reference: geometry copied from init's arguments, one bool a block. */
struct model {
	u64 addr, region, block, chunk, nr_blocks, blocks_per_chunk, nr_chunks;
	u64 requested, usable;
	bool *plugged;
};

static bool pow2(u64 v)
{
	return v && !(v & (v - 1));
}

static int model_init_errno(u64 addr, u64 region, u64 block, u64 chunk)
{
	u64 nr_blocks, blocks_per_chunk;

	if (!pow2(block) || block < VHOST_MEM_MIN_BLOCK_SIZE)
		return -EINVAL;
	if (!addr || addr % block || !region || region % block)
		return -EINVAL;
	if ((__uint128_t)addr + region >= (__uint128_t)1 << 64)
		return -EOVERFLOW;
	if (!chunk)
		chunk = block > GiB ? block : GiB;
	else if (!pow2(chunk) || chunk < block)
		return -EINVAL;
	nr_blocks = region / block;
	blocks_per_chunk = chunk / block;
	if (nr_blocks > VHOST_MEM_BLOCKS_MAX_BLOCKS ||
	    (nr_blocks + blocks_per_chunk - 1) / blocks_per_chunk > VHOST_MEM_BLOCKS_MAX_CHUNKS)
		return -EINVAL;
	return 0;
}

static u64 model_usable_for(const struct model *m, u64 requested)
{
	__uint128_t size;

	if (!requested)
		return 0;
	size = (__uint128_t)requested + VHOST_MEM_USABLE_EXTENT;
	size = (size + m->block - 1) / m->block * m->block;
	return size < m->region ? (u64)size : m->region;
}

static u64 model_plugged_blocks(const struct model *m, u64 first, u64 end)
{
	u64 i, n = 0;

	for (i = first; i < end && i < m->nr_blocks; i++)
		n += m->plugged[i];
	return n;
}

static u64 model_chunk_end(const struct model *m, u64 chunk)
{
	__uint128_t end = (__uint128_t)(chunk + 1) * m->blocks_per_chunk;

	return end < m->nr_blocks ? (u64)end : m->nr_blocks;
}

static u64 model_chunk_plugged(const struct model *m, u64 chunk)
{
	if (chunk >= m->nr_chunks)
		return 0;
	return model_plugged_blocks(m, chunk * m->blocks_per_chunk, model_chunk_end(m, chunk));
}

struct model_answer {
	u16 resp, state;
	u64 first, nr;
};

static void model_decide(const struct model *m, u16 type, u64 addr, u16 nb, bool busy,
			 struct model_answer *a)
{
	u64 plugged = model_plugged_blocks(m, 0, m->nr_blocks);
	u64 i, in_state = 0;
	bool plug = type == VIRTIO_MEM_REQ_PLUG;

	memset(a, 0, sizeof(*a));
	if (type > VIRTIO_MEM_REQ_STATE) {
		a->resp = VIRTIO_MEM_RESP_ERROR;
		return;
	}
	if (type == VIRTIO_MEM_REQ_UNPLUG_ALL) {
		a->resp = busy && plugged ? VIRTIO_MEM_RESP_BUSY : VIRTIO_MEM_RESP_ACK;
		if (a->resp == VIRTIO_MEM_RESP_ACK)
			a->nr = m->nr_blocks;
		return;
	}
	if (!nb || addr % m->block || addr < m->addr ||
	    (__uint128_t)addr + (__uint128_t)nb * m->block > (__uint128_t)m->addr + m->usable) {
		a->resp = VIRTIO_MEM_RESP_ERROR;
		return;
	}
	a->first = (addr - m->addr) / m->block;
	a->nr = nb;
	for (i = a->first; i < a->first + nb; i++)
		in_state += m->plugged[i];

	if (type == VIRTIO_MEM_REQ_STATE) {
		a->resp = VIRTIO_MEM_RESP_ACK;
		a->state = in_state == nb ? VIRTIO_MEM_STATE_PLUGGED :
			   !in_state ? VIRTIO_MEM_STATE_UNPLUGGED : VIRTIO_MEM_STATE_MIXED;
		return;
	}
	if (plug && (__uint128_t)(plugged + nb) * m->block > m->requested)
		a->resp = VIRTIO_MEM_RESP_NACK;
	else if (plug ? in_state != 0 : in_state != nb)
		a->resp = VIRTIO_MEM_RESP_ERROR;
	else if (busy)
		a->resp = VIRTIO_MEM_RESP_BUSY;
	else
		a->resp = VIRTIO_MEM_RESP_ACK;
	if (a->resp != VIRTIO_MEM_RESP_ACK)
		a->first = a->nr = 0;
}

static void model_commit(struct model *m, u16 type, const struct model_answer *a)
{
	u64 i;

	if (type == VIRTIO_MEM_REQ_UNPLUG_ALL) {
		memset(m->plugged, 0, m->nr_blocks);
		m->usable = model_usable_for(m, m->requested);
		return;
	}
	for (i = a->first; i < a->first + a->nr; i++)
		m->plugged[i] = type == VIRTIO_MEM_REQ_PLUG;
}

static void check_invariants(const struct vhost_mem_blocks *b, const struct model *m)
{
	u64 i, plugged = 0, usable_blocks;

	CHECK(b->requested_size == m->requested);
	CHECK(b->usable_size == m->usable);
	CHECK(b->usable_size >= b->requested_size);
	CHECK(b->usable_size <= b->region_size);
	CHECK(b->usable_size % b->block_size == 0);
	CHECK(b->requested_size % b->block_size == 0);

	usable_blocks = b->usable_size / b->block_size;
	for (i = 0; i < b->nr_blocks; i++) {
		CHECK(vhost_mem_blocks_is_plugged(b, i) == m->plugged[i]);
		/* Only UNPLUG_ALL shrinks usable, and it unplugs everything. */
		if (m->plugged[i])
			CHECK(i < usable_blocks);
		plugged += m->plugged[i];
	}
	CHECK(b->plugged_size == plugged * b->block_size);
	CHECK(bitmap_weight(b->plugged, b->nr_blocks) == plugged);
	/* Nothing beyond the last block in the bitmap's last word. */
	CHECK(find_next_bit(b->plugged, BITS_TO_LONGS(b->nr_blocks) * BITS_PER_LONG,
			    b->nr_blocks) >= b->nr_blocks);
	for (i = 0; i < b->nr_chunks; i++) {
		CHECK(b->chunk_plugged[i] == model_chunk_plugged(m, i));
		CHECK(vhost_mem_blocks_chunk_is_empty(b, i) == !model_chunk_plugged(m, i));
	}
}

static void check_chunk_helpers(const struct vhost_mem_blocks *b, const struct model *m,
				const struct vhost_mem_plan *plan, const struct model *after)
{
	u64 c;

	for (c = 0; c < b->nr_chunks + 2; c++) {
		u64 before_n = model_chunk_plugged(m, c), after_n = model_chunk_plugged(after, c);
		bool populates = plan->type == VIRTIO_MEM_REQ_PLUG && !before_n && after_n;
		bool empties = (plan->type == VIRTIO_MEM_REQ_UNPLUG ||
				plan->type == VIRTIO_MEM_REQ_UNPLUG_ALL) && before_n && !after_n;

		CHECK(vhost_mem_plan_populates_chunk(b, plan, c) == populates);
		CHECK(vhost_mem_plan_empties_chunk(b, plan, c) == empties);
	}
}

static void check_plan(const struct vhost_mem_blocks *b, const struct vhost_mem_plan *plan,
		       u16 type, const struct model_answer *a)
{
	CHECK(plan->type == type);
	CHECK(plan->resp == a->resp);
	if (type == VIRTIO_MEM_REQ_STATE && a->resp == VIRTIO_MEM_RESP_ACK)
		CHECK(plan->state == a->state);
	if (a->resp != VIRTIO_MEM_RESP_ACK) {
		CHECK(!plan->nr_blocks && !plan->nr_chunks && !plan->first_block);
		CHECK(!vhost_mem_plan_needs_commit(plan));
		return;
	}
	CHECK(plan->first_block == a->first);
	CHECK(plan->nr_blocks == a->nr);
	CHECK(plan->first_chunk == a->first / b->blocks_per_chunk);
	CHECK(plan->nr_chunks ==
	      (a->first + a->nr - 1) / b->blocks_per_chunk - plan->first_chunk + 1);
	CHECK(plan->first_block + plan->nr_blocks <= b->nr_blocks);
	CHECK(vhost_mem_plan_needs_commit(plan) == (type != VIRTIO_MEM_REQ_STATE));
}

/* An address near the region (or anywhere) as a hostile guest would send. */
static u64 pick_addr(struct input *in, const struct model *m)
{
	u8 how = take(in, 1);
	s64 block = (s8)take(in, 1);

	switch (how % 4) {
	case 0:
		return take(in, 8);
	case 1:	/* near the region, possibly misaligned */
		return m->addr + (u64)block * m->block + (how & 0x80 ? take(in, 2) : 0);
	default:	/* a block of the region, or just past it */
		return m->addr + (take(in, 2) % (m->nr_blocks + 2)) * m->block;
	}
}

static u16 pick_nb_blocks(struct input *in, const struct model *m)
{
	u8 how = take(in, 1);

	if (how % 4 == 0)
		return take(in, 2);
	return take(in, 2) % (m->nr_blocks + 2);
}

static u16 pick_type(struct input *in)
{
	u8 how = take(in, 1);

	return how < 0xf0 ? how % 4 : take(in, 2);
}

static void do_set_requested(struct vhost_mem_blocks *b, struct model *m, struct input *in)
{
	u8 how = take(in, 1);
	u64 size;
	int want, ret;

	if (how % 4 == 0)
		size = take(in, 8);
	else
		size = (take(in, 2) % (m->nr_blocks + 2)) * m->block + (how & 0x80 ? MiB / 2 : 0);

	want = size % m->block ? -EINVAL : size > m->region ? -ERANGE : 0;
	ret = vhost_mem_blocks_set_requested(b, size);
	CHECK(ret == want);
	if (!ret) {
		u64 usable = model_usable_for(m, size);

		m->requested = size;
		if (usable > m->usable)
			m->usable = usable;
	}
}

static void do_request(struct vhost_mem_blocks *b, struct model *m, struct model *after,
		       struct input *in, u16 type)
{
	u64 addr = pick_addr(in, m);
	u16 nb = pick_nb_blocks(in, m);
	u8 flags = take(in, 1);
	bool busy = flags & 1, host_fails = (flags & 6) == 6;
	struct vhost_mem_plan plan;
	struct model_answer a;

	model_decide(m, type, addr, nb, busy, &a);
	vhost_mem_blocks_decide(b, type, addr, nb, busy, &plan);
	check_plan(b, &plan, type, &a);
	if (!vhost_mem_plan_needs_commit(&plan)) {
		/* Must change nothing; the invariants check that. */
		vhost_mem_blocks_commit(b, &plan);
		return;
	}

	memcpy(after->plugged, m->plugged, m->nr_blocks);
	model_commit(after, type, &a);
	check_chunk_helpers(b, m, &plan, after);
	/* The host work failed: the caller answers BUSY, commits nothing. */
	if (host_fails)
		return;
	vhost_mem_blocks_commit(b, &plan);
	model_commit(m, type, &a);
}

static void do_walk(struct vhost_mem_blocks *b, struct model *m, struct input *in,
		    bool plugged)
{
	u64 from = take(in, 2) % (m->nr_blocks + 2);
	u64 limit = take(in, 1) == 0xff ? ~0ULL : take(in, 2) % (m->nr_blocks + 2);
	u64 start, end, next = from, clamp = limit < m->nr_blocks ? limit : m->nr_blocks;

	if (plugged) {
		vhost_mem_blocks_for_each_plugged(b, start, end, from, limit) {
			CHECK(start >= next && start < end && end <= clamp);
			for (; next < start; next++)
				CHECK(!m->plugged[next]);
			for (; next < end; next++)
				CHECK(m->plugged[next]);
			CHECK(end == clamp || !m->plugged[end]);
		}
		for (; next < clamp; next++)
			CHECK(!m->plugged[next]);
	} else {
		vhost_mem_blocks_for_each_unplugged(b, start, end, from, limit) {
			CHECK(start >= next && start < end && end <= clamp);
			for (; next < start; next++)
				CHECK(m->plugged[next]);
			for (; next < end; next++)
				CHECK(!m->plugged[next]);
			CHECK(end == clamp || m->plugged[end]);
		}
		for (; next < clamp; next++)
			CHECK(m->plugged[next]);
	}
}

static void check_geometry(const struct vhost_mem_blocks *b, const struct model *m)
{
	u64 c, offset = 0;

	CHECK(b->nr_blocks == m->nr_blocks && b->nr_chunks == m->nr_chunks);
	CHECK(b->blocks_per_chunk == m->blocks_per_chunk);
	for (c = 0; c < b->nr_chunks; c++) {
		CHECK(vhost_mem_blocks_chunk_offset(b, c) == offset);
		CHECK(vhost_mem_blocks_chunk_gpa(b, c) == m->addr + offset);
		CHECK(vhost_mem_blocks_chunk_size(b, c) > 0);
		offset += vhost_mem_blocks_chunk_size(b, c);
	}
	CHECK(offset == m->region);
}

/* A power of 2 (or not) that init may take for a size or an address. */
static u64 pick_init_value(struct input *in)
{
	u8 how = take(in, 1);
	u64 value = 1ULL << (how % 64);

	switch (how >> 6) {
	case 0:
		return take(in, 8);
	case 1:
		return value;
	case 2:	/* a multiple of it, possibly wrapping */
		return value * take(in, 2);
	default:	/* from the top of the address space */
		return -(value * take(in, 1));
	}
}

/* Hostile values for init: check the errno only, run nothing on success. */
static int fuzz_hostile_init(struct input *in)
{
	u64 block = pick_init_value(in), addr = pick_init_value(in);
	u64 region = pick_init_value(in), chunk = take(in, 1) & 1 ? 0 : pick_init_value(in);
	int want = model_init_errno(addr, region, block, chunk);
	struct vhost_mem_blocks b;

	/* Keep allocations small: valid huge geometries are unit tested. */
	if (!want && region / block > (1U << 16))
		return 0;
	CHECK(vhost_mem_blocks_init(&b, addr, region, block, chunk) == want);
	vhost_mem_blocks_free(&b);
	return 0;
}

/*
 * A valid geometry with at most 2048 blocks: 1 MiB .. 2 GiB blocks, or now
 * and then huge ones (up to 2^62) so that request sizes can overflow.
 * Returns the chunk size to pass to init (0 asks for the default).
 */
static bool pick_geometry(struct input *in, struct model *m, u64 *init_chunk)
{
	u8 shift_sel = take(in, 1);
	u8 shift = shift_sel & 0x80 ? 40 + shift_sel % 23 : 20 + shift_sel % 12;
	u8 chunk_shift = take(in, 1);
	u8 where = take(in, 1);

	m->block = 1ULL << shift;
	m->nr_blocks = 1 + take(in, 2) % (shift >= 40 ? 4 : 2048);
	m->region = m->nr_blocks * m->block;
	m->chunk = chunk_shift % 4 == 0 ? 0 : m->block << (chunk_shift % 12);
	if (where % 4 == 0)	/* ending just below 2^64 */
		m->addr = -((m->nr_blocks + 1 + where / 4) * m->block);
	else
		m->addr = (1 + take(in, 4)) * m->block;
	if (m->chunk && m->chunk < m->block)	/* shifted out */
		return false;
	if ((__uint128_t)m->nr_blocks * m->block >= (__uint128_t)1 << 64)
		return false;
	if (model_init_errno(m->addr, m->region, m->block, m->chunk))
		return false;
	*init_chunk = m->chunk;
	if (!m->chunk)
		m->chunk = m->block > GiB ? m->block : GiB;
	m->blocks_per_chunk = m->chunk / m->block;
	m->nr_chunks = (m->nr_blocks + m->blocks_per_chunk - 1) / m->blocks_per_chunk;
	return true;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct input in = { data, size };
	struct model m = {}, after;
	struct vhost_mem_blocks b;
	u64 init_chunk;

	if (take(&in, 1) % 8 == 0)
		return fuzz_hostile_init(&in);
	if (!pick_geometry(&in, &m, &init_chunk))
		return 0;
	CHECK(vhost_mem_blocks_init(&b, m.addr, m.region, m.block, init_chunk) == 0);
	CHECK(b.chunk_size == m.chunk);
	m.plugged = calloc(m.nr_blocks, 1);
	after = m;
	after.plugged = calloc(m.nr_blocks, 1);
	CHECK(m.plugged && after.plugged);
	check_geometry(&b, &m);
	check_invariants(&b, &m);

	while (in.size) {
		switch (take(&in, 1) % 8) {
		case 0:
			do_set_requested(&b, &m, &in);
			break;
		case 1:
		case 2:
		case 3:
			do_request(&b, &m, &after, &in, pick_type(&in));
			break;
		case 4:
			do_request(&b, &m, &after, &in, VIRTIO_MEM_REQ_UNPLUG_ALL);
			break;
		case 5:
			do_request(&b, &m, &after, &in, VIRTIO_MEM_REQ_STATE);
			break;
		case 6:
			do_walk(&b, &m, &in, true);
			break;
		case 7:
			do_walk(&b, &m, &in, false);
			break;
		}
		check_invariants(&b, &m);
	}

	vhost_mem_blocks_free(&b);
	free(m.plugged);
	free(after.plugged);
	return 0;
}
