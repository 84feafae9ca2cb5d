#!/bin/sh
# e2e_sandbox.sh: flowgrep under its seccomp filter: on in every mode, and the same results as without it.
#
# Run from the repository root: BUILD=build FLOWGREP=build/flowgrep sh
# tests/e2e_sandbox.sh (make check should).
#
# Each case runs one command line twice, in a directory of its own: as
# flowgrep runs by default (the filter on once everything is open) and with
# --no-sandbox. Both runs must end by themselves (never by a signal: the
# filter kills with SIGSYS) with the exit status given, and their standard
# output, standard error and every file they write (-w, -l, --kill-dry-run)
# must be the same, byte for byte.
#
# While a run goes on, its /proc/PID/status is read: standard error is a
# pipe filled to the brim beforehand, so the run blocks at its first write
# there (the statistics at the end, or a warning), long after the filter
# went on. The default run must then show "Seccomp: 2" and "NoNewPrivs: 1"
# and one filter more than the --no-sandbox run (Seccomp_filters); in an
# AddressSanitizer build, which runs without the filter (its leak check
# traces the process at exit), the two runs must show the same.
#
#   file/...     -r FILE: report lines (to a file, and to /dev/null:
#                stdio asks a character device whether it is a terminal),
#                --json, -w FILE (pass 2 copies by offset), -w -, -l DIR
#                -x, -l with -w and -v (pass 2 through the log engine), -A,
#                pcapng, a damaged capture (exit 2), a -w that fails
#                (/dev/full, exit 2), a capture over 1 MiB (read ahead by
#                a second thread; -w, and -l with -w and -v).
#   stdin/...    the same read from a pipe (held packets): lines, --json,
#                -w with -l and -x.
#   dry-run/...  --kill-dry-run on IPv4 (file and pipe) and IPv6.
#   live/device-gone
#                as root, in a network namespace of its own: the veth
#                device a live run captures on is deleted under it;
#                libpcap's error path (the socket's error, the device's
#                flags) must end the run with exit status 2 and its
#                message, not SIGSYS.
#
# Other live captures (-d, -k on a device) run under the filter in
# tests/e2e_live.sh, signals and progress on a terminal in
# tests/e2e_watch.sh: the filter is on by default there too.
#
# Prints "ok NAME", "FAIL NAME" with indented details, or "skip NAME (why)",
# then "e2e_sandbox: N passed, M failed, K skipped"; exits 1 if any failed.
#
# Environment: BUILD (where mkcap is; its name tells an AddressSanitizer
# build, default build), FLOWGREP (the binary, default ./flowgrep),
# FLOWGREP_CORPUS (default ../shared/corpus), E2E_ONLY (run only the cases
# whose name contains this string), E2E_SANDBOX_OUT (scratch directory,
# default tests/out/sandbox, emptied at the start), E2E_SANDBOX_WAIT
# (seconds a run may take, default 20). Needs python3 (the pipe and /proc
# watcher) and Linux /proc; without them every case is skipped.

LC_ALL=C
export LC_ALL
umask 022
# ROOT, BUILD, FG, MKCAP, CORPUS; ok/FAIL/skip lines, have and PY.
. "$(pwd)/tests/e2e/lib.sh"
OUT=${E2E_SANDBOX_OUT:-$ROOT/tests/out/sandbox}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
WAIT=${E2E_SANDBOX_WAIT:-20}


case $BUILD in
*address*) ASAN=1 ;;
*) ASAN= ;;
esac

rm -rf "$OUT"
mkdir -p "$OUT"
# Runs started as root write -l files as user nobody.
chmod 755 "$OUT"

NS=fgsb$$
NS_MADE=
LIVEPID=
cleanup() {
	[ -z "$LIVEPID" ] || kill -KILL "$LIVEPID" 2>/dev/null
	[ -z "$NS_MADE" ] || ip netns del "$NS" 2>/dev/null
	NS_MADE=
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Whether case $1 is to run (E2E_ONLY).
wanted() {
	[ -z "$E2E_ONLY" ] && return 0
	case $1 in *"$E2E_ONLY"*) return 0 ;; esac
	return 1
}

# The watcher: runs a command with standard error on a full pipe, reads
# /proc/PID/status once the command blocks there, then drains the pipe.
cat >"$OUT/watch.py" <<'EOF'
"""watch.py STATUS ERR WAIT CMD...: see tests/e2e_sandbox.sh."""
import os
import subprocess
import sys
import time

status_path, err_path, wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
r, w = os.pipe()
os.set_blocking(w, False)
filler = 0
try:
    while True:
        filler += os.write(w, b"x" * 4096)
except BlockingIOError:
    pass
os.set_blocking(w, True)
p = subprocess.Popen(sys.argv[4:], stderr=w)
os.close(w)


def fields():
    got = {}
    try:
        with open("/proc/%d/status" % p.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Seccomp", "Seccomp_filters", "NoNewPrivs"):
                    got[k] = v.strip()
    except OSError:
        pass
    return got


# write(2)'s number, for kernels whose wchan says nothing.
WRITE_NR = {"x86_64": "1", "aarch64": "64"}.get(os.uname().machine)


def blocked():
    """Whether the command waits in a write to our pipe."""
    try:
        with open("/proc/%d/wchan" % p.pid) as f:
            if "pipe_write" in f.read():
                return True
        with open("/proc/%d/syscall" % p.pid) as f:
            nr = f.read().split()[:2]
        return nr == [WRITE_NR, "0x2"]
    except OSError:
        return False


# Both runs are read at the same point: blocked in their first write to
# standard error, after the first packet and the end of the input.
seen = {}
deadline = time.monotonic() + wait
while time.monotonic() < deadline and p.poll() is None:
    if blocked():
        seen = fields()
        break
    time.sleep(0.01)
with open(status_path, "w") as f:
    for k in sorted(seen):
        f.write("%s %s\n" % (k, seen[k]))
data = b""
while True:
    chunk = os.read(r, 65536)
    if not chunk:
        break
    data += chunk
try:
    p.wait(timeout=wait)
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
with open(err_path, "wb") as f:
    f.write(data[filler:])
rc = p.returncode
sys.exit(128 - rc if rc < 0 else rc)
EOF

# The value of field $2 in watch.py's status file $1 (empty when absent).
field() {
	sed -n "s/^$2 //p" "$1"
}

# Checks the filter state of run a (default) against run b (--no-sandbox).
check_state() {
	sa=$(field "$RUN.a.status" Seccomp)
	sb=$(field "$RUN.b.status" Seccomp)
	fa=$(field "$RUN.a.status" Seccomp_filters)
	fb=$(field "$RUN.b.status" Seccomp_filters)
	if [ -z "$sa" ] || [ -z "$sb" ]; then
		problem "no /proc status seen while running (default: '$(tr '\n' ' ' <"$RUN.a.status")', --no-sandbox: '$(tr '\n' ' ' <"$RUN.b.status")')"
		return
	fi
	if [ -n "$ASAN" ]; then
		if [ "$sa" != "$sb" ] || [ "$fa" != "$fb" ]; then
			problem "AddressSanitizer build: a filter was installed (Seccomp $sa/$fa filters, --no-sandbox $sb/$fb)"
		fi
		return
	fi
	[ "$sa" = 2 ] ||
	    problem "Seccomp: $sa while running, expected 2 (a filter)"
	[ "$(field "$RUN.a.status" NoNewPrivs)" = 1 ] ||
	    problem "NoNewPrivs: $(field "$RUN.a.status" NoNewPrivs), expected 1"
	if [ -n "$fa" ] && [ -n "$fb" ]; then
		[ "$fa" -eq $((fb + 1)) ] ||
		    problem "Seccomp_filters: $fa, expected one more than --no-sandbox's $fb"
	fi
}

# Statistics lines that depend on how a pipe was read (held bytes).
stable_err() {
	grep -v 'packets held (peak' "$1"
}

# pair NAME STATUS FUNCTION: runs FUNCTION "COMMAND" twice, in
# $RUN.a/ (COMMAND: flowgrep) and $RUN.b/ (flowgrep --no-sandbox), each
# with a writable log/ directory, and compares the two.
pair() {
	name=$1
	want=$2
	fn=$3
	wanted "$name" || return 0
	RUN=$OUT/$(echo "$name" | tr '/' '-')
	for v in a b; do
		mkdir -p "$RUN.$v/log"
		chmod 777 "$RUN.$v" "$RUN.$v/log"
		extra=
		[ "$v" = b ] && extra=--no-sandbox
		(cd "$RUN.$v" && $fn "$PY $OUT/watch.py $RUN.$v.status $RUN.$v.err $WAIT $FG $extra" \
		    >"$RUN.$v.out" </dev/null)
		eval "st_$v=\$?"
	done
	# shellcheck disable=SC2154 # st_a and st_b are set by eval
	for v in a b; do
		eval "st=\$st_$v"
		[ "$v" = a ] && which=default || which=--no-sandbox
		if [ "$st" -ge 128 ]; then
			problem "$which: killed by signal $((st - 128)) ($(kill -l $((st - 128)) 2>/dev/null)); stderr: $(head -c 300 "$RUN.$v.err" | tr '\n' '|')"
		elif [ "$st" != "$want" ]; then
			problem "$which: exit status $st, expected $want; stderr: $(head -c 300 "$RUN.$v.err" | tr '\n' '|')"
		fi
	done
	cmp -s "$RUN.a.out" "$RUN.b.out" ||
	    problem "standard output differs: $(diff "$RUN.a.out" "$RUN.b.out" | head -4 | tr '\n' '|')"
	stable_err "$RUN.a.err" >"$RUN.a.err2"
	stable_err "$RUN.b.err" >"$RUN.b.err2"
	cmp -s "$RUN.a.err2" "$RUN.b.err2" ||
	    problem "standard error differs: $(diff "$RUN.a.err2" "$RUN.b.err2" | head -4 | tr '\n' '|')"
	d=$(diff -r "$RUN.a" "$RUN.b" 2>&1 | head -4 | tr '\n' '|')
	[ -z "$d" ] || problem "files written differ: $d"
	check_state
	finish "$name"
}

# Prints the path of generated capture $1, writing it on first use.
gen_capture() {
	g=$OUT/gen-$1.pcap
	if [ ! -f "$g" ]; then
		"$MKCAP" "$1" "$g" >/dev/null 2>&1 || return 1
		chmod 644 "$g"
	fi
	echo "$g"
}

# ---- the cases: $1 is the command, run in the case's directory ----

# $1 is a command and its arguments; stdin cases read a pipe, on purpose.
# shellcheck disable=SC2086,SC2002
{
f_lines() { $1 -r "$SPLIT" -a secret-token; }
f_lines_null() { $1 -r "$SPLIT" -a secret-token >/dev/null; }
f_json() { $1 --json -r "$MIXED" -a ''; }
f_w() { $1 -r "$SPLIT" -a secret-token -w out.pcap; }
f_w_stdout() { $1 -r "$MIXED" -a '' -w -; }
f_l_x() { $1 -r "$SPLIT" -a secret-token -l log -x; }
f_l_w_v() { $1 -r "$MIXED" -v -a no-such-bytes -l log -w out.pcap; }
f_context() { $1 -r "$CONTEXT" -A 1 -a ctx-secret -w out.pcap; }
f_pcapng() { $1 -r "$PCAPNG" -a '' -w out.pcap; }
f_damaged() { $1 -r "$DAMAGED" -a secret-token -w out.pcap; }
f_ahead() { $1 -r "$AHEAD" -a 'PRIVMSG' -w out.pcap; }
f_ahead_l_w_v() { $1 -r "$AHEAD" -v -a no-such-bytes -l log -w out.pcap; }
f_copy_ahead() { $1 -r "$BULK" -v -a HTTP -w out.pcap; }
f_match_thread() { $1 -r "$BULK" --match-thread always -a 'HTTP/1\.1 200' -w out.pcap; }
f_full() { $1 -r "$MIXED" -a '' -w /dev/full; }
f_stdin_lines() { cat "$SPLIT" | $1 -a secret-token; }
f_stdin_json() { cat "$MIXED" | $1 --json -a ''; }
f_stdin_w_l_x() { cat "$MIXED" | $1 -a '' -w out.pcap -l log -x; }
f_dry_file() { $1 -r "$KILL4" -a kill-secret --kill-dry-run rsts.pcap; }
f_dry_stdin() { cat "$KILL4" | $1 -a kill-secret --kill-dry-run rsts.pcap; }
f_dry_ipv6() { $1 -r "$KILL6" -s v6-kill-secret --kill-via ip --kill-dry-run rsts.pcap; }
}

# Succeeds when the shell condition $1 holds within $WAIT seconds.
wait_until() {
	n=$((WAIT * 10))
	until eval "$1"; do
		[ "$n" -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.1
	done
}

live_device_gone() {
	name=live/device-gone
	wanted "$name" || return 0
	if [ "$(id -u)" != 0 ] || ! have ip; then
		skipped "$name" "needs root and ip(8)"
		return
	fi
	if ! ip netns add "$NS" 2>/dev/null; then
		skipped "$name" "ip netns unavailable"
		return
	fi
	NS_MADE=1
	if ! ip -n "$NS" link add sa type veth peer name sb 2>/dev/null ||
	    ! ip -n "$NS" link set sa up || ! ip -n "$NS" link set sb up; then
		skipped "$name" "cannot set up a veth pair"
		cleanup
		return
	fi
	RUN=$OUT/live-device-gone
	ip netns exec "$NS" "$FG" -d sa -a x >"$RUN.out" 2>"$RUN.err" &
	LIVEPID=$!
	# shellcheck disable=SC2016 # evaluated by wait_until
	if ! wait_until 'grep -q "listening on" "$RUN.err"'; then
		problem "no 'listening on' line: $(head -2 "$RUN.err" | tr '\n' '|')"
	elif [ -z "$ASAN" ] && ! wait_until \
	    '[ "$(sed -n "s/^Seccomp:[[:space:]]*//p" /proc/$LIVEPID/status)" = 2 ]'; then
		problem "the live run never showed Seccomp: 2"
	fi
	ip -n "$NS" link del sa
	# shellcheck disable=SC2016
	if wait_until '! kill -0 $LIVEPID 2>/dev/null || [ "$(sed -n "s/^State:[[:space:]]*\(.\).*/\1/p" /proc/$LIVEPID/status)" = Z ]'; then
		wait "$LIVEPID"
		st=$?
	else
		kill -KILL "$LIVEPID"
		wait "$LIVEPID"
		st=timeout
	fi
	LIVEPID=
	if [ "$st" = timeout ]; then
		problem "still running $WAIT s after its device was deleted"
	elif [ "$st" -ge 128 ]; then
		problem "killed by signal $((st - 128)) ($(kill -l $((st - 128)) 2>/dev/null)) when its device was deleted"
	elif [ "$st" != 2 ]; then
		problem "exit status $st, expected 2"
	fi
	grep -q 'The interface disappeared' "$RUN.err" ||
	    problem "no 'The interface disappeared' line: $(head -3 "$RUN.err" | tr '\n' '|')"
	cleanup
	finish "$name: the device deleted under a live run: exit 2"
}

if [ -z "$PY" ] || [ ! -r /proc/self/status ]; then
	skipped "file/*, stdin/*, dry-run/*" "needs python3 and Linux /proc"
	e2e_summary e2e_sandbox
	exit
fi
if [ ! -x "$MKCAP" ] || ! SPLIT=$(gen_capture split-match) ||
    ! MIXED=$(gen_capture mixed) || ! CONTEXT=$(gen_capture context) ||
    ! KILL4=$(gen_capture kill4) || ! KILL6=$(gen_capture kill6) ||
    ! BULK=$(gen_capture bulk); then
	skipped "file/*, stdin/*, dry-run/*" "cannot write captures with $MKCAP"
	e2e_summary e2e_sandbox
	exit
fi
# split-match cut in the middle of its last record.
DAMAGED=$OUT/damaged.pcap
head -c "$(($(wc -c <"$SPLIT") - 10))" "$SPLIT" >"$DAMAGED"
chmod 644 "$DAMAGED"

pair file/lines 0 f_lines
pair file/lines-dev-null 0 f_lines_null
pair file/json 0 f_json
pair file/w 0 f_w
pair file/w-stdout 0 f_w_stdout
pair file/l-x 0 f_l_x
pair file/l-w-v 0 f_l_w_v
pair file/context 0 f_context
if [ -n "$CORPUS" ] && [ -r "$CORPUS/nDPI--steam.pcapng" ]; then
	PCAPNG=$CORPUS/nDPI--steam.pcapng
	pair file/pcapng 0 f_pcapng
else
	skipped file/pcapng "no $CORPUS/nDPI--steam.pcapng"
fi
pair file/damaged 2 f_damaged
# Over 1 MiB: read by a second thread, which runs under the filter too.
if [ -n "$CORPUS" ] && [ -r "$CORPUS/zeek--irc-dcc-send.pcapng" ]; then
	AHEAD=$CORPUS/zeek--irc-dcc-send.pcapng
	pair file/read-ahead 0 f_ahead
	pair file/read-ahead-l-w-v 0 f_ahead_l_w_v
else
	skipped "file/read-ahead*" "no $CORPUS/zeek--irc-dcc-send.pcapng"
fi
# Pass 2 of a classic pcap over 1 MiB copies from the blocks read ahead.
pair file/copy-ahead 0 f_copy_ahead
# Pass 1 matching on a second thread, started before the filter.
pair file/match-thread 0 f_match_thread
if [ -w /dev/full ]; then
	pair file/write-error 2 f_full
else
	skipped file/write-error "no /dev/full"
fi
pair stdin/lines 0 f_stdin_lines
pair stdin/json 0 f_stdin_json
pair stdin/w-l-x 0 f_stdin_w_l_x
pair dry-run/file 0 f_dry_file
pair dry-run/stdin 0 f_dry_stdin
pair dry-run/ipv6 0 f_dry_ipv6
live_device_gone

e2e_summary e2e_sandbox
