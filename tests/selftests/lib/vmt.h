/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests library: include this one header.
 *
 *   test_util.h       TEST_ASSERT(), /proc and /sys probes
 *   kvm_util.h        a KVM VM whose guest reads and writes one GPA
 *   backing.h         anonymous and memfd backing, residency probes
 *   vhost_util.h      vhost ioctls and a split-virtqueue driver
 *   vhost_mem_util.h  virtio-mem requests and /dev/vhost-mem ioctls
 *   module_util.h     modprobe, module refcount, opening the device
 */
#ifndef VMT_H
#define VMT_H

#include <stdlib.h>

#include "test_util.h"
#include "kvm_util.h"
#include "backing.h"
#include "vhost_util.h"
#include "vhost_mem_util.h"
#include "module_util.h"

/*
 * For kselftest_harness tests (include kselftest_harness.h after this
 * header): skip, with the reason in the KTAP line.  The test process ends
 * there (a fixture's teardown does not run), so use them before setting
 * anything up.
 */
#define VMT_REQUIRE_DEVICE() do { \
	const char *__why = vmt_mem_skip_reason(); \
	if (__why) \
		SKIP(exit(VMT_KSFT_SKIP), "%s", __why); \
} while (0)

#define VMT_REQUIRE_KVM() do { \
	const char *__why = vmt_kvm_skip_reason(); \
	if (__why) \
		SKIP(exit(VMT_KSFT_SKIP), "%s", __why); \
} while (0)

/*
 * A fixture's variants "anon" and "memfd" (after FIXTURE()):
 * variant->type is the backing, and each test runs on both.
 */
#define VMT_BACKING_VARIANTS(fixture) \
	FIXTURE_VARIANT(fixture) { \
		enum vmt_backing_type type; \
	}; \
	FIXTURE_VARIANT_ADD(fixture, anon) { \
		.type = VMT_BACKING_ANON, \
	}; \
	FIXTURE_VARIANT_ADD(fixture, memfd) { \
		.type = VMT_BACKING_MEMFD, \
	}

#endif /* VMT_H */
