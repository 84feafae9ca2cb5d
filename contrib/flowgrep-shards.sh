#!/bin/sh
# flowgrep-shards.sh: N flowgrep shards of a capture in GNU parallel, merged.
#
# Usage: flowgrep-shards.sh [-n N] [-j JOBS] [-S HOSTS] [-b FLOWGREP]
#            [-T TMPDIR] [-k] -r CAPTURE -w OUT.pcap [--] [FLOWGREP OPTION...]
#            [FILTER EXPRESSION]
#
#   -n N        number of shards (default: the number of CPUs here)
#   -j JOBS     shards run at once per host (GNU parallel's -j; default one
#               per CPU of each host)
#   -S HOSTS    run the shards on these hosts over ssh (GNU parallel's -S,
#               e.g. "host1,host2" or "8/host1,:"; ":" is this machine).
#               CAPTURE must be readable at the same absolute path on every
#               host (shared storage: NFS, CephFS, a bind mount...), and
#               FLOWGREP must be installed there; each host also needs perl,
#               as GNU parallel runs a small perl worker over ssh.
#   -b FLOWGREP the flowgrep binary, on every host (default: flowgrep)
#   -T TMPDIR   where the shard outputs are kept until merged (default:
#               mktemp -d)
#   -k          keep the shard outputs (TMPDIR/shard-K.pcap) after merging
#   -r CAPTURE  the capture file (pcap or pcapng; not standard input: every
#               shard reads the whole file)
#   -w OUT.pcap the merged output (- for standard output)
#
# Everything after the options (after "--" when it begins with "-") is
# passed to every shard unchanged: patterns (-a -c -s -f -F -i), -v,
# limits, the filter expression. Shard K of N runs
#
#   flowgrep --shard K/N -r CAPTURE -w - [FLOWGREP OPTION...]
#
# and keeps the packets of the flows whose hash is K mod N, so the shards
# partition the capture's flows. Their outputs, merged by time with
# Wireshark's mergecap, hold exactly the packets of one unsharded run.
# Each shard's statistics are printed on standard error, prefixed
# "shard K/N: " (pass -q to silence them).
#
# Exit status as flowgrep's: 0 if any shard selected a flow, 1 if none did,
# 2 on an error (of a shard, of ssh, or of the merge). A shard that hits a
# damaged capture still writes what it decided, and that is merged.
#
# Needs: GNU parallel (Debian: parallel), mergecap (Debian: wireshark-common,
# which tshark pulls in), flowgrep. The script installs nothing.

prog=flowgrep-shards.sh

usage() {
	cat >&2 <<EOF
usage: $prog [-n N] [-j JOBS] [-S HOSTS] [-b FLOWGREP] [-T TMPDIR] [-k]
           -r CAPTURE -w OUT.pcap [--] [FLOWGREP OPTION...] [FILTER]
EOF
	exit 2
}

die() {
	echo "$prog: $*" >&2
	exit 2
}

have() {
	command -v "$1" >/dev/null 2>&1
}

# Prints $1 quoted for sh: in single quotes, each ' as '\''. The trailing
# "x" keeps command substitution from eating final newlines.
shquote() {
	q=$(printf '%sx' "$1" | sed "s/'/'\\\\''/g")
	printf "'%s'" "${q%x}"
}

ncpu() {
	nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1
}

shards=
jobs=
hosts=
fg=flowgrep
tmp=
keep=0
cap=
out=
while getopts n:j:S:b:T:kr:w:h opt; do
	case $opt in
	n) shards=$OPTARG ;;
	j) jobs=$OPTARG ;;
	S) hosts=$OPTARG ;;
	b) fg=$OPTARG ;;
	T) tmp=$OPTARG ;;
	k) keep=1 ;;
	r) cap=$OPTARG ;;
	w) out=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))

[ -n "$cap" ] || die "-r CAPTURE is missing (see the comment atop this script)"
[ -n "$out" ] || die "-w OUT.pcap is missing (see the comment atop this script)"
[ "$cap" != - ] ||
    die "-r -: every shard reads the whole capture, so it must be a file"
[ -n "$shards" ] || shards=$(ncpu)
case $shards in
'' | *[!0-9]*) die "-n '$shards' is not a number of shards (1 or more)" ;;
esac
[ "$shards" -ge 1 ] 2>/dev/null ||
    die "-n '$shards' is not a number of shards (1 or more)"
if [ -n "$jobs" ]; then
	case $jobs in
	'' | *[!0-9%+-]*) die "-j '$jobs' is not a job count" ;;
	esac
fi

# The shards write their output to standard output and choose their shard;
# the rest is the user's. The argument of an option (a pattern "-rf", say)
# is not an option.
prev=
for a in "$@"; do
	case $prev in
	-[acsfFABCul] | --depth | --window | --hold-mem | --max-flows | \
	    --tcp-timeout | --udp-timeout | --kill-via | --kill-dry-run | \
	    --snaplen)
		prev=
		continue ;;
	esac
	case $a in
	-w* | -r* | -d* | --shard* | --fanout*)
		die "'$a': -r, -w, -d, --shard and --fanout are set by $prog" ;;
	esac
	prev=$a
done

missing=
have parallel ||
    missing="$missing GNU parallel (Debian: apt-get install parallel);"
have mergecap ||
    missing="$missing mergecap (Debian: apt-get install wireshark-common);"
# Remote hosts have their own flowgrep; only look for it here when a shard
# may run here.
case ,$hosts, in
,, | *,:,* | *,[0-9]*/:,*)
	have "$fg" || missing="$missing $fg (build it: make; or pass -b PATH);" ;;
esac
[ -z "$missing" ] || die "missing:${missing%;}"

# Remote shells start in the home directory: the capture needs its absolute
# path, which must be the same on every host.
case $cap in
/*) ;;
*) cap=$(pwd)/$cap ;;
esac
if [ -z "$hosts" ] && [ ! -r "$cap" ]; then
	die "$cap: cannot read the capture"
fi

if [ -z "$tmp" ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowgrep-shards.XXXXXX") ||
	    die "cannot make a temporary directory"
	made_tmp=1
else
	mkdir -p "$tmp" || die "$tmp: cannot make the directory"
	made_tmp=0
fi
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ "$keep" = 0 ]; then
		rm -f "$tmp"/shard-*.pcap "$tmp"/shard-*.pcap.err \
		    "$tmp"/shard-*.pcap.seq "$tmp/joblog"
		[ "$made_tmp" = 0 ] || rmdir "$tmp" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 2' HUP INT TERM

# GNU parallel replaces {}, {.}, {=...=} and more inside the command, which
# would corrupt patterns such as 'x{.}' or '[0-9]{1}'. So the user's
# arguments travel in an environment variable (exported to remote hosts
# with --env), quoted for sh, and only the shard number is replaced, under
# a string no pattern is likely to hold.
FLOWGREP_SHARDS_BIN=$(shquote "$fg")
FLOWGREP_SHARDS_ARGS="-r $(shquote "$cap") -w -"
for a in "$@"; do
	FLOWGREP_SHARDS_ARGS="$FLOWGREP_SHARDS_ARGS $(shquote "$a")"
done
export FLOWGREP_SHARDS_BIN FLOWGREP_SHARDS_ARGS
# shellcheck disable=SC2016 # expanded by the shard's shell, not here
{
	cmd='eval "exec $FLOWGREP_SHARDS_BIN --shard @@SHARD@@/'$shards
	cmd=$cmd' $FLOWGREP_SHARDS_ARGS"'
}

set -- --will-cite -I @@SHARD@@ --env FLOWGREP_SHARDS_BIN \
    --env FLOWGREP_SHARDS_ARGS --joblog "$tmp/joblog" \
    --results "$tmp/shard-@@SHARD@@.pcap"
[ -z "$jobs" ] || set -- "$@" -j "$jobs"
[ -z "$hosts" ] || set -- "$@" -S "$hosts"
# --results keeps each shard's standard output (the pcap) and error apart;
# parallel's own standard output would repeat them.
seq 0 $((shards - 1)) | parallel "$@" "$cmd" >/dev/null
prc=$?

# Statistics and errors of each shard, in shard order.
k=0
while [ "$k" -lt "$shards" ]; do
	if [ -s "$tmp/shard-$k.pcap.err" ]; then
		sed "s|^|shard $k/$shards: |" "$tmp/shard-$k.pcap.err" >&2
	fi
	k=$((k + 1))
done

# Exit status as grep's over the shards: any error wins, then any
# selection. parallel's joblog has a line per job, Exitval in column 7.
status=$(awk -F '\t' -v n="$shards" '
	NR == 1 { next }
	{ jobs++; if ($7 == 0 && $8 == 0) sel = 1
	  else if ($7 != 1 || $8 != 0) err = 1 }
	END { if (err || jobs != n) print 2; else if (sel) print 0
	      else print 1 }' "$tmp/joblog" 2>/dev/null)
[ -n "$status" ] || status=2
if [ "$prc" -ne 0 ] && [ "$status" = 1 ] && [ "$prc" -gt "$shards" ]; then
	# parallel itself failed (exit status above the number of jobs).
	status=2
fi

# Merge what the shards wrote. A shard that failed before writing its
# file header left fewer than 24 bytes: nothing to merge from it.
set --
precision=pcap
k=0
while [ "$k" -lt "$shards" ]; do
	f=$tmp/shard-$k.pcap
	if [ -f "$f" ] && [ "$(wc -c <"$f")" -ge 24 ]; then
		set -- "$@" "$f"
		# Nanosecond captures stay nanosecond ("pcap" would cut them to
		# microseconds).
		case $(od -An -tx1 -N4 "$f" | tr -d ' \n') in
		4d3cb2a1 | a1b23c4d) precision=nsecpcap ;;
		esac
	else
		echo "$prog: shard $k/$shards wrote no pcap" >&2
		status=2
	fi
	k=$((k + 1))
done
if [ $# -eq 0 ]; then
	echo "$prog: no shard output to merge" >&2
	exit 2
fi
if ! mergecap -F "$precision" -w "$out" "$@"; then
	echo "$prog: mergecap failed" >&2
	exit 2
fi
exit "$status"
