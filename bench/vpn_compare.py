#!/usr/bin/python3
"""Issue 4's benchmarks, side by side in one run: our vpngw/mnd against strongSwan.

    sudo /usr/bin/python3 bench/vpn_compare.py [--build DIR] [--json FILE] [--rundir DIR]
         [--setups 500] [--window 32] [--setup-rounds 5] [--auth psk,ecdsa]
         [--responders charon,vpngw]
         [--seconds 8] [--xfer-rounds 3] [--suites aes128gcm16,chacha20poly1305]
         [--pairs raw,swan-swan,ours-ours,swan-ours,ours-swan]
         [--skip-setups] [--skip-throughput] [--quiet-wait 0] [--quiet 0.05]

(a) IKE_SA + first CHILD_SA establishments per second at a responder in node vpngw:
    strongSwan's charon and our vpngw, in alternating rounds (charon, vpngw, charon, ...),
    under the same load: one charon initiator in mn (on ext-b) with --setups connections
    c1..cN, identities user<i>@test (PSK, or with --auth ecdsa each its own ECDSA P-256
    certificate and key from the test CA, made once before the rounds: charon would reuse
    one IKE_SA for connections that differ only in name), each initiated once through vici
    with "timeout -1" (asynchronous), at most --window outstanding: a child-updown(up)
    event frees a slot. Rate = N / (time of the N-th child-up - time of the first
    initiate); the median and 95th percentile of initiate -> child-up; the CPU seconds of
    the responder and of the initiator during the round. After the round the responder
    must list N established IKE SAs each with a Child SA (charon: vici list-sas, CHILD_SA
    INSTALLED; vpngw: `gwctl list --json`, IKE SA ESTABLISHED with an active Child SA),
    else the run fails. Fresh daemons every round; median of --setup-rounds.
(b) TCP throughput cn -> mn, one stream as fast as it goes for --seconds
    (tests/interop/xfer.py --no-hash, 256 KiB writes; byte counts compared, Python's
    SHA-256 would cost more CPU than the tunnels on two cores), rounds alternating over:
    raw   the path without a tunnel (mn's wlan0 on int-x: cn -> icore -> rint-x -> mn)
    swan-swan  charon initiator in mn <-> charon responder in vpngw (libipsec both ends)
    ours-ours  our mnd in mn <-> our vpngw
    swan-ours  charon initiator in mn <-> our vpngw
    ours-swan  our mnd in mn <-> charon responder in vpngw
    (tunnels: mn on ext-b, cn -> icore -> vpngw -> inet -> rext-b -> mn, ESP in UDP 4500),
    PSK, the same ESP suite for every pair (--suites). The gateway's Child SA counters
    (and charon's on the client side) must cover the transfer, else the run fails (the
    bytes did not go through the tunnel). Reported: Mbit/s median and range, CPU seconds
    of the gateway-side and client-side daemon during the transfer, ratios ours/libipsec
    and ours/raw.

Configurations: charon through tests/interop/swan.py (responder_conf, initiator_conf; the
settings below); our daemons through tests/interop's Vpngw and Mnd classes (the interop
tests' configurations) for (b); for (a) vpngw gets a configuration of its own (BenchVpngw:
remote-id %any, a /17 pool, cookie-threshold and half-open-max raised as charon's
thresholds are, no rekeying and no liveness checks, as the charon responder has).

Limits, honestly: everything shares the machine's 2 cores (initiator and responder in
(a), sender, receiver and both tunnel ends in (b)), so the numbers are those of the pair
and the CPU seconds are printed so that the split can be seen; no latency (veths through
routers in one kernel); the raw row is bounded by the Python sender/receiver. Before every
measurement the busy share of the CPUs over half a second is sampled while the daemons under
test are idle (other work on the machine: reported); --quiet-wait S waits up to S seconds
for it to fall under --quiet first.

Needs root; builds and removes its own topology. Prints Markdown tables and RESULT lines.
"""

from __future__ import annotations

import argparse
import json
import os
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

import ha_udpbench  # noqa: E402  (wait_quiet: the same idle test as the ha benchmark)
import swan  # noqa: E402
import topo as topolib  # noqa: E402
import xfer  # noqa: E402
from test_mnd_swan import Mnd  # noqa: E402
from test_vpngw_swan import Vpngw  # noqa: E402
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
BENCH_POOL = "198.18.128.0/17"        # 32766 inner addresses; not routed (no data in (a))
SETUP_SUITE = "aes128gcm16"
# (b): client side - gateway side
PAIRS = {
    "raw": "raw path, no tunnel (mn on int-x)",
    "swan-swan": "charon <-> charon (libipsec both ends)",
    "ours-ours": "mnd <-> vpngw (ours both ends)",
    "swan-ours": "charon <-> vpngw",
    "ours-swan": "mnd <-> charon",
}
RESPONDERS = ("charon", "vpngw")
QUIET = {"share": 0.05, "wait": 0.0}   # --quiet, --quiet-wait


class _Env:
    """What Vpngw and Mnd (tests/interop) take from the pytest fixture: a run directory."""

    def __init__(self, rundir: Path) -> None:
        self.rundir = rundir
        rundir.mkdir(parents=True, exist_ok=True)


def _pid_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid``, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(d) -> float:
    return d.cpu_seconds() if isinstance(d, swan.Charon) else _pid_cpu(d.proc.pid)


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(v) - v[3] - v[4]) / hz, sum(v) / hz


def _busy(m0: tuple[float, float], m1: tuple[float, float]) -> float:
    return (m1[0] - m0[0]) / max(1e-9, m1[1] - m0[1])


def _background() -> float:
    """Busy share of all CPUs over half a second just before a measurement, while the
    daemons under test are up but idle: what other work on the machine takes (a noisy
    round). With --quiet-wait, first waits up to that long for it to fall to --quiet."""
    return ha_udpbench.wait_quiet(QUIET["share"], QUIET["wait"])


def _stop(d, problems: list[str]) -> None:
    """Stop a daemon; our daemons must exit 0 on SIGTERM (noted in ``problems``)."""
    try:
        if isinstance(d, swan.Charon):
            d.stop(timeout=20)
        else:
            rc = d.stop()
            if rc != 0:
                problems.append(f"{type(d).__name__} exited with {rc}: {d.tail(1500)}")
    except AssertionError as e:
        problems.append(str(e))


def _median_row(vals: list[float]) -> dict:
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}


# ------------------------------------------------------------------------------ (a)

class BenchVpngw(Vpngw):
    """vpngw as the responder of the setup load: the interop tests' Vpngw (gwctl, sas,
    tail, stop) with its own configuration: any identity the PSK or the CA proves
    (man/vpngw.8 remote-id), inner addresses from BENCH_POOL, the half-open thresholds
    raised as charon's are (the load comes from one address), no rekeying and no liveness
    checks (the charon responder has none either), log level notice (one line per SA,
    as charon's level 0)."""

    def __init__(self, t, d: Path, auth: str, pki=None, suite: str = SETUP_SUITE) -> None:
        self.topo = t
        self.dir = d
        d.mkdir(parents=True, exist_ok=True)
        self.sock = d / "vpngw.sock"
        self.log_path = d / "vpngw.log"
        ike, esp = swan.SUITES[suite]
        if auth == "psk":
            psk = d / "load.psk"
            psk.write_text(swan.PSK + "\n")
            os.chmod(psk, 0o600)
            a = "auth = psk\npsk-file = load.psk\n"
        else:
            a = f"auth = cert\ncert = {pki.gw_cert}\nkey = {pki.gw_key}\nca = {pki.ca}\n"
        (d / "vpngw.conf").write_text(
            "[gateway]\n"
            f"listen = {swan.GW_PUBLIC}\n"
            f"pool = {BENCH_POOL}\n"
            f"control-socket = {self.sock}\n"
            "cookie-threshold = 100000\nhalf-open-max = 100000\ndpd-interval = 0\n"
            "\n[peer load]\n"
            "remote-id = %any\n"
            f"local-id = fqdn:{swan.GW_FQDN}\n"
            f"{a}ike = {ike}\nesp = {esp}\nlocal-ts = {swan.INTRANET}\n"
            "ike-lifetime = 0\nchild-lifetime = 0\n")
        self.log = open(self.log_path, "w")
        self.proc = t.spawn("vpngw", [os.environ["MM_VPNGW"], "--config", d / "vpngw.conf",
                                      "--log-level", "notice"], stdout=self.log,
                            stderr=self.log)
        deadline = time.monotonic() + 10
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"vpngw did not start: {self.tail()}")
            time.sleep(0.05)


def _start_responder(kind: str, t, d: Path, auth: str, rnd: int, pki):
    if kind == "charon":
        return swan.Charon(t, "vpngw", d, f"gw-{auth}-{rnd}",
                           swan.responder_conf(auth="psk" if auth == "psk" else "cert",
                                               suite=SETUP_SUITE, pool=BENCH_POOL,
                                               remote_id="%any"),
                           pki=pki, settings=TABLE_SETTINGS, log_level="quiet").start()
    return BenchVpngw(t, d / f"vpngw-{auth}-{rnd}", auth, pki)


def _responder_good(gw) -> int:
    """Established IKE SAs that have a Child SA, as the responder lists them."""
    if isinstance(gw, swan.Charon):
        return sum(1 for s in gw.list_sas() if s["state"] == "ESTABLISHED"
                   and any(c["state"] == "INSTALLED" for c in s["child_sas"]))
    return sum(1 for s in gw.sas() if s["state"] == "ESTABLISHED"
               and any(c["state"] == "active" for c in s["child_sas"]))


def _responder_tail(gw) -> str:
    return gw.log_tail(10) if isinstance(gw, swan.Charon) else gw.tail(1500)


def _setup_round(t, d: Path, kind: str, auth: str, n: int, window: int, rnd: int,
                 pki, timeout: float) -> dict:
    gw = _start_responder(kind, t, d, auth, rnd, pki)
    mn = None
    problems: list[str] = []
    try:
        mn = swan.Charon(t, "mn", d, f"mn-{kind[0]}-{auth}-{rnd}",
                         swan.initiator_conf(auth="psk" if auth == "psk" else "cert",
                                             suite=SETUP_SUITE, name="c", count=n),
                         pki=pki, settings=INITIATOR_SETTINGS,
                         plugin_settings=INITIATOR_PLUGINS, log_level=LOG).start()
        started: dict[str, float] = {}
        up: dict[str, float] = {}
        slots = threading.Semaphore(window)
        lock = threading.Lock()
        all_up = threading.Event()
        errors: list[str] = []
        listener = ViciSession(str(mn.vici_path), timeout=timeout)

        def listen() -> None:
            try:
                for _, msg in listener.listen(["child-updown"]):
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
        bg = _background()               # also lets the listener register first
        c0, m0 = (_cpu(gw), _cpu(mn)), _machine()
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
        c1, m1 = (_cpu(gw), _cpu(mn)), _machine()
        if errors or len(up) < n:
            raise AssertionError(f"{kind} {auth} round {rnd}: {len(up)} of {n} established "
                                 f"within {timeout} s; {errors}; responder log: "
                                 f"{_responder_tail(gw)}")
        t_last = max(up.values())
        lat = sorted((up[k] - started[k]) * 1000 for k in up)
        good = _responder_good(gw)
        if good != n:
            raise AssertionError(f"{kind} {auth} round {rnd}: the responder lists {good} "
                                 f"established IKE SAs with a Child SA, expected {n}")
        res = {"responder": kind, "auth": auth, "round": rnd, "n": n, "window": window,
                "seconds": t_last - t_first, "rate": n / (t_last - t_first),
                "lat_ms_median": statistics.median(lat),
                "lat_ms_p95": lat[min(len(lat) - 1, int(len(lat) * 0.95))],
                "cpu_responder_s": c1[0] - c0[0], "cpu_initiator_s": c1[1] - c0[1],
                "machine_busy": _busy(m0, m1), "background_busy": bg}
    finally:
        if mn is not None:
            mn.stop(timeout=20)
        _stop(gw, problems)
    if problems:
        raise AssertionError(f"{kind} {auth} round {rnd}: {'; '.join(problems)}")
    return res


def setup_rate(t, rundir: Path, auths: list[str], responders: list[str], n: int,
               window: int, rounds: int, timeout: float) -> list[dict]:
    t.attach("wlan0", "ext-b")
    out = []
    for auth in auths:
        pki = None
        if auth == "ecdsa":
            t0 = time.monotonic()
            pki = swan.make_clients(swan.make_pki(rundir / "pki-ecdsa", "ecdsa"), n)
            print(f"{n} client certificates made in {time.monotonic() - t0:.1f} s",
                  file=sys.stderr)
        res: dict[str, list[dict]] = {k: [] for k in responders}
        for r in range(1, rounds + 1):
            for kind in responders:          # alternating: charon, vpngw, charon, ...
                x = _setup_round(t, rundir, kind, auth, n, window, r, pki, timeout)
                print(f"  setups {auth} round {r} {kind}: {x['rate']:.0f}/s, CPU s responder "
                      f"{x['cpu_responder_s']:.2f} initiator {x['cpu_initiator_s']:.2f} "
                      f"(background {x['background_busy'] * 100:.0f} % busy)", file=sys.stderr)
                res[kind].append(x)
        for kind in responders:
            rr = res[kind]
            med = sorted(rr, key=lambda x: x["rate"])[len(rr) // 2]
            out.append({"auth": auth, "responder": kind, "n": n, "window": window,
                        "rounds": rr, "rate_median": med["rate"],
                        "rate_min": min(x["rate"] for x in rr),
                        "rate_max": max(x["rate"] for x in rr),
                        "lat_ms_median": med["lat_ms_median"], "lat_ms_p95": med["lat_ms_p95"],
                        "cpu_responder_s": med["cpu_responder_s"],
                        "cpu_initiator_s": med["cpu_initiator_s"]})
    t.detach("wlan0")
    return out


# ------------------------------------------------------------------------------ (b)

def _transfer(t, d: Path, dst: str, seconds: float, name: str) -> dict:
    x = xfer.Transfer(t, d, dst, seconds=seconds, hashing=False, chunk=262144,
                      name=name).start()
    return x.check(timeout=seconds + 60)


def _start_gw(kind: str, t, env: _Env, suite: str):
    if kind == "swan":
        return swan.Charon(t, "vpngw", env.rundir, "gw", swan.responder_conf(auth="psk",
                                                                            suite=suite),
                           settings=TABLE_SETTINGS, log_level="quiet").start()
    return Vpngw(env, t, auth="psk", suite=suite)


def _start_client(kind: str, t, env: _Env, suite: str):
    """The client in mn with its tunnel up: (daemon, inner address)."""
    if kind == "swan":
        mn = swan.Charon(t, "mn", env.rundir, "mn", swan.initiator_conf(auth="psk",
                                                                        suite=suite),
                         log_level="quiet").start()
        try:
            mn.initiate("vpn")
            return mn, swan.virtual_ip(mn.ike_sa("vpn"))
        except BaseException:
            mn.stop()
            raise
    m = Mnd(env, t, auth="psk", suite=suite, dpd=30)
    try:
        st = m.wait(lambda s: s.get("state") == "up" and s.get("children"), 20, "the tunnel")
    except BaseException:
        m.stop()
        raise
    return m, st["tia"]


def _carried(gw, cl) -> dict:
    """Bytes the tunnel's Child SAs carried towards mn: the gateway's outbound counter, and
    charon's inbound one when charon is the client (mnd's status file has no counters)."""
    out = {}
    if isinstance(gw, swan.Charon):
        sas = [s for s in gw.list_sas() if s["state"] == "ESTABLISHED"]
        out["gw_out_bytes"] = sum(int(c["bytes-out"]) for s in sas for c in s["child_sas"]
                                  if c["state"] == "INSTALLED")
    else:
        out["gw_out_bytes"] = sum(c["out_bytes"] for s in gw.sas() for c in s["child_sas"])
    if isinstance(cl, swan.Charon):
        out["client_in_bytes"] = sum(int(c["bytes-in"]) for c in cl.installed_children("vpn"))
    return out


def _tunnel_run(t, d: Path, pair: str, suite: str, seconds: float, tag: str) -> dict:
    client, gwkind = pair.split("-")
    env = _Env(d / tag)
    problems: list[str] = []
    gw = _start_gw(gwkind, t, env, suite)
    cl = None
    try:
        cl, dst = _start_client(client, t, env, suite)
        bg = _background()
        c0, m0 = (_cpu(gw), _cpu(cl)), _machine()
        r = _transfer(t, env.rundir, dst, seconds, tag)
        c1, m1 = (_cpu(gw), _cpu(cl)), _machine()
        carried = _carried(gw, cl)
        for k, v in carried.items():
            if v < r["bytes"]:
                raise AssertionError(f"{tag}: {k} = {v}, the transfer {r['bytes']} bytes: "
                                     "not through the tunnel?")
    finally:
        if cl is not None:
            _stop(cl, problems)
        _stop(gw, problems)
    if problems:
        raise AssertionError(f"{tag}: {'; '.join(problems)}")
    return {"pair": pair, "suite": suite, "mbit_s": r["mbit_s"], "bytes": r["bytes"],
            "seconds": r["seconds"], "cpu_gw_s": c1[0] - c0[0], "cpu_mn_s": c1[1] - c0[1],
            "machine_busy": _busy(m0, m1), "background_busy": bg, **carried}


def throughput(t, rundir: Path, seconds: float, suites: list[str], pairs: list[str],
               rounds: int) -> list[dict]:
    runs: list[dict] = []
    for rnd in range(1, rounds + 1):
        for pair in pairs:                        # alternating: raw, swan-swan, ours-ours, ...
            for suite in ([None] if pair == "raw" else suites):
                tag = f"{pair}-{suite or 'none'}-{rnd}"
                if pair == "raw":
                    t.attach("wlan0", "int-x")
                    bg = _background()
                    m0 = _machine()
                    r = _transfer(t, rundir / tag, t.addr("wlan0"), seconds, tag)
                    x = {"pair": pair, "suite": None, "mbit_s": r["mbit_s"],
                         "bytes": r["bytes"], "seconds": r["seconds"], "cpu_gw_s": None,
                         "cpu_mn_s": None, "machine_busy": _busy(m0, _machine()),
                         "background_busy": bg}
                else:
                    if t.attachment("wlan0") != "ext-b":
                        t.attach("wlan0", "ext-b")
                    x = _tunnel_run(t, rundir, pair, suite, seconds, tag)
                x["round"] = rnd
                print(f"  throughput round {rnd} {pair} {suite or '-'}: {x['mbit_s']:.0f} "
                      f"Mbit/s (background {x['background_busy'] * 100:.0f} % busy)",
                      file=sys.stderr)
                runs.append(x)
    t.detach("wlan0")
    out = []
    for pair in pairs:
        for suite in ([None] if pair == "raw" else suites):
            rr = [x for x in runs if x["pair"] == pair and x["suite"] == suite]
            row = {"pair": pair, "suite": suite, "rounds": rr,
                   "mbit_s": _median_row([x["mbit_s"] for x in rr])}
            if pair != "raw":
                for k in ("cpu_gw_s", "cpu_mn_s"):
                    row[k] = statistics.median(x[k] for x in rr)
                    # CPU seconds per GB carried: less sensitive to other load than Mbit/s
                    row[k.replace("_s", "_s_per_gb")] = statistics.median(
                        x[k] / x["bytes"] * 1e9 for x in rr)
            out.append(row)
    return out


# ------------------------------------------------------------------------------ report

def _find(rows: list[dict], **kw) -> dict | None:
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def _bg_line(runs: list[dict]) -> str:
    bg = [x["background_busy"] * 100 for x in runs]
    return (f"- other load: the machine's CPUs were {min(bg):.0f}-{max(bg):.0f} % busy "
            f"(median {statistics.median(bg):.0f} %) in the half second before each "
            "measurement, with the daemons under test idle")


def report(results: dict, args) -> list[str]:
    lines: list[str] = []
    setups = results["setups"]
    if setups:
        lines += [f"(a) IKE SA + first Child SA setups/s at the responder: {args.setups} per "
                  f"round, window {args.window}, median of {args.setup_rounds} rounds "
                  f"(alternating {' / '.join(args.responders.split(','))}), initiator: charon "
                  "in mn", "",
                  "| auth | responder | setups/s (median) | rounds | latency median / p95 ms "
                  "| CPU s responder / initiator | responder CPU ms per SA |",
                  "|---|---|---|---|---|---|---|"]
        for s in setups:
            rr = ", ".join(f"{x['rate']:.0f}" for x in s["rounds"])
            lines.append(f"| {s['auth']} | {s['responder']} | **{s['rate_median']:.0f}** | "
                         f"{rr} | {s['lat_ms_median']:.0f} / {s['lat_ms_p95']:.0f} | "
                         f"{s['cpu_responder_s']:.2f} / {s['cpu_initiator_s']:.2f} | "
                         f"{s['cpu_responder_s'] / s['n'] * 1000:.2f} |")
        lines.append("")
        for auth in args.auth.split(","):
            a, b = _find(setups, auth=auth, responder="vpngw"), _find(setups, auth=auth,
                                                                     responder="charon")
            if a and b:
                results["ratios"][f"setups_{auth}_vpngw_over_charon"] = \
                    a["rate_median"] / b["rate_median"]
                cpu = a["cpu_responder_s"] / max(1e-9, b["cpu_responder_s"])
                results["ratios"][f"setups_{auth}_responder_cpu_vpngw_over_charon"] = cpu
                lines.append(f"- {auth}: rate vpngw / charon = "
                             f"**{a['rate_median'] / b['rate_median']:.2f}**; responder CPU "
                             f"per SA vpngw / charon = {cpu:.2f} (SAs per responder CPU "
                             f"second: {a['n'] / max(1e-9, a['cpu_responder_s']):.0f} / "
                             f"{b['n'] / max(1e-9, b['cpu_responder_s']):.0f})")
        lines += [_bg_line([x for s in setups for x in s["rounds"]]), ""]
    tp = results["throughput"]
    if tp:
        raw = _find(tp, pair="raw")
        lines += [f"(b) TCP cn -> mn, one stream, {args.seconds:g} s each, median of "
                  f"{args.xfer_rounds} rounds (pairs alternating in each round), PSK", "",
                  "| path (client in mn <-> gateway in vpngw) | ESP | Mbit/s (median) | range "
                  "| vs raw | CPU s gateway / client | per GB |", "|---|---|---|---|---|---|---|"]
        for r in tp:
            m = r["mbit_s"]
            cpu = "- | -" if r["pair"] == "raw" else (
                f"{r['cpu_gw_s']:.1f} / {r['cpu_mn_s']:.1f} | "
                f"{r['cpu_gw_s_per_gb']:.1f} / {r['cpu_mn_s_per_gb']:.1f}")
            vs = f"{m['median'] / raw['mbit_s']['median'] * 100:.0f} %" if raw else "-"
            lines.append(f"| {PAIRS[r['pair']]} | {r['suite'] or '-'} | **{m['median']:.0f}** "
                         f"| {m['min']:.0f}-{m['max']:.0f} | {vs} | {cpu} |")
        lines.append("")
        for suite in args.suites.split(","):
            ours, lib = _find(tp, pair="ours-ours", suite=suite), _find(tp, pair="swan-swan",
                                                                       suite=suite)
            if ours and lib:
                v = ours["mbit_s"]["median"] / lib["mbit_s"]["median"]
                results["ratios"][f"throughput_{suite}_ours_over_libipsec"] = v
                txt = f"- {suite}: ours / libipsec = **{v:.2f}**"
                if raw:
                    w = ours["mbit_s"]["median"] / raw["mbit_s"]["median"]
                    results["ratios"][f"throughput_{suite}_ours_over_raw"] = w
                    txt += f", ours / raw = {w:.2f}"
                lines.append(txt)
        lines.append(_bg_line([x for r in tp for x in r["rounds"]]))
    return lines


# ------------------------------------------------------------------------------ main

def _binaries(build: str, need_ours: bool) -> None:
    for var, rel in (("MM_VPNGW", "vpngw/vpngw"), ("MM_GWCTL", "vpngw/gwctl"),
                     ("MM_MND", "mnd/mnd")):
        os.environ.setdefault(var, str(Path(build) / rel))
        if need_ours and not os.access(os.environ[var], os.X_OK):
            sys.exit(f"${var} = {os.environ[var]} is not an executable: build first "
                     f"(meson setup {build} --buildtype=release && ninja -C {build})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="/tmp/b-bench",
                    help="build directory of vpngw, gwctl, mnd (unless $MM_VPNGW, $MM_GWCTL, "
                    "$MM_MND are set)")
    ap.add_argument("--setups", type=int, default=500, help="IKE SAs per setup round")
    ap.add_argument("--window", type=int, default=32, help="initiations outstanding")
    ap.add_argument("--setup-rounds", type=int, default=5, help="rounds per responder")
    ap.add_argument("--auth", default="psk,ecdsa", help="psk and/or ecdsa")
    ap.add_argument("--responders", default="charon,vpngw")
    ap.add_argument("--timeout", type=float, default=120.0, help="per setup round")
    ap.add_argument("--seconds", type=float, default=8.0, help="per transfer")
    ap.add_argument("--xfer-rounds", type=int, default=3)
    ap.add_argument("--suites", default="aes128gcm16,chacha20poly1305",
                    help="ESP suites (tests/interop/swan.py SUITES), comma-separated")
    ap.add_argument("--pairs", default=",".join(PAIRS), help="of " + ", ".join(PAIRS))
    ap.add_argument("--quiet-wait", type=float, default=0.0,
                    help="before each measurement wait up to this many seconds for the "
                    "machine to be idle (a shared machine); 0: do not wait")
    ap.add_argument("--quiet", type=float, default=0.05,
                    help="busy share of all CPUs that counts as idle (--quiet-wait)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-setups", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--rundir", help="keep configs and logs here (default: a temporary "
                    "directory, removed on success)")
    args = ap.parse_args()
    pairs, responders = args.pairs.split(","), args.responders.split(",")
    bad = [p for p in pairs if p not in PAIRS] + [r for r in responders if r not in RESPONDERS]
    bad += [s for s in args.suites.split(",") if s not in swan.SUITES]
    bad += [a for a in args.auth.split(",") if a not in ("psk", "ecdsa")]
    if bad:
        ap.error(f"unknown: {', '.join(bad)}")
    QUIET.update(share=args.quiet, wait=args.quiet_wait)
    need_ours = ((not args.skip_setups and "vpngw" in responders)
                 or (not args.skip_throughput and any("ours" in p for p in pairs)))
    _binaries(args.build, need_ours)
    rundir = Path(args.rundir) if args.rundir else Path(tempfile.mkdtemp(prefix="vpncmp-",
                                                                          dir="/tmp"))
    rundir.mkdir(parents=True, exist_ok=True)
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "argv": sys.argv,
                     "binaries": {k: os.environ[k] for k in ("MM_VPNGW", "MM_MND")},
                     "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
                     "strongswan": None, "throughput": [], "setups": [], "ratios": {}}
    restore = topolib.install_signal_handlers()
    ok = False
    t0 = time.monotonic()
    try:
        with topolib.Topology(rundir=str(rundir / "topo")) as t:
            if not args.skip_setups:
                t1 = time.monotonic()
                results["setups"] = setup_rate(t, rundir, args.auth.split(","), responders,
                                               args.setups, args.window, args.setup_rounds,
                                               args.timeout)
                results["setups_wall_s"] = time.monotonic() - t1
            if not args.skip_throughput:
                t1 = time.monotonic()
                results["throughput"] = throughput(t, rundir, args.seconds,
                                                   args.suites.split(","), pairs,
                                                   args.xfer_rounds)
                results["throughput_wall_s"] = time.monotonic() - t1
        ok = True
    finally:
        restore()
        if not ok:
            print(f"failed; configs and logs kept in {rundir}", file=sys.stderr)
    results["wall_s"] = time.monotonic() - t0
    results["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    results["strongswan"] = subprocess.run([swan.CHARON, "--version"], capture_output=True,
                                           text=True).stdout.strip() or None
    lines = report(results, args)
    print("\n".join(lines))
    print(f"\nwall {results['wall_s']:.0f} s; load average at start "
          f"{' '.join(results['loadavg_start'])}, at end {' '.join(results['loadavg_end'])}")
    for k, v in results["ratios"].items():
        print(f"RESULT {k} {v:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if ok and not args.rundir:
        shutil.rmtree(rundir, ignore_errors=True)
    else:
        print(f"\nlogs: {rundir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
