#!/bin/bash
# The library exports exactly the calls named in syscalls.def and the shim_* API.
set -e
want=$(sed -n 's/^SYSCALL\(_VA\)\?([^,]*, *\([A-Za-z0-9_]*\),.*/\2/p' "$SHIM_SRC/src/intercept/syscalls.def" | sort)
have=$(nm -D --defined-only "$SHIM_LIB" | awk '$2 ~ /^[TtWwDdBbVvi]$/ { print $3 }' | sed 's/@.*//' | sort -u)
missing=$(comm -23 <(echo "$want") <(echo "$have"))
extra=$(comm -13 <(echo "$want") <(echo "$have") | grep -v '^shim_' || true)
echo "$(wc -l <<<"$want") calls in syscalls.def, $(wc -l <<<"$have") exported symbols"
[ -z "$missing" ] || { echo "not exported: $missing"; exit 1; }
[ -z "$extra" ] || { echo "exported but not in syscalls.def: $extra"; exit 1; }
