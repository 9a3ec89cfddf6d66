// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: backing memory and residency probes.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing.h"

#define VMT_PAGE_SIZE	4096ULL

const char *vmt_backing_name(enum vmt_backing_type type)
{
	switch (type) {
	case VMT_BACKING_ANON:
		return "anonymous";
	case VMT_BACKING_MEMFD:
		return "memfd";
	}
	return "unknown";
}

int __vmt_backing_create(struct vmt_backing *b, enum vmt_backing_type type,
			 u64 size)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->type = type;
	b->size = size;
	b->fd = -1;
	if (!size || !VMT_IS_ALIGNED(size, VMT_PAGE_SIZE))
		return -EINVAL;

	switch (type) {
	case VMT_BACKING_ANON:
		b->hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			      -1, 0);
		break;
	case VMT_BACKING_MEMFD:
		b->fd = memfd_create("vhost-mem-test", MFD_CLOEXEC);
		if (b->fd < 0)
			return -errno;
		if (ftruncate(b->fd, size)) {
			err = errno;
			close(b->fd);
			b->fd = -1;
			return -err;
		}
		b->hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			      b->fd, 0);
		break;
	default:
		return -EINVAL;
	}
	if (b->hva == MAP_FAILED) {
		err = errno;
		b->hva = NULL;
		if (b->fd >= 0)
			close(b->fd);
		b->fd = -1;
		return -err;
	}
	return 0;
}

void vmt_backing_init(struct vmt_backing *b, enum vmt_backing_type type,
		      u64 size)
{
	int r = __vmt_backing_create(b, type, size);

	TEST_ASSERT(!r, "%s backing of %llu bytes: expected success, got %s",
		    vmt_backing_name(type), (unsigned long long)size,
		    vmt_errname(-r));
}

void vmt_backing_free(struct vmt_backing *b)
{
	if (b->hva)
		munmap(b->hva, b->size);
	if (b->fd >= 0)
		close(b->fd);
	b->hva = NULL;
	b->fd = -1;
}

u64 vmt_resident_pages(const void *addr, u64 len)
{
	uintptr_t start = (uintptr_t)addr & ~(VMT_PAGE_SIZE - 1);
	u64 npages = ((uintptr_t)addr + len - start + VMT_PAGE_SIZE - 1) /
		     VMT_PAGE_SIZE;
	u64 done, count = 0;
	unsigned char vec[4096];

	for (done = 0; done < npages; ) {
		u64 n = npages - done, i;

		if (n > sizeof(vec))
			n = sizeof(vec);
		TEST_ASSERT(!mincore((void *)(start + done * VMT_PAGE_SIZE),
				     n * VMT_PAGE_SIZE, vec),
			    "mincore(%p, %llu pages)",
			    (void *)(start + done * VMT_PAGE_SIZE),
			    (unsigned long long)n);
		for (i = 0; i < n; i++)
			count += vec[i] & 1;
		done += n;
	}
	return count;
}

u64 vmt_present_pages(const void *addr, u64 len)
{
	uintptr_t start = (uintptr_t)addr & ~(VMT_PAGE_SIZE - 1);
	u64 npages = ((uintptr_t)addr + len - start + VMT_PAGE_SIZE - 1) /
		     VMT_PAGE_SIZE;
	u64 done, count = 0;
	u64 ent[512];
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	TEST_ASSERT(fd >= 0, "cannot open /proc/self/pagemap");
	for (done = 0; done < npages; ) {
		u64 n = npages - done, i;
		off_t off = (off_t)((start / VMT_PAGE_SIZE + done) * 8);
		ssize_t r;

		if (n > VMT_ARRAY_SIZE(ent))
			n = VMT_ARRAY_SIZE(ent);
		r = pread(fd, ent, n * 8, off);
		TEST_ASSERT(r == (ssize_t)(n * 8),
			    "pread of %llu pagemap entries at %p: got %zd",
			    (unsigned long long)n,
			    (void *)(start + done * VMT_PAGE_SIZE), r);
		for (i = 0; i < n; i++)
			count += ent[i] >> 63;
		done += n;
	}
	close(fd);
	return count;
}

u64 vmt_memfd_allocated(int fd)
{
	struct stat st;

	TEST_ASSERT(!fstat(fd, &st), "fstat of memfd %d", fd);
	return (u64)st.st_blocks * 512;
}

u64 vmt_memfd_data_bytes(int fd, u64 off, u64 len)
{
	off_t pos = (off_t)off, end = (off_t)(off + len), data, hole;
	u64 bytes = 0;

	while (pos < end) {
		data = lseek(fd, pos, SEEK_DATA);
		if (data < 0) {
			TEST_ASSERT(errno == ENXIO, "lseek(SEEK_DATA, %lld)",
				    (long long)pos);
			break;
		}
		if (data >= end)
			break;
		hole = lseek(fd, data, SEEK_HOLE);
		TEST_ASSERT(hole >= 0, "lseek(SEEK_HOLE, %lld)",
			    (long long)data);
		if (hole > end)
			hole = end;
		bytes += hole - data;
		pos = hole;
	}
	return bytes;
}

u64 vmt_pattern(u64 offset, u64 seed)
{
	u64 x = (offset / VMT_PAGE_SIZE) ^ (seed * 0x9e3779b97f4a7c15ULL);

	/* splitmix64 finaliser: every page gets a different, nonzero value */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x ? x : 1;
}

void vmt_fill_pattern(void *addr, u64 len, u64 seed)
{
	u64 off;

	for (off = 0; off + 8 <= len; off += VMT_PAGE_SIZE)
		*(u64 *)((u8 *)addr + off) = vmt_pattern(off, seed);
}

u64 vmt_check_pattern(const void *addr, u64 len, u64 seed)
{
	u64 off;

	for (off = 0; off + 8 <= len; off += VMT_PAGE_SIZE)
		if (*(const u64 *)((const u8 *)addr + off) !=
		    vmt_pattern(off, seed))
			return off;
	return len;
}
