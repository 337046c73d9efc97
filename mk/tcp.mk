# tcp.mk — the TCP engine benchmark drives two engine instances through the unit-test
# harness's fake wire, so it links the core archive and the harness (the generic bench
# rule links only libpthread).
$(B)/tests/bench/tcp_engine: tests/bench/tcp_engine.c tests/unit/tcp_harness.c $(B)/libshim_core.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -Itests/unit $(LDFLAGS) $< tests/unit/tcp_harness.c -o $@ \
		$(B)/libshim_core.a $(LDLIBS) $(CHECK_LIBS)
