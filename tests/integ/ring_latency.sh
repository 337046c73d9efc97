#!/bin/bash
# ring_latency.sh — UDP ping-pong between the testbed namespaces, raw rings on both
# sides (ring_pingpong lat <-> ring_pingpong echo) against kernel sockets on both
# sides (ring_kudp), interleaved in rounds so both see the same machine load. Prints
# half-RTT percentiles and the ring/kernel ratio; fails only when an exchange fails.
# RING_LAT_ROUNDS (3) and RING_LAT_SECONDS (1) size the run; 64-byte payloads.
# Note: the machine has 2 cores and both ends busy-poll, so each side owns one.
set -u
N=rl$$
ROUNDS=${RING_LAT_ROUNDS:-3}
SECS=${RING_LAT_SECONDS:-1}
ring_cleanup_hook() { [ -n "${recho:-}" ] && kill -CONT "$recho" 2>/dev/null; }
. "$(dirname "$0")/ring_lib.sh"

"$TB" up "$N" -n >/dev/null || exit 1
IFA=$("$TB" info "$N" a if)
IFB=$("$TB" info "$N" b if)
MB=$("$TB" info "$N" b mac)

"$TB" exec "$N" b "$PP" -i "$IFB" -s 198.18.0.2 -l 7100 -n 0 echo >"$LOG/recho" 2>&1 &
recho=$!
pids+=($recho)
"$TB" exec "$N" b "$KU" echo 7200 >"$LOG/kecho" 2>&1 &
pids+=($!)
wait_ready "$LOG/recho" || { echo "ring echo in b did not start"; exit 1; }
wait_ready "$LOG/kecho" || { echo "kernel echo in b did not start"; exit 1; }

for r in $(seq "$ROUNDS"); do
	"$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7101 -m "$MB" -d 198.18.0.2 \
		-p 7100 -t "$SECS" -z 64 lat >"$LOG/r$r" 2>&1 || { cat "$LOG/r$r"; exit 1; }
	kill -STOP "$recho"	# its busy poll would steal a core from the kernel rounds
	"$TB" exec "$N" a "$KU" lat 198.18.0.2 7200 "$SECS" 64 >"$LOG/k$r" 2>&1 ||
		{ cat "$LOG/k$r"; exit 1; }
	"$TB" exec "$N" a "$KU" lat 198.18.0.2 7200 "$SECS" 64 -s >"$LOG/s$r" 2>&1 ||
		{ cat "$LOG/s$r"; exit 1; }
	kill -CONT "$recho"
	grep -h '^lat' "$LOG/r$r" "$LOG/k$r" "$LOG/s$r" | sed "s/^/round $r: /"
done

# Median over rounds of each percentile, then ratios.
med() {	# kind field
	grep -h "^lat $1:" "$LOG"/${2}? | sed -n "s/.* $3=\([0-9.]*\).*/\1/p" | sort -n |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
printf '\n%-22s %8s %8s %8s\n' "half-RTT (us)" p50 p99 p99.9
for k in "ring r" "kernel k" "kernel-spin s"; do
	set -- $k
	printf '%-22s %8s %8s %8s\n' "$1" "$(med "$1" "$2" p50)" "$(med "$1" "$2" p99)" \
		"$(med "$1" "$2" p99.9)"
done
for q in p50 p99 p99.9; do
	awk -v a="$(med ring r $q)" -v b="$(med kernel k $q)" -v q=$q \
		'BEGIN { if (b > 0) printf "ring/kernel %s: %.2f\n", q, a / b }'
done
exit 0
