/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Everything blocks.c may use.  In the module these are the kernel's own
 * headers; in the host unit tests and fuzzers tests/unit/kernel_shim.h
 * provides the same names on top of libc, so blocks.c is one file for both.
 */
#ifndef _VHOST_MEM_BLOCKS_TYPES_H
#define _VHOST_MEM_BLOCKS_TYPES_H

#ifdef __KERNEL__
#include <linux/align.h>
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/log2.h>
#include <linux/math.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/types.h>
#include <uapi/linux/virtio_mem.h>
/* The project's uapi/ directory out of tree, include/uapi in tree. */
#include <linux/vhost_mem.h>
#else
#include "../tests/unit/kernel_shim.h"
#include <linux/virtio_mem.h>
#include "../uapi/linux/vhost_mem.h"
#endif

#endif /* _VHOST_MEM_BLOCKS_TYPES_H */
