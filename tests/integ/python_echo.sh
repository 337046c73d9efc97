#!/bin/bash
# python3 UDP and TCP echo with select, poll, epoll and asyncio over 127.0.0.1:
# the transcript under libshim equals the one without it.
set -e
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
E=$SHIM_SRC/tests/integ/echo.py
plain=$(python3 "$E")
shim=$(LD_PRELOAD=$SHIM_LIB python3 "$E")
echo "$shim"
diff <(echo "$plain") <(echo "$shim")
[ $(grep -c ' x 200 echoes' <<<"$shim") -eq 8 ]
