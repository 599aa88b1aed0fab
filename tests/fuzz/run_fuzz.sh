#!/usr/bin/env bash
# Short coverage-guided libFuzzer run that never writes into the source tree.
#
#   run_fuzz.sh FUZZER_BINARY SEED_CORPUS_DIR SECONDS
#
# New inputs go to a scratch corpus in a temporary directory (the seed corpus is only read:
# libFuzzer writes to the first corpus directory it is given). Crash, timeout and OOM
# artifacts go to the same temporary directory. On success all of it is removed; on failure
# the scratch corpus is removed but the artifacts are kept, their paths printed with a
# hexdump, so the crash can be reproduced with `FUZZER_BINARY ARTIFACT`.
# Exit status: the fuzzer's.
set -euo pipefail

usage() {
	echo "usage: $0 FUZZER_BINARY SEED_CORPUS_DIR SECONDS" >&2
	exit 2
}

[[ $# -eq 3 ]] || usage
fuzzer=$1
seeds=$2
seconds=$3

[[ -x $fuzzer && -f $fuzzer ]] || { echo "run_fuzz: not an executable: $fuzzer" >&2; exit 2; }
[[ -d $seeds ]] || { echo "run_fuzz: no seed corpus directory: $seeds" >&2; exit 2; }
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
	echo "run_fuzz: SECONDS must be a positive integer, not '$seconds'" >&2
	exit 2
fi
if [[ -z $(find "$seeds" -maxdepth 1 -type f -print -quit) ]]; then
	echo "run_fuzz: seed corpus $seeds is empty" >&2
	exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/run_fuzz.XXXXXXXX")
keep_artifacts=0
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	if [[ $keep_artifacts -eq 1 ]]; then
		rm -rf -- "$work/corpus"
	else
		rm -rf -- "$work"
	fi
}
trap cleanup EXIT
mkdir "$work/corpus" "$work/artifacts"

echo "run_fuzz: $fuzzer for ${seconds}s, seeds $seeds, scratch $work"
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" || status=$?

if [[ $status -ne 0 ]]; then
	echo "run_fuzz: FAILED: $fuzzer exited with status $status" >&2
	shopt -s nullglob
	artifacts=("$work"/artifacts/*)
	if [[ ${#artifacts[@]} -eq 0 ]]; then
		echo "run_fuzz: no artifact was written" >&2
	else
		keep_artifacts=1
	fi
	for a in "${artifacts[@]}"; do
		echo "run_fuzz: artifact $a ($(stat -c %s "$a") bytes), first 4 KiB:" >&2
		head -c 4096 "$a" | od -A x -t x1z -v >&2
	done
else
	echo "run_fuzz: $fuzzer: no findings in ${seconds}s"
fi
exit "$status"
