#!/bin/bash
# stats_tool.sh — shim_stats against live segment writers (build/tests/integ/stats_writer,
# which uses the library's real stats code): golden output of every text view and of
# Prometheus, JSON parsed by python3, Prometheus checked line by line, finding the
# process (none, one, several, -p, -n), 0600, removal at exit, stale segments after
# kill -9 (removed, or kept with -F), a newer writer's unknown stats, slot exhaustion,
# closing summaries (SHIM_STATS_FILE), fork, and -z / -l / -D applied by a live process.
# SHIM_GOLDEN_UPDATE=1 rewrites the golden files instead of comparing.
set -u
B=${SHIM_BUILD:-build}
SRC=${SHIM_SRC:-.}
TOOL=$B/shim_stats
W=$B/tests/integ/stats_writer
GOLD=$SRC/tests/integ/stats_golden
[ -x "$TOOL" ] && [ -x "$W" ] || { echo "shim_stats or stats_writer not built"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is needed to check the JSON output"; exit 77; }

tmp=$(mktemp -d /tmp/shim-stats-integ.XXXXXX)
export SHIM_STATS_SHMEM_DIR=$tmp/shm
mkdir -p "$SHIM_STATS_SHMEM_DIR"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok   $*"; }

# start NAME MODE [ARGS]: run a writer, wait for "ready", set $PID (and $CHILD)
start() {
	local name=$1; shift
	"$W" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q '^ready' "$tmp/$name.out" 2>/dev/null && break
		sleep 0.05
	done
	read -r _ PID CHILD <"$tmp/$name.out" || fail "$name did not start: $(cat "$tmp/$name.err")"
	[ -n "${CHILD:-}" ] && pids+=("$CHILD")
	return 0
}
stop() {	# pid: SIGTERM and wait for it to go
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
	fail "process $1 did not exit on SIGTERM"
}

# Compare (or record) a golden file after removing what changes from run to run.
golden() {	# name, file
	local norm=$tmp/$1.norm
	# the pid only where it stands for the process: a counter may equal it
	sed -E -e "s/pid=\"$PID\"/pid=\"PID\"/g" -e "s/\b$PID\//PID\//g" \
		-e 's/internal_thread_runs( +|=|_total\{[^}]*\} )[0-9]+/internal_thread_runs\1N/' \
		-e 's/^(shim_process_start_time_seconds\{[^}]*\}) [0-9.e+]+$/\1 T/' "$2" >"$norm"
	if [ -n "${SHIM_GOLDEN_UPDATE:-}" ]; then
		mkdir -p "$GOLD" && cp "$norm" "$GOLD/$1.txt"
		ok "golden $1 recorded"
		return
	fi
	diff -u "$GOLD/$1.txt" "$norm" || fail "output of $1 differs from $GOLD/$1.txt"
	ok "golden $1"
}

# --- nothing to watch -------------------------------------------------------------
out=$("$TOOL" -c 1 2>&1) && fail "no process: exit status 0"
grep -q "Failed to identify process" <<<"$out" || fail "no process: '$out'"
ok "no process: Failed to identify process, non-zero exit"

# --- one process: every view ------------------------------------------------------------
start fill fill
seg=$SHIM_STATS_SHMEM_DIR/shim.$PID
[ -f "$seg" ] || fail "no segment $seg"
[ "$(stat -c %a "$seg")" = 600 ] || fail "segment mode $(stat -c %a "$seg"), want 600"
ok "segment $seg is 0600"
for v in 1 2 3 4 5; do
	"$TOOL" -c 1 -v $v >"$tmp/v$v" 2>&1 || fail "-v $v failed: $(cat "$tmp/v$v")"
	golden view$v "$tmp/v$v"
done
"$TOOL" -c 1 -d 2 -i 0.2 >"$tmp/d2" 2>&1 || fail "-d 2 failed"
golden deltas "$tmp/d2"
"$TOOL" -c 1 -v 3 -d 2 -i 0.2 -s 14,20-30 >"$tmp/v3d2" 2>&1 || fail "-v 3 -d 2 -s failed"
golden view3_deltas_sockets "$tmp/v3d2"
"$TOOL" -p "$PID" -c 1 -s 15 >"$tmp/s15" || fail "-p -s failed"
golden select_fd15 "$tmp/s15"

# --- JSON ------------------------------------------------------------------------------------
"$TOOL" --format json >"$tmp/json" || fail "--format json failed"
python3 - "$tmp/json" "$PID" <<'EOF' || fail "JSON check"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, "one document per report"
d = json.loads(lines[0])
assert d["pid"] == int(sys.argv[2]) and d["program"] == "stats_writer", d["program"]
assert d["mode"] == "totals" and d["layout_version"] == 1
names = {s["name"]: s for s in d["schema"]}
assert names["socket.rx_offload_packets"]["mode"] == "counter"
assert names["socket.rx_bytes_max"]["mode"] == "maximum"
assert names["socket.offloaded"]["unit"] == "bool"
assert names["myapp.orders"]["kind"] == "custom"
socks = {s["id"]: s["stats"] for s in d["kinds"]["socket"]}
assert sorted(socks) == [14, 15, 23], socks.keys()
assert socks[14]["rx_offload_packets"] == 140479898
assert socks[14]["mc_groups"][:2] != [0, 0] and len(socks[14]["mc_groups"]) == 16
assert socks[15]["tcp_state"] == 1 and socks[15]["tx_bytes_cur"] == 300
custom = d["kinds"]["custom"][0]["stats"]
assert custom == {"myapp.orders": 42, "myapp.queue_depth": 17}, custom
assert d["kinds"]["ring"][0]["label"] == "veth0:0 xdp"
assert d["kinds"]["global"][0]["stats"]["sockets_created"] == 3
EOF
"$TOOL" --format json -c 2 -i 0.1 -d 2 >"$tmp/json2" || fail "json deltas"
python3 -c '
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
assert len(docs) == 2 and all(d["mode"] == "deltas" for d in docs)
assert docs[0]["kinds"]["socket"][0]["stats"]["rx_offload_packets"] == 0.0
' "$tmp/json2" || fail "JSON deltas"
ok "JSON parsed by python3 (totals, deltas, JSON Lines)"

# --- Prometheus ----------------------------------------------------------------------------
"$TOOL" --format prometheus >"$tmp/prom" || fail "--format prometheus failed"
python3 - "$tmp/prom" <<'EOF' || fail "Prometheus check"
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
sample = re.compile(rf'^({name})\{{{label}(?:,{label})*\}} -?[0-9][0-9.e+]*$')
typed, helped, seen = {}, set(), set()
for n, line in enumerate(open(sys.argv[1]).read().splitlines(), 1):
    if line.startswith("# HELP "):
        m = line.split(" ", 3)[2]
        assert re.fullmatch(name, m) and m not in helped, f"line {n}: {line}"
        helped.add(m)
    elif line.startswith("# TYPE "):
        _, _, m, t = line.split(" ")
        assert t in ("counter", "gauge") and m in helped and m not in typed, f"line {n}: {line}"
        assert (t == "counter") == m.endswith("_total"), f"line {n}: counters end in _total"
        typed[m] = t
    else:
        mm = sample.match(line)
        assert mm, f"line {n} is not a sample: {line!r}"
        assert mm.group(1) in typed, f"line {n}: sample before its TYPE"
        seen.add(mm.group(1))
for m in ("shim_socket_rx_offload_packets_total", "shim_myapp_orders_total",
          "shim_myapp_queue_depth", "shim_ring_rx_packets_total", "shim_socket_info"):
    assert m in seen, m
assert "shim_socket_bound_addr" not in seen, "addresses are labels, not samples"
EOF
golden prometheus "$tmp/prom"
"$TOOL" --format prometheus -d 2 >/dev/null 2>&1 && fail "prometheus with -d 2 accepted"
ok "Prometheus text checked line by line"

# --- bad options -------------------------------------------------------------------------------
for bad in "-v 6" "-d 3" "-s 4-" "-l nonsense" "-D 9" "--format xml" "-i 0" "extra"; do
	"$TOOL" $bad -c 1 >/dev/null 2>&1 && fail "accepted: $bad"
done
"$TOOL" -V | grep -q "^shim_stats " || fail "-V"
"$TOOL" -h | grep -q -- "--format" || fail "-h"
ok "bad options refused, -V, -h"

# --- control: -l, -D, -z on the live process ---------------------------------------------------
"$TOOL" -l debug -D 2 >"$tmp/ctl" 2>&1 || fail "-l/-D: $(cat "$tmp/ctl")"
grep -q "log level of process $PID to 4 (DEBUG)" "$tmp/ctl" || fail "-l answer: $(cat "$tmp/ctl")"
grep -q "log level set to DEBUG by shim_stats" "$tmp/fill.err" || fail "process did not log the new level"
grep -q "log details set to 2 by shim_stats" "$tmp/fill.err" || fail "process did not log the new details"
"$TOOL" --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert (d["log_level"], d["log_details"]) == (4, 2), d["log_level"]' ||
	fail "log level/details not reported back"
"$TOOL" -l 3 >/dev/null || fail "-l 3"
ok "-l and -D applied by the live process"
"$TOOL" -z >"$tmp/zero" 2>&1 || fail "-z: $(cat "$tmp/zero")"
"$TOOL" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = {x["id"]: x["stats"] for x in d["kinds"]["socket"]}
assert s[14]["rx_offload_packets"] == 0 and s[14]["rx_bytes_max"] == 0, s[14]
assert s[14]["rx_bytes_limit"] == 16777216 and s[15]["tcp_state"] == 1, "values are not zeroed"
assert d["kinds"]["custom"][0]["stats"]["myapp.orders"] == 0
' || fail "-z did not zero counters and maxima (or zeroed values)"
ok "-z zeroed counters and maxima, kept values"

# --- several processes, -p, -n, a newer writer -----------------------------------------------------
FILLPID=$PID
start future future
FUTUREPID=$PID
out=$("$TOOL" -c 1 2>&1) && fail "several processes: exit status 0"
grep -q "2 processes use libshim" <<<"$out" && grep -q " $FILLPID " <<<"$out" && grep -q " $FUTUREPID " <<<"$out" ||
	fail "several processes not listed: $out"
ok "several processes listed"
"$TOOL" -n future_app -c 1 -v 3 >"$tmp/future_v3" 2>&1 || fail "-n future_app: $(cat "$tmp/future_v3")"
golden future_view3 "$tmp/future_v3"
grep -q "quantum_flux *3 flux" "$tmp/future_v3" && grep -q "sprockets *1234" "$tmp/future_v3" ||
	fail "unknown stats not printed"
"$TOOL" -p "$FUTUREPID" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["kinds"]["widget"][0]["stats"]["sprockets"] == 1234
assert d["kinds"]["socket"][0]["stats"]["quantum_flux"] == 3
' || fail "unknown stats missing from JSON"
"$TOOL" -p "$FUTUREPID" --format prometheus | grep -q '^shim_widget_sprockets_total{.*} 1234$' ||
	fail "unknown stats missing from Prometheus"
ok "a newer writer's unknown kind and stats are shown (text, JSON, Prometheus)"
out=$("$TOOL" -p 1 -c 1 2>&1) && fail "-p of a process without libshim: exit 0"
grep -q "Failed to identify process 1" <<<"$out" || fail "-p 1: $out"
stop "$FUTUREPID"

# --- exit removes the segment; kill -9 leaves it to the tool ---------------------------------------------
PID=$FILLPID
stop "$PID"
[ -e "$seg" ] && fail "segment left after a normal exit"
ok "segment removed at exit"
start killed fill
seg=$SHIM_STATS_SHMEM_DIR/shim.$PID
kill -9 "$PID"; wait "$PID" 2>/dev/null
[ -e "$seg" ] || fail "segment gone after kill -9?"
"$TOOL" -F -c 1 >/dev/null 2>&1
[ -e "$seg" ] || fail "-F removed a stale segment"
out=$("$TOOL" -c 1 2>&1)
grep -q "removed stale segment $seg" <<<"$out" || fail "stale segment not reported: $out"
[ -e "$seg" ] && fail "stale segment not removed"
ok "stale segment after kill -9: kept with -F, removed otherwise"
start killed2 fill
KPID=$PID
seg=$SHIM_STATS_SHMEM_DIR/shim.$KPID
half=$SHIM_STATS_SHMEM_DIR/.shim.$KPID.tmp
{ kill -9 "$KPID"; wait "$KPID"; } 2>/dev/null
touch "$half"
start sweeper fill
for _ in $(seq 60); do [ -e "$seg" ] || [ -e "$half" ] || break; sleep 0.05; done
[ -e "$seg" ] && fail "a new process did not sweep the stale segment"
[ -e "$half" ] && fail "a new process did not sweep the half-made segment"
stop "$PID"
ok "the next process of the same user sweeps stale segments by itself"

start exec exec
seg=$SHIM_STATS_SHMEM_DIR/shim.$PID
for _ in $(seq 100); do grep -q '^sleep' /proc/$PID/cmdline 2>/dev/null && break; sleep 0.05; done
out=$("$TOOL" -c 1 2>&1)
grep -q "removed stale segment $seg" <<<"$out" || fail "segment of a process that exec'd without libshim not removed: $out"
{ kill -9 "$PID"; wait "$PID"; } 2>/dev/null
ok "stale segment of a process that exec'd a program without libshim removed"

# --- slots run out, are reused -------------------------------------------------------------------------
SHIM_STATS_FD_NUM=4 start many many 10
[ "$(grep -c "raise SHIM_STATS_FD_NUM" "$tmp/many.err")" = 1 ] || fail "want one line naming SHIM_STATS_FD_NUM: $(cat "$tmp/many.err")"
"$TOOL" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
socks = {s["id"]: s for s in d["kinds"]["socket"]}
assert sorted(socks) == [-1, 101, 103], socks.keys()
assert socks[-1]["label"] == "other sockets" and socks[-1]["stats"]["tx_os_packets"] == 6
assert d["kinds"]["global"][0]["stats"]["stats_slots_exhausted"] == 6
' || fail "slot exhaustion"
"$TOOL" -c 1 >"$tmp/many_v1" || fail "view 1 with other sockets"
grep -q '^\*    Rx:' "$tmp/many_v1" && grep -q '^\* other sockets: those beyond SHIM_STATS_FD_NUM' "$tmp/many_v1" ||
	fail "other sockets row: $(cat "$tmp/many_v1")"
"$TOOL" --format prometheus | grep -q '^shim_socket_tx_os_packets_total{.*fd="other"} 6$' || fail "other sockets in Prometheus"
stop "$PID"
ok "slot exhaustion: one log line, sockets beyond the slots counted together"

# --- closing summary (VMA example 5) -------------------------------------------------------------------
SHIM_STATS_FILE=$tmp/sockets.%d SHIM_TRACELEVEL=4 "$W" close >"$tmp/close.out" 2>"$tmp/close.err" || fail "close mode"
f=$(ls "$tmp"/sockets.* 2>/dev/null | head -1)
[ -n "$f" ] || fail "SHIM_STATS_FILE not written (%d expanded?)"
PID=${f##*.}
golden close_summary "$f"
grep -q "DEBUG.*\[fd=10\] Rx poll: 0 / 233020 (100.00%) \[miss/hit\]" "$tmp/close.err" ||
	fail "summary not in the debug log: $(cat "$tmp/close.err")"
ok "closing summary in SHIM_STATS_FILE and the debug log"

# --- fork: the child has its own segment ------------------------------------------------------------------
start fork fork
# the child's file appears once it has lived 100 ms (short-lived children leave none)
for _ in $(seq 60); do [ -f "$SHIM_STATS_SHMEM_DIR/shim.$CHILD" ] && break; sleep 0.05; done
[ -f "$SHIM_STATS_SHMEM_DIR/shim.$CHILD" ] || fail "child $CHILD has no segment"
p=$("$TOOL" -p "$PID" --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print([s for s in d["kinds"]["socket"] if s["id"]==14][0]["stats"]["rx_offload_packets"])')
c=$("$TOOL" -p "$CHILD" --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["pid"], [s for s in d["kinds"]["socket"] if s["id"]==14][0]["stats"]["rx_offload_packets"])')
[ "$p" = 140479898 ] || fail "parent counter changed by the child: $p"
[ "$c" = "$CHILD 140479903" ] || fail "child segment: $c"
stop "$PID"
[ -e "$SHIM_STATS_SHMEM_DIR/shim.$CHILD" ] && fail "child segment left after exit"
[ -e "$SHIM_STATS_SHMEM_DIR/shim.$PID" ] && fail "parent segment left after exit"
ok "fork: child inherits counters into its own segment, parent untouched, both removed"

# --- counters that move: deltas and -z on a busy writer ------------------------------------------------------
start busy busy
rate=$("$TOOL" --format json -d 2 -i 0.3 -s 30 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d["kinds"]["socket"][0]["stats"]["rx_offload_packets"]))')
[ "$rate" -gt 0 ] || fail "no rate on a busy socket"
before=$("$TOOL" --format json -s 30 | python3 -c 'import json,sys; print(json.load(sys.stdin)["kinds"]["socket"][0]["stats"]["rx_offload_packets"])')
"$TOOL" -z >/dev/null || fail "-z busy"
after=$("$TOOL" --format json -s 30 | python3 -c 'import json,sys; print(json.load(sys.stdin)["kinds"]["socket"][0]["stats"]["rx_offload_packets"])')
[ "$after" -lt "$before" ] || fail "-z on a busy counter: before $before after $after"
stop "$PID"
ok "busy writer: rate $rate pkt/s, -z brought $before down to $after"

echo "all shim_stats checks passed"
