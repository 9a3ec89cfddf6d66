/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: the module and its device node.
 *
 * The VM runner exports VHOST_MEM_MODROOT (a root for modprobe -d, holding
 * lib/modules/$VHOST_MEM_KVER) and VHOST_MEM_KVER.  When VHOST_MEM_MODROOT is
 * set the module is expected to be there: a missing /dev/vhost-mem is then a
 * failure, not a reason to skip.
 */
#ifndef VMT_MODULE_UTIL_H
#define VMT_MODULE_UTIL_H

#include "test_util.h"

#define VMT_MODULE_NAME		"vhost_mem"

/* Environment, or NULL when unset or empty. */
const char *vmt_modroot(void);
const char *vmt_kver(void);

/* Whether the kernel can load modules at all (/proc/modules exists). */
bool vmt_modules_supported(void);
/* /sys/module/<name>/refcnt exists (loaded as a module). */
bool vmt_module_loaded(const char *name);
/* The module's reference count, or -errno (-ENOENT: not loaded). */
int vmt_module_refcnt(const char *name);

/*
 * Run modprobe -d $VHOST_MEM_MODROOT [-S $VHOST_MEM_KVER] [-r] name, with
 * its stdout and stderr captured into out.  Returns the exit status, or
 * -errno if it could not be run.
 */
int vmt_modprobe(const char *name, bool remove, char *out, size_t outlen);
/* delete_module(name, O_NONBLOCK): 0 or -errno. */
int vmt_delete_module(const char *name);

/*
 * NULL if a test should go ahead and use /dev/vhost-mem, else why it should
 * be skipped: the node is missing and VHOST_MEM_MODROOT is unset.
 */
const char *vmt_mem_skip_reason(void);

/*
 * Open /dev/vhost-mem.  Without the node: skip the test, or fail it if
 * VHOST_MEM_MODROOT says the module should be there.
 */
int vmt_mem_open(void);

#endif /* VMT_MODULE_UTIL_H */
