// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem benchmark: the function_graph breakdown (see trace.h).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "trace.h"

#define VMB_TRACEFS		"/sys/kernel/tracing"
#define VMB_MAX_TASKS		16
#define VMB_TASK_LEN		32

/* What the tracer records; names a kernel does not have are skipped. */
static const char * const vmb_trace_funcs[] = {
	"vhost_mem_handle_kick",
	"vhost_signal",
	"__kvm_set_memory_region",
	"synchronize_srcu_expedited",
	"zap_page_range",		/* 6.1: madvise and the module */
	"zap_page_range_single",	/* 6.12 */
	"vfs_fallocate",
};

static int vmb_marker_fd = -1;

const char *vmb_tmetric_name(enum vmb_tmetric m)
{
	static const char * const names[VMB_NR_TMETRICS] = {
		[VMB_T_TOTAL] = "total",
		[VMB_T_BEFORE] = "before",
		[VMB_T_WORKER] = "worker",
		[VMB_T_MEMSLOT] = "memslot",
		[VMB_T_SRCU] = "srcu",
		[VMB_T_DISCARD] = "discard",
		[VMB_T_SIGNAL] = "signal",
		[VMB_T_MODULE] = "module",
		[VMB_T_AFTER] = "after",
		[VMB_T_OTHER] = "other",
	};

	return names[m];
}

static int vmb_tracefs_write(const char *file, const char *val, bool append)
{
	char path[128];
	ssize_t len = strlen(val), r;
	int fd;

	snprintf(path, sizeof(path), VMB_TRACEFS "/%s", file);
	fd = open(path, O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC));
	if (fd < 0)
		return -errno;
	r = write(fd, val, len);
	r = r == len ? 0 : r < 0 ? -errno : -EIO;
	close(fd);
	return r;
}

int vmb_trace_available(void)
{
	char buf[4096];
	int r;

	r = __vmt_read_file(VMB_TRACEFS "/available_tracers", buf, sizeof(buf));
	if (r < 0)
		return r;
	return strstr(buf, "function_graph") ? 0 : -EOPNOTSUPP;
}

static int vmb_trace_reset(void)
{
	int r = vmb_tracefs_write("tracing_on", "0", false);

	if (!r)
		r = vmb_tracefs_write("current_tracer", "nop", false);
	if (!r)
		r = vmb_tracefs_write("set_ftrace_filter", "", false);
	return r;
}

int vmb_trace_begin(void)
{
	static const char * const opts[][2] = {
		{ "options/funcgraph-abstime", "1" },
		{ "options/funcgraph-tail", "1" },
		{ "options/funcgraph-proc", "1" },
		{ "options/funcgraph-irqs", "0" },
		{ "options/sleep-time", "1" },
		{ "trace_clock", "local" },
		{ "buffer_size_kb", "4096" },
	};
	unsigned int i, n = 0;
	int r;

	r = vmb_trace_reset();
	if (r)
		return r;
	for (i = 0; i < VMT_ARRAY_SIZE(vmb_trace_funcs); i++)
		n += !vmb_tracefs_write("set_ftrace_filter",
					vmb_trace_funcs[i], true);
	if (!n)
		return -ENOENT;
	for (i = 0; i < VMT_ARRAY_SIZE(opts); i++) {
		r = vmb_tracefs_write(opts[i][0], opts[i][1], false);
		if (r)
			return r;
	}
	r = vmb_tracefs_write("current_tracer", "function_graph", false);
	if (!r)
		r = vmb_tracefs_write("trace", "", false);
	if (r)
		return r;
	vmb_marker_fd = open(VMB_TRACEFS "/trace_marker",
			     O_WRONLY | O_CLOEXEC);
	if (vmb_marker_fd < 0)
		return -errno;
	return vmb_tracefs_write("tracing_on", "1", false);
}

void vmb_trace_mark(enum vmb_path p, enum vmb_op op, unsigned int first,
		    unsigned int n, char edge)
{
	char buf[48];
	int len;

	if (vmb_marker_fd < 0)
		return;
	len = snprintf(buf, sizeof(buf), "vmb %d %d %u %u %c", p, op, first,
		       n, edge);
	TEST_ASSERT(write(vmb_marker_fd, buf, len) == len,
		    "write to trace_marker");
}

/* The parsing: one line of function_graph output. */

enum vmb_tkind { VMB_TL_NONE, VMB_TL_MARK, VMB_TL_ENTRY, VMB_TL_EXIT,
		 VMB_TL_LEAF };

struct vmb_tline {
	enum vmb_tkind kind;
	u64 ts;				/* ns */
	u64 dur;			/* ns, exits and leaves */
	char task[VMB_TASK_LEN];
	char name[64];			/* function, or the marker's text */
};

static char *vmb_skip_spaces(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* The name at s: up to a space, '(' or the end. */
static void vmb_copy_name(char *dst, size_t size, const char *s)
{
	size_t n = strcspn(s, " (*");

	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/*
 * "  8.527655 |   0)  vhost-1-166   | ! 730.118 us  |    f [kvm]();"
 * Lines without four fields (headers, context-switch banners) are NONE.
 */
static void vmb_tparse(char *line, struct vmb_tline *t)
{
	char *f[4], *p = line, *dur, *text;
	size_t len;
	int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < 4; i++) {
		f[i] = p;
		if (i == 3)
			break;
		p = strchr(p, '|');
		if (!p)
			return;
		*p++ = '\0';
	}
	if (*vmb_skip_spaces(f[0]) == '#')
		return;
	t->ts = (u64)(strtod(f[0], NULL) * 1e9);
	p = strchr(f[1], ')');
	vmb_copy_name(t->task, sizeof(t->task), vmb_skip_spaces(p ? p + 1 : f[1]));
	dur = strpbrk(f[2], "0123456789");
	if (dur)
		t->dur = (u64)(strtod(dur, NULL) * 1e3);

	text = vmb_skip_spaces(f[3]);
	len = strcspn(text, "\n");
	text[len] = '\0';
	if (!strncmp(text, "/* ", 3)) {
		t->kind = VMB_TL_MARK;
		snprintf(t->name, sizeof(t->name), "%s", text + 3);
	} else if (!strncmp(text, "} /* ", 5)) {
		t->kind = VMB_TL_EXIT;
		vmb_copy_name(t->name, sizeof(t->name), text + 5);
	} else if (len >= 4 && !strcmp(text + len - 4, "() {")) {
		t->kind = VMB_TL_ENTRY;
		vmb_copy_name(t->name, sizeof(t->name), text);
	} else if (len >= 3 && !strcmp(text + len - 3, "();")) {
		t->kind = VMB_TL_LEAF;
		vmb_copy_name(t->name, sizeof(t->name), text);
	}
}

/* The accounting: one window per request, between its two markers. */

struct vmb_twin {
	bool open;
	int path, op;
	unsigned int i, n;		/* requests [i, i + n) */
	u64 start;
	bool have_kick;
	u64 kick;			/* the handler's entry */
	u64 v[VMB_NR_TMETRICS];
};

/* Host work may nest (a hole punch unmaps with zap_page_range_single). */
struct vmb_tdepth {
	char task[VMB_TASK_LEN];
	int depth;
};

static int *vmb_task_depth(struct vmb_tdepth *tasks, const char *task)
{
	unsigned int i;

	for (i = 0; i < VMB_MAX_TASKS && tasks[i].task[0]; i++)
		if (!strcmp(tasks[i].task, task))
			return &tasks[i].depth;
	if (i == VMB_MAX_TASKS)
		i = VMB_MAX_TASKS - 1;	/* more tasks than ever seen: share */
	snprintf(tasks[i].task, sizeof(tasks[i].task), "%s", task);
	tasks[i].depth = 0;
	return &tasks[i].depth;
}

static int vmb_host_metric(const char *name)
{
	if (!strcmp(name, "__kvm_set_memory_region"))
		return VMB_T_MEMSLOT;
	if (!strcmp(name, "zap_page_range") ||
	    !strcmp(name, "zap_page_range_single") ||
	    !strcmp(name, "vfs_fallocate"))
		return VMB_T_DISCARD;
	return -1;
}

static void vmb_twin_event(struct vmb_twin *w, struct vmb_tdepth *tasks,
			   const struct vmb_tline *t)
{
	int host = vmb_host_metric(t->name), *depth;

	if (!strcmp(t->name, "vhost_mem_handle_kick")) {
		if ((t->kind == VMB_TL_ENTRY || t->kind == VMB_TL_LEAF) &&
		    !w->have_kick) {
			w->have_kick = true;
			w->kick = t->ts;
		}
		if (t->kind != VMB_TL_ENTRY)
			w->v[VMB_T_WORKER] += t->dur;
		return;
	}
	if (t->kind == VMB_TL_ENTRY) {
		if (host >= 0)
			(*vmb_task_depth(tasks, t->task))++;
		return;
	}
	if (!strcmp(t->name, "vhost_signal"))
		w->v[VMB_T_SIGNAL] += t->dur;
	else if (!strcmp(t->name, "synchronize_srcu_expedited"))
		w->v[VMB_T_SRCU] += t->dur;
	if (host < 0)
		return;
	depth = vmb_task_depth(tasks, t->task);
	if (t->kind == VMB_TL_EXIT && *depth > 0)
		(*depth)--;
	if (!*depth)
		w->v[host] += t->dur;
}

static bool vmb_twin_close(struct vmb_twin *w, u64 end,
			   struct vmb_trace_stats *stats[VMB_NR_OPS])
{
	struct vmb_trace_stats *st = stats ? stats[w->op] : NULL;
	u64 *v = w->v, work;
	unsigned int m;

	w->open = false;
	v[VMB_T_TOTAL] = end - w->start;
	work = v[VMB_T_MEMSLOT] + v[VMB_T_DISCARD];
	if (w->path == VMB_KERNEL) {
		if (!w->have_kick)
			return false;
		v[VMB_T_BEFORE] = w->kick - w->start;
		v[VMB_T_MODULE] = v[VMB_T_WORKER] > work + v[VMB_T_SIGNAL] ?
				  v[VMB_T_WORKER] - work - v[VMB_T_SIGNAL] : 0;
		v[VMB_T_AFTER] = end > w->kick + v[VMB_T_WORKER] ?
				 end - w->kick - v[VMB_T_WORKER] : 0;
	} else {
		v[VMB_T_OTHER] = v[VMB_T_TOTAL] > work ?
				 v[VMB_T_TOTAL] - work : 0;
	}
	if (!st)
		return true;
	st->measured = true;
	for (m = 0; m < VMB_NR_TMETRICS; m++)
		vmb_samples_add(&st->m[w->path][m], v[m] / w->n);
	return true;
}

unsigned int vmb_trace_end(struct vmb_trace_stats *stats[VMB_NR_OPS])
{
	struct vmb_tdepth tasks[VMB_MAX_TASKS] = {};
	struct vmb_twin w = {};
	unsigned int lost = 0;
	struct vmb_tline t;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	vmb_tracefs_write("tracing_on", "0", false);
	if (vmb_marker_fd >= 0)
		close(vmb_marker_fd);
	vmb_marker_fd = -1;
	f = fopen(VMB_TRACEFS "/trace", "r");
	TEST_ASSERT(f, "cannot read " VMB_TRACEFS "/trace");
	while (getline(&line, &cap, f) > 0) {
		unsigned int i, n;
		int path, op;
		char edge;

		vmb_tparse(line, &t);
		if (t.kind == VMB_TL_MARK &&
		    sscanf(t.name, "vmb %d %d %u %u %c", &path, &op, &i, &n,
			   &edge) == 5 &&
		    path >= 0 && path < VMB_NR_PATHS &&
		    op >= 0 && op < VMB_NR_OPS && n) {
			if (edge == 's') {
				w = (struct vmb_twin){ .open = true,
					.path = path, .op = op, .i = i, .n = n,
					.start = t.ts };
			} else if (w.open && w.path == path && w.op == op &&
				   w.i == i && w.n == n) {
				lost += !vmb_twin_close(&w, t.ts, stats);
			}
			continue;
		}
		if (w.open && t.kind != VMB_TL_NONE && t.kind != VMB_TL_MARK)
			vmb_twin_event(&w, tasks, &t);
	}
	free(line);
	fclose(f);
	vmb_trace_reset();
	vmb_tracefs_write("trace", "", false);
	return lost;
}
