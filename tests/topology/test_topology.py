"""Self-test of the namespace topology (tests/topology/topo.py): RFC 5266 Figure 1.

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/topology/test_topology.py
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

import topo

HA = topo.ADDRESSES["ha"]
CN = topo.ADDRESSES["cn"]
VPNGW = topo.ADDRESSES["vpngw"]
VPNGW_INT = topo.ADDRESSES["vpngw-int"]
HERE = os.path.dirname(os.path.abspath(__file__))


def in_net(addr: str, net: str) -> bool:
    return ipaddress.ip_address(addr) in ipaddress.ip_network(topo.NETS[net].lan)


def in_dhcp_range(addr: str, net: str) -> bool:
    lo, hi = topo.NETS[net].dhcp_range
    a = ipaddress.ip_address(addr)
    return ipaddress.ip_address(lo) <= a <= ipaddress.ip_address(hi)


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie waiting for its (re)parent to reap it."""
    return not topo._alive(pid)


class LinkMonitor:
    """``ip -o monitor link`` in a namespace, lines collected in the background."""

    LINE = re.compile(r"^\d+: ([^:@\s]+)(?:@\S+)?: <([^>]*)>.*? state (\S+)")

    def __init__(self, t: topo.Topology, node: str) -> None:
        self.lines: list[tuple[str, list[str], str]] = []
        self._cond = threading.Condition()
        self.proc = t.spawn(node, ["ip", "-o", "monitor", "link"], stdout=subprocess.PIPE,
                            text=True)
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.3)          # let it subscribe before anything happens

    def _read(self) -> None:
        for line in self.proc.stdout:
            m = self.LINE.match(line)
            if m:
                with self._cond:
                    self.lines.append((m.group(1), m.group(2).split(","), m.group(3)))
                    self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def wait_carrier(self, iface: str, since: int, want_loss: bool, timeout: float = 3.0) -> list:
        """Events of ``iface`` after ``since``; waits for carrier gain (LOWER_UP), preceded
        by a carrier loss (NO-CARRIER) if ``want_loss``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                ev = [e for e in self.lines[since:] if e[0] == iface]
                lost = [i for i, e in enumerate(ev) if "NO-CARRIER" in e[1]]
                gained = [i for i, e in enumerate(ev) if "LOWER_UP" in e[1] and e[2] == "UP"]
                if gained and (not want_loss or (lost and lost[0] < gained[-1])):
                    return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return ev
                self._cond.wait(left)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)


def operstate(t: topo.Topology, iface: str) -> tuple[str, list[str]]:
    rec = t.link_state("mn", iface)
    return rec["operstate"], rec["flags"]


# ------------------------------------------------------------------------------------

def test_build(topology):
    t = topology
    assert t.build_seconds is not None and t.build_seconds < 3.0, t.build_seconds
    print(f"build time {t.build_seconds:.3f} s")
    existing = set(os.listdir("/run/netns"))
    assert set(t.namespaces) <= existing
    assert all(n.startswith(t.prefix + "-") for n in t.namespaces)
    for node in topo.NODES:
        links = json.loads(t.run(node, ["ip", "-j", "link"]).stdout)
        for link in links:
            assert len(link["ifname"]) <= 15, link["ifname"]
        lo = [link for link in links if link["ifname"] == "lo"][0]
        assert "UP" in lo["flags"], node
        # IPv6 off everywhere, rp_filter off
        v6 = t.run(node, ["sysctl", "-n", "net.ipv6.conf.all.disable_ipv6",
                          "net.ipv6.conf.default.disable_ipv6", "net.ipv4.conf.all.rp_filter"]
                   ).stdout.split()
        assert v6 == ["1", "1", "0"], (node, v6)
        assert t.run(node, ["ip", "-6", "-o", "addr"]).stdout.strip() == "", node
        fwd = t.run(node, ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip()
        assert fwd == ("1" if node in topo.ROUTERS else "0"), (node, fwd)
    # the internet core knows nothing of the intranet; icore nothing of the internet
    inet_routes = t.run("inet", ["ip", "-4", "route"]).stdout
    assert "198.18." not in inet_routes and "default" not in inet_routes, inet_routes
    icore_routes = t.run("icore", ["ip", "-4", "route"]).stdout
    assert "default" not in icore_routes
    assert re.search(r"^198\.18\.100\.0/24 via 198\.18\.0\.2 ", icore_routes, re.M)
    assert re.search(r"^198\.19\.0\.0/24 via 198\.18\.0\.2 ", icore_routes, re.M)
    assert not re.search(r"^198\.19\.(10|20)\.", icore_routes, re.M)
    # mn starts unplugged
    for iface in topo.MN_IFACES:
        assert t.attachment(iface) is None
        state, flags = operstate(t, iface)
        assert state == "DOWN" and "NO-CARRIER" in flags


def test_outside_cannot_reach_home_agent(topo_clean):
    t = topo_clean
    a = t.attach("wlan0", "ext-a")
    assert in_net(a, "ext-a")
    assert t.ping("mn", VPNGW, count=2, interval=0.2)
    with t.udp_listener("ha", 434) as ha_l, t.udp_listener("vpngw", 4500) as gw_l:
        # control: the gateway's public address hears us
        assert t.udp_send("mn", VPNGW, 4500, b"to-gw")
        assert gw_l.wait_for(b"to-gw", 2.0) is not None
        # the home agent does not, whatever the datagram
        t.udp_send("mn", HA, 434, b"regreq-from-outside", count=3)
        assert ha_l.wait_for(None, 1.5) is None, ha_l.datagrams
    for dst in (HA, CN, topo.ADDRESSES["icore"], topo.ADDRESSES["icore-home"], VPNGW_INT,
                "198.18.100.1", "198.18.11.1"):
        assert not t.ping("mn", dst, timeout=0.5), f"{dst} reachable from ext-a"


def test_inside_reaches_home_network(topo_clean):
    t = topo_clean
    a = t.attach("wlan0", "int-x")
    assert in_net(a, "int-x")
    assert t.ping("mn", HA, count=2, interval=0.2)
    assert t.ping("mn", CN, count=2, interval=0.2)
    assert t.ping("mn", VPNGW, count=1)           # gateway reachable from inside
    assert t.ping("ha", a)                         # c mode: the HA reaches the CoA
    with t.udp_listener("ha", 434) as ha_l:
        assert t.udp_send("mn", HA, 434, b"regreq")
        got = ha_l.wait_for(b"regreq", 2.0)
        assert got is not None and got[0] == a, got   # no NAT inside by default
    # nothing of the internet beyond the DMZ is reachable from inside
    assert not t.ping("mn", topo.NETS["ext-b"].gateway, timeout=0.5)


def test_vpngw_does_not_forward_between_ext0_and_int0(topo_clean):
    t = topo_clean
    assert t.run("vpngw", ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
    # give the internet core a route to the intranet via vpngw, as an attacker would
    t.run("inet", ["ip", "route", "add", topo.INTRANET, "via", VPNGW])
    try:
        with t.udp_listener("ha", 9000) as ha_l, t.udp_listener("inet", 9001) as inet_l:
            t.udp_send("inet", HA, 9000, b"in", count=2)           # ext0 -> int0
            t.udp_send("ha", topo.ADDRESSES["inet"], 9001, b"out", count=2)  # int0 -> ext0
            assert ha_l.wait_for(b"in", 1.0) is None
            assert inet_l.wait_for(b"out", 0.5) is None
            assert not t.ping("inet", HA, timeout=0.5)
            # negative control: without the filter the same datagrams do pass, so it is
            # the filter (not a missing route) that stops them
            t.vpngw_forward_filter(False)
            try:
                t.udp_send("inet", HA, 9000, b"in2")
                t.udp_send("ha", topo.ADDRESSES["inet"], 9001, b"out2")
                assert ha_l.wait_for(b"in2", 2.0) is not None
                assert inet_l.wait_for(b"out2", 2.0) is not None
            finally:
                t.vpngw_forward_filter(True)
            t.udp_send("inet", HA, 9000, b"in3")
            assert ha_l.wait_for(b"in3", 1.0) is None
    finally:
        t.run("inet", ["ip", "route", "del", topo.INTRANET, "via", VPNGW])
    counters = t.run("vpngw", ["nft", "list", "table", "inet", "mm_topo_vpngw"]).stdout
    assert re.search(r"packets [1-9]", counters), counters


def test_nat_ext_a_rewrites_source(topo_clean):
    t = topo_clean
    assert t.nat("ext-a")
    a = t.attach("wlan0", "ext-a")
    with t.udp_listener("vpngw", 4500) as l:
        t.udp_send("mn", VPNGW, 4500, b"natted")
        got = l.wait_for(b"natted", 2.0)
        assert got is not None and got[0] == topo.ADDRESSES["rext-a-up"] == "198.19.110.2", got
        # nothing from outside reaches the private LAN while NATed
        assert not t.ping("vpngw", a, timeout=0.5)
        t.set_nat("ext-a", False)
        t.udp_send("mn", VPNGW, 4500, b"plain")
        got = l.wait_for(b"plain", 2.0)
        assert got is not None and got[0] == a, got
        assert t.ping("vpngw", a)
        t.set_nat("ext-a", True)
        t.udp_send("mn", VPNGW, 4500, b"natted-again")
        got = l.wait_for(b"natted-again", 2.0)
        assert got is not None and got[0] == "198.19.110.2", got


def test_nat_inside_intranet(topo_clean):
    t = topo_clean
    a = t.attach("wlan0", "int-x")
    t.set_nat("int-x", True)
    assert t.nat("int-x")
    assert "198.18.11.0/24" not in t.run("icore", ["ip", "route"]).stdout
    with t.udp_listener("ha", 434) as l:
        t.udp_send("mn", HA, 434, b"behind-nat")
        got = l.wait_for(b"behind-nat", 2.0)
        assert got is not None and got[0] == "198.18.211.2", got
        assert t.ping("mn", HA)
        assert not t.ping("ha", a, timeout=0.5)
        t.set_nat("int-x", False)
        t.udp_send("mn", HA, 434, b"no-nat")
        got = l.wait_for(b"no-nat", 2.0)
        assert got is not None and got[0] == a, got
        assert t.ping("ha", a)


@pytest.mark.parametrize("net", ["int-x", "int-y", "int-f", "ext-a", "ext-b"])
def test_dhcp_hands_out_subnet_addresses(topo_clean, net):
    t = topo_clean
    assert t.dhcp_enabled(net)
    a = t.attach("wlan0", net)
    assert in_dhcp_range(a, net), a
    assert t.attachment("wlan0") == net
    assert t.mn_addresses("wlan0") == [a]
    routes = json.loads(t.run("mn", ["ip", "-j", "-4", "route", "show", "default"]).stdout)
    assert routes == [{"dst": "default", "gateway": topo.NETS[net].gateway, "dev": "wlan0",
                       "metric": 100, "flags": []}], routes
    assert t.ping("mn", topo.NETS[net].gateway)
    leases = open(os.path.join(t.rundir, f"{net}.leases")).read()
    assert a in leases and "02:6d:6e:00:00:01" in leases, leases


def test_dhcp_is_a_per_network_flag(topo_clean):
    t = topo_clean
    pid = t.dnsmasq_pid("int-f")
    assert pid is not None
    t.set_dhcp("int-f", False)
    assert not t.dhcp_enabled("int-f") and t.dnsmasq_pid("int-f") is None
    assert gone(pid)
    with pytest.raises(ValueError):
        t.attach("wlan0", "int-f")
    assert t.attach("wlan0", "int-f", dhcp=False) is None
    assert t.attachment("wlan0") == "int-f" and t.mn_addresses("wlan0") == []
    t.set_dhcp("int-f", True)
    assert in_net(t.dhcp("wlan0"), "int-f")
    with pytest.raises(ValueError):
        t.attach("wlan0", "home")            # home has no DHCP


def test_roaming_home_int_x_int_y_ext_a(topo_clean):
    t = topo_clean
    mon = LinkMonitor(t, "mn")
    try:
        # at home: static home address, deregistered
        m = mon.mark()
        assert t.attach("wlan0", "home", dhcp=False) is None
        t.configure_static("wlan0", f"{topo.HOME_ADDRESS}/24", topo.ADDRESSES["icore-home"])
        ev = mon.wait_carrier("wlan0", m, want_loss=False)
        assert any("LOWER_UP" in f for _, f, _ in ev), ev
        assert operstate(t, "wlan0")[0] == "UP"
        assert t.attachment("wlan0") == "home"
        assert t.ping("mn", HA) and t.ping("mn", CN)
        assert t.mn_addresses("wlan0") == [topo.HOME_ADDRESS]
        previous = topo.HOME_ADDRESS
        seen = {previous}
        for net, reach, unreach in (("int-x", [HA, CN, VPNGW], []),
                                    ("int-y", [HA, CN, VPNGW], []),
                                    ("ext-a", [VPNGW], [HA, CN])):
            m = mon.mark()
            a = t.attach("wlan0", net)
            ev = mon.wait_carrier("wlan0", m, want_loss=True)
            lost = [i for i, e in enumerate(ev) if "NO-CARRIER" in e[1]]
            gained = [i for i, e in enumerate(ev) if "LOWER_UP" in e[1]]
            assert lost and gained and lost[0] < gained[-1], f"{net}: carrier events {ev}"
            assert operstate(t, "wlan0")[0] == "UP"
            assert in_net(a, net) and a not in seen, (net, a, seen)
            assert t.mn_addresses("wlan0") == [a], "old address still there"
            assert t.attachment("wlan0") == net
            for dst in reach:
                assert t.ping("mn", dst), f"{dst} unreachable on {net}"
            for dst in unreach:
                assert not t.ping("mn", dst, timeout=0.5), f"{dst} reachable on {net}"
            seen.add(a)
            previous = a
        # unplugged: carrier gone, addresses and routes gone
        m = mon.mark()
        t.detach("wlan0")
        state, flags = operstate(t, "wlan0")
        assert state == "DOWN" and "NO-CARRIER" in flags, (state, flags)
        assert t.mn_addresses("wlan0") == []
        assert t.run("mn", ["ip", "-4", "route"]).stdout.strip() == ""
        assert t.attachment("wlan0") is None
        assert not t.ping("mn", VPNGW, timeout=0.3)
        print(f"addresses while roaming: {sorted(seen)}; last {previous}")
    finally:
        mon.close()


def test_two_interfaces_at_once(topo_clean):
    t = topo_clean
    a_wlan = t.attach("wlan0", "int-x")
    a_wwan = t.attach("wwan0", "ext-b")
    assert in_net(a_wlan, "int-x") and in_net(a_wwan, "ext-b")
    assert t.attachment("wlan0") == "int-x" and t.attachment("wwan0") == "ext-b"
    routes = json.loads(t.run("mn", ["ip", "-j", "-4", "route", "show", "default"]).stdout)
    assert sorted((r["dev"], r["gateway"], r["metric"]) for r in routes) == [
        ("wlan0", "198.18.11.1", 100), ("wwan0", "198.19.20.1", 200)], routes
    assert t.ping("mn", HA, iface="wlan0")
    assert t.ping("mn", VPNGW, iface="wwan0")
    assert not t.ping("mn", HA, iface="wwan0", timeout=0.5)   # LTE is outside
    with t.udp_listener("vpngw", 4500) as l:
        # public LTE address seen as is (no NAT on ext-b)
        t.run("mn", [topo.PYTHON, "-c",
                     "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                     "s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'wwan0'); "
                     f"s.sendto(b'lte', ('{VPNGW}', 4500))"])
        got = l.wait_for(b"lte", 2.0)
        assert got is not None and got[0] == a_wwan, got
    # losing Wi-Fi leaves LTE alone
    t.detach("wlan0")
    assert t.mn_addresses("wwan0") == [a_wwan]
    assert t.ping("mn", VPNGW)


def test_gateway_reachable_from_inside_toggle(topo_clean):
    t = topo_clean
    t.attach("wlan0", "int-x")
    assert t.ping("mn", VPNGW)
    t.gateway_reachable_from_inside(False)
    assert not t.ping("mn", VPNGW, timeout=0.5)
    assert t.ping("mn", HA)
    t.gateway_reachable_from_inside(True)
    assert t.ping("mn", VPNGW)


def test_two_topologies_coexist(topo_clean, second_topology):
    t1, t2 = topo_clean, second_topology
    assert t1.prefix != t2.prefix
    assert not set(t1.namespaces) & set(t2.namespaces)
    a1 = t1.attach("wlan0", "int-x")
    a2 = t2.attach("wlan0", "int-y")
    with t1.udp_listener("ha", 5000) as l1, t2.udp_listener("ha", 5000) as l2:
        t1.udp_send("mn", HA, 5000, b"from-t1")
        t2.udp_send("mn", HA, 5000, b"from-t2")
        g1, g2 = l1.wait_for(b"from-t1", 2.0), l2.wait_for(b"from-t2", 2.0)
        assert g1 is not None and g1[0] == a1, g1
        assert g2 is not None and g2[0] == a2, g2
        assert l1.wait_for(b"from-t2", 0.3) is None and l2.wait_for(b"from-t1", 0.3) is None
        started = [t2.dnsmasq_pid(n) for n in topo.NETS if t2.dnsmasq_pid(n)]
    assert len(started) == 5
    # a tracked background process, and an untracked daemon (double fork via run())
    started.append(t2.spawn("ha", ["sleep", "600"]).pid)
    t2.run("cn", ["sh", "-c", "sleep 600 >/dev/null 2>&1 </dev/null &"])
    daemons = topo._pids_in_namespaces([t2.ns("cn")])
    assert len(daemons) == 1
    started += list(daemons)
    t2.teardown()
    t2.teardown()                                  # idempotent
    left = t2.leftovers()
    assert left == {"namespaces": [], "pids": [], "state_dir": False}, left
    assert not [n for n in os.listdir("/run/netns") if n.startswith(t2.prefix + "-")]
    for pid in started:
        assert gone(pid), f"pid {pid} of the torn down run alive"
    # the first one is untouched
    assert all(os.path.exists(f"/run/netns/{n}") for n in t1.namespaces)
    assert t1.ping("mn", HA) and t1.mn_addresses("wlan0") == [a1]
    assert all(t1.dnsmasq_pid(n) for n in topo.NETS if t1.dhcp_enabled(n))


def _start_child(code: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=HERE, PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                         env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    line = ""
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if line.startswith("ready ") or not line:
            break
    assert line.startswith("ready "), f"child did not come up: {line!r}"
    return p, line.split()[1]


def _ns_of(prefix: str) -> list[str]:
    return [n for n in os.listdir("/run/netns") if n.startswith(prefix + "-")]


def test_sweep_removes_runs_of_dead_owners_only(topology):
    code = ("import time, topo\n"
            "t = topo.Topology(); t.build(); t.attach('wlan0', 'int-x')\n"
            "print('ready', t.prefix, flush=True)\n"
            "time.sleep(600)\n")
    p, prefix = _start_child(code)
    try:
        assert len(_ns_of(prefix)) == len(topo.NODES)
        victims = topo._pids_in_namespaces(_ns_of(prefix))
        assert len(victims) >= 5                   # its dnsmasq instances
        # alive: sweep must not touch it
        assert prefix not in topo.sweep()
        assert len(_ns_of(prefix)) == len(topo.NODES)
        p.kill()                                    # SIGKILL: no chance to clean up
        p.wait(timeout=10)
        assert len(_ns_of(prefix)) == len(topo.NODES)   # leftovers are really there
        removed = topo.sweep()
        assert prefix in removed and topology.prefix not in removed
        assert _ns_of(prefix) == []
        assert not os.path.exists(f"/run/mip4-mobike-topo/{prefix}")
        time.sleep(0.1)
        for pid in victims:
            assert gone(pid), f"{pid} survived the sweep"
        assert all(os.path.exists(f"/run/netns/{n}") for n in topology.namespaces)
        assert topology.ping("ha", CN)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        topo.sweep()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_tears_down_on_signal(sig):
    cli = os.path.join(HERE, "topo-cli")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.Popen(["/usr/bin/python3", cli, "up", "--attach", "wlan0=int-x"],
                         stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            out.append(line)
            if line.startswith("ready ") or not line:
                break
        assert out[-1].startswith("ready "), "".join(out)
        prefix = out[-1].split()[1]
        text = "".join(out)
        assert f"{prefix}-mn" in text and "198.18.11." in text and "198.19.0.2" in text, text
        pids = topo._pids_in_namespaces(_ns_of(prefix))
        assert len(_ns_of(prefix)) == len(topo.NODES) and pids
        p.send_signal(sig)
        rest = p.communicate(timeout=30)[0]
        assert p.returncode == 0 and f"torn down {prefix}" in rest, rest
        assert _ns_of(prefix) == []
        assert not os.path.exists(f"/run/mip4-mobike-topo/{prefix}")
        for pid in pids:
            assert gone(pid), pid
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        topo.sweep()


def test_failed_build_leaves_nothing(topology, monkeypatch):
    prefix = "zfail" + format(os.getpid() % 1000, "03d")
    monkeypatch.setattr(topo, "DNSMASQ", "/nonexistent/dnsmasq")
    t = topo.Topology(prefix=prefix)
    with pytest.raises(topo.TopologyError, match="dnsmasq"):
        t.build()
    assert _ns_of(prefix) == [] and not os.path.exists(f"/run/mip4-mobike-topo/{prefix}")
    assert t.leftovers() == {"namespaces": [], "pids": [], "state_dir": False}
    # a prefix in use is refused without harming the run that owns it
    clash = topo.Topology(prefix=topology.prefix.replace(topo.GENERATED_PREFIX, "x", 1))
    clash.prefix = topology.prefix
    clash.state_dir = topo.STATE_ROOT / topology.prefix
    with pytest.raises(topo.TopologyError, match="in use"):
        clash.build()
    assert all(os.path.exists(f"/run/netns/{n}") for n in topology.namespaces)
    assert os.path.exists(f"/run/mip4-mobike-topo/{topology.prefix}/owner")
    assert topology.ping("ha", CN)
    with pytest.raises(ValueError):
        topo.Topology(prefix="m4tabc")            # reserved for generated prefixes
