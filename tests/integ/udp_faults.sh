#!/bin/bash
# Damaged datagrams from the peer (raw Ethernet frames from a python AF_PACKET socket
# in namespace b) to an offloaded receiver: bad IP and UDP checksums, truncated
# headers, bogus lengths, fragments that never complete, overlapping fragments.
# Only the two good datagrams around them may arrive; the rest is counted by reason
# and dropped, and nothing stays held (incomplete fragments time out).
set -u
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
. "$SHIM_SRC/tests/integ/udp_lib.sh"
udp_testbed_up "uf$$"
"$TB" exec "$N" a sysctl -qw net.ipv4.ipfrag_time=1

bg "$LOGDIR/recv" in_ns a shim "$PEER" count 7500 2 -t 10
wait_for "$LOGDIR/recv" "count ready" || exit 1
"$TB" exec "$N" b python3 "$SHIM_SRC/tests/integ/udp_faults.py" "$("$TB" info "$N" b if)" \
	"$("$TB" info "$N" b mac)" "$("$TB" info "$N" b peer_mac)" 198.18.0.2 198.18.0.1 7500 ||
	{ echo "FAIL: sender"; exit 1; }
wait "$LAST_PID"
rc=$?
log=$LOGDIR/recv
grep '^got\|timeout' "$log"
fail=0
[ $rc = 0 ] || { echo "FAIL: receiver exit $rc"; fail=1; }
[ "$(grep -c '^got' "$log")" = 2 ] || { echo "FAIL: wrong number of datagrams delivered"; fail=1; }
grep -q '^got 6 bytes: good-1' "$log" && grep -q '^got 6 bytes: good-2' "$log" ||
	{ echo "FAIL: good datagrams missing or damaged"; fail=1; }
grep 'ip: ' "$log" | sed 's/.*SHIM DEBUG : //'
# Every fault that reaches the IP layer is counted under its reason.
for reason in "dropped ip_csum" "dropped udp_csum" "dropped udp_len: 2" "dropped udp_short"; do
	grep -q "ip: $reason" "$log" || { echo "FAIL: not counted: $reason"; fail=1; }
done
grep -q 'timeouts [1-9]' "$log" || { echo "FAIL: incomplete fragments not expired"; fail=1; }
grep -q 'overlaps [1-9]' "$log" || { echo "FAIL: overlapping fragments not counted"; fail=1; }
grep -q 'held 0 ' "$log" || { echo "FAIL: fragments still held at exit"; fail=1; }
[ $fail = 0 ] && echo "faults counted and dropped, good datagrams intact"
exit $fail
