// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: loading and unloading the module.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "module_util.h"
#include "vhost_mem_util.h"

static const char *vmt_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

const char *vmt_modroot(void)
{
	return vmt_env("VHOST_MEM_MODROOT");
}

const char *vmt_kver(void)
{
	return vmt_env("VHOST_MEM_KVER");
}

bool vmt_modules_supported(void)
{
	return !access("/proc/modules", R_OK);
}

bool vmt_module_loaded(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	return !access(path, F_OK);
}

int __vmt_module_refcnt(const char *name)
{
	char path[256];
	long long v;
	int r;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	r = __vmt_read_long(path, &v);
	return r ? r : (int)v;
}

int vmt_module_refcnt_wait(const char *name, int want, int timeout_ms)
{
	u64 deadline = vmt_now_ns() + (u64)timeout_ms * 1000000ULL;
	int refcnt;

	for (;;) {
		refcnt = __vmt_module_refcnt(name);
		if (refcnt == want || vmt_now_ns() >= deadline)
			return refcnt;
		vmt_sleep_ms(20);
	}
}

const char *vmt_kvm_module(void)
{
	if (vmt_module_loaded("kvm_amd"))
		return "kvm_amd";
	if (vmt_module_loaded("kvm_intel"))
		return "kvm_intel";
	return NULL;
}

/*
 * Free pages on the allocator's per-CPU lists, which MemFree and
 * MemAvailable leave out: after a GiB is freed, 6.1 keeps up to its pcp
 * high mark there (60 MiB in the test VM).
 */
static long long vmt_pcp_free_kb(void)
{
	long long pages = 0;
	char line[256];
	FILE *f;

	f = fopen("/proc/zoneinfo", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");

		if (!strncmp(p, "count:", 6))
			pages += strtoll(p + 6, NULL, 10);
	}
	fclose(f);
	return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

void vmt_sys_sample(struct vmt_sys_sample *s,
		    const struct vmt_sys_sample *base, int timeout_ms)
{
	const char *kvm = vmt_kvm_module();

	s->refcnt = base ? vmt_module_refcnt_wait(VMT_MODULE_NAME, base->refcnt,
						  timeout_ms) :
		    __vmt_module_refcnt(VMT_MODULE_NAME);
	if (!kvm)
		s->kvm_refcnt = -ENOENT;
	else if (base)
		s->kvm_refcnt = vmt_module_refcnt_wait(kvm, base->kvm_refcnt,
						       timeout_ms);
	else
		s->kvm_refcnt = __vmt_module_refcnt(kvm);
	/* let RCU-deferred frees and delayed fput run */
	vmt_sleep_ms(100);
	s->mem_available_kb = vmt_meminfo_kb("MemAvailable") +
			      vmt_pcp_free_kb();
	s->shmem_kb = vmt_meminfo_kb("Shmem");
	s->files = vmt_nr_files();
	s->own_fds = vmt_count_own_fds();
}

int vmt_sys_diff(const struct vmt_sys_sample *base,
		 const struct vmt_sys_sample *now, long long mem_tol_kb,
		 long long files_tol, const char *what, FILE *f)
{
	int bad = 0;

	if (now->refcnt != base->refcnt) {
		fprintf(f, "#   %s: %s refcnt %d, expected %d\n", what,
			VMT_MODULE_NAME, now->refcnt, base->refcnt);
		bad++;
	}
	if (now->kvm_refcnt != base->kvm_refcnt) {
		fprintf(f, "#   %s: %s refcnt %d, expected %d (a VM is still alive)\n",
			what, vmt_kvm_module(), now->kvm_refcnt,
			base->kvm_refcnt);
		bad++;
	}
	if (base->mem_available_kb - now->mem_available_kb > mem_tol_kb) {
		fprintf(f, "#   %s: MemAvailable %lld kB, was %lld kB (tolerance %lld kB)\n",
			what, now->mem_available_kb, base->mem_available_kb,
			mem_tol_kb);
		bad++;
	}
	if (now->shmem_kb - base->shmem_kb > mem_tol_kb) {
		fprintf(f, "#   %s: Shmem %lld kB, was %lld kB (tolerance %lld kB)\n",
			what, now->shmem_kb, base->shmem_kb, mem_tol_kb);
		bad++;
	}
	if (now->own_fds != base->own_fds) {
		fprintf(f, "#   %s: %d fds open in this process, was %d\n", what,
			now->own_fds, base->own_fds);
		bad++;
	}
	if (now->files - base->files > files_tol) {
		fprintf(f, "#   %s: %lld files allocated, was %lld (tolerance %lld)\n",
			what, now->files, base->files, files_tol);
		bad++;
	}
	return bad;
}

int __vmt_modprobe(const char *name, bool remove, char *out, size_t outlen)
{
	const char *argv[8];
	int pipefd[2], status, argc = 0;
	size_t len = 0;
	pid_t pid;

	argv[argc++] = "modprobe";
	if (vmt_modroot()) {
		argv[argc++] = "-d";
		argv[argc++] = vmt_modroot();
	}
	if (vmt_kver()) {
		argv[argc++] = "-S";
		argv[argc++] = vmt_kver();
	}
	if (remove)
		argv[argc++] = "-r";
	argv[argc++] = name;
	argv[argc] = NULL;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -errno;
	}
	if (!pid) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		execvp("modprobe", (char *const *)argv);
		execv("/sbin/modprobe", (char *const *)argv);
		fprintf(stderr, "cannot run modprobe: %s\n", strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		char discard[256];
		char *buf = len + 1 < outlen ? out + len : discard;
		size_t room = len + 1 < outlen ? outlen - len - 1 :
			      sizeof(discard);
		ssize_t n = read(pipefd[0], buf, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf != discard)
			len += n;
	}
	close(pipefd[0]);
	if (outlen) {
		while (len && out[len - 1] == '\n')
			len--;
		out[len] = '\0';
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int __vmt_delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

const char *vmt_mem_skip_reason(void)
{
	if (vmt_modroot() || !access(VMT_VHOST_MEM_DEV, F_OK))
		return NULL;
	return VMT_VHOST_MEM_DEV " does not exist and VHOST_MEM_MODROOT is unset: vhost_mem is not loaded here (run through tests/vm/run.sh)";
}

int vmt_mem_open(void)
{
	int fd = __vmt_vhost_open(VMT_VHOST_MEM_DEV);

	if (fd == -ENOENT && vmt_mem_skip_reason())
		vmt_skip(__FILE__, __LINE__, "%s", vmt_mem_skip_reason());
	TEST_ASSERT(fd >= 0, "open(%s, O_RDWR): expected a file descriptor, got %s%s",
		    VMT_VHOST_MEM_DEV, vmt_errname(-fd),
		    fd == -ENOENT ? " (is vhost_mem loaded?)" : "");
	return fd;
}
