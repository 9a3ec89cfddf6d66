// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a minimal KVM VM with one 64-bit vCPU.
 *
 * The vCPU starts directly in long mode: KVM_SET_SREGS loads CR0/CR4/EFER and
 * flat segments, CR3 points at identity-mapped page tables in boot RAM.  The
 * guest has no IDT, so any exception ends in a triple fault, which we report.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"

/* Control register and EFER bits used below. */
#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_ET	(1ULL << 4)
#define X86_CR0_NE	(1ULL << 5)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PAE	(1ULL << 5)
#define X86_EFER_LME	(1ULL << 8)
#define X86_EFER_LMA	(1ULL << 10)

/* Page table entry bits. */
#define PTE_PRESENT	(1ULL << 0)
#define PTE_WRITE	(1ULL << 1)
#define PTE_HUGE	(1ULL << 7)	/* 1 GiB (PDPTE) or 2 MiB (PDE) page */

/* GDT selectors matching vmt_gdt[]. */
#define SEL_CODE64	0x08
#define SEL_DATA	0x10
#define SEL_TSS		0x18

/*
 * The guest code.  Entry points are offsets from VMT_GPA_CODE; the host sets
 * RDI (and RSI) before each run.
 */
#define CODE_READ	0x00	/* rdi = GPA to load, rsi = mailbox GPA */
#define CODE_WRITE	0x10	/* rdi = GPA to store to, rsi = value */
/* rdi, rsi = GPAs to load rcx times each, rdx = the value both must hold */
#define CODE_SCAN	0x20

static const u8 vmt_guest_code[] = {
	/* CODE_READ: */
	0x48, 0x8b, 0x07,		/* mov  rax, [rdi]		*/
	0x48, 0x89, 0x06,		/* mov  [rsi], rax		*/
	0xe6, VMT_PORT_DONE,		/* out  VMT_PORT_DONE, al	*/
	0xf4,				/* hlt				*/
	0xeb, 0xfd,			/* jmp  back to the hlt		*/
	0x90, 0x90, 0x90, 0x90, 0x90,	/* nop padding to 0x10		*/
	/* CODE_WRITE: */
	0x48, 0x89, 0x37,		/* mov  [rdi], rsi		*/
	0xe6, VMT_PORT_DONE,		/* out  VMT_PORT_DONE, al	*/
	0xf4,				/* hlt				*/
	0xeb, 0xfd,			/* jmp  back to the hlt		*/
	0x90, 0x90, 0x90, 0x90, 0x90,	/* nop padding to 0x20		*/
	0x90, 0x90, 0x90,
	/* CODE_SCAN: */
	0x48, 0x8b, 0x07,		/* 0: mov  rax, [rdi]		*/
	0x48, 0x39, 0xd0,		/*    cmp  rax, rdx		*/
	0x75, 0x12,			/*    jne  bad			*/
	0x48, 0x8b, 0x06,		/*    mov  rax, [rsi]		*/
	0x48, 0x39, 0xd0,		/*    cmp  rax, rdx		*/
	0x75, 0x0a,			/*    jne  bad			*/
	0x48, 0xff, 0xc9,		/*    dec  rcx			*/
	0x75, 0xeb,			/*    jnz  0b			*/
	0xe6, VMT_PORT_DONE,		/*    out  VMT_PORT_DONE, al	*/
	0xf4,				/*    hlt			*/
	0xeb, 0xfd,			/*    jmp  back to the hlt	*/
	0xe6, VMT_PORT_MISMATCH,	/* bad: out VMT_PORT_MISMATCH, al */
	0xf4,				/*    hlt			*/
	0xeb, 0xfd,			/*    jmp  back to the hlt	*/
};

/* null, 64-bit code (L=1, P, DPL 0, execute/read), flat data (read/write) */
static const u64 vmt_gdt[] = {
	0x0000000000000000ULL,
	0x00af9b000000ffffULL,
	0x00cf93000000ffffULL,
};

const char *vmt_access_name(int access)
{
	switch (access) {
	case VMT_ACCESS_OK:
		return "completed";
	case VMT_ACCESS_MMIO:
		return "KVM_EXIT_MMIO (no memslot)";
	case VMT_ACCESS_EFAULT:
		return "KVM_RUN EFAULT (memslot without memory)";
	}
	return "unknown";
}

int __vmt_kvm_available(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

const char *vmt_kvm_skip_reason(void)
{
	static char why[128];
	int r = __vmt_kvm_available();

	if (!r)
		return NULL;
	snprintf(why, sizeof(why), "cannot open /dev/kvm: %s",
		 vmt_errname(-r));
	return why;
}

static struct kvm_cpuid2 *vmt_supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *cpuid;
	unsigned int nent = 64;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) +
			       nent * sizeof(struct kvm_cpuid_entry2));
		TEST_ASSERT(cpuid, "out of memory");
		cpuid->nent = nent;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
			return cpuid;
		TEST_ASSERT(errno == E2BIG && nent < 4096,
			    "KVM_GET_SUPPORTED_CPUID: expected success, got %s",
			    vmt_errname(errno));
		free(cpuid);
		nent *= 2;
	}
}

static struct kvm_cpuid_entry2 *vmt_cpuid_find(struct kvm_cpuid2 *cpuid,
						u32 function)
{
	unsigned int i;

	for (i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == function &&
		    cpuid->entries[i].index == 0)
			return &cpuid->entries[i];
	return NULL;
}

static void vmt_vcpu_fd_set_cpuid(int vcpu_fd, struct kvm_cpuid2 *cpuid)
{
	TEST_ASSERT(!ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid),
		    "KVM_SET_CPUID2 with the %u entries KVM supports: expected success, got %s",
		    cpuid->nent, vmt_errname(errno));
}

static void vmt_vcpu_set_cpuid(struct vmt_vm *vm)
{
	struct kvm_cpuid2 *cpuid = vmt_supported_cpuid(vm->kvm_fd);
	struct kvm_cpuid_entry2 *e;

	e = vmt_cpuid_find(cpuid, 0x80000001);
	vm->pages_1g = e && (e->edx & (1U << 26));
	e = vmt_cpuid_find(cpuid, 0x80000008);
	vm->guest_phys_bits = e ? (e->eax & 0xff) : 36;
	vmt_vcpu_fd_set_cpuid(vm->vcpu_fd, cpuid);
	free(cpuid);
}

/* Fill a page directory that maps GiB gib with 2 MiB pages. */
static void vmt_fill_pd(struct vmt_vm *vm, u64 pd_gpa, u64 gib)
{
	u64 *pd = vmt_gpa2hva(vm, pd_gpa);
	unsigned int i;

	for (i = 0; i < 512; i++)
		pd[i] = ((gib << 30) + ((u64)i << 21)) |
			PTE_PRESENT | PTE_WRITE | PTE_HUGE;
}

/* The PDPT entry of GiB gib: the PDPT pages are contiguous. */
static u64 *vmt_pdpte(struct vmt_vm *vm, u64 gib)
{
	return vmt_gpa2hva(vm, VMT_GPA_PDPT + gib * 8);
}

static void vmt_build_page_tables(struct vmt_vm *vm)
{
	u64 *pml4 = vmt_gpa2hva(vm, VMT_GPA_PML4);
	unsigned int i;
	u64 gib;

	for (i = 0; i < VMT_PDPT_PAGES; i++)
		pml4[i] = (VMT_GPA_PDPT + i * 4096ULL) | PTE_PRESENT |
			  PTE_WRITE;
	for (i = 0; i < VMT_PD_POOL_PAGES; i++)
		vm->pd_gib[i] = -1;

	if (!vm->pages_1g) {
		/* GiB 0 (code, tables, mailbox) stays mapped for good */
		vmt_fill_pd(vm, VMT_GPA_PD, 0);
		*vmt_pdpte(vm, 0) = VMT_GPA_PD | PTE_PRESENT | PTE_WRITE;
		return;
	}
	for (gib = 0; gib < VMT_IDENTITY_MAP_SIZE >> 30; gib++)
		*vmt_pdpte(vm, gib) = (gib << 30) | PTE_PRESENT | PTE_WRITE |
				      PTE_HUGE;
}

/*
 * Without 1 GiB pages, map the GiB around gpa before the guest touches it,
 * reusing pool pages round robin.  Every mapping is the identity, so a stale
 * TLB entry of a recycled directory still translates correctly, and x86 does
 * not cache not-present entries.
 */
static void vmt_guest_map(struct vmt_vm *vm, u64 gpa)
{
	u64 gib = gpa >> 30, *pdpte = vmt_pdpte(vm, gib), pd_gpa;
	unsigned int slot;

	if (vm->pages_1g || (*pdpte & PTE_PRESENT))
		return;
	slot = vm->pd_next++ % VMT_PD_POOL_PAGES;
	if (vm->pd_gib[slot] >= 0)
		*vmt_pdpte(vm, vm->pd_gib[slot]) = 0;
	pd_gpa = VMT_GPA_PD + (1 + slot) * 4096ULL;
	vmt_fill_pd(vm, pd_gpa, gib);
	*pdpte = pd_gpa | PTE_PRESENT | PTE_WRITE;
	vm->pd_gib[slot] = gib;
}

static void vmt_seg_flat(struct kvm_segment *s, u16 sel, u8 type, bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

static void vmt_vcpu_fd_setup_long_mode(int vcpu_fd)
{
	struct kvm_sregs sregs;

	TEST_ASSERT(!ioctl(vcpu_fd, KVM_GET_SREGS, &sregs),
		    "KVM_GET_SREGS: expected success, got %s",
		    vmt_errname(errno));

	vmt_seg_flat(&sregs.cs, SEL_CODE64, 11, true);
	vmt_seg_flat(&sregs.ds, SEL_DATA, 3, false);
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;

	/* A 64-bit busy TSS that is never used, but must look valid. */
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = SEL_TSS;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 11;
	sregs.tr.present = 1;

	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;

	sregs.gdt.base = VMT_GPA_GDT;
	sregs.gdt.limit = sizeof(vmt_gdt) - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;

	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
	sregs.cr3 = VMT_GPA_PML4;
	sregs.cr4 = X86_CR4_PAE;
	sregs.efer = X86_EFER_LME | X86_EFER_LMA;

	TEST_ASSERT(!ioctl(vcpu_fd, KVM_SET_SREGS, &sregs),
		    "KVM_SET_SREGS (64-bit long mode, CR3 0x%llx): expected success, got %s",
		    (unsigned long long)VMT_GPA_PML4, vmt_errname(errno));
}

static void vmt_vcpu_setup_long_mode(struct vmt_vm *vm)
{
	vmt_vcpu_fd_setup_long_mode(vm->vcpu_fd);
}

/* How many vCPUs make each guest access: VMT_VCPUS, 1 by default. */
static unsigned int vmt_nr_probe_vcpus(void)
{
	const char *env = getenv("VMT_VCPUS");
	char *end;
	unsigned long n;

	if (!env || !*env)
		return 1;
	n = strtoul(env, &end, 10);
	TEST_ASSERT(!*end && n >= 1 && n <= VMT_MAX_PROBE_VCPUS,
		    "VMT_VCPUS=%s: expected 1 to %u", env, VMT_MAX_PROBE_VCPUS);
	return n;
}

#define VMT_PROBE_STACK_SIZE	(256 << 10)

/* vCPU 0, then the others, ids far above those tests add themselves. */
static void vmt_vm_add_probe_vcpus(struct vmt_vm *vm)
{
	unsigned int i;

	vmt_vcpu_first(vm, &vm->probe_vcpus[0]);
	vm->nr_probe_vcpus = vmt_nr_probe_vcpus();
	for (i = 1; i < vm->nr_probe_vcpus; i++) {
		vmt_vcpu_add(vm, VMT_PROBE_VCPU_ID + i, &vm->probe_vcpus[i]);
		vm->probe_stacks[i] = mmap(NULL, VMT_PROBE_STACK_SIZE,
					   PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		TEST_ASSERT(vm->probe_stacks[i] != MAP_FAILED,
			    "mmap of a thread stack for vCPU %u", i);
	}
}

struct vmt_vm *vmt_vm_create(u64 ram_size)
{
	struct vmt_vm *vm;
	long mmap_size;
	int r;

	if (!ram_size)
		ram_size = VMT_BOOT_RAM_SIZE;
	TEST_ASSERT(VMT_IS_ALIGNED(ram_size, 4096) && ram_size >= 256 * 1024,
		    "boot RAM size 0x%llx: expected page-aligned and >= 256 KiB",
		    (unsigned long long)ram_size);

	vm = calloc(1, sizeof(*vm));
	TEST_ASSERT(vm, "out of memory");
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	TEST_REQUIRE(vm->kvm_fd >= 0, "cannot open /dev/kvm: %s",
		     vmt_errname(errno));

	/* KVM_CREATE_VM may be interrupted by a signal: just try again. */
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	TEST_ASSERT(vm->vm_fd >= 0, "KVM_CREATE_VM: expected a VM fd, got %s",
		    vmt_errname(errno));
	r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	vm->nr_memslots = r > 0 ? r : 32;

	vm->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(vm->ram != MAP_FAILED, "mmap of %llu bytes of boot RAM",
		    (unsigned long long)ram_size);
	vm->ram_size = ram_size;
	vm->alloc_next = VMT_GPA_ALLOC;
	vmt_vm_add_memslot(vm, VMT_BOOT_SLOT, 0, ram_size, vm->ram);

	memcpy(vmt_gpa2hva(vm, VMT_GPA_CODE), vmt_guest_code,
	       sizeof(vmt_guest_code));
	memcpy(vmt_gpa2hva(vm, VMT_GPA_GDT), vmt_gdt, sizeof(vmt_gdt));

	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	TEST_ASSERT(vm->vcpu_fd >= 0,
		    "KVM_CREATE_VCPU 0: expected a vCPU fd, got %s",
		    vmt_errname(errno));
	mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	TEST_ASSERT(mmap_size >= (long)sizeof(struct kvm_run),
		    "KVM_GET_VCPU_MMAP_SIZE: expected >= %zu, got %ld",
		    sizeof(struct kvm_run), mmap_size);
	vm->run_size = mmap_size;
	vm->run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu_fd, 0);
	TEST_ASSERT(vm->run != MAP_FAILED, "mmap of the vCPU's kvm_run");

	vmt_vcpu_set_cpuid(vm);
	vmt_build_page_tables(vm);
	vmt_vcpu_setup_long_mode(vm);
	vmt_vm_add_probe_vcpus(vm);
	return vm;
}

void vmt_vm_close_fds(struct vmt_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_probe_vcpus; i++) {
		vmt_vcpu_free(&vm->probe_vcpus[i]);
		if (i)
			munmap(vm->probe_stacks[i], VMT_PROBE_STACK_SIZE);
	}
	vm->nr_probe_vcpus = 0;
	if (vm->run && vm->run != MAP_FAILED)
		munmap(vm->run, vm->run_size);
	vm->run = NULL;
	if (vm->vcpu_fd > 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd > 0)
		close(vm->vm_fd);
	if (vm->kvm_fd > 0)
		close(vm->kvm_fd);
	vm->vcpu_fd = vm->vm_fd = vm->kvm_fd = -1;
}

void vmt_vm_free(struct vmt_vm *vm)
{
	if (!vm)
		return;
	vmt_vm_close_fds(vm);
	if (vm->ram && vm->ram != MAP_FAILED)
		munmap(vm->ram, vm->ram_size);
	free(vm);
}

int __vmt_vm_check_cap(struct vmt_vm *vm, long cap)
{
	int r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? -errno : r;
}

u64 vmt_vm_alloc(struct vmt_vm *vm, u64 size, u64 align)
{
	u64 gpa;

	if (align < 8)
		align = 8;
	gpa = VMT_ALIGN_UP(vm->alloc_next, align);
	TEST_ASSERT(gpa + size <= vm->ram_size && gpa + size >= gpa,
		    "boot RAM exhausted: %llu bytes (align %llu) asked at 0x%llx, boot RAM is %llu bytes",
		    (unsigned long long)size, (unsigned long long)align,
		    (unsigned long long)gpa, (unsigned long long)vm->ram_size);
	vm->alloc_next = gpa + size;
	memset(vmt_gpa2hva(vm, gpa), 0, size);
	return gpa;
}

void *vmt_gpa2hva(struct vmt_vm *vm, u64 gpa)
{
	TEST_ASSERT(gpa < vm->ram_size,
		    "GPA 0x%llx: expected inside boot RAM [0, 0x%llx)",
		    (unsigned long long)gpa, (unsigned long long)vm->ram_size);
	return (u8 *)vm->ram + gpa;
}

u64 vmt_hva2gpa(struct vmt_vm *vm, const void *hva)
{
	const u8 *p = hva, *base = vm->ram;

	TEST_ASSERT(p >= base && p < base + vm->ram_size,
		    "host address %p: expected inside boot RAM [%p, %p)",
		    hva, vm->ram, base + vm->ram_size);
	return p - base;
}

int __vmt_vm_set_memslot(struct vmt_vm *vm, u32 slot, u64 gpa, u64 size,
			 void *hva, u32 flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (u64)(uintptr_t)hva,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

void vmt_vm_add_memslot(struct vmt_vm *vm, u32 slot, u64 gpa, u64 size,
			void *hva)
{
	int r = __vmt_vm_set_memslot(vm, slot, gpa, size, hva, 0);

	TEST_ASSERT(!r,
		    "KVM_SET_USER_MEMORY_REGION slot %u GPA 0x%llx size 0x%llx hva %p: expected success, got %s (guest MAXPHYADDR %u bits)",
		    slot, (unsigned long long)gpa, (unsigned long long)size,
		    hva, vmt_errname(-r), vm->guest_phys_bits);
}

void vmt_vm_delete_memslot(struct vmt_vm *vm, u32 slot)
{
	int r = __vmt_vm_set_memslot(vm, slot, 0, 0, NULL, 0);

	TEST_ASSERT(!r,
		    "deleting memslot %u (KVM_SET_USER_MEMORY_REGION size 0): expected success, got %s",
		    slot, vmt_errname(-r));
}

/*
 * KVM_RUN with a deadline: a POSIX timer signals this thread, the handler sets
 * kvm_run.immediate_exit so that KVM_RUN returns EINTR even if the signal
 * lands just before the ioctl.  Each thread that runs accesses has its own
 * timer (the probe vCPUs run in threads of their own).
 */
static __thread int vmt_run_expired;		/* __atomic accesses only */
static __thread struct kvm_run *vmt_run_current; /* __atomic accesses only */
static __thread timer_t vmt_run_timer;
static __thread pid_t vmt_run_timer_tid;

static void vmt_run_alarm(int sig)
{
	struct kvm_run *run = __atomic_load_n(&vmt_run_current,
					      __ATOMIC_RELAXED);

	(void)sig;
	__atomic_store_n(&vmt_run_expired, 1, __ATOMIC_RELAXED);
	if (run)
		__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_RELAXED);
}

static void vmt_run_timer_arm(int timeout_ms)
{
	struct itimerspec its = {
		.it_value = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (long)(timeout_ms % 1000) * 1000000L,
		},
	};

	/* A forked child's main thread has another tid, and no timers. */
	if (vmt_run_timer_tid != gettid()) {
		struct sigaction sa = { .sa_handler = vmt_run_alarm };
		struct sigevent sev = {
			.sigev_notify = SIGEV_THREAD_ID,
			.sigev_signo = SIGRTMIN,
		};

		/* glibc 2.36 has no name for the field */
		sev._sigev_un._tid = gettid();
		sigemptyset(&sa.sa_mask);
		TEST_ASSERT(!sigaction(SIGRTMIN, &sa, NULL),
			    "sigaction(SIGRTMIN)");
		TEST_ASSERT(!timer_create(CLOCK_MONOTONIC, &sev,
					  &vmt_run_timer),
			    "timer_create for the KVM_RUN deadline");
		vmt_run_timer_tid = gettid();
	}
	TEST_ASSERT(!timer_settime(vmt_run_timer, 0, &its, NULL),
		    "timer_settime");
}

static void vmt_run_timer_disarm(void)
{
	struct itimerspec its = { 0 };

	timer_settime(vmt_run_timer, 0, &its, NULL);
}

/* Before a thread that armed a deadline ends. */
static void vmt_run_timer_release(void)
{
	if (vmt_run_timer_tid != gettid())
		return;
	timer_delete(vmt_run_timer);
	vmt_run_timer_tid = 0;
}

/* The vCPU's registers, for failure messages. */
static const char *vmt_vcpu_describe(int vcpu_fd, char *buf, size_t size)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) ||
	    ioctl(vcpu_fd, KVM_GET_SREGS, &sregs)) {
		snprintf(buf, size, "vCPU registers unavailable: %s",
			 vmt_errname(errno));
		return buf;
	}
	snprintf(buf, size,
		 "vCPU: rip 0x%llx rax 0x%llx rdi 0x%llx rsi 0x%llx rflags 0x%llx cr0 0x%llx cr2 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx",
		 (unsigned long long)regs.rip, (unsigned long long)regs.rax,
		 (unsigned long long)regs.rdi, (unsigned long long)regs.rsi,
		 (unsigned long long)regs.rflags,
		 (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr2,
		 (unsigned long long)sregs.cr3, (unsigned long long)sregs.cr4,
		 (unsigned long long)sregs.efer);
	return buf;
}

/* Fail the test with the registers of the vCPU behind vcpu_fd appended. */
#define VMT_VCPU_FAIL(vcpu_fd, fmt, ...) do { \
	char __regs[320]; \
	vmt_run_timer_disarm(); \
	TEST_FAIL(fmt "\n#   %s", ##__VA_ARGS__, \
		  vmt_vcpu_describe(vcpu_fd, __regs, sizeof(__regs))); \
} while (0)

static const char *vmt_exit_name(u32 reason)
{
	switch (reason) {
	case KVM_EXIT_UNKNOWN:		return "KVM_EXIT_UNKNOWN";
	case KVM_EXIT_EXCEPTION:	return "KVM_EXIT_EXCEPTION";
	case KVM_EXIT_IO:		return "KVM_EXIT_IO";
	case KVM_EXIT_HLT:		return "KVM_EXIT_HLT";
	case KVM_EXIT_MMIO:		return "KVM_EXIT_MMIO";
	case KVM_EXIT_SHUTDOWN:		return "KVM_EXIT_SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY:	return "KVM_EXIT_FAIL_ENTRY";
	case KVM_EXIT_INTR:		return "KVM_EXIT_INTR";
	case KVM_EXIT_INTERNAL_ERROR:	return "KVM_EXIT_INTERNAL_ERROR";
	}
	return "another exit";
}

/* One access routine on one vCPU; see vmt_vcpu_access(). */
struct vmt_access_run {
	struct vmt_vm *vm;
	const struct vmt_vcpu *vcpu;
	unsigned int entry;	/* CODE_READ or CODE_WRITE */
	u64 gpa;		/* the GPA touched */
	u64 rsi;		/* the mailbox's GPA, or the value stored */
	const char *what;
	int result;		/* enum vmt_access */
};

/*
 * Run one access routine.  MMIO exits at the GPA touched are completed
 * (reads return 0) so that the vCPU always ends at the done port with no
 * emulation pending.
 */
static void vmt_vcpu_access(struct vmt_access_run *a)
{
	const char *what = a->what;
	unsigned long long gpa = a->gpa;
	int fd = a->vcpu->fd;
	struct kvm_run *run = a->vcpu->run;
	struct kvm_regs regs = {
		.rip = VMT_GPA_CODE + a->entry,
		.rdi = a->gpa,
		.rsi = a->rsi,
		.rsp = VMT_GPA_STACK_TOP,
		.rflags = 0x2,
	};
	int timeout_ms = vmt_timeout_ms();
	unsigned int mmio_exits = 0;

	a->result = VMT_ACCESS_OK;
	TEST_ASSERT(!ioctl(fd, KVM_SET_REGS, &regs),
		    "KVM_SET_REGS: expected success, got %s",
		    vmt_errname(errno));

	__atomic_store_n(&vmt_run_expired, 0, __ATOMIC_RELAXED);
	run->immediate_exit = 0;
	__atomic_store_n(&vmt_run_current, run, __ATOMIC_RELAXED);
	vmt_run_timer_arm(timeout_ms);
	for (;;) {
		int r = ioctl(fd, KVM_RUN, 0);
		int err = errno;
		u64 runs = __atomic_add_fetch(&a->vm->nr_runs, 1,
					      __ATOMIC_RELAXED);

		if (r < 0 && err == EINTR) {
			if (__atomic_load_n(&vmt_run_expired,
					    __ATOMIC_RELAXED))
				VMT_VCPU_FAIL(fd, "guest %s at GPA 0x%llx: vCPU %u did not reach port 0x%x within %d ms (last exit %s, %llu KVM_RUNs so far)",
					      what, gpa, a->vcpu->id,
					      VMT_PORT_DONE, timeout_ms,
					      vmt_exit_name(run->exit_reason),
					      (unsigned long long)runs);
			continue;
		}
		if (r < 0 && err == EFAULT) {
			/* Userspace memory behind a memslot is missing. */
			a->result = VMT_ACCESS_EFAULT;
			break;
		}
		if (r < 0)
			VMT_VCPU_FAIL(fd, "guest %s at GPA 0x%llx: KVM_RUN failed with %s",
				      what, gpa, vmt_errname(err));

		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.port == VMT_PORT_DONE &&
			    run->io.direction == KVM_EXIT_IO_OUT)
				goto done;
			VMT_VCPU_FAIL(fd, "guest %s at GPA 0x%llx: expected an OUT to port 0x%x, got %s of port 0x%x",
				      what, gpa, VMT_PORT_DONE,
				      run->io.direction == KVM_EXIT_IO_OUT ?
				      "OUT" : "IN", run->io.port);
		case KVM_EXIT_MMIO:
			if (run->mmio.phys_addr != gpa || run->mmio.len != 8 ||
			    mmio_exits++)
				VMT_VCPU_FAIL(fd, "guest %s at GPA 0x%llx: unexpected MMIO exit: %s of %u bytes at GPA 0x%llx (exit %u of this access)",
					      what, gpa,
					      run->mmio.is_write ?
					      "write" : "read",
					      run->mmio.len,
					      (unsigned long long)
					      run->mmio.phys_addr, mmio_exits);
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0,
				       sizeof(run->mmio.data));
			a->result = VMT_ACCESS_MMIO;
			continue;
		case KVM_EXIT_SHUTDOWN:
			VMT_VCPU_FAIL(fd, "guest %s at GPA 0x%llx: the guest triple-faulted (KVM_EXIT_SHUTDOWN); is the GPA beyond the guest's MAXPHYADDR of %u bits?",
				      what, gpa, a->vm->guest_phys_bits);
		case KVM_EXIT_FAIL_ENTRY:
			VMT_VCPU_FAIL(fd, "guest %s: VM entry failed, hardware reason 0x%llx",
				      what, (unsigned long long)
				      run->fail_entry.hardware_entry_failure_reason);
		case KVM_EXIT_INTERNAL_ERROR:
			VMT_VCPU_FAIL(fd, "guest %s at GPA 0x%llx: KVM internal error, suberror %u",
				      what, gpa, run->internal.suberror);
		case KVM_EXIT_INTR:
			continue;
		default:
			VMT_VCPU_FAIL(fd, "guest %s at GPA 0x%llx: unexpected exit %u (%s)",
				      what, gpa, run->exit_reason,
				      vmt_exit_name(run->exit_reason));
		}
	}
done:
	vmt_run_timer_disarm();
	__atomic_store_n(&vmt_run_current, NULL, __ATOMIC_RELAXED);
	run->immediate_exit = 0;
}

static void *vmt_access_thread(void *arg)
{
	vmt_vcpu_access(arg);
	vmt_run_timer_release();
	return NULL;
}

/* Where vCPU i's read routine stores what it read. */
static u64 vmt_mailbox_gpa(unsigned int i)
{
	return i ? VMT_GPA_MAILBOX + 0x100 + 8 * i : VMT_GPA_MAILBOX;
}

/*
 * The access on every probe vCPU at once (vCPU 0 in the calling thread);
 * they must all meet the same: one memslot layout for the whole VM.  With
 * vm->racing they may not, and the worst (MMIO over OK, EFAULT over both)
 * is returned.
 */
static int vmt_guest_access(struct vmt_vm *vm, unsigned int entry, u64 gpa,
			    u64 rsi, const char *what)
{
	struct vmt_access_run a[VMT_MAX_PROBE_VCPUS];
	pthread_t thread[VMT_MAX_PROBE_VCPUS];
	pthread_attr_t attr;
	unsigned int i;
	int result;

	TEST_ASSERT(VMT_IS_ALIGNED(gpa, 8),
		    "guest %s at GPA 0x%llx: expected 8-byte aligned", what,
		    (unsigned long long)gpa);
	TEST_ASSERT(gpa < VMT_IDENTITY_MAP_SIZE,
		    "guest %s at GPA 0x%llx: expected below the identity map's end 0x%llx",
		    what, (unsigned long long)gpa,
		    (unsigned long long)VMT_IDENTITY_MAP_SIZE);
	vmt_guest_map(vm, gpa);
	for (i = 0; i < vm->nr_probe_vcpus; i++) {
		a[i] = (struct vmt_access_run) {
			.vm = vm, .vcpu = &vm->probe_vcpus[i], .entry = entry,
			.gpa = gpa, .what = what,
			.rsi = entry == CODE_READ ? vmt_mailbox_gpa(i) : rsi,
		};
		if (!i)
			continue;
		/*
		 * On the stack made with the VM: a new one could land where
		 * a test has just unmapped a memslot's memory.
		 */
		TEST_ASSERT(!pthread_attr_init(&attr) &&
			    !pthread_attr_setstack(&attr, vm->probe_stacks[i],
						   VMT_PROBE_STACK_SIZE) &&
			    !pthread_create(&thread[i], &attr,
					    vmt_access_thread, &a[i]),
			    "starting vCPU %u's thread", a[i].vcpu->id);
		pthread_attr_destroy(&attr);
	}
	vmt_vcpu_access(&a[0]);
	result = a[0].result;
	for (i = 1; i < vm->nr_probe_vcpus; i++) {
		TEST_ASSERT(!pthread_join(thread[i], NULL), "pthread_join");
		TEST_ASSERT(vm->racing || a[i].result == a[0].result,
			    "guest %s at GPA 0x%llx: vCPU 0 met %s, vCPU %u %s: the vCPUs disagree",
			    what, (unsigned long long)gpa,
			    vmt_access_name(a[0].result), a[i].vcpu->id,
			    vmt_access_name(a[i].result));
		if (a[i].result > result)
			result = a[i].result;
	}
	return result;
}

int vmt_guest_read_u64(struct vmt_vm *vm, u64 gpa, u64 *val)
{
	u64 *mailbox[VMT_MAX_PROBE_VCPUS];
	unsigned int i;
	int r;

	for (i = 0; i < vm->nr_probe_vcpus; i++) {
		mailbox[i] = vmt_gpa2hva(vm, vmt_mailbox_gpa(i));
		*mailbox[i] = 0x5a5a5a5a5a5a5a5aULL;
	}
	r = vmt_guest_access(vm, CODE_READ, gpa, 0, "read");
	*val = r == VMT_ACCESS_OK ? *mailbox[0] : 0;
	for (i = 1; !vm->racing && r == VMT_ACCESS_OK && i < vm->nr_probe_vcpus;
	     i++)
		TEST_ASSERT(*mailbox[i] == *val,
			    "guest read at GPA 0x%llx: vCPU 0 read 0x%llx, vCPU %u 0x%llx",
			    (unsigned long long)gpa, (unsigned long long)*val,
			    vm->probe_vcpus[i].id,
			    (unsigned long long)*mailbox[i]);
	return r;
}

int vmt_guest_write_u64(struct vmt_vm *vm, u64 gpa, u64 val)
{
	return vmt_guest_access(vm, CODE_WRITE, gpa, val, "write");
}

/* vmt_vcpu_scan() on the first vCPU, the GPAs mapped first. */
void vmt_guest_scan(struct vmt_vm *vm, u64 gpa_a, u64 gpa_b, u64 val,
		    u64 count, struct vmt_scan *res)
{
	vmt_guest_map(vm, gpa_a);
	vmt_guest_map(vm, gpa_b);
	vmt_vcpu_scan(&vm->probe_vcpus[0], gpa_a, gpa_b, val, count, res);
}

/* ------------------------------------------------------------------ */
/* More vCPUs, run from any thread                                    */
/* ------------------------------------------------------------------ */

void vmt_vcpu_first(struct vmt_vm *vm, struct vmt_vcpu *vcpu)
{
	vcpu->fd = vm->vcpu_fd;
	vcpu->run = vm->run;
	vcpu->run_size = 0;
	vcpu->id = 0;
	vcpu->shared = false;
}

void vmt_vcpu_add(struct vmt_vm *vm, u32 id, struct vmt_vcpu *vcpu)
{
	struct kvm_cpuid2 *cpuid;

	vcpu->id = id;
	vcpu->shared = false;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	TEST_ASSERT(vcpu->fd >= 0,
		    "KVM_CREATE_VCPU %u: expected a vCPU fd, got %s", id,
		    vmt_errname(errno));
	vcpu->run_size = vm->run_size;
	vcpu->run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, vcpu->fd, 0);
	TEST_ASSERT(vcpu->run != MAP_FAILED, "mmap of vCPU %u's kvm_run", id);
	cpuid = vmt_supported_cpuid(vm->kvm_fd);
	vmt_vcpu_fd_set_cpuid(vcpu->fd, cpuid);
	free(cpuid);
	vmt_vcpu_fd_setup_long_mode(vcpu->fd);
}

void vmt_vcpu_free(struct vmt_vcpu *vcpu)
{
	if (!vcpu->run_size)
		return;
	munmap(vcpu->run, vcpu->run_size);
	close(vcpu->fd);
	vcpu->run_size = 0;
}

void vmt_guest_map_gpa(struct vmt_vm *vm, u64 gpa)
{
	vmt_guest_map(vm, gpa);
}

void vmt_vcpu_scan_setup(struct vmt_vcpu *vcpu, u64 gpa_a, u64 gpa_b, u64 val,
			 u64 count)
{
	struct kvm_regs regs = {
		.rip = VMT_GPA_CODE + CODE_SCAN,
		.rdi = gpa_a,
		.rsi = gpa_b,
		.rdx = val,
		.rcx = count,
		.rsp = VMT_GPA_STACK_TOP,
		.rflags = 0x2,
	};

	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_REGS, &regs),
		    "vCPU %u: KVM_SET_REGS: expected success, got %s", vcpu->id,
		    vmt_errname(errno));
}

enum vmt_scan_step vmt_vcpu_scan_step(struct vmt_vcpu *vcpu, u64 val,
				      struct vmt_scan *res)
{
	struct kvm_run *run = vcpu->run;
	int r = ioctl(vcpu->fd, KVM_RUN, 0);

	if (r < 0 && errno == EINTR) {
		res->interrupted++;
		return VMT_SCAN_RUNNING;
	}
	TEST_ASSERT(!r, "vCPU %u scan: KVM_RUN failed with %s", vcpu->id,
		    vmt_errname(errno));
	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		res->mmio_exits++;
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		if (!val)
			run->mmio.data[0] = 1;
		return VMT_SCAN_RUNNING;
	case KVM_EXIT_INTR:
		res->interrupted++;
		return VMT_SCAN_RUNNING;
	case KVM_EXIT_HLT:
		return VMT_SCAN_HALTED;
	case KVM_EXIT_UNKNOWN:
		/* another thread's KVM_RUN is under way */
		if (vcpu->shared)
			return VMT_SCAN_HALTED;
		break;
	case KVM_EXIT_IO:
		if (run->io.port == VMT_PORT_MISMATCH)
			res->mismatches++;
		else
			TEST_ASSERT(run->io.port == VMT_PORT_DONE,
				    "vCPU %u scan: OUT to port 0x%x", vcpu->id,
				    run->io.port);
		return VMT_SCAN_DONE;
	}
	TEST_FAIL("vCPU %u scan: unexpected exit %u (%s)", vcpu->id,
		  run->exit_reason, vmt_exit_name(run->exit_reason));
}

void vmt_vcpu_scan(struct vmt_vcpu *vcpu, u64 gpa_a, u64 gpa_b, u64 val,
		   u64 count, struct vmt_scan *res)
{
	vmt_vcpu_scan_setup(vcpu, gpa_a, gpa_b, val, count);
	while (vmt_vcpu_scan_step(vcpu, val, res) == VMT_SCAN_RUNNING)
		;
}
