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
int __vmt_module_refcnt(const char *name);
/*
 * Wait up to timeout_ms for the reference count to be want (a dead
 * process's files are released a little after its exit).  Returns the
 * last count read.
 */
int vmt_module_refcnt_wait(const char *name, int want, int timeout_ms);
/*
 * The KVM vendor module (kvm_amd or kvm_intel), whose count holds one
 * reference per /dev/kvm file, VM and vCPU: a VM still alive shows there.
 * NULL if neither is loaded as a module.
 */
const char *vmt_kvm_module(void);

/*
 * What a leaked device would keep: module references (vhost_mem and the
 * KVM vendor module's), memory, open files.
 */
struct vmt_sys_sample {
	int refcnt;		/* vhost_mem */
	int kvm_refcnt;		/* vmt_kvm_module(), -ENOENT without one */
	long long mem_available_kb;	/* with the per-CPU free lists */
	long long shmem_kb;
	long long files;	/* allocated in the system (approximate) */
	int own_fds;		/* open in this process */
};

/* Wait for refcounts to reach base's (up to timeout_ms), then sample. */
void vmt_sys_sample(struct vmt_sys_sample *s,
		    const struct vmt_sys_sample *base, int timeout_ms);
/*
 * Differences between now and base beyond the tolerances (kB of
 * MemAvailable lost and Shmem gained, files gained; any change of the
 * refcounts or our own fds), printed to f with what; returns how many.
 */
int vmt_sys_diff(const struct vmt_sys_sample *base,
		 const struct vmt_sys_sample *now, long long mem_tol_kb,
		 long long files_tol, const char *what, FILE *f);

/*
 * Run modprobe -d $VHOST_MEM_MODROOT [-S $VHOST_MEM_KVER] [-r] name, with
 * its stdout and stderr captured into out.  Returns the exit status, or
 * -errno if it could not be run.
 */
int __vmt_modprobe(const char *name, bool remove, char *out, size_t outlen);
/* delete_module(name, O_NONBLOCK): 0 or -errno. */
int __vmt_delete_module(const char *name);

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
