// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/vhost_mem.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "netlink-gen.h"

#include <uapi/linux/vhost_mem_netlink.h>

/* VHOST_MEM_CMD_DEV_GET - do */
static const struct nla_policy vhost_mem_dev_get_nl_policy[VHOST_MEM_A_COOKIE + 1] = {
	[VHOST_MEM_A_ID] = { .type = NLA_U32, },
	[VHOST_MEM_A_COOKIE] = { .type = NLA_UINT, },
};

/* VHOST_MEM_CMD_DEV_SET - do */
static const struct nla_policy vhost_mem_dev_set_nl_policy[VHOST_MEM_A_COOKIE + 1] = {
	[VHOST_MEM_A_ID] = { .type = NLA_U32, },
	[VHOST_MEM_A_COOKIE] = { .type = NLA_UINT, },
	[VHOST_MEM_A_REQUESTED_SIZE] = { .type = NLA_UINT, },
};

/* Ops table for vhost_mem */
static const struct genl_split_ops vhost_mem_nl_ops[] = {
	{
		.cmd		= VHOST_MEM_CMD_DEV_GET,
		.doit		= vhost_mem_nl_dev_get_doit,
		.policy		= vhost_mem_dev_get_nl_policy,
		.maxattr	= VHOST_MEM_A_COOKIE,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= VHOST_MEM_CMD_DEV_GET,
		.dumpit	= vhost_mem_nl_dev_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= VHOST_MEM_CMD_DEV_SET,
		.doit		= vhost_mem_nl_dev_set_doit,
		.policy		= vhost_mem_dev_set_nl_policy,
		.maxattr	= VHOST_MEM_A_COOKIE,
		.flags		= GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group vhost_mem_nl_mcgrps[] = {
	[VHOST_MEM_NLGRP_EVENTS] = { "events", },
};

struct genl_family vhost_mem_nl_family __ro_after_init = {
	.name		= VHOST_MEM_FAMILY_NAME,
	.version	= VHOST_MEM_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= vhost_mem_nl_ops,
	.n_split_ops	= ARRAY_SIZE(vhost_mem_nl_ops),
	.mcgrps		= vhost_mem_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(vhost_mem_nl_mcgrps),
};
