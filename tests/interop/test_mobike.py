"""MOBIKE (RFC 4555) in the daemons (issue 5): our mnd moves its IKE SA, our vpngw follows.

mn has two interfaces, wlan0 (preferred: first in `interfaces`) and wwan0; the topology
has one public access network (ext-b, "LTE": each interface gets its own public address
there) and one behind a NAT (ext-a, "coffee shop").

1. test_mnd_vpngw_roaming: a TCP stream cn -> TIA runs through the tunnel while mn goes
   public address -> another public address (wwan0 on ext-b, wlan0 unplugged) -> behind the
   NAT (wlan0 on ext-a; wwan0 stays up: a move by preference) -> public again (wlan0
   unplugged) -> behind the NAT again -> wlan0's link dies without notice (its far end goes
   down in the router's namespace; the address stays: path testing, RFC 4555 3.10, finds
   wwan0). After every move mnd's status file and gwctl name the same pair, NAT state and
   SPIs (no new IKE SA); the stream ends intact (every byte, SHA-256, no reset). On vpngw's
   public link tshark decodes and decrypts every IKE message (vpngw's key log): one
   IKE_SA_INIT exchange only, nothing malformed, no expert item (ikecap.check_decrypted);
   every UPDATE_SA_ADDRESSES (notify 16400) is inside SK.
2. test_bad_updates: on a MOBIKE SA, (a) an UPDATE_SA_ADDRESSES in the clear (no SK) from
   mn's other address, (b) a captured genuine UPDATE_SA_ADDRESSES replayed from the address
   it once came from (raw socket in mn: the exact datagram of the capture), (c) a genuine
   one from an address that cannot answer the return routability check (3.7: vpngw's
   COOKIE2 to it is dropped in mn): gwctl shows no address change after each, vpngw logs
   each.

3. test_swan_initiator_roaming: strongSwan's charon (roam_events on, its default) as the
   roaming initiator in mn against our vpngw: the same public -> public -> NAT -> public
   sequence (charon moves when the path it uses goes, so each move takes the old
   interface away), the stream survives, the IKE SPIs stay, vpngw logs each move; tshark decodes every message.
4. test_mnd_swan_responder_roaming: our mnd roaming against charon as responder (MOBIKE
   on): the same sequence; charon's list-sas and mnd's status agree on the pair and SPIs.

Each test prints a result(...) line with its measurements. mnd, vpngw and gwctl come from
$MM_MND, $MM_VPNGW and $MM_GWCTL (meson sets them).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import swan
from swan import result
from ourdaemons import (GW_PUBLIC, Mnd, Vpngw, binary as _bin, spi as _spi,
                        write_private as _private)

NAT_ADDR = "198.19.110.2"          # ext-a's NAT (topo.py)
EXT_B = "198.19.20."               # ext-b's LAN: public addresses
N_UPDATE_SA_ADDRESSES = 16400      # RFC 4555 4.2
RATE = 2_000_000                   # bytes/s of the stream during the moves


class RoamingMnd(Mnd):
    """mnd with both interfaces for Mobile IPv4 (its netlink table) and the VPN, MOBIKE on
    (the default)."""

    def __init__(self, env, topo, dpd: int = 5, suite: str = "aes128gcm16"):
        self.topo = topo
        self.dir = Path(env.rundir) / "mnd"
        self.dir.mkdir(exist_ok=True)
        self.status = self.dir / "vpn.json"
        self.log_path = self.dir / "mnd.log"
        ike, esp = swan.SUITES[suite]
        _private(self.dir / "mip.key", "00112233445566778899aabbccddeeff\n")
        _private(self.dir / "vpn.psk", swan.PSK + "\n")
        (self.dir / "mnd.conf").write_text(
            "[mobile-node]\n"
            "home-address = 10.254.0.1\nhome-agent = 10.254.0.2\nspi = 256\n"
            "key-file = mip.key\ninterfaces = wlan0, wwan0\n"
            f"status-file = {self.dir / 'mip.json'}\n"
            "\n[vpn]\n"
            f"gateway = {GW_PUBLIC}\n"
            f"local-id = {swan.MN_ID}\n"
            f"remote-id = fqdn:{swan.GW_FQDN}\n"
            "auth = psk\npsk-file = vpn.psk\n"
            f"ike = {ike}\nesp = {esp}\n"
            f"intranet = {swan.INTRANET}\n"
            "interfaces = wlan0, wwan0\n"
            "mobike = yes\n"
            f"dpd-interval = {dpd}\n"
            f"status-file = {self.status}\n"
            f"keylog-file = {self.dir / 'ikev2_decryption_table'}\n")
        self.log = open(self.log_path, "w")
        self.proc = topo.spawn("mn", [_bin("MM_MND"), "--config", self.dir / "mnd.conf",
                                      "--log-level", "debug"], stdout=self.log,
                               stderr=self.log)


@pytest.fixture
def procs():
    made: list = []
    yield made
    for p in reversed(made):
        rc = p.stop()
        assert rc == 0, f"{type(p).__name__} exited with {rc}: {p.tail()}"


def _up(env, topo, procs):
    gw = Vpngw(env, topo)
    procs.append(gw)
    m = RoamingMnd(env, topo)
    procs.append(m)
    st = m.wait(lambda s: s.get("state") == "up" and s.get("children"), 20, "the tunnel")
    assert st.get("mobike") is True, f"MOBIKE not negotiated: {st}"
    g = gw.wait_sa(lambda s: _spi(s["spi_i"]) == _spi(st["ike_spi_i"]), 10, "the SA")
    assert g["mobike"] is True, g
    return gw, m, st


def _host(ep: str) -> str:
    return ep.rsplit(":", 1)[0]


class Mover:
    """Carries out one move and measures it: mnd's status shows the new local address
    (and a higher move count), gwctl the matching remote address; same SPIs on both."""

    def __init__(self, gw: Vpngw, m: RoamingMnd, st: dict) -> None:
        self.gw, self.m = gw, m
        self.spi_i, self.spi_r = _spi(st["ike_spi_i"]), _spi(st["ike_spi_r"])
        self.rows: list[str] = []
        self.took: list[float] = []

    def move(self, what: str, action, local: str | None, remote: str, nat: bool,
             timeout: float = 30) -> dict:
        n0 = self.m.state().get("moves", 0)
        action()
        t_act = time.monotonic()
        loc = local() if callable(local) else local
        st = self.m.wait(lambda s: s.get("moves", 0) > n0 and s.get("state") == "up"
                         and (loc is None or s.get("local_address") == loc)
                         and not s.get("probing"), timeout, what)
        t_mnd = time.monotonic()
        g = self.gw.wait_sa(lambda s: _spi(s["spi_i"]) == self.spi_i and
                            _host(s["remote"]) == remote, timeout, f"vpngw after {what}")
        assert _spi(st["ike_spi_i"]) == self.spi_i and _spi(st["ike_spi_r"]) == self.spi_r, \
            f"{what}: a new IKE SA ({st['ike_spi_i']} {st['ike_spi_r']})"
        assert _spi(g["spi_r"]) == self.spi_r, g
        assert len(self.gw.sas()) == 1, f"{what}: more than one IKE SA: {self.gw.sas()}"
        assert st["nat_local"] is nat, f"{what}: mnd's NAT state {st}"
        assert g["nat_remote"] is nat, f"{what}: vpngw's NAT state {g}"
        lm = g["last_move"]
        assert lm and _host(lm["new_remote"]) == remote, g
        took = float(st["last_move"]["took_ms"])
        self.took.append(took)
        self.rows.append(f"{what}: {st['last_move']['old_local']} -> "
                         f"{st['last_move']['new_local']} (gateway sees {g['remote']}, NAT "
                         f"{st['last_move']['nat']}), engine {took:.1f} ms, seen "
                         f"{(t_mnd - t_act) * 1000:.0f} ms after the change")
        return st


def _wlan_addr(topo) -> str:
    return topo.addr("wlan0")


def _wwan_addr(topo) -> str:
    return topo.addr("wwan0")


def test_mnd_vpngw_roaming(env, topo, procs):
    topo.attach("wlan0", "ext-b")
    cap = env.capture("vpngw", "ext0", "vpngw-ext0-roam")
    gw, m, st = _up(env, topo, procs)
    assert st["local_address"].startswith(EXT_B), st
    mv = Mover(gw, m, st)
    x = env.transfer(st["tia"], rate=RATE, name="mobike-roam").start()
    time.sleep(2)

    # 1. public -> another public address: wwan0 on ext-b, then wlan0 unplugged
    b = topo.attach("wwan0", "ext-b")
    time.sleep(1.5)                   # wlan0 is still preferred: no move yet
    assert m.state().get("moves", 0) == 0, m.state()
    mv.move("public -> other public", lambda: topo.detach("wlan0"), b, b, False)
    time.sleep(2)
    # 2. -> behind the NAT, by preference (wwan0 stays up)
    mv.move("public -> NAT (wwan0 stays up)", lambda: topo.attach("wlan0", "ext-a"),
            lambda: _wlan_addr(topo), NAT_ADDR, True)
    assert topo.mn_addresses("wwan0") == [b]
    time.sleep(2)
    # 3. -> public again
    mv.move("NAT -> public", lambda: topo.detach("wlan0"), b, b, False)
    time.sleep(2)
    # 4. behind the NAT again, then wlan0's link dies without notice: path testing
    mv.move("public -> NAT", lambda: topo.attach("wlan0", "ext-a"),
            lambda: _wlan_addr(topo), NAT_ADDR, True)
    time.sleep(2)
    wlan = _wlan_addr(topo)
    mv.move("NAT link dies (path test)",
            lambda: topo.run("rext-a", ["ip", "link", "set", "mn-wlan0", "down"]), b, b, False)
    assert topo.mn_addresses("wlan0") == [wlan], "the address must stay (no notice)"
    time.sleep(2)
    x.stop()
    r = x.check(timeout=60, min_bytes=RATE)
    st = m.state()
    assert st["moves"] == 5, st
    assert "testing paths" in m.tail(200000), "mnd did not test paths"
    m.stop()                          # its DELETE ends the capture's IKE traffic
    procs.remove(m)
    cap.stop()
    counts = cap.check_decrypted(gw.keylog)
    assert counts["IKE_SA_INIT"] == 2, f"IKE_SA_INIT after the first: {counts}"
    updates = [msg for msg in cap.last_messages
               if any(n == N_UPDATE_SA_ADDRESSES for n, _ in msg.notifies)]
    assert len(updates) >= 5, f"{len(updates)} UPDATE_SA_ADDRESSES decrypted"
    for msg in updates:
        # inside SK: the only top-level payload is the Encrypted one (RFC 7296 3.14)
        assert msg.sk == 1 and msg.decrypted == 1 and msg.payloads == [46], str(msg)
    moved = gw.tail(10**7).count("MOBIKE: moved")
    assert moved == 5, f"vpngw logged {moved} moves"
    text = gw.gwctl("stats").stdout
    for row in mv.rows:
        result(f"mobike mnd->vpngw {row}")
    result(f"mobike mnd->vpngw: 5 moves, same SPIs {mv.spi_i}/{mv.spi_r}, engine "
           f"{sum(mv.took) / len(mv.took):.1f} ms per move on average (max "
           f"{max(mv.took):.1f}); stream {r['bytes']} bytes SHA-256 matched, "
           f"{r['mbit_s']:.1f} Mbit/s, longest gap {r['max_gap_ms']:.0f} ms; tshark "
           f"{counts['messages']} IKE messages, {counts['decrypted']} decrypted, "
           f"{len(updates)} UPDATE_SA_ADDRESSES")
    assert "mobike.moves" in text, text


# --- 2. bad updates ---------------------------------------------------------------------

RAWSEND = r"""
import socket, struct, sys
src, sport, dst, dport, hexdata = sys.argv[1:6]
data = bytes.fromhex(hexdata)
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s4, d4 = socket.inet_aton(src), socket.inet_aton(dst)
ulen = 8 + len(data)
pseudo = s4 + d4 + struct.pack("!BBH", 0, 17, ulen)
udp = struct.pack("!HHHH", int(sport), int(dport), ulen, 0) + data
c = csum(pseudo + udp) or 0xffff
udp = udp[:6] + struct.pack("!H", c) + udp[8:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0x4d4b, 0, 64, 17, 0, s4, d4)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
sk = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
sk.sendto(ip + udp, (dst, 0))
"""


def _rawsend(topo, src: str, sport: int, dst: str, dport: int, data: bytes) -> None:
    """One UDP datagram with any source address, from mn's namespace (raw socket)."""
    topo.run("mn", [sys.executable, "-c", RAWSEND, src, str(sport), dst, str(dport),
                    data.hex()], timeout=10)


def _frame_payload(cap, frame: int) -> bytes:
    out = subprocess.run(["tshark", "-n", "-r", cap.path, "-Y", f"frame.number == {frame}",
                          "-T", "fields", "-e", "udp.payload"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return bytes.fromhex(out.stdout.strip().replace(":", ""))


def _clear_update(spi_i: str, spi_r: str, msgid: int) -> bytes:
    """INFORMATIONAL request {N(UPDATE_SA_ADDRESSES)} without SK (RFC 7296 3.1, 3.10;
    RFC 4555 4.2), behind the non-ESP marker (RFC 3948 2.2)."""
    notify = struct.pack("!BBHBBH", 0, 0, 8, 0, 0, N_UPDATE_SA_ADDRESSES)
    hdr = bytes.fromhex(spi_i.rjust(16, "0")) + bytes.fromhex(spi_r.rjust(16, "0")) + \
        struct.pack("!BBBBII", 41, 0x20, 37, 0x08, msgid, 28 + len(notify))
    return b"\0\0\0\0" + hdr + notify


def _gw_remote(gw, spi_i: str) -> str:
    for s in gw.sas():
        if _spi(s["spi_i"]) == spi_i:
            return s["remote"]
    raise AssertionError(f"no IKE SA {spi_i}: {gw.sas()}")


def _wait_log(proc, text: str, start: int, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        tail = proc.tail(10**7)[start:]
        if text in tail:
            return next(l for l in tail.splitlines() if text in l)
        assert time.monotonic() < deadline, f"no log line with {text!r}: {tail[-3000:]}"
        time.sleep(0.1)


def test_bad_updates(env, topo, procs):
    topo.attach("wlan0", "ext-b")
    cap = env.capture("vpngw", "ext0", "vpngw-ext0-bad")
    gw, m, st = _up(env, topo, procs)
    mv = Mover(gw, m, st)
    b = topo.attach("wwan0", "ext-b")
    mv.move("public -> other public", lambda: topo.detach("wlan0"), b, b, False)
    a2 = None

    def back():
        nonlocal a2
        a2 = topo.attach("wlan0", "ext-b")
    back()
    st = m.wait(lambda s: s.get("moves", 0) >= 2 and s.get("local_address") == a2, 20,
                "the move back to wlan0")
    gw.wait_sa(lambda s: _host(s["remote"]) == a2, 20, "vpngw on wlan0's address")
    time.sleep(1)
    cap.stop()
    cap.check_decrypted(gw.keylog)
    updates = [msg for msg in cap.last_messages if not msg.response and
               any(n == N_UPDATE_SA_ADDRESSES for n, _ in msg.notifies)]
    assert len(updates) >= 2, [str(u) for u in cap.last_messages]
    first = updates[0]
    cur = _gw_remote(gw, mv.spi_i)
    log0 = len(gw.tail(10**7))

    # (a) UPDATE_SA_ADDRESSES in the clear, from wwan0's address
    _rawsend(topo, b, 4500, GW_PUBLIC, 4500,
             _clear_update(first.spi_i, first.spi_r, updates[-1].msgid + 1))
    la = _wait_log(gw, "outside SK", log0)
    time.sleep(0.5)
    assert _gw_remote(gw, mv.spi_i) == cur, "moved by an UPDATE_SA_ADDRESSES outside SK"

    # (b) the first genuine UPDATE_SA_ADDRESSES again, byte for byte, from where it came
    data = _frame_payload(cap, first.frame)
    assert data[:4] == b"\0\0\0\0" and len(data) > 32, data[:40].hex()
    _rawsend(topo, first.src, first.sport, first.dst, first.dport, data)
    lb = _wait_log(gw, "replayed UPDATE_SA_ADDRESSES", log0)
    time.sleep(0.5)
    assert _gw_remote(gw, mv.spi_i) == cur, "moved by a replayed UPDATE_SA_ADDRESSES"

    # (c) a genuine one from an address that cannot answer the COOKIE2 check: wwan0 gets a
    # new address (never verified for this SA), and IKE requests from vpngw to it (the
    # COOKIE2 check, RFC 4555 3.7) are dropped in mn: UDP 4500 behind the non-ESP marker
    # (RFC 3948 2.2: 32 zero bits at UDP payload offset 0), R flag (0x20, RFC 7296 3.1:
    # the flags octet is at UDP offset 8 + 4 + 19 = 31) clear. Its answers pass, so mnd's
    # UPDATE_SA_ADDRESSES is answered; wlan0 is unplugged so that mnd moves there.
    c_addr = "198.19.20.222"
    topo.configure_static("wwan0", f"{c_addr}/24", gateway=topo.addr("ext-b-gw"))
    topo.run("mn", ["nft", "-f", "-"], input=(
        "table ip mobike_rr {\n chain in {\n  type filter hook input priority -10;\n"
        f"  ip saddr {GW_PUBLIC} ip daddr {c_addr} udp sport 4500 @th,64,32 0 "
        "@th,248,8 & 0x20 == 0 counter drop\n }\n}\n"))
    try:
        topo.detach("wlan0")
        _wait_log(gw, f"return routability check of {c_addr}", log0, timeout=10)
        lf = _wait_log(gw, "failed (no answer", log0, timeout=30)
        assert _host(_gw_remote(gw, mv.spi_i)) != c_addr, \
            "moved to an address that failed the return routability check"
        stats = json.loads(gw.gwctl("stats", "--json").stdout)
        assert stats["mobike"]["rr_failed"] >= 1, stats
        dropped = topo.run("mn", ["nft", "list", "table", "ip", "mobike_rr"]).stdout
        assert "packets 0 " not in dropped, f"no COOKIE2 check was dropped: {dropped}"
    finally:
        topo.run("mn", ["nft", "delete", "table", "ip", "mobike_rr"], check=False)
    result(f"mobike bad updates: outside SK -> \"{la.split(': ', 1)[-1][:120]}\"; replay -> "
           f"\"{lb.split(': ', 1)[-1][:120]}\"; return routability -> "
           f"\"{lf.split(': ', 1)[-1][:120]}\"; no address change (gwctl: {cur})")


# --- 3, 4. against strongSwan ---------------------------------------------------------


def _roam(what: str, mover_fn, rows: list, took: list, seen_fn, timeout: float = 30):
    """Carry out a move and wait until seen_fn() holds (both ends on the new pair)."""
    t0 = time.monotonic()
    mover_fn()
    t1 = time.monotonic()
    deadline = t1 + timeout
    while True:
        got = seen_fn()
        if got:
            break
        assert time.monotonic() < deadline, f"{what}: not seen within {timeout} s"
        time.sleep(0.05)
    ms = (time.monotonic() - t1) * 1000
    took.append(ms)
    rows.append(f"{what}: seen on both ends {ms:.0f} ms after the change ({got}; the "
                f"change itself took {(t1 - t0) * 1000:.0f} ms)")


def test_swan_initiator_roaming(env, topo, procs):
    topo.attach("wlan0", "ext-b")
    gw = Vpngw(env, topo)
    procs.append(gw)
    cap = env.capture("vpngw", "ext0", "vpngw-ext0-swan-ini")
    mn = env.charon("mn", "mn", swan.initiator_conf(auth="psk", suite="aes128gcm16"))
    mn.initiate("vpn")
    sa = mn.ike_sa("vpn")
    vip = swan.virtual_ip(sa)
    spi_i, spi_r = _spi(sa["initiator-spi"]), _spi(sa["responder-spi"])
    g = gw.wait_sa(lambda s: _spi(s["spi_i"]) == spi_i, 10, "charon's SA")
    assert g["mobike"] is True, f"MOBIKE not negotiated with charon: {g}"
    x = env.transfer(vip, rate=RATE, name="mobike-swan-ini").start()
    time.sleep(2)
    rows: list[str] = []
    took: list[float] = []

    def both(remote: str, local: str | None):
        n0 = gw.tail(10**7).count("MOBIKE: moved")

        def seen():
            try:
                s = mn.ike_sa("vpn")
            except AssertionError:
                return None
            # a move is an UPDATE_SA_ADDRESSES that vpngw carried out (its log line)
            if gw.tail(10**7).count("MOBIKE: moved") <= n0:
                return None
            gs = [x for x in gw.sas() if _spi(x["spi_i"]) == spi_i]
            if not gs or _host(gs[0]["remote"]) != remote:
                return None
            if local is not None and s.get("local-host") != local:
                return None
            return f"charon {s.get('local-host')}:{s.get('local-port')}, vpngw sees " \
                   f"{gs[0]['remote']}"
        return seen

    b = topo.attach("wwan0", "ext-b")
    time.sleep(1)
    _roam("public -> other public", lambda: topo.detach("wlan0"), rows, took, both(b, b))
    time.sleep(2)
    # charon keeps a working path ("keeping connection path"): it moves when the path it
    # uses goes, so each move here takes the old interface away.
    def to_nat():
        topo.attach("wlan0", "ext-a")
        time.sleep(2)                 # charon's address list update (its MOBIKE task)
        topo.detach("wwan0")
    _roam("public -> NAT", to_nat, rows, took, both(NAT_ADDR, None))
    time.sleep(2)

    def to_public():
        nonlocal b
        b = topo.attach("wwan0", "ext-b")
        time.sleep(2)
        topo.detach("wlan0")
    nat_public = both(b, None)
    _roam("NAT -> public", to_public, rows, took, lambda: nat_public())
    time.sleep(2)
    x.stop()
    r = x.check(timeout=60, min_bytes=RATE)
    sa = mn.ike_sa("vpn")
    assert (_spi(sa["initiator-spi"]), _spi(sa["responder-spi"])) == (spi_i, spi_r), sa
    assert len(gw.sas()) == 1, gw.sas()
    moved = gw.tail(10**7).count("MOBIKE: moved")
    assert moved >= 3, f"vpngw logged {moved} moves"
    mn.terminate(ike="vpn")
    time.sleep(0.5)
    cap.stop()
    counts = cap.check_decrypted(gw.keylog)
    assert counts["IKE_SA_INIT"] == 2, counts
    for row in rows:
        result(f"mobike charon->vpngw {row}")
    result(f"mobike charon->vpngw: 3 moves, same IKE SPIs, {sum(took) / len(took):.0f} ms "
           f"per move seen on both ends; stream {r['bytes']} bytes SHA-256 matched, "
           f"{r['mbit_s']:.1f} Mbit/s, longest gap {r['max_gap_ms']:.0f} ms; tshark "
           f"{counts['messages']} messages, {counts['decrypted']} decrypted")


def test_mnd_swan_responder_roaming(env, topo, procs):
    topo.attach("wlan0", "ext-b")
    env.charon("vpngw", "gw", swan.responder_conf(auth="psk", suite="aes128gcm16"))
    cap = env.capture("vpngw", "ext0", "vpngw-ext0-swan-resp")
    gwc = env.charons[-1]
    m = RoamingMnd(env, topo)
    procs.append(m)
    st = m.wait(lambda s: s.get("state") == "up" and s.get("children"), 20, "the tunnel")
    assert st.get("mobike") is True, f"MOBIKE not negotiated with charon: {st}"
    spi_i, spi_r = _spi(st["ike_spi_i"]), _spi(st["ike_spi_r"])
    x = env.transfer(st["tia"], rate=RATE, name="mobike-swan-resp").start()
    time.sleep(2)
    rows: list[str] = []
    took: list[float] = []

    def both(remote: str, local):
        def seen():
            s = m.state()
            loc = local() if callable(local) else local
            if s.get("local_address") != loc or s.get("probing"):
                return None
            sas = [c for c in gwc.list_sas() if c.get("state") == "ESTABLISHED"]
            if len(sas) != 1 or sas[0].get("remote-host") != remote:
                return None
            return f"mnd {s['local_address']}, charon sees {remote}"
        return seen

    b = topo.attach("wwan0", "ext-b")
    time.sleep(1)
    _roam("public -> other public", lambda: topo.detach("wlan0"), rows, took, both(b, b))
    time.sleep(2)
    _roam("public -> NAT", lambda: topo.attach("wlan0", "ext-a"), rows, took,
          both(NAT_ADDR, lambda: _wlan_addr(topo)))
    time.sleep(2)
    _roam("NAT -> public", lambda: topo.detach("wlan0"), rows, took, both(b, b))
    time.sleep(2)
    x.stop()
    r = x.check(timeout=60, min_bytes=RATE)
    st = m.state()
    assert (_spi(st["ike_spi_i"]), _spi(st["ike_spi_r"])) == (spi_i, spi_r), st
    assert st["moves"] >= 3, st
    sas = [c for c in gwc.list_sas() if c.get("state") == "ESTABLISHED"]
    assert len(sas) == 1 and _spi(sas[0]["initiator-spi"]) == spi_i, sas
    m.stop()
    procs.remove(m)
    cap.stop()
    counts = cap.check_decrypted(m.dir / "ikev2_decryption_table")
    assert counts["IKE_SA_INIT"] == 2, counts
    for row in rows:
        result(f"mobike mnd->charon {row}")
    result(f"mobike mnd->charon: {st['moves']} moves, same IKE SPIs, "
           f"{sum(took) / len(took):.0f} ms per move seen on both ends; stream {r['bytes']} "
           f"bytes SHA-256 matched, {r['mbit_s']:.1f} Mbit/s, longest gap "
           f"{r['max_gap_ms']:.0f} ms; tshark {counts['messages']} messages, "
           f"{counts['decrypted']} decrypted")
