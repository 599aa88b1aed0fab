"""Self-test of the strongSwan interop harness (swan.py, xfer.py, ikecap.py): strongSwan on
both ends, charon as the VPN gateway (node vpngw, 198.19.0.2) and as the mobile node's
IKEv2/MOBIKE initiator (node mn), on the namespace topology. Our own vpngw and mnd take
one side each later, with the same checks.

(a) mn on ext-b (public address), PSK, aes128gcm16-prfsha256-x25519: tunnel up, a virtual
    IP from the pool, ping cn (198.18.1.3) through the tunnel, 50 MB cn -> mn with matching
    SHA-256; tshark decodes the IKE exchanges captured on mn's side.
(b) mn on ext-a (behind NAT) with certificates, ECDSA P-256 (chacha20poly1305) and
    RSA-2048 (aes256gcm16): the same checks, plus NAT detected by the mn, and the gateway
    sees the NAT's address.
(c) a CHILD_SA rekey and an IKE_SA rekey (RFC 7296 1.3.2/1.3.3) while a transfer runs
    (aes128-sha256-modp2048, PFS on the child rekey): new SPIs on both sides, the child
    SA carried over to the new IKE_SA, the transfer intact.
(d) MOBIKE (RFC 4555): mn moves ext-b -> ext-a during a TCP stream through the tunnel;
    the same IKE_SA SPIs before and after on both sides, UPDATE_SA_ADDRESSES seen on the
    wire, the gateway's peer address now the NAT's, the stream intact.
"""

from __future__ import annotations

import ipaddress
import json
import time

import pytest

import swan
from swan import result

CN = "198.18.1.3"
BIG = 50_000_000

# list-sas algorithm names per suite (IKE encr/keysize, ESP encr/keysize)
ALGS = {
    "aes128gcm16": ("AES_GCM_16", "128", "CURVE_25519"),
    "aes256gcm16": ("AES_GCM_16", "256", "CURVE_25519"),
    "chacha20poly1305": ("CHACHA20_POLY1305", None, "CURVE_25519"),   # no keysize listed
    "aes128-sha256-modp2048": ("AES_CBC", "128", "MODP_2048"),
}


def _children(sa: dict, state: str = "INSTALLED") -> list[dict]:
    return [c for c in sa["child_sas"] if c.get("state") == state]


def _vip_on_ipsec0(topo) -> list[str]:
    out = topo.run("mn", ["ip", "-j", "addr", "show", "dev", "ipsec0"]).stdout
    return [a["local"] for d in json.loads(out) for a in d.get("addr_info", [])
            if a.get("family") == "inet"]


def tunnel_up(env, auth: str, suite: str, pki=None) -> tuple[swan.Charon, swan.Charon, str]:
    """Start the gateway and the client charon, initiate, and check both sides' view of the
    IKE_SA and CHILD_SA. Returns (gw, mn, virtual IP)."""
    gw = env.charon("vpngw", "gw", swan.responder_conf(auth=auth, suite=suite), pki=pki)
    mn = env.charon("mn", "mn", swan.initiator_conf(auth=auth, suite=suite), pki=pki)
    t0 = time.monotonic()
    mn.initiate("vpn")
    setup_ms = (time.monotonic() - t0) * 1000
    sa, gsa = mn.ike_sa("vpn"), gw.ike_sa("rw")
    # the same IKE_SA on both ends (RFC 7296 3.1: SPIs name it)
    assert (sa["initiator-spi"], sa["responder-spi"]) == \
        (gsa["initiator-spi"], gsa["responder-spi"]), (sa, gsa)
    assert sa["initiator"] == "yes" and "initiator" not in gsa
    assert sa["local-id"] == swan.MN_ID and sa["remote-id"] == swan.GW_FQDN
    assert gsa["remote-id"] == swan.MN_ID
    encr, keysize, dh = ALGS[suite]
    for s in (sa, gsa):
        assert (s["encr-alg"], s.get("encr-keysize"), s["dh-group"]) == (encr, keysize, dh), s
    # virtual IP from the pool (RFC 7296 3.15 configuration payload), installed on ipsec0
    vip = swan.virtual_ip(sa)
    assert ipaddress.ip_address(vip) in ipaddress.ip_network(swan.POOL), vip
    assert gsa.get("remote-vips") == [vip], gsa
    assert _vip_on_ipsec0(env.topo) == [vip]
    # one CHILD_SA each, narrowed to the VIP, UDP-encapsulated (libipsec always is)
    (c,), (gc,) = _children(sa), _children(gsa)
    assert (c["spi-in"], c["spi-out"]) == (gc["spi-out"], gc["spi-in"]), (c, gc)
    assert c["local-ts"] == [f"{vip}/32"] and c["remote-ts"] == [swan.INTRANET], c
    assert gc["local-ts"] == [swan.INTRANET] and gc["remote-ts"] == [f"{vip}/32"], gc
    assert c["encap"] == "yes" and c["encr-alg"] == encr and c.get("encr-keysize") == keysize
    result(f"{auth}/{suite}: IKE_SA + CHILD_SA up in {setup_ms:.0f} ms, virtual IP {vip}")
    return gw, mn, vip


def data_through_tunnel(env, mn: swan.Charon, vip: str, label: str) -> None:
    """ping cn and 50 MB cn -> mn through the tunnel; the CHILD_SA counters must show it."""
    before = _children(mn.ike_sa("vpn"))[0]
    assert env.topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping cn through the tunnel"
    after = _children(mn.ike_sa("vpn"))[0]
    assert int(after["packets-out"]) >= int(before["packets-out"]) + 3, (before, after)
    assert int(after["packets-in"]) >= int(before["packets-in"]) + 3, (before, after)
    x = env.transfer(vip, nbytes=BIG, name=f"big-{label}").start()
    r = x.check(timeout=90, min_bytes=BIG)
    c = _children(mn.ike_sa("vpn"))[0]
    assert int(c["bytes-in"]) >= BIG, c          # the payload really went through the SA
    result(f"{label}: {BIG / 1e6:.0f} MB cn -> mn through the tunnel, sha256 {r['sha256'][:16]}"
           f"... matches, {r['mbit_s']:.0f} Mbit/s, longest gap {r['max_gap_ms']:.0f} ms")


def check_ike_capture(cap, mn_addr: str) -> dict[str, int]:
    """tshark's isakmp dissector must decode IKE_SA_INIT and IKE_AUTH, request (I flag)
    from mn and response (R flag) from the gateway, with nothing malformed."""
    cap.stop()
    ex = cap.exchanges()
    seen = {}
    for _, src, dst, name, i_flag, r_flag in ex:
        seen[name] = seen.get(name, 0) + 1
    for name in ("IKE_SA_INIT", "IKE_AUTH"):
        req = [e for e in ex if e[3] == name and e[4] and not e[5]
               and e[1] == mn_addr and e[2] == swan.GW_PUBLIC]
        rsp = [e for e in ex if e[3] == name and not e[4] and e[5]
               and e[1] == swan.GW_PUBLIC and e[2] == mn_addr]
        assert req and rsp, f"{name} request/response not decoded by tshark: {ex}"
    bad = cap.malformed()
    assert bad == "", f"tshark flags IKE frames:\n{bad[:4000]}"
    return seen


# ------------------------------------------------------------------------------ tests

def test_a_public_psk(env, topo):
    topo.attach("wlan0", "ext-b")
    mn_addr = topo.addr("wlan0")
    # negative control: without the tunnel the intranet is unreachable from outside
    assert not topo.ping("mn", CN, count=1, timeout=1)
    cap = env.capture("mn", "wlan0", "mn-wlan0")
    gw, mn, vip = tunnel_up(env, "psk", "aes128gcm16")
    sa, gsa = mn.ike_sa("vpn"), gw.ike_sa("rw")
    assert sa["local-host"] == mn_addr and gsa["remote-host"] == mn_addr
    assert "nat-local" not in sa, sa             # no NAT in front of mn on ext-b
    data_through_tunnel(env, mn, vip, "public/psk")
    seen = check_ike_capture(cap, mn_addr)
    result(f"tshark -Y isakmp on mn wlan0: {seen}, no malformed frames")


@pytest.mark.parametrize("keytype,suite", [("ecdsa", "chacha20poly1305"),
                                           ("rsa", "aes256gcm16")])
def test_b_nat_certificates(env, topo, keytype, suite):
    pki = swan.make_pki(env.rundir / "pki", keytype)
    topo.attach("wlan0", "ext-a")
    assert topo.nat("ext-a")
    mn_addr = topo.addr("wlan0")
    assert not topo.ping("mn", CN, count=1, timeout=1)
    cap = env.capture("mn", "wlan0", "mn-wlan0")
    gw, mn, vip = tunnel_up(env, "cert", suite, pki=pki)
    sa, gsa = mn.ike_sa("vpn"), gw.ike_sa("rw")
    # RFC 7296 2.23: mn finds itself behind NAT; the gateway sees the NAT's address
    assert sa["local-host"] == mn_addr and sa.get("nat-local") == "yes", sa
    assert gsa["remote-host"] == topo.addr("rext-a-up"), gsa
    assert sa["remote-port"] == "4500" and gsa["local-port"] == "4500"
    # certificate authentication with the generated keys, both directions
    sig = "ECDSA" if keytype == "ecdsa" else "RSA"
    mn.wait_log(rf"authentication of '{swan.GW_FQDN}' with {sig}\S* successful", timeout=2)
    gw.wait_log(rf"authentication of '{swan.MN_ID}' with {sig}\S* successful", timeout=2)
    data_through_tunnel(env, mn, vip, f"nat/{keytype}/{suite}")
    check_ike_capture(cap, mn_addr)


def test_c_rekey_during_transfer(env, topo):
    topo.attach("wlan0", "ext-b")
    gw, mn, vip = tunnel_up(env, "psk", "aes128-sha256-modp2048")
    x = env.transfer(vip, rate=8_000_000, chunk=16384, name="rekey").start()

    def flowing(extra: int = 1_000_000, timeout: float = 10.0) -> None:
        goal = x.received() + extra
        deadline = time.monotonic() + timeout
        while x.received() < goal:
            assert time.monotonic() < deadline, f"transfer stalled at {x.received()} bytes"
            time.sleep(0.05)

    flowing()
    # CHILD_SA rekey (RFC 7296 1.3.3), initiated by mn, with a new MODP-2048 exchange
    (old,) = _children(mn.ike_sa("vpn"))
    mn.rekey_child("vpn")

    def rekeyed(s: dict) -> bool:
        inst = _children(s)
        return len(inst) == 1 and inst[0]["spi-in"] not in (old["spi-in"], old["spi-out"])
    sa = mn.wait_sa("vpn", rekeyed, timeout=10, what="CHILD_SA rekeyed")
    (new,) = _children(sa)
    assert new.get("dh-group") == "MODP_2048", new          # PFS on the rekey
    gsa = gw.wait_sa("rw", lambda s: len(_children(s)) == 1
                     and _children(s)[0]["spi-out"] == new["spi-in"], timeout=10,
                     what="gateway on the new CHILD_SA")
    flowing()
    assert int(_children(mn.ike_sa("vpn"))[0]["bytes-in"]) > 0, "no data on the new CHILD_SA"
    # IKE_SA rekey (RFC 7296 1.3.2): new SPIs, the CHILD_SA moves to the new IKE_SA
    ike_old = (sa["initiator-spi"], sa["responder-spi"])
    mn.rekey_ike("vpn")
    sa = mn.wait_sa("vpn", lambda s: (s["initiator-spi"], s["responder-spi"]) != ike_old
                    and len(_children(s)) == 1, timeout=10, what="IKE_SA rekeyed")
    gsa = gw.wait_sa("rw", lambda s: s["initiator-spi"] == sa["initiator-spi"]
                     and s["responder-spi"] == sa["responder-spi"], timeout=10,
                     what="gateway on the new IKE_SA")
    assert _children(sa)[0]["spi-in"] == new["spi-in"], "CHILD_SA not carried over"
    assert _children(gsa)[0]["spi-out"] == new["spi-in"]
    assert len([s for s in mn.list_sas() if s["state"] == "ESTABLISHED"]) == 1
    flowing()
    x.stop()
    r = x.check(timeout=30, min_bytes=3_000_000)
    result(f"rekey: child + IKE rekeyed during a {r['bytes'] / 1e6:.1f} MB transfer, intact, "
           f"longest gap {r['max_gap_ms']:.0f} ms")


def test_d_mobike_move(env, topo):
    topo.attach("wlan0", "ext-b")
    first = topo.addr("wlan0")
    cap = env.capture("mn", "wlan0", "mn-wlan0")
    gw, mn, vip = tunnel_up(env, "psk", "aes128gcm16")
    before, gbefore = mn.ike_sa("vpn"), gw.ike_sa("rw")
    assert gbefore["remote-host"] == first
    x = env.transfer(vip, rate=2_000_000, chunk=16384, name="mobike").start()
    time.sleep(1.0)
    got = x.received()
    assert got > 500_000, f"stream not flowing before the move ({got} bytes)"
    t_move = time.monotonic()
    topo.attach("wlan0", "ext-a")          # re-plug: carrier loss, new network, DHCP, NAT
    second = topo.addr("wlan0")
    assert second != first
    sa = mn.wait_sa("vpn", lambda s: s["local-host"] == second and len(_children(s)) == 1,
                    timeout=20, what="IKE_SA moved to the new address")
    moved_ms = (time.monotonic() - t_move) * 1000
    gsa = gw.wait_sa("rw", lambda s: s["remote-host"] == topo.addr("rext-a-up"), timeout=10,
                     what="gateway sees the new (NATed) address")
    # the same IKE_SA: RFC 4555 moves it, no new IKE_SA_INIT
    for s in (sa, gsa):
        assert (s["initiator-spi"], s["responder-spi"]) == \
            (before["initiator-spi"], before["responder-spi"]), (before, s)
    assert sa["uniqueid"] == before["uniqueid"] and gsa["uniqueid"] == gbefore["uniqueid"]
    assert sa.get("nat-local") == "yes"
    after = x.received()
    deadline = time.monotonic() + 10
    while x.received() < after + 1_000_000:
        assert time.monotonic() < deadline, "stream did not resume after the move"
        time.sleep(0.05)
    x.stop()
    r = x.check(timeout=30)
    cap.stop()
    # on the wire: the only IKE_SA_INIT is the first one, and an INFORMATIONAL request of
    # the same IKE_SA comes from the new address (the UPDATE_SA_ADDRESSES notify itself is
    # inside the encrypted SK payload, RFC 4555 3.5)
    ispi = f"ispi == {before['initiator-spi']}"
    n_init = cap.count("isakmp.exchangetype == 34")
    assert n_init == 2, f"{n_init} IKE_SA_INIT messages: a new IKE_SA instead of a move?"
    n_upd = cap.count(f"isakmp.exchangetype == 37 && isakmp.flag_i == 1 && isakmp.flag_r == 0"
                      f" && ip.src == {second} && isakmp.{ispi}")
    assert n_upd >= 1, f"no INFORMATIONAL request from {second} for IKE_SA {before}"
    mn.wait_log(r"requesting address change using MOBIKE", timeout=1)
    assert cap.malformed() == ""
    result(f"mobike ext-b -> ext-a: same IKE_SA, moved {moved_ms:.0f} ms after the re-plug "
           f"(incl. DHCP), stream of {r['bytes'] / 1e6:.1f} MB intact, longest gap "
           f"{r['max_gap_ms']:.0f} ms")
