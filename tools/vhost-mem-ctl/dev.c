// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem-ctl list and status: the devices as DEV_GET reports them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "output.h"
#include "size.h"

static const char *const req_names[VHOST_MEM_NR_REQ_TYPES] = {
	[VIRTIO_MEM_REQ_PLUG] = "plug",
	[VIRTIO_MEM_REQ_UNPLUG] = "unplug",
	[VIRTIO_MEM_REQ_UNPLUG_ALL] = "unplug-all",
	[VIRTIO_MEM_REQ_STATE] = "state",
	[VHOST_MEM_REQ_UNKNOWN] = "unknown",
};

/* The same as keys of JSON objects. */
static const char *const req_keys[VHOST_MEM_NR_REQ_TYPES] = {
	[VIRTIO_MEM_REQ_PLUG] = "plug",
	[VIRTIO_MEM_REQ_UNPLUG] = "unplug",
	[VIRTIO_MEM_REQ_UNPLUG_ALL] = "unplug_all",
	[VIRTIO_MEM_REQ_STATE] = "state",
	[VHOST_MEM_REQ_UNKNOWN] = "unknown",
};

static const char *const resp_names[VHOST_MEM_NR_RESP_TYPES] = {
	[VIRTIO_MEM_RESP_ACK] = "ack",
	[VIRTIO_MEM_RESP_NACK] = "nack",
	[VIRTIO_MEM_RESP_BUSY] = "busy",
	[VIRTIO_MEM_RESP_ERROR] = "error",
};

const char *req_name(uint32_t type)
{
	return type < VHOST_MEM_NR_REQ_TYPES - 1 ? req_names[type] : "unknown";
}

/* The region's options; a flag this build does not know shows as a number. */
static const struct {
	uint32_t flag;
	const char *name;
} region_options[] = {
	{ VHOST_MEM_REGION_F_BACKING_FD, "backing-fd" },
#ifdef VHOST_MEM_REGION_F_PREALLOC
	{ VHOST_MEM_REGION_F_PREALLOC, "prealloc" },
#endif
#ifdef VHOST_MEM_REGION_F_SMM
	{ VHOST_MEM_REGION_F_SMM, "smm" },
#endif
#ifdef VHOST_MEM_REGION_F_PERSISTENT_SUSPEND
	{ VHOST_MEM_REGION_F_PERSISTENT_SUSPEND, "persistent-suspend" },
#endif
#ifdef VHOST_MEM_REGION_F_HARD_PROTECT
	{ VHOST_MEM_REGION_F_HARD_PROTECT, "hard-protect" },
#endif
};

/* Takes the first option out of *flags: its name, or NULL if none is left. */
static const char *next_option(uint32_t *flags, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(region_options); i++) {
		if (*flags & region_options[i].flag) {
			*flags &= ~region_options[i].flag;
			return region_options[i].name;
		}
	}
	if (!*flags)
		return NULL;
	snprintf(buf, len, "0x%" PRIx32, *flags);
	*flags = 0;
	return buf;
}

/* The status flags say it; the region's attributes may be absent in a dump. */
static bool dev_has_region(const struct nlc_dev *d)
{
	return d->flags & VHOST_MEM_STATUS_F_REGION;
}

static const char *dev_state(const struct nlc_dev *d)
{
	if (d->busy)
		return "busy";
#ifdef VHOST_MEM_STATUS_F_PAUSED
	if (d->flags & VHOST_MEM_STATUS_F_PAUSED)
		return "paused";
#endif
	if (d->flags & VHOST_MEM_STATUS_F_RUNNING)
		return "running";
	if (d->flags & VHOST_MEM_STATUS_F_REGION)
		return "stopped";
	if (d->flags & VHOST_MEM_STATUS_F_VM)
		return "setup";
	return "new";
}

/* Text: "    options a,b", only when there are some; JSON: always a list. */
static void print_options(const struct nlc_dev *d)
{
	enum output_type type = d->region_flags ? PRINT_ANY : PRINT_JSON;
	uint32_t opts = d->region_flags;
	const char *name, *fmt = "%s";
	char buf[16];

	open_json_array(type, "options", "    options ");
	while ((name = next_option(&opts, buf, sizeof(buf)))) {
		print_string(type, NULL, fmt, name);
		fmt = ",%s";
	}
	close_json_array(type, "\n");
}

/* A NUMA node, or "-" (-1 in JSON) when the region has none. */
static void print_node(const struct nlc_dev *d)
{
	if (d->has_node && d->node >= 0) {
		print_int(PRINT_ANY, "node", " node %" PRId64, d->node);
		return;
	}
	print_int(PRINT_JSON, "node", NULL, d->has_node ? d->node : -1);
	print_string(PRINT_FP, NULL, " node %s", "-");
}

static void print_region(const struct nlc_dev *d)
{
	print_uint(PRINT_ANY, "addr", "    region 0x%" PRIx64, d->addr);
	print_size(PRINT_ANY, "region_size", " size %s", d->region_size);
	print_size(PRINT_ANY, "block_size", " block %s", d->block_size);
	print_size(PRINT_ANY, "chunk_size", " chunk %s", d->chunk_size);
	print_node(d);
	print_bool(PRINT_ANY, "backing_fd", " backing %s\n",
		   d->region_flags & VHOST_MEM_REGION_F_BACKING_FD,
		   "shared-file", "private");
	print_options(d);
	print_size(PRINT_ANY, "requested_size", "    requested %s", d->requested);
	print_size(PRINT_ANY, "plugged_size", " plugged %s", d->plugged);
	print_size(PRINT_ANY, "usable_size", " usable %s", d->usable);
	print_uint(PRINT_ANY, "memslots", " memslots %" PRIu64, d->memslots);
	print_uint(PRINT_ANY, "memslots_max", "/%" PRIu64 "\n",
		   d->memslots_max);
}

/* Text: a table of the answers to each type of request; JSON: objects. */
static void print_requests(const struct nlc_dev *d)
{
	int t, r;

	open_json_object("requests");
	print_string(PRINT_FP, NULL, "%s", "    requests   ");
	for (r = 0; r < VHOST_MEM_NR_RESP_TYPES; r++)
		print_string(PRINT_FP, NULL, " %10s", resp_names[r]);
	print_nl();
	for (t = 0; t < VHOST_MEM_NR_REQ_TYPES; t++) {
		if (!d->has_req[t])
			continue;
		open_json_object(req_keys[t]);
		print_string(PRINT_FP, NULL, "      %-10s", req_names[t]);
		for (r = 0; r < VHOST_MEM_NR_RESP_TYPES; r++)
			print_uint(PRINT_ANY, resp_names[r], " %10" PRIu64,
				   d->req[t][r]);
		print_nl();
		close_json_object();
	}
	close_json_object();
}

/* One device, every field once: status's text, and list's and status's JSON. */
static void print_dev(const struct nlc_dev *d)
{
	char name[32];

	snprintf(name, sizeof(name), "vhost-mem%" PRIu32, d->id);
	open_json_object(NULL);
	print_uint(PRINT_JSON, "dev", NULL, d->id);
	print_string(PRINT_ANY, "name", "%s:", name);
	if (d->cookie)
		print_uint(PRINT_JSON, "cookie", NULL, d->cookie);
	print_string(PRINT_ANY, "state", " state %s", dev_state(d));
	if (d->has_owner)
		print_uint(PRINT_ANY, "owner_pid", " owner %" PRIu64,
			   d->owner_pid);
	if (d->has_vm)
		print_string(PRINT_ANY, "vm", " vm %s", d->vm_id);
	print_uint(PRINT_ANY, "features", " features 0x%" PRIx64, d->features);
	print_bool(PRINT_ANY, "config_call", " config-call %s\n",
		   d->config_call, "yes", "no");
	if (dev_has_region(d))
		print_region(d);
	else
		print_string(PRINT_FP, NULL, "%s", "    no region yet\n");
	print_requests(d);
	print_uint(PRINT_ANY, "dropped", "    dropped %" PRIu64 "\n",
		   d->dropped);
	close_json_object();
}

/* The devices of a dump, in a growing array. */
struct dev_list {
	struct nlc_dev *devs;
	size_t n, cap;
};

static void add_dev(const struct nlc_dev *d, void *arg)
{
	struct dev_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->devs = realloc(l->devs, l->cap * sizeof(*l->devs));
		if (!l->devs)
			die(EXIT_FAIL, "out of memory");
	}
	l->devs[l->n++] = *d;
}

static int cmp_dev(const void *a, const void *b)
{
	const struct nlc_dev *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* A column per field, as wide as its widest cell. */
#define LIST_COLS	9
#define CELL_LEN	64

static void print_table(char (*cells)[LIST_COLS][CELL_LEN], size_t rows)
{
	size_t w[LIST_COLS] = { 0 }, r, c, len;

	for (r = 0; r < rows; r++)
		for (c = 0; c < LIST_COLS; c++) {
			len = strlen(cells[r][c]);
			if (len > w[c])
				w[c] = len;
		}
	for (r = 0; r < rows; r++) {
		for (c = 0; c < LIST_COLS; c++) {
			if (c == LIST_COLS - 1)
				printf("%s\n", cells[r][c]);
			else
				printf("%-*s  ", (int)w[c], cells[r][c]);
		}
	}
}

/* One row of list's table; "-" where the device has no such field. */
static void list_row(char (*row)[CELL_LEN], const struct nlc_dev *d)
{
	int k;

	snprintf(row[0], CELL_LEN, "vhost-mem%" PRIu32, d->id);
	if (d->has_owner)
		snprintf(row[1], CELL_LEN, "%" PRIu32, d->owner_pid);
	else
		snprintf(row[1], CELL_LEN, "-");
	snprintf(row[2], CELL_LEN, "%s", d->has_vm ? d->vm_id : "-");
	snprintf(row[3], CELL_LEN, "%s", dev_state(d));
	if (!dev_has_region(d)) {
		for (k = 4; k < LIST_COLS; k++)
			snprintf(row[k], CELL_LEN, "-");
		return;
	}
	snprintf(row[4], CELL_LEN, "%s", sz(d->region_size));
	snprintf(row[5], CELL_LEN, "%s", sz(d->block_size));
	snprintf(row[6], CELL_LEN, "%s", sz(d->requested));
	snprintf(row[7], CELL_LEN, "%s", sz(d->plugged));
	snprintf(row[8], CELL_LEN, "%" PRIu32 "/%" PRIu32, d->memslots,
		 d->memslots_max);
}

/* list's text: a table, one row per device under a heading. */
static void list_table(const struct dev_list *l)
{
	static const char *const head[LIST_COLS] = {
		"DEV", "OWNER", "VM", "STATE", "SIZE", "BLOCK", "REQUESTED",
		"PLUGGED", "MEMSLOTS",
	};
	char (*cells)[LIST_COLS][CELL_LEN];
	size_t i;

	if (!l->n) {
		printf("no vhost-mem devices\n");
		return;
	}
	cells = calloc(l->n + 1, sizeof(*cells));
	if (!cells)
		die(EXIT_FAIL, "out of memory");
	for (i = 0; i < LIST_COLS; i++)
		snprintf(cells[0][i], CELL_LEN, "%s", head[i]);
	for (i = 0; i < l->n; i++)
		list_row(cells[i + 1], &l->devs[i]);
	print_table(cells, l->n + 1);
	free(cells);
}

int cmd_list(struct nlc *c, int argc, char **argv)
{
	struct dev_list l = { 0 };
	size_t i;

	(void)argc;
	(void)argv;
	if (nlc_dump_devs(c, add_dev, &l))
		die(c->err == -EPERM ? EXIT_PERM : EXIT_FAIL,
		    "cannot list the devices: %s",
		    c->msg[0] ? c->msg : strerror(-c->err));
	qsort(l.devs, l.n, sizeof(*l.devs), cmp_dev);
	if (output_is_json()) {
		open_json_array(PRINT_JSON, NULL, NULL);
		for (i = 0; i < l.n; i++)
			print_dev(&l.devs[i]);
		close_json_array(PRINT_JSON, NULL);
	} else {
		list_table(&l);
	}
	free(l.devs);
	return EXIT_OK;
}

int cmd_status(struct nlc *c, int argc, char **argv)
{
	uint32_t id = parse_dev_arg(argv[0]);
	struct nlc_dev d;

	(void)argc;
	if (nlc_get_dev(c, id, 0, &d))
		die_request(c, id, "cannot read");
	print_dev(&d);
	return EXIT_OK;
}
