"""The link emulator (tests/linkemu) inside the namespace topology: delay and loss.

Run: MM_LINKEMU=<builddir>/tests/linkemu/linkemu \\
     /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/topology/test_linkemu.py
"""

from __future__ import annotations

import math
import re

import pytest

import topo

HA = topo.ADDRESSES["ha"]
DELAY_MS = 10.0
LOSS = 0.1
LOSS_PINGS = 1500


@pytest.fixture
def on_int_x(topo_clean, linkemu_binary):  # noqa: ARG001 - fails without the binary
    topo_clean.attach("wlan0", "int-x")
    assert topo_clean.ping("mn", HA, count=3, interval=0.05)    # warm ARP caches
    return topo_clean


def rtt(t: topo.Topology, count: int = 30) -> dict:
    st = t.ping_stats("mn", HA, count=count, interval=0.05, timeout=2)
    assert st["received"] == count, st
    return st


def test_delay_adds_two_crossings(on_int_x):
    t = on_int_x
    router, iface = t.uplink_iface("int-x")
    assert (router, iface) == ("icore", "int-x")
    base = rtt(t)
    emu = t.emulate(router, iface, delay_ms=DELAY_MS)
    delayed = rtt(t)
    stats = emu.stop()
    after = rtt(t)
    extra = delayed["rtt_avg"] - base["rtt_avg"]
    print(f"\nRTT mn->ha avg over 30 pings: baseline {base['rtt_avg']:.3f} ms, with "
          f"{DELAY_MS:g} ms each way {delayed['rtt_avg']:.3f} ms (+{extra:.3f} ms, "
          f"min {delayed['rtt_min']:.3f} max {delayed['rtt_max']:.3f}), after stop "
          f"{after['rtt_avg']:.3f} ms; emulator {stats}")
    assert abs(extra - 2 * DELAY_MS) <= 2.0, (base, delayed)
    assert delayed["rtt_min"] >= 2 * DELAY_MS - 0.5, delayed      # never early
    assert abs(after["rtt_avg"] - base["rtt_avg"]) <= 1.0, (base, after)
    assert stats["packets"] >= 60 and stats.get("dropped", 0) == 0, stats


def test_loss_is_binomial(on_int_x):
    t = on_int_x
    router, iface = t.uplink_iface("int-x")
    base = rtt(t, 10)
    emu = t.emulate(router, iface, loss=LOSS, seed=20240601)
    # flood ping: the next request goes out on each reply or after 10 ms without one
    res = t.run("mn", ["ping", "-n", "-q", "-f", "-c", str(LOSS_PINGS), "-W", "1", HA],
                check=False, timeout=120)
    stats = emu.stop()
    st = t.ping_stats("mn", HA, count=10, interval=0.05)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", res.stdout)
    assert m, res.stdout + res.stderr
    sent, received = int(m.group(1)), int(m.group(2))
    lost = sent - received
    p = 1 - (1 - LOSS) ** 2                      # request and reply each cross once
    mean = sent * p
    sd = math.sqrt(sent * p * (1 - p))
    print(f"\nloss {LOSS:g} per crossing: {lost}/{sent} echoes lost = {lost / sent:.4f}, "
          f"expected {p:.4f} (mean {mean:.1f} +- 4 sd {4 * sd:.1f}); emulator {stats}; "
          f"baseline rtt {base['rtt_avg']:.3f} ms")
    assert sent == LOSS_PINGS
    assert abs(lost - mean) <= 4 * sd, (lost, mean, sd)
    # the emulator's own count of drops matches what ping saw
    assert stats["dropped"] == lost, stats
    # and once stopped, nothing is lost any more
    assert st["received"] == 10, st
