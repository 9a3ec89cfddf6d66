/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: assertions and small helpers shared by every test.
 *
 * A failed TEST_ASSERT() prints where it failed, the condition, the message
 * (which should say what was expected and what came instead), errno and the
 * calls that led there (vmt_dump_stack()), then exits the test process with
 * KSFT_FAIL.  TEST_REQUIRE() exits with KSFT_SKIP
 * instead, for tests that cannot run in this environment.
 */
#ifndef VMT_TEST_UTIL_H
#define VMT_TEST_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;

#define VMT_KSFT_PASS	0
#define VMT_KSFT_FAIL	1
#define VMT_KSFT_SKIP	4

#define VMT_KIB		(1ULL << 10)
#define VMT_MIB		(1ULL << 20)
#define VMT_GIB		(1ULL << 30)
#define VMT_TIB		(1ULL << 40)

#define VMT_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define VMT_ALIGN_UP(x, a)	(((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define VMT_IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)

/* As in the kernel's compiler attributes (split for checkpatch). */
#ifndef __noreturn
#define __noreturn	__attribute__(( \
			__noreturn__))
#endif
#ifndef __printf
#define __printf(a, b)	__attribute__(( \
			__format__(printf, a, b)))
#endif

__noreturn __printf(5, 6)
void vmt_assert_fail(const char *file, int line, const char *expr,
		     int err, const char *fmt, ...);
/* The calls that led here, one "function at file:line" a frame. */
void vmt_dump_stack(void);
__noreturn __printf(3, 4)
void vmt_skip(const char *file, int line, const char *fmt, ...);

#define TEST_ASSERT(cond, fmt, ...) do { \
	if (!(cond)) \
		vmt_assert_fail(__FILE__, __LINE__, #cond, errno, \
				fmt, ##__VA_ARGS__); \
} while (0)

#define TEST_FAIL(fmt, ...) \
	vmt_assert_fail(__FILE__, __LINE__, NULL, errno, fmt, ##__VA_ARGS__)

/* Compare two integers; the message shows both values. */
#define TEST_ASSERT_EQ(a, b) do { \
	unsigned long long __a = (a), __b = (b); \
	if (__a != __b) \
		vmt_assert_fail(__FILE__, __LINE__, #a " == " #b, errno, \
				"expected %s = %llu (0x%llx), got %llu (0x%llx)", \
				#a, __b, __b, __a, __a); \
} while (0)

/* For calls returning 0 or -errno: fail with the errno's name. */
#define TEST_ASSERT_OK(call) do { \
	int __r = (call); \
	if (__r) \
		vmt_assert_fail(__FILE__, __LINE__, #call " == 0", -__r, \
				"expected success, got %d (%s)", __r, \
				vmt_errname(-__r)); \
} while (0)

#define TEST_REQUIRE(cond, fmt, ...) do { \
	if (!(cond)) \
		vmt_skip(__FILE__, __LINE__, fmt, ##__VA_ARGS__); \
} while (0)

/* "EPERM", "ENOENT", ... or the number; never NULL. */
const char *vmt_errname(int err);
/* The result of a call returning 0 or -errno: "success", "EPERM", ... */
const char *vmt_errstr(int ret);

/* Default timeout for waits on the device, ms (env VMT_TIMEOUT_MS). */
int vmt_timeout_ms(void);
/* CLOCK_MONOTONIC in ns and ms. */
u64 vmt_now_ns(void);
void vmt_sleep_ms(unsigned int ms);

/*
 * Read a whole small file (sysfs, procfs) into buf, NUL-terminated and
 * without a trailing newline.  Returns the length or -errno.
 */
int __vmt_read_file(const char *path, char *buf, size_t size);
/* Read one integer from a file.  Returns 0 or -errno. */
int __vmt_read_long(const char *path, long long *val);

/* A field of /proc/meminfo in kB, or -1 if the kernel has no such field. */
long long vmt_meminfo_kb(const char *field);
/* The allocated file handles of the system (first field of file-nr). */
long long vmt_nr_files(void);
/* Whether the running kernel has the symbol (/proc/kallsyms, as root). */
bool vmt_kernel_has_symbol(const char *name);
/* Tasks (threads and kthreads) in the whole system named exactly comm. */
int vmt_count_tasks_named(const char *comm);
/* Threads of this process. */
int vmt_count_own_threads(void);
/* File descriptors open in this process. */
int vmt_count_own_fds(void);

/* Wait until path exists (or, with !exists, is gone).  0 or -ETIMEDOUT. */
int __vmt_wait_path(const char *path, bool exists, int timeout_ms);

/* One byte and one fd over an AF_UNIX socket (SCM_RIGHTS): 0 or -errno. */
int __vmt_send_fd(int sock, int fd);
/* The fd received, or -errno (-ENODATA: a byte without an fd). */
int __vmt_recv_fd(int sock);

/*
 * Fork a child that runs fn(ready_fd, arg) and never returns; it writes one
 * byte to ready_fd when the parent may act on it.  The parent waits up to
 * timeout_ms for that byte: returns the pid, or fails the test saying why:
 * the child exited first (with its exit status or signal, reaped), or took
 * longer, or closed ready_fd without writing (both: the child killed).
 */
pid_t vmt_fork_ready(void (*fn)(int ready_fd, void *arg), void *arg,
		     int timeout_ms);
/*
 * Fork with an AF_UNIX stream socket pair between parent and child:
 * returns the pid (0 in the child) and sets *sock to this side's end.
 */
pid_t vmt_fork_socket(int *sock);
/* SIGKILL a child and reap it; fails the test unless SIGKILL ended it. */
void vmt_kill_wait(pid_t pid);

#endif /* VMT_TEST_UTIL_H */
