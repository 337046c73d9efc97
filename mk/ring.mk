# ring.mk — ring test programs drive the ring layer directly, so they link the core
# archive and its libraries (the generic integ rule links only libpthread).
$(B)/tests/integ/ring_%: tests/integ/ring_%.c $(B)/libshim_core.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(B)/libshim_core.a $(LDLIBS)
