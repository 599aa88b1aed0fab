"""Our mnd's VPN client (mnd/vpn.c, in mn) against strongSwan's responder (charon with
kernel-libipsec, in the vpngw node) on the namespace topology (issue 4 item 5, "Must show":
our mnd against a strongSwan responder; mnd recovers on its own after the gateway restarts).

mnd runs with a minimal [mobile-node] group (a home agent on 10.254.0.2 that does not exist:
Mobile IPv4 sends its requests into the void and touches nothing the VPN uses) and the
[vpn] group under test.

1. test_psk_public: wlan0 on ext-b (public), PSK: tunnel up, the TIA from charon's pool,
   SPIs agree (mnd's status file vs charon's list-sas), ping cn from the TIA, 50 MB cn -> TIA
   with a matching SHA-256.
2. test_cert_behind_nat: wlan0 on ext-a (behind NAT), ECDSA certificates both ways: NAT
   seen by both, ping, 50 MB with a matching SHA-256.
3. test_rekeys_during_transfer: charon (responder) rekeys the Child SA and then the IKE SA
   while a transfer runs: mnd's status follows both (SPIs agree), the transfer is intact.
4. test_recovers_after_gateway_restart: charon is SIGKILLed (no DELETE) and started again;
   mnd's DPD (2 s) finds the peer dead, the SA goes, mnd initiates again with backoff and
   the tunnel is back: ping works again.
5. test_move_reestablishes: with `mobike = no` in mnd, wlan0 moves from ext-b to ext-a
   (behind NAT): mnd notices its address gone and sets up a new IKE SA from the new address
   at once (the fallback for gateways without MOBIKE; MOBIKE moves: test_mobike.py).
6. test_sigterm_deletes: SIGTERM makes mnd delete its IKE SA (charon sees it go), exit 0.
7. test_psk_suites[suite]: the other three IKE/ESP suites of swan.SUITES with PSK: tunnel
   up, ping cn.

Tests 1-3, 6 and 7 capture IKE on mn's wlan0 from before the tunnel and end with mnd's
SIGTERM (its INFORMATIONAL DELETE); tshark then decodes and, with mnd's key log
(keylog-file, Wireshark's ikev2_decryption_table), decrypts every IKE message: nothing
malformed, no expert item, every Encrypted payload decrypted with its integrity "[correct]"
(ikecap.IkeCapture.check_decrypted), including the CREATE_CHILD_SAs of charon's rekeys.
Wireshark 4.0 cannot decrypt ChaCha20-Poly1305 IKE SAs: for that suite the messages must
decode, and are counted as undecryptable. With one bit of a key of the key log flipped the
check fails (tests 1 and 7 for the CBC suite).

mnd comes from $MM_MND (meson sets it).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import time
from pathlib import Path

import pytest

import swan
from ikecap import IkeCapture, summarize
from ourdaemons import (GW_PUBLIC, SUITE, Mnd, installed_children as _children, spi as _spi,
                        started)
from swan import result

CN = "198.18.1.3"
BIG = 50_000_000
# RFC 7296 3.2 payload types seen inside the Encrypted payloads
PT_KE, PT_CERT, PT_AUTH, PT_DELETE, PT_TSI = 34, 37, 39, 42, 44
N_REKEY_SA = 16393


@pytest.fixture
def ourmnd():
    yield from started(Mnd)


def _agree(gw, st: dict) -> dict:
    """Both ends name the same IKE SA and the same Child SA (SPIs crossed)."""
    sa = gw.wait_sa("rw", lambda s: s.get("state") == "ESTABLISHED"
                    and _spi(s["initiator-spi"]) == _spi(st["ike_spi_i"]), timeout=10,
                    what="the IKE SA mnd has")
    assert _spi(sa["responder-spi"]) == _spi(st["ike_spi_r"]), (sa, st)
    (c,) = _children(sa)
    assert [(_spi(x["spi_in"]), _spi(x["spi_out"])) for x in st["children"]] == \
        [(_spi(c["spi-out"]), _spi(c["spi-in"]))], (c, st)
    vips = sa.get("remote-vips") or []
    assert st["tia"] in vips, (st, sa)
    return sa


def _up(env, topo, ourmnd, auth="psk", pki=None, dpd=2, suite=SUITE, mobike=True):
    gw = env.charon("vpngw", "gw", swan.responder_conf(auth=auth, suite=suite), pki=pki)
    m = ourmnd(env, topo, auth=auth, pki=pki, dpd=dpd, suite=suite, mobike=mobike)
    st = m.wait(lambda s: s.get("state") == "up" and s.get("children"), 20, "the tunnel")
    assert ipaddress.ip_address(st["tia"]) in ipaddress.ip_network(swan.POOL), st
    sa = _agree(gw, st)
    return gw, m, st, sa


def _keylog(m: Mnd) -> Path:
    return m.dir / "ikev2_decryption_table"


def _stop(gw, m: Mnd) -> None:
    """mnd's SIGTERM deletes the IKE SA (an INFORMATIONAL exchange for the capture)."""
    assert m.stop() == 0, m.tail()
    deadline = time.monotonic() + 10
    while [s for s in gw.list_sas() if s.get("state") == "ESTABLISHED"]:
        assert time.monotonic() < deadline, f"charon still has SAs: {gw.list_sas()}"
        time.sleep(0.1)


def _wire(cap: IkeCapture, m: Mnd, suite: str = SUITE) -> dict:
    """Stop the capture; tshark with mnd's key log decodes and decrypts every IKE message
    (ikecap.check_decrypted). All between mn and the gateway's public address; in the first
    IKE SA the I flag is set exactly on mnd's messages (RFC 7296 3.1), mnd ended it with a
    DELETE that charon answered."""
    cap.stop()
    undecryptable = suite == "chacha20poly1305"      # Wireshark 4.0 lacks it (ikecap.py)
    counts = cap.check_decrypted(_keylog(m), allow_undecryptable=undecryptable)
    assert counts["IKE_SA_INIT"] == 2 and counts["IKE_AUTH"] == 2, counts
    if undecryptable:
        assert counts["undecryptable"] == counts["encrypted"] > 0, counts
    else:
        assert counts["decrypted"] == counts["encrypted"] > 0, counts
    first = cap.last_messages[0]
    assert first.exchange == "IKE_SA_INIT" and first.dst == GW_PUBLIC, first
    for x in cap.last_messages:
        assert GW_PUBLIC in (x.src, x.dst), x
        if x.spi_i == first.spi_i:
            assert x.initiator == (x.dst == GW_PUBLIC), x
    if not undecryptable:
        last = [x for x in cap.last_messages if x.exchange == "INFORMATIONAL"][-2:]
        assert [(x.src, x.response, PT_DELETE in x.inner) for x in last] == \
            [(cap.last_messages[0].src, False, True), (GW_PUBLIC, True, False)], last
    return counts


def test_psk_public(env, topo, ourmnd):
    addr = topo.attach("wlan0", "ext-b")
    cap = env.capture("mn", "wlan0", "mn-wlan0")
    gw, m, st, sa = _up(env, topo, ourmnd)
    assert st["local_address"] == addr and st["nat_local"] is False, st
    assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping cn through the tunnel"
    r = env.transfer(st["tia"], nbytes=BIG, name="mnd-psk").start().check(timeout=120,
                                                                          min_bytes=BIG)
    _stop(gw, m)
    w = _wire(cap, m)
    assert w["INFORMATIONAL"] == 2 and w["CREATE_CHILD_SA"] == 0, w
    # the check can fail: a flipped bit of SK_er (the AEAD tag of charon's messages fails)
    bad = cap.check_tampered(_keylog(m), "sk_er")
    assert "Integrity Checksum Data is incorrect" in bad, bad
    result(f"mnd PSK (public) against charon: IKE SA + child up in {st['setup_ms']} ms, TIA "
           f"{st['tia']}, {r['bytes']} bytes cn -> TIA SHA-256 matched, "
           f"{r['mbit_s']:.0f} Mbit/s; tshark: {summarize(w)}; fails with sk_er tampered")


def test_cert_behind_nat(env, topo, ourmnd):
    pki = swan.make_pki(Path(env.rundir) / "pki", "ecdsa")
    topo.attach("wlan0", "ext-a")
    cap = env.capture("mn", "wlan0", "mn-wlan0")
    gw, m, st, sa = _up(env, topo, ourmnd, auth="cert", pki=pki)
    assert st["nat_local"] is True, st
    assert sa.get("nat-remote") == "yes", sa
    assert sa["remote-host"] == "198.19.110.2", sa        # ext-a's NAT address
    assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping cn through the tunnel"
    r = env.transfer(st["tia"], nbytes=BIG, name="mnd-cert").start().check(timeout=120,
                                                                           min_bytes=BIG)
    _stop(gw, m)
    w = _wire(cap, m)
    # RFC 7296 2.23: IKE_SA_INIT on 500, then 4500 (non-ESP marker) both ways; certificates
    # and signatures inside both IKE_AUTH messages
    for x in cap.last_messages:
        assert (x.sport, x.dport) == ((500, 500) if x.exchange == "IKE_SA_INIT"
                                      else (4500, 4500)), x
    for resp in (False, True):
        assert [x for x in cap.last_messages if x.exchange == "IKE_AUTH" and
                x.response == resp and PT_CERT in x.inner and PT_AUTH in x.inner], \
            cap.last_messages
    result(f"mnd ECDSA behind NAT against charon: up in {st['setup_ms']} ms, "
           f"{r['bytes']} bytes SHA-256 matched, {r['mbit_s']:.0f} Mbit/s; tshark: "
           f"{summarize(w)}")


def test_rekeys_during_transfer(env, topo, ourmnd):
    topo.attach("wlan0", "ext-b")
    cap = env.capture("mn", "wlan0", "mn-wlan0")
    gw, m, st, sa = _up(env, topo, ourmnd, dpd=30)
    x = env.transfer(st["tia"], rate=8_000_000, chunk=16384, name="mnd-rekey").start()

    def flowing(extra: int = 1_000_000, timeout: float = 10.0) -> None:
        goal = x.received() + extra
        deadline = time.monotonic() + timeout
        while x.received() < goal:
            assert time.monotonic() < deadline, f"transfer stalled at {x.received()} bytes"
            time.sleep(0.05)

    flowing()
    old = st["children"][0]
    gw.rekey_child("rw")
    st = m.wait(lambda s: len(s["children"]) == 1 and s["children"][0]["spi_in"]
                != old["spi_in"], 10, "Child SA rekeyed")
    sa = _agree(gw, st)
    flowing()
    ike_old = (st["ike_spi_i"], st["ike_spi_r"])
    gw.rekey_ike("rw")
    st = m.wait(lambda s: s.get("state") == "up" and (s["ike_spi_i"], s["ike_spi_r"])
                != ike_old, 10, "IKE SA rekeyed")
    sa = _agree(gw, st)
    flowing()
    x.stop()
    r = x.check(timeout=30, min_bytes=3_000_000)
    _stop(gw, m)
    w = _wire(cap, m)
    # charon's child rekey (REKEY_SA, TS) and IKE SA rekey (with KE, no TS); the old Child
    # SA and IKE SA deleted; mnd's last DELETE in the new IKE SA, decrypted with mnd's key
    # line for it. RFC 7296 2.18: charon, which rekeyed, is the original initiator of the
    # new IKE SA: the I flag now on its messages.
    reqs = [x for x in cap.last_messages if x.exchange == "CREATE_CHILD_SA" and not x.response]
    assert w["CREATE_CHILD_SA"] == 4 and len(reqs) == 2, cap.last_messages
    assert all(x.src == GW_PUBLIC for x in reqs), reqs
    child, ike = reqs
    assert N_REKEY_SA in [n for n, _ in child.notifies] and PT_TSI in child.inner, child
    assert PT_KE in ike.inner and PT_TSI not in ike.inner, ike
    new = [x for x in cap.last_messages if x.frame > ike.frame and x.spi_i != ike.spi_i]
    assert len(new) >= 2 and all(x.decrypted for x in new), cap.last_messages
    assert all(x.initiator == (x.src == GW_PUBLIC) for x in new), new
    assert len(_keylog(m).read_text().splitlines()) == 2, "one key line per IKE SA"
    result(f"mnd: charon rekeyed Child SA {old['spi_in']} -> {st['children'][0]['spi_in']} "
           f"and IKE SA {ike_old[0]} -> {st['ike_spi_i']} during a transfer; {r['bytes']} "
           f"bytes intact; tshark: {summarize(w)}")


def test_recovers_after_gateway_restart(env, topo, ourmnd):
    topo.attach("wlan0", "ext-b")
    gw, m, st, sa = _up(env, topo, ourmnd, dpd=2)
    assert topo.ping("mn", CN, count=2, timeout=3, interval=0.2)
    old = st["ike_spi_i"]
    os.kill(gw.proc.pid, signal.SIGKILL)         # no DELETE: mnd must find out itself
    gw.proc.wait(5)
    gw.start()
    t0 = time.monotonic()
    m.wait(lambda s: s.get("state") != "up", 40, "the dead peer noticed")
    t_down = time.monotonic() - t0
    st = m.wait(lambda s: s.get("state") == "up" and s.get("ike_spi_i") != old
                and s.get("children"), 30, "the tunnel back")
    t_up = time.monotonic() - t0
    _agree(gw, st)
    assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping after the restart"
    result(f"mnd after a charon restart (SIGKILL): dead peer noticed after {t_down:.1f} s, "
           f"tunnel back after {t_up:.1f} s (attempts {st['attempts']})")


def test_move_reestablishes(env, topo, ourmnd):
    # MOBIKE off in mnd (`mobike = no`): the fallback, a new IKE SA from the new address.
    # The MOBIKE moves themselves are tests/interop/test_mobike.py.
    topo.attach("wlan0", "ext-b")
    gw, m, st, sa = _up(env, topo, ourmnd, dpd=30, mobike=False)
    old = st["ike_spi_i"]
    t0 = time.monotonic()
    addr = topo.attach("wlan0", "ext-a")
    st = m.wait(lambda s: s.get("state") == "up" and s.get("ike_spi_i") != old
                and s.get("local_address") == addr and s.get("children"), 20,
                "the tunnel from the new address")
    t_up = time.monotonic() - t0
    assert st["nat_local"] is True, st
    _agree(gw, st)
    assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping after the move"
    result(f"mnd moved ext-b -> ext-a (NAT): new IKE SA from {addr} {t_up:.1f} s after the "
           f"move began (DHCP included)")


def test_sigterm_deletes(env, topo, ourmnd):
    topo.attach("wlan0", "ext-b")
    cap = env.capture("mn", "wlan0", "mn-wlan0")
    gw, m, st, sa = _up(env, topo, ourmnd)
    _stop(gw, m)
    w = _wire(cap, m)
    result(f"SIGTERM: mnd deleted its IKE SA (charon saw it go) and exited 0; tshark: "
           f"{summarize(w)}")


@pytest.mark.parametrize("suite", ["aes256gcm16", "chacha20poly1305",
                                   "aes128-sha256-modp2048"])
def test_psk_suites(env, topo, ourmnd, suite):
    topo.attach("wlan0", "ext-b")
    cap = env.capture("mn", "wlan0", "mn-wlan0")
    gw, m, st, sa = _up(env, topo, ourmnd, suite=suite)
    ike, _ = swan.SUITES[suite]
    assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping cn through the tunnel"
    _stop(gw, m)
    w = _wire(cap, m, suite)
    tampered = ""
    if suite == "aes128-sha256-modp2048":
        bad = cap.check_tampered(_keylog(m), "sk_ai")       # HMAC-SHA2-256-128 fails
        assert "Integrity Checksum Data is incorrect" in bad, bad
        tampered = "; fails with sk_ai tampered"
    result(f"mnd PSK {ike} against charon: up in {st['setup_ms']} ms, ping cn; tshark: "
           f"{summarize(w)}{tampered}")
