// SPDX-License-Identifier: GPL-2.0
/*
 * The cowtrace:* trace events (cowtrace_trace.h) and what they say of the
 * memory a fault wrote.  Called only from an enabled event's
 * TP_fast_assign, in the hook that counted the outcome, with the fault's
 * vma held stable by the fault (mmap or vma lock, and in the write-
 * protect hooks the page-table lock too).
 */
#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/module.h>

#include "compat.h"
#include "cowtrace.h"

#define CREATE_TRACE_POINTS
#include "cowtrace_trace.h"

void ct_trace_mem(struct vm_area_struct *vma, unsigned long address,
		  struct ct_mem_info *mi)
{
	struct mm_struct *mm = vma->vm_mm;
	struct file *file = vma->vm_file;
	/* brk may move under a fault that holds only the vma's lock. */
	unsigned long start_brk = READ_ONCE(mm->start_brk);
	unsigned long brk = READ_ONCE(mm->brk);
	unsigned long stack = READ_ONCE(mm->start_stack);

	mi->start = vma->vm_start;
	mi->end = vma->vm_end;
	mi->dev = 0;
	mi->ino = 0;
	mi->offset = 0;
	if (vma->vm_flags & (VM_SHARED | VM_MAYSHARE))
		mi->mem = CT_MEM_SHARED;
	else if (file)
		mi->mem = CT_MEM_FILE;
	else if (vma->vm_start < brk && vma->vm_end > start_brk)
		mi->mem = CT_MEM_HEAP;
	else if (vma->vm_start <= stack && stack < vma->vm_end)
		mi->mem = CT_MEM_STACK;
	else
		mi->mem = CT_MEM_ANON;
	if (file) {
		const struct inode *inode = ct_user_inode(file);

		mi->dev = inode->i_sb->s_dev;
		mi->ino = inode->i_ino;
		mi->offset = ((u64)vma->vm_pgoff << PAGE_SHIFT) +
			     (address - vma->vm_start);
	}
}

NOKPROBE_SYMBOL(ct_trace_mem);

/*
 * A trace event's first user came (ct_trace_reg) or its last went: the
 * module is pinned in between (see cowtrace_trace.h).  Called by the
 * tracepoint code under its mutex, in process context.
 */
int ct_trace_reg(void)
{
	__module_get(THIS_MODULE);
	return 0;
}

void ct_trace_unreg(void)
{
	module_put(THIS_MODULE);
}
