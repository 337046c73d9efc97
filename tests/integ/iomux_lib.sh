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
trap 'exit 1' TERM INT HUP	# a test timeout still tears the testbed down

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

# Skip (exit 77) unless offloaded UDP sockets exist and select/poll/epoll see them:
# 20 datagrams from b to a blocking python receiver under libshim in a must reach it
# through the rings (its summary counts them offloaded, the kernel of a counts none),
# then 5 more must each be announced by poll() before they are read.
require_udp_offload() {
	local before after st=$WORK/probe.stats port=$((30000 + RANDOM % 10000))
	before=$(udp_in)
	SHIM_STATS_FILE=$st LD_PRELOAD=$LIB timeout 20 ip netns exec "$N-a" python3 -c "
import select, signal, socket
def expire(*args):
    raise TimeoutError()
signal.signal(signal.SIGALRM, expire)
signal.alarm(8)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$IP_A', $port))
open('$WORK/probe.ready', 'w').close()
n = m = 0
try:
    while n < 20:
        s.recv(64); n += 1
except TimeoutError:
    pass
signal.alarm(0)
open('$WORK/probe.phase2', 'w').close()
p = select.poll(); p.register(s, select.POLLIN)
for _ in range(5):
    if p.poll(1000):
        s.recv(64); m += 1
print(n, m)" > "$WORK/probe.out" 2> "$WORK/probe.err" &
	local rpid=$!
	pids+=($rpid)
	for _ in $(seq 100); do [ -e "$WORK/probe.ready" ] && break; sleep 0.05; done
	inb python3 -c "
import os, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):
    s.sendto(b'p', ('$IP_A', $port)); time.sleep(0.002)
for _ in range(200):
    if os.path.exists('$WORK/probe.phase2'): break
    time.sleep(0.05)
for i in range(5):
    time.sleep(0.05); s.sendto(b'q', ('$IP_A', $port))"
	wait $rpid
	after=$(udp_in)
	local got polled
	read -r got polled < <(tail -n1 "$WORK/probe.out")
	if [ "$(offloaded_rx "$st")" -lt 20 ] || [ $((after - before)) -ne 0 ]; then
		echo "UDP receive is not offloaded by this build: of 20 datagrams the receiver got" \
			"${got:-?}, the kernel counted $((after - before)), the rings $(offloaded_rx "$st")"
		exit 77
	fi
	if [ "${polled:-0}" -lt 5 ]; then
		echo "offloaded UDP sockets are not visible to poll() in this build (poll announced" \
			"${polled:-0} of 5 offloaded datagrams): the socket layer does not implement" \
			"the readiness contract of sock.h yet (rx_rings, shim_fd_wake)"
		exit 77
	fi
}
