// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: the device as a whole.
 *
 * - the module unloads and loads again, its node comes and goes, and it
 *   cannot be removed while a device is open;
 * - /dev/vhost-mem opens, each open is its own device;
 * - VHOST_SET_OWNER works once, other processes cannot drive the device;
 * - the features offered;
 * - the test VM itself: memslots really come and go for the guest;
 * - releasing a set-up device leaks nothing.
 */
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"
#include "kselftest_harness.h"

/* Where the tests below put their device region and test memslots. */
#define TEST_REGION_GPA		(4ULL << 30)
#define TEST_REGION_SIZE	(256ULL << 20)
#define TEST_BLOCK_SIZE		(2ULL << 20)
#define TEST_SLOT_BASE		100

/* ------------------------------------------------------------------ */
/* Module load and unload                                             */
/* ------------------------------------------------------------------ */

FIXTURE(module) {
	char out[2048];
};

FIXTURE_SETUP(module)
{
	int r;

	if (!vmt_modroot())
		SKIP(return, "VHOST_MEM_MODROOT is unset: the module is not installed for modprobe -d (run through tests/vm/run.sh)");
	if (!vmt_modules_supported())
		SKIP(return, "this kernel has no module support (/proc/modules is absent)");
	if (!vmt_module_loaded(VMT_MODULE_NAME)) {
		r = __vmt_modprobe(VMT_MODULE_NAME, false, self->out,
				   sizeof(self->out));
		ASSERT_EQ(0, r) TH_LOG("modprobe %s: exit %d: %s",
				       VMT_MODULE_NAME, r, self->out);
	}
}

FIXTURE_TEARDOWN(module)
{
	int r;

	/* The tests that follow need the module. */
	if (vmt_module_loaded(VMT_MODULE_NAME))
		return;
	r = __vmt_modprobe(VMT_MODULE_NAME, false, self->out, sizeof(self->out));
	EXPECT_EQ(0, r) TH_LOG("reloading %s after the test: exit %d: %s",
			       VMT_MODULE_NAME, r, self->out);
	EXPECT_EQ(0, __vmt_wait_path(VMT_VHOST_MEM_DEV, true, 5000));
}

static int module_unload(struct __test_metadata *_metadata, char *out,
			 size_t outlen)
{
	int r = __vmt_modprobe(VMT_MODULE_NAME, true, out, outlen);

	EXPECT_EQ(0, r) TH_LOG("modprobe -r %s with no device open: exit %d: %s",
			       VMT_MODULE_NAME, r, out);
	if (r)
		return -1;
	EXPECT_FALSE(vmt_module_loaded(VMT_MODULE_NAME))
		TH_LOG("/sys/module/%s still exists after modprobe -r",
		       VMT_MODULE_NAME);
	EXPECT_EQ(0, __vmt_wait_path(VMT_VHOST_MEM_DEV, false, 5000))
		TH_LOG("%s still exists 5 s after the module was removed",
		       VMT_VHOST_MEM_DEV);
	return _metadata->exit_code ? -1 : 0;
}

static int module_load(struct __test_metadata *_metadata, char *out,
		       size_t outlen)
{
	int r = __vmt_modprobe(VMT_MODULE_NAME, false, out, outlen);

	EXPECT_EQ(0, r) TH_LOG("modprobe %s: exit %d: %s", VMT_MODULE_NAME,
			       r, out);
	if (r)
		return -1;
	EXPECT_EQ(0, __vmt_wait_path(VMT_VHOST_MEM_DEV, true, 5000))
		TH_LOG("%s did not appear within 5 s of loading the module",
		       VMT_VHOST_MEM_DEV);
	EXPECT_EQ(0, __vmt_module_refcnt(VMT_MODULE_NAME))
		TH_LOG("a freshly loaded module with no device open should have refcnt 0");
	return _metadata->exit_code ? -1 : 0;
}

TEST_F_TIMEOUT(module, unload_and_reload, 120)
{
	struct stat st;
	int fd;

	ASSERT_EQ(0, module_unload(_metadata, self->out, sizeof(self->out)));
	ASSERT_EQ(0, module_load(_metadata, self->out, sizeof(self->out)));

	ASSERT_EQ(0, stat(VMT_VHOST_MEM_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode))
		TH_LOG("%s: expected a character device, mode is 0%o",
		       VMT_VHOST_MEM_DEV, st.st_mode);
	fd = open(VMT_VHOST_MEM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open(%s) after reloading: %s",
				VMT_VHOST_MEM_DEV, vmt_errname(errno));
	EXPECT_EQ(1, __vmt_module_refcnt(VMT_MODULE_NAME))
		TH_LOG("one open device should hold one module reference");
	close(fd);
	EXPECT_EQ(0, __vmt_module_refcnt(VMT_MODULE_NAME))
		TH_LOG("closing the only device should drop its module reference");

	/* and once more, so that unload after a use is covered too */
	ASSERT_EQ(0, module_unload(_metadata, self->out, sizeof(self->out)));
	ASSERT_EQ(0, module_load(_metadata, self->out, sizeof(self->out)));
}

TEST_F_TIMEOUT(module, unload_refused_while_open, 120)
{
	u64 features;
	int fd, r;

	fd = vmt_mem_open();
	ASSERT_EQ(0, __vmt_vhost_set_owner(fd));
	ASSERT_LE(1, __vmt_module_refcnt(VMT_MODULE_NAME))
		TH_LOG("an open device must hold a module reference");

	r = __vmt_delete_module(VMT_MODULE_NAME);
	EXPECT_TRUE(r == -EWOULDBLOCK || r == -EBUSY)
		TH_LOG("delete_module(%s, O_NONBLOCK) with a device open: expected EWOULDBLOCK or EBUSY, got %s",
		       VMT_MODULE_NAME, vmt_errstr(r));
	r = __vmt_modprobe(VMT_MODULE_NAME, true, self->out, sizeof(self->out));
	EXPECT_NE(0, r) TH_LOG("modprobe -r %s with a device open succeeded",
			       VMT_MODULE_NAME);
	EXPECT_NE(NULL, strstr(self->out, "in use"))
		TH_LOG("modprobe -r with a device open: expected 'in use', got: %s",
		       self->out);
	ASSERT_TRUE(vmt_module_loaded(VMT_MODULE_NAME))
		TH_LOG("the module went away under an open device");
	EXPECT_EQ(0, access(VMT_VHOST_MEM_DEV, F_OK));

	/* the open device still answers */
	EXPECT_EQ(0, __vmt_vhost_get_features(fd, &features));
	EXPECT_TRUE(features & (1ULL << VIRTIO_F_VERSION_1));

	close(fd);
	EXPECT_EQ(0, __vmt_module_refcnt(VMT_MODULE_NAME))
		TH_LOG("closing the device should drop its module reference");
	ASSERT_EQ(0, module_unload(_metadata, self->out, sizeof(self->out)));
	ASSERT_EQ(0, module_load(_metadata, self->out, sizeof(self->out)));
}

/* ------------------------------------------------------------------ */
/* The device node and ownership                                      */
/* ------------------------------------------------------------------ */

TEST(open_close)
{
	struct stat st;
	int fd1, fd2;

	VMT_REQUIRE_DEVICE();
	fd1 = vmt_mem_open();
	ASSERT_EQ(0, fstat(fd1, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));

	/* each open is a device of its own: both can be owned */
	fd2 = vmt_mem_open();
	EXPECT_EQ(0, __vmt_vhost_set_owner(fd1));
	EXPECT_EQ(0, __vmt_vhost_set_owner(fd2))
		TH_LOG("a second open of %s should be a new device with no owner",
		       VMT_VHOST_MEM_DEV);
	EXPECT_EQ(0, close(fd1));
	EXPECT_EQ(0, close(fd2));
}

TEST(set_owner_once)
{
	int fd, r;

	VMT_REQUIRE_DEVICE();
	fd = vmt_mem_open();
	r = __vmt_vhost_set_owner(fd);
	ASSERT_EQ(0, r) TH_LOG("first VHOST_SET_OWNER: %s", vmt_errname(-r));
	r = __vmt_vhost_set_owner(fd);
	EXPECT_EQ(-EBUSY, r)
		TH_LOG("second VHOST_SET_OWNER: expected EBUSY, got %s",
		       vmt_errstr(r));
	close(fd);
}

TEST(unowned_device_refuses_setup)
{
	struct vmt_vm *vm;
	int fd, r;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vm = vmt_vm_create(0);
	fd = vmt_mem_open();
	r = __vmt_vhost_set_mem_table_vm(fd, vm);
	EXPECT_EQ(-EPERM, r)
		TH_LOG("VHOST_SET_MEM_TABLE before VHOST_SET_OWNER: expected EPERM, got %s",
		       vmt_errstr(r));
	r = __vmt_vhost_set_vring_num(fd, VHOST_MEM_REQUESTQ, 128);
	EXPECT_EQ(-EPERM, r)
		TH_LOG("VHOST_SET_VRING_NUM before VHOST_SET_OWNER: expected EPERM, got %s",
		       vmt_errstr(r));
	close(fd);
	vmt_vm_free(vm);
}

/* What a child tried on its parent's device, and what it got. */
struct child_report {
	int failures;
	char text[4096];
};

static void child_expect(struct child_report *rep, const char *what,
			 int expected, int got)
{
	size_t len = strlen(rep->text);

	if (got == expected)
		return;
	rep->failures++;
	snprintf(rep->text + len, sizeof(rep->text) - len,
		 "#   %s from a non-owner process: expected %s, got %s\n",
		 what, vmt_errstr(expected),
		 vmt_errstr(got));
}

/*
 * Run fn in a forked child (another mm) and return its report, which lives
 * in shared memory so that the parent can print it.
 */
static struct child_report *run_in_child(
	struct __test_metadata *_metadata,
	void (*fn)(struct child_report *rep, int fd, void *arg),
	int fd, void *arg)
{
	struct child_report *rep;
	int status;
	pid_t pid;

	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED)
		return NULL;
	memset(rep, 0, sizeof(*rep));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (!pid) {
		fn(rep, fd, arg);
		_exit(0);
	}
	EXPECT_LT(0, pid);
	if (pid > 0) {
		EXPECT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("the child ended with status 0x%x", status);
	}
	return rep;
}

static void child_vhost_ioctls(struct child_report *rep, int fd, void *arg)
{
	struct vmt_vq *vq = arg;
	struct vhost_vring_addr addr = {
		.index = VHOST_MEM_REQUESTQ,
		.desc_user_addr = (u64)(uintptr_t)vq->desc,
		.avail_user_addr = (u64)(uintptr_t)vq->avail,
		.used_user_addr = (u64)(uintptr_t)vq->used,
	};
	int efd = eventfd(0, EFD_CLOEXEC);
	unsigned int base;
	u64 features;

	child_expect(rep, "VHOST_SET_OWNER", -EBUSY, __vmt_vhost_set_owner(fd));
	child_expect(rep, "VHOST_SET_MEM_TABLE", -EPERM,
		     __vmt_vhost_set_mem_table_vm(fd, vq->vm));
	child_expect(rep, "VHOST_SET_VRING_NUM", -EPERM,
		     __vmt_vhost_set_vring_num(fd, VHOST_MEM_REQUESTQ, 64));
	child_expect(rep, "VHOST_SET_VRING_BASE", -EPERM,
		     __vmt_vhost_set_vring_base(fd, VHOST_MEM_REQUESTQ, 5));
	child_expect(rep, "VHOST_GET_VRING_BASE", -EPERM,
		     __vmt_vhost_get_vring_base(fd, VHOST_MEM_REQUESTQ, &base));
	child_expect(rep, "VHOST_SET_VRING_ADDR", -EPERM,
		     __vmt_vhost_set_vring_addr(fd, &addr));
	child_expect(rep, "VHOST_SET_VRING_KICK", -EPERM,
		     __vmt_vhost_set_vring_kick(fd, VHOST_MEM_REQUESTQ, efd));
	child_expect(rep, "VHOST_SET_VRING_CALL", -EPERM,
		     __vmt_vhost_set_vring_call(fd, VHOST_MEM_REQUESTQ, efd));
	child_expect(rep, "VHOST_RESET_OWNER", -EPERM,
		     __vmt_vhost_reset_owner(fd));
	/* reading the features is harmless and allowed */
	child_expect(rep, "VHOST_GET_FEATURES", 0,
		     __vmt_vhost_get_features(fd, &features));
	close(efd);
}

static void child_vhost_mem_ioctls(struct child_report *rep, int fd,
				   void *arg)
{
	struct vhost_mem_region *region = arg;
	struct vhost_mem_region r = *region;
	int kvm_fd, vm_fd;

	/* a VM of the child's own: it cannot be driven from our mm */
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	vm_fd = kvm_fd >= 0 ? ioctl(kvm_fd, KVM_CREATE_VM, 0) : -1;
	if (vm_fd >= 0)
		child_expect(rep, "VHOST_MEM_SET_VM", -EPERM,
			     __vmt_mem_set_vm(fd, vm_fd));
	child_expect(rep, "VHOST_MEM_SET_REGION", -EPERM,
		     __vmt_mem_set_region(fd, &r));
	child_expect(rep, "VHOST_MEM_SET_RUNNING", -EPERM,
		     __vmt_mem_set_running(fd, 1));
	if (vm_fd >= 0)
		close(vm_fd);
	if (kvm_fd >= 0)
		close(kvm_fd);
}

FIXTURE(owner) {
	struct vmt_vm *vm;
	struct vmt_vq vq;
	struct vmt_dev dev;
	struct vmt_backing backing;
};

FIXTURE_SETUP(owner)
{
	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	self->vm = vmt_vm_create(0);
	vmt_vq_init(&self->vq, self->vm, 0);
	vmt_dev_open_ready(&self->dev, self->vm, &self->vq, ~0ULL);
	vmt_backing_init(&self->backing, VMT_BACKING_ANON, TEST_REGION_SIZE);
}

FIXTURE_TEARDOWN(owner)
{
	vmt_dev_close(&self->dev);
	vmt_vq_destroy(&self->vq);
	vmt_backing_free(&self->backing);
	vmt_vm_free(self->vm);
}

TEST_F(owner, other_process_cannot_drive_vrings)
{
	struct child_report *rep;
	unsigned int base = ~0U;
	int r;

	rep = run_in_child(_metadata, child_vhost_ioctls, self->dev.fd,
			   &self->vq);
	ASSERT_NE(NULL, rep);
	EXPECT_EQ(0, rep->failures) TH_LOG("\n%s", rep->text);
	munmap(rep, sizeof(*rep));

	/* nothing the child tried changed the owner's vring */
	r = __vmt_vhost_get_vring_base(self->dev.fd, VHOST_MEM_REQUESTQ, &base);
	EXPECT_EQ(0, r) TH_LOG("VHOST_GET_VRING_BASE by the owner: %s",
			       vmt_errname(-r));
	EXPECT_EQ(0, base) TH_LOG("the vring base moved to %u", base);
	r = __vmt_vq_attach(&self->vq, self->dev.fd, VHOST_MEM_REQUESTQ,
			    self->dev.features);
	EXPECT_EQ(0, r) TH_LOG("%s by the owner after the child's attempts: %s",
			       self->vq.failed_op, vmt_errname(-r));
}

TEST_F(owner, other_process_cannot_attach_vm_or_start)
{
	struct vhost_mem_region region;
	struct child_report *rep;

	vmt_region_init(&region, &self->backing, TEST_REGION_GPA,
			TEST_BLOCK_SIZE, TEST_SLOT_BASE);
	rep = run_in_child(_metadata, child_vhost_mem_ioctls, self->dev.fd,
			   &region);
	ASSERT_NE(NULL, rep);
	EXPECT_EQ(0, rep->failures) TH_LOG("\n%s", rep->text);
	munmap(rep, sizeof(*rep));

	/* and the owner still can */
	vmt_dev_start(&self->dev, &region, 0);
}

/*
 * The whole path once: a request through the ring, a memslot that appears
 * for the guest with PLUG and goes with UNPLUG, memory that is discarded.
 * (Request semantics are covered in depth elsewhere; this is a smoke test
 * of the device and of the test library together.)
 */
TEST_F(owner, requestq_smoke)
{
	const u64 gpa = TEST_REGION_GPA, blk = TEST_BLOCK_SIZE;
	struct vmt_mem_req req, plugs[2] = {
		{ .type = VIRTIO_MEM_REQ_PLUG, .addr = gpa, .nb_blocks = 1 },
		{ .type = VIRTIO_MEM_REQ_PLUG, .addr = gpa + blk,
		  .nb_blocks = 1, .flags = VMT_CHAIN_INDIRECT },
	};
	struct vhost_mem_region region;
	struct vhost_mem_status st;
	u16 state = 0xffff;
	u64 val = 1;
	int r;

	vmt_region_init(&region, &self->backing, gpa, blk, TEST_SLOT_BASE);
	vmt_dev_start(&self->dev, &region, 2 * blk);

	r = __vmt_mem_request(&self->vq, VIRTIO_MEM_REQ_STATE, gpa, 1, &req);
	EXPECT_EQ(VIRTIO_MEM_RESP_ACK, r)
		TH_LOG("STATE of the first block: %s",
		       r < 0 ? vmt_errname(-r) : vmt_mem_resp_name(r));
	EXPECT_EQ(VIRTIO_MEM_STATE_UNPLUGGED, req.state);
	EXPECT_EQ(VMT_ACCESS_MMIO, vmt_guest_read_u64(self->vm, gpa, &val))
		TH_LOG("the guest reached an unplugged region");

	/* two PLUGs with one kick, the second in an indirect table */
	ASSERT_EQ(2, vmt_mem_batch(&self->vq, plugs, 2, vmt_timeout_ms()));
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK, plugs[0].resp_type)
		TH_LOG("PLUG of block 0: %s",
		       vmt_mem_resp_name(plugs[0].resp_type));
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK, plugs[1].resp_type)
		TH_LOG("PLUG of block 1 (indirect chain): %s",
		       vmt_mem_resp_name(plugs[1].resp_type));
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(self->vm, gpa, &val))
		TH_LOG("the guest cannot read a plugged block");
	EXPECT_EQ(0, val);
	ASSERT_EQ(VMT_ACCESS_OK,
		  vmt_guest_write_u64(self->vm, gpa + 8, 0xabcdef));
	EXPECT_EQ(0xabcdef, ((u64 *)self->backing.hva)[1])
		TH_LOG("the guest's write did not land in the backing");
	EXPECT_EQ(VMT_ACCESS_OK,
		  vmt_guest_read_u64(self->vm, gpa + 2 * blk - 8, &val));
	EXPECT_EQ(VIRTIO_MEM_RESP_ACK,
		  __vmt_mem_state(&self->vq, gpa, 2, &state));
	EXPECT_EQ(VIRTIO_MEM_STATE_PLUGGED, state);
	ASSERT_EQ(0, __vmt_mem_get_status(self->dev.fd, &st));
	EXPECT_EQ(2 * blk, st.plugged_size);
	EXPECT_EQ(1, st.memslots);

	r = __vmt_mem_unplug(&self->vq, gpa, 2);
	ASSERT_EQ(VIRTIO_MEM_RESP_ACK, r)
		TH_LOG("UNPLUG of both blocks: %s",
		       r < 0 ? vmt_errname(-r) : vmt_mem_resp_name(r));
	EXPECT_EQ(VMT_ACCESS_MMIO, vmt_guest_read_u64(self->vm, gpa, &val))
		TH_LOG("the guest still reaches an unplugged block");
	EXPECT_EQ(0, vmt_present_pages(self->backing.hva, 2 * blk))
		TH_LOG("unplugged memory is still mapped");
	ASSERT_EQ(0, __vmt_mem_get_status(self->dev.fd, &st));
	EXPECT_EQ(0, st.plugged_size);
	EXPECT_EQ(0, st.memslots);
	if (_metadata->exit_code)
		vmt_mem_status_print(stderr, &st);
}

/* ------------------------------------------------------------------ */
/* Features                                                           */
/* ------------------------------------------------------------------ */

TEST(features)
{
	u64 offered = 0, unknown = 0;
	unsigned int bit;
	int fd, r;

	VMT_REQUIRE_DEVICE();
	fd = vmt_mem_open();
	ASSERT_EQ(0, __vmt_vhost_set_owner(fd));
	r = __vmt_vhost_get_features(fd, &offered);
	ASSERT_EQ(0, r) TH_LOG("VHOST_GET_FEATURES: %s", vmt_errname(-r));
	TH_LOG("offered features 0x%llx", (unsigned long long)offered);
	EXPECT_TRUE(offered & (1ULL << VIRTIO_F_VERSION_1))
		TH_LOG("VIRTIO_F_VERSION_1 (bit %d) not offered: 0x%llx",
		       VIRTIO_F_VERSION_1, (unsigned long long)offered);

	r = __vmt_vhost_set_features(fd, offered);
	EXPECT_EQ(0, r) TH_LOG("VHOST_SET_FEATURES of all offered (0x%llx): %s",
			       (unsigned long long)offered, vmt_errname(-r));

	/* a device-specific bit the device does not offer */
	for (bit = 0; bit < 24; bit++) {
		if (!(offered & (1ULL << bit))) {
			unknown = 1ULL << bit;
			break;
		}
	}
	ASSERT_NE(0, unknown);
	r = __vmt_vhost_set_features(fd, offered | unknown);
	EXPECT_EQ(-EOPNOTSUPP, r)
		TH_LOG("VHOST_SET_FEATURES with bit %u that was not offered: expected EOPNOTSUPP, got %s",
		       bit, vmt_errstr(r));
	close(fd);
}

/* ------------------------------------------------------------------ */
/* The test VM: guest accesses see memslots come and go               */
/* ------------------------------------------------------------------ */

FIXTURE(kvm) {
	struct vmt_vm *vm;
	struct vmt_backing backing;
};

FIXTURE_SETUP(kvm)
{
	self->backing.fd = -1;
	VMT_REQUIRE_KVM();
	self->vm = vmt_vm_create(0);
}

FIXTURE_TEARDOWN(kvm)
{
	vmt_backing_free(&self->backing);
	vmt_vm_free(self->vm);
}

TEST_F(kvm, boot_ram)
{
	u64 gpa = vmt_vm_alloc(self->vm, 4096, 4096), val = 0;
	u64 *hva = vmt_gpa2hva(self->vm, gpa);

	TH_LOG("guest MAXPHYADDR %u bits, identity map with %s pages, %u memslots",
	       self->vm->guest_phys_bits, self->vm->pages_1g ? "1 GiB" : "2 MiB",
	       self->vm->nr_memslots);
	*hva = 0x1122334455667788ULL;
	ASSERT_EQ(VMT_ACCESS_OK, vmt_guest_read_u64(self->vm, gpa, &val));
	EXPECT_EQ(0x1122334455667788ULL, val);

	ASSERT_EQ(VMT_ACCESS_OK,
		  vmt_guest_write_u64(self->vm, gpa + 8, 0xfeedfacecafef00dULL));
	EXPECT_EQ(0xfeedfacecafef00dULL, hva[1]);
}

/* A memslot added and deleted by hand, at gpa, backed by type. */
static void memslot_round_trip(struct __test_metadata *_metadata,
			       struct vmt_vm *vm, struct vmt_backing *b,
			       enum vmt_backing_type type, u64 gpa)
{
	const u64 size = 4ULL << 20;
	u64 val = 0;
	int r;

	vmt_backing_init(b, type, size);

	/* nothing there yet */
	r = vmt_guest_read_u64(vm, gpa + 0x1000, &val);
	ASSERT_EQ(VMT_ACCESS_MMIO, r)
		TH_LOG("read at GPA 0x%llx without a memslot: %s",
		       (unsigned long long)gpa + 0x1000, vmt_access_name(r));

	r = __vmt_vm_set_memslot(vm, TEST_SLOT_BASE, gpa, size, b->hva, 0);
	if (r == -EINVAL && gpa >= VMT_TIB)
		SKIP(return, "KVM refuses a memslot at GPA 0x%llx (EINVAL): the host MAXPHYADDR is too small; the VM needs -cpu max,phys-bits=46",
		     (unsigned long long)gpa);
	ASSERT_EQ(0, r) TH_LOG("adding memslot %u at 0x%llx: %s",
			       TEST_SLOT_BASE, (unsigned long long)gpa,
			       vmt_errname(-r));

	((u64 *)b->hva)[0x1000 / 8] = 0x0123456789abcdefULL;
	r = vmt_guest_read_u64(vm, gpa + 0x1000, &val);
	ASSERT_EQ(VMT_ACCESS_OK, r) TH_LOG("read with the memslot: %s",
					   vmt_access_name(r));
	EXPECT_EQ(0x0123456789abcdefULL, val);

	r = vmt_guest_write_u64(vm, gpa + size - 8, 0x5555aaaa5555aaaaULL);
	ASSERT_EQ(VMT_ACCESS_OK, r);
	EXPECT_EQ(0x5555aaaa5555aaaaULL, ((u64 *)b->hva)[size / 8 - 1]);
	if (type == VMT_BACKING_MEMFD)
		EXPECT_LT(0, vmt_memfd_allocated(b->fd));
	EXPECT_LE(2, vmt_present_pages(b->hva, size));

	vmt_vm_delete_memslot(vm, TEST_SLOT_BASE);
	r = vmt_guest_read_u64(vm, gpa + 0x1000, &val);
	EXPECT_EQ(VMT_ACCESS_MMIO, r)
		TH_LOG("read after deleting the memslot: %s",
		       vmt_access_name(r));
	r = vmt_guest_write_u64(vm, gpa + 0x1000, 0xdeadULL);
	EXPECT_EQ(VMT_ACCESS_MMIO, r)
		TH_LOG("write after deleting the memslot: %s",
		       vmt_access_name(r));
	EXPECT_EQ(0x0123456789abcdefULL, ((u64 *)b->hva)[0x1000 / 8])
		TH_LOG("a write without a memslot reached the memory");

	/* and back */
	vmt_vm_add_memslot(vm, TEST_SLOT_BASE, gpa, size, b->hva);
	r = vmt_guest_read_u64(vm, gpa + 0x1000, &val);
	EXPECT_EQ(VMT_ACCESS_OK, r);
	EXPECT_EQ(0x0123456789abcdefULL, val);
	vmt_vm_delete_memslot(vm, TEST_SLOT_BASE);
}

TEST_F(kvm, memslot_anon)
{
	memslot_round_trip(_metadata, self->vm, &self->backing,
			   VMT_BACKING_ANON, TEST_REGION_GPA);
}

TEST_F(kvm, memslot_memfd)
{
	memslot_round_trip(_metadata, self->vm, &self->backing,
			   VMT_BACKING_MEMFD, TEST_REGION_GPA);
}

TEST_F(kvm, memslot_above_1tib)
{
	u64 gpa = VMT_TIB + (2ULL << 30);

	if (self->vm->guest_phys_bits < 41)
		SKIP(return, "guest MAXPHYADDR is %u bits: GPA 0x%llx is out of reach (the VM needs -cpu max,phys-bits=46)",
		     self->vm->guest_phys_bits, (unsigned long long)gpa);
	memslot_round_trip(_metadata, self->vm, &self->backing,
			   VMT_BACKING_ANON, gpa);
}

TEST_F(kvm, memslot_without_memory)
{
	const u64 size = 2ULL << 20;
	u64 val;
	void *p;
	int r;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	vmt_vm_add_memslot(self->vm, TEST_SLOT_BASE, TEST_REGION_GPA, size, p);
	ASSERT_EQ(0, munmap(p, size));
	r = vmt_guest_read_u64(self->vm, TEST_REGION_GPA, &val);
	EXPECT_EQ(VMT_ACCESS_EFAULT, r)
		TH_LOG("read of a memslot whose memory is unmapped: %s",
		       vmt_access_name(r));
	vmt_vm_delete_memslot(self->vm, TEST_SLOT_BASE);
}

TEST(set_vm)
{
	struct vhost_mem_status st;
	struct vmt_vm *vm;
	int fd, efd, r;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	vm = vmt_vm_create(0);
	fd = vmt_mem_open();
	ASSERT_EQ(0, __vmt_vhost_set_owner(fd));

	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	r = __vmt_mem_set_vm(fd, efd);
	EXPECT_NE(0, r) TH_LOG("VHOST_MEM_SET_VM with an eventfd succeeded");
	close(efd);
	r = __vmt_mem_set_vm(fd, -1);
	EXPECT_NE(0, r) TH_LOG("VHOST_MEM_SET_VM with fd -1 succeeded");

	r = __vmt_mem_get_status(fd, &st);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_GET_STATUS: %s", vmt_errname(-r));
	EXPECT_FALSE(st.flags & VHOST_MEM_STATUS_F_VM);

	r = __vmt_mem_set_vm(fd, vm->vm_fd);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_SET_VM with a KVM VM fd: %s",
			       vmt_errname(-r));
	ASSERT_EQ(0, __vmt_mem_get_status(fd, &st));
	EXPECT_TRUE(st.flags & VHOST_MEM_STATUS_F_VM)
		TH_LOG("VHOST_MEM_GET_STATUS flags 0x%x lack VHOST_MEM_STATUS_F_VM after VHOST_MEM_SET_VM",
		       st.flags);
	close(fd);
	vmt_vm_free(vm);
}

/* ------------------------------------------------------------------ */
/* Release leaks nothing                                              */
/* ------------------------------------------------------------------ */

/*
 * Kernel memory that a leaked device would pin: slab, vmalloc, kernel
 * stacks (the vhost worker), page tables and per-cpu memory, in kB.
 */
static long long kernel_mem_kb(void)
{
	static const char * const fields[] = {
		"Slab", "VmallocUsed", "KernelStack", "PageTables", "Percpu",
	};
	long long sum = 0, v;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		v = vmt_meminfo_kb(fields[i]);
		if (v > 0)
			sum += v;
	}
	return sum;
}

struct kmem_sample {
	long long kb;
	long long files;
};

static void kmem_sample(struct kmem_sample *s)
{
	/* let RCU-deferred frees and delayed fput run */
	vmt_sleep_ms(200);
	s->kb = kernel_mem_kb();
	s->files = vmt_nr_files();
}

/*
 * A leak of even the smallest part of a set-up device (its vhost worker's
 * stack is 16 KiB, the vq's iovec arrays 40 KiB) exceeds this per cycle;
 * noise over a round of cycles stays far below it.
 */
#define LEAK_KB_PER_CYCLE	2
/* Each cycle opens a device and two eventfds (and a VM). */
#define LEAK_FILES_PER_ROUND(n)	((n) / 2)

/* What a release cycle works with. */
struct release_ctx {
	struct vmt_vm *vm;
	struct vmt_vq vq;
	struct vmt_backing backing;
	bool start;		/* also VM, region and SET_RUNNING */
	char worker_comm[32];	/* the vhost worker's name */
};

FIXTURE(release) {
	struct release_ctx ctx;
};

FIXTURE_VARIANT(release) {
	bool start;
	unsigned int cycles;	/* per measured round */
};

FIXTURE_VARIANT_ADD(release, vring) {
	.start = false,
	.cycles = 200,
};

FIXTURE_VARIANT_ADD(release, running) {
	.start = true,
	.cycles = 200,
};

FIXTURE_SETUP(release)
{
	struct release_ctx *ctx = &self->ctx;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	ctx->vm = vmt_vm_create(0);
	vmt_vq_init(&ctx->vq, ctx->vm, 0);
	vmt_backing_init(&ctx->backing, VMT_BACKING_ANON, TEST_REGION_SIZE);
	ctx->start = variant->start;
	snprintf(ctx->worker_comm, sizeof(ctx->worker_comm), "vhost-%d",
		 (int)getpid());
}

FIXTURE_TEARDOWN(release)
{
	vmt_vq_destroy(&self->ctx.vq);
	vmt_backing_free(&self->ctx.backing);
	vmt_vm_free(self->ctx.vm);
}

/*
 * One device through its whole setup.  With start, it gets a VM of its own
 * (closed by us right away, so only the device holds it), a region and
 * SET_RUNNING.  Returns the device fd.
 */
static int release_setup_one(struct release_ctx *ctx)
{
	struct vhost_mem_region region;
	struct vmt_dev dev;
	int vm_fd, r;

	vmt_dev_open_ready(&dev, ctx->vm, &ctx->vq, ~0ULL);
	if (!ctx->start)
		return dev.fd;

	vm_fd = ioctl(ctx->vm->kvm_fd, KVM_CREATE_VM, 0);
	TEST_ASSERT(vm_fd >= 0, "KVM_CREATE_VM: %s", vmt_errname(errno));
	r = __vmt_mem_set_vm(dev.fd, vm_fd);
	TEST_ASSERT(!r, "VHOST_MEM_SET_VM: expected success, got %s",
		    vmt_errname(-r));
	close(vm_fd);
	vmt_region_init(&region, &ctx->backing, TEST_REGION_GPA,
			TEST_BLOCK_SIZE, TEST_SLOT_BASE);
	r = __vmt_mem_set_region(dev.fd, &region);
	TEST_ASSERT(!r, "VHOST_MEM_SET_REGION: expected success, got %s",
		    vmt_errname(-r));
	r = __vmt_mem_set_running(dev.fd, 1);
	TEST_ASSERT(!r, "VHOST_MEM_SET_RUNNING 1: expected success, got %s",
		    vmt_errname(-r));
	return dev.fd;
}

static void release_round(struct release_ctx *ctx, unsigned int cycles)
{
	unsigned int i;

	for (i = 0; i < cycles; i++) {
		int fd = release_setup_one(ctx);

		vmt_vq_detach(&ctx->vq);
		TEST_ASSERT(!close(fd), "close of device %u", i);
	}
}

TEST_F_TIMEOUT(release, cycles_leak_nothing, 900)
{
	struct release_ctx *ctx = &self->ctx;
	long long limit_kb = (long long)variant->cycles * LEAK_KB_PER_CYCLE;
	long long limit_files = LEAK_FILES_PER_ROUND(variant->cycles);
	struct kmem_sample s0, s1, s2;
	int fd, workers;

	/* the worker's name is what we look for afterwards: check it */
	fd = release_setup_one(ctx);
	workers = vmt_count_tasks_named(ctx->worker_comm);
	vmt_vq_detach(&ctx->vq);
	close(fd);
	ASSERT_LE(1, workers)
		TH_LOG("no task named %s while a device was owned: expected the vhost worker",
		       ctx->worker_comm);

	/* warm up caches, then two measured rounds */
	release_round(ctx, variant->cycles / 4);
	kmem_sample(&s0);
	release_round(ctx, variant->cycles);
	kmem_sample(&s1);
	release_round(ctx, variant->cycles);
	kmem_sample(&s2);

	TH_LOG("kernel memory %lld -> %lld -> %lld kB, files %lld -> %lld -> %lld over 2 x %u cycles",
	       s0.kb, s1.kb, s2.kb, s0.files, s1.files, s2.files,
	       variant->cycles);
	/*
	 * KASAN's quarantine keeps freed objects for a while (up to 1/32 of
	 * memory), so every round grows; there kmemleak finds the leaks
	 * (tests/vm/kmemleak.sh), and the files and workers still count.
	 */
	if (vmt_kernel_has_symbol("kasan_quarantine_put"))
		TH_LOG("a KASAN kernel: kernel memory not compared");
	else	/* a real leak grows in both rounds; noise does not */
		EXPECT_FALSE(s1.kb - s0.kb > limit_kb &&
			     s2.kb - s1.kb > limit_kb)
		TH_LOG("kernel memory grew by %lld and %lld kB in two rounds of %u open/setup/close cycles (limit %lld kB per round)",
		       s1.kb - s0.kb, s2.kb - s1.kb, variant->cycles,
		       limit_kb);
	EXPECT_FALSE(s1.files - s0.files > limit_files &&
		     s2.files - s1.files > limit_files)
		TH_LOG("allocated files grew by %lld and %lld in two rounds of %u cycles (limit %lld per round)",
		       s1.files - s0.files, s2.files - s1.files,
		       variant->cycles, limit_files);
	workers = vmt_count_tasks_named(ctx->worker_comm);
	EXPECT_EQ(0, workers)
		TH_LOG("%d vhost workers (%s) are left after every device was closed",
		       workers, ctx->worker_comm);
}

/*
 * The meter itself: the same cycles without the close must show up as a
 * leak, or cycles_leak_nothing could never fail.
 */
TEST_F_TIMEOUT(release, meter_sees_devices_kept_open, 600)
{
	struct release_ctx *ctx = &self->ctx;
	long long limit_kb = (long long)variant->cycles * LEAK_KB_PER_CYCLE;
	struct kmem_sample s0, s1;
	int *fds, workers;
	unsigned int i;

	fds = calloc(variant->cycles, sizeof(*fds));
	ASSERT_NE(NULL, fds);
	release_round(ctx, variant->cycles / 4);
	kmem_sample(&s0);
	for (i = 0; i < variant->cycles; i++) {
		fds[i] = release_setup_one(ctx);
		vmt_vq_detach(&ctx->vq);
	}
	kmem_sample(&s1);
	workers = vmt_count_tasks_named(ctx->worker_comm);
	for (i = 0; i < variant->cycles; i++)
		close(fds[i]);
	free(fds);

	TH_LOG("%u devices kept open: kernel memory %lld -> %lld kB, files %lld -> %lld, %d workers",
	       variant->cycles, s0.kb, s1.kb, s0.files, s1.files, workers);
	EXPECT_LT(limit_kb, s1.kb - s0.kb)
		TH_LOG("%u open devices grew kernel memory by only %lld kB: the leak limit of %lld kB could not catch them",
		       variant->cycles, s1.kb - s0.kb, limit_kb);
	EXPECT_LT(LEAK_FILES_PER_ROUND(variant->cycles), s1.files - s0.files);
	EXPECT_EQ((int)variant->cycles, workers);
}

TEST_HARNESS_MAIN
