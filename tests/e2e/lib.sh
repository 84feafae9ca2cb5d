# lib.sh: what every tests/e2e*.sh shares: the ok/FAIL/skip lines, their
# counts, and the tools found.
#
# Sourced from the repository root (. tests/e2e/lib.sh), first: it also
# sets ROOT, BUILD, FG, MKCAP and CORPUS from the environment. A case collects
# its problems with `problem TEXT` and ends with `finish NAME`: "ok   NAME",
# or "FAIL NAME" and the problems indented; `skipped NAME WHY` says why a
# case could not run; a failure ends with the line FAIL_HINT, when set
# (how to repeat it, say). `e2e_summary SCRIPT` prints the counts and returns 1
# if any case failed.

# The repository's root (the scripts run from it), the build directory,
# the binary under test (absolute), the capture writer, and the corpus
# (absolute; empty when it is missing).
ROOT=$(pwd)
BUILD=${BUILD:-build}
FG=${FLOWGREP:-$ROOT/flowgrep}
case $FG in /*) ;; *) FG=$ROOT/$FG ;; esac
MKCAP=$ROOT/$BUILD/mkcap
CORPUS=${FLOWGREP_CORPUS:-../shared/corpus}
if [ -d "$CORPUS" ] && [ -r "$CORPUS" ]; then
	CORPUS=$(cd "$CORPUS" && pwd)
else
	CORPUS=
fi

pass=0
fail=0
skip=0
problems=

have() {
	command -v "$1" >/dev/null 2>&1
}

if [ -x /usr/bin/python3 ]; then
	PY=/usr/bin/python3
elif have python3; then
	PY=$(command -v python3)
else
	PY=
fi

problem() {
	problems="$problems$1
"
}

finish() {
	if [ -z "$problems" ]; then
		pass=$((pass + 1))
		echo "ok   $1"
	else
		fail=$((fail + 1))
		echo "FAIL $1"
		printf '%s' "$problems" | sed 's/^/     /'
		[ -z "${FAIL_HINT:-}" ] || echo "     $FAIL_HINT"
	fi
	problems=
}

skipped() {
	skip=$((skip + 1))
	echo "skip $1 ($2)"
}

e2e_summary() {
	echo "$1: $pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
}
