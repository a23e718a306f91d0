# SPDX-License-Identifier: GPL-2.0
#
# cowtrace: out-of-tree module, selftests and test bed.
#
#   make                  build module/cowtrace.ko for the running kernel
#   make KVER=<version>   build build/<version>/module/cowtrace.ko
#   make KDIR=<tree>      build against a kernel build tree
#   make deps             install what everything needs (Debian 12, root)
#   make check            build for 6.1, 6.12 and 6.12-rt, run every test in qemu
#   make check-debug      the selftests under a KASAN/lockdep/kmemleak kernel
#   make demo             the walk through the fork/COW claims in a guest
#   make bench            the overhead benchmark in both guests (instruction counting)
#   make case-plots       the Redis and Python timelines in both guests (gnuplot PNGs)
#   make case-studies-doc Documentation/case-studies.rst from the case studies in both guests
#   make style / sparse   checkpatch --strict and sparse (C=2)
#   make deb              Debian packages cowtrace-dkms, cowstat in build/deb
#   make install          cowstat, cowtrace-bpf and cowstat(1) into
#                         $(DESTDIR)$(PREFIX) (default /usr/local); uninstall

# Recipes source scripts/lib.sh, which is bash (arrays): not Debian's sh.
SHELL := /bin/bash
TOP := $(CURDIR)
KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
# One build tree per kernel so builds for different kernels never
# overwrite each other; the tree mirrors the source with symlinks.
KTAG := $(if $(filter /lib/modules/%/build,$(KDIR)),$(KVER),$(subst /,_,$(abspath $(KDIR))))
OBJ := $(TOP)/build/$(KTAG)
MODULE_SRC := $(wildcard module/*.c module/*.h) module/Kbuild
KSRC := $(TOP)/build/linux-src
KSRC_STAMP := $(KSRC)/.stamp
SELFTEST_BIN := $(patsubst selftests/%.c,build/selftests/%,$(wildcard selftests/*_test.c)) \
	build/selftests/claims_test

.PHONY: all module testbed-module selftests deps check check-debug demo claims-doc case-studies-doc style sparse clean ksrc kernels dkms-install htmldocs bench deb install uninstall case-plots

all: build/cowstat module
	@if [ "$(KVER)" = "$(shell uname -r)" ] && [ "$(KDIR)" = "/lib/modules/$(KVER)/build" ]; then \
		ln -sf ../build/$(KTAG)/module/cowtrace.ko module/cowtrace.ko; \
		echo "module/cowtrace.ko -> build/$(KTAG)/module/cowtrace.ko"; \
	fi

kernels:
	@. scripts/lib.sh; ct_installed_kernels

CANARIES := selftests/testbed/canaries

$(OBJ)/.tree: $(MODULE_SRC) Kbuild dkms.conf $(CANARIES)/Kbuild $(wildcard $(CANARIES)/*.c)
	@mkdir -p $(OBJ)/module $(OBJ)/testbed
	@ln -sf $(TOP)/Kbuild $(OBJ)/Kbuild
	@ln -sf $(TOP)/dkms.conf $(OBJ)/dkms.conf
	@for f in $(MODULE_SRC); do ln -sf $(TOP)/$$f $(OBJ)/$$f; done
	@for f in Kbuild $(notdir $(wildcard $(CANARIES)/*.c)); do ln -sf $(TOP)/$(CANARIES)/$$f $(OBJ)/testbed/$$f; done
	@touch $@

module: $(OBJ)/.tree
	@if [ ! -d "$(KDIR)" ]; then \
		echo "cowtrace: no kernel headers for $(KVER) (looked in $(KDIR))." >&2; \
		echo "cowtrace: kernels with headers installed here:" >&2; \
		. scripts/lib.sh; k=$$(ct_installed_kernels); \
		if [ -n "$$k" ]; then echo "$$k" | sed 's/^/    make KVER=/' >&2; \
		else echo "    none (run: make deps)" >&2; fi; \
		exit 2; \
	fi
	$(MAKE) -C $(KDIR) M=$(OBJ) modules

testbed-module: $(OBJ)/.tree
	$(MAKE) -C $(KDIR) M=$(OBJ)/testbed modules

sparse: $(OBJ)/.tree
	$(MAKE) -C $(KDIR) M=$(OBJ) C=2 W=1 modules 2>&1 | tee $(OBJ)/sparse.log
	@! grep -E 'warning:|error:' $(OBJ)/sparse.log

# Kernel files the project uses but never copies into the repository:
# kselftest headers, checkpatch, and mm/cow.c, unpacked from Debian's
# newest linux-source package into build/.
$(KSRC_STAMP):
	@scripts/ksrc $(KSRC)

ksrc: $(KSRC_STAMP)

# The test library (readers, puppets) is linked into every test; the
# claim scenarios only into the claims test and the demo.
TEST_LIB := selftests/lib/cowtrace_test_lib.c
TEST_HDR := selftests/lib/cowtrace_test.h
CLAIMS_LIB := selftests/claims/claims.c
CLAIMS_HDR := selftests/claims/claims.h
TEST_CC = $(CC) -O2 -g -Wall -Werror -D_GNU_SOURCE -pthread \
	-isystem $(KSRC)/tools/testing/selftests -Iselftests/lib

build/selftests/%: selftests/%.c $(TEST_LIB) $(TEST_HDR) $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(TEST_CC) -o $@ $< $(TEST_LIB)

# The events test replays the claims' scenarios too; frame pointers, for
# the user stacks of cowstat --call-graph.
build/selftests/events_test: selftests/events_test.c $(CLAIMS_LIB) $(CLAIMS_HDR) $(TEST_LIB) $(TEST_HDR) $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(TEST_CC) -fno-omit-frame-pointer -Iselftests/claims -o $@ $< $(CLAIMS_LIB) $(TEST_LIB)

build/selftests/claims_test: selftests/claims/claims_test.c $(CLAIMS_LIB) $(CLAIMS_HDR) $(TEST_LIB) $(TEST_HDR) $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(TEST_CC) -Iselftests/claims -o $@ $< $(CLAIMS_LIB) $(TEST_LIB)

# cowstat: the per-process table as a command (CFLAGS, CPPFLAGS and
# LDFLAGS are honoured, for packagers).
# --where reads the trace events with libtracefs and libtraceevent.
TRACEFS_FLAGS = $(shell pkg-config --cflags libtracefs libtraceevent)
TRACEFS_LIBS = $(shell pkg-config --libs libtracefs libtraceevent)
build/cowstat: scripts/tools/cowstat.c scripts/tools/where.c scripts/tools/where.h scripts/tools/usym.c scripts/tools/usym.h
	@mkdir -p build
	$(CC) $(CPPFLAGS) $(TRACEFS_FLAGS) -O2 -g $(CFLAGS) -Wall -Wextra -Werror $(LDFLAGS) \
		-o $@ scripts/tools/cowstat.c scripts/tools/where.c scripts/tools/usym.c $(TRACEFS_LIBS)

# The user tools.  cowtrace-bpf finds its template in ../share/cowtrace
# relative to itself, so any PREFIX works.
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
DATADIR = $(PREFIX)/share/cowtrace
MAN1DIR = $(PREFIX)/share/man/man1
install: build/cowstat
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MAN1DIR)
	install -m 0755 build/cowstat scripts/tools/cowtrace-bpf $(DESTDIR)$(BINDIR)/
	install -m 0644 scripts/tools/cowtrace.bt.in $(DESTDIR)$(DATADIR)/
	install -m 0644 scripts/tools/cowstat.1 $(DESTDIR)$(MAN1DIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cowstat $(DESTDIR)$(BINDIR)/cowtrace-bpf \
		$(DESTDIR)$(DATADIR)/cowtrace.bt.in $(DESTDIR)$(MAN1DIR)/cowstat.1
	-rmdir $(DESTDIR)$(DATADIR)

# cowbench: the benchmark's workloads (static: spawn execs it often).
build/cowbench: scripts/bench/cowbench.c
	@mkdir -p build
	$(CC) -O2 -g -Wall -Wextra -Werror -static -pthread -o $@ $<

# The demo: the claims narrated, built from the same scenarios.
build/cowdemo: selftests/claims/demo.c $(CLAIMS_LIB) $(CLAIMS_HDR) $(TEST_LIB) $(TEST_HDR) $(KSRC_STAMP)
	@mkdir -p build
	$(TEST_CC) -Iselftests/claims -o $@ $< $(CLAIMS_LIB) $(TEST_LIB)

# The kernel's own mm/cow.c selftest, for the conformance test.
build/mmcow/cow: scripts/build-mm-cow $(KSRC_STAMP)
	@mkdir -p build/mmcow
	scripts/build-mm-cow $@

# The case studies (selftests/cases/*_test: Redis, Python) are scripts;
# linked into build/selftests, they run in every guest like the others.
CASE_TESTS := $(patsubst selftests/cases/%,build/selftests/%,$(wildcard selftests/cases/*_test))

build/selftests/%_test: selftests/cases/%_test
	@mkdir -p $(dir $@)
	ln -sf ../../$< $@

selftests: $(SELFTEST_BIN) $(CASE_TESTS) build/selftests/witness build/selftests/unload/unload_test build/cowdemo build/mmcow/cow build/cowstat build/cowbench

# checkpatch --strict on everything; compat.h alone may branch on the
# kernel version (an out-of-tree module spanning 6.1..6.12 must).
CHECKPATCH = $(KSRC)/scripts/checkpatch.pl --no-tree --strict --show-types -q
style: $(KSRC_STAMP)
	$(CHECKPATCH) -f $(filter-out module/compat.h,$(wildcard module/*.c module/*.h)) \
		$(filter-out scripts/tools/usym.c,$(wildcard selftests/*.c selftests/*/*.[ch] \
		selftests/*/*/*.c scripts/*/*.c scripts/*/*.h))
	$(CHECKPATCH) --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f module/compat.h
	# <elf.h>'s type names (Elf64_Ehdr) are CamelCase.
	$(CHECKPATCH) --ignore CAMELCASE -f scripts/tools/usym.c

deps:
	scripts/deps

# Documentation as HTML; warnings are errors.
htmldocs:
	sphinx-build -W -q -b html Documentation build/html

# Register with DKMS and build for every installed kernel (root).
dkms-install:
	scripts/dkms-install

# Debian packages (scripts/debian) in build/deb: cowtrace-dkms, cowstat.
deb:
	scripts/mkdeb

check:
	scripts/check

# The selftests under the debug kernel (built once, cached in ~/.cache).
check-debug:
	scripts/check-debug

# The narrated claims demo in a 6.12 guest (COWTRACE_DEMO_KERNEL=...).
DEMO_KERNEL ?= $(or $(COWTRACE_DEMO_KERNEL),6.12)
demo:
	@kver=$$(. scripts/lib.sh; ct_resolve_kernel $(DEMO_KERNEL)) || \
		{ echo "cowtrace: kernel $(DEMO_KERNEL) is not installed (run: make deps)" >&2; exit 2; }; \
	$(MAKE) --no-print-directory -s KVER=$$kver module build/cowdemo >/dev/null && \
	selftests/testbed/vm-run -k $$kver -- scripts/tools/cowtrace-demo $(DEMO_ARGS)

# The overhead benchmark in both guests; regenerates Documentation/bench*.
bench: build/cowbench
	scripts/bench/run-guests

# The Redis BGSAVE and Python warm-up timelines (cowstat every 100 ms) in both guests:
# Documentation/cases/{redis,python}-timeline-*KERNEL.png (COWTRACE_CASES=redis or python: one).
case-plots: build/cowstat
	scripts/cases/run-timelines

# Documentation/claims.rst, regenerated from measurements in both guests.
claims-doc:
	scripts/docs/claims-doc

# Documentation/case-studies.rst, regenerated from the case studies run in both guests.
case-studies-doc:
	scripts/docs/case-studies-doc

clean:
	rm -rf build module/cowtrace.ko
