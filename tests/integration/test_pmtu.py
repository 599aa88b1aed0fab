"""Tunnel path MTU at the home agent (RFC 2003 §5.1 "Tunnel MTU Discovery", RFC 1191).

test_tunnel_pmtu: mn registered on int-x (IP-in-IP to its care-of address); rint-x's LAN
toward mn gets a smaller MTU, so the home agent's outer packets do not fit the path to the
care-of address. rint-x answers them with ICMP "fragmentation needed"; from then on the home
agent must answer every inner packet with DF that does not fit the tunnel with its own ICMP
"fragmentation needed" (Next-Hop MTU = path MTU - 20) to the correspondent, whose TCP then
lowers its segment size: the stream cn -> home address, started with full-size segments
(MSS 1460), must complete with every byte (no black hole). `ping -M do -s 1400` from cn gets
"Frag needed" (or, once cn cached the PMTU, "message too long") with that MTU, and hactl
stats counts frag_needed_sent > 0.
"""

from __future__ import annotations

import re
import time

from mip4env import HA_ADDRESS, HOME_ADDRESS, result
from tcpstream import StreamPair

LAN_MTU = 1300                     # rint-x's LAN bridge toward mn: below 1468 + 20
IPIP_OVERHEAD = 20                 # RFC 2003 §3.1 outer header
ANNOUNCED_MTU = LAN_MTU - IPIP_OVERHEAD
STREAM_BYTES = 2_000_000           # carried after the MTU drop
STREAM_TIMEOUT = 30.0


def test_tunnel_pmtu(env):
    env.go_home()
    env.start_ha()
    env.start_mnd()
    st = env.wait_home(timeout=15)
    assert st.get("home") is True, st
    coa = env.go("int-x")
    b, _ = env.wait_registered(coa, timeout=20)
    assert b["encapsulation"] == "ipip", b

    # the path HA -> care-of address now has a smaller MTU than the tunnel's packets
    env.topo.run("rint-x", ["ip", "link", "set", "lan", "mtu", str(LAN_MTU)])
    link = env.topo.run("rint-x", ["ip", "-o", "link", "show", "lan"]).stdout
    assert f"mtu {LAN_MTU} " in link, link

    dp0 = env.stats()["datapath"]
    # large writes at a high rate: the sender's segments are full-size (MSS from the
    # 1500-byte links), so each is too big for the tunnel until cn learns the smaller MTU
    s = StreamPair(env.topo, env.rundir, HOME_ADDRESS, rate=4_000_000, chunk=16000,
                   name="pmtu-stream")
    env.streams.append(s)
    t0 = time.monotonic()
    s.start(timeout=STREAM_TIMEOUT, min_bytes=100000)
    s.wait_progress(STREAM_BYTES, STREAM_TIMEOUT, "stream through the smaller-MTU tunnel")
    elapsed = time.monotonic() - t0
    dp1 = env.stats()["datapath"]
    for k in ("frag_needed_sent", "too_big_dropped", "pmtu_learned"):
        assert isinstance(dp1.get(k), int), f"hactl stats has no datapath.{k}: {dp1}"
    sent = dp1["frag_needed_sent"] - dp0["frag_needed_sent"]
    assert sent > 0, f"ha sent no fragmentation needed: {dp1}"
    assert dp1["pmtu_learned"] > 0, dp1
    assert dp1["too_big_dropped"] >= sent, dp1
    lines = env.ha.find(r"sent fragmentation needed, MTU " + str(ANNOUNCED_MTU) + r"\b")
    assert lines, "ha logged no 'sent fragmentation needed, MTU %d' line" % ANNOUNCED_MTU

    fin = s.stop()
    rx, tx = fin["rx"], fin["tx"]
    assert tx.get("error") is None, f"sender: {tx}"
    assert rx.get("error") is None, f"receiver: {rx}"
    assert rx.get("mismatch_at") is None, f"byte mismatch at offset {rx['mismatch_at']}"
    assert rx.get("extra_connections") == 0, rx
    assert tx.get("done") and tx.get("peer_closed"), f"sender did not finish cleanly: {tx}"
    assert rx.get("eof") is True, f"receiver did not see the end of the stream: {rx}"
    assert tx["sent"] >= STREAM_BYTES and rx["received"] == tx["sent"], \
        f"sent {tx['sent']} bytes but received {rx['received']}"
    env.streams.remove(s)

    # the PMTU cn learnt for the home address is what the home agent announced
    rt = env.topo.run("cn", ["ip", "route", "get", HOME_ADDRESS]).stdout
    assert re.search(rf"\bmtu {ANNOUNCED_MTU}\b", rt), f"cn's route to {HOME_ADDRESS}: {rt}"

    # a fresh cn (cached PMTU flushed): ping with DF gets the home agent's ICMP
    env.topo.run("cn", ["ip", "route", "flush", "cache"])
    dp2 = env.stats()["datapath"]
    p = env.topo.run("cn", ["ping", "-n", "-M", "do", "-s", "1400", "-c", "3", "-i", "0.3",
                            "-W", "1", HOME_ADDRESS], check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0, f"a 1428-byte ping with DF went through: {out}"
    m = re.search(r"Frag needed and DF set \(mtu = (\d+)\)|message too long, mtu[= ](\d+)",
                  out)
    assert m, f"ping did not report fragmentation needed: {out}"
    assert int(m.group(1) or m.group(2)) == ANNOUNCED_MTU, out
    assert f"From {HA_ADDRESS}" in out, f"the ICMP did not come from the home agent: {out}"
    dp3 = env.stats()["datapath"]
    assert dp3["frag_needed_sent"] > dp2["frag_needed_sent"], (dp2, dp3)
    result(f"test_tunnel_pmtu: LAN MTU {LAN_MTU}: {tx['sent']} bytes through the tunnel in "
           f"{elapsed:.1f} s, ha sent {dp1['frag_needed_sent']} fragmentation needed "
           f"(MTU {ANNOUNCED_MTU}), dropped {dp1['too_big_dropped']} too-big packets; "
           f"ping: {m.group(0)}")
