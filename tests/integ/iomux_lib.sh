# iomux_lib.sh — sourced by the iomux integration tests and benchmark (not a test
# itself: not executable). Brings up the testbed NAME=$N (torn down on any exit),
# runs commands in either namespace, reads the kernel's UDP counters of namespace a,
# sums the offloaded receive counts from SHIM_STATS_FILE summaries, and skips the test
# (exit 77, with the reason) while UDP receive is not offloaded by this build.
SRC=${SHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${SHIM_BUILD:-$SRC/build}
LIB=${SHIM_LIB:-$B/libshim.so}
TB=$SRC/contrib/testbed.sh
IP_A=198.18.0.1
IP_B=198.18.0.2
WORK=$(mktemp -d /tmp/shim-iomux.XXXXXX)
pids=()

iomux_cleanup() {
	local p
	# Our background processes, and whatever we started inside our two namespaces
	# (servers run from command substitutions are not in pids).
	for p in "${pids[@]}" $(ip netns pids "$N-a" 2>/dev/null) $(ip netns pids "$N-b" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	"$TB" down "$N"
	rm -rf "$WORK"
}
trap iomux_cleanup EXIT

"$TB" check >/dev/null || { "$TB" check; exit 77; }
"$TB" up "$N" -n >/dev/null || { echo "testbed $N did not come up"; exit 1; }
NS_A=/var/run/netns/$N-a
NS_B=/var/run/netns/$N-b

ina() { ip netns exec "$N-a" "$@"; }
inb() { ip netns exec "$N-b" "$@"; }

# Udp InDatagrams of namespace a (datagrams the kernel delivered to its sockets).
udp_in() {
	ina awk '$1 == "Udp:" { if (hdr) { print $2; exit } hdr = 1 }' /proc/net/snmp
}

# Sum of "Rx Offload: x KB / PACKETS / errors" over the socket summaries in file $1.
offloaded_rx() {
	[ -f "$1" ] || { echo 0; return; }
	awk -F/ '/Rx Offload:/ { split($2, a, " "); s += a[1] } END { print s + 0 }' "$1"
}

# 20 datagrams from b to a python receiver under libshim in a: the kernel of a must
# not count them and the socket summary must show them offloaded; else skip.
require_udp_offload() {
	local before after st=$WORK/probe.stats port=$((30000 + RANDOM % 10000))
	before=$(udp_in)
	SHIM_STATS_FILE=$st LD_PRELOAD=$LIB timeout 10 ip netns exec "$N-a" python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$IP_A', $port)); s.settimeout(3)
open('$WORK/probe.ready', 'w').close()
n = 0
try:
    while n < 20:
        s.recv(64); n += 1
except socket.timeout:
    pass
print(n)" > "$WORK/probe.out" 2>&1 &
	local rpid=$!
	pids+=($rpid)
	for _ in $(seq 100); do [ -e "$WORK/probe.ready" ] && break; sleep 0.05; done
	inb python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):
    s.sendto(b'p', ('$IP_A', $port)); time.sleep(0.002)"
	wait $rpid
	after=$(udp_in)
	if [ "$(offloaded_rx "$st")" -lt 20 ] || [ $((after - before)) -ne 0 ]; then
		echo "UDP receive is not offloaded by this build: of 20 datagrams the receiver got" \
			"$(tail -n1 "$WORK/probe.out"), the kernel counted $((after - before))," \
			"the rings $(offloaded_rx "$st")"
		exit 77
	fi
}
