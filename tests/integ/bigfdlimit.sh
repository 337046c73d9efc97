#!/bin/bash
# A program with `ulimit -n` 1048576 (soft) under libshim: it works, and the library
# adds little resident memory for it (the fd table is mapped, not touched). A huge
# hard limit with a small soft one costs nothing either.
P=$SHIM_BUILD/tests/integ/bigfdlimit
BIG=1048576
if ! (ulimit -Hn $BIG && ulimit -Sn $BIG) 2>/dev/null; then
	# No CAP_SYS_RESOURCE (a container): use the largest limit we may set.
	BIG=$(ulimit -Hn)
	echo "cannot raise the fd limit to 1048576 here: using the hard limit $BIG"
	if [ "$BIG" = unlimited ] || [ "$BIG" -lt 8192 ]; then
		echo "hard fd limit $BIG is too small to test a large ulimit -n"
		exit 77
	fi
fi
rss() { sed -n 's/.*rss_kb \([0-9]*\).*/\1/p' <<<"$1"; }
set -e
small_plain=$(ulimit -Sn 1024; $P)
small_shim=$(ulimit -Sn 1024; LD_PRELOAD=$SHIM_LIB $P)
big_plain=$(ulimit -Hn $BIG; ulimit -Sn $BIG; $P)
big_shim=$(ulimit -Hn $BIG; ulimit -Sn $BIG; LD_PRELOAD=$SHIM_LIB $P)
hard_shim=$(ulimit -Hn $BIG; ulimit -Sn 1024; LD_PRELOAD=$SHIM_LIB $P)
printf '%s\n' "plain, soft 1024:   $small_plain" "shim, soft 1024:    $small_shim" \
	"plain, soft $BIG: $big_plain" "shim, soft $BIG:  $big_shim" "shim, hard $BIG only: $hard_shim"
for r in "$small_plain" "$small_shim" "$big_plain" "$big_shim" "$hard_shim"; do
	grep -q ' ok ' <<<"$r"
done
# What the library costs must not depend on the limit: allow 1 MiB of noise.
cost_small=$(( $(rss "$small_shim") - $(rss "$small_plain") ))
cost_big=$(( $(rss "$big_shim") - $(rss "$big_plain") ))
cost_hard=$(( $(rss "$hard_shim") - $(rss "$small_plain") ))
echo "library RSS cost: soft 1024 ${cost_small} kB, soft $BIG ${cost_big} kB, hard $BIG ${cost_hard} kB"
[ $((cost_big - cost_small)) -lt 1024 ]
[ $((cost_hard - cost_small)) -lt 1024 ]
