# libshim — top-level build.
#   make                 build/libshim.so and the tools
#   make check           install test dependencies (as root), build, run every test
#   make demo            kernel vs libshim sockperf comparison on the netns testbed
#   make install PREFIX=/usr/local DESTDIR=
#   make SANITIZE=address,undefined check
# Sources are found by globbing, so a new file needs no Makefile edit; a module that
# needs its own rules adds a fragment in mk/*.mk.

PREFIX   ?= /usr/local
DESTDIR  ?=
# The rules file the library reads by default is /etc/shim.conf: a system prefix puts
# the sample there (unless one exists); any other prefix keeps it under the prefix.
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
B        := build
# Debian's multiarch include directory (asm/types.h for BPF programs); gcc's triplet
# matches it, clang's does not.
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine)

PKGS     := libbpf libxdp libnl-3.0 libnl-route-3.0 libconfig
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS   ?= -O2 -g
override CFLAGS += -std=gnu11 -D_GNU_SOURCE -fPIC $(WARN) -Iinclude -Isrc -I$(B)/gen \
		   -DSHIM_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -MMD -MP
LDLIBS   := $(PKG_LIBS) -ldl -lpthread -lrt

ifneq ($(SANITIZE),)
override CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

# Library objects: everything under src/ except BPF programs.
LIB_SRCS := $(shell find src -name '*.c' ! -name '*.bpf.c' | sort)
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
BPF_SRCS := $(shell find src -name '*.bpf.c' | sort)
BPF_SKELS := $(BPF_SRCS:src/%.bpf.c=$(B)/gen/%.skel.h)

TOOL_SRCS := $(wildcard tools/*.c)
TOOLS    := $(TOOL_SRCS:tools/%.c=$(B)/%)

# Unit tests: tests/unit/test_*.c are Check programs; other .c files there are shared
# test support linked into each of them.
UNIT_MAINS := $(wildcard tests/unit/test_*.c)
UNIT_SUPPORT := $(filter-out $(UNIT_MAINS),$(wildcard tests/unit/*.c))
UNIT_BINS := $(UNIT_MAINS:tests/unit/%.c=$(B)/tests/%)
# C helper programs used by integration tests and benchmarks.
PROG_SRCS := $(wildcard tests/integ/*.c tests/bench/*.c)
PROGS    := $(PROG_SRCS:tests/%.c=$(B)/tests/%)

all: $(B)/libshim.so $(TOOLS) man

-include mk/*.mk

# --- generated headers ---------------------------------------------------
$(B)/gen/libshim.map: src/intercept/syscalls.def src/intercept/libshim.map.in
	@mkdir -p $(@D)
	$(CC) -E -P -x c -Isrc src/intercept/libshim.map.in -o $@

$(B)/gen/%.bpf.o: src/%.bpf.c
	@mkdir -p $(@D)
	$(CLANG) -O2 -g -target bpf -I/usr/include/$(MULTIARCH) -Isrc -c $< -o $@

$(B)/gen/%.skel.h: $(B)/gen/%.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name $(subst /,_,$(basename $(basename $*)))_bpf > $@.tmp && mv $@.tmp $@

# Every object may include a skeleton, so build them first.
$(B)/%.o: %.c $(BPF_SKELS) | $(B)/gen/libshim.map
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# --- library, archive, tools ---------------------------------------------
$(B)/libshim.so: $(LIB_OBJS) $(B)/gen/libshim.map
	$(CC) -shared $(LDFLAGS) -Wl,--version-script=$(B)/gen/libshim.map -Wl,-z,defs \
		-o $@ $(LIB_OBJS) $(LDLIBS)

# The same objects as an archive, for tools and unit tests (only what they use is linked).
$(B)/libshim_core.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Tools link the archive without the interposer (src/intercept/) and the library's
# constructor (core/init.o): a tool never interposes libc names, prints the start-up
# banner or opens a stats segment, whatever it calls.
TOOL_LIB_OBJS := $(filter-out $(B)/src/intercept/% $(B)/src/core/init.o,$(LIB_OBJS))
$(B)/libshim_tools.a: $(TOOL_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^
all: $(B)/libshim_tools.a

$(B)/%: tools/%.c $(B)/libshim_tools.a
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(B)/libshim_tools.a $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(UNIT_SUPPORT) $(B)/libshim_core.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -Itests/unit $(LDFLAGS) $< $(UNIT_SUPPORT) -o $@ \
		$(B)/libshim_core.a $(LDLIBS) $(CHECK_LIBS)

$(B)/tests/integ/%: tests/integ/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ -lpthread

$(B)/tests/bench/%: tests/bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ -lpthread

# --- man pages -----------------------------------------------------------
MAN_SRCS := $(wildcard man/*.[1-9] man/*.[1-9].in)
man: $(MAN_GEN)
.PHONY: man

# --- tests -----------------------------------------------------------------
deps:
	@contrib/install-deps.sh

check: deps
	$(MAKE) all $(UNIT_BINS) $(PROGS)
	@tests/run-tests.sh $(B) $(UNIT_BINS)

demo: deps all $(PROGS)
	@contrib/demo.sh $(B)

# --- install ----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man7 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/doc/libshim $(DESTDIR)$(SYSCONFDIR)
	install -m 0755 $(B)/libshim.so $(DESTDIR)$(PREFIX)/lib/libshim.so
	$(if $(TOOLS),install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/)
	install -m 0644 include/shim_extra.h $(DESTDIR)$(PREFIX)/include/
	for m in $(wildcard man/*.[1-9]) $(MAN_GEN); do \
		s=$${m##*.}; install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done
	install -m 0644 config/shim.conf $(DESTDIR)$(PREFIX)/share/doc/libshim/shim.conf.sample
	[ -e $(DESTDIR)$(SYSCONFDIR)/shim.conf ] || install -m 0644 config/shim.conf $(DESTDIR)$(SYSCONFDIR)/shim.conf

clean:
	rm -rf $(B)

.PHONY: all check deps demo install clean
.SECONDARY:
-include $(shell find $(B) -name '*.d' 2>/dev/null)
