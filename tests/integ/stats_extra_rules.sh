#!/bin/bash
# stats_extra_rules.sh — the extra API's add_conf_rule() on the testbed: a UDP
# receiver bound before "use os udp_receiver *:*" is offloaded, one bound after it is
# not, as shim_stats shows (socket.offloaded), and a bad line is refused.
set -u
B=${SHIM_BUILD:-build}
SRC=${SHIM_SRC:-.}
APP=$B/tests/integ/extra_rules_app
TOOL=$B/shim_stats
TB=$SRC/contrib/testbed.sh
[ -x "$APP" ] && [ -x "$TOOL" ] && [ -f "${SHIM_LIB:-}" ] || { echo "extra_rules_app, shim_stats or SHIM_LIB missing"; exit 77; }
"$TB" check >/dev/null || { "$TB" check; exit 77; }
N=xr$$
tmp=$(mktemp -d /tmp/shim-extra-rules.XXXXXX)
export SHIM_STATS_SHMEM_DIR=$tmp/shm
mkdir -p "$SHIM_STATS_SHMEM_DIR"
app=
cleanup() {
	[ -n "$app" ] && kill -9 "$app" 2>/dev/null
	wait 2>/dev/null
	"$TB" down "$N"
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$tmp/app.out" "$tmp/app.err" 2>/dev/null | tail -20; exit 1; }

"$TB" up "$N" -n >/dev/null || fail "testbed did not come up"
ip netns exec "$N-a" env LD_PRELOAD="$SHIM_LIB" "$APP" 198.18.0.1 5001 >"$tmp/app.out" 2>"$tmp/app.err" &
app=$!
for _ in $(seq 100); do
	grep -q '^ready\|^api: none\|^add_conf\|^a bad' "$tmp/app.out" 2>/dev/null && break
	kill -0 "$app" 2>/dev/null || break
	sleep 0.05
done
grep -q '^api: none' "$tmp/app.out" && fail "no extra API under libshim"
read -r word pid before after <"$tmp/app.out"
[ "$word" = ready ] || fail "the application did not start"
"$TOOL" -p "$pid" --format json | python3 -c '
import json, sys
before, after = int(sys.argv[1]), int(sys.argv[2])
d = json.load(sys.stdin)
s = {x["id"]: x["stats"] for x in d["kinds"]["socket"]}
assert before in s and after in s, s.keys()
if s[before]["offloaded"] != 1:
    print("the receiver bound before the rule is not offloaded: UDP receive offload unavailable")
    sys.exit(77)
assert s[after]["offloaded"] == 0, "the receiver bound after the rule is offloaded"
' "$before" "$after"
rc=$?
[ $rc = 77 ] && exit 77
[ $rc = 0 ] || fail "offload decisions"
echo "ok   add_conf_rule: fd $before (before) offloaded, fd $after (after) left to the kernel; bad line refused"
