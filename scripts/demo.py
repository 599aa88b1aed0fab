#!/usr/bin/python3
"""The roaming demo (issue 6 item 6, issue 7 item 3): the whole product in network namespaces.
The laptop `mn` moves home -> int-x (c) -> int-f (f, through the foreign agent in rint-f) ->
ext-a behind NAT (mc) -> ext-b (mc, MOBIKE) -> int-x (c) -> home while `cn` streams TCP to its
home address and a 10 ms probe (bench/udpprobe.py) runs
beside it. A live timeline (mnd's mode changes as the status API publishes them) and, at the
end, a summary table: per move the mode, the trust verdict, mnd's handover time (attachment
seen -> traffic flowing), the probe's outage seen at mn, the stream's longest gap, and the IKE
SA in use (the same SPIs across the MOBIKE move).

    sudo scripts/demo.sh                     # setup, build, run (the README's main job)
    sudo /usr/bin/python3 scripts/demo.py [--build DIR] [--rundir DIR] [--json FILE]

Everything it starts it stops; the namespaces are removed at the end, also on Ctrl-C.
Exit status 0 when every move reached its mode and the stream arrived intact.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "race"))
sys.path.insert(0, str(ROOT / "bench"))

import racelib  # noqa: E402
import udpprobe  # noqa: E402
from racelib import FA_ADDR, HOME_ADDRESS, ForeignAgent, RaceEnv  # noqa: E402

SEQUENCE = (("int-x", "c"), ("int-f", "f"), ("ext-a", "mc"), ("ext-b", "mc"), ("int-x", "c"),
            ("home", "home"))
RATE = 1_000_000
T0 = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - T0:7.3f} s] {text}", flush=True)


class Watcher(threading.Thread):
    """Prints every change of mnd's published state (mode, trust, care-of address, TIA)."""

    def __init__(self, env: RaceEnv) -> None:
        super().__init__(daemon=True)
        self.env, self.stop_flag = env, threading.Event()

    def run(self) -> None:
        last = None
        while not self.stop_flag.is_set():
            s = self.env.status()
            v = self.env.vpn_status()
            key = (s.get("mode"), s.get("trust"), s.get("care_of_address"), v.get("tia"),
                   s.get("handovers"))
            if s and key != last:
                say(f"mnd: mode {s.get('mode'):<9} trust {s.get('trust'):<9} "
                    f"CoA {s.get('care_of_address') or '-':<15} TIA {v.get('tia') or '-':<15}"
                    f" VPN {v.get('state', '-'):<10} ({s.get('mode_reason')})")
                last = key
            time.sleep(0.01)


def probe_outage(log: Path, t_from: float) -> float | None:
    """ms from t_from to the first probe datagram that arrived at mn after it."""
    for t in udpprobe.read_log(log):
        if t >= t_from:
            return round((t - t_from) * 1000, 1)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--rundir")
    ap.add_argument("--json")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("demo: needs root (network namespaces)", file=sys.stderr)
        return 2
    racelib.set_binaries(Path(a.build))
    rundir = Path(a.rundir or tempfile.mkdtemp(prefix="mip4-demo-", dir="/tmp"))
    restore = racelib.topolib.install_signal_handlers()
    t = racelib.topolib.Topology(rundir=str(rundir / "topo")).build()
    env = RaceEnv(t, rundir)
    fa = ForeignAgent(t, rundir)
    rows, ok = [], True
    watcher = stream = probe_tx = probe_rx = None
    try:
        say(f"topology up ({t.prefix}); run directory {rundir}")
        fa.start()
        say(f"foreign agent in rint-f advertising on int-f, care-of address {FA_ADDR}")
        env.start()
        watcher = Watcher(env)
        watcher.start()
        env.wait_mode("home")
        stream = racelib.xfer.Transfer(t, rundir, HOME_ADDRESS, rate=RATE,
                                       name="stream").start()
        say(f"cn streams TCP to the home address {HOME_ADDRESS} at {RATE // 1000} kB/s")
        (probe_rx, probe_tx), rlog = udpprobe.start_pair(t, rundir, HOME_ADDRESS)
        prev = "home"
        for net, mode in SEQUENCE:
            say(f"--- move: {prev} -> {net} (expect mode {mode})")
            before = stream.received()
            t_move = time.monotonic()
            try:
                row = env.move(net, mode)
            except AssertionError as e:
                say(f"FAILED: {str(e).splitlines()[0]}")
                ok = False
                break
            t_addr = t_move + row["attach_s"]
            if mode == "f":
                # the direct registration carries the traffic until the agent's reply
                s = env.wait(lambda s: s.get("care_of_address") == FA_ADDR, 20,
                             "the registration through the foreign agent")
                row["care_of_address"] = s.get("care_of_address")
            env.wait(lambda s, b=before: stream.received() > b + RATE // 4, 30,
                     "the stream flowing")
            row["from"] = prev
            row["probe_outage_ms"] = probe_outage(rlog, t_addr)
            rows.append(row)
            say(f"    {net}: mode {row['mode']}, handover {row['handover_ms']} ms (mnd), "
                f"probe back {row['probe_outage_ms']} ms after the address")
            prev = net
            time.sleep(1.0)
        stream.stop()
        try:
            res = stream.check(timeout=60, min_bytes=RATE)
            say(f"stream: {res}")
        except AssertionError as e:
            say(f"stream FAILED: {e}")
            ok = False
            res = {}
    finally:
        if watcher:
            watcher.stop_flag.set()
        for p in (probe_tx, probe_rx):
            if p is not None and p.poll() is None:
                p.terminate()
        env.stop()
        fa.stop()
        t.teardown()
        restore()
    print()
    print("| move | mode | trust | handover (mnd), ms | probe back after address, ms | "
          "attach (DHCP), s | IKE SA (SPI_i) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['from']} -> {r['net']} | {r['mode']} | {r['trust']} | "
              f"{r['handover_ms']} | {r['probe_outage_ms']} | {r['attach_s']} | "
              f"{r['vpn_spi_i'] or '-'} |")
    gap = res.get("max_gap_ms") if ok else None
    print(f"\nTCP stream: {res.get('bytes', '?')} bytes, digest "
          f"{'matched' if res.get('match', ok) else 'MISMATCH'}, longest gap {gap} ms")
    if a.json:
        Path(a.json).write_text(json.dumps({"moves": rows, "stream": res}, indent=1) + "\n")
    print("demo: " + ("every move reached its mode, the stream arrived intact" if ok
                      else "FAILED"))
    return 0 if ok and len(rows) == len(SEQUENCE) else 1


if __name__ == "__main__":
    sys.exit(main())
