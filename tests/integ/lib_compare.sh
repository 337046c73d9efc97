# lib_compare.sh — sourced by integration tests (not a test itself: not executable).
# same_output CMD...: run CMD without and with libshim, print the libshim transcript
# into $SHIM_OUT and fail (return 1, showing the diff) when the two differ.
same_output() {
	local plain
	plain=$("$@") || { echo "without libshim: $* failed"; return 1; }
	SHIM_OUT=$(LD_PRELOAD=$SHIM_LIB "$@") || { echo "$SHIM_OUT"; echo "with libshim: $* failed"; return 1; }
	echo "$SHIM_OUT"
	diff <(echo "$plain") <(echo "$SHIM_OUT")
}
