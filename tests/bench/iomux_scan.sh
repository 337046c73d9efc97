#!/bin/bash
# iomux_scan.sh — select/poll/epoll_wait over kernel descriptors only (nothing
# offloaded, nothing ready), without and with libshim, interleaved ROUNDS times;
# prints the median ns per call and the libshim/kernel ratio. The library's cost here
# is one scan of the set against the fd table (and one object lookup per socket).
#
#   tests/bench/iomux_scan.sh [NFDS] [ROUNDS]
set -u
NFDS=${1:-200}
ROUNDS=${2:-5}
SRC=${SHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${SHIM_BUILD:-$SRC/build}
LIB=${SHIM_LIB:-$B/libshim.so}
PROG=$B/tests/bench/iomux_scan
[ -x "$PROG" ] || { echo "build first: make $PROG"; exit 1; }
k=$(mktemp) s=$(mktemp)
trap 'rm -f "$k" "$s"' EXIT
for _ in $(seq "$ROUNDS"); do
	"$PROG" "$NFDS" >> "$k"
	LD_PRELOAD=$LIB "$PROG" "$NFDS" 2>/dev/null >> "$s"
done
med() { awk -v c="$1" '$1 == c { print $2 }' "$2" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-11s %10s %10s %7s   (%d kernel fds, ns per call)\n' call kernel libshim ratio "$NFDS"
for c in poll select epoll_wait; do
	a=$(med $c "$k") b=$(med $c "$s")
	printf '%-11s %10s %10s %7s\n' $c "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')"
done
