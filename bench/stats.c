// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem benchmark: samples and percentiles.
 */
#include <math.h>
#include <stdlib.h>

#include "bench.h"

const u16 vmb_sizes[VMB_NR_SIZES] = { 1, 64 };

const char *vmb_op_name(enum vmb_op op)
{
	return op == VMB_PLUG ? "PLUG" : "UNPLUG";
}

const char *vmb_mode_name(enum vmb_mode mode)
{
	return mode == VMB_SINGLE ? "single" : "batch";
}

const char *vmb_path_name(enum vmb_path path)
{
	switch (path) {
	case VMB_KERNEL:
		return "kernel";
	case VMB_RAW:
		return "raw";
	case VMB_RAW_SYSCALL:
		return "raw_syscall";
	default:
		return "unknown";
	}
}

void vmb_samples_add(struct vmb_samples *s, u64 ns)
{
	if (s->n == s->cap) {
		unsigned int cap = s->cap ? 2 * s->cap : 64;
		u64 *ns_new = realloc(s->ns, cap * sizeof(*ns_new));

		TEST_ASSERT(ns_new, "out of memory for %u samples", cap);
		s->ns = ns_new;
		s->cap = cap;
	}
	s->ns[s->n++] = ns;
}

void vmb_samples_free(struct vmb_samples *s)
{
	free(s->ns);
	s->ns = NULL;
	s->n = 0;
	s->cap = 0;
}

static int vmb_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

u64 vmb_percentile(struct vmb_samples *s, double pct)
{
	unsigned int rank;

	if (!s->n)
		return 0;
	/* Sorting in place is fine: the order of the samples means nothing. */
	qsort(s->ns, s->n, sizeof(*s->ns), vmb_cmp_u64);
	rank = (unsigned int)ceil(pct / 100.0 * s->n);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->ns[rank - 1];
}

u64 vmb_mean(const struct vmb_samples *s)
{
	u64 sum = 0;
	unsigned int i;

	if (!s->n)
		return 0;
	for (i = 0; i < s->n; i++)
		sum += s->ns[i];
	return sum / s->n;
}
