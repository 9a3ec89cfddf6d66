// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: who may use the generic netlink family "vhost-mem".
 *
 * - DEV_SET needs CAP_SYS_RESOURCE over the opener's user namespace (in
 *   the caller and the socket's opener), CAP_NET_ADMIN is not enough, reads
 *   need nothing;
 * - another network namespace sees none of our devices;
 * - the VM id names the VM's creator in the reader's pid namespace.
 */
#include "netlink_fixture.h"

#define CAP_BIT(cap)	(1ULL << (cap))

/* Sets every capability set of this process to caps (stays root). */
static void set_caps(u64 caps)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	int i;

	TEST_ASSERT(!syscall(SYS_capget, &hdr, data), "capget");
	for (i = 0; i < 2; i++) {
		data[i].effective = (u32)(caps >> (32 * i));
		data[i].permitted = data[i].effective;
		data[i].inheritable = data[i].effective;
	}
	TEST_ASSERT(!syscall(SYS_capset, &hdr, data), "capset");
}

/* Every capability this process has, as a mask. */
static u64 get_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	TEST_ASSERT(!syscall(SYS_capget, &hdr, data), "capget");
	return data[0].effective | (u64)data[1].effective << 32;
}

/*
 * Runs fn in a child and returns its exit status: 0 if it did what the
 * test wants.  The child may change its credentials freely.
 */
static int in_child(void (*fn)(u32 id), u32 id)
{
	int status;
	pid_t pid;

	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		fn(id);
		_exit(0);
	}
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The DEV_SET of a caller with only the capabilities caps. */
static int set_with_caps(u32 id, u64 caps, int *r)
{
	struct nlc n;

	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	set_caps(caps);
	*r = __nlt_set(&n, id, 8ULL << 20);
	TEST_ASSERT(!__nlt_get(&n, id, NULL), "DEV_GET with caps 0x%llx",
		    (unsigned long long)caps);
	nlt_close(&n);
	return *r;
}

static void only_net_admin(u32 id)
{
	int r;

	set_with_caps(id, CAP_BIT(CAP_NET_ADMIN), &r);
	TEST_ASSERT(r == -EPERM, "DEV_SET with only CAP_NET_ADMIN: expected EPERM, got %s",
		    vmt_errname(-r));
}

static void all_but_sys_resource(u32 id)
{
	int r;

	set_with_caps(id, get_caps() & ~CAP_BIT(CAP_SYS_RESOURCE), &r);
	TEST_ASSERT(r == -EPERM, "DEV_SET as root without CAP_SYS_RESOURCE: expected EPERM, got %s",
		    vmt_errname(-r));
}

static void only_sys_resource(u32 id)
{
	int r;

	set_with_caps(id, CAP_BIT(CAP_SYS_RESOURCE), &r);
	TEST_ASSERT(!r, "DEV_SET with only CAP_SYS_RESOURCE: %s", vmt_errname(-r));
}

/* A socket opened with the capability, used without it. */
static void dropped_after_open(u32 id)
{
	struct nlc n;
	int r;

	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	set_caps(get_caps() & ~CAP_BIT(CAP_SYS_RESOURCE));
	r = __nlt_set(&n, id, 8ULL << 20);
	TEST_ASSERT(r == -EPERM, "DEV_SET after dropping CAP_SYS_RESOURCE: expected EPERM, got %s",
		    vmt_errname(-r));
}

/* And a socket opened with it, passed to a process without it. */
static void opened_by_other(u32 id)
{
	struct nlc n;
	int r;

	set_caps(get_caps() & ~CAP_BIT(CAP_SYS_RESOURCE));
	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	r = __nlt_set(&n, id, 8ULL << 20);
	TEST_ASSERT(r == -EPERM, "DEV_SET without CAP_SYS_RESOURCE: expected EPERM, got %s",
		    vmt_errname(-r));
}

static void as_nobody(u32 id)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	struct nlc n;
	int r;

	TEST_ASSERT(!setresgid(65534, 65534, 65534) &&
		    !setresuid(65534, 65534, 65534), "becoming nobody");
	TEST_ASSERT(!__nlt_open(&n), "family lookup as nobody");
	r = __nlt_set(&n, id, 8ULL << 20);
	TEST_ASSERT(r == -EPERM, "DEV_SET as nobody: expected EPERM, got %s",
		    vmt_errname(-r));
	TEST_ASSERT(!__nlt_get(&n, id, NULL), "DEV_GET as nobody");
	TEST_ASSERT(dump && !__nlt_dump(&n, dump) && nlt_dump_find(dump, id),
		    "the dump as nobody lacks our device");
}

/*
 * The test VM runs us chrooted, and a chrooted process may not create a
 * user namespace: climb out first (root may; the files we need are open).
 */
static void leave_chroot(void)
{
	int i, top = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	TEST_ASSERT(top >= 0 && !chroot("/proc") && !fchdir(top),
		    "chroot(/proc)");
	for (i = 0; i < 64; i++)
		TEST_ASSERT(!chdir(".."), "chdir(..)");
	TEST_ASSERT(!chroot("."), "chroot(.)");
	close(top);
}

/* Root of a new user namespace, still in our network namespace. */
static void new_userns(u32 id)
{
	struct nlc n;
	int r;

	leave_chroot();
	TEST_ASSERT(!unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)");
	TEST_ASSERT(get_caps() & CAP_BIT(CAP_SYS_RESOURCE),
		    "no CAP_SYS_RESOURCE in a new user namespace");
	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	TEST_ASSERT(!__nlt_get(&n, id, NULL), "DEV_GET from a new user namespace");
	r = __nlt_set(&n, id, 8ULL << 20);
	TEST_ASSERT(r == -EPERM, "DEV_SET from a new user namespace: expected EPERM, got %s",
		    vmt_errname(-r));
}

/*
 * New user and network namespaces: none of our devices, but its own one,
 * which its root may resize (EBADFD: allowed, but it has no region).
 */
static void new_userns_netns(u32 id)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	int r, fd, node, proc;
	char path[32];
	struct nlc n;

	/* opened again below, from the new namespaces */
	node = open("/dev/vhost-mem", O_PATH | O_CLOEXEC);
	proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	TEST_ASSERT(node >= 0 && proc >= 0, "/dev/vhost-mem, /proc");
	leave_chroot();
	TEST_ASSERT(!unshare(CLONE_NEWUSER | CLONE_NEWNET),
		    "unshare(CLONE_NEWUSER | CLONE_NEWNET)");
	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	TEST_ASSERT(dump && !__nlt_dump(&n, dump) && dump->n == 0,
		    "a new user and network namespace lists %u devices",
		    dump ? dump->n : 0);
	r = __nlt_get(&n, id, NULL);
	TEST_ASSERT(r == -ENODEV, "DEV_GET of the parent's device: %s",
		    vmt_errname(-r));
	snprintf(path, sizeof(path), "self/fd/%d", node);
	fd = openat(proc, path, O_RDWR | O_CLOEXEC);
	TEST_ASSERT(fd >= 0, "opening /dev/vhost-mem in the new namespaces");
	TEST_ASSERT(!__nlt_dump(&n, dump) && dump->n == 1,
		    "the new namespace lists %u devices, not its own one",
		    dump->n);
	r = __nlt_set(&n, dump->devs[0].id, 0);
	TEST_ASSERT(r == -EBADFD, "DEV_SET of its own device: expected EBADFD, got %s",
		    vmt_errname(-r));
	close(fd);
}

/*
 * Resizing needs CAP_SYS_RESOURCE over the user namespace of the process
 * that opened the device, in the caller and in the socket's opener:
 * networking capabilities decide nothing.  Reading is for everyone who
 * sees the device.
 */
TEST_F(nl, permissions)
{
	static const struct {
		void (*fn)(u32 id);
		const char *what;
		bool allowed;
	} callers[] = {
		{ only_net_admin, "only CAP_NET_ADMIN", false },
		{ all_but_sys_resource, "root without CAP_SYS_RESOURCE", false },
		{ dropped_after_open, "a socket opened with CAP_SYS_RESOURCE", false },
		{ opened_by_other, "root without CAP_SYS_RESOURCE, own socket", false },
		{ as_nobody, "nobody", false },
		{ new_userns, "root of a new user namespace", false },
		{ new_userns_netns, "a new user and network namespace", false },
		{ only_sys_resource, "only CAP_SYS_RESOURCE", true },
	};
	struct vhost_mem_status st;
	unsigned int i;
	u64 want;

	for (i = 0; i < VMT_ARRAY_SIZE(callers); i++) {
		EXPECT_EQ(0, __vmt_mem_set_requested_size(self->dev.fd, 0));
		EXPECT_EQ(0, in_child(callers[i].fn, self->id))
			TH_LOG("%s", callers[i].what);
		ASSERT_EQ(0, __vmt_mem_get_status(self->dev.fd, &st));
		want = callers[i].allowed ? 8 * MIB : 0;
		EXPECT_EQ(want, st.requested_size)
			TH_LOG("%s: the device's requested size is %llu MiB",
			       callers[i].what,
			       (unsigned long long)st.requested_size >> 20);
	}
	/* and root, as every other test */
	EXPECT_EQ(0, __nlt_set(&self->nl, self->id, 4ULL << 20));
}

/* Another network namespace sees none of our devices, and we none of its. */
TEST_F(nl, netns_isolation)
{
	int pipefd[2], status, r;
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	pid_t pid;
	u32 child_id = ~0U;

	ASSERT_NE(NULL, dump);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct nlc n;
		u32 id;
		int fd;

		close(pipefd[0]);
		TEST_ASSERT(!unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
		TEST_ASSERT(!__nlt_open(&n),
			    "the family is missing in a new network namespace");
		TEST_ASSERT(!__nlt_dump(&n, dump) && !nlt_dump_find(dump, self->id),
			    "another namespace lists our device");
		r = __nlt_get(&n, self->id, NULL);
		TEST_ASSERT(r == -ENODEV, "DEV_GET from another namespace: %s",
			    vmt_errname(-r));
		r = __nlt_set(&n, self->id, 8ULL << 20);
		TEST_ASSERT(r == -ENODEV, "DEV_SET from another namespace: %s",
			    vmt_errname(-r));
		/* a device opened here belongs here */
		fd = vmt_mem_open();
		id = vmt_dev_id(fd);
		TEST_ASSERT(!__nlt_dump(&n, dump) && nlt_dump_find(dump, id) &&
			    dump->n == 1,
			    "the namespace should list exactly its own device");
		TEST_ASSERT(write(pipefd[1], &id, sizeof(id)) == sizeof(id),
			    "pipe");
		/* the parent looks, then kills us */
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ASSERT_EQ(sizeof(child_id), read(pipefd[0], &child_id, sizeof(child_id)))
		TH_LOG("the child failed before opening its device");
	r = __nlt_get(&self->nl, child_id, NULL);
	EXPECT_EQ(-ENODEV, r) TH_LOG("the other namespace's device is visible here: %s",
				     vmt_errname(-r));
	EXPECT_EQ(-ENODEV, __nlt_set(&self->nl, child_id, 0));
	ASSERT_EQ(0, __nlt_dump(&self->nl, dump));
	EXPECT_EQ(NULL, nlt_dump_find(dump, child_id));
	EXPECT_NE(NULL, nlt_dump_find(dump, self->id));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("the child exited with %d",
						WEXITSTATUS(status));
	close(pipefd[0]);
	free(dump);
}

/* pid 1 of a new pid namespace: what it sees of us, and of its own VM. */
static void pidns_reader(u32 parent_id, int report)
{
	struct nlc_dev d;
	struct vmt_vm *vm;
	struct nlc n;
	char want[32];
	u32 id;
	int fd;

	TEST_ASSERT(getpid() == 1, "not pid 1 of a new pid namespace");
	TEST_ASSERT(!__nlt_open(&n), "family lookup");
	TEST_ASSERT(!__nlt_get(&n, parent_id, &d), "DEV_GET of the parent's device");
	TEST_ASSERT(!d.has_owner, "the owner is visible: pid %u", d.owner_pid);
	TEST_ASSERT(!d.has_vm, "the VM id '%s' names a process of another pid namespace",
		    d.vm_id);
	vm = vmt_vm_create(0);
	fd = vmt_mem_open();
	TEST_ASSERT(!__vmt_vhost_set_owner(fd), "VHOST_SET_OWNER");
	TEST_ASSERT(!__vmt_mem_set_vm(fd, vm->vm_fd), "VHOST_MEM_SET_VM");
	id = vmt_dev_id(fd);
	TEST_ASSERT(!__nlt_get(&n, id, &d), "DEV_GET of its own device");
	TEST_ASSERT(d.has_owner && d.owner_pid == 1, "its own owner: %u",
		    d.owner_pid);
	snprintf(want, sizeof(want), "kvm-%d", getpid());
	TEST_ASSERT(d.has_vm && !strcmp(d.vm_id, want),
		    "its own VM id: '%s', expected '%s'", d.vm_id, want);
	TEST_ASSERT(write(report, &id, sizeof(id)) == sizeof(id), "pipe");
	/* the parent looks, then closes the pipe */
	TEST_ASSERT(read(report, &id, sizeof(id)) == 0, "pipe");
	close(fd);
	vmt_vm_free(vm);
}

/*
 * KVM's VM id is "kvm-" and the creator's pid in the initial namespace: a
 * reader in another pid namespace gets it translated, or not at all.
 */
TEST_F(nl, vm_id_in_pid_namespace)
{
	int sv[2], status;
	struct nlc_dev d;
	char want[32];
	pid_t pid;
	u32 id;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		pid_t inner;

		close(sv[0]);
		TEST_ASSERT(!unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)");
		inner = fork();
		TEST_ASSERT(inner >= 0, "fork");
		if (!inner) {
			pidns_reader(self->id, sv[1]);
			_exit(0);
		}
		TEST_ASSERT(waitpid(inner, &status, 0) == inner, "waitpid");
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	}
	close(sv[1]);
	if (read(sv[0], &id, sizeof(id)) == sizeof(id)) {
		/* from here, its VM is named by its pid here */
		ASSERT_EQ(0, __nlt_get(&self->nl, id, &d));
		ASSERT_TRUE(d.has_owner);
		EXPECT_NE(1, d.owner_pid);
		snprintf(want, sizeof(want), "kvm-%u", d.owner_pid);
		EXPECT_STREQ(want, d.vm_id);
	}
	close(sv[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the reader in the new pid namespace failed");
}

TEST_HARNESS_MAIN
