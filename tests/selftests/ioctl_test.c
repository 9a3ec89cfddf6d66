// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: bad ioctl input from the VMM.
 *
 * Every ioctl of /dev/vhost-mem given a bad value must fail with the errno
 * Documentation/vhost-mem.rst gives it and change nothing: GET_STATUS is
 * compared byte for byte before and after, and a valid call still works
 * afterwards.
 *
 * - VHOST_MEM_SET_VM: not a file, not a VM (KVM's other files too), another
 *   process's VM, twice;
 * - VHOST_MEM_SET_REGION: before SET_VM, twice, every field (alignment,
 *   block and chunk sizes, slot ids in use or out of range, too few ids,
 *   overlaps with the VM's memslots, flags, backing_fd and offset (and a
 *   file whose holes cannot be punched), the
 *   mapping's kind (read-only too), holes, wrapping ranges, NUMA node, mixed page sizes);
 * - the size field of the extensible structs: too small, larger with a
 *   non-zero or a zero tail, and GET_STATUS filling only what was asked;
 * - the ioctl numbers: built from a smaller or a larger struct, they reach
 *   the same ioctl (the kernel ignores their size bits);
 * - KVM's limits at set-up: a chunk or hard-protection run larger than
 *   KVM's largest memslot, a region beyond the guest-physical address
 *   width; node_id as a 16-bit proximity domain;
 * - VHOST_MEM_SET_REQUESTED_SIZE and VHOST_MEM_SET_RUNNING: order, values;
 * - VHOST_RESET_OWNER: the owner only; the device as just opened, its
 *   memslots gone, and set up again on the same fd;
 * - a VMM that deletes the device's memslot behind its back: no kernel
 *   warning when the device is closed.
 */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/memfd.h>

#include "vmt.h"
#include "req_util.h"
#include "vmm_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

#define REGION_SIZE	(32ULL << 20)	/* 16 blocks */

FIXTURE(ioctl) {
	struct vmt_rq_env e;
	struct vhost_mem_status before;
};

/* FIXTURE_DATA(...), spelt so that checkpatch can parse the helpers. */
#define ioctl_fixture _test_data_ioctl

FIXTURE_SETUP(ioctl)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(&self->e, VMT_BACKING_ANON, REGION_SIZE, ~0ULL);
}

FIXTURE_TEARDOWN(ioctl)
{
	vmt_rq_env_free(&self->e);
}

/* GET_STATUS, whole. */
static void status(struct __test_metadata *_metadata, int fd,
		   struct vhost_mem_status *st)
{
	int r = __vmt_mem_get_status(fd, st);

	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_GET_STATUS: %s", vmt_errstr(r));
}

/* Nothing in the status may differ from before. */
static void expect_unchanged(struct __test_metadata *_metadata, int fd,
			     const struct vhost_mem_status *before,
			     const char *what)
{
	struct vhost_mem_status now;

	status(_metadata, fd, &now);
	if (!memcmp(before, &now, sizeof(now)))
		return;
	TH_LOG("%s changed the device's status:", what);
	fprintf(stderr, "# before:\n");
	vmt_mem_status_print(stderr, before);
	fprintf(stderr, "# after:\n");
	vmt_mem_status_print(stderr, &now);
	_metadata->exit_code = KSFT_FAIL;
}

/* An ioctl that must fail with want and change nothing. */
#define EXPECT_ERRNO(fd, before, want, call, fmt, ...) do { \
	int __r = (call); \
	EXPECT_EQ((want), __r) \
		TH_LOG(fmt ": expected %s, got %s", ##__VA_ARGS__, \
		       vmt_errstr(want), vmt_errstr(__r)); \
	expect_unchanged(_metadata, (fd), (before), #call); \
} while (0)

/* VHOST_MEM_SET_REGION with r as it is (size = sizeof). */
#define EXPECT_REGION(e, before, want, r, fmt, ...) \
	EXPECT_ERRNO((e)->dev.fd, (before), (want), \
		     __vmt_mem_set_region((e)->dev.fd, (r)), \
		     "VHOST_MEM_SET_REGION " fmt, ##__VA_ARGS__)

static int raw_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

/*
 * One bad region: start from the fixture's valid one, change what the
 * statement changes, expect want.
 */
#define BAD_REGION(want, stmt, fmt, ...) do { \
	struct vhost_mem_region r = self->e.region; \
	stmt; \
	EXPECT_REGION(&self->e, &self->before, (want), &r, fmt, \
		      ##__VA_ARGS__); \
} while (0)

/* SET_VM done, status saved: ready for bad regions. */
static void region_ready(struct __test_metadata *_metadata,
			 struct ioctl_fixture *self)
{
	ASSERT_EQ(0, __vmt_mem_set_vm(self->e.dev.fd, self->e.vm->vm_fd));
	status(_metadata, self->e.dev.fd, &self->before);
}

/*
 * After the bad ones (SET_VM done): the valid region is accepted and the
 * device works.
 */
static void region_works(struct __test_metadata *_metadata,
			 struct vmt_rq_env *e)
{
	int r = __vmt_mem_set_region(e->dev.fd, &e->region);

	ASSERT_EQ(0, r) TH_LOG("the valid region after the bad ones: %s",
			       vmt_errstr(r));
	r = __vmt_mem_set_requested_size(e->dev.fd, e->region.region_size);
	ASSERT_EQ(0, r) TH_LOG("SET_REQUESTED_SIZE: %s", vmt_errstr(r));
	r = __vmt_mem_set_running(e->dev.fd, 1);
	ASSERT_EQ(0, r) TH_LOG("SET_RUNNING 1: %s", vmt_errstr(r));
	vmt_rq_env_adopt(e, e->region.region_size);
	vmt_rq_check_status(e);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, GPA, 1, NULL));
	vmt_rq_check_status(e);
}

/* ------------------------------------------------------------------ */
/* VHOST_MEM_SET_VM                                                   */
/* ------------------------------------------------------------------ */

TEST_F(ioctl, set_vm_bad_fds)
{
	struct vmt_rq_env *e = &self->e;
	int efd, nullfd, closed, r;

	status(_metadata, e->dev.fd, &self->before);
	EXPECT_EQ(0, self->before.flags);

	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
		     __vmt_mem_set_vm(e->dev.fd, efd), "SET_VM with an eventfd");
	EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
		     __vmt_mem_set_vm(e->dev.fd, e->vm->kvm_fd),
		     "SET_VM with /dev/kvm itself");
	EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
		     __vmt_mem_set_vm(e->dev.fd, e->vm->vcpu_fd),
		     "SET_VM with a vCPU fd");
	EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
		     __vmt_mem_set_vm(e->dev.fd, e->dev.fd),
		     "SET_VM with the device's own fd");
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nullfd);
	EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
		     __vmt_mem_set_vm(e->dev.fd, nullfd), "SET_VM with /dev/null");
	close(nullfd);
	closed = dup(efd);
	ASSERT_LE(0, closed);
	close(closed);
	close(efd);
	EXPECT_ERRNO(e->dev.fd, &self->before, -EBADF,
		     __vmt_mem_set_vm(e->dev.fd, closed),
		     "SET_VM with a closed fd %d", closed);
	EXPECT_ERRNO(e->dev.fd, &self->before, -EBADF,
		     __vmt_mem_set_vm(e->dev.fd, -1), "SET_VM with fd -1");
	EXPECT_ERRNO(e->dev.fd, &self->before, -EBADF,
		     __vmt_mem_set_vm(e->dev.fd, INT_MAX), "SET_VM with fd INT_MAX");

	r = __vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd);
	ASSERT_EQ(0, r) TH_LOG("SET_VM with the VM after the failures: %s",
			       vmt_errstr(r));
	region_works(_metadata, e);
	vmt_rq_check_all(e);
}

/*
 * KVM's other anon-inode files, which VM files are told apart from by
 * their name: a KVM device (owned by the same vendor module as the VM's
 * file) and the VM's stats fd (kvm.ko's, named "kvm-vm-stats").
 */
TEST_F(ioctl, set_vm_other_kvm_fds)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	struct vmt_rq_env *e = &self->e;
	int stats, r;

	status(_metadata, e->dev.fd, &self->before);
	ASSERT_EQ(0, ioctl(e->vm->vm_fd, KVM_CREATE_DEVICE, &cd))
		TH_LOG("KVM_CREATE_DEVICE vfio: %s", strerror(errno));
	EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
		     __vmt_mem_set_vm(e->dev.fd, cd.fd),
		     "SET_VM with a KVM device fd");
	close(cd.fd);
	stats = ioctl(e->vm->vm_fd, KVM_GET_STATS_FD, NULL);
	ASSERT_LE(0, stats) TH_LOG("KVM_GET_STATS_FD: %s", strerror(errno));
	EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
		     __vmt_mem_set_vm(e->dev.fd, stats),
		     "SET_VM with the VM's stats fd");
	close(stats);

	r = __vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd);
	ASSERT_EQ(0, r) TH_LOG("SET_VM with the VM after the failures: %s",
			       vmt_errstr(r));
}

/* A VM made by another process (sent over a socket): EXDEV. */
TEST_F(ioctl, set_vm_of_another_process)
{
	struct vmt_rq_env *e = &self->e;
	int sock, vm_fd, status_w;
	pid_t pid;

	pid = vmt_fork_socket(&sock);
	if (!pid) {
		int fd = ioctl(e->vm->kvm_fd, KVM_CREATE_VM, 0);

		_exit(fd < 0 || __vmt_send_fd(sock, fd));
	}
	vm_fd = __vmt_recv_fd(sock);
	ASSERT_LE(0, vm_fd) TH_LOG("receiving the VM fd: %s",
				   vmt_errname(-vm_fd));
	ASSERT_EQ(pid, waitpid(pid, &status_w, 0));
	ASSERT_TRUE(WIFEXITED(status_w) && !WEXITSTATUS(status_w));

	status(_metadata, e->dev.fd, &self->before);
	EXPECT_ERRNO(e->dev.fd, &self->before, -EXDEV,
		     __vmt_mem_set_vm(e->dev.fd, vm_fd),
		     "SET_VM with a VM created by another process");
	close(vm_fd);
	close(sock);
	vmt_rq_env_start(e, REGION_SIZE);
}

TEST_F(ioctl, set_vm_twice)
{
	struct vmt_rq_env *e = &self->e;
	int other;

	ASSERT_EQ(0, __vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd));
	status(_metadata, e->dev.fd, &self->before);
	EXPECT_EQ(VHOST_MEM_STATUS_F_VM, self->before.flags);
	EXPECT_ERRNO(e->dev.fd, &self->before, -EBUSY,
		     __vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd),
		     "a second SET_VM with the same VM");
	other = ioctl(e->vm->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, other);
	EXPECT_ERRNO(e->dev.fd, &self->before, -EBUSY,
		     __vmt_mem_set_vm(e->dev.fd, other),
		     "a second SET_VM with another VM");
	close(other);
	/* the first VM is still the device's: the guest sees the block */
	region_works(_metadata, e);
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* Order of the set-up                                                */
/* ------------------------------------------------------------------ */

TEST_F(ioctl, setup_order)
{
	struct vmt_rq_env *e = &self->e;

	status(_metadata, e->dev.fd, &self->before);
	EXPECT_REGION(e, &self->before, -EBADFD, &e->region, "before SET_VM");
	EXPECT_ERRNO(e->dev.fd, &self->before, -EBADFD,
		     __vmt_mem_set_requested_size(e->dev.fd, BLK),
		     "SET_REQUESTED_SIZE before SET_VM");
	EXPECT_ERRNO(e->dev.fd, &self->before, -EBADFD,
		     __vmt_mem_set_running(e->dev.fd, 1),
		     "SET_RUNNING 1 before SET_VM");
	EXPECT_ERRNO(e->dev.fd, &self->before, -EBADFD,
		     __vmt_mem_set_running(e->dev.fd, 0),
		     "SET_RUNNING 0 before SET_VM");

	ASSERT_EQ(0, __vmt_mem_set_vm(e->dev.fd, e->vm->vm_fd));
	status(_metadata, e->dev.fd, &self->before);
	EXPECT_ERRNO(e->dev.fd, &self->before, -EBADFD,
		     __vmt_mem_set_requested_size(e->dev.fd, BLK),
		     "SET_REQUESTED_SIZE before SET_REGION");
	EXPECT_ERRNO(e->dev.fd, &self->before, -EBADFD,
		     __vmt_mem_set_running(e->dev.fd, 1),
		     "SET_RUNNING 1 before SET_REGION");

	ASSERT_EQ(0, __vmt_mem_set_region(e->dev.fd, &e->region));
	status(_metadata, e->dev.fd, &self->before);
	EXPECT_EQ(VHOST_MEM_STATUS_F_VM | VHOST_MEM_STATUS_F_REGION,
		  self->before.flags);
	/* a second region, the same or another: EBUSY */
	EXPECT_REGION(e, &self->before, -EBUSY, &e->region, "a second time");
	e->region.guest_phys_addr = 2 * GPA;
	EXPECT_REGION(e, &self->before, -EBUSY, &e->region,
		      "a second time, elsewhere");
	e->region.guest_phys_addr = GPA;

	ASSERT_EQ(0, __vmt_mem_set_requested_size(e->dev.fd, BLK));
	ASSERT_EQ(0, __vmt_mem_set_running(e->dev.fd, 1));
	status(_metadata, e->dev.fd, &self->before);
	EXPECT_REGION(e, &self->before, -EBUSY, &e->region, "while running");
	vmt_rq_env_adopt(e, BLK);
	vmt_rq_check_status(e);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, GPA, 1, NULL));
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* VHOST_MEM_SET_REGION, field by field                               */
/* ------------------------------------------------------------------ */

TEST_F(ioctl, region_alignment_and_sizes)
{
	region_ready(_metadata, self);
	/* the base */
	BAD_REGION(-EINVAL, r.guest_phys_addr += 1ULL << 20, "GPA + 1 MiB");
	BAD_REGION(-EINVAL, r.guest_phys_addr += 4096, "GPA + 4 KiB");
	BAD_REGION(-EINVAL, r.guest_phys_addr = 0, "GPA 0");
	/* the size */
	BAD_REGION(-EINVAL, r.region_size -= 1ULL << 20, "size 31 MiB");
	BAD_REGION(-EINVAL, r.region_size -= 4096, "size 32 MiB - 4 KiB");
	BAD_REGION(-EINVAL, r.region_size = 0, "size 0");
	/* the backing's address */
	BAD_REGION(-EINVAL, r.userspace_addr += 2048, "hva + 2 KiB");
	BAD_REGION(-EINVAL, r.userspace_addr += 1, "hva + 1");
	BAD_REGION(-EINVAL, r.userspace_addr = 1ULL << 60,
		   "hva at 2^60 (beyond any user address space)");
	/* the block size */
	BAD_REGION(-EINVAL, r.block_size = 3ULL << 20, "block 3 MiB");
	BAD_REGION(-EINVAL, r.block_size = (1ULL << 20) + 4096,
		   "block 1 MiB + 4 KiB");
	BAD_REGION(-EINVAL, r.block_size = 512 << 10, "block 512 KiB");
	BAD_REGION(-EINVAL, r.block_size = 4096, "block 4 KiB");
	BAD_REGION(-EINVAL, r.block_size = 1, "block 1 byte");
	BAD_REGION(-EINVAL, r.block_size = 1ULL << 63,
		   "block 2^63 (the GPA is not aligned to it)");
	BAD_REGION(-EINVAL, r.block_size = ~0ULL, "block 2^64 - 1");
	/* the chunk size */
	BAD_REGION(-EINVAL, r.chunk_size = 3ULL << 20, "chunk 3 MiB");
	BAD_REGION(-EINVAL, r.chunk_size = 6ULL << 20, "chunk 6 MiB");
	BAD_REGION(-EINVAL, r.chunk_size = 1ULL << 20,
		   "chunk 1 MiB (below the 2 MiB block)");
	BAD_REGION(-EINVAL, r.chunk_size = ~0ULL, "chunk 2^64 - 1");
	/* flags, offset, node */
	BAD_REGION(-EINVAL, r.flags = VHOST_MEM_REGION_F_ALL + 1,
		   "the first unknown flag, 0x%x", VHOST_MEM_REGION_F_ALL + 1);
	BAD_REGION(-EINVAL, r.flags = 1U << 31, "flags bit 31");
	BAD_REGION(-EINVAL, r.flags = ~VHOST_MEM_REGION_F_ALL,
		   "every unknown flag");
	BAD_REGION(-EINVAL, r.backing_offset = 4096,
		   "backing_offset without VHOST_MEM_REGION_F_BACKING_FD");
	BAD_REGION(-EINVAL, r.node_id = -2, "node -2");
	BAD_REGION(-EINVAL, r.node_id = 1 << 20, "node 2^20");
	BAD_REGION(-EINVAL, r.node_id = INT_MAX, "node INT_MAX");
	/* a GPA range that wraps around 2^64 */
	BAD_REGION(-EOVERFLOW, r.guest_phys_addr = 0xffffffffffe00000ULL,
		   "GPA 2^64 - 2 MiB, size 32 MiB");
	region_works(_metadata, &self->e);
	vmt_rq_check_all(&self->e);
}

/* A host range that would wrap: EINVAL (out of range) or EOVERFLOW. */
TEST_F(ioctl, region_hva_wraps)
{
	struct vhost_mem_region r = self->e.region;
	int ret;

	region_ready(_metadata, self);
	r.userspace_addr = 0xffffffffffe00000ULL;
	ret = __vmt_mem_set_region(self->e.dev.fd, &r);
	EXPECT_TRUE(ret == -EINVAL || ret == -EOVERFLOW)
		TH_LOG("SET_REGION with hva 2^64 - 2 MiB, size 32 MiB: expected EINVAL or EOVERFLOW, got %s",
		       vmt_errstr(ret));
	expect_unchanged(_metadata, self->e.dev.fd, &self->before,
			 "a wrapping hva range");
	region_works(_metadata, &self->e);
}

TEST_F(ioctl, region_slot_ids)
{
	struct vmt_rq_env *e = &self->e;
	u32 nr = e->vm->nr_memslots;
	void *page;

	page = mmap(NULL, BLK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	region_ready(_metadata, self);
	/* 16 chunks of one block need 16 ids */
	BAD_REGION(-ENOSPC, (r.chunk_size = BLK, r.slot_count = 15),
		   "16 chunks, 15 ids");
	BAD_REGION(-ENOSPC, r.slot_count = 0, "0 ids");
	/* ids beyond KVM's user memslots (%u of them) */
	BAD_REGION(-EINVAL, r.slot_base = nr, "slot_base %u", nr);
	BAD_REGION(-EINVAL, (r.slot_base = nr - 1, r.slot_count = 2),
		   "slots %u-%u", nr - 1, nr);
	BAD_REGION(-EINVAL, r.slot_base = 0x10000, "slot_base 0x10000");
	BAD_REGION(-EINVAL, r.slot_base = UINT_MAX, "slot_base UINT_MAX");
	BAD_REGION(-EINVAL, r.slot_count = UINT_MAX, "slot_count UINT_MAX");
	BAD_REGION(-EINVAL, (r.slot_base = 1, r.slot_count = nr),
		   "%u ids from 1", nr);
	/* ids the VM uses: boot RAM is slot 0, the VMM takes 105 */
	BAD_REGION(-EBUSY, r.slot_base = 0, "slots from 0 (boot RAM's)");
	vmt_vm_add_memslot(e->vm, SLOT_BASE + 5, 64ULL << 30, BLK, page);
	status(_metadata, e->dev.fd, &self->before);
	BAD_REGION(-EBUSY, (r.chunk_size = BLK, r.slot_count = 16),
		   "slots %u-%u, %u in use", SLOT_BASE, SLOT_BASE + 15,
		   SLOT_BASE + 5);
	BAD_REGION(-EBUSY, (r.slot_base = SLOT_BASE + 5),
		   "slot %u, in use", SLOT_BASE + 5);
	vmt_vm_delete_memslot(e->vm, SLOT_BASE + 5);
	status(_metadata, e->dev.fd, &self->before);
	e->region.chunk_size = BLK;
	e->region.slot_count = 16;
	region_works(_metadata, e);
	vmt_rq_check_all(e);
	munmap(page, BLK);
}

TEST_F(ioctl, region_overlaps_vm_memslot)
{
	struct vmt_rq_env *e = &self->e;
	u64 val = 0;
	void *mem;

	mem = mmap(NULL, 2 * BLK, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	region_ready(_metadata, self);
	/* boot RAM is [0, 4 MiB) */
	BAD_REGION(-EEXIST, r.guest_phys_addr = BLK, "GPA 2 MiB (boot RAM)");
	/* a VMM memslot inside, and across either end */
	vmt_vm_add_memslot(e->vm, 50, GPA + 8 * BLK, BLK, mem);
	BAD_REGION(-EEXIST, (void)0, "over a VMM memslot at +16 MiB");
	vmt_vm_delete_memslot(e->vm, 50);
	vmt_vm_add_memslot(e->vm, 50, GPA - BLK, 2 * BLK, mem);
	BAD_REGION(-EEXIST, (void)0, "over a VMM memslot across the start");
	vmt_vm_delete_memslot(e->vm, 50);
	vmt_vm_add_memslot(e->vm, 50, GPA + REGION_SIZE - BLK, 2 * BLK, mem);
	BAD_REGION(-EEXIST, (void)0, "over a VMM memslot across the end");
	vmt_vm_delete_memslot(e->vm, 50);
	/* right next to it on both sides is fine */
	vmt_vm_add_memslot(e->vm, 50, GPA - BLK, BLK, mem);
	vmt_vm_add_memslot(e->vm, 51, GPA + REGION_SIZE, BLK,
			   (u8 *)mem + BLK);
	status(_metadata, e->dev.fd, &self->before);
	region_works(_metadata, e);
	/* the device's blocks and the neighbours are distinct */
	*(u64 *)mem = 0x51de;
	*(u64 *)vmt_rq_hva(e, 0) = 0xb10c;
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(e->vm, GPA - BLK, &val));
	EXPECT_EQ(0x51de, val);
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(e->vm, GPA, &val));
	EXPECT_EQ(0xb10c, val);
	vmt_vm_delete_memslot(e->vm, 50);
	vmt_vm_delete_memslot(e->vm, 51);
	vmt_rq_check_all(e);
	munmap(mem, 2 * BLK);
}

TEST_F(ioctl, region_backing_mapping)
{
	struct vmt_rq_env *e = &self->e;
	u8 *hole, *shared_anon, *priv_file;
	int memfd;

	region_ready(_metadata, self);
	/* a hole in the middle of the range */
	hole = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	ASSERT_EQ(0, munmap(hole + REGION_SIZE / 2, 4096));
	BAD_REGION(-EFAULT, r.userspace_addr = (uintptr_t)hole,
		   "a backing with a 4 KiB hole");
	/* the last page missing */
	ASSERT_EQ(0, munmap(hole + REGION_SIZE - 4096, 4096));
	ASSERT_EQ(0, munmap(hole, REGION_SIZE / 2 + 4096));
	BAD_REGION(-EFAULT, (r.userspace_addr = (uintptr_t)hole +
			     REGION_SIZE / 2 + 4096,
			     r.region_size = REGION_SIZE / 2 - 2 * 4096 + BLK),
		   "a backing whose last page is missing");
	ASSERT_EQ(0, munmap(hole, REGION_SIZE));
	BAD_REGION(-EFAULT, r.userspace_addr = (uintptr_t)hole,
		   "an unmapped backing");
	/* longer than the mapping */
	BAD_REGION(-EFAULT, (r.region_size = 64ULL << 20,
			     r.userspace_addr = (uintptr_t)hole),
		   "64 MiB over nothing");

	/* shared memory without backing_fd: it could not be discarded */
	shared_anon = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shared_anon);
	BAD_REGION(-EINVAL, r.userspace_addr = (uintptr_t)shared_anon,
		   "MAP_SHARED | MAP_ANONYMOUS without backing_fd");
	munmap(shared_anon, REGION_SIZE);

	/* a private mapping of a memfd, given as the memfd */
	memfd = memfd_create("vhost-mem-priv", MFD_CLOEXEC);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, ftruncate(memfd, REGION_SIZE));
	priv_file = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE, memfd, 0);
	ASSERT_NE(MAP_FAILED, priv_file);
	BAD_REGION(-EINVAL, (r.userspace_addr = (uintptr_t)priv_file,
			     r.flags = VHOST_MEM_REGION_F_BACKING_FD,
			     r.backing_fd = memfd),
		   "a MAP_PRIVATE mapping given with its memfd");
	munmap(priv_file, REGION_SIZE);
	close(memfd);

	/* read-only: KVM would map it so, and every guest write would exit */
	ASSERT_EQ(0, mprotect(e->backing.hva, BLK, PROT_READ));
	BAD_REGION(-EINVAL, (void)0,
		   "a backing whose first block is read-only");
	ASSERT_EQ(0, mprotect(e->backing.hva, BLK, PROT_READ | PROT_WRITE));
	region_works(_metadata, e);
	vmt_rq_check_all(e);
}

/* A file whose holes cannot be punched (ramfs: no fallocate()). */
TEST_F(ioctl, region_backing_fd_without_fallocate)
{
	char dir[] = "/tmp/vmt-ramfs.XXXXXX", path[64];
	void *mem;
	int fd;

	ASSERT_NE(NULL, mkdtemp(dir));
	if (mount("vmt", dir, "ramfs", 0, NULL)) {
		rmdir(dir);
		SKIP(return, "mount ramfs: %s", vmt_errname(errno));
	}
	snprintf(path, sizeof(path), "%s/backing", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, REGION_SIZE));
	mem = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	ASSERT_NE(MAP_FAILED, mem);
	region_ready(_metadata, self);
	BAD_REGION(-EOPNOTSUPP,
		   (r.userspace_addr = (uintptr_t)mem, r.backing_fd = fd,
		    r.flags |= VHOST_MEM_REGION_F_BACKING_FD),
		   "a shared ramfs mapping and its file");
	munmap(mem, REGION_SIZE);
	close(fd);
	umount(dir);
	rmdir(dir);
	region_works(_metadata, &self->e);
}

/* The backing file: writable, the one mapped, at the offset mapped. */
TEST_F(ioctl, region_backing_fd)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_backing mfd, other;
	char path[64];
	int ro, efd, closed;

	vmt_backing_init(&mfd, VMT_BACKING_MEMFD, REGION_SIZE);
	vmt_backing_init(&other, VMT_BACKING_MEMFD, REGION_SIZE);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd.fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ro);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	closed = dup(efd);
	ASSERT_LE(0, closed);
	close(closed);

	region_ready(_metadata, self);
	vmt_backing_free(&e->backing);
	e->backing = mfd;
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	ASSERT_EQ(VHOST_MEM_REGION_F_BACKING_FD, e->region.flags);

	BAD_REGION(-EBADF, r.backing_fd = ro, "a read-only backing_fd");
	BAD_REGION(-EBADF, r.backing_fd = closed, "a closed backing_fd");
	BAD_REGION(-EBADF, r.backing_fd = INT_MAX, "backing_fd INT_MAX");
	BAD_REGION(-EINVAL, r.backing_fd = efd,
		   "an eventfd as backing_fd");
	BAD_REGION(-EINVAL, r.backing_fd = other.fd,
		   "backing_fd of another memfd");
	BAD_REGION(-EINVAL, r.backing_offset = BLK,
		   "backing_offset 2 MiB, the mapping is at 0");
	BAD_REGION(-EINVAL, r.backing_offset = 4096,
		   "backing_offset 4 KiB, the mapping is at 0");
	BAD_REGION(-EINVAL, (r.flags = 0, r.backing_fd = -1),
		   "a MAP_SHARED memfd mapping without backing_fd");
	close(ro);
	close(efd);
	vmt_backing_free(&other);
	region_works(_metadata, e);
	vmt_rq_check_all(e);
}

/*
 * The flag with no file: the documentation says EBADF ("bad backing_fd").
 * The region must not be taken as plain anonymous memory instead.
 */
TEST_F(ioctl, region_backing_fd_minus_one)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_region r;
	int ret;

	region_ready(_metadata, self);
	/* anonymous memory, the flag, fd -1 and an offset to go with it */
	r = e->region;
	r.flags = VHOST_MEM_REGION_F_BACKING_FD;
	r.backing_fd = -1;
	r.backing_offset = BLK;
	ret = __vmt_mem_set_region(e->dev.fd, &r);
	ASSERT_EQ(-EBADF, ret)
		TH_LOG("SET_REGION with VHOST_MEM_REGION_F_BACKING_FD, backing_fd -1, backing_offset 2 MiB over anonymous memory: expected EBADF, got %s",
		       vmt_errstr(ret));
	expect_unchanged(_metadata, e->dev.fd, &self->before, "backing_fd -1");

	vmt_backing_free(&e->backing);
	vmt_backing_init(&e->backing, VMT_BACKING_MEMFD, REGION_SIZE);
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	r = e->region;
	r.backing_fd = -1;
	ret = __vmt_mem_set_region(e->dev.fd, &r);
	ASSERT_EQ(-EBADF, ret)
		TH_LOG("SET_REGION with VHOST_MEM_REGION_F_BACKING_FD and backing_fd -1 over a memfd: expected EBADF, got %s",
		       vmt_errstr(ret));
	expect_unchanged(_metadata, e->dev.fd, &self->before, "backing_fd -1");
	region_works(_metadata, e);
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* hugetlbfs: page size against block size, mixed page sizes          */
/* ------------------------------------------------------------------ */

TEST_F(ioctl, region_page_sizes)
{
	struct vmt_rq_env *e = &self->e;
	long long free_pages = vmt_meminfo_kb("HugePages_Free"), total;
	u8 *area, *huge;

	if (free_pages < 2 && !__vmt_read_long("/proc/sys/vm/nr_hugepages",
					       &total)) {
		FILE *f = fopen("/proc/sys/vm/nr_hugepages", "we");

		if (f) {
			fprintf(f, "%lld\n", total + 2 - free_pages);
			fclose(f);
		}
		free_pages = vmt_meminfo_kb("HugePages_Free");
	}
	if (free_pages < 2)
		SKIP(return, "no 2 MiB huge pages to be had (HugePages_Free %lld)",
		     free_pages);
	/* 4 MiB: 2 MiB of hugetlbfs, then 2 MiB of small pages */
	area = mmap(NULL, 6 * BLK, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	huge = (u8 *)VMT_ALIGN_UP((uintptr_t)area, BLK);
	ASSERT_NE(MAP_FAILED, mmap(huge, BLK, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
				   MAP_FIXED, -1, 0));
	ASSERT_NE(MAP_FAILED, mmap(huge + BLK, BLK, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				   -1, 0));
	region_ready(_metadata, self);
	BAD_REGION(-EINVAL, (r.userspace_addr = (uintptr_t)huge,
			     r.region_size = 2 * BLK),
		   "2 MiB of huge pages, then 2 MiB of small pages");
	BAD_REGION(-EINVAL, (r.userspace_addr = (uintptr_t)huge,
			     r.region_size = BLK, r.block_size = 1ULL << 20),
		   "1 MiB blocks on 2 MiB pages");
	/* 2 MiB blocks on 2 MiB pages are fine */
	vmt_backing_free(&e->backing);
	e->backing = (struct vmt_backing){
		.type = VMT_BACKING_ANON, .hva = area, .size = 6 * BLK,
		.fd = -1,
	};
	e->region.userspace_addr = (uintptr_t)huge;
	e->region.region_size = BLK;
	region_works(_metadata, e);
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* The size field                                                     */
/* ------------------------------------------------------------------ */

/* The largest size field the kernel takes (a page, as openat2). */
#define ARG_SIZE_MAX	4096U

/* A struct of size bytes: the known part, then a tail. */
struct big_arg {
	union {
		struct vhost_mem_region region;
		struct vhost_mem_vm vm;
		struct vhost_mem_status st;
	};
	u8 tail[4096];
};

TEST_F(ioctl, struct_size)
{
	struct vmt_rq_env *e = &self->e;
	static struct big_arg a;
	u32 sizes[] = { 0, 4, 7 };
	unsigned int i;
	int r;

	status(_metadata, e->dev.fd, &self->before);
	/* SET_VM */
	for (i = 0; i < VMT_ARRAY_SIZE(sizes); i++) {
		memset(&a, 0, sizeof(a));
		a.vm.size = sizes[i];
		a.vm.vm_fd = e->vm->vm_fd;
		EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
			     raw_ioctl(e->dev.fd, VHOST_MEM_SET_VM, &a),
			     "SET_VM with size %u", sizes[i]);
	}
	memset(&a, 0, sizeof(a));
	a.vm.size = sizeof(a.vm) + 8;
	a.vm.vm_fd = e->vm->vm_fd;
	((u8 *)&a)[sizeof(a.vm) + 3] = 1;
	EXPECT_ERRNO(e->dev.fd, &self->before, -E2BIG,
		     raw_ioctl(e->dev.fd, VHOST_MEM_SET_VM, &a),
		     "SET_VM with size %zu and a non-zero tail",
		     sizeof(a.vm) + 8);
	((u8 *)&a)[sizeof(a.vm) + 3] = 0;
	/* beyond a page: E2BIG, even with a zero tail (nothing is scanned) */
	a.vm.size = sizeof(a);
	EXPECT_ERRNO(e->dev.fd, &self->before, -E2BIG,
		     raw_ioctl(e->dev.fd, VHOST_MEM_SET_VM, &a),
		     "SET_VM with size %zu", sizeof(a));
	a.vm.size = UINT32_MAX;
	EXPECT_ERRNO(e->dev.fd, &self->before, -E2BIG,
		     raw_ioctl(e->dev.fd, VHOST_MEM_SET_VM, &a),
		     "SET_VM with size 4 GiB - 1");
	a.vm.size = ARG_SIZE_MAX;
	r = raw_ioctl(e->dev.fd, VHOST_MEM_SET_VM, &a);
	ASSERT_EQ(0, r) TH_LOG("SET_VM with size %u and a zero tail: %s",
			       ARG_SIZE_MAX, vmt_errstr(r));

	/* SET_REGION */
	status(_metadata, e->dev.fd, &self->before);
	for (i = 0; i < VMT_ARRAY_SIZE(sizes); i++) {
		memset(&a, 0, sizeof(a));
		a.region = e->region;
		a.region.size = sizes[i];
		EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
			     raw_ioctl(e->dev.fd, VHOST_MEM_SET_REGION, &a),
			     "SET_REGION with size %u", sizes[i]);
	}
	/* an older struct, without slot_count: 0 ids */
	memset(&a, 0, sizeof(a));
	a.region = e->region;
	a.region.size = offsetof(struct vhost_mem_region, slot_count);
	EXPECT_ERRNO(e->dev.fd, &self->before, -ENOSPC,
		     raw_ioctl(e->dev.fd, VHOST_MEM_SET_REGION, &a),
		     "SET_REGION of %u bytes (no slot_count)", a.region.size);
	a.region.size = sizeof(a.region) + 16;
	((u8 *)&a)[sizeof(a.region) + 15] = 0x80;
	EXPECT_ERRNO(e->dev.fd, &self->before, -E2BIG,
		     raw_ioctl(e->dev.fd, VHOST_MEM_SET_REGION, &a),
		     "SET_REGION with size %u and a non-zero tail",
		     a.region.size);
	((u8 *)&a)[sizeof(a.region) + 15] = 0;
	a.region.size = ARG_SIZE_MAX + 1;
	EXPECT_ERRNO(e->dev.fd, &self->before, -E2BIG,
		     raw_ioctl(e->dev.fd, VHOST_MEM_SET_REGION, &a),
		     "SET_REGION with size %u", a.region.size);
	a.region.size = ARG_SIZE_MAX;
	r = raw_ioctl(e->dev.fd, VHOST_MEM_SET_REGION, &a);
	ASSERT_EQ(0, r) TH_LOG("SET_REGION with size %u and a zero tail: %s",
			       ARG_SIZE_MAX, vmt_errstr(r));
	ASSERT_EQ(0, __vmt_mem_set_requested_size(e->dev.fd, REGION_SIZE));
	ASSERT_EQ(0, __vmt_mem_set_running(e->dev.fd, 1));
	vmt_rq_env_adopt(e, REGION_SIZE);
	vmt_rq_check_status(e);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, GPA, 3, NULL));
	vmt_rq_check_all(e);
}

TEST_F(ioctl, get_status_size)
{
	struct vmt_rq_env *e = &self->e;
	static struct big_arg a;
	struct vhost_mem_status full;
	u32 sizes[] = { 0, 4, 7 }, want;
	unsigned int i, j;

	vmt_rq_env_start(e, REGION_SIZE);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, GPA, 1, NULL));
	status(_metadata, e->dev.fd, &full);
	EXPECT_EQ(sizeof(full), full.size);

	for (i = 0; i < VMT_ARRAY_SIZE(sizes); i++) {
		memset(&a, 0xa5, sizeof(a));
		a.st.size = sizes[i];
		EXPECT_EQ(-EINVAL, raw_ioctl(e->dev.fd, VHOST_MEM_GET_STATUS,
					     &a))
			TH_LOG("GET_STATUS with size %u", sizes[i]);
	}
	/* a smaller (older) struct gets only that many bytes */
	for (want = 8; want <= sizeof(full); want += 8) {
		memset(&a, 0xa5, sizeof(a));
		a.st.size = want;
		ASSERT_EQ(0, raw_ioctl(e->dev.fd, VHOST_MEM_GET_STATUS, &a))
			TH_LOG("GET_STATUS with size %u", want);
		EXPECT_EQ(want, a.st.size);
		EXPECT_EQ(0, memcmp((u8 *)&a + 4, (u8 *)&full + 4, want - 4))
			TH_LOG("GET_STATUS with size %u: the first %u bytes differ from the full status",
			       want, want);
		for (j = want; j < sizeof(a); j++)
			if (((u8 *)&a)[j] != 0xa5)
				break;
		EXPECT_EQ(sizeof(a), j)
			TH_LOG("GET_STATUS with size %u wrote byte %u", want, j);
	}
	/* a larger (newer) struct gets what the kernel knows */
	memset(&a, 0xa5, sizeof(a));
	a.st.size = ARG_SIZE_MAX;
	ASSERT_EQ(0, raw_ioctl(e->dev.fd, VHOST_MEM_GET_STATUS, &a));
	EXPECT_EQ(sizeof(full), a.st.size)
		TH_LOG("GET_STATUS with size %u: size %u comes back, expected the kernel's %zu",
		       ARG_SIZE_MAX, a.st.size, sizeof(full));
	EXPECT_EQ(0, memcmp(&a.st, &full, sizeof(full)));
	for (j = sizeof(full); j < sizeof(a); j++)
		if (((u8 *)&a)[j] != 0xa5)
			break;
	EXPECT_EQ(sizeof(a), j) TH_LOG("GET_STATUS wrote byte %u past its struct",
				       j);
	vmt_rq_check_status(e);
}

/* ------------------------------------------------------------------ */
/* VHOST_MEM_SET_REQUESTED_SIZE and VHOST_MEM_SET_RUNNING             */
/* ------------------------------------------------------------------ */

TEST_F(ioctl, requested_size_values)
{
	static const u64 misaligned[] = {
		1ULL << 20, 4096, BLK + 1, 3ULL << 20, ~0ULL,
	};
	static const u64 beyond[] = {
		REGION_SIZE + BLK, 1ULL << 62, ~(BLK - 1),
	};
	struct vmt_rq_env *e = &self->e;
	unsigned int i;

	vmt_rq_env_start(e, 4 * BLK);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, GPA, 2, NULL));
	status(_metadata, e->dev.fd, &self->before);
	for (i = 0; i < VMT_ARRAY_SIZE(misaligned); i++)
		EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
			     __vmt_mem_set_requested_size(e->dev.fd,
							  misaligned[i]),
			     "SET_REQUESTED_SIZE 0x%llx",
			     (unsigned long long)misaligned[i]);
	for (i = 0; i < VMT_ARRAY_SIZE(beyond); i++)
		EXPECT_ERRNO(e->dev.fd, &self->before, -ERANGE,
			     __vmt_mem_set_requested_size(e->dev.fd, beyond[i]),
			     "SET_REQUESTED_SIZE 0x%llx (region 0x%llx)",
			     (unsigned long long)beyond[i],
			     (unsigned long long)REGION_SIZE);
	/* the edges are fine */
	vmt_rq_resize(e, REGION_SIZE);
	vmt_rq_resize(e, 0);
	vmt_rq_check_all(e);
}

TEST_F(ioctl, set_running_values)
{
	static const int bad[] = { 2, -1, 3, INT_MAX, INT_MIN };
	struct vmt_rq_env *e = &self->e;
	unsigned int i;

	status(_metadata, e->dev.fd, &self->before);
	for (i = 0; i < VMT_ARRAY_SIZE(bad); i++)
		EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
			     __vmt_mem_set_running(e->dev.fd, bad[i]),
			     "SET_RUNNING %d before any set-up", bad[i]);
	vmt_rq_env_start(e, REGION_SIZE);
	status(_metadata, e->dev.fd, &self->before);
	for (i = 0; i < VMT_ARRAY_SIZE(bad); i++)
		EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
			     __vmt_mem_set_running(e->dev.fd, bad[i]),
			     "SET_RUNNING %d while running", bad[i]);
	vmt_rq_set_running(e, false);
	status(_metadata, e->dev.fd, &self->before);
	EXPECT_ERRNO(e->dev.fd, &self->before, -EINVAL,
		     __vmt_mem_set_running(e->dev.fd, 2),
		     "SET_RUNNING 2 while stopped");
	vmt_rq_set_running(e, true);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, GPA, 1, NULL));
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* The VMM deletes the device's memslot behind its back               */
/* ------------------------------------------------------------------ */

/*
 * The VMM must not touch the device's memslots; if it does anyway, the
 * device's answers are its own business, but the kernel must not warn
 * (WARN_ON is for kernel bugs, and panic_on_warn hosts would go down).
 */
TEST_F(ioctl, vmm_deleted_device_memslot)
{
	struct vmt_rq_env *e = &self->e;
	struct vmt_mem_req req;
	int problems;

	vmt_rq_env_start(e, REGION_SIZE);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, GPA, 1, NULL));
	/* chunk 0 is memslot SLOT_BASE: KVM lets the VMM delete it */
	vmt_vm_delete_memslot(e->vm, SLOT_BASE);
	ASSERT_LE(0, __vmt_mem_request(&e->vq, VIRTIO_MEM_REQ_UNPLUG, GPA, 1,
				       &req));
	TH_LOG("UNPLUG of the block whose memslot the VMM deleted: %s",
	       vmt_mem_resp_name(req.resp_type));
	vmt_rq_env_close(e);
	vmt_sleep_ms(100);
	problems = __vmt_klog_problems(false);
	if (problems > e->klog_problems)
		__vmt_klog_problems(true);
	EXPECT_EQ(e->klog_problems, problems)
		TH_LOG("closing a device whose memslot the VMM had deleted: %d new kernel warnings (above)",
		       problems - e->klog_problems);
}

/* ------------------------------------------------------------------ */
/* Ioctl numbers, KVM's limits, VHOST_RESET_OWNER                     */
/* ------------------------------------------------------------------ */

/* nr as a binary built with a struct of size bytes would have it. */
static unsigned long resized(unsigned long nr, unsigned int size)
{
	return _IOC(_IOC_DIR(nr), _IOC_TYPE(nr), _IOC_NR(nr), size);
}

TEST_F(ioctl, numbers_built_from_other_struct_sizes)
{
	struct vmt_rq_env *e = &self->e;
	static struct big_arg a;
	struct vhost_mem_status st;
	u64 size = REGION_SIZE;
	int on = 1, r;

	memset(&a, 0, sizeof(a));
	a.vm.size = sizeof(a.vm);
	a.vm.vm_fd = e->vm->vm_fd;
	r = raw_ioctl(e->dev.fd, resized(VHOST_MEM_SET_VM, 4), &a);
	ASSERT_EQ(0, r) TH_LOG("SET_VM numbered for a 4-byte struct: %s",
			       vmt_errstr(r));
	memset(&a, 0, sizeof(a));
	a.region = e->region;
	a.region.size = sizeof(a.region) + 32;
	r = raw_ioctl(e->dev.fd, resized(VHOST_MEM_SET_REGION,
					 sizeof(a.region) + 32), &a);
	ASSERT_EQ(0, r) TH_LOG("SET_REGION numbered for a %zu-byte struct: %s",
			       sizeof(a.region) + 32, vmt_errstr(r));
	r = raw_ioctl(e->dev.fd, resized(VHOST_MEM_SET_REQUESTED_SIZE, 16),
		      &size);
	ASSERT_EQ(0, r) TH_LOG("SET_REQUESTED_SIZE numbered for 16 bytes: %s",
			       vmt_errstr(r));
	r = raw_ioctl(e->dev.fd, resized(VHOST_MEM_SET_RUNNING, 1), &on);
	ASSERT_EQ(0, r) TH_LOG("SET_RUNNING numbered for 1 byte: %s",
			       vmt_errstr(r));
	memset(&st, 0, sizeof(st));
	st.size = 16;
	r = raw_ioctl(e->dev.fd, resized(VHOST_MEM_GET_STATUS, 16), &st);
	ASSERT_EQ(0, r) TH_LOG("GET_STATUS numbered for 16 bytes: %s",
			       vmt_errstr(r));
	EXPECT_EQ(16, st.size);
	EXPECT_EQ(VHOST_MEM_STATUS_F_VM | VHOST_MEM_STATUS_F_REGION |
		  VHOST_MEM_STATUS_F_RUNNING, st.flags);
	vmt_rq_env_adopt(e, REGION_SIZE);
	vmt_rq_check_status(e);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, GPA, 2, NULL));
	vmt_vm_expect_read(e->vm, GPA + 8, 0, "plugged through the resized ioctls");
	vmt_rq_check_all(e);
	/* a number of ours that does not exist */
	r = raw_ioctl(e->dev.fd, _IOW(VHOST_VIRTIO, 0xEF, struct vhost_mem_vm), &a);
	EXPECT_EQ(-ENOTTY, r) TH_LOG("unknown ioctl 0xEF: expected ENOTTY, got %s",
				     vmt_errstr(r));
}

/* The guest-physical address width of this (test) machine's CPU. */
static unsigned int phys_bits(void)
{
	unsigned int bits = 0, virt;
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "re");

	while (f && !bits && fgets(line, sizeof(line), f))
		if (sscanf(line, "address sizes : %u bits physical, %u",
			   &bits, &virt) != 2)
			bits = 0;
	if (f)
		fclose(f);
	return bits;
}

#define KVM_MEMSLOT_MAX	((((1ULL << 31) - 1)) << 12)

TEST_F(ioctl, region_within_kvm_limits)
{
	const u64 huge = 8ULL << 40;	/* > KVM's largest memslot */
	struct vmt_backing big = { .fd = -1 };
	unsigned int bits = phys_bits();
	u64 top;

	ASSERT_LT(KVM_MEMSLOT_MAX, huge);
	ASSERT_LT(30, bits) TH_LOG("no address sizes in /proc/cpuinfo");
	top = 1ULL << bits;
	vmt_rq_backing_anon_aligned(&big, huge, BLK);
	region_ready(_metadata, self);

	BAD_REGION(-EINVAL,
		   (r.region_size = huge, r.userspace_addr = (uintptr_t)big.hva,
		    r.chunk_size = huge, r.slot_count = 1),
		   "with a chunk of 8 TiB (KVM's memslots end below)");
	BAD_REGION(-EINVAL,
		   (r.region_size = huge, r.userspace_addr = (uintptr_t)big.hva,
		    r.flags |= VHOST_MEM_REGION_F_HARD_PROTECT, r.chunk_size = 0,
		    r.slot_count = 4096),
		   "of 8 TiB with hard protection (a run can exceed a memslot)");
	BAD_REGION(-ERANGE, r.guest_phys_addr = top,
		   "at 2^%u, the end of the guest-physical address space", bits);
	BAD_REGION(-ERANGE, r.guest_phys_addr = top - REGION_SIZE / 2,
		   "across 2^%u", bits);
	BAD_REGION(-EINVAL, r.node_id = 65536,
		   "with node_id 65536 (a 16-bit proximity domain)");
	vmt_backing_free(&big);

	/* the last region that fits, with the largest proximity domain */
	self->e.region.guest_phys_addr = top - REGION_SIZE;
	self->e.region.node_id = 65535;
	ASSERT_EQ(0, __vmt_mem_set_region(self->e.dev.fd, &self->e.region));
	ASSERT_EQ(0, __vmt_mem_set_requested_size(self->e.dev.fd, REGION_SIZE));
	ASSERT_EQ(0, __vmt_mem_set_running(self->e.dev.fd, 1));
	vmt_rq_env_adopt(&self->e, REGION_SIZE);
	vmt_rq_check_status(&self->e);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(&self->e, VIRTIO_MEM_REQ_PLUG, top - BLK, 1, NULL))
		TH_LOG("PLUG of the block below 2^%u: KVM refused its memslot",
		       bits);
	vmt_rq_check_status(&self->e);
}

TEST_F(ioctl, reset_owner)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status st;
	int r, wstatus;
	pid_t child;

	vmt_rq_env_start(e, REGION_SIZE);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, GPA, 2, NULL));
	vmt_vm_expect_write(e->vm, GPA + 8, 7, "plugged");

	child = fork();
	ASSERT_LE(0, child);
	if (!child)
		_exit(raw_ioctl(e->dev.fd, VHOST_RESET_OWNER, NULL) == -EPERM ?
		      0 : 1);
	ASSERT_EQ(child, waitpid(child, &wstatus, 0));
	EXPECT_TRUE(WIFEXITED(wstatus) && !WEXITSTATUS(wstatus))
		TH_LOG("VHOST_RESET_OWNER from a forked child: expected EPERM");
	vmt_vm_expect_read(e->vm, GPA + 8, 7, "after the child's refused reset");

	r = raw_ioctl(e->dev.fd, VHOST_RESET_OWNER, NULL);
	ASSERT_EQ(0, r) TH_LOG("VHOST_RESET_OWNER: %s", vmt_errstr(r));
	status(_metadata, e->dev.fd, &st);
	EXPECT_EQ(0, st.flags) TH_LOG("flags 0x%x after the reset", st.flags);
	EXPECT_EQ(0, st.memslots);
	EXPECT_EQ(0, st.plugged_size);
	vmt_vm_expect_mmio(e->vm, GPA, "the device's memslot after VHOST_RESET_OWNER");
	r = __vmt_mem_set_requested_size(e->dev.fd, REGION_SIZE);
	EXPECT_EQ(-EPERM, r) TH_LOG("SET_REQUESTED_SIZE without an owner: expected EPERM, got %s",
				    vmt_errstr(r));

	/* the same fd, set up again */
	vmt_model_free(&e->model);
	e->started = false;
	vmt_dev_ready(&e->dev, e->want_features);
	vmt_rq_env_start(e, REGION_SIZE);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK,
		  vmt_rq_send(e, VIRTIO_MEM_REQ_PLUG, GPA + BLK, 1, NULL));
	vmt_vm_expect_read(e->vm, GPA + BLK + 8, 0, "plugged after the new set-up");
	vmt_rq_check_all(e);
}

TEST_HARNESS_MAIN
