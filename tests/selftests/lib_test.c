// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: the test library checks itself, without vhost_mem.
 *
 * - the test VM: guest accesses anywhere in the identity map, on every
 *   probe vCPU (VMT_VCPUS), the KVM_RUN deadline;
 * - the residency probes of the backing memory;
 * - the split-virtqueue driver, against a vhost device that is known to
 *   work: vhost-vsock's TX queue returns every well-formed chain.
 */
#include <endian.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/virtio_vsock.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmt.h"
#include "kselftest_harness.h"

/* ------------------------------------------------------------------ */
/* The test VM                                                        */
/* ------------------------------------------------------------------ */

TEST(guest_reaches_the_whole_identity_map)
{
	u64 top, step, gpa, val;
	struct vmt_vm *vm;
	unsigned int n = 0;
	void *mem;

	VMT_REQUIRE_KVM();
	vm = vmt_vm_create(0);
	top = 1ULL << vm->guest_phys_bits;
	if (top > VMT_IDENTITY_MAP_SIZE)
		top = VMT_IDENTITY_MAP_SIZE;

	/* more distinct GiBs than the 2 MiB-page pool holds, if in use */
	step = top / 97;
	for (gpa = VMT_GIB; gpa + VMT_GIB <= top; gpa += step, n++)
		ASSERT_EQ(VMT_ACCESS_MMIO,
			  vmt_guest_read_u64(vm, gpa & ~(VMT_GIB - 1), &val))
			TH_LOG("GPA 0x%llx", (unsigned long long)gpa);
	TH_LOG("%u GiBs up to 0x%llx touched (MAXPHYADDR %u, %s pages)", n,
	       (unsigned long long)top, vm->guest_phys_bits,
	       vm->pages_1g ? "1 GiB" : "2 MiB");

	/* boot RAM and a memslot near the top still work afterwards */
	gpa = (top - VMT_GIB) & ~(VMT_GIB - 1);
	mem = mmap(NULL, 2 * VMT_MIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	*(u64 *)mem = 42;
	vmt_vm_add_memslot(vm, 1, gpa, 2 * VMT_MIB, mem);
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(vm, gpa, &val));
	EXPECT_EQ(42, val);
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_write_u64(vm, VMT_GPA_MAILBOX, 7));
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(vm, VMT_GPA_MAILBOX + 8,
						    &val));
	vmt_vm_free(vm);
	munmap(mem, 2 * VMT_MIB);
}

/* VMT_VCPUS=4: each access runs on all four, each to its own mailbox. */
TEST(every_probe_vcpu_makes_the_access)
{
	const u64 gpa = 0x8000;
	struct vmt_vm *vm;
	unsigned int i;
	u64 val, runs;

	VMT_REQUIRE_KVM();
	setenv("VMT_VCPUS", "4", 1);	/* this test's own process */
	vm = vmt_vm_create(0);
	ASSERT_EQ(4, vm->nr_probe_vcpus);
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_write_u64(vm, gpa, 0x1234));
	for (i = 0; i < 4; i++)
		vm->probe_vcpus[i].run->exit_reason = KVM_EXIT_UNKNOWN;
	runs = vm->nr_runs;
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(vm, gpa, &val));
	EXPECT_EQ(0x1234, val);
	EXPECT_LE(runs + 4, vm->nr_runs);
	for (i = 0; i < 4; i++) {
		struct kvm_run *run = vm->probe_vcpus[i].run;

		EXPECT_TRUE(run->exit_reason == KVM_EXIT_IO &&
			    run->io.port == VMT_PORT_DONE)
			TH_LOG("vCPU %u: last exit %u, not the done port",
			       vm->probe_vcpus[i].id, run->exit_reason);
	}
	vmt_vm_free(vm);
}

TEST(guest_that_never_reports_fails_the_test)
{
	char out[2048] = "";
	int status, pipefd[2];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	VMT_REQUIRE_KVM();
	ASSERT_EQ(0, pipe(pipefd));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* a VM of the child's own: vCPU ioctls need the VM's mm */
		struct vmt_vm *vm = vmt_vm_create(0);
		u8 *code = vmt_gpa2hva(vm, VMT_GPA_CODE);
		u64 val;

		dup2(pipefd[1], STDERR_FILENO);
		/* jmp to itself instead of the load */
		code[0] = 0xeb;
		code[1] = 0xfe;
		setenv("VMT_TIMEOUT_MS", "300", 1);
		vmt_guest_read_u64(vm, 0x8000, &val);
		_exit(0);	/* not reached: the deadline fails the test */
	}
	close(pipefd[1]);
	while (len + 1 < sizeof(out) &&
	       (n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(pipefd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == VMT_KSFT_FAIL)
		TH_LOG("a spinning guest should fail the test, status 0x%x",
		       status);
	EXPECT_NE(NULL, strstr(out, "did not reach port"))
		TH_LOG("expected the deadline's report, got:\n%s", out);
}

/* ------------------------------------------------------------------ */
/* Residency probes                                                   */
/* ------------------------------------------------------------------ */

TEST(anonymous_residency)
{
	const u64 size = 4 * VMT_MIB, pages = size / 4096;
	struct vmt_backing b;

	vmt_backing_init(&b, VMT_BACKING_ANON, size);
	EXPECT_EQ(0, vmt_resident_pages(b.hva, size));
	EXPECT_EQ(0, vmt_present_pages(b.hva, size));

	vmt_fill_pattern(b.hva, size, 1);
	EXPECT_EQ(size, vmt_check_pattern(b.hva, size, 1));
	EXPECT_NE(size, vmt_check_pattern(b.hva, size, 2));
	EXPECT_EQ(pages, vmt_resident_pages(b.hva, size));
	EXPECT_EQ(pages, vmt_present_pages(b.hva, size));

	ASSERT_EQ(0, madvise(b.hva, size / 2, MADV_DONTNEED));
	EXPECT_EQ(pages / 2, vmt_resident_pages(b.hva, size));
	EXPECT_EQ(pages / 2, vmt_present_pages(b.hva, size));
	EXPECT_EQ(0, vmt_check_pattern(b.hva, size, 1));
	EXPECT_EQ(0, *(u64 *)b.hva);
	vmt_backing_free(&b);
}

TEST(memfd_residency)
{
	const u64 size = 4 * VMT_MIB, pages = size / 4096;
	struct vmt_backing b;

	vmt_backing_init(&b, VMT_BACKING_MEMFD, size);
	EXPECT_EQ(0, vmt_memfd_allocated(b.fd));
	EXPECT_EQ(0, vmt_memfd_data_bytes(b.fd, 0, size));

	vmt_fill_pattern(b.hva, size, 3);
	EXPECT_EQ(size, vmt_memfd_allocated(b.fd));
	EXPECT_EQ(size, vmt_memfd_data_bytes(b.fd, 0, size));
	EXPECT_EQ(pages, vmt_present_pages(b.hva, size));

	/* MADV_DONTNEED drops the mapping, not the page cache */
	ASSERT_EQ(0, madvise(b.hva, VMT_MIB, MADV_DONTNEED));
	EXPECT_EQ(pages - 256, vmt_present_pages(b.hva, size));
	EXPECT_EQ(pages, vmt_resident_pages(b.hva, size));
	EXPECT_EQ(size, vmt_memfd_allocated(b.fd));

	ASSERT_EQ(0, fallocate(b.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       VMT_MIB, VMT_MIB));
	EXPECT_EQ(size - VMT_MIB, vmt_memfd_allocated(b.fd));
	EXPECT_EQ(size - VMT_MIB, vmt_memfd_data_bytes(b.fd, 0, size));
	EXPECT_EQ(0, vmt_memfd_data_bytes(b.fd, VMT_MIB, VMT_MIB));
	EXPECT_EQ(pages - 512, vmt_present_pages(b.hva, size));
	EXPECT_EQ(pages - 256, vmt_resident_pages(b.hva, size));
	vmt_backing_free(&b);
}

/* ------------------------------------------------------------------ */
/* The virtqueue driver against vhost-vsock                           */
/* ------------------------------------------------------------------ */

#define VSOCK_DEV	"/dev/vhost-vsock"
#define VSOCK_VQ_RX	0
#define VSOCK_VQ_TX	1
#define HDR_SIZE	((u32)sizeof(struct virtio_vsock_hdr))

FIXTURE(vsock) {
	struct vmt_vm *vm;
	struct vmt_vq rx, tx;
	int fd;
	u64 features;
};

FIXTURE_VARIANT(vsock) {
	bool event_idx;
};

FIXTURE_VARIANT_ADD(vsock, plain) {
	.event_idx = false,
};

FIXTURE_VARIANT_ADD(vsock, event_idx) {
	.event_idx = true,
};

static const char *vsock_skip_reason(void)
{
	char out[512];

	if (!access(VSOCK_DEV, F_OK))
		return NULL;
	if (vmt_modules_supported() &&
	    !__vmt_modprobe("vhost_vsock", false, out, sizeof(out)) &&
	    !__vmt_wait_path(VSOCK_DEV, true, 5000))
		return NULL;
	return VSOCK_DEV " is missing and vhost_vsock could not be loaded";
}

static int vsock_start(int fd, int running)
{
	return ioctl(fd, VHOST_VSOCK_SET_RUNNING, &running) ? -errno : 0;
}

FIXTURE_SETUP(vsock)
{
	const char *why = vsock_skip_reason();
	u64 want, cid;
	int r;

	self->fd = -1;
	if (why)
		SKIP(return, "%s", why);
	VMT_REQUIRE_KVM();

	self->vm = vmt_vm_create(0);
	vmt_vq_init(&self->rx, self->vm, 0);
	vmt_vq_init(&self->tx, self->vm, 0);
	self->fd = __vmt_vhost_open(VSOCK_DEV);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", VSOCK_DEV,
				      vmt_errname(-self->fd));
	ASSERT_EQ(0, __vmt_vhost_set_owner(self->fd));
	ASSERT_EQ(0, __vmt_vhost_get_features(self->fd, &self->features));
	want = 1ULL << VIRTIO_F_VERSION_1 |
	       1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (variant->event_idx)
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	self->features &= want;
	if (variant->event_idx &&
	    !(self->features & (1ULL << VIRTIO_RING_F_EVENT_IDX)))
		SKIP(return, "vhost-vsock does not offer EVENT_IDX");
	ASSERT_EQ(0, __vmt_vhost_set_features(self->fd, self->features));
	ASSERT_EQ(0, __vmt_vhost_set_mem_table_vm(self->fd, self->vm));
	r = __vmt_vq_attach(&self->rx, self->fd, VSOCK_VQ_RX, self->features);
	ASSERT_EQ(0, r) TH_LOG("rx %s: %s", self->rx.failed_op,
			       vmt_errname(-r));
	r = __vmt_vq_attach(&self->tx, self->fd, VSOCK_VQ_TX, self->features);
	ASSERT_EQ(0, r) TH_LOG("tx %s: %s", self->tx.failed_op,
			       vmt_errname(-r));
	/* a CID of our own; nobody listens to it */
	cid = 100000 + (u64)getpid() * 2 + variant->event_idx;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_VSOCK_SET_GUEST_CID, &cid));
	ASSERT_EQ(0, vsock_start(self->fd, 1));
}

FIXTURE_TEARDOWN(vsock)
{
	if (self->fd < 0)
		return;
	close(self->fd);
	vmt_vq_destroy(&self->rx);
	vmt_vq_destroy(&self->tx);
	vmt_vm_free(self->vm);
}

/*
 * A packet header in head's scratch that vhost-vsock drops (src_cid 0 is
 * not the guest's CID) but still returns to the used ring.
 */
static u64 vsock_hdr(struct vmt_vq *vq, u16 head)
{
	struct virtio_vsock_hdr *h = vmt_vq_scratch(vq, head);

	memset(h, 0, sizeof(*h));
	h->src_cid = 0;
	h->dst_cid = htole64(2);
	h->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = htole16(VIRTIO_VSOCK_OP_RST);
	return vmt_vq_scratch_gpa(vq, head);
}

/* Queue one packet split into n pieces (n <= HDR_SIZE); returns head. */
static int vsock_queue(struct vmt_vq *vq, unsigned int n, unsigned int flags,
		       u64 cookie)
{
	struct vmt_buf bufs[VMT_VQ_MAX_CHAIN];
	int head = __vmt_vq_peek_head(vq);
	u32 off = 0, piece = HDR_SIZE / n;
	unsigned int i;
	u64 gpa;

	if (head < 0)
		return head;
	gpa = vsock_hdr(vq, head);
	for (i = 0; i < n; i++) {
		bufs[i].gpa = gpa + off;
		bufs[i].len = i + 1 < n ? piece : HDR_SIZE - off;
		bufs[i].write = false;
		off += bufs[i].len;
	}
	head = __vmt_vq_add(vq, bufs, n, flags, cookie);
	if (head >= 0)
		vmt_vq_publish(vq, head);
	return head;
}

static void expect_used(struct __test_metadata *_metadata, struct vmt_vq *vq,
			int head, u64 cookie)
{
	struct vmt_used u;

	ASSERT_EQ(1, vmt_vq_wait_used(vq, &u, vmt_timeout_ms()))
		TH_LOG("no used entry for head %d within %d ms (used->idx %u)",
		       head, vmt_timeout_ms(), vmt_vq_used_idx(vq));
	EXPECT_EQ(head, u.id);
	EXPECT_TRUE(u.known);
	EXPECT_EQ(cookie, u.cookie);
	EXPECT_LE(u.len, HDR_SIZE);
}

TEST_F(vsock, one_chain)
{
	int head = vsock_queue(&self->tx, 1, 0, 11);

	ASSERT_LE(0, head);
	EXPECT_TRUE(vmt_vq_kick(&self->tx));
	expect_used(_metadata, &self->tx, head, 11);
	/* the entry may be seen before the call is: wait for the call */
	if (!self->tx.calls)
		vmt_vq_wait_call(&self->tx, vmt_timeout_ms());
	EXPECT_LE(1, self->tx.calls);
	EXPECT_EQ(0, self->tx.inflight);
	EXPECT_EQ(self->tx.num, self->tx.nfree);
	EXPECT_EQ(0, vmt_vq_wait_errors(&self->tx, 0));
}

TEST_F(vsock, split_and_indirect_chains)
{
	static const unsigned int pieces[] = { 2, 3, 11, 44 };
	unsigned int i;
	int head;

	for (i = 0; i < ARRAY_SIZE(pieces); i++) {
		head = vsock_queue(&self->tx, pieces[i], 0, i);
		ASSERT_LE(0, head);
		vmt_vq_kick(&self->tx);
		expect_used(_metadata, &self->tx, head, i);
	}
	if (!(self->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC)))
		SKIP(return, "vhost-vsock does not offer INDIRECT_DESC");
	for (i = 0; i < ARRAY_SIZE(pieces); i++) {
		head = vsock_queue(&self->tx, pieces[i], VMT_CHAIN_INDIRECT,
				   100 + i);
		ASSERT_LE(0, head);
		vmt_vq_kick(&self->tx);
		expect_used(_metadata, &self->tx, head, 100 + i);
	}
	EXPECT_EQ(self->tx.num, self->tx.nfree);
	EXPECT_EQ(0, vmt_vq_wait_errors(&self->tx, 0));
}

/* Many chains with one kick, over and over: the ring wraps many times. */
static void batches(struct __test_metadata *_metadata, struct vmt_vq *vq,
		    unsigned int rounds, unsigned int per_round)
{
	unsigned int r, i, got;
	struct vmt_used u;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < per_round; i++)
			ASSERT_LE(0, vsock_queue(vq, 2, 0, i));
		vmt_vq_kick(vq);
		for (got = 0; got < per_round; got++) {
			ASSERT_EQ(1, vmt_vq_wait_used(vq, &u,
						      vmt_timeout_ms()))
				TH_LOG("round %u: %u of %u used entries came",
				       r, got, per_round);
			ASSERT_TRUE(u.known);
		}
	}
	EXPECT_EQ(0, vq->inflight);
	EXPECT_EQ(vq->num, vq->nfree);
}

TEST_F(vsock, batches_with_one_kick)
{
	/* two descriptors each: 60 of them fit in the 128-entry ring */
	batches(_metadata, &self->tx, 17, 60);
	TH_LOG("%llu kicks (%llu suppressed), %llu calls for 1020 chains",
	       (unsigned long long)self->tx.kicks,
	       (unsigned long long)self->tx.kicks_suppressed,
	       (unsigned long long)self->tx.calls);
	EXPECT_GE(17, self->tx.kicks);
	EXPECT_LE(1, self->tx.calls);
	EXPECT_GE(1020, self->tx.calls);
}

TEST_F(vsock, indices_wrap_around_16_bits)
{
	int r;

	ASSERT_EQ(0, vsock_start(self->fd, 0));
	r = __vmt_vq_attach_base(&self->tx, self->fd, VSOCK_VQ_TX,
				 self->features, 65500);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", self->tx.failed_op, vmt_errname(-r));
	ASSERT_EQ(0, vsock_start(self->fd, 1));
	batches(_metadata, &self->tx, 4, 50);
	EXPECT_EQ((u16)(65500 + 200), vmt_vq_used_idx(&self->tx));
}

TEST_F(vsock, idle_wait_times_out)
{
	struct vmt_used u;
	u64 t0 = vmt_now_ns(), ms;

	EXPECT_EQ(0, vmt_vq_wait_used(&self->tx, &u, 300));
	ms = (vmt_now_ns() - t0) / 1000000;
	EXPECT_LE(290, ms);
	EXPECT_GT(3000, ms);
	EXPECT_EQ(0, vmt_vq_wait_call(&self->tx, 50));
}

TEST_F(vsock, broken_chains_reach_the_device)
{
	struct vmt_used u;
	int head;

	/* a loop: the second descriptor points back at the first */
	head = vsock_queue(&self->tx, 2, 0, 1);
	ASSERT_LE(0, head);
	vmt_vq_chain_desc(&self->tx, head, 1)->flags |=
		htole16(VRING_DESC_F_NEXT);
	vmt_vq_chain_desc(&self->tx, head, 1)->next = htole16(head);
	vmt_vq_kick(&self->tx);
	EXPECT_LE(1, vmt_vq_wait_errors(&self->tx, vmt_timeout_ms()))
		TH_LOG("vhost reported no error for a descriptor loop");
	EXPECT_EQ(0, vmt_vq_wait_used(&self->tx, &u, 100));
}

TEST_F(vsock, head_out_of_range_reaches_the_device)
{
	struct vmt_used u;

	vmt_vq_publish(&self->tx, self->tx.num + 3);
	vmt_vq_kick_force(&self->tx);
	EXPECT_LE(1, vmt_vq_wait_errors(&self->tx, vmt_timeout_ms()))
		TH_LOG("vhost reported no error for head %u", self->tx.num + 3);
	EXPECT_EQ(0, vmt_vq_wait_used(&self->tx, &u, 100));
}

TEST_HARNESS_MAIN
