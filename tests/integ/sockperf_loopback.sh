#!/bin/bash
# sockperf ping-pong over 127.0.0.1 with select, poll and epoll, UDP and TCP, with
# data integrity checking: under libshim (server and client) every run completes with
# no dropped, duplicated or reordered message, exactly like the kernel-only run.
command -v sockperf >/dev/null || { echo "sockperf not installed"; exit 77; }
T=${SOCKPERF_TIME:-2}
dir=$(mktemp -d /tmp/shim-sockperf.XXXXXX)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

# run <preload or empty> <U|T> <s|p|e> <seconds>: prints the client's verdict line
run() {
	local pre=$1 proto=$2 mux=$3 secs=$4 port=$((20000 + RANDOM % 20000)) i
	echo "$proto:127.0.0.1:$port" > "$dir/feed"
	LD_PRELOAD=$pre sockperf server -f "$dir/feed" -F "$mux" > "$dir/server.log" 2>&1 &
	server=$!
	for i in $(seq 50); do
		grep -q 'using .* to block' "$dir/server.log" 2>/dev/null && break
		sleep 0.1
	done
	LD_PRELOAD=$pre timeout 30 sockperf ping-pong -f "$dir/feed" -F "$mux" -t "$secs" \
		--data-integrity > "$dir/client.log" 2>&1
	local rc=$?
	kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; server=
	local lat=$(sed -n 's/.*Summary: Latency is \([0-9.]*\) usec.*/\1/p' "$dir/client.log")
	local verdict=$(sed -n 's/.*\(# dropped messages.*\)/\1/p' "$dir/client.log")
	if [ $rc -ne 0 ] || [ -z "$lat" ] || grep -qi 'error' "$dir/client.log"; then
		echo "FAILED rc=$rc"; sed 's/^/    /' "$dir/client.log" "$dir/server.log" | tail -20
		return 1
	fi
	echo "$verdict" > "$dir/verdict"
	echo "latency ${lat} usec, $verdict"
}

fail=0
for proto in U T; do
	for mux in s p e; do
		plain=$(run "" $proto $mux 1) || { echo "$plain"; fail=1; continue; }
		shim=$(run "$SHIM_LIB" $proto $mux "$T") || { echo "$shim"; fail=1; continue; }
		printf '%s -F %s  kernel: %s\n            libshim: %s\n' $proto $mux "$plain" "$shim"
		[ "${plain#*usec, }" = "${shim#*usec, }" ] || { echo "  verdicts differ"; fail=1; }
	done
done
exit $fail
