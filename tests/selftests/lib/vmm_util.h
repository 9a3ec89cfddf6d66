/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: what a VMM does around a device besides requests,
 * on a vmt_rq_env (req_util.h).
 *
 * - The ioctls of the device's options: pause, state save and restore,
 *   system reset.
 * - A device set up in a VMM's order, the region before the feature
 *   negotiation (the device's features depend on the region's options),
 *   on a vmt_rq_env; a virtio reset with a new driver.
 * - Side devices: more devices on an environment's VM.
 * - Guest accesses with the expected outcome, failing with expected vs got.
 * - Backing: block-aligned anonymous memory, a file on hugetlbfs and the
 *   size of the huge page pool.
 * - The kernel log from a mark on: lines that contain a string.
 */
#ifndef VMT_VMM_UTIL_H
#define VMT_VMM_UTIL_H

#include "req_util.h"

/* Only in the 6.12 uapi headers; the bit is the specification's. */
#ifndef VIRTIO_MEM_F_PERSISTENT_SUSPEND
#define VIRTIO_MEM_F_PERSISTENT_SUSPEND	2
#endif

#define VMT_MEM_F_UI		(1ULL << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE)
#define VMT_MEM_F_PS		(1ULL << VIRTIO_MEM_F_PERSISTENT_SUSPEND)

/* ------------------------------------------------------------------ */
/* The ioctls: 0 or -errno                                            */
/* ------------------------------------------------------------------ */

int __vmt_vmm_set_paused(int fd, int paused);
/* *len in: the room at buf; out: the state's size (also with -ENOSPC). */
int __vmt_vmm_get_state(int fd, void *buf, u64 *len);
int __vmt_vmm_set_state(int fd, const void *buf, u64 len);
/* GET_STATE or SET_STATE with every field of the struct given. */
int __vmt_vmm_state_ioctl(int fd, unsigned long req,
			  struct vhost_mem_state *st);
int __vmt_vmm_system_reset(int fd);
/* The device's whole state, in a malloc()ed buffer; fails the test. */
u8 *vmt_vmm_save(int fd, u64 *len);

/* ------------------------------------------------------------------ */
/* A device in a VMM's order                                          */
/* ------------------------------------------------------------------ */

/*
 * Replace e->dev with a new device on e->vm (closing the old one): open,
 * VHOST_SET_OWNER, VHOST_MEM_SET_VM, VHOST_MEM_SET_REGION (e->region, its
 * slot_count raised to what the chunks need), then the driver's part:
 * VHOST_GET_FEATURES, VHOST_SET_FEATURES (offered & ack &
 * VMT_VQ_DRIVER_FEATURES), the memory table and the requestq.  Not
 * running; the model is not started.  Returns the features offered.  Fails
 * the test on any error.
 */
u64 vmt_vmm_open(struct vmt_rq_env *e, u64 ack);
/* The requested size, VHOST_MEM_SET_RUNNING 1, vmt_rq_env_adopt(). */
void vmt_vmm_start(struct vmt_rq_env *e, u64 requested);
/*
 * A virtio reset and a new driver: VHOST_MEM_SET_RUNNING 0, VHOST_SET_FEATURES
 * (offered & ack), a fresh requestq (indices from 0), VHOST_MEM_SET_RUNNING 1.
 * Returns SET_RUNNING 1's result (0 or -errno); the rest fails the test.
 */
int __vmt_vmm_virtio_reset(struct vmt_rq_env *e, u64 ack);
/*
 * The model of a device restored from src's state: the same blocks, sizes
 * and usable region, no requests counted, memslots per chunk_size (0: the
 * source's).
 */
void vmt_model_copy(struct vmt_model *dst, const struct vmt_model *src,
		    u64 chunk_size);
/* The model after VHOST_MEM_RESET: nothing plugged, usable recomputed. */
void vmt_model_system_reset(struct vmt_model *m);
/* VHOST_MEM_RESET, failing the test on error; e->model after it. */
void vmt_vmm_system_reset(struct vmt_rq_env *e);

/* ------------------------------------------------------------------ */
/* Side devices on an environment's VM                                */
/* ------------------------------------------------------------------ */

struct vmt_side {
	struct vmt_vq vq;
	struct vmt_dev dev;
	struct vmt_backing backing;
	struct vhost_mem_region region;
	bool vq_init;
};

/*
 * A ring in vm's boot RAM, a device ready for SET_VM (vmt_dev_open_ready()),
 * an anonymous backing of size bytes and s->region at gpa with 2 MiB blocks,
 * chunks of chunk_size and slot ids from slot_base.  Nothing set on it yet.
 */
void vmt_side_init(struct vmt_side *s, struct vmt_vm *vm, u64 size,
		   u64 gpa, u64 chunk_size, u32 slot_base);
/* VHOST_MEM_SET_VM and VHOST_MEM_SET_REGION (s->region): 0 or -errno. */
int __vmt_side_setup(struct vmt_side *s);
/* Requested size and SET_RUNNING 1, failing the test on error. */
void vmt_side_start(struct vmt_side *s, u64 requested);
void vmt_side_free(struct vmt_side *s);

/* ------------------------------------------------------------------ */
/* Guest accesses                                                     */
/* ------------------------------------------------------------------ */

void vmt_vm_expect_read_at(const char *file, int line, struct vmt_vm *vm,
			   u64 gpa, u64 want, const char *why);
void vmt_vm_expect_mmio_at(const char *file, int line, struct vmt_vm *vm,
			   u64 gpa, const char *why);
void vmt_vm_expect_write_at(const char *file, int line, struct vmt_vm *vm,
			    u64 gpa, u64 val, const char *why);
/* The guest reads want at gpa (a memslot is there). */
#define vmt_vm_expect_read(vm, gpa, want, why) \
	vmt_vm_expect_read_at(__FILE__, __LINE__, vm, gpa, want, why)
/* The guest's read at gpa exits with KVM_EXIT_MMIO (no memslot). */
#define vmt_vm_expect_mmio(vm, gpa, why) \
	vmt_vm_expect_mmio_at(__FILE__, __LINE__, vm, gpa, why)
/* The guest stores val at gpa, and it lands in memory. */
#define vmt_vm_expect_write(vm, gpa, val, why) \
	vmt_vm_expect_write_at(__FILE__, __LINE__, vm, gpa, val, why)

/* A recognisable nonzero qword per (seed, block, offset). */
u64 vmt_block_tag(u64 seed, u64 block, u64 off);

/* ------------------------------------------------------------------ */
/* Backing                                                            */
/* ------------------------------------------------------------------ */

/*
 * Anonymous private memory (MAP_NORESERVE) at a multiple of align, as a VMM
 * maps its RAM: a transparent huge page never straddles two blocks.
 */
/*
 * A file of size bytes on the hugetlbfs mounted at dir (unlinked at once),
 * mapped MAP_SHARED | MAP_NORESERVE as QEMU maps virtio-mem memory: huge
 * pages come from the pool only when touched or allocated.  NULL, or why it
 * cannot be had (the test should skip).
 */
const char *vmt_backing_hugetlbfs(struct vmt_backing *b, const char *dir,
				  u64 size);
/*
 * Make the pool of 2 MiB huge pages hold exactly free_pages free pages
 * (nr_hugepages = in use + free_pages).  The first call remembers
 * nr_hugepages; vmt_hugetlb_restore() (also run at exit) puts it back.
 * NULL, or why it cannot be done.
 */
const char *vmt_hugetlb_pool(long long free_pages);
void vmt_hugetlb_restore(void);
/* HugePages_Free, or -1. */
long long vmt_hugetlb_free(void);

/*
 * Bytes of [off, off + len) of the backing that hold data: pages mapped in
 * this process for anonymous memory (pagemap), pages with data in the page
 * cache for a memfd (mincore()).  Memory that prealloc fallocate()d into a
 * memfd is not seen here (no data yet: mincore() and SEEK_DATA skip pages
 * that are not uptodate); vmt_backing_allocated() sees it.
 */
u64 vmt_backing_held(const struct vmt_backing *b, u64 off, u64 len);
/* Bytes of the whole backing allocated: pagemap, or the memfd's st_blocks. */
u64 vmt_backing_allocated(const struct vmt_backing *b);

/* ------------------------------------------------------------------ */
/* The kernel log                                                     */
/* ------------------------------------------------------------------ */

/* /dev/kmsg, positioned after the last record: the mark.  -errno. */
int __vmt_klog_mark(void);
/*
 * Records logged since the mark (or the previous call) that contain
 * needle; with show, each of them printed as a diagnostic line.
 */
int vmt_klog_count(int fd, const char *needle, bool show);

#endif /* VMT_VMM_UTIL_H */
