// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: thousands of requests of the generic netlink family
 * "vhost-mem", and devices coming and going during dumps, leave the device
 * working.
 */
#include "netlink_fixture.h"

/* Thousands of requests of every kind, from two processes at once. */
static void spam(struct nlc *n, u32 id, unsigned int rounds, unsigned int seed)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	struct nl_msg *msg;
	unsigned int i;
	int r, want;

	TEST_ASSERT(dump, "out of memory");
	for (i = 0; i < rounds; i++) {
		switch ((i + seed) % 9) {
		case 0:
			want = 0;
			r = __nlt_get(n, id, NULL);
			break;
		case 1:
			want = -ENODEV;
			r = __nlt_get(n, id + 1000 + i, NULL);
			break;
		case 2:
			want = 0;
			r = __nlt_set(n, id, (i % 4) * TEST_BLOCK_SIZE);
			break;
		case 3:
			want = -EINVAL;
			r = __nlt_set(n, id, TEST_BLOCK_SIZE + i % 4096 + 1);
			break;
		case 4:
			want = -ERANGE;
			r = __nlt_set(n, id, TEST_REGION_SIZE + TEST_BLOCK_SIZE * (1 + i));
			break;
		case 5:
			want = 0;
			r = __nlt_dump(n, dump);
			TEST_ASSERT(r || nlt_dump_find(dump, id),
				    "round %u: the dump lacks the device", i);
			break;
		case 6:
			/* garbage: anything but a crash or a hang */
			msg = nlt_msg(n, VHOST_MEM_CMD_DEV_GET, 0);
			nla_put_u32(msg, VHOST_MEM_A_ID, id);
			nla_put(msg, 1 + i % 60, i % 13, "0123456789abc");
			r = __nlt_transact(n, msg, NULL, NULL);
			want = r;
			break;
		case 7:
			want = -EINVAL;
			msg = nlt_msg(n, VHOST_MEM_CMD_DEV_SET, 0);
			nla_put_u32(msg, VHOST_MEM_A_ID, id);
			r = __nlt_transact(n, msg, NULL, NULL);
			break;
		default:
			/* every command number, as a dump */
			r = __nlt_transact(n, nlt_msg(n, (u8)(i % 256), NLM_F_DUMP),
					   NULL, NULL);
			want = r;
			break;
		}
		TEST_ASSERT(r == want, "round %u (kind %u): expected %s, got %s (%s)",
			    i, (i + seed) % 9, vmt_errname(-want),
			    vmt_errname(-r), n->msg);
	}
	free(dump);
}

TEST_F_TIMEOUT(nl, spam_leaves_device_working, 300)
{
	const unsigned int rounds = 3000;
	struct nlt_events idle;
	struct nlc_dev d;
	pid_t pid;
	int status, r;

	/* a listener that never reads: its queue overflows */
	nlt_events_open(&idle);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct nlc n;

		TEST_ASSERT(!__nlt_open(&n), "family lookup");
		spam(&n, self->id, rounds, 4);
		_exit(0);
	}
	spam(&self->nl, self->id, rounds, 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("the second spammer failed");

	/* the device still works: resize, plug up to it, events */
	nlt_events_close(&idle);
	ASSERT_EQ(0, __nlt_set(&self->nl, self->id, 0));
	EXPECT_EQ(VIRTIO_MEM_RESP_ACK, __vmt_mem_unplug_all(&self->vq));
	ASSERT_EQ(0, __nlt_set(&self->nl, self->id, 16ULL << 20));
	plug_range(&self->vq, 0, 16ULL << 20);
	r = __vmt_mem_plug(&self->vq, TEST_REGION_GPA + (16ULL << 20), 1);
	EXPECT_EQ(VIRTIO_MEM_RESP_NACK, r);
	ASSERT_EQ(0, __nlt_get(&self->nl, self->id, &d));
	EXPECT_EQ(16ULL << 20, d.plugged);
	EXPECT_EQ(0, d.dropped);
}

#define NR_BEFORE	500	/* enough devices for a dump of several rounds */
#define NR_DURING	40

/* A dump's replies; the first one opens NR_DURING more devices. */
struct open_during {
	int fds[NR_DURING];
	unsigned int nr_open, nr_dumped;
	u64 newest_before;	/* the largest cookie among the devices before */
	unsigned int nr_newer;	/* dumped devices opened during the dump */
};

/* The cookie of the device open at fd. */
static u64 cookie_of(struct nlc *n, int fd)
{
	struct nlc_dev d;

	TEST_ASSERT(!__nlt_get(n, vmt_dev_id(fd), &d), "DEV_GET of fd %d", fd);
	return d.cookie;
}

static void open_more_on_first(const struct nlc_dev *d, void *arg)
{
	struct open_during *o = arg;

	if (d->cookie > o->newest_before)
		o->nr_newer++;
	if (o->nr_dumped++)
		return;
	for (o->nr_open = 0; o->nr_open < NR_DURING; o->nr_open++)
		o->fds[o->nr_open] = vmt_mem_open();
}

/*
 * A dump lists the devices that were there when it began: ids only grow,
 * so one that also took the devices opened meanwhile would not end while
 * devices keep coming (vhost-mem-ctl list would run for as long).
 */
TEST_F(nl, dump_ends_with_the_devices_it_began_with)
{
	struct open_during *o = calloc(1, sizeof(*o));
	int before[NR_BEFORE], r;
	unsigned int i;

	ASSERT_NE(NULL, o);
	for (i = 0; i < NR_BEFORE; i++)
		before[i] = vmt_mem_open();
	o->newest_before = cookie_of(&self->nl, before[NR_BEFORE - 1]);
	r = nlc_dump_devs(&self->nl, open_more_on_first, o);
	ASSERT_EQ(0, r) TH_LOG("dump: %s", vmt_errname(-r));
	TH_LOG("%u devices dumped", o->nr_dumped);
	EXPECT_EQ(NR_DURING, o->nr_open);
	EXPECT_EQ(0, o->nr_newer)
		TH_LOG("%u of the %u devices opened during the dump were in it",
		       o->nr_newer, NR_DURING);
	EXPECT_LE(NR_BEFORE + 1, o->nr_dumped)
		TH_LOG("only %u devices dumped", o->nr_dumped);
	for (i = 0; i < o->nr_open; i++)
		close(o->fds[i]);
	for (i = 0; i < NR_BEFORE; i++)
		close(before[i]);
	free(o);
}

/* Devices opened and closed while others dump and look them up. */
TEST_F_TIMEOUT(nl, churn_during_dumps, 300)
{
	struct nlt_dump *dump = calloc(1, sizeof(*dump));
	u64 deadline;
	pid_t pid;
	int status, r, i;
	u32 id;

	ASSERT_NE(NULL, dump);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fds[4], k;

		for (i = 0; i < 300; i++) {
			for (k = 0; k < 4; k++)
				fds[k] = vmt_mem_open();
			TEST_ASSERT(!__vmt_vhost_set_owner(fds[i % 4]), "owner");
			for (k = 0; k < 4; k++)
				close(fds[k]);
		}
		_exit(0);
	}
	deadline = vmt_now_ns() + 120ULL * 1000000000ULL;
	for (i = 0; vmt_now_ns() < deadline; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		r = __nlt_dump(&self->nl, dump);
		ASSERT_EQ(0, r) TH_LOG("dump %d: %s", i, vmt_errname(-r));
		ASSERT_NE(NULL, nlt_dump_find(dump, self->id));
		for (id = 0; id < 12; id++) {
			r = __nlt_get(&self->nl, id, NULL);
			ASSERT_TRUE(r == 0 || r == -ENODEV)
				TH_LOG("DEV_GET %u: %s", id, vmt_errname(-r));
			r = __nlt_set(&self->nl, id, 0);
			ASSERT_TRUE(r == 0 || r == -ENODEV || r == -EBADFD)
				TH_LOG("DEV_SET %u: %s", id, vmt_errname(-r));
		}
	}
	if (vmt_now_ns() >= deadline) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	TH_LOG("%d rounds of dumps while devices came and went", i);
	EXPECT_EQ(0, __nlt_get(&self->nl, self->id, NULL));
	free(dump);
}

TEST_HARNESS_MAIN
