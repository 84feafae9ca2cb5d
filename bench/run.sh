#!/usr/bin/env bash
# bench/run.sh: times flowgrep against cat, tcpdump, ngrep, tshark and tcpflow
# on synthetic captures, checks what each finds, and writes bench/RESULTS.md.
#
# Run it as `make bench`. Knobs (environment):
#   BENCH_MB=1024       size of the main capture in MiB
#   BENCH_RUNS=5        timed runs of every case, alternating between cases
#   BENCH_DIR=~/.cache/flowgrep-bench   where captures are generated and kept
#   BENCH_TIMEOUT=600   seconds one run may take; a case that exceeds it is
#                       reported as a timeout and not run again
#   BENCH_SLOW=60       a case whose run took longer is not run again (its
#                       one time is reported), so a slow path costs one run
#   BENCH_BIG=0         1: also run flowgrep on a 4 GiB capture (peak RSS must
#                       not grow with the input; needs 4 GiB of disk, ~2 min)
#   BENCH_CFLAGS=       empty: the plain `make` build (-O2 -g); else build in
#                       build-bench/ with these CFLAGS
#   BENCH_FLOWGREP=     time this flowgrep binary instead of building one
#   BENCH_HYPERFINE=1   0: skip the hyperfine cross-check of the headline pair
#   BENCH_INSTALL=1     0: never apt-get install missing tools
#   BENCH_RESULTS=bench/RESULTS.md   where the markdown report goes
#   BENCH_CASES=        only these case ids (e.g. "ngrep fg"; default all)
# Exit status: 0, or 1 when a flowgrep correctness check failed, 2 on error.
set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD

BENCH_MB=${BENCH_MB:-1024}
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_DIR=${BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flowgrep-bench}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
BENCH_SLOW=${BENCH_SLOW:-60}
BENCH_BIG=${BENCH_BIG:-0}
BENCH_CFLAGS=${BENCH_CFLAGS:-}
BENCH_FLOWGREP=${BENCH_FLOWGREP:-}
BENCH_HYPERFINE=${BENCH_HYPERFINE:-1}
BENCH_INSTALL=${BENCH_INSTALL:-1}
BENCH_RESULTS=${BENCH_RESULTS:-bench/RESULTS.md}
GEN=${BENCH_GEN:-$ROOT/../shared/bench/gen-bench-pcap.py}
# tshark and tcpflow are 20-100 times slower than the rest, so they run on a
# small capture (as issue 5 does), side by side with flowgrep on the same file.
SMALL_MB=64
BIG_MB=4096
# The generator plants this marker; every tool greps for it.
CANARY=X-Flowgrep-Canary
REGEX='X-Flowgrep-Canary: fg[0-9]{6}|passw(or)?d='

die() {
	echo "bench: $*" >&2
	exit 2
}

say() {
	printf '%s\n' "$*" >&2
}

case $BENCH_MB$BENCH_RUNS$BENCH_TIMEOUT$BENCH_SLOW in
*[!0-9]*) die "BENCH_MB, BENCH_RUNS, BENCH_TIMEOUT and BENCH_SLOW must be numbers" ;;
esac
[ "$BENCH_RUNS" -ge 1 ] && [ "$BENCH_MB" -ge 1 ] || die "BENCH_MB and BENCH_RUNS must be at least 1"
[ -f "$GEN" ] || die "no generator at $GEN (set BENCH_GEN)"
command -v python3 >/dev/null || die "python3 is needed to generate the captures"

# Scratch space for the tools' outputs: tmpfs when it has room, so that disk
# writeback of one run's output does not slow the next run down. Removed at
# exit, whatever happens.
# The -v outputs of flowgrep and ngrep are each about the capture size.
need_mb=$((BENCH_MB * 3 + 256))
SCRATCH=
if [ -d /dev/shm ] && [ -w /dev/shm ] &&
	[ "$(df -Pm /dev/shm | awk 'NR == 2 { print $4 }')" -gt "$need_mb" ]; then
	SCRATCH=$(mktemp -d /dev/shm/flowgrep-bench.XXXXXX) || die "mktemp failed"
else
	mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
	SCRATCH=$(mktemp -d "$BENCH_DIR/run.XXXXXX") || die "mktemp failed"
fi
GEN_TMP=
cleanup() {
	[ -n "$SCRATCH" ] && rm -rf "$SCRATCH"
	[ -n "$GEN_TMP" ] && rm -f "$GEN_TMP.pcap.tmp" "$GEN_TMP.truth.tsv.tmp"
}
# The command being timed runs in the background under `timeout`, which
# puts it in a process group of its own (so a terminal's ^C does not reach
# it): on a signal, stop it through `timeout`, by process id, and wait.
CUR=
exec 3>&2
on_signal() {
	local c
	if [ -n "$CUR" ]; then
		for c in $(pgrep -P "$CUR"); do
			kill -TERM "$c" 2>/dev/null
		done
		kill -TERM "$CUR" 2>/dev/null
		wait "$CUR" 2>/dev/null
	fi
	# Fd 3 is the script's standard error: a trap inside bg_wait would
	# otherwise write to the timed command's log.
	say "bench: interrupted" 2>&3
	exit 2
}
trap cleanup EXIT
trap on_signal INT TERM

# bg_wait CMD...: runs CMD in the background and waits for it, so that a
# signal reaches on_signal at once; returns CMD's exit status.
bg_wait() {
	local rc
	"$@" &
	CUR=$!
	wait "$CUR"
	rc=$?
	CUR=
	return $rc
}
mkdir -p "$SCRATCH/out" "$SCRATCH/log" "$SCRATCH/t"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)

# --- tools -----------------------------------------------------------------

APT_UPDATED=0
# found TOOL: TOOL is an executable file, or an external command on PATH
# (not a shell keyword such as bash's `time`).
found() {
	case $1 in
	/*) [ -x "$1" ] ;;
	*) [ -n "$(type -P "$1")" ] ;;
	esac
}
# have TOOL PACKAGE: true when TOOL (a name on PATH, or an absolute path) is
# there, installing PACKAGE first (Debian, as root) when it is missing.
have() {
	found "$1" && return 0
	if [ "$BENCH_INSTALL" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "bench: installing $2 for $1"
		if [ "$APT_UPDATED" = 0 ]; then
			timeout 600 apt-get update -qq >/dev/null 2>&1
			APT_UPDATED=1
		fi
		DEBIAN_FRONTEND=noninteractive timeout 900 \
			apt-get install -y -qq "$2" >"$SCRATCH/log/apt-$2" 2>&1
	fi
	found "$1" && return 0
	say "bench: $1 is not installed and cannot be installed: skipping its cases"
	return 1
}

have /usr/bin/time time || die "/usr/bin/time is needed for peak RSS"
HAVE_NGREP=0; have ngrep ngrep && HAVE_NGREP=1
HAVE_TSHARK=0; have tshark tshark && HAVE_TSHARK=1
HAVE_HYPERFINE=0; have hyperfine hyperfine && HAVE_HYPERFINE=1
HAVE_TCPFLOW=0; have tcpflow tcpflow && HAVE_TCPFLOW=1
have tcpdump tcpdump || die "tcpdump is needed"

# --- build -----------------------------------------------------------------

if [ -n "$BENCH_FLOWGREP" ]; then
	[ -x "$BENCH_FLOWGREP" ] || die "BENCH_FLOWGREP=$BENCH_FLOWGREP is not executable"
	say "bench: timing $BENCH_FLOWGREP (not built here)"
	FG=$BENCH_FLOWGREP
	FG_CFLAGS="unknown flags (prebuilt $BENCH_FLOWGREP)"
elif [ -z "$BENCH_CFLAGS" ]; then
	say "bench: building flowgrep (make, -O2 -g)"
	make -s -j2 build/flowgrep >"$SCRATCH/log/make" 2>&1 ||
		{ cat "$SCRATCH/log/make" >&2; die "build failed"; }
	FG=$ROOT/build/flowgrep
	FG_CFLAGS="-O2 -g (plain make)"
else
	say "bench: building flowgrep in build-bench/ with CFLAGS=$BENCH_CFLAGS"
	make -s -j2 BUILD=build-bench CFLAGS="$BENCH_CFLAGS" build-bench/flowgrep \
		>"$SCRATCH/log/make" 2>&1 ||
		{ cat "$SCRATCH/log/make" >&2; die "build failed"; }
	FG=$ROOT/build-bench/flowgrep
	FG_CFLAGS=$BENCH_CFLAGS
fi

# Other people may rebuild build/ while this runs: time a copy.
cp "$FG" "$SCRATCH/flowgrep" || die "cannot copy $FG"
FG=$SCRATCH/flowgrep
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The results file of an earlier bench changes nothing that is timed.
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null |
	grep -v ' bench/RESULTS.md$')" ] &&
	REV="$REV with uncommitted changes"
[ -n "$BENCH_FLOWGREP" ] && REV="unknown"

# --- captures --------------------------------------------------------------

# capture MB: generates bench-MB.pcap and its truth TSV in BENCH_DIR unless
# both are there, under temporary names so that an interrupted run never
# leaves a partial capture that looks complete.
capture() {
	local mb=$1 f="$BENCH_DIR/bench-$1.pcap" t="$BENCH_DIR/bench-$1.truth.tsv"
	if [ -s "$f" ] && [ -s "$t" ]; then
		return 0
	fi
	mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
	local avail
	avail=$(df -Pm "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
	[ "$avail" -gt $((mb + 512)) ] ||
		die "$BENCH_DIR has $avail MiB free; bench-$mb.pcap needs $mb MiB"
	say "bench: generating $f (about $((mb / 45 + 1)) s)"
	GEN_TMP=$BENCH_DIR/bench-$mb
	bg_wait timeout 3600 python3 "$GEN" --size "$mb" --out "$f.tmp" --truth "$t.tmp" ||
		{ rm -f "$f.tmp" "$t.tmp"; die "generating $f failed"; }
	mv "$t.tmp" "$t" && mv "$f.tmp" "$f" || die "cannot rename $f.tmp"
	GEN_TMP=
}

capture "$BENCH_MB"
capture "$SMALL_MB"
[ "$BENCH_BIG" = 1 ] && capture "$BIG_MB"
F=$BENCH_DIR/bench-$BENCH_MB.pcap
FS=$BENCH_DIR/bench-$SMALL_MB.pcap
FB=$BENCH_DIR/bench-$BIG_MB.pcap

python3 "$ROOT/bench/gen-patterns.py" 1000 >"$SCRATCH/p1000.txt" || die "gen-patterns.py failed"
python3 "$ROOT/bench/gen-patterns.py" 100 >"$SCRATCH/p100.txt" || die "gen-patterns.py failed"

# --- cases -----------------------------------------------------------------

# Each case: an id, the command as shown in the report (F = the capture,
# OUT = an output file), the command run (by sh -c), the file to warm, and
# the exit statuses that count as success.
IDS=()
declare -A LABEL CMD WARM OKRC OUTF DEAD
O=$SCRATCH/out
q() {
	printf '%q' "$1"
}
add() {
	case " ${BENCH_CASES:-$1} " in
	*" $1 "*) ;;
	*) return ;;
	esac
	IDS+=("$1")
	LABEL[$1]=$2
	CMD[$1]=$3
	WARM[$1]=$4
	OKRC[$1]=$5
	OUTF[$1]=$O/$1
	DEAD[$1]=
}

fg=$(q "$FG")
f=$(q "$F")
# The harness's own cost (time, timeout, sh): a few milliseconds, not
# subtracted from the others.
add null "true (harness overhead)" "true" /dev/null "0"
add cat "cat F >/dev/null" "cat $f >/dev/null" "$F" "0"
add tcpdump "tcpdump -r F -w /dev/null" "tcpdump -r $f -w /dev/null" "$F" "0"
if [ "$HAVE_NGREP" = 1 ]; then
	add ngrep "ngrep -q -I F -O OUT '$CANARY'" \
		"ngrep -q -I $f -O $O/ngrep '$CANARY'" "$F" "0 1"
fi
add fg "flowgrep -q -r F -a '$CANARY' -w OUT" \
	"$fg -q -r $f -a '$CANARY' -w $O/fg" "$F" "0 1"
add fg-v "flowgrep -q -r F -v -a '$CANARY' -w OUT" \
	"$fg -q -r $f -v -a '$CANARY' -w $O/fg-v" "$F" "0 1"
# About half the bytes selected: pass 2 copies them from the file read
# ahead again (pcapio_copy_ahead).
add fg-half "flowgrep -q -r F -a 'GET /' -w OUT" \
	"$fg -q -r $f -a 'GET /' -w $O/fg-half" "$F" "0 1"
# -v writes nearly every packet: the like-for-like comparison is ngrep -v.
if [ "$HAVE_NGREP" = 1 ]; then
	add ngrep-v "ngrep -q -v -I F -O OUT '$CANARY'" \
		"ngrep -q -v -I $f -O $O/ngrep-v '$CANARY'" "$F" "0 1"
fi
add fg-pipe "flowgrep -q -r F -a '$CANARY' -w - | cat >/dev/null" \
	"$fg -q -r $f -a '$CANARY' -w - | cat >/dev/null" "$F" "0"
add fg-stdin "cat F | flowgrep -q -a '$CANARY' -w OUT" \
	"cat $f | $fg -q -a '$CANARY' -w $O/fg-stdin" "$F" "0 1"
# The floor under the stdin ratio: a reader that only reads the pipe
# (bench/pipecat.c: a 1 MiB pipe, as flowgrep makes it).
if cc -O2 -D_GNU_SOURCE -o "$SCRATCH/pipecat" "$ROOT/bench/pipecat.c" \
	2>"$SCRATCH/pipecat.err"; then
	add pipe-floor "cat F | pipecat (reads the pipe, nothing else)" \
		"cat $f | $(q "$SCRATCH/pipecat") >/dev/null" "$F" "0"
else
	say "bench: bench/pipecat.c did not build: $(head -1 "$SCRATCH/pipecat.err")"
fi
if [ "$HAVE_NGREP" = 1 ]; then
	add ngrep-re "ngrep -q -I F -O OUT '$REGEX'" \
		"ngrep -q -I $f -O $O/ngrep-re '$REGEX'" "$F" "0 1"
fi
add fg-re "flowgrep -q -r F -a '$REGEX' -w OUT" \
	"$fg -q -r $f -a '$REGEX' -w $O/fg-re" "$F" "0 1"
# -f holds client patterns and -F server patterns: both make it -a's equal.
# Compiled every run (--no-pattern-cache), and loaded from a pattern cache
# filled before the rounds (what every run after the first does).
add fg-p100 "flowgrep -q -r F -f P100 -F P100 -w OUT --no-pattern-cache" \
	"$fg -q -r $f -f $SCRATCH/p100.txt -F $SCRATCH/p100.txt -w $O/fg-p100 --no-pattern-cache" "$F" "0 1"
add fg-p1000 "flowgrep -q -r F -f P1000 -F P1000 -w OUT --no-pattern-cache" \
	"$fg -q -r $f -f $SCRATCH/p1000.txt -F $SCRATCH/p1000.txt -w $O/fg-p1000 --no-pattern-cache" "$F" "0 1"
add fg-p1000c "flowgrep -q -r F -f P1000 -F P1000 -w OUT (pattern cache filled)" \
	"$fg -q -r $f -f $SCRATCH/p1000.txt -F $SCRATCH/p1000.txt -w $O/fg-p1000c --pattern-cache $SCRATCH/pcache" "$F" "0 1"
# The same without the match thread (matcher.c): what the thread buys.
add fg-p1000n "flowgrep -q -r F -f P1000 -F P1000 -w OUT (pattern cache filled) --match-thread never" \
	"$fg -q -r $f -f $SCRATCH/p1000.txt -F $SCRATCH/p1000.txt -w $O/fg-p1000n --pattern-cache $SCRATCH/pcache --match-thread never" "$F" "0 1"
MAIN_IDS=("${IDS[@]}")

fs=$(q "$FS")
IDS=()
add s-fg "flowgrep -q -r F64 -a '$CANARY' -w OUT" \
	"$fg -q -r $fs -a '$CANARY' -w $O/s-fg" "$FS" "0 1"
if [ "$HAVE_NGREP" = 1 ]; then
	add s-ngrep "ngrep -q -I F64 -O OUT '$CANARY'" \
		"ngrep -q -I $fs -O $O/s-ngrep '$CANARY'" "$FS" "0 1"
fi
if [ "$HAVE_TSHARK" = 1 ]; then
	add s-tshark "tshark -r F64 -Y 'tcp.payload matches \"$CANARY\"' -w OUT" \
		"tshark -r $fs -Y 'tcp.payload matches \"$CANARY\"' -w $O/s-tshark" "$FS" "0"
fi
if [ "$HAVE_TCPFLOW" = 1 ]; then
	add s-tcpflow "tcpflow -r F64 -o DIR" "tcpflow -r $fs -o $O/s-tcpflow" "$FS" "0"
fi
SMALL_IDS=("${IDS[@]}")

BIG_IDS=()
if [ "$BENCH_BIG" = 1 ]; then
	IDS=()
	fb=$(q "$FB")
	add b-fg "flowgrep -q -r F4096 -a '$CANARY' -w OUT" \
		"$fg -q -r $fb -a '$CANARY' -w $O/b-fg" "$FB" "0 1"
	add b-main "flowgrep -q -r F -a '$CANARY' -w OUT" \
		"$fg -q -r $f -a '$CANARY' -w $O/b-main" "$F" "0 1"
	BIG_IDS=("${IDS[@]}")
fi

# --- measuring -------------------------------------------------------------

# us T: an EPOCHREALTIME value in microseconds.
us() {
	echo $((${1%.*} * 1000000 + 10#${1#*.}))
}

# measure ID RUN: warms the case's input, removes its last output, and times
# one run. Times go to t/ID (microseconds), peak RSS to t/ID.rss (KiB), the
# CPU time of every process of the run (user + system) to t/ID.cpu (s).
measure() {
	local id=$1 run=$2 rc t0 t1 rss cu cs ok=0 c
	rm -rf "${OUTF[$id]}"
	[ "$id" = s-tcpflow ] && mkdir -p "${OUTF[$id]}"
	cat "${WARM[$id]}" >/dev/null
	t0=$EPOCHREALTIME
	bg_wait /usr/bin/time -f '%M %U %S' -o "$SCRATCH/t/rss" \
		timeout -k 5 "$BENCH_TIMEOUT" sh -c "${CMD[$id]}" \
		</dev/null >/dev/null 2>"$SCRATCH/log/$id"
	rc=$?
	t1=$EPOCHREALTIME
	t0=$(us "$t0")
	t1=$(us "$t1")
	for c in ${OKRC[$id]}; do
		[ "$rc" = "$c" ] && ok=1
	done
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		DEAD[$id]=timeout
		printf '  [%d/%d] %-10s timeout after %s s: not run again\n' \
			"$run" "$BENCH_RUNS" "$id" "$BENCH_TIMEOUT" >&2
		return
	fi
	if [ "$ok" = 0 ]; then
		DEAD[$id]="exit $rc"
		printf '  [%d/%d] %-10s failed (exit %d): not run again\n' \
			"$run" "$BENCH_RUNS" "$id" "$rc" >&2
		sed 's/^/      /' "$SCRATCH/log/$id" | tail -5 >&2
		return
	fi
	# time(1) writes "Command exited with non-zero status N" first then.
	read -r rss cu cs < <(tail -n 1 "$SCRATCH/t/rss")
	echo $((t1 - t0)) >>"$SCRATCH/t/$id"
	echo "$rss" >>"$SCRATCH/t/$id.rss"
	awk -v u="$cu" -v s="$cs" 'BEGIN { printf "%.2f\n", u + s }' >>"$SCRATCH/t/$id.cpu"
	awk -v r="$run" -v n="$BENCH_RUNS" -v id="$id" -v us=$((t1 - t0)) -v kb="$rss" \
		'BEGIN { printf "  [%d/%d] %-10s %8.3f s %8.1f MiB\n", r, n, id, us / 1e6, kb / 1024 }' >&2
	if [ $((t1 - t0)) -gt $((BENCH_SLOW * 1000000)) ] && [ "$run" -lt "$BENCH_RUNS" ]; then
		DEAD[$id]=slow
		printf '  %-16s slower than %s s: not run again\n' "$id" "$BENCH_SLOW" >&2
	fi
}

# run_group TITLE ID...: BENCH_RUNS rounds; each round runs every case once,
# starting one case later than the round before, so that no tool always
# follows the same neighbour.
run_group() {
	local title=$1 r k n i id
	shift
	n=$#
	[ "$n" -gt 0 ] || return 0
	local ids=("$@")
	say "== $title: ${ids[*]}"
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for ((k = 0; k < n; k++)); do
			i=$(((k + r - 1) % n))
			id=${ids[$i]}
			[ -n "${DEAD[$id]}" ] && continue
			measure "$id" "$r"
		done
	done
}

# fg-p1000c's cache: compiled once on a capture without packets.
head -c 24 "$F" >"$SCRATCH/empty.pcap"
"$FG" -q -r "$SCRATCH/empty.pcap" -f "$SCRATCH/p1000.txt" -F "$SCRATCH/p1000.txt" \
	--pattern-cache "$SCRATCH/pcache" -w /dev/null 2>/dev/null
[ -n "$(ls "$SCRATCH/pcache" 2>/dev/null)" ] || say "bench: the pattern cache stayed empty"
run_group "main capture, $BENCH_MB MiB, $BENCH_RUNS rounds" "${MAIN_IDS[@]}"

# The floor under the pattern-file ratio: Vectorscan alone (bench/hsalone.c)
# over every TCP payload of F, with one pattern and with P1000, three times
# each, alternated; the medians of its own scan times (compile left out).
HS_FLOOR=
read -r -a HS_CFLAGS <<<"$(pkg-config --cflags libhs)"
read -r -a HS_LIBS <<<"$(pkg-config --libs libhs)"
if cc -O2 -D_GNU_SOURCE "${HS_CFLAGS[@]}" -o "$SCRATCH/hsalone" \
	"$ROOT/bench/hsalone.c" "${HS_LIBS[@]}" -ldl 2>"$SCRATCH/hsalone.err"; then
	echo "$CANARY" >"$SCRATCH/p1.txt"
	: >"$SCRATCH/hs-p1"
	: >"$SCRATCH/hs-p1000"
	for r in 1 2 3; do
		for p in p1 p1000; do
			cat "$F" >/dev/null
			"$SCRATCH/hsalone" "$SCRATCH/$p.txt" "$F" |
				sed -n 's/.*scan \([0-9.]*\) s.*/\1/p' >>"$SCRATCH/hs-$p"
		done
	done
	HS_P1=$(sort -n "$SCRATCH/hs-p1" | sed -n 2p)
	HS_P1000=$(sort -n "$SCRATCH/hs-p1000" | sed -n 2p)
	[ -n "$HS_P1" ] && [ -n "$HS_P1000" ] && HS_FLOOR=1
else
	say "bench: bench/hsalone.c did not build: $(head -1 "$SCRATCH/hsalone.err")"
fi
run_group "small capture, $SMALL_MB MiB, $BENCH_RUNS rounds" "${SMALL_IDS[@]}"
if [ "$BENCH_BIG" = 1 ]; then
	run_group "peak RSS: $BIG_MB MiB against $BENCH_MB MiB, $BENCH_RUNS rounds" "${BIG_IDS[@]}"
fi

# --- statistics ------------------------------------------------------------

declare -A MED MIN MAX RSS CNT CPUS
for id in "${MAIN_IDS[@]}" "${SMALL_IDS[@]}" "${BIG_IDS[@]}"; do
	[ -s "$SCRATCH/t/$id" ] || continue
	read -r MED[$id] MIN[$id] MAX[$id] < <(sort -n "$SCRATCH/t/$id" | awk '
		{ v[NR] = $1 }
		END {
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.6f %.6f %.6f\n", m / 1e6, v[1] / 1e6, v[NR] / 1e6
		}')
	RSS[$id]=$(sort -n "$SCRATCH/t/$id.rss" | tail -n 1)
	CPUS[$id]=$(sort -n "$SCRATCH/t/$id.cpu" | awk '{ v[NR] = $1 }
		END { printf "%.2f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	CNT[$id]=$(wc -l <"$SCRATCH/t/$id")
done

# cells ID: the "median | min–max | spread | CPU | RSS" cells, or why there
# are none.
cells() {
	local id=$1
	if [ -n "${MED[$id]:-}" ]; then
		awk -v m="${MED[$id]}" -v lo="${MIN[$id]}" -v hi="${MAX[$id]}" \
			-v kb="${RSS[$id]}" -v d="${DEAD[$id]}" -v n="${CNT[$id]}" \
			-v cpu="${CPUS[$id]}" 'BEGIN {
			# mawk has no "%.*f": build the format.
			t = m < 1 ? "%.3f" : "%.2f"
			note = ""
			if (d == "slow") note = " (" n " run" (n > 1 ? "s" : "") ", slow)"
			else if (d == "timeout") note = " (a later run timed out)"
			else if (d != "") note = " (a later run failed: " d ")"
			sp = n > 1 && m > 0 ? sprintf("%.0f%%", 100 * (hi - lo) / m) : "–"
			printf t "%s | " t "–" t " | %s | %s | %.1f", m, note, lo, hi,
				sp, cpu, kb / 1024
		}'
	elif [ "${DEAD[$id]}" = timeout ]; then
		echo "> $BENCH_TIMEOUT (timeout) | – | – | – | –"
	else
		echo "${DEAD[$id]:-not run} | – | – | – | –"
	fi
}

# paired A B: the median over rounds of A's time / B's time in the same
# round, or "–" when the two did not run the same rounds. A machine's slow
# phases that last a round or longer cancel out of it.
paired() {
	local fa=$SCRATCH/t/$1 fb=$SCRATCH/t/$2
	if [ ! -s "$fa" ] || [ ! -s "$fb" ] ||
		[ "$(wc -l <"$fa")" != "$(wc -l <"$fb")" ]; then
		echo "–"
		return
	fi
	paste "$fa" "$fb" | awk '$2 > 0 { print $1 / $2 }' | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "–"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.2f\n", m
		}'
}

# ratio A B [TARGET]: the "value | paired | target | met" cells for
# median(A) / median(B) and paired(). A case that timed out counts as
# BENCH_TIMEOUT, shown as "> r".
ratio() {
	local a=${MED[$1]:-} b=${MED[$2]:-} gt= pr
	if [ -z "$a" ] && [ "${DEAD[$1]:-}" = timeout ]; then
		a=$BENCH_TIMEOUT
		gt="> "
	fi
	if [ -z "$a" ] || [ -z "$b" ]; then
		if [ -n "${3:-}" ]; then
			echo "n/a | – | ≤ $3 | –"
		else
			echo "n/a | – | – | –"
		fi
		return
	fi
	pr=$(paired "$1" "$2")
	awk -v a="$a" -v b="$b" -v t="${3:-}" -v gt="$gt" -v pr="$pr" 'BEGIN {
		r = a / b
		printf "%s%.2f | %s | ", gt, r, pr
		if (t == "") print "– | –"
		else if (r <= t && gt == "") print "≤ " t " | yes"
		else print "≤ " t " | **no**"
	}'
}

# rss_row TEXT ID LIMIT: a ratios-table row for a peak RSS and its limit.
rss_row() {
	if [ -z "${RSS[$2]:-}" ]; then
		echo "| $1 | n/a | – | ≤ $3 MiB | – |"
		return
	fi
	awk -v t="$1" -v kb="${RSS[$2]}" -v lim="$3" 'BEGIN {
		printf "| %s | %.1f MiB | – | ≤ %s MiB | %s |\n", t, kb / 1024, lim,
			kb / 1024 <= lim ? "yes" : "**no**"
	}'
}

# --- correctness -----------------------------------------------------------

FAILED=0
PF="python3 $ROOT/bench/pcapflows.py"
$PF truth "$BENCH_DIR/bench-$BENCH_MB.truth.tsv" >"$SCRATCH/truth-main" || die "pcapflows.py failed"
$PF truth "$BENCH_DIR/bench-$SMALL_MB.truth.tsv" >"$SCRATCH/truth-small" || die "pcapflows.py failed"
[ "$BENCH_BIG" = 1 ] &&
	{ $PF truth "$BENCH_DIR/bench-$BIG_MB.truth.tsv" >"$SCRATCH/truth-big" || die "pcapflows.py failed"; }
CHECKS=()

# check ID TRUTH STRICT: the canary flows that ID's last output holds. With
# STRICT, flowgrep must have found every canary flow and no other flow.
check() {
	local id=$1 truth=$SCRATCH/truth-$2 strict=$3 n found extra verdict
	n=$(wc -l <"$truth")
	if [ ! -s "${OUTF[$id]}" ]; then
		CHECKS+=("| \`${LABEL[$id]//|/\\|}\` | no output | $n | – | – |")
		[ "$strict" = 1 ] && FAILED=1
		return
	fi
	if ! $PF flows "${OUTF[$id]}" >"$SCRATCH/flows-$id"; then
		CHECKS+=("| \`${LABEL[$id]//|/\\|}\` | unreadable output | $n | – | – |")
		[ "$strict" = 1 ] && FAILED=1
		return
	fi
	found=$(comm -12 "$truth" "$SCRATCH/flows-$id" | wc -l)
	extra=$(comm -13 "$truth" "$SCRATCH/flows-$id" | wc -l)
	if [ "$strict" = 1 ]; then
		if [ "$found" = "$n" ] && [ "$extra" = 0 ]; then
			verdict=pass
		else
			verdict="**FAIL**"
			FAILED=1
		fi
	else
		verdict="–"
	fi
	CHECKS+=("| \`${LABEL[$id]//|/\\|}\` | $found | $n | $extra | $verdict |")
}

for id in fg fg-stdin fg-p100 fg-p1000 fg-p1000c fg-p1000n; do
	[ -n "${MED[$id]:-}" ] && check "$id" main 1
done
for id in fg-re ngrep ngrep-re; do
	[ -n "${MED[$id]:-}" ] && check "$id" main 0
done
[ -n "${MED[s-fg]:-}" ] && check s-fg small 1
for id in s-ngrep s-tshark; do
	[ -n "${MED[$id]:-}" ] && check "$id" small 0
done
[ -n "${MED[b-fg]:-}" ] && check b-fg big 1

# -v: the flows it writes and those the plain run writes are disjoint and
# together hold every packet, so the record counts must add up.
VCHECK=
if [ -n "${MED[fg-v]:-}" ] && [ -n "${MED[fg]:-}" ]; then
	n_in=$($PF count "$F")
	n_m=$($PF count "$O/fg")
	n_v=$($PF count "$O/fg-v")
	if [ $((n_m + n_v)) = "$n_in" ]; then
		VCHECK="pass: $n_m + $n_v = $n_in records"
	else
		VCHECK="**FAIL**: $n_m + $n_v != $n_in records"
		FAILED=1
	fi
fi

# tcpflow writes a file per direction; count the files holding a canary.
TCPFLOW_CHECK=
if [ -n "${MED[s-tcpflow]:-}" ]; then
	TCPFLOW_CHECK="$(grep -rlF "$CANARY" "$O/s-tcpflow" | wc -l) of \
$(($(wc -l <"$BENCH_DIR/bench-$SMALL_MB.truth.tsv") - 1)) canaries' stream files"
fi

# --- hyperfine cross-check -------------------------------------------------

# hyperfine runs all runs of one command before the next, so it is not the
# main measurement; it checks that the home-made timer agrees.
HF=
if [ "$BENCH_HYPERFINE" = 1 ] && [ "$HAVE_HYPERFINE" = 1 ] && [ "$HAVE_NGREP" = 1 ]; then
	say "== hyperfine cross-check: ngrep, fg"
	if bg_wait timeout $((BENCH_TIMEOUT * (BENCH_RUNS + 1) * 2)) hyperfine -N \
		--runs "$BENCH_RUNS" --prepare "cat $f" \
		--export-markdown "$SCRATCH/hf.md" \
		-n ngrep "ngrep -q -I $f -O $O/hf-ngrep $CANARY" \
		-n flowgrep "$fg -q -r $f -a $CANARY -w $O/hf-fg" \
		>"$SCRATCH/log/hyperfine" 2>&1; then
		HF=$(cat "$SCRATCH/hf.md")
	else
		say "bench: hyperfine failed; see below"
		tail -5 "$SCRATCH/log/hyperfine" >&2
	fi
fi

# --- report ----------------------------------------------------------------

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(($(date +%s) - T_START))
first() {
	"$@" 2>&1 | grep -v '^Running as user' | head -n 1
}
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
# The median of the cases' spreads says how noisy the machine was.
SPREAD=$(for id in "${MAIN_IDS[@]}" "${SMALL_IDS[@]}"; do
	[ "$id" != null ] && [ "${CNT[$id]:-0}" -gt 1 ] &&
		awk -v m="${MED[$id]}" -v lo="${MIN[$id]}" -v hi="${MAX[$id]}" \
			'BEGIN { printf "%.0f\n", 100 * (hi - lo) / m }'
done | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "median %d%%, max %d%%", v[int((NR + 1) / 2)], v[NR] }')

{
	echo "# flowgrep benchmark"
	echo
	echo "Generated by \`make bench\` (bench/run.sh); rerun it to regenerate this file."
	echo "Captures come from \`../shared/bench/gen-bench-pcap.py --size MB\` (default seed)."
	echo "Every run starts with the input in the page cache (\`cat F >/dev/null\` right"
	echo "before it); the cases take turns run by run, so slow phases of a shared machine"
	echo "hit every tool alike. Outputs go to a tmpfs. Times are wall-clock seconds;"
	echo "peak RSS is the largest of the runs (\`/usr/bin/time -f %M\`, the biggest"
	echo "process of a pipeline). Spread is (max − min) / median. CPU is the median of"
	echo "the user and system time of every process of a run (\`/usr/bin/time -f '%U %S'\`)."
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
	echo "| machine | $(nproc) CPUs, $CPU, $MEM, Linux $(uname -r) |"
	echo "| load average | $LOAD_START at start, $LOAD_END at end |"
	echo "| capture | bench-$BENCH_MB.pcap, $BENCH_MB MiB, $(($(wc -l <"$BENCH_DIR/bench-$BENCH_MB.truth.tsv") - 1)) canaries in $(wc -l <"$SCRATCH/truth-main") flows |"
	echo "| runs | $BENCH_RUNS per case (one when a run takes over $BENCH_SLOW s), timeout $BENCH_TIMEOUT s per run, $ELAPSED s in all |"
	echo "| run-to-run spread | $SPREAD |"
	echo "| flowgrep | $(first "$FG" -V), commit $REV, built with $FG_CFLAGS, $(first cc --version) |"
	echo "| libraries | libpcap $(pkg-config --modversion libpcap 2>/dev/null), PCRE2 $(pkg-config --modversion libpcre2-8 2>/dev/null) |"
	echo "| tcpdump | $(first tcpdump --version) |"
	[ "$HAVE_NGREP" = 1 ] && echo "| ngrep | $(first ngrep -V) |"
	[ "$HAVE_TSHARK" = 1 ] && echo "| tshark | $(first tshark -v) |"
	[ "$HAVE_TCPFLOW" = 1 ] && echo "| tcpflow | $(first tcpflow -V) |"
	echo
	echo "## Times"
	echo
	echo "F = the $BENCH_MB MiB capture, F64 = the $SMALL_MB MiB one, OUT = a file on tmpfs;"
	echo "P100 and P1000: \`bench/gen-patterns.py 100\` and \`1000\` (IOC-like literals and"
	echo "regexes, the canary last). \`-f\` holds client and \`-F\` server patterns, so"
	echo "\`-f P -F P\` is what \`-a\` does for each pattern."
	echo
	echo "| case | command | median s | min–max s | spread | CPU s | peak RSS MiB |"
	echo "|---|---|---|---|---|---|---|"
	for id in "${MAIN_IDS[@]}" "${SMALL_IDS[@]}" "${BIG_IDS[@]}"; do
		[ -n "$id" ] || continue
		echo "| $id | \`${LABEL[$id]//|/\\|}\` | $(cells "$id") |"
	done
	echo
	echo "## Ratios (issue 5 targets)"
	echo
	echo "Value is the ratio of the medians, which the targets are judged on; paired is"
	echo "the median over rounds of the ratio of the two runs in the same round."
	echo
	echo "| ratio | value | paired | target | met |"
	echo "|---|---|---|---|---|"
	echo "| flowgrep / ngrep, literal | $(ratio fg ngrep 0.5) |"
	echo "| flowgrep -v / ngrep -v, literal | $(ratio fg-v ngrep-v 0.5) |"
	echo "| flowgrep -v / ngrep (without -v), literal | $(ratio fg-v ngrep) |"
	echo "| flowgrep -w - (pipe) / ngrep, literal | $(ratio fg-pipe ngrep 0.5) |"
	echo "| flowgrep / ngrep, regex | $(ratio fg-re ngrep-re 0.67) |"
	echo "| flowgrep -v / flowgrep, literal | $(ratio fg-v fg) |"
	echo "| flowgrep writing about half the capture (-a 'GET /') / flowgrep, literal | $(ratio fg-half fg) |"
	echo "| flowgrep stdin / file | $(ratio fg-stdin fg 1.2) |"
	if [ -n "${MED[pipe-floor]:-}" ]; then
		echo "| floor of the above: reading the pipe alone (cat F \| pipecat) / flowgrep file | $(ratio pipe-floor fg) |"
		echo "| flowgrep stdin / reading the pipe alone | $(ratio fg-stdin pipe-floor) |"
		if [ -n "${CPUS[cat]:-}" ] && [ -n "${MED[fg]:-}" ]; then
			awk -v p="${CPUS[pipe-floor]}" -v f="${CPUS[fg]}" \
				-v c="${CPUS[cat]}" -v n="$(nproc)" -v w="${MED[fg]}" 'BEGIN {
				b = (p + f - c) / n / w
				printf "| least flowgrep stdin / file these %d CPUs allow: (CPU of cat F \\| pipecat + CPU of flowgrep file − CPU of cat F) / %d CPUs / flowgrep file | %.2f | – | – | – |\n", n, n, b
			}'
		fi
	fi
	echo "| flowgrep 100 patterns / 1 | $(ratio fg-p100 fg) |"
	echo "| flowgrep 1000 patterns / 1, compiled in the run | $(ratio fg-p1000 fg 2) |"
	echo "| flowgrep 1000 patterns / 1, from the pattern cache | $(ratio fg-p1000c fg 2) |"
	echo "| flowgrep 1000 patterns / 1, from the pattern cache, matched in the main thread (--match-thread never) | $(ratio fg-p1000n fg) |"
	if [ -n "$HS_FLOOR" ] && [ -n "${MED[fg]:-}" ]; then
		awk -v fg="${MED[fg]}" -v a="$HS_P1" -v b="$HS_P1000" 'BEGIN {
			printf "| floor of the above in one thread: (flowgrep 1 pattern + Vectorscan alone P1000 − Vectorscan alone 1) / flowgrep 1 pattern | %.2f | – | – | – |\n", (fg + b - a) / fg
		}'
	fi
	echo "| flowgrep / tcpdump -w /dev/null | $(ratio fg tcpdump) |"
	echo "| flowgrep / cat | $(ratio fg cat) |"
	echo "| ngrep / flowgrep, $SMALL_MB MiB | $(ratio s-ngrep s-fg) |"
	echo "| tshark / flowgrep, $SMALL_MB MiB | $(ratio s-tshark s-fg) |"
	echo "| tcpflow / flowgrep, $SMALL_MB MiB | $(ratio s-tcpflow s-fg) |"
	rss_row "flowgrep peak RSS, file, $BENCH_MB MiB" fg 64
	rss_row "flowgrep peak RSS, stdin, $BENCH_MB MiB (--hold-mem 256M + 64M)" fg-stdin 320
	if [ "$BENCH_BIG" = 1 ]; then
		rss_row "flowgrep peak RSS, file, $BIG_MB MiB" b-fg 64
		rss_row "flowgrep peak RSS, file, $BENCH_MB MiB, same rounds" b-main 64
	else
		echo "| flowgrep peak RSS, file, $BIG_MB MiB | not run (BENCH_BIG=1) | – | ≤ 64 MiB | – |"
	fi
	echo
	if [ -n "$HS_FLOOR" ]; then
		echo "Vectorscan alone (\`bench/hsalone.c\`: read() the capture, walk the records,"
		echo "scan every TCP payload with one block-mode database, the implementation flowgrep"
		echo "calls; no flows, no PCRE2), medians of 3 scan times, compile left out:"
		echo "one pattern $HS_P1 s, P1000 $HS_P1000 s. What P1000 adds there is the least it"
		echo "can add to flowgrep's one-pattern time when one thread matches (the floor row"
		echo "above); the match thread (\`--match-thread\`, on by default for such a set) runs"
		echo "that scan beside the reassembly."
		echo
	fi
	echo "## Correctness"
	echo
	echo "Canary flows (ground-truth TSV) in each tool's output of its last run;"
	echo "\"other flows\" are flows in the output that hold no canary."
	echo
	echo "| command | canary flows found | of | other flows | check |"
	echo "|---|---|---|---|---|"
	printf '%s\n' "${CHECKS[@]}"
	echo
	[ -n "$VCHECK" ] && echo "- \`-v\` and the plain run together hold every record: $VCHECK."
	[ -n "$TCPFLOW_CHECK" ] && echo "- tcpflow ($SMALL_MB MiB): $TCPFLOW_CHECK."
	if [ -n "$HF" ]; then
		echo
		echo "## Cross-check with hyperfine (not alternated)"
		echo
		echo "\`hyperfine -N --runs $BENCH_RUNS --prepare 'cat F'\` on the $BENCH_MB MiB capture:"
		echo
		echo "$HF"
	fi
	echo
	echo "## How to run"
	echo
	echo "\`make bench\`; knobs in the environment (see bench/run.sh): BENCH_MB (1024),"
	echo "BENCH_RUNS (5), BENCH_DIR (captures, default ~/.cache/flowgrep-bench, never"
	echo "the repository), BENCH_TIMEOUT (600 s per run, then the case is dropped),"
	echo "BENCH_SLOW (60 s: a slower case runs once), BENCH_BIG=1 (peak RSS on a 4 GiB"
	echo "capture: 4 GiB of disk, about 2 minutes to generate), BENCH_CASES (a subset of"
	echo "the case ids), BENCH_CFLAGS (another build in build-bench/), BENCH_FLOWGREP (a"
	echo "prebuilt binary), BENCH_HYPERFINE=0, BENCH_INSTALL=0 (no apt-get), BENCH_RESULTS"
	echo "(this file). Missing ngrep, tshark, tcpflow and hyperfine are installed from"
	echo "Debian when run as root, else skipped."
	echo
	echo "\`-O3 -march=x86-64-v2\` measured no faster than plain \`make\`'s -O2 (1 GiB,"
	echo "5 alternated runs: literal 0.55 against 0.51 s, regex 2.46 against 2.34 s), so"
	echo "the bench times the build users get. Run-to-run spread on a shared 2-core VM is"
	echo "15–30% and more while other jobs run: compare the ratios, which come from one"
	echo "run with the tools taking turns, not absolute times across runs."
} >"$SCRATCH/results.md"
cp "$SCRATCH/results.md" "$BENCH_RESULTS" || die "cannot write $BENCH_RESULTS"

echo
sed -n '/^## Times/,/^## How to run/p' "$BENCH_RESULTS" | sed '$d'
say "bench: wrote $BENCH_RESULTS in $ELAPSED s"
[ "$FAILED" = 0 ] || { say "bench: a flowgrep correctness check FAILED"; exit 1; }
exit 0
