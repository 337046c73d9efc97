#!/bin/bash
# install.sh — `make install` into a temporary prefix (DESTDIR empty) and again with
# DESTDIR staging the default prefix: the library, both tools, shim_extra.h, every man
# page (libshim.7 generated from params.def) and the sample rules file land where they
# belong; the installed library and tools work from there; a rules file the
# administrator edited is not overwritten by a second install.
set -u
SRC=${SHIM_SRC:-.}
D=$(mktemp -d /tmp/shim-install.XXXXXX)
trap 'rm -rf "$D"' EXIT
unset MAKEFLAGS MFLAGS MAKELEVEL	# a make of its own, not a sub-make of `make check`
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect ROOT ETC: the installed tree under ROOT (the prefix), rules file in ETC.
expect() {
	local root=$1 etc=$2 f
	for f in lib/libshim.so bin/shim_stats bin/shim_rules include/shim_extra.h \
		share/man/man7/libshim.7 share/man/man5/shim.conf.5 share/man/man8/shim_stats.8 \
		share/man/man3/shim_extra.3 share/doc/libshim/shim.conf.sample; do
		[ -s "$root/$f" ] || fail "$root/$f missing"
	done
	[ -s "$etc/shim.conf" ] || fail "$etc/shim.conf missing"
	[ -x "$root/bin/shim_rules" ] && [ -x "$root/bin/shim_stats" ] || fail "tools not executable in $root/bin"
	grep -q '^\.TH' "$root/share/man/man7/libshim.7" && grep -q 'SHIM_RX_POLL' "$root/share/man/man7/libshim.7" ||
		fail "libshim.7 is not the generated page with the parameter table"
	cmp -s "$SRC/include/shim_extra.h" "$root/include/shim_extra.h" || fail "shim_extra.h differs from the source"
}

# 1. PREFIX=tmp, DESTDIR empty: everything under the prefix, rules file in PREFIX/etc.
P=$D/prefix
make -s -C "$SRC" install PREFIX="$P" DESTDIR= >"$D/log1" 2>&1 || { cat "$D/log1"; fail "make install PREFIX=$P"; }
expect "$P" "$P/etc"
out=$(LD_PRELOAD="$P/lib/libshim.so" SHIM_TRACELEVEL=3 SHIM_STATS_SHMEM_DIR="$D" sh -c 'echo alive' 2>&1)
echo "$out" | grep -q '^alive$' || fail "a program under the installed libshim.so: $out"
"$P/bin/shim_rules" check "$P/etc/shim.conf" >"$D/rules" 2>&1 || fail "installed shim_rules on the installed sample: $(cat "$D/rules")"
"$P/bin/shim_stats" -V >/dev/null 2>&1 || fail "installed shim_stats -V"
printf '#include <shim_extra.h>\nint main(void) { return shim_get_api() != 0; }\n' >"$D/app.c"
cc -I"$P/include" "$D/app.c" -o "$D/app" && "$D/app" || fail "a program built against the installed shim_extra.h"

# 2. An edited rules file survives a second install.
echo "# edited" >>"$P/etc/shim.conf"
make -s -C "$SRC" install PREFIX="$P" DESTDIR= >"$D/log2" 2>&1 || fail "second make install"
tail -1 "$P/etc/shim.conf" | grep -q '^# edited$' || fail "a second install overwrote the edited shim.conf"

# 3. DESTDIR staging with the default prefix: nothing outside DESTDIR.
S=$D/stage
make -s -C "$SRC" install DESTDIR="$S" >"$D/log3" 2>&1 || { cat "$D/log3"; fail "make install DESTDIR=$S"; }
expect "$S/usr/local" "$S/etc"
[ "$(find "$S" -type f | wc -l)" = 10 ] || fail "DESTDIR holds other files than expected: $(find "$S" -type f)"

[ $fails = 0 ] || exit 1
echo "install: prefix and DESTDIR trees complete, installed library and tools work"
