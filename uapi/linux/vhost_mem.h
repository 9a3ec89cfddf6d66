/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhost-mem: an in-kernel backend for the virtio-mem device.
 *
 * Each open of /dev/vhost-mem is one virtio-mem device.  The VMM sets it up
 * with the standard VHOST_* ioctls (SET_OWNER, GET/SET_FEATURES,
 * SET_MEM_TABLE, the vring ioctls for the single requestq) and with the
 * ioctls below, then the kernel answers the guest's requests itself.
 *
 * Extensible structs start with a __u32 size that the caller sets to
 * sizeof() of the struct it was built with: the kernel accepts older
 * (smaller) structs, and newer (larger) ones as long as the bytes it does not
 * know are zero, up to 4096 bytes (E2BIG beyond).  Output structs are
 * filled up to min(size, kernel's size).
 *
 * The ioctl numbers below encode the size of the struct they were built
 * with, but the kernel matches them without their size bits
 * (VHOST_MEM_IOC_KEY()): only the size field inside the struct counts, so
 * a binary built against an older or newer copy of this header reaches the
 * same ioctl.
 */
#ifndef _UAPI_LINUX_VHOST_MEM_H
#define _UAPI_LINUX_VHOST_MEM_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vhost.h>

/* The one virtqueue: the virtio-mem requestq. */
#define VHOST_MEM_REQUESTQ		0
#define VHOST_MEM_NUM_VQS		1

/* Defaults, as QEMU's virtio-mem. */
#define VHOST_MEM_DEFAULT_CHUNK_SIZE	(1ULL << 30)
#define VHOST_MEM_MIN_BLOCK_SIZE	(1ULL << 20)
/* Usable region = requested size + this, aligned up to the block size. */
#define VHOST_MEM_USABLE_EXTENT		(256ULL << 20)

/* Memslot ids the device may use at most with plain chunks. */
#define VHOST_MEM_SLOTS_NEEDED(region_size, chunk_size) \
	(((region_size) + (chunk_size) - 1) / (chunk_size))
/* ... and with hard protection: every other block plugged. */
#define VHOST_MEM_SLOTS_NEEDED_HARD(region_size, block_size) \
	(((region_size) / (block_size) + 1) / 2)

/**
 * struct vhost_mem_vm - argument of VHOST_MEM_SET_VM
 * @size: sizeof() of the struct the caller was built with.
 * @vm_fd: the KVM VM whose memslots this device manages, from
 *	KVM_CREATE_VM.  It is referenced until release.
 */
struct vhost_mem_vm {
	__u32 size;
	__s32 vm_fd;
};

/* vhost_mem_region.flags */
#define VHOST_MEM_REGION_F_BACKING_FD	(1U << 0) /* backing_fd is valid */
/* Populate the backing of blocks before a PLUG is acknowledged. */
#define VHOST_MEM_REGION_F_PREALLOC	(1U << 1)
/* Mirror every memslot into KVM's SMM address space, as QEMU does. */
#define VHOST_MEM_REGION_F_SMM		(1U << 2)
/* Offer VIRTIO_MEM_F_PERSISTENT_SUSPEND: the state survives suspend. */
#define VHOST_MEM_REGION_F_PERSISTENT_SUSPEND (1U << 3)
/*
 * Hard protection: the memslots cover exactly the plugged blocks, one per
 * run of adjacent plugged blocks, so no unplugged block is within the
 * guest's reach.  Needs chunk_size 0, slot_count at least
 * VHOST_MEM_SLOTS_NEEDED_HARD() and a guest that accepts
 * VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE (unplugged_inaccessible not OFF).
 */
#define VHOST_MEM_REGION_F_HARD_PROTECT	(1U << 4)
#define VHOST_MEM_REGION_F_ALL		((1U << 5) - 1)

/* vhost_mem_region.unplugged_inaccessible, as QEMU's on/off/auto */
#define VHOST_MEM_UI_AUTO		0 /* offered; guest decides */
#define VHOST_MEM_UI_ON			1 /* required from the guest */
#define VHOST_MEM_UI_OFF		2 /* not offered: all memory readable */

/**
 * struct vhost_mem_region - argument of VHOST_MEM_SET_REGION
 * @size: sizeof() of the struct the caller was built with.
 * @flags: VHOST_MEM_REGION_F_*.
 * @guest_phys_addr: base of the device-owned guest-physical region, a
 *	multiple of @block_size.
 * @region_size: size of the region, a multiple of @block_size.
 * @userspace_addr: the backing in the owner's mm, page aligned.
 * @block_size: a power of 2, at least 1 MiB; 0 means the THP size.
 * @chunk_size: the memslot granularity; 0 means 1 GiB or @block_size.
 * @backing_offset: the region's offset in @backing_fd.
 * @backing_fd: a memfd, shmem or hugetlbfs file.
 * @node_id: the guest proximity domain, -1 for none.
 * @slot_base: the first KVM memslot id reserved for the device.
 * @slot_count: the number of ids reserved, at least
 *	VHOST_MEM_SLOTS_NEEDED() or VHOST_MEM_SLOTS_NEEDED_HARD().
 * @unplugged_inaccessible: VHOST_MEM_UI_*.
 * @reserved: must be 0.
 */
struct vhost_mem_region {
	__u32 size;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 region_size;
	__u64 userspace_addr;
	__u64 block_size;
	__u64 chunk_size;
	__u64 backing_offset;
	__s32 backing_fd;
	__s32 node_id;
	__u32 slot_base;
	__u32 slot_count;
	__u32 unplugged_inaccessible;
	__u32 reserved;
};

/* Index of vhost_mem_status.requests[type][] for an unknown request type. */
#define VHOST_MEM_REQ_UNKNOWN		4
#define VHOST_MEM_NR_REQ_TYPES		5
/* Second index: VIRTIO_MEM_RESP_ACK, _NACK, _BUSY, _ERROR. */
#define VHOST_MEM_NR_RESP_TYPES		4

/* vhost_mem_status.flags */
#define VHOST_MEM_STATUS_F_VM		(1U << 0) /* VM attached */
#define VHOST_MEM_STATUS_F_REGION	(1U << 1) /* region set up */
#define VHOST_MEM_STATUS_F_RUNNING	(1U << 2) /* processing requests */
#define VHOST_MEM_STATUS_F_PAUSED	(1U << 3) /* answering BUSY */

/**
 * struct vhost_mem_status - argument of VHOST_MEM_GET_STATUS
 *
 * Everything the VMM's config space needs, and more.
 *
 * @size: in: sizeof() of the struct the caller was built with.
 *	Out: the number of bytes written.
 * @flags: VHOST_MEM_STATUS_F_*.
 * @guest_phys_addr: base of the region.
 * @region_size: size of the region.
 * @block_size: the block size.
 * @chunk_size: the memslot granularity.
 * @usable_region_size: the usable region's size.
 * @plugged_size: the size of the plugged blocks.
 * @requested_size: the size the VMM requested.
 * @memslots: the KVM memslots live now.
 * @memslots_max: the memslot ids the device may use at most.
 * @dropped: malformed chains dropped without an answer.
 * @requests: request counters, indexed by request type
 *	(VIRTIO_MEM_REQ_* or VHOST_MEM_REQ_UNKNOWN) and answer
 *	(VIRTIO_MEM_RESP_*).
 */
struct vhost_mem_status {
	__u32 size;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 region_size;
	__u64 block_size;
	__u64 chunk_size;
	__u64 usable_region_size;
	__u64 plugged_size;
	__u64 requested_size;
	__u32 memslots;
	__u32 memslots_max;
	__u64 dropped;
	__u64 requests[VHOST_MEM_NR_REQ_TYPES][VHOST_MEM_NR_RESP_TYPES];
};

/* Our ioctl numbers (VHOST_VIRTIO type) start here; the vhost core's are lower. */
#define VHOST_MEM_IOC_NR_FIRST		0xC0
/* What the kernel matches of one of our ioctl numbers: all but its size. */
#define VHOST_MEM_IOC_KEY(nr)		((nr) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

#define VHOST_MEM_SET_VM		_IOW(VHOST_VIRTIO, 0xC0, struct vhost_mem_vm)
#define VHOST_MEM_SET_REGION		_IOW(VHOST_VIRTIO, 0xC1, struct vhost_mem_region)
/* __u64 bytes, a multiple of the block size, at most the region size. */
#define VHOST_MEM_SET_REQUESTED_SIZE	_IOW(VHOST_VIRTIO, 0xC2, __u64)
/* int: 1 starts request processing, 0 stops it (requests then wait). */
#define VHOST_MEM_SET_RUNNING		_IOW(VHOST_VIRTIO, 0xC3, int)
#define VHOST_MEM_GET_STATUS		_IOWR(VHOST_VIRTIO, 0xC4, struct vhost_mem_status)
/*
 * int: an eventfd the module signals when the device's config changes
 * without the VMM acting (a resize through the netlink family), as a
 * config-change interrupt; -1 removes it.
 */
#define VHOST_MEM_SET_CONFIG_CALL	_IOW(VHOST_VIRTIO, 0xC5, int)

/*
 * int: 1 pauses (PLUG, UNPLUG and, with blocks plugged, UNPLUG_ALL answered
 * BUSY; STATE served), 0 resumes and signals the config-change eventfd so
 * the guest retries now.
 */
#define VHOST_MEM_SET_PAUSED		_IOW(VHOST_VIRTIO, 0xC6, int)

/**
 * struct vhost_mem_state - argument of VHOST_MEM_GET_STATE and _SET_STATE
 *
 * The device state for migration is an opaque, versioned blob with the
 * sizes and the plugged-block map.  GET writes it to @buf.  SET loads it
 * into a device whose region matches, before it runs, with nothing
 * plugged.  SET creates the memslots before the ioctl returns.  With
 * VHOST_MEM_REGION_F_PREALLOC it also populates the plugged blocks.
 *
 * @size: sizeof() of the struct the caller was built with.
 * @flags: must be 0.
 * @buf: user address of the blob.
 * @buf_len: in: the room at @buf.  Out: the blob's size, also when
 *	ENOSPC says the room is too small.
 */
struct vhost_mem_state {
	__u32 size;
	__u32 flags;
	__u64 buf;
	__u64 buf_len;
};
#define VHOST_MEM_GET_STATE		_IOWR(VHOST_VIRTIO, 0xC7, struct vhost_mem_state)
#define VHOST_MEM_SET_STATE		_IOW(VHOST_VIRTIO, 0xC8, struct vhost_mem_state)

/*
 * System reset (the VM reboots): unplug and discard everything, delete the
 * memslots (unless unplugged memory stays readable), recompute the usable
 * region.  A virtio reset changes nothing.
 */
#define VHOST_MEM_RESET			_IO(VHOST_VIRTIO, 0xC9)

#endif /* _UAPI_LINUX_VHOST_MEM_H */
