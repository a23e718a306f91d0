// SPDX-License-Identifier: GPL-2.0
/*
 * cowstat --call-graph: user-space addresses to function names.
 *
 * An address is placed in its process's executable mappings
 * (/proc/PID/maps), turned into an offset in the mapped file, then into
 * the file's virtual address through its PT_LOAD program headers, and
 * looked up among the file's function symbols: .symtab where the file
 * has one (not stripped), else .dynsym (exported functions only).  Every
 * offset read from a file is checked against the file's size: the files
 * are whatever the traced processes mapped.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usym.h"

struct usym_map {
	unsigned long long start, end, off;
	char *path;
};

struct usym_maps {
	struct usym_map *v;
	size_t n;
};

struct usym_sym {
	unsigned long long lo, hi;
	const char *name;
};

struct usym_load {
	unsigned long long off, filesz, vaddr;
};

/* One object file, read once. */
struct usym_elf {
	char *path;
	struct usym_load load[16];
	size_t nload;
	struct usym_sym *syms;
	size_t nsyms;
	char *names;		/* the string table, copied */
};

static struct usym_elf *elfs;
static size_t nelfs;

struct usym_maps *usym_maps_read(long pid)
{
	char path[64], line[4096 + 128], perms[8];
	unsigned long long start, end, off;
	struct usym_maps *m;
	struct usym_map *v;
	FILE *f;
	int at;

	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	m = calloc(1, sizeof(*m));
	while (m && fgets(line, sizeof(line), f)) {
		at = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %*u %n", &start, &end,
			   perms, &off, &at) != 4 || !at || perms[2] != 'x' ||
		    line[at] != '/')
			continue;
		line[strcspn(line, "\n")] = '\0';
		/* A file replaced since it was mapped: its symbols are not these. */
		if (strstr(line + at, " (deleted)"))
			continue;
		v = realloc(m->v, (m->n + 1) * sizeof(*m->v));
		if (!v)
			break;
		m->v = v;
		v = &m->v[m->n];
		v->path = strdup(line + at);
		if (!v->path)
			break;
		v->start = start;
		v->end = end;
		v->off = off;
		m->n++;
	}
	fclose(f);
	if (m && !m->n) {
		usym_maps_free(m);
		m = NULL;
	}
	return m;
}

void usym_maps_free(struct usym_maps *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	free(m);
}

static int cmp_sym(const void *a, const void *b)
{
	const struct usym_sym *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Is [off, off + len) inside a file of @size bytes? */
static int inside(unsigned long long off, unsigned long long len, size_t size)
{
	return off <= size && len <= size - off;
}

/* Read @e's program headers and function symbols from the file at @p. */
static void elf_read(struct usym_elf *e, const unsigned char *p, size_t size)
{
	const Elf64_Ehdr *eh = (const void *)p;
	const Elf64_Shdr *sh, *sym = NULL, *str;
	const Elf64_Phdr *ph;
	const Elf64_Sym *s;
	size_t i, n;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_phentsize != sizeof(*ph) || eh->e_shentsize != sizeof(*sh) ||
	    !inside(eh->e_phoff, (unsigned long long)eh->e_phnum * sizeof(*ph), size) ||
	    !inside(eh->e_shoff, (unsigned long long)eh->e_shnum * sizeof(*sh), size))
		return;
	ph = (const void *)(p + eh->e_phoff);
	for (i = 0; i < eh->e_phnum && e->nload < 16; i++)
		if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X))
			e->load[e->nload++] = (struct usym_load){
				ph[i].p_offset, ph[i].p_filesz, ph[i].p_vaddr };
	sh = (const void *)(p + eh->e_shoff);
	for (i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_SYMTAB ||
		    (sh[i].sh_type == SHT_DYNSYM && !sym))
			sym = &sh[i];
	if (!sym || sym->sh_link >= eh->e_shnum ||
	    sym->sh_entsize != sizeof(*s) ||
	    !inside(sym->sh_offset, sym->sh_size, size))
		return;
	str = &sh[sym->sh_link];
	if (!inside(str->sh_offset, str->sh_size, size) || !str->sh_size)
		return;
	e->names = malloc(str->sh_size + 1);
	if (!e->names)
		return;
	memcpy(e->names, p + str->sh_offset, str->sh_size);
	e->names[str->sh_size] = '\0';
	n = sym->sh_size / sizeof(*s);
	e->syms = calloc(n ? n : 1, sizeof(*e->syms));
	if (!e->syms)
		return;
	s = (const void *)(p + sym->sh_offset);
	for (i = 0; i < n; i++) {
		unsigned int type = ELF64_ST_TYPE(s[i].st_info);

		if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    s[i].st_shndx == SHN_UNDEF || !s[i].st_value ||
		    s[i].st_name >= str->sh_size)
			continue;
		e->syms[e->nsyms++] = (struct usym_sym){
			s[i].st_value, s[i].st_value + (s[i].st_size ?: 1),
			e->names + s[i].st_name };
	}
	qsort(e->syms, e->nsyms, sizeof(*e->syms), cmp_sym);
}

static struct usym_elf *elf_get(const char *path)
{
	struct usym_elf *e;
	struct stat st;
	void *p;
	size_t i;
	int fd;

	for (i = 0; i < nelfs; i++)
		if (!strcmp(elfs[i].path, path))
			return &elfs[i];
	e = realloc(elfs, (nelfs + 1) * sizeof(*elfs));
	if (!e)
		return NULL;
	elfs = e;
	e = &elfs[nelfs];
	memset(e, 0, sizeof(*e));
	e->path = strdup(path);
	if (!e->path)
		return NULL;
	nelfs++;
	/* Unreadable or not ELF: kept, with no symbols, so it is tried once. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return e;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0) {
		p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			elf_read(e, p, st.st_size);
			munmap(p, st.st_size);
		}
	}
	close(fd);
	return e;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

void usym_name(const struct usym_maps *m, unsigned long long ip,
	       char *name, size_t len, char *obj, size_t olen)
{
	const struct usym_map *map = NULL;
	unsigned long long fo, va;
	struct usym_elf *e;
	size_t i, lo, hi;

	for (i = 0; m && i < m->n; i++)
		if (ip >= m->v[i].start && ip < m->v[i].end)
			map = &m->v[i];
	if (!map) {
		snprintf(name, len, "[unknown]");
		snprintf(obj, olen, "%s", "");
		return;
	}
	snprintf(obj, olen, "%s", base_name(map->path));
	fo = ip - map->start + map->off;
	snprintf(name, len, "%s+0x%llx", base_name(map->path), fo);
	e = elf_get(map->path);
	if (!e)
		return;
	for (i = 0; i < e->nload; i++)
		if (fo >= e->load[i].off && fo - e->load[i].off < e->load[i].filesz)
			break;
	if (i == e->nload)
		return;
	va = fo - e->load[i].off + e->load[i].vaddr;
	/* The last symbol starting at or below va. */
	lo = 0;
	hi = e->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->syms[mid].lo <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && va < e->syms[lo - 1].hi)
		snprintf(name, len, "%s", e->syms[lo - 1].name);
}

void usym_exit(void)
{
	size_t i;

	for (i = 0; i < nelfs; i++) {
		free(elfs[i].path);
		free(elfs[i].syms);
		free(elfs[i].names);
	}
	free(elfs);
	elfs = NULL;
	nelfs = 0;
}
