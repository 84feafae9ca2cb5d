#!/bin/sh
# e2e_watch.sh: end-to-end tests of JSON on every capture, signals and progress.
#
# Run from the repository root: BUILD=build FLOWGREP=build/flowgrep sh
# tests/e2e_watch.sh (make check should). These are the cases of issue 4
# that tests/cases.tsv cannot express: loops over every capture, runs
# that are signalled while they read, and runs on a terminal.
#
#   json/FILE        --json -a '' on every corpus and generated capture:
#                    each output line is one JSON object in printable ASCII
#                    (jq reads it); standard error ends with one JSON object
#                    (--json implies --stats-json) whose packets_read is the
#                    number of records a reference reader gets (before any
#                    damage); a capture that cannot be opened gets one error
#                    line and no statistics. -a '[\s\S]{1,64}' (excerpts of
#                    real payload bytes) must give valid JSON too.
#   excerpt/...      gen:hostile (tests/mkcap.c): for each pattern, the
#                    JSON line's excerpt read as Latin-1 is the first 64
#                    bytes of the match, and offset and length are those of
#                    Python's re on the same direction's bytes as tshark
#                    shows them (TCP: the payloads in order, there is no
#                    reordering in that capture; UDP: each datagram).
#   usr1/...         SIGUSR1 prints the statistics so far while the run goes
#                    on: on a pipe that has gone quiet, and during a file
#                    run (text and JSON statistics); the run then ends
#                    normally with a second, final block.
#   stop/...         SIGTERM and SIGINT during a stdin run that waits for
#                    input: flowgrep ends at once, decides the open flows
#                    as at the end of the input, writes their held packets
#                    and exits 0; during pass 1 of a file run, its report
#                    lines are exactly those of a run on the records read.
#   stream/...       the 64 MiB capture through a pipe, written by cat and
#                    in writes of 4093 bytes (read by the thread that
#                    fills the held memory, pipefill.c): -a LITERAL and -v
#                    write exactly the records the file runs write, none
#                    is dropped, and the run counts every record read;
#                    without -w (nothing held, read ahead into pcapio's
#                    own memory), the report lines are the file run's;
#                    with --hold-mem 32M (packets dropped), the bytes
#                    written and the drops counted are the same whatever
#                    the writes (the thread's pace must not choose them).
#   progress/...     on a terminal (script(1)), a file run redraws a
#                    progress line in place ("\r...MiB of...\033[K"), a few
#                    times a second at most, and clears it before the
#                    statistics; never when standard error is not a
#                    terminal, nor when the input is a pipe.
#
# The file runs read a 64 MiB capture from ../shared/bench/gen-bench-pcap.py
# (written once into $BUILD/e2e-watch/). They are made long, whatever the
# machine's speed, by a reader that takes their report lines only after a
# while: flowgrep waits in write(2) part of the way through its input, and
# is signalled then (stalled_start below).
#
# Prints "ok NAME", "FAIL NAME" with indented details, or "skip NAME (why)",
# then "e2e_watch: N passed, M failed, K skipped"; exits 1 if any failed.
#
# Environment: BUILD (where mkcap is, default build), FLOWGREP (the binary,
# default ./flowgrep), FLOWGREP_CORPUS (default ../shared/corpus),
# FLOWGREP_BENCH_GEN (default ../shared/bench/gen-bench-pcap.py), E2E_ONLY
# (run only the cases whose name contains this string), E2E_WATCH_OUT (the
# scratch directory, default tests/out/watch, emptied at the start).
# Needs: jq and python3 (JSON), tcpdump (reference counts, prefixes),
# tshark (excerpts), script (progress); a missing tool skips its cases.

# shellcheck disable=SC2015 # "A && B || problem": a problem unless both
# shellcheck disable=SC1003 # backslashes in patterns are meant
LC_ALL=C
export LC_ALL
# ROOT, BUILD, FG, MKCAP, CORPUS; ok/FAIL/skip lines, have and PY.
. "$(pwd)/tests/e2e/lib.sh"
BENCHGEN=${FLOWGREP_BENCH_GEN:-../shared/bench/gen-bench-pcap.py}
OUT=${E2E_WATCH_OUT:-$ROOT/tests/out/watch}
CACHE=$ROOT/$BUILD/e2e-watch
PCAPSET=$ROOT/tests/e2e/pcapset.py
# Seconds a signalled run may take to end.
STOP_WAIT=3



rm -rf "$OUT"
mkdir -p "$OUT" "$CACHE"

# Whether case $1 is to run (E2E_ONLY).
wanted() {
	[ -z "$E2E_ONLY" ] && return 0
	case $1 in *"$E2E_ONLY"*) return 0 ;; esac
	return 1
}

# ---- helpers ----

# Prints the path of generated capture $1, writing it on first use.
gen_capture() {
	g=$OUT/gen-$1.pcap
	if [ ! -f "$g" ]; then
		[ -x "$MKCAP" ] || return 1
		"$MKCAP" "$1" "$g" || return 1
	fi
	echo "$g"
}

# Prints the number of records a reference reader gets from $1 (before any
# damage), empty when it cannot open it: libpcap (tcpdump) for classic
# pcap, pcapset.py for pcapng, as tests/e2e.sh does.
ref_count() {
	r=$OUT/ref.pcap
	rm -f "$r"
	if [ "$(od -An -tx1 -N4 "$1" | tr -d ' \n')" = 0a0d0d0a ]; then
		$PY "$PCAPSET" ngref "$1" "$r" >/dev/null 2>&1
	else
		tcpdump --time-stamp-precision=nano -r "$1" -w "$r" \
		    >/dev/null 2>&1
	fi
	[ -s "$r" ] && $PY "$PCAPSET" count "$r"
}

# Whether process $1 has a handler for signal number $2 (Linux /proc; without
# it, waits half a second and says yes).
caught() {
	if [ -r "/proc/$1/status" ]; then
		m=$(awk '/^SigCgt:/ { print $2 }' "/proc/$1/status")
		[ -n "$m" ] && [ $(((0x$m >> ($2 - 1)) & 1)) -eq 1 ]
	else
		sleep 0.5
		return 0
	fi
}

# Waits up to 5 s until process $1 catches signal number $2.
await_handler() {
	i=0
	while [ $i -lt 50 ]; do
		caught "$1" "$2" && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Waits up to $2 tenths of a second for process $1 to end; true if it did.
await_exit() {
	i=0
	while [ $i -lt "$2" ]; do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Waits up to $3 tenths of a second until file $2 has a line matching ERE
# $1; true if it has.
await_line() {
	i=0
	while [ $i -lt "$3" ]; do
		grep -Eq -- "$1" "$2" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	grep -Eq -- "$1" "$2"
}

# Ends process $1 if it is still running (a hang must not hang the tests);
# the caller then waits for it.
reap() {
	if kill -0 "$1" 2>/dev/null; then
		kill -KILL "$1" 2>/dev/null
		problem "process $1 still running: killed"
	fi
}

# Sets BIG to the 64 MiB bench capture, writing it on first use.
big_capture() {
	BIG=$CACHE/big64.pcap
	[ -s "$BIG" ] && return 0
	[ -r "$BENCHGEN" ] && [ -n "$PY" ] || return 1
	$PY "$BENCHGEN" --size 64 --out "$BIG.tmp" >/dev/null 2>&1 ||
	    return 1
	mv "$BIG.tmp" "$BIG"
	rm -f "$BIG.tmp.truth.tsv"
}

now_ms() {
	date +%s%3N
}

# ---- part 1: JSON on every capture ----

# json_capture LABEL FILE
json_capture() {
	name="json/$1"
	wanted "$name" || return
	d=$OUT/json
	mkdir -p "$d"
	"$FG" -r "$2" -a '' --json >"$d/out" 2>"$d/err" </dev/null
	st=$?
	[ $st -le 2 ] || problem "exit status $st"
	n=$(grep -c . <"$d/out")
	m=$(jq -R 'fromjson | objects | 1' <"$d/out" 2>"$d/jq.err" |
	    grep -c .)
	[ "$m" -eq "$n" ] && [ ! -s "$d/jq.err" ] ||
	    problem "$m of $n output lines are JSON objects: $(head -1 "$d/jq.err")"
	! tr -d '\n' <"$d/out" | grep -q '[^ -~]' ||
	    problem "output has bytes that are not printable ASCII"
	want=$(ref_count "$2")
	nj=$(grep -c '^{' <"$d/err")
	if [ -z "$want" ]; then
		[ $st -eq 2 ] || problem "exit status $st for a file nothing reads"
		[ "$nj" -eq 0 ] && [ "$(grep -c . <"$d/err")" -eq 1 ] ||
		    problem "expected one error line, no statistics"
	else
		last=$(tail -1 "$d/err")
		[ "$nj" -eq 1 ] || problem "$nj JSON lines on standard error"
		got=$(printf '%s\n' "$last" | jq -e '.packets_read' 2>/dev/null)
		[ "$got" = "$want" ] ||
		    problem "packets_read $got, expected $want (last line: $(printf '%s' "$last" | cut -c1-60))"
		[ $st -eq 2 ] || [ "$(grep -c . <"$d/err")" -eq 1 ] ||
		    problem "standard error is not just the statistics"
	fi
	# Excerpts of real payload: the first bytes of every flow.
	"$FG" -q -r "$2" -a '[\s\S]{1,64}' --json >"$d/out2" 2>/dev/null \
	    </dev/null
	n=$(grep -c . <"$d/out2")
	m=$(jq -R 'fromjson | objects | 1' <"$d/out2" 2>"$d/jq.err" |
	    grep -c .)
	[ "$m" -eq "$n" ] && [ ! -s "$d/jq.err" ] ||
	    problem "payload excerpts: $m of $n lines are JSON objects"
	! tr -d '\n' <"$d/out2" | grep -q '[^ -~]' ||
	    problem "payload excerpts: bytes that are not printable ASCII"
	finish "$name"
}

if ! have jq || [ -z "$PY" ] || ! have tcpdump; then
	skipped "json/*" "needs jq, python3 and tcpdump"
else
	if [ -x "$MKCAP" ]; then
		for sc in $("$MKCAP" --list | awk '{ print $1 }'); do
			g=$(gen_capture "$sc") && json_capture "gen:$sc" "$g"
		done
	else
		skipped "json/gen:*" "no $MKCAP"
	fi
	if [ -n "$CORPUS" ]; then
		for f in "$CORPUS"/*; do
			case $f in *.md|*.tsv) continue ;; esac
			json_capture "corpus:$(basename "$f")" "$f"
		done
	else
		skipped "json/corpus:*" "no corpus"
	fi
fi

# ---- part 2: excerpts of hostile payloads, byte for byte ----

# The check: argv = capture, JSON lines file, pattern; tshark's fields on
# standard input (frame, ip.src, tcp.srcport, udp.srcport, tcp.payload,
# udp.payload). Prints what differs; exit 1 if anything does.
EXCERPT_PY='
import json, re, sys
cap, jpath, pat = sys.argv[1], sys.argv[2], sys.argv[3]
rx = re.compile(pat.encode("latin-1"))
pkts = []
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    f += [""] * (6 - len(f))
    proto = "TCP" if f[2] else "UDP"
    port = int(f[2] or f[3])
    data = bytes.fromhex((f[4] or f[5]).replace(":", ""))
    pkts.append((proto, f[1], port, data))
bad = 0
lines = open(jpath, encoding="ascii").read().splitlines()
if not lines:
    print("no JSON line")
    bad = 1
for ln in lines:
    o = json.loads(ln)
    cl = (o["src_ip"], o["src_port"])
    to_server = o["direction"] == "to_server"
    mine = [d for (p, a, port, d) in pkts if p == o["proto"] and
            ((a, port) == cl) == to_server]
    if o["proto"] == "TCP":
        cands = [b"".join(mine)]
    else:
        cands = mine
    m = None
    for c in cands:
        m = rx.search(c)
        if m:
            break
    if m is None:
        print("%s %s: Python finds no match" % (o["proto"], o["direction"]))
        bad = 1
        continue
    want = (m.start(), m.end() - m.start(), m.group()[:64])
    got = (o["offset"], o["length"], o["excerpt"].encode("latin-1"))
    if got != want:
        print("%s %s: offset, length, excerpt %r, expected %r" %
              (o["proto"], o["direction"], got, want))
        bad = 1
    if o["pattern"] != pat:
        print("pattern %r, expected %r" % (o["pattern"], pat))
        bad = 1
sys.exit(bad)
'

# excerpt_case NAME FLAG PATTERN
excerpt_case() {
	name="excerpt/$1"
	wanted "$name" || return
	d=$OUT/excerpt
	mkdir -p "$d"
	"$FG" -q -r "$HOSTILE" "$2" "$3" --json >"$d/out" 2>"$d/err" </dev/null
	st=$?
	[ $st -eq 0 ] || problem "exit status $st: $(head -1 "$d/err")"
	res=$($PY -c "$EXCERPT_PY" "$HOSTILE" "$d/out" "$3" <"$d/fields" 2>&1) ||
	    problem "$res"
	[ -n "$problems" ] && problem "command: flowgrep -r HOSTILE $2 '$3' --json"
	finish "$name"
}

if [ -z "$PY" ] || ! have tshark; then
	skipped "excerpt/*" "needs python3 and tshark"
elif ! HOSTILE=$(gen_capture hostile); then
	skipped "excerpt/*" "no $MKCAP"
else
	mkdir -p "$OUT/excerpt"
	tshark -r "$HOSTILE" -T fields -e frame.number -e ip.src \
	    -e tcp.srcport -e udp.srcport -e tcp.payload -e udp.payload \
	    >"$OUT/excerpt/fields" 2>/dev/null
	excerpt_case quotes-backslashes -c 'a="quoted"&b=back\\slash\\'
	excerpt_case text-u0000 -c 'X-Text: .*'
	excerpt_case control-bytes -c 'X-Bin: [\s\S]{0,30}end'
	excerpt_case long-line -c 'POST /long\?[^ ]* HTTP'
	excerpt_case latin1-server -s 'lone \xc3 here[^<]*'
	excerpt_case bad-utf8 -s '\xed\xa0\x80, overlong \xc0\xaf'
	excerpt_case all-bytes -a '[\x00-\xff]{256}'
	excerpt_case high-bytes -a '[\x80-\xff]{2,}'
	excerpt_case control-runs -a '[\x00-\x1f]{3,}'
	excerpt_case udp-reply -a '"\\"\\u0000\\\x00'
fi

# ---- runs that wait ----

# stalled_start DIR COMMAND...: runs COMMAND (flowgrep) in the background
# with standard input /dev/null, standard error DIR/err, and standard output
# a pipe that nobody reads until DIR/go exists (then DIR/out). A run that
# reports more than the pipe holds (64 KiB) thus waits in write(2) part of
# the way through its input, however fast the machine, which is when the
# tests signal it. Sets pid (flowgrep's) and reader; the exit status goes
# to DIR/fg.status.
stalled_start() {
	sd=$1
	shift
	rm -f "$sd/go" "$sd/fg.pid" "$sd/fg.status"
	# shellcheck disable=SC2016 # expanded by the inner shell
	sh -c '"$@" </dev/null & echo $! >"$0.pid"; wait $!; echo $? >"$0.status"' \
	    "$sd/fg" "$@" 2>"$sd/err" | {
		i=0
		while [ ! -e "$sd/go" ] && [ $i -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		cat >"$sd/out"
	} &
	reader=$!
	i=0
	while [ ! -s "$sd/fg.pid" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	pid=$(cat "$sd/fg.pid" 2>/dev/null)
	[ -n "$pid" ]
}

# Lets the stalled run of stalled_start go on and waits for its end; sets
# st to its exit status.
stalled_finish() {
	: >"$sd/go"
	await_exit "$pid" 300 || problem "no end within 30 s"
	reap "$pid"
	wait "$reader"
	st=$(cat "$sd/fg.status" 2>/dev/null)
	st=${st:-none}
}

# Prints the "packets read" numbers of the text statistics blocks in $1.
text_reads() {
	sed -n 's/^flowgrep: \([0-9]*\) packets read, .*/\1/p' "$1" |
	    tr '\n' ' '
}

# ---- part 3: SIGUSR1 ----

# The statistics "so far" while flowgrep waits on a quiet pipe: the whole
# context capture is fed, then the writer sleeps. flowgrep must print the
# block now, not when more input comes, and a final block at the end.
usr1_idle() {
	name="usr1/idle-pipe"
	wanted "$name" || return
	d=$OUT/usr1-idle
	mkdir -p "$d"
	mkfifo "$d/fifo" || { skipped "$name" "mkfifo failed"; return; }
	(cat "$CTX"; exec sleep 10) >"$d/fifo" &
	feeder=$!
	"$FG" -a ctx-secret -w /dev/null <"$d/fifo" 2>"$d/err" &
	pid=$!
	if await_handler $pid 10; then
		sleep 0.5
		kill -USR1 $pid
		if await_line 'packets read' "$d/err" 20; then
			kill -0 $pid 2>/dev/null ||
			    problem "flowgrep ended after SIGUSR1 (the input had not)"
			grep -q '^flowgrep: 76 packets read, ' "$d/err" ||
			    problem "statistics so far: $(head -1 "$d/err")"
		else
			problem "no statistics within 2 s of SIGUSR1 while the pipe was quiet"
		fi
	else
		problem "SIGUSR1 never caught"
	fi
	kill $feeder 2>/dev/null
	wait $feeder 2>/dev/null
	await_exit $pid 50 || problem "flowgrep did not end at the end of its input"
	reap $pid
	wait $pid
	st=$?
	[ $st -eq 0 ] || problem "exit status $st, expected 0"
	n=$(grep -c 'packets read' "$d/err")
	[ "$n" -eq 2 ] || problem "$n statistics blocks, expected 2 (so far, final)"
	grep -q '^flowgrep: 76 packets read, 16 written$' "$d/err" ||
	    problem "no final statistics: $(tail -1 "$d/err")"
	finish "$name"
}

# The same while packets keep coming: the first 3000 bytes of the context
# capture (39 whole records and part of the 40th), a pause during which the
# signal comes, then the rest: a block counting 39, then the final 76.
usr1_trickle() {
	name="usr1/trickle-pipe"
	wanted "$name" || return
	d=$OUT/usr1-trickle
	mkdir -p "$d"
	mkfifo "$d/fifo" || { skipped "$name" "mkfifo failed"; return; }
	(head -c 3000 "$CTX"; sleep 1.5; tail -c +3001 "$CTX") >"$d/fifo" &
	feeder=$!
	"$FG" -a ctx-secret -w /dev/null <"$d/fifo" 2>"$d/err" &
	pid=$!
	if await_handler $pid 10; then
		sleep 0.5
		kill -USR1 $pid
		await_line 'packets read' "$d/err" 20 ||
		    problem "no statistics within 2 s of SIGUSR1"
		kill -0 $pid 2>/dev/null ||
		    problem "flowgrep ended after SIGUSR1 (the input had not)"
	else
		problem "SIGUSR1 never caught"
	fi
	wait $feeder 2>/dev/null
	await_exit $pid 50 || problem "flowgrep did not end at the end of its input"
	reap $pid
	wait $pid
	st=$?
	[ $st -eq 0 ] || problem "exit status $st, expected 0"
	got=$(text_reads "$d/err")
	[ "$got" = "39 76 " ] ||
	    problem "packets read in the blocks: $got, expected 39 then 76"
	finish "$name"
}

# usr1_file NAME [--json]: SIGUSR1 while a file run waits to write its
# report lines; once they are read, it goes on: a block counting part of
# the input, then the final block counting all of it.
usr1_file() {
	name="usr1/$1"
	wanted "$name" || return
	d=$OUT/usr1-$1
	mkdir -p "$d"
	# shellcheck disable=SC2086 # empty or one option
	if ! stalled_start "$d" "$FG" -r "$BIG" -a '' $2; then
		problem "flowgrep did not start"
	elif await_handler "$pid" 10; then
		sleep 0.3
		kill -0 "$pid" 2>/dev/null ||
		    problem "the run ended before the signal (its output did not fill the pipe)"
		kill -USR1 "$pid"
		sleep 0.2
	else
		problem "SIGUSR1 never caught"
	fi
	stalled_finish
	[ "$st" = 0 ] || problem "exit status $st, expected 0"
	if [ -n "$2" ]; then
		got=$(jq -c -s 'map(.packets_read)' <"$d/err" 2>&1)
		case $got in
		"[$BIGN,$BIGN]")
			problem "the first block already counts every packet" ;;
		\[[0-9]*,"$BIGN"\]) ;;
		*) problem "packets_read of the JSON blocks: $got, expected [N,$BIGN]" ;;
		esac
	else
		got=$(text_reads "$d/err")
		# shellcheck disable=SC2086 # two numbers
		set -- $got
		if [ $# -ne 2 ]; then
			problem "$# statistics blocks, expected 2: $got"
		else
			[ "$1" -lt "$2" ] ||
			    problem "the first block counts $1 packets, not fewer than $2"
			[ "$2" = "$BIGN" ] ||
			    problem "final block: $2 packets read, expected $BIGN"
		fi
	fi
	finish "$name"
}

# ---- part 4: SIGTERM, SIGINT ----

# stop_stdin SIGNAL: the first 60 frames of gen:context through a pipe
# that then goes quiet; -v -a ctx-secret. In those frames n8 matches and
# n4's pattern has not come yet, so at the signal n4, n6 (UDP), n9 and n10
# are open and decided "no match": selected with -v, held packets written.
# Expected frames (tests/mkcap.c): all of 1-60 but n8's 47-50,52-55.
stop_stdin() {
	name="stop/$1-stdin"
	wanted "$name" || return
	d=$OUT/stop-$1
	mkdir -p "$d"
	mkfifo "$d/fifo" || { skipped "$name" "mkfifo failed"; return; }
	(cat "$CTX60"; exec sleep 10) >"$d/fifo" &
	feeder=$!
	"$FG" -v -a ctx-secret -w "$d/out.pcap" <"$d/fifo" 2>"$d/err" &
	pid=$!
	if await_handler $pid 15 && await_handler $pid 2; then
		sleep 0.5
		kill -"$1" $pid
		await_exit $pid $((STOP_WAIT * 10)) ||
		    problem "still running $STOP_WAIT s after SIG$1"
	else
		problem "SIGTERM or SIGINT never caught"
	fi
	kill $feeder 2>/dev/null
	wait $feeder 2>/dev/null
	reap $pid
	wait $pid
	st=$?
	[ $st -eq 0 ] || problem "exit status $st, expected 0"
	got=$($PY "$PCAPSET" frames "$CTXREF" "$d/out.pcap" -s 2>&1)
	[ "$got" = "1-46,51,56-60" ] ||
	    problem "wrote frames $got, expected 1-46,51,56-60"
	grep -q '^flowgrep: 60 packets read, 52 written$' "$d/err" ||
	    problem "no final statistics: $(head -1 "$d/err")"
	finish "$name"
}

# stop_file NAME SIGNAL [--json]: the signal while a file run waits to
# write its report lines (-a ''). The run must end as if the input ended
# there: exit 0, and its report lines (text or JSON) are exactly those of
# a run on the records it read (tcpdump -c N), in the same order.
stop_file() {
	name="stop/$1"
	wanted "$name" || return
	d=$OUT/stop-$1
	mkdir -p "$d"
	# shellcheck disable=SC2086 # empty or one option
	if ! stalled_start "$d" "$FG" -r "$BIG" -a '' $3; then
		problem "flowgrep did not start"
	elif await_handler "$pid" 15 && await_handler "$pid" 2; then
		sleep 0.3
		kill -0 "$pid" 2>/dev/null ||
		    problem "the run ended before the signal (its output did not fill the pipe)"
		kill -"$2" "$pid"
		sleep 0.2
	else
		problem "SIGTERM or SIGINT never caught"
	fi
	stalled_finish
	[ "$st" = 0 ] || problem "exit status $st, expected 0"
	if [ -n "$3" ]; then
		n=$(tail -1 "$d/err" | jq -e .packets_read 2>/dev/null)
	else
		n=$(text_reads "$d/err")
		n=${n% }
	fi
	case $n in
	''|*[!0-9]*)
		problem "no statistics: $(head -1 "$d/err")" ;;
	"$BIGN")
		problem "read all $n packets: the signal came too late" ;;
	*)
		tcpdump -r "$BIG" -c "$n" -w "$d/prefix.pcap" 2>/dev/null
		# shellcheck disable=SC2086 # empty or one option
		"$FG" -q -r "$d/prefix.pcap" -a '' $3 >"$d/want" </dev/null
		if ! cmp -s "$d/want" "$d/out"; then
			problem "report lines differ from a run on the first $n records ($(grep -c . <"$d/out") lines, expected $(grep -c . <"$d/want")):"
			problem "$(diff "$d/want" "$d/out" | head -4 | cut -c1-150)"
		fi
		;;
	esac
	finish "$name"
}

# ---- part 5: progress ----

# Checks the bytes script(1) recorded ($1) for progress lines; $2 is the
# run's time in ms, $3 the file's size.
PROGRESS_PY='
import re, sys
data = open(sys.argv[1], "rb").read()
ms, size = int(sys.argv[2]), int(sys.argv[3])
total = "%.1f MiB" % (size / 1048576.0)
lines = re.findall(rb"\r(flowgrep: [^\r\n\x1b]*B of [^\r\n\x1b]*)\x1b\[K",
                   data)
bad = []
if not lines:
    bad.append("no progress line (\\r...B of...\\033[K)")
else:
    if len(lines) < 2:
        bad.append("1 progress line in %d ms: not redrawn" % ms)
    if len(lines) > ms / 1000.0 * 5 + 2:
        bad.append("%d progress lines in %d ms: more than a few a second" %
                   (len(lines), ms))
    if not all((b" of " + total.encode()) in l for l in lines):
        bad.append("total is not %s: %r" % (total, lines[0]))
    pct = [int(m.group(1)) for m in
           (re.search(rb"\((\d+)%\)", l) for l in lines) if m]
    if pct != sorted(pct):
        bad.append("percentages go back: %r" % pct)
# The statistics start on a clean line: the progress line is cleared
# (\r\033[K) before "flowgrep: N packets read".
if b" packets read" not in data:
    bad.append("no statistics")
elif not re.search(rb"(^|\n|\r\x1b\[K)flowgrep: \d+ packets read", data):
    bad.append("statistics glued to the progress line")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
'

# A file run on a terminal whose report lines wait 1 s for a reader: the
# progress line is drawn, then redrawn once the run goes on.
progress_tty() {
	name="progress/terminal"
	wanted "$name" || return
	d=$OUT/progress
	mkdir -p "$d"
	t0=$(now_ms)
	script -qec "timeout 60 '$FG' -r '$BIG' -a '' | (sleep 1; cat >/dev/null)" \
	    /dev/null >"$d/tty" 2>&1 </dev/null
	t1=$(now_ms)
	res=$($PY -c "$PROGRESS_PY" "$d/tty" $((t1 - t0)) \
	    "$(wc -c <"$BIG")" 2>&1) || problem "$res"
	finish "$name"
}

progress_not_tty() {
	name="progress/not-a-terminal"
	wanted "$name" || return
	d=$OUT/progress
	mkdir -p "$d"
	"$FG" -r "$BIG" -a '' 2>"$d/err" </dev/null |
	    (sleep 1; cat >/dev/null)
	! grep -q "$(printf '\r')" "$d/err" ||
	    problem "a carriage return on standard error"
	! grep -q "$(printf '\033')" "$d/err" ||
	    problem "an escape sequence on standard error"
	grep -q 'packets read' "$d/err" || problem "no statistics"
	finish "$name"
}

progress_pipe() {
	name="progress/pipe-input"
	wanted "$name" || return
	d=$OUT/progress
	mkdir -p "$d"
	script -qec "cat '$BIG' | timeout 60 '$FG' -a '' | (sleep 1; cat >/dev/null)" \
	    /dev/null >"$d/pipe" 2>&1 </dev/null
	! grep -q 'MiB of' "$d/pipe" ||
	    problem "a progress line for standard input"
	grep -q 'packets read' "$d/pipe" || problem "no statistics"
	finish "$name"
}

# stream_big LABEL FEEDER: the capture written into flowgrep's standard
# input by FEEDER (a command reading $BIG) selects the records the file
# runs select ($d/file-a.pcap, $d/file-v.pcap), as sets.
stream_big() {
	name="stream/big-$1"
	wanted "$name" || return
	d=$OUT/stream
	for v in a v; do
		x=
		[ $v = a ] || x=-v
		# shellcheck disable=SC2086 # $2 is a command, $x an option
		$2 | "$FG" -q --stats-json $x -a X-Flowgrep-Canary \
		    -w "$d/$1-$v.pcap" 2>"$d/$1-$v.err"
		rc=$?
		[ $rc -le 1 ] || problem "-$v: exit $rc: $(head -c 300 "$d/$1-$v.err")"
		want=$($PY "$PCAPSET" frames "$BIG" "$d/file-$v.pcap" -s)
		got=$($PY "$PCAPSET" frames "$BIG" "$d/$1-$v.pcap" -s)
		[ "$got" = "$want" ] ||
		    problem "-$v: frames $got, the file run $want"
		jq -e ".packets_read == $BIGN and .packets_dropped == 0" \
		    "$d/$1-$v.err" >/dev/null ||
		    problem "-$v: statistics $(head -c 300 "$d/$1-$v.err")"
	done
	finish "$name"
}

stream_runs() {
	wanted stream/ || return
	d=$OUT/stream
	mkdir -p "$d"
	"$FG" -q -r "$BIG" -a X-Flowgrep-Canary -w "$d/file-a.pcap" </dev/null
	"$FG" -q -r "$BIG" -v -a X-Flowgrep-Canary -w "$d/file-v.pcap" \
	    </dev/null
	stream_big cat "cat $BIG"
	stream_big dd4093 "dd if=$BIG bs=4093 status=none"
	name=stream/big-report
	wanted "$name" || return
	"$FG" -q -r "$BIG" -a X-Flowgrep-Canary >"$d/file.txt" </dev/null
	dd if="$BIG" bs=65537 status=none |
	    "$FG" -q -a X-Flowgrep-Canary >"$d/pipe.txt" 2>"$d/pipe.err"
	[ -s "$d/file.txt" ] || problem "no report line from the file run"
	cmp -s "$d/file.txt" "$d/pipe.txt" ||
	    problem "report lines differ: $(diff "$d/file.txt" "$d/pipe.txt" | head -5)"
	[ ! -s "$d/pipe.err" ] || problem "$(head -c 300 "$d/pipe.err")"
	finish "$name"
	name=stream/big-drops-same
	wanted "$name" || return
	for w in cat 4093; do
		if [ $w = cat ]; then
			cat "$BIG"
		else
			dd if="$BIG" bs=$w status=none
		fi | "$FG" -q --stats-json \
		    --hold-mem 32M -v -a X-Flowgrep-Canary -w "$d/drops-$w.pcap" \
		    2>"$d/drops-$w.err"
		jq -e '.packets_dropped > 0' "$d/drops-$w.err" >/dev/null ||
		    problem "writes of $w: no drop: $(head -c 300 "$d/drops-$w.err")"
	done
	cmp -s "$d/drops-cat.pcap" "$d/drops-4093.pcap" ||
	    problem "the bytes written differ with the writes"
	[ "$(jq .packets_dropped "$d/drops-cat.err")" = \
	    "$(jq .packets_dropped "$d/drops-4093.err")" ] ||
	    problem "the drops differ with the writes"
	finish "$name"
}

# ---- the signal and progress runs ----

if [ -x "$MKCAP" ] && CTX=$(gen_capture context) && have tcpdump &&
    [ -n "$PY" ]; then
	CTXREF=$OUT/context-ref.pcap
	tcpdump --time-stamp-precision=nano -r "$CTX" -w "$CTXREF" 2>/dev/null
	CTX60=$OUT/context-60.pcap
	tcpdump -r "$CTX" -c 60 -w "$CTX60" 2>/dev/null
	usr1_idle
	usr1_trickle
	stop_stdin TERM
	stop_stdin INT
else
	skipped "usr1/*-pipe, stop/*-stdin" "needs mkcap, tcpdump, python3"
fi

if ! have tcpdump || [ -z "$PY" ]; then
	skipped "usr1/*-file, stop/*-file, progress/*" "needs tcpdump, python3"
elif ! big_capture; then
	skipped "usr1/*-file, stop/*-file, progress/*" "cannot write the 64 MiB capture with $BENCHGEN"
else
	BIGN=$($PY "$PCAPSET" count "$BIG")
	usr1_file report-file ""
	stop_file TERM-report-file TERM ""
	if have jq; then
		usr1_file json-file --json
		stop_file INT-json-file INT --json
	else
		skipped "usr1/json-file, stop/INT-json-file" "no jq"
	fi
	if have jq; then
		stream_runs
	else
		skipped "stream/*" "no jq"
	fi
	if have script; then
		progress_tty
		progress_pipe
	else
		skipped "progress/terminal, progress/pipe-input" "no script(1)"
	fi
	progress_not_tty
fi

e2e_summary e2e_watch
