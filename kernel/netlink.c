// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem: the generic netlink family "vhost-mem", the admin's control
 * plane.  Documentation/netlink/specs/vhost_mem.yaml specifies it, and
 * scripts/ynl-gen.sh generates its policies, ops and family from there
 * (netlink-gen.c); here are the handlers (the events are events.c).
 *
 * A device belongs to the network namespace of the process that opened
 * /dev/vhost-mem: a socket lists, reads, resizes and hears only the devices
 * of its own namespace.  Reading needs no privilege; DEV_SET needs
 * CAP_SYS_RESOURCE over the user namespace of the device's opener, in the
 * caller and in the socket's opener (Documentation/vhost-mem.rst tells
 * why).
 *
 * Nothing here decides anything about a device: DEV_SET is
 * vhost_mem_set_requested_size(), exactly as the VMM's ioctl.  Devices are
 * looked up by reference (registry.h), no global lock is held while we
 * wait for a device, and a dump does not wait at all: a device whose locks
 * are taken is reported with VHOST_MEM_A_BUSY only.
 */
#include <linux/capability.h>
#include <linux/limits.h>
#include <linux/virtio_mem.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "compat.h"
#include "device.h"
#include "netlink.h"
#include "netlink-gen.h"
#include "registry.h"

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
		    nla_put_uint(skb, VHOST_MEM_A_REQ_STATS_ACK,
				 n[VIRTIO_MEM_RESP_ACK]) ||
		    nla_put_uint(skb, VHOST_MEM_A_REQ_STATS_NACK,
				 n[VIRTIO_MEM_RESP_NACK]) ||
		    nla_put_uint(skb, VHOST_MEM_A_REQ_STATS_BUSY,
				 n[VIRTIO_MEM_RESP_BUSY]) ||
		    nla_put_uint(skb, VHOST_MEM_A_REQ_STATS_ERROR,
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
	    nla_put_uint(skb, VHOST_MEM_A_ADDR, st->guest_phys_addr) ||
	    nla_put_uint(skb, VHOST_MEM_A_REGION_SIZE, st->region_size) ||
	    nla_put_uint(skb, VHOST_MEM_A_BLOCK_SIZE, st->block_size) ||
	    nla_put_uint(skb, VHOST_MEM_A_CHUNK_SIZE, st->chunk_size) ||
	    nla_put_uint(skb, VHOST_MEM_A_USABLE_SIZE,
			 st->usable_region_size) ||
	    nla_put_uint(skb, VHOST_MEM_A_REQUESTED_SIZE, st->requested_size) ||
	    nla_put_uint(skb, VHOST_MEM_A_PLUGGED_SIZE, st->plugged_size) ||
	    nla_put_u32(skb, VHOST_MEM_A_MEMSLOTS, st->memslots) ||
	    nla_put_u32(skb, VHOST_MEM_A_MEMSLOTS_MAX, st->memslots_max))
		return -EMSGSIZE;
	return 0;
}

static int vhost_mem_nl_put_info(struct sk_buff *skb,
				 const struct vhost_mem_info *info)
{
	if (nla_put_u32(skb, VHOST_MEM_A_STATUS_FLAGS, info->st.flags) ||
	    nla_put_uint(skb, VHOST_MEM_A_FEATURES, info->features) ||
	    nla_put_uint(skb, VHOST_MEM_A_DROPPED, info->st.dropped))
		return -EMSGSIZE;
	if (info->owner_pid &&
	    nla_put_u32(skb, VHOST_MEM_A_OWNER_PID, info->owner_pid))
		return -EMSGSIZE;
	if (info->vm_id[0] &&
	    nla_put_string(skb, VHOST_MEM_A_VM_ID, info->vm_id))
		return -EMSGSIZE;
	if (info->config_call && nla_put_flag(skb, VHOST_MEM_A_CONFIG_CALL))
		return -EMSGSIZE;
	if ((info->st.flags & VHOST_MEM_STATUS_F_REGION) &&
	    vhost_mem_nl_put_region(skb, info))
		return -EMSGSIZE;
	return vhost_mem_nl_put_req_stats(skb, &info->st);
}

/*
 * A DEV_GET message for one device; -EMSGSIZE leaves skb as it was.
 * Without wait, a device whose locks are taken gets the busy flag instead
 * of its state.  -ENODEV: it is being closed.
 */
static int vhost_mem_nl_fill_dev(struct sk_buff *skb, struct vhost_mem *vmem,
				 u32 portid, u32 seq, int flags, bool wait)
{
	struct vhost_mem_info info;
	void *hdr;
	int ret;

	ret = vhost_mem_get_info(vmem, &info, wait);
	if (ret && ret != -EBUSY)
		return ret;
	hdr = genlmsg_put(skb, portid, seq, &vhost_mem_nl_family, flags,
			  VHOST_MEM_CMD_DEV_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, VHOST_MEM_A_ID, vmem->id) ||
	    nla_put_uint(skb, VHOST_MEM_A_COOKIE, vmem->cookie))
		goto cancel;
	if (ret == -EBUSY ? nla_put_flag(skb, VHOST_MEM_A_BUSY) :
	    vhost_mem_nl_put_info(skb, &info))
		goto cancel;
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static void vhost_mem_nl_no_device(struct genl_info *info)
{
	NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[VHOST_MEM_A_ID],
			    "No such vhost-mem device");
}

/* The device VHOST_MEM_A_ID names in the caller's namespace, referenced. */
static struct vhost_mem *vhost_mem_nl_find(struct genl_info *info)
{
	struct vhost_mem *vmem;

	if (GENL_REQ_ATTR_CHECK(info, VHOST_MEM_A_ID)) {
		NL_SET_ERR_MSG(info->extack, "The device id is missing");
		return ERR_PTR(-EINVAL);
	}
	vmem = vhost_mem_get(nla_get_u32(info->attrs[VHOST_MEM_A_ID]),
			     genl_info_net(info));
	if (!vmem) {
		vhost_mem_nl_no_device(info);
		return ERR_PTR(-ENODEV);
	}
	return vmem;
}

/* An id read earlier may name a newer device now: the cookie tells. */
static int vhost_mem_nl_check_cookie(struct genl_info *info,
				     const struct vhost_mem *vmem)
{
	struct nlattr *attr = info->attrs[VHOST_MEM_A_COOKIE];

	if (!attr || nla_get_uint(attr) == vmem->cookie)
		return 0;
	NL_SET_ERR_MSG_ATTR(info->extack, attr,
			    "The id names another device now (the cookie differs)");
	return -ESTALE;
}

/* Waits for the device if it is busy, killably. */
int vhost_mem_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vhost_mem *vmem;
	struct sk_buff *msg;
	int ret;

	vmem = vhost_mem_nl_find(info);
	if (IS_ERR(vmem))
		return PTR_ERR(vmem);
	ret = vhost_mem_nl_check_cookie(info, vmem);
	if (ret)
		goto put;
	ret = -ENOMEM;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto put;
	ret = vhost_mem_nl_fill_dev(msg, vmem, info->snd_portid, info->snd_seq,
				    0, true);
	if (ret) {
		nlmsg_free(msg);
		if (ret == -ENODEV)
			vhost_mem_nl_no_device(info);
		goto put;
	}
	ret = genlmsg_reply(msg, info);
put:
	vhost_mem_put(vmem);
	return ret;
}

/*
 * Resumes at cb->args[0], the next id to look at: ids in increasing order.
 * Only devices opened before the dump began (cb->args[1], their newest
 * cookie plus one, so that 0 says "not yet"): new ids are larger, and a
 * dump that took them too would never end while devices keep opening.
 */
int vhost_mem_nl_dev_get_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	unsigned long id = cb->args[0];
	struct vhost_mem *vmem;
	int ret = 0;

	if (!cb->args[1])
		cb->args[1] = vhost_mem_newest_cookie() + 1;
	while ((vmem = vhost_mem_get_next(&id, net, cb->args[1] - 1))) {
		ret = vhost_mem_nl_fill_dev(skb, vmem,
					    NETLINK_CB(cb->skb).portid,
					    cb->nlh->nlmsg_seq, NLM_F_MULTI,
					    false);
		vhost_mem_put(vmem);
		/* One being closed is gone already. */
		if (ret && ret != -ENODEV)
			break;
		ret = 0;
		cb->args[0] = ++id;
	}
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

/*
 * Memory is a resource, not networking: CAP_SYS_RESOURCE over the user
 * namespace of the process that opened the device, so that a container's
 * root manages the VMs started in it and the host's root all of them.
 * As GENL_UNS_ADMIN_PERM, the socket's opener needs it too.
 */
static int vhost_mem_nl_may_resize(struct sk_buff *skb,
				   struct genl_info *info,
				   const struct vhost_mem *vmem)
{
	if (netlink_ns_capable(skb, vmem->user_ns, CAP_SYS_RESOURCE))
		return 0;
	NL_SET_ERR_MSG(info->extack,
		       "Resizing needs CAP_SYS_RESOURCE over the user namespace of the device's opener");
	return -EPERM;
}

int vhost_mem_nl_dev_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vhost_mem *vmem;
	u64 size;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, VHOST_MEM_A_REQUESTED_SIZE)) {
		NL_SET_ERR_MSG(info->extack, "The requested size is missing");
		return -EINVAL;
	}
	size = nla_get_uint(info->attrs[VHOST_MEM_A_REQUESTED_SIZE]);

	vmem = vhost_mem_nl_find(info);
	if (IS_ERR(vmem))
		return PTR_ERR(vmem);
	ret = vhost_mem_nl_may_resize(skb, info, vmem) ?:
	      vhost_mem_nl_check_cookie(info, vmem);
	if (!ret) {
		/* Waits for the device if it is busy: it is the one we want. */
		ret = vhost_mem_set_requested_size(vmem, size,
						   VHOST_MEM_ORIGIN_NETLINK);
		/* Closed meanwhile: its region is gone (registry.c). */
		if (ret == -EBADFD && READ_ONCE(vmem->dead)) {
			ret = -ENODEV;
			vhost_mem_nl_no_device(info);
		}
		vhost_mem_nl_set_error(info, ret);
	}
	vhost_mem_put(vmem);
	return ret;
}

/*
 * The family (netlink-gen.c): no command has a reserved start, so every
 * one validates strictly (unknown attributes, trailing data and reserved
 * header bits are errors); parallel_ops, as each operation holds a
 * reference to its device and nothing global.
 */
int __init vhost_mem_nl_init(void)
{
	return vhost_mem_genl_register_family(&vhost_mem_nl_family);
}

void vhost_mem_nl_exit(void)
{
	vhost_mem_genl_unregister_family(&vhost_mem_nl_family);
}
