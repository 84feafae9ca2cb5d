#!/bin/sh
# e2e_props.sh: nothing lost, with random patterns, held packets and cut files.
#
# Run from the repository root: BUILD=build sh tests/e2e_props.sh.
#
#   partition  for every generated capture (mkcap --list) and every corpus
#              capture flowgrep reads (one whose run exits 2 is skipped,
#              visibly), several random option sets (tests/e2e/props.py
#              patterns: slices of the capture's TCP/UDP payloads as regex
#              literals, some with classes, alternation or a gap, patterns
#              not in it, -a/-c/-s, sometimes -i, --depth, --window), each
#              run four times: -r FILE -w A, -v -r FILE -w B, and the same
#              from cat FILE |. Each record of the input (as
#              tests/e2e/pcapset.py reads it) is in exactly one of A and B,
#              each in input order; the stdin outputs hold the same records
#              (within a flow in input order, byte for byte when the run
#              held nothing: DESIGN.md section 5 writes a stream's flows in
#              the order they are decided); every run counts every record
#              read and none dropped, and its exit status and counters agree
#              with what it wrote. The -r FILE runs are repeated with
#              --match-thread always (with -v, every other flow matched
#              beside the thread: FLOWGREP_MATCH_HERE=alternate): the same
#              bytes written, the same exit status and the same counts of
#              flows matched and selected, packets written, and window,
#              depth and match errors.
#   hold       from standard input with --hold-mem 0 (the least options.c
#              accepts: nothing can be held), 16k, 64k and 256k (chunks of
#              the hold pool smaller and larger than a page), on a
#              generated capture of long interleaved flows (props.py
#              genlong) and two corpus captures with long flows, each
#              option set run -w and -v -w, fed through a pipe that already
#              holds the whole capture (props.py feed: reads that do not
#              depend on timing) and through cat: each output is a readable
#              pcap holding only records the file run wrote, within a flow
#              in input order, and misses at most packets_dropped of them
#              (--stats-json; exactly that many when the other file run
#              selected nothing); for the fed runs, the records in neither
#              output (-w and -v -w) are exactly as many as each run's
#              packets_dropped, and the warning without --stats-json names
#              that number.
#   truncate   a generated capture of ten flows (mkcap context, as classic
#              pcap and rewritten as pcapng), cut at every byte of its last
#              records (3; 1 for pcapng), at random record boundaries, a
#              few bytes into random records, in the file header and at
#              random offsets, read by -r CUT and through cat, with -a LIT
#              (literals picked by props.py truncpick: one in an early
#              flow, one late in the flow of the last record) and with -v:
#              no crash (exit 0, 1 or 2, nothing else on standard error,
#              so no sanitizer report); when cut inside a record or the
#              header, exit 2 and exactly the one line saying where the
#              file ends ("record N at byte offset X: file ends in the
#              middle of a record (truncated capture)"); and the output is
#              what the whole records before the cut decide (DESIGN.md
#              section 7: read up to the damage, everything decided so far
#              written): -a the records there of the flows whose literal is
#              there, -v all the others there.
#
# Prints "ok NAME", "FAIL NAME" with indented details, or "skip NAME (why)",
# then "e2e_props: N passed, M failed, K skipped"; exits 1 if any failed.
# The random choices follow PROPS_SEED: a failure names the seed to repeat.
#
# Environment: BUILD (default build), FLOWGREP (default ./flowgrep),
# FLOWGREP_CORPUS (default ../shared/corpus), PROPS_SEED (default 1;
# "random" draws one), PROPS_SETS (option sets per capture, default 4),
# PROPS_TRUNC_SAMPLE (random cut offsets, default 40; a third of it for
# pcapng), PROPS_TRUNC_TAIL (last records cut at every byte, default 3),
# PROPS_JOBS (captures checked at once, default the number of CPUs),
# PROPS_TIMEOUT (seconds one run may take, default 60), PROPS_OUT (scratch
# directory, default tests/out/props, emptied first), PROPS_ONLY
# (partition, hold or truncate). Sanitized builds (BUILD or FLOWGREP's
# directory with -address or -undefined in it) default to 2 sets and 12
# random cuts. Needs python3 (without it, everything is skipped).

# Stream input must be a pipe, not a file (a regular file is read twice):
# shellcheck disable=SC2002 # cat FILE | flowgrep, on purpose
LC_ALL=C
export LC_ALL
# ROOT, BUILD, FG, MKCAP, CORPUS; ok/FAIL/skip lines, have and PY.
. "$(pwd)/tests/e2e/lib.sh"
OUT=${PROPS_OUT:-$ROOT/tests/out/props}
TIMEOUT=${PROPS_TIMEOUT:-60}
PROPS=$ROOT/tests/e2e/props.py
# flowgrep names itself after its file in messages (err(3)).
FLOWGREP_NAME=${FG##*/}
export FLOWGREP_NAME

# Sanitized binaries are several times slower: fewer random cases.
case "$BUILD ${FG%/*}" in
*-address* | *-undefined*)
	SETS=${PROPS_SETS:-2}
	SAMPLE=${PROPS_TRUNC_SAMPLE:-12}
	;;
*)
	SETS=${PROPS_SETS:-4}
	SAMPLE=${PROPS_TRUNC_SAMPLE:-40}
	;;
esac
TAIL=${PROPS_TRUNC_TAIL:-3}
SEED=${PROPS_SEED:-1}
[ "$SEED" = random ] && SEED=$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')
# Captures with long flows for the hold cases.
HOLD_CORPUS="tcpflow--jpegs.cap zeek--http-post-large.pcap"
HOLD_MEMS="0 16k 64k 256k"
# Classic pcap flavours for the truncation cases with -a ''.
TRUNC_CORPUS="tcpdump--pptp.pcap zeek--get-to-ssh-server.pcap
zeek--fragmented-4.pcap zeek--linux_dlt_sll2.pcap"
# A pattern no capture holds: every flow stays undecided to its end.
ABSENT='E2E-PROPS-(?:NOT){3}-THERE'

FAIL_HINT="(repeat: PROPS_SEED=$SEED PROPS_SETS=$SETS PROPS_TRUNC_SAMPLE=$SAMPLE)"

TIMEOUT_CMD=
have timeout && TIMEOUT_CMD="timeout $TIMEOUT"
JOBS=${PROPS_JOBS:-$(nproc 2>/dev/null || echo 2)}

rm -rf "$OUT"
mkdir -p "$OUT" || exit 2

# The binary under test, bounded in time so that a hang fails one case.
flowgrep() {
	$TIMEOUT_CMD "$FG" "$@"
}

# Runs the props.py check $1 with arguments $2...: when it passes, its one
# line of output (a summary) goes to $summary; when not, all it printed is
# a problem of the case.
check_with() {
	res=$($PY "$PROPS" "$@" 2>&1)
	rc=$?
	summary=$(printf '%s\n' "$res" | sed -n '$p')
	if [ $rc -ne 0 ]; then
		problem "$res"
		summary=
	fi
}

# queue FN NAME CAPTURE [WORDS]: runs FN CAPTURE NAME WORDS... in the
# background, at most $JOBS at once, its lines to a result file; collect
# prints and counts them in the order queued.
queued=
running=0
queue() {
	fn=$1
	name=$2
	mkdir -p "$OUT/res"
	r=$OUT/res/$(printf '%s' "$fn-$name" | tr -c 'A-Za-z0-9._-' '_')
	# shellcheck disable=SC2086 # $4: more arguments, as words
	("$fn" "$3" "$name" $4 >"$r" 2>&1) &
	queued="$queued $r"
	running=$((running + 1))
	if [ "$running" -ge "$JOBS" ]; then
		wait
		running=0
	fi
}

collect() {
	wait
	running=0
	for r in $queued; do
		if [ ! -f "$r" ]; then
			fail=$((fail + 1))
			echo "FAIL ${r##*/}: its results are gone ($OUT removed" \
			    "during the run?)"
			continue
		fi
		cat "$r"
		pass=$((pass + $(grep -c '^ok' "$r")))
		fail=$((fail + $(grep -c '^FAIL' "$r")))
		skip=$((skip + $(grep -c '^skip' "$r")))
	done
	queued=
}

# Runs option set $3 (shell words) on capture $1 four times, with output
# prefix $2: -r FILE -w $2.fa.pcap, -v -r FILE -w $2.fb.pcap, and the same
# from cat FILE | (.sa, .sb); each run's standard error (--stats-json) to
# PREFIX.MODE.err, the exit statuses, tab-separated, to $rcs.
four_runs() {
	c=$1
	p=$2
	eval "set -- $3"
	flowgrep -q --stats-json -r "$c" "$@" -w "$p.fa.pcap" \
	    2>"$p.fa.err" </dev/null
	rcs="$?"
	flowgrep -q --stats-json -v -r "$c" "$@" -w "$p.fb.pcap" \
	    2>"$p.fb.err" </dev/null
	rcs="$rcs	$?"
	cat "$c" | flowgrep -q --stats-json "$@" -w "$p.sa.pcap" 2>"$p.sa.err"
	rcs="$rcs	$?"
	cat "$c" | flowgrep -q --stats-json -v "$@" -w "$p.sb.pcap" \
	    2>"$p.sb.err"
	rcs="$rcs	$?"
}

# The counts a run's matching decides, from its --stats-json in $1.
decided_counts() {
	tr ',{}' '\n\n\n' <"$1" | grep -E '^"(packets_written|flows_matched|units_selected|flows_selected|window_overflows|depth_reached|match_errors)":'
}

# Repeats the file runs of four_runs (prefix $2, option set $3, capture $1)
# with the match thread (--match-thread always): each must write the same
# bytes, exit the same and count the same.
thread_runs() {
	c=$1
	p=$2
	opts=$3
	eval "set -- $3"
	for v in a b; do
		x=
		k=2
		[ $v = b ] && x=-v k=3
		# With -v, every other flow is matched beside the thread.
		here=
		[ $v = b ] && here=alternate
		# shellcheck disable=SC2086 # $x: -v or nothing
		FLOWGREP_MATCH_HERE=$here flowgrep -q --stats-json \
		    --match-thread always $x -r "$c" "$@" \
		    -w "$p.t$v.pcap" 2>"$p.t$v.err" </dev/null
		trc=$?
		frc=$(awk -F '\t' -v i="${p##*/}" -v k=$k \
		    '$1 == i { print $k }' "${p%/*}/sets.tsv")
		t="${here:+FLOWGREP_MATCH_HERE=$here }--match-thread always $x $opts"
		if ! cmp -s "$p.f$v.pcap" "$p.t$v.pcap"; then
			problem "$t: output differs from the run without it"
		elif [ "$trc" != "$frc" ]; then
			problem "$t: exit $trc, without it $frc"
		elif [ "$(decided_counts "$p.t$v.err")" != \
		    "$(decided_counts "$p.f$v.err")" ]; then
			problem "$t: counts differ: $(decided_counts \
			    "$p.t$v.err" | tr '\n' ' '), without it \
$(decided_counts "$p.f$v.err" | tr '\n' ' ')"
		fi
	done
}

# ---- part 1: partition ----

partition_capture() {
	cap=$1
	name=$2
	d=$OUT/partition/$name
	mkdir -p "$d"
	flowgrep -q -r "$cap" -a '' -w "$d/probe.pcap" 2>"$d/probe.err" \
	    </dev/null
	rc=$?
	case $rc in
	0 | 1) ;;
	2)
		skipped "partition $name" \
		    "flowgrep exits 2: $(head -1 "$d/probe.err")"
		return
		;;
	*)
		problem "-r FILE -a '' -w: exit status $rc: $(head -3 "$d/probe.err")"
		finish "partition $name"
		return
		;;
	esac
	if ! $PY "$PROPS" patterns "$cap" "$SEED" "$SETS" >"$d/sets.txt" \
	    2>"$d/sets.err"; then
		problem "props.py patterns failed: $(tail -3 "$d/sets.err")"
		finish "partition $name"
		return
	fi
	: >"$d/sets.tsv"
	i=0
	while IFS= read -r line; do
		i=$((i + 1))
		four_runs "$cap" "$d/$i" "$line"
		printf '%s\t%s\t%s\n' "$i" "$rcs" "$line" >>"$d/sets.tsv"
		thread_runs "$cap" "$d/$i" "$line"
	done <"$d/sets.txt"
	check_with partition "$cap" "$d"
	finish "partition $name${summary:+ ($summary)}"
}

partition() {
	if [ -x "$MKCAP" ]; then
		mkdir -p "$OUT/gen"
		for g in $("$MKCAP" --list | awk '{ print $1 }'); do
			if "$MKCAP" "$g" "$OUT/gen/$g.pcap" >/dev/null 2>&1; then
				queue partition_capture "mkcap-$g" "$OUT/gen/$g.pcap"
			else
				skipped "partition mkcap-$g" "mkcap $g failed"
			fi
		done
	else
		skipped "partition mkcap" "$MKCAP is not built (make $MKCAP)"
	fi
	if [ -n "$CORPUS" ]; then
		for c in "$CORPUS"/*; do
			case $c in *.md | *.tsv) continue ;; esac
			queue partition_capture "${c##*/}" "$c"
		done
	else
		skipped "partition corpus" \
		    "no corpus at ${FLOWGREP_CORPUS:-../shared/corpus}"
	fi
	collect
}

# ---- part 2: hold ----

# The hold cases of capture $1, named $2: option sets (an absent pattern,
# random ones), each run from a file once and from standard input with
# each size of $HOLD_MEMS, through props.py feed (.sa, .sb, .warn: reads
# independent of timing) and through cat (.pa, .pb).
hold_capture() {
	cap=$1
	name=$2
	d=$OUT/hold/$name
	mkdir -p "$d"
	{
		printf '%s\n' "-a '$ABSENT'"
		case $name in
		gen-long) printf '%s\n' "-a LATE-MATCH-TOKEN" \
		    "-c EARLY-TOKEN -s LATE-MATCH-TOKEN" ;;
		esac
		$PY "$PROPS" patterns "$cap" "$SEED" 2
	} >"$d/sets.txt" 2>"$d/sets.err"
	: >"$d/hold.tsv"
	i=0
	while IFS= read -r line; do
		i=$((i + 1))
		eval "set -- $line"
		flowgrep -q --stats-json -r "$cap" "$@" -w "$d/$i.fa.pcap" \
		    2>"$d/$i.fa.err" </dev/null
		frcs="$?"
		flowgrep -q --stats-json -v -r "$cap" "$@" -w "$d/$i.fb.pcap" \
		    2>"$d/$i.fb.err" </dev/null
		frcs="$frcs	$?"
		for m in $HOLD_MEMS; do
			p=$d/$i.$m
			rcs=$frcs
			for v in a b warn; do
				st=--stats-json
				x=
				case $v in
				b) x=-v ;;
				warn) x=-v st= ;;
				esac
				# shellcheck disable=SC2086 # $TIMEOUT_CMD, $st, $x
				$PY "$PROPS" feed "$cap" $TIMEOUT_CMD "$FG" -q $st \
				    --hold-mem "$m" $x "$@" -w "$p.s$v.pcap" \
				    2>"$p.s$v.err"
				rcs="$rcs	$?"
			done
			cat "$cap" | flowgrep -q --stats-json --hold-mem "$m" "$@" \
			    -w "$p.pa.pcap" 2>"$p.pa.err"
			rcs="$rcs	$?"
			cat "$cap" | flowgrep -q --stats-json --hold-mem "$m" -v \
			    "$@" -w "$p.pb.pcap" 2>"$p.pb.err"
			rcs="$rcs	$?"
			mv "$p.swarn.err" "$p.warn.err"
			printf '%s\t%s\t%s\t%s\t%s\n' "$i.$m" "$i" "$m" "$rcs" \
			    "$line" >>"$d/hold.tsv"
		done
	done <"$d/sets.txt"
	# The generated capture is made for drops in both runs.
	strict=
	[ "$name" != gen-long ] || strict=strict
	check_with hold "$cap" "$d" $strict
	finish "hold $name${summary:+ ($summary)}"
}

hold() {
	mkdir -p "$OUT/gen"
	if $PY "$PROPS" genlong "$OUT/gen/long.pcap"; then
		queue hold_capture gen-long "$OUT/gen/long.pcap"
	else
		problem "props.py genlong failed"
		finish "hold gen-long"
	fi
	for c in $HOLD_CORPUS; do
		if [ -n "$CORPUS" ] && [ -r "$CORPUS/$c" ]; then
			queue hold_capture "$c" "$CORPUS/$c"
		else
			skipped "hold $c" "not in the corpus"
		fi
	done
	collect
}

# ---- part 3: truncate ----

# The truncation cases of capture $1, named $2: cut at every byte of the
# last $3 records and at about $4 other offsets (see props.py truncplan).
# With $5 = all, the runs are -a '' (every record decided as it is read),
# else -a LIT for the two literals props.py truncpick finds.
trunc_capture() {
	cap=$1
	name=$2
	tail=$3
	sample=$4
	d=$OUT/truncate/$name
	mkdir -p "$d"
	if [ "${5:-}" = all ]; then
		lits=
		set -- -a ''
		what="-a ''"
	else
		lits=$($PY "$PROPS" truncpick "$cap" 2>&1)
		set -f
		# shellcheck disable=SC2086 # literals are words of [A-Za-z0-9-]
		set -- $lits
		set +f
		if [ $# -lt 2 ]; then
			problem "props.py truncpick found no two literals: $lits"
			finish "truncate $name"
			return
		fi
		set -- -a "$1" -a "$2"
		what="$*"
	fi
	flowgrep -q -r "$cap" "$@" -w "$d/full.pcap" 2>"$d/full.err" </dev/null
	rc=$?
	[ "$rc" = 0 ] ||
	    problem "uncut run: exit status $rc: $(head -3 "$d/full.err")"
	$PY "$PROPS" truncplan "$cap" "$tail" "$sample" "$SEED" >"$d/plan" ||
	    problem "props.py truncplan failed"
	cut=$d/cut
	: >"$d/trunc.tsv"
	while read -r off k start; do
		head -c "$off" "$cap" >"$cut"
		for m in fa fv sa sv; do
			v=
			case $m in *v) v=-v ;; esac
			o=$d/$off.$m
			# shellcheck disable=SC2086 # $v is empty or -v
			if [ "${m%?}" = f ]; then
				flowgrep -q -r "$cut" $v "$@" -w "$o.pcap" \
				    2>"$o.err" </dev/null
			else
				cat "$cut" | flowgrep -q $v "$@" -w "$o.pcap" \
				    2>"$o.err"
			fi
			printf '%s\t%s\t%s\t%s\t%s\n' "$off" "$k" "$start" "$m" \
			    "$?" >>"$d/trunc.tsv"
		done
	done <"$d/plan"
	# shellcheck disable=SC2086 # the literals are words
	check_with trunc "$cap" "$d" "$cut" $lits
	finish "truncate $name ($what${summary:+; $summary})"
	# Thousands of small files: keep them only when something failed.
	[ "$fail" -gt 0 ] || find "$d" -name '[0-9]*.*' -delete
}

truncate_() {
	mkdir -p "$OUT/gen"
	g=$OUT/gen/trunc-context.pcap
	if [ ! -x "$MKCAP" ]; then
		skipped "truncate mkcap" "$MKCAP is not built (make $MKCAP)"
	elif ! "$MKCAP" context "$g" >/dev/null 2>&1; then
		problem "mkcap context failed"
		finish "truncate mkcap-context.pcap"
	else
		queue trunc_capture mkcap-context.pcap "$g" "$TAIL $SAMPLE"
		# The pcapng reader's turn, with fewer cuts.
		if $PY "$PROPS" tongng "$g" "$OUT/gen/trunc-context.pcapng"; then
			queue trunc_capture mkcap-context.pcapng \
			    "$OUT/gen/trunc-context.pcapng" "1 $((SAMPLE / 3))"
		else
			problem "props.py tongng failed"
			finish "truncate mkcap-context.pcapng"
		fi
	fi
	# Other classic pcap flavours, with -a '': big-endian, nanosecond,
	# fragments, Linux cooked v2.
	for c in $TRUNC_CORPUS; do
		if [ -n "$CORPUS" ] && [ -r "$CORPUS/$c" ]; then
			queue trunc_capture "$c" "$CORPUS/$c" \
			    "0 $((SAMPLE / 4 + 2)) all"
		else
			skipped "truncate $c" "not in the corpus"
		fi
	done
	collect
}

if [ ! -x "$FG" ]; then
	echo "e2e_props: $FG is not built" >&2
	echo "e2e_props: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
if [ -z "$PY" ]; then
	skipped "e2e_props" "python3 is not installed"
	echo "e2e_props: 0 passed, 0 failed, 1 skipped"
	exit 0
fi
echo "e2e_props: seed $SEED ($SETS sets a capture, $SAMPLE random cuts;" \
    "PROPS_SEED=$SEED repeats)"
for part in partition hold truncate; do
	[ -z "${PROPS_ONLY:-}" ] || [ "$PROPS_ONLY" = "$part" ] || continue
	case $part in
	partition) partition ;;
	hold) hold ;;
	truncate) truncate_ ;;
	esac
done
echo "e2e_props: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
