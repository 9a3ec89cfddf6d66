// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a model of the device, a test environment, checks of
 * the device against the model, raw chains and the kernel log.
 */
#include <endian.h>
#include <stdlib.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <unistd.h>

#include "module_util.h"
#include "req_util.h"

#define VMT_RQ_EXTENT		VHOST_MEM_USABLE_EXTENT

/* ------------------------------------------------------------------ */
/* The model                                                          */
/* ------------------------------------------------------------------ */

void vmt_model_init(struct vmt_model *m, u64 addr, u64 region_size,
		    u64 block_size, u64 chunk_size)
{
	memset(m, 0, sizeof(*m));
	TEST_ASSERT(block_size && !(block_size & (block_size - 1)) &&
		    VMT_IS_ALIGNED(region_size, block_size) && region_size,
		    "model: region 0x%llx, block 0x%llx: expected a power-of-2 block dividing the region",
		    (unsigned long long)region_size,
		    (unsigned long long)block_size);
	if (!chunk_size)
		chunk_size = block_size > VHOST_MEM_DEFAULT_CHUNK_SIZE ?
			     block_size : VHOST_MEM_DEFAULT_CHUNK_SIZE;
	m->addr = addr;
	m->region_size = region_size;
	m->block_size = block_size;
	m->chunk_size = chunk_size;
	m->nr_blocks = region_size / block_size;
	m->blocks_per_chunk = chunk_size / block_size;
	m->nr_chunks = (m->nr_blocks + m->blocks_per_chunk - 1) /
		       m->blocks_per_chunk;
	m->map = calloc(m->nr_blocks, 1);
	m->chunk_count = calloc(m->nr_chunks, sizeof(*m->chunk_count));
	TEST_ASSERT(m->map && m->chunk_count, "out of memory");
}

void vmt_model_init_region(struct vmt_model *m,
			   const struct vhost_mem_region *r,
			   const struct vhost_mem_status *st)
{
	bool hard = r->flags & VHOST_MEM_REGION_F_HARD_PROTECT;

	/* block size 0 is the device's choice: the status tells it */
	vmt_model_init(m, r->guest_phys_addr, r->region_size,
		       r->block_size ? r->block_size : st->block_size,
		       hard ? st->block_size : r->chunk_size);
	m->hard = hard;
}

void vmt_model_free(struct vmt_model *m)
{
	free(m->map);
	free(m->chunk_count);
	m->map = NULL;
	m->chunk_count = NULL;
}

/* Requested + 256 MiB, block aligned, capped by the region; 0 for 0. */
u64 vmt_model_usable_for(const struct vmt_model *m, u64 requested)
{
	u64 usable;

	if (!requested)
		return 0;
	usable = VMT_ALIGN_UP(requested + VMT_RQ_EXTENT, m->block_size);
	return usable < m->region_size ? usable : m->region_size;
}

int vmt_model_set_requested(struct vmt_model *m, u64 size)
{
	u64 usable;

	if (!VMT_IS_ALIGNED(size, m->block_size))
		return -EINVAL;
	if (size > m->region_size)
		return -ERANGE;
	usable = vmt_model_usable_for(m, size);
	/* a resize only grows the usable region */
	if (usable > m->usable)
		m->usable = usable;
	m->requested = size;
	return 0;
}

bool vmt_model_range_valid(const struct vmt_model *m, u64 addr, u16 nb)
{
	u64 size, end;

	if (!nb || !VMT_IS_ALIGNED(addr, m->block_size))
		return false;
	if (__builtin_mul_overflow((u64)nb, m->block_size, &size) ||
	    __builtin_add_overflow(addr, size, &end))
		return false;
	return addr >= m->addr && end <= m->addr + m->usable;
}

bool vmt_model_plugged(const struct vmt_model *m, u64 block)
{
	return block < m->nr_blocks && m->map[block];
}

u16 vmt_model_range_state(const struct vmt_model *m, u64 first, u64 nr)
{
	u64 i, plugged = 0;

	for (i = first; i < first + nr; i++)
		plugged += vmt_model_plugged(m, i);
	if (plugged == nr)
		return VIRTIO_MEM_STATE_PLUGGED;
	if (!plugged)
		return VIRTIO_MEM_STATE_UNPLUGGED;
	return VIRTIO_MEM_STATE_MIXED;
}

u16 vmt_model_decide(const struct vmt_model *m, u16 type, u64 addr, u16 nb,
		     u16 *state)
{
	u64 first;

	switch (type) {
	case VIRTIO_MEM_REQ_PLUG:
	case VIRTIO_MEM_REQ_UNPLUG:
		/* range, then the requested size, then the blocks */
		if (!vmt_model_range_valid(m, addr, nb))
			return VIRTIO_MEM_RESP_ERROR;
		if (type == VIRTIO_MEM_REQ_PLUG &&
		    m->plugged + nb * m->block_size > m->requested)
			return VIRTIO_MEM_RESP_NACK;
		first = (addr - m->addr) / m->block_size;
		if (vmt_model_range_state(m, first, nb) !=
		    (type == VIRTIO_MEM_REQ_PLUG ? VIRTIO_MEM_STATE_UNPLUGGED :
						   VIRTIO_MEM_STATE_PLUGGED))
			return VIRTIO_MEM_RESP_ERROR;
		/* paused: BUSY for what would be acknowledged */
		return m->paused ? VIRTIO_MEM_RESP_BUSY : VIRTIO_MEM_RESP_ACK;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		/* ... unless there is nothing to unplug (no host work) */
		return m->paused && m->plugged ? VIRTIO_MEM_RESP_BUSY :
						 VIRTIO_MEM_RESP_ACK;
	case VIRTIO_MEM_REQ_STATE:
		if (!vmt_model_range_valid(m, addr, nb))
			return VIRTIO_MEM_RESP_ERROR;
		first = (addr - m->addr) / m->block_size;
		if (state)
			*state = vmt_model_range_state(m, first, nb);
		return VIRTIO_MEM_RESP_ACK;
	}
	return VIRTIO_MEM_RESP_ERROR;
}

unsigned int vmt_model_type_index(u16 type)
{
	return type < VHOST_MEM_REQ_UNKNOWN ? type : VHOST_MEM_REQ_UNKNOWN;
}

static void vmt_model_set(struct vmt_model *m, u64 block, bool plugged)
{
	u64 chunk = block / m->blocks_per_chunk;

	if (m->map[block] == plugged)
		return;
	m->map[block] = plugged;
	if (plugged) {
		m->chunk_count[chunk]++;
		m->plugged += m->block_size;
	} else {
		m->chunk_count[chunk]--;
		m->plugged -= m->block_size;
	}
}

void vmt_model_apply(struct vmt_model *m, u16 type, u64 addr, u16 nb,
		     u16 resp)
{
	u64 first, i;

	TEST_ASSERT(resp < VHOST_MEM_NR_RESP_TYPES, "model: answer %u", resp);
	m->requests[vmt_model_type_index(type)][resp]++;
	if (resp != VIRTIO_MEM_RESP_ACK)
		return;
	switch (type) {
	case VIRTIO_MEM_REQ_PLUG:
	case VIRTIO_MEM_REQ_UNPLUG:
		first = (addr - m->addr) / m->block_size;
		for (i = first; i < first + nb; i++)
			vmt_model_set(m, i, type == VIRTIO_MEM_REQ_PLUG);
		break;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		for (i = 0; i < m->nr_blocks; i++)
			vmt_model_set(m, i, false);
		/* the one place where the usable region may shrink */
		m->usable = vmt_model_usable_for(m, m->requested);
		break;
	}
}

u16 vmt_model_request(struct vmt_model *m, u16 type, u64 addr, u16 nb,
		      u16 *state)
{
	u16 resp = vmt_model_decide(m, type, addr, nb, state);

	vmt_model_apply(m, type, addr, nb, resp);
	return resp;
}

void vmt_model_short_request(struct vmt_model *m)
{
	m->requests[VHOST_MEM_REQ_UNKNOWN][VIRTIO_MEM_RESP_ERROR]++;
}

bool vmt_model_chunk_live(const struct vmt_model *m, u64 chunk)
{
	return chunk < m->nr_chunks && m->chunk_count[chunk];
}

u32 vmt_model_live_chunks(const struct vmt_model *m)
{
	u32 live = 0;
	u64 c;

	for (c = 0; c < m->nr_chunks; c++)
		live += !!m->chunk_count[c];
	return live;
}

/* Hard protection: one memslot per run of plugged blocks. */
u32 vmt_model_memslots(const struct vmt_model *m)
{
	u32 runs = 0;
	u64 b;

	if (!m->hard)
		return vmt_model_live_chunks(m);
	for (b = 0; b < m->nr_blocks; b++)
		runs += m->map[b] && (!b || !m->map[b - 1]);
	return runs;
}

u64 vmt_model_memslots_max(const struct vmt_model *m)
{
	return m->hard ? (m->nr_blocks + 1) / 2 : m->nr_chunks;
}

u64 vmt_model_block_gpa(const struct vmt_model *m, u64 block)
{
	return m->addr + block * m->block_size;
}

static int vmt_diff_u64(FILE *f, const char *what, u64 want, u64 got)
{
	if (want == got)
		return 0;
	fprintf(f, "#   status %s: expected %llu (0x%llx), got %llu (0x%llx)\n",
		what, (unsigned long long)want, (unsigned long long)want,
		(unsigned long long)got, (unsigned long long)got);
	return 1;
}

int vmt_model_diff(const struct vmt_model *m, const struct vhost_mem_status *st,
		   bool running, FILE *f)
{
	u32 flags = VHOST_MEM_STATUS_F_VM | VHOST_MEM_STATUS_F_REGION |
		    (running ? VHOST_MEM_STATUS_F_RUNNING : 0) |
		    (m->paused ? VHOST_MEM_STATUS_F_PAUSED : 0);
	char what[64];
	unsigned int t, r;
	int bad = 0;

	bad += vmt_diff_u64(f, "flags", flags, st->flags);
	bad += vmt_diff_u64(f, "guest_phys_addr", m->addr, st->guest_phys_addr);
	bad += vmt_diff_u64(f, "region_size", m->region_size, st->region_size);
	bad += vmt_diff_u64(f, "block_size", m->block_size, st->block_size);
	bad += vmt_diff_u64(f, "chunk_size", m->chunk_size, st->chunk_size);
	bad += vmt_diff_u64(f, "usable_region_size", m->usable,
			    st->usable_region_size);
	bad += vmt_diff_u64(f, "plugged_size", m->plugged, st->plugged_size);
	bad += vmt_diff_u64(f, "requested_size", m->requested,
			    st->requested_size);
	bad += vmt_diff_u64(f, m->hard ? "memslots (runs of plugged blocks)" :
			    "memslots (chunks with a plugged block)",
			    vmt_model_memslots(m), st->memslots);
	bad += vmt_diff_u64(f, "memslots_max", vmt_model_memslots_max(m),
			    st->memslots_max);
	bad += vmt_diff_u64(f, "dropped", m->dropped, st->dropped);
	for (t = 0; t < VHOST_MEM_NR_REQ_TYPES; t++) {
		for (r = 0; r < VHOST_MEM_NR_RESP_TYPES; r++) {
			snprintf(what, sizeof(what), "requests[%s][%s]",
				 t < VHOST_MEM_REQ_UNKNOWN ?
				 vmt_mem_req_name(t) : "unknown",
				 vmt_mem_resp_name(r));
			bad += vmt_diff_u64(f, what, m->requests[t][r],
					    st->requests[t][r]);
		}
	}
	return bad;
}

/* ------------------------------------------------------------------ */
/* The environment                                                    */
/* ------------------------------------------------------------------ */

void vmt_rq_env_init(struct vmt_rq_env *e, enum vmt_backing_type type,
		     u64 region_size, u64 want_features)
{
	memset(e, 0, sizeof(*e));
	e->backing.fd = -1;
	e->dev.fd = -1;
	e->want_features = want_features;
	e->klog_problems = __vmt_klog_problems(false);
	e->vm = vmt_vm_create(0);
	vmt_vq_init(&e->vq, e->vm, 0);
	e->area_gpa = vmt_vm_alloc(e->vm,
				   (u64)VMT_RQ_AREA_SLOTS * VMT_RQ_AREA_SLOT,
				   4096);
	vmt_dev_open_ready(&e->dev, e->vm, &e->vq, want_features);
	if (region_size)
		vmt_backing_init(&e->backing, type, region_size);
	vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, VMT_RQ_BLOCK,
			VMT_RQ_SLOT_BASE);
}

void vmt_rq_env_init_aligned(struct vmt_rq_env *e, u64 region_size,
			     u64 want_features)
{
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, want_features);
	vmt_rq_backing_anon_aligned(&e->backing, region_size, VMT_RQ_BLOCK);
	vmt_region_init(&e->region, &e->backing, VMT_RQ_GPA, VMT_RQ_BLOCK,
			VMT_RQ_SLOT_BASE);
}

void vmt_rq_env_start(struct vmt_rq_env *e, u64 requested)
{
	struct vhost_mem_region *r = &e->region;

	if (r->slot_count < vmt_region_slots_needed(r))
		r->slot_count = vmt_region_slots_needed(r);
	vmt_dev_start(&e->dev, r, requested);
	vmt_rq_env_adopt(e, requested);
	vmt_rq_check_status(e);
}

void vmt_rq_env_adopt(struct vmt_rq_env *e, u64 requested)
{
	struct vhost_mem_region *r = &e->region;
	struct vhost_mem_status st;
	int ret;

	ret = __vmt_mem_get_status(e->dev.fd, &st);
	TEST_ASSERT(!ret, "VHOST_MEM_GET_STATUS: expected success, got %s",
		    vmt_errname(-ret));
	if (e->started)
		vmt_model_free(&e->model);
	vmt_model_init_region(&e->model, r, &st);
	TEST_ASSERT(!vmt_model_set_requested(&e->model, requested),
		    "model: requested size 0x%llx refused",
		    (unsigned long long)requested);
	e->started = true;
	e->running = st.flags & VHOST_MEM_STATUS_F_RUNNING;
}

void vmt_rq_env_close(struct vmt_rq_env *e)
{
	vmt_dev_close(&e->dev);
	if (e->started)
		vmt_model_free(&e->model);
	e->started = false;
	e->running = false;
}

void vmt_rq_env_recreate(struct vmt_rq_env *e, u64 requested)
{
	vmt_rq_env_close(e);
	vmt_dev_open_ready(&e->dev, e->vm, &e->vq, e->want_features);
	vmt_rq_env_start(e, requested);
}

void vmt_rq_set_running(struct vmt_rq_env *e, bool running)
{
	int r = __vmt_mem_set_running(e->dev.fd, running);

	TEST_ASSERT(!r, "VHOST_MEM_SET_RUNNING %d: expected success, got %s",
		    running, vmt_errname(-r));
	e->running = running;
}

void vmt_rq_env_reattach(struct vmt_rq_env *e)
{
	int r;

	vmt_rq_set_running(e, false);
	r = __vmt_vq_attach(&e->vq, e->dev.fd, VHOST_MEM_REQUESTQ,
			    e->dev.features);
	TEST_ASSERT(!r, "%s while re-attaching the requestq: expected success, got %s",
		    e->vq.failed_op, vmt_errname(-r));
	vmt_rq_set_running(e, true);
}

void vmt_rq_env_free(struct vmt_rq_env *e)
{
	if (e->dev.fd >= 0)
		vmt_rq_env_close(e);
	if (e->vm) {
		vmt_vq_destroy(&e->vq);
		vmt_vm_free(e->vm);
	}
	vmt_backing_free(&e->backing);
	e->vm = NULL;
}

void vmt_rq_backing_anon_aligned(struct vmt_backing *b, u64 size, u64 align)
{
	u8 *p, *start;

	memset(b, 0, sizeof(*b));
	b->type = VMT_BACKING_ANON;
	b->fd = -1;
	p = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(p != MAP_FAILED, "mmap of %llu bytes of anonymous memory",
		    (unsigned long long)(size + align));
	start = (u8 *)VMT_ALIGN_UP((uintptr_t)p, align);
	if (start > p)
		munmap(p, start - p);
	if (start + size < p + size + align)
		munmap(start + size, p + size + align - (start + size));
	b->hva = start;
	b->size = size;
}

void vmt_rq_env_resync(struct vmt_rq_env *e)
{
	struct vmt_model *m = &e->model;
	struct vmt_mem_req reqs[64];
	struct vhost_mem_status st;
	u64 b, first, nr;
	unsigned int i, n;
	int r;

	r = __vmt_mem_get_status(e->dev.fd, &st);
	TEST_ASSERT(!r, "VHOST_MEM_GET_STATUS: expected success, got %s",
		    vmt_errname(-r));
	vmt_model_free(m);
	vmt_model_init_region(m, &e->region, &st);
	m->requested = st.requested_size;
	m->usable = st.usable_region_size;
	nr = m->usable / m->block_size;
	for (first = 0; first < nr; first += n) {
		n = nr - first < VMT_ARRAY_SIZE(reqs) ? nr - first :
			VMT_ARRAY_SIZE(reqs);
		for (i = 0; i < n; i++)
			reqs[i] = (struct vmt_mem_req){
				.type = VIRTIO_MEM_REQ_STATE,
				.addr = vmt_model_block_gpa(m, first + i),
				.nb_blocks = 1,
			};
		TEST_ASSERT(vmt_mem_batch(&e->vq, reqs, n, vmt_timeout_ms()) == n,
			    "STATE of blocks %llu-%llu: not all answered",
			    (unsigned long long)first,
			    (unsigned long long)(first + n - 1));
		for (i = 0; i < n; i++) {
			b = first + i;
			TEST_ASSERT(reqs[i].resp_type == VIRTIO_MEM_RESP_ACK &&
				    (reqs[i].state == VIRTIO_MEM_STATE_PLUGGED ||
				     reqs[i].state == VIRTIO_MEM_STATE_UNPLUGGED),
				    "STATE of block %llu: expected ACK with PLUGGED or UNPLUGGED, got %s %s",
				    (unsigned long long)b,
				    vmt_mem_resp_name(reqs[i].resp_type),
				    vmt_mem_state_name(reqs[i].state));
			if (reqs[i].state == VIRTIO_MEM_STATE_PLUGGED)
				vmt_model_apply(m, VIRTIO_MEM_REQ_PLUG,
						vmt_model_block_gpa(m, b), 1,
						VIRTIO_MEM_RESP_ACK);
		}
	}
	r = __vmt_mem_get_status(e->dev.fd, &st);
	TEST_ASSERT(!r, "VHOST_MEM_GET_STATUS: expected success, got %s",
		    vmt_errname(-r));
	memcpy(m->requests, st.requests, sizeof(m->requests));
	m->dropped = st.dropped;
	e->started = true;
	e->running = true;
	vmt_rq_check_status(e);
}

void vmt_rq_resize(struct vmt_rq_env *e, u64 requested)
{
	int want = vmt_model_set_requested(&e->model, requested);
	int r = __vmt_mem_set_requested_size(e->dev.fd, requested);

	TEST_ASSERT(r == want,
		    "VHOST_MEM_SET_REQUESTED_SIZE 0x%llx: expected %s, got %s",
		    (unsigned long long)requested,
		    vmt_errstr(want),
		    vmt_errstr(r));
}

u64 vmt_rq_gpa(struct vmt_rq_env *e, u64 block)
{
	return e->region.guest_phys_addr + block * e->region.block_size;
}

void *vmt_rq_hva(struct vmt_rq_env *e, u64 block)
{
	return (u8 *)(uintptr_t)e->region.userspace_addr +
	       block * e->region.block_size;
}

/* "PLUG GPA 0x100200000 (block 1) x 2" */
static const char *vmt_rq_describe(struct vmt_rq_env *e, u16 type, u64 addr,
				   u16 nb, char *buf, size_t size)
{
	const struct vmt_model *m = &e->model;
	char name[24];

	if (type <= VIRTIO_MEM_REQ_STATE)
		snprintf(name, sizeof(name), "%s", vmt_mem_req_name(type));
	else
		snprintf(name, sizeof(name), "request type %u", type);
	if (type == VIRTIO_MEM_REQ_UNPLUG_ALL)
		snprintf(buf, size, "%s", name);
	else if (addr >= m->addr && addr - m->addr < m->region_size &&
		 VMT_IS_ALIGNED(addr - m->addr, m->block_size))
		snprintf(buf, size, "%s GPA 0x%llx (block %llu) x %u", name,
			 (unsigned long long)addr,
			 (unsigned long long)((addr - m->addr) / m->block_size),
			 nb);
	else
		snprintf(buf, size, "%s GPA 0x%llx x %u", name,
			 (unsigned long long)addr, nb);
	return buf;
}

static void vmt_rq_print_model(struct vmt_rq_env *e)
{
	const struct vmt_model *m = &e->model;

	fprintf(stderr, "#   model: requested 0x%llx usable 0x%llx plugged 0x%llx (block 0x%llx)\n",
		(unsigned long long)m->requested, (unsigned long long)m->usable,
		(unsigned long long)m->plugged,
		(unsigned long long)m->block_size);
}

void vmt_rq_settle(struct vmt_rq_env *e, const struct vmt_mem_req *req)
{
	u16 want_state = 0xffff, want;
	char what[96];

	vmt_rq_describe(e, req->type, req->addr, req->nb_blocks, what,
			sizeof(what));
	want = vmt_model_decide(&e->model, req->type, req->addr,
				req->nb_blocks, &want_state);
	TEST_ASSERT(req->answered, "%s: no answer within %d ms (expected %s)",
		    what, vmt_timeout_ms(), vmt_mem_resp_name(want));
	if (req->resp_type != want || req->used_len != sizeof(req->resp) ||
	    (want == VIRTIO_MEM_RESP_ACK && req->type == VIRTIO_MEM_REQ_STATE &&
	     req->state != want_state)) {
		vmt_rq_print_model(e);
		TEST_FAIL("%s: expected %s%s%s (used len %zu), got %s%s%s (used len %u)",
			  what, vmt_mem_resp_name(want),
			  req->type == VIRTIO_MEM_REQ_STATE &&
			  want == VIRTIO_MEM_RESP_ACK ? " " : "",
			  req->type == VIRTIO_MEM_REQ_STATE &&
			  want == VIRTIO_MEM_RESP_ACK ?
			  vmt_mem_state_name(want_state) : "",
			  sizeof(req->resp), vmt_mem_resp_name(req->resp_type),
			  req->type == VIRTIO_MEM_REQ_STATE &&
			  req->resp_type == VIRTIO_MEM_RESP_ACK ? " " : "",
			  req->type == VIRTIO_MEM_REQ_STATE &&
			  req->resp_type == VIRTIO_MEM_RESP_ACK ?
			  vmt_mem_state_name(req->state) : "",
			  req->used_len);
	}
	vmt_model_apply(&e->model, req->type, req->addr, req->nb_blocks, want);
}

u16 vmt_rq_send(struct vmt_rq_env *e, u16 type, u64 addr, u16 nb, u16 *state)
{
	struct vmt_mem_req req = {
		.type = type, .addr = addr, .nb_blocks = nb,
	};

	vmt_mem_batch(&e->vq, &req, 1, vmt_timeout_ms());
	vmt_rq_settle(e, &req);
	if (state)
		*state = req.state;
	return req.resp_type;
}

void vmt_rq_send_busy(struct vmt_rq_env *e, u16 type, u64 addr, u16 nb)
{
	struct vmt_mem_req req = {
		.type = type, .addr = addr, .nb_blocks = nb,
	};
	char what[96];
	u16 want;

	vmt_rq_describe(e, type, addr, nb, what, sizeof(what));
	want = vmt_model_decide(&e->model, type, addr, nb, NULL);
	TEST_ASSERT(want == VIRTIO_MEM_RESP_ACK,
		    "%s: the test expects BUSY, but the request itself would be answered %s",
		    what, vmt_mem_resp_name(want));
	vmt_mem_batch(&e->vq, &req, 1, vmt_timeout_ms());
	TEST_ASSERT(req.answered, "%s: no answer within %d ms (expected BUSY)",
		    what, vmt_timeout_ms());
	TEST_ASSERT(req.resp_type == VIRTIO_MEM_RESP_BUSY,
		    "%s while the host side cannot do it: expected BUSY, got %s",
		    what, vmt_mem_resp_name(req.resp_type));
	vmt_model_apply(&e->model, type, addr, nb, VIRTIO_MEM_RESP_BUSY);
}

void vmt_rq_batch(struct vmt_rq_env *e, struct vmt_mem_req *reqs,
		  unsigned int n)
{
	unsigned int i, got;

	got = vmt_mem_batch(&e->vq, reqs, n, vmt_timeout_ms());
	TEST_ASSERT(got == n, "a batch of %u requests: expected %u answers, got %u",
		    n, n, got);
	for (i = 0; i < n; i++)
		vmt_rq_settle(e, &reqs[i]);
}

void vmt_rq_check_status(struct vmt_rq_env *e)
{
	struct vhost_mem_status st;
	int r;

	r = __vmt_mem_get_status(e->dev.fd, &st);
	TEST_ASSERT(!r, "VHOST_MEM_GET_STATUS: expected success, got %s",
		    vmt_errname(-r));
	fflush(stdout);
	if (!vmt_model_diff(&e->model, &st, e->running, stderr))
		return;
	vmt_mem_status_print(stderr, &st);
	vmt_rq_print_model(e);
	TEST_FAIL("VHOST_MEM_GET_STATUS differs from what the guest saw (above)");
}

/* Queue a STATE request in reqs[], sending the batch when it is full. */
static void vmt_rq_queue_state(struct vmt_rq_env *e, struct vmt_mem_req *reqs,
			       unsigned int *n, unsigned int max, u64 block,
			       u16 nb)
{
	if (*n == max) {
		vmt_rq_batch(e, reqs, *n);
		*n = 0;
	}
	reqs[(*n)++] = (struct vmt_mem_req){
		.type = VIRTIO_MEM_REQ_STATE,
		.addr = vmt_model_block_gpa(&e->model, block),
		.nb_blocks = nb,
	};
}

void vmt_rq_check_states(struct vmt_rq_env *e)
{
	const struct vmt_model *m = &e->model;
	u64 usable_blocks = m->usable / m->block_size, i = 0, j, len;
	const unsigned int max = 64;
	struct vmt_mem_req reqs[64];
	unsigned int n = 0;

	while (i < usable_blocks) {
		bool plugged = vmt_model_plugged(m, i);

		for (j = i; j < usable_blocks &&
		     vmt_model_plugged(m, j) == plugged; j++)
			;
		/* the run, at most 65535 blocks per request */
		for (; i < j; i += len) {
			len = j - i < 0xffff ? j - i : 0xffff;
			vmt_rq_queue_state(e, reqs, &n, max, i, (u16)len);
		}
		/* across the boundary to the next run: MIXED */
		if (j < usable_blocks)
			vmt_rq_queue_state(e, reqs, &n, max, j - 1, 2);
	}
	/* the first block past the usable region: ERROR */
	vmt_rq_queue_state(e, reqs, &n, max, usable_blocks, 1);
	vmt_rq_batch(e, reqs, n);
}

void vmt_rq_check_guest(struct vmt_rq_env *e)
{
	const struct vmt_model *m = &e->model;
	u64 c, b = 0, gpa, val, limit = m->nr_chunks;
	int r;

	/* a big region: the first and last 32 chunks */
	for (c = 0; c < limit; c++) {
		if (m->nr_chunks > 64 && c == 32)
			c = m->nr_chunks - 32;
		gpa = m->addr + c * m->chunk_size;
		if (vmt_model_chunk_live(m, c)) {
			/* a plugged block: only that is the guest's memory */
			for (b = c * m->blocks_per_chunk;
			     !vmt_model_plugged(m, b); b++)
				;
			gpa = vmt_model_block_gpa(m, b);
		}
		r = vmt_guest_read_u64(e->vm, gpa, &val);
		if (vmt_model_chunk_live(m, c))
			TEST_ASSERT(r == VMT_ACCESS_OK,
				    "guest read of plugged block %llu (GPA 0x%llx, chunk %llu): expected completed, got %s",
				    (unsigned long long)b,
				    (unsigned long long)gpa,
				    (unsigned long long)c, vmt_access_name(r));
		else
			TEST_ASSERT(r == VMT_ACCESS_MMIO,
				    "guest read in chunk %llu (GPA 0x%llx) without a plugged block: expected %s, got %s",
				    (unsigned long long)c,
				    (unsigned long long)gpa,
				    vmt_access_name(VMT_ACCESS_MMIO),
				    vmt_access_name(r));
	}
	gpa = m->addr + m->region_size;
	r = vmt_guest_read_u64(e->vm, gpa, &val);
	TEST_ASSERT(r == VMT_ACCESS_MMIO,
		    "guest read just past the region (GPA 0x%llx): expected %s, got %s",
		    (unsigned long long)gpa, vmt_access_name(VMT_ACCESS_MMIO),
		    vmt_access_name(r));
}

void vmt_rq_check_all(struct vmt_rq_env *e)
{
	int problems;

	vmt_rq_check_status(e);
	vmt_rq_check_states(e);
	vmt_rq_check_guest(e);
	vmt_rq_check_status(e);
	problems = __vmt_klog_problems(false);
	if (problems > e->klog_problems) {
		__vmt_klog_problems(true);
		TEST_FAIL("the kernel log has %d new oops/BUG/WARNING lines (above)",
			  problems - e->klog_problems);
	}
}

/* ------------------------------------------------------------------ */
/* Raw chains                                                         */
/* ------------------------------------------------------------------ */

u64 vmt_rq_slot_gpa(struct vmt_rq_env *e, unsigned int i)
{
	TEST_ASSERT(i < VMT_RQ_AREA_SLOTS, "area slot %u of %u", i,
		    VMT_RQ_AREA_SLOTS);
	return e->area_gpa + (u64)i * VMT_RQ_AREA_SLOT;
}

void *vmt_rq_slot(struct vmt_rq_env *e, unsigned int i)
{
	return vmt_gpa2hva(e->vm, vmt_rq_slot_gpa(e, i));
}

void vmt_rq_encode(u8 *out, u16 type, u64 addr, u16 nb)
{
	struct virtio_mem_req req;

	memset(&req, 0, sizeof(req));
	req.type = htole16(type);
	req.u.plug.addr = htole64(addr);
	req.u.plug.nb_blocks = htole16(nb);
	memcpy(out, &req, sizeof(req));
}

u64 vmt_rq_scatter(struct vmt_rq_env *e, struct vmt_buf *bufs, unsigned int *n,
		   u64 gpa, const void *data, u32 len, u32 piece, u32 gap,
		   bool write)
{
	u32 off = 0, part;

	do {
		part = len - off < piece ? len - off : piece;
		TEST_ASSERT(*n < VMT_VQ_MAX_CHAIN,
			    "a chain of more than %u descriptors",
			    VMT_VQ_MAX_CHAIN);
		if (data)
			memcpy(vmt_gpa2hva(e->vm, gpa),
			       (const u8 *)data + off, part);
		else if (part)
			memset(vmt_gpa2hva(e->vm, gpa), VMT_MEM_RESP_POISON,
			       part);
		bufs[(*n)++] = (struct vmt_buf){ gpa, part, write };
		gpa += part + gap;
		off += part;
	} while (off < len);
	return gpa;
}

void vmt_rq_gather(struct vmt_rq_env *e, const struct vmt_buf *bufs,
		   unsigned int n, void *out, u32 len)
{
	u32 done = 0, part;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		if (!bufs[i].write)
			continue;
		part = bufs[i].len < len - done ? bufs[i].len : len - done;
		memcpy((u8 *)out + done, vmt_gpa2hva(e->vm, bufs[i].gpa),
		       part);
		done += part;
	}
	memset((u8 *)out + done, VMT_MEM_RESP_POISON, len - done);
}

int vmt_rq_raw(struct vmt_rq_env *e, const struct vmt_buf *bufs,
	       unsigned int n, unsigned int flags, struct vmt_used *u,
	       int timeout_ms)
{
	int head = __vmt_vq_add(&e->vq, bufs, n, flags, 0);

	TEST_ASSERT(head >= 0, "adding a chain of %u buffers: %s", n,
		    vmt_errname(-head));
	vmt_vq_publish(&e->vq, head);
	vmt_vq_kick(&e->vq);
	if (!vmt_vq_wait_used(&e->vq, u, timeout_ms))
		return 0;
	TEST_ASSERT(u->id == head,
		    "the device returned head %u, expected the only chain in flight, %d",
		    u->id, head);
	return 1;
}

/* ------------------------------------------------------------------ */
/* The kernel log                                                     */
/* ------------------------------------------------------------------ */

#define VMT_SYSLOG_READ_ALL	3
#define VMT_SYSLOG_SIZE_BUFFER	10

/* As tests/vm/run.sh's KERNEL_PROBLEMS. */
static bool vmt_klog_is_problem(const char *line)
{
	static const char * const pats[] = {
		"Oops", "Kernel panic", "kernel BUG at", "BUG:", "WARNING:",
		"general protection fault", "UBSAN:",
		"Unable to handle kernel", "blocked for more than",
	};
	unsigned int i;

	for (i = 0; i < VMT_ARRAY_SIZE(pats); i++)
		if (strstr(line, pats[i]))
			return true;
	return strstr(line, "rcu: INFO:") && strstr(line, "stall");
}

int __vmt_klog_problems(bool show)
{
	int size = klogctl(VMT_SYSLOG_SIZE_BUFFER, NULL, 0), len, count = 0;
	char *buf, *line, *end;

	if (size <= 0)
		return size < 0 ? -errno : 0;
	buf = malloc(size + 1);
	TEST_ASSERT(buf, "out of memory");
	len = klogctl(VMT_SYSLOG_READ_ALL, buf, size);
	if (len < 0) {
		free(buf);
		return -errno;
	}
	buf[len] = 0;
	for (line = buf; line < buf + len; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			end = buf + len;
		*end = 0;
		if (!vmt_klog_is_problem(line))
			continue;
		count++;
		if (show)
			fprintf(stderr, "#   kernel: %s\n", line);
	}
	free(buf);
	return count;
}
