/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: what the request, memslot, backing, hostile-guest and
 * ioctl tests share.
 *
 * - A model of the device, written from Documentation/vhost-mem.rst (the
 *   virtio-mem rules in QEMU's order): it predicts every answer and the
 *   status the device must report.  Each request a test sends through
 *   vmt_rq_send() is checked against the model's prediction, so a test can
 *   state the expected answer with a literal and still have every side
 *   effect (sizes, memslots, counters) cross-checked.
 * - A test environment: a VM, its ring, a device and its backing, set up
 *   with a region at VMT_RQ_GPA.
 * - Checks of the device against the model: GET_STATUS, STATE answers and
 *   guest accesses.
 * - Raw descriptor chains, split any way, in a private area of boot RAM.
 * - A count of kernel complaints in the kernel log.
 */
#ifndef VMT_REQ_UTIL_H
#define VMT_REQ_UTIL_H

#include "test_util.h"
#include "kvm_util.h"
#include "backing.h"
#include "vhost_util.h"
#include "vhost_mem_util.h"

/* The region of the tests: 4 GiB, above boot RAM, inside the identity map. */
#define VMT_RQ_GPA		(4ULL << 30)
#define VMT_RQ_BLOCK		(2ULL << 20)
#define VMT_RQ_SLOT_BASE	100

/* Raw chains: this many slots of this many bytes in boot RAM. */
#define VMT_RQ_AREA_SLOTS	64
#define VMT_RQ_AREA_SLOT	1024

/* ------------------------------------------------------------------ */
/* The model                                                          */
/* ------------------------------------------------------------------ */

struct vmt_model {
	u64 addr;
	u64 region_size;
	u64 block_size;
	u64 chunk_size;
	u64 nr_blocks;
	u64 nr_chunks;
	u64 blocks_per_chunk;
	u64 usable;
	u64 requested;
	u64 plugged;
	bool hard;			/* hard protection: memslots per run */
	bool paused;			/* VHOST_MEM_SET_PAUSED 1: BUSY */
	u8 *map;			/* one byte per block, 1: plugged */
	u32 *chunk_count;		/* plugged blocks per chunk */
	u64 requests[VHOST_MEM_NR_REQ_TYPES][VHOST_MEM_NR_RESP_TYPES];
	u64 dropped;
};

/* chunk_size 0: the default (1 GiB, or the block size if larger). */
void vmt_model_init(struct vmt_model *m, u64 addr, u64 region_size,
		    u64 block_size, u64 chunk_size);
/* The model of a device set up with r; st: its status. */
void vmt_model_init_region(struct vmt_model *m,
			   const struct vhost_mem_region *r,
			   const struct vhost_mem_status *st);
void vmt_model_free(struct vmt_model *m);

/* The usable region a requested size needs. */
u64 vmt_model_usable_for(const struct vmt_model *m, u64 requested);
/* VHOST_MEM_SET_REQUESTED_SIZE: 0, -EINVAL or -ERANGE. */
int vmt_model_set_requested(struct vmt_model *m, u64 size);

/* The range check of PLUG, UNPLUG and STATE. */
bool vmt_model_range_valid(const struct vmt_model *m, u64 addr, u16 nb);
/* The answer to a request; *state is set for an ACKed STATE.  Pure. */
u16 vmt_model_decide(const struct vmt_model *m, u16 type, u64 addr, u16 nb,
		     u16 *state);
/* Account a request answered resp (and apply it if it is an ACK). */
void vmt_model_apply(struct vmt_model *m, u16 type, u64 addr, u16 nb,
		     u16 resp);
/* decide + apply. */
u16 vmt_model_request(struct vmt_model *m, u16 type, u64 addr, u16 nb,
		      u16 *state);
/* A request shorter than 24 bytes: ERROR, counted as an unknown type. */
void vmt_model_short_request(struct vmt_model *m);
/* The counter index of a request type. */
unsigned int vmt_model_type_index(u16 type);

bool vmt_model_plugged(const struct vmt_model *m, u64 block);
u16 vmt_model_range_state(const struct vmt_model *m, u64 first, u64 nr);
bool vmt_model_chunk_live(const struct vmt_model *m, u64 chunk);
u32 vmt_model_live_chunks(const struct vmt_model *m);
/* Memslots the device must have now, and at most. */
u32 vmt_model_memslots(const struct vmt_model *m);
u64 vmt_model_memslots_max(const struct vmt_model *m);
u64 vmt_model_block_gpa(const struct vmt_model *m, u64 block);

/*
 * Compare a status with the model (running: F_RUNNING expected).  Every
 * difference is printed as "expected X, got Y"; returns how many.
 */
int vmt_model_diff(const struct vmt_model *m, const struct vhost_mem_status *st,
		   bool running, FILE *f);

/* ------------------------------------------------------------------ */
/* The environment                                                    */
/* ------------------------------------------------------------------ */

struct vmt_rq_env {
	struct vmt_vm *vm;
	struct vmt_vq vq;
	struct vmt_dev dev;
	struct vmt_backing backing;
	struct vhost_mem_region region;
	struct vmt_model model;
	u64 want_features;
	u64 area_gpa;		/* VMT_RQ_AREA_SLOTS x VMT_RQ_AREA_SLOT */
	bool started;		/* region set, model valid */
	bool running;
	int klog_problems;	/* at init */
};

/*
 * A VM, a ring and a device ready for SET_VM (vmt_dev_open_ready()), a
 * backing of region_size bytes (none if 0: fill in e->backing yourself) and
 * e->region describing it at VMT_RQ_GPA with VMT_RQ_BLOCK blocks and the
 * default chunk size.  Change e->region before vmt_rq_env_start().
 */
void vmt_rq_env_init(struct vmt_rq_env *e, enum vmt_backing_type type,
		     u64 region_size, u64 want_features);
/*
 * The same with an anonymous backing of region_size aligned to the block
 * size (vmt_rq_backing_anon_aligned()), as a VMM aligns its RAM.
 */
void vmt_rq_env_init_aligned(struct vmt_rq_env *e, u64 region_size,
			     u64 want_features);
/*
 * SET_VM, SET_REGION (slot_count raised to what the chunks need), the
 * requested size, SET_RUNNING 1; the model starts from the status.
 */
void vmt_rq_env_start(struct vmt_rq_env *e, u64 requested);
/*
 * The test set the device up itself (SET_VM, SET_REGION with e->region,
 * the requested size, maybe SET_RUNNING 1): the model starts (again) from
 * here, with e->region's geometry, the block size and running flag of
 * GET_STATUS and nothing plugged.  Nothing is compared: the test calls
 * vmt_rq_check_status() when it wants to.
 */
void vmt_rq_env_adopt(struct vmt_rq_env *e, u64 requested);
/* Close the device (its memslots go), keep VM, ring and backing. */
void vmt_rq_env_close(struct vmt_rq_env *e);
/* A new device on the same VM, backing and region: empty state. */
void vmt_rq_env_recreate(struct vmt_rq_env *e, u64 requested);
/* SET_RUNNING 0, a fresh ring (after the vhost core stopped it), 1. */
void vmt_rq_env_reattach(struct vmt_rq_env *e);
void vmt_rq_env_free(struct vmt_rq_env *e);

/*
 * Anonymous backing as vmt_backing_init() makes it, at an address that is a
 * multiple of align (as a VMM aligns its RAM): a transparent huge page then
 * never straddles two blocks.
 */
void vmt_rq_backing_anon_aligned(struct vmt_backing *b, u64 size, u64 align);

/*
 * After requests the model could not follow (a race, a dead VMM's): a new
 * model from the device's answers, STATE of each usable block and the
 * sizes and counters of GET_STATUS.  Every block must be PLUGGED or
 * UNPLUGGED; the device must be running.
 */
void vmt_rq_env_resync(struct vmt_rq_env *e);

/* VHOST_MEM_SET_REQUESTED_SIZE, checked against the model. */
void vmt_rq_resize(struct vmt_rq_env *e, u64 requested);
/* SET_RUNNING, failing the test on error. */
void vmt_rq_set_running(struct vmt_rq_env *e, bool running);

/* The GPA of block i and the host address behind it. */
u64 vmt_rq_gpa(struct vmt_rq_env *e, u64 block);
void *vmt_rq_hva(struct vmt_rq_env *e, u64 block);

/*
 * Send one request and wait for the answer.  The answer must be the one the
 * model predicts (the test fails otherwise, naming both); the model then
 * applies it.  Returns the answer; *state for an ACKed STATE.
 */
u16 vmt_rq_send(struct vmt_rq_env *e, u16 type, u64 addr, u16 nb, u16 *state);
/*
 * A request the model would ACK, which must come back BUSY because the host
 * side fails (the test arranged that); counted, state unchanged.
 */
void vmt_rq_send_busy(struct vmt_rq_env *e, u16 type, u64 addr, u16 nb);
/*
 * An answered request (vmt_mem_complete()) must have the answer the model
 * predicts; the model then applies it.
 */
void vmt_rq_settle(struct vmt_rq_env *e, const struct vmt_mem_req *req);
/*
 * Many requests with one kick; each answer must match the model, applied in
 * ring order.  All must be answered.
 */
void vmt_rq_batch(struct vmt_rq_env *e, struct vmt_mem_req *reqs,
		  unsigned int n);

/* GET_STATUS must match the model; prints the differences and fails. */
void vmt_rq_check_status(struct vmt_rq_env *e);
/*
 * STATE of every run of equal blocks in the usable region (and MIXED across
 * each boundary between runs) must be what the model says.
 */
void vmt_rq_check_states(struct vmt_rq_env *e);
/*
 * The guest reaches a plugged block of every chunk with a plugged block,
 * and gets KVM_EXIT_MMIO in every other chunk and past the region.
 */
void vmt_rq_check_guest(struct vmt_rq_env *e);
/* All three, and no new kernel complaint in the log. */
void vmt_rq_check_all(struct vmt_rq_env *e);

/* ------------------------------------------------------------------ */
/* Raw chains                                                         */
/* ------------------------------------------------------------------ */

/* GPA and host address of area slot i. */
u64 vmt_rq_slot_gpa(struct vmt_rq_env *e, unsigned int i);
void *vmt_rq_slot(struct vmt_rq_env *e, unsigned int i);
/* The 24 little-endian bytes of a request. */
void vmt_rq_encode(u8 *out, u16 type, u64 addr, u16 nb);
/*
 * Append to bufs[*n] the bytes of data (device-readable) or len poisoned
 * bytes (device-writable, data NULL) placed at gpa, cut into pieces of
 * piece bytes with gap bytes between them.  Returns the GPA after the last
 * piece.
 */
u64 vmt_rq_scatter(struct vmt_rq_env *e, struct vmt_buf *bufs, unsigned int *n,
		   u64 gpa, const void *data, u32 len, u32 piece, u32 gap,
		   bool write);
/* Gather len bytes from the device-writable buffers, in chain order. */
void vmt_rq_gather(struct vmt_rq_env *e, const struct vmt_buf *bufs,
		   unsigned int n, void *out, u32 len);
/*
 * Add, publish and kick one chain, then wait up to timeout_ms for its used
 * entry.  Returns 1 with *u filled, 0 if nothing came.
 */
int vmt_rq_raw(struct vmt_rq_env *e, const struct vmt_buf *bufs,
	       unsigned int n, unsigned int flags, struct vmt_used *u,
	       int timeout_ms);

/* ------------------------------------------------------------------ */
/* The kernel log                                                     */
/* ------------------------------------------------------------------ */

/*
 * Lines of the kernel log that the VM runner treats as a failure (oops,
 * BUG, WARNING, ...); with show, printed.  -errno if the log is unreadable.
 */
int __vmt_klog_problems(bool show);

/* The answer to one request must be want (and the model's prediction). */
#define VMT_RQ_EXPECT(e, want, type, block, nb) do { \
	u64 __b = (block); \
	u16 __got = vmt_rq_send((e), (type), vmt_rq_gpa((e), __b), (nb), \
				NULL); \
	ASSERT_EQ((want), __got) \
		TH_LOG("%s block %llu x %u: expected %s, got %s", \
		       vmt_mem_req_name(type), (unsigned long long)__b, \
		       (unsigned int)(nb), vmt_mem_resp_name(want), \
		       vmt_mem_resp_name(__got)); \
} while (0)

#endif /* VMT_REQ_UTIL_H */
