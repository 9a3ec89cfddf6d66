/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: a minimal KVM VM with one 64-bit vCPU.
 *
 * The VM has boot RAM at GPA 0 (memslot 0, anonymous memory), identity-mapped
 * page tables that cover VMT_IDENTITY_MAP_SIZE of guest-physical space (with
 * 1 GiB pages; if KVM does not offer them, with 2 MiB pages whose page
 * directories are filled in on demand from a small pool in boot RAM), and a
 * few bytes of guest code that load or store one
 * qword at a GPA and report through port I/O.  A test asks the guest to touch
 * a GPA and learns whether a memslot was there: either the access completed,
 * or KVM exited to us with KVM_EXIT_MMIO (no memslot), or KVM_RUN failed with
 * EFAULT (a memslot whose userspace memory is gone).
 */
#ifndef VMT_KVM_UTIL_H
#define VMT_KVM_UTIL_H

#include <linux/kvm.h>

#include "test_util.h"

/* Guest-physical layout of boot RAM. */
#define VMT_GPA_CODE		0x1000ULL	/* guest code */
#define VMT_GPA_GDT		0x2000ULL	/* GDT: null, code64, data */
#define VMT_GPA_PML4		0x3000ULL
#define VMT_GPA_PDPT		0x4000ULL	/* VMT_PDPT_PAGES pages */
#define VMT_PDPT_PAGES		8		/* 8 x 512 GiB */
#define VMT_GPA_MAILBOX		0xc000ULL	/* guest stores what it read */
#define VMT_GPA_STACK_TOP	0x10000ULL
#define VMT_GPA_PD		0x10000ULL	/* 2 MiB pages: PD of GiB 0, */
#define VMT_PD_POOL_PAGES	32		/* then a pool of these */
#define VMT_GPA_ALLOC		(VMT_GPA_PD + (1 + VMT_PD_POOL_PAGES) * 4096ULL)
#define VMT_IDENTITY_MAP_SIZE	((u64)VMT_PDPT_PAGES << 39)	/* 4 TiB */

#define VMT_BOOT_RAM_SIZE	(4ULL << 20)
#define VMT_BOOT_SLOT		0

/* The guest writes this port when it is done, or finds a wrong value. */
#define VMT_PORT_DONE		0xf0
#define VMT_PORT_MISMATCH	0xf1

/*
 * With VMT_VCPUS=N (up to VMT_MAX_PROBE_VCPUS), every vmt_guest_read_u64()
 * and vmt_guest_write_u64() runs on N vCPUs at once, each in a thread of
 * its own, and fails the test unless all meet the same (memslots are the
 * VM's, not a vCPU's).  The extra vCPUs' ids start above VMT_PROBE_VCPU_ID.
 */
#define VMT_MAX_PROBE_VCPUS	8
#define VMT_PROBE_VCPU_ID	1000

struct vmt_vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;	/* 0: the first vCPU's, not ours to unmap */
	u32 id;
	bool shared;		/* run by several threads at once (see below) */
};

struct vmt_vm {
	int kvm_fd;			/* /dev/kvm */
	int vm_fd;			/* KVM_CREATE_VM: for VHOST_MEM_SET_VM */
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	void *ram;			/* boot RAM, at GPA 0 */
	u64 ram_size;
	u64 alloc_next;			/* vmt_vm_alloc() bump pointer (GPA) */
	unsigned int guest_phys_bits;	/* MAXPHYADDR the guest's CPUID shows */
	bool pages_1g;			/* 1 GiB pages, else 2 MiB on demand */
	unsigned int pd_next;		/* next pool page to (re)use */
	s64 pd_gib[VMT_PD_POOL_PAGES];	/* GiB each pool page maps, or -1 */
	unsigned int nr_memslots;	/* KVM_CAP_NR_MEMSLOTS */
	u64 nr_runs;			/* KVM_RUN calls so far (__atomic) */
	struct vmt_vcpu probe_vcpus[VMT_MAX_PROBE_VCPUS]; /* [0]: vcpu_fd's */
	void *probe_stacks[VMT_MAX_PROBE_VCPUS];	/* their threads' */
	unsigned int nr_probe_vcpus;
	bool racing;	/* memslots change during accesses: vCPUs may differ */
};

/* What happened to a guest access. */
enum vmt_access {
	VMT_ACCESS_OK = 0,	/* the access completed on RAM */
	VMT_ACCESS_MMIO = 1,	/* KVM_EXIT_MMIO at that GPA: no memslot */
	VMT_ACCESS_EFAULT = 2,	/* KVM_RUN: EFAULT (memslot, no memory) */
};

const char *vmt_access_name(int access);

/* Whether /dev/kvm can be opened; -errno otherwise. */
int __vmt_kvm_available(void);
/* NULL if /dev/kvm can be opened, else why a test should be skipped. */
const char *vmt_kvm_skip_reason(void);

/*
 * Create a VM with ram_size (0: VMT_BOOT_RAM_SIZE) of boot RAM and one vCPU
 * ready to run the access routines.  Fails the test on any error.
 */
struct vmt_vm *vmt_vm_create(u64 ram_size);
/* Close every fd and unmap boot RAM. */
void vmt_vm_free(struct vmt_vm *vm);
/*
 * Close every fd (vCPUs, VM, /dev/kvm) but keep boot RAM: the VM lives on
 * only through what else holds it (a device).
 */
void vmt_vm_close_fds(struct vmt_vm *vm);

/* KVM_CHECK_EXTENSION on the VM fd. */
int __vmt_vm_check_cap(struct vmt_vm *vm, long cap);

/* Boot RAM allocator (never frees): a zeroed range, returns its GPA. */
u64 vmt_vm_alloc(struct vmt_vm *vm, u64 size, u64 align);
/* Boot RAM GPA <-> host address.  Fails the test outside boot RAM. */
void *vmt_gpa2hva(struct vmt_vm *vm, u64 gpa);
u64 vmt_hva2gpa(struct vmt_vm *vm, const void *hva);

/* KVM_SET_USER_MEMORY_REGION; 0 or -errno.  size 0 deletes the slot. */
int __vmt_vm_set_memslot(struct vmt_vm *vm, u32 slot, u64 gpa, u64 size,
			 void *hva, u32 flags);
/* The same, failing the test on error. */
void vmt_vm_add_memslot(struct vmt_vm *vm, u32 slot, u64 gpa, u64 size,
			void *hva);
void vmt_vm_delete_memslot(struct vmt_vm *vm, u32 slot);

/*
 * The guest loads the qword at gpa.  Returns VMT_ACCESS_OK with *val set,
 * VMT_ACCESS_MMIO (*val = 0) or VMT_ACCESS_EFAULT.  Anything else (triple
 * fault, entry failure, no exit within the timeout) fails the test.
 */
int vmt_guest_read_u64(struct vmt_vm *vm, u64 gpa, u64 *val);
/* The guest stores val at gpa.  Same results as vmt_guest_read_u64(). */
int vmt_guest_write_u64(struct vmt_vm *vm, u64 gpa, u64 val);

/* What the guest met in vmt_guest_scan(): added to on each call. */
struct vmt_scan {
	u64 mmio_exits;		/* a read found no memslot */
	u64 mismatches;		/* a read found another value */
	u64 interrupted;	/* KVM_RUN returned EINTR (a task work, a signal) */
};

/*
 * The guest reads the qwords at gpa_a and gpa_b count times each, without
 * leaving guest mode, and compares both with val.  No deadline: keep count
 * small enough.
 */
void vmt_guest_scan(struct vmt_vm *vm, u64 gpa_a, u64 gpa_b, u64 val,
		    u64 count, struct vmt_scan *res);

/* ------------------------------------------------------------------ */
/* More vCPUs, run from any thread                                    */
/* ------------------------------------------------------------------ */

/* struct vmt_vcpu (above): a vCPU besides the first one, or the first one. */

/* The first vCPU of vm (id 0) as a struct vmt_vcpu: vmt_vcpu_free() is a no-op. */
void vmt_vcpu_first(struct vmt_vm *vm, struct vmt_vcpu *vcpu);
/*
 * KVM_CREATE_VCPU id, its kvm_run mapped, CPUID and 64-bit long mode as for
 * the first vCPU (same page tables).  Any thread may call it, while other
 * vCPUs run.  Fails the test on error.
 */
void vmt_vcpu_add(struct vmt_vm *vm, u32 id, struct vmt_vcpu *vcpu);
void vmt_vcpu_free(struct vmt_vcpu *vcpu);

/*
 * Map the GiB around gpa in the guest's page tables (only needed without
 * 1 GiB pages).  Not thread-safe: map everything before vCPUs run in
 * several threads.
 */
void vmt_guest_map_gpa(struct vmt_vm *vm, u64 gpa);

/* Point vcpu at the scan routine of vmt_guest_scan() (KVM_SET_REGS). */
void vmt_vcpu_scan_setup(struct vmt_vcpu *vcpu, u64 gpa_a, u64 gpa_b, u64 val,
			 u64 count);

/* What one KVM_RUN of a scanning vCPU ended with. */
enum vmt_scan_step {
	VMT_SCAN_RUNNING,	/* EINTR, KVM_EXIT_INTR or MMIO (counted): again */
	VMT_SCAN_DONE,		/* at the done or mismatch port (counted) */
	VMT_SCAN_HALTED,	/* past the end: another thread saw the port */
};

/*
 * One KVM_RUN of a vCPU set up with vmt_vcpu_scan_setup(), from the calling
 * thread, counted in *res.  An MMIO exit is completed with a value other
 * than val (the guest then reports a mismatch).  Several threads may run
 * the same vCPU (KVM runs it in one at a time) if vcpu->shared is set; each
 * then reads the exit of whichever KVM_RUN ended last, or of one still
 * under way (KVM_EXIT_UNKNOWN: taken as VMT_SCAN_HALTED), so counts are
 * exact only with one thread.
 */
enum vmt_scan_step vmt_vcpu_scan_step(struct vmt_vcpu *vcpu, u64 val,
				      struct vmt_scan *res);
/* vmt_guest_scan() on vcpu, from the calling thread (GPAs mapped before). */
void vmt_vcpu_scan(struct vmt_vcpu *vcpu, u64 gpa_a, u64 gpa_b, u64 val,
		   u64 count, struct vmt_scan *res);

#endif /* VMT_KVM_UTIL_H */
