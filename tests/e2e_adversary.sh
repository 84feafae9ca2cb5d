#!/bin/sh
# e2e_adversary.sh: flowgrep against hostile captures: bounded memory and time, nothing lost.
#
# Run from the repository root: BUILD=build sh tests/e2e_adversary.sh
# (FULL=1 for the big cases of issue 6's closing note).
#
# Each case writes a capture with $BUILD/adversary (tests/adversary.c: a
# flood of one kind, with flows carrying "secret-token" planted in it), runs
#   flowgrep -a secret-token -w OUT --stats-json [limits] -r CAPTURE
# (or from a pipe, for stream input), and checks:
#   - it exits 0 within the case's time bound;
#   - its peak RSS (GNU time's %M) stays under the bound the case's limits
#     imply: RSS_BASE plus what each cap allows (see the case's comment);
#   - the counters that the flood must drive are non-zero;
#   - the planted flows are selected: every planted packet is written and
#     nothing else (file input), or, in stream input, written or counted
#     as dropped (--hold-mem), never silently lost.
#
# Prints "ok NAME (rss, time)", "FAIL NAME: why" or "skip NAME (why)",
# then "e2e_adversary: N passed, M failed, K skipped"; exits 1 if any
# failed. Environment: BUILD (where adversary is built, default build),
# FLOWGREP (the binary, default ./flowgrep), FULL=1 (1M flows, 4 GiB flow,
# ... see sizes below), ADV_ONLY (run the cases whose name contains it),
# ADV_OUT (scratch directory, default tests/out/adversary; big captures are
# deleted after their case).
# Needs GNU time as /usr/bin/time for RSS (Debian package time): without
# it RSS is not checked. Under ASan RSS is not checked (shadow memory and
# quarantine dwarf the caps) and time bounds are multiplied by 5.

LC_ALL=C
export LC_ALL
ROOT=$(pwd)
BUILD=${BUILD:-build}
FG=${FLOWGREP:-$ROOT/flowgrep}
case $FG in /*) ;; *) FG=$ROOT/$FG ;; esac
ADV=$ROOT/$BUILD/adversary
OUT=${ADV_OUT:-$ROOT/tests/out/adversary}
FULL=${FULL:-0}
PLANT=secret-token
MIB=1024	# RSS is in KiB

pass=0
fail=0
skip=0

have() {
	command -v "$1" >/dev/null 2>&1
}

TIME=
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
	TIME=/usr/bin/time
fi
# Sanitized binaries: ASan's shadow memory and quarantine are not flowgrep's.
ASAN=0
if grep -q __asan_init "$FG" 2>/dev/null; then
	ASAN=1
fi
SLOW=1
[ "$ASAN" = 1 ] && SLOW=5

# What flowgrep needs with no flows at all: binary, libraries, PCRE2 JIT,
# the read buffer. Each case adds what its caps allow.
RSS_BASE=$((16 * MIB))

rm -rf "$OUT"
mkdir -p "$OUT"

# ---- one run ----

# run NAME TIMEOUT MODE CAPTURE FLOWGREP-ARGS...: runs flowgrep on CAPTURE
# (MODE file: -r CAPTURE; pipe: cat CAPTURE | flowgrep -r -; gen:CASE:N:
# adversary's output piped in, no file), leaving its exit status in $rc,
# RSS in $rss (KiB, empty if unknown), seconds in $secs and the statistics
# in $OUT/NAME.stats.
run() {
	name=$1 limit=$2 mode=$3 cap=$4
	shift 4
	stats=$OUT/$name.stats
	tfile=$OUT/$name.time
	: >"$tfile"
	t0=$(date +%s.%N)
	case $mode in
	file)
		# shellcheck disable=SC2086
		${TIME:+$TIME -f %M -o "$tfile"} timeout "$limit" "$FG" \
		    -a "$PLANT" --stats-json "$@" -r "$cap" \
		    >"$OUT/$name.out" 2>"$OUT/$name.err"
		rc=$?
		;;
	pipe)
		# A pipe, not "< CAPTURE": a regular file on standard input
		# would be read twice, not held.
		# shellcheck disable=SC2002
		cat "$cap" | ${TIME:+$TIME -f %M -o "$tfile"} \
		    timeout "$limit" "$FG" -a "$PLANT" --stats-json "$@" \
		    -r - >"$OUT/$name.out" 2>"$OUT/$name.err"
		rc=$?
		;;
	gen:*)
		# gen:CASE:N
		g=${mode#gen:}
		"$ADV" "${g%%:*}" - "${g#*:}" 2>"$OUT/$name.gen" |
		    ${TIME:+$TIME -f %M -o "$tfile"} timeout "$limit" "$FG" \
		    -a "$PLANT" --stats-json "$@" -r - >"$OUT/$name.out" \
		    2>"$OUT/$name.err"
		rc=$?
		;;
	esac
	t1=$(date +%s.%N)
	secs=$(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }')
	rss=$(grep -E '^[0-9]+$' "$tfile" 2>/dev/null | tail -1)
	grep '^{' "$OUT/$name.err" >"$stats" 2>/dev/null
}

# A counter of the last run's statistics (0 when absent).
stat() {
	v=$(sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$stats")
	echo "${v:-0}"
}

# gen NAME CASE [N [M]]: writes $OUT/NAME.pcap; sets $records and $planted.
gen() {
	g=$1 c=$2
	shift 2
	"$ADV" "$c" "$OUT/$g.pcap" "$@" 2>"$OUT/$g.gen" || return 1
	counts "$OUT/$g.gen"
}

counts() {
	records=$(sed -n 's/.* records=\([0-9]*\).*/\1/p' "$1")
	planted=$(sed -n 's/.* planted=\([0-9]*\).*/\1/p' "$1")
}

# ---- checks: each adds to $why ----

why=
rss_bound=0

problem() {
	why="${why:+$why; }$*"
}

expect_exit() {
	[ "$rc" = "$1" ] || problem "exit $rc, want $1 ($(grep -v '^{' \
	    "$OUT/$name.err" | head -2 | tr '\n' ' '))"
}

nonzero() {
	for c in "$@"; do
		[ "$(stat "$c")" -gt 0 ] || problem "$c is 0"
	done
}

equal() {
	[ "$(stat "$1")" = "$2" ] || problem "$1 $(stat "$1"), want $2"
}

# rss_max KIB [MAXFLOWS]: the peak RSS bound is RSS_BASE, plus KIB for the
# case's caps (held packets, fragments, queues), plus 1 KiB for each flow
# the table could hold at once: the flows created, at most MAXFLOWS
# (--max-flows, default 1,000,000). A flow with its table slot and match
# state takes about half that.
rss_max() {
	nflows=$(($(stat flows_tcp) + $(stat flows_udp) + $(stat flows_other)))
	[ "$nflows" -gt "${2:-1000000}" ] && nflows=${2:-1000000}
	rss_bound=$((RSS_BASE + $1 + nflows))
	[ -n "$TIME" ] && [ "$ASAN" = 0 ] || return 0
	if [ -z "$rss" ]; then
		problem "no RSS measured"
	elif [ "$rss" -gt "$rss_bound" ]; then
		problem "peak RSS $((rss / MIB)) MiB > bound" \
		    "$((rss_bound / MIB)) MiB"
	fi
}

time_max() {
	awk -v s="$secs" -v m="$(($1 * SLOW))" 'BEGIN { exit !(s <= m) }' ||
	    problem "took ${secs}s > $(($1 * SLOW))s"
}

# File input: the planted packets exactly.
all_planted() {
	equal packets_written "$planted"
	[ "$(stat flows_matched)" -gt 0 ] || problem "nothing matched"
}

# Stream input: every planted packet written or counted as dropped, and
# nothing else written.
planted_or_dropped() {
	w=$(stat packets_written)
	d=$(stat packets_dropped)
	[ "$w" -le "$planted" ] ||
	    problem "$w packets written, only $planted planted"
	[ $((w + d)) -ge "$planted" ] ||
	    problem "$planted planted, $w written + $d dropped: some lost"
}

report() {
	if [ -n "$why" ]; then
		echo "FAIL $1: $why"
		fail=$((fail + 1))
	else
		r=
		[ -n "$TIME" ] && [ -n "$rss" ] && r="rss $((rss / MIB)) MiB"
		[ -n "$r" ] && [ "$ASAN" = 0 ] && [ "$rss_bound" -gt 0 ] &&
		    r="$r <= $((rss_bound / MIB))"
		echo "ok $1 (${r:+$r, }${secs}s)"
		pass=$((pass + 1))
	fi
	why=
	rss_bound=0
}

selected() {
	[ -z "${ADV_ONLY:-}" ] && return 0
	case $1 in *"$ADV_ONLY"*) return 0 ;; esac
	return 1
}

# ---- sizes ----

if [ "$FULL" = 1 ]; then
	SYN_N=1000000		# concurrent TCP flows
	SYN_MAX=100000		# --max-flows of the evicting run
	FRAG_N=1000000 FRAG_SIZE=1200
	OOO_FLOWS=200 OOO_SEGS=800	# 200 x 1.1 MiB: past the 128 MiB total
	TINY_N=1000000
	LONG_BYTES=4G
	SMALL_N=100000		# rstsyn, zerolen, snap
	OVERLAP_N=20000
	LIMIT=1800		# seconds before a run is killed
	TMAX=600		# seconds a run may take and pass
else
	SYN_N=100000
	SYN_MAX=10000
	FRAG_N=100000 FRAG_SIZE=200
	OOO_FLOWS=20 OOO_SEGS=800
	TINY_N=100000
	LONG_BYTES=64M
	SMALL_N=10000
	OVERLAP_N=2000
	LIMIT=120
	TMAX=30
fi

if [ ! -x "$ADV" ] || [ ! -x "$FG" ]; then
	echo "skip all (no $ADV or $FG: make $BUILD/adversary)"
	echo "e2e_adversary: 0 passed, 0 failed, 1 skipped"
	exit 0
fi
[ -n "$TIME" ] || echo "note: no GNU time at /usr/bin/time: RSS not checked"
[ "$ASAN" = 1 ] && echo "note: ASan binary: RSS not checked, time x5"

# ---- cases ----

# Many concurrent TCP flows, each a lone SYN: the table's cost alone.
if selected synflood; then
	if gen synflood synflood "$SYN_N"; then
		run synflood-all "$((LIMIT * SLOW))" file "$OUT/synflood.pcap" \
		    -w "$OUT/synflood.out.pcap"
		expect_exit 0
		all_planted
		equal flows_tcp "$((SYN_N + 2))"
		rss_max 0
		time_max "$TMAX"
		if have tcpdump && [ -z "$why" ]; then
			n=$(tcpdump -nn -r "$OUT/synflood.out.pcap" \
			    'not (host 10.254.0.1 or host 10.254.0.2)' \
			    2>/dev/null | wc -l)
			[ "$n" = 0 ] || problem "$n written packets not planted"
		fi
		report "synflood-all ($SYN_N flows at once)"

		run synflood-evict "$((LIMIT * SLOW))" file \
		    "$OUT/synflood.pcap" -w /dev/null --max-flows "$SYN_MAX"
		expect_exit 0
		all_planted
		nonzero flows_evicted
		rss_max 0 "$SYN_MAX"
		time_max "$TMAX"
		report "synflood-evict (--max-flows $SYN_MAX)"

		# Stream input: the flood's SYNs are held, 256 bytes each.
		run synflood-stream "$((LIMIT * SLOW))" pipe \
		    "$OUT/synflood.pcap" -w /dev/null --max-flows "$SYN_MAX" \
		    --hold-mem 1M
		expect_exit 0
		planted_or_dropped
		equal packets_written "$planted"
		nonzero flows_evicted packets_dropped
		rss_max $((1 * MIB)) "$SYN_MAX"
		time_max "$TMAX"
		report "synflood-stream (--hold-mem 1M)"
		rm -f "$OUT/synflood.pcap"
	else
		problem "adversary failed"
		report synflood
	fi
fi

# Fragments that never complete: pending data is capped at 64 MiB
# (DEFRAG_MEM_MAX) and 65,536 datagrams; bound 64 MiB + 65,536 x 1 KiB of
# bookkeeping.
for v in 4 6; do
	selected "frag$v" || continue
	if gen "frag$v" "frag$v" "$FRAG_N" "$FRAG_SIZE"; then
		run "frag$v" "$((LIMIT * SLOW))" file "$OUT/frag$v.pcap" \
		    -w /dev/null
		expect_exit 0
		all_planted
		nonzero fragments datagrams_incomplete fragment_mem_evictions
		equal datagrams_reassembled 1
		rss_max $((64 * MIB + 64 * MIB))
		time_max "$TMAX"
		report "frag$v ($FRAG_N fragments of $FRAG_SIZE bytes)"

		run "frag$v-stream" "$((LIMIT * SLOW))" pipe \
		    "$OUT/frag$v.pcap" -w /dev/null --hold-mem 2M
		expect_exit 0
		planted_or_dropped
		nonzero packets_dropped fragment_mem_evictions
		rss_max $((64 * MIB + 64 * MIB + 2 * MIB))
		time_max "$TMAX"
		report "frag$v-stream (--hold-mem 2M)"
		rm -f "$OUT/frag$v.pcap"
	else
		problem "adversary failed"
		report "frag$v"
	fi
done

# Overlapping fragments and retransmissions whose bytes differ: the first
# bytes win, so PLANT survives being overwritten.
if selected overlap; then
	if gen overlap overlap "$OVERLAP_N"; then
		run overlap "$((LIMIT * SLOW))" file "$OUT/overlap.pcap" \
		    -w /dev/null
		expect_exit 0
		all_planted
		equal flows_matched 2
		nonzero fragment_overlaps overlap_conflicts
		rss_max $((4 * MIB))
		time_max "$TMAX"
		report "overlap ($OVERLAP_N datagrams and connections)"
	else
		problem "adversary failed"
		report overlap
	fi
fi

# Out-of-order segments behind a gap that never fills: each direction
# queues at most 1 MiB (REASM_OOO_MAX_DIR), all together 128 MiB; bound
# min(flows x 1.5 MiB, 160 MiB).
if selected ooo; then
	if gen ooo ooo "$OOO_FLOWS" "$OOO_SEGS"; then
		q=$((OOO_FLOWS * 3 * MIB / 2))
		[ "$q" -gt $((160 * MIB)) ] && q=$((160 * MIB))
		run ooo "$((LIMIT * SLOW))" file "$OUT/ooo.pcap" -w /dev/null
		expect_exit 0
		all_planted
		equal flows_matched 2
		nonzero ooo_segments ooo_cap_hits tcp_gaps
		rss_max "$q"
		time_max "$TMAX"
		report "ooo ($OOO_FLOWS flows x $OOO_SEGS segments)"
		rm -f "$OUT/ooo.pcap"
	else
		problem "adversary failed"
		report ooo
	fi
fi

# 1-byte segments: PLANT spans twelve of them; the reversed flow hits the
# queue's segment cap (4,096). Bound 8 MiB.
if selected tiny; then
	if gen tiny tiny "$TINY_N"; then
		run tiny "$((LIMIT * SLOW))" file "$OUT/tiny.pcap" -w /dev/null
		expect_exit 0
		all_planted
		nonzero ooo_cap_hits
		rss_max $((8 * MIB))
		time_max "$TMAX"
		report "tiny ($TINY_N 1-byte segments each way)"
		rm -f "$OUT/tiny.pcap"
	else
		problem "adversary failed"
		report tiny
	fi
fi

# Sequence numbers that wrap: PLANT straddles the wrap; the one gap is the
# second connection's lost segment, not the wrap.
if selected wrap; then
	if gen wrap wrap; then
		run wrap "$((LIMIT * SLOW))" file "$OUT/wrap.pcap" -w /dev/null
		expect_exit 0
		all_planted
		equal flows_matched 1
		equal tcp_gaps 1
		rss_max $((4 * MIB))
		time_max "$TMAX"
		report "wrap"
	else
		problem "adversary failed"
		report wrap
	fi
fi

# Spoofed RSTs outside the window and SYNs mid-flow do not end a flow
# (RFC 5961); an in-window RST does, and a new SYN on the tuple opens a
# new flow.
if selected rstsyn; then
	if gen rstsyn rstsyn "$SMALL_N"; then
		run rstsyn "$((LIMIT * SLOW))" file "$OUT/rstsyn.pcap" \
		    -w /dev/null
		expect_exit 0
		all_planted
		equal flows_matched 2
		equal rst_ignored $((SMALL_N * 3))
		rss_max $((4 * MIB))
		time_max "$TMAX"
		report "rstsyn ($SMALL_N flows)"
	else
		problem "adversary failed"
		report rstsyn
	fi
fi

# Zero-length records and frames cut inside Ethernet are units of their
# own; -v writes exactly the rest.
if selected zerolen; then
	if gen zerolen zerolen "$SMALL_N"; then
		run zerolen "$((LIMIT * SLOW))" file "$OUT/zerolen.pcap" \
		    -w /dev/null
		expect_exit 0
		all_planted
		nonzero bad_link single_units
		rss_max $((4 * MIB))
		time_max "$TMAX"
		report "zerolen ($SMALL_N records of 0 bytes)"
		run zerolen-v "$((LIMIT * SLOW))" file "$OUT/zerolen.pcap" \
		    -w /dev/null -v
		expect_exit 0
		equal packets_written $((records - planted))
		rss_max $((4 * MIB))
		report "zerolen -v (the rest, exactly)"
	else
		problem "adversary failed"
		report zerolen
	fi
	# No records at all: nothing selected (exit 1); no file header: an
	# error naming the input (exit 2).
	if gen empty zerolen 0; then
		run empty "$((LIMIT * SLOW))" file "$OUT/empty.pcap" -w /dev/null
		expect_exit 1
		equal packets_read 0
		report "zerolen-empty (a file header, no records)"
	fi
	: >"$OUT/nothing.pcap"
	run nothing "$((LIMIT * SLOW))" file "$OUT/nothing.pcap" -w /dev/null
	expect_exit 2
	grep -q "nothing.pcap" "$OUT/nothing.err" ||
	    problem "the error does not name the file"
	report "zerolen-file (0 bytes)"
fi

# A snap length shorter than the headers: every cut is counted by reason,
# and PLANT in what the snap length kept is still found.
if selected snap; then
	if gen snap snap "$SMALL_N"; then
		run snap "$((LIMIT * SLOW))" file "$OUT/snap.pcap" -w /dev/null
		expect_exit 0
		all_planted
		nonzero bad_link bad_ip bad_transport truncated_payload
		rss_max $((8 * MIB))
		time_max "$TMAX"
		report "snap ($SMALL_N cut packets, snap length 96)"
	else
		problem "adversary failed"
		report snap
	fi
fi

# One long flow, PLANT at its end. File input keeps nothing in memory
# (two passes): bound 8 MiB, whatever the size. Stream input
# holds the flow until PLANT decides it: past --hold-mem the oldest
# packets are dropped, and written + dropped is every packet.
if selected longflow; then
	if gen longflow longflow "$LONG_BYTES"; then
		run longflow "$((LIMIT * SLOW))" file "$OUT/longflow.pcap" \
		    -w /dev/null
		expect_exit 0
		all_planted
		equal packets_read "$records"
		rss_max $((8 * MIB))
		time_max "$TMAX"
		report "longflow ($LONG_BYTES, file)"
		rm -f "$OUT/longflow.pcap"
	else
		problem "adversary failed"
		report longflow
	fi
	run longflow-stream "$((LIMIT * SLOW))" "gen:longflow:$LONG_BYTES" \
	    - -w /dev/null --hold-mem 8M
	counts "$OUT/longflow-stream.gen"
	expect_exit 0
	nonzero packets_dropped
	equal packets_read "$records"
	[ $(($(stat packets_written) + $(stat packets_dropped))) = "$records" ] ||
	    problem "written $(stat packets_written) + dropped" \
	    "$(stat packets_dropped) != $records read"
	rss_max $((8 * MIB + 8 * MIB))
	time_max "$TMAX"
	report "longflow-stream ($LONG_BYTES piped, --hold-mem 8M)"
fi

echo "e2e_adversary: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
