// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem: the generic netlink family "vhost_mem", the admin's control
 * plane (Documentation/netlink/specs/vhost_mem.yaml specifies it).
 *
 * A device belongs to the network namespace of the process that opened
 * /dev/vhost-mem: a socket lists, reads, resizes and hears only the devices
 * of its own namespace.  Reading needs no privilege; DEV_SET needs
 * CAP_NET_ADMIN over the namespace (GENL_UNS_ADMIN_PERM).
 *
 * Nothing here decides anything about a device: DEV_SET is
 * vhost_mem_set_requested_size(), exactly as the VMM's ioctl.  The device
 * list lock, held across each operation, keeps a device from being
 * released under us; lock order: list -> dev.mutex -> vq.mutex.
 */
#include <linux/limits.h>
#include <linux/virtio_mem.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "device.h"
#include "netlink.h"

/* Multicast groups, in the order of vhost_mem_nl_mcgrps[]. */
enum {
	VHOST_MEM_NLGRP_EVENTS,
};

/* The only attributes a request may carry; strict validation rejects others. */
static const struct nla_policy vhost_mem_nl_policy[VHOST_MEM_A_MAX + 1] = {
	[VHOST_MEM_A_ID] = { .type = NLA_U32 },
	[VHOST_MEM_A_REQUESTED_SIZE] = { .type = NLA_U64 },
};

static struct genl_family vhost_mem_nl_family;

static int vhost_mem_nl_put_u64(struct sk_buff *skb, int type, u64 value)
{
	return nla_put_u64_64bit(skb, type, value, VHOST_MEM_A_PAD);
}

static int vhost_mem_nl_put_stat(struct sk_buff *skb, int type, u64 value)
{
	return nla_put_u64_64bit(skb, type, value, VHOST_MEM_A_REQ_STATS_PAD);
}

/* One VHOST_MEM_A_REQ_STATS nest per request type, unknown types last. */
static int vhost_mem_nl_put_req_stats(struct sk_buff *skb,
				      const struct vhost_mem_status *st)
{
	struct nlattr *nest;
	const u64 *n;
	u32 type;

	for (type = 0; type < VHOST_MEM_NR_REQ_TYPES; type++) {
		n = st->requests[type];
		nest = nla_nest_start(skb, VHOST_MEM_A_REQ_STATS);
		if (!nest)
			return -EMSGSIZE;
		if (nla_put_u32(skb, VHOST_MEM_A_REQ_STATS_TYPE, type) ||
		    vhost_mem_nl_put_stat(skb, VHOST_MEM_A_REQ_STATS_ACK,
					  n[VIRTIO_MEM_RESP_ACK]) ||
		    vhost_mem_nl_put_stat(skb, VHOST_MEM_A_REQ_STATS_NACK,
					  n[VIRTIO_MEM_RESP_NACK]) ||
		    vhost_mem_nl_put_stat(skb, VHOST_MEM_A_REQ_STATS_BUSY,
					  n[VIRTIO_MEM_RESP_BUSY]) ||
		    vhost_mem_nl_put_stat(skb, VHOST_MEM_A_REQ_STATS_ERROR,
					  n[VIRTIO_MEM_RESP_ERROR])) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
		nla_nest_end(skb, nest);
	}
	return 0;
}

static int vhost_mem_nl_put_region(struct sk_buff *skb,
				   const struct vhost_mem_info *info)
{
	const struct vhost_mem_status *st = &info->st;

	if (nla_put_s32(skb, VHOST_MEM_A_NODE_ID, info->node_id) ||
	    nla_put_u32(skb, VHOST_MEM_A_REGION_FLAGS, info->region_flags) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_ADDR, st->guest_phys_addr) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_REGION_SIZE, st->region_size) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_BLOCK_SIZE, st->block_size) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_CHUNK_SIZE, st->chunk_size) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_USABLE_SIZE,
				 st->usable_region_size) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_REQUESTED_SIZE,
				 st->requested_size) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_PLUGGED_SIZE,
				 st->plugged_size) ||
	    nla_put_u32(skb, VHOST_MEM_A_MEMSLOTS, st->memslots) ||
	    nla_put_u32(skb, VHOST_MEM_A_MEMSLOTS_MAX, st->memslots_max))
		return -EMSGSIZE;
	return 0;
}

/* A DEV_GET message for one device; -EMSGSIZE leaves skb as it was. */
static int vhost_mem_nl_fill_dev(struct sk_buff *skb, struct vhost_mem *vm,
				 u32 portid, u32 seq, int flags)
{
	struct vhost_mem_info info;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &vhost_mem_nl_family, flags,
			  VHOST_MEM_CMD_DEV_GET);
	if (!hdr)
		return -EMSGSIZE;
	vhost_mem_get_info(vm, &info);
	if (nla_put_u32(skb, VHOST_MEM_A_ID, vm->id) ||
	    nla_put_u32(skb, VHOST_MEM_A_STATUS_FLAGS, info.st.flags) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_FEATURES, info.features) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_DROPPED, info.st.dropped))
		goto cancel;
	if (info.owner_pid &&
	    nla_put_u32(skb, VHOST_MEM_A_OWNER_PID, info.owner_pid))
		goto cancel;
	if (info.vm_id[0] &&
	    nla_put_string(skb, VHOST_MEM_A_VM_ID, info.vm_id))
		goto cancel;
	if (info.config_call && nla_put_flag(skb, VHOST_MEM_A_CONFIG_CALL))
		goto cancel;
	if ((info.st.flags & VHOST_MEM_STATUS_F_REGION) &&
	    vhost_mem_nl_put_region(skb, &info))
		goto cancel;
	if (vhost_mem_nl_put_req_stats(skb, &info.st))
		goto cancel;
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* The device VHOST_MEM_A_ID names in the caller's namespace; list lock held. */
static struct vhost_mem *vhost_mem_nl_find(struct genl_info *info)
{
	struct nlattr *attr = info->attrs[VHOST_MEM_A_ID];
	struct vhost_mem *vm;
	u32 id;

	if (GENL_REQ_ATTR_CHECK(info, VHOST_MEM_A_ID)) {
		NL_SET_ERR_MSG(info->extack, "The device id is missing");
		return ERR_PTR(-EINVAL);
	}
	id = nla_get_u32(attr);
	vm = id <= INT_MAX ? vhost_mem_next_device(id) : NULL;
	if (!vm || vm->id != id || !net_eq(vm->net, genl_info_net(info))) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "No such vhost-mem device");
		return ERR_PTR(-ENODEV);
	}
	return vm;
}

static int vhost_mem_nl_dev_get_doit(struct sk_buff *skb,
				     struct genl_info *info)
{
	struct vhost_mem *vm;
	struct sk_buff *msg;
	int ret;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	vhost_mem_devices_lock();
	vm = vhost_mem_nl_find(info);
	if (IS_ERR(vm))
		ret = PTR_ERR(vm);
	else
		ret = vhost_mem_nl_fill_dev(msg, vm, info->snd_portid,
					    info->snd_seq, 0);
	vhost_mem_devices_unlock();
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);
}

/* Resumes after the last device sent: ids in increasing order. */
static int vhost_mem_nl_dev_get_dumpit(struct sk_buff *skb,
				       struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	struct vhost_mem *vm;
	int ret = 0;

	vhost_mem_devices_lock();
	for (vm = vhost_mem_next_device(cb->args[0]); vm;
	     vm = vhost_mem_next_device(vm->id + 1)) {
		if (!net_eq(vm->net, net))
			continue;
		ret = vhost_mem_nl_fill_dev(skb, vm,
					    NETLINK_CB(cb->skb).portid,
					    cb->nlh->nlmsg_seq, NLM_F_MULTI);
		if (ret)
			break;
		cb->args[0] = vm->id + 1;
	}
	vhost_mem_devices_unlock();
	/* A full message ends this round; the next one resumes. */
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret ?: skb->len;
}

/* The same errors as VHOST_MEM_SET_REQUESTED_SIZE, explained. */
static void vhost_mem_nl_set_error(struct genl_info *info, int ret)
{
	struct nlattr *size = info->attrs[VHOST_MEM_A_REQUESTED_SIZE];

	switch (ret) {
	case -EINVAL:
		NL_SET_ERR_MSG_ATTR(info->extack, size,
				    "Requested size is not a multiple of the block size");
		break;
	case -ERANGE:
		NL_SET_ERR_MSG_ATTR(info->extack, size,
				    "Requested size is larger than the device region");
		break;
	case -EBADFD:
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[VHOST_MEM_A_ID],
				    "The device has no region yet");
		break;
	}
}

static int vhost_mem_nl_dev_set_doit(struct sk_buff *skb,
				     struct genl_info *info)
{
	struct vhost_mem *vm;
	u64 size;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, VHOST_MEM_A_REQUESTED_SIZE)) {
		NL_SET_ERR_MSG(info->extack, "The requested size is missing");
		return -EINVAL;
	}
	size = nla_get_u64(info->attrs[VHOST_MEM_A_REQUESTED_SIZE]);

	vhost_mem_devices_lock();
	vm = vhost_mem_nl_find(info);
	if (IS_ERR(vm)) {
		ret = PTR_ERR(vm);
	} else {
		ret = vhost_mem_set_requested_size(vm, size,
						   VHOST_MEM_ORIGIN_NETLINK);
		vhost_mem_nl_set_error(info, ret);
	}
	vhost_mem_devices_unlock();
	return ret;
}

void vhost_mem_nl_notify(struct vhost_mem *vm, u8 cmd,
			 const struct vhost_mem_ntf *ntf)
{
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&vhost_mem_nl_family, vm->net,
				VHOST_MEM_NLGRP_EVENTS))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &vhost_mem_nl_family, 0, cmd);
	if (!hdr)
		goto free;
	if (nla_put_u32(skb, VHOST_MEM_A_ID, vm->id) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_REQUESTED_SIZE,
				 ntf->requested) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_PLUGGED_SIZE, ntf->plugged) ||
	    vhost_mem_nl_put_u64(skb, VHOST_MEM_A_USABLE_SIZE, ntf->usable))
		goto free;
	if (cmd == VHOST_MEM_CMD_REQUESTED_SIZE_NTF &&
	    nla_put_u32(skb, VHOST_MEM_A_ORIGIN, ntf->origin))
		goto free;
	if (cmd == VHOST_MEM_CMD_ERROR_NTF &&
	    (nla_put_u32(skb, VHOST_MEM_A_ERROR, -ntf->error) ||
	     nla_put_u32(skb, VHOST_MEM_A_REQ_TYPE, ntf->req_type) ||
	     vhost_mem_nl_put_u64(skb, VHOST_MEM_A_REQ_ADDR, ntf->req_addr) ||
	     vhost_mem_nl_put_u64(skb, VHOST_MEM_A_REQ_SIZE, ntf->req_size) ||
	     nla_put_u32(skb, VHOST_MEM_A_ERRORS, ntf->nr_errors)))
		goto free;
	genlmsg_end(skb, hdr);
	/* Consumes skb; nobody may be listening any more. */
	genlmsg_multicast_netns(&vhost_mem_nl_family, vm->net, skb, 0,
				VHOST_MEM_NLGRP_EVENTS, GFP_KERNEL);
	return;
free:
	nlmsg_free(skb);
}

static const struct genl_small_ops vhost_mem_nl_ops[] = {
	{
		.cmd = VHOST_MEM_CMD_DEV_GET,
		.doit = vhost_mem_nl_dev_get_doit,
		.dumpit = vhost_mem_nl_dev_get_dumpit,
	},
	{
		.cmd = VHOST_MEM_CMD_DEV_SET,
		.doit = vhost_mem_nl_dev_set_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static const struct genl_multicast_group vhost_mem_nl_mcgrps[] = {
	[VHOST_MEM_NLGRP_EVENTS] = { .name = VHOST_MEM_MCGRP_EVENTS },
};

/*
 * resv_start_op 0: every command validates strictly (unknown attributes,
 * trailing data and reserved header bits are errors).  parallel_ops: the
 * device list lock serialises us, not genl_mutex.
 */
static struct genl_family vhost_mem_nl_family __ro_after_init = {
	.name = VHOST_MEM_GENL_NAME,
	.version = VHOST_MEM_GENL_VERSION,
	.hdrsize = 0,
	.maxattr = VHOST_MEM_A_MAX,
	.policy = vhost_mem_nl_policy,
	.netnsok = true,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.small_ops = vhost_mem_nl_ops,
	.n_small_ops = ARRAY_SIZE(vhost_mem_nl_ops),
	.resv_start_op = 0,
	.mcgrps = vhost_mem_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(vhost_mem_nl_mcgrps),
};

int __init vhost_mem_nl_init(void)
{
	return genl_register_family(&vhost_mem_nl_family);
}

void vhost_mem_nl_exit(void)
{
	genl_unregister_family(&vhost_mem_nl_family);
}
