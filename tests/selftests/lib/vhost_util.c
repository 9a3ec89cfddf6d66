// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: the vhost ioctls and a split-virtqueue driver.
 */
#include <endian.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vhost_util.h"

static int vmt_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

int __vmt_vhost_open(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int __vmt_vhost_set_owner(int fd)
{
	return vmt_ioctl(fd, VHOST_SET_OWNER, NULL);
}

int __vmt_vhost_reset_owner(int fd)
{
	return vmt_ioctl(fd, VHOST_RESET_OWNER, NULL);
}

int __vmt_vhost_get_features(int fd, u64 *features)
{
	*features = 0;
	return vmt_ioctl(fd, VHOST_GET_FEATURES, features);
}

int __vmt_vhost_set_features(int fd, u64 features)
{
	return vmt_ioctl(fd, VHOST_SET_FEATURES, &features);
}

int __vmt_vhost_get_backend_features(int fd, u64 *features)
{
	*features = 0;
	return vmt_ioctl(fd, VHOST_GET_BACKEND_FEATURES, features);
}

int __vmt_vhost_set_mem_table(int fd, const struct vhost_memory_region *regions,
			      unsigned int n)
{
	struct vhost_memory *mem;
	int r;

	mem = calloc(1, sizeof(*mem) + n * sizeof(*regions));
	TEST_ASSERT(mem, "out of memory");
	mem->nregions = n;
	if (n)
		memcpy(mem->regions, regions, n * sizeof(*regions));
	r = vmt_ioctl(fd, VHOST_SET_MEM_TABLE, mem);
	free(mem);
	return r;
}

int __vmt_vhost_set_mem_table_vm(int fd, struct vmt_vm *vm)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = 0,
		.memory_size = vm->ram_size,
		.userspace_addr = (u64)(uintptr_t)vm->ram,
	};

	return __vmt_vhost_set_mem_table(fd, &r, 1);
}

int __vmt_vhost_set_vring_num(int fd, unsigned int index, unsigned int num)
{
	struct vhost_vring_state s = { .index = index, .num = num };

	return vmt_ioctl(fd, VHOST_SET_VRING_NUM, &s);
}

int __vmt_vhost_set_vring_base(int fd, unsigned int index, unsigned int base)
{
	struct vhost_vring_state s = { .index = index, .num = base };

	return vmt_ioctl(fd, VHOST_SET_VRING_BASE, &s);
}

int __vmt_vhost_get_vring_base(int fd, unsigned int index, unsigned int *base)
{
	struct vhost_vring_state s = { .index = index };
	int r = vmt_ioctl(fd, VHOST_GET_VRING_BASE, &s);

	*base = s.num;
	return r;
}

int __vmt_vhost_set_vring_addr(int fd, const struct vhost_vring_addr *addr)
{
	struct vhost_vring_addr a = *addr;

	return vmt_ioctl(fd, VHOST_SET_VRING_ADDR, &a);
}

int __vmt_vhost_set_vring_kick(int fd, unsigned int index, int efd)
{
	struct vhost_vring_file f = { .index = index, .fd = efd };

	return vmt_ioctl(fd, VHOST_SET_VRING_KICK, &f);
}

int __vmt_vhost_set_vring_call(int fd, unsigned int index, int efd)
{
	struct vhost_vring_file f = { .index = index, .fd = efd };

	return vmt_ioctl(fd, VHOST_SET_VRING_CALL, &f);
}

int __vmt_vhost_set_vring_err(int fd, unsigned int index, int efd)
{
	struct vhost_vring_file f = { .index = index, .fd = efd };

	return vmt_ioctl(fd, VHOST_SET_VRING_ERR, &f);
}

/* The event-index fields that follow the two rings. */
static void vmt_vq_set_used_event(struct vmt_vq *vq, u16 idx)
{
	__atomic_store_n(&vq->avail->ring[vq->num], htole16(idx),
			 __ATOMIC_RELAXED);
}

static u16 vmt_vq_avail_event(struct vmt_vq *vq)
{
	return le16toh(__atomic_load_n((u16 *)&vq->used->ring[vq->num],
				       __ATOMIC_RELAXED));
}

void vmt_vq_init(struct vmt_vq *vq, struct vmt_vm *vm, unsigned int num)
{
	u64 avail_size, used_size;
	int r;

	if (!num)
		num = VMT_VQ_NUM_DEFAULT;
	TEST_ASSERT(num <= 1024 && !(num & (num - 1)),
		    "queue size %u: expected a power of 2 up to 1024", num);

	memset(vq, 0, sizeof(*vq));
	vq->vm = vm;
	vq->num = num;
	vq->dev_fd = -1;
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;

	/* avail: flags, idx, ring[num], used_event; used: same with elems */
	avail_size = 4 + 2ULL * num + 2;
	used_size = 4 + 8ULL * num + 2;
	vq->desc_gpa = vmt_vm_alloc(vm, 16ULL * num + avail_size, 4096);
	vq->avail_gpa = vq->desc_gpa + 16ULL * num;
	vq->used_gpa = vmt_vm_alloc(vm, used_size, 4096);
	vq->indirect_gpa = vmt_vm_alloc(vm, 16ULL * num * VMT_VQ_MAX_CHAIN,
					4096);
	vq->scratch_gpa = vmt_vm_alloc(vm, (u64)VMT_VQ_SCRATCH_SIZE * num,
				       4096);
	vq->desc = vmt_gpa2hva(vm, vq->desc_gpa);
	vq->avail = vmt_gpa2hva(vm, vq->avail_gpa);
	vq->used = vmt_gpa2hva(vm, vq->used_gpa);
	vq->indirect = vmt_gpa2hva(vm, vq->indirect_gpa);
	vq->scratch = vmt_gpa2hva(vm, vq->scratch_gpa);

	vq->free_stack = calloc(num, sizeof(*vq->free_stack));
	vq->chains = calloc(num, sizeof(*vq->chains));
	TEST_ASSERT(vq->free_stack && vq->chains, "out of memory");

	r = io_uring_queue_init(8, &vq->ring, 0);
	TEST_REQUIRE(r != -EPERM,
		     "io_uring is not permitted (EPERM): kernel.io_uring_disabled?");
	TEST_ASSERT(!r, "io_uring_queue_init: expected 0, got %s",
		    vmt_errname(-r));
}

static void vmt_vq_reset(struct vmt_vq *vq, u16 base)
{
	unsigned int i;

	memset(vq->desc, 0, 16ULL * vq->num);
	memset((void *)vq->avail, 0, 4 + 2ULL * vq->num + 2);
	memset((void *)vq->used, 0, 4 + 8ULL * vq->num + 2);
	memset(vq->chains, 0, vq->num * sizeof(*vq->chains));
	/* pop order 0, 1, 2, ... */
	for (i = 0; i < vq->num; i++)
		vq->free_stack[i] = vq->num - 1 - i;
	vq->nfree = vq->num;
	vq->inflight = 0;
	vq->avail_idx = base;
	vq->kicked_avail = base;
	vq->last_used = base;
	/* the device takes its last used index from used->idx */
	vq->avail->idx = htole16(base);
	vq->used->idx = htole16(base);
	vq->kicks = 0;
	vq->kicks_suppressed = 0;
	vq->calls = 0;
	vq->failed_op = NULL;
}

int __vmt_vq_attach(struct vmt_vq *vq, int dev_fd, unsigned int index,
		    u64 features)
{
	return __vmt_vq_attach_base(vq, dev_fd, index, features, 0);
}

int __vmt_vq_attach_base(struct vmt_vq *vq, int dev_fd, unsigned int index,
			 u64 features, u16 base)
{
	struct vhost_vring_addr addr = {
		.index = index,
		.desc_user_addr = (u64)(uintptr_t)vq->desc,
		.avail_user_addr = (u64)(uintptr_t)vq->avail,
		.used_user_addr = (u64)(uintptr_t)vq->used,
	};
	int r;

	vmt_vq_detach(vq);
	vmt_vq_reset(vq, base);
	vq->dev_fd = dev_fd;
	vq->index = index;
	vq->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	TEST_ASSERT(vq->kick_fd >= 0 && vq->call_fd >= 0 && vq->err_fd >= 0,
		    "eventfd");

	vq->failed_op = "VHOST_SET_VRING_NUM";
	r = __vmt_vhost_set_vring_num(dev_fd, index, vq->num);
	if (r)
		return r;
	vq->failed_op = "VHOST_SET_VRING_BASE";
	r = __vmt_vhost_set_vring_base(dev_fd, index, base);
	if (r)
		return r;
	vq->failed_op = "VHOST_SET_VRING_ADDR";
	r = __vmt_vhost_set_vring_addr(dev_fd, &addr);
	if (r)
		return r;
	vq->failed_op = "VHOST_SET_VRING_KICK";
	r = __vmt_vhost_set_vring_kick(dev_fd, index, vq->kick_fd);
	if (r)
		return r;
	vq->failed_op = "VHOST_SET_VRING_CALL";
	r = __vmt_vhost_set_vring_call(dev_fd, index, vq->call_fd);
	if (r)
		return r;
	vq->failed_op = "VHOST_SET_VRING_ERR";
	r = __vmt_vhost_set_vring_err(dev_fd, index, vq->err_fd);
	if (r)
		return r;
	vq->failed_op = NULL;
	return 0;
}

void vmt_vq_detach(struct vmt_vq *vq)
{
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	if (vq->err_fd >= 0)
		close(vq->err_fd);
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
	vq->dev_fd = -1;
}

void vmt_vq_destroy(struct vmt_vq *vq)
{
	vmt_vq_detach(vq);
	io_uring_queue_exit(&vq->ring);
	free(vq->free_stack);
	free(vq->chains);
	vq->free_stack = NULL;
	vq->chains = NULL;
}

int __vmt_vq_peek_head(struct vmt_vq *vq)
{
	return vq->nfree ? vq->free_stack[vq->nfree - 1] : -ENOSPC;
}

u64 vmt_vq_scratch_gpa(struct vmt_vq *vq, u16 head)
{
	TEST_ASSERT(head < vq->num, "head %u: expected below queue size %u",
		    head, vq->num);
	return vq->scratch_gpa + (u64)head * VMT_VQ_SCRATCH_SIZE;
}

void *vmt_vq_scratch(struct vmt_vq *vq, u16 head)
{
	return vmt_gpa2hva(vq->vm, vmt_vq_scratch_gpa(vq, head));
}

static void vmt_desc_fill(struct vring_desc *d, const struct vmt_buf *b,
			  bool more, u16 next)
{
	u16 flags = 0;

	if (b->write)
		flags |= VRING_DESC_F_WRITE;
	if (more)
		flags |= VRING_DESC_F_NEXT;
	d->addr = htole64(b->gpa);
	d->len = htole32(b->len);
	d->flags = htole16(flags);
	d->next = htole16(more ? next : 0);
}

int __vmt_vq_add(struct vmt_vq *vq, const struct vmt_buf *bufs, unsigned int n,
		 unsigned int flags, u64 cookie)
{
	bool indirect = flags & VMT_CHAIN_INDIRECT;
	struct vmt_vq_chain *ch;
	unsigned int i;
	u16 head;

	if (!n || n > VMT_VQ_MAX_CHAIN)
		return -EINVAL;
	if (vq->nfree < (indirect ? 1 : n))
		return -ENOSPC;

	head = vq->free_stack[--vq->nfree];
	ch = &vq->chains[head];
	memset(ch, 0, sizeof(*ch));
	ch->desc[0] = head;
	ch->ndesc = 1;

	if (indirect) {
		struct vring_desc *tbl = vq->indirect +
					 (u64)head * VMT_VQ_MAX_CHAIN;
		struct vring_desc *d = &vq->desc[head];

		for (i = 0; i < n; i++)
			vmt_desc_fill(&tbl[i], &bufs[i], i + 1 < n, i + 1);
		d->addr = htole64(vq->indirect_gpa +
				  16ULL * head * VMT_VQ_MAX_CHAIN);
		d->len = htole32(16 * n);
		d->flags = htole16(VRING_DESC_F_INDIRECT);
		d->next = 0;
	} else {
		for (i = 1; i < n; i++)
			ch->desc[ch->ndesc++] = vq->free_stack[--vq->nfree];
		for (i = 0; i < n; i++)
			vmt_desc_fill(&vq->desc[ch->desc[i]], &bufs[i],
				      i + 1 < n, i + 1 < n ? ch->desc[i + 1] : 0);
	}
	ch->busy = true;
	ch->indirect = indirect;
	ch->n = n;
	ch->cookie = cookie;
	vq->inflight++;
	return head;
}

struct vring_desc *vmt_vq_chain_desc(struct vmt_vq *vq, u16 head,
				     unsigned int i)
{
	struct vmt_vq_chain *ch;

	TEST_ASSERT(head < vq->num && vq->chains[head].busy,
		    "head %u: expected a chain added with __vmt_vq_add()", head);
	ch = &vq->chains[head];
	TEST_ASSERT(i < ch->n, "descriptor %u of head %u: the chain has %u",
		    i, head, ch->n);
	if (ch->indirect)
		return &vq->indirect[(u64)head * VMT_VQ_MAX_CHAIN + i];
	return &vq->desc[ch->desc[i]];
}

void vmt_vq_publish(struct vmt_vq *vq, u16 head)
{
	vq->avail->ring[vq->avail_idx % vq->num] = htole16(head);
	vq->avail_idx++;
	/* the ring entry (and the descriptors) before the index */
	__atomic_store_n(&vq->avail->idx, htole16(vq->avail_idx),
			 __ATOMIC_RELEASE);
}

void vmt_vq_kick_force(struct vmt_vq *vq)
{
	u64 one = 1;

	TEST_ASSERT(write(vq->kick_fd, &one, sizeof(one)) == sizeof(one),
		    "write to the kick eventfd");
	vq->kicks++;
}

bool vmt_vq_kick(struct vmt_vq *vq)
{
	u16 old = vq->kicked_avail, new = vq->avail_idx;
	bool need;

	/* avail->idx must be visible before we read the device's wishes */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->kicked_avail = new;
	if (vq->event_idx)
		need = vring_need_event(vmt_vq_avail_event(vq),
					new, old);
	else
		need = !(le16toh(__atomic_load_n(&vq->used->flags,
						 __ATOMIC_RELAXED)) &
			 VRING_USED_F_NO_NOTIFY);
	if (!need) {
		vq->kicks_suppressed++;
		return false;
	}
	vmt_vq_kick_force(vq);
	return true;
}

int __vmt_vq_submit(struct vmt_vq *vq, const struct vmt_buf *bufs,
		    unsigned int n, unsigned int flags, u64 cookie)
{
	int head = __vmt_vq_add(vq, bufs, n, flags, cookie);

	if (head < 0)
		return head;
	vmt_vq_publish(vq, head);
	vmt_vq_kick(vq);
	return head;
}

u16 vmt_vq_used_idx(struct vmt_vq *vq)
{
	return le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
}

int vmt_vq_pop_used(struct vmt_vq *vq, struct vmt_used *u)
{
	u16 idx = vmt_vq_used_idx(vq), pending = idx - vq->last_used;
	struct vring_used_elem *e;
	struct vmt_vq_chain *ch;
	unsigned int i;

	if (!pending)
		return 0;
	TEST_ASSERT(pending <= vq->num,
		    "used->idx moved from %u to %u: more than the %u entries the ring holds",
		    vq->last_used, idx, vq->num);

	e = &vq->used->ring[vq->last_used % vq->num];
	memset(u, 0, sizeof(*u));
	u->id = (u16)le32toh(e->id);
	u->len = le32toh(e->len);
	TEST_ASSERT(le32toh(e->id) < 0x10000,
		    "used entry %u has id %u: expected a 16-bit head",
		    vq->last_used, le32toh(e->id));
	vq->last_used++;
	if (vq->event_idx)
		vmt_vq_set_used_event(vq, vq->last_used);

	ch = u->id < vq->num ? &vq->chains[u->id] : NULL;
	if (ch && ch->busy) {
		u->known = true;
		u->cookie = ch->cookie;
		for (i = ch->ndesc; i-- > 0; )
			vq->free_stack[vq->nfree++] = ch->desc[i];
		ch->busy = false;
		vq->inflight--;
	}
	return 1;
}

u64 vmt_vq_drain_calls(struct vmt_vq *vq)
{
	u64 count = 0;

	if (read(vq->call_fd, &count, sizeof(count)) != sizeof(count)) {
		TEST_ASSERT(errno == EAGAIN, "read of the call eventfd");
		return 0;
	}
	vq->calls += count;
	return count;
}

u64 vmt_vq_wait_errors(struct vmt_vq *vq, int timeout_ms)
{
	struct pollfd pfd = { .fd = vq->err_fd, .events = POLLIN };
	u64 count = 0;

	if (timeout_ms > 0 && poll(&pfd, 1, timeout_ms) < 0)
		TEST_ASSERT(errno == EINTR, "poll of the error eventfd");
	if (read(vq->err_fd, &count, sizeof(count)) != sizeof(count)) {
		TEST_ASSERT(errno == EAGAIN, "read of the error eventfd");
		return 0;
	}
	return count;
}

u64 vmt_vq_wait_call(struct vmt_vq *vq, int timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000LL,
	};
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int poll_res = 0, r, i;
	u64 count;

	count = vmt_vq_drain_calls(vq);
	if (count || timeout_ms <= 0)
		return count;

	sqe = io_uring_get_sqe(&vq->ring);
	TEST_ASSERT(sqe, "io_uring: no free SQE");
	io_uring_prep_poll_add(sqe, vq->call_fd, POLLIN);
	sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data64(sqe, 1);
	sqe = io_uring_get_sqe(&vq->ring);
	TEST_ASSERT(sqe, "io_uring: no free SQE");
	io_uring_prep_link_timeout(sqe, &ts, 0);
	io_uring_sqe_set_data64(sqe, 2);
	r = io_uring_submit(&vq->ring);
	TEST_ASSERT(r == 2, "io_uring_submit of poll + link timeout: expected 2, got %d (%s)",
		    r, r < 0 ? vmt_errname(-r) : "short");

	/* both CQEs must be reaped before ts goes out of scope */
	for (i = 0; i < 2; i++) {
		do {
			r = io_uring_wait_cqe(&vq->ring, &cqe);
		} while (r == -EINTR);
		TEST_ASSERT(!r, "io_uring_wait_cqe: %s", vmt_errname(-r));
		if (io_uring_cqe_get_data64(cqe) == 1)
			poll_res = cqe->res;
		io_uring_cqe_seen(&vq->ring, cqe);
	}
	TEST_ASSERT(poll_res > 0 || poll_res == -ECANCELED,
		    "io_uring poll of the call eventfd: expected POLLIN or -ECANCELED (timeout), got %d",
		    poll_res);
	return poll_res > 0 ? vmt_vq_drain_calls(vq) : 0;
}

int vmt_vq_wait_used(struct vmt_vq *vq, struct vmt_used *u, int timeout_ms)
{
	u64 deadline = vmt_now_ns() + (u64)timeout_ms * 1000000ULL;

	for (;;) {
		u64 now;

		if (vmt_vq_pop_used(vq, u))
			return 1;
		if (vq->event_idx) {
			/* ask for a call at the next entry, then look again */
			vmt_vq_set_used_event(vq, vq->last_used);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (vmt_vq_pop_used(vq, u))
				return 1;
		}
		now = vmt_now_ns();
		if (now >= deadline)
			return 0;
		if (!vmt_vq_wait_call(vq, (int)((deadline - now + 999999) /
						1000000)))
			return vmt_vq_pop_used(vq, u);
	}
}
