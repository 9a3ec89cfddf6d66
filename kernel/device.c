// SPDX-License-Identifier: GPL-2.0
/*
 * The device: set-up, start/stop, resize, status, and the execution of the
 * plans blocks.c makes (memslots, then backing, then commit).  The ioctls
 * (and later the control plane) call only the functions declared in
 * device.h; none of them decides anything of the protocol itself.
 */
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/mutex.h>
#include <linux/numa.h>
#include <linux/nsproxy.h>
#include <linux/pid.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mem.h>
#include <linux/virtio_ring.h>
#include <net/net_namespace.h>

#include "compat.h"
#include "device.h"
#include "plug.h"
#include "registry.h"

/* Requests handled before the worker yields to other vhost work. */
#define VHOST_MEM_WEIGHT	256

#define VHOST_MEM_FEATURES	((1ULL << VIRTIO_F_VERSION_1) |		\
				 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
				 (1ULL << VIRTIO_RING_F_EVENT_IDX))

/* Devices with a region, to keep regions and memslot ids of a VM apart. */
static DEFINE_MUTEX(vhost_mem_regions_lock);
static LIST_HEAD(vhost_mem_regions);

struct vhost_mem *vhost_mem_create(void)
{
	struct vhost_mem *vm;
	int ret;

	vm = kvzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return ERR_PTR(-ENOMEM);
	vm->vqs[VHOST_MEM_REQUESTQ] = &vm->vq;
	vm->vq.handle_kick = vhost_mem_handle_kick;
	vhost_dev_init(&vm->dev, vm->vqs, VHOST_MEM_NUM_VQS, UIO_MAXIOV,
		       VHOST_MEM_WEIGHT, 0, true, NULL);
	vm->net = get_net(current->nsproxy->net_ns);
	vm->node_id = NUMA_NO_NODE;
	INIT_LIST_HEAD(&vm->region_node);
	/* Until the guest acks features, only plugged chunks are mapped. */
	vm->unplugged_inaccessible = true;

	/* Last: from here on the control plane may find the device. */
	ret = vhost_mem_register(vm);
	if (ret) {
		vhost_dev_cleanup(&vm->dev);
		put_net(vm->net);
		kvfree(vm);
		return ERR_PTR(ret);
	}
	return vm;
}

static void vhost_mem_stop_vq(struct vhost_mem *vm)
{
	mutex_lock(&vm->vq.mutex);
	vhost_vq_set_backend(&vm->vq, NULL);
	mutex_unlock(&vm->vq.mutex);
}

/*
 * Everything set up since the open, released: the region (memslots,
 * backing, blocks), the VM, the owner's eventfd.  The queue is stopped and
 * flushed, and dev.mutex held or the device unreachable.
 */
static void vhost_mem_release_setup(struct vhost_mem *vm)
{
	mutex_lock(&vhost_mem_regions_lock);
	list_del_init(&vm->region_node);
	mutex_unlock(&vhost_mem_regions_lock);

	/* The memory goes with the device: the VM may outlive us. */
	vhost_mem_memslots_destroy(&vm->slots);
	vhost_mem_backing_release(&vm->backing);
	vhost_mem_blocks_free(&vm->blocks);
	if (vm->vm_file)
		fput(vm->vm_file);
	if (vm->config_ctx)
		eventfd_ctx_put(vm->config_ctx);
	put_pid(vm->owner);

	mutex_lock(&vm->vq.mutex);
	vm->vm_file = NULL;
	vm->kvm = NULL;
	vm->config_ctx = NULL;
	vm->owner = NULL;
	vm->has_region = false;
	vm->paused = false;
	vm->unplugged_inaccessible = true;
	WRITE_ONCE(vm->ui_mode, VHOST_MEM_UI_AUTO);
	WRITE_ONCE(vm->region_flags, 0);
	WRITE_ONCE(vm->node_id, NUMA_NO_NODE);
	memset(vm->requests, 0, sizeof(vm->requests));
	vm->dropped = 0;
	mutex_unlock(&vm->vq.mutex);
}

void vhost_mem_destroy(struct vhost_mem *vm)
{
	vhost_mem_unregister(vm);

	vhost_mem_stop_vq(vm);
	vhost_dev_flush(&vm->dev);
	vhost_dev_stop(&vm->dev);
	vhost_dev_cleanup(&vm->dev);
	vhost_mem_release_setup(vm);
	/* The struct stays while the control plane holds a reference. */
	vhost_mem_put(vm);
}

/*
 * VHOST_RESET_OWNER, as vhost-net and vhost-vsock do it: the device is as
 * just opened (no owner, VM, region nor ring), its memslots are deleted.
 */
int vhost_mem_reset_owner(struct vhost_mem *vm)
{
	struct vhost_iotlb *umem;
	int ret;

	mutex_lock(&vm->dev.mutex);
	ret = vhost_dev_check_owner(&vm->dev);
	if (ret)
		goto out;
	umem = vhost_dev_reset_owner_prepare();
	if (!umem) {
		ret = -ENOMEM;
		goto out;
	}
	vhost_mem_stop_vq(vm);
	vhost_dev_stop(&vm->dev);
	/* Before the core drops the owner's mm: the backing points into it. */
	vhost_mem_release_setup(vm);
	vhost_dev_reset_owner(&vm->dev, umem);
out:
	mutex_unlock(&vm->dev.mutex);
	return ret;
}

/* The transport's features, and the device's that depend on its set-up. */
u64 vhost_mem_get_features(struct vhost_mem *vm)
{
	u64 features = VHOST_MEM_FEATURES;

	if (READ_ONCE(vm->ui_mode) != VHOST_MEM_UI_OFF)
		features |= 1ULL << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE;
	if (READ_ONCE(vm->region_flags) & VHOST_MEM_REGION_F_PERSISTENT_SUSPEND)
		features |= 1ULL << VIRTIO_MEM_F_PERSISTENT_SUSPEND;
	if (READ_ONCE(vm->node_id) != NUMA_NO_NODE)
		features |= 1ULL << VIRTIO_MEM_F_ACPI_PXM;
	return features;
}

int vhost_mem_set_features(struct vhost_mem *vm, u64 features)
{
	int ret;

	if (features & ~vhost_mem_get_features(vm))
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
	if (arg->flags & ~VHOST_MEM_REGION_F_ALL || arg->reserved ||
	    arg->unplugged_inaccessible > VHOST_MEM_UI_OFF)
		return -EINVAL;
	if (!(arg->flags & VHOST_MEM_REGION_F_BACKING_FD) &&
	    arg->backing_offset)
		return -EINVAL;
	/* A guest proximity domain: 16 bits in the config space. */
	if (arg->node_id != NUMA_NO_NODE &&
	    (arg->node_id < 0 || arg->node_id > U16_MAX))
		return -EINVAL;
	/* Hard protection maps runs of blocks, never whole chunks. */
	if (arg->flags & VHOST_MEM_REGION_F_HARD_PROTECT &&
	    (arg->chunk_size || arg->unplugged_inaccessible == VHOST_MEM_UI_OFF))
		return -EINVAL;
	return 0;
}

/* The most memslots the device can need at once. */
static u64 vhost_mem_memslots_max(const struct vhost_mem_blocks *b, u32 flags)
{
	if (flags & VHOST_MEM_REGION_F_HARD_PROTECT)
		return VHOST_MEM_SLOTS_NEEDED_HARD(b->region_size, b->block_size);
	return b->nr_chunks;
}

/* As QEMU: the THP size, or the backing's page size if larger. */
static u64 vhost_mem_block_size(const struct vhost_mem_region *arg,
				const struct vhost_mem_backing *backing)
{
	if (arg->block_size)
		return arg->block_size;
	return max_t(u64, PMD_SIZE, backing->page_size);
}

/*
 * KVM's limits, checked at set-up so that no PLUG can fail on them later:
 * its largest memslot, and (as kvm_mmu_max_gfn() with two-dimensional
 * paging) the host's physical address width, which bounds guest-physical
 * addresses.  Shadow paging would allow more; we do not rely on it.
 */
static u64 vhost_mem_kvm_max_gpa(void)
{
	unsigned int bits = boot_cpu_data.x86_phys_bits;

	if (boot_cpu_data.extended_cpuid_level >= 0x80000008)
		bits = cpuid_eax(0x80000008) & 0xff;
	return 1ULL << bits;
}

static int vhost_mem_check_kvm_limits(const struct vhost_mem_blocks *b,
				      u32 flags)
{
	u64 memslot_max = (u64)KVM_MEM_MAX_NR_PAGES << PAGE_SHIFT;
	/* A run of plugged blocks may span the whole region. */
	u64 largest = flags & VHOST_MEM_REGION_F_HARD_PROTECT ?
		      b->region_size : min(b->chunk_size, b->region_size);

	if (largest > memslot_max)
		return -EINVAL;
	if (b->addr + b->region_size > vhost_mem_kvm_max_gpa())
		return -ERANGE;
	return 0;
}

static bool vhost_mem_ranges_overlap(u64 a, u64 a_len, u64 b, u64 b_len)
{
	return a < b + b_len && b < a + a_len;
}

/*
 * Another device of the same VM (one per NUMA node, say) must not share
 * our region or our memslot ids, even while neither has a memslot live.
 */
static int vhost_mem_claim_region(struct vhost_mem *vm,
				  const struct vhost_mem_region *arg)
{
	struct vhost_mem *other;
	int ret = 0;

	mutex_lock(&vhost_mem_regions_lock);
	list_for_each_entry(other, &vhost_mem_regions, region_node) {
		if (other->kvm != vm->kvm)
			continue;
		if (vhost_mem_ranges_overlap(arg->guest_phys_addr,
					     arg->region_size,
					     other->slots.gpa,
					     other->slots.size)) {
			ret = -EEXIST;
			break;
		}
		if (vhost_mem_ranges_overlap(arg->slot_base, arg->slot_count,
					     other->slots.base,
					     other->slots.count)) {
			ret = -EBUSY;
			break;
		}
	}
	if (!ret)
		list_add_tail(&vm->region_node, &vhost_mem_regions);
	mutex_unlock(&vhost_mem_regions_lock);
	return ret;
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
	if (arg->flags & VHOST_MEM_REGION_F_BACKING_FD) {
		fd = arg->backing_fd;
		if (fd < 0)
			return -EBADF;
	}

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
				    arg->flags & VHOST_MEM_REGION_F_HARD_PROTECT ?
				    block_size : arg->chunk_size);
	if (ret)
		goto err_backing;
	ret = vhost_mem_check_kvm_limits(&blocks, arg->flags);
	if (ret)
		goto err_blocks;
	ret = -ENOSPC;
	if (arg->slot_count < vhost_mem_memslots_max(&blocks, arg->flags))
		goto err_blocks;
	ret = vhost_mem_memslots_init(&vm->slots, vm->id, vm->kvm, vm->dev.mm,
				      arg->slot_base, arg->slot_count,
				      arg->guest_phys_addr,
				      arg->region_size,
				      arg->flags & VHOST_MEM_REGION_F_SMM);
	if (ret)
		goto err_blocks;
	ret = vhost_mem_claim_region(vm, arg);
	if (ret)
		goto err_slots;

	mutex_lock(&vm->vq.mutex);
	vm->blocks = blocks;
	vm->has_region = true;
	vm->node_id = arg->node_id;
	vm->region_flags = arg->flags;
	vm->ui_mode = arg->unplugged_inaccessible;
	vm->unplugged_inaccessible = vm->ui_mode != VHOST_MEM_UI_OFF;
	mutex_unlock(&vm->vq.mutex);
	return 0;

err_slots:
	vhost_mem_memslots_destroy(&vm->slots);

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
void vhost_mem_ntf_sizes(struct vhost_mem *vm, struct vhost_mem_ntf *ntf)
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
	int ret;

	/* A device stuck for good (FUSE backing) must not make us unkillable. */
	if (mutex_lock_killable(&vm->dev.mutex))
		return -EINTR;
	/* Checked under the same hold as the change: owners can change. */
	ret = origin == VHOST_MEM_ORIGIN_VMM ? vhost_dev_check_owner(&vm->dev) : 0;
	if (!ret && !vm->has_region)
		ret = -EBADFD;
	if (!ret && mutex_lock_killable(&vm->vq.mutex))
		ret = -EINTR;
	if (!ret) {
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

/* Takes dev.mutex: 0 for the owner of a device whose region is set. */
static int vhost_mem_lock_set_up(struct vhost_mem *vm)
{
	mutex_lock(&vm->dev.mutex);
	return vhost_dev_check_owner(&vm->dev) ?: vm->has_region ? 0 : -EBADFD;
}

/*
 * The guest's features are known at start: a driver that did not accept
 * VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE may read unplugged memory, so the
 * whole region is mapped for it (and refused, as by QEMU, with "on", and
 * with hard protection).
 */
static int vhost_mem_apply_features(struct vhost_mem *vm)
{
	bool acked = vhost_has_feature(&vm->vq,
				       VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);
	bool was_readable;
	int ret;

	/* Acked before SET_REGION took a feature away (ui "off"). */
	if (vm->vq.acked_features & ~vhost_mem_get_features(vm))
		return -EINVAL;
	if ((vm->ui_mode == VHOST_MEM_UI_ON ||
	     vm->region_flags & VHOST_MEM_REGION_F_HARD_PROTECT) && !acked)
		return -EINVAL;
	mutex_lock(&vm->vq.mutex);
	was_readable = !vm->unplugged_inaccessible;
	vm->unplugged_inaccessible = acked;
	ret = vhost_mem_sync_memslots(vm);
	/* What the old driver wrote to unplugged memory goes with its mapping. */
	if (!ret && was_readable && acked)
		vhost_mem_discard_empty_chunks(vm);
	mutex_unlock(&vm->vq.mutex);
	return ret;
}

int vhost_mem_set_running(struct vhost_mem *vm, bool running)
{
	int ret;

	ret = vhost_mem_lock_set_up(vm);
	if (!ret) {
		if (running) {
			ret = vhost_mem_apply_features(vm) ?:
			      vhost_mem_start_vq(vm);
		} else {
			vhost_mem_stop_vq(vm);
			vhost_dev_flush(&vm->dev);
		}
	}
	mutex_unlock(&vm->dev.mutex);
	return ret;
}

void vhost_mem_read_status(struct vhost_mem *vm, struct vhost_mem_status *st)
{
	const struct vhost_mem_blocks *b = &vm->blocks;

	lockdep_assert_held(&vm->dev.mutex);
	lockdep_assert_held(&vm->vq.mutex);
	st->flags = (vm->paused ? VHOST_MEM_STATUS_F_PAUSED : 0) |
		    (vm->kvm ? VHOST_MEM_STATUS_F_VM : 0) |
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
		st->memslots_max = vhost_mem_memslots_max(b, vm->region_flags);
	}
	st->dropped = vm->dropped;
	memcpy(st->requests, vm->requests, sizeof(st->requests));
}

int vhost_mem_get_status(struct vhost_mem *vm, struct vhost_mem_status *st)
{
	mutex_lock(&vm->dev.mutex);
	mutex_lock(&vm->vq.mutex);
	vhost_mem_read_status(vm, st);
	mutex_unlock(&vm->vq.mutex);
	mutex_unlock(&vm->dev.mutex);
	return 0;
}

/*
 * A pause (migration, snapshot) answers BUSY; on resume the guest is told
 * its config changed, so a Linux driver retries now instead of after its
 * 50-300 s back-off.
 */
int vhost_mem_set_paused(struct vhost_mem *vm, bool paused)
{
	bool resumed;
	int ret;

	ret = vhost_mem_lock_set_up(vm);
	if (!ret) {
		mutex_lock(&vm->vq.mutex);
		resumed = vm->paused && !paused;
		vm->paused = paused;
		mutex_unlock(&vm->vq.mutex);
		if (resumed && vm->config_ctx)
			vhost_mem_eventfd_signal(vm->config_ctx);
	}
	mutex_unlock(&vm->dev.mutex);
	return ret;
}

int vhost_mem_get_state(struct vhost_mem *vm, void __user *buf, u64 *len)
{
	size_t size;
	u8 *blob;
	int ret;

	ret = vhost_mem_lock_set_up(vm);
	if (ret)
		goto out;
	size = vhost_mem_blocks_state_size(&vm->blocks);
	ret = -ENOSPC;
	if (*len < size)
		goto out;
	ret = -ENOMEM;
	blob = kvmalloc(size, GFP_KERNEL_ACCOUNT);
	if (!blob)
		goto out;
	mutex_lock(&vm->vq.mutex);
	vhost_mem_blocks_save(&vm->blocks, blob);
	mutex_unlock(&vm->vq.mutex);
	ret = copy_to_user(buf, blob, size) ? -EFAULT : 0;
	kvfree(blob);
out:
	if (!ret || ret == -ENOSPC)
		*len = vhost_mem_blocks_state_size(&vm->blocks);
	mutex_unlock(&vm->dev.mutex);
	return ret;
}

/* The restored state takes effect only once KVM and the backing match. */
static int vhost_mem_load_state(struct vhost_mem *vm, const u8 *blob, u64 len)
{
	struct vhost_mem_blocks old = vm->blocks, loaded = {};
	const struct vhost_mem_blocks *b = &old;
	int ret;

	/* A restore starts from nothing plugged. */
	if (b->plugged_size)
		return -EBUSY;
	ret = vhost_mem_blocks_init(&loaded, b->addr, b->region_size,
				    b->block_size, b->chunk_size);
	if (ret)
		return ret;
	ret = vhost_mem_blocks_restore(&loaded, blob, len);
	if (ret) {
		vhost_mem_blocks_free(&loaded);
		return ret;
	}
	vm->blocks = loaded;
	ret = vhost_mem_sync_memslots(vm) ?: vhost_mem_populate_plugged(vm);
	if (ret) {
		/*
		 * Nothing is discarded: the VMM may have loaded the migrated
		 * RAM into these blocks already, and a retry needs it.
		 */
		vm->blocks = old;
		vhost_mem_sync_memslots(vm);
		vhost_mem_blocks_free(&loaded);
		return ret;
	}
	vhost_mem_blocks_free(&old);
	return 0;
}

/*
 * Only the owner, into a device that has not started, and only a blob of
 * exactly the state's size: checked before anything is allocated, and the
 * copy is charged to the caller's memory cgroup.
 */
static u8 *vhost_mem_copy_state(struct vhost_mem *vm, const void __user *buf,
				u64 len)
{
	u8 *blob;

	if (vhost_vq_get_backend(&vm->vq))
		return ERR_PTR(-EBUSY);
	if (len != vhost_mem_blocks_state_size(&vm->blocks))
		return ERR_PTR(-EINVAL);
	blob = kvmalloc(len, GFP_KERNEL_ACCOUNT);
	if (!blob)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(blob, buf, len)) {
		kvfree(blob);
		return ERR_PTR(-EFAULT);
	}
	return blob;
}

int vhost_mem_set_state(struct vhost_mem *vm, const void __user *buf, u64 len)
{
	struct vhost_mem_batch batch;
	u8 *blob = NULL;
	int ret;

	ret = vhost_mem_lock_set_up(vm);
	if (!ret) {
		blob = vhost_mem_copy_state(vm, buf, len);
		if (IS_ERR(blob))
			ret = PTR_ERR(blob);
	}
	if (!ret) {
		mutex_lock(&vm->vq.mutex);
		vhost_mem_batch_begin(vm, &batch);
		ret = vhost_mem_load_state(vm, blob, len);
		vhost_mem_batch_end(vm, &batch);
		mutex_unlock(&vm->vq.mutex);
		kvfree(blob);
	}
	mutex_unlock(&vm->dev.mutex);
	if (!ret)
		vhost_mem_batch_send(vm, &batch);
	return ret;
}

/* A system reset unplugs everything, exactly as the guest's UNPLUG_ALL. */
int vhost_mem_reset(struct vhost_mem *vm)
{
	struct vhost_mem_batch batch;
	struct vhost_mem_plan plan;
	int ret;

	ret = vhost_mem_lock_set_up(vm);
	if (!ret) {
		mutex_lock(&vm->vq.mutex);
		vhost_mem_batch_begin(vm, &batch);
		vhost_mem_blocks_decide(&vm->blocks, VIRTIO_MEM_REQ_UNPLUG_ALL,
					0, 0, false, &plan);
		ret = vhost_mem_execute(vm, &plan);
		if (!ret)
			vhost_mem_blocks_commit(&vm->blocks, &plan);
		vhost_mem_batch_end(vm, &batch);
		mutex_unlock(&vm->vq.mutex);
	}
	mutex_unlock(&vm->dev.mutex);
	if (!ret)
		vhost_mem_batch_send(vm, &batch);
	return ret;
}

u16 vhost_mem_handle_request(struct vhost_mem *vm, u16 type, u64 addr,
			     u16 nb_blocks, u16 *state)
{
	struct vhost_mem_plan plan;
	u16 answer;
	int ret;

	vhost_mem_blocks_decide(&vm->blocks, type, addr, nb_blocks, vm->paused,
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
