// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem benchmark: the ways of doing the same work.
 *
 * The kernel path sends virtio-mem requests over the requestq of
 * /dev/vhost-mem, as a guest driver would, and times each from its
 * submission (descriptors written, avail index published, kick) to its
 * used-ring entry.  The raw paths do what the module does for the same
 * requests, directly from this process: KVM_SET_USER_MEMORY_REGION for a
 * chunk that gains its first or loses its last plugged block, and the
 * discard of the unplugged range (MADV_DONTNEED, or a hole punched in the
 * memfd), through io_uring or by plain syscalls.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "paths.h"
#include "trace.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define VMB_PAGE_SIZE		4096ULL

static u64 vmb_req_bytes(const struct vmb_ctx *c)
{
	return (u64)c->nb * VMB_BLOCK_SIZE;
}

/* Offset of request i in its lane. */
static u64 vmb_req_offset(const struct vmb_ctx *c, unsigned int i)
{
	return i * vmb_req_bytes(c);
}

static u64 vmb_round_bytes(const struct vmb_ctx *c)
{
	return c->nreq * vmb_req_bytes(c);
}

/* Chunks [0, n) of a lane hold the blocks of a round's requests. */
static u64 vmb_round_chunks(const struct vmb_ctx *c)
{
	return (vmb_round_bytes(c) + c->chunk_size - 1) / c->chunk_size;
}

u64 vmb_round_slot_ops(const struct vmb_ctx *c)
{
	/* each chunk of the round: one create (PLUG), one delete (UNPLUG) */
	return 2 * vmb_round_chunks(c);
}

void vmb_round_init(struct vmb_ctx *c, u16 nb, unsigned int nreq)
{
	unsigned int i;

	TEST_ASSERT(nreq && nreq <= VMB_MAX_REQS,
		    "%u requests per round: expected 1 to %u", nreq,
		    VMB_MAX_REQS);
	TEST_ASSERT((u64)nreq * nb * VMB_BLOCK_SIZE <= c->region_size,
		    "%u requests of %u blocks do not fit the %llu MiB region",
		    nreq, nb, (unsigned long long)(c->region_size >> 20));
	c->nb = nb;
	c->nreq = nreq;
	for (i = 0; i < nreq; i++)
		c->reqs[i] = (struct vmt_mem_req){
			.addr = c->lanes[VMB_KERNEL].gpa + vmb_req_offset(c, i),
			.nb_blocks = nb,
		};
}

void vmb_dev_open(struct vmb_ctx *c, struct vmt_backing *b, u64 chunk_size)
{
	struct vhost_mem_region r;
	unsigned int p;

	c->b = b;
	c->chunk_size = chunk_size;
	c->nr_chunks = VHOST_MEM_SLOTS_NEEDED(c->region_size, chunk_size);
	TEST_ASSERT(VMB_SLOT_BASE + VMB_NR_PATHS * c->nr_chunks <=
		    c->vm->nr_memslots,
		    "%llu memslots per lane: more than KVM's %u in all",
		    (unsigned long long)c->nr_chunks, c->vm->nr_memslots);
	for (p = 0; p < VMB_NR_PATHS; p++) {
		struct vmb_lane *l = &c->lanes[p];

		l->gpa = VMB_REGION_GPA + p * c->region_size;
		l->offset = p * c->region_size;
		l->slot_base = VMB_SLOT_BASE + p * c->nr_chunks;
		l->chunk_plugged = calloc(c->nr_chunks,
					  sizeof(*l->chunk_plugged));
		TEST_ASSERT(l->chunk_plugged, "out of memory");
		l->live_slots = 0;
	}

	vmt_dev_open_ready(&c->dev, c->vm, &c->vq, ~0ULL);
	vmt_region_init(&r, b, c->lanes[VMB_KERNEL].gpa, VMB_BLOCK_SIZE,
			c->lanes[VMB_KERNEL].slot_base);
	r.region_size = c->region_size;
	r.chunk_size = chunk_size;
	r.slot_count = c->nr_chunks;
	/*
	 * Memslots only where blocks are plugged (the driver above accepts
	 * VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE): what the raw path mirrors.
	 */
	r.unplugged_inaccessible = VHOST_MEM_UI_ON;
	/* everything usable and within budget: no request is NACKed */
	vmt_dev_start(&c->dev, &r, c->region_size);
}

void vmb_dev_close(struct vmb_ctx *c)
{
	unsigned int p;

	vmt_dev_close(&c->dev);
	for (p = 0; p < VMB_NR_PATHS; p++) {
		free(c->lanes[p].chunk_plugged);
		c->lanes[p].chunk_plugged = NULL;
	}
}

/* The kernel path. */

static void vmb_check_answer(const struct vmt_mem_req *req, u16 expect)
{
	TEST_ASSERT(req->answered && req->used_len == sizeof(req->resp) &&
		    req->resp_type == expect,
		    "%s 0x%llx + %u blocks: expected %s, got %s (used length %u)",
		    vmt_mem_req_name(req->type), (unsigned long long)req->addr,
		    req->nb_blocks, vmt_mem_resp_name(expect),
		    req->answered ? vmt_mem_resp_name(req->resp_type) :
		    "no answer", req->used_len);
}

/* Wait for the used entries of n outstanding requests. */
static void vmb_kernel_reap(struct vmb_ctx *c, unsigned int n)
{
	struct vmt_used u;

	while (n--) {
		TEST_ASSERT(vmt_vq_wait_used(&c->vq, &u, vmt_timeout_ms()),
			    "no used entry within %d ms", vmt_timeout_ms());
		TEST_ASSERT(vmt_mem_complete(&c->vq, &u),
			    "used id %u is not an outstanding request", u.id);
	}
}

static void vmb_kernel_queue(struct vmb_ctx *c, struct vmt_mem_req *req)
{
	TEST_ASSERT(__vmt_mem_queue(&c->vq, req) >= 0,
		    "no room in the ring for a request");
}

static void vmb_kernel_kick(struct vmb_ctx *c)
{
	/* the device drained the ring before: it must want this kick */
	TEST_ASSERT(vmt_vq_kick(&c->vq),
		    "the device did not ask for a kick on an idle ring");
}

/* One request, alone in the ring: timed, with the kick apart. */
static void vmb_kernel_one(struct vmb_ctx *c, struct vmt_mem_req *req,
			   u16 expect, struct vmb_result *res)
{
	u64 t0, tk0, tk1, t1;
	bool done;

	t0 = vmt_now_ns();
	vmb_kernel_queue(c, req);
	tk0 = vmt_now_ns();
	vmb_kernel_kick(c);
	tk1 = vmt_now_ns();
	done = vmt_vq_used_idx(&c->vq) != c->vq.last_used;
	vmb_kernel_reap(c, 1);
	t1 = vmt_now_ns();
	vmb_check_answer(req, expect);
	if (!res)
		return;
	vmb_samples_add(&res->lat, t1 - t0);
	vmb_samples_add(&res->kick, tk1 - tk0);
	vmb_samples_add(&res->wait, t1 - tk1);
	res->done_at_kick += done;
	res->total_ns += t1 - t0;
	res->total_reqs++;
}

/* Every request with one kick; the time per request of the whole batch. */
static void vmb_kernel_batch(struct vmb_ctx *c, struct vmt_mem_req *reqs,
			     unsigned int n, u16 expect,
			     struct vmb_result *res)
{
	unsigned int i;
	u64 t0, t1;

	t0 = vmt_now_ns();
	for (i = 0; i < n; i++)
		vmb_kernel_queue(c, &reqs[i]);
	vmb_kernel_kick(c);
	vmb_kernel_reap(c, n);
	t1 = vmt_now_ns();
	for (i = 0; i < n; i++)
		vmb_check_answer(&reqs[i], expect);
	if (!res)
		return;
	vmb_samples_add(&res->lat, (t1 - t0) / n);
	res->total_ns += t1 - t0;
	res->total_reqs += n;
}

void vmb_null_run(struct vmb_ctx *c, enum vmb_mode mode, unsigned int n,
		  struct vmb_result *res)
{
	struct vmt_mem_req reqs[VMB_MAX_REQS];
	unsigned int i;

	TEST_ASSERT(n && n <= VMB_MAX_REQS, "%u null requests", n);
	/* a PLUG of zero blocks: ERROR, decided before any host work */
	for (i = 0; i < n; i++)
		reqs[i] = (struct vmt_mem_req){
			.type = VIRTIO_MEM_REQ_PLUG,
			.addr = c->lanes[VMB_KERNEL].gpa,
			.nb_blocks = 0,
		};
	for (i = 0; mode == VMB_BATCH && i < n; i += c->batch)
		vmb_kernel_batch(c, &reqs[i], n - i < c->batch ? n - i : c->batch,
				 VIRTIO_MEM_RESP_ERROR, res);
	for (i = 0; mode == VMB_SINGLE && i < n; i++)
		vmb_kernel_one(c, &reqs[i], VIRTIO_MEM_RESP_ERROR, res);
}

/* The raw paths. */

static void vmb_raw_memslot(struct vmb_ctx *c, struct vmb_lane *l, u64 chunk,
			    bool create)
{
	u64 off = chunk * c->chunk_size;
	u64 size = c->region_size - off < c->chunk_size ?
		   c->region_size - off : c->chunk_size;
	int r;

	/* as the module: size 0 (and no address) deletes */
	if (create)
		r = __vmt_vm_set_memslot(c->vm, l->slot_base + chunk,
					 l->gpa + off, size,
					 (u8 *)c->b->hva + l->offset + off, 0);
	else
		r = __vmt_vm_set_memslot(c->vm, l->slot_base + chunk, 0, 0,
					 NULL, 0);
	TEST_ASSERT(!r, "%s memslot %llu: expected success, got %s",
		    create ? "creating" : "deleting",
		    (unsigned long long)(l->slot_base + chunk),
		    vmt_errname(-r));
	l->live_slots += create ? 1 : -1;
}

/*
 * The blocks of request i change state: count them per chunk; create the
 * memslot of a chunk that gains its first block (PLUG), delete the one of
 * a chunk that loses its last (UNPLUG, after the discard).
 */
static void vmb_raw_account(struct vmb_ctx *c, struct vmb_lane *l,
			    unsigned int i, bool plug)
{
	u64 block = vmb_req_offset(c, i) / VMB_BLOCK_SIZE;
	u64 end = block + c->nb;
	u64 per_chunk = c->chunk_size / VMB_BLOCK_SIZE;

	while (block < end) {
		u64 chunk = block / per_chunk;
		u64 next = (chunk + 1) * per_chunk;
		u32 count = (next < end ? next : end) - block;

		if (plug) {
			if (!l->chunk_plugged[chunk])
				vmb_raw_memslot(c, l, chunk, true);
			l->chunk_plugged[chunk] += count;
		} else {
			l->chunk_plugged[chunk] -= count;
			if (!l->chunk_plugged[chunk])
				vmb_raw_memslot(c, l, chunk, false);
		}
		block = next;
	}
}

static void vmb_raw_prep_discard(struct vmb_ctx *c, struct vmb_lane *l,
				 unsigned int i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	u64 off = l->offset + vmb_req_offset(c, i);

	TEST_ASSERT(sqe, "io_uring: no free SQE");
	if (c->b->fd >= 0)
		io_uring_prep_fallocate(sqe, c->b->fd,
					FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE,
					off, vmb_req_bytes(c));
	else
		io_uring_prep_madvise(sqe, (u8 *)c->b->hva + off,
				      vmb_req_bytes(c), MADV_DONTNEED);
	io_uring_sqe_set_data64(sqe, i);
}

/* Submit what was prepared, in one system call, and reap all n. */
static void vmb_raw_uring_complete(struct vmb_ctx *c, unsigned int n)
{
	struct io_uring_cqe *cqe;
	int r;

	r = io_uring_submit_and_wait(&c->ring, n);
	TEST_ASSERT(r == (int)n, "io_uring_submit_and_wait of %u discards: got %d (%s)",
		    n, r, r < 0 ? vmt_errname(-r) : "short");
	while (n--) {
		do {
			r = io_uring_wait_cqe(&c->ring, &cqe);
		} while (r == -EINTR);
		TEST_ASSERT(!r, "io_uring_wait_cqe: %s", vmt_errname(-r));
		TEST_ASSERT(!cqe->res, "discard of request %llu through io_uring: %s",
			    (unsigned long long)io_uring_cqe_get_data64(cqe),
			    vmt_errname(-cqe->res));
		io_uring_cqe_seen(&c->ring, cqe);
	}
}

static void vmb_raw_discard_syscall(struct vmb_ctx *c, struct vmb_lane *l,
				    unsigned int i)
{
	u64 off = l->offset + vmb_req_offset(c, i);
	int r;

	if (c->b->fd >= 0)
		r = fallocate(c->b->fd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      off, vmb_req_bytes(c));
	else
		r = madvise((u8 *)c->b->hva + off, vmb_req_bytes(c),
			    MADV_DONTNEED);
	TEST_ASSERT(!r, "discard of request %u", i);
}

/* The work of requests [first, first + n) of the round. */
static void vmb_raw_work(struct vmb_ctx *c, enum vmb_path p, enum vmb_op op,
			 unsigned int first, unsigned int n)
{
	struct vmb_lane *l = &c->lanes[p];
	unsigned int i;

	if (op == VMB_PLUG) {
		/* nothing is populated on PLUG: memslots only */
		for (i = first; i < first + n; i++)
			vmb_raw_account(c, l, i, true);
		return;
	}
	if (p == VMB_RAW) {
		for (i = first; i < first + n; i++)
			vmb_raw_prep_discard(c, l, i);
		vmb_raw_uring_complete(c, n);
	} else {
		for (i = first; i < first + n; i++)
			vmb_raw_discard_syscall(c, l, i);
	}
	/* as the module: a memslot goes only once its pages are gone */
	for (i = first; i < first + n; i++)
		vmb_raw_account(c, l, i, false);
}

/* Either path: requests [first, first + n) of the round, timed. */

static void vmb_path_work(struct vmb_ctx *c, enum vmb_path p, enum vmb_op op,
			  unsigned int first, unsigned int n,
			  struct vmb_result *res)
{
	u16 type = op == VMB_PLUG ? VIRTIO_MEM_REQ_PLUG :
				    VIRTIO_MEM_REQ_UNPLUG;
	unsigned int i;
	u64 t0, t1;

	vmb_trace_mark(p, op, first, n, 's');
	if (p == VMB_KERNEL) {
		for (i = first; i < first + n; i++)
			c->reqs[i].type = type;
		if (n == 1)
			vmb_kernel_one(c, &c->reqs[first], VIRTIO_MEM_RESP_ACK,
				       res);
		else
			vmb_kernel_batch(c, &c->reqs[first], n,
					 VIRTIO_MEM_RESP_ACK, res);
		vmb_trace_mark(p, op, first, n, 'e');
		return;
	}
	t0 = vmt_now_ns();
	vmb_raw_work(c, p, op, first, n);
	t1 = vmt_now_ns();
	vmb_trace_mark(p, op, first, n, 'e');
	if (!res)
		return;
	vmb_samples_add(&res->lat, (t1 - t0) / n);
	res->total_ns += t1 - t0;
	res->total_reqs += n;
}

/* What the device says: plugged bytes and live memslots. */
static void vmb_check_lanes(struct vmb_ctx *c, const bool *lane, bool plugged)
{
	u64 bytes = plugged ? vmb_round_bytes(c) : 0;
	u64 slots = plugged ? vmb_round_chunks(c) : 0;
	struct vhost_mem_status st;
	unsigned int p;

	for (p = 0; p < VMB_NR_PATHS; p++) {
		if (!lane[p])
			continue;
		if (p != VMB_KERNEL) {
			TEST_ASSERT(c->lanes[p].live_slots == slots,
				    "%s path: expected %llu memslots, got %llu",
				    vmb_path_name(p),
				    (unsigned long long)slots,
				    (unsigned long long)c->lanes[p].live_slots);
			continue;
		}
		TEST_ASSERT_OK(__vmt_mem_get_status(c->dev.fd, &st));
		TEST_ASSERT(st.plugged_size == bytes && st.memslots == slots,
			    "device: expected %llu bytes plugged in %llu memslots, got %llu in %u",
			    (unsigned long long)bytes,
			    (unsigned long long)slots,
			    (unsigned long long)st.plugged_size, st.memslots);
	}
}

/* Populating: what the guest would have done with the plugged blocks. */
static void vmb_populate(struct vmb_ctx *c, const struct vmb_round_spec *s)
{
	u64 bytes = vmb_round_bytes(c), resident;
	unsigned int p, i;

	for (p = 0; p < VMB_NR_PATHS; p++) {
		u8 *base = (u8 *)c->b->hva + c->lanes[p].offset;

		if (!s->lane[p])
			continue;
		for (i = 0; i < c->nreq; i++) {
			u64 t0 = vmt_now_ns();

			TEST_ASSERT(!madvise(base + vmb_req_offset(c, i),
					     vmb_req_bytes(c),
					     MADV_POPULATE_WRITE),
				    "MADV_POPULATE_WRITE of %llu bytes",
				    (unsigned long long)vmb_req_bytes(c));
			if (s->pop)
				vmb_samples_add(&s->pop->per_req,
						vmt_now_ns() - t0);
		}
		resident = vmt_resident_pages(base, bytes);
		TEST_ASSERT(resident == bytes / VMB_PAGE_SIZE,
			    "%s lane: %llu of %llu pages resident after populating",
			    vmb_path_name(p), (unsigned long long)resident,
			    (unsigned long long)(bytes / VMB_PAGE_SIZE));
		if (s->pop) {
			s->pop->pages += resident;
			s->pop->reqs += c->nreq;
		}
	}
}

/* After the UNPLUGs: the pages must really be gone. */
static void vmb_check_discarded(struct vmb_ctx *c, const bool *lane)
{
	u64 bytes = vmb_round_bytes(c), resident;
	unsigned int p;

	for (p = 0; p < VMB_NR_PATHS; p++) {
		u8 *base = (u8 *)c->b->hva + c->lanes[p].offset;

		if (!lane[p])
			continue;
		resident = vmt_resident_pages(base, bytes);
		TEST_ASSERT(!resident,
			    "%s path: %llu pages still resident after UNPLUG of every block",
			    vmb_path_name(p), (unsigned long long)resident);
		if (c->b->fd >= 0)
			TEST_ASSERT(!vmt_memfd_data_bytes(c->b->fd,
							  c->lanes[p].offset,
							  bytes),
				    "%s path: the memfd still holds data after UNPLUG",
				    vmb_path_name(p));
	}
}

/* The k-th path to go at this turn: forwards, then backwards. */
static enum vmb_path vmb_turn(unsigned int turn, unsigned int k)
{
	return turn & 1 ? VMB_NR_PATHS - 1 - k : k;
}

static void vmb_phase(struct vmb_ctx *c, const struct vmb_round_spec *s,
		      enum vmb_op op)
{
	struct vmb_result *const *res = op == VMB_PLUG ? s->plug : s->unplug;
	unsigned int i, k, n, step;

	step = s->mode == VMB_BATCH ? c->batch : 1;
	for (i = 0; i < c->nreq; i += step) {
		n = c->nreq - i < step ? c->nreq - i : step;
		for (k = 0; k < VMB_NR_PATHS; k++) {
			enum vmb_path p = vmb_turn(s->turn + i / step, k);

			if (s->lane[p])
				vmb_path_work(c, p, op, i, n, res[p]);
		}
	}
}

void vmb_round(struct vmb_ctx *c, const struct vmb_round_spec *s)
{
	vmb_phase(c, s, VMB_PLUG);
	vmb_check_lanes(c, s->lane, true);
	if (s->populate)
		vmb_populate(c, s);
	vmb_phase(c, s, VMB_UNPLUG);
	vmb_check_lanes(c, s->lane, false);
	vmb_check_discarded(c, s->lane);
}
