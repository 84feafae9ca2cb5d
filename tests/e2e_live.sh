#!/bin/sh
# e2e_live.sh: flowgrep's live end-to-end tests: -d capture, -k kills, -w, -l and -u on a veth pair.
#
# Run from the repository root as root: BUILD=build sh tests/e2e_live.sh.
#
# Two network namespaces, a client's and a server's, are joined by a veth
# pair (vc 10.99.0.1/24 fd99::1/64 in the client's, vs 10.99.0.2/24
# fd99::2/64 in the server's); nothing else is touched and no other address
# is used. A dual-stack echo server listens on port 9000 in the server's
# namespace. In each live case two clients run side by side: A sends six
# messages, one round trip each, 0.15 s apart, "KILL-ME" appearing across
# its third and fourth; B sends six harmless ones. flowgrep runs on vs in
# the server's namespace (ip netns exec), started as root, so it drops to
# user nobody (-u) once the device is open: the cases wait for that in
# /proc/PID/status before the clients start.
#
#   live/kill-ipv{4,6}-{link,ip}[-nobody,-rsts]
#                  -k -a KILL-ME, IPv4 and IPv6, --kill-via link and ip:
#                  A's connection is reset (ConnectionResetError) no earlier
#                  than the round that completes the pattern, B completes;
#                  SIGINT ends flowgrep with exit 0 and its statistics; it
#                  ran as nobody, killed one flow, and sent a bounded number
#                  of RSTs (its own RSTs, captured on vs, must not trigger
#                  more); A's payload was logged (-l) by user nobody.
#   live/write     -a KILL-ME -w (no -k): the capture written holds only A's
#                  packets, as many as tcpdump saw on vs for A's ports.
#   live/sigint    SIGINT with nothing selected: exit 1, statistics printed.
#   live/unknown-device, live/nobody-capture, live/nobody-kill: one-line
#                  errors, exit 2, for an unknown device and for capturing
#                  (and -k) as user nobody.
#   priv/*         -u on a file (no namespace needed): the default drop to
#                  nobody, -u root, -u with an unknown user, a log directory
#                  only root may write, reading a file as nobody.
#
# Prints "ok NAME", "FAIL NAME" with indented details, or "skip NAME (why)",
# then "e2e_live: N passed, M failed, K skipped"; exits 1 if any case
# failed. Every case is skipped, with the reason, when not run as root;
# the namespace cases when ip netns or veth pairs are unavailable, or
# python3 is missing. Every wait is bounded (E2E_LIVE_WAIT seconds, default
# 10), and the namespaces and every process started are removed at exit,
# also on failure or interruption.
#
# Environment: FLOWGREP (the binary, default ./flowgrep), BUILD (where
# mkcap is, default build), E2E_LIVE_OUT (scratch directory, default
# tests/out/live, emptied at the start), E2E_LIVE_WAIT.

# shellcheck disable=SC2016 # conditions for wait_until, evaluated later
LC_ALL=C
export LC_ALL
umask 022
# ROOT, BUILD, FG, MKCAP, CORPUS; ok/FAIL/skip lines, have and PY.
. "$(pwd)/tests/e2e/lib.sh"
OUT=${E2E_LIVE_OUT:-$ROOT/tests/out/live}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
WAIT=${E2E_LIVE_WAIT:-10}
# Bounds a run that is expected to end by itself.
if command -v timeout >/dev/null 2>&1; then
	BOUND="timeout $WAIT"
else
	BOUND=
fi
NSC=fgl$$c
NSS=fgl$$s
PORT=9000
PATTERN=KILL-ME
# RSTs one killed connection may cause: two at the match and two after
# each later packet of A (a few round trips and the close), with room to
# spare; a feedback loop on flowgrep's own RSTs sends thousands.
RST_MAX=60

PIDS=
NS_MADE=


# ---- processes and clean-up ----

cleanup() {
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $PIDS; do
		gone "$p" 2 || kill -KILL "$p" 2>/dev/null
	done
	PIDS=
	if [ -n "$NS_MADE" ]; then
		ip netns del "$NSC" 2>/dev/null
		ip netns del "$NSS" 2>/dev/null
		NS_MADE=
	fi
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

forget() {
	np=
	for p in $PIDS; do
		[ "$p" = "$1" ] || np="$np $p"
	done
	PIDS=$np
}

# Succeeds once process $1 is gone, fails after $2 seconds.
gone() {
	n=$(($2 * 10))
	while kill -0 "$1" 2>/dev/null; do
		# A zombie is gone too: our child, waiting to be reaped.
		case $(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' \
		    "/proc/$1/status" 2>/dev/null) in Z) return 0 ;; esac
		[ "$n" -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.1
	done
	return 0
}

# Sends signal $2 to child $1 and reaps it within $WAIT seconds, setting
# STATUS; on a timeout kills it, STATUS=timeout.
stop() {
	kill "-$2" "$1" 2>/dev/null
	if gone "$1" "$WAIT"; then
		wait "$1"
		STATUS=$?
	else
		kill -KILL "$1" 2>/dev/null
		wait "$1"
		STATUS=timeout
	fi
	forget "$1"
}

# Waits for child $1 to end by itself within $2 seconds (STATUS as stop).
reap() {
	if gone "$1" "$2"; then
		wait "$1"
		STATUS=$?
		forget "$1"
	else
		stop "$1" KILL
		STATUS=timeout
	fi
}

# Succeeds when the shell condition $2 holds within $1 seconds.
wait_until() {
	n=$(($1 * 10))
	until eval "$2"; do
		[ "$n" -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.1
	done
	return 0
}

# The Uid: or Gid: line of process $1 (real, effective, saved, fs).
ids_of() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null |
	    tr -s '\t ' '  ' | sed 's/ *$//'
}

# ---- preconditions ----

NOBODY_UID=$(id -u nobody 2>/dev/null)
NOBODY_GID=$(id -g nobody 2>/dev/null)
WHY_ROOT=
[ "$(id -u)" = 0 ] || WHY_ROOT="not root: needs root for devices and -u"
[ -n "$WHY_ROOT" ] || [ -n "$NOBODY_UID" ] || WHY_ROOT="no user nobody"

# A command prefix that runs a program as user nobody, without privileges.
WHY_NOBODY=
if have setpriv; then
	AS_NOBODY="setpriv --reuid=$NOBODY_UID --regid=$NOBODY_GID --clear-groups"
elif have runuser; then
	AS_NOBODY="runuser -u nobody --"
else
	WHY_NOBODY="neither setpriv nor runuser"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
chmod 755 "$OUT"

# Sets up the namespaces; WHY_NS says why not.
WHY_NS=$WHY_ROOT
setup_ns() {
	have ip || { WHY_NS="no ip(8)"; return; }
	[ -n "$PY" ] || { WHY_NS="no python3"; return; }
	if ! err=$(ip netns add "$NSC" 2>&1); then
		WHY_NS="ip netns unavailable: $(echo "$err" | head -1)"
		return
	fi
	NS_MADE=1
	if ! err=$( (ip netns add "$NSS" &&
	    ip -n "$NSC" link add vc type veth peer name vs netns "$NSS" &&
	    ip -n "$NSC" link set lo up && ip -n "$NSS" link set lo up &&
	    ip -n "$NSC" addr add 10.99.0.1/24 dev vc &&
	    ip -n "$NSS" addr add 10.99.0.2/24 dev vs &&
	    ip -n "$NSC" addr add fd99::1/64 dev vc nodad &&
	    ip -n "$NSS" addr add fd99::2/64 dev vs nodad &&
	    ip -n "$NSC" link set vc up && ip -n "$NSS" link set vs up) 2>&1)
	then
		WHY_NS="cannot set up a veth pair: $(echo "$err" | head -1)"
		return
	fi
	write_peer
	ip netns exec "$NSS" "$PY" "$OUT/peer.py" server "$PORT" \
	    "$OUT/server.ready" >"$OUT/server.out" 2>&1 &
	SERVER=$!
	PIDS="$PIDS $SERVER"
	if ! wait_until "$WAIT" '[ -s "$OUT/server.ready" ]'; then
		WHY_NS="the echo server did not start: $(head -1 \
		    "$OUT/server.out")"
		return
	fi
	# Both links up and the neighbours resolved before timing anything.
	if ! ip netns exec "$NSC" "$PY" "$OUT/peer.py" client 10.99.0.2 \
	    "$PORT" probe 0 x >/dev/null 2>&1 ||
	    ! ip netns exec "$NSC" "$PY" "$OUT/peer.py" client fd99::2 \
	    "$PORT" probe 0 x >/dev/null 2>&1; then
		WHY_NS="no TCP between the namespaces"
		return
	fi
	WHY_NS=
}

# The echo server and the clients (python3, standard library only).
write_peer() {
	cat >"$OUT/peer.py" <<'EOF'
"""Echo server and scripted clients for tests/e2e_live.sh."""
import socket
import sys
import threading
import time


def server(port, ready):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(16)
    with open(ready, "w") as f:
        f.write("ready\n")

    def serve(c, peer):
        c.settimeout(30)
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    print("server: %s closed" % peer[1], flush=True)
                    break
                c.sendall(b"ok " + d)
        except OSError as e:
            print("server: %s %s" % (peer[1], type(e).__name__), flush=True)
        c.close()

    while True:
        c, peer = s.accept()
        threading.Thread(target=serve, args=(c, peer), daemon=True).start()


def client(host, port, label, gap, msgs):
    """One round trip per message; says how the connection ended."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(5)
    c.connect((host, port))
    print("%s port %d" % (label, c.getsockname()[1]), flush=True)
    n = 0
    try:
        for m in msgs:
            n += 1
            c.sendall(m.encode())
            if not c.recv(4096):
                print("%s eof at round %d" % (label, n))
                return 1
            time.sleep(gap)
    except OSError as e:
        print("%s %s at round %d" % (label, type(e).__name__, n))
        return 1
    c.close()
    print("%s completed %d rounds" % (label, n))
    return 0


if sys.argv[1] == "server":
    server(int(sys.argv[2]), sys.argv[3])
else:
    sys.exit(client(sys.argv[2], int(sys.argv[3]), sys.argv[4],
                    float(sys.argv[5]), sys.argv[6:]))
EOF
}

# ---- one live run ----

# Starts flowgrep with the arguments given on vs in the server's namespace
# (output in $RUN.out, $RUN.err) and waits until it runs as nobody: the
# device is open. Sets FGPID; fails with a problem when it does not get
# there.
start_flowgrep() {
	ip netns exec "$NSS" "$FG" -d vs "$@" >"$RUN.out" 2>"$RUN.err" &
	FGPID=$!
	PIDS="$PIDS $FGPID"
	if ! wait_until "$WAIT" \
	    '[ "$(ids_of $FGPID Uid)" = "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" ] || ! kill -0 $FGPID 2>/dev/null'
	then
		problem "flowgrep did not drop to nobody within $WAIT s"
		stop "$FGPID" KILL
		return 1
	fi
	if ! kill -0 "$FGPID" 2>/dev/null; then
		reap "$FGPID" 1
		problem "flowgrep ended at once, status $STATUS: $(head -2 \
		    "$RUN.err" | tr '\n' '|')"
		return 1
	fi
	UIDS=$(ids_of "$FGPID" Uid)
	GIDS=$(ids_of "$FGPID" Gid)
	return 0
}

# Runs clients A (the pattern across rounds 3 and 4) and B (none) side by
# side against server address $1; their reports in $RUN.A and $RUN.B.
run_clients() {
	ip netns exec "$NSC" "$PY" "$OUT/peer.py" client "$1" "$PORT" B 0.15 \
	    'hello-1 ' 'hello-2 ' 'hello-3 ' 'hello-4 ' 'hello-5 ' \
	    'hello-6 ' >"$RUN.B" 2>&1 &
	bpid=$!
	PIDS="$PIDS $bpid"
	ip netns exec "$NSC" "$PY" "$OUT/peer.py" client "$1" "$PORT" A 0.15 \
	    'hello-1 ' 'hello-2 ' 'data KIL' 'L-ME now' 'more-1 ' \
	    'more-2 ' >"$RUN.A" 2>&1 &
	apid=$!
	PIDS="$PIDS $apid"
	reap "$apid" "$WAIT"
	[ "$STATUS" != timeout ] || problem "client A did not finish"
	reap "$bpid" "$WAIT"
	[ "$STATUS" != timeout ] || problem "client B did not finish"
	APORT=$(sed -n 's/^A port //p' "$RUN.A")
	BPORT=$(sed -n 's/^B port //p' "$RUN.B")
}

# The value of counter $1 in the --stats-json object of $RUN.err.
stat_of() {
	sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$RUN.err" | head -1
}

check_ran_as_nobody() {
	[ "$UIDS" = "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" ] ||
	    problem "Uid: $UIDS while running, expected nobody ($NOBODY_UID)"
	[ "$GIDS" = "$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID" ] ||
	    problem "Gid: $GIDS while running, expected nobody's ($NOBODY_GID)"
}

# live/kill-$1-$2: family 4 or 6, --kill-via link or ip.
live_kill() {
	name="live/kill-ipv$1-$2"
	if [ "$1" = 4 ]; then srv=10.99.0.2; cli=10.99.0.1; else
		srv=fd99::2; cli=fd99::1; fi
	RUN=$OUT/kill-$1-$2
	LOG=$RUN.log
	mkdir -m 777 "$LOG"
	chmod 777 "$LOG"
	# shellcheck disable=SC2046 # no --kill-via for the default
	if ! start_flowgrep -k $([ "$2" = ip ] && echo --kill-via ip) \
	    --stats-json -l "$LOG" -a "$PATTERN"; then
		finish "$name"
		skipped "$name-nobody" "flowgrep did not start"
		skipped "$name-rsts" "flowgrep did not start"
		return
	fi
	run_clients "$srv"
	sleep 0.3
	stop "$FGPID" INT
	a=$(tail -1 "$RUN.A")
	case $a in
	"A ConnectionResetError at round "[456])
		;;
	"A ConnectionResetError at round "*)
		problem "A was reset before the pattern was complete: $a" ;;
	*)
		problem "A was not reset: $a" ;;
	esac
	b=$(tail -1 "$RUN.B")
	[ "$b" = "B completed 6 rounds" ] || problem "B: $b"
	[ "$STATUS" = 0 ] || problem "flowgrep: exit status $STATUS after SIGINT, expected 0"
	killed=$(stat_of flows_killed)
	[ "$killed" = 1 ] ||
	    problem "statistics say ${killed:-no} flows killed, expected 1"
	if [ -n "$problems" ]; then
		problem "A: $(tr '\n' '|' <"$RUN.A") B: $(tr '\n' '|' <"$RUN.B")"
		problem "flowgrep stderr: $(head -c 300 "$RUN.err" | tr '\n' '|')"
	fi
	finish "$name: -k resets A at the pattern, B completes, SIGINT: exit 0"

	check_ran_as_nobody
	f=
	for g in "$LOG"/*-"$cli-$APORT-$srv-$PORT-tcp"; do
		[ -f "$g" ] && f=$g
	done
	if [ -z "$f" ]; then
		problem "no log file for A's client stream in $LOG: $(find "$LOG" -type f | tr '\n' ' ')"
	else
		owner=$(stat -c %u "$f")
		[ "$owner" = "$NOBODY_UID" ] ||
		    problem "$f belongs to uid $owner, not nobody"
		head -c 32 "$f" | grep -q '^hello-1 hello-2 data KILL-ME now' ||
		    problem "$f starts with '$(head -c 32 "$f")'"
	fi
	for g in "$LOG"/*"-$BPORT-"*; do
		[ ! -e "$g" ] || problem "B, not selected, was logged: $g"
	done
	finish "$name-nobody: ran as nobody (Uid $UIDS), logged A's stream"

	sent=$(stat_of rst_sent)
	read=$(stat_of packets_read)
	if [ -z "$sent" ]; then
		problem "no rst_sent in the statistics"
	elif [ "$sent" -lt 2 ]; then
		problem "$sent RSTs sent, expected at least 2"
	elif [ "$sent" -gt "$RST_MAX" ]; then
		problem "$sent RSTs sent for one connection ($read packets read), expected at most $RST_MAX: flowgrep's own RSTs, captured on vs, trigger more"
	fi
	finish "$name-rsts: ${sent:-?} RSTs sent, ${read:-?} packets read (at most $RST_MAX RSTs)"
}

# live/write: -w holds A's packets only, as many as tcpdump saw.
live_write() {
	name="live/write: -w holds the matching connection's packets only"
	if ! have tcpdump || ! have tshark; then
		skipped "$name" "needs tcpdump and tshark"
		return
	fi
	RUN=$OUT/write
	ip netns exec "$NSS" tcpdump -Z root -U --immediate-mode -n -i vs -w "$RUN.all.pcap" \
	    tcp port "$PORT" >"$RUN.td.out" 2>"$RUN.td.err" &
	tdpid=$!
	PIDS="$PIDS $tdpid"
	if ! wait_until "$WAIT" 'grep -q "listening on" "$RUN.td.err" 2>/dev/null'; then
		problem "tcpdump did not start: $(head -1 "$RUN.td.err")"
		stop "$tdpid" KILL
		finish "$name"
		return
	fi
	if ! start_flowgrep -a "$PATTERN" -w "$RUN.pcap"; then
		stop "$tdpid" INT
		finish "$name"
		return
	fi
	run_clients 10.99.0.2
	sleep 0.3
	stop "$FGPID" INT
	fgst=$STATUS
	stop "$tdpid" INT
	[ "$(tail -1 "$RUN.A")" = "A completed 6 rounds" ] ||
	    problem "A: $(tail -1 "$RUN.A") (nothing kills without -k)"
	[ "$fgst" = 0 ] || problem "flowgrep: exit status $fgst after SIGINT, expected 0"
	grep -q '^flowgrep: [0-9]* packets read, [0-9]* written' "$RUN.err" ||
	    problem "no statistics after SIGINT: $(head -2 "$RUN.err" | tr '\n' '|')"
	if [ -z "$APORT" ]; then
		problem "client A did not say its port"
	else
		other=$(tshark -r "$RUN.pcap" -Y "!(tcp.port == $APORT && tcp.port == $PORT)" 2>/dev/null | grep -c .)
		got=$(tshark -r "$RUN.pcap" 2>/dev/null | grep -c .)
		want=$(tcpdump -n -r "$RUN.all.pcap" "tcp port $APORT" 2>/dev/null | grep -c .)
		[ "$other" = 0 ] ||
		    problem "$other packets written are not A's (port $APORT)"
		if [ "$got" -eq 0 ] || [ "$got" != "$want" ]; then
			problem "$got packets written, tcpdump saw $want of A's"
		fi
	fi
	finish "$name (A port ${APORT:-?}: ${got:-?} packets)"
}

# live/sigint: nothing selected, SIGINT: exit 1, statistics printed.
live_sigint() {
	name="live/sigint: nothing selected, exit 1, statistics printed"
	RUN=$OUT/sigint
	if start_flowgrep -a 'no-such-pattern-anywhere'; then
		run_clients fd99::2
		stop "$FGPID" INT
		[ "$STATUS" = 1 ] ||
		    problem "exit status $STATUS after SIGINT, expected 1"
		grep -q '^flowgrep: [0-9]* flows (2 tcp, ' "$RUN.err" ||
		    problem "no statistics for the 2 flows: $(head -3 "$RUN.err" | tr '\n' '|')"
		# As tcpdump's, first, once the capture is set up.
		l1=$(head -1 "$RUN.err")
		[ "$l1" = "flowgrep: listening on vs, link-type EN10MB (Ethernet), snapshot length 262144 bytes" ] ||
		    problem "first line of standard error: '$l1'"
		[ ! -s "$RUN.out" ] ||
		    problem "output: $(head -1 "$RUN.out")"
	fi
	finish "$name"
}

# Runs "$@" in the server's namespace, bounded; STATUS, $RUN.out, $RUN.err.
ns_run() {
	# shellcheck disable=SC2086 # a command and its options
	ip netns exec "$NSS" $BOUND "$@" >"$RUN.out" 2>"$RUN.err" </dev/null
	STATUS=$?
}

expect_error() {
	[ "$STATUS" = 2 ] || problem "exit status $STATUS, expected 2"
	got=$(cat "$RUN.err")
	[ "$got" = "$1" ] ||
	    problem "standard error '$got', expected '$1'"
}

live_errors() {
	RUN=$OUT/err-nodev
	ns_run "$FG" -d nosuchdev0 -a x
	expect_error "flowgrep: nosuchdev0: no such device"
	finish "live/unknown-device: one line, exit 2"

	name="live/nobody-capture: -d lo as nobody, exit 2"
	if [ -n "$WHY_NOBODY" ]; then
		skipped "$name" "$WHY_NOBODY"
		return
	fi
	RUN=$OUT/err-nobody
	# shellcheck disable=SC2086 # a command and its options
	ns_run $AS_NOBODY "$FG" -d lo -a x
	expect_error "flowgrep: lo: permission denied: capturing needs root or CAP_NET_RAW"
	finish "$name"
	RUN=$OUT/err-nobody-kill
	# shellcheck disable=SC2086
	ns_run $AS_NOBODY "$FG" -d vs -k --kill-via ip -a x
	expect_error "flowgrep: vs: permission denied: capturing needs root or CAP_NET_RAW"
	finish "live/nobody-kill: -d vs -k as nobody, exit 2"
}

# ---- -u on a file: no namespace needed ----

priv_cases() {
	CAP=$OUT/split-match.pcap
	if [ ! -x "$MKCAP" ] || ! "$MKCAP" split-match "$CAP" 2>/dev/null; then
		for n in default-nobody u-root root-only-dir u-unknown-user \
		    file-as-nobody; do
			skipped "priv/$n" "no $MKCAP"
		done
		return
	fi
	chmod 644 "$CAP"

	RUN=$OUT/priv-default
	mkdir -m 777 "$RUN.log"
	chmod 777 "$RUN.log"
	$BOUND "$FG" -q -r "$CAP" -a secret-token -l "$RUN.log" >"$RUN.out" \
	    2>"$RUN.err"
	STATUS=$?
	[ "$STATUS" = 0 ] || problem "exit status $STATUS: $(head -1 "$RUN.err")"
	n=$(find "$RUN.log" -type f -user "$NOBODY_UID" | grep -c .)
	[ "$n" = 4 ] || problem "$n files of 4 belong to nobody: $(find "$RUN.log" -type f -printf '%u %f|')"
	finish "priv/default-nobody: as root, -l files are written as nobody"

	RUN=$OUT/priv-rootonly
	mkdir -m 700 "$RUN.log"
	chmod 700 "$RUN.log"
	$BOUND "$FG" -q -r "$CAP" -a secret-token -l "$RUN.log" >"$RUN.out" \
	    2>"$RUN.err"
	STATUS=$?
	expect_error "flowgrep: -l $RUN.log: not writable by user nobody (-u)"
	[ -z "$(ls "$RUN.log")" ] || problem "files written: $(ls "$RUN.log")"
	[ ! -s "$RUN.out" ] || problem "output: $(head -1 "$RUN.out")"
	finish "priv/root-only-dir: not writable by nobody, exit 2"

	RUN=$OUT/priv-uroot
	mkdir -m 700 "$RUN.log"
	$BOUND "$FG" -q -u root -r "$CAP" -a secret-token -l "$RUN.log" -x \
	    >"$RUN.out" 2>"$RUN.err"
	STATUS=$?
	[ "$STATUS" = 0 ] || problem "exit status $STATUS: $(head -1 "$RUN.err")"
	n=$(find "$RUN.log" -type f -user 0 | grep -c .)
	[ "$n" = 4 ] || problem "$n files of 4 belong to root"
	[ "$(grep -c . <"$RUN.out")" = 4 ] || problem "-x printed $(grep -c . <"$RUN.out") paths, expected 4"
	finish "priv/u-root: -u root writes a root-only directory"

	RUN=$OUT/priv-nosuchuser
	$BOUND "$FG" -q -u nosuchuser -r "$CAP" -a secret-token >"$RUN.out" \
	    2>"$RUN.err"
	STATUS=$?
	expect_error "flowgrep: -u: no such user 'nosuchuser'"
	[ ! -s "$RUN.out" ] || problem "output: $(head -1 "$RUN.out")"
	finish "priv/u-unknown-user: exit 2 before reading"

	name="priv/file-as-nobody: reading a file needs no privilege"
	if [ -n "$WHY_NOBODY" ]; then
		skipped "$name" "$WHY_NOBODY"
		return
	fi
	RUN=$OUT/priv-nobody
	# shellcheck disable=SC2086
	$BOUND $AS_NOBODY "$FG" -q -r "$CAP" -a secret-token >"$RUN.out" 2>"$RUN.err"
	STATUS=$?
	[ "$STATUS" = 0 ] || problem "exit status $STATUS: $(head -1 "$RUN.err")"
	[ "$(grep -c . <"$RUN.out")" = 2 ] ||
	    problem "$(grep -c . <"$RUN.out") report lines, expected 2"
	finish "$name"
}

# ---- the run ----

LIVE_CASES=
for k in ipv4-link ipv4-ip ipv6-link ipv6-ip; do
	LIVE_CASES="$LIVE_CASES live/kill-$k live/kill-$k-nobody live/kill-$k-rsts"
done
LIVE_CASES="$LIVE_CASES live/write live/sigint live/unknown-device
live/nobody-capture live/nobody-kill"
PRIV_CASES="priv/default-nobody priv/root-only-dir priv/u-root
priv/u-unknown-user priv/file-as-nobody"

[ -x "$FG" ] || echo "e2e_live: $FG is missing: every case will fail"
if [ -n "$WHY_ROOT" ]; then
	for c in $PRIV_CASES; do
		skipped "$c" "$WHY_ROOT"
	done
else
	priv_cases
fi

[ -n "$WHY_ROOT" ] || setup_ns
if [ -n "$WHY_NS" ]; then
	for c in $LIVE_CASES; do
		skipped "$c" "$WHY_NS"
	done
else
	live_kill 4 link
	live_kill 4 ip
	live_kill 6 link
	live_kill 6 ip
	live_write
	live_sigint
	live_errors
fi

cleanup
e2e_summary e2e_live
