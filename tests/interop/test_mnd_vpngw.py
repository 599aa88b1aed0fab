"""Our mnd's VPN client against our own vpngw (issue 4: "Our mnd against our vpngw the same
way, and mnd recovers on its own after vpngw restarts"), on the namespace topology: what
test_mnd_swan.py and test_vpngw_swan.py show against strongSwan, with our code on both ends
(vpngw orders its rekeys with gwctl, as swanctl --rekey does for charon).

1. test_psk_public: wlan0 on ext-b, PSK: tunnel up, the TIA from vpngw's pool, SPIs agree
   (mnd's status file vs gwctl), ping cn, 50 MB cn -> TIA with a matching SHA-256.
2. test_recovers_after_vpngw_restart: vpngw is SIGKILLed (no DELETE) and started again;
   mnd's DPD (2 s) finds the peer dead and re-establishes on its own; ping works again.
3. test_cert_behind_nat: wlan0 on ext-a (behind NAT), ECDSA certificates both ways: both
   ends see the NAT (gwctl: nat_remote and the NAT's address; mnd: nat_local), ESP in UDP,
   SPIs agree, ping cn, 50 MB cn -> TIA with a matching SHA-256.
4. test_rekeys_during_transfer[ext-b|ext-a]: the CBC/MODP-2048 suite (PFS), no NAT and
   behind NAT: while a 50 MB transfer runs, `gwctl rekey child` (vpngw initiates
   CREATE_CHILD_SA, RFC 7296 1.3.3) and, once the new Child SA carries traffic both ways,
   `gwctl rekey ike` (1.3.2, 2.18): new SPIs on both ends, mnd's status and gwctl agree
   after each, the Child SA moves to the new IKE SA, the old SAs are gone, and the transfer,
   still running after both rekeys, completes with a matching SHA-256. On the wire (tshark
   with vpngw's key log, every IKE message decrypted, integrity correct): the two
   CREATE_CHILD_SA requests come from vpngw, both exchanges carry KE payloads (PFS).
5. test_gwctl_terminate: `gwctl terminate` makes vpngw delete the IKE SA (INFORMATIONAL
   DELETE, 1.4.1); mnd sees it go ("deleted by the peer") and sets up a new IKE SA on its
   own (new SPIs, the same TIA); ping works again.

mnd, vpngw and gwctl come from $MM_MND, $MM_VPNGW and $MM_GWCTL (meson sets them).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import time
from pathlib import Path

import pytest

import swan
from ikecap import summarize
from swan import result
from ourdaemons import Mnd, Vpngw, spi as _spi
from test_mnd_swan import CN, BIG

NAT_ADDR = "198.19.110.2"          # ext-a's NAT (topo.py)
# RFC 7296 3.2 payload types, 3.10.1 notify type
PT_SA, PT_KE, PT_NONCE, PT_TSI, PT_TSR = 33, 34, 40, 44, 45
N_REKEY_SA = 16393
REKEY_SUITE = "aes128-sha256-modp2048"
REKEY_RATE = 3_000_000             # bytes/s: 50 MB last ~17 s, long enough for both rekeys


@pytest.fixture
def procs():
    made: list = []
    yield made
    for p in reversed(made):
        rc = p.stop()
        assert rc == 0, f"{type(p).__name__} exited with {rc}: {p.tail()}"


def _pairs(g: dict, st: dict) -> tuple[list, list]:
    """The Child SAs as (our inbound, our outbound) SPIs: vpngw's, and mnd's crossed."""
    return ([(_spi(c["spi_in"]), _spi(c["spi_out"])) for c in g["child_sas"]],
            [(_spi(c["spi_out"]), _spi(c["spi_in"])) for c in st["children"]])


def _agree(gw: Vpngw, st: dict, timeout: float = 10) -> dict:
    """vpngw (gwctl) and mnd (status file) name the same IKE SA, TIA and Child SAs (SPIs
    crossed). Waits for vpngw to catch up: its side of an exchange may end a moment after
    mnd's."""
    def same(g: dict) -> bool:
        mine, theirs = _pairs(g, st)
        return _spi(g["spi_i"]) == _spi(st["ike_spi_i"]) and \
            _spi(g["spi_r"]) == _spi(st["ike_spi_r"]) and \
            g["inner_address"] == st["tia"] and mine == theirs
    deadline = time.monotonic() + timeout
    while True:
        sas = gw.sas()
        for g in sas:
            if same(g):
                return g
        assert time.monotonic() < deadline, \
            f"vpngw and mnd do not agree after {timeout} s: gwctl {sas}, mnd {st}"
        time.sleep(0.1)


def _up(env, topo, procs, dpd: int = 2, auth: str = "psk", pki=None,
        suite: str = "aes128gcm16"):
    gw = Vpngw(env, topo, auth=auth, suite=suite, pki=pki)
    procs.append(gw)
    m = Mnd(env, topo, auth=auth, suite=suite, pki=pki, dpd=dpd)
    procs.append(m)
    st = m.wait(lambda s: s.get("state") == "up" and s.get("children"), 20, "the tunnel")
    assert ipaddress.ip_address(st["tia"]) in ipaddress.ip_network(swan.POOL), st
    return gw, m, st, _agree(gw, st)


def _order(gw: Vpngw, *args: str) -> float:
    """gwctl ARGS: exit 0 and "ordered: ..."; returns when it was given (monotonic)."""
    t = time.monotonic()
    r = gw.gwctl(*args)
    want = f"ordered: {'-'.join(args[:-1])} {args[-1]}"
    assert r.returncode == 0 and r.stdout.strip() == want, \
        f"gwctl {' '.join(args)}: rc {r.returncode}, {r.stdout!r} {r.stderr!r}"
    return t


def test_psk_public(env, topo, procs):
    topo.attach("wlan0", "ext-b")
    gw, m, st, g = _up(env, topo, procs)
    assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping cn through the tunnel"
    r = env.transfer(st["tia"], nbytes=BIG, name="mnd-vpngw").start().check(timeout=120,
                                                                            min_bytes=BIG)
    result(f"mnd against vpngw (PSK, public): up in {st['setup_ms']} ms, TIA {st['tia']}, "
           f"{r['bytes']} bytes SHA-256 matched, {r['mbit_s']:.0f} Mbit/s")


def test_recovers_after_vpngw_restart(env, topo, procs):
    topo.attach("wlan0", "ext-b")
    gw, m, st, g = _up(env, topo, procs)
    assert topo.ping("mn", CN, count=2, timeout=3, interval=0.2)
    old = st["ike_spi_i"]
    os.kill(gw.proc.pid, signal.SIGKILL)        # no DELETE: mnd must find out itself
    gw.proc.wait(5)
    gw.log.close()
    procs.remove(gw)
    try:
        gw.sock.unlink()
    except FileNotFoundError:
        pass
    t0 = time.monotonic()
    gw = Vpngw(env, topo, auth="psk", suite="aes128gcm16")
    procs.insert(0, gw)
    m.wait(lambda s: s.get("state") != "up", 40, "the dead peer noticed")
    t_down = time.monotonic() - t0
    st = m.wait(lambda s: s.get("state") == "up" and s.get("ike_spi_i") != old
                and s.get("children"), 30, "the tunnel back")
    t_up = time.monotonic() - t0
    _agree(gw, st)
    assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping after the restart"
    result(f"mnd after a vpngw restart (SIGKILL): dead peer noticed after {t_down:.1f} s, "
           f"tunnel back after {t_up:.1f} s (attempts {st['attempts']})")


def test_cert_behind_nat(env, topo, procs):
    pki = swan.make_pki(Path(env.rundir) / "pki", "ecdsa")
    topo.attach("wlan0", "ext-a")
    gw, m, st, g = _up(env, topo, procs, auth="cert", pki=pki)
    # RFC 7296 2.23: both ends see the NAT in front of mnd; ESP goes in UDP (RFC 3948)
    assert st["nat_local"] is True, st
    assert g["nat_remote"] is True and g["nat_local"] is False, g
    assert g["remote"].split(":")[0] == NAT_ADDR, g
    assert g["local"] == f"{swan.GW_PUBLIC}:4500", g     # moved to 4500 (2.23)
    assert g["peer_id"] == swan.MN_ID, g                 # from mnd's certificate
    (c,) = g["child_sas"]
    assert c["udp_encap"] is True and c["remote"].split(":")[0] == NAT_ADDR, c
    assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping cn through the tunnel"
    r = env.transfer(st["tia"], nbytes=BIG, name="mnd-vpngw-cert").start().check(
        timeout=120, min_bytes=BIG)
    (c,) = _agree(gw, st)["child_sas"]
    assert c["out_bytes"] >= BIG and c["in_packets"] > 0, c
    result(f"mnd against vpngw (ECDSA certificates, behind NAT {g['remote']}): up in "
           f"{st['setup_ms']} ms, {r['bytes']} bytes SHA-256 matched, "
           f"{r['mbit_s']:.0f} Mbit/s")


def _rekeys_on_the_wire(cap, gw: Vpngw, mn_addr: str) -> dict:
    """Stop the capture; tshark with vpngw's key log decodes and decrypts every IKE message
    (ikecap.check_decrypted). vpngw sent exactly two CREATE_CHILD_SA requests, without the
    I flag (mnd is the original initiator, 3.1): first a Child SA rekey (REKEY_SA, TSi/TSr)
    with a KE payload (PFS, 1.3.3), then an IKE SA rekey (SA, Nonce, KE, no selectors:
    1.3.2); mnd's answers carry a KE payload too."""
    cap.stop()
    counts = cap.check_decrypted(gw.dir / "ikev2_decryption_table")
    assert counts["decrypted"] == counts["encrypted"] > 0, counts
    ccs = [x for x in cap.last_messages if x.exchange == "CREATE_CHILD_SA"]
    reqs = [x for x in ccs if not x.response]
    assert [(x.src, x.initiator) for x in reqs] == [(swan.GW_PUBLIC, False)] * 2, ccs
    child, ike = reqs
    assert {PT_SA, PT_NONCE, PT_KE, PT_TSI, PT_TSR} <= set(child.inner), child.inner
    assert N_REKEY_SA in [t for t, _ in child.notifies], child.notifies
    assert {PT_SA, PT_NONCE, PT_KE} <= set(ike.inner), ike.inner
    assert PT_TSI not in ike.inner and N_REKEY_SA not in [t for t, _ in ike.notifies], ike
    resps = [x for x in ccs if x.response]
    assert [x.src for x in resps] == [mn_addr] * 2, resps
    assert all(PT_KE in x.inner for x in resps), [x.inner for x in resps]
    return counts


@pytest.mark.parametrize("net", ["ext-b", "ext-a"])
def test_rekeys_during_transfer(env, topo, procs, net):
    addr = topo.attach("wlan0", net)
    cap = env.capture("mn", "wlan0", f"mn-wlan0-{net}")
    gw, m, st, g = _up(env, topo, procs, dpd=30, suite=REKEY_SUITE)
    assert st["nat_local"] is (net == "ext-a"), st
    x = env.transfer(st["tia"], nbytes=BIG, rate=REKEY_RATE, chunk=16384,
                     name=f"mnd-vpngw-rekey-{net}").start()

    def flowing(extra: int = 1_000_000, timeout: float = 30.0) -> None:
        goal = x.received() + extra
        deadline = time.monotonic() + timeout
        while x.received() < goal:
            assert time.monotonic() < deadline, f"transfer stalled at {x.received()} bytes"
            time.sleep(0.05)

    def gw_child(pred, what: str) -> dict:
        """vpngw's one Child SA once pred holds for it."""
        s = gw.wait_sa(lambda s: len(s["child_sas"]) == 1 and pred(s["child_sas"][0]), 30,
                       what)
        return s["child_sas"][0]

    flowing()
    # Child SA rekey, ordered by its inbound SPI at vpngw.
    (old,) = g["child_sas"]
    t0 = _order(gw, "rekey", "child", old["spi_in"])
    st = m.wait(lambda s: len(s["children"]) == 1 and _spi(s["children"][0]["spi_out"])
                not in (_spi(old["spi_in"]), _spi(old["spi_out"])), 30, "Child SA rekeyed")
    t_child = time.monotonic() - t0
    g = _agree(gw, st)
    (new,) = g["child_sas"]
    assert {_spi(new["spi_in"]), _spi(new["spi_out"])}.isdisjoint(
        {_spi(old["spi_in"]), _spi(old["spi_out"])}), (old, new)
    assert new["suite"] == "aes128-sha256-modp2048", new        # PFS: the DH group kept
    # The new Child SA carries the transfer both ways.
    flowing()
    new = gw_child(lambda c: c["spi_in"] == new["spi_in"] and c["in_packets"] > 0
                   and c["out_bytes"] > 500_000, "traffic on the new Child SA")
    # IKE SA rekey, ordered by its responder SPI: new SPIs, the Child SA moves over.
    ike_old = (g["spi_i"], g["spi_r"])
    t0 = _order(gw, "rekey", "ike", g["spi_r"])
    st = m.wait(lambda s: s.get("state") == "up" and (_spi(s["ike_spi_i"]),
                _spi(s["ike_spi_r"])) != tuple(map(_spi, ike_old)), 30, "IKE SA rekeyed")
    t_ike = time.monotonic() - t0
    g = _agree(gw, st)
    assert {_spi(g["spi_i"]), _spi(g["spi_r"])}.isdisjoint(map(_spi, ike_old)), (ike_old, g)
    assert [c["spi_in"] for c in g["child_sas"]] == [new["spi_in"]], (new, g)
    deadline = time.monotonic() + 10
    while len(gw.sas()) != 1:
        assert time.monotonic() < deadline, f"the old IKE SA stays: {gw.sas()}"
        time.sleep(0.1)
    flowing()
    assert x.received() < BIG, "the transfer ended before the rekeys were done: too fast"
    r = x.check(timeout=180, min_bytes=BIG)
    log = gw.tail(10**7)
    assert f"control: rekey-child {old['spi_in']}: ordered" in log, log[-3000:]
    assert f"control: rekey-ike {ike_old[1]}: ordered" in log, log[-3000:]
    w = _rekeys_on_the_wire(cap, gw, addr)
    result(f"mnd against vpngw ({'behind NAT' if net == 'ext-a' else 'public'}), gwctl "
           f"rekeys during a transfer: Child SA {old['spi_in']} -> {new['spi_in']} (PFS "
           f"MODP-2048) in {t_child:.2f} s, IKE SA {ike_old[0]} -> {g['spi_i']} in "
           f"{t_ike:.2f} s; {r['bytes']} bytes SHA-256 matched in {r['seconds']:.1f} s "
           f"(longest gap {r['max_gap_ms']:.0f} ms); tshark: {summarize(w)}")


def test_gwctl_terminate(env, topo, procs):
    topo.attach("wlan0", "ext-b")
    gw, m, st, g = _up(env, topo, procs)
    assert topo.ping("mn", CN, count=2, timeout=3, interval=0.2)
    old, n = st["ike_spi_i"], st["established"]
    t0 = _order(gw, "terminate", g["spi_i"])
    # vpngw forgets the SA at once (DELETE answered); mnd goes down, then up on its own.
    st = m.wait(lambda s: s.get("state") == "up" and s.get("established") == n + 1
                and s.get("children"), 30, "the tunnel back")
    t_up = time.monotonic() - t0
    assert _spi(st["ike_spi_i"]) != _spi(old), st
    assert "down: deleted by the peer" in m.tail(10**7), m.tail()
    g2 = _agree(gw, st)
    assert len(gw.sas()) == 1 and g2["inner_address"] == g["inner_address"], gw.sas()
    assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping after the terminate"
    r = gw.gwctl("terminate", g["spi_i"])                # the old SA is gone
    assert r.returncode == 1 and f"no such IKE SA {g['spi_i']}" in r.stderr, r
    result(f"gwctl terminate: vpngw deleted IKE SA {g['spi_i']}, mnd saw it go and was "
           f"back on its own with IKE SA {st['ike_spi_i']} after {t_up:.1f} s "
           f"(set up in {st['setup_ms']} ms)")
