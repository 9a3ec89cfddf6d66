/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem benchmark: PLUG and UNPLUG through /dev/vhost-mem, beside the
 * same memslot and discard work done directly from userspace, in one run on
 * one KVM VM and one backing.  See bench/README.md.
 */
#ifndef VMB_BENCH_H
#define VMB_BENCH_H

#include "vmt.h"

#define VMB_BLOCK_SIZE		(2 * VMT_MIB)	/* THP size: QEMU's default */
#define VMB_REGION_GPA		(4 * VMT_GIB)	/* above the test VM's boot RAM */
#define VMB_SLOT_BASE		1		/* boot RAM is memslot 0 */
#define VMB_MAX_REQS		64		/* two descriptors each, 128 ring */

/* Request sizes measured: 1 block and 64 blocks (one Linux memory block). */
#define VMB_NR_SIZES		2
extern const u16 vmb_sizes[VMB_NR_SIZES];

enum vmb_op { VMB_PLUG, VMB_UNPLUG, VMB_NR_OPS };

/*
 * single: one request in flight, wait for it, then the next (latency).
 * batch:  a few requests with one kick, one wait (throughput).
 */
enum vmb_mode { VMB_SINGLE, VMB_BATCH, VMB_NR_MODES };

/*
 * kernel:      requests on the requestq of /dev/vhost-mem.
 * raw:         KVM_SET_USER_MEMORY_REGION and discards through io_uring
 *              (IORING_OP_MADVISE / IORING_OP_FALLOCATE), all SQEs of a
 *              batch in one submission.
 * raw_syscall: the same memslot ioctls, discards by madvise()/fallocate()
 *              one after the other (UNPLUG only: PLUG discards nothing).
 */
enum vmb_path { VMB_KERNEL, VMB_RAW, VMB_RAW_SYSCALL, VMB_NR_PATHS };

const char *vmb_op_name(enum vmb_op op);
const char *vmb_mode_name(enum vmb_mode mode);
const char *vmb_path_name(enum vmb_path path);

/* A growing array of nanosecond samples. */
struct vmb_samples {
	u64 *ns;
	unsigned int n, cap;
};

void vmb_samples_add(struct vmb_samples *s, u64 ns);
void vmb_samples_free(struct vmb_samples *s);
/* Nearest-rank percentile (0 < pct <= 100) of the samples; 0 if none. */
u64 vmb_percentile(struct vmb_samples *s, double pct);
u64 vmb_mean(const struct vmb_samples *s);

/*
 * What one path measured for one row: per-request times (single: latency
 * of each request; batch: each batch's time divided by its requests) and
 * the totals for the rate.
 */
struct vmb_result {
	struct vmb_samples lat;
	u64 total_ns;
	u64 total_reqs;
	/* kernel path, single mode: where the round trip went */
	struct vmb_samples kick;	/* the eventfd write */
	struct vmb_samples wait;	/* from the kick's return to the entry */
	u64 done_at_kick;		/* entry already there after the kick */
};

struct vmb_trace_stats;

/* One line of the report: a configuration, an operation and a mode. */
struct vmb_row {
	enum vmt_backing_type backing;
	u64 chunk_size;
	u16 nb_blocks;
	enum vmb_op op;
	enum vmb_mode mode;
	unsigned int reqs_per_round;
	u64 slot_ops;			/* memslot creates/deletes, per round */
	bool measured[VMB_NR_PATHS];
	struct vmb_result res[VMB_NR_PATHS];
	struct vmb_trace_stats *trace;	/* 1 block, single mode, with -t */
};

/* Requests with no host work (answered ERROR): the module's fixed cost. */
struct vmb_null {
	unsigned int reqs_per_round;
	struct vmb_result res[VMB_NR_MODES];
};

/* Cost of populating the blocks before each UNPLUG (not part of a path). */
struct vmb_populate {
	enum vmt_backing_type backing;
	u16 nb_blocks;
	struct vmb_samples per_req;
	u64 pages;			/* resident pages seen after populating */
	u64 reqs;
};

struct vmb_report {
	/* environment */
	char kernel[128];
	char series[16];
	char thp[64];
	char shmem_thp[64];
	long cpus;
	/* parameters */
	unsigned int reps[VMB_NR_SIZES], warmup;
	bool traced;
	char trace_error[64];		/* why there is no breakdown */
	unsigned int trace_lost;	/* requests the trace did not explain */
	unsigned int nreq[VMB_NR_SIZES];
	unsigned int batch;
	u64 region_size;
	u64 wall_ns;
	/* results */
	struct vmb_row *rows;
	unsigned int nr_rows;
	struct vmb_null null;
	struct vmb_populate populate[VMT_BACKING_MEMFD + 1][VMB_NR_SIZES];
};

/* report.c */
void vmb_print_table(FILE *f, struct vmb_report *r);
int vmb_write_json(const char *path, struct vmb_report *r);

#endif /* VMB_BENCH_H */
