#!/bin/sh
# e2e_shard.sh: --shard and --fanout split the flows exactly; contrib merges.
#
# Run from the repository root: BUILD=build sh tests/e2e_shard.sh.
#
#   usage       bad --shard values and --fanout with -r: exit 2, exact message.
#   shard N=n   for n = 1, 2, 3, 7, on generated captures (mkcap --list) and
#               corpus captures (fragments, VLANs, many flows, non-IP, pcapng),
#               the n shards of each run are compared with the unsharded run:
#                 (a) their -w outputs, merged by time with mergecap, hold
#                     exactly the unsharded output's records (as a multiset
#                     of timestamp, lengths and bytes), for -a PATTERN, for
#                     -v -a PATTERN and for -a '';
#                 (b) with -a '' they partition the input: each record read
#                     (as libpcap or tests/e2e/pcapset.py reads it) is in
#                     exactly one shard;
#                 (c) their report lines, together, are the unsharded run's
#                     lines as a multiset (each flow reported once, alike);
#                 (d) no record is in two shards;
#               and the exit statuses, combined as grep's (an error wins,
#               then a selection), equal the unsharded run's.
#   contrib     contrib/flowgrep-shards.sh (GNU parallel, mergecap) gives
#               the unsharded output and exit status, locally and through
#               parallel -S with a stand-in for ssh that runs the "remote"
#               command here in another directory.
#   fanout P=p  live: in two network namespaces of its own joined by a veth
#               pair (10.98.0.1, fd98::1 and 10.98.0.2, fd98::2), p flowgrep
#               processes with --fanout 7 on one end, while a client makes
#               40 TCP connections over IPv4, 10 over IPv6 and 10 UDP
#               conversations with a fragmented datagram: each must be
#               reported by exactly one process. Needs root, ip(8), python3.
#               (Fragmented IPv6 is left out: the kernel reassembles only
#               IPv4 for the fanout hash, see contrib/README.md.)
#
# Prints "ok NAME", "FAIL NAME" with indented details, or "skip NAME (why)",
# then "e2e_shard: N passed, M failed, K skipped"; exits 1 if any failed.
#
# Environment: BUILD (default build), FLOWGREP (default ./flowgrep),
# FLOWGREP_CORPUS (default ../shared/corpus), SHARD_CORPUS=all (every corpus
# capture instead of the chosen ones; slower), SHARD_OUT (scratch
# directory, default tests/out/shard, emptied first), SHARD_TIMEOUT
# (seconds one flowgrep run may take, default 60), SHARD_JOBS (captures
# checked at once, default the number of CPUs), SHARD_ONLY (run only this
# part: usage, shard, contrib or fanout).

# The per-mode statuses and file lists are set and read through eval.
# shellcheck disable=SC2034,SC2154
LC_ALL=C
export LC_ALL
# ROOT, BUILD, FG, MKCAP, CORPUS; ok/FAIL/skip lines, have and PY.
. "$(pwd)/tests/e2e/lib.sh"
OUT=${SHARD_OUT:-$ROOT/tests/out/shard}
TIMEOUT=${SHARD_TIMEOUT:-60}
PCAPSET=$ROOT/tests/e2e/pcapset.py
SHARDS="1 2 3 7"
# A pattern that selects some flows of most captures and not others.
PAT='(?i)get /|host:|\x00\x00\x01|secret|[\x80-\xff]{4}'
# Corpus captures for the shard cases: IPv4/IPv6 fragments, VLANs and QinQ,
# many flows, non-IP packets, Linux cooked captures, pcapng, tunnels, damage.
CORPUS_PICK="nDPI--dns_fragmented.pcap tcpflow--jpegs.cap
zeek--fragmented-4.pcap zeek--ipv6-http-atomic-frag.pcap
nDPI--ip_fragmented_garbage.pcap suricata-verify--frag-eth-vlan-ip-tcp-syn.pcap
zeek--vlan-collisions.pcap tcpdump--802.1ad_QinQ.pcap zeek--methods.pcap
nDPI--synscan.pcap zeek--linux_dlt_sll2.pcap nDPI--steam.pcapng
zeek--pcapng-multi-interface.pcapng zeek--irc-dcc-send.pcapng
tcpflow--udp.pcap suricata-verify--gre-sample.pcap
suricata-verify--ipv4_over_ipv6.pcap zeek--truncated-header.pcap"


TIMEOUT_CMD=
have timeout && TIMEOUT_CMD="timeout $TIMEOUT"
# Captures checked at once (each case is many short runs).
JOBS=${SHARD_JOBS:-$(nproc 2>/dev/null || echo 2)}

rm -rf "$OUT"
mkdir -p "$OUT" || exit 2

flowgrep() {
	$TIMEOUT_CMD "$FG" "$@"
}

# Combines exit statuses as grep's over several runs, in variable $1:
# another status than 0 or 1 (an error, a crash, a timeout) wins, then 0
# (something selected). $2 is the next run's status; $1 starts empty.
combine() {
	eval "cs=\$$1"
	case $cs/$2 in
	/*) cs=$2 ;;
	[01]/0) cs=0 ;;
	[01]/1) ;;
	[01]/*) cs=$2 ;;
	esac
	eval "$1=\$cs"
}

# ---- the record comparer ----

# shardset.py LIST: each line of LIST is "LABEL<TAB>REF<TAB>FILE..." (classic
# pcap files). Checks that the FILEs together hold exactly REF's records as
# a multiset (timestamp, captured and original length, bytes; timestamps at
# the coarser precision of the files) and that no record is in two FILEs.
# Prints "LABEL: problem" lines; exits 1 if there were any.
cat >"$OUT/shardset.py" <<'EOF'
import os
import struct
import sys
from collections import Counter

MAGIC = {b"\xd4\xc3\xb2\xa1": ("<", False), b"\xa1\xb2\xc3\xd4": (">", False),
         b"\x4d\x3c\xb2\xa1": ("<", True), b"\xa1\xb2\x3c\x4d": (">", True)}


def read(path):
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 24 or buf[:4] not in MAGIC:
        raise ValueError("%s: not a classic pcap file" % path)
    e, nsec = MAGIC[buf[:4]]
    major, minor = struct.unpack(e + "HH", buf[4:8])
    recs, off = [], 24
    while off < len(buf):
        if off + 16 > len(buf):
            raise ValueError("%s: truncated record header" % path)
        sec, frac, caplen, olen = struct.unpack(e + "IIII", buf[off:off + 16])
        # Version 2.0-2.2 files have the lengths swapped, 2.3 maybe; read
        # them as libpcap does (sf-pcap.c), as tests/e2e/pcapset.py does.
        if major == 2 and (minor < 3 or (minor == 3 and caplen > olen)):
            caplen, olen = olen, caplen
        data = buf[off + 16:off + 16 + caplen]
        if len(data) != caplen:
            raise ValueError("%s: truncated record" % path)
        recs.append((sec, frac, caplen, olen, data))
        off += 16 + caplen
    return nsec, recs


def keys(nsec, recs, coarse):
    scale = (1000 if coarse else 1) if nsec else 1
    return [(s, f // scale, c, o, d) for s, f, c, o, d in recs]


def show(k, digits):
    return "time %d.%0*d, %d/%d bytes" % (k[0], digits, k[1], k[2], k[3])


def check(label, ref, files):
    out = []
    try:
        loaded = [read(p) for p in [ref] + files]
    except (OSError, ValueError) as e:
        return ["%s: %s" % (label, e)]
    coarse = not all(n for n, _ in loaded)
    digits = 6 if coarse else 9
    sets = [keys(n, r, coarse) for n, r in loaded]
    want = Counter(sets[0])
    got = Counter()
    where = {}
    for i, s in enumerate(sets[1:]):
        got.update(s)
        for k in set(s):
            if k in where:
                a = os.path.basename(files[where[k]])
                b = os.path.basename(files[i])
                out.append("%s: record %s in %s and %s" %
                           (label, show(k, digits), a, b))
            else:
                where[k] = i
    missing = want - got
    extra = got - want
    if missing:
        k = min(missing)
        out.append("%s: %d records of %s in no output (first: %s)" %
                   (label, sum(missing.values()), ref, show(k, digits)))
    if extra:
        k = min(extra)
        out.append("%s: %d records not in %s (first: %s)" %
                   (label, sum(extra.values()), ref, show(k, digits)))
    return out[:6]


bad = False
with open(sys.argv[1]) as jobs:
    for line in jobs:
        f = line.rstrip("\n").split("\t")
        for p in check(f[0], f[1], f[2:]):
            print(p)
            bad = True
sys.exit(1 if bad else 0)
EOF

# ---- usage errors ----

# Runs flowgrep "$@" on a small capture; it must exit 2 with message $1.
usage_case() {
	want=$1
	shift
	got=$(flowgrep "$@" -r "$OUT/usage.pcap" -a x 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 2 ] || problem "exit status $rc, want 2"
	[ "$got" = "$want" ] || problem "stderr: $got
want:   $want"
	finish "usage $* -r FILE"
}

usage_errors() {
	see=" (see flowgrep --help)"
	f=$OUT/usage.pcap
	if [ -x "$MKCAP" ]; then
		"$MKCAP" split-match "$f" >/dev/null 2>&1
	else
		: >"$f"
	fi
	for s in 3/3 x 1/0 -1/2 2/-3 1/2/3 0/ /2 0/4294967296; do
		usage_case "flowgrep: --shard: '$s' is not K/N with 0 <= K < N$see" \
		    --shard "$s"
	done
	usage_case "flowgrep: --fanout needs a live capture, not -r$see" \
	    --fanout 1
}

# ---- shards of files ----

# Sets REF to the records of capture $1 as a reference reader gets them (a
# nanosecond classic pcap), as tests/e2e.sh does: libpcap for classic pcap,
# pcapset.py for pcapng (libpcap refuses interfaces that differ).
ref_of() {
	REF=$2/input.pcap
	: >"$REF"
	if [ "$(od -An -tx1 -N4 "$1" | tr -d ' \n')" = 0a0d0d0a ]; then
		$PY "$PCAPSET" ngref "$1" "$REF" >/dev/null 2>&1
	else
		tcpdump --time-stamp-precision=nano -r "$1" -w "$REF" \
		    >/dev/null 2>&1
	fi
}

# Runs the five runs of one shard (or of the unsharded run, $3 empty) of
# capture $1 with output prefix $2; sets rc_all, rc_pat, rc_inv (pcap) and
# rc_tall, rc_tpat, rc_tinv (report lines).
run_five() {
	cap=$1
	p=$2
	shift 2
	flowgrep -q -r "$cap" "$@" -a '' -w "$p.all.pcap" 2>"$p.err"
	rc_all=$?
	flowgrep -q -r "$cap" "$@" -a "$PAT" -w "$p.pat.pcap" 2>>"$p.err"
	rc_pat=$?
	flowgrep -q -r "$cap" "$@" -v -a "$PAT" -w "$p.inv.pcap" 2>>"$p.err"
	rc_inv=$?
	flowgrep -q -r "$cap" "$@" -a '' >"$p.all.txt" 2>>"$p.err"
	rc_tall=$?
	flowgrep -q -r "$cap" "$@" -a "$PAT" >"$p.pat.txt" 2>>"$p.err"
	rc_tpat=$?
	flowgrep -q -r "$cap" "$@" -v -a "$PAT" >"$p.inv.txt" 2>>"$p.err"
	rc_tinv=$?
}

# Merges shard outputs $2... into $1 as contrib/flowgrep-shards.sh does:
# mergecap -F pcap, or nsecpcap for nanosecond shards (pcap would cut the
# timestamps to microseconds). Outputs under 24 bytes (no file header,
# after an error) are left out.
merge() {
	m=$1
	shift
	fmt=pcap
	for f in "$@"; do
		shift
		[ -f "$f" ] && [ "$(wc -c <"$f")" -ge 24 ] || continue
		set -- "$@" "$f"
		case $(od -An -tx1 -N4 "$f" | tr -d ' \n') in
		4d3cb2a1 | a1b23c4d) fmt=nsecpcap ;;
		esac
	done
	if [ $# -eq 0 ]; then
		: >"$m"
		return 0
	fi
	mergecap -F "$fmt" -w "$m" "$@"
}

# The shard cases of capture $1, named $2: one per N, checked together.
shard_capture() {
	cap=$1
	name=$2
	d=$OUT/cap/$name
	mkdir -p "$d"
	ref_of "$cap" "$d"
	run_five "$cap" "$d/u"
	u_all=$rc_all u_pat=$rc_pat u_inv=$rc_inv
	u_tall=$rc_tall u_tpat=$rc_tpat u_tinv=$rc_tinv
	jobs=$d/jobs
	: >"$jobs"
	for n in $SHARDS; do
		c_all='' c_pat='' c_inv='' c_tall='' c_tpat='' c_tinv=''
		files_all='' files_pat='' files_inv=''
		k=0
		while [ "$k" -lt "$n" ]; do
			s=$d/n$n.s$k
			run_five "$cap" "$s" --shard "$k/$n"
			combine c_all $rc_all
			combine c_pat $rc_pat
			combine c_inv $rc_inv
			combine c_tall $rc_tall
			combine c_tpat $rc_tpat
			combine c_tinv $rc_tinv
			files_all="$files_all	$s.all.pcap"
			files_pat="$files_pat	$s.pat.pcap"
			files_inv="$files_inv	$s.inv.pcap"
			k=$((k + 1))
		done
		for m in all pat inv tall tpat tinv; do
			eval "u=\$u_$m c=\$c_$m"
			[ "$u" = "$c" ] || problem "$m: shards exit $c, unsharded $u"
		done
		for m in all pat inv; do
			eval "files=\$files_$m"
			merged=$d/n$n.$m.merged.pcap
			if [ "$n" = 1 ]; then
				merged=$d/n1.s0.$m.pcap
			else
				# shellcheck disable=SC2086 # tab-separated, our paths
				(IFS='	'; merge "$merged" $files) ||
				    problem "$m: mergecap failed"
			fi
			if [ -s "$d/u.$m.pcap" ]; then
				printf '%s\t%s\t%s\n' "N=$n (a) $m merged" \
				    "$d/u.$m.pcap" "$merged" >>"$jobs"
				printf '%s\t%s%s\n' "N=$n (d) $m shards" \
				    "$d/u.$m.pcap" "$files" >>"$jobs"
			elif [ -s "$merged" ]; then
				problem "$m: unsharded wrote nothing, shards did"
			fi
		done
		if [ -s "$REF" ]; then
			printf '%s\t%s%s\n' "N=$n (b) -a '' shards vs input" \
			    "$REF" "$files_all" >>"$jobs"
		fi
		for m in all pat inv; do
			[ "$n" != 1 ] || sort "$d/u.$m.txt" >"$d/u.$m.sorted"
			k=0
			while [ "$k" -lt "$n" ]; do
				cat "$d/n$n.s$k.$m.txt"
				k=$((k + 1))
			done | sort >"$d/n$n.$m.sorted"
			if ! cmp -s "$d/u.$m.sorted" "$d/n$n.$m.sorted"; then
				problem "(c) $m: report lines differ (< unsharded, > shards):"
				problem "$(diff "$d/u.$m.sorted" "$d/n$n.$m.sorted" |
				    grep '^[<>]' | head -6)"
			fi
		done
		eval "problems_$n=\$problems"
		problems=
	done
	# One comparer run for every N: python starts slowly.
	$PY "$OUT/shardset.py" "$jobs" >"$d/jobs.out" 2>&1 ||
	    [ -s "$d/jobs.out" ] || echo "shardset.py failed" >"$d/jobs.out"
	for n in $SHARDS; do
		eval "problems=\$problems_$n"
		out=$(grep -e "^N=$n " -e '^shardset' -e '^Traceback' "$d/jobs.out")
		[ -z "$out" ] || problem "$out"
		finish "shard N=$n $name"
	done
}

# Runs the shard cases of one capture in the background, at most $JOBS at
# once; collect_captures prints their results in order and counts them.
queued=
running=0
queue_capture() {
	mkdir -p "$OUT/cap/$2"
	(shard_capture "$1" "$2" >"$OUT/cap/$2/result" 2>&1) &
	queued="$queued $2"
	running=$((running + 1))
	if [ "$running" -ge "$JOBS" ]; then
		wait
		running=0
	fi
}

collect_captures() {
	wait
	running=0
	for name in $queued; do
		r=$OUT/cap/$name/result
		cat "$r"
		pass=$((pass + $(grep -c '^ok' "$r")))
		fail=$((fail + $(grep -c '^FAIL' "$r")))
		skip=$((skip + $(grep -c '^skip' "$r")))
	done
	queued=
}

shard_files() {
	if ! have mergecap; then
		skipped "shard" "no mergecap (Debian: wireshark-common)"
		return
	fi
	if [ -z "$PY" ]; then
		skipped "shard" "python3 is not installed"
		return
	fi
	if [ -x "$MKCAP" ]; then
		mkdir -p "$OUT/gen"
		for g in $("$MKCAP" --list | awk '{ print $1 }'); do
			if "$MKCAP" "$g" "$OUT/gen/$g.pcap" >/dev/null 2>&1; then
				queue_capture "$OUT/gen/$g.pcap" "mkcap-$g"
			else
				skipped "shard mkcap-$g" "mkcap $g failed"
			fi
		done
	else
		skipped "shard mkcap" "$MKCAP is not built (make $BUILD/mkcap)"
	fi
	if [ -z "$CORPUS" ]; then
		collect_captures
		skipped "shard corpus" \
		    "no corpus at ${FLOWGREP_CORPUS:-../shared/corpus}"
		return
	fi
	if [ "${SHARD_CORPUS:-}" = all ]; then
		pick=
		for c in "$CORPUS"/*; do
			case $c in
			*.md | *.tsv) ;;
			*) pick="$pick ${c##*/}" ;;
			esac
		done
	else
		pick=$CORPUS_PICK
	fi
	for c in $pick; do
		if [ -r "$CORPUS/$c" ]; then
			queue_capture "$CORPUS/$c" "$c"
		else
			skipped "shard $c" "not in the corpus"
		fi
	done
	collect_captures
}

# ---- contrib/flowgrep-shards.sh ----

contrib_case() {
	name=$1
	cap=$2
	n=$3
	shift 3
	d=$OUT/contrib/$name
	mkdir -p "$d"
	flowgrep -q -r "$cap" "$@" -w "$d/u.pcap" 2>/dev/null
	urc=$?
	# shellcheck disable=SC2086 # CONTRIB_OPTS are words
	$TIMEOUT_CMD sh "$ROOT/contrib/flowgrep-shards.sh" -n "$n" -b "$FG" \
	    -T "$d/tmp" -r "$cap" -w "$d/out.pcap" $CONTRIB_OPTS -- -q "$@" \
	    >"$d/stdout" 2>"$d/stderr"
	rc=$?
	[ "$rc" = "$urc" ] ||
	    problem "exit status $rc, unsharded $urc: $(head -3 "$d/stderr")"
	[ ! -s "$d/stdout" ] ||
	    problem "standard output: $(head -c 200 "$d/stdout")"
	if [ -s "$d/u.pcap" ]; then
		printf '%s\t%s\t%s\n' "merged" "$d/u.pcap" "$d/out.pcap" >"$d/jobs"
		out=$($PY "$OUT/shardset.py" "$d/jobs" 2>&1) || problem "$out"
		# Nanosecond timestamps survive the merge.
		[ "$(od -An -tx1 -N4 "$d/u.pcap")" = \
		    "$(od -An -tx1 -N4 "$d/out.pcap")" ] ||
		    problem "the file's magic differs from the unsharded one's"
	fi
	[ ! -e "$d/tmp/shard-0.pcap" ] || problem "shard files left without -k"
	finish "contrib $name"
}

contrib() {
	if ! have parallel; then
		skipped "contrib" "no GNU parallel (Debian: parallel)"
		return
	fi
	if ! have mergecap || [ -z "$PY" ]; then
		skipped "contrib" "needs mergecap and python3"
		return
	fi
	if [ ! -x "$MKCAP" ]; then
		skipped "contrib" "$MKCAP is not built"
		return
	fi
	g=$OUT/gen-contrib
	mkdir -p "$g"
	"$MKCAP" mixed "$g/mixed.pcap" >/dev/null 2>&1
	"$MKCAP" nano "$g/nano.pcap" >/dev/null 2>&1
	"$MKCAP" split-match "$g/split.pcap" >/dev/null 2>&1
	CONTRIB_OPTS=
	contrib_case "local N=3 mixed -a ''" "$g/mixed.pcap" 3 -a ''
	contrib_case "local N=2 nano" "$g/nano.pcap" 2 -a ''
	# Patterns that GNU parallel would take for replacement strings.
	# shellcheck disable=SC2016 # $HOME is part of the pattern
	contrib_case "local N=3 pattern {}" "$g/split.pcap" 3 \
	    -a 'secret-token|{}|{.}|{=1=}|[0-9]{1}|$HOME'"'"'"'
	contrib_case "local N=2 no match" "$g/split.pcap" 2 -a 'no such thing'
	if [ -n "$CORPUS" ] && [ -r "$CORPUS/zeek--methods.pcap" ]; then
		contrib_case "local N=7 -v zeek--methods.pcap" \
		    "$CORPUS/zeek--methods.pcap" 7 -v -a "$PAT" 'tcp or not tcp'
	fi
	# Over "ssh": parallel runs each remote command through this stand-in,
	# which runs it here in a directory of its own, as a login shell would
	# in the remote home directory.
	cat >"$OUT/fakessh" <<EOF
#!/bin/sh
# fakessh: ssh for tests; runs the remote command here, in another directory.
while [ \$# -gt 0 ]; do
	case \$1 in
	-[oplieFJS]) shift 2 ;;
	--) shift; break ;;
	-*) shift ;;
	*) break ;;
	esac
done
host=\$1
shift
[ "\$1" = -- ] && shift
# sshd gives the remote command a login environment; parallel's remote
# worker runs the job with \$SHELL, which CI's environment may not set.
SHELL=/bin/sh
export SHELL
mkdir -p "$OUT/remote-\$host" && cd "$OUT/remote-\$host" && exec sh -c "\$*"
EOF
	chmod +x "$OUT/fakessh"
	PARALLEL_SSH=$OUT/fakessh
	export PARALLEL_SSH
	CONTRIB_OPTS="-S host1,host2"
	contrib_case "ssh N=3 -S host1,host2" "$g/mixed.pcap" 3 -a "$PAT"
	CONTRIB_OPTS=
	unset PARALLEL_SSH
}

# ---- live fanout ----

NS_C=
NS_S=
LIVE_PIDS=

live_cleanup() {
	for p in $LIVE_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $LIVE_PIDS; do
		wait "$p" 2>/dev/null
	done
	LIVE_PIDS=
	[ -z "$NS_C" ] || ip netns del "$NS_C" 2>/dev/null
	[ -z "$NS_S" ] || ip netns del "$NS_S" 2>/dev/null
	NS_C=
	NS_S=
}

# Waits up to $2 tenths of a second for process $1 to end.
wait_gone() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$i" -lt "$2" ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

# The traffic: "server" answers TCP on 5000 (IPv4 and IPv6) and UDP on
# 5001 until killed (at most 60 s); "client" makes 40 TCP connections over
# IPv4 and 10 over IPv6, and 10 UDP conversations whose middle datagram
# (4000 bytes) is fragmented, and prints "tcp PORT", "tcp6 PORT" or
# "udp PORT" for each.
cat >"$OUT/traffic.py" <<'EOF'
import socket
import sys
import threading
import time

NETS = ((socket.AF_INET, "10.98.0.1", "10.98.0.2"),
        (socket.AF_INET6, "fd98::1", "fd98::2"))


def serve_tcp(ls):
    while True:
        c, _ = ls.accept()
        with c:
            data = c.recv(4096)
            c.sendall(b"ack " + data)


def server(ready):
    for fam, _, addr in NETS:
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, 5000))
        ls.listen(64)
        threading.Thread(target=serve_tcp, args=(ls,), daemon=True).start()
    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    us.bind((NETS[0][2], 5001))
    open(ready, "w").close()
    us.settimeout(1)
    end = time.time() + 60
    while time.time() < end:
        try:
            data, peer = us.recvfrom(65535)
        except socket.timeout:
            continue
        us.sendto(b"ack %d" % len(data), peer)


def client():
    for fam, src, dst in NETS:
        for i in range(40 if fam == socket.AF_INET else 10):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(5)
            s.bind((src, 0))
            s.connect((dst, 5000))
            print("tcp" if fam == socket.AF_INET else "tcp6",
                  s.getsockname()[1], flush=True)
            s.sendall(b"flowgrep fanout test, connection %d\n" % i)
            s.recv(4096)
            s.close()
    for i in range(10):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(5)
        u.bind((NETS[0][1], 0))
        print("udp", u.getsockname()[1], flush=True)
        for size in (30, 4000, 30):
            u.sendto(b"%d." % i + b"x" * size, (NETS[0][2], 5001))
            u.recvfrom(4096)
        u.close()


if sys.argv[1] == "server":
    server(sys.argv[2])
else:
    client()
EOF

# Runs flowgrep processes $1 of the fanout group on the server's end while
# the client talks; every connection must be in one process's report.
fanout_case() {
	np=$1
	d=$OUT/fanout-$np
	mkdir -p "$d"
	pids=
	i=0
	while [ "$i" -lt "$np" ]; do
		# shellcheck disable=SC2086 # TIMEOUT_CMD is words
		ip netns exec "$NS_S" $TIMEOUT_CMD "$FG" -d fgs1 --fanout 7 \
		    -a '' -U >"$d/p$i.txt" 2>"$d/p$i.err" &
		pids="$pids $!"
		i=$((i + 1))
	done
	LIVE_PIDS="$LIVE_PIDS $pids"
	# Ready when every process says it listens (as tcpdump, after the
	# fanout group and the filter are set): packets before are not seen.
	i=0
	while [ "$(cat "$d"/p*.err 2>/dev/null | grep -c '^flowgrep: listening on fgs1, ')" -lt "$np" ]; do
		if [ "$i" -ge 300 ]; then
			problem "after 30 s, fewer than $np processes listen: $(cat "$d"/p*.err)"
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	# shellcheck disable=SC2086 # TIMEOUT_CMD is words
	ip netns exec "$NS_C" $TIMEOUT_CMD "$PY" "$OUT/traffic.py" client \
	    >"$d/client.txt" 2>"$d/client.err" ||
	    problem "client failed: $(tail -3 "$d/client.err")"
	# Let the last packets reach every socket, then stop as a user would.
	sleep 1
	for p in $pids; do
		kill -INT "$p" 2>/dev/null
	done
	for p in $pids; do
		if ! wait_gone "$p" 50; then
			problem "process $p ignored SIGINT for 5 s"
			kill -KILL "$p" 2>/dev/null
		fi
		wait "$p"
		rc=$?
		# 0: something selected; 1: this process saw no flow.
		[ "$rc" -le 1 ] ||
		    problem "process $p exited $rc: $(cat "$d"/p*.err | head -3)"
	done
	LIVE_PIDS=$SERVER_PID
	# Per client port: the processes that reported it, and how often.
	res=$(awk '
		FILENAME ~ /client.txt$/ { want[$1 " " $2]++; next }
		{
			re = "(tcp|udp) (10\\.98\\.0\\.1|\\[fd98::1\\]):[0-9]+ -> "
			if (match($0, re) == 0)
				next
			nf = split(substr($0, RSTART, RLENGTH), f, /[^0-9a-z]+/)
			k = f[1] (f[2] == "fd98" ? "6" : "") " " f[nf - 1]
			if (!((k, FILENAME) in seen))
				procs[k]++
			seen[k, FILENAME] = 1
			lines[k]++
			per[FILENAME]++
		}
		END {
			for (k in want) {
				n++
				# A port the client was given twice is two
				# connections on one tuple: one process.
				if (procs[k] != 1 || lines[k] != want[k]) {
					printf "%s: in %d processes, %d lines\n", k, procs[k], lines[k]
					bad++
				}
			}
			for (k in lines)
				if (!(k in want)) {
					printf "%s: reported, not made by the client\n", k
					bad++
				}
			s = ""
			for (p in per)
				s = s " " per[p]
			printf "flows %d, per process:%s\n", n, s
		}' "$d/client.txt" "$d"/p*.txt)
	summary=$(printf '%s\n' "$res" | tail -1)
	case $summary in
	"flows "*) ;;
	*) problem "the awk check failed: $res" ;;
	esac
	printf '%s\n' "$res" | sed '$d' | head -8 >"$d/problems"
	[ ! -s "$d/problems" ] || problem "$(cat "$d/problems")"
	[ "$(wc -l <"$d/client.txt")" -eq 60 ] ||
	    problem "the client made $(wc -l <"$d/client.txt") of 60 flows"
	finish "fanout P=$np ($summary)"
}

live_fanout() {
	if [ "$(id -u)" != 0 ]; then
		skipped "fanout" "needs root for network namespaces and capture"
		return
	fi
	if ! have ip || [ -z "$PY" ] || ! have timeout; then
		skipped "fanout" "needs ip (iproute2), python3 and timeout"
		return
	fi
	NS_C=fgshard-c-$$
	NS_S=fgshard-s-$$
	trap 'live_cleanup; exit 2' HUP INT TERM
	trap live_cleanup EXIT
	if ! err=$(ip netns add "$NS_C" 2>&1); then
		NS_C=
		NS_S=
		skipped "fanout" "cannot make a network namespace: $err"
		return
	fi
	if ! err=$( (ip netns add "$NS_S" &&
	    ip -n "$NS_C" link add fgs0 type veth peer name fgs1 netns "$NS_S" &&
	    ip -n "$NS_C" addr add 10.98.0.1/24 dev fgs0 &&
	    ip -n "$NS_S" addr add 10.98.0.2/24 dev fgs1 &&
	    ip -n "$NS_C" addr add fd98::1/64 dev fgs0 nodad &&
	    ip -n "$NS_S" addr add fd98::2/64 dev fgs1 nodad &&
	    ip -n "$NS_C" link set fgs0 up && ip -n "$NS_C" link set lo up &&
	    ip -n "$NS_S" link set fgs1 up && ip -n "$NS_S" link set lo up) 2>&1)
	then
		live_cleanup
		skipped "fanout" "cannot set up the veth pair: $err"
		return
	fi
	# shellcheck disable=SC2086 # TIMEOUT_CMD is words
	ip netns exec "$NS_S" $TIMEOUT_CMD "$PY" "$OUT/traffic.py" server \
	    "$OUT/server.ready" 2>"$OUT/server.err" &
	SERVER_PID=$!
	LIVE_PIDS=$SERVER_PID
	i=0
	while [ ! -e "$OUT/server.ready" ]; do
		if [ "$i" -ge 100 ]; then
			skipped "fanout" "the test server did not start: $(cat "$OUT/server.err")"
			live_cleanup
			return
		fi
		sleep 0.1
		i=$((i + 1))
	done
	fanout_case 2
	fanout_case 4
	live_cleanup
	trap - EXIT HUP INT TERM
}

if [ ! -x "$FG" ]; then
	echo "e2e_shard: $FG is not built" >&2
	echo "e2e_shard: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
for part in usage shard contrib fanout; do
	[ -z "${SHARD_ONLY:-}" ] || [ "$SHARD_ONLY" = "$part" ] || continue
	case $part in
	usage) usage_errors ;;
	shard) shard_files ;;
	contrib) contrib ;;
	fanout) live_fanout ;;
	esac
done
e2e_summary e2e_shard
