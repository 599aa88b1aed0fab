#!/usr/bin/env bash
# The roaming demo, the README's main job: on a fresh Debian 12 machine it installs what the
# project needs (scripts/setup.sh), builds (build/), and runs scripts/demo.py: the laptop moves
# home -> int-x (c) -> int-f (f, foreign agent) -> ext-a behind NAT (mc) -> ext-b (mc, MOBIKE)
# -> int-x (c) -> home in network namespaces while cn streams TCP to its home address; a live
# timeline, then a summary table. Needs root.
#
#   sudo scripts/demo.sh [demo.py options, e.g. --json /tmp/demo.json]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f build/build.ninja ]; then
	meson setup --reconfigure build >build.setup.log 2>&1 || { cat build.setup.log >&2; exit 1; }
else
	meson setup build >build.setup.log 2>&1 || { cat build.setup.log >&2; exit 1; }
fi
ninja -C build >build.ninja.log 2>&1 || { tail -50 build.ninja.log >&2; exit 1; }
exec /usr/bin/python3 scripts/demo.py --build build "$@"
