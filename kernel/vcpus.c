// SPDX-License-Identifier: GPL-2.0
/*
 * Holding a VM's vCPUs out of KVM_RUN while memslots change shape.
 *
 * KVM cannot merge or split a live memslot: it is deleted and created
 * again, and a vCPU touching the range in between finds no memory there (an
 * MMIO exit, or an emulation failure on an instruction fetch).  So, as QEMU
 * stops its vCPUs around such memslot updates, every vCPU is held first.
 *
 * What holds a vCPU is its vcpu->mutex: every vCPU ioctl, KVM_RUN
 * included, runs under it, so while we own it no thread, whichever it is,
 * runs that vCPU (or, see vhost_mem_vcpu_parked_in(), a thread of ours owns
 * it, parked inside KVM_RUN).  kvm->lock, owned for the whole hold, keeps new
 * vCPUs out: KVM creates a vCPU's fd and counts it in online_vcpus under
 * it, so the vCPUs we see are all there are until we let it go.
 *
 * A vCPU in KVM_RUN keeps its mutex until KVM_RUN returns.  The thread that
 * last entered KVM_RUN for it (vcpu->pid, set under the mutex) is sent a
 * task work with TWA_SIGNAL: KVM_RUN returns EINTR as for a signal, and on
 * its way back to user space the thread waits in the task work until the
 * hold ends, so it does not take the mutex again.  The task work proves
 * nothing: if another thread takes the vCPU meanwhile, vcpu->pid names that
 * one next time we look, and it is sent one too.  Every few milliseconds
 * each vCPU not held yet is tried again, until all are or 5 s have passed.
 *
 * A task work's function is module text, run by a thread of the VMM after
 * we may have returned, and task works cannot be cancelled from a module.
 * Each queued one owns a reference to a file of ours (one per hold, made on
 * the first kick), which owns a reference to the module: the task work
 * drops it last, with fput(), and the module reference goes only in the
 * __fput() that fput() defers to later, in core code, after our function
 * has returned.  So rmmod cannot free the text a task work still runs.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>

#include "vcpus.h"

/* Memslot changes are quick; a vCPU that is not held by then never will. */
#define VHOST_MEM_VCPUS_STOP_TIMEOUT	(5 * HZ)
#define VHOST_MEM_VCPUS_RECHECK		(HZ / 100 ?: 1)

struct vhost_mem_vcpu_hold {
	struct kvm_vcpu *vcpu;
	struct pid *kicked;	/* the thread last sent a park, referenced */
	bool held;		/* we own vcpu->mutex */
	bool parked_in;		/* a park waits inside its KVM_RUN */
};

struct vhost_mem_vcpus_stop {
	struct kvm *kvm;	/* kvm->lock is ours */
	refcount_t refs;	/* ours, and one per queued park */
	struct completion release;
	wait_queue_head_t parked;
	atomic_t nr_parked;	/* parks that reached their wait */
	struct file *pin;	/* holds the module for parks; NULL until one */
	unsigned int nr;
	unsigned int nr_held;		/* mutexes that are ours */
	unsigned int lockdep_held;	/* the one of them lockdep is told of */
	struct vhost_mem_vcpu_hold hold[];
};

/* A task work that keeps a vCPU's thread out of KVM_RUN until the release. */
struct vhost_mem_vcpu_park {
	struct callback_head work;
	struct vhost_mem_vcpus_stop *stop;
	struct file *pin;
};

static const struct file_operations vhost_mem_pin_fops = {
	.owner = THIS_MODULE,
};

static void vhost_mem_vcpus_put(struct vhost_mem_vcpus_stop *stop)
{
	if (refcount_dec_and_test(&stop->refs))
		kvfree(stop);
}

/*
 * The held vCPU loaded on this thread, if any.  kvm_get_running_vcpu() is
 * for kvm-amd and kvm-intel only since 6.19; but vcpu_load() registers
 * the vCPU's preempt notifier on the loading thread and vcpu_put()
 * removes it, both from that thread, so our own list is stable to walk.
 * Only KVM's vCPUs have KVM's preempt ops, which a held vCPU shows us.
 */
static struct vhost_mem_vcpu_hold *
vhost_mem_vcpu_loaded_here(struct vhost_mem_vcpus_stop *stop)
{
	struct preempt_notifier *pn;
	struct kvm_vcpu *vcpu;
	unsigned int i;

	if (!stop->nr)
		return NULL;
	hlist_for_each_entry(pn, &current->preempt_notifiers, link) {
		if (pn->ops != stop->hold[0].vcpu->preempt_notifier.ops)
			continue;
		vcpu = container_of(pn, struct kvm_vcpu, preempt_notifier);
		i = vcpu->vcpu_idx;
		if (vcpu->kvm == stop->kvm && i < stop->nr &&
		    stop->hold[i].vcpu == vcpu)
			return &stop->hold[i];
	}
	return NULL;
}

/*
 * KVM_RUN may run task works itself, out of guest mode and kvm->srcu, when
 * it leaves the guest for other work (xfer_to_guest_mode_handle_work()):
 * the park then waits with vcpu->mutex held and that vCPU loaded.  Its
 * thread owns the mutex and cannot enter the guest before the release, so
 * that vCPU is held as well as by the mutex being ours.
 */
static void vhost_mem_vcpu_parked_in(struct vhost_mem_vcpus_stop *stop)
{
	struct vhost_mem_vcpu_hold *h = vhost_mem_vcpu_loaded_here(stop);

	if (h)
		/* Pairs with vhost_mem_vcpu_is_held(). */
		smp_store_release(&h->parked_in, true);
}

/* Runs in a VMM thread, on its way to user space or inside KVM_RUN. */
static void vhost_mem_vcpu_park(struct callback_head *work)
{
	struct vhost_mem_vcpu_park *park =
		container_of(work, struct vhost_mem_vcpu_park, work);
	struct vhost_mem_vcpus_stop *stop = park->stop;
	struct file *pin = park->pin;

	kfree(park);
	vhost_mem_vcpu_parked_in(stop);
	atomic_inc(&stop->nr_parked);
	wake_up(&stop->parked);
	/* A dying VMM runs no guest code any more. */
	wait_for_completion_killable(&stop->release);
	vhost_mem_vcpus_put(stop);
	/* Last: the module reference goes after we return (see the top). */
	fput(pin);
}

static struct file *vhost_mem_vcpus_pin(struct vhost_mem_vcpus_stop *stop)
{
	struct file *pin;

	if (stop->pin)
		return stop->pin;
	pin = anon_inode_getfile("[vhost-mem-hold]", &vhost_mem_pin_fops, NULL,
				 O_RDONLY);
	if (IS_ERR(pin))
		return pin;
	stop->pin = pin;
	return pin;
}

/* Sends task out of KVM_RUN into vhost_mem_vcpu_park(). */
static int vhost_mem_vcpu_queue_park(struct vhost_mem_vcpus_stop *stop,
				     struct task_struct *task)
{
	struct vhost_mem_vcpu_park *park;
	struct file *pin;

	park = kmalloc(sizeof(*park), GFP_KERNEL_ACCOUNT);
	if (!park)
		return -ENOMEM;
	pin = vhost_mem_vcpus_pin(stop);
	if (IS_ERR(pin)) {
		kfree(park);
		return PTR_ERR(pin);
	}
	init_task_work(&park->work, vhost_mem_vcpu_park);
	park->stop = stop;
	park->pin = get_file(pin);
	refcount_inc(&stop->refs);
	if (task_work_add(task, &park->work, TWA_SIGNAL)) {
		/* It has exited its last task work: it runs no guest code. */
		refcount_dec(&stop->refs);
		fput(pin);	/* not the last: stop->pin is */
		kfree(park);
	}
	return 0;
}

/* The thread that last entered KVM_RUN for h's vCPU, if not sent a park yet. */
static struct task_struct *vhost_mem_vcpu_runner(struct vhost_mem_vcpu_hold *h)
{
	struct pid *pid;

	rcu_read_lock();
	pid = get_pid(rcu_dereference(h->vcpu->pid));
	rcu_read_unlock();
	if (!pid || pid == h->kicked) {
		put_pid(pid);
		return NULL;
	}
	put_pid(h->kicked);
	h->kicked = pid;
	return get_pid_task(pid, PIDTYPE_PID);
}

static int vhost_mem_vcpu_kick(struct vhost_mem_vcpus_stop *stop,
			       struct vhost_mem_vcpu_hold *h)
{
	struct task_struct *task = vhost_mem_vcpu_runner(h);
	int ret = 0;

	if (!task)
		return 0;
	/* We are in no vCPU ioctl; an exiting thread runs no guest code. */
	if (task != current && !(task->flags & PF_EXITING))
		ret = vhost_mem_vcpu_queue_park(stop, task);
	put_task_struct(task);
	return ret;
}

/*
 * lockdep tracks 48 held locks per task: it is told of one vCPU mutex only,
 * as KVM does when it locks them all (sev.c).
 */
static bool vhost_mem_vcpu_trylock(struct vhost_mem_vcpus_stop *stop,
				   unsigned int i)
{
	struct kvm_vcpu *vcpu = stop->hold[i].vcpu;

	if (!mutex_trylock(&vcpu->mutex))
		return false;
	if (!stop->nr_held)
		stop->lockdep_held = i;
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	else
		mutex_release(&vcpu->mutex.dep_map, _THIS_IP_);
#endif
	return true;
}

static void vhost_mem_vcpu_unlock(struct vhost_mem_vcpus_stop *stop,
				  unsigned int i)
{
	struct kvm_vcpu *vcpu = stop->hold[i].vcpu;

#ifdef CONFIG_DEBUG_LOCK_ALLOC
	if (i != stop->lockdep_held)
		mutex_acquire(&vcpu->mutex.dep_map, 0, 1, _THIS_IP_);
#endif
	mutex_unlock(&vcpu->mutex);
}

static bool vhost_mem_vcpu_is_held(const struct vhost_mem_vcpu_hold *h)
{
	/* Pairs with vhost_mem_vcpu_parked_in(). */
	return h->held || smp_load_acquire(&h->parked_in);
}

/* Takes the mutex of every vCPU not held yet that is in no vCPU ioctl now. */
static bool vhost_mem_vcpus_try_hold(struct vhost_mem_vcpus_stop *stop)
{
	struct vhost_mem_vcpu_hold *h;
	bool all = true;
	unsigned int i;

	for (i = 0; i < stop->nr; i++) {
		h = &stop->hold[i];
		if (vhost_mem_vcpu_is_held(h))
			continue;
		if (vhost_mem_vcpu_trylock(stop, i)) {
			h->held = true;
			stop->nr_held++;
		} else {
			all = false;
		}
	}
	return all;
}

static int vhost_mem_vcpus_kick_all(struct vhost_mem_vcpus_stop *stop)
{
	unsigned int i;
	int ret;

	for (i = 0; i < stop->nr; i++) {
		if (vhost_mem_vcpu_is_held(&stop->hold[i]))
			continue;
		ret = vhost_mem_vcpu_kick(stop, &stop->hold[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static int vhost_mem_vcpus_hold_all(struct vhost_mem_vcpus_stop *stop,
				    unsigned long deadline)
{
	int parked, ret;

	for (;;) {
		parked = atomic_read(&stop->nr_parked);
		if (vhost_mem_vcpus_try_hold(stop))
			return 0;
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		if (fatal_signal_pending(current))
			return -EINTR;
		ret = vhost_mem_vcpus_kick_all(stop);
		if (ret)
			return ret;
		/* A park that starts waiting has just left its vCPU ioctl. */
		wait_event_timeout(stop->parked,
				   atomic_read(&stop->nr_parked) != parked,
				   VHOST_MEM_VCPUS_RECHECK);
	}
}

/* kvm->lock within the deadline: its holders do not wait for long. */
static int vhost_mem_lock_kvm(struct kvm *kvm, unsigned long deadline)
{
	while (!mutex_trylock(&kvm->lock)) {
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		if (fatal_signal_pending(current))
			return -EINTR;
		schedule_timeout_uninterruptible(VHOST_MEM_VCPUS_RECHECK);
	}
	return 0;
}

/* With kvm->lock held: online_vcpus stays as it is. */
static struct vhost_mem_vcpus_stop *vhost_mem_vcpus_alloc(struct kvm *kvm)
{
	unsigned int nr = atomic_read(&kvm->online_vcpus);
	struct vhost_mem_vcpus_stop *stop;
	struct kvm_vcpu *vcpu;
	unsigned long i;

	/* up to KVM_MAX_VCPUS (4096 on 6.12) entries: no high-order pages */
	stop = kvzalloc(struct_size(stop, hold, nr), GFP_KERNEL_ACCOUNT);
	if (!stop)
		return NULL;
	stop->kvm = kvm;
	refcount_set(&stop->refs, 1);
	init_completion(&stop->release);
	init_waitqueue_head(&stop->parked);
	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (WARN_ON_ONCE(stop->nr >= nr))
			break;
		stop->hold[stop->nr++].vcpu = vcpu;
	}
	return stop;
}

void vhost_mem_vcpus_resume(struct vhost_mem_vcpus_stop *stop)
{
	unsigned int i;

	for (i = 0; i < stop->nr; i++) {
		if (stop->hold[i].held)
			vhost_mem_vcpu_unlock(stop, i);
		put_pid(stop->hold[i].kicked);
	}
	mutex_unlock(&stop->kvm->lock);
	/*
	 * Before the release: each queued park still owns a reference, so
	 * ours is not the last one and is not left to our thread's task works
	 * (a vhost worker may run those only when it exits).
	 */
	if (stop->pin)
		fput(stop->pin);
	complete_all(&stop->release);
	vhost_mem_vcpus_put(stop);
}

struct vhost_mem_vcpus_stop *vhost_mem_vcpus_stop(struct kvm *kvm)
{
	unsigned long deadline = jiffies + VHOST_MEM_VCPUS_STOP_TIMEOUT;
	struct vhost_mem_vcpus_stop *stop;
	int ret;

	ret = vhost_mem_lock_kvm(kvm, deadline);
	if (ret)
		return ERR_PTR(ret);
	stop = vhost_mem_vcpus_alloc(kvm);
	if (!stop) {
		mutex_unlock(&kvm->lock);
		return ERR_PTR(-ENOMEM);
	}
	ret = vhost_mem_vcpus_hold_all(stop, deadline);
	if (ret) {
		vhost_mem_vcpus_resume(stop);
		return ERR_PTR(ret);
	}
	return stop;
}
