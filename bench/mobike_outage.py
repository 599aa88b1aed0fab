#!/usr/bin/python3
"""Issue 5's benchmark: outage of a TCP stream and of a 10 ms ping (cn -> mn through the
tunnel) per MOBIKE move (RFC 4555), with +20 ms RTT between mn's access network and the
gateway; ours against strongSwan in the same harness, in one run.

    sudo /usr/bin/python3 bench/mobike_outage.py [--build DIR] [--moves 6] [--delay-ms 10]
         [--pairs ours,swan] [--route public|nat] [--json FILE] [--rundir DIR]

Pairs: ours = our mnd (mn) <-> our vpngw; swan = charon initiator (mn, roam_events on, its
default) <-> charon responder (vpngw, MOBIKE on); and the mixed ones, each side against
the other's: mnd-charon (our initiator, strongSwan's responder) and charon-vpngw
(strongSwan's initiator, our responder). The configurations are those of
tests/interop/test_mobike.py (RoamingMnd, Vpngw, swan.initiator_conf/responder_conf).
--route nat sends every third move behind ext-a's NAT (public -> public, public -> NAT,
NAT -> public, twice in 6 moves; the gateway must then see the NAT's address) and prints
the medians per kind of move (BY_KIND lines).

Delay: Topology.emulate() on inet's end of the link to vpngw (inet/vpngw0), --delay-ms per
direction, so every packet between ext-a/ext-b and the gateway (IKE and ESP alike) gets
+2 x delay RTT; checked with a ping rext-b -> vpngw before the moves.

Each move is break-before-make, the same for both pairs (strongSwan moves only when its path
goes away): mn's current interface is unplugged (Topology.detach: carrier loss, addresses
flushed; "link change" = when detach returns), the other interface is plugged into ext-b
(public addresses) and gets a DHCP lease ("address usable" = when Topology.attach returns:
udhcpc's script has configured the address and the default route by then, attach checks
the address on the interface). wlan0 and wwan0 alternate. Per move a fresh TCP stream
(tests/interop/xfer.py, 2 MB/s, SHA-256 checked) spans just that move, so its longest
arrival gap is that move's outage; the 10 ms probe (bench/udpprobe.py: numbered UDP
datagrams cn -> mn's inner address on an absolute 10 ms schedule, arrival times logged in mn,
echoed back; not `ping -i 0.01`, which sends every ~16 ms here) runs all along: its outage
is the longest gap between consecutive arrivals at mn that ends after the link change (from
link change), and the first arrival at mn after the address was usable minus that moment
(from address: the receiver's view; the ideal is 1 RTT — the update to the gateway, the
first datagram back — plus the up to 10 ms until the next datagram passes the gateway);
"echo from address" is the same for the first echo back at cn (+0.5 RTT). The stream's outage
"from address usable" is from that moment to the end of its longest gap (the receiver
records when data flowed again; both CLOCK_MONOTONIC), "from link change" its longest gap.
After every move the IKE SPIs must be the ones of the start on both ends, else that round
is marked invalid. ours also gives mnd's own MOBIKE exchange time (status last_move.took_ms).

Needs root; builds and removes its own topology. Prints a Markdown table and RESULT lines.
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
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))
sys.path.insert(0, str(HERE.parent / "tests" / "topology"))

import swan  # noqa: E402
import udpprobe  # noqa: E402
import topo as topolib  # noqa: E402
import xfer  # noqa: E402
from test_mobike import NAT_ADDR, RoamingMnd  # noqa: E402
from test_mnd_swan import _spi  # noqa: E402
from test_vpngw_swan import Vpngw  # noqa: E402

RATE = 2_000_000
PING_INTERVAL = 0.01
IFACES = ("wlan0", "wwan0")


class _Env:
    def __init__(self, rundir: Path) -> None:
        self.rundir = rundir
        rundir.mkdir(parents=True, exist_ok=True)


def _host(ep: str) -> str:
    return ep.rsplit(":", 1)[0]


def _vpngw_moved(gw, spis, seen_as) -> bool:
    g = [x for x in gw.sas() if _spi(x["spi_i"]) == spis[0]]
    return len(g) == 1 and _host(g[0]["remote"]) == seen_as


def _charon_gw_moved(gw, seen_as) -> bool:
    try:
        g = [x for x in gw.list_sas() if x.get("state") == "ESTABLISHED"]
    except (AssertionError, OSError):
        return False
    return len(g) == 1 and g[0].get("remote-host") == seen_as


def _charon_gw_spis(gw):
    g = [x for x in gw.list_sas() if x.get("state") == "ESTABLISHED"]
    return [(_spi(x["initiator-spi"]), _spi(x["responder-spi"])) for x in g]


class Ours:
    name = "ours: mnd <-> vpngw"

    gateway: dict = {}                   # more [gateway] keys for vpngw (--gateway)

    def __init__(self, t, env):
        self.gw = self.make_gateway(t, env)
        self.m = RoamingMnd(env, t)
        st = self.m.wait(lambda s: s.get("state") == "up" and s.get("children"), 20, "tunnel")
        if st.get("mobike") is not True:
            raise RuntimeError(f"MOBIKE not negotiated: {st}")
        self.inner = st["tia"]
        self.spis = (_spi(st["ike_spi_i"]), _spi(st["ike_spi_r"]))

    def make_gateway(self, t, env):
        return Vpngw(env, t, gateway=Ours.gateway)

    def moved(self, addr):
        """mn's side only (a file read): polled while the move happens."""
        s = self.m.state()
        if s.get("local_address") != addr or s.get("state") != "up" or s.get("probing"):
            return None
        return s

    def gateway_moved(self, seen_as) -> bool:
        """The gateway's side (runs gwctl): asked after the outage, not during it. seen_as:
        mn's address as the gateway sees it (the NAT's behind ext-a)."""
        return _vpngw_moved(self.gw, self.spis, seen_as)

    def spis_now(self):
        s = self.m.state()
        g = self.gw.sas()
        return ((_spi(s["ike_spi_i"]), _spi(s["ike_spi_r"])),
                [(_spi(x["spi_i"]), _spi(x["spi_r"])) for x in g])

    def took_ms(self, s):
        return float((s.get("last_move") or {}).get("took_ms", "nan"))

    def update_sent_at(self, since: float) -> float | None:
        """When mnd sent the move: its status file's last move (CLOCK_MONOTONIC ms of the
        answer, minus the exchange's duration), i.e. the moment it acted on the new address,
        without the harness's own delay in noticing the address."""
        lm = (self.m.state() or {}).get("last_move") or {}
        try:
            t = (float(lm["at_monotonic_ms"]) - float(lm["took_ms"])) / 1000.0
        except (KeyError, TypeError, ValueError):
            return None
        return t if t >= since else None

    def stop(self):
        self.m.stop()
        self.gw.stop()


class Swan:
    name = "strongSwan: charon <-> charon"

    def __init__(self, t, env):
        self.gw = self.make_gateway(t, env)
        self.mn = swan.Charon(t, "mn", env.rundir, "mn",
                              swan.initiator_conf(auth="psk", suite="aes128gcm16")).start()
        self.mn.initiate("vpn")
        sa = self.mn.ike_sa("vpn")
        self.inner = swan.virtual_ip(sa)
        self.spis = (_spi(sa["initiator-spi"]), _spi(sa["responder-spi"]))

    def make_gateway(self, t, env):  # noqa: ARG002 - the same signature as Ours'
        return swan.Charon(t, "vpngw", env.rundir, "gw",
                           swan.responder_conf(auth="psk", suite="aes128gcm16")).start()

    def moved(self, addr):
        try:
            s = self.mn.ike_sa("vpn")
        except (AssertionError, OSError):
            return None
        return s if s.get("local-host") == addr else None

    def gateway_moved(self, seen_as) -> bool:
        return _charon_gw_moved(self.gw, seen_as)

    def spis_now(self):
        s = self.mn.ike_sa("vpn")
        g = [x for x in self.gw.list_sas() if x.get("state") == "ESTABLISHED"]
        return ((_spi(s["initiator-spi"]), _spi(s["responder-spi"])),
                [(_spi(x["initiator-spi"]), _spi(x["responder-spi"])) for x in g])

    def took_ms(self, s):  # noqa: ARG002
        return None

    def update_sent_at(self, since: float) -> float | None:  # noqa: ARG002
        return None

    def stop(self):
        self.mn.stop()
        self.gw.stop()


class MndCharon(Ours):
    """Our initiator against strongSwan's responder: mnd (as in Ours) <-> charon (as in
    Swan). Without our Vendor ID mnd sends no MM_ESP_RECEIVED, and charon has no replay."""
    name = "mixed: mnd <-> charon"

    def make_gateway(self, t, env):
        return Swan.make_gateway(self, t, env)

    def gateway_moved(self, seen_as) -> bool:
        return _charon_gw_moved(self.gw, seen_as)

    def spis_now(self):
        s = self.m.state()
        return ((_spi(s["ike_spi_i"]), _spi(s["ike_spi_r"])), _charon_gw_spis(self.gw))


class CharonVpngw(Swan):
    """strongSwan's initiator against our responder: charon (as in Swan) <-> vpngw (as in
    Ours; no Vendor ID of ours from charon, so the replay starts from the round trip)."""
    name = "mixed: charon <-> vpngw"

    def make_gateway(self, t, env):
        return Ours.make_gateway(self, t, env)

    def gateway_moved(self, seen_as) -> bool:
        return _vpngw_moved(self.gw, self.spis, seen_as)

    def spis_now(self):
        s = self.mn.ike_sa("vpn")
        g = self.gw.sas()
        return ((_spi(s["initiator-spi"]), _spi(s["responder-spi"])),
                [(_spi(x["spi_i"]), _spi(x["spi_r"])) for x in g])


def _probe_times(path: Path) -> list[float]:
    """Monotonic arrival times logged by bench/udpprobe.py."""
    return udpprobe.read_log(path)


def _next_net(route: str, k: int) -> str:
    """Where move k goes: always ext-b (public), or with --route nat every third move
    behind ext-a's NAT: public -> public, public -> NAT, NAT -> public, and again."""
    return "ext-a" if route == "nat" and k % 3 == 1 else "ext-b"


def run_pair(cls, t, rundir: Path, moves: int, rtt: float, route: str = "public") -> dict:
    env = _Env(rundir)
    for i in IFACES:
        t.detach(i)
    cur, cur_net = "wlan0", "ext-b"
    t.attach(cur, cur_net)
    p = cls(t, env)
    res = {"pair": p.name, "moves": []}
    # The 10 ms probe (bench/udpprobe.py): cn sends to mn's inner address, mn logs each
    # arrival and echoes it; cn logs the echoes.
    rlog, elog = rundir / "probe-mn.log", rundir / "probe-cn.log"
    probe = str(HERE / "udpprobe.py")
    prx = t.spawn("mn", ["/usr/bin/python3", probe, "recv", "--port", "5005", "--log",
                         str(rlog)])
    time.sleep(0.3)
    ping = t.spawn("cn", ["/usr/bin/python3", probe, "send", "--dst", p.inner, "--port",
                          "5005", "--interval", f"{PING_INTERVAL:g}", "--log", str(elog)])
    try:
        time.sleep(1)
        for k in range(moves):
            new = IFACES[(k + 1) % 2]
            net = _next_net(route, k)
            kind = f"{'NAT' if cur_net == 'ext-a' else 'public'} -> " \
                   f"{'NAT' if net == 'ext-a' else 'public'}"
            x = xfer.Transfer(t, rundir, p.inner, rate=RATE, name=f"move{k}").start()
            time.sleep(1.0)
            t0 = time.monotonic()
            t.detach(cur)
            t_link = time.monotonic()
            addr = t.attach(new, net)
            seen_as = NAT_ADDR if net == "ext-a" else addr
            t_addr = time.monotonic()
            deadline = t_addr + 30
            s = None
            while s is None and time.monotonic() < deadline:
                s = p.moved(addr)
                if s is None:
                    time.sleep(0.02)
            t_seen = time.monotonic()
            r0 = x.received()
            while x.received() < r0 + RATE // 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            # The gateway's view is asked only now: its gwctl (a process in the gateway's
            # namespace) competed for the two cores with the move it watched.
            gw_ok = s is not None and p.gateway_moved(seen_as)
            while s is not None and not gw_ok and time.monotonic() < deadline:
                time.sleep(0.05)
                gw_ok = p.gateway_moved(seen_as)
            x.stop()
            try:
                xr = x.check(timeout=30, min_bytes=RATE)
                err = None
            except AssertionError as e:
                xr, err = {"max_gap_ms": float("nan")}, str(e)[:200]
            own, gws = p.spis_now()
            valid = (s is not None and gw_ok and own == p.spis and gws == [p.spis]
                     and err is None)
            arrivals = _probe_times(rlog)
            echoes = _probe_times(elog)
            # the longest gap between consecutive arrivals at mn that ends after the link
            # change and starts before the move was seen (at mn)
            gaps = [(b - a) for a, b in zip(arrivals, arrivals[1:]) if b > t0 and a < t_seen]
            pgap = max(gaps) * 1000 if gaps else float("nan")
            first_after_addr = [r for r in arrivals if r >= t_addr]
            echo_after_addr = [r for r in echoes if r >= t_addr]
            t_upd = p.update_sent_at(t0)
            after_upd = [r for r in arrivals if t_upd is not None and r >= t_upd]
            link_to_addr = (t_addr - t_link) * 1000
            m = {"move": f"{cur} -> {new} ({addr})", "kind": kind, "valid": valid,
                 "link_to_addr_ms": round(link_to_addr, 1),
                 "seen_after_addr_ms": round((t_seen - t_addr) * 1000, 1) if s else None,
                 "tcp_outage_link_ms": round(xr["max_gap_ms"], 1),
                 # the stream's longest gap ends when data flows again: from there back to
                 # the moment the address was usable (both CLOCK_MONOTONIC)
                 "tcp_outage_addr_ms": round((xr["max_gap_end_t"] - t_addr) * 1000, 1)
                 if xr.get("max_gap_end_t") else float("nan"),
                 # the same from the moment mnd acted on the new address (its UPDATE): the
                 # protocol's part, without the harness's delay in seeing the address
                 "tcp_from_update_ms": round((xr["max_gap_end_t"] - t_upd) * 1000, 1)
                 if xr.get("max_gap_end_t") and t_upd is not None else None,
                 "ping_outage_link_ms": round(pgap, 1),
                 "ping_outage_addr_ms": round((first_after_addr[0] - t_addr) * 1000, 1)
                 if first_after_addr else None,
                 "echo_outage_addr_ms": round((echo_after_addr[0] - t_addr) * 1000, 1)
                 if echo_after_addr else None,
                 "probe_from_update_ms": round((after_upd[0] - t_upd) * 1000, 1)
                 if after_upd else None,
                 "mobike_exchange_ms": p.took_ms(s) if s else None,
                 "spis": {"start": p.spis, "client": own, "gateway": gws}}
            if err:
                m["stream_error"] = err
            if not valid:
                m["invalid"] = "SPIs changed or move not seen or stream broken"
            res["moves"].append(m)
            print(f"{p.name} move {k + 1} {m['move']}: link->addr {m['link_to_addr_ms']} ms, "
                  f"TCP outage {m['tcp_outage_link_ms']} ms from link / "
                  f"{m['tcp_outage_addr_ms']} ms from address / {m['tcp_from_update_ms']} ms "
                  f"from mnd's update, ping "
                  f"{m['ping_outage_link_ms']} / {m['ping_outage_addr_ms']} ms (from mnd's "
                  f"update {m['probe_from_update_ms']} ms), MOBIKE "
                  f"exchange {m['mobike_exchange_ms']} ms, "
                  f"{'same SPIs' if valid else 'INVALID: ' + m['invalid']}", flush=True)
            cur, cur_net = new, net
            time.sleep(0.5)
    finally:
        for q in (ping, prx):
            q.terminate()
            q.wait(timeout=5)
        p.stop()
    ok = [m for m in res["moves"] if m["valid"]]
    res["valid_moves"] = len(ok)
    summ = {}
    for key in ("tcp_outage_addr_ms", "tcp_from_update_ms", "tcp_outage_link_ms",
                "ping_outage_addr_ms", "ping_outage_link_ms", "echo_outage_addr_ms", "probe_from_update_ms",
                "link_to_addr_ms",
                "mobike_exchange_ms"):
        v = [m[key] for m in ok if m.get(key) is not None and m[key] == m[key]]
        if v:
            summ[key] = {"median": round(statistics.median(v), 1), "min": min(v),
                         "max": max(v), "median_rtts": round(statistics.median(v) / rtt, 2)}
    res["summary"] = summ
    # per kind of move (--route nat), the medians that matter
    by_kind: dict = {}
    for kd in sorted({m["kind"] for m in ok}):
        mk = [m for m in ok if m["kind"] == kd]
        by_kind[kd] = {"moves": len(mk)}
        for key in ("tcp_from_update_ms", "tcp_outage_addr_ms", "ping_outage_addr_ms",
                    "probe_from_update_ms", "mobike_exchange_ms"):
            v = [m[key] for m in mk if m.get(key) is not None and m[key] == m[key]]
            if v:
                by_kind[kd][key] = round(statistics.median(v), 1)
    res["by_kind"] = by_kind
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="/tmp/b-mobikebench")
    ap.add_argument("--moves", type=int, default=6)
    ap.add_argument("--delay-ms", type=float, default=10.0)
    ap.add_argument("--pairs", default="ours,swan",
                    help="ours, swan, mnd-charon (our initiator, strongSwan's responder), "
                         "charon-vpngw (strongSwan's initiator, our responder)")
    ap.add_argument("--route", choices=("public", "nat"), default="public",
                    help="nat: every third move goes behind ext-a's NAT (public -> public, "
                         "public -> NAT, NAT -> public)")
    ap.add_argument("--gateway", action="append", default=[], metavar="KEY=VALUE",
                    help="a [gateway] key for our vpngw, e.g. handover-replay-ms=0")
    ap.add_argument("--json")
    ap.add_argument("--rundir")
    a = ap.parse_args()
    Ours.gateway = dict(kv.split("=", 1) for kv in a.gateway)
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    for var, rel in (("MM_VPNGW", "vpngw/vpngw"), ("MM_GWCTL", "vpngw/gwctl"),
                     ("MM_MND", "mnd/mnd"), ("MM_LINKEMU", "tests/linkemu/linkemu")):
        os.environ.setdefault(var, str(Path(a.build) / rel))
    rundir = Path(a.rundir or tempfile.mkdtemp(prefix="mobike-outage-", dir="/tmp"))
    os.chmod(rundir, 0o755)
    topolib.sweep()
    t = topolib.Topology(rundir=str(rundir / "topo"))
    t.build()
    out = {"delay_ms_per_direction": a.delay_ms, "pairs": []}
    rtt = 2 * a.delay_ms
    try:
        t.attach("wlan0", "ext-b")
        base = t.ping_stats("rext-b", t.addr("vpngw"), count=5, interval=0.2)
        t.emulate("inet", "vpngw0", delay_ms=a.delay_ms)
        time.sleep(0.5)
        emu = t.ping_stats("rext-b", t.addr("vpngw"), count=5, interval=0.2)
        out["rtt_ms"] = {"before": base.get("rtt_avg"), "with_emulation": emu.get("rtt_avg")}
        print(f"RTT rext-b -> vpngw (avg ms): {out['rtt_ms']}", flush=True)
        kinds = {"ours": Ours, "swan": Swan, "mnd-charon": MndCharon,
                 "charon-vpngw": CharonVpngw}
        out["route"] = a.route
        for name in a.pairs.split(","):
            r = run_pair(kinds[name], t, rundir / name, a.moves, rtt, a.route)
            out["pairs"].append(r)
            print("RESULT " + json.dumps({"pair": r["pair"], "valid_moves": r["valid_moves"],
                                          **r["summary"]}), flush=True)
            if a.route != "public":
                print("BY_KIND " + json.dumps({"pair": r["pair"], **r["by_kind"]}),
                      flush=True)
    finally:
        t.teardown()
    print()
    print("| pair | valid moves | TCP outage from address, ms (median, min-max) | RTTs | "
          "TCP from link change, ms | 10 ms probe from address, ms | RTTs | "
          "probe echo from address, ms | probe from link change, ms | "
          "link -> address, ms | MOBIKE exchange, ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in out["pairs"]:
        s = r["summary"]

        def c(k):
            if k not in s:
                return "-"
            return f"{s[k]['median']} ({s[k]['min']}-{s[k]['max']})"
        rt = s.get("tcp_outage_addr_ms", {}).get("median_rtts", "-")
        pr = s.get("ping_outage_addr_ms", {}).get("median_rtts", "-")
        print(f"| {r['pair']} | {r['valid_moves']}/{len(r['moves'])} | "
              f"{c('tcp_outage_addr_ms')} | {rt} | {c('tcp_outage_link_ms')} | "
              f"{c('ping_outage_addr_ms')} | {pr} | {c('echo_outage_addr_ms')} | "
              f"{c('ping_outage_link_ms')} | "
              f"{c('link_to_addr_ms')} | {c('mobike_exchange_ms')} |")
    print(f"target: {rtt:g} ms RTT + 5 ms = {rtt + 5:g} ms; run directory {rundir}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
