# faults.mk — fault injectors for libshim's own receive path (tests/bpf/xdp_fault.bpf.c,
# an freplace program for the steering program's shim_steer_hook) and their loader
# tests/integ/xdp_fault, which embeds the object as a bpftool skeleton and needs libbpf.
$(B)/gen/tests/%.bpf.o: tests/bpf/%.bpf.c src/ring/steer.h
	@mkdir -p $(@D)
	$(CLANG) -O2 -g -target bpf -I/usr/include/$(MULTIARCH) -Isrc -c $< -o $@

$(B)/gen/tests/%.skel.h: $(B)/gen/tests/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

$(B)/tests/integ/xdp_fault: tests/integ/xdp_fault.c $(B)/gen/tests/xdp_fault.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(PKG_LIBS)

# Reordering: a tc program detouring TCP data segments through an ifb with a fixed
# ifindex (tests/integ/tcp_faults.sh creates it in the kernel peer's namespace).
PROGS += $(B)/tests/bpf/tcp_reorder.o $(B)/tests/integ/xdp_fault
$(B)/tests/bpf/tcp_reorder.o: tests/bpf/tcp_reorder.bpf.c
	@mkdir -p $(@D)
	$(CLANG) -O2 -g -target bpf -I/usr/include/$(MULTIARCH) -DDETOUR_IFINDEX=4242 \
		-DREORDER_EVERY=20 -c $< -o $@
