// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: with VHOST_MEM_SET_PAUSED 1, PLUG, UNPLUG and UNPLUG_ALL get BUSY,
 * STATE is served, nothing changes; resume signals the config-change
 * eventfd at once and the retried PLUG works; the ioctls are the owner's
 * (EPERM).
 */
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"
#include "kselftest_harness.h"
#include "rq_expect.h"

/* 32 blocks in 4 chunks of 8, requested 16 MiB (usable: the region) */
#define PZ_BLOCKS	32
#define PZ_SIZE		(PZ_BLOCKS * BLK)
#define PZ_REQUESTED	(8 * BLK)
#define RESUME_MS	1000

FIXTURE(pause) {
	struct vmt_rq_env e;
	int efd;
};

FIXTURE_SETUP(pause)
{
	struct vmt_rq_env *e = &self->e;

	VMT_REQUIRE_DEVICE();
	VMT_REQUIRE_KVM();
	self->efd = -1;
	vmt_rq_env_init(e, VMT_BACKING_ANON, 0, ACK_ALL);
	vmt_rq_backing_anon_aligned(&e->backing, PZ_SIZE, BLK);
	vmt_region_init(&e->region, &e->backing, GPA, BLK, SLOT_BASE);
	e->region.chunk_size = 8 * BLK;
	self->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, self->efd);
}

FIXTURE_TEARDOWN(pause)
{
	vmt_rq_env_free(&self->e);
	if (self->efd >= 0)
		close(self->efd);
}

/*
 * A request to a paused device: the literal answer, which must also be
 * the model's answer with BUSY for anything that would change the state
 * (QEMU's order: a bad range is still ERROR, an over-budget PLUG NACK).
 */
static void paused_rq(struct __test_metadata *_metadata, struct vmt_rq_env *e,
		      u16 want, u16 type, u64 addr, u16 nb, u16 want_state)
{
	struct vmt_mem_req req = { .type = type, .addr = addr, .nb_blocks = nb };
	u16 model, state = 0xffff;

	model = vmt_model_decide(&e->model, type, addr, nb, &state);
	if (model == ACK && (type == PLUG || type == UNPLUG ||
			     (type == UNPLUG_ALL && e->model.plugged)))
		model = BUSY;
	ASSERT_EQ(model, want)
		TH_LOG("test bug: %s GPA 0x%llx x %u to a paused device would be %s, the test says %s",
		       vmt_mem_req_name(type), (unsigned long long)addr, nb,
		       vmt_mem_resp_name(model), vmt_mem_resp_name(want));
	vmt_mem_batch(&e->vq, &req, 1, vmt_timeout_ms());
	ASSERT_TRUE(req.answered)
		TH_LOG("%s GPA 0x%llx x %u while paused: no answer within %d ms (expected %s)",
		       vmt_mem_req_name(type), (unsigned long long)addr, nb,
		       vmt_timeout_ms(), vmt_mem_resp_name(want));
	ASSERT_EQ(want, req.resp_type)
		TH_LOG("%s GPA 0x%llx x %u while paused: expected %s, got %s",
		       vmt_mem_req_name(type), (unsigned long long)addr, nb,
		       vmt_mem_resp_name(want), vmt_mem_resp_name(req.resp_type));
	if (type == STATE && want == ACK)
		ASSERT_EQ(want_state, req.state)
			TH_LOG("STATE GPA 0x%llx x %u while paused: expected %s, got %s",
			       (unsigned long long)addr, nb,
			       vmt_mem_state_name(want_state),
			       vmt_mem_state_name(req.state));
	vmt_model_apply(&e->model, type, addr, nb, req.resp_type);
}

/* GET_STATUS as the model says, with VHOST_MEM_STATUS_F_PAUSED. */
static void check_status_paused(struct __test_metadata *_metadata,
				struct vmt_rq_env *e, bool paused)
{
	struct vhost_mem_status st = status_of(_metadata, e->dev.fd);
	int diffs;

	EXPECT_EQ(paused, !!(st.flags & VHOST_MEM_STATUS_F_PAUSED))
		TH_LOG("status flags 0x%x: expected VHOST_MEM_STATUS_F_PAUSED %s",
		       st.flags, paused ? "set" : "clear");
	st.flags &= ~VHOST_MEM_STATUS_F_PAUSED;
	fflush(stdout);
	diffs = vmt_model_diff(&e->model, &st, e->running, stderr);
	EXPECT_EQ(0, diffs)
		TH_LOG("GET_STATUS differs from what the guest saw (above)");
}

/* Signals on the eventfd within ms: the count, 0 if none came. */
static u64 wait_eventfd(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	u64 count = 0;

	if (poll(&p, 1, ms) != 1)
		return 0;
	if (read(efd, &count, sizeof(count)) != sizeof(count))
		return 0;
	return count;
}

TEST_F(pause, requests_busy_state_served)
{
	struct vmt_rq_env *e = &self->e;
	u64 present;
	int r;

	vmt_rq_env_start(e, PZ_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 4);
	VMT_RQ_EXPECT(e, ACK, PLUG, 20, 1);
	tag_blocks(e, 0, 4, 5);
	tag_blocks(e, 20, 1, 5);
	present = held(e, 0, PZ_BLOCKS);

	r = __vmt_vmm_set_paused(e->dev.fd, 1);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_SET_PAUSED 1: %s", vmt_errstr(r));
	check_status_paused(_metadata, e, true);

	paused_rq(_metadata, e, BUSY, PLUG, vmt_rq_gpa(e, 8), 2, 0);
	paused_rq(_metadata, e, BUSY, UNPLUG, vmt_rq_gpa(e, 0), 1, 0);
	paused_rq(_metadata, e, BUSY, UNPLUG, vmt_rq_gpa(e, 20), 1, 0);
	paused_rq(_metadata, e, BUSY, UNPLUG_ALL, 0, 0, 0);
	paused_rq(_metadata, e, ACK, STATE, vmt_rq_gpa(e, 0), 4, PLUGGED);
	paused_rq(_metadata, e, ACK, STATE, vmt_rq_gpa(e, 0), 8, MIXED);
	paused_rq(_metadata, e, ACK, STATE, vmt_rq_gpa(e, 8), 12, UNPLUGGED);
	/* the checks before BUSY still answer as ever */
	paused_rq(_metadata, e, ERROR, PLUG, vmt_rq_gpa(e, 8) + 4096, 1, 0);
	paused_rq(_metadata, e, ERROR, PLUG, vmt_rq_gpa(e, 0), 1, 0);
	paused_rq(_metadata, e, NACK, PLUG, vmt_rq_gpa(e, 8), 4, 0);
	paused_rq(_metadata, e, ERROR, UNPLUG, vmt_rq_gpa(e, 8), 1, 0);
	paused_rq(_metadata, e, ERROR, STATE, vmt_rq_gpa(e, PZ_BLOCKS), 1, 0);

	/* nothing changed, and STATE sweeps work */
	check_status_paused(_metadata, e, true);
	expect_status(_metadata, e->dev.fd, "paused", 5 * BLK, 2, PZ_SIZE);
	vmt_rq_check_states(e);
	expect_tags(e, 0, 4, 5, "plugged before the pause");
	expect_tags(e, 20, 1, 5, "plugged before the pause");
	vmt_vm_expect_mmio(e->vm, vmt_rq_gpa(e, 8), "the BUSY PLUG");
	EXPECT_EQ(present, held(e, 0, PZ_BLOCKS))
		TH_LOG("backing while paused: expected %llu KiB, got %llu KiB",
		       (unsigned long long)present / 1024,
		       (unsigned long long)held(e, 0, PZ_BLOCKS) / 1024);

	r = __vmt_vmm_set_paused(e->dev.fd, 0);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_SET_PAUSED 0: %s", vmt_errstr(r));
	check_status_paused(_metadata, e, false);
	VMT_RQ_EXPECT(e, ACK, PLUG, 8, 2);
	VMT_RQ_EXPECT(e, ACK, UNPLUG, 0, 1);
	VMT_RQ_EXPECT(e, ACK, UNPLUG_ALL, 0, 0);
	vmt_rq_check_all(e);
}

TEST_F(pause, resume_signals_config_change)
{
	struct vmt_rq_env *e = &self->e;
	u64 t0, signal_us, retry_us, n;
	int r;

	vmt_rq_env_start(e, PZ_REQUESTED);
	ASSERT_EQ(0, __vmt_mem_set_config_call(e->dev.fd, self->efd));
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 1);

	ASSERT_EQ(0, __vmt_vmm_set_paused(e->dev.fd, 1));
	EXPECT_EQ(0, wait_eventfd(self->efd, 0))
		TH_LOG("the pause itself signalled the config eventfd");
	paused_rq(_metadata, e, BUSY, PLUG, vmt_rq_gpa(e, 1), 1, 0);

	/* resume: the guest hears of it at once, and its retry works */
	t0 = vmt_now_ns();
	r = __vmt_vmm_set_paused(e->dev.fd, 0);
	ASSERT_EQ(0, r) TH_LOG("VHOST_MEM_SET_PAUSED 0: %s", vmt_errstr(r));
	n = wait_eventfd(self->efd, RESUME_MS);
	signal_us = (vmt_now_ns() - t0) / 1000;
	ASSERT_EQ(1, n)
		TH_LOG("config eventfd after resume: expected 1 signal within %d ms, got %llu after %llu us",
		       RESUME_MS, (unsigned long long)n,
		       (unsigned long long)signal_us);
	VMT_RQ_EXPECT(e, ACK, PLUG, 1, 1);
	retry_us = (vmt_now_ns() - t0) / 1000;
	fprintf(stderr, "# resume -> config eventfd: %llu us, -> retried PLUG ACKed: %llu us\n",
		(unsigned long long)signal_us, (unsigned long long)retry_us);

	/* no resume, no signal: resuming a running device, pausing twice */
	ASSERT_EQ(0, __vmt_vmm_set_paused(e->dev.fd, 0));
	EXPECT_EQ(0, wait_eventfd(self->efd, 100))
		TH_LOG("SET_PAUSED 0 on a device that was not paused signalled the config eventfd");
	ASSERT_EQ(0, __vmt_vmm_set_paused(e->dev.fd, 1));
	ASSERT_EQ(0, __vmt_vmm_set_paused(e->dev.fd, 1));
	ASSERT_EQ(0, __vmt_vmm_set_paused(e->dev.fd, 0));
	n = wait_eventfd(self->efd, RESUME_MS);
	EXPECT_EQ(1, n) TH_LOG("paused twice, resumed once: expected 1 signal, got %llu",
			       (unsigned long long)n);

	/* without an eventfd, resume just works */
	ASSERT_EQ(0, __vmt_mem_set_config_call(e->dev.fd, -1));
	ASSERT_EQ(0, __vmt_vmm_set_paused(e->dev.fd, 1));
	paused_rq(_metadata, e, BUSY, PLUG, vmt_rq_gpa(e, 2), 1, 0);
	ASSERT_EQ(0, __vmt_vmm_set_paused(e->dev.fd, 0));
	EXPECT_EQ(0, wait_eventfd(self->efd, 0));
	VMT_RQ_EXPECT(e, ACK, PLUG, 2, 1);
	vmt_rq_check_all(e);
}

TEST_F(pause, bad_values)
{
	struct vmt_rq_env *e = &self->e;
	int r;

	r = __vmt_vmm_set_paused(e->dev.fd, 1);
	EXPECT_EQ(-EBADFD, r)
		TH_LOG("SET_PAUSED 1 before SET_REGION: expected EBADFD, got %s",
		       vmt_errstr(r));
	vmt_rq_env_start(e, PZ_REQUESTED);
	r = __vmt_vmm_set_paused(e->dev.fd, 2);
	EXPECT_EQ(-EINVAL, r) TH_LOG("SET_PAUSED 2: expected EINVAL, got %s",
				     vmt_errstr(r));
	r = __vmt_vmm_set_paused(e->dev.fd, -1);
	EXPECT_EQ(-EINVAL, r) TH_LOG("SET_PAUSED -1: expected EINVAL, got %s",
				     vmt_errstr(r));
	check_status_paused(_metadata, e, false);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 1);
	vmt_rq_check_all(e);
}

/* The new ioctls are the owner's: another process gets EPERM. */
TEST_F(pause, other_process_gets_eperm)
{
	struct vmt_rq_env *e = &self->e;
	static const char * const names[] = {
		"VHOST_MEM_SET_PAUSED", "VHOST_MEM_GET_STATE",
		"VHOST_MEM_SET_STATE", "VHOST_MEM_RESET",
	};
	int status = 0, bad = 0, r[4];
	unsigned int i;
	pid_t pid;

	vmt_rq_env_start(e, PZ_REQUESTED);
	VMT_RQ_EXPECT(e, ACK, PLUG, 0, 2);
	tag_blocks(e, 0, 2, 13);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		u8 buf[256] = { 0 };
		u64 len = sizeof(buf);

		r[0] = __vmt_vmm_set_paused(e->dev.fd, 1);
		r[1] = __vmt_vmm_get_state(e->dev.fd, buf, &len);
		r[2] = __vmt_vmm_set_state(e->dev.fd, buf, 64 + PZ_BLOCKS / 8);
		r[3] = __vmt_vmm_system_reset(e->dev.fd);
		for (i = 0; i < VMT_ARRAY_SIZE(r); i++)
			bad |= (r[i] != -EPERM) << i;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	bad = WEXITSTATUS(status);
	for (i = 0; i < VMT_ARRAY_SIZE(names); i++) {
		const char *name = names[i] ? names[i] : "?";

		EXPECT_FALSE(bad & (1 << i))
			TH_LOG("%s from a process that is not the owner: expected EPERM",
			       name);
	}
	check_status_paused(_metadata, e, false);
	expect_tags(e, 0, 2, 13, "after the other process's attempts");
	vmt_rq_check_all(e);
}

TEST_HARNESS_MAIN
