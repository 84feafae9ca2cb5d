#!/bin/sh
# e2e.sh: flowgrep's end-to-end tests, table-driven, on generated and real captures.
#
# Run from the repository root: BUILD=build sh tests/e2e.sh (make check does).
#
#   1. tests/cases.tsv   one case per line: a capture, a command line, the exit
#                        status and what its output must be (see the table's
#                        header for the checks).
#   2. tests/corpus.tsv  patterns on real captures and the flows tshark says
#                        they select.
#   3. properties, on every generated capture and every corpus file:
#        prop-all    -a '' -w writes every readable record unchanged, in
#                    order (classic little-endian pcap: byte for byte, cmp);
#        prop-v      a run and the same run with -v are disjoint, together
#                    hold every record, each in input order;
#        prop-stdin  the same reading -r - < FILE (any order);
#        prop-pipe   the same reading cat FILE | flowgrep (any order);
#        open        a file that is not readable at all is refused: exit 2,
#                    one line naming it.
#      "Every record" is what a reference reader gets before any damage
#      (libpcap through tcpdump for classic pcap, tests/e2e/pcapset.py for
#      pcapng); on a damaged file flowgrep must write that and exit 2.
#
# Prints "ok NAME", "FAIL NAME" with indented details, or "skip NAME (why)",
# then "e2e: N passed, M failed, K skipped"; exits 1 if any case failed.
#
# Environment: BUILD (where mkcap is built, default build), FLOWGREP (the
# binary, default ./flowgrep), FLOWGREP_CORPUS (default ../shared/corpus),
# E2E_ONLY (run only the cases whose name contains this string),
# E2E_TIMEOUT (seconds one flowgrep run may take, default 60), E2E_OUT (the
# scratch directory, default tests/out, emptied at the start).
# Needs: tcpdump and python3 for pcap output checks, tshark for the
# tshark-dependent cases, jq for the JSON checks (json: every output line is
# one JSON object in printable ASCII; jq: FILTER and errjq: FILTER, jq -e -s
# FILTER over standard output or standard error is true); a missing tool
# skips the cases that need it.

# shellcheck disable=SC2016 # '$IN' and '$OUT' are matched literally
LC_ALL=C
export LC_ALL
# ROOT, BUILD, FG, MKCAP, CORPUS; ok/FAIL/skip lines, have and PY.
. "$(pwd)/tests/e2e/lib.sh"
OUTROOT=${E2E_OUT:-$ROOT/tests/out}
TIMEOUT=${E2E_TIMEOUT:-60}
TAB=$(printf '\t')

PCAPSET="$ROOT/tests/e2e/pcapset.py"
TIMEOUT_CMD=
have timeout && TIMEOUT_CMD="timeout $TIMEOUT"

rm -rf "$OUTROOT"
mkdir -p "$OUTROOT/gen" "$OUTROOT/ref" "$OUTROOT/case" "$OUTROOT/prop"

# ---- what cases call ----

# The binary under test, bounded in time so that a hang fails one case.
flowgrep() {
	$TIMEOUT_CMD "$FG" "$@"
}

# tshark's view of a pcap on standard input: one line per packet.
tsfields() {
	tshark -r - -T fields -e frame.time_epoch -e frame.len \
	    -e frame.protocols 2>/dev/null
}

# ---- captures ----

# Prints the path of generated capture $1, writing it on first use.
gen_capture() {
	g=$OUTROOT/gen/$1.pcap
	if [ ! -f "$g" ]; then
		[ -x "$MKCAP" ] || return 1
		"$MKCAP" "$1" "$g" || return 1
	fi
	echo "$g"
}

safe_name() {
	printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_'
}

# Sets $REF to the reference copy of capture $1, its records in a
# nanosecond classic pcap, and $REFSTATUS to non-zero when $1 is damaged
# ($REF then holds the records before the damage, and is empty when nothing
# could be opened). Classic pcap is read by libpcap (tcpdump); pcapng by
# pcapset.py, as libpcap refuses a file whose interfaces differ in link type
# or snap length, which flowgrep reads.
ref_of() {
	REF=$OUTROOT/ref/$(safe_name "$1").pcap
	if [ ! -f "$REF.status" ]; then
		: >"$REF"
		if [ "$(od -An -tx1 -N4 "$1" | tr -d ' \n')" = 0a0d0d0a ]; then
			$PY "$PCAPSET" ngref "$1" "$REF" >/dev/null 2>&1
		else
			tcpdump --time-stamp-precision=nano -r "$1" -w "$REF" \
			    >/dev/null 2>&1
		fi
		echo $? >"$REF.status"
	fi
	REFSTATUS=$(cat "$REF.status")
}

# Replaces each "$IN" in $1 with the input's path.
subst_in() {
	s=$1
	while :; do
		case $s in
		*'$IN'*) s="${s%%\$IN*}$IN${s#*\$IN}" ;;
		*) break ;;
		esac
	done
	printf '%s' "$s"
}

# ---- checks on one case's results ----

# Prints the items of "A | B | C", one per line.
split_bar() {
	s=$1
	while :; do
		case $s in
		*' | '*)
			printf '%s\n' "${s%% | *}"
			s=${s#* | }
			;;
		*)
			printf '%s\n' "$s"
			break
			;;
		esac
	done
}

# The flows of report lines on stdin: "PROTO [vlan IDS] CLIENT -> SERVER",
# "packet" for units that are not flows.
report_flows() {
	tr -d '\r' | awk '
	/^[0-9]/ {
		if ($2 == "packet") { print "packet"; next }
		k = 0
		for (i = 2; i <= NF; i++) if ($i == "->") { k = i; break }
		if (k == 0) { print "unparsed: " $0; next }
		s = $2
		for (i = 3; i <= k + 1; i++) s = s " " $i
		print s
		next
	}
	NF > 0 { print "unexpected line: " $0 }'
}

# Compares the packets a case wrote with the expected frame list $1.
check_frames() {
	if [ ! -f "$c_out" ]; then
		problem "no output file"
		return
	fi
	if [ -n "$c_ordered" ]; then
		got=$($PY "$PCAPSET" frames "$c_ref" "$c_out" 2>&1)
	else
		got=$($PY "$PCAPSET" frames "$c_ref" "$c_out" -s 2>&1)
	fi
	[ "$got" = "$1" ] ||
	    problem "wrote frames $got, expected $1${c_ordered:+ (in order)}"
}

check_one() {
	k=${1%%:*}
	v=${1#*:}
	v=${v# }
	v=$(subst_in "$v")
	case $k in
	flows)
		got=$(report_flows <"$c_dir/stdout" | sort)
		want=$(split_bar "$v" | sort)
		if [ "$got" != "$want" ]; then
			problem "reported flows:"
			problem "$(printf '%s\n' "$got" | sed 's/^/  /')"
			problem "expected:"
			problem "$(printf '%s\n' "$want" | sed 's/^/  /')"
		fi
		;;
	line)
		tr -d '\r' <"$c_dir/stdout" | grep -Fxq -- "$v" ||
		    problem "no output line: $v"
		;;
	re)
		tr -d '\r' <"$c_dir/stdout" | grep -Eq -- "$v" ||
		    problem "no output line matching: $v"
		;;
	lines)
		n=$(tr -d '\r' <"$c_dir/stdout" | grep -c .)
		[ "$n" -eq "$v" ] || problem "$n output lines, expected $v"
		;;
	err)
		got=$(cat "$c_dir/stderr")
		[ "$got" = "$v" ] || problem "expected standard error: $v"
		;;
	errlines)
		n=$(grep -c . <"$c_dir/stderr")
		[ "$n" -eq "$v" ] || problem "$n standard error lines, expected $v"
		;;
	errline)
		grep -Fxq -- "$v" "$c_dir/stderr" ||
		    problem "no standard error line: $v"
		;;
	errre)
		grep -Eq -- "$v" "$c_dir/stderr" ||
		    problem "no standard error line matching: $v"
		;;
	frames)
		check_frames "$v"
		;;
	bpf)
		tcpdump -r "$c_ref" -w "$c_dir/bpf.pcap" "$v" >/dev/null 2>&1 ||
		    { problem "tcpdump cannot apply filter $v"; return; }
		check_frames "$($PY "$PCAPSET" frames "$c_ref" "$c_dir/bpf.pcap")"
		;;
	header)
		got=$($PY "$PCAPSET" header "$c_out" 2>&1)
		[ "$got" = "$v" ] || problem "output header $got, expected $v"
		;;
	cmp)
		cmp "$IN" "$c_out" >"$c_dir/cmp" 2>&1 ||
		    problem "output differs from the input: $(head -1 "$c_dir/cmp")"
		;;
	json)
		# One JSON object per line, in printable ASCII (flowgrep escapes
		# every other byte): jq parses each line on its own.
		n=$(grep -c . <"$c_dir/stdout")
		m=$(jq -R 'fromjson | objects | 1' <"$c_dir/stdout" \
		    2>"$c_dir/jq.err" | grep -c .)
		[ "$m" -eq "$n" ] && [ ! -s "$c_dir/jq.err" ] ||
		    problem "$m of $n output lines are JSON objects: $(head -1 "$c_dir/jq.err")"
		! tr -d '\n' <"$c_dir/stdout" | LC_ALL=C grep -q '[^ -~]' ||
		    problem "output has bytes that are not printable ASCII"
		;;
	jq|errjq)
		# jq -e -s FILTER over the lines (an array of their objects).
		f=$c_dir/stdout
		w=output
		[ "$k" = errjq ] && { f=$c_dir/stderr; w=error; }
		jq -e -s "$v" <"$f" >/dev/null 2>&1 ||
		    problem "not true on standard $w: jq -s '$v'"
		;;
	tshark)
		tshark -r "$IN" -Y "$v" -T fields -e frame.time_epoch \
		    -e frame.len -e frame.protocols 2>/dev/null |
		    sort >"$c_dir/want"
		sort "$c_dir/stdout" | cmp -s "$c_dir/want" - ||
		    problem "tshark read back $(grep -c . <"$c_dir/stdout") packets; expected the $(grep -c . <"$c_dir/want") of: tshark -Y '$v'"
		;;
	*)
		problem "unknown check '$k' in the table"
		;;
	esac
}

# run_case NAME INPUT COMMAND EXIT CHECK...
run_case() {
	c_name=$1
	c_input=$2
	c_cmd=$3
	c_exit=$4
	shift 4
	if [ -n "$E2E_ONLY" ]; then
		case $c_name in *"$E2E_ONLY"*) ;; *) return ;; esac
	fi
	IN=
	case $c_input in
	gen:*)
		IN=$(gen_capture "${c_input#gen:}") ||
		    { skipped "$c_name" "no $MKCAP"; return; }
		;;
	corpus:*)
		[ -n "$CORPUS" ] || { skipped "$c_name" "no corpus"; return; }
		IN=$CORPUS/${c_input#corpus:}
		[ -r "$IN" ] || { skipped "$c_name" "no $IN"; return; }
		;;
	file:*)
		IN=$ROOT/${c_input#file:}
		;;
	esac
	case "$c_cmd $*" in
	*tshark*|*tsfields*)
		have tshark || { skipped "$c_name" "no tshark"; return; } ;;
	esac
	case " $* " in
	*' json '*|*jq:*)
		have jq || { skipped "$c_name" "no jq"; return; } ;;
	esac
	case "$c_cmd" in
	*script\ *)
		have script || { skipped "$c_name" "no script(1)"; return; } ;;
	esac
	c_ref=
	case " $* " in
	*frames:*|*bpf:*|*header:*)
		have tcpdump || { skipped "$c_name" "no tcpdump"; return; }
		[ -n "$PY" ] || { skipped "$c_name" "no python3"; return; }
		ref_of "$IN"
		c_ref=$REF
		;;
	esac
	c_dir=$OUTROOT/case/$(safe_name "$c_name")
	mkdir -p "$c_dir"
	OUT=$c_dir/out.pcap
	# The packets a case writes: to $OUT when it names it, else stdout.
	case $c_cmd in
	*'$OUT'*) c_out=$OUT ;;
	*) c_out=$c_dir/stdout ;;
	esac
	# Only a regular file given to flowgrep's -r keeps the input's order.
	case $c_cmd in
	*flowgrep*'-r "$IN"'*) c_ordered=1 ;;
	*) c_ordered= ;;
	esac
	(eval "$c_cmd") >"$c_dir/stdout" 2>"$c_dir/stderr" </dev/null
	st=$?
	if [ "$c_exit" != - ] && [ "$st" != "$c_exit" ]; then
		problem "exit status $st, expected $c_exit"
	fi
	for chk in "$@"; do
		check_one "$chk"
	done
	if [ -n "$problems" ]; then
		problem "command: $c_cmd"
		[ -s "$c_dir/stderr" ] &&
		    problem "stderr: $(head -3 "$c_dir/stderr" | tr '\n' '|')"
	fi
	finish "$c_name"
}

# Reads table $1 and calls $2 with the fields of each row: '#' lines and
# blank lines are comments; fields are split on tabs, several tabs counting
# as one, so that columns may be aligned.
run_table() {
	t_fn=$2
	# The table is read on fd 3, closed for the cases, so that nothing a
	# case runs can move the reading position.
	while IFS= read -r line <&3; do
		case $line in '#'*|'') continue ;; esac
		oldifs=$IFS
		IFS=$TAB
		set -f
		# shellcheck disable=SC2086 # split on tabs, on purpose
		set -- $line
		set +f
		IFS=$oldifs
		"$t_fn" "$@" </dev/null 3<&-
	done 3<"$1"
}

# ---- part 1: tests/cases.tsv ----

case_row() {
	if [ $# -lt 4 ]; then
		fail=$((fail + 1))
		echo "FAIL malformed row in tests/cases.tsv: $*"
		return
	fi
	run_case "$@"
}

[ -x "$FG" ] || echo "e2e: $FG is missing: every case will fail"
run_table "$ROOT/tests/cases.tsv" case_row

# ---- part 2: tests/corpus.tsv ----

corpus_row() {
	if [ $# -ne 3 ]; then
		fail=$((fail + 1))
		echo "FAIL malformed row in tests/corpus.tsv: $*"
		return
	fi
	if [ "$3" = none ]; then
		run_case "corpus/$1: $2" "corpus:$1" \
		    "flowgrep -q -r \"\$IN\" $2" 1 "lines: 0"
	else
		run_case "corpus/$1: $2" "corpus:$1" \
		    "flowgrep -q -r \"\$IN\" $2" 0 "flows: $3"
	fi
}

run_table "$ROOT/tests/corpus.tsv" corpus_row

# ---- part 3: properties of every capture ----

# The exit status a run must have: 2 on a damaged file, else 0 when it
# wrote something and 1 when not.
want_exit() {
	if [ "$1" != 0 ]; then
		echo 2
	elif [ "$2" -gt 0 ]; then
		echo 0
	else
		echo 1
	fi
}

# Checks a run pair (pattern, same with -v) already written to $p_dir/A.pcap
# and $p_dir/B.pcap with exit statuses $1 and $2; $3 is -o for ordered.
check_partition() {
	# shellcheck disable=SC2086 # $3 is empty or -o
	res=$($PY "$PCAPSET" partition $3 "$p_ref" "$p_dir/A.pcap" \
	    "$p_dir/B.pcap" 2>&1)
	rc=$?
	[ $rc -eq 0 ] || problem "$(printf '%s' "$res" | tr '\n' ';')"
	counts=$(printf '%s\n' "$res" | sed -n 's/^input [0-9]*, outputs \([0-9]*\) + \([0-9]*\)$/\1 \2/p')
	if [ -n "$counts" ]; then
		# shellcheck disable=SC2086 # two numbers
		set -- "$1" "$2" $counts
		w=$(want_exit "$REFSTATUS" "$3")
		[ "$1" = "$w" ] || problem "exit status $1 (wrote $3), expected $w"
		w=$(want_exit "$REFSTATUS" "$4")
		[ "$2" = "$w" ] || problem "with -v: exit status $2 (wrote $4), expected $w"
	fi
}

prop_capture() {
	p_label=$1
	p_in=$2
	if [ -n "$E2E_ONLY" ]; then
		case "prop $p_label" in *"$E2E_ONLY"*) ;; *) return ;; esac
	fi
	if ! have tcpdump || [ -z "$PY" ]; then
		skipped "prop/$p_label" "needs tcpdump and python3"
		return
	fi
	ref_of "$p_in"
	p_ref=$REF
	p_dir=$OUTROOT/prop/$(safe_name "$p_label")
	mkdir -p "$p_dir"
	if [ ! -s "$p_ref" ]; then
		flowgrep -q -r "$p_in" -a '' -w "$p_dir/A.pcap" \
		    >"$p_dir/stdout" 2>"$p_dir/stderr" </dev/null
		st=$?
		[ $st -eq 2 ] || problem "exit status $st, expected 2"
		n=$(grep -c . <"$p_dir/stderr")
		[ "$n" -eq 1 ] || problem "$n lines on standard error, expected 1"
		grep -q "^flowgrep: .*$(basename "$p_in")" "$p_dir/stderr" ||
		    problem "error does not name the file: $(head -1 "$p_dir/stderr")"
		finish "open/$p_label: not readable, refused"
		return
	fi
	p_n=$($PY "$PCAPSET" count "$p_ref")
	p_magic=$(od -An -tx1 -N4 "$p_in" | tr -d ' \n')

	# -a '' selects every unit: the output is the input.
	flowgrep -q -r "$p_in" -a '' -w "$p_dir/all.pcap" </dev/null \
	    2>"$p_dir/all.err"
	st=$?
	w=$(want_exit "$REFSTATUS" "$p_n")
	[ "$st" = "$w" ] || problem "exit status $st, expected $w"
	res=$($PY "$PCAPSET" same "$p_ref" "$p_dir/all.pcap" 2>&1) ||
	    problem "records: $res"
	if [ "$REFSTATUS" = 0 ]; then
		case $p_magic in
		d4c3b2a1|4d3cb2a1)
			cmp "$p_in" "$p_dir/all.pcap" >"$p_dir/cmp" 2>&1 ||
			    problem "not byte for byte: $(head -1 "$p_dir/cmp")"
			;;
		esac
	fi
	p_what="$p_n records"
	[ "$REFSTATUS" = 0 ] || p_what="$p_what before damage"
	finish "prop-all/$p_label: -a '' -w writes the input ($p_what)"

	flowgrep -q -r "$p_in" -a HTTP -w "$p_dir/A.pcap" </dev/null 2>/dev/null
	s1=$?
	flowgrep -q -v -r "$p_in" -a HTTP -w "$p_dir/B.pcap" </dev/null 2>/dev/null
	s2=$?
	check_partition $s1 $s2 -o
	finish "prop-v/$p_label: -a HTTP and -v -a HTTP partition the input"

	rm -f "$p_dir/A.pcap" "$p_dir/B.pcap"
	flowgrep -q -r - -c '^[A-Z]' -w "$p_dir/A.pcap" <"$p_in" 2>/dev/null
	s1=$?
	flowgrep -q -v -r - -c '^[A-Z]' -w "$p_dir/B.pcap" <"$p_in" 2>/dev/null
	s2=$?
	check_partition $s1 $s2
	finish "prop-stdin/$p_label: -r - < FILE, -c '^[A-Z]' and -v partition it"

	rm -f "$p_dir/A.pcap" "$p_dir/B.pcap"
	# shellcheck disable=SC2002 # a pipe, not a file, on purpose
	cat "$p_in" | flowgrep -q -i -a 'a' -w - >"$p_dir/A.pcap" 2>/dev/null
	s1=$?
	# shellcheck disable=SC2002
	cat "$p_in" | flowgrep -q -v -i -a 'a' -w - >"$p_dir/B.pcap" 2>/dev/null
	s2=$?
	check_partition $s1 $s2
	finish "prop-pipe/$p_label: cat FILE |, -i -a a and -v partition it"
}

if [ -x "$MKCAP" ]; then
	for sc in $("$MKCAP" --list | awk '{ print $1 }'); do
		g=$(gen_capture "$sc") && prop_capture "gen:$sc" "$g"
	done
else
	skipped "prop/gen:*" "no $MKCAP"
fi
if [ -n "$CORPUS" ]; then
	for f in "$CORPUS"/*; do
		case $f in *.md|*.tsv) continue ;; esac
		prop_capture "corpus:$(basename "$f")" "$f"
	done
else
	skipped "prop/corpus:*" "no corpus"
fi

e2e_summary e2e
