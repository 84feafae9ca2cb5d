#!/bin/sh
# smoke.sh: replays fuzz/regress/, then runs each harness FUZZ_TIME seconds.
#
# Run from the repository root after make fuzz (make fuzz-smoke does both).
# For each harness NAME: every file of fuzz/regress/NAME/ is run once (a
# saved crash must stay fixed), then the harness fuzzes for FUZZ_TIME
# seconds (default 60) starting from build-fuzz/seeds/NAME and
# fuzz/regress/NAME, adding what it finds to build-fuzz/corpus/NAME, one
# process at a time. A crash, leak, timeout or property violation fails the
# run; its input is left as build-fuzz/crash/NAME-* (move it into
# fuzz/regress/NAME/ once understood).
#
# Prints "ok NAME (N execs, cov C, ft F)" or "FAIL NAME", then
# "fuzz-smoke: N passed, M failed"; exits 1 if any failed.
# Environment: FUZZ_TIME, FUZZ_ONLY (run only this harness), FUZZ_BUILD.
set -u
TIME=${FUZZ_TIME:-60}
FB=${FUZZ_BUILD:-build-fuzz}
pass=0
fail=0

# Per harness: the longest input and the extra options.
opts() {
	case $1 in
	packet) echo "-max_len=8192" ;;
	capture) echo "-max_len=16384" ;;
	patterns) echo "-max_len=1024 -dict=fuzz/patterns.dict" ;;
	esac
}

mkdir -p "$FB/crash" "$FB/log"
for name in packet capture patterns; do
	[ -n "${FUZZ_ONLY:-}" ] && [ "$FUZZ_ONLY" != "$name" ] && continue
	bin=fuzz/fuzz_$name
	log=$FB/log/$name.log
	regress=fuzz/regress/$name
	if [ ! -x "$bin" ]; then
		echo "FAIL $name: $bin not built (make fuzz)"
		fail=$((fail + 1))
		continue
	fi
	mkdir -p "$FB/corpus/$name" "$FB/seeds/$name" "$regress"
	ok=true
	# Replay: libFuzzer runs the files given and stops at the first crash.
	files=$(find "$regress" -type f ! -name '.*' | sort)
	if [ -n "$files" ]; then
		# shellcheck disable=SC2046,SC2086 # one argument per word
		if ! "$bin" $(opts "$name") -timeout=10 $files >"$log" 2>&1
		then
			echo "FAIL $name: a saved input of $regress crashes:"
			grep -E 'Running:|ERROR|SUMMARY|violated' "$log" |
			    tail -5 | sed 's/^/    /'
			ok=false
		fi
	fi
	if $ok; then
		# shellcheck disable=SC2046 # options split on purpose
		if ! "$bin" $(opts "$name") -max_total_time="$TIME" \
		    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		    -artifact_prefix="$FB/crash/$name-" \
		    "$FB/corpus/$name" "$FB/seeds/$name" "$regress" \
		    >"$log" 2>&1; then
			echo "FAIL $name: see $log; input in $FB/crash/"
			grep -E 'ERROR|SUMMARY|violated|Test unit written' \
			    "$log" | tail -5 | sed 's/^/    /'
			ok=false
		fi
	fi
	if $ok; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		last=$(grep -E '^#[0-9]+' "$log" | tail -1)
		cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
		ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
		echo "ok $name ($execs execs, cov $cov, ft $ft)"
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done
echo "fuzz-smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
