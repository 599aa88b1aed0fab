"""Our mnd's VPN client against our own vpngw (issue 4: "Our mnd against our vpngw the same
way, and mnd recovers on its own after vpngw restarts"), on the namespace topology.

1. test_psk_public: wlan0 on ext-b, PSK: tunnel up, the TIA from vpngw's pool, SPIs agree
   (mnd's status file vs gwctl), ping cn, 50 MB cn -> TIA with a matching SHA-256.
2. test_recovers_after_vpngw_restart: vpngw is SIGKILLed (no DELETE) and started again;
   mnd's DPD (2 s) finds the peer dead and re-establishes on its own; ping works again.

mnd, vpngw and gwctl come from $MM_MND, $MM_VPNGW and $MM_GWCTL (meson sets them).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import time

import pytest

import swan
from swan import result
from test_mnd_swan import CN, BIG, Mnd, _spi
from test_vpngw_swan import Vpngw


@pytest.fixture
def procs():
    made: list = []
    yield made
    for p in reversed(made):
        rc = p.stop()
        assert rc == 0, f"{type(p).__name__} exited with {rc}: {p.tail()}"


def _agree(gw: Vpngw, st: dict) -> dict:
    g = gw.wait_sa(lambda s: _spi(s["spi_i"]) == _spi(st["ike_spi_i"]), 10,
                   "the IKE SA mnd has")
    assert _spi(g["spi_r"]) == _spi(st["ike_spi_r"]), (g, st)
    assert g["inner_address"] == st["tia"], (g, st)
    assert [(_spi(c["spi_in"]), _spi(c["spi_out"])) for c in g["child_sas"]] == \
        [(_spi(c["spi_out"]), _spi(c["spi_in"])) for c in st["children"]], (g, st)
    return g


def _up(env, topo, procs, dpd: int = 2):
    gw = Vpngw(env, topo, auth="psk", suite="aes128gcm16")
    procs.append(gw)
    m = Mnd(env, topo, auth="psk", dpd=dpd)
    procs.append(m)
    st = m.wait(lambda s: s.get("state") == "up" and s.get("children"), 20, "the tunnel")
    assert ipaddress.ip_address(st["tia"]) in ipaddress.ip_network(swan.POOL), st
    return gw, m, st, _agree(gw, st)


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
