#!/bin/bash
# fork then exec, vfork + exec, vfork + dup2 + exec and daemon() under libshim: the
# same transcript as without it.
set -e
P=$SHIM_BUILD/tests/integ/forkexec
plain=$($P)
shim=$(LD_PRELOAD=$SHIM_LIB $P)
echo "$shim"
diff <(echo "$plain") <(echo "$shim")
[ $(grep -c . <<<"$shim") -eq 6 ]
