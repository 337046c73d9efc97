#!/bin/bash
# The cost of interposition on calls libshim does not offload, and its start-up cost.
#  1. In-process A/B (the precise one): under LD_PRELOAD, blocks of calls by name
#     (libshim's wrappers) alternate with blocks calling libc's entry points directly;
#     the ratio is libshim's wrapper cost on top of the kernel call. Run without the
#     library too, as the control (ratio ~1).
#  2. Whole runs with and without the library, alternating (noisier: the machine is
#     shared; only same-run ratios mean anything).
#  3. Start-up: /bin/true spawned 200 times each way, alternating.
#   tests/bench/passthrough.sh [rounds]
cd "$(dirname "$0")/../.."
B=${SHIM_BUILD:-build}
LIB=${SHIM_LIB:-$PWD/$B/libshim.so}
P=$B/tests/bench/passthrough
ROUNDS=${1:-5}
[ -x "$P" ] && [ -f "$LIB" ] || { echo "build first: make all $P"; exit 1; }
# The start-up banner (printed at the default level 3) would swamp the output; the
# start-up figure is given both without it and with it written to /dev/null.
export SHIM_TRACELEVEL=${SHIM_TRACELEVEL:-2}

echo "== in-process A/B, $(nproc) cores (best and 10th percentile of 201 blocks of 5000 calls)"
for mode in recvfrom pipe; do
	echo "control (no library)  $($P calls $mode)"
	echo "libshim               $(LD_PRELOAD=$LIB $P calls $mode)"
done

echo "== whole runs, kernel vs libshim alternating, $ROUNDS rounds (10th-percentile block, ns/call)"
echo "   (the library's stats segment comes with an internal thread, and a second thread makes"
echo "    glibc take its slower multi-threaded syscall path in the whole process; 'no stats' is"
echo "    the same run with SHIM_STATS_SHMEM_DIR= , a single-threaded process like the kernel run)"
whole() {	# mode, extra environment assignment or ""
	local mode=$1 env=$2 r k s
	for r in $(seq "$ROUNDS"); do
		k=$($P calls $mode 51 | sed 's/.*direct [0-9.]* ns (p10 \([0-9.]*\)).*/\1/')
		s=$(env $env LD_PRELOAD=$LIB $P calls $mode 51 | sed 's/.*by name [0-9.]* ns (p10 \([0-9.]*\)).*/\1/')
		printf '  %-8s %-9s round %d: kernel %6.1f ns  libshim %6.1f ns  ratio %s\n' $mode \
			"${env:+no stats}" "$r" "$k" "$s" "$(awk -v s="$s" -v k="$k" 'BEGIN { printf "%.3f", s / k }')"
	done
}
whole recvfrom ""
whole recvfrom SHIM_STATS_SHMEM_DIR=
whole pipe ""
whole pipe SHIM_STATS_SHMEM_DIR=

echo "== start-up"
echo "SHIM_TRACELEVEL=$SHIM_TRACELEVEL: $($P spawn "$LIB" 200)"
echo "SHIM_TRACELEVEL=3 (banner to /dev/null): $(SHIM_TRACELEVEL=3 $P spawn "$LIB" 200 2>/dev/null)"
