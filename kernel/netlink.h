/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The generic netlink family "vhost-mem" (netlink.c): registration; the
 * events a device sends are events.h.
 */
#ifndef VHOST_MEM_NETLINK_H
#define VHOST_MEM_NETLINK_H

int vhost_mem_nl_init(void);
void vhost_mem_nl_exit(void);

#endif /* VHOST_MEM_NETLINK_H */
