"""Handover replay in the ESP data path (issue 5: the MOBIKE benchmark's TCP target): our mnd
against our vpngw, a TCP stream cn -> mn's TIA through the tunnel, +20 ms RTT between the
access networks and the gateway (tests/linkemu on inet's link to vpngw, when $MM_LINKEMU
names it), and break-before-make moves as bench/mobike_outage.py makes them: mn's current
interface unplugged, the other one plugged into ext-b and given a DHCP lease.

What vpngw sent to the old address during the gap is lost; with `handover-replay-ms` on,
vpngw sends it again through the moved SA right after the UPDATE_SA_ADDRESSES (espdp.h
espdp_ike_replay), so the stream need not wait for cn's retransmission timeout.

1. test_replay_on: the [gateway] keys set explicitly (the defaults: 1000 ms, 524288 bytes,
   150 ms): per move vpngw logs one "MOBIKE: replayed N packets (B bytes, after what the
   peer said it received; others since T ms before the move)" line with N > 0 (mnd's
   UPDATE_SA_ADDRESSES carried its MM_ESP_RECEIVED marks, and vpngw selected by them), gwctl
   shows the same SPIs on the new address, and the stream ends intact (every byte, SHA-256
   matched, no reset).
2. test_replay_off: the same with `handover-replay-ms = 0`: no replay line, the stream
   intact; the gaps are printed for comparison.

Timing is printed (result lines: the stream's longest gap from the link change and from
"address usable"), never asserted: it depends on the machine's load.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from swan import result
from test_mnd_swan import _spi
from test_mobike import RoamingMnd, _host, procs  # noqa: F401 - procs is a fixture
from test_vpngw_swan import Vpngw

RATE = 2_000_000                   # bytes/s of the stream, as bench/mobike_outage.py
DELAY_MS = 10                      # per direction: +20 ms RTT
MOVES = 2                          # wlan0 -> wwan0 -> wlan0
REPLAY_LINE = re.compile(r"MOBIKE: replayed (\d+) packets \((\d+) bytes, (after what the peer "
                         r"said it received; others )?since (\d+) ms before the move\)")


def _setup(env, topo, procs, replay_ms: int):
    topo.attach("wlan0", "ext-b")
    emulated = bool(os.environ.get("MM_LINKEMU"))
    if emulated:
        topo.emulate("inet", "vpngw0", delay_ms=DELAY_MS)
    gw = Vpngw(env, topo, gateway={"handover-replay-ms": replay_ms,
                                   "handover-replay-bytes": 524288,
                                   "handover-replay-rtt-ms": 150})
    procs.append(gw)
    m = RoamingMnd(env, topo)
    procs.append(m)
    st = m.wait(lambda s: s.get("state") == "up" and s.get("children"), 20, "the tunnel")
    assert st.get("mobike") is True, f"MOBIKE not negotiated: {st}"
    gw.wait_sa(lambda s: _spi(s["spi_i"]) == _spi(st["ike_spi_i"]), 10, "the SA")
    return gw, m, st, emulated


def _moves(env, topo, gw, m, st, tag: str) -> list[dict]:
    """MOVES break-before-make moves, each with a fresh stream spanning just that move (its
    longest gap is the move's outage). Returns per move: the gaps and the replay lines
    vpngw logged during it."""
    spi_i, spi_r = _spi(st["ike_spi_i"]), _spi(st["ike_spi_r"])
    cur, out = "wlan0", []
    for k in range(MOVES):
        new = "wwan0" if cur == "wlan0" else "wlan0"
        x = env.transfer(st["tia"], rate=RATE, name=f"{tag}-move{k}").start()
        time.sleep(1.0)
        log0 = len(gw.tail(10**7))
        topo.detach(cur)
        t_link = time.monotonic()
        addr = topo.attach(new, "ext-b")
        t_addr = time.monotonic()
        s = m.wait(lambda s, a=addr: s.get("local_address") == a and s.get("state") == "up"
                   and not s.get("probing"), 30, f"mnd on {new}")
        g = gw.wait_sa(lambda s, a=addr: _spi(s["spi_i"]) == spi_i and _host(s["remote"]) == a,
                       30, f"vpngw on {addr}")
        assert _spi(s["ike_spi_i"]) == spi_i and _spi(s["ike_spi_r"]) == spi_r, s
        assert _spi(g["spi_r"]) == spi_r, g
        r0 = x.received()
        deadline = time.monotonic() + 20
        while x.received() < r0 + RATE // 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        x.stop()
        r = x.check(timeout=60, min_bytes=RATE)       # every byte, SHA-256, no reset
        lines = REPLAY_LINE.findall(gw.tail(10**7)[log0:])
        out.append({"move": f"{cur} -> {new} ({addr})",
                    "link_to_addr_ms": (t_addr - t_link) * 1000,
                    "gap_ms": r["max_gap_ms"],
                    "gap_from_addr_ms": r["max_gap_ms"] - (t_addr - t_link) * 1000,
                    "bytes": r["bytes"], "replays": lines})
        cur = new
        time.sleep(0.5)
    return out


def _report(tag: str, rows: list[dict], emulated: bool) -> None:
    rtt = f"+{2 * DELAY_MS} ms RTT" if emulated else "no added delay ($MM_LINKEMU unset)"
    for r in rows:
        rep = "; ".join(f"replayed {n} packets ({b} bytes, "
                        f"{'after the mark mnd sent, others ' if marked else ''}since {t} ms)"
                        for n, b, marked, t in r["replays"]) or "no replay"
        result(f"mobike replay {tag} ({rtt}) {r['move']}: link -> address "
               f"{r['link_to_addr_ms']:.0f} ms, TCP longest gap {r['gap_ms']:.0f} ms "
               f"({r['gap_from_addr_ms']:.0f} ms after the address was usable), "
               f"{r['bytes']} bytes SHA-256 matched; {rep}")


def test_replay_on(env, topo, procs):
    gw, m, st, emulated = _setup(env, topo, procs, 1000)
    rows = _moves(env, topo, gw, m, st, "on")
    _report("on", rows, emulated)
    for r in rows:
        assert len(r["replays"]) == 1, f"{r['move']}: replay lines {r['replays']}"
        n, b, marked, _since = r["replays"][0]
        assert int(n) > 0 and int(b) > 0, f"{r['move']}: nothing replayed: {r['replays']}"
        # mnd named in its UPDATE_SA_ADDRESSES how far it received (MM_ESP_RECEIVED, to
        # our own gateway only): the replay went by that mark
        assert marked, f"{r['move']}: the replay did not use mnd's mark: {r['replays']}"


def test_replay_off(env, topo, procs):
    gw, m, st, emulated = _setup(env, topo, procs, 0)
    rows = _moves(env, topo, gw, m, st, "off")
    _report("off", rows, emulated)
    assert not any(r["replays"] for r in rows), rows
    assert "MOBIKE: replayed" not in gw.tail(10**7)


if __name__ == "__main__":
    raise SystemExit(pytest.main(["-q", "-s", __file__]))
