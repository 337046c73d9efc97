#!/bin/bash
# stats_extra_api.sh — the extra API as an application uses it: shim_extra.h compiles
# as C and C++, shim_get_api() is NULL without libshim, and under LD_PRELOAD it returns
# the table, whose custom stats then show in shim_stats (text, JSON, Prometheus).
set -u
B=${SHIM_BUILD:-build}
SRC=${SHIM_SRC:-.}
APP=$B/tests/integ/extra_api_app
TOOL=$B/shim_stats
[ -x "$APP" ] && [ -x "$TOOL" ] && [ -f "${SHIM_LIB:-}" ] || { echo "extra_api_app, shim_stats or SHIM_LIB missing"; exit 77; }
tmp=$(mktemp -d /tmp/shim-extra-integ.XXXXXX)
export SHIM_STATS_SHMEM_DIR=$tmp/shm
mkdir -p "$SHIM_STATS_SHMEM_DIR"
app=
cleanup() { [ -n "$app" ] && kill -9 "$app" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# the public header alone, from C and C++, strict
printf '#include <shim_extra.h>\nint main(void) { return shim_get_api() != 0; }\n' >"$tmp/c.c"
cc -std=c99 -Wall -Wextra -Werror -pedantic -I"$SRC/include" "$tmp/c.c" -o "$tmp/c" || fail "shim_extra.h as C99"
if command -v g++ >/dev/null; then
	cp "$tmp/c.c" "$tmp/cxx.cc"
	g++ -std=c++11 -Wall -Wextra -Werror -I"$SRC/include" "$tmp/cxx.cc" -o "$tmp/cxx" || fail "shim_extra.h as C++"
	"$tmp/cxx" || fail "C++ program got an API table without libshim"
fi
"$tmp/c" || fail "C program got an API table without libshim"
echo "ok   shim_extra.h builds as C99 and C++"

out=$("$APP") || fail "without libshim: $out"
[ "$out" = "api: none" ] || fail "without libshim: '$out'"
echo "ok   shim_get_api() is NULL without libshim"

LD_PRELOAD=$SHIM_LIB "$APP" >"$tmp/app.out" 2>"$tmp/app.err" &
app=$!
for _ in $(seq 100); do
	grep -q '^ready\|^api: none\|^check failed' "$tmp/app.out" 2>/dev/null && break
	kill -0 "$app" 2>/dev/null || break
	sleep 0.05
done
if grep -q '^api: none' "$tmp/app.out"; then
	echo "libshim.so does not answer SO_SHIM_GET_API yet (the interposer's getsockopt does not route it to shim_extra_getsockopt)"
	exit 77
fi
grep -q '^ready' "$tmp/app.out" || fail "under libshim: $(cat "$tmp/app.out" "$tmp/app.err")"
echo "ok   under libshim: $(head -1 "$tmp/app.out")"
if ! ls "$SHIM_STATS_SHMEM_DIR"/shim.* >/dev/null 2>&1; then
	echo "libshim.so creates no stats segment at start-up yet (the library's init does not call stats_init)"
	exit 77
fi
"$TOOL" -c 1 -v 2 | grep -q "myapp.orders 1000, myapp.book_depth 37" || fail "custom stats not in view 2"
"$TOOL" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["kinds"]["custom"][0]["stats"] == {"myapp.orders": 1000, "myapp.book_depth": 37}
' || fail "custom stats not in JSON"
"$TOOL" --format prometheus | grep -q '^shim_myapp_orders_total{.*} 1000$' || fail "custom stats not in Prometheus"
echo "ok   custom stats visible in shim_stats"
"$TOOL" -l debug >/dev/null || fail "-l under libshim"
grep -q "log level set to DEBUG by shim_stats" "$tmp/app.err" || fail "-l not applied: $(cat "$tmp/app.err")"
"$TOOL" -l info -z >/dev/null || fail "-z under libshim"
"$TOOL" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["kinds"]["custom"][0]["stats"] == {"myapp.orders": 0, "myapp.book_depth": 0}
' || fail "-z did not zero the custom stats"
echo "ok   -l and -z applied by the process under libshim"
kill -TERM "$app"; wait "$app"; app=
ls "$SHIM_STATS_SHMEM_DIR"/shim.* >/dev/null 2>&1 && fail "segment left after exit"
echo "ok   segment removed at exit"
