// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: virtio-mem requests and the /dev/vhost-mem ioctls.
 */
#include <endian.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "module_util.h"
#include "vhost_mem_util.h"

const char *vmt_mem_req_name(u16 type)
{
	switch (type) {
	case VIRTIO_MEM_REQ_PLUG:
		return "PLUG";
	case VIRTIO_MEM_REQ_UNPLUG:
		return "UNPLUG";
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		return "UNPLUG_ALL";
	case VIRTIO_MEM_REQ_STATE:
		return "STATE";
	}
	return "unknown request";
}

const char *vmt_mem_resp_name(u16 type)
{
	switch (type) {
	case VIRTIO_MEM_RESP_ACK:
		return "ACK";
	case VIRTIO_MEM_RESP_NACK:
		return "NACK";
	case VIRTIO_MEM_RESP_BUSY:
		return "BUSY";
	case VIRTIO_MEM_RESP_ERROR:
		return "ERROR";
	}
	return "unknown response";
}

const char *vmt_mem_state_name(u16 state)
{
	switch (state) {
	case VIRTIO_MEM_STATE_PLUGGED:
		return "PLUGGED";
	case VIRTIO_MEM_STATE_UNPLUGGED:
		return "UNPLUGGED";
	case VIRTIO_MEM_STATE_MIXED:
		return "MIXED";
	}
	return "unknown state";
}

void vmt_mem_write_req(struct vmt_vm *vm, u64 gpa, u16 type, u64 addr,
		       u16 nb_blocks)
{
	struct virtio_mem_req *req = vmt_gpa2hva(vm, gpa);

	memset(req, 0, sizeof(*req));
	req->type = htole16(type);
	/* plug, unplug and state share one layout */
	req->u.plug.addr = htole64(addr);
	req->u.plug.nb_blocks = htole16(nb_blocks);
}

int __vmt_mem_queue(struct vmt_vq *vq, struct vmt_mem_req *req)
{
	int head = __vmt_vq_peek_head(vq), added;
	struct vmt_buf bufs[2];
	u64 base;

	if (head < 0)
		return head;
	base = vmt_vq_scratch_gpa(vq, head);
	vmt_mem_write_req(vq->vm, base + VMT_MEM_REQ_OFF, req->type,
			  req->addr, req->nb_blocks);
	memset(vmt_gpa2hva(vq->vm, base + VMT_MEM_RESP_OFF),
	       VMT_MEM_RESP_POISON, sizeof(struct virtio_mem_resp));
	bufs[0] = (struct vmt_buf){ base + VMT_MEM_REQ_OFF,
				    sizeof(struct virtio_mem_req), false };
	bufs[1] = (struct vmt_buf){ base + VMT_MEM_RESP_OFF,
				    sizeof(struct virtio_mem_resp), true };
	req->answered = false;
	added = __vmt_vq_add(vq, bufs, 2, req->flags, (u64)(uintptr_t)req);
	if (added < 0)
		return added;
	TEST_ASSERT(added == head, "__vmt_vq_add returned head %d, expected %d",
		    added, head);
	vmt_vq_publish(vq, head);
	return head;
}

struct vmt_mem_req *vmt_mem_complete(struct vmt_vq *vq,
				     const struct vmt_used *u)
{
	struct vmt_mem_req *req;
	u64 base;

	if (!u->known || !u->cookie)
		return NULL;
	req = (struct vmt_mem_req *)(uintptr_t)u->cookie;
	base = vmt_vq_scratch_gpa(vq, u->id);
	memcpy(&req->resp, vmt_gpa2hva(vq->vm, base + VMT_MEM_RESP_OFF),
	       sizeof(req->resp));
	req->answered = true;
	req->used_len = u->len;
	req->resp_type = le16toh(req->resp.type);
	req->state = le16toh(req->resp.u.state.state);
	return req;
}

unsigned int vmt_mem_batch(struct vmt_vq *vq, struct vmt_mem_req *reqs,
			   unsigned int n, int timeout_ms)
{
	u64 deadline = vmt_now_ns() + (u64)timeout_ms * 1000000ULL;
	unsigned int sent = 0, answered = 0, i;
	struct vmt_used u;

	for (i = 0; i < n; i++)
		reqs[i].answered = false;
	while (answered < n) {
		unsigned int queued = 0;
		u64 now;

		while (sent < n &&
		       vq->nfree >= (reqs[sent].flags & VMT_CHAIN_INDIRECT ?
				     1 : 2)) {
			TEST_ASSERT(__vmt_mem_queue(vq, &reqs[sent]) >= 0,
				    "queueing request %u", sent);
			sent++;
			queued++;
		}
		if (queued)
			vmt_vq_kick(vq);
		now = vmt_now_ns();
		if (now >= deadline ||
		    !vmt_vq_wait_used(vq, &u, (int)((deadline - now) /
						    1000000ULL)))
			break;
		TEST_ASSERT(vmt_mem_complete(vq, &u),
			    "the device returned used id %u (len %u), which is not an outstanding request",
			    u.id, u.len);
		answered++;
	}
	return answered;
}

int __vmt_mem_request(struct vmt_vq *vq, u16 type, u64 addr, u16 nb_blocks,
		      struct vmt_mem_req *out)
{
	struct vmt_mem_req req = {
		.type = type,
		.addr = addr,
		.nb_blocks = nb_blocks,
	};

	vmt_mem_batch(vq, &req, 1, vmt_timeout_ms());
	if (out)
		*out = req;
	return req.answered ? req.resp_type : -ETIMEDOUT;
}

int __vmt_mem_plug(struct vmt_vq *vq, u64 addr, u16 nb_blocks)
{
	return __vmt_mem_request(vq, VIRTIO_MEM_REQ_PLUG, addr, nb_blocks, NULL);
}

int __vmt_mem_unplug(struct vmt_vq *vq, u64 addr, u16 nb_blocks)
{
	return __vmt_mem_request(vq, VIRTIO_MEM_REQ_UNPLUG, addr, nb_blocks,
				 NULL);
}

int __vmt_mem_unplug_all(struct vmt_vq *vq)
{
	return __vmt_mem_request(vq, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL);
}

void vmt_mem_plug_range(struct vmt_vq *vq, u64 gpa, u64 from, u64 to,
			u64 block_size)
{
	u64 off;
	int r;

	for (off = from; off < to; off += block_size) {
		r = __vmt_mem_plug(vq, gpa + off, 1);
		TEST_ASSERT(r == VIRTIO_MEM_RESP_ACK,
			    "PLUG at offset 0x%llx: expected ACK, got %s",
			    (unsigned long long)off, vmt_mem_resp_name(r));
	}
}

int __vmt_mem_state(struct vmt_vq *vq, u64 addr, u16 nb_blocks, u16 *state)
{
	struct vmt_mem_req req;
	int r;

	r = __vmt_mem_request(vq, VIRTIO_MEM_REQ_STATE, addr, nb_blocks, &req);
	if (r == VIRTIO_MEM_RESP_ACK && state)
		*state = req.state;
	return r;
}

static int vmt_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

int __vmt_mem_set_vm(int fd, int vm_fd)
{
	struct vhost_mem_vm v = { .size = sizeof(v), .vm_fd = vm_fd };

	return vmt_ioctl(fd, VHOST_MEM_SET_VM, &v);
}

int __vmt_mem_set_region(int fd, struct vhost_mem_region *region)
{
	region->size = sizeof(*region);
	return vmt_ioctl(fd, VHOST_MEM_SET_REGION, region);
}

int __vmt_mem_set_requested_size(int fd, u64 size)
{
	return vmt_ioctl(fd, VHOST_MEM_SET_REQUESTED_SIZE, &size);
}

int __vmt_mem_set_running(int fd, int running)
{
	return vmt_ioctl(fd, VHOST_MEM_SET_RUNNING, &running);
}

int __vmt_mem_get_status(int fd, struct vhost_mem_status *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return vmt_ioctl(fd, VHOST_MEM_GET_STATUS, st);
}

int __vmt_mem_set_config_call(int fd, int efd)
{
	return vmt_ioctl(fd, VHOST_MEM_SET_CONFIG_CALL, &efd);
}

void vmt_mem_status_print(FILE *f, const struct vhost_mem_status *st)
{
	unsigned int t, r;

	fprintf(f, "# status: flags 0x%x%s%s%s\n", st->flags,
		st->flags & VHOST_MEM_STATUS_F_VM ? " VM" : "",
		st->flags & VHOST_MEM_STATUS_F_REGION ? " REGION" : "",
		st->flags & VHOST_MEM_STATUS_F_RUNNING ? " RUNNING" : "");
	fprintf(f, "#   region 0x%llx + 0x%llx, block 0x%llx, chunk 0x%llx\n",
		(unsigned long long)st->guest_phys_addr,
		(unsigned long long)st->region_size,
		(unsigned long long)st->block_size,
		(unsigned long long)st->chunk_size);
	fprintf(f, "#   usable 0x%llx plugged 0x%llx requested 0x%llx\n",
		(unsigned long long)st->usable_region_size,
		(unsigned long long)st->plugged_size,
		(unsigned long long)st->requested_size);
	fprintf(f, "#   memslots %u of %u, dropped %llu\n", st->memslots,
		st->memslots_max, (unsigned long long)st->dropped);
	for (t = 0; t < VHOST_MEM_NR_REQ_TYPES; t++) {
		fprintf(f, "#   %-10s", t < VHOST_MEM_REQ_UNKNOWN ?
			vmt_mem_req_name(t) : "unknown");
		for (r = 0; r < VHOST_MEM_NR_RESP_TYPES; r++)
			fprintf(f, " %s %llu", vmt_mem_resp_name(r),
				(unsigned long long)st->requests[t][r]);
		fputc('\n', f);
	}
}

void vmt_dev_open_ready(struct vmt_dev *d, struct vmt_vm *vm,
			struct vmt_vq *vq, u64 want_features)
{
	memset(d, 0, sizeof(*d));
	d->vm = vm;
	d->vq = vq;
	d->fd = vmt_mem_open();
	vmt_dev_ready(d, want_features);
}

void vmt_dev_ready(struct vmt_dev *d, u64 want_features)
{
	struct vmt_vm *vm = d->vm;
	struct vmt_vq *vq = d->vq;
	u64 offered;
	int r;

	r = __vmt_vhost_set_owner(d->fd);
	TEST_ASSERT(!r, "VHOST_SET_OWNER on a new device: expected success, got %s",
		    vmt_errname(-r));
	r = __vmt_vhost_get_features(d->fd, &offered);
	TEST_ASSERT(!r, "VHOST_GET_FEATURES: expected success, got %s",
		    vmt_errname(-r));
	/* As a current Linux driver: it never touches unplugged memory. */
	d->features = offered & want_features &
		      (VMT_VQ_DRIVER_FEATURES |
		       1ULL << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);
	r = __vmt_vhost_set_features(d->fd, d->features);
	TEST_ASSERT(!r, "VHOST_SET_FEATURES 0x%llx (offered 0x%llx): expected success, got %s",
		    (unsigned long long)d->features,
		    (unsigned long long)offered, vmt_errname(-r));
	r = __vmt_vhost_set_mem_table_vm(d->fd, vm);
	TEST_ASSERT(!r, "VHOST_SET_MEM_TABLE (boot RAM, %llu bytes): expected success, got %s",
		    (unsigned long long)vm->ram_size, vmt_errname(-r));
	r = __vmt_vq_attach(vq, d->fd, VHOST_MEM_REQUESTQ, d->features);
	TEST_ASSERT(!r, "%s on the requestq: expected success, got %s",
		    vq->failed_op, vmt_errname(-r));
}

void vmt_region_init(struct vhost_mem_region *r, const struct vmt_backing *b,
		     u64 gpa, u64 block_size, u32 slot_base)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->guest_phys_addr = gpa;
	r->region_size = b->size;
	r->userspace_addr = (u64)(uintptr_t)b->hva;
	r->block_size = block_size;
	r->chunk_size = 0;
	r->node_id = -1;
	r->backing_fd = -1;
	if (b->fd >= 0) {
		r->flags |= VHOST_MEM_REGION_F_BACKING_FD;
		r->backing_fd = b->fd;
		r->backing_offset = 0;
	}
	r->slot_base = slot_base;
	r->slot_count = VHOST_MEM_SLOTS_NEEDED(b->size,
					       VHOST_MEM_DEFAULT_CHUNK_SIZE);
}

u32 vmt_region_slots_needed(const struct vhost_mem_region *r)
{
	u64 chunk = r->chunk_size;

	if (r->flags & VHOST_MEM_REGION_F_HARD_PROTECT)
		return VHOST_MEM_SLOTS_NEEDED_HARD(r->region_size, r->block_size);
	if (!chunk)
		chunk = r->block_size > VHOST_MEM_DEFAULT_CHUNK_SIZE ?
			r->block_size : VHOST_MEM_DEFAULT_CHUNK_SIZE;
	return VHOST_MEM_SLOTS_NEEDED(r->region_size, chunk);
}

void vmt_dev_start(struct vmt_dev *d, struct vhost_mem_region *r,
		   u64 requested_size)
{
	int ret;

	ret = __vmt_mem_set_vm(d->fd, d->vm->vm_fd);
	TEST_ASSERT(!ret, "VHOST_MEM_SET_VM (KVM VM fd %d): expected success, got %s",
		    d->vm->vm_fd, vmt_errname(-ret));
	ret = __vmt_mem_set_region(d->fd, r);
	TEST_ASSERT(!ret,
		    "VHOST_MEM_SET_REGION GPA 0x%llx size 0x%llx block 0x%llx slots %u+%u: expected success, got %s",
		    (unsigned long long)r->guest_phys_addr,
		    (unsigned long long)r->region_size,
		    (unsigned long long)r->block_size, r->slot_base,
		    r->slot_count, vmt_errname(-ret));
	ret = __vmt_mem_set_requested_size(d->fd, requested_size);
	TEST_ASSERT(!ret,
		    "VHOST_MEM_SET_REQUESTED_SIZE 0x%llx: expected success, got %s",
		    (unsigned long long)requested_size, vmt_errname(-ret));
	ret = __vmt_mem_set_running(d->fd, 1);
	TEST_ASSERT(!ret, "VHOST_MEM_SET_RUNNING 1: expected success, got %s",
		    vmt_errname(-ret));
}

void vmt_dev_close(struct vmt_dev *d)
{
	if (d->vq)
		vmt_vq_detach(d->vq);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/* The device id of an open /dev/vhost-mem, from its fdinfo. */
u32 vmt_dev_id(int fd)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	TEST_ASSERT(__vmt_read_file(path, buf, sizeof(buf)) > 0,
		    "cannot read %s", path);
	p = strstr(buf, "vhost-mem-id:");
	TEST_ASSERT(p, "%s has no vhost-mem-id line: %s", path, buf);
	return (u32)strtoul(p + strlen("vhost-mem-id:"), NULL, 10);
}
