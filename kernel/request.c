// SPDX-License-Identifier: GPL-2.0
/*
 * The requestq: pops the guest's descriptor chains, reads each virtio-mem
 * request, answers it (blocks.c decides, plug.c does the host work),
 * writes the response and signals the guest once per batch.  The guest is
 * not trusted: the chain's shape is checked here, every field of the
 * request in blocks.c.
 */
#include <linux/uio.h>
#include <linux/virtio_mem.h>

#include "device.h"
#include "plug.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* What a chain asked for and what it was answered, for the tracepoints. */
struct vhost_mem_served {
	u64 addr;
	u16 type;
	u16 nb_blocks;
	u16 answer;
};

/*
 * Decided by blocks.c, carried out by plug.c, committed if that worked;
 * vq.mutex held.
 */
static u16 vhost_mem_handle_request(struct vhost_mem *vmem, u16 type, u64 addr,
				    u16 nb_blocks, u16 *state)
{
	struct vhost_mem_plan plan;
	u16 answer;
	int ret;

	vhost_mem_blocks_decide(&vmem->blocks, type, addr, nb_blocks, vmem->paused,
				&plan);
	answer = plan.resp;
	if (vhost_mem_plan_needs_commit(&plan)) {
		/* Host-side failures leave the state as it was: BUSY. */
		ret = vhost_mem_execute(vmem, &plan);
		if (ret) {
			answer = VIRTIO_MEM_RESP_BUSY;
			vhost_mem_record_failure(vmem, type, addr, nb_blocks, ret);
		} else {
			vhost_mem_blocks_commit(&vmem->blocks, &plan);
		}
	}
	*state = plan.state;
	vmem->requests[min_t(u16, type, VHOST_MEM_REQ_UNKNOWN)][answer]++;
	return answer;
}

/*
 * Serves one chain: the request in its device-readable part, the response
 * in its device-writable part (any split into descriptors).  Returns the
 * bytes written, 0 when the chain cannot carry a response; *s says what
 * the request was (type U16_MAX: unreadable) and its answer.
 */
static u32 vhost_mem_serve_chain(struct vhost_mem *vmem,
				 struct vhost_virtqueue *vq,
				 unsigned int out, unsigned int in,
				 struct vhost_mem_served *s)
{
	size_t in_len = iov_length(&vq->iov[out], in);
	struct virtio_mem_resp resp = {};
	struct virtio_mem_req req;
	struct iov_iter it;
	u16 answer, state = 0;

	s->type = U16_MAX;
	s->addr = 0;
	s->nb_blocks = 0;
	s->answer = VIRTIO_MEM_RESP_ERROR;
	if (in_len < sizeof(resp)) {
		vq_err(vq, "vhost-mem: response buffer of %zu bytes\n", in_len);
		vmem->dropped++;
		return 0;
	}
	iov_iter_init(&it, ITER_SOURCE, vq->iov, out, iov_length(vq->iov, out));
	if (copy_from_iter(&req, sizeof(req), &it) != sizeof(req)) {
		vq_err(vq, "vhost-mem: request shorter than %zu bytes\n",
		       sizeof(req));
		/* Counted as an unknown request, answered ERROR. */
		answer = vhost_mem_handle_request(vmem, U16_MAX, 0, 0, &state);
	} else {
		s->type = vhost16_to_cpu(vq, req.type);
		s->addr = vhost64_to_cpu(vq, req.u.plug.addr);
		s->nb_blocks = vhost16_to_cpu(vq, req.u.plug.nb_blocks);
		answer = vhost_mem_handle_request(vmem, s->type, s->addr,
						  s->nb_blocks, &state);
	}
	s->answer = answer;
	resp.type = cpu_to_vhost16(vq, answer);
	resp.u.state.state = cpu_to_vhost16(vq, state);

	iov_iter_init(&it, ITER_DEST, &vq->iov[out], in, in_len);
	if (copy_to_iter(&resp, sizeof(resp), &it) != sizeof(resp)) {
		vq_err(vq, "vhost-mem: cannot write the response\n");
		vmem->dropped++;
		return 0;
	}
	return sizeof(resp);
}

void vhost_mem_handle_kick(struct vhost_work *work)
{
	struct vhost_virtqueue *vq = container_of(work, struct vhost_virtqueue,
						  poll.work);
	struct vhost_mem *vmem = container_of(vq->dev, struct vhost_mem, dev);
	struct vhost_mem_batch batch = {};
	struct vhost_mem_served s;
	unsigned int out, in;
	bool answered = false;
	int head, served = 0;
	u32 len;

	mutex_lock(&vq->mutex);
	if (!vhost_vq_get_backend(vq))
		goto out;

	vhost_mem_batch_begin(vmem, &batch);
	vhost_disable_notify(&vmem->dev, vq);
	do {
		head = vhost_get_vq_desc(vq, vq->iov, ARRAY_SIZE(vq->iov),
					 &out, &in, NULL, NULL);
		/* A malformed chain: the core reported it and stops here. */
		if (head < 0)
			break;
		if (head == vq->num) {
			if (unlikely(vhost_enable_notify(&vmem->dev, vq))) {
				vhost_disable_notify(&vmem->dev, vq);
				continue;
			}
			break;
		}
		trace_vhost_mem_req_pop(vmem->id, head);
		len = vhost_mem_serve_chain(vmem, vq, out, in, &s);
		/* Even an unanswerable chain goes back to the guest. */
		if (vhost_add_used(vq, head, len))
			break;
		trace_vhost_mem_req_used(vmem->id, head, s.type, s.addr,
					 s.nb_blocks, s.answer, len);
		answered = true;
	} while (!vhost_exceeds_weight(vq, ++served, 0));

	/* One interrupt per batch; the core honours EVENT_IDX. */
	if (answered)
		vhost_signal(&vmem->dev, vq);
	vhost_mem_batch_end(vmem, &batch);
out:
	mutex_unlock(&vq->mutex);
	/* Events (plugged size, errors) without holding the queue. */
	vhost_mem_batch_send(vmem, &batch);
}
