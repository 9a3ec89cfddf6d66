/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem block state and the rules of the virtio-mem protocol.
 *
 * Pure functions over struct vhost_mem_blocks: no I/O, no locking, no
 * allocation outside init.  The caller serializes every call for one device
 * (decide and commit of one request under the same lock).
 *
 * One request goes:
 *   vhost_mem_blocks_decide()       answer + plan, nothing changes yet
 *   if vhost_mem_plan_needs_commit():
 *     host work: memslots for vhost_mem_plan_populates_chunk() chunks,
 *     populate or discard the plan's blocks; on failure undo and answer
 *     VIRTIO_MEM_RESP_BUSY without committing
 *     vhost_mem_blocks_commit()
 *     delete the memslots of vhost_mem_plan_empties_chunk() chunks
 *     (asked before the commit, acted upon after it)
 */
#ifndef _VHOST_MEM_BLOCKS_H
#define _VHOST_MEM_BLOCKS_H

#include "blocks_types.h"

/*
 * Keep every block index within the unsigned int the kernel's bitmap_set()
 * and bitmap_clear() take, and the arrays far below kvmalloc()'s INT_MAX
 * limit: the bitmap is at most 256 MiB, the chunk counters at most 64 MiB.
 * That still covers 2 PiB of 1 MiB blocks and 16 Mi memslots' worth of
 * chunks, both more than KVM can map.
 */
#define VHOST_MEM_BLOCKS_MAX_BLOCKS	(1ULL << 31)
#define VHOST_MEM_BLOCKS_MAX_CHUNKS	(1ULL << 24)

struct vhost_mem_blocks {
	u64 addr;		/* guest-physical base, block aligned */
	u64 region_size;
	u64 block_size;		/* power of 2 */
	u64 chunk_size;		/* memslot granularity, power of 2 >= block_size */
	u64 usable_size;	/* config usable_region_size */
	u64 requested_size;
	u64 plugged_size;
	u64 nr_blocks;
	u64 nr_chunks;		/* the last chunk may be shorter */
	u64 blocks_per_chunk;
	unsigned int block_shift;	/* log2(block_size) */
	unsigned int chunk_shift;	/* log2(blocks_per_chunk) */
	unsigned long *plugged;		/* bitmap, one bit per block */
	u32 *chunk_plugged;		/* plugged blocks per chunk */
};

/*
 * A decision on one request.  The ranges are set only when resp is
 * VIRTIO_MEM_RESP_ACK (zero otherwise); state only for an ACKed STATE.
 */
struct vhost_mem_plan {
	u16 type;		/* VIRTIO_MEM_REQ_*, as received */
	u16 resp;		/* VIRTIO_MEM_RESP_* to answer */
	u16 state;		/* VIRTIO_MEM_STATE_* for STATE */
	u64 first_block;	/* blocks to change (or asked about) */
	u64 nr_blocks;
	u64 first_chunk;	/* chunks those blocks touch */
	u64 nr_chunks;
};

int vhost_mem_blocks_init(struct vhost_mem_blocks *b, u64 addr, u64 region_size,
			  u64 block_size, u64 chunk_size);
void vhost_mem_blocks_free(struct vhost_mem_blocks *b);
int vhost_mem_blocks_set_requested(struct vhost_mem_blocks *b, u64 size);

void vhost_mem_blocks_decide(const struct vhost_mem_blocks *b, u16 type, u64 addr,
			     u16 nb_blocks, bool busy, struct vhost_mem_plan *plan);
bool vhost_mem_plan_needs_commit(const struct vhost_mem_plan *plan);
void vhost_mem_blocks_commit(struct vhost_mem_blocks *b, const struct vhost_mem_plan *plan);

u16 vhost_mem_blocks_range_state(const struct vhost_mem_blocks *b, u64 first_block,
				 u64 nr_blocks);
bool vhost_mem_blocks_next_plugged(const struct vhost_mem_blocks *b, u64 from, u64 limit,
				   u64 *start, u64 *end);
bool vhost_mem_blocks_next_unplugged(const struct vhost_mem_blocks *b, u64 from, u64 limit,
				     u64 *start, u64 *end);

/* Migration state (a versioned byte blob, the same on every host). */
size_t vhost_mem_blocks_state_size(const struct vhost_mem_blocks *b);
void vhost_mem_blocks_save(const struct vhost_mem_blocks *b, u8 *buf);
int vhost_mem_blocks_restore(struct vhost_mem_blocks *b, const u8 *buf, size_t len);

bool vhost_mem_blocks_chunk_is_empty(const struct vhost_mem_blocks *b, u64 chunk);
bool vhost_mem_plan_populates_chunk(const struct vhost_mem_blocks *b,
				    const struct vhost_mem_plan *plan, u64 chunk);
bool vhost_mem_plan_empties_chunk(const struct vhost_mem_blocks *b,
				  const struct vhost_mem_plan *plan, u64 chunk);

/*
 * Walk the runs of plugged blocks [start, end) within [from, limit); limit
 * is clamped to the region.  start and end must be u64 lvalues.
 */
#define vhost_mem_blocks_for_each_plugged(b, start, end, from, limit)			\
	for ((start) = (from);								\
	     vhost_mem_blocks_next_plugged((b), (start), (limit), &(start), &(end));	\
	     (start) = (end))

#define vhost_mem_blocks_for_each_unplugged(b, start, end, from, limit)		\
	for ((start) = (from);								\
	     vhost_mem_blocks_next_unplugged((b), (start), (limit), &(start), &(end));	\
	     (start) = (end))

/* Conversions; the caller keeps block, offset and gpa inside the region. */
static inline u64 vhost_mem_blocks_bytes(const struct vhost_mem_blocks *b, u64 nr_blocks)
{
	return nr_blocks << b->block_shift;
}

static inline u64 vhost_mem_blocks_offset(const struct vhost_mem_blocks *b, u64 block)
{
	return block << b->block_shift;
}

static inline u64 vhost_mem_blocks_gpa(const struct vhost_mem_blocks *b, u64 block)
{
	return b->addr + vhost_mem_blocks_offset(b, block);
}

static inline u64 vhost_mem_blocks_block_at_offset(const struct vhost_mem_blocks *b,
						   u64 offset)
{
	return offset >> b->block_shift;
}

static inline u64 vhost_mem_blocks_block_at_gpa(const struct vhost_mem_blocks *b, u64 gpa)
{
	return vhost_mem_blocks_block_at_offset(b, gpa - b->addr);
}

static inline bool vhost_mem_blocks_is_plugged(const struct vhost_mem_blocks *b, u64 block)
{
	return test_bit(block, b->plugged);
}

/* Chunk geometry: chunk i covers blocks [i * blocks_per_chunk, ...). */
static inline u64 vhost_mem_blocks_chunk_of(const struct vhost_mem_blocks *b, u64 block)
{
	return block >> b->chunk_shift;
}

static inline u64 vhost_mem_blocks_chunk_first_block(const struct vhost_mem_blocks *b,
						     u64 chunk)
{
	return chunk << b->chunk_shift;
}

/* Only the last chunk can be shorter, when region_size is not a multiple. */
static inline u64 vhost_mem_blocks_chunk_nr_blocks(const struct vhost_mem_blocks *b,
						   u64 chunk)
{
	return min(b->blocks_per_chunk,
		   b->nr_blocks - vhost_mem_blocks_chunk_first_block(b, chunk));
}

static inline u64 vhost_mem_blocks_chunk_offset(const struct vhost_mem_blocks *b, u64 chunk)
{
	return vhost_mem_blocks_offset(b, vhost_mem_blocks_chunk_first_block(b, chunk));
}

static inline u64 vhost_mem_blocks_chunk_gpa(const struct vhost_mem_blocks *b, u64 chunk)
{
	return b->addr + vhost_mem_blocks_chunk_offset(b, chunk);
}

static inline u64 vhost_mem_blocks_chunk_size(const struct vhost_mem_blocks *b, u64 chunk)
{
	return vhost_mem_blocks_bytes(b, vhost_mem_blocks_chunk_nr_blocks(b, chunk));
}

#endif /* _VHOST_MEM_BLOCKS_H */
