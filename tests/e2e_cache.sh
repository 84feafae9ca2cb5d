#!/bin/sh
# e2e_cache.sh: the pattern cache: a large set compiled once, loaded after, same results, only safe directories.
#
# Run from the repository root: BUILD=build FLOWGREP=build/flowgrep sh
# tests/e2e_cache.sh (make check does).
#
# The set is 120 regular expressions (some 0.1 s to compile, so it is
# stored) and the token mkcap's split-match capture holds across segments.
#   store-load   the first run stores one entry (0600 in a 0700 directory,
#                its parent made too), the second loads it; both write the
#                same packets as --no-pattern-cache and as PCRE2 alone
#                (FLOWGREP_NO_VECTORSCAN=1), which touch no file.
#   option       --pattern-cache DIR wins over FLOWGREP_CACHE_DIR.
#   default      with neither: $XDG_CACHE_HOME/flowgrep, else
#                $HOME/.cache/flowgrep.
#   damaged      an entry cut short is compiled again and replaced.
#   unsafe       a directory others may write to is left alone: a warning
#                when named by --pattern-cache, quiet when by the
#                environment; the results are the same.
#   small        one pattern stores nothing (and makes no directory).
#   errors       --pattern-cache '' is refused.

LC_ALL=C
export LC_ALL
# shellcheck source=tests/e2e/lib.sh
. "$(pwd)/tests/e2e/lib.sh"
OUT=${E2E_OUT:-$ROOT/tests/out}/cache
rm -rf "$OUT"
mkdir -p "$OUT"
unset FLOWGREP_CACHE_DIR XDG_CACHE_HOME FLOWGREP_NO_VECTORSCAN

if [ ! -x "$MKCAP" ]; then
	skipped "cache/*" "no $MKCAP"
	e2e_summary e2e_cache
	exit
fi
CAP=$OUT/split.pcap
"$MKCAP" split-match "$CAP"
PATS=$OUT/patterns.txt
i=0
while [ $i -lt 120 ]; do
	printf 'h%03dx[0-9]{2,4}\\.(ru|info|net)\n' $i
	i=$((i + 1))
done >"$PATS"
echo 'secret-token' >>"$PATS"

# stat_of FILE NAME: a counter of the --stats-json line in FILE.
stat_of() {
	sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1"
}

# run NAME ARGS...: flowgrep -f PATS -w NAME.pcap ARGS, statistics in
# NAME.err; sets rc.
run() {
	name=$1
	shift
	"$FG" -q --stats-json -r "$CAP" -f "$PATS" -w "$OUT/$name.pcap" "$@" \
	    2>"$OUT/$name.err"
	rc=$?
}

# expect NAME LOADED STORED: exit 0, the counters, the reference output.
expect() {
	[ "$rc" = 0 ] || problem "$1: exit status $rc: $(head -2 "$OUT/$1.err")"
	[ "$(stat_of "$OUT/$1.err" pattern_db_loaded)" = "$2" ] ||
		problem "$1: pattern_db_loaded is not $2"
	[ "$(stat_of "$OUT/$1.err" pattern_db_stored)" = "$3" ] ||
		problem "$1: pattern_db_stored is not $3"
	cmp -s "$OUT/$1.pcap" "$OUT/ref.pcap" ||
		problem "$1: output differs from PCRE2 alone"
}

# entries DIR: how many entries DIR holds (0 when it does not exist).
entries() {
	if [ -d "$1" ]; then
		find "$1" -name '*.hsdb' | wc -l | tr -d ' '
	else
		echo 0
	fi
}

FLOWGREP_NO_VECTORSCAN=1 run ref --no-pattern-cache
if [ "$rc" != 0 ] || [ ! -s "$OUT/ref.pcap" ]; then
	problem "reference run: exit status $rc or nothing written"
fi

D=$OUT/c1/flowgrep
FLOWGREP_CACHE_DIR=$D run first
expect first 0 1
[ "$(entries "$D")" = 1 ] || problem "first: $(entries "$D") entries, not 1"
[ "$(stat -c %a "$D")" = 700 ] || problem "first: directory mode $(stat -c %a "$D")"
[ "$(stat -c %a "$D"/*.hsdb)" = 600 ] || problem "first: entry mode not 600"
FLOWGREP_CACHE_DIR=$D run second
expect second 1 0
FLOWGREP_CACHE_DIR=$D run off --no-pattern-cache
expect off 0 0
FLOWGREP_CACHE_DIR=$D FLOWGREP_NO_VECTORSCAN=1 run pcre2
expect pcre2 0 0
[ "$(entries "$D")" = 1 ] || problem "$(entries "$D") entries after all, not 1"
finish "cache/store-load: stored once, loaded after, same packets"

D2=$OUT/c2
FLOWGREP_CACHE_DIR=$D run option --pattern-cache "$D2"
expect option 0 1
[ "$(entries "$D2")" = 1 ] || problem "--pattern-cache: nothing stored in it"
[ "$(entries "$D")" = 1 ] || problem "FLOWGREP_CACHE_DIR written too"
finish "cache/option: --pattern-cache DIR over FLOWGREP_CACHE_DIR"

H=$OUT/home
mkdir -p "$H"
HOME=$H run home
expect home 0 1
[ "$(entries "$H/.cache/flowgrep")" = 1 ] || problem "nothing in \$HOME/.cache/flowgrep"
HOME=$H XDG_CACHE_HOME=$OUT/xdg run xdg
expect xdg 0 1
[ "$(entries "$OUT/xdg/flowgrep")" = 1 ] || problem "nothing in \$XDG_CACHE_HOME/flowgrep"
HOME=$H XDG_CACHE_HOME=relative run xdgrel
expect xdgrel 1 0
finish "cache/default: \$XDG_CACHE_HOME/flowgrep, else \$HOME/.cache/flowgrep"

for e in "$D"/*.hsdb; do
	head -c 100 "$e" >"$OUT/cut" && cat "$OUT/cut" >"$e"
done
FLOWGREP_CACHE_DIR=$D run cut
expect cut 0 1
FLOWGREP_CACHE_DIR=$D run cut2
expect cut2 1 0
finish "cache/damaged: an entry cut short is compiled again and replaced"

U=$OUT/unsafe
mkdir -p "$U"
chmod 777 "$U"
run unsafe --pattern-cache "$U"
expect unsafe 0 0
want="flowgrep: warning: pattern cache not used: $U: not a directory of uid $(id -u) that only it may write to"
[ "$(grep -v '^{' "$OUT/unsafe.err")" = "$want" ] ||
	problem "unsafe: stderr is '$(grep -v '^{' "$OUT/unsafe.err")', not '$want'"
FLOWGREP_CACHE_DIR=$U run unsafe_env
expect unsafe_env 0 0
if grep -qv '^{' "$OUT/unsafe_env.err"; then
	problem "unsafe_env: not quiet: $(head -1 "$OUT/unsafe_env.err")"
fi
[ "$(entries "$U")" = 0 ] || problem "unsafe: an entry was written"
finish "cache/unsafe: a directory others may write is not used"

S=$OUT/small
"$FG" -q -r "$CAP" -a secret-token -w "$OUT/small.pcap" --pattern-cache "$S" ||
	problem "small: exit status $?"
[ -e "$S" ] && problem "small: $S made for one pattern"
finish "cache/small: one pattern stores nothing"

"$FG" -q -r "$CAP" -a x --pattern-cache '' 2>"$OUT/empty.err"
rc=$?
[ "$rc" = 2 ] || problem "exit status $rc, not 2"
want="flowgrep: --pattern-cache: empty directory name (see flowgrep --help)"
[ "$(cat "$OUT/empty.err")" = "$want" ] ||
	problem "stderr is '$(cat "$OUT/empty.err")'"
finish "cache/errors: --pattern-cache '' refused"

e2e_summary e2e_cache
