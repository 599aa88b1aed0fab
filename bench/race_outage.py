#!/usr/bin/python3
"""Issue 6's benchmark: outage per mode transition (c -> c, c -> mc, mc -> mc, mc -> c) with
+20 ms RTT to the home agent and to the gateway, measured at the receiver.

    sudo /usr/bin/python3 bench/race_outage.py [--build DIR] [--rounds 3] [--delay-ms 10]
         [--gateway-inside no|yes|both] [--json FILE] [--rundir DIR]

Topology: tests/topology (RFC 5266 Figure 1) with our ha (trusted networks, TNC), vpngw and
mnd (tests/race/racelib.py). Delay: the link emulator on every access router's uplink (up0 of
rint-x, rint-y, rext-a, rext-b), --delay-ms per direction, so the mobile node is 2 x delay
away from the intranet core (home agent) and from the internet core (gateway) on every
access network, and the gateway-home agent leg adds nothing: one RTT to the home agent
directly, one RTT to the gateway, one RTT to the home agent through the tunnel. Two
configurations (--gateway-inside, default both, each a fresh topology): "no", the gateway is
not reachable from inside, so int-x/int-y decide by the home agent alone and the IKE SA is
set up anew at every c -> mc move (two more RTTs: IKE_SA_INIT, IKE_AUTH); "yes", the gateway
is reachable from inside and the IKE SA stays alive in mode c (keep-vpn, the default), so
c -> mc is a MOBIKE update: the configuration of issue 6's c -> mc target ("while the IKE SA
is alive"). ha's state file
lives on tmpfs (--rundir defaults to /dev/shm): a disk's fsync before each reply would be
the disk's latency, not the protocol's.

Per round the laptop (wlan0, break-before-make: unplugged, plugged into the next network,
DHCP) goes int-x -> int-y (c -> c) -> ext-b (c -> mc) -> ext-a behind NAT (mc -> mc) -> int-x
(mc -> c). A 10 ms probe (bench/udpprobe.py: numbered UDP datagrams cn -> home address on an
absolute schedule, arrivals logged in mn with CLOCK_MONOTONIC) runs all along. Outage of a
transition = first datagram arriving at mn after the moment mnd saw the new attachment
(status `location_changed_at_monotonic_ms`, netlink) minus that moment; also from the moment
the harness had the address (Topology.attach returned). Targets (issue 6): c -> c, mc -> c,
mc -> mc one RTT + 5 ms; c -> mc two RTTs + 10 ms (the IKE SA alive). The probe's spacing adds
0-10 ms (5 on average) to every number.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "race"))

import racelib  # noqa: E402
import udpprobe  # noqa: E402
from racelib import HOME_ADDRESS, RaceEnv  # noqa: E402

MOVES = (("int-y", "c", "c -> c"), ("ext-b", "mc", "c -> mc"), ("ext-a", "mc", "mc -> mc"),
         ("int-x", "c", "mc -> c"))
TARGET_RTTS = {"c -> c": (1, 5), "c -> mc": (2, 10), "mc -> mc": (1, 5), "mc -> c": (1, 5)}


def arrivals(log: Path) -> list[float]:
    return udpprobe.read_log(log)


def first_after(ts: list[float], t: float) -> float | None:
    for x in ts:
        if x >= t:
            return round((x - t) * 1000, 1)
    return None


def run_config(a, rundir: Path, gw_inside: bool) -> tuple[list[dict], float, dict]:
    """One topology, a.rounds rounds of MOVES; returns (rows, rtt, rtt info)."""
    restore = racelib.topolib.install_signal_handlers()
    t = racelib.topolib.Topology(rundir=str(rundir / "topo")).build()
    env = RaceEnv(t, rundir)
    rows: list[dict] = []
    info: dict = {}
    probes = []
    rtt = 2 * a.delay_ms
    try:
        t.gateway_reachable_from_inside(gw_inside)
        for r in ("rint-x", "rint-y", "rext-a", "rext-b"):
            t.emulate(r, "up0", delay_ms=a.delay_ms)
        env.start(at="int-x")
        env.wait_mode("c", 60)
        if gw_inside:
            # mode c with the IKE SA alive beside it: wait for the tunnel
            deadline = time.monotonic() + 30
            while not env.vpn_status().get("tia") and time.monotonic() < deadline:
                time.sleep(0.1)
            if not env.vpn_status().get("tia"):
                raise RuntimeError("the IKE SA did not come up from int-x")
        # mn -> ha from the care-of address on int-x (mode c: nothing filtered); the
        # emulator delays forwarded packets only, so the routers' own pings would not see it
        ping = udpprobe.ping_rtt_ms(t, "mn", "wlan0", racelib.HA_ADDRESS)
        info = {"mn on int-x -> ha": ping,
                "nominal": 2 * a.delay_ms}
        print(f"RTT (avg ms): {info}", flush=True)
        rtt = info["mn on int-x -> ha"] or 2 * a.delay_ms
        procs, rlog = udpprobe.start_pair(t, rundir, HOME_ADDRESS,
                                          interval=a.probe_interval_ms / 1000.0)
        probes.extend(procs)
        for rnd in range(a.rounds):
            for net, mode, kind in MOVES:
                est0 = env.vpn_status().get("established", 0)
                t0 = time.monotonic()
                row = env.move(net, mode, timeout=60)
                t_addr = t0 + row["attach_s"]
                time.sleep(1.0)
                s = env.status()
                t_seen = s.get("location_changed_at_monotonic_ms", 0) / 1000.0
                ts = arrivals(rlog)
                m = {"round": rnd + 1, "transition": kind, "net": net, "mode": row["mode"],
                     "gateway_inside": gw_inside,
                     "new_ike_sa": env.vpn_status().get("established", 0) != est0,
                     "from_seen_ms": first_after(ts, t_seen) if t_seen >= t0 else None,
                     "from_address_ms": first_after(ts, t_addr),
                     "mnd_handover_ms": row["handover_ms"],
                     "seen_before_address_ms": round((t_addr - t_seen) * 1000, 1)
                     if t_seen >= t0 else None}
                rows.append(m)
                print(f"round {rnd + 1} {kind:9} -> {net}: probe back {m['from_seen_ms']} ms "
                      f"after mnd saw the attachment ({m['from_address_ms']} ms after the "
                      f"harness had the address), mnd handover {m['mnd_handover_ms']} ms"
                      f"{', new IKE SA' if m['new_ike_sa'] else ''}",
                      flush=True)
                time.sleep(0.5)
    finally:
        for p in probes:
            if p.poll() is None:
                p.terminate()
        env.stop()
        t.teardown()
        restore()
    return rows, rtt, info


def summarize(rows: list[dict], rtt: float, title: str) -> dict:
    print()
    print(title)
    print("| transition | probe back after mnd saw the attachment, ms: median (min-max) | "
          "RTTs | target | met | after the harness had the address | mnd's handover time |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for _, _, kind in MOVES:
        v = [r["from_seen_ms"] for r in rows if r["transition"] == kind and
             r["from_seen_ms"] is not None]
        w = [r["from_address_ms"] for r in rows if r["transition"] == kind and
             r["from_address_ms"] is not None]
        h = [r["mnd_handover_ms"] for r in rows if r["transition"] == kind and
             r["mnd_handover_ms"] is not None]
        if not v:
            continue
        n, extra = TARGET_RTTS[kind]
        target = n * rtt + extra
        med = round(statistics.median(v), 1)
        summary[kind] = {"median": med, "min": min(v), "max": max(v),
                         "rtts": round(med / rtt, 2), "target_ms": round(target, 1),
                         "from_address_median": round(statistics.median(w), 1) if w else None,
                         "mnd_handover_median": round(statistics.median(h), 1) if h else None,
                         "per_round": v}
        print(f"| {kind} | {med} ({min(v)}-{max(v)}) | {med / rtt:.2f} | {n} RTT + {extra} ms "
              f"= {target:.1f} | {'yes' if med <= target else 'no'} | "
              f"{summary[kind]['from_address_median']} | "
              f"{summary[kind]['mnd_handover_median']} |")
    print(f"RTT {rtt:.2f} ms")
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(HERE.parent / "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--delay-ms", type=float, default=10.0)
    ap.add_argument("--probe-interval-ms", type=float, default=10.0,
                    help="the probe's spacing: it adds 0 to this much (half on average) "
                         "to every outage")
    ap.add_argument("--gateway-inside", choices=("no", "yes", "both"), default="both")
    ap.add_argument("--json")
    ap.add_argument("--rundir")
    a = ap.parse_args()
    racelib.set_binaries(Path(a.build))
    rundir = Path(a.rundir or tempfile.mkdtemp(prefix="race-outage-", dir="/dev/shm"))
    configs = {"no": [False], "yes": [True], "both": [False, True]}[a.gateway_inside]
    out: dict = {"delay_ms": a.delay_ms, "probe_interval_ms": a.probe_interval_ms,
                 "configs": {}}
    for gw in configs:
        name = "gateway-inside" if gw else "gateway-outside-only"
        sub = rundir / name
        sub.mkdir(parents=True, exist_ok=True)
        rows, rtt, info = run_config(a, sub, gw)
        title = ("Gateway reachable from inside (IKE SA alive in mode c):" if gw else
                 "Gateway not reachable from inside (IKE SA set up at c -> mc):")
        summary = summarize(rows, rtt, title)
        out["configs"][name] = {"rtt_ms": info, "moves": rows, "summary": summary}
        print("RESULT " + name + " " + json.dumps(summary), flush=True)
    print(f"run directory {rundir}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
