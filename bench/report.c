// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem benchmark: the table and the JSON results.
 */
#include <stdlib.h>

#include "bench.h"
#include "trace.h"

/* The goal of issue 3: the module adds at most 10% to the raw work. */
#define VMB_GOAL_RATIO		1.10
/* Below this, the raw path did (almost) nothing: a ratio means little. */
#define VMB_MIN_RAW_NS		1000

static double vmb_us(u64 ns)
{
	return ns / 1000.0;
}

static double vmb_rate(const struct vmb_result *res)
{
	return res->total_ns ? res->total_reqs * 1e9 / res->total_ns : 0;
}

static const char *vmb_chunk_name(u64 chunk_size)
{
	static char buf[4][16];
	static unsigned int next;
	char *s = buf[next++ % 4];

	if (chunk_size >= VMT_GIB)
		snprintf(s, 16, "%lluG", (unsigned long long)(chunk_size >> 30));
	else
		snprintf(s, 16, "%lluM", (unsigned long long)(chunk_size >> 20));
	return s;
}

static const char *vmb_backing_short(enum vmt_backing_type type)
{
	return type == VMT_BACKING_MEMFD ? "memfd" : "anon";
}

/* Per-request memslot creates (PLUG) or deletes (UNPLUG). */
static double vmb_slots_per_req(const struct vmb_row *row)
{
	return row->slot_ops / 2.0 / row->reqs_per_round;
}

/* The better of the raw paths at the median: the best userspace can do. */
static enum vmb_path vmb_best_raw(struct vmb_row *row)
{
	if (row->measured[VMB_RAW_SYSCALL] &&
	    vmb_percentile(&row->res[VMB_RAW_SYSCALL].lat, 50) <
	    vmb_percentile(&row->res[VMB_RAW].lat, 50))
		return VMB_RAW_SYSCALL;
	return VMB_RAW;
}

static double vmb_ratio(struct vmb_row *row, enum vmb_path raw)
{
	u64 k = vmb_percentile(&row->res[VMB_KERNEL].lat, 50);
	u64 w = vmb_percentile(&row->res[raw].lat, 50);

	return w >= VMB_MIN_RAW_NS ? (double)k / w : 0;
}

static void vmb_print_header(FILE *f, struct vmb_report *r)
{
	fprintf(f, "# vhost-mem benchmark: kernel %s%s%s, %ld CPU, THP %s, shmem THP %s\n",
		r->kernel, *r->series ? ", series " : "", r->series, r->cpus,
		r->thp, r->shmem_thp);
	fprintf(f, "# %llu MiB blocks, %llu MiB region; per round %u requests of 1 block and %u of 64 blocks;\n",
		(unsigned long long)(VMB_BLOCK_SIZE >> 20),
		(unsigned long long)(r->region_size >> 20), r->nreq[0],
		r->nreq[1]);
	fprintf(f, "# %u (1 block) and %u (64 blocks) repetitions after %u warm-up; %.1f s in all\n",
		r->reps[0], r->reps[1], r->warmup, r->wall_ns / 1e9);
	fprintf(f, "#\n");
	fprintf(f, "# single: one request at a time, latency from submission to its used entry\n");
	fprintf(f, "# batch:  %u requests with one kick; time per request of each batch\n",
		r->batch);
	fprintf(f, "# raw: the same memslot ioctls and discards from userspace, discards through\n");
	fprintf(f, "#      io_uring; sys: discards by plain syscalls (UNPLUG only)\n");
	fprintf(f, "# slots: memslots created (PLUG) or deleted (UNPLUG) per request\n");
	fprintf(f, "# ratio: kernel p50 / best raw p50 (goal <= %.2f); +us: kernel p50 - best raw p50\n",
		VMB_GOAL_RATIO);
	fprintf(f, "# times in microseconds\n");
	fprintf(f, "#\n");
}

static void vmb_print_rows(FILE *f, struct vmb_report *r)
{
	unsigned int i;

	fprintf(f, "%-5s %5s %3s %-6s %-6s %5s | %8s %8s %8s %8s | %8s %8s %8s %8s | %8s | %6s %8s %s\n",
		"back", "chunk", "blk", "op", "mode", "slots",
		"k req/s", "k p50", "k p90", "k p99",
		"raw rq/s", "raw p50", "raw p90", "raw p99",
		"sys p50", "ratio", "+us", "goal");
	for (i = 0; i < r->nr_rows; i++) {
		struct vmb_row *row = &r->rows[i];
		struct vmb_result *k = &row->res[VMB_KERNEL];
		struct vmb_result *w = &row->res[VMB_RAW];
		enum vmb_path best = vmb_best_raw(row);
		double ratio = vmb_ratio(row, best);
		char sys[16] = "-", rs[16] = "-";
		const char *goal = "-";

		if (row->measured[VMB_RAW_SYSCALL])
			snprintf(sys, sizeof(sys), "%8.1f",
				 vmb_us(vmb_percentile(&row->res[VMB_RAW_SYSCALL].lat,
						       50)));
		if (ratio) {
			snprintf(rs, sizeof(rs), "%6.2f", ratio);
			goal = ratio <= VMB_GOAL_RATIO ? "ok" : "over";
		}
		fprintf(f, "%-5s %5s %3u %-6s %-6s %5.2f | %8.0f %8.1f %8.1f %8.1f | %8.0f %8.1f %8.1f %8.1f | %8s | %6s %8.1f %s\n",
			vmb_backing_short(row->backing),
			vmb_chunk_name(row->chunk_size), row->nb_blocks,
			vmb_op_name(row->op), vmb_mode_name(row->mode),
			vmb_slots_per_req(row),
			vmb_rate(k), vmb_us(vmb_percentile(&k->lat, 50)),
			vmb_us(vmb_percentile(&k->lat, 90)),
			vmb_us(vmb_percentile(&k->lat, 99)),
			vmb_rate(w), vmb_us(vmb_percentile(&w->lat, 50)),
			vmb_us(vmb_percentile(&w->lat, 90)),
			vmb_us(vmb_percentile(&w->lat, 99)),
			sys, rs,
			vmb_us(vmb_percentile(&k->lat, 50)) -
			vmb_us(vmb_percentile(&row->res[best].lat, 50)),
			goal);
	}
}

/*
 * Single mode: how the kernel path's round trip splits (the eventfd write
 * of the kick, then the wait for the entry), against the round trip of a
 * request with no host work at all.
 */
static void vmb_print_breakdown(FILE *f, struct vmb_report *r)
{
	struct vmb_result *ns = &r->null.res[VMB_SINGLE];
	struct vmb_result *nb = &r->null.res[VMB_BATCH];
	unsigned int i;

	fprintf(f, "#\n# the fixed cost: requests answered ERROR before any host work (%u samples)\n",
		ns->lat.n);
	fprintf(f, "#   single: round trip p50 %.1f p90 %.1f p99 %.1f (kick write p50 %.1f, wait p50 %.1f, answered during the kick %.0f%%)\n",
		vmb_us(vmb_percentile(&ns->lat, 50)),
		vmb_us(vmb_percentile(&ns->lat, 90)),
		vmb_us(vmb_percentile(&ns->lat, 99)),
		vmb_us(vmb_percentile(&ns->kick, 50)),
		vmb_us(vmb_percentile(&ns->wait, 50)),
		ns->total_reqs ? 100.0 * ns->done_at_kick / ns->total_reqs : 0);
	fprintf(f, "#   batches of %u: p50 %.1f per request\n",
		r->batch, vmb_us(vmb_percentile(&nb->lat, 50)));
	fprintf(f, "#\n# single mode, kernel path: where the time goes (p50)\n");
	fprintf(f, "%-5s %5s %3s %-6s | %8s %8s %8s | %8s %8s %6s | %9s\n",
		"back", "chunk", "blk", "op", "kernel", "best raw", "extra",
		"kick", "wait", "@kick", "extra-rt");
	for (i = 0; i < r->nr_rows; i++) {
		struct vmb_row *row = &r->rows[i];
		struct vmb_result *k = &row->res[VMB_KERNEL];
		double kp, wp;

		if (row->mode != VMB_SINGLE)
			continue;
		kp = vmb_us(vmb_percentile(&k->lat, 50));
		wp = vmb_us(vmb_percentile(&row->res[vmb_best_raw(row)].lat,
					   50));
		fprintf(f, "%-5s %5s %3u %-6s | %8.1f %8.1f %8.1f | %8.1f %8.1f %5.0f%% | %9.1f\n",
			vmb_backing_short(row->backing),
			vmb_chunk_name(row->chunk_size), row->nb_blocks,
			vmb_op_name(row->op), kp, wp, kp - wp,
			vmb_us(vmb_percentile(&k->kick, 50)),
			vmb_us(vmb_percentile(&k->wait, 50)),
			k->total_reqs ? 100.0 * k->done_at_kick / k->total_reqs :
			0, kp - wp - vmb_us(vmb_percentile(&ns->lat, 50)));
	}
	fprintf(f, "# extra: kernel - best raw; extra-rt: extra minus the fixed round trip above\n");
}

static void vmb_print_populate(FILE *f, struct vmb_report *r)
{
	unsigned int b, s;

	fprintf(f, "#\n# populating before each UNPLUG (MADV_POPULATE_WRITE; in neither path's time)\n");
	for (b = 0; b <= VMT_BACKING_MEMFD; b++) {
		for (s = 0; s < VMB_NR_SIZES; s++) {
			struct vmb_populate *p = &r->populate[b][s];

			if (!p->reqs)
				continue;
			fprintf(f, "#   %-5s %2u block(s): p50 %.1f us per request, %llu pages resident per request\n",
				vmb_backing_short(b), p->nb_blocks,
				vmb_us(vmb_percentile(&p->per_req, 50)),
				(unsigned long long)(p->pages / p->reqs));
		}
	}
}

static double vmb_tp50(struct vmb_trace_stats *t, enum vmb_path p,
		       enum vmb_tmetric m)
{
	return vmb_us(vmb_percentile(&t->m[p][m], 50));
}

/* The traced round: each request's time split by the function_graph. */
static void vmb_print_trace(FILE *f, struct vmb_report *r)
{
	unsigned int i;

	fprintf(f, "#\n# traced rounds: 1 block, p50 of each part per request (function_graph;\n");
	fprintf(f, "# tracing slows what it traces, compare the parts, not with the table above)\n");
	if (!r->traced) {
		fprintf(f, "#   not traced%s%s\n", *r->trace_error ? ": " : "",
			r->trace_error);
		return;
	}
	fprintf(f, "# kernel: before = submission to the kick handler, worker = the handler, of\n");
	fprintf(f, "#   which memslot (srcu: its grace periods), discard, signal and the module's\n");
	fprintf(f, "#   own work; after = the handler's end to the entry seen by the driver\n");
	fprintf(f, "# raw, sys: other = total - memslot - discard (syscalls, io_uring)\n");
	fprintf(f, "%-5s %5s %-6s %-6s | %7s %7s %7s %7s %7s %7s %6s %6s %7s | %7s %7s %7s %7s | %7s %7s %7s\n",
		"back", "chunk", "op", "mode", "k total", "before", "worker",
		"memslot", "srcu", "discard", "signal", "module", "after",
		"r total", "memslot", "discard", "other",
		"s total", "discard", "other");
	for (i = 0; i < r->nr_rows; i++) {
		struct vmb_row *row = &r->rows[i];
		struct vmb_trace_stats *t = row->trace;

		if (!t || !t->measured)
			continue;
		fprintf(f, "%-5s %5s %-6s %-6s | %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %6.1f %6.1f %7.1f | %7.1f %7.1f %7.1f %7.1f | ",
			vmb_backing_short(row->backing),
			vmb_chunk_name(row->chunk_size), vmb_op_name(row->op),
			vmb_mode_name(row->mode),
			vmb_tp50(t, VMB_KERNEL, VMB_T_TOTAL),
			vmb_tp50(t, VMB_KERNEL, VMB_T_BEFORE),
			vmb_tp50(t, VMB_KERNEL, VMB_T_WORKER),
			vmb_tp50(t, VMB_KERNEL, VMB_T_MEMSLOT),
			vmb_tp50(t, VMB_KERNEL, VMB_T_SRCU),
			vmb_tp50(t, VMB_KERNEL, VMB_T_DISCARD),
			vmb_tp50(t, VMB_KERNEL, VMB_T_SIGNAL),
			vmb_tp50(t, VMB_KERNEL, VMB_T_MODULE),
			vmb_tp50(t, VMB_KERNEL, VMB_T_AFTER),
			vmb_tp50(t, VMB_RAW, VMB_T_TOTAL),
			vmb_tp50(t, VMB_RAW, VMB_T_MEMSLOT),
			vmb_tp50(t, VMB_RAW, VMB_T_DISCARD),
			vmb_tp50(t, VMB_RAW, VMB_T_OTHER));
		if (t->m[VMB_RAW_SYSCALL][VMB_T_TOTAL].n)
			fprintf(f, "%7.1f %7.1f %7.1f\n",
				vmb_tp50(t, VMB_RAW_SYSCALL, VMB_T_TOTAL),
				vmb_tp50(t, VMB_RAW_SYSCALL, VMB_T_DISCARD),
				vmb_tp50(t, VMB_RAW_SYSCALL, VMB_T_OTHER));
		else
			fprintf(f, "%7s %7s %7s\n", "-", "-", "-");
	}
	if (r->trace_lost)
		fprintf(f, "# %u kernel requests or batches had no kick handler in the trace (left out)\n",
			r->trace_lost);
}

void vmb_print_table(FILE *f, struct vmb_report *r)
{
	vmb_print_header(f, r);
	vmb_print_rows(f, r);
	vmb_print_breakdown(f, r);
	vmb_print_trace(f, r);
	vmb_print_populate(f, r);
}

/* JSON */

static void vmb_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void vmb_json_samples(FILE *f, const char *name, struct vmb_samples *s)
{
	fprintf(f, "\"%s\": {\"n\": %u, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"mean\": %.3f, \"min\": %.3f, \"max\": %.3f}",
		name, s->n, vmb_us(vmb_percentile(s, 50)),
		vmb_us(vmb_percentile(s, 90)), vmb_us(vmb_percentile(s, 99)),
		vmb_us(vmb_mean(s)), vmb_us(vmb_percentile(s, 0)),
		vmb_us(vmb_percentile(s, 100)));
}

static void vmb_json_result(FILE *f, struct vmb_result *res, bool kernel,
			    bool single)
{
	fprintf(f, "{\"requests\": %llu, \"req_per_s\": %.1f, ",
		(unsigned long long)res->total_reqs, vmb_rate(res));
	vmb_json_samples(f, "lat_us", &res->lat);
	if (kernel && single) {
		fputs(", ", f);
		vmb_json_samples(f, "kick_us", &res->kick);
		fputs(", ", f);
		vmb_json_samples(f, "wait_us", &res->wait);
		fprintf(f, ", \"answered_during_kick\": %llu",
			(unsigned long long)res->done_at_kick);
	}
	fputc('}', f);
}

/* The traced round's parts, in microseconds, per path. */
static void vmb_json_trace(FILE *f, struct vmb_trace_stats *t)
{
	enum vmb_tmetric m;
	enum vmb_path p;
	bool first_path = true;

	fputs(",\n     \"trace\": {", f);
	for (p = 0; p < VMB_NR_PATHS; p++) {
		bool first = true;

		if (!t->m[p][VMB_T_TOTAL].n)
			continue;
		fprintf(f, "%s\"%s\": {", first_path ? "" : ", ",
			vmb_path_name(p));
		for (m = 0; m < VMB_NR_TMETRICS; m++) {
			bool kernel_only = m == VMB_T_BEFORE ||
					   m == VMB_T_WORKER ||
					   m == VMB_T_SIGNAL ||
					   m == VMB_T_MODULE ||
					   m == VMB_T_AFTER;

			if (kernel_only != (p == VMB_KERNEL) &&
			    m != VMB_T_TOTAL && m != VMB_T_MEMSLOT &&
			    m != VMB_T_SRCU && m != VMB_T_DISCARD)
				continue;
			fputs(first ? "" : ", ", f);
			vmb_json_samples(f, vmb_tmetric_name(m), &t->m[p][m]);
			first = false;
		}
		fputc('}', f);
		first_path = false;
	}
	fputc('}', f);
}

static void vmb_json_row(FILE *f, struct vmb_row *row)
{
	enum vmb_path best = vmb_best_raw(row), p;
	double ratio = vmb_ratio(row, best);

	fprintf(f, "    {\"backing\": \"%s\", \"chunk_size\": %llu, \"nb_blocks\": %u, \"op\": \"%s\", \"mode\": \"%s\", \"requests_per_round\": %u, \"memslot_ops_per_request\": %.4f,\n",
		vmb_backing_short(row->backing),
		(unsigned long long)row->chunk_size, row->nb_blocks,
		vmb_op_name(row->op), vmb_mode_name(row->mode),
		row->reqs_per_round, vmb_slots_per_req(row));
	for (p = 0; p < VMB_NR_PATHS; p++) {
		fprintf(f, "     \"%s\": ", vmb_path_name(p));
		if (row->measured[p])
			vmb_json_result(f, &row->res[p], p == VMB_KERNEL,
					row->mode == VMB_SINGLE);
		else
			fputs("null", f);
		fputs(",\n", f);
	}
	fprintf(f, "     \"best_raw\": \"%s\", ", vmb_path_name(best));
	if (ratio)
		fprintf(f, "\"ratio_p50\": %.4f, \"ratio_p50_raw\": %.4f, \"within_goal\": %s, ",
			ratio, vmb_ratio(row, VMB_RAW),
			ratio <= VMB_GOAL_RATIO ? "true" : "false");
	else
		fputs("\"ratio_p50\": null, \"ratio_p50_raw\": null, \"within_goal\": null, ", f);
	fprintf(f, "\"extra_us_p50\": %.3f",
		vmb_us(vmb_percentile(&row->res[VMB_KERNEL].lat, 50)) -
		vmb_us(vmb_percentile(&row->res[best].lat, 50)));
	if (row->trace && row->trace->measured)
		vmb_json_trace(f, row->trace);
	fputc('}', f);
}

int vmb_write_json(const char *path, struct vmb_report *r)
{
	FILE *f = fopen(path, "w");
	unsigned int i, b, s;
	bool first = true;

	if (!f)
		return -errno;
	fputs("{\n  \"benchmark\": \"vhost-mem issue 3\",\n  \"env\": {\"kernel\": ", f);
	vmb_json_str(f, r->kernel);
	fputs(", \"series\": ", f);
	vmb_json_str(f, r->series);
	fprintf(f, ", \"cpus\": %ld, \"thp\": ", r->cpus);
	vmb_json_str(f, r->thp);
	fputs(", \"shmem_thp\": ", f);
	vmb_json_str(f, r->shmem_thp);
	fprintf(f, "},\n  \"params\": {\"block_size\": %llu, \"region_size\": %llu, \"reps\": {\"1\": %u, \"64\": %u}, \"warmup\": %u, \"requests_per_round\": {\"1\": %u, \"64\": %u}, \"batch\": %u, \"goal_ratio\": %.2f, \"min_raw_us_for_ratio\": %.1f},\n",
		(unsigned long long)VMB_BLOCK_SIZE,
		(unsigned long long)r->region_size, r->reps[0], r->reps[1],
		r->warmup,
		r->nreq[0], r->nreq[1], r->batch, VMB_GOAL_RATIO,
		vmb_us(VMB_MIN_RAW_NS));
	fprintf(f, "  \"wall_s\": %.3f,\n  \"traced\": %s, \"trace_error\": ",
		r->wall_ns / 1e9, r->traced ? "true" : "false");
	vmb_json_str(f, r->trace_error);
	fprintf(f, ", \"trace_lost\": %u,\n  \"rows\": [\n", r->trace_lost);
	for (i = 0; i < r->nr_rows; i++) {
		vmb_json_row(f, &r->rows[i]);
		fputs(i + 1 < r->nr_rows ? ",\n" : "\n", f);
	}
	fprintf(f, "  ],\n  \"null\": {\"requests_per_round\": %u, \"single\": ",
		r->null.reqs_per_round);
	vmb_json_result(f, &r->null.res[VMB_SINGLE], true, true);
	fputs(", \"batch\": ", f);
	vmb_json_result(f, &r->null.res[VMB_BATCH], true, false);
	fputs("},\n  \"populate\": [", f);
	for (b = 0; b <= VMT_BACKING_MEMFD; b++) {
		for (s = 0; s < VMB_NR_SIZES; s++) {
			struct vmb_populate *p = &r->populate[b][s];

			if (!p->reqs)
				continue;
			fprintf(f, "%s\n    {\"backing\": \"%s\", \"nb_blocks\": %u, \"pages_per_request\": %llu, ",
				first ? "" : ",", vmb_backing_short(b),
				p->nb_blocks,
				(unsigned long long)(p->pages / p->reqs));
			vmb_json_samples(f, "per_request_us", &p->per_req);
			fputc('}', f);
			first = false;
		}
	}
	fputs("\n  ]\n}\n", f);
	if (fclose(f))
		return -errno;
	return 0;
}
