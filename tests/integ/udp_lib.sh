# udp_lib.sh — sourced by the UDP integration tests (not a test: not executable).
# Sets up one testbed (namespaces $N-a 198.18.0.1 and $N-b 198.18.0.2), removed on
# exit with every process started through bg().
TB=$SHIM_SRC/contrib/testbed.sh
PEER=$SHIM_BUILD/tests/integ/udp_peer
LOGDIR=$(mktemp -d /tmp/shim-udp.XXXXXX)
BG_PIDS=()

udp_testbed_up() {	# NAME
	N=$1
	"$TB" check >/dev/null || { "$TB" check; exit 77; }
	trap udp_cleanup EXIT
	"$TB" up "$N" >/dev/null || { echo "testbed would not come up"; exit 1; }
}

udp_cleanup() {
	for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$TB" down "$N"
	[ -n "${KEEP_LOGS:-}" ] || rm -rf "$LOGDIR"
}

# in SIDE shim|kernel CMD...: run CMD in namespace SIDE, with or without libshim.
# Debug level so the IP layer prints its frame counters at exit (proof of offload).
in_ns() {
	local side=$1 mode=$2
	shift 2
	if [ "$mode" = shim ]; then
		"$TB" exec "$N" "$side" env LD_PRELOAD="$SHIM_LIB" SHIM_TRACELEVEL=${SHIM_TRACELEVEL:-4} \
			SHIM_STATS_FILE="$LOGDIR/stats.$side.%d" "$@"
	else
		"$TB" exec "$N" "$side" "$@"
	fi
}

# bg LOG CMD...: start in the background, output to LOG.
bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	BG_PIDS+=($!)
	LAST_PID=$!
}

# wait_for LOG TEXT [SECONDS]
wait_for() {
	local i
	for i in $(seq $((${3:-5} * 20))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for '$2' in $1:"
	tail -20 "$1"
	return 1
}

# Udp InDatagrams and OutDatagrams of a namespace.
snmp_udp() {
	"$TB" exec "$N" "$1" awk '/^Udp:/ && ++n == 2 { print $2 + 0, $5 + 0 }' /proc/net/snmp
}

# Frames the IP layer of libshim moved, from its exit dump in LOG: "rx tx".
ring_frames() {
	sed -n 's/.*ip: rx \([0-9]*\) tx \([0-9]*\).*/\1 \2/p' "$1" | tail -1
}

# Offloaded packets of the sockets that closed on SIDE so far ("rx tx"), from the
# per-socket counters libshim writes to SHIM_STATS_FILE at close; empty if none.
socket_offload() {
	cat "$LOGDIR"/stats."$1".* 2>/dev/null | awk '
		/Rx Offload:/ { split($0, a, "/"); rx += a[2] + 0; n++ }
		/Tx Offload:/ { split($0, a, "/"); tx += a[2] + 0 }
		END { if (n) print rx, tx }'
}

# proof SIDE LOG SNMP_BEFORE: libshim moved frames (its rings, and its sockets'
# counters when they closed) and the kernel's UDP counters of SIDE did not move.
proof() {
	local side=$1 log=$2 before=$3 after frames sock
	after=$(snmp_udp "$side")
	frames=$(ring_frames "$log")
	sock=$(socket_offload "$side")
	if [ -n "$sock" ] && [ "$sock" = "0 0" ]; then
		echo "no proof of offload on $side: socket counters show no offloaded packets"
		return 1
	fi
	if [ -z "$frames" ] || [ "${frames% *}" = 0 ] || [ "${frames#* }" = 0 ]; then
		echo "no proof of offload on $side: ring frames '${frames:-none}'"
		return 1
	fi
	if [ "$before" != "$after" ]; then
		echo "no proof of offload on $side: kernel Udp In/Out went from $before to $after"
		return 1
	fi
	echo "offloaded on $side: ring frames rx/tx $frames,${sock:+ socket offload packets rx/tx $sock,} kernel Udp In/Out unchanged ($after)"
}
