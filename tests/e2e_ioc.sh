#!/bin/sh
# e2e_ioc.sh: an IOC-like pattern list over real HTTP captures: Vectorscan with its shortcuts reports what PCRE2 alone reports.
#
# Run from the repository root: BUILD=build FLOWGREP=build/flowgrep sh
# tests/e2e_ioc.sh (make check does).
#
# The list has what bench/gen-patterns.py puts in a threat feed, shaped to
# reach every shortcut the matcher takes for a large set (see the top of
# match.c): dozens of "User-Agent: [A-Za-z]+/..." lines (gated patterns
# sharing a head, searched as one group), dozens of "(GET|POST) /x...[a-z]*"
# lines (gated, each its own head, found by the trie of leading literals),
# literals and bounded regexes (Vectorscan alone), and a few of each kind
# that match requests in the corpus, some of them split across segments.
# Each line is both a client (-f) and a server (-F) pattern.
#   ioc/CAPTURE   the report lines (time, flow, direction, pattern, excerpt)
#                 and the packets written are the same with Vectorscan and
#                 with PCRE2 alone (FLOWGREP_NO_VECTORSCAN=1); the packets
#                 with Vectorscan on the match thread (--match-thread
#                 always), those with PCRE2 alone without it (never).
#   ioc/cut/CAPTURE  the same with every TCP segment cut into pieces of 1,
#                 3, 7, 2 and 13 bytes (tests/e2e/reseg.py): the same
#                 reports as the capture uncut.
#   ioc/selected  the flows the matching lines must select are selected.

LC_ALL=C
export LC_ALL
# shellcheck source=tests/e2e/lib.sh
. "$(pwd)/tests/e2e/lib.sh"
OUT=${E2E_OUT:-$ROOT/tests/out}/ioc
rm -rf "$OUT"
mkdir -p "$OUT"
unset FLOWGREP_NO_VECTORSCAN

CAPS="tcpflow--jpegs.cap nDPI--WebattackRCE.pcap nDPI--log4j-webapp-exploit.pcap
suricata-verify--with_evasion_linux.pcap suricata-verify--http-ipv6_input.pcap
suricata-verify--without_evasion.pcap tcpflow--test3.pcap tcpflow--test4.pcap"

if [ -z "$CORPUS" ]; then
	skipped "ioc/*" "no corpus"
	e2e_summary e2e_ioc
	exit
fi

PATS=$OUT/patterns.txt
{
	i=0
	while [ $i -lt 60 ]; do
		printf 'User-Agent: [A-Za-z]+/x%02d;\n' $i
		printf '(GET|POST) /zq%02d[a-z0-9_]*\\.(exe|dll|ps1) HTTP\n' $i
		printf 'c2-%02dhxq[0-9]{2,4}\\.(ru|top)\n' $i
		printf '%02d5f0e7a9c3b1d8e2f4a6c0b9d7e5f3a1c\n' $i
		i=$((i + 1))
	done
	# These match requests of the corpus.
	echo 'User-Agent: [A-Za-z]+/4\.0 \(compatible; MSIE'
	echo 'User-Agent: [A-Za-z]+/5\.0 \(X11'
	echo '(GET|POST) /[a-z0-9_-]*/[a-z]*\.php\?collection='
	echo '(GET|POST) /[A-Za-z]+\.class HTTP'
	echo '(GET|POST) /scripts/[a-z]+/[a-z]+\.asp'
	echo 'jndi:ldap://'
	echo 'CVE-2014-[0-9]{4}'
} >"$PATS"

# run NAME CAPTURE ARGS...: flowgrep -f PATS -F PATS over CAPTURE, report
# lines in NAME.txt, packets in NAME.pcap; sets rc.
run() {
	r_name=$1
	r_cap=$2
	shift 2
	"$FG" -r "$CORPUS/$r_cap" -f "$PATS" -F "$PATS" "$@" \
	    >"$OUT/$r_name.txt" 2>"$OUT/$r_name.err"
	rc=$?
	[ "$rc" -le 1 ] ||
		problem "$r_name: exit status $rc: $(head -2 "$OUT/$r_name.err")"
	"$FG" -q -r "$CORPUS/$r_cap" -f "$PATS" -F "$PATS" \
	    -w "$OUT/$r_name.pcap" "$@" 2>>"$OUT/$r_name.err"
}

# same NAME: NAME's reports and packets are those of PCRE2 alone.
same() {
	cmp -s "$OUT/$1.hs.txt" "$OUT/$1.pcre2.txt" ||
		problem "reports differ: diff $OUT/$1.hs.txt $OUT/$1.pcre2.txt"
	cmp -s "$OUT/$1.hs.pcap" "$OUT/$1.pcre2.pcap" ||
		problem "packets differ: $OUT/$1.hs.pcap $OUT/$1.pcre2.pcap"
}

PY=$(command -v python3)
total=0
for cap in $CAPS; do
	if [ ! -r "$CORPUS/$cap" ]; then
		skipped "ioc/$cap" "not in the corpus"
		continue
	fi
	run "$cap.hs" "$cap" --match-thread always
	FLOWGREP_NO_VECTORSCAN=1 run "$cap.pcre2" "$cap" --match-thread never
	same "$cap"
	total=$((total + $(wc -l <"$OUT/$cap.hs.txt")))
	finish "ioc/$cap: $(wc -l <"$OUT/$cap.hs.txt" | tr -d ' ') flows, as PCRE2 alone"
	if [ -z "$PY" ]; then
		skipped "ioc/cut/$cap" "no python3"
		continue
	fi
	# Every segment cut into pieces of 1 to 13 bytes: the same flows.
	"$PY" tests/e2e/reseg.py "$CORPUS/$cap" "$OUT/cut-$cap" ||
		problem "reseg.py failed"
	corpus=$CORPUS
	CORPUS=$OUT
	run "cut-$cap.hs" "cut-$cap" --match-thread always
	FLOWGREP_NO_VECTORSCAN=1 run "cut-$cap.pcre2" "cut-$cap" \
	    --match-thread never
	CORPUS=$corpus
	same "cut-$cap"
	cmp -s "$OUT/cut-$cap.hs.txt" "$OUT/$cap.hs.txt" ||
		problem "cut: other reports: diff $OUT/$cap.hs.txt $OUT/cut-$cap.hs.txt"
	finish "ioc/cut/$cap: cut into segments of 1 to 13 bytes, the same reports"
done

# expect CAPTURE TEXT: CAPTURE's report has a line holding TEXT.
expect() {
	[ ! -r "$CORPUS/$1" ] || grep -qF -- "$2" "$OUT/$1.hs.txt" ||
		problem "$1: no flow reported with $2"
}
expect tcpflow--jpegs.cap 'MSIE'
expect tcpflow--jpegs.cap 'xcms.asp'
expect nDPI--WebattackRCE.pcap 'moadmin.php?collection='
expect nDPI--WebattackRCE.pcap 'CVE-2014-6271'
expect nDPI--log4j-webapp-exploit.pcap 'Exploit.class'
expect nDPI--log4j-webapp-exploit.pcap 'jndi:ldap://'
expect suricata-verify--without_evasion.pcap 'X11'
expect suricata-verify--with_evasion_linux.pcap 'X11'
expect tcpflow--test4.pcap 'X11'
finish "ioc/selected: the requests the list names are reported ($total flows)"

e2e_summary e2e_ioc
