# mk/stats.mk — shim_stats is several files (tools/shim_stats/), and the stats
# integration helpers (tests/integ/stats_*.c) and benchmarks (tests/bench/stats_*.c)
# link the library's archive to act as segment writers without the interposer.
SHIM_STATS_SRCS := $(wildcard tools/shim_stats/*.c)
SHIM_STATS_OBJS := $(SHIM_STATS_SRCS:%.c=$(B)/%.o)
TOOLS += $(B)/shim_stats

all: $(B)/shim_stats

$(B)/shim_stats: $(SHIM_STATS_OBJS) $(B)/libshim_core.a
	$(CC) $(LDFLAGS) $(SHIM_STATS_OBJS) -o $@ $(B)/libshim_core.a $(LDLIBS)

$(B)/tests/integ/stats_%: tests/integ/stats_%.c $(B)/libshim_core.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(B)/libshim_core.a $(LDLIBS)

$(B)/tests/bench/stats_%: tests/bench/stats_%.c $(B)/libshim_core.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(B)/libshim_core.a $(LDLIBS)
