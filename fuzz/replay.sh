#!/bin/sh
# replay.sh: replays every input saved in fuzz/regress/ (make fuzz-replay).
#
# Each file of fuzz/regress/NAME/ once crashed harness NAME; it must now
# run clean through $BUILD/replay_NAME (fuzz/replay.c: the harness without
# libFuzzer, built by the project's compiler, sanitized when the build is).
# A file may take REPLAY_TIMEOUT seconds (default 60; a timeout is a finding
# too). Prints "ok NAME/FILE" or "FAIL NAME/FILE" with the end of its output,
# then "fuzz-replay: N passed, M failed"; exits 1 if any failed.
set -u
BUILD=${BUILD:-build}
LIMIT=${REPLAY_TIMEOUT:-60}
pass=0
fail=0
for name in packet capture patterns; do
	bin=$BUILD/replay_$name
	[ -d "fuzz/regress/$name" ] || continue
	for f in $(find "fuzz/regress/$name" -type f ! -name '.*' ! -name '*.md' | sort); do
		if out=$(timeout "$LIMIT" "$bin" "$f" 2>&1); then
			echo "ok $name/${f##*/}"
			pass=$((pass + 1))
		else
			echo "FAIL $name/${f##*/} (status $?: 124 is a timeout)"
			echo "$out" | tail -5 | sed 's/^/    /'
			fail=$((fail + 1))
		fi
	done
done
echo "fuzz-replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
