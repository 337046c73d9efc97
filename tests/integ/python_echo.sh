#!/bin/bash
# python3 UDP and TCP echo with select, poll, epoll and asyncio over 127.0.0.1:
# the transcript under libshim equals the one without it.
set -e
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
. "$SHIM_SRC/tests/integ/lib_compare.sh"
same_output python3 "$SHIM_SRC/tests/integ/echo.py"
[ $(grep -c ' x 200 echoes' <<<"$SHIM_OUT") -eq 8 ]
