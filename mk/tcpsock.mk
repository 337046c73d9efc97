# tcpsock.mk — BPF fault injectors for the offloaded-TCP tests (tests/bpf): one tc
# object per loss rate, loaded by tests/integ/tcp_faults.sh with `tc filter ... bpf`.
TCP_LOSS_RATES := 10 50
TCP_LOSS_OBJS := $(TCP_LOSS_RATES:%=$(B)/tests/bpf/tcp_loss_%.o)
PROGS += $(TCP_LOSS_OBJS)

$(B)/tests/bpf/tcp_loss_%.o: tests/bpf/tcp_loss.bpf.c
	@mkdir -p $(@D)
	$(CLANG) -O2 -g -target bpf -I/usr/include/$(shell $(CC) -dumpmachine) \
		-DLOSS_PERMILLE=$* -c $< -o $@
