/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem benchmark: the kernel path and the raw userspace paths, side by
 * side over one KVM VM and one backing.
 *
 * Each path has a lane: the same geometry at its own place.  Lane p maps
 * GPA VMB_REGION_GPA + p * region_size to the backing at offset
 * p * region_size, with memslot ids VMB_SLOT_BASE + p * nr_chunks on.  The
 * kernel's lane is the device region; the raw lanes lie right above it, so
 * every path can have blocks plugged at the same time and their requests
 * can take turns one by one.
 */
#ifndef VMB_PATHS_H
#define VMB_PATHS_H

#include "bench.h"

struct vmb_lane {
	u64 gpa;			/* where the lane's region starts */
	u64 offset;			/* and its place in the backing */
	u32 slot_base;			/* memslot id of its first chunk */
	u32 *chunk_plugged;		/* raw lanes: plugged blocks per chunk */
	u64 live_slots;			/* raw lanes: memslots created */
};

struct vmb_ctx {
	struct vmt_vm *vm;
	struct vmt_vq vq;		/* the requestq, in the VM's boot RAM */
	struct io_uring ring;		/* the raw path's discards */
	u64 region_size;		/* of one lane */

	/* the configuration: one device per backing and chunk size */
	struct vmt_dev dev;
	struct vmt_backing *b;		/* VMB_NR_PATHS * region_size */
	u64 chunk_size;
	u64 nr_chunks;
	struct vmb_lane lanes[VMB_NR_PATHS];

	/* the round: nreq requests of nb blocks from the start of each lane */
	u16 nb;
	unsigned int nreq;
	unsigned int batch;		/* requests per kick in batch mode */
	struct vmt_mem_req reqs[VMB_MAX_REQS];	/* the kernel lane's */
};

/* Open and start a device for the backing and chunk size. */
void vmb_dev_open(struct vmb_ctx *c, struct vmt_backing *b, u64 chunk_size);
void vmb_dev_close(struct vmb_ctx *c);

/* Set up the round's requests. */
void vmb_round_init(struct vmb_ctx *c, u16 nb, unsigned int nreq);
/* Memslot creates and deletes that one round costs a lane. */
u64 vmb_round_slot_ops(const struct vmb_ctx *c);

/*
 * What a round does and records: the paths that take part, the results of
 * each (NULL: not recorded), and whether the blocks are populated between
 * the PLUGs and the UNPLUGs (a warm-up round does not).
 */
struct vmb_round_spec {
	enum vmb_mode mode;
	bool lane[VMB_NR_PATHS];
	struct vmb_result *plug[VMB_NR_PATHS];
	struct vmb_result *unplug[VMB_NR_PATHS];
	bool populate;
	struct vmb_populate *pop;
	unsigned int turn;		/* varies the order of the paths */
};

/*
 * One round: every path PLUGs every request, the blocks are populated,
 * every path UNPLUGs every request; the effects are checked after each
 * phase.  The paths take turns request by request (single mode) or batch
 * by batch (batch mode: c->batch requests with one kick, or at once).
 */
void vmb_round(struct vmb_ctx *c, const struct vmb_round_spec *spec);

/* n requests that the device answers ERROR without any host work. */
void vmb_null_run(struct vmb_ctx *c, enum vmb_mode mode, unsigned int n,
		  struct vmb_result *res);

#endif /* VMB_PATHS_H */
