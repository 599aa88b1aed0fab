"""Issue 6, "Must show" (suite `race`): the trust race and mode machine of RFC 5266 3.4 end to
end, on the namespace topology with our ha, vpngw and mnd (tests/race/racelib.py).

- test_demo_sequence: home -> int-x (c) -> ext-a behind NAT (mc) -> ext-b (mc, MOBIKE) ->
  int-x (c) -> home while cn streams TCP to the home address: the modes exactly as expected,
  every byte delivered (SHA-256), no IKE_SA_INIT on ext-a -> ext-b (same SPIs on both ends,
  and none in the capture); a capture on both external access links for the whole run holds
  no packet from the home address or to the intranet that is not IKE or ESP (the probe
  itself — Registration Requests to the home agent's port 434 from the care-of address, RFC
  5266 3.4 — is counted apart and must be only that); in mc a 1400-byte ping both ways and
  the bulk stream work (MTU of both layers).
- test_replayed_and_forged_replies: on ext-b, an attacker on the access router replays a
  Registration Reply captured on int-x and sends a forged one (the probe's Identification,
  TNC, a wrong authenticator): mnd stays untrusted (mc), logs both drops.
- test_home_agent_down: ha stopped, mn on ext-b: mode mc, and the reason says the home agent
  does not answer through the tunnel.
- test_gateway_reachable_from_inside: mode c wins on int-x; and with the gateway unreachable
  from inside, mode c is not delayed (the handover time is reported).
- test_loss: 20 % loss on the access links: every move completes, still no leak.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
from pathlib import Path

import pytest

import racelib
from racelib import HA_ADDRESS, HOME_ADDRESS, RaceEnv

TSHARK = "/usr/bin/tshark"
INTRANET = ipaddress.ip_network(racelib.INTRANET)
RATE = 1_000_000


def result(line: str) -> None:
    print(f"RESULT {line}", flush=True)


@pytest.fixture
def race(topo, rundir):
    env = RaceEnv(topo, rundir)
    yield env
    rc = env.stop()
    bad = {k: v for k, v in rc.items() if v not in (0, None)}
    assert not bad, f"daemons exited badly: {bad}; mnd log:\n{env.mnd_log()[-3000:]}"


class LeakCapture:
    """tshark on an access network's LAN (the router's side of mn's link) for a whole run;
    afterwards every IPv4 packet is classified."""

    def __init__(self, topo, net: str, path: Path, bpf: str = "ip") -> None:
        self.topo, self.net, self.path = topo, net, path
        node = "r" + net
        self.proc = topo.spawn(node, [TSHARK, "-n", "-q", "-i", "lan", "-w", str(path), "-f",
                                      bpf], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not path.exists() or path.stat().st_size == 0:
            assert self.proc.poll() is None, f"tshark on {net} exited"
            assert time.monotonic() < deadline, f"tshark on {net} did not start"
            time.sleep(0.1)
        time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            time.sleep(0.3)
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def classify(self) -> dict:
        """{"packets", "leaks": [...], "probes", "ike_esp", "ike_sa_init"}"""
        r = subprocess.run([TSHARK, "-n", "-r", str(self.path), "-T", "fields",
                            "-E", "separator=|", "-e", "frame.number", "-e", "ip.src",
                            "-e", "ip.dst", "-e", "ip.proto", "-e", "udp.srcport",
                            "-e", "udp.dstport", "-e", "mip.type", "-e", "isakmp.exchangetype",
                            "-e", "_ws.col.Info"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        out = {"net": self.net, "packets": 0, "leaks": [], "probes": 0, "ike_esp": 0,
               "ike_sa_init": 0}
        for line in r.stdout.splitlines():
            f = line.split("|")
            if len(f) < 9 or not f[1]:
                continue
            out["packets"] += 1
            src, dst = f[1].split(",")[0], f[2].split(",")[0]
            proto = f[3].split(",")[0]
            sport = f[4].split(",")[0]
            dport = f[5].split(",")[0]
            if "34" in f[7].split(","):
                out["ike_sa_init"] += 1
            concerned = src == HOME_ADDRESS or ipaddress.ip_address(dst) in INTRANET
            if not concerned:
                if proto == "17" and {sport, dport} & {"500", "4500"}:
                    out["ike_esp"] += 1
                continue
            if proto == "17" and {sport, dport} & {"500", "4500"}:
                out["ike_esp"] += 1
                continue
            # RFC 5266 3.4: the probe, a Registration Request (type 1) from the care-of
            # address to the home agent's port 434, goes out without VPN encapsulation.
            if (proto == "17" and dst == HA_ADDRESS and dport == "434" and f[6] == "1"
                    and src != HOME_ADDRESS):
                out["probes"] += 1
                continue
            out["leaks"].append(f"frame {f[0]}: {src} -> {dst} proto {proto} "
                                f"{sport}->{dport} {f[8][:80]}")
        return out


def _ping(topo, node: str, dst: str, size: int, src: str | None = None) -> bool:
    """At least one reply out of 3 (the default PMTU discovery of ping: the first may be
    answered with "fragmentation needed" by the home agent, RFC 2003 5.1, then the kernel
    fragments to the path MTU)."""
    argv = ["ping", "-n", "-c", "3", "-W", "2", "-s", str(size)]
    if src:
        argv += ["-I", src]
    r = topo.run(node, argv + [dst], check=False, timeout=20)
    return r.returncode == 0


def test_demo_sequence(race, topo, rundir):
    caps = [LeakCapture(topo, n, rundir / f"leak-{n}.pcap") for n in racelib.EXTERNAL]
    race.start()
    race.wait_mode("home")
    x = None
    try:
        x = racelib.xfer.Transfer(topo, rundir, HOME_ADDRESS, rx_node="mn", tx_node="cn",
                                  rate=RATE, name="stream").start()
        rows = []
        spis = {}
        for net, mode in (("int-x", "c"), ("ext-a", "mc"), ("ext-b", "mc"), ("int-x", "c"),
                          ("home", "home")):
            before = x.received()
            row = race.move(net, mode)
            # the stream flows again before the next move
            race.wait(lambda s, b=before: x.received() > b + RATE // 4, 30,
                      f"the stream flowing on {net}")
            if net == "ext-a":
                # MTU of both layers (issue 6 item 2): 1400-byte IP packets both ways
                assert _ping(topo, "cn", HOME_ADDRESS, 1372), "1400-byte ping cn -> HoA in mc"
                assert _ping(topo, "mn", "198.18.1.3", 1372, src=HOME_ADDRESS), \
                    "1400-byte ping HoA -> cn in mc"
                spis["ext-a"] = (race.vpn_status().get("ike_spi_i"),
                                 race.vpn_status().get("ike_spi_r"))
            if net == "ext-b":
                spis["ext-b"] = (race.vpn_status().get("ike_spi_i"),
                                 race.vpn_status().get("ike_spi_r"))
            rows.append(row)
            result(f"race move -> {net}: mode {row['mode']} ({row['trust']}), handover "
                   f"{row['handover_ms']} ms (mnd), move {row['move_s']} s of which attach "
                   f"{row['attach_s']} s")
        x.stop()
        summary = x.check(timeout=60, min_bytes=RATE)
        result(f"race stream: {summary}")
    finally:
        for c in caps:
            c.stop()
    modes = race.modes_seen()
    result(f"race modes logged: {modes}")
    # The modes in between are offline (link down) and detecting; the verdicts in order:
    verdicts = [m for m in modes if m in ("c", "mc", "home", "blocked", "f")]
    assert verdicts == ["home", "c", "mc", "mc", "c", "home"], modes
    assert spis["ext-a"] == spis["ext-b"] and spis["ext-a"][0], \
        f"the IKE SA changed on ext-a -> ext-b: {spis}"
    gw = race.gw.sas()
    assert len(gw) == 1, gw
    leaks = [c.classify() for c in caps]
    for lk in leaks:
        result(f"race capture {lk['net']}: {lk['packets']} packets, {lk['ike_esp']} IKE/ESP, "
               f"{lk['probes']} probes (Registration Requests to the HA), "
               f"{lk['ike_sa_init']} IKE_SA_INIT, {len(lk['leaks'])} leaks")
        assert not lk["leaks"], f"{lk['net']}: unencrypted packets: {lk['leaks'][:20]}"
        assert lk["ike_esp"] > 0, lk
    by = {lk["net"]: lk for lk in leaks}
    assert by["ext-b"]["ike_sa_init"] == 0, "an IKE_SA_INIT on ext-b: the move was not MOBIKE"


def _reply_from(pcap: Path) -> bytes:
    """The first Registration Reply (type 3) from the home agent in a capture."""
    from scapy.all import UDP, rdpcap  # noqa: PLC0415
    for p in rdpcap(str(pcap)):
        if p.haslayer(UDP) and p[UDP].sport == 434:
            b = bytes(p[UDP].payload)
            if b and b[0] == 3:
                return b
    raise AssertionError(f"no Registration Reply in {pcap}")


def _never_trusted_since(race: RaceEnv, mark: int) -> list[str]:
    """mode changes logged after byte offset `mark` of mnd's log."""
    return [ln for ln in race.mnd_log()[mark:].splitlines() if "mode: " in ln]


def test_replayed_and_forged_replies(race, topo, rundir):
    race.start()
    race.wait_mode("home")
    cap = rundir / "int-x-434.pcap"
    tp = LeakCapture(topo, "int-x", cap, bpf="udp port 434")
    race.move("int-x", "c")
    time.sleep(0.5)
    tp.stop()
    old = _reply_from(cap)
    (rundir / "old-reply.bin").write_bytes(old)
    # The attacker waits on ext-b's router for the probe and answers it twice per request.
    alog = rundir / "attacker.log"
    atk = topo.spawn("rext-b", ["/usr/bin/python3", str(Path(__file__).parent / "attacker.py"),
                                "--iface", "lan", "--ha", HA_ADDRESS, "--replay",
                                str(rundir / "old-reply.bin"), "--log", str(alog),
                                "--seconds", "12"])
    deadline = time.monotonic() + 15
    while '"ready"' not in (alog.read_text() if alog.exists() else ""):
        assert time.monotonic() < deadline, "attacker did not start"
        time.sleep(0.1)
    time.sleep(1.0)
    mark = len(race.mnd_log())
    row = race.move("ext-b", "mc")
    # Keep watching for the whole probe period: never trusted, never c.
    end = time.monotonic() + 9
    while time.monotonic() < end:
        s = race.status()
        assert s.get("trust") != "trusted" and s.get("mode") != "c", \
            f"mnd trusted an attacker's reply: {s}"
        time.sleep(0.05)
    atk.wait(timeout=20)
    sent = [ln for ln in alog.read_text().splitlines() if '"sent"' in ln]
    assert any('"replay"' in ln for ln in sent) and any('"forged"' in ln for ln in sent), \
        f"the attack did not happen: {alog.read_text()}"
    log = race.mnd_log()[mark:]
    replays = log.count("does not match the last request")
    forged = log.count("security exception")
    result(f"race attack on ext-b: {len(sent)} replies sent by the attacker; mnd dropped "
           f"{replays} replayed (stale Identification) and {forged} forged (authenticator) "
           f"replies; mode {row['mode']} ({row['trust']})")
    assert replays >= 1 and forged >= 1, log[-3000:]
    assert not any(" -> c " in ln for ln in _never_trusted_since(race, mark))


def test_home_agent_down(race, topo):
    race.start()
    race.wait_mode("home")
    race.mip.ha.stop()
    race.mip.ha = None
    race.attach("ext-b")
    s = race.wait(lambda s: s.get("mode") == "mc" and "no reply to" in s.get("mode_reason", ""),
                  30, "mode mc saying the home agent does not answer")
    result(f"race home agent down: mode {s['mode']} ({s['trust']}): {s['mode_reason']}")
    time.sleep(3)
    s = race.status()
    assert s.get("mode") == "mc", s


def test_gateway_reachable_from_inside(race, topo):
    race.start()
    race.wait_mode("home")
    topo.gateway_reachable_from_inside(True)
    race.move("ext-b", "mc")
    mark = len(race.mnd_log())
    row = race.move("int-x", "c")
    modes = [ln.split("mode: ", 1)[1] for ln in race.mnd_log()[mark:].splitlines()
             if "mode: " in ln]
    b = race.mip.binding()
    result(f"race int-x with the gateway reachable: {row['mode']} after {row['handover_ms']} "
           f"ms (modes {modes}); binding {b and b.get('care_of_address')}")
    assert b and b["care_of_address"] == row["address"], b
    # and without it: mode c is not delayed by the gateway's silence
    topo.gateway_reachable_from_inside(False)
    race.move("ext-b", "mc")
    row2 = race.move("int-x", "c")
    result(f"race int-x with the gateway unreachable: c after {row2['handover_ms']} ms")
    assert row2["handover_ms"] < 1000, row2


def test_loss(race, topo, rundir):
    caps = [LeakCapture(topo, "ext-b", rundir / "leak-ext-b.pcap")]
    # int-x must end in c: the gateway cannot answer there, only the home agent.
    topo.gateway_reachable_from_inside(False)
    race.start()
    race.wait_mode("home")
    for net in ("int-x", "ext-b"):
        topo.emulate("r" + net, "lan", loss=0.2, seed=7)
    try:
        for net, mode in (("int-x", "c"), ("ext-b", "mc"), ("int-x", "c"), ("ext-b", "mc")):
            row = race.move(net, mode, timeout=60)
            result(f"race 20% loss -> {net}: {row['mode']} after {row['handover_ms']} ms")
    finally:
        for c in caps:
            c.stop()
    lk = caps[0].classify()
    result(f"race 20% loss capture ext-b: {lk['packets']} packets, {len(lk['leaks'])} leaks")
    assert not lk["leaks"], lk["leaks"][:20]


def test_keep_vpn_no(topo, rundir):
    """keep-vpn = no (RFC 5266 3.4.1 step 2, "MAY tear down"): trusted on int-x, the IKE SA
    is deleted; the next untrusted network sets one up again (mode mc)."""
    race = RaceEnv(topo, rundir, mnd_extra={"keep_vpn": "no"})
    try:
        race.start()
        race.wait_mode("home")
        race.move("int-x", "c")
        deadline = time.monotonic() + 15
        while race.vpn_status().get("state") != "idle":
            assert time.monotonic() < deadline, f"VPN kept: {race.vpn_status()}"
            time.sleep(0.05)
        assert "keep-vpn = no: deleting the IKE SA" in race.mnd_log()
        # none established at the gateway (half-open ones the client forgot time out there)
        assert not [s for s in race.gw.sas() if s.get("established_s") is not None], \
            race.gw.sas()
        time.sleep(2.5)       # the 1 s tick must not set it up again
        assert race.vpn_status().get("state") == "idle", race.vpn_status()
        row = race.move("ext-b", "mc")
        result(f"race keep-vpn = no: SA deleted on int-x, mc on ext-b after "
               f"{row['handover_ms']} ms with a new IKE SA")
    finally:
        rc = race.stop()
    assert all(v in (0, None) for v in rc.values()), rc
