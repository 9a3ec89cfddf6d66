/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem benchmark: where a request's time goes, from the kernel's
 * function_graph tracer.
 *
 * While a traced round runs, the benchmark writes a marker into the trace
 * before and after each request; the tracer records the vhost worker's
 * kick handler, the memslot updates (__kvm_set_memory_region, and the SRCU
 * grace periods inside), the discards (zap_page_range[_single],
 * vfs_fallocate) and vhost_signal(), with absolute timestamps.  Between two
 * markers is one request, or one batch, of one path: its time splits into
 * the host work, which every path does, and the rest.
 */
#ifndef VMB_TRACE_H
#define VMB_TRACE_H

#include "bench.h"

enum vmb_tmetric {
	VMB_T_TOTAL,		/* marker to marker */
	VMB_T_BEFORE,		/* kernel: submission to the kick handler */
	VMB_T_WORKER,		/* kernel: the kick handler */
	VMB_T_MEMSLOT,		/* __kvm_set_memory_region */
	VMB_T_SRCU,		/* synchronize_srcu_expedited, in the above */
	VMB_T_DISCARD,		/* zap_page_range[_single] or vfs_fallocate */
	VMB_T_SIGNAL,		/* kernel: vhost_signal() */
	VMB_T_MODULE,		/* kernel: handler - memslot - discard - signal */
	VMB_T_AFTER,		/* kernel: handler's end to the entry seen */
	VMB_T_OTHER,		/* raw: total - memslot - discard */
	VMB_NR_TMETRICS
};

const char *vmb_tmetric_name(enum vmb_tmetric m);

struct vmb_trace_stats {
	bool measured;
	struct vmb_samples m[VMB_NR_PATHS][VMB_NR_TMETRICS];
};

/* Whether tracing can be used here (tracefs, function_graph); -errno. */
int vmb_trace_available(void);
/* Set the tracer up and start it; the rounds that follow are traced. */
int vmb_trace_begin(void);
/*
 * A marker: 's' before requests [first, first + n) of a path and an op
 * (one request, or a batch), 'e' after them.
 */
void vmb_trace_mark(enum vmb_path p, enum vmb_op op, unsigned int first,
		    unsigned int n, char edge);
/*
 * Stop, read the trace into stats[op] (each request, or batch, one sample
 * of every metric, per request) and put the tracer back to nop.  Returns
 * the requests or batches that could not be accounted for (on the kernel
 * path, without a kick handler).
 */
unsigned int vmb_trace_end(struct vmb_trace_stats *stats[VMB_NR_OPS]);

#endif /* VMB_TRACE_H */
