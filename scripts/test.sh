#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs packages, builds twice
# (gcc release-style build; clang build with ASan+UBSan and libFuzzer targets), runs every
# meson suite, and ends with one line "N passed, N failed" (counts of tests that ran).
#
#   sudo scripts/test.sh            # everything
#   SUITES="unit fuzz" scripts/test.sh   # only these suites (both builds)
#
# Build directories: build/ (gcc) and build-san/ (clang, sanitizers, fuzzing).
set -uo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

passed=0
failed=0
skipped=0

finish() {
	local line="$passed passed, $failed failed"
	[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
	echo
	echo "$line"
	if [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then exit 0; fi
	exit 1
}

fail_step() {
	echo "test.sh: FAILED: $1" >&2
	failed=$((failed + 1))
}

if ! bash scripts/setup.sh; then
	fail_step "scripts/setup.sh"
	finish
fi

# configure DIR [meson args...]: fresh setup, or reconfigure an existing build directory.
configure() {
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1
	else
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
	fi || { cat "$dir.setup.log" >&2; return 1; }
}

# count DIR: add the results of the last `meson test -C DIR` (meson-logs/testlog.json).
count() {
	local out
	out=$(/usr/bin/python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
try:
    lines = open(sys.argv[1]).read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    if not line.strip():
        continue
    r = json.loads(line).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
PY
)
	read -r p f s <<<"$out"
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	echo "test.sh: $1: $p passed, $f failed, $s skipped"
}

# run_suites DIR SUITE...: meson test for the given suites (all suites when none given).
run_suites() {
	local dir=$1; shift
	local args=()
	for s in "$@"; do args+=(--suite "$s"); done
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --no-rebuild --print-errorlogs "${args[@]}"
	count "$dir"
}

suites=(${SUITES:-})

# 1. gcc build: every suite.
if configure build && ninja -C build; then
	run_suites build "${suites[@]}"
else
	fail_step "gcc build"
fi

# 2. clang build with ASan+UBSan and libFuzzer: unit and fuzz suites (seeds + short runs), and
#    the daemons end to end (suites mip4 and interop-daemons, the interop tests that run our
#    daemons): a sanitizer finding or a leak makes a daemon exit non-zero, which the suites
#    report. Leak checking is on; UBSan findings abort.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
san_suites=()
if [ ${#suites[@]} -eq 0 ]; then
	san_suites=(unit fuzz mip4 interop-daemons)
else
	for s in "${suites[@]}"; do
		case "$s" in unit|fuzz|mip4) san_suites+=("$s");; interop) san_suites+=(interop-daemons);; esac
	done
fi
if [ ${#san_suites[@]} -gt 0 ]; then
	if CC=clang configure build-san -Dsanitizers=true -Dfuzzing=true && ninja -C build-san; then
		run_suites build-san "${san_suites[@]}"
	else
		fail_step "clang sanitizer build"
	fi
fi

# Nothing of ours may outlive the run: a topology namespace whose owner process is dead was
# leaked by a test (fail). A run whose owner is still alive belongs to someone else working on
# this machine at the same time (another checkout, a developer's topo-cli): not ours, left alone.
leaks=$(cd tests/topology && PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - <<'PY'
import topo
for prefix, info in sorted(topo.list_runs().items()):
    if not info["alive"]:
        print(f"{prefix} (owner pid {info['pid']} dead: {' '.join(info.get('namespaces') or [])})")
PY
)
if [ -n "$leaks" ]; then
	fail_step "topology runs left behind: $leaks"
fi

finish
