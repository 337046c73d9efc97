#!/bin/bash
# fork then exec, vfork + exec, vfork + dup2 + exec and daemon() under libshim: the
# same transcript as without it.
set -e
. "$SHIM_SRC/tests/integ/lib_compare.sh"
same_output "$SHIM_BUILD/tests/integ/forkexec"
[ $(grep -c . <<<"$SHIM_OUT") -eq 7 ]
grep -q "resumed after the child.s exec: 1" <<<"$SHIM_OUT"
