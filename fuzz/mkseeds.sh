#!/bin/sh
# mkseeds.sh: generates the fuzzers' seed corpora (make fuzz runs it).
#
# Usage: BUILD=build sh fuzz/mkseeds.sh OUTDIR
#
# Sources: every scenario of $BUILD/mkcap and every capture of the corpus
# (FLOWGREP_CORPUS, default ../shared/corpus; skipped when absent), cut to
# their first packets by fuzz/mkseeds.py, into OUTDIR/{packet,capture,
# patterns}. Nothing is copied into the repository: the corpus stays where
# it is, and the seeds are rebuilt from it.
set -eu
OUT=${1:-build-fuzz/seeds}
BUILD=${BUILD:-build}
CORPUS=${FLOWGREP_CORPUS:-../shared/corpus}
PY=${PYTHON:-python3}

rm -rf "$OUT"
mkdir -p "$OUT/src"
for sc in $("$BUILD/mkcap" --list | awk '{ print $1 }'); do
	"$BUILD/mkcap" "$sc" "$OUT/src/mkcap-$sc.pcap"
done
set -- "$OUT"/src/*
if [ -d "$CORPUS" ]; then
	for f in "$CORPUS"/*.pcap "$CORPUS"/*.pcapng; do
		[ -f "$f" ] && set -- "$@" "$f"
	done
else
	echo "mkseeds: no corpus at $CORPUS: seeds from mkcap only" >&2
fi
"$PY" fuzz/mkseeds.py "$OUT" "$@"
rm -rf "$OUT/src"
for d in packet capture patterns; do
	printf 'mkseeds: %s: %s seeds, %s KiB\n' "$d" \
	    "$(find "$OUT/$d" -type f | wc -l)" "$(du -sk "$OUT/$d" | cut -f1)"
done
