/* SPDX-License-Identifier: GPL-2.0 */
/* cowstat --call-graph (usym.c): user-space addresses to function names. */
#ifndef _COWSTAT_USYM_H
#define _COWSTAT_USYM_H

#include <stddef.h>

/* A process's executable mappings, from /proc/PID/maps. */
struct usym_maps;

/* @pid's executable mappings, or NULL if it is gone (or has none). */
struct usym_maps *usym_maps_read(long pid);
void usym_maps_free(struct usym_maps *m);

/*
 * The function @ip lies in, in @m: its symbol name (from the object's
 * .symtab, else .dynsym), else "OBJECT+0xOFFSET" (the file offset), else
 * "[unknown]" when no executable mapping holds @ip.  @obj gets the
 * object's file name ("" when unknown).
 */
void usym_name(const struct usym_maps *m, unsigned long long ip,
	       char *name, size_t len, char *obj, size_t olen);

/* Forget every object read (at exit). */
void usym_exit(void);

#endif /* _COWSTAT_USYM_H */
