/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device registry (registry.c): ids, lookups by reference, and the
 * walk of dumps.  Lookups take a reference under the registry's spinlock
 * and never sleep there, so a device busy under its own locks delays no
 * other device's open, close or lookup.
 */
#ifndef VHOST_MEM_REGISTRY_H
#define VHOST_MEM_REGISTRY_H

#include <linux/types.h>

struct net;
struct vhost_mem;

/* At open: the id, the cookie and the file's reference. */
int vhost_mem_register(struct vhost_mem *vmem);
/*
 * At close, before the teardown: no lookup finds the device any more, and
 * control-plane calls that still hold a reference see it dead.
 */
void vhost_mem_unregister(struct vhost_mem *vmem);

/* The device id names in net, with a reference; NULL if none. */
struct vhost_mem *vhost_mem_get(u32 id, const struct net *net);
/* The cookie of the device opened last: a dump's bound. */
u64 vhost_mem_newest_cookie(void);
/*
 * The device of net with the smallest id >= *id and a cookie up to
 * newest, with a reference.
 */
struct vhost_mem *vhost_mem_get_next(unsigned long *id, const struct net *net,
				     u64 newest);
/* Drops a reference; the last one frees what the teardown left. */
void vhost_mem_put(struct vhost_mem *vmem);

#endif /* VHOST_MEM_REGISTRY_H */
