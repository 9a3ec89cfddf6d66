// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem: the device registry.  One allocating xarray gives the ids,
 * the lookup by id and the resumption of dumps.
 *
 * Ids are allocated cyclically, so that a closed device's id is not given
 * to the next device at once; a 64-bit cookie, never reused while the
 * module is loaded, tells the devices apart for good (DEV_SET refuses a
 * stale one).
 *
 * A lookup takes a reference under the xarray's spinlock: the file's own
 * reference is dropped only after the device left the xarray, so whatever
 * is found there is alive.  A reference keeps the struct, not the device:
 * vhost_mem_unregister() marks it dead under dev.mutex before the
 * teardown, and control-plane calls check that under dev.mutex.
 */
#include <linux/atomic.h>
#include <linux/cred.h>
#include <linux/slab.h>
#include <linux/user_namespace.h>
#include <linux/xarray.h>
#include <net/net_namespace.h>

#include "device.h"
#include "registry.h"

static DEFINE_XARRAY_ALLOC(vhost_mem_devices);
static u32 vhost_mem_next_id;		/* xa_alloc_cyclic()'s, under xa_lock */
static atomic64_t vhost_mem_last_cookie = ATOMIC64_INIT(0);

int vhost_mem_register(struct vhost_mem *vmem)
{
	u32 id;
	int ret;

	refcount_set(&vmem->refs, 1);
	vmem->cookie = atomic64_inc_return(&vhost_mem_last_cookie);
	vmem->user_ns = get_user_ns(current_user_ns());
	/*
	 * The last step: a lookup may find the device from here on, once
	 * we drop the lock, with its id set.
	 */
	xa_lock(&vhost_mem_devices);
	ret = __xa_alloc_cyclic(&vhost_mem_devices, &id, vmem,
				XA_LIMIT(0, INT_MAX), &vhost_mem_next_id,
				GFP_KERNEL);
	if (ret >= 0)
		vmem->id = id;
	xa_unlock(&vhost_mem_devices);
	if (ret < 0) {
		put_user_ns(vmem->user_ns);
		return ret == -EBUSY ? -ENOSPC : ret;
	}
	return 0;
}

void vhost_mem_unregister(struct vhost_mem *vmem)
{
	xa_erase(&vhost_mem_devices, vmem->id);
	/*
	 * Waits for a control-plane call inside the device; the next ones
	 * see it dead.  Without a region, a resize is refused before it
	 * touches the blocks the teardown frees.
	 */
	mutex_lock(&vmem->dev.mutex);
	vmem->dead = true;
	vmem->has_region = false;
	mutex_unlock(&vmem->dev.mutex);
}

/* Under xa_lock: a device in the xarray has its file's reference. */
static struct vhost_mem *vhost_mem_hold(struct vhost_mem *vmem,
					const struct net *net)
{
	if (!vmem || !net_eq(vmem->net, net))
		return NULL;
	refcount_inc(&vmem->refs);
	return vmem;
}

struct vhost_mem *vhost_mem_get(u32 id, const struct net *net)
{
	struct vhost_mem *vmem;

	xa_lock(&vhost_mem_devices);
	vmem = vhost_mem_hold(xa_load(&vhost_mem_devices, id), net);
	xa_unlock(&vhost_mem_devices);
	return vmem;
}

u64 vhost_mem_newest_cookie(void)
{
	return atomic64_read(&vhost_mem_last_cookie);
}

struct vhost_mem *vhost_mem_get_next(unsigned long *id, const struct net *net,
				     u64 newest)
{
	struct vhost_mem *vmem, *found = NULL;
	unsigned long index;

	xa_lock(&vhost_mem_devices);
	xa_for_each_start(&vhost_mem_devices, index, vmem, *id) {
		if (vmem->cookie > newest)
			continue;
		found = vhost_mem_hold(vmem, net);
		if (found) {
			*id = index;
			break;
		}
	}
	xa_unlock(&vhost_mem_devices);
	return found;
}

/* The teardown (vhost_mem_destroy()) is done by the last one. */
void vhost_mem_put(struct vhost_mem *vmem)
{
	if (!refcount_dec_and_test(&vmem->refs))
		return;
	put_user_ns(vmem->user_ns);
	put_net(vmem->net);
	kvfree(vmem);
}
