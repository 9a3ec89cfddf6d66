// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem: the control plane hooks.  What netlink.c reads of a device
 * (without waiting for a busy one, if it asks so), the owner, the
 * config-change eventfd.
 */
#include <linux/delay.h>
#include <linux/eventfd.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/kvm_host.h>

#include "compat.h"
#include "device.h"

/* The owner cannot change: the vhost core has no way to drop it. */
void vhost_mem_record_owner(struct vhost_mem *vmem)
{
	lockdep_assert_held(&vmem->dev.mutex);
	put_pid(vmem->owner);
	vmem->owner = get_pid(task_tgid(current));
}

int vhost_mem_set_config_call(struct vhost_mem *vmem, int fd)
{
	struct eventfd_ctx *ctx = NULL;
	int ret;

	if (fd != -1) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	mutex_lock(&vmem->dev.mutex);
	ret = vhost_dev_check_owner(&vmem->dev);
	if (!ret)
		swap(ctx, vmem->config_ctx);
	mutex_unlock(&vmem->dev.mutex);
	/* The new one if we failed, else the old one. */
	if (ctx)
		eventfd_ctx_put(ctx);
	return ret;
}

/* How long a dump waits for a device's lock before calling it busy. */
#define VHOST_MEM_CTL_TRY_US	20000
#define VHOST_MEM_CTL_STEP_US	1000

/*
 * Waited for (killable), or for a dump only tried for a moment: a request
 * or an ioctl in progress is not "busy", a long prealloc is.
 */
static int vhost_mem_ctl_lock(struct mutex *lock, bool wait)
{
	unsigned int waited;

	if (wait)
		return mutex_lock_killable(lock);
	for (waited = 0; !mutex_trylock(lock); waited += VHOST_MEM_CTL_STEP_US) {
		if (waited >= VHOST_MEM_CTL_TRY_US || fatal_signal_pending(current))
			return -EBUSY;
		usleep_range(VHOST_MEM_CTL_STEP_US, 2 * VHOST_MEM_CTL_STEP_US);
	}
	return 0;
}

/*
 * KVM's VM id is "kvm-" and its creator's pid in the initial namespace:
 * translated into the reader's pid namespace, or "" if the creator is not
 * visible there (or gone: a reused pid would name another process).
 */
static void vhost_mem_vm_id(struct vhost_mem *vmem, char *buf, size_t len)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct task_struct *task;
	struct pid *pid;
	int nr;

	if (sscanf(vmem->kvm->stats_id, "kvm-%d", &nr) != 1)
		return;
	rcu_read_lock();
	pid = find_pid_ns(nr, &init_pid_ns);
	task = pid ? pid_task(pid, PIDTYPE_PID) : NULL;
	if (task && READ_ONCE(task->mm) == vmem->kvm->mm)
		nr = pid_nr_ns(pid, ns);
	else
		nr = 0;
	rcu_read_unlock();
	if (nr)
		snprintf(buf, len, "kvm-%d", nr);
}

/* dev.mutex held, the device alive. */
static void vhost_mem_read_info(struct vhost_mem *vmem,
				struct vhost_mem_info *info)
{
	/* In the caller's pid namespace: 0 if the owner is not visible. */
	if (vmem->owner)
		info->owner_pid = pid_vnr(vmem->owner);
	if (vmem->kvm)
		vhost_mem_vm_id(vmem, info->vm_id, sizeof(info->vm_id));
	info->node_id = vmem->has_region ? vmem->node_id : NUMA_NO_NODE;
	info->region_flags = vmem->region_flags;
	info->config_call = vmem->config_ctx;
}

int vhost_mem_get_info(struct vhost_mem *vmem, struct vhost_mem_info *info,
		       bool wait)
{
	int ret;

	memset(info, 0, sizeof(*info));
	ret = vhost_mem_ctl_lock(&vmem->dev.mutex, wait);
	if (ret)
		return ret;
	ret = -ENODEV;
	if (vmem->dead)
		goto unlock;
	ret = vhost_mem_ctl_lock(&vmem->vq.mutex, wait);
	if (ret)
		goto unlock;
	vhost_mem_read_status(vmem, &info->st);
	info->features = vmem->vq.acked_features;
	mutex_unlock(&vmem->vq.mutex);
	vhost_mem_read_info(vmem, info);
unlock:
	mutex_unlock(&vmem->dev.mutex);
	return ret;
}
