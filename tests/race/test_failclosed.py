"""mnd's fail-closed filter (mnd/failclosed.h, issue 6 item 4) on a real kernel.

In a namespace pair (tests/race/fcnet.py: mobile node ``mn`` with ``wlan0``, ``wwan0`` and
the TUN ``mnd0``; ``peer`` behind both links) tests/race/fc_driver puts the filter on
through mnd/failclosed.c; packets then leave ``mn`` through the kernel's output path (raw
IP_HDRINCL sockets bound to an interface), and a capture on the peer side proves what got
through:

- from the home address: dropped, whatever the destination or port (also IKE, also the
  Registration Request), on either physical interface; through the TUN: passes;
- to the intranet (and to the home agent, intranet or not): dropped, except the trust
  probe (RFC 5266 3.4: a Registration Request, type 1, to the home agent's port 434 from
  the physical address) and DHCP to a server inside the intranet; an RFC 3519 Tunnel Data
  message (type 4) to port 434 and IP-in-IP to the home agent are dropped;
- IKE and ESP in UDP (500, 4500) to the gateway, DHCP, other destinations: pass;
- the named counters count exactly the drops; a drop on output makes sendto() fail with
  EPERM (seen by the sender too);
- applying again replaces the filter in one transaction (one table; the counters go on
  counting); taking it off (open: the chain's rules go, table and hook stay, as mnd does on
  a trusted verdict) lets everything pass, and applying after that filters again;
  a spec nftables refuses leaves nothing behind; after remove everything passes.

Needs root (network namespaces, nftables). The namespaces are removed at the end, also
when a test fails (fixture, atexit, and a sweep of pairs whose test process died).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import fcnet  # noqa: E402
from fcnet import (DHCP_SERVER, GATEWAY, HOME_ADDRESS, HOME_AGENT, INTERNET_HOST,  # noqa: E402
                   INTRANET, INTRANET_HOST, MN_WLAN, MN_WWAN, Probe)

TABLE = "mnd_fc_race"
DRIVER = os.environ.get("MM_FC_DRIVER", "")


@pytest.fixture(scope="module")
def pair():
    if os.geteuid() != 0:
        pytest.fail("the fail-closed race test needs root (network namespaces, nftables)")
    if not DRIVER or not os.access(DRIVER, os.X_OK):
        pytest.fail("MM_FC_DRIVER must name the built tests/race/fc_driver (meson sets it)")
    with fcnet.NetnsPair() as p:
        yield p
    assert not p.exists(), "namespaces left behind"


def spec_text(table: str = TABLE, *, intranet=INTRANET, gateway: str | None = GATEWAY,
              ifaces: str = "wlan0, wwan0") -> str:
    lines = [f"table {table}", f"interfaces {ifaces}", f"home-address {HOME_ADDRESS}",
             f"home-agent {HOME_AGENT}"]
    if gateway:
        lines.append(f"gateway {gateway}")
    lines += [f"intranet {p}" for p in intranet]
    return "\n".join(lines) + "\n"


def driver(pair, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = pair.sh(pair.mn, DRIVER, *args, check=False)
    if check and r.returncode != 0:
        raise AssertionError(f"fc_driver {' '.join(args)}: {r.returncode} {r.stderr}")
    return r


def apply(pair, tmp_path: Path, text: str) -> int:
    f = tmp_path / "spec"
    f.write_text(text)
    r = driver(pair, "apply", str(f))
    m = re.fullmatch(r"applied (\S+) in (\d+) us\n", r.stdout)
    assert m, r.stdout
    return int(m.group(2))


def counters(pair, table: str = TABLE) -> dict[str, int]:
    """Per counter, read with the nft program (not through failclosed.c)."""
    out = pair.sh(pair.mn, "nft", "list", "counters", "table", "inet", table).stdout
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r"counter (\w+) \{\s*packets (\d+) bytes \d+", out)}


def tables(pair) -> list[str]:
    return pair.sh(pair.mn, "nft", "list", "tables").stdout.split("\n")


def probes() -> list[Probe]:
    """The cases, each a unique id; `passes` is the verdict with the filter on."""
    P = Probe
    hoa, intr = "hoa_dropped", "intranet_dropped"
    cases = [
        # From the home address: never out of a physical interface.
        P(1, "hoa to internet", "wlan0", HOME_ADDRESS, INTERNET_HOST, passes=False, counter=hoa),
        P(2, "hoa to intranet", "wlan0", HOME_ADDRESS, INTRANET_HOST, passes=False, counter=hoa),
        P(3, "hoa reg request to ha", "wlan0", HOME_ADDRESS, HOME_AGENT, sport=434, dport=434,
          first=1, passes=False, counter=hoa),
        P(4, "hoa ike to gateway", "wlan0", HOME_ADDRESS, GATEWAY, sport=500, dport=500,
          passes=False, counter=hoa),
        P(5, "hoa icmp on wwan0", "wwan0", HOME_ADDRESS, "198.18.61.9", kind="icmp",
          passes=False, counter=hoa),
        P(6, "hoa dhcp-looking", "wlan0", HOME_ADDRESS, DHCP_SERVER, sport=68, dport=67,
          passes=False, counter=hoa),
        # To the intranet from the physical address.
        P(10, "coa udp to intranet", "wlan0", MN_WLAN, INTRANET_HOST, passes=False,
          counter=intr),
        P(11, "coa icmp to intranet", "wlan0", MN_WLAN, "198.19.1.20", kind="icmp",
          passes=False, counter=intr),
        P(12, "coa tunnel data to ha 434", "wlan0", MN_WLAN, HOME_AGENT, sport=434, dport=434,
          first=4, passes=False, counter=intr),
        P(13, "coa ip-in-ip to ha", "wlan0", MN_WLAN, HOME_AGENT, kind="ipip", passes=False,
          counter=intr),
        P(14, "coa udp 9 to ha", "wlan0", MN_WLAN, HOME_AGENT, passes=False, counter=intr),
        P(15, "coa to intranet on wwan0", "wwan0", MN_WWAN, INTRANET_HOST, passes=False,
          counter=intr),
        P(16, "coa udp 500 to intranet", "wlan0", MN_WLAN, INTRANET_HOST, sport=500, dport=500,
          passes=False, counter=intr),
        # Exceptions: the probe, IKE and ESP in UDP to the gateway, DHCP.
        P(20, "probe reg request to ha 434", "wlan0", MN_WLAN, HOME_AGENT, sport=40434,
          dport=434, first=1),
        P(21, "probe from wwan0", "wwan0", MN_WWAN, HOME_AGENT, sport=40435, dport=434,
          first=1),
        P(22, "ike 500 to gateway", "wlan0", MN_WLAN, GATEWAY, sport=500, dport=500),
        P(23, "esp-in-udp 4500 to gateway", "wlan0", MN_WLAN, GATEWAY, sport=4500, dport=4500,
          first=0),
        # (From the address: the kernel fills in a source of 0.0.0.0 on raw sockets.)
        P(24, "dhcp request broadcast", "wlan0", MN_WLAN, "255.255.255.255", sport=68,
          dport=67),
        P(25, "dhcp renew to intranet server", "wlan0", MN_WLAN, DHCP_SERVER, sport=68,
          dport=67),
        # Everything else.
        P(30, "coa to internet", "wlan0", MN_WLAN, INTERNET_HOST),
        P(31, "coa other port to gateway", "wlan0", MN_WLAN, GATEWAY, dport=8080),
        P(32, "coa icmp to internet on wwan0", "wwan0", MN_WWAN, "198.18.61.9", kind="icmp"),
        # Into the TUN: not filtered (what goes into the tunnels).
        P(40, "hoa into the tun", "mnd0", HOME_ADDRESS, INTRANET_HOST),
        P(41, "hoa reg request into the tun", "mnd0", HOME_ADDRESS, HOME_AGENT, sport=434,
          dport=434, first=1),
    ]
    return [c.build() for c in cases]


def check_exchange(pair, tmp_path: Path, cases: list[Probe], filter_on: bool) -> None:
    sent, seen = pair.exchange(cases, tmp_path / "probes.json")
    eperm = sent["EPERM"]
    wrong = []
    for c in cases:
        through = c.passes or not filter_on
        res = sent["sent"][str(c.id)]
        if c.iface == "mnd0":
            got = c.id in sent["tun"]
        else:
            frames = seen.get(c.id, [])
            got = bool(frames)
            # What arrived is what was sent, on the link it was sent on.
            for f in frames:
                if (f["src"], f["dst"]) != (c.src, c.dst) or \
                        f["iface"] != {"wlan0": "peer0", "wwan0": "peer1"}[c.iface]:
                    wrong.append(f"{c.id} {c.what}: arrived as {f}")
        if got != through:
            wrong.append(f"{c.id} {c.what}: {'through' if got else 'not seen'}, "
                         f"expected {'through' if through else 'dropped'}")
        if res != (0 if through else eperm):
            wrong.append(f"{c.id} {c.what}: sendto -> {res}, expected "
                         f"{0 if through else eperm}")
    assert not wrong, "\n".join(wrong)


def test_filter_on_drops_exactly_the_leaks(pair, tmp_path):
    driver(pair, "remove", TABLE)
    assert apply(pair, tmp_path, spec_text()) > 0
    listed = pair.sh(pair.mn, "nft", "list", "table", "inet", TABLE).stdout
    assert "hook postrouting" in listed and "counter hoa_dropped" in listed
    assert counters(pair) == {"hoa_dropped": 0, "intranet_dropped": 0}

    cases = probes()
    check_exchange(pair, tmp_path, cases, filter_on=True)

    want_hoa = sum(1 for c in cases if c.counter == "hoa_dropped")
    want_intr = sum(1 for c in cases if c.counter == "intranet_dropped")
    assert counters(pair) == {"hoa_dropped": want_hoa, "intranet_dropped": want_intr}
    assert driver(pair, "dropped", TABLE).stdout.strip() == str(want_hoa + want_intr)

    # Twice: the verdicts do not depend on state (no conntrack involvement).
    check_exchange(pair, tmp_path, probes(), filter_on=True)
    assert driver(pair, "dropped", TABLE).stdout.strip() == str(2 * (want_hoa + want_intr))


def test_apply_again_replaces_in_one_transaction(pair, tmp_path):
    apply(pair, tmp_path, spec_text())
    check_exchange(pair, tmp_path, [probes()[0]], filter_on=True)
    assert driver(pair, "dropped", TABLE).stdout.strip() != "0"
    # A new spec: the home agent outside every prefix, only wlan0 filtered.
    before = counters(pair)
    apply(pair, tmp_path, spec_text(intranet=["198.19.128.0/17"], ifaces="wlan0"))
    assert sum(1 for line in tables(pair) if line.strip() == f"table inet {TABLE}") == 1
    # The same counters: they count from the table's creation.
    assert counters(pair) == before
    P = Probe
    cases = [c.build() for c in (
        # The home agent counts as intranet even when no prefix covers it.
        P(50, "udp to ha outside the prefixes", "wlan0", MN_WLAN, HOME_AGENT, passes=False,
          counter="intranet_dropped"),
        P(51, "ip-in-ip to ha", "wlan0", MN_WLAN, HOME_AGENT, kind="ipip", passes=False,
          counter="intranet_dropped"),
        P(52, "probe", "wlan0", MN_WLAN, HOME_AGENT, sport=40434, dport=434, first=1),
        # 198.19.1.0/24 is no longer intranet; wwan0 is no longer filtered.
        P(53, "old intranet prefix", "wlan0", MN_WLAN, "198.19.1.20"),
        P(54, "hoa on wwan0", "wwan0", HOME_ADDRESS, "198.18.61.9"),
        P(55, "hoa on wlan0", "wlan0", HOME_ADDRESS, INTERNET_HOST, passes=False,
          counter="hoa_dropped"),
    )]
    check_exchange(pair, tmp_path, cases, filter_on=True)
    assert counters(pair) == {"hoa_dropped": before["hoa_dropped"] + 1,
                              "intranet_dropped": before["intranet_dropped"] + 2}


def test_open_lets_everything_pass_and_apply_filters_again(pair, tmp_path):
    """What mnd does on a trusted verdict (open) and on the next untrusted network (apply):
    the table, its hook and its counters stay; only the rules come and go."""
    apply(pair, tmp_path, spec_text())
    before = counters(pair)
    assert driver(pair, "open", TABLE).stdout == f"opened {TABLE}\n"
    listed = pair.sh(pair.mn, "nft", "list", "table", "inet", TABLE).stdout
    assert "hook postrouting" in listed and " drop" not in listed and "accept\n" not in \
        listed.split("policy accept;", 1)[1], listed
    check_exchange(pair, tmp_path, probes(), filter_on=False)
    assert counters(pair) == before
    apply(pair, tmp_path, spec_text())
    cases = probes()
    check_exchange(pair, tmp_path, cases, filter_on=True)
    drops = sum(1 for c in cases if c.counter)
    assert sum(counters(pair).values()) == sum(before.values()) + drops
    # Opening what is not there is fine (mnd's first trusted verdict after a clean start).
    driver(pair, "remove", TABLE)
    assert driver(pair, "open", TABLE).stdout == f"opened {TABLE}\n"
    assert not any(TABLE in line for line in tables(pair))


def test_refused_spec_leaves_nothing(pair, tmp_path):
    driver(pair, "remove", TABLE)
    # "counter" passes failclosed.c's character check but is an nftables keyword: the
    # error comes from nftables, one line, and no table appears.
    f = tmp_path / "bad"
    f.write_text(spec_text(table="counter"))
    r = driver(pair, "apply", str(f), check=False)
    assert r.returncode == 1
    assert "Error: syntax error" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    # An injection attempt never reaches nftables.
    f.write_text(spec_text(ifaces='wlan0" } accept; flush ruleset; {"'))
    r = driver(pair, "apply", str(f), check=False)
    assert r.returncode == 1 and "bad interface list" in r.stderr, r.stderr
    assert not any("table inet" in line for line in tables(pair))


def test_after_remove_everything_passes(pair, tmp_path):
    apply(pair, tmp_path, spec_text())
    assert driver(pair, "remove", TABLE).stdout == f"removed {TABLE}\n"
    assert not any(TABLE in line for line in tables(pair))
    # Removing what is not there is fine; reading its counters is not.
    driver(pair, "remove", TABLE)
    r = driver(pair, "dropped", TABLE, check=False)
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    check_exchange(pair, tmp_path, probes(), filter_on=False)


def test_apply_time(pair, tmp_path):
    """How long the filter takes to go on and off (mnd calls apply synchronously on leaving
    a trusted network, open on a trusted verdict). Printed for the report; bounded loosely
    (shared 2-core machine; ASan builds are ~10x slower)."""
    f = tmp_path / "spec"
    f.write_text(spec_text())
    r = driver(pair, "bench", str(f), "30")
    rows = [[int(x) for x in line.split()] for line in r.stdout.splitlines()]
    assert len(rows) == 30 and all(len(x) == 2 for x in rows), r.stdout
    bound = 250_000 if os.environ.get("MM_FC_SANITIZED") == "1" else 50_000
    for i, what in ((0, "apply"), (1, "open")):
        us = [x[i] for x in rows]
        warm = us[1:]
        print(f"\nfail-closed {what} (us): first in process {us[0]}, then median "
              f"{statistics.median(warm):.0f}, min {min(warm)}, max {max(warm)}")
        assert statistics.median(warm) < bound
    driver(pair, "remove", TABLE)
