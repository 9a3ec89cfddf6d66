// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem benchmark: requests per second and per-request latency of PLUG
 * and UNPLUG through /dev/vhost-mem, beside the raw cost of the same work
 * done directly from userspace, in the same run on the same VM and backing.
 *
 *   vhost_mem_bench -o FILE [-r REPS] [-R REPS] [-w WARMUP] [-n N] [-N N]
 *                   [-B N] [-b anon,memfd] [-c block,1G] [-t]
 *
 * Prints a table and writes the results as JSON to FILE.  See README.md.
 */
#include <getopt.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "paths.h"
#include "trace.h"

#define VMB_MAX_CHUNKS		4

struct vmb_opts {
	const char *out;
	unsigned int reps[VMB_NR_SIZES];
	unsigned int warmup;
	unsigned int nreq[VMB_NR_SIZES];
	unsigned int batch;
	bool backing[VMT_BACKING_MEMFD + 1];
	u64 chunks[VMB_MAX_CHUNKS];
	unsigned int nr_chunks;
	bool trace;
};

static void vmb_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s -o FILE [-r REPS] [-R REPS] [-w WARMUP] [-n N] [-N N] [-B N] [-b anon,memfd] [-c block,1G] [-t]\n"
		"  -o FILE   write the results as JSON to FILE\n"
		"  -r REPS   measured repetitions of the 1-block rounds (default 5)\n"
		"  -R REPS   measured repetitions of the 64-block rounds (default 3)\n"
		"  -w N      warm-up repetitions, not recorded (default 1)\n"
		"  -n N      1-block requests per round (default 32, at most %u)\n"
		"  -N N      64-block requests per round (default 2, at most %u)\n"
		"  -B N      requests per kick in batch mode (default 8)\n"
		"  -b LIST   backings: anon, memfd (default both)\n"
		"  -c LIST   memslot chunk sizes: block or a size with K/M/G (default block,1G)\n"
		"  -t        also a traced round of 1-block requests per configuration and\n"
		"            mode: where the time goes, from the function_graph tracer\n",
		prog, VMB_MAX_REQS, VMB_MAX_REQS);
	exit(2);
}

static unsigned int vmb_parse_uint(const char *s, unsigned int min,
				   unsigned int max, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*s == '-' || *end || v < min || v > max) {
		fprintf(stderr, "%s: '%s' is not a number from %u to %u\n",
			what, s, min, max);
		exit(2);
	}
	return v;
}

static u64 vmb_parse_size(const char *s)
{
	u64 v, shift = 0;
	char *end;

	if (!strcmp(s, "block"))
		return VMB_BLOCK_SIZE;
	v = strtoull(s, &end, 0);
	switch (*end) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case '\0':
		break;
	default:
		v = 0;
	}
	if (*end && end[1])
		v = 0;
	v <<= shift;
	if (*s == '-' || v < VMB_BLOCK_SIZE || (v & (v - 1))) {
		fprintf(stderr, "chunk size '%s': expected a power of two of at least the block size (2M)\n",
			s);
		exit(2);
	}
	return v;
}

static void vmb_parse_list(char *list, struct vmb_opts *o, bool chunks)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (chunks) {
			if (o->nr_chunks == VMB_MAX_CHUNKS) {
				fprintf(stderr, "at most %u chunk sizes\n",
					VMB_MAX_CHUNKS);
				exit(2);
			}
			o->chunks[o->nr_chunks++] = vmb_parse_size(tok);
		} else if (!strcmp(tok, "anon")) {
			o->backing[VMT_BACKING_ANON] = true;
		} else if (!strcmp(tok, "memfd")) {
			o->backing[VMT_BACKING_MEMFD] = true;
		} else {
			fprintf(stderr, "unknown backing '%s': anon or memfd\n",
				tok);
			exit(2);
		}
	}
}

static void vmb_parse_args(int argc, char **argv, struct vmb_opts *o)
{
	bool backings = false;
	int opt;

	*o = (struct vmb_opts){
		.reps = { 5, 3 },
		.warmup = 1,
		.nreq = { 32, 2 },
		.batch = 8,
	};
	while ((opt = getopt(argc, argv, "o:r:R:w:n:N:B:b:c:th")) != -1) {
		switch (opt) {
		case 'o':
			o->out = optarg;
			break;
		case 'r':
			o->reps[0] = vmb_parse_uint(optarg, 1, 1000, "-r");
			break;
		case 'R':
			o->reps[1] = vmb_parse_uint(optarg, 1, 1000, "-R");
			break;
		case 'w':
			o->warmup = vmb_parse_uint(optarg, 0, 1000, "-w");
			break;
		case 'n':
			o->nreq[0] = vmb_parse_uint(optarg, 1, VMB_MAX_REQS,
						    "-n");
			break;
		case 'N':
			o->nreq[1] = vmb_parse_uint(optarg, 1, VMB_MAX_REQS,
						    "-N");
			break;
		case 'B':
			o->batch = vmb_parse_uint(optarg, 1, VMB_MAX_REQS,
						  "-B");
			break;
		case 'b':
			vmb_parse_list(optarg, o, false);
			backings = true;
			break;
		case 'c':
			vmb_parse_list(optarg, o, true);
			break;
		case 't':
			o->trace = true;
			break;
		default:
			vmb_usage(argv[0]);
		}
	}
	if (!o->out || optind != argc)
		vmb_usage(argv[0]);
	if (!backings) {
		o->backing[VMT_BACKING_ANON] = true;
		o->backing[VMT_BACKING_MEMFD] = true;
	}
	if (!o->nr_chunks) {
		o->chunks[o->nr_chunks++] = VMB_BLOCK_SIZE;
		o->chunks[o->nr_chunks++] = VMT_GIB;
	}
}

/*
 * The backing, aligned to the block size so that anonymous blocks can be
 * transparent huge pages, as a VMM aligns its RAM.
 */
static void vmb_backing_init(struct vmt_backing *b, enum vmt_backing_type type,
			     u64 size)
{
	u64 align = VMB_BLOCK_SIZE;
	u8 *area, *start, *p;

	memset(b, 0, sizeof(*b));
	b->type = type;
	b->size = size;
	b->fd = -1;
	area = mmap(NULL, size + align, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(area != MAP_FAILED, "reserving %llu bytes",
		    (unsigned long long)(size + align));
	start = (u8 *)VMT_ALIGN_UP((uintptr_t)area, align);
	if (type == VMT_BACKING_MEMFD) {
		b->fd = memfd_create("vhost-mem-bench", MFD_CLOEXEC);
		TEST_ASSERT(b->fd >= 0, "memfd_create");
		TEST_ASSERT(!ftruncate(b->fd, size), "ftruncate of the memfd");
		p = mmap(start, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, b->fd, 0);
	} else {
		p = mmap(start, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			 MAP_FIXED, -1, 0);
	}
	TEST_ASSERT(p == start, "mapping the %s backing",
		    vmt_backing_name(type));
	if (start > area)
		munmap(area, start - area);
	munmap(start + size, area + size + align - (start + size));
	b->hva = start;
}

static void vmb_read_setting(const char *path, char *buf, size_t size)
{
	if (__vmt_read_file(path, buf, size) < 0)
		snprintf(buf, size, "unknown");
}

static void vmb_report_env(struct vmb_report *r)
{
	const char *series = getenv("VHOST_MEM_SERIES");
	struct utsname u;

	if (!uname(&u))
		snprintf(r->kernel, sizeof(r->kernel), "%s", u.release);
	snprintf(r->series, sizeof(r->series), "%s", series ? series : "");
	vmb_read_setting("/sys/kernel/mm/transparent_hugepage/enabled",
			 r->thp, sizeof(r->thp));
	vmb_read_setting("/sys/kernel/mm/transparent_hugepage/shmem_enabled",
			 r->shmem_thp, sizeof(r->shmem_thp));
	r->cpus = sysconf(_SC_NPROCESSORS_ONLN);
}

static struct vmb_row *vmb_row(struct vmb_row *rows, unsigned int size,
			       enum vmb_op op, enum vmb_mode mode)
{
	return &rows[(size * VMB_NR_OPS + op) * VMB_NR_MODES + mode];
}

#define VMB_ROWS_PER_CONFIG	(VMB_NR_SIZES * VMB_NR_OPS * VMB_NR_MODES)

static void vmb_rows_init(struct vmb_ctx *c, const struct vmb_opts *o,
			  struct vmb_row *rows)
{
	unsigned int s, op, mode;

	for (s = 0; s < VMB_NR_SIZES; s++) {
		vmb_round_init(c, vmb_sizes[s], o->nreq[s]);
		for (op = 0; op < VMB_NR_OPS; op++) {
			for (mode = 0; mode < VMB_NR_MODES; mode++) {
				struct vmb_row *row = vmb_row(rows, s, op, mode);

				row->backing = c->b->type;
				row->chunk_size = c->chunk_size;
				row->nb_blocks = vmb_sizes[s];
				row->op = op;
				row->mode = mode;
				row->reqs_per_round = o->nreq[s];
				row->slot_ops = vmb_round_slot_ops(c);
				row->measured[VMB_KERNEL] = true;
				row->measured[VMB_RAW] = true;
				/*
				 * Next to 64 blocks of work, a syscall's own
				 * cost is noise: only 1 block compares the
				 * two ways of discarding.
				 */
				row->measured[VMB_RAW_SYSCALL] =
					op == VMB_UNPLUG && vmb_sizes[s] == 1;
			}
		}
	}
}

/*
 * The rounds of one repetition of one request size: single mode, then
 * batch mode.  The paths take turns in an order that changes from request
 * to request (single) and from repetition to repetition (batch), so that a
 * drift of the machine (another process's load, the page allocator's
 * state) weighs on all of them alike.  A warm-up round (rep < 0) records
 * nothing and populates nothing: it only runs every code path once.
 */
static void vmb_repetition(struct vmb_ctx *c, struct vmb_report *r,
			   struct vmb_row *rows, unsigned int s, int rep)
{
	bool rec = rep >= 0;
	unsigned int mode, p;

	for (mode = 0; mode < VMB_NR_MODES; mode++) {
		struct vmb_row *plug = vmb_row(rows, s, VMB_PLUG, mode);
		struct vmb_row *unplug = vmb_row(rows, s, VMB_UNPLUG, mode);
		struct vmb_round_spec spec = {
			.mode = mode,
			.populate = rec,
			.pop = rec ? &r->populate[c->b->type][s] : NULL,
			.turn = rep + (int)mode,
		};

		for (p = 0; p < VMB_NR_PATHS; p++) {
			spec.lane[p] = plug->measured[p] ||
				       unplug->measured[p];
			if (rec && plug->measured[p])
				spec.plug[p] = &plug->res[p];
			if (rec && unplug->measured[p])
				spec.unplug[p] = &unplug->res[p];
		}
		vmb_round(c, &spec);
	}
}

/*
 * One more round of 1-block requests in each mode, traced: markers around
 * every request (or batch), the kernel's function_graph tracer inside.
 * Apart from the measured rounds, since tracing slows down what it traces.
 */
static void vmb_traced_round(struct vmb_ctx *c, struct vmb_report *r,
			     struct vmb_row *rows, enum vmb_mode mode)
{
	struct vmb_row *plug = vmb_row(rows, 0, VMB_PLUG, mode);
	struct vmb_row *unplug = vmb_row(rows, 0, VMB_UNPLUG, mode);
	struct vmb_round_spec spec = {
		.mode = mode,
		.populate = true,
	};
	struct vmb_trace_stats *st[VMB_NR_OPS];
	unsigned int p;
	int ret;

	plug->trace = calloc(1, sizeof(*plug->trace));
	unplug->trace = calloc(1, sizeof(*unplug->trace));
	TEST_ASSERT(plug->trace && unplug->trace, "out of memory");
	st[VMB_PLUG] = plug->trace;
	st[VMB_UNPLUG] = unplug->trace;
	for (p = 0; p < VMB_NR_PATHS; p++)
		spec.lane[p] = plug->measured[p] || unplug->measured[p];

	ret = vmb_trace_begin();
	if (ret) {
		snprintf(r->trace_error, sizeof(r->trace_error),
			 "setting up the tracer: %s", vmt_errname(-ret));
		vmb_trace_end(NULL);
		return;
	}
	vmb_round(c, &spec);
	r->trace_lost += vmb_trace_end(st);
	r->traced = true;
}

static void vmb_run_config(struct vmb_ctx *c, const struct vmb_opts *o,
			   struct vmb_report *r, struct vmb_row *rows)
{
	u64 t0 = vmt_now_ns();
	unsigned int s, mode;
	int rep;

	vmb_rows_init(c, o, rows);
	for (s = 0; s < VMB_NR_SIZES; s++) {
		vmb_round_init(c, vmb_sizes[s], o->nreq[s]);
		for (rep = -(int)o->warmup; rep < (int)o->reps[s]; rep++) {
			vmb_repetition(c, r, rows, s, rep);
			/* the fixed cost, between the rounds of 1 block */
			for (mode = 0; s == 0 && mode < VMB_NR_MODES; mode++)
				vmb_null_run(c, mode, o->nreq[0],
					     rep >= 0 ? &r->null.res[mode] :
					     NULL);
		}
		for (mode = 0; s == 0 && o->trace && mode < VMB_NR_MODES &&
		     !*r->trace_error; mode++)
			vmb_traced_round(c, r, rows, mode);
		fprintf(stderr, "# %s, %llu MiB chunks, %u-block requests: %u+%u repetitions done (%.1f s)\n",
			vmt_backing_name(c->b->type),
			(unsigned long long)(c->chunk_size >> 20),
			vmb_sizes[s], o->warmup, o->reps[s],
			(vmt_now_ns() - t0) / 1e9);
	}
}

int main(int argc, char **argv)
{
	struct vmb_report r = {};
	struct vmb_ctx c = {};
	struct vmb_opts o;
	const char *why;
	unsigned int i, cfg = 0;
	u64 t0 = vmt_now_ns(), need;
	int ret;

	vmb_parse_args(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);

	why = vmt_mem_skip_reason();
	TEST_ASSERT(!why, "cannot benchmark: %s", why);
	why = vmt_kvm_skip_reason();
	TEST_ASSERT(!why, "cannot benchmark: %s", why);

	vmb_report_env(&r);
	if (o.trace) {
		ret = vmb_trace_available();
		if (ret)
			snprintf(r.trace_error, sizeof(r.trace_error),
				 "no function_graph tracer in tracefs: %s",
				 vmt_errname(-ret));
	}
	r.reps[0] = o.reps[0];
	r.reps[1] = o.reps[1];
	r.warmup = o.warmup;
	/* one region holds every round; at least a GiB, a whole chunk */
	need = 0;
	for (i = 0; i < VMB_NR_SIZES; i++) {
		r.nreq[i] = o.nreq[i];
		if ((u64)o.nreq[i] * vmb_sizes[i] * VMB_BLOCK_SIZE > need)
			need = (u64)o.nreq[i] * vmb_sizes[i] * VMB_BLOCK_SIZE;
	}
	c.region_size = VMT_ALIGN_UP(need, VMT_GIB);
	for (i = 0; i < o.nr_chunks; i++)
		if (o.chunks[i] > c.region_size)
			c.region_size = o.chunks[i];
	r.region_size = c.region_size;

	r.nr_rows = o.nr_chunks * VMB_ROWS_PER_CONFIG *
		    (o.backing[VMT_BACKING_ANON] + o.backing[VMT_BACKING_MEMFD]);
	r.rows = calloc(r.nr_rows, sizeof(*r.rows));
	TEST_ASSERT(r.rows, "out of memory");
	for (i = 0; i <= VMT_BACKING_MEMFD; i++) {
		r.populate[i][0].backing = i;
		r.populate[i][1].backing = i;
		r.populate[i][0].nb_blocks = vmb_sizes[0];
		r.populate[i][1].nb_blocks = vmb_sizes[1];
	}
	r.null.reqs_per_round = o.nreq[0];
	r.batch = o.batch;
	c.batch = o.batch;

	c.vm = vmt_vm_create(0);
	vmt_vq_init(&c.vq, c.vm, 0);
	ret = io_uring_queue_init(VMB_MAX_REQS, &c.ring, 0);
	TEST_ASSERT(!ret, "io_uring_queue_init: %s", vmt_errname(-ret));

	for (i = 0; i <= VMT_BACKING_MEMFD; i++) {
		struct vmt_backing b;
		unsigned int k;

		if (!o.backing[i])
			continue;
		/* one lane per path */
		vmb_backing_init(&b, i, VMB_NR_PATHS * c.region_size);
		for (k = 0; k < o.nr_chunks; k++) {
			vmb_dev_open(&c, &b, o.chunks[k]);
			vmb_run_config(&c, &o, &r,
				       &r.rows[cfg++ * VMB_ROWS_PER_CONFIG]);
			vmb_dev_close(&c);
		}
		vmt_backing_free(&b);
	}
	r.wall_ns = vmt_now_ns() - t0;

	vmb_print_table(stdout, &r);
	ret = vmb_write_json(o.out, &r);
	TEST_ASSERT(!ret, "writing %s: %s", o.out, vmt_errname(-ret));
	printf("# results written to %s\n", o.out);

	io_uring_queue_exit(&c.ring);
	vmt_vq_destroy(&c.vq);
	vmt_vm_free(c.vm);
	return 0;
}
