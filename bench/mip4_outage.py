#!/usr/bin/python3
"""Outage of a TCP stream (cn -> home address) when the mobile node moves int-x <-> int-y,
with 20 ms of added round-trip time between the mobile node and the home agent.

Uses the integration harness (tests/integration/mip4env.py, tcpstream.py) on the namespace
topology (tests/topology/topo.py). The delay: Topology.emulate() on the intranet core's end
of the int-x uplink and of the int-y uplink (Topology.uplink_iface), 10 ms per direction, so
every packet between the mobile node (on int-x or int-y) and the home network (ha, cn) gets
+20 ms RTT -- the registration exchange and the tunnelled stream alike. It is checked with a
ping from each access router (rint-x, rint-y) to the home agent before the moves.

Each move: wlan0 is re-plugged into the other network, udhcpc gets a lease (the "DHCP"
time: from the move until the address is configured, as a laptop would see it), mnd
registers (mnd's status file timestamp registered_at_monotonic_ms), the stream resumes.
The outage is the longest arrival gap at the receiver (mn, the home address) that ends after
the move (StreamPair.outage_after; gaps below 30 ms are not recorded).

Needs root. Binaries: $MM_HA, $MM_HACTL, $MM_MND, $MM_LINKEMU (bench/run.sh sets them).
Usage: mip4_outage.py [--moves 5] [--delay-ms 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (ROOT / "tests" / "integration", ROOT / "tests" / "topology"):
    sys.path.insert(0, str(p))

import mip4env  # noqa: E402
import topo as topolib  # noqa: E402
from mip4env import HA_ADDRESS, HOME_ADDRESS  # noqa: E402
from tcpstream import StreamPair  # noqa: E402

MOVE_TIMEOUT = 20.0
RESUME_BYTES = 60000
RESUME_TIMEOUT = 20.0


def move(env, stream, net):
    t0 = stream.mark(net)
    coa = env.go(net)
    t_addr = time.monotonic()
    b, st = env.wait_registered(coa, timeout=MOVE_TIMEOUT)
    reg_at = st.get("registered_at_monotonic_ms")
    loc_at = st.get("location_changed_at_monotonic_ms")
    stream.wait_progress(RESUME_BYTES, RESUME_TIMEOUT, f"stream after the move to {net}")
    time.sleep(0.3)                    # let the receiver flush its stats (gaps) to disk
    m = {"net": net, "coa": coa, "dhcp_ms": round((t_addr - t0) * 1000, 1),
         "registration_after_dhcp_ms": round(reg_at - t_addr * 1000, 1),
         "registered_after_move_ms": round(reg_at - t0 * 1000, 1)}
    m.update(stream.outage_after(t0))
    m["outage_minus_dhcp_ms"] = round(m["outage_ms"] - m["dhcp_ms"], 1)
    if "gap_end_ms" in m:   # first data at mn after mnd reported the registration
        m["resume_after_registration_ms"] = round(m["gap_end_ms"] - m["registered_after_move_ms"], 1)
        # from the moment mnd saw the new address (netlink) to the first in-order data: the
        # part of the outage the mobility protocol is responsible for
        if loc_at:
            m["address_seen_after_move_ms"] = round(loc_at - t0 * 1000, 1)
            m["outage_after_address_ms"] = round(m["gap_end_ms"] - m["address_seen_after_move_ms"], 1)
    return m


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=5)
    ap.add_argument("--delay-ms", type=float, default=10.0, help="per direction, per uplink")
    ap.add_argument("--json")
    ap.add_argument("--rundir")
    ap.add_argument("--no-replay", action="store_true",
                    help="ha without handover replay (handover-replay-ms = 0), for comparison")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    bins = mip4env.Binaries.from_env()
    rundir = Path(a.rundir or tempfile.mkdtemp(prefix="mip4-outage-", dir="/tmp"))
    topolib.sweep()
    t = topolib.Topology(rundir=str(rundir / "topo"))
    t.build()
    env = None
    out = {"moves": [], "handover_replay": not a.no_replay}
    try:
        env = mip4env.MipEnv(t, rundir / "env", bins, name="outage")
        env.go_home()
        if a.no_replay:
            env.start_ha(handover_replay_ms=0)
        else:
            env.start_ha()
        env.start_mnd()
        env.wait_home(timeout=15)
        # baseline RTT access router -> ha, then the emulators, then again
        base = {n: t.ping_stats(f"r{n}", HA_ADDRESS, count=5, interval=0.2) for n in
                ("int-x", "int-y")}
        for n in ("int-x", "int-y"):
            node, iface = t.uplink_iface(n)
            t.emulate(node, iface, delay_ms=a.delay_ms)
        time.sleep(0.5)
        emu = {n: t.ping_stats(f"r{n}", HA_ADDRESS, count=5, interval=0.2) for n in
               ("int-x", "int-y")}
        out["rtt_ms"] = {n: {"before": base[n].get("rtt_avg"), "with_emulation":
                             emu[n].get("rtt_avg")} for n in base}
        print(f"RTT access router -> ha (avg ms): {out['rtt_ms']}", flush=True)
        added = statistics.mean(emu[n]["rtt_avg"] - base[n]["rtt_avg"] for n in base)
        out["added_rtt_ms"] = round(added, 2)

        s = StreamPair(t, env.rundir, HOME_ADDRESS)
        env.streams.append(s)
        s.start(timeout=15)
        first = move(env, s, "int-x")        # home -> int-x: warm-up, not counted
        print(f"warm-up home -> int-x: {first}", flush=True)
        nets = ["int-y", "int-x"]
        prev = "int-x"
        for i in range(a.moves):
            net = nets[i % 2]
            m = move(env, s, net)
            m["move"] = f"{prev} -> {net}"
            prev = net
            out["moves"].append(m)
            print(f"move {i + 1}: {m['move']}: outage {m['outage_ms']} ms "
                  f"(DHCP {m['dhcp_ms']} ms, registered {m['registration_after_dhcp_ms']} ms "
                  f"after DHCP, outage - DHCP {m['outage_minus_dhcp_ms']} ms, stream resumed "
                  f"{m.get('resume_after_registration_ms')} ms after registration; "
                  f"outage after mnd saw the address {m.get('outage_after_address_ms')} ms)",
                  flush=True)
            time.sleep(1.0)
        fin = s.stop()
        env.streams.remove(s)
        out["stream"] = {"sent": fin["tx"].get("sent"), "received": fin["rx"].get("received"),
                         "mismatch_at": fin["rx"].get("mismatch_at"),
                         "error": fin["rx"].get("error") or fin["tx"].get("error")}
        mv = out["moves"]
        med = lambda k: statistics.median(m[k] for m in mv)  # noqa: E731
        rtt = 2 * a.delay_ms
        out["median"] = {k: med(k) for k in ("outage_ms", "dhcp_ms",
                                             "registration_after_dhcp_ms",
                                             "outage_minus_dhcp_ms",
                                             "resume_after_registration_ms",
                                             "outage_after_address_ms")}
        if rtt > 0:
            out["median"]["outage_rtts"] = round(out["median"]["outage_ms"] / rtt, 2)
            out["median"]["outage_minus_dhcp_rtts"] = round(
                out["median"]["outage_minus_dhcp_ms"] / rtt, 2)
            out["median"]["outage_after_address_rtts"] = round(
                out["median"]["outage_after_address_ms"] / rtt, 2)
        out["target_ms"] = rtt + 5
        print("RESULT " + json.dumps(out["median"]), flush=True)
        print(f"stream: {out['stream']}", flush=True)
    finally:
        if env is not None:
            for s in list(env.streams):
                s.stop(timeout=10)
            env.stop_all()
        t.teardown()
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
