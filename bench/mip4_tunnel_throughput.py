#!/usr/bin/python3
"""Throughput of the Mobile IPv4 user-space tunnels: ha + mnd on the namespace topology.

    MM_HA=build/ha/ha MM_HACTL=build/ha/hactl MM_MND=build/mnd/mnd \
        /usr/bin/python3 bench/mip4_tunnel_throughput.py [--seconds 5]

One TCP stream as fast as it goes for --seconds, cn -> home address (the integration
harness's byte-checked stream, tests/integration/tcpstream.py, 16 KiB writes), through the
home agent and mnd: IP-in-IP (RFC 2003, mn on int-x), RFC 3519 UDP tunnelling (int-x behind
NAT), and directly at home for comparison. The handover outage is bench/mip4_outage.py.

Needs root; builds and removes its own topology. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
sys.path.insert(0, str(HERE.parent / "tests" / "topology"))

import mip4env  # noqa: E402
import topo as topolib  # noqa: E402
from tcpstream import StreamPair  # noqa: E402


def throughput(env, seconds: float) -> list[str]:
    rows = ["| path | throughput |", "|---|---|"]
    for label, net, nat in (("at home (no tunnel)", "home", False),
                            ("IP-in-IP (RFC 2003) via ha", "int-x", False),
                            ("UDP tunnel (RFC 3519) via ha, behind NAT", "int-x", True)):
        env.topo.set_nat("int-x", nat)
        if net == "home":
            env.go_home()
            env.wait_home()
        else:
            env.wait_registered(env.go(net))
        s = StreamPair(env.topo, env.rundir, mip4env.HOME_ADDRESS, rate=10**10, chunk=16384,
                       name=f"tput-{net}-{int(nat)}")
        env.streams.append(s)
        s.start()
        b0, t0 = s.received(), time.monotonic()
        time.sleep(seconds)
        b1, t1 = s.received(), time.monotonic()
        s.stop()
        env.streams.remove(s)
        rows.append(f"| {label} | {(b1 - b0) * 8 / (t1 - t0) / 1e6:.0f} Mbit/s |")
    env.topo.set_nat("int-x", False)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    binaries = mip4env.Binaries.from_env()
    rundir = Path(tempfile.mkdtemp(prefix="mip4-tput-", dir="/tmp"))
    restore = topolib.install_signal_handlers()
    try:
        with topolib.Topology(rundir=str(rundir / "topo")) as t:
            env = mip4env.MipEnv(t, rundir / "tput", binaries)
            try:
                env.go_home()
                env.start_ha()
                env.start_mnd()
                env.wait_home()
                out = throughput(env, args.seconds)
            finally:
                for s in env.streams:
                    s.stop(timeout=5)
                env.stop_all()
    finally:
        restore()
    print("\n".join(out))
    print(f"\nlogs: {rundir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
