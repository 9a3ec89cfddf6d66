/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the requestq (events/vhost_mem/ in tracefs): a request's
 * time in the device runs from vhost_mem_req_pop, the vhost worker taking
 * its chain off the available ring, to vhost_mem_req_used, its entry in the
 * used ring.  Both carry the device's id and the chain's head descriptor,
 * which pair the two ends of one request.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vhost_mem

#if !defined(VHOST_MEM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define VHOST_MEM_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(vhost_mem_req_pop,
	TP_PROTO(int id, int desc),
	TP_ARGS(id, desc),

	TP_STRUCT__entry(
		__field(int, id)
		__field(int, desc)
	),

	TP_fast_assign(
		__entry->id = id;
		__entry->desc = desc;
	),

	TP_printk("dev=%d desc=%d", __entry->id, __entry->desc)
);

TRACE_EVENT(vhost_mem_req_used,
	TP_PROTO(int id, int desc, u16 type, u64 addr, u16 nb_blocks,
		 u16 resp, u32 len),
	TP_ARGS(id, desc, type, addr, nb_blocks, resp, len),

	TP_STRUCT__entry(
		__field(int, id)
		__field(int, desc)
		__field(u64, addr)
		__field(u32, len)
		__field(u16, type)
		__field(u16, nb_blocks)
		__field(u16, resp)
	),

	TP_fast_assign(
		__entry->id = id;
		__entry->desc = desc;
		__entry->addr = addr;
		__entry->len = len;
		__entry->type = type;
		__entry->nb_blocks = nb_blocks;
		__entry->resp = resp;
	),

	TP_printk("dev=%d desc=%d type=%u addr=0x%llx nb_blocks=%u resp=%u len=%u",
		  __entry->id, __entry->desc, __entry->type,
		  (unsigned long long)__entry->addr, __entry->nb_blocks,
		  __entry->resp, __entry->len)
);

#endif /* VHOST_MEM_TRACE_H */

/* Out of the kernel's include path: Kbuild adds this directory. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
