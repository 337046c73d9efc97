# mk/stats.mk — shim_stats is several files (tools/shim_stats/), and the stats
# integration helpers (tests/integ/stats_*.c) and benchmarks (tests/bench/stats_*.c)
# link the library's archive to act as segment writers without the interposer.
#
# shim_stats links the few library objects it uses, not libshim_core.a: the archive
# also holds the interposed libc names (close, read, signal ...), and linking one of
# them would bring the library's constructor, banner and fd table into the tool.
SHIM_STATS_SRCS := $(wildcard tools/shim_stats/*.c)
SHIM_STATS_OBJS := $(SHIM_STATS_SRCS:%.c=$(B)/%.o) \
	$(addprefix $(B)/src/core/,stats_reader.o stats_segment.o stats_schema.o stats_stale.o log.o)
TOOLS += $(B)/shim_stats

all: $(B)/shim_stats

$(B)/shim_stats: $(SHIM_STATS_OBJS)
	$(CC) $(LDFLAGS) $(SHIM_STATS_OBJS) -o $@ -lpthread

$(B)/tests/integ/stats_%: tests/integ/stats_%.c $(B)/libshim_core.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(B)/libshim_core.a $(LDLIBS)

$(B)/tests/bench/stats_%: tests/bench/stats_%.c $(B)/libshim_core.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(B)/libshim_core.a $(LDLIBS)
