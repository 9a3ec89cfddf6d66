// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: the KVM memslots of the device, seen by a real vCPU.
 *
 * A chunk of the region has a memslot (id slot_base + chunk) if and only if
 * one of its blocks is plugged.  The guest proves it: a read of a value the
 * test wrote through the backing returns that value, a read in a chunk with
 * no plugged block exits with KVM_EXIT_MMIO.
 *
 * - values written through the backing are what the guest reads, at the
 *   right offset of every chunk, right after the PLUG's ACK;
 * - chunks without a plugged block are MMIO, before and after the last
 *   block goes, while other chunks stay readable;
 * - chunk = block (memslots per block) and chunk = 4 blocks, a short last
 *   chunk, the default 1 GiB chunk;
 * - GET_STATUS memslots == chunks with a plugged block, and the ids used
 *   are exactly slot_base + chunk;
 * - UNPLUG_ALL removes them all; a block plugged again reads 0;
 * - closing the device deletes its memslots while the VM lives on, and
 *   frees the ids for the VMM; a device may hold the VM's last reference;
 * - so does the last close in another process (the fd passed over
 *   SCM_RIGHTS, the VMM's copy closed), by close() or by its exit, while
 *   the VMM lives: KVM takes memslot changes only from the VMM's mm;
 * - the VMM deletes one of the device's memslots and puts its own at that
 *   id: neither an UNPLUG nor the close deletes the VMM's, a restart does
 *   not adopt it (EBUSY, counted nowhere), and once the VMM gives the id
 *   back the device maps its chunk again.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"
#include "req_util.h"
#include "short_names.h"
#include "kselftest_harness.h"

#define REGION_SIZE	(32ULL << 20)	/* 16 blocks */
#define NR_BLOCKS	(REGION_SIZE / BLK)
#define VMM_VALUE	0x7777000000000077ULL	/* the VMM's own memory */

/* The answer must be ACK (and what the model says). */
#define RQ_ACK(e, type, block, nb) VMT_RQ_EXPECT(e, ACK, type, block, nb)

/* What the guest must see at a GPA: a value, or an MMIO exit. */
static void expect_value(struct __test_metadata *_metadata, struct vmt_vm *vm,
			 u64 gpa, u64 want)
{
	u64 val = 0;
	int r = vmt_guest_read_u64(vm, gpa, &val);

	ASSERT_EQ(VMT_ACCESS_OK, r)
		TH_LOG("guest read at GPA 0x%llx: expected the value 0x%llx, got %s",
		       (unsigned long long)gpa, (unsigned long long)want,
		       vmt_access_name(r));
	ASSERT_EQ(want, val)
		TH_LOG("guest read at GPA 0x%llx: expected 0x%llx, got 0x%llx",
		       (unsigned long long)gpa, (unsigned long long)want,
		       (unsigned long long)val);
}

static void expect_mmio(struct __test_metadata *_metadata, struct vmt_vm *vm,
			u64 gpa, const char *why)
{
	u64 val = 0;
	int r = vmt_guest_read_u64(vm, gpa, &val);

	ASSERT_EQ(VMT_ACCESS_MMIO, r)
		TH_LOG("guest read at GPA 0x%llx (%s): expected %s, got %s (value 0x%llx)",
		       (unsigned long long)gpa, why,
		       vmt_access_name(VMT_ACCESS_MMIO), vmt_access_name(r),
		       (unsigned long long)val);
}

static u32 status_memslots(struct __test_metadata *_metadata,
			   struct vmt_rq_env *e)
{
	struct vhost_mem_status st;

	EXPECT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	return st.memslots;
}

/* A recognisable value per block and offset. */
static u64 tag(u64 block, u64 off)
{
	return 0x5eed000000000000ULL | block << 32 | off;
}

static void put(struct vmt_rq_env *e, u64 block, u64 off, u64 val)
{
	*(volatile u64 *)((u8 *)vmt_rq_hva(e, block) + off) = val;
}

FIXTURE(slots) {
	struct vmt_rq_env e;
	u64 per_chunk;		/* blocks per chunk */
};

FIXTURE_VARIANT(slots) {
	enum vmt_backing_type type;
	u64 chunk_size;
};

FIXTURE_VARIANT_ADD(slots, anon_chunk_is_block) {
	.type = VMT_BACKING_ANON,
	.chunk_size = BLK,
};

FIXTURE_VARIANT_ADD(slots, memfd_chunk_is_block) {
	.type = VMT_BACKING_MEMFD,
	.chunk_size = BLK,
};

FIXTURE_VARIANT_ADD(slots, anon_chunk_4_blocks) {
	.type = VMT_BACKING_ANON,
	.chunk_size = 4 * BLK,
};

FIXTURE_VARIANT_ADD(slots, memfd_chunk_4_blocks) {
	.type = VMT_BACKING_MEMFD,
	.chunk_size = 4 * BLK,
};

FIXTURE_SETUP(slots)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(&self->e, variant->type, REGION_SIZE, ~0ULL);
	self->e.region.chunk_size = variant->chunk_size;
	self->per_chunk = variant->chunk_size / BLK;
}

FIXTURE_TEARDOWN(slots)
{
	vmt_rq_env_free(&self->e);
}

TEST_F(slots, guest_reads_what_was_written)
{
	struct vmt_rq_env *e = &self->e;
	u64 b, off;

	vmt_rq_env_start(e, REGION_SIZE);
	/* written before the PLUG, through the backing */
	for (b = 0; b < NR_BLOCKS; b++)
		for (off = 0; off < BLK; off += BLK / 4)
			put(e, b, off + 0x1238, tag(b, off));

	RQ_ACK(e, PLUG, 3, 1);
	/* the very next thing: the memslot is there already */
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 3) + 0x1238, tag(3, 0));
	RQ_ACK(e, PLUG, 9, 2);
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 10) + BLK / 2 + 0x1238,
		     tag(10, BLK / 2));
	for (off = 0; off < BLK; off += BLK / 4) {
		expect_value(_metadata, e->vm, vmt_rq_gpa(e, 3) + off + 0x1238,
			     tag(3, off));
		expect_value(_metadata, e->vm, vmt_rq_gpa(e, 9) + off + 0x1238,
			     tag(9, off));
	}
	/* and the guest's writes land in the backing */
	ASSERT_EQ(VMT_ACCESS_OK,
		  vmt_guest_write_u64(e->vm, vmt_rq_gpa(e, 9) + BLK - 8,
				      0xabcdef0123ULL));
	EXPECT_EQ(0xabcdef0123ULL,
		  *(volatile u64 *)((u8 *)vmt_rq_hva(e, 9) + BLK - 8));
	EXPECT_EQ(self->per_chunk == 1 ? 3 : 2, status_memslots(_metadata, e));
	vmt_rq_check_all(e);
}

TEST_F(slots, chunks_without_plugged_block_are_mmio)
{
	struct vmt_rq_env *e = &self->e;
	u64 b, first = 5 / self->per_chunk * self->per_chunk;

	vmt_rq_env_start(e, REGION_SIZE);
	for (b = 0; b < NR_BLOCKS; b++)
		expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, b),
			    "nothing plugged");
	put(e, 5, 8, tag(5, 8));
	RQ_ACK(e, PLUG, 5, 1);
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 5) + 8, tag(5, 8));
	for (b = 0; b < NR_BLOCKS; b++) {
		if (b >= first && b < first + self->per_chunk)
			continue;
		expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, b),
			    "chunk without a plugged block");
	}
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, NR_BLOCKS), "past the region");
	EXPECT_EQ(1, status_memslots(_metadata, e));
	vmt_rq_check_all(e);
}

TEST_F(slots, last_unplug_removes_memslot)
{
	struct vmt_rq_env *e = &self->e;

	vmt_rq_env_start(e, REGION_SIZE);
	put(e, 0, 0, tag(0, 0));
	put(e, 1, 0, tag(1, 0));
	put(e, 8, 64, tag(8, 64));
	RQ_ACK(e, PLUG, 0, 2);
	RQ_ACK(e, PLUG, 8, 1);
	EXPECT_EQ(self->per_chunk == 1 ? 3 : 2, status_memslots(_metadata, e));

	RQ_ACK(e, UNPLUG, 0, 1);
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 1), tag(1, 0));
	if (self->per_chunk == 1)
		expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 0),
			    "its chunk's only block was unplugged");
	EXPECT_EQ(2, status_memslots(_metadata, e));

	/* the last block of the chunk: MMIO again, chunk 8's stays */
	RQ_ACK(e, UNPLUG, 1, 1);
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 1),
		    "the chunk's last block was unplugged");
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 0),
		    "the chunk's last block was unplugged");
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 8) + 64, tag(8, 64));
	EXPECT_EQ(1, status_memslots(_metadata, e));
	vmt_rq_check_all(e);
}

/* Memslot before the ACK of PLUG, gone by the ACK of the last UNPLUG. */
TEST_F(slots, memslot_follows_each_answer)
{
	struct vmt_rq_env *e = &self->e;
	u64 b;

	vmt_rq_env_start(e, REGION_SIZE);
	for (b = 0; b < NR_BLOCKS; b++) {
		put(e, b, 16, tag(b, 16));
		RQ_ACK(e, PLUG, b, 1);
		expect_value(_metadata, e->vm, vmt_rq_gpa(e, b) + 16,
			     tag(b, 16));
		EXPECT_EQ(1, status_memslots(_metadata, e));
		RQ_ACK(e, UNPLUG, b, 1);
		expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, b) + 16,
			    "right after the UNPLUG of the only plugged block");
		EXPECT_EQ(0, status_memslots(_metadata, e));
	}
	vmt_rq_check_all(e);
}

TEST_F(slots, memslot_count_is_live_chunks)
{
	static const struct { u16 type; u64 block; u16 nb; } script[] = {
		{ PLUG, 0, 1 }, { PLUG, 2, 3 }, { PLUG, 15, 1 },
		{ UNPLUG, 3, 1 }, { PLUG, 7, 2 }, { UNPLUG, 0, 1 },
		{ UNPLUG, 2, 1 }, { PLUG, 11, 4 }, { UNPLUG, 4, 1 },
		{ UNPLUG, 7, 2 }, { PLUG, 0, 7 }, { UNPLUG, 12, 3 },
		{ UNPLUG, 15, 1 }, { UNPLUG, 1, 6 }, { PLUG, 8, 1 },
		{ UNPLUG_ALL, 0, 0 }, { PLUG, 4, 12 }, { UNPLUG, 4, 11 },
	};
	struct vmt_rq_env *e = &self->e;
	unsigned int i;

	vmt_rq_env_start(e, REGION_SIZE);
	for (i = 0; i < VMT_ARRAY_SIZE(script); i++) {
		RQ_ACK(e, script[i].type, script[i].block, script[i].nb);
		/* memslots == chunks with a plugged block, for KVM too */
		vmt_rq_check_status(e);
		vmt_rq_check_guest(e);
	}
	EXPECT_EQ(1, status_memslots(_metadata, e));
	vmt_rq_check_all(e);
}

/* Chunk i uses id slot_base + i: KVM refuses that id to the VMM. */
TEST_F(slots, memslot_ids)
{
	struct vmt_rq_env *e = &self->e;
	const u64 far = 64ULL << 30;
	u64 c, nr_chunks = NR_BLOCKS / self->per_chunk;
	void *page;
	int r;

	page = mmap(NULL, 2 * BLK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	vmt_rq_env_start(e, REGION_SIZE);
	RQ_ACK(e, PLUG, 1, 1);
	RQ_ACK(e, PLUG, 12, 1);
	for (c = 0; c < nr_chunks; c++) {
		bool live = vmt_model_chunk_live(&e->model, c);

		/* another size and address: refused while the id is in use */
		r = __vmt_vm_set_memslot(e->vm, SLOT_BASE + c, far, 2 * BLK,
					 page, 0);
		if (live) {
			EXPECT_EQ(-EINVAL, r)
				TH_LOG("memslot %llu (chunk %llu, live) taken over by the VMM: expected EINVAL, got %s",
				       (unsigned long long)(SLOT_BASE + c),
				       (unsigned long long)c,
				       vmt_errstr(r));
			continue;
		}
		EXPECT_EQ(0, r)
			TH_LOG("memslot %llu (chunk %llu, no plugged block) should be free: got %s",
			       (unsigned long long)(SLOT_BASE + c),
			       (unsigned long long)c, vmt_errname(-r));
		if (!r)
			vmt_vm_delete_memslot(e->vm, SLOT_BASE + c);
	}
	/* the device still owns its ids */
	RQ_ACK(e, PLUG, 5, 1);
	vmt_rq_check_all(e);
	munmap(page, 2 * BLK);
}

TEST_F(slots, unplug_all_removes_every_memslot)
{
	struct vmt_rq_env *e = &self->e;
	u64 b;

	vmt_rq_env_start(e, REGION_SIZE);
	RQ_ACK(e, PLUG, 0, 3);
	RQ_ACK(e, PLUG, 6, 1);
	RQ_ACK(e, PLUG, 9, 7);
	EXPECT_EQ(self->per_chunk == 1 ? 11 : 4, status_memslots(_metadata, e));
	RQ_ACK(e, UNPLUG_ALL, 0, 0);
	EXPECT_EQ(0, status_memslots(_metadata, e));
	for (b = 0; b < NR_BLOCKS; b++)
		expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, b) + 8,
			    "after UNPLUG_ALL");
	vmt_rq_check_all(e);
}

/* The guest's data is discarded: plugged again, the block reads 0. */
TEST_F(slots, replugged_block_reads_zero)
{
	struct vmt_rq_env *e = &self->e;
	u64 off;

	vmt_rq_env_start(e, REGION_SIZE);
	/* blocks 2 and 3 share a chunk unless chunk = block */
	RQ_ACK(e, PLUG, 2, 2);
	for (off = 0; off < 2 * BLK; off += 64 * 1024)
		ASSERT_EQ(VMT_ACCESS_OK,
			  vmt_guest_write_u64(e->vm,
					      vmt_rq_gpa(e, 2) + off + 24,
					      tag(2, off)));
	EXPECT_EQ(tag(2, 0), *(volatile u64 *)((u8 *)vmt_rq_hva(e, 2) + 24));

	RQ_ACK(e, UNPLUG, 2, 1);
	RQ_ACK(e, PLUG, 2, 1);
	for (off = 0; off < BLK; off += 64 * 1024) {
		expect_value(_metadata, e->vm, vmt_rq_gpa(e, 2) + off + 24, 0);
		EXPECT_EQ(0, *(volatile u64 *)((u8 *)vmt_rq_hva(e, 2) + off + 24));
	}
	/* the neighbour keeps its data */
	for (off = BLK; off < 2 * BLK; off += 64 * 1024)
		expect_value(_metadata, e->vm, vmt_rq_gpa(e, 2) + off + 24,
			     tag(2, off));
	/* and through UNPLUG_ALL */
	RQ_ACK(e, UNPLUG_ALL, 0, 0);
	RQ_ACK(e, PLUG, 3, 1);
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 3) + 24, 0);
	vmt_rq_check_all(e);
}

/* The memory goes with the device, even though the VM lives on. */
TEST_F(slots, close_deletes_memslots)
{
	struct vmt_rq_env *e = &self->e;
	u64 first_live = 1;
	void *page;
	int r;

	page = mmap(NULL, BLK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	vmt_rq_env_start(e, REGION_SIZE);
	put(e, 1, 0, tag(1, 0));
	put(e, 13, 0, tag(13, 0));
	RQ_ACK(e, PLUG, 1, 1);
	RQ_ACK(e, PLUG, 13, 1);
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 1), tag(1, 0));
	first_live = SLOT_BASE + 1 / self->per_chunk;
	r = __vmt_vm_set_memslot(e->vm, first_live, 64ULL << 30, BLK, page, 0);
	ASSERT_EQ(-EINVAL, r)
		TH_LOG("memslot %llu of a live chunk: expected EINVAL for the VMM, got %s",
		       (unsigned long long)first_live,
		       vmt_errstr(r));

	vmt_rq_env_close(e);
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 1), "the device was closed");
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 13), "the device was closed");
	/* the VM itself lives on */
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_write_u64(e->vm, VMT_GPA_MAILBOX + 64,
						     77));
	expect_value(_metadata, e->vm, VMT_GPA_MAILBOX + 64, 77);
	/* the id is free: the VMM can map the same GPA itself */
	r = __vmt_vm_set_memslot(e->vm, first_live, vmt_rq_gpa(e, 1), BLK,
				 page, 0);
	ASSERT_EQ(0, r) TH_LOG("memslot %llu after the device was closed: expected success, got %s",
			       (unsigned long long)first_live, vmt_errname(-r));
	*(u64 *)page = 0x77;
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 1), 0x77);
	vmt_vm_delete_memslot(e->vm, first_live);

	/* a new device on the same VM gets the same ids */
	vmt_rq_env_recreate(e, REGION_SIZE);
	RQ_ACK(e, PLUG, 1, 1);
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 1), tag(1, 0));
	vmt_rq_check_all(e);
	munmap(page, BLK);
}

/* Another process: takes the device fd, then closes it or exits on 'c'. */
static void __noreturn hold_device_fd(int sock, bool by_exit)
{
	int fd = __vmt_recv_fd(sock);
	char cmd;

	if (fd < 0 || write(sock, "r", 1) != 1 || read(sock, &cmd, 1) != 1)
		_exit(2);
	if (!by_exit && close(fd))
		_exit(3);
	_exit(0);
}

/* The id of block's chunk is free: the VMM can map the GPA itself. */
static void expect_id_free(struct __test_metadata *_metadata,
			   struct vmt_rq_env *e, u64 block, u64 per_chunk)
{
	u32 id = SLOT_BASE + block / per_chunk;
	void *page = mmap(NULL, BLK, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r;

	ASSERT_NE(MAP_FAILED, page);
	*(u64 *)page = VMM_VALUE;
	r = __vmt_vm_set_memslot(e->vm, id, vmt_rq_gpa(e, block), BLK, page, 0);
	ASSERT_EQ(0, r) TH_LOG("memslot %u after the last close: expected it free, got %s",
			       id, vmt_errname(-r));
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, block), VMM_VALUE);
	vmt_vm_delete_memslot(e->vm, id);
	munmap(page, BLK);
}

/* The VMM passes its device and closes its copy; the other one closes last. */
static void closed_in_another_process(struct __test_metadata *_metadata,
				      struct vmt_rq_env *e, u64 per_chunk,
				      bool by_exit)
{
	int sock, status;
	pid_t pid;
	char c;

	vmt_rq_env_start(e, REGION_SIZE);
	put(e, 1, 0, tag(1, 0));
	put(e, 13, 0, tag(13, 0));
	RQ_ACK(e, PLUG, 1, 1);
	RQ_ACK(e, PLUG, 13, 1);
	pid = vmt_fork_socket(&sock);
	if (!pid)
		hold_device_fd(sock, by_exit);
	ASSERT_EQ(0, __vmt_send_fd(sock, e->dev.fd));
	ASSERT_EQ(1, read(sock, &c, 1));
	vmt_rq_env_close(e);
	/* still open over there: still mapped */
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 13), tag(13, 0));

	ASSERT_EQ(1, write(sock, "c", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the other process ended with status 0x%x", status);
	close(sock);
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 1), "closed in another process");
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 13), "closed in another process");
	expect_id_free(_metadata, e, 1, per_chunk);
	expect_id_free(_metadata, e, 13, per_chunk);
	EXPECT_EQ(e->klog_problems, __vmt_klog_problems(true));
}

TEST_F(slots, close_in_another_process_deletes_memslots)
{
	closed_in_another_process(_metadata, &self->e, self->per_chunk, false);
}

TEST_F(slots, exit_of_another_process_deletes_memslots)
{
	closed_in_another_process(_metadata, &self->e, self->per_chunk, true);
}

/* 10 MiB in chunks of 8 MiB: the last chunk, and its memslot, is 2 MiB. */
TEST_F(slots, short_last_chunk)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status st;

	e->region.region_size = 5 * BLK;
	e->region.chunk_size = 4 * BLK;
	vmt_rq_env_start(e, 5 * BLK);
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	EXPECT_EQ(2, st.memslots_max);
	put(e, 4, BLK - 8, tag(4, BLK - 8));
	RQ_ACK(e, PLUG, 4, 1);
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 4) + BLK - 8,
		     tag(4, BLK - 8));
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 5), "past the region");
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 3), "chunk 0, unplugged");
	RQ_ACK(e, PLUG, 0, 4);
	RQ_ACK(e, UNPLUG, 4, 1);
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 4), "the short chunk, empty");
	vmt_rq_check_all(e);
}

/* The VM's only reference is the device's: memslots work, close is clean. */
TEST_F(slots, device_holds_the_last_vm_reference)
{
	struct vmt_rq_env *e = &self->e;
	struct vhost_mem_status st;
	int vm_fd, r;

	vm_fd = ioctl(e->vm->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm_fd);
	r = __vmt_mem_set_vm(e->dev.fd, vm_fd);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_SET_VM: %s", vmt_errname(-r));
	close(vm_fd);
	e->region.slot_count = NR_BLOCKS;
	r = __vmt_mem_set_region(e->dev.fd, &e->region);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_SET_REGION: %s", vmt_errname(-r));
	ASSERT_EQ(0, __vmt_mem_set_requested_size(e->dev.fd, REGION_SIZE));
	ASSERT_EQ(0, __vmt_mem_set_running(e->dev.fd, 1));

	ASSERT_EQ(ACK, __vmt_mem_plug(&e->vq, vmt_rq_gpa(e, 0), 3));
	ASSERT_EQ(ACK, __vmt_mem_plug(&e->vq, vmt_rq_gpa(e, 8), 1));
	ASSERT_EQ(ACK, __vmt_mem_unplug(&e->vq, vmt_rq_gpa(e, 1), 1));
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	EXPECT_EQ(3 * BLK, st.plugged_size);
	EXPECT_EQ(self->per_chunk == 1 ? 3 : 2, st.memslots);
	/* the VM goes with the device, memslots first */
	vmt_dev_close(&e->dev);
	r = __vmt_klog_problems(false);
	EXPECT_EQ(e->klog_problems, r)
		TH_LOG("closing the device that held the VM: %d new kernel complaints",
		       r - e->klog_problems);
}

/* ------------------------------------------------------------------ */
/* The default chunk of 1 GiB                                         */
/* ------------------------------------------------------------------ */

FIXTURE(gib) {
	struct vmt_rq_env e;
};

VMT_BACKING_VARIANTS(gib);

FIXTURE_SETUP(gib)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vmt_rq_env_init(&self->e, variant->type, 3ULL << 30, ~0ULL);
}

FIXTURE_TEARDOWN(gib)
{
	vmt_rq_env_free(&self->e);
}

TEST_F(gib, default_chunk)
{
	struct vmt_rq_env *e = &self->e;
	const u64 per_chunk = VMT_GIB / BLK;
	struct vhost_mem_status st;

	vmt_rq_env_start(e, 3ULL << 30);
	ASSERT_EQ(0, __vmt_mem_get_status(e->dev.fd, &st));
	EXPECT_EQ(VMT_GIB, st.chunk_size);
	EXPECT_EQ(3, st.memslots_max);
	put(e, 2 * per_chunk + 7, 0, tag(7, 0));
	RQ_ACK(e, PLUG, 0, 1);
	RQ_ACK(e, PLUG, 2 * per_chunk + 7, 1);
	EXPECT_EQ(2, status_memslots(_metadata, e));
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 2 * per_chunk + 7),
		     tag(7, 0));
	expect_mmio(_metadata, e->vm, VMT_RQ_GPA + VMT_GIB, "chunk 1, empty");
	expect_mmio(_metadata, e->vm, VMT_RQ_GPA + 2 * VMT_GIB - 8,
		    "chunk 1, empty");
	/* the memslot covers its whole chunk */
	expect_value(_metadata, e->vm, VMT_RQ_GPA + VMT_GIB - 8, 0);
	RQ_ACK(e, UNPLUG, 2 * per_chunk + 7, 1);
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 2 * per_chunk + 7),
		    "chunk 2, emptied");
	EXPECT_EQ(1, status_memslots(_metadata, e));
	vmt_rq_check_all(e);
}

/* ------------------------------------------------------------------ */
/* A VMM memslot at one of the device's ids                           */
/* ------------------------------------------------------------------ */


/*
 * The VMM deletes the memslot of block's chunk and maps its own memory at
 * the same id and GPA, size bytes of it; returns that memory.
 */
static void *vmm_takes_chunk_id(struct __test_metadata *_metadata,
				struct vmt_rq_env *e, u64 block, u64 per_chunk,
				u64 size)
{
	u64 first = block / per_chunk * per_chunk;
	u32 id = SLOT_BASE + block / per_chunk;
	void *mem;
	int r;

	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap");
	*(u64 *)mem = VMM_VALUE;
	r = __vmt_vm_set_memslot(e->vm, id, 0, 0, NULL, 0);
	TEST_ASSERT(!r, "the VMM deletes memslot %u: %s", id, vmt_errname(-r));
	r = __vmt_vm_set_memslot(e->vm, id, vmt_rq_gpa(e, first), size, mem, 0);
	TEST_ASSERT(!r, "the VMM maps its own memory at memslot %u: %s", id,
		    vmt_errname(-r));
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, first), VMM_VALUE);
	return mem;
}

/* Does the VMM's memslot still exist?  KVM refuses to move it onto boot RAM. */
static void expect_vmm_memslot(struct __test_metadata *_metadata,
			       struct vmt_rq_env *e, u64 block, u64 per_chunk,
			       const char *after)
{
	u64 gpa = vmt_rq_gpa(e, block / per_chunk * per_chunk);
	u64 val = 0;
	int r = vmt_guest_read_u64(e->vm, gpa, &val);

	ASSERT_EQ(VMT_ACCESS_OK, r)
		TH_LOG("%s: the VMM's memslot %llu was deleted by the device (guest read at 0x%llx: %s)",
		       after, (unsigned long long)(SLOT_BASE + block / per_chunk),
		       (unsigned long long)gpa, vmt_access_name(r));
	ASSERT_EQ(VMM_VALUE, val)
		TH_LOG("%s: guest read at 0x%llx: expected the VMM's 0x%llx, got 0x%llx",
		       after, (unsigned long long)gpa,
		       (unsigned long long)VMM_VALUE, (unsigned long long)val);
}

/*
 * Blocks 1 and 13 plugged (in two chunks), then the VMM takes the id of
 * block 1's chunk with a block of its own memory; returns that memory.
 */
static void *vmm_takes_plugged_chunk(struct __test_metadata *_metadata,
				     struct vmt_rq_env *e, u64 per_chunk)
{
	vmt_rq_env_start(e, REGION_SIZE);
	RQ_ACK(e, PLUG, 1, 1);
	RQ_ACK(e, PLUG, 13, 1);
	return vmm_takes_chunk_id(_metadata, e, 1, per_chunk, BLK);
}

/* The VMM deletes the memslot and memory of vmm_takes_plugged_chunk(). */
static void vmm_gives_chunk_back(struct vmt_rq_env *e, u64 per_chunk,
				 void *mem)
{
	vmt_vm_delete_memslot(e->vm, SLOT_BASE + 1 / per_chunk);
	munmap(mem, BLK);
}

TEST_F(slots, unplug_leaves_the_vmm_memslot)
{
	struct vmt_rq_env *e = &self->e;
	void *mem;

	mem = vmm_takes_plugged_chunk(_metadata, e, self->per_chunk);
	/* the unplug stands: the memslot is no longer the device's to delete */
	RQ_ACK(e, UNPLUG, 1, 1);
	expect_vmm_memslot(_metadata, e, 1, self->per_chunk, "UNPLUG");
	vmt_rq_env_close(e);
	expect_vmm_memslot(_metadata, e, 1, self->per_chunk, "close");
	vmm_gives_chunk_back(e, self->per_chunk, mem);
}

TEST_F(slots, close_leaves_the_vmm_memslot)
{
	struct vmt_rq_env *e = &self->e;
	void *mem;

	mem = vmm_takes_plugged_chunk(_metadata, e, self->per_chunk);
	vmt_rq_env_close(e);
	expect_vmm_memslot(_metadata, e, 1, self->per_chunk, "close");
	/* the device's other memslot went */
	expect_mmio(_metadata, e->vm, vmt_rq_gpa(e, 13), "the device was closed");
	vmm_gives_chunk_back(e, self->per_chunk, mem);
}

/* A VMM memslot of the chunk's very size at its id is not the device's. */
TEST_F(slots, restart_does_not_adopt_a_vmm_memslot)
{
	struct vmt_rq_env *e = &self->e;
	u64 chunk = self->per_chunk * BLK;
	void *mem;
	int r;

	vmt_rq_env_start(e, REGION_SIZE);
	put(e, 1, 0, tag(1, 0));
	RQ_ACK(e, PLUG, 1, 1);
	mem = vmm_takes_chunk_id(_metadata, e, 1, self->per_chunk, chunk);
	vmt_rq_set_running(e, false);
	ASSERT_EQ(0, __vmt_vq_attach(&e->vq, e->dev.fd, VHOST_MEM_REQUESTQ,
				     e->dev.features));
	r = __vmt_mem_set_running(e->dev.fd, 1);
	EXPECT_EQ(-EBUSY, r)
		TH_LOG("restart with the VMM's memslot at the chunk's id: expected EBUSY, got %s",
		       r ? vmt_errname(-r) : "success (adopted)");
	EXPECT_EQ(0, status_memslots(_metadata, e))
		TH_LOG("the VMM's memslot is counted as the device's");
	expect_vmm_memslot(_metadata, e, 1, self->per_chunk, "restart");

	/* the VMM gives the id back: the chunk is the device's again */
	vmt_vm_delete_memslot(e->vm, SLOT_BASE + 1 / self->per_chunk);
	vmt_rq_set_running(e, true);
	expect_value(_metadata, e->vm, vmt_rq_gpa(e, 1), tag(1, 0));
	vmt_rq_check_all(e);
	munmap(mem, chunk);
}

TEST_HARNESS_MAIN
