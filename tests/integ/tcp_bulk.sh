#!/bin/bash
# 100 MB over one TCP connection on loopback under libshim, sent with sendfile() and
# with send(): the receiver's sha256 equals the file's.
set -e
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
f=$(mktemp /tmp/shim-bulk.XXXXXX)
trap 'rm -f "$f"' EXIT
head -c 100M /dev/urandom > "$f"
want="$(sha256sum "$f" | cut -d' ' -f1) $((100 * 1024 * 1024))"
for how in sendfile sendall; do
	got=$(LD_PRELOAD=$SHIM_LIB python3 "$SHIM_SRC/tests/integ/tcp_bulk.py" "$f" $how)
	echo "$how: file $want, received $got"
	[ "$got" = "$want" ]
done
