#!/bin/sh
# Build and run the benchmarks of bench/README.md. Needs root (network namespaces) for the
# daemon, outage and VPN benchmarks; the engine benchmark does not.
#
#   bench/run.sh [--write] [--skip-net]
#
#   --write     append this run's RESULT lines (with date, machine, commit) to bench/RESULTS.md
#   --skip-net  only the in-process engine benchmark
#
# The network parts take a while: ha_udpbench waits up to 120 s before each of its rounds
# for the machine to be idle, vpn_compare takes about 8 minutes.
#
# Builds the working tree in $BENCH_BUILD (default /tmp/b-bench), buildtype release.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
WRITE=0 NET=1
for a in "$@"; do
	case "$a" in
	--write) WRITE=1 ;;
	--skip-net) NET=0 ;;
	*) echo "usage: $0 [--write] [--skip-net]" >&2; exit 2 ;;
	esac
done
BUILD=${BENCH_BUILD:-/tmp/b-bench}
LOG=$(mktemp /tmp/bench-run.XXXXXX)
trap 'rm -f "$LOG"' EXIT

if [ -f "$BUILD/build.ninja" ]; then
	meson setup --reconfigure "$BUILD" "$ROOT" --buildtype=release >/dev/null
else
	meson setup "$BUILD" "$ROOT" --buildtype=release >/dev/null
fi
ninja -C "$BUILD" bench/ha_regbench bench/ha_loadgen ha/ha ha/hactl mnd/mnd vpngw/vpngw \
	vpngw/gwctl tests/linkemu/linkemu >/dev/null

export MM_HA="$BUILD/ha/ha" MM_HACTL="$BUILD/ha/hactl" MM_MND="$BUILD/mnd/mnd"
export MM_LINKEMU="$BUILD/tests/linkemu/linkemu" MM_LOADGEN="$BUILD/bench/ha_loadgen"
export MM_VPNGW="$BUILD/vpngw/vpngw" MM_GWCTL="$BUILD/vpngw/gwctl"

echo "== 1a/1b: ha_engine in process (one core), memory with 1,000,000 bindings"
"$BUILD/bench/ha_regbench" -n 100000 -m 1000000 -c 1 -r 3 | tee -a "$LOG"
if [ "$NET" = 1 ]; then
	echo "== 1c: ha daemon over UDP, 100,000 mobile nodes, window 1024, state on disk and tmpfs"
	/usr/bin/python3 "$HERE/ha_udpbench.py" -n 100000 --rounds 5 --window 1024 --tmpfs \
		--quiet-wait 120 | tee -a "$LOG"
	echo "== 2: TCP outage int-x <-> int-y, +20 ms RTT to the home agent"
	/usr/bin/python3 "$HERE/mip4_outage.py" --moves 5 --delay-ms 10 | tee -a "$LOG"
	echo "== issue 4: IKE setups/s and TCP throughput, vpngw/mnd vs strongSwan, side by side"
	/usr/bin/python3 "$HERE/vpn_compare.py" --build "$BUILD" | tee -a "$LOG"
fi

if [ "$WRITE" = 1 ]; then
	{
		echo
		echo "### run.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)," \
		     "commit $(git -C "$ROOT" rev-parse --short HEAD)"
		echo
		echo '```'
		grep '^RESULT' "$LOG"
		echo '```'
	} >> "$HERE/RESULTS.md"
	echo "appended to $HERE/RESULTS.md"
fi
