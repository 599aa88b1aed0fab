#!/usr/bin/python3
"""strongSwan baselines on the namespace topology: what our vpngw will be compared with.

    sudo /usr/bin/python3 bench/swan_baseline.py [--seconds 10] [--setups 500]
         [--window 32] [--rounds 3] [--json FILE]

(1) TCP throughput cn -> mn, one stream as fast as it goes for --seconds, through a
    strongSwan-to-strongSwan libipsec tunnel (charon responder in vpngw, charon initiator
    in mn on ext-b, UDP-encapsulated ESP) for each ESP suite, and the raw path without a
    tunnel in the same run (mn on int-x: cn -> icore -> rint-x -> mn, the same number of
    routed hops as cn -> icore -> vpngw -> inet -> rext-b -> mn minus two). The "raw" and
    "strongSwan" columns of the later comparison. The transfer is tests/interop/xfer.py
    with --no-hash (256 KiB writes; only byte counts checked: Python's SHA-256 would cost
    more CPU than the tunnel on two cores); the CPU seconds both charons used during the
    transfer are reported (libipsec's ESP runs in charon).
(2) IKE_SA + first CHILD_SA establishments per second against charon as the responder:
    one charon initiator in mn with --setups connections (c1..cN, identities
    user<i>@test: with PSK, or each with its own ECDSA P-256 certificate and key from the
    test CA, made before the round; charon would reuse one IKE_SA for connections that
    differ only in name), each initiated once through vici
    with "timeout -1" (asynchronous), at most --window outstanding: the next initiation
    starts when a child-updown(up) event reports one established. Rate = N / (time of the
    N-th child-up - time of the first initiate); also the median and 95th percentile of
    initiate -> child-up. The responder must list N established IKE_SAs with an installed
    CHILD_SA afterwards, else the round fails. Median of --rounds rounds (fresh charons
    each round).

Limits, honestly: initiator and responder share the machine's 2 cores, so the rate is
that of the pair (the initiator does the same DH and key derivation as the responder;
its CPU seconds are reported next to the responder's so the split can be seen); both
talk over veths through two routers in the same kernel, no latency; charon's defaults
except ikesa_table_size/segments (raised for thousands of SAs, as strongSwan's docs
advise), the half-open/cookie thresholds (raised, else one source address is throttled),
quiet logging; the initiator does not watch addresses (roam_events off), so that the N
virtual IPs it installs do not start N roam checks. The same initiator load
(this script's initiator, N, window) is what vpngw is to be measured with.

Needs root; builds and removes its own topology. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))
sys.path.insert(0, str(HERE.parent / "tests" / "topology"))

import swan  # noqa: E402
import topo as topolib  # noqa: E402
import xfer  # noqa: E402
from vici import ViciError, ViciSession  # noqa: E402

TABLE_SETTINGS = """\
    ikesa_table_size = 4096
    ikesa_table_segments = 16
"""
# the load generator does not watch addresses (each virtual IP it installs on ipsec0 would
# otherwise start a roam check of every IKE_SA). It does install the virtual IPs and routes:
# kernel-libipsec installs a route per CHILD_SA whatever install_routes says, and fails the
# CHILD_SA when its source (the virtual IP) is not a local address.
INITIATOR_SETTINGS = TABLE_SETTINGS
INITIATOR_PLUGINS = """\
        kernel-netlink {
            roam_events = no
        }
"""
LOG = "quiet"                         # charon log level of the setup rounds
BENCH_POOL = "198.18.128.0/17"        # 32766 virtual IPs; not routed (no data in (2))


# ------------------------------------------------------------------------------ (1)

def _transfer(t, rundir: Path, dst: str, seconds: float, name: str) -> dict:
    x = xfer.Transfer(t, rundir, dst, seconds=seconds, hashing=False, chunk=262144,
                      name=name).start()
    return x.check(timeout=seconds + 60)


def throughput(t, rundir: Path, seconds: float, suites: list[str]) -> list[dict]:
    rows = []
    t.attach("wlan0", "int-x")
    r = _transfer(t, rundir, t.addr("wlan0"), seconds, "raw-int-x")
    rows.append({"path": "raw: mn on int-x, no tunnel", "suite": None,
                 "mbit_s": r["mbit_s"], "bytes": r["bytes"], "seconds": r["seconds"],
                 "cpu_gw_s": None, "cpu_mn_s": None})
    t.attach("wlan0", "ext-b")
    for suite in suites:
        gw = swan.Charon(t, "vpngw", rundir, f"gw-{suite}",
                         swan.responder_conf(auth="psk", suite=suite),
                         settings=TABLE_SETTINGS, log_level="quiet").start()
        mn = swan.Charon(t, "mn", rundir, f"mn-{suite}",
                         swan.initiator_conf(auth="psk", suite=suite), log_level="quiet").start()
        try:
            mn.initiate("vpn")
            vip = swan.virtual_ip(mn.ike_sa("vpn"))
            c0 = (gw.cpu_seconds(), mn.cpu_seconds())
            r = _transfer(t, rundir, vip, seconds, f"swan-{suite}")
            c1 = (gw.cpu_seconds(), mn.cpu_seconds())
            child = mn.installed_children("vpn")[0]
            if int(child["bytes-in"]) < r["bytes"]:
                raise AssertionError(f"{suite}: the CHILD_SA carried {child['bytes-in']} bytes, "
                                     f"the transfer {r['bytes']}: not through the tunnel?")
        finally:
            mn.stop()
            gw.stop()
        rows.append({"path": "strongSwan libipsec tunnel: mn on ext-b", "suite": suite,
                     "mbit_s": r["mbit_s"], "bytes": r["bytes"], "seconds": r["seconds"],
                     "cpu_gw_s": c1[0] - c0[0], "cpu_mn_s": c1[1] - c0[1]})
    t.detach("wlan0")
    return rows


# ------------------------------------------------------------------------------ (2)

def _setup_round(t, rundir: Path, auth: str, n: int, window: int, rnd: int,
                 pki, timeout: float) -> dict:
    suite = "aes128gcm16"
    gw = swan.Charon(t, "vpngw", rundir, f"gw-{auth}-{rnd}",
                     swan.responder_conf(auth="psk" if auth == "psk" else "cert", suite=suite,
                                         pool=BENCH_POOL, remote_id="%any"),
                     pki=pki, settings=TABLE_SETTINGS, log_level="quiet").start()
    mn = swan.Charon(t, "mn", rundir, f"mn-{auth}-{rnd}",
                     swan.initiator_conf(auth="psk" if auth == "psk" else "cert", suite=suite,
                                         name="c", count=n),
                     pki=pki, settings=INITIATOR_SETTINGS, plugin_settings=INITIATOR_PLUGINS,
                     log_level=LOG).start()
    try:
        started: dict[str, float] = {}
        up: dict[str, float] = {}
        slots = threading.Semaphore(window)
        lock = threading.Lock()
        all_up = threading.Event()
        errors: list[str] = []
        listener = ViciSession(str(mn.vici_path), timeout=timeout)

        def listen() -> None:
            try:
                for name, msg in listener.listen(["child-updown"]):
                    if msg.get("up") != "yes":
                        continue
                    now = time.monotonic()
                    for ike_name in msg:
                        if ike_name == "up":
                            continue
                        with lock:
                            if ike_name not in up:
                                up[ike_name] = now
                                slots.release()
                                if len(up) == n:
                                    all_up.set()
                                    return
            except (OSError, ViciError) as e:
                if not all_up.is_set():
                    errors.append(f"listener: {e}")
                    all_up.set()

        th = threading.Thread(target=listen, daemon=True)
        th.start()
        time.sleep(0.2)                  # registration done before the first initiate
        c0 = (gw.cpu_seconds(), mn.cpu_seconds())
        deadline = time.monotonic() + timeout
        with mn.vici(timeout=timeout) as cmd:
            t_first = time.monotonic()
            for i in range(1, n + 1):
                if not slots.acquire(timeout=max(0.1, deadline - time.monotonic())):
                    errors.append(f"window never freed: {len(up)} of {i - 1} up")
                    break
                name = f"c{i}"
                started[name] = time.monotonic()
                cmd.request("initiate", {"child": name, "ike": name, "timeout": "-1"},
                            check=False)
        all_up.wait(max(0.1, deadline - time.monotonic()))
        listener.close()
        c1 = (gw.cpu_seconds(), mn.cpu_seconds())
        if errors or len(up) < n:
            raise AssertionError(f"{auth} round {rnd}: {len(up)} of {n} established within "
                                 f"{timeout} s; {errors}; gw log: {gw.log_tail(10)}")
        t_last = max(up.values())
        lat = sorted((up[k] - started[k]) * 1000 for k in up)
        sas = gw.list_sas()
        good = [s for s in sas if s["state"] == "ESTABLISHED"
                and any(c["state"] == "INSTALLED" for c in s["child_sas"])]
        if len(good) != n:
            raise AssertionError(f"{auth} round {rnd}: responder lists {len(good)} established "
                                 f"IKE_SAs with a CHILD_SA, expected {n}")
        return {"auth": auth, "round": rnd, "n": n, "window": window,
                "seconds": t_last - t_first, "rate": n / (t_last - t_first),
                "lat_ms_median": statistics.median(lat),
                "lat_ms_p95": lat[min(len(lat) - 1, int(len(lat) * 0.95))],
                "cpu_gw_s": c1[0] - c0[0], "cpu_mn_s": c1[1] - c0[1]}
    finally:
        mn.stop(timeout=20)
        gw.stop(timeout=20)


def setup_rate(t, rundir: Path, auths: list[str], n: int, window: int, rounds: int,
               timeout: float) -> list[dict]:
    t.attach("wlan0", "ext-b")
    out = []
    for auth in auths:
        pki = None
        if auth == "ecdsa":
            t0 = time.monotonic()
            pki = swan.make_clients(swan.make_pki(rundir / "pki-ecdsa", "ecdsa"), n)
            print(f"{n} client certificates made in {time.monotonic() - t0:.1f} s",
                  file=sys.stderr)
        res = [_setup_round(t, rundir, auth, n, window, r, pki, timeout)
               for r in range(1, rounds + 1)]
        med = sorted(res, key=lambda r: r["rate"])[len(res) // 2]
        out.append({"auth": auth, "n": n, "window": window, "rounds": res,
                    "rate_median": med["rate"], "lat_ms_median": med["lat_ms_median"],
                    "lat_ms_p95": med["lat_ms_p95"], "cpu_gw_s": med["cpu_gw_s"],
                    "cpu_mn_s": med["cpu_mn_s"]})
    t.detach("wlan0")
    return out


# ------------------------------------------------------------------------------ main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="per throughput run")
    ap.add_argument("--suites", default="aes128gcm16,chacha20poly1305")
    ap.add_argument("--setups", type=int, default=500, help="IKE_SAs per round")
    ap.add_argument("--window", type=int, default=32, help="initiations outstanding")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--auth", default="psk,ecdsa", help="psk and/or ecdsa")
    ap.add_argument("--timeout", type=float, default=120.0, help="per setup round")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-setups", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--rundir", help="keep configs and logs here (default: a temporary "
                    "directory, removed on success)")
    args = ap.parse_args()
    rundir = Path(args.rundir) if args.rundir else Path(tempfile.mkdtemp(prefix="swanb-",
                                                                          dir="/tmp"))
    rundir.mkdir(parents=True, exist_ok=True)
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "argv": sys.argv,
                     "strongswan": None, "throughput": [], "setups": []}
    restore = topolib.install_signal_handlers()
    ok = False
    try:
        with topolib.Topology(rundir=str(rundir / "topo")) as t:
            if not args.skip_throughput:
                results["throughput"] = throughput(t, rundir, args.seconds,
                                                   args.suites.split(","))
            if not args.skip_setups:
                results["setups"] = setup_rate(t, rundir, args.auth.split(","), args.setups,
                                               args.window, args.rounds, args.timeout)
        ok = True
    finally:
        restore()
        if not ok:
            print(f"failed; configs and logs kept in {rundir}", file=sys.stderr)
    results["strongswan"] = subprocess.run([swan.CHARON, "--version"], capture_output=True,
                                           text=True).stdout.strip() or None
    lines = []
    if results["throughput"]:
        raw = results["throughput"][0]["mbit_s"]
        lines += [f"TCP cn -> mn, one stream, {args.seconds:g} s each",
                  "", "| path | ESP | Mbit/s | vs raw | charon CPU s (gw / mn) |",
                  "|---|---|---|---|---|"]
        for r in results["throughput"]:
            cpu = "-" if r["cpu_gw_s"] is None else f"{r['cpu_gw_s']:.1f} / {r['cpu_mn_s']:.1f}"
            lines.append(f"| {r['path']} | {r['suite'] or '-'} | {r['mbit_s']:.0f} | "
                         f"{r['mbit_s'] / raw * 100:.0f} % | {cpu} |")
        lines.append("")
    if results["setups"]:
        lines += [f"IKE_SA + CHILD_SA setups/s against charon (responder), {args.setups} per "
                  f"round, window {args.window}, median of {args.rounds}",
                  "", "| auth | setups/s | rounds | latency median / p95 ms | "
                  "CPU s gw / initiator |", "|---|---|---|---|---|"]
        for s in results["setups"]:
            rr = ", ".join(f"{r['rate']:.0f}" for r in s["rounds"])
            lines.append(f"| {s['auth']} | {s['rate_median']:.0f} | {rr} | "
                         f"{s['lat_ms_median']:.0f} / {s['lat_ms_p95']:.0f} | "
                         f"{s['cpu_gw_s']:.1f} / {s['cpu_mn_s']:.1f} |")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if ok and not args.rundir:
        shutil.rmtree(rundir, ignore_errors=True)
    else:
        print(f"\nlogs: {rundir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
