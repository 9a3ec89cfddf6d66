// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: the device's options (pause, state, reset), devices
 * set up in a VMM's order, side devices, guest accesses, backings and the
 * kernel log.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "module_util.h"
#include "vmm_util.h"

#define VMT_HUGETLBFS_MAGIC	0x958458f6
#define VMT_NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

/* ------------------------------------------------------------------ */
/* The ioctls                                                         */
/* ------------------------------------------------------------------ */

static int __vmt_vmm_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

int __vmt_vmm_set_paused(int fd, int paused)
{
	return __vmt_vmm_ioctl(fd, VHOST_MEM_SET_PAUSED, &paused);
}

int __vmt_vmm_state_ioctl(int fd, unsigned long req, struct vhost_mem_state *st)
{
	return __vmt_vmm_ioctl(fd, req, st);
}

int __vmt_vmm_get_state(int fd, void *buf, u64 *len)
{
	struct vhost_mem_state st = {
		.size = sizeof(st),
		.buf = (u64)(uintptr_t)buf,
		.buf_len = *len,
	};
	int r = __vmt_vmm_ioctl(fd, VHOST_MEM_GET_STATE, &st);

	*len = st.buf_len;
	return r;
}

int __vmt_vmm_set_state(int fd, const void *buf, u64 len)
{
	struct vhost_mem_state st = {
		.size = sizeof(st),
		.buf = (u64)(uintptr_t)buf,
		.buf_len = len,
	};

	return __vmt_vmm_ioctl(fd, VHOST_MEM_SET_STATE, &st);
}

int __vmt_vmm_system_reset(int fd)
{
	return ioctl(fd, VHOST_MEM_RESET) < 0 ? -errno : 0;
}

u8 *vmt_vmm_save(int fd, u64 *len)
{
	u64 need = 0;
	u8 *buf;
	int r;

	r = __vmt_vmm_get_state(fd, NULL, &need);
	TEST_ASSERT(r == -ENOSPC && need,
		    "VHOST_MEM_GET_STATE with no room: expected ENOSPC and the size, got %s and %llu",
		    vmt_errstr(r), (unsigned long long)need);
	buf = malloc(need);
	TEST_ASSERT(buf, "out of memory for a state of %llu bytes",
		    (unsigned long long)need);
	*len = need;
	r = __vmt_vmm_get_state(fd, buf, len);
	TEST_ASSERT(!r && *len == need,
		    "VHOST_MEM_GET_STATE with %llu bytes of room: expected success and %llu, got %s and %llu",
		    (unsigned long long)need, (unsigned long long)need,
		    vmt_errstr(r), (unsigned long long)*len);
	return buf;
}

/* ------------------------------------------------------------------ */
/* A device in a VMM's order                                          */
/* ------------------------------------------------------------------ */

u64 vmt_vmm_open(struct vmt_rq_env *e, u64 ack)
{
	struct vhost_mem_region *r = &e->region;
	struct vmt_dev *d = &e->dev;
	u64 offered = 0;
	int ret;

	if (d->fd >= 0)
		vmt_rq_env_close(e);
	memset(d, 0, sizeof(*d));
	d->vm = e->vm;
	d->vq = &e->vq;
	d->fd = vmt_mem_open();
	e->want_features = ack;

	ret = __vmt_vhost_set_owner(d->fd);
	TEST_ASSERT(!ret, "VHOST_SET_OWNER: expected success, got %s",
		    vmt_errname(-ret));
	ret = __vmt_mem_set_vm(d->fd, e->vm->vm_fd);
	TEST_ASSERT(!ret, "VHOST_MEM_SET_VM: expected success, got %s",
		    vmt_errname(-ret));
	if (r->slot_count < vmt_region_slots_needed(r))
		r->slot_count = vmt_region_slots_needed(r);
	ret = __vmt_mem_set_region(d->fd, r);
	TEST_ASSERT(!ret,
		    "VHOST_MEM_SET_REGION GPA 0x%llx size 0x%llx flags 0x%x unplugged_inaccessible %u: expected success, got %s",
		    (unsigned long long)r->guest_phys_addr,
		    (unsigned long long)r->region_size, r->flags,
		    r->unplugged_inaccessible, vmt_errname(-ret));

	/* the driver: it sees the device's features, region included */
	ret = __vmt_vhost_get_features(d->fd, &offered);
	TEST_ASSERT(!ret, "VHOST_GET_FEATURES: expected success, got %s",
		    vmt_errname(-ret));
	d->features = offered & ack & VMT_VQ_DRIVER_FEATURES;
	ret = __vmt_vhost_set_features(d->fd, d->features);
	TEST_ASSERT(!ret,
		    "VHOST_SET_FEATURES 0x%llx (offered 0x%llx): expected success, got %s",
		    (unsigned long long)d->features,
		    (unsigned long long)offered, vmt_errname(-ret));
	ret = __vmt_vhost_set_mem_table_vm(d->fd, e->vm);
	TEST_ASSERT(!ret, "VHOST_SET_MEM_TABLE: expected success, got %s",
		    vmt_errname(-ret));
	ret = __vmt_vq_attach(&e->vq, d->fd, VHOST_MEM_REQUESTQ, d->features);
	TEST_ASSERT(!ret, "%s on the requestq: expected success, got %s",
		    e->vq.failed_op, vmt_errname(-ret));
	return offered;
}

void vmt_vmm_start(struct vmt_rq_env *e, u64 requested)
{
	int ret;

	ret = __vmt_mem_set_requested_size(e->dev.fd, requested);
	TEST_ASSERT(!ret,
		    "VHOST_MEM_SET_REQUESTED_SIZE 0x%llx: expected success, got %s",
		    (unsigned long long)requested, vmt_errname(-ret));
	ret = __vmt_mem_set_running(e->dev.fd, 1);
	TEST_ASSERT(!ret,
		    "VHOST_MEM_SET_RUNNING 1 (features 0x%llx): expected success, got %s",
		    (unsigned long long)e->dev.features, vmt_errname(-ret));
	vmt_rq_env_adopt(e, requested);
}

int __vmt_vmm_virtio_reset(struct vmt_rq_env *e, u64 ack)
{
	struct vmt_dev *d = &e->dev;
	u64 offered = 0;
	int ret;

	vmt_rq_set_running(e, false);
	ret = __vmt_vhost_get_features(d->fd, &offered);
	TEST_ASSERT(!ret, "VHOST_GET_FEATURES: expected success, got %s",
		    vmt_errname(-ret));
	d->features = offered & ack & VMT_VQ_DRIVER_FEATURES;
	e->want_features = ack;
	ret = __vmt_vhost_set_features(d->fd, d->features);
	TEST_ASSERT(!ret,
		    "VHOST_SET_FEATURES 0x%llx after a virtio reset: expected success, got %s",
		    (unsigned long long)d->features, vmt_errname(-ret));
	ret = __vmt_vq_attach(&e->vq, d->fd, VHOST_MEM_REQUESTQ, d->features);
	TEST_ASSERT(!ret, "%s after a virtio reset: expected success, got %s",
		    e->vq.failed_op, vmt_errname(-ret));
	ret = __vmt_mem_set_running(d->fd, 1);
	e->running = !ret;
	return ret;
}

void vmt_model_copy(struct vmt_model *dst, const struct vmt_model *src,
		    u64 chunk_size)
{
	u64 b;

	vmt_model_init(dst, src->addr, src->region_size, src->block_size,
		       chunk_size ? chunk_size : src->chunk_size);
	for (b = 0; b < src->nr_blocks; b++) {
		if (!src->map[b])
			continue;
		dst->map[b] = 1;
		dst->chunk_count[b / dst->blocks_per_chunk]++;
	}
	dst->usable = src->usable;
	dst->requested = src->requested;
	dst->plugged = src->plugged;
	dst->hard = src->hard;
}

void vmt_model_system_reset(struct vmt_model *m)
{
	memset(m->map, 0, m->nr_blocks);
	memset(m->chunk_count, 0, m->nr_chunks * sizeof(*m->chunk_count));
	m->plugged = 0;
	m->usable = vmt_model_usable_for(m, m->requested);
}

void vmt_vmm_system_reset(struct vmt_rq_env *e)
{
	int r = __vmt_vmm_system_reset(e->dev.fd);

	TEST_ASSERT(!r, "VHOST_MEM_RESET: expected success, got %s",
		    vmt_errstr(r));
	vmt_model_system_reset(&e->model);
}

/* ------------------------------------------------------------------ */
/* Side devices                                                       */
/* ------------------------------------------------------------------ */

void vmt_side_init(struct vmt_side *s, struct vmt_vm *vm, u64 size,
		   u64 gpa, u64 chunk_size, u32 slot_base)
{
	memset(s, 0, sizeof(*s));
	s->dev.fd = -1;
	s->backing.fd = -1;
	vmt_vq_init(&s->vq, vm, 0);
	s->vq_init = true;
	vmt_dev_open_ready(&s->dev, vm, &s->vq, ~0ULL);
	vmt_rq_backing_anon_aligned(&s->backing, size, VMT_RQ_BLOCK);
	vmt_region_init(&s->region, &s->backing, gpa, VMT_RQ_BLOCK, slot_base);
	s->region.chunk_size = chunk_size;
	s->region.slot_count = vmt_region_slots_needed(&s->region);
}

int __vmt_side_setup(struct vmt_side *s)
{
	int r = __vmt_mem_set_vm(s->dev.fd, s->dev.vm->vm_fd);

	return r ? r : __vmt_mem_set_region(s->dev.fd, &s->region);
}

void vmt_side_start(struct vmt_side *s, u64 requested)
{
	int r = __vmt_mem_set_requested_size(s->dev.fd, requested);

	TEST_ASSERT(!r, "side device: VHOST_MEM_SET_REQUESTED_SIZE 0x%llx: expected success, got %s",
		    (unsigned long long)requested, vmt_errname(-r));
	r = __vmt_mem_set_running(s->dev.fd, 1);
	TEST_ASSERT(!r, "side device: VHOST_MEM_SET_RUNNING 1: expected success, got %s",
		    vmt_errname(-r));
}

void vmt_side_free(struct vmt_side *s)
{
	if (s->dev.fd >= 0)
		vmt_dev_close(&s->dev);
	if (s->vq_init)
		vmt_vq_destroy(&s->vq);
	s->vq_init = false;
	vmt_backing_free(&s->backing);
}

/* ------------------------------------------------------------------ */
/* Guest accesses                                                     */
/* ------------------------------------------------------------------ */

void vmt_vm_expect_read_at(const char *file, int line, struct vmt_vm *vm,
			   u64 gpa, u64 want, const char *why)
{
	u64 val = 0;
	int r = vmt_guest_read_u64(vm, gpa, &val);

	if (r != VMT_ACCESS_OK)
		vmt_assert_fail(file, line, NULL, 0,
				"guest read at GPA 0x%llx (%s): expected the value 0x%llx, got %s",
				(unsigned long long)gpa, why,
				(unsigned long long)want, vmt_access_name(r));
	if (val != want)
		vmt_assert_fail(file, line, NULL, 0,
				"guest read at GPA 0x%llx (%s): expected 0x%llx, got 0x%llx",
				(unsigned long long)gpa, why,
				(unsigned long long)want,
				(unsigned long long)val);
}

void vmt_vm_expect_mmio_at(const char *file, int line, struct vmt_vm *vm,
			   u64 gpa, const char *why)
{
	u64 val = 0;
	int r = vmt_guest_read_u64(vm, gpa, &val);

	if (r != VMT_ACCESS_MMIO)
		vmt_assert_fail(file, line, NULL, 0,
				"guest read at GPA 0x%llx (%s): expected %s, got %s (value 0x%llx)",
				(unsigned long long)gpa, why,
				vmt_access_name(VMT_ACCESS_MMIO),
				vmt_access_name(r), (unsigned long long)val);
}

void vmt_vm_expect_write_at(const char *file, int line, struct vmt_vm *vm,
			    u64 gpa, u64 val, const char *why)
{
	int r = vmt_guest_write_u64(vm, gpa, val);

	if (r != VMT_ACCESS_OK)
		vmt_assert_fail(file, line, NULL, 0,
				"guest write at GPA 0x%llx (%s): expected completed, got %s",
				(unsigned long long)gpa, why,
				vmt_access_name(r));
}

u64 vmt_block_tag(u64 seed, u64 block, u64 off)
{
	return 0x7a6000000000000ULL ^ seed << 52 ^ block << 24 ^ off;
}

/* ------------------------------------------------------------------ */
/* Backing                                                            */
const char *vmt_backing_hugetlbfs(struct vmt_backing *b, const char *dir,
				  u64 size)
{
	static char why[160];
	struct statfs sfs;
	char path[128];
	void *hva;
	int fd;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (statfs(dir, &sfs) || (u32)sfs.f_type != VMT_HUGETLBFS_MAGIC) {
		snprintf(why, sizeof(why), "%s is not a hugetlbfs mount", dir);
		return why;
	}
	if ((u64)sfs.f_bsize != VMT_RQ_BLOCK) {
		snprintf(why, sizeof(why), "%s has %lu-byte pages, not 2 MiB",
			 dir, (unsigned long)sfs.f_bsize);
		return why;
	}
	snprintf(path, sizeof(path), "%s/vmt-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot create a file in %s: %s",
			 dir, vmt_errname(errno));
		return why;
	}
	unlink(path);
	if (ftruncate(fd, size)) {
		snprintf(why, sizeof(why), "ftruncate of a hugetlbfs file: %s",
			 vmt_errname(errno));
		close(fd);
		return why;
	}
	hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (hva == MAP_FAILED) {
		snprintf(why, sizeof(why), "mmap of a hugetlbfs file: %s",
			 vmt_errname(errno));
		close(fd);
		return why;
	}
	*b = (struct vmt_backing){
		.type = VMT_BACKING_MEMFD, .hva = hva, .size = size, .fd = fd,
	};
	return NULL;
}

u64 vmt_backing_held(const struct vmt_backing *b, u64 off, u64 len)
{
	const u8 *p = (const u8 *)b->hva + off;

	if (b->fd >= 0)
		return vmt_resident_pages(p, len) * 4096;
	return vmt_present_pages(p, len) * 4096;
}

u64 vmt_backing_allocated(const struct vmt_backing *b)
{
	if (b->fd >= 0)
		return vmt_memfd_allocated(b->fd);
	return vmt_present_pages(b->hva, b->size) * 4096;
}

static long long vmt_hugetlb_saved = -1;

static int __vmt_write_long(const char *path, long long val)
{
	FILE *f = fopen(path, "we");
	int r = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%lld\n", val) < 0)
		r = -EIO;
	if (fclose(f) && !r)
		r = -errno;
	return r;
}

void vmt_hugetlb_restore(void)
{
	if (vmt_hugetlb_saved >= 0)
		__vmt_write_long(VMT_NR_HUGEPAGES, vmt_hugetlb_saved);
}

long long vmt_hugetlb_free(void)
{
	return vmt_meminfo_kb("HugePages_Free");
}

const char *vmt_hugetlb_pool(long long free_pages)
{
	static char why[160];
	long long total, free_now, nr;

	total = vmt_meminfo_kb("HugePages_Total");
	free_now = vmt_meminfo_kb("HugePages_Free");
	if (total < 0 || free_now < 0)
		return "no hugetlb pages in this kernel";
	if (vmt_meminfo_kb("Hugepagesize") != 2048)
		return "the default huge page size is not 2 MiB";
	if (vmt_hugetlb_saved < 0) {
		if (__vmt_read_long(VMT_NR_HUGEPAGES, &nr))
			return "cannot read " VMT_NR_HUGEPAGES;
		vmt_hugetlb_saved = nr;
		atexit(vmt_hugetlb_restore);
	}
	if (__vmt_write_long(VMT_NR_HUGEPAGES,
			     total - free_now + free_pages))
		return "cannot write " VMT_NR_HUGEPAGES;
	free_now = vmt_meminfo_kb("HugePages_Free");
	if (free_now != free_pages) {
		snprintf(why, sizeof(why),
			 "cannot make the pool hold %lld free huge pages (it has %lld)",
			 free_pages, free_now);
		return why;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The kernel log                                                     */
/* ------------------------------------------------------------------ */

int __vmt_klog_mark(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

int vmt_klog_count(int fd, const char *needle, bool show)
{
	char rec[8192], *msg, *nl;
	int n = 0;
	ssize_t r;

	for (;;) {
		r = read(fd, rec, sizeof(rec) - 1);
		if (r < 0) {
			/* EPIPE: records were overwritten, go on from here */
			if (errno == EPIPE || errno == EINTR)
				continue;
			break;
		}
		if (!r)
			break;
		rec[r] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		if (!strstr(msg, needle))
			continue;
		n++;
		if (show)
			fprintf(stderr, "#   kernel: %s\n", msg);
	}
	return n;
}
