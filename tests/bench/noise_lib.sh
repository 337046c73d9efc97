# noise_lib.sh — sourced by the latency benchmarks: measures how often this machine
# stalls a busy-polling thread (noise_floor.c) and says what that means for a p99.9.
# noise_measure BUILD_DIR   runs it (2 s, before the benchmark's own runs)
# noise_report HALF_RTT_US  prints the rates and the share of round trips of that size
#                           that meet a stall, next to the 0.1 % a p99.9 looks at
NOISE_LINE=
noise_measure() {
	local prog=$1/tests/bench/noise_floor
	[ -x "$prog" ] && NOISE_LINE=$("$prog" 2 | sed -n 's/^noise //p')
}
noise_report() {
	[ -n "$NOISE_LINE" ] || return 0
	awk -v line="$NOISE_LINE" -v half="$1" 'BEGIN {
		n = split(line, f, " ")
		for (i = 1; i < n; i += 2) rate[f[i]] = f[i + 1]
		printf "machine noise floor (a busy loop pinned to each CPU, measured before the runs): stalls per second, all CPUs:"
		for (i = 1; i < n; i += 2) printf " >=%sus %s", f[i], f[i + 1]
		printf "\n"
		if (half + 0 <= 0) exit
		rtt = 2 * half
		printf "a %.1f us round trip meets a stall of >=5 us in %.2f%%, >=10 us in %.2f%%, >=20 us in %.3f%% of round trips;\n",
			rtt, rtt * 1e-4 * rate[5], rtt * 1e-4 * rate[10], rtt * 1e-4 * rate[20]
		printf "a p99.9 is the worst 0.1%%: where a share above is larger, that stall, not the stack, sets the p99.9\n"
	}'
}
