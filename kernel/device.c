// SPDX-License-Identifier: GPL-2.0
/*
 * The device: set-up, start/stop, resize, status, migration state and
 * reset (its plan carried out by plug.c, then committed).  The ioctls
 * (and later the control plane) call only the functions declared in
 * device.h; none of them decides anything of the protocol itself.
 */
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/mutex.h>
#include <linux/numa.h>
#include <linux/nsproxy.h>
#include <linux/pid.h>
#include <linux/sched.h>
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
#include "layout.h"
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
	struct vhost_mem *vmem;
	int ret;

	vmem = kvzalloc(sizeof(*vmem), GFP_KERNEL_ACCOUNT);
	if (!vmem)
		return ERR_PTR(-ENOMEM);
	vmem->vqs[VHOST_MEM_REQUESTQ] = &vmem->vq;
	vmem->vq.handle_kick = vhost_mem_handle_kick;
	vhost_dev_init(&vmem->dev, vmem->vqs, VHOST_MEM_NUM_VQS, UIO_MAXIOV,
		       VHOST_MEM_WEIGHT, 0, true, NULL);
	vmem->net = get_net(current->nsproxy->net_ns);
	vmem->node_id = NUMA_NO_NODE;
	INIT_LIST_HEAD(&vmem->region_node);
	/* Until the guest acks features, only plugged chunks are mapped. */
	vmem->unplugged_inaccessible = true;

	/* Last: from here on the control plane may find the device. */
	ret = vhost_mem_register(vmem);
	if (ret) {
		vhost_dev_cleanup(&vmem->dev);
		put_net(vmem->net);
		kvfree(vmem);
		return ERR_PTR(ret);
	}
	return vmem;
}

static void vhost_mem_stop_vq(struct vhost_mem *vmem)
{
	mutex_lock(&vmem->vq.mutex);
	vhost_vq_set_backend(&vmem->vq, NULL);
	mutex_unlock(&vmem->vq.mutex);
}

/*
 * Everything set up since the open, released: the region (memslots,
 * backing, blocks), the VM, the owner's eventfd.  The queue is stopped and
 * flushed, and dev.mutex held or the device unreachable.
 */
static void vhost_mem_release_setup(struct vhost_mem *vmem)
{
	mutex_lock(&vhost_mem_regions_lock);
	list_del_init(&vmem->region_node);
	mutex_unlock(&vhost_mem_regions_lock);

	/* Deleted before (vhost_mem_delete_memslots()), or left to the VM. */
	vhost_mem_memslots_destroy(&vmem->slots);
	vhost_mem_backing_release(&vmem->backing);
	vhost_mem_blocks_free(&vmem->blocks);
	if (vmem->vm_file)
		fput(vmem->vm_file);
	if (vmem->config_ctx)
		eventfd_ctx_put(vmem->config_ctx);
	put_pid(vmem->owner);

	mutex_lock(&vmem->vq.mutex);
	vmem->vm_file = NULL;
	vmem->kvm = NULL;
	vmem->config_ctx = NULL;
	vmem->owner = NULL;
	vmem->has_region = false;
	vmem->paused = false;
	vmem->unplugged_inaccessible = true;
	WRITE_ONCE(vmem->ui_mode, VHOST_MEM_UI_AUTO);
	WRITE_ONCE(vmem->region_flags, 0);
	WRITE_ONCE(vmem->node_id, NUMA_NO_NODE);
	memset(vmem->requests, 0, sizeof(vmem->requests));
	vmem->dropped = 0;
	mutex_unlock(&vmem->vq.mutex);
}

/* The memslots deleted by the worker, for a release from another mm. */
struct vhost_mem_teardown {
	struct vhost_work work;
	struct vhost_mem *vmem;
	struct completion done;
};

static void vhost_mem_teardown_work(struct vhost_work *work)
{
	struct vhost_mem_teardown *t =
		container_of(work, struct vhost_mem_teardown, work);

	vhost_mem_memslots_delete_all(&t->vmem->slots);
	complete(&t->done);
}

/*
 * The last thread of the VMM, past exit_mm(): its VM cannot run any more
 * and dies with it, so its memslots need no deleting (nor could they be).
 */
static bool vhost_mem_vmm_exiting(struct vhost_mem *vmem)
{
	return !current->mm && current->flags & PF_EXITING &&
	       task_tgid(current) == vmem->owner;
}

/*
 * Only a task in the VMM's mm can delete memslots (memslot.c).  Another
 * process may close the device last (its fd passed over SCM_RIGHTS) while
 * the VMM lives: the worker, which runs in the VMM's mm, deletes them.
 * The queue is stopped and flushed, the worker still there; a queued work
 * always runs, even when the worker is being killed.
 */
static void vhost_mem_delete_memslots(struct vhost_mem *vmem)
{
	struct vhost_mem_teardown t = { .vmem = vmem };

	if (!vmem->kvm || !vmem->slots.scratch)
		return;
	if (current->mm == vmem->kvm->mm) {
		vhost_mem_memslots_delete_all(&vmem->slots);
		return;
	}
	if (vhost_mem_vmm_exiting(vmem))
		return;
	init_completion(&t.done);
	vhost_work_init(&t.work, vhost_mem_teardown_work);
	if (vhost_mem_queue_work(&vmem->vq, &t.work)) {
		wait_for_completion(&t.done);
		return;
	}
	if (vmem->slots.live)
		vhost_mem_warn(vmem, "the VMM's worker is gone: %u memslots stay until the VM goes\n",
			       vmem->slots.live);
}

void vhost_mem_destroy(struct vhost_mem *vmem)
{
	vhost_mem_unregister(vmem);

	vhost_mem_stop_vq(vmem);
	vhost_dev_flush(&vmem->dev);
	vhost_mem_delete_memslots(vmem);
	vhost_dev_stop(&vmem->dev);
	vhost_dev_cleanup(&vmem->dev);
	vhost_mem_release_setup(vmem);
	/* The struct stays while the control plane holds a reference. */
	vhost_mem_put(vmem);
}

/*
 * VHOST_RESET_OWNER, as vhost-net and vhost-vsock do it: the device is as
 * just opened (no owner, VM, region nor ring), its memslots are deleted.
 */
int vhost_mem_reset_owner(struct vhost_mem *vmem)
{
	struct vhost_iotlb *umem;
	int ret;

	mutex_lock(&vmem->dev.mutex);
	ret = vhost_dev_check_owner(&vmem->dev);
	if (ret)
		goto out;
	umem = vhost_dev_reset_owner_prepare();
	if (!umem) {
		ret = -ENOMEM;
		goto out;
	}
	vhost_mem_stop_vq(vmem);
	vhost_dev_stop(&vmem->dev);
	/* The owner's thread: in the VMM's mm. */
	vhost_mem_delete_memslots(vmem);
	/* Before the core drops the owner's mm: the backing points into it. */
	vhost_mem_release_setup(vmem);
	vhost_dev_reset_owner(&vmem->dev, umem);
out:
	mutex_unlock(&vmem->dev.mutex);
	return ret;
}

/* The transport's features, and the device's that depend on its set-up. */
u64 vhost_mem_get_features(struct vhost_mem *vmem)
{
	u64 features = VHOST_MEM_FEATURES;

	if (READ_ONCE(vmem->ui_mode) != VHOST_MEM_UI_OFF)
		features |= 1ULL << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE;
	if (READ_ONCE(vmem->region_flags) & VHOST_MEM_REGION_F_PERSISTENT_SUSPEND)
		features |= 1ULL << VIRTIO_MEM_F_PERSISTENT_SUSPEND;
	if (READ_ONCE(vmem->node_id) != NUMA_NO_NODE)
		features |= 1ULL << VIRTIO_MEM_F_ACPI_PXM;
	return features;
}

int vhost_mem_set_features(struct vhost_mem *vmem, u64 features)
{
	int ret;

	if (features & ~vhost_mem_get_features(vmem))
		return -EOPNOTSUPP;
	mutex_lock(&vmem->dev.mutex);
	ret = vhost_dev_check_owner(&vmem->dev);
	if (!ret) {
		mutex_lock(&vmem->vq.mutex);
		vmem->vq.acked_features = features;
		mutex_unlock(&vmem->vq.mutex);
	}
	mutex_unlock(&vmem->dev.mutex);
	return ret;
}

/*
 * KVM's file_is_kvm() is for kvm-amd and kvm-intel only since 6.19, so a
 * VM file is recognised as KVM makes it: anon_inode_getfile("kvm-vm",
 * &kvm_vm_fops, ...), and kvm_vm_fops are KVM's (compat.h).
 */
static int vhost_mem_file_is_vm(struct file *f)
{
	if (strcmp(f->f_path.dentry->d_name.name, "kvm-vm"))
		return -EINVAL;
	return vhost_mem_kvm_vm_fops(f);
}

static int vhost_mem_attach_vm(struct vhost_mem *vmem, int fd)
{
	struct file *f;
	struct kvm *kvm;
	int ret;

	if (vmem->vm_file)
		return -EBUSY;
	f = fget(fd);
	if (!f)
		return -EBADF;
	ret = vhost_mem_file_is_vm(f);
	if (ret) {
		fput(f);
		return ret;
	}
	kvm = f->private_data;
	/* Memslots point into the owner's mm: the VM must live there too. */
	if (kvm->mm != vmem->dev.mm) {
		fput(f);
		return -EXDEV;
	}
	vmem->vm_file = f;
	vmem->kvm = kvm;
	return 0;
}

int vhost_mem_set_vm(struct vhost_mem *vmem, const struct vhost_mem_vm *arg)
{
	int ret;

	mutex_lock(&vmem->dev.mutex);
	ret = vhost_dev_check_owner(&vmem->dev);
	if (!ret)
		ret = vhost_mem_attach_vm(vmem, arg->vm_fd);
	mutex_unlock(&vmem->dev.mutex);
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
static int vhost_mem_claim_region(struct vhost_mem *vmem,
				  const struct vhost_mem_region *arg)
{
	struct vhost_mem *other;
	int ret = 0;

	mutex_lock(&vhost_mem_regions_lock);
	list_for_each_entry(other, &vhost_mem_regions, region_node) {
		if (other->kvm != vmem->kvm)
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
		list_add_tail(&vmem->region_node, &vhost_mem_regions);
	mutex_unlock(&vhost_mem_regions_lock);
	return ret;
}

static int vhost_mem_setup_region(struct vhost_mem *vmem,
				  const struct vhost_mem_region *arg)
{
	struct vhost_mem_blocks blocks = {};
	int fd = -1, ret;
	u64 block_size;

	if (!vmem->kvm)
		return -EBADFD;
	if (vmem->has_region)
		return -EBUSY;
	ret = vhost_mem_check_region_arg(arg);
	if (ret)
		return ret;
	if (arg->flags & VHOST_MEM_REGION_F_BACKING_FD) {
		fd = arg->backing_fd;
		if (fd < 0)
			return -EBADF;
	}

	ret = vhost_mem_backing_init(&vmem->backing, vmem->dev.mm,
				     arg->userspace_addr, arg->region_size,
				     fd, arg->backing_offset);
	if (ret)
		return ret;
	block_size = vhost_mem_block_size(arg, &vmem->backing);
	ret = -EINVAL;
	if (block_size < vmem->backing.page_size)
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
	ret = vhost_mem_memslots_init(&vmem->slots, vmem->id, vmem->vm_file, vmem->dev.mm,
				      arg->slot_base, arg->slot_count,
				      arg->guest_phys_addr,
				      arg->region_size,
				      arg->flags & VHOST_MEM_REGION_F_SMM);
	if (ret)
		goto err_blocks;
	ret = vhost_mem_claim_region(vmem, arg);
	if (ret)
		goto err_slots;

	mutex_lock(&vmem->vq.mutex);
	vmem->blocks = blocks;
	vmem->has_region = true;
	vmem->node_id = arg->node_id;
	vmem->region_flags = arg->flags;
	vmem->layout = arg->flags & VHOST_MEM_REGION_F_HARD_PROTECT ?
		       &vhost_mem_runs_layout : &vhost_mem_chunks_layout;
	vmem->ui_mode = arg->unplugged_inaccessible;
	vmem->unplugged_inaccessible = vmem->ui_mode != VHOST_MEM_UI_OFF;
	mutex_unlock(&vmem->vq.mutex);
	return 0;

err_slots:
	vhost_mem_memslots_delete_all(&vmem->slots);
	vhost_mem_memslots_destroy(&vmem->slots);

err_blocks:
	vhost_mem_blocks_free(&blocks);
err_backing:
	vhost_mem_backing_release(&vmem->backing);
	return ret;
}

int vhost_mem_set_region(struct vhost_mem *vmem,
			 const struct vhost_mem_region *arg)
{
	int ret;

	mutex_lock(&vmem->dev.mutex);
	ret = vhost_dev_check_owner(&vmem->dev);
	if (!ret)
		ret = vhost_mem_setup_region(vmem, arg);
	mutex_unlock(&vmem->dev.mutex);
	return ret;
}

/* dev.mutex held; owners can change, so checked under the same hold. */
static int vhost_mem_check_resize(struct vhost_mem *vmem,
				  enum vhost_mem_origin origin)
{
	int ret;

	if (origin == VHOST_MEM_ORIGIN_VMM) {
		ret = vhost_dev_check_owner(&vmem->dev);
		if (ret)
			return ret;
	}
	if (!vmem->has_region)
		return -EBADFD;
	return 0;
}

int vhost_mem_set_requested_size(struct vhost_mem *vmem, u64 size,
				 enum vhost_mem_origin origin)
{
	struct vhost_mem_ntf ntf = { .origin = origin };
	bool changed = false;
	int ret;

	/* A device stuck for good (FUSE backing) must not make us unkillable. */
	if (mutex_lock_killable(&vmem->dev.mutex))
		return -EINTR;
	ret = vhost_mem_check_resize(vmem, origin);
	if (ret)
		goto unlock;
	if (mutex_lock_killable(&vmem->vq.mutex)) {
		ret = -EINTR;
		goto unlock;
	}
	changed = vmem->blocks.requested_size != size;
	ret = vhost_mem_blocks_set_requested(&vmem->blocks, size);
	changed &= !ret;
	vhost_mem_ntf_sizes(vmem, &ntf);
	mutex_unlock(&vmem->vq.mutex);
	/* The VMM tells the guest itself; for anyone else, we do. */
	if (changed && origin != VHOST_MEM_ORIGIN_VMM && vmem->config_ctx)
		vhost_mem_eventfd_signal(vmem->config_ctx);
unlock:
	mutex_unlock(&vmem->dev.mutex);
	if (changed)
		vhost_mem_nl_notify(vmem, VHOST_MEM_CMD_REQUESTED_SIZE_NTF, &ntf);
	return ret;
}

static int vhost_mem_start_vq(struct vhost_mem *vmem)
{
	struct vhost_virtqueue *vq = &vmem->vq;
	int ret = 0;

	mutex_lock(&vq->mutex);
	if (!vhost_vq_access_ok(vq)) {
		ret = -EFAULT;
	} else if (!vhost_vq_get_backend(vq)) {
		vhost_vq_set_backend(vq, vmem);
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

/* dev.mutex held: 0 for the owner of a device whose region is set. */
static int vhost_mem_check_set_up(struct vhost_mem *vmem)
{
	int ret = vhost_dev_check_owner(&vmem->dev);

	if (ret)
		return ret;
	if (!vmem->has_region)
		return -EBADFD;
	return 0;
}

/*
 * The guest's features are known at start: a driver that did not accept
 * VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE may read unplugged memory, so the
 * whole region is mapped for it (and refused, as by QEMU, with "on", and
 * with hard protection).
 */
static int vhost_mem_apply_features(struct vhost_mem *vmem)
{
	bool acked = vhost_has_feature(&vmem->vq,
				       VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);
	bool was_readable;
	int ret;

	/* Acked before SET_REGION took a feature away (ui "off"). */
	if (vmem->vq.acked_features & ~vhost_mem_get_features(vmem))
		return -EINVAL;
	if ((vmem->ui_mode == VHOST_MEM_UI_ON ||
	     vmem->region_flags & VHOST_MEM_REGION_F_HARD_PROTECT) && !acked)
		return -EINVAL;
	mutex_lock(&vmem->vq.mutex);
	was_readable = !vmem->unplugged_inaccessible;
	vmem->unplugged_inaccessible = acked;
	ret = vhost_mem_sync_memslots(vmem);
	/* What the old driver wrote to unplugged memory goes with its mapping. */
	if (!ret && was_readable && acked)
		vhost_mem_discard_empty_chunks(vmem);
	mutex_unlock(&vmem->vq.mutex);
	return ret;
}

static int vhost_mem_start(struct vhost_mem *vmem)
{
	int ret = vhost_mem_apply_features(vmem);

	if (ret)
		return ret;
	return vhost_mem_start_vq(vmem);
}

static void vhost_mem_stop(struct vhost_mem *vmem)
{
	vhost_mem_stop_vq(vmem);
	vhost_dev_flush(&vmem->dev);
}

int vhost_mem_set_running(struct vhost_mem *vmem, bool running)
{
	int ret;

	mutex_lock(&vmem->dev.mutex);
	ret = vhost_mem_check_set_up(vmem);
	if (!ret && running)
		ret = vhost_mem_start(vmem);
	else if (!ret)
		vhost_mem_stop(vmem);
	mutex_unlock(&vmem->dev.mutex);
	return ret;
}

void vhost_mem_read_status(struct vhost_mem *vmem, struct vhost_mem_status *st)
{
	const struct vhost_mem_blocks *b = &vmem->blocks;

	lockdep_assert_held(&vmem->dev.mutex);
	lockdep_assert_held(&vmem->vq.mutex);
	st->flags = (vmem->paused ? VHOST_MEM_STATUS_F_PAUSED : 0) |
		    (vmem->kvm ? VHOST_MEM_STATUS_F_VM : 0) |
		    (vmem->has_region ? VHOST_MEM_STATUS_F_REGION : 0) |
		    (vhost_vq_get_backend(&vmem->vq) ?
		     VHOST_MEM_STATUS_F_RUNNING : 0);
	if (vmem->has_region) {
		st->guest_phys_addr = b->addr;
		st->region_size = b->region_size;
		st->block_size = b->block_size;
		st->chunk_size = b->chunk_size;
		st->usable_region_size = b->usable_size;
		st->plugged_size = b->plugged_size;
		st->requested_size = b->requested_size;
		st->memslots = vmem->slots.live;
		st->memslots_max = vhost_mem_memslots_max(b, vmem->region_flags);
	}
	st->dropped = vmem->dropped;
	memcpy(st->requests, vmem->requests, sizeof(st->requests));
}

int vhost_mem_get_status(struct vhost_mem *vmem, struct vhost_mem_status *st)
{
	mutex_lock(&vmem->dev.mutex);
	mutex_lock(&vmem->vq.mutex);
	vhost_mem_read_status(vmem, st);
	mutex_unlock(&vmem->vq.mutex);
	mutex_unlock(&vmem->dev.mutex);
	return 0;
}

/*
 * A pause (migration, snapshot) answers BUSY; on resume the guest is told
 * its config changed, so a Linux driver retries now instead of after its
 * 50-300 s back-off.
 */
static void vhost_mem_pause(struct vhost_mem *vmem, bool paused)
{
	bool resumed;

	mutex_lock(&vmem->vq.mutex);
	resumed = vmem->paused && !paused;
	vmem->paused = paused;
	mutex_unlock(&vmem->vq.mutex);
	if (resumed && vmem->config_ctx)
		vhost_mem_eventfd_signal(vmem->config_ctx);
}

int vhost_mem_set_paused(struct vhost_mem *vmem, bool paused)
{
	int ret;

	mutex_lock(&vmem->dev.mutex);
	ret = vhost_mem_check_set_up(vmem);
	if (!ret)
		vhost_mem_pause(vmem, paused);
	mutex_unlock(&vmem->dev.mutex);
	return ret;
}

/* *len: the state's size, also when it is more than *len (-ENOSPC). */
static int vhost_mem_save_state(struct vhost_mem *vmem, void __user *buf,
				u64 *len)
{
	size_t size;
	u8 *blob;
	int ret;

	size = vhost_mem_blocks_state_size(&vmem->blocks);
	ret = -ENOSPC;
	if (*len < size)
		goto out;
	ret = -ENOMEM;
	blob = kvmalloc(size, GFP_KERNEL_ACCOUNT);
	if (!blob)
		goto out;
	mutex_lock(&vmem->vq.mutex);
	vhost_mem_blocks_save(&vmem->blocks, blob);
	mutex_unlock(&vmem->vq.mutex);
	ret = copy_to_user(buf, blob, size) ? -EFAULT : 0;
	kvfree(blob);
out:
	if (!ret || ret == -ENOSPC)
		*len = size;
	return ret;
}

int vhost_mem_get_state(struct vhost_mem *vmem, void __user *buf, u64 *len)
{
	int ret;

	mutex_lock(&vmem->dev.mutex);
	ret = vhost_mem_check_set_up(vmem);
	if (!ret)
		ret = vhost_mem_save_state(vmem, buf, len);
	mutex_unlock(&vmem->dev.mutex);
	return ret;
}

/* The restored state takes effect only once KVM and the backing match. */
static int vhost_mem_load_state(struct vhost_mem *vmem, const u8 *blob, u64 len)
{
	struct vhost_mem_blocks old = vmem->blocks, loaded = {};
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
	vmem->blocks = loaded;
	ret = vhost_mem_sync_memslots(vmem) ?: vhost_mem_populate_plugged(vmem);
	if (ret) {
		/*
		 * Nothing is discarded: the VMM may have loaded the migrated
		 * RAM into these blocks already, and a retry needs it.
		 */
		vmem->blocks = old;
		vhost_mem_sync_memslots(vmem);
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
static u8 *vhost_mem_copy_state(struct vhost_mem *vmem, const void __user *buf,
				u64 len)
{
	u8 *blob;

	if (vhost_vq_get_backend(&vmem->vq))
		return ERR_PTR(-EBUSY);
	if (len != vhost_mem_blocks_state_size(&vmem->blocks))
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

static int vhost_mem_restore(struct vhost_mem *vmem, const void __user *buf,
			     u64 len, struct vhost_mem_batch *batch)
{
	u8 *blob = vhost_mem_copy_state(vmem, buf, len);
	int ret;

	if (IS_ERR(blob))
		return PTR_ERR(blob);
	mutex_lock(&vmem->vq.mutex);
	vhost_mem_batch_begin(vmem, batch);
	ret = vhost_mem_load_state(vmem, blob, len);
	vhost_mem_batch_end(vmem, batch);
	mutex_unlock(&vmem->vq.mutex);
	kvfree(blob);
	return ret;
}

int vhost_mem_set_state(struct vhost_mem *vmem, const void __user *buf, u64 len)
{
	struct vhost_mem_batch batch;
	int ret;

	mutex_lock(&vmem->dev.mutex);
	ret = vhost_mem_check_set_up(vmem);
	if (!ret)
		ret = vhost_mem_restore(vmem, buf, len, &batch);
	mutex_unlock(&vmem->dev.mutex);
	if (!ret)
		vhost_mem_batch_send(vmem, &batch);
	return ret;
}

/* A system reset unplugs everything, exactly as the guest's UNPLUG_ALL. */
static int vhost_mem_unplug_all(struct vhost_mem *vmem,
				struct vhost_mem_batch *batch)
{
	struct vhost_mem_plan plan;
	int ret;

	mutex_lock(&vmem->vq.mutex);
	vhost_mem_batch_begin(vmem, batch);
	vhost_mem_blocks_decide(&vmem->blocks, VIRTIO_MEM_REQ_UNPLUG_ALL,
				0, 0, false, &plan);
	ret = vhost_mem_execute(vmem, &plan);
	if (!ret)
		vhost_mem_blocks_commit(&vmem->blocks, &plan);
	vhost_mem_batch_end(vmem, batch);
	mutex_unlock(&vmem->vq.mutex);
	return ret;
}

int vhost_mem_reset(struct vhost_mem *vmem)
{
	struct vhost_mem_batch batch;
	int ret;

	mutex_lock(&vmem->dev.mutex);
	ret = vhost_mem_check_set_up(vmem);
	if (!ret)
		ret = vhost_mem_unplug_all(vmem, &batch);
	mutex_unlock(&vmem->dev.mutex);
	if (!ret)
		vhost_mem_batch_send(vmem, &batch);
	return ret;
}
