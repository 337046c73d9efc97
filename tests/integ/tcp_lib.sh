# tcp_lib.sh — sourced by the offloaded-TCP integration tests and benchmarks: the
# testbed (namespaces NAME-a 198.18.0.1 and NAME-b 198.18.0.2) with its teardown on
# any exit, skip when it cannot run, and helpers to run a side with or without
# libshim and to read a namespace's kernel TCP counters. Set N before sourcing.
SRC=${SHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${SHIM_BUILD:-$SRC/build}
LIB=${SHIM_LIB:-$B/libshim.so}
TB=$SRC/contrib/testbed.sh
XF=$B/tests/integ/tcp_xfer
LOG=$(mktemp -d)
IP_A=198.18.0.1
IP_B=198.18.0.2
pids=()

tcp_cleanup() {
	declare -F tcp_cleanup_hook >/dev/null && tcp_cleanup_hook
	for p in "${pids[@]}"; do
		disown "$p" 2>/dev/null	# no "Killed" job report
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	"$TB" down "$N"
	rm -rf "$LOG"
}
trap tcp_cleanup EXIT

"$TB" check >/dev/null || { "$TB" check; exit 77; }
[ -x "$XF" ] || { echo "tcp test program not built ($XF)"; exit 1; }

# The testbed, with static neighbours. veth keeps its default offloads: the kernel
# peer's segments reach XDP with their checksums unfinished (CHECKSUM_PARTIAL),
# which libshim takes as the kernel does on a virtual link. TCP_TB_TX_CSUM=off turns
# checksum offload off on both ends, so that every checksum is verified.
tcp_testbed_up() {
	"$TB" up "$N" -n >/dev/null || exit 1
	[ "${TCP_TB_TX_CSUM:-on}" = off ] || return 0
	command -v ethtool >/dev/null || { echo "ethtool not installed"; exit 77; }
	local s
	for s in a b; do
		"$TB" exec "$N" $s ethtool -K "$("$TB" info "$N" $s if)" tx off >/dev/null 2>&1
	done
}

# Run a command in namespace a|b, under libshim when $2 is "shim" (its stats segment
# in $LOG, so that killed processes leave nothing behind).
in_ns() {
	local side=$1 how=$2
	shift 2
	if [ "$how" = shim ]; then
		ip netns exec "$N-$side" env LD_PRELOAD="$LIB" SHIM_TRACELEVEL="${SHIM_TRACELEVEL:-4}" \
			SHIM_STATS_SHMEM_DIR="${SHIM_STATS_SHMEM_DIR:-$LOG}" "$@"
	else
		ip netns exec "$N-$side" "$@"
	fi
}

# Like in_ns, but the command replaces the shell: run it as `(in_ns_exec ...) &` and
# $! is the program itself (kill -9 reaches it, not a wrapper shell).
in_ns_exec() {
	local side=$1 how=$2
	shift 2
	if [ "$how" = shim ]; then
		exec ip netns exec "$N-$side" env LD_PRELOAD="$LIB" SHIM_TRACELEVEL="${SHIM_TRACELEVEL:-4}" \
			SHIM_STATS_SHMEM_DIR="${SHIM_STATS_SHMEM_DIR:-$LOG}" "$@"
	fi
	exec ip netns exec "$N-$side" "$@"
}

# ActiveOpens PassiveOpens InSegs OutSegs of a namespace's kernel TCP.
kernel_tcp() {
	ip netns exec "$N-$1" awk '/^Tcp:/ { if (h) print $6, $7, $11, $12; h = 1 }' /proc/net/snmp
}

wait_ready() {	# file with "ready" on a line
	for _ in $(seq 250); do grep -q '^ready' "$1" 2>/dev/null && return 0; sleep 0.02; done
	cat "$1"
	return 1
}

fail() { echo "FAIL: $*"; exit 1; }
