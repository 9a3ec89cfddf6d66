// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem selftests: a hostile guest's chains that the device answers.
 *
 * - any split of the request and of the response, indirect tables, extra
 *   bytes, request and response in the same buffer, garbage in the padding;
 * - ERROR (counted as an unknown request): a request shorter than 24 bytes,
 *   or in device-writable memory;
 * - no answer (used length 0, counted in dropped, reported on the vring
 *   error eventfd): a response buffer shorter than 10 bytes or
 *   device-readable;
 * - values: unknown types, nb_blocks 0 and 65535, addresses near 2^64.
 */
#include "hostile.h"

/* Any split of the request and of the response is legal. */
TEST_F(hostile, split_request_and_response)
{
	static const struct { u32 piece, gap; } req_splits[] = {
		{ 1, 1 }, { 1, 0 }, { 2, 3 }, { 3, 0 }, { 5, 7 }, { 8, 16 },
		{ 23, 1 }, { 12, 100 }, { 24, 0 },
	}, resp_splits[] = {
		{ 1, 1 }, { 1, 0 }, { 9, 3 }, { 3, 2 }, { 2, 0 }, { 10, 0 },
	};
	struct vmt_rq_env *e = &self->e;
	unsigned int i, j, k, ind;
	char shape[96];
	struct chain c;
	const struct { u16 type; u64 block; u16 nb; } reqs[] = {
		{ STATE, 0, 2 }, { PLUG, 8, 1 }, { STATE, 7, 2 },
		{ UNPLUG, 8, 1 }, { PLUG, 0, 1 }, { 9, 0, 1 },
	};

	for (ind = 0; ind < 2; ind++)
		for (i = 0; i < VMT_ARRAY_SIZE(req_splits); i++)
			for (j = 0; j < VMT_ARRAY_SIZE(resp_splits); j++) {
				k = (i + j) % VMT_ARRAY_SIZE(reqs);
				make_chain(e, &c, 0, reqs[k].type,
					   vmt_rq_gpa(e, reqs[k].block),
					   reqs[k].nb, req_splits[i].piece,
					   req_splits[i].gap,
					   resp_splits[j].piece,
					   resp_splits[j].gap);
				c.flags = ind ? VMT_CHAIN_INDIRECT : 0;
				snprintf(shape, sizeof(shape),
					 "%s%u descriptors (request in %u-byte pieces, response in %u-byte pieces)",
					 ind ? "an indirect table of " : "",
					 c.n, req_splits[i].piece,
					 resp_splits[j].piece);
				expect_answer(_metadata, e, &c, reqs[k].type,
					      vmt_rq_gpa(e, reqs[k].block),
					      reqs[k].nb, shape);
			}
	still_works(e);
}

TEST_F(hostile, empty_descriptors_extra_bytes_and_overlap)
{
	struct vmt_rq_env *e = &self->e;
	u8 req[64];
	struct chain c;
	const u8 *resp;
	unsigned int i;

	/* zero-length descriptors around both parts */
	memset(&c, 0, sizeof(c));
	vmt_rq_encode(req, PLUG, vmt_rq_gpa(e, 9), 1);
	add_req(e, &c, 0, req, 0, 1, 0, false);
	add_req(e, &c, 1, req, REQ_LEN, 10, 4, false);
	add_req(e, &c, 2, req, 0, 1, 0, false);
	add_resp(e, &c, 3, 0, 1, 0);
	add_resp(e, &c, 0, RESP_LEN, 4, 4);
	add_resp(e, &c, 4, 0, 1, 0);
	expect_answer(_metadata, e, &c, PLUG, vmt_rq_gpa(e, 9), 1,
		      "zero-length descriptors");

	/* 64 readable bytes (garbage after the 24), 100 writable */
	memset(&c, 0, sizeof(c));
	vmt_rq_encode(req, STATE, vmt_rq_gpa(e, 8), 2);
	for (i = REQ_LEN; i < sizeof(req); i++)
		req[i] = 0xc0 + i;
	add_req(e, &c, 0, req, sizeof(req), 64, 0, false);
	add_resp(e, &c, 0, 100, 100, 0);
	expect_answer(_metadata, e, &c, STATE, vmt_rq_gpa(e, 8), 2,
		      "a 64-byte request and a 100-byte response buffer");
	resp = vmt_gpa2hva(e->vm, vmt_rq_slot_gpa(e, 0) + RESP_OFF);
	for (i = RESP_LEN; i < 100; i++)
		ASSERT_EQ(VMT_MEM_RESP_POISON, resp[i])
			TH_LOG("byte %u of a 100-byte response buffer was written",
			       i);

	/* garbage in both padding fields: ignored */
	memset(&c, 0, sizeof(c));
	vmt_rq_encode(req, UNPLUG, vmt_rq_gpa(e, 9), 1);
	memset(req + 2, 0xff, 6);
	memset(req + 18, 0xee, 6);
	add_req(e, &c, 0, req, REQ_LEN, 24, 0, false);
	add_resp(e, &c, 0, RESP_LEN, 10, 0);
	expect_answer(_metadata, e, &c, UNPLUG, vmt_rq_gpa(e, 9), 1,
		      "non-zero padding");

	/* the response written over the request it answers */
	memset(&c, 0, sizeof(c));
	vmt_rq_encode(req, STATE, vmt_rq_gpa(e, 0), 2);
	add_req(e, &c, 0, req, REQ_LEN, 24, 0, false);
	c.bufs[c.n++] = (struct vmt_buf){ vmt_rq_slot_gpa(e, 0), RESP_LEN,
					  true };
	expect_answer(_metadata, e, &c, STATE, vmt_rq_gpa(e, 0), 2,
		      "the response buffer over the request buffer");
	still_works(e);
}

/* Shorter than 24 bytes: ERROR, counted as unknown, never executed. */
TEST_F(hostile, request_too_short)
{
	static const u32 lens[] = { 1, 2, 8, 16, 18, 23 };
	struct vmt_rq_env *e = &self->e;
	char shape[64];
	struct chain c;
	u8 req[REQ_LEN];
	unsigned int i;

	/* a valid PLUG of block 8, cut short */
	vmt_rq_encode(req, PLUG, vmt_rq_gpa(e, 8), 1);
	for (i = 0; i < VMT_ARRAY_SIZE(lens); i++) {
		memset(&c, 0, sizeof(c));
		add_req(e, &c, 0, req, lens[i], 7, 1, false);
		add_resp(e, &c, 0, RESP_LEN, 10, 0);
		snprintf(shape, sizeof(shape), "a PLUG cut to %u bytes",
			 lens[i]);
		expect_short(_metadata, e, &c, shape);
	}
	/* no device-readable part at all */
	memset(&c, 0, sizeof(c));
	add_resp(e, &c, 0, RESP_LEN, 10, 0);
	expect_short(_metadata, e, &c, "a chain with no request");
	/* the same, indirect */
	memset(&c, 0, sizeof(c));
	add_req(e, &c, 0, req, 20, 3, 0, false);
	add_resp(e, &c, 0, RESP_LEN, 2, 0);
	c.flags = VMT_CHAIN_INDIRECT;
	expect_short(_metadata, e, &c, "an indirect PLUG cut to 20 bytes");
	still_works(e);
}

/* A request in device-writable memory is no request: ERROR. */
TEST_F(hostile, request_in_writable_buffer)
{
	struct vmt_rq_env *e = &self->e;
	struct chain c;
	u8 req[REQ_LEN];

	vmt_rq_encode(req, PLUG, vmt_rq_gpa(e, 8), 1);
	memset(&c, 0, sizeof(c));
	add_req(e, &c, 0, req, REQ_LEN, 24, 0, true);
	add_resp(e, &c, 0, RESP_LEN, 10, 0);
	expect_short(_metadata, e, &c, "a PLUG in a device-writable buffer");
	still_works(e);
}

/* A response that cannot be written: returned unanswered, not executed. */
TEST_F(hostile, response_buffer_unusable)
{
	static const struct { u32 len, piece; } resps[] = {
		{ 0, 1 }, { 1, 1 }, { 4, 4 }, { 9, 9 }, { 9, 5 }, { 9, 1 },
	};
	struct vmt_rq_env *e = &self->e;
	char shape[80];
	struct chain c;
	u8 req[REQ_LEN];
	unsigned int i;

	vmt_rq_encode(req, PLUG, vmt_rq_gpa(e, 8), 1);
	for (i = 0; i < VMT_ARRAY_SIZE(resps); i++) {
		memset(&c, 0, sizeof(c));
		add_req(e, &c, 0, req, REQ_LEN, 24, 0, false);
		if (resps[i].len)
			add_resp(e, &c, 0, resps[i].len, resps[i].piece, 1);
		c.flags = i % 2 ? VMT_CHAIN_INDIRECT : 0;
		snprintf(shape, sizeof(shape),
			 "a PLUG with %u writable bytes in %u-byte pieces%s",
			 resps[i].len, resps[i].piece,
			 c.flags ? " (indirect)" : "");
		expect_dropped(_metadata, e, &c, shape);
	}
	/* a response buffer the device may only read */
	memset(&c, 0, sizeof(c));
	add_req(e, &c, 0, req, REQ_LEN, 24, 0, false);
	vmt_rq_scatter(e, c.bufs, &c.n, vmt_rq_slot_gpa(e, 0) + RESP_OFF,
		       NULL, RESP_LEN, 10, 0, false);
	expect_dropped(_metadata, e, &c, "a device-readable response buffer");
	still_works(e);
}

/* Values no valid request has: ERROR, nothing changes. */
TEST_F(hostile, bad_values)
{
	static const u16 types[] = { PLUG, UNPLUG, STATE };
	static const u64 addrs[] = {
		0xffffffffffe00000ULL, 0xfffffffffff00000ULL,
		0xffffffffffffffffULL, 0xfffffffffffff000ULL,
		0x8000000000000000ULL, 0xfffffffffe000000ULL,
		0xffffffff00000000ULL,
	};
	static const u16 nbs[] = { 0, 1, 2, 0x100, 0x8000, 0xffff };
	static const u16 odd_types[] = { 4, 5, 0x80, 0xfffe, 0xffff };
	struct vmt_rq_env *e = &self->e;
	u64 before[VHOST_MEM_NR_REQ_TYPES][VHOST_MEM_NR_RESP_TYPES];
	struct vmt_mem_req reqs[64];
	unsigned int t, a, n, k = 0;

	memcpy(before, e->model.requests, sizeof(before));

	/* addresses near 2^64 */
	for (t = 0; t < VMT_ARRAY_SIZE(types); t++)
		for (a = 0; a < VMT_ARRAY_SIZE(addrs); a++)
			for (n = 0; n < VMT_ARRAY_SIZE(nbs); n++) {
				reqs[k++] = (struct vmt_mem_req){
					.type = types[t], .addr = addrs[a],
					.nb_blocks = nbs[n],
				};
				if (k == VMT_ARRAY_SIZE(reqs)) {
					vmt_rq_batch(e, reqs, k);
					k = 0;
				}
			}
	/* nb_blocks 0 and 65535 at and near the region */
	for (t = 0; t < VMT_ARRAY_SIZE(types); t++)
		for (a = 0; a <= 16; a += 4) {
			reqs[k++] = (struct vmt_mem_req){
				.type = types[t], .addr = vmt_rq_gpa(e, a),
			};
			reqs[k++] = (struct vmt_mem_req){
				.type = types[t], .addr = vmt_rq_gpa(e, a),
				.nb_blocks = 0xffff,
			};
		}
	vmt_rq_batch(e, reqs, k);
	k = 0;
	for (t = 0; t < VMT_ARRAY_SIZE(odd_types); t++)
		for (a = 0; a < 3; a++)
			reqs[k++] = (struct vmt_mem_req){
				.type = odd_types[t],
				.addr = a < 2 ? vmt_rq_gpa(e, a * 8) : addrs[0],
				.nb_blocks = a ? 0xffff : 1,
			};
	vmt_rq_batch(e, reqs, k);
	/* every one of them was an ERROR */
	for (t = 0; t < VHOST_MEM_NR_REQ_TYPES; t++) {
		for (n = 0; n < VHOST_MEM_NR_RESP_TYPES; n++) {
			if (n == ERROR ||
			    e->model.requests[t][n] == before[t][n])
				continue;
			TH_LOG("%llu bad values got answer %s to %s",
			       (unsigned long long)(e->model.requests[t][n] -
						    before[t][n]),
			       vmt_mem_resp_name(n),
			       t < 4 ? vmt_mem_req_name(t) : "unknown type");
			_metadata->exit_code = KSFT_FAIL;
		}
	}
	still_works(e);
}

TEST_HARNESS_MAIN
