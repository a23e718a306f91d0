/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowtrace's trace events: one cow_fault per counted write-fault outcome
 * and one cow_fork per counted fork, emitted by probes.c where the
 * counters are incremented, so the events of an outcome and its counter
 * move together.  Nothing is computed unless an event is enabled: the
 * kind of memory, the file and the latency are worked out in
 * TP_fast_assign.  No field holds a kernel pointer or a PFN.
 *
 * While an event has a user (enabled in any tracefs instance, a trigger
 * on it, perf or BPF attached), the module is pinned: rmmod says it is
 * in use.  The kernel does not take a trigger off a module's event when
 * the module goes, and then warns that the module's tracepoint still
 * has a probe (seen on 6.12 with a hist trigger left on cow_fault).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM cowtrace

#if !defined(_COWTRACE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _COWTRACE_TRACE_H

#include <linux/kdev_t.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/tracepoint.h>

#include "cowtrace.h"

TRACE_DEFINE_ENUM(CT_EV_COPY);
TRACE_DEFINE_ENUM(CT_EV_REUSE);
TRACE_DEFINE_ENUM(CT_EV_ZERO_FILL);
TRACE_DEFINE_ENUM(CT_EV_FILE_COPY);
TRACE_DEFINE_ENUM(CT_EV_SHARED_WRITE);
TRACE_DEFINE_ENUM(CT_EV_RACE);
TRACE_DEFINE_ENUM(CT_EV_UNSHARE);
TRACE_DEFINE_ENUM(CT_EV_THP_SPLIT);
TRACE_DEFINE_ENUM(CT_EV_THP_REUSE);
TRACE_DEFINE_ENUM(CT_EV_HUGETLB_COPY);
TRACE_DEFINE_ENUM(CT_MEM_HEAP);
TRACE_DEFINE_ENUM(CT_MEM_STACK);
TRACE_DEFINE_ENUM(CT_MEM_ANON);
TRACE_DEFINE_ENUM(CT_MEM_FILE);
TRACE_DEFINE_ENUM(CT_MEM_SHARED);

#define ct_show_ev(ev)							\
	__print_symbolic(ev,						\
			 { CT_EV_COPY, "copy" },			\
			 { CT_EV_REUSE, "reuse" },			\
			 { CT_EV_ZERO_FILL, "zero_fill" },		\
			 { CT_EV_FILE_COPY, "file_copy" },		\
			 { CT_EV_SHARED_WRITE, "shared_write" },	\
			 { CT_EV_RACE, "race" },			\
			 { CT_EV_UNSHARE, "unshare" },			\
			 { CT_EV_THP_SPLIT, "thp_split" },		\
			 { CT_EV_THP_REUSE, "thp_reuse" },		\
			 { CT_EV_HUGETLB_COPY, "hugetlb_copy" })

#define ct_show_mem(mem)						\
	__print_symbolic(mem,						\
			 { CT_MEM_HEAP, "heap" },			\
			 { CT_MEM_STACK, "stack" },			\
			 { CT_MEM_ANON, "anon" },			\
			 { CT_MEM_FILE, "file" },			\
			 { CT_MEM_SHARED, "shared" })

/*
 * @vma and @address: where the write faulted (the vma is read, never
 * recorded); @bytes: bytes copied (0 for a reuse, a shared write, a zero
 * fill, a race or a split); @mapcount, @refcount: of the old page when
 * the decision was made, -1 where the hook does not see it; @t0: the
 * fault's start (ct_clock()), 0 if not known.
 */
TRACE_EVENT_FN(cow_fault,
	       TP_PROTO(struct vm_area_struct *vma, unsigned long address,
			int ev, u64 bytes, int mapcount, int refcount, u64 t0),
	       TP_ARGS(vma, address, ev, bytes, mapcount, refcount, t0),
	       TP_STRUCT__entry(__field(unsigned long, address)
				__field(int, outcome)
				__field(u64, bytes)
				__field(int, mapcount)
				__field(int, refcount)
				__field(u64, latency_ns)
				__field(u32, mem)
				__field(u32, dev)
				__field(u64, ino)
				__field(u64, offset)
				__field(unsigned long, vm_start)
				__field(unsigned long, vm_end)),
	       TP_fast_assign(struct ct_mem_info mi;

			      ct_trace_mem(vma, address, &mi);
			      __entry->address = address;
			      __entry->outcome = ev;
			      __entry->bytes = bytes;
			      __entry->mapcount = mapcount;
			      __entry->refcount = refcount;
			      __entry->latency_ns =
				   t0 ? ct_since_ns(t0) : 0;
			      __entry->mem = mi.mem;
			      __entry->dev = mi.dev;
			      __entry->ino = mi.ino;
			      __entry->offset = mi.offset;
			      __entry->vm_start = mi.start;
			      __entry->vm_end = mi.end;),
	       TP_printk("address=0x%lx outcome=%s bytes=%llu mapcount=%d refcount=%d latency_ns=%llu mem=%s dev=%u:%u ino=%llu offset=%llu vma=0x%lx-0x%lx",
			 __entry->address, ct_show_ev(__entry->outcome),
			 __entry->bytes, __entry->mapcount, __entry->refcount,
			 __entry->latency_ns, ct_show_mem(__entry->mem),
			 MAJOR(__entry->dev), MINOR(__entry->dev),
			 __entry->ino, __entry->offset,
			 __entry->vm_start, __entry->vm_end),
	       ct_trace_reg, ct_trace_unreg
);

/* A counted fork: @shared anonymous pages now mapped in both. */
TRACE_EVENT_FN(cow_fork,
	       TP_PROTO(struct task_struct *parent, struct task_struct *child,
			u64 shared),
	       TP_ARGS(parent, child, shared),
	       TP_STRUCT__entry(__field(pid_t, parent_tgid)
				__field(pid_t, child_tgid)
				__field(u64, shared)),
	       TP_fast_assign(__entry->parent_tgid = task_tgid_nr(parent);
			      __entry->child_tgid = task_tgid_nr(child);
			      __entry->shared = shared;),
	       TP_printk("parent_tgid=%d child_tgid=%d shared=%llu",
			 __entry->parent_tgid, __entry->child_tgid,
			 __entry->shared),
	       ct_trace_reg, ct_trace_unreg
);

#endif /* _COWTRACE_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE cowtrace_trace
#include <trace/define_trace.h>
