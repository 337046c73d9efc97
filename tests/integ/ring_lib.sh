# ring_lib.sh — sourced by the ring integration tests: paths, the testbed with its
# teardown on any exit, skip when it cannot run, background process bookkeeping.
# Set N (testbed name) before sourcing; optional ring_cleanup_hook runs first.
SRC=${SHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${SHIM_BUILD:-$SRC/build}
TB=$SRC/contrib/testbed.sh
PP=$B/tests/integ/ring_pingpong
KU=$B/tests/integ/ring_kudp
LOG=$(mktemp -d)
pids=()

cleanup() {
	declare -F ring_cleanup_hook >/dev/null && ring_cleanup_hook
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$TB" down "$N"
	rm -rf "$LOG"
}
trap cleanup EXIT

"$TB" check >/dev/null || { "$TB" check; exit 77; }
[ -x "$PP" ] && [ -x "$KU" ] || { echo "ring test programs not built ($PP, $KU)"; exit 1; }

# Wait until file $1 has a line "ready" (the program attached its flow).
wait_ready() {
	for _ in $(seq 200); do grep -q '^ready' "$1" 2>/dev/null && return 0; sleep 0.02; done
	cat "$1"
	return 1
}
