/* SPDX-License-Identifier: GPL-2.0 */
/* vhost-mem-ctl: sizes in binary units, as the kernel and QEMU write them. */
#ifndef VHOST_MEM_CTL_SIZE_H
#define VHOST_MEM_CTL_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* "0", "512", "2M", "1.25G": at most two decimals, trailing zeros cut. */
const char *fmt_size(char *buf, size_t len, uint64_t v);
/* fmt_size() into one of a few static buffers: several per printf. */
const char *sz(uint64_t v);
/*
 * "4096", "512M", "1.5T", "4GiB", "2mb": a whole number of bytes.
 * Returns 0, -EINVAL (not a size) or -ERANGE (beyond 2^64 - 1).
 */
int parse_size(const char *s, uint64_t *out);

#endif /* VHOST_MEM_CTL_SIZE_H */
