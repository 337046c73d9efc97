# mk/params.mk — generates man/libshim.7 from its template and the parameter and
# profile tables (src/core/params.def, src/core/profiles.def), with a small host
# program, so the manual always lists exactly what the library parses. Where groff
# is installed the page is also checked for roff mistakes.
MAN_GEN += $(B)/man/libshim.7

$(B)/gen/params_man: mk/params_man.c src/core/params.def src/core/profiles.def
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -Isrc -o $@ $<

$(B)/man/libshim.7: man/libshim.7.in $(B)/gen/params_man VERSION
	@mkdir -p $(@D)
	$(B)/gen/params_man $< $(VERSION) > $@.tmp
	@if command -v groff >/dev/null; then \
		out=$$(groff -man -Tutf8 -ww -z $@.tmp 2>&1); \
		if [ -n "$$out" ]; then echo "$$out" >&2; rm -f $@.tmp; exit 1; fi; fi
	mv $@.tmp $@
