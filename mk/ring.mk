# ring.mk — ring_pingpong drives the ring layer directly, so it links the core
# archive and its libraries (the generic integ rule links only libpthread, which
# keeps ring_kudp a plain kernel-socket program).
$(B)/tests/integ/ring_pingpong: tests/integ/ring_pingpong.c $(B)/libshim_core.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(B)/libshim_core.a $(LDLIBS)

# The BPF programs of ring/ need the multiarch include directory for asm/types.h;
# ask clang for it (x86_64-linux-gnu), which also works when CC is clang (whose
# -dumpmachine says x86_64-pc-linux-gnu, a directory Debian does not have).
RING_BPF_MULTIARCH := $(shell $(CLANG) -print-multiarch 2>/dev/null || $(CC) -dumpmachine)
$(B)/gen/ring/%.bpf.o: src/ring/%.bpf.c src/ring/steer.h
	@mkdir -p $(@D)
	$(CLANG) -O2 -g -target bpf -I/usr/include/$(RING_BPF_MULTIARCH) -Isrc -c $< -o $@
