/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: backing memory for the device region, and probes of
 * how much of it is really there.
 */
#ifndef VMT_BACKING_H
#define VMT_BACKING_H

#include "test_util.h"

enum vmt_backing_type {
	VMT_BACKING_ANON,	/* MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE */
	VMT_BACKING_MEMFD,	/* memfd_create + ftruncate + MAP_SHARED */
};

struct vmt_backing {
	enum vmt_backing_type type;
	void *hva;
	u64 size;
	int fd;			/* memfd, -1 for anonymous memory */
};

const char *vmt_backing_name(enum vmt_backing_type type);

/* Map size bytes of the given type.  0 or -errno (nothing left mapped). */
int __vmt_backing_create(struct vmt_backing *b, enum vmt_backing_type type,
			 u64 size);
/* Same, failing the test on error. */
void vmt_backing_init(struct vmt_backing *b, enum vmt_backing_type type,
		      u64 size);
void vmt_backing_free(struct vmt_backing *b);

/* Pages of [addr, addr + len) that mincore() reports resident. */
u64 vmt_resident_pages(const void *addr, u64 len);
/* Pages of [addr, addr + len) mapped in this process (pagemap bit 63). */
u64 vmt_present_pages(const void *addr, u64 len);
/* Bytes the memfd has allocated (st_blocks * 512). */
u64 vmt_memfd_allocated(int fd);
/*
 * Bytes of [off, off + len) of a memfd that hold pages, from SEEK_DATA and
 * SEEK_HOLE (shmem supports both).
 */
u64 vmt_memfd_data_bytes(int fd, u64 off, u64 len);

/* Write a recognisable qword pattern per 4 KiB page; check it back. */
u64 vmt_pattern(u64 offset, u64 seed);
void vmt_fill_pattern(void *addr, u64 len, u64 seed);
/* Returns the byte offset of the first page that differs, or len. */
u64 vmt_check_pattern(const void *addr, u64 len, u64 seed);

#endif /* VMT_BACKING_H */
