// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem: the events a device sends, to the multicast group of the
 * family netlink-gen.c defines.  The request path and the resizes call
 * here; nothing here calls back into them.
 */
#include <net/genetlink.h>
#include <net/netlink.h>

#include "compat.h"
#include "device.h"
#include "events.h"
#include "netlink-gen.h"

void vhost_mem_nl_notify(struct vhost_mem *vmem, u8 cmd,
			 const struct vhost_mem_ntf *ntf)
{
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&vhost_mem_nl_family, vmem->net,
				VHOST_MEM_NLGRP_EVENTS))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &vhost_mem_nl_family, 0, cmd);
	if (!hdr)
		goto free;
	if (nla_put_u32(skb, VHOST_MEM_A_ID, vmem->id) ||
	    nla_put_uint(skb, VHOST_MEM_A_COOKIE, vmem->cookie) ||
	    nla_put_uint(skb, VHOST_MEM_A_REQUESTED_SIZE, ntf->requested) ||
	    nla_put_uint(skb, VHOST_MEM_A_PLUGGED_SIZE, ntf->plugged) ||
	    nla_put_uint(skb, VHOST_MEM_A_USABLE_SIZE, ntf->usable))
		goto free;
	if (cmd == VHOST_MEM_CMD_REQUESTED_SIZE_NTF &&
	    nla_put_u32(skb, VHOST_MEM_A_ORIGIN, ntf->origin))
		goto free;
	if (cmd == VHOST_MEM_CMD_ERROR_NTF &&
	    (nla_put_u32(skb, VHOST_MEM_A_ERROR, -ntf->error) ||
	     nla_put_u32(skb, VHOST_MEM_A_REQ_TYPE, ntf->req_type) ||
	     nla_put_uint(skb, VHOST_MEM_A_REQ_ADDR, ntf->req_addr) ||
	     nla_put_uint(skb, VHOST_MEM_A_REQ_SIZE, ntf->req_size) ||
	     nla_put_u32(skb, VHOST_MEM_A_ERRORS, ntf->nr_errors)))
		goto free;
	genlmsg_end(skb, hdr);
	/* Consumes skb; nobody may be listening any more. */
	genlmsg_multicast_netns(&vhost_mem_nl_family, vmem->net, skb, 0,
				VHOST_MEM_NLGRP_EVENTS, GFP_KERNEL);
	return;
free:
	nlmsg_free(skb);
}

void vhost_mem_ntf_sizes(struct vhost_mem *vmem, struct vhost_mem_ntf *ntf)
{
	ntf->requested = vmem->blocks.requested_size;
	ntf->plugged = vmem->blocks.plugged_size;
	ntf->usable = vmem->blocks.usable_size;
}

/* A request the host could not carry out (answered BUSY), vq.mutex held. */
void vhost_mem_record_failure(struct vhost_mem *vmem, u16 type, u64 addr,
			      u16 nb_blocks, int error)
{
	struct vhost_mem_ntf *f = &vmem->failure;

	if (!f->nr_errors++) {
		f->error = error;
		f->req_type = type;
		f->req_addr = addr;
		f->req_size = vhost_mem_blocks_bytes(&vmem->blocks, nb_blocks);
	}
}

void vhost_mem_batch_begin(struct vhost_mem *vmem, struct vhost_mem_batch *batch)
{
	batch->plugged_before = vmem->blocks.plugged_size;
	vmem->failure.nr_errors = 0;
}

void vhost_mem_batch_end(struct vhost_mem *vmem, struct vhost_mem_batch *batch)
{
	vhost_mem_ntf_sizes(vmem, &batch->sizes);
	batch->failure = vmem->failure;
	vhost_mem_ntf_sizes(vmem, &batch->failure);
	vmem->failure.nr_errors = 0;
}

/* Cheap when nobody listens: vhost_mem_nl_notify() checks first. */
void vhost_mem_batch_send(struct vhost_mem *vmem,
			  const struct vhost_mem_batch *batch)
{
	const struct vhost_mem_ntf *sizes = &batch->sizes;

	if (batch->failure.nr_errors)
		vhost_mem_nl_notify(vmem, VHOST_MEM_CMD_ERROR_NTF, &batch->failure);
	if (sizes->plugged == batch->plugged_before)
		return;
	vhost_mem_nl_notify(vmem, VHOST_MEM_CMD_PLUGGED_SIZE_NTF, sizes);
	if (sizes->plugged == sizes->requested)
		vhost_mem_nl_notify(vmem, VHOST_MEM_CMD_SIZE_REACHED_NTF, sizes);
}
