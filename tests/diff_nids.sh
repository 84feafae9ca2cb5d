#!/bin/sh
# diff_nids.sh: flowgrep's TCP reassembly against libnids on the corpus.
#
# For every corpus capture with TCP handshakes (from MANIFEST.tsv: features
# name tcp, and some TCP stream has a SYN), build/nidsdump prints libnids'
# reassembled bytes per connection and direction, build/streamdump -p the
# same for flowgrep's engine, as "CLIENT SERVER DIR LENGTH SHA256" lines, and
# the lines of the connections libnids saw must be equal.
#
# What is compared, and why only that:
#  - libnids follows only IPv4 connections whose three-way handshake it saw;
#    flowgrep also reports connections picked up mid-stream, IPv6 and the
#    like. Only connections libnids reports are compared; one of those that
#    flowgrep lacks is a failure.
#  - libnids never skips a hole: the bytes after one stay queued and are
#    dropped at the end. flowgrep skips gaps (DESIGN.md section 3), so a
#    direction with a gap is compared up to its first gap (streamdump -p),
#    and the line says how many such directions there were.
#  - Both run without checksum verification (nidsdump turns libnids' off).
#  - A connection reused (a new SYN on its ports) gives two lines per
#    direction in both tools; the lines are compared as sorted lists.
#
# Known differences that make a comparison meaningless are listed in
# EXCLUDE below, each with its reason, which is printed whenever it applies;
# nothing is left out silently. Other libnids behaviours that could make the
# two differ (see the top of tests/nidsdump.c) show as failures, to be
# judged one by one: it drops segments that start outside the receiver's
# last advertised window and, with timestamps, older than the last one seen
# (PAWS); it accepts any RST inside that window; when queued out-of-order
# segments overlap with different bytes, the one with the lower sequence
# number wins, not the first seen; past 64 KiB it throws its queue away.
#
# Output: "ok", "FAIL" or "skip" and the capture's name per capture, with
# the reason of a skip or exclusion, and for a failure each differing
# direction with both tools' length and hash and where the bytes first
# differ; then "diff_nids: N passed, M failed, K skipped".
#
# Usage: sh tests/diff_nids.sh [--tshark] [CAPTURE...]
#	--tshark  check nidsdump itself against tshark's "follow,tcp,raw"
#		  instead: each libnids direction must be tshark's bytes or a
#		  prefix of them (libnids stops at holes, RSTs and truncation)
#	CAPTURE   corpus file names (default: the selection from MANIFEST.tsv)
# Environment: BUILD (default build), FLOWGREP_CORPUS (default
# ../shared/corpus beside the repository). Exit status: 0 no failure, 1 some
# capture failed, 2 the tools are missing.

set -u
LC_ALL=C
export LC_ALL

root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) bindir=$BUILD ;;
*) bindir=$root/$BUILD ;;
esac
corpus=${FLOWGREP_CORPUS:-$root/../shared/corpus}
nidsdump=$bindir/nidsdump
streamdump=$bindir/streamdump

# Exclusions, one per record: CAPTURE|CONNECTION|REASON, CONNECTION being
# "CLIENT SERVER DIR" (one direction) or * (the whole capture, which then
# counts as skipped). A line starting with a tab continues the record above.
EXCLUDE='
zeek--timestamp.pcap|*|691 of its 878 frames are cut by the snap length:
	libnids drops an IP packet shorter than its total length whole
	(gen_ip_frag_proc), so it delivers nothing past the first one, while
	flowgrep reassembles the captured bytes and skips only what is missing
nDPI--fuzz-2006-09-29-28586.pcap|172.20.3.5:2605 172.20.3.13:80 c|frame 72
	(fuzzed) says IP total length 9587 in a 1514-byte frame: libnids drops
	the packet whole, flowgrep keeps its 1460 bytes as a truncated packet
	and skips the rest as a gap (tshark keeps them too)
zeek--vlan-collisions.pcap|*|one 5-tuple untagged, as QinQ 10/20 and as
	VLAN 42: flowgrep keys flows by VLAN (three flows), libnids ignores the
	802.1Q ID and does not parse QinQ (one connection mixing two of the
	copies)
tcpflow--bug6.pcap|192.168.1.103:36324 171.25.221.158:80 s|the client,
	closed, answers the data the server still sends with RSTs (frames
	26-38): libnids ends the connection at the first, at offset 5792;
	flowgrep reads on for 1 s after a RST (a RST may never reach its
	receiver: an insertion), as the stream tshark follows does, to 18824
'

tshark_mode=false
if [ "${1:-}" = --tshark ]; then
	tshark_mode=true
	shift
fi

if [ ! -d "$corpus" ] || [ ! -r "$corpus/MANIFEST.tsv" ]; then
	echo "diff_nids: corpus $corpus absent, skipped"
	echo "diff_nids: 0 passed, 0 failed, 0 skipped"
	exit 0
fi
if [ ! -x "$nidsdump" ]; then
	echo "diff_nids: $nidsdump missing (make $BUILD/nidsdump)" >&2
	exit 2
fi
if ! $tshark_mode && [ ! -x "$streamdump" ]; then
	echo "diff_nids: $streamdump missing (make $BUILD/streamdump)" >&2
	exit 2
fi
if $tshark_mode && ! command -v tshark >/dev/null 2>&1; then
	echo "diff_nids: tshark not installed" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/diff_nids.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' HUP INT TERM

# Captures with TCP and at least one stream that starts with a SYN.
select_captures() {
	awk -F '\t' 'NR > 1 && $10 ~ /(^|,)tcp(,|$)/ {
		n = $11; sub(/.*tcp_streams=/, "", n); sub(/[^0-9].*/, "", n)
		m = $11; sub(/.*tcp_streams_without_syn=/, "", m)
		sub(/[^0-9].*/, "", m)
		if (n + 0 > m + 0)
			print $1
	}' "$corpus/MANIFEST.tsv"
}

# The exclusion records, one per line.
exclusions() {
	printf '%s' "$EXCLUDE" | awk '
	/^\t/ { sub(/^\t+/, " "); rec = rec $0; next }
	{ if (rec != "") print rec; rec = $0 }
	END { if (rec != "") print rec }'
}

# Prints the reason a whole capture is excluded, if it is.
whole_exclusion() {
	exclusions | awk -F '|' -v f="$1" \
	    '$1 == f && $2 == "*" { print $3 }'
}

# Removes excluded connections of capture $1 from file $2 (in place) and
# notes each exclusion that applied in $tmp/excl.log.
drop_excluded() {
	exclusions | awk -F '|' -v f="$1" \
	    '$1 == f && $2 != "*" { print $2 "|" $3 }' >"$tmp/excl"
	awk -v excl="$tmp/excl" -v logf="$tmp/excl.log" '
	BEGIN {
		while ((getline l < excl) > 0) {
			i = index(l, "|")
			why[substr(l, 1, i - 1)] = substr(l, i + 1)
		}
	}
	{
		k = $1 " " $2 " " $3
		if (k in why) {
			if (!(k in said))
				print "      excluded " k ": " why[k] >> logf
			said[k] = 1
			next
		}
		print
	}' "$2" >"$2.tmp" && mv "$2.tmp" "$2"
}

# Keeps the lines of file $1 whose connection (first two fields) is in
# file $2.
restrict_to() {
	awk 'NR == FNR { seen[$1 " " $2] = 1; next }
	    ($1 " " $2) in seen' "$2" "$1"
}

# Shortens " LEN/SHA" lists to " LEN SHA12..".
short() {
	echo "$1" | sed 's|/\([0-9a-f]\{12\}\)[0-9a-f]*| \1..|g'
}

# Explains each differing line of capture $1: nids lines $2, other lines $3
# (all of the other tool's lines in $3.all), byte dumps in $4/nids and
# $4/other, the other tool named $5.
explain() {
	nfile=$2
	ofile=$3
	dumps=$4
	tool=$5
	awk 'NR == FNR { k = $1 " " $2 " " $3; n[k] = n[k] " " $4 "/" $5; next }
	    { k = $1 " " $2 " " $3; o[k] = o[k] " " $4 "/" $5 }
	    END {
		for (k in n)
			if (n[k] != o[k])
				print k "|" n[k] "|" (k in o ? o[k] : "")
	    }' "$nfile" "$ofile" | sort | while IFS='|' read -r key nv ov; do
		kc=${key%% *}
		rest=${key#* }
		ks=${rest%% *}
		kd=${rest#* }
		name="$kc-$ks-$kd"
		if [ -z "$ov" ]; then
			printf '      %s: missing in %s' "$key" "$tool"
			if grep -q "^$ks $kc " "$ofile.all" 2>/dev/null; then
				printf ' (it has %s %s: roles swapped)' \
				    "$ks" "$kc"
			fi
			printf '\n'
			continue
		fi
		printf '      %s: libnids%s, %s%s\n' "$key" "$(short "$nv")" \
		    "$tool" "$(short "$ov")"
		a=$dumps/nids/$name
		b=$dumps/other/$name
		[ -f "$a" ] || : >"$a"
		[ -f "$b" ] || : >"$b"
		sa=$(wc -c <"$a" | tr -d ' ')
		sb=$(wc -c <"$b" | tr -d ' ')
		r=$(cmp "$a" "$b" 2>&1)
		case $r in
		*differ*)
			off=$(echo "$r" |
			    sed 's/.*differ: [a-z]* \([0-9]*\).*/\1/')
			echo "        first differing byte at offset" \
			    "$((off - 1))" ;;
		*EOF*)
			if [ "$sa" -lt "$sb" ]; then
				echo "        same bytes up to offset $sa," \
				    "where libnids ends; $tool goes on to $sb"
			else
				echo "        same bytes up to offset $sb," \
				    "where $tool ends; libnids goes on to $sa"
			fi ;;
		esac
	done
}

# Writes tshark's reassembled bytes of capture $1 into directory $2 as
# NODE0-NODE1-c and NODE0-NODE1-s (node 0 sent the first packet).
tshark_streams() {
	capture=$1
	outdir=$2
	ids=$(tshark -r "$capture" -T fields -e tcp.stream 2>/dev/null |
	    grep '^[0-9]' | sort -nu)
	set --
	for id in $ids; do
		set -- "$@" -z "follow,tcp,raw,$id"
	done
	[ $# -gt 0 ] || return 0
	tshark -r "$capture" -q "$@" 2>/dev/null | awk -v dir="$outdir" '
	/^Node 0: / { n0 = substr($0, 9); next }
	/^Node 1: / { n1 = substr($0, 9); next }
	/^\t?[0-9a-f]+$/ {
		side = substr($0, 1, 1) == "\t" ? "s" : "c"
		out = dir "/" n0 "-" n1 "-" side ".hex"
		sub(/^\t/, "")
		print >> out
		close(out)
	}'
	for h in "$outdir"/*.hex; do
		[ -f "$h" ] || continue
		xxd -r -p "$h" >"${h%.hex}"
		rm -f "$h"
	done
}

passed=0
failed=0
skipped=0

if [ $# -gt 0 ]; then
	captures="$*"
else
	captures=$(select_captures)
fi

for f in $captures; do
	path=$corpus/$f
	if [ ! -r "$path" ]; then
		echo "skip $f: not in the corpus"
		skipped=$((skipped + 1))
		continue
	fi
	why=$(whole_exclusion "$f")
	if [ -n "$why" ] && ! $tshark_mode; then
		echo "skip $f: excluded: $why"
		skipped=$((skipped + 1))
		continue
	fi
	rm -rf "$tmp/d"
	mkdir -p "$tmp/d/nids" "$tmp/d/other"
	: >"$tmp/excl.log"
	"$nidsdump" -o "$tmp/d/nids" "$path" >"$tmp/n" 2>"$tmp/n.err"
	rc=$?
	case $rc in
	0) ;;
	3)
		echo "skip $f: link type libnids does not read"
		skipped=$((skipped + 1))
		continue ;;
	2)
		echo "skip $f: libnids cannot open it:" \
		    "$(head -n 1 "$tmp/n.err")"
		skipped=$((skipped + 1))
		continue ;;
	*)
		echo "FAIL $f: nidsdump exited $rc: $(head -n 1 "$tmp/n.err")"
		failed=$((failed + 1))
		continue ;;
	esac
	if [ ! -s "$tmp/n" ]; then
		echo "skip $f: libnids saw no IPv4 connection" \
		    "with a whole handshake"
		skipped=$((skipped + 1))
		continue
	fi

	if $tshark_mode; then
		tshark_streams "$path" "$tmp/d/other"
		: >"$tmp/o.all"
		bad=0
		prefix=0
		while read -r c s d len _; do
			a=$tmp/d/nids/$c-$s-$d
			b=$tmp/d/other/$c-$s-$d
			# tshark prints nothing for a direction without data.
			[ -f "$a" ] || : >"$a"
			[ -f "$b" ] || : >"$b"
			if cmp -s "$a" "$b"; then
				:
			elif tl=$(wc -c <"$b" | tr -d ' ') &&
			    [ "$len" -lt "$tl" ] &&
			    cmp -s -n "$len" "$a" "$b"; then
				prefix=$((prefix + 1))
				echo "      $c $s $d: libnids stops at $len" \
				    "of tshark's $tl bytes"
			else
				echo "      $c $s $d: $(cmp "$a" "$b" 2>&1 |
				    sed "s|$tmp/d/nids/[^ ]*|libnids|;
				    s|$tmp/d/other/[^ ]*|tshark|; s/cmp: //")"
				bad=1
			fi
		done <"$tmp/n" >"$tmp/detail"
		conns=$(($(wc -l <"$tmp/n") / 2))
		if [ $bad = 0 ]; then
			echo "ok   $f ($conns connections," \
			    "$prefix directions a prefix of tshark's)"
			cat "$tmp/detail"
			passed=$((passed + 1))
		else
			echo "FAIL $f"
			cat "$tmp/detail"
			failed=$((failed + 1))
		fi
		continue
	fi

	"$streamdump" -p -o "$tmp/d/other" "$path" >"$tmp/o.all" 2>"$tmp/o.err"
	rc=$?
	if [ $rc != 0 ] && [ $rc != 3 ]; then
		echo "FAIL $f: streamdump exited $rc: $(head -n 1 "$tmp/o.err")"
		failed=$((failed + 1))
		continue
	fi
	restrict_to "$tmp/o.all" "$tmp/n" >"$tmp/o.ann"
	sort "$tmp/n" >"$tmp/n.s"
	drop_excluded "$f" "$tmp/n.s"
	drop_excluded "$f" "$tmp/o.ann"
	gaps=$(grep -c ' gap@' "$tmp/o.ann")
	awk '{ print $1, $2, $3, $4, $5 }' "$tmp/o.ann" | sort >"$tmp/o"
	conns=$(awk '{ print $1, $2 }' "$tmp/n.s" | sort -u | wc -l)
	if cmp -s "$tmp/n.s" "$tmp/o"; then
		echo "ok   $f ($conns connections," \
		    "$gaps directions compared up to a gap)"
		passed=$((passed + 1))
	else
		echo "FAIL $f ($conns connections)"
		explain "$f" "$tmp/n.s" "$tmp/o" "$tmp/d" flowgrep
		failed=$((failed + 1))
	fi
	if [ -s "$tmp/excl.log" ]; then
		sort -u "$tmp/excl.log"
	fi
done

echo "diff_nids: $passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
