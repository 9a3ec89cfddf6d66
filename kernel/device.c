// SPDX-License-Identifier: GPL-2.0
/*
 * The device: set-up, start/stop, resize, status, and the execution of the
 * plans blocks.c makes (memslots, then backing, then commit).  The ioctls
 * (and later the control plane) call only the functions declared in
 * device.h; none of them decides anything of the protocol itself.
 */
#include <linux/file.h>
#include <linux/idr.h>
#include <linux/kvm_host.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/nsproxy.h>
#include <linux/pid.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mem.h>
#include <linux/virtio_ring.h>
#include <net/net_namespace.h>

#include "compat.h"
#include "device.h"

/* Requests handled before the worker yields to other vhost work. */
#define VHOST_MEM_WEIGHT	256

#define VHOST_MEM_FEATURES	((1ULL << VIRTIO_F_VERSION_1) |		\
				 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
				 (1ULL << VIRTIO_RING_F_EVENT_IDX))

static DEFINE_IDA(vhost_mem_ida);
static DEFINE_MUTEX(vhost_mem_list_lock);
static LIST_HEAD(vhost_mem_list);

#define vhost_mem_warn(vm, fmt, ...) \
	pr_warn_ratelimited("vhost-mem%d: " fmt, (vm)->id, ##__VA_ARGS__)

struct vhost_mem *vhost_mem_create(void)
{
	struct vhost_mem *vm;

	vm = kvzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return ERR_PTR(-ENOMEM);
	vm->id = ida_alloc(&vhost_mem_ida, GFP_KERNEL);
	if (vm->id < 0) {
		kvfree(vm);
		return ERR_PTR(-ENOMEM);
	}
	vm->vqs[VHOST_MEM_REQUESTQ] = &vm->vq;
	vm->vq.handle_kick = vhost_mem_handle_kick;
	vhost_dev_init(&vm->dev, vm->vqs, VHOST_MEM_NUM_VQS, UIO_MAXIOV,
		       VHOST_MEM_WEIGHT, 0, true, NULL);
	vm->net = get_net(current->nsproxy->net_ns);

	mutex_lock(&vhost_mem_list_lock);
	list_add_tail(&vm->node, &vhost_mem_list);
	mutex_unlock(&vhost_mem_list_lock);
	return vm;
}

static void vhost_mem_stop_vq(struct vhost_mem *vm)
{
	mutex_lock(&vm->vq.mutex);
	vhost_vq_set_backend(&vm->vq, NULL);
	mutex_unlock(&vm->vq.mutex);
}

void vhost_mem_destroy(struct vhost_mem *vm)
{
	mutex_lock(&vhost_mem_list_lock);
	list_del(&vm->node);
	mutex_unlock(&vhost_mem_list_lock);

	vhost_mem_stop_vq(vm);
	vhost_dev_flush(&vm->dev);
	vhost_dev_stop(&vm->dev);
	vhost_dev_cleanup(&vm->dev);

	/* The memory goes with the device: the VM may outlive us. */
	vhost_mem_memslots_destroy(&vm->slots);
	vhost_mem_backing_release(&vm->backing);
	vhost_mem_blocks_free(&vm->blocks);
	if (vm->vm_file)
		fput(vm->vm_file);
	if (vm->config_ctx)
		eventfd_ctx_put(vm->config_ctx);
	put_pid(vm->owner);
	put_net(vm->net);
	ida_free(&vhost_mem_ida, vm->id);
	kvfree(vm);
}

u64 vhost_mem_get_features(void)
{
	return VHOST_MEM_FEATURES;
}

int vhost_mem_set_features(struct vhost_mem *vm, u64 features)
{
	int ret;

	if (features & ~VHOST_MEM_FEATURES)
		return -EOPNOTSUPP;
	mutex_lock(&vm->dev.mutex);
	ret = vhost_dev_check_owner(&vm->dev);
	if (!ret) {
		mutex_lock(&vm->vq.mutex);
		vm->vq.acked_features = features;
		mutex_unlock(&vm->vq.mutex);
	}
	mutex_unlock(&vm->dev.mutex);
	return ret;
}

int vhost_mem_check_owner(struct vhost_mem *vm)
{
	int ret;

	mutex_lock(&vm->dev.mutex);
	ret = vhost_dev_check_owner(&vm->dev);
	mutex_unlock(&vm->dev.mutex);
	return ret;
}

static int vhost_mem_attach_vm(struct vhost_mem *vm, int fd)
{
	struct file *f;
	struct kvm *kvm;

	if (vm->vm_file)
		return -EBUSY;
	f = fget(fd);
	if (!f)
		return -EBADF;
	if (!file_is_kvm(f)) {
		fput(f);
		return -EINVAL;
	}
	kvm = f->private_data;
	/* Memslots point into the owner's mm: the VM must live there too. */
	if (kvm->mm != vm->dev.mm) {
		fput(f);
		return -EXDEV;
	}
	vm->vm_file = f;
	vm->kvm = kvm;
	return 0;
}

int vhost_mem_set_vm(struct vhost_mem *vm, const struct vhost_mem_vm *arg)
{
	int ret;

	mutex_lock(&vm->dev.mutex);
	ret = vhost_dev_check_owner(&vm->dev);
	if (!ret)
		ret = vhost_mem_attach_vm(vm, arg->vm_fd);
	mutex_unlock(&vm->dev.mutex);
	return ret;
}

static int vhost_mem_check_region_arg(const struct vhost_mem_region *arg)
{
	if (arg->flags & ~VHOST_MEM_REGION_F_ALL)
		return -EINVAL;
	if (!(arg->flags & VHOST_MEM_REGION_F_BACKING_FD) &&
	    arg->backing_offset)
		return -EINVAL;
	if (arg->node_id != NUMA_NO_NODE &&
	    (arg->node_id < 0 || arg->node_id >= MAX_NUMNODES))
		return -EINVAL;
	return 0;
}

/* As QEMU: the THP size, or the backing's page size if larger. */
static u64 vhost_mem_block_size(const struct vhost_mem_region *arg,
				const struct vhost_mem_backing *backing)
{
	if (arg->block_size)
		return arg->block_size;
	return max_t(u64, PMD_SIZE, backing->page_size);
}

static int vhost_mem_setup_region(struct vhost_mem *vm,
				  const struct vhost_mem_region *arg)
{
	struct vhost_mem_blocks blocks = {};
	int fd = -1, ret;
	u64 block_size;

	if (!vm->kvm)
		return -EBADFD;
	if (vm->has_region)
		return -EBUSY;
	ret = vhost_mem_check_region_arg(arg);
	if (ret)
		return ret;
	if (arg->flags & VHOST_MEM_REGION_F_BACKING_FD)
		fd = arg->backing_fd;

	ret = vhost_mem_backing_init(&vm->backing, vm->dev.mm,
				     arg->userspace_addr, arg->region_size,
				     fd, arg->backing_offset);
	if (ret)
		return ret;
	block_size = vhost_mem_block_size(arg, &vm->backing);
	ret = -EINVAL;
	if (block_size < vm->backing.page_size)
		goto err_backing;
	ret = vhost_mem_blocks_init(&blocks, arg->guest_phys_addr,
				    arg->region_size, block_size,
				    arg->chunk_size);
	if (ret)
		goto err_backing;
	ret = -ENOSPC;
	if (arg->slot_count < blocks.nr_chunks)
		goto err_blocks;
	ret = vhost_mem_memslots_init(&vm->slots, vm->kvm, arg->slot_base,
				      arg->slot_count, arg->guest_phys_addr,
				      arg->region_size);
	if (ret)
		goto err_blocks;

	mutex_lock(&vm->vq.mutex);
	vm->blocks = blocks;
	vm->has_region = true;
	vm->node_id = arg->node_id;
	vm->region_flags = arg->flags;
	mutex_unlock(&vm->vq.mutex);
	return 0;

err_blocks:
	vhost_mem_blocks_free(&blocks);
err_backing:
	vhost_mem_backing_release(&vm->backing);
	return ret;
}

int vhost_mem_set_region(struct vhost_mem *vm,
			 const struct vhost_mem_region *arg)
{
	int ret;

	mutex_lock(&vm->dev.mutex);
	ret = vhost_dev_check_owner(&vm->dev);
	if (!ret)
		ret = vhost_mem_setup_region(vm, arg);
	mutex_unlock(&vm->dev.mutex);
	return ret;
}

/* For the events (netlink.c), with vq.mutex held. */
static void vhost_mem_ntf_sizes(struct vhost_mem *vm, struct vhost_mem_ntf *ntf)
{
	ntf->requested = vm->blocks.requested_size;
	ntf->plugged = vm->blocks.plugged_size;
	ntf->usable = vm->blocks.usable_size;
}

int vhost_mem_set_requested_size(struct vhost_mem *vm, u64 size,
				 enum vhost_mem_origin origin)
{
	struct vhost_mem_ntf ntf = { .origin = origin };
	bool changed = false;
	int ret = -EBADFD;

	mutex_lock(&vm->dev.mutex);
	if (vm->has_region) {
		mutex_lock(&vm->vq.mutex);
		changed = vm->blocks.requested_size != size;
		ret = vhost_mem_blocks_set_requested(&vm->blocks, size);
		changed &= !ret;
		vhost_mem_ntf_sizes(vm, &ntf);
		mutex_unlock(&vm->vq.mutex);
	}
	/* The VMM tells the guest itself; for anyone else, we do. */
	if (changed && origin != VHOST_MEM_ORIGIN_VMM && vm->config_ctx)
		vhost_mem_eventfd_signal(vm->config_ctx);
	mutex_unlock(&vm->dev.mutex);
	if (changed)
		vhost_mem_nl_notify(vm, VHOST_MEM_CMD_REQUESTED_SIZE_NTF, &ntf);
	return ret;
}

static int vhost_mem_start_vq(struct vhost_mem *vm)
{
	struct vhost_virtqueue *vq = &vm->vq;
	int ret = 0;

	mutex_lock(&vq->mutex);
	if (!vhost_vq_access_ok(vq)) {
		ret = -EFAULT;
	} else if (!vhost_vq_get_backend(vq)) {
		vhost_vq_set_backend(vq, vm);
		ret = vhost_vq_init_access(vq);
		if (ret)
			vhost_vq_set_backend(vq, NULL);
	}
	mutex_unlock(&vq->mutex);
	/* Requests may have arrived while we were stopped. */
	if (!ret)
		vhost_poll_queue(&vq->poll);
	return ret;
}

int vhost_mem_set_running(struct vhost_mem *vm, bool running)
{
	int ret;

	mutex_lock(&vm->dev.mutex);
	ret = vhost_dev_check_owner(&vm->dev);
	if (!ret && !vm->has_region)
		ret = -EBADFD;
	if (!ret) {
		if (running) {
			ret = vhost_mem_start_vq(vm);
		} else {
			vhost_mem_stop_vq(vm);
			vhost_dev_flush(&vm->dev);
		}
	}
	mutex_unlock(&vm->dev.mutex);
	return ret;
}

int vhost_mem_get_status(struct vhost_mem *vm, struct vhost_mem_status *st)
{
	const struct vhost_mem_blocks *b = &vm->blocks;

	mutex_lock(&vm->dev.mutex);
	mutex_lock(&vm->vq.mutex);
	st->flags = (vm->kvm ? VHOST_MEM_STATUS_F_VM : 0) |
		    (vm->has_region ? VHOST_MEM_STATUS_F_REGION : 0) |
		    (vhost_vq_get_backend(&vm->vq) ?
		     VHOST_MEM_STATUS_F_RUNNING : 0);
	if (vm->has_region) {
		st->guest_phys_addr = b->addr;
		st->region_size = b->region_size;
		st->block_size = b->block_size;
		st->chunk_size = b->chunk_size;
		st->usable_region_size = b->usable_size;
		st->plugged_size = b->plugged_size;
		st->requested_size = b->requested_size;
		st->memslots = vm->slots.live;
		st->memslots_max = b->nr_chunks;
	}
	st->dropped = vm->dropped;
	memcpy(st->requests, vm->requests, sizeof(st->requests));
	mutex_unlock(&vm->vq.mutex);
	mutex_unlock(&vm->dev.mutex);
	return 0;
}

/* Memslots for the chunks a PLUG brings to life, before it is ACKed. */
static int vhost_mem_map_chunks(struct vhost_mem *vm,
				const struct vhost_mem_plan *plan)
{
	const struct vhost_mem_blocks *b = &vm->blocks;
	int ret;
	u64 c;

	for (c = plan->first_chunk; c < plan->first_chunk + plan->nr_chunks; c++) {
		if (vhost_mem_memslot_is_live(&vm->slots, c))
			continue;
		ret = vhost_mem_memslot_add(&vm->slots, c,
					    vhost_mem_blocks_chunk_gpa(b, c),
					    vhost_mem_blocks_chunk_size(b, c),
					    vm->backing.hva +
					    vhost_mem_blocks_chunk_offset(b, c));
		if (ret)
			goto undo;
	}
	return 0;
undo:
	vhost_mem_warn(vm, "cannot create memslot %u: %d\n",
		       vm->slots.base + (u32)c, ret);
	while (c-- > plan->first_chunk)
		if (vhost_mem_blocks_chunk_is_empty(b, c))
			vhost_mem_memslot_remove(&vm->slots, c);
	return ret;
}

/* Memslots of the chunks an UNPLUG empties, after their pages are gone. */
static int vhost_mem_unmap_chunks(struct vhost_mem *vm,
				  const struct vhost_mem_plan *plan)
{
	u64 c;
	int ret, err = 0;

	for (c = plan->first_chunk; c < plan->first_chunk + plan->nr_chunks; c++) {
		if (!vhost_mem_memslot_is_live(&vm->slots, c) ||
		    !vhost_mem_plan_empties_chunk(&vm->blocks, plan, c))
			continue;
		ret = vhost_mem_memslot_remove(&vm->slots, c);
		if (ret) {
			vhost_mem_warn(vm, "cannot delete memslot %u: %d\n",
				       vm->slots.base + (u32)c, ret);
			err = ret;
		}
	}
	return err;
}

static int vhost_mem_discard_blocks(struct vhost_mem *vm, u64 first, u64 nr)
{
	const struct vhost_mem_blocks *b = &vm->blocks;
	int ret;

	ret = vhost_mem_backing_discard(&vm->backing,
					vhost_mem_blocks_offset(b, first),
					vhost_mem_blocks_bytes(b, nr));
	if (ret)
		vhost_mem_warn(vm, "cannot discard blocks %llu-%llu: %d\n",
			       first, first + nr - 1, ret);
	return ret;
}

static int vhost_mem_discard_plan(struct vhost_mem *vm,
				  const struct vhost_mem_plan *plan)
{
	u64 start = plan->first_block, end = start + plan->nr_blocks;
	u64 run_start, run_end;
	int ret;

	if (plan->type != VIRTIO_MEM_REQ_UNPLUG_ALL)
		return vhost_mem_discard_blocks(vm, start, plan->nr_blocks);
	/* UNPLUG_ALL: only the runs that are plugged have pages to free. */
	while (vhost_mem_blocks_next_plugged(&vm->blocks, start, end,
					     &run_start, &run_end)) {
		ret = vhost_mem_discard_blocks(vm, run_start,
					       run_end - run_start);
		if (ret)
			return ret;
		start = run_end;
	}
	return 0;
}

/* Makes KVM and the backing match an ACKed plan; the state is untouched. */
static int vhost_mem_execute(struct vhost_mem *vm,
			     const struct vhost_mem_plan *plan)
{
	int ret;

	switch (plan->type) {
	case VIRTIO_MEM_REQ_PLUG:
		return vhost_mem_map_chunks(vm, plan);
	case VIRTIO_MEM_REQ_UNPLUG:
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		ret = vhost_mem_discard_plan(vm, plan);
		return ret ?: vhost_mem_unmap_chunks(vm, plan);
	default:
		return -EINVAL;
	}
}

u16 vhost_mem_handle_request(struct vhost_mem *vm, u16 type, u64 addr,
			     u16 nb_blocks, u16 *state)
{
	struct vhost_mem_plan plan;
	u16 answer;
	int ret;

	vhost_mem_blocks_decide(&vm->blocks, type, addr, nb_blocks, false,
				&plan);
	answer = plan.resp;
	if (vhost_mem_plan_needs_commit(&plan)) {
		/* Host-side failures leave the state as it was: BUSY. */
		ret = vhost_mem_execute(vm, &plan);
		if (ret) {
			answer = VIRTIO_MEM_RESP_BUSY;
			vhost_mem_record_failure(vm, type, addr, nb_blocks, ret);
		} else {
			vhost_mem_blocks_commit(&vm->blocks, &plan);
		}
	}
	*state = plan.state;
	vm->requests[min_t(u16, type, VHOST_MEM_REQ_UNKNOWN)][answer]++;
	return answer;
}

/*
 * Control plane hooks (netlink.c): the device list, the owner, the
 * config-change eventfd, and the events of resizes and requests.
 */

void vhost_mem_devices_lock(void)
{
	mutex_lock(&vhost_mem_list_lock);
}

void vhost_mem_devices_unlock(void)
{
	mutex_unlock(&vhost_mem_list_lock);
}

/* Ids are reused, the list is in creation order: scan it whole. */
struct vhost_mem *vhost_mem_next_device(int id)
{
	struct vhost_mem *vm, *next = NULL;

	lockdep_assert_held(&vhost_mem_list_lock);
	list_for_each_entry(vm, &vhost_mem_list, node)
		if (vm->id >= id && (!next || vm->id < next->id))
			next = vm;
	return next;
}

/* The owner cannot change: the vhost core has no way to drop it. */
void vhost_mem_record_owner(struct vhost_mem *vm)
{
	lockdep_assert_held(&vm->dev.mutex);
	put_pid(vm->owner);
	vm->owner = get_pid(task_tgid(current));
}

int vhost_mem_set_config_call(struct vhost_mem *vm, int fd)
{
	struct eventfd_ctx *ctx = NULL;
	int ret;

	if (fd != -1) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	mutex_lock(&vm->dev.mutex);
	ret = vhost_dev_check_owner(&vm->dev);
	if (!ret)
		swap(ctx, vm->config_ctx);
	mutex_unlock(&vm->dev.mutex);
	/* The new one if we failed, else the old one. */
	if (ctx)
		eventfd_ctx_put(ctx);
	return ret;
}

void vhost_mem_get_info(struct vhost_mem *vm, struct vhost_mem_info *info)
{
	memset(info, 0, sizeof(*info));
	vhost_mem_get_status(vm, &info->st);
	mutex_lock(&vm->dev.mutex);
	/* In the caller's pid namespace: 0 if the owner is not visible. */
	if (vm->owner)
		info->owner_pid = pid_vnr(vm->owner);
	if (vm->kvm)
		strscpy(info->vm_id, vm->kvm->stats_id, sizeof(info->vm_id));
	info->node_id = vm->has_region ? vm->node_id : NUMA_NO_NODE;
	info->region_flags = vm->region_flags;
	info->config_call = vm->config_ctx;
	mutex_lock(&vm->vq.mutex);
	info->features = vm->vq.acked_features;
	mutex_unlock(&vm->vq.mutex);
	mutex_unlock(&vm->dev.mutex);
}

/* A request the host could not carry out (answered BUSY), vq.mutex held. */
void vhost_mem_record_failure(struct vhost_mem *vm, u16 type, u64 addr,
			      u16 nb_blocks, int error)
{
	struct vhost_mem_ntf *f = &vm->failure;

	if (!f->nr_errors++) {
		f->error = error;
		f->req_type = type;
		f->req_addr = addr;
		f->req_size = vhost_mem_blocks_bytes(&vm->blocks, nb_blocks);
	}
}

void vhost_mem_batch_begin(struct vhost_mem *vm, struct vhost_mem_batch *batch)
{
	batch->plugged_before = vm->blocks.plugged_size;
	vm->failure.nr_errors = 0;
}

void vhost_mem_batch_end(struct vhost_mem *vm, struct vhost_mem_batch *batch)
{
	vhost_mem_ntf_sizes(vm, &batch->sizes);
	batch->failure = vm->failure;
	vhost_mem_ntf_sizes(vm, &batch->failure);
	vm->failure.nr_errors = 0;
}

/* Cheap when nobody listens: vhost_mem_nl_notify() checks first. */
void vhost_mem_batch_send(struct vhost_mem *vm,
			  const struct vhost_mem_batch *batch)
{
	const struct vhost_mem_ntf *sizes = &batch->sizes;

	if (batch->failure.nr_errors)
		vhost_mem_nl_notify(vm, VHOST_MEM_CMD_ERROR_NTF, &batch->failure);
	if (sizes->plugged == batch->plugged_before)
		return;
	vhost_mem_nl_notify(vm, VHOST_MEM_CMD_PLUGGED_SIZE_NTF, sizes);
	if (sizes->plugged == sizes->requested)
		vhost_mem_nl_notify(vm, VHOST_MEM_CMD_SIZE_REACHED_NTF, sizes);
}
