/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel names kernel/blocks.c uses, on top of libc, so that the
 * module's source file builds unchanged in host unit tests and fuzzers.
 * Semantics follow the kernel's; speed does not matter here.
 */
#ifndef _VHOST_MEM_KERNEL_SHIM_H
#define _VHOST_MEM_KERNEL_SHIM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#define GFP_KERNEL		0U
#define GFP_KERNEL_ACCOUNT	0U

static inline void *kvcalloc(size_t n, size_t size, unsigned int flags)
{
	(void)flags;
	return calloc(n, size);
}

static inline void kvfree(const void *addr)
{
	free((void *)addr);
}

#define min(a, b)	((a) < (b) ? (a) : (b))
#define max(a, b)	((a) > (b) ? (a) : (b))
#define min_t(t, a, b)	min((t)(a), (t)(b))
#define max_t(t, a, b)	max((t)(a), (t)(b))

#define ALIGN(x, a)	(((x) + ((__typeof__(x))(a) - 1)) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))

#define check_add_overflow(a, b, d)	__builtin_add_overflow(a, b, d)
#define check_mul_overflow(a, b, d)	__builtin_mul_overflow(a, b, d)

static inline bool is_power_of_2(unsigned long n)
{
	return n && !(n & (n - 1));
}

/* Only defined for n > 0, as the kernel's. */
#define ilog2(n)	(63 - __builtin_clzll((unsigned long long)(n)))

#define BITS_PER_LONG		(__SIZEOF_LONG__ * 8)
#define BITS_TO_LONGS(nr)	(((nr) + BITS_PER_LONG - 1) / BITS_PER_LONG)
#define BIT_WORD(nr)		((nr) / BITS_PER_LONG)
#define BIT_MASK(nr)		(1UL << ((nr) % BITS_PER_LONG))

static inline bool test_bit(unsigned long nr, const unsigned long *addr)
{
	return addr[BIT_WORD(nr)] & BIT_MASK(nr);
}

static inline void __set_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] |= BIT_MASK(nr);
}

static inline void __clear_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] &= ~BIT_MASK(nr);
}

/* First bit equal to @value at or after @offset, or @size if none. */
static inline unsigned long shim_find_next(const unsigned long *addr, unsigned long size,
					   unsigned long offset, bool value)
{
	while (offset < size) {
		unsigned long word = addr[BIT_WORD(offset)];

		if (!value)
			word = ~word;
		word &= ~0UL << (offset % BITS_PER_LONG);
		if (word) {
			offset -= offset % BITS_PER_LONG;
			offset += __builtin_ctzl(word);
			return min(offset, size);
		}
		offset += BITS_PER_LONG - offset % BITS_PER_LONG;
	}
	return size;
}

static inline unsigned long find_next_bit(const unsigned long *addr, unsigned long size,
					  unsigned long offset)
{
	return shim_find_next(addr, size, offset, true);
}

static inline unsigned long find_next_zero_bit(const unsigned long *addr, unsigned long size,
					       unsigned long offset)
{
	return shim_find_next(addr, size, offset, false);
}

static inline unsigned long find_first_bit(const unsigned long *addr, unsigned long size)
{
	return find_next_bit(addr, size, 0);
}

/* The kernel's bitmap_set()/bitmap_clear() take unsigned int, keep that. */
static inline void shim_bitmap_fill(unsigned long *map, unsigned int start,
				    unsigned int nbits, bool value)
{
	while (nbits) {
		if (start % BITS_PER_LONG == 0 && nbits >= BITS_PER_LONG) {
			map[BIT_WORD(start)] = value ? ~0UL : 0;
			start += BITS_PER_LONG;
			nbits -= BITS_PER_LONG;
			continue;
		}
		if (value)
			__set_bit(start, map);
		else
			__clear_bit(start, map);
		start++;
		nbits--;
	}
}

static inline void bitmap_set(unsigned long *map, unsigned int start, unsigned int nbits)
{
	shim_bitmap_fill(map, start, nbits, true);
}

static inline void bitmap_clear(unsigned long *map, unsigned int start, unsigned int nbits)
{
	shim_bitmap_fill(map, start, nbits, false);
}

static inline unsigned int bitmap_weight(const unsigned long *map, unsigned int nbits)
{
	unsigned int i, weight = 0;

	for (i = 0; i + BITS_PER_LONG <= nbits; i += BITS_PER_LONG)
		weight += __builtin_popcountl(map[BIT_WORD(i)]);
	for (; i < nbits; i++)
		weight += test_bit(i, map);
	return weight;
}

#endif /* _VHOST_MEM_KERNEL_SHIM_H */
