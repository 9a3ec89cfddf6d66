// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem: the block state of one virtio-mem device and every rule of the
 * virtio-mem protocol.  Pure: no I/O, no locking, only blocks_types.h, so the
 * same file is built into the module and into the host unit tests.
 *
 * The decisions follow the virtio spec and QEMU's hw/virtio/virtio-mem.c,
 * including QEMU's order of checks; the values come from a hostile guest.
 */
#include "blocks.h"

static bool vhost_mem_blocks_is_pow2(u64 value)
{
	return value && !(value & (value - 1));
}

static int vhost_mem_blocks_check_geometry(u64 addr, u64 region_size, u64 block_size)
{
	u64 end;

	if (!vhost_mem_blocks_is_pow2(block_size) || block_size < VHOST_MEM_MIN_BLOCK_SIZE)
		return -EINVAL;
	if (!addr || !IS_ALIGNED(addr, block_size))
		return -EINVAL;
	if (!region_size || !IS_ALIGNED(region_size, block_size))
		return -EINVAL;
	/* The end must be representable: a region may not end at 2^64. */
	if (check_add_overflow(addr, region_size, &end))
		return -EOVERFLOW;
	return 0;
}

/* 0 picks the default, raised to the block size for blocks > 1 GiB. */
static int vhost_mem_blocks_resolve_chunk_size(u64 block_size, u64 *chunk_size)
{
	if (!*chunk_size) {
		*chunk_size = max_t(u64, VHOST_MEM_DEFAULT_CHUNK_SIZE, block_size);
		return 0;
	}
	if (!vhost_mem_blocks_is_pow2(*chunk_size) || *chunk_size < block_size)
		return -EINVAL;
	return 0;
}

/*
 * Validates the geometry and allocates the state, all blocks unplugged and
 * requested = usable = plugged = 0.  -EINVAL for a bad value (including more
 * than VHOST_MEM_BLOCKS_MAX_BLOCKS blocks or VHOST_MEM_BLOCKS_MAX_CHUNKS
 * chunks), -EOVERFLOW if the region wraps around 2^64, -ENOMEM.  The caller
 * resolves block_size 0 and checks it against the backing's page size.
 * On error *b is left safe to pass to vhost_mem_blocks_free().
 */
int vhost_mem_blocks_init(struct vhost_mem_blocks *b, u64 addr, u64 region_size,
			  u64 block_size, u64 chunk_size)
{
	int ret;

	memset(b, 0, sizeof(*b));
	ret = vhost_mem_blocks_check_geometry(addr, region_size, block_size);
	if (ret)
		return ret;
	ret = vhost_mem_blocks_resolve_chunk_size(block_size, &chunk_size);
	if (ret)
		return ret;

	b->block_shift = ilog2(block_size);
	b->chunk_shift = ilog2(chunk_size) - b->block_shift;
	b->nr_blocks = region_size >> b->block_shift;
	b->blocks_per_chunk = 1ULL << b->chunk_shift;
	/* Rounded up: a region that is not a multiple gets a short last chunk. */
	b->nr_chunks = ((b->nr_blocks - 1) >> b->chunk_shift) + 1;
	if (b->nr_blocks > VHOST_MEM_BLOCKS_MAX_BLOCKS ||
	    b->nr_chunks > VHOST_MEM_BLOCKS_MAX_CHUNKS)
		return -EINVAL;

	b->plugged = kvcalloc(BITS_TO_LONGS(b->nr_blocks), sizeof(*b->plugged),
			      GFP_KERNEL_ACCOUNT);
	b->chunk_plugged = kvcalloc(b->nr_chunks, sizeof(*b->chunk_plugged),
				    GFP_KERNEL_ACCOUNT);
	if (!b->plugged || !b->chunk_plugged) {
		vhost_mem_blocks_free(b);
		return -ENOMEM;
	}

	b->addr = addr;
	b->region_size = region_size;
	b->block_size = block_size;
	b->chunk_size = chunk_size;
	return 0;
}

void vhost_mem_blocks_free(struct vhost_mem_blocks *b)
{
	kvfree(b->plugged);
	kvfree(b->chunk_plugged);
	b->plugged = NULL;
	b->chunk_plugged = NULL;
}

/*
 * QEMU's usable region: requested + VHOST_MEM_USABLE_EXTENT, block aligned
 * and capped at the region (Linux only uses memory blocks that fit entirely),
 * or 0 when nothing is requested.  requested_size <= region_size.
 */
static u64 vhost_mem_blocks_usable_for(const struct vhost_mem_blocks *b, u64 requested_size)
{
	if (!requested_size)
		return 0;
	/* Written so that no sum can wrap, even for a region close to 2^64. */
	if (b->region_size - requested_size <= VHOST_MEM_USABLE_EXTENT)
		return b->region_size;
	return ALIGN(requested_size + VHOST_MEM_USABLE_EXTENT, b->block_size);
}

/*
 * A new requested size from the host: -EINVAL if not a multiple of the block
 * size, -ERANGE if larger than the region (a value out of the allowed range;
 * checked in this order, as QEMU).  Grows the usable region if needed but
 * never shrinks it: the guest may still use blocks there (the spec allows a
 * shrink only while processing UNPLUG_ALL or on system reset).  Lowering it
 * below plugged_size is fine: PLUGs get NACKed until the guest unplugs.
 */
int vhost_mem_blocks_set_requested(struct vhost_mem_blocks *b, u64 size)
{
	if (!IS_ALIGNED(size, b->block_size))
		return -EINVAL;
	if (size > b->region_size)
		return -ERANGE;

	b->usable_size = max(b->usable_size, vhost_mem_blocks_usable_for(b, size));
	b->requested_size = size;
	return 0;
}

/* Are all of [first, first + nr) in the given state?  nr > 0. */
static bool vhost_mem_blocks_range_is(const struct vhost_mem_blocks *b, u64 first, u64 nr,
				      bool plugged)
{
	u64 end = first + nr;
	u64 other;

	/* Searching a bitmap that "ends" at end keeps the scan short. */
	if (plugged)
		other = find_next_zero_bit(b->plugged, end, first);
	else
		other = find_next_bit(b->plugged, end, first);
	return other >= end;
}

u16 vhost_mem_blocks_range_state(const struct vhost_mem_blocks *b, u64 first_block,
				 u64 nr_blocks)
{
	if (vhost_mem_blocks_range_is(b, first_block, nr_blocks, true))
		return VIRTIO_MEM_STATE_PLUGGED;
	if (vhost_mem_blocks_range_is(b, first_block, nr_blocks, false))
		return VIRTIO_MEM_STATE_UNPLUGGED;
	return VIRTIO_MEM_STATE_MIXED;
}

/*
 * The spec's range check, done before any arithmetic on the guest's values
 * can wrap: block aligned, at least one block, no overflow of the size or
 * of the end, entirely inside the usable region.
 */
static bool vhost_mem_blocks_range_valid(const struct vhost_mem_blocks *b, u64 addr,
					 u16 nb_blocks)
{
	u64 size, end;

	if (!nb_blocks || !IS_ALIGNED(addr, b->block_size))
		return false;
	if (check_mul_overflow((u64)nb_blocks, b->block_size, &size))
		return false;
	if (check_add_overflow(addr, size, &end))
		return false;
	return addr >= b->addr && end <= b->addr + b->usable_size;
}

static void vhost_mem_plan_set_range(const struct vhost_mem_blocks *b,
				     struct vhost_mem_plan *plan, u64 first, u64 nr)
{
	u64 last_chunk = vhost_mem_blocks_chunk_of(b, first + nr - 1);

	plan->first_block = first;
	plan->nr_blocks = nr;
	plan->first_chunk = vhost_mem_blocks_chunk_of(b, first);
	plan->nr_chunks = last_chunk - plan->first_chunk + 1;
}

/* The plan's block range, valid once vhost_mem_blocks_range_valid() said so. */
static void vhost_mem_plan_set_request_range(const struct vhost_mem_blocks *b,
					     struct vhost_mem_plan *plan, u64 addr,
					     u16 nb_blocks)
{
	vhost_mem_plan_set_range(b, plan, vhost_mem_blocks_block_at_gpa(b, addr), nb_blocks);
}

/* Over budget: PLUG would take plugged_size beyond requested_size. */
static bool vhost_mem_blocks_over_budget(const struct vhost_mem_blocks *b, u16 nb_blocks)
{
	u64 size = vhost_mem_blocks_bytes(b, nb_blocks);

	if (b->plugged_size > b->requested_size)
		return true;
	return size > b->requested_size - b->plugged_size;
}

/*
 * PLUG and UNPLUG, in QEMU's order: ERROR for a bad range, NACK for a PLUG
 * over budget (before looking at the blocks, so an over-budget PLUG of
 * plugged blocks is NACKed), ERROR unless every block is in the opposite
 * state, and BUSY only for a request that would otherwise be ACKed.
 */
static u16 vhost_mem_blocks_decide_change(const struct vhost_mem_blocks *b, bool plug,
					  u64 addr, u16 nb_blocks, bool busy,
					  struct vhost_mem_plan *plan)
{
	u64 first;

	if (!vhost_mem_blocks_range_valid(b, addr, nb_blocks))
		return VIRTIO_MEM_RESP_ERROR;
	if (plug && vhost_mem_blocks_over_budget(b, nb_blocks))
		return VIRTIO_MEM_RESP_NACK;
	first = vhost_mem_blocks_block_at_gpa(b, addr);
	if (!vhost_mem_blocks_range_is(b, first, nb_blocks, !plug))
		return VIRTIO_MEM_RESP_ERROR;
	if (busy)
		return VIRTIO_MEM_RESP_BUSY;
	vhost_mem_plan_set_request_range(b, plan, addr, nb_blocks);
	return VIRTIO_MEM_RESP_ACK;
}

/*
 * UNPLUG_ALL covers the whole region.  As QEMU, busy matters only when
 * something is plugged: with nothing plugged there is no host work, and the
 * ACK (whose commit may shrink the usable region) is always possible.
 */
static u16 vhost_mem_blocks_decide_unplug_all(const struct vhost_mem_blocks *b, bool busy,
					      struct vhost_mem_plan *plan)
{
	if (busy && b->plugged_size)
		return VIRTIO_MEM_RESP_BUSY;
	vhost_mem_plan_set_range(b, plan, 0, b->nr_blocks);
	return VIRTIO_MEM_RESP_ACK;
}

/* STATE is never BUSY: it changes nothing and kdump relies on it. */
static u16 vhost_mem_blocks_decide_state(const struct vhost_mem_blocks *b, u64 addr,
					 u16 nb_blocks, struct vhost_mem_plan *plan)
{
	if (!vhost_mem_blocks_range_valid(b, addr, nb_blocks))
		return VIRTIO_MEM_RESP_ERROR;
	vhost_mem_plan_set_request_range(b, plan, addr, nb_blocks);
	plan->state = vhost_mem_blocks_range_state(b, plan->first_block, plan->nr_blocks);
	return VIRTIO_MEM_RESP_ACK;
}

/*
 * Decides one request; changes nothing.  type, addr and nb_blocks are the
 * guest's values in CPU order (addr and nb_blocks are ignored for
 * UNPLUG_ALL); busy says the host cannot change block states right now.
 * An unknown type gets ERROR (the spec defines no answer; the caller may
 * treat it as a protocol violation instead).
 */
void vhost_mem_blocks_decide(const struct vhost_mem_blocks *b, u16 type, u64 addr,
			     u16 nb_blocks, bool busy, struct vhost_mem_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->type = type;

	switch (type) {
	case VIRTIO_MEM_REQ_PLUG:
	case VIRTIO_MEM_REQ_UNPLUG:
		plan->resp = vhost_mem_blocks_decide_change(b, type == VIRTIO_MEM_REQ_PLUG,
							    addr, nb_blocks, busy, plan);
		break;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		plan->resp = vhost_mem_blocks_decide_unplug_all(b, busy, plan);
		break;
	case VIRTIO_MEM_REQ_STATE:
		plan->resp = vhost_mem_blocks_decide_state(b, addr, nb_blocks, plan);
		break;
	default:
		plan->resp = VIRTIO_MEM_RESP_ERROR;
		break;
	}
}

/* An ACKed PLUG, UNPLUG or UNPLUG_ALL: host work, then commit. */
bool vhost_mem_plan_needs_commit(const struct vhost_mem_plan *plan)
{
	if (plan->resp != VIRTIO_MEM_RESP_ACK)
		return false;
	return plan->type == VIRTIO_MEM_REQ_PLUG || plan->type == VIRTIO_MEM_REQ_UNPLUG ||
	       plan->type == VIRTIO_MEM_REQ_UNPLUG_ALL;
}

/* Adjusts the per-chunk counters for [first, first + nr) changing state. */
static void vhost_mem_blocks_count_chunks(struct vhost_mem_blocks *b, u64 first, u64 nr,
					  bool plug)
{
	u64 block = first, end = first + nr;

	while (block < end) {
		u64 chunk = vhost_mem_blocks_chunk_of(b, block);
		u64 next = min(end, vhost_mem_blocks_chunk_first_block(b, chunk + 1));
		u32 count = next - block;

		if (plug)
			b->chunk_plugged[chunk] += count;
		else
			b->chunk_plugged[chunk] -= count;
		block = next;
	}
}

static void vhost_mem_blocks_change_range(struct vhost_mem_blocks *b, u64 first, u64 nr,
					  bool plug)
{
	/* Fits: first + nr <= nr_blocks <= VHOST_MEM_BLOCKS_MAX_BLOCKS. */
	if (plug) {
		bitmap_set(b->plugged, first, nr);
		b->plugged_size += vhost_mem_blocks_bytes(b, nr);
	} else {
		bitmap_clear(b->plugged, first, nr);
		b->plugged_size -= vhost_mem_blocks_bytes(b, nr);
	}
	vhost_mem_blocks_count_chunks(b, first, nr, plug);
}

/* Everything unplugged; the one place the usable region may shrink. */
static void vhost_mem_blocks_unplug_all(struct vhost_mem_blocks *b)
{
	bitmap_clear(b->plugged, 0, b->nr_blocks);
	memset(b->chunk_plugged, 0, b->nr_chunks * sizeof(*b->chunk_plugged));
	b->plugged_size = 0;
	b->usable_size = vhost_mem_blocks_usable_for(b, b->requested_size);
}

/*
 * Applies a plan from vhost_mem_blocks_decide() on the unchanged state, once
 * the host side succeeded.  Anything that needs no commit is ignored.
 */
void vhost_mem_blocks_commit(struct vhost_mem_blocks *b, const struct vhost_mem_plan *plan)
{
	if (!vhost_mem_plan_needs_commit(plan))
		return;

	switch (plan->type) {
	case VIRTIO_MEM_REQ_PLUG:
		vhost_mem_blocks_change_range(b, plan->first_block, plan->nr_blocks, true);
		break;
	case VIRTIO_MEM_REQ_UNPLUG:
		vhost_mem_blocks_change_range(b, plan->first_block, plan->nr_blocks, false);
		break;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		vhost_mem_blocks_unplug_all(b);
		break;
	}
}

/* The first run [*start, *end) of blocks in the given state in [from, limit). */
static bool vhost_mem_blocks_next_run(const struct vhost_mem_blocks *b, bool plugged,
				      u64 from, u64 limit, u64 *start, u64 *end)
{
	u64 first;

	limit = min(limit, b->nr_blocks);
	if (from >= limit)
		return false;
	if (plugged)
		first = find_next_bit(b->plugged, limit, from);
	else
		first = find_next_zero_bit(b->plugged, limit, from);
	if (first >= limit)
		return false;

	*start = first;
	if (plugged)
		*end = find_next_zero_bit(b->plugged, limit, first + 1);
	else
		*end = find_next_bit(b->plugged, limit, first + 1);
	return true;
}

bool vhost_mem_blocks_next_plugged(const struct vhost_mem_blocks *b, u64 from, u64 limit,
				   u64 *start, u64 *end)
{
	return vhost_mem_blocks_next_run(b, true, from, limit, start, end);
}

bool vhost_mem_blocks_next_unplugged(const struct vhost_mem_blocks *b, u64 from, u64 limit,
				     u64 *start, u64 *end)
{
	return vhost_mem_blocks_next_run(b, false, from, limit, start, end);
}

/* A chunk past the region holds no plugged block either. */
bool vhost_mem_blocks_chunk_is_empty(const struct vhost_mem_blocks *b, u64 chunk)
{
	return chunk >= b->nr_chunks || !b->chunk_plugged[chunk];
}

/* How many of the plan's blocks lie in the chunk. */
static u64 vhost_mem_plan_blocks_in_chunk(const struct vhost_mem_blocks *b,
					  const struct vhost_mem_plan *plan, u64 chunk)
{
	u64 chunk_first = vhost_mem_blocks_chunk_first_block(b, chunk);
	u64 chunk_end = chunk_first + vhost_mem_blocks_chunk_nr_blocks(b, chunk);
	u64 start = max(plan->first_block, chunk_first);
	u64 end = min(plan->first_block + plan->nr_blocks, chunk_end);

	return end > start ? end - start : 0;
}

static bool vhost_mem_plan_touches_chunk(const struct vhost_mem_blocks *b,
					 const struct vhost_mem_plan *plan, u64 chunk)
{
	return vhost_mem_plan_needs_commit(plan) && chunk < b->nr_chunks &&
	       vhost_mem_plan_blocks_in_chunk(b, plan, chunk);
}

/*
 * Will this PLUG put the first plugged block into the chunk?  Then its
 * memslot must exist before the ACK.  Ask before committing the plan.
 */
bool vhost_mem_plan_populates_chunk(const struct vhost_mem_blocks *b,
				    const struct vhost_mem_plan *plan, u64 chunk)
{
	return plan->type == VIRTIO_MEM_REQ_PLUG && vhost_mem_plan_touches_chunk(b, plan, chunk) &&
	       vhost_mem_blocks_chunk_is_empty(b, chunk);
}

/*
 * Will this UNPLUG or UNPLUG_ALL take the last plugged block out of the
 * chunk?  Then its memslot goes once the blocks are unplugged.  Ask before
 * committing the plan; a chunk that is already empty is not emptied.
 */
bool vhost_mem_plan_empties_chunk(const struct vhost_mem_blocks *b,
				  const struct vhost_mem_plan *plan, u64 chunk)
{
	if (!vhost_mem_plan_touches_chunk(b, plan, chunk) ||
	    vhost_mem_blocks_chunk_is_empty(b, chunk))
		return false;
	if (plan->type == VIRTIO_MEM_REQ_UNPLUG_ALL)
		return true;
	/* Every block of an ACKed UNPLUG is plugged: all of them leave? */
	return plan->type == VIRTIO_MEM_REQ_UNPLUG &&
	       b->chunk_plugged[chunk] == vhost_mem_plan_blocks_in_chunk(b, plan, chunk);
}

/*
 * The migration state: a header of little-endian fields, then the plugged
 * map, block i in bit i % 8 of byte i / 8.  Built byte by byte so that it
 * means the same on every host.
 */
#define VHOST_MEM_STATE_MAGIC		0x4d454d56	/* "VMEM" */
#define VHOST_MEM_STATE_VERSION		1
#define VHOST_MEM_STATE_HDR_LEN		64

enum {	/* byte offsets of the header's u64 fields */
	VHOST_MEM_STATE_ADDR = 8, VHOST_MEM_STATE_REGION_SIZE = 16,
	VHOST_MEM_STATE_BLOCK_SIZE = 24, VHOST_MEM_STATE_REQUESTED = 32,
	VHOST_MEM_STATE_USABLE = 40, VHOST_MEM_STATE_PLUGGED = 48,
	VHOST_MEM_STATE_NR_BLOCKS = 56,
};

static void vhost_mem_put_le(u8 *p, u64 v, unsigned int bytes)
{
	unsigned int i;

	for (i = 0; i < bytes; i++, v >>= 8)
		p[i] = v & 0xff;
}

static u64 vhost_mem_get_le(const u8 *p, unsigned int bytes)
{
	u64 v = 0;

	while (bytes--)
		v = (v << 8) | p[bytes];
	return v;
}

size_t vhost_mem_blocks_state_size(const struct vhost_mem_blocks *b)
{
	return VHOST_MEM_STATE_HDR_LEN + DIV_ROUND_UP(b->nr_blocks, 8);
}

/* Fills buf (vhost_mem_blocks_state_size() bytes) with the state. */
void vhost_mem_blocks_save(const struct vhost_mem_blocks *b, u8 *buf)
{
	u8 *map = buf + VHOST_MEM_STATE_HDR_LEN;
	u64 start, end, i;

	memset(buf, 0, vhost_mem_blocks_state_size(b));
	vhost_mem_put_le(buf, VHOST_MEM_STATE_MAGIC, 4);
	vhost_mem_put_le(buf + 4, VHOST_MEM_STATE_VERSION, 4);
	vhost_mem_put_le(buf + VHOST_MEM_STATE_ADDR, b->addr, 8);
	vhost_mem_put_le(buf + VHOST_MEM_STATE_REGION_SIZE, b->region_size, 8);
	vhost_mem_put_le(buf + VHOST_MEM_STATE_BLOCK_SIZE, b->block_size, 8);
	vhost_mem_put_le(buf + VHOST_MEM_STATE_REQUESTED, b->requested_size, 8);
	vhost_mem_put_le(buf + VHOST_MEM_STATE_USABLE, b->usable_size, 8);
	vhost_mem_put_le(buf + VHOST_MEM_STATE_PLUGGED, b->plugged_size, 8);
	vhost_mem_put_le(buf + VHOST_MEM_STATE_NR_BLOCKS, b->nr_blocks, 8);
	vhost_mem_blocks_for_each_plugged(b, start, end, 0, b->nr_blocks)
		for (i = start; i < end; i++)
			map[i / 8] |= 1 << (i % 8);
}

static bool vhost_mem_state_bit(const u8 *map, u64 block)
{
	return map[block / 8] & (1 << (block % 8));
}

/* Sizes that this device could have reached itself. */
static bool vhost_mem_state_sizes_valid(const struct vhost_mem_blocks *b,
					u64 requested, u64 usable)
{
	return IS_ALIGNED(requested, b->block_size) && requested <= b->region_size &&
	       IS_ALIGNED(usable, b->block_size) && usable <= b->region_size &&
	       requested <= usable;
}

/*
 * The map: no bit past the region, no plugged block outside the usable
 * region (only UNPLUG_ALL shrinks it, and it unplugs everything), and
 * exactly plugged / block_size plugged blocks.
 */
static bool vhost_mem_state_map_valid(const struct vhost_mem_blocks *b, const u8 *map,
				      u64 usable, u64 plugged)
{
	u64 usable_blocks = usable >> b->block_shift, count = 0, i;

	for (i = 0; i < DIV_ROUND_UP(b->nr_blocks, 8) * 8; i++) {
		if (!vhost_mem_state_bit(map, i))
			continue;
		if (i >= usable_blocks)
			return false;
		count++;
	}
	return vhost_mem_blocks_bytes(b, count) == plugged;
}

/*
 * Loads a saved state into a device of the same geometry with nothing
 * plugged.  Everything is checked before anything changes: -EINVAL for a
 * blob that is truncated, of another format or geometry, or inconsistent.
 */
int vhost_mem_blocks_restore(struct vhost_mem_blocks *b, const u8 *buf, size_t len)
{
	const u8 *map = buf + VHOST_MEM_STATE_HDR_LEN;
	u64 requested, usable, plugged, start, end;

	if (b->plugged_size)
		return -EBUSY;
	if (len != vhost_mem_blocks_state_size(b) ||
	    vhost_mem_get_le(buf, 4) != VHOST_MEM_STATE_MAGIC ||
	    vhost_mem_get_le(buf + 4, 4) != VHOST_MEM_STATE_VERSION ||
	    vhost_mem_get_le(buf + VHOST_MEM_STATE_ADDR, 8) != b->addr ||
	    vhost_mem_get_le(buf + VHOST_MEM_STATE_REGION_SIZE, 8) != b->region_size ||
	    vhost_mem_get_le(buf + VHOST_MEM_STATE_BLOCK_SIZE, 8) != b->block_size ||
	    vhost_mem_get_le(buf + VHOST_MEM_STATE_NR_BLOCKS, 8) != b->nr_blocks)
		return -EINVAL;
	requested = vhost_mem_get_le(buf + VHOST_MEM_STATE_REQUESTED, 8);
	usable = vhost_mem_get_le(buf + VHOST_MEM_STATE_USABLE, 8);
	plugged = vhost_mem_get_le(buf + VHOST_MEM_STATE_PLUGGED, 8);
	if (!vhost_mem_state_sizes_valid(b, requested, usable) ||
	    !vhost_mem_state_map_valid(b, map, usable, plugged))
		return -EINVAL;

	b->requested_size = requested;
	b->usable_size = usable;
	for (start = 0; start < b->nr_blocks; start = end) {
		while (start < b->nr_blocks && !vhost_mem_state_bit(map, start))
			start++;
		for (end = start; end < b->nr_blocks && vhost_mem_state_bit(map, end); end++)
			;
		if (end > start)
			vhost_mem_blocks_change_range(b, start, end - start, true);
	}
	return 0;
}
