// SPDX-License-Identifier: GPL-2.0
/*
 * Holding a VM's vCPUs out of guest mode while memslots change shape.
 *
 * KVM cannot merge or split a live memslot: it is deleted and created
 * again, and a vCPU touching the range in between finds no memory there (an
 * MMIO exit, or an emulation failure on an instruction fetch).  So, as QEMU
 * stops its vCPUs around such memslot updates, every vCPU is held first:
 *
 * - one that is in no vCPU ioctl is held by its vcpu->mutex, which KVM_RUN
 *   takes;
 * - one in KVM_RUN gets a task work (TWA_SIGNAL: it leaves guest mode as
 *   for a signal, KVM_RUN then says EINTR) that waits until the change is
 *   done.  It is found through the thread that last ran it (vcpu->pid):
 *   VMMs run each vCPU on one thread.
 *
 * A vCPU whose task work has not run yet is looked at again every few
 * milliseconds: once it is out of every vCPU ioctl, its mutex holds it,
 * even if its thread is stopped or waits for something we hold.
 */
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/refcount.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>

#include "vcpus.h"

/* Memslot changes are quick; a vCPU that is not held by then never will. */
#define VHOST_MEM_VCPUS_STOP_TIMEOUT	(5 * HZ)
#define VHOST_MEM_VCPUS_RECHECK		(HZ / 100 ?: 1)

struct vhost_mem_vcpu_hold {
	struct callback_head work;
	struct vhost_mem_vcpus_stop *stop;
	struct kvm_vcpu *vcpu;
	bool mutex_held;	/* ours */
	bool parked;		/* its task work waits for the release */
};

struct vhost_mem_vcpus_stop {
	refcount_t refs;		/* ours, and one per queued task work */
	struct completion release;
	wait_queue_head_t parked;
	unsigned int nr;
	struct vhost_mem_vcpu_hold hold[];
};

static void vhost_mem_vcpus_put(struct vhost_mem_vcpus_stop *stop)
{
	if (refcount_dec_and_test(&stop->refs))
		kfree(stop);
}

/* Runs in the vCPU's thread, outside guest mode and kvm->srcu. */
static void vhost_mem_vcpu_park(struct callback_head *work)
{
	struct vhost_mem_vcpu_hold *h = container_of(work, struct vhost_mem_vcpu_hold, work);
	struct vhost_mem_vcpus_stop *stop = h->stop;

	/* Pairs with vhost_mem_vcpu_is_held(): out of guest mode before. */
	smp_store_release(&h->parked, true);
	wake_up(&stop->parked);
	/* A dying VMM runs no guest code any more. */
	wait_for_completion_killable(&stop->release);
	vhost_mem_vcpus_put(stop);
	/* Last: module code must not run after this reference is gone. */
	module_put(THIS_MODULE);
}

static struct task_struct *vhost_mem_vcpu_task(struct kvm_vcpu *vcpu)
{
	struct task_struct *task;

	rcu_read_lock();
	task = get_pid_task(rcu_dereference(vcpu->pid), PIDTYPE_PID);
	rcu_read_unlock();
	return task;
}

/* Sends the vCPU's thread out of KVM_RUN into vhost_mem_vcpu_park(). */
static void vhost_mem_vcpu_queue_park(struct vhost_mem_vcpu_hold *h)
{
	struct task_struct *task = vhost_mem_vcpu_task(h->vcpu);

	if (!task)
		return;		/* never ran: its mutex will do */
	init_task_work(&h->work, vhost_mem_vcpu_park);
	refcount_inc(&h->stop->refs);
	__module_get(THIS_MODULE);
	if (task_work_add(task, &h->work, TWA_SIGNAL)) {
		/* Exiting: it runs no guest code again. */
		module_put(THIS_MODULE);
		refcount_dec(&h->stop->refs);
		/* Pairs with vhost_mem_vcpu_is_held(). */
		smp_store_release(&h->parked, true);
	}
	put_task_struct(task);
}

static bool vhost_mem_vcpu_is_held(const struct vhost_mem_vcpu_hold *h)
{
	/* Pairs with the release in vhost_mem_vcpu_park(). */
	return h->mutex_held || smp_load_acquire(&h->parked);
}

static bool vhost_mem_vcpus_all_held(const struct vhost_mem_vcpus_stop *stop)
{
	unsigned int i;

	for (i = 0; i < stop->nr; i++)
		if (!vhost_mem_vcpu_is_held(&stop->hold[i]))
			return false;
	return true;
}

/* Takes the mutex of every vCPU not held yet that is in no vCPU ioctl. */
static bool vhost_mem_vcpus_try_hold(struct vhost_mem_vcpus_stop *stop)
{
	struct vhost_mem_vcpu_hold *h;
	bool all = true;
	unsigned int i;

	for (i = 0; i < stop->nr; i++) {
		h = &stop->hold[i];
		if (!vhost_mem_vcpu_is_held(h))
			h->mutex_held = mutex_trylock(&h->vcpu->mutex);
		all &= vhost_mem_vcpu_is_held(h);
	}
	return all;
}

static struct vhost_mem_vcpus_stop *vhost_mem_vcpus_alloc(struct kvm *kvm)
{
	unsigned int nr = atomic_read(&kvm->online_vcpus);
	struct vhost_mem_vcpus_stop *stop;
	struct kvm_vcpu *vcpu;
	unsigned long i;

	stop = kzalloc(struct_size(stop, hold, nr), GFP_KERNEL_ACCOUNT);
	if (!stop)
		return NULL;
	refcount_set(&stop->refs, 1);
	init_completion(&stop->release);
	init_waitqueue_head(&stop->parked);
	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (i >= nr)
			break;
		stop->hold[stop->nr].stop = stop;
		stop->hold[stop->nr++].vcpu = vcpu;
	}
	return stop;
}

void vhost_mem_vcpus_resume(struct vhost_mem_vcpus_stop *stop)
{
	unsigned int i;

	complete_all(&stop->release);
	for (i = 0; i < stop->nr; i++)
		if (stop->hold[i].mutex_held)
			mutex_unlock(&stop->hold[i].vcpu->mutex);
	vhost_mem_vcpus_put(stop);
}

static int vhost_mem_vcpus_wait(struct vhost_mem_vcpus_stop *stop)
{
	unsigned long deadline = jiffies + VHOST_MEM_VCPUS_STOP_TIMEOUT;

	while (!vhost_mem_vcpus_try_hold(stop)) {
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		wait_event_timeout(stop->parked, vhost_mem_vcpus_all_held(stop),
				   VHOST_MEM_VCPUS_RECHECK);
	}
	return 0;
}

struct vhost_mem_vcpus_stop *vhost_mem_vcpus_stop(struct kvm *kvm)
{
	struct vhost_mem_vcpus_stop *stop;
	unsigned int i;
	int ret;

	for (;;) {
		stop = vhost_mem_vcpus_alloc(kvm);
		if (!stop)
			return ERR_PTR(-ENOMEM);
		vhost_mem_vcpus_try_hold(stop);
		for (i = 0; i < stop->nr; i++)
			if (!vhost_mem_vcpu_is_held(&stop->hold[i]))
				vhost_mem_vcpu_queue_park(&stop->hold[i]);
		ret = vhost_mem_vcpus_wait(stop);
		/* A vCPU created meanwhile: once more, with it. */
		if (!ret && stop->nr == atomic_read(&kvm->online_vcpus))
			return stop;
		vhost_mem_vcpus_resume(stop);
		if (ret)
			return ERR_PTR(ret);
	}
}
