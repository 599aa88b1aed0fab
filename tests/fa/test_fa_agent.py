"""ha as a foreign agent, end to end (issue 7): real namespaces (tests/topology), real ha
binaries (home agent in "ha", foreign agent in "rint-f"), a python mobile node in "mn" on
int-f (mnagent.py). RFC 5944 §2.3 (advertisements, solicitations, sequence numbers), §3.7
(relaying), §4.2.2 (delivery without ARP), RFC 3024 §4.2 (reverse tunnel). Each test < 60 s.
"""

from __future__ import annotations

import json
import os
import time


import faenv
import mip4env
import mip4msg
from faenv import CN, FA_ADDR, FA_IF, FA_NODE, FA_TABLE, HA_ADDR, HOA, MN_MAC
from tsharkcheck import Capture


def registered(env: faenv.FaEnv) -> tuple[dict, dict]:
    """Register through the FA; both agents agree."""
    rep = env.register(lifetime=300)
    assert rep is not None, f"no Registration Reply through the FA\n{env.logs()}"
    assert rep.code == 0, f"denied: code {rep.code}\n{env.logs()}"
    assert rep.auth_ok is True, "the reply's MN-HA authenticator does not verify"
    v = env.wait(lambda: env.visitors().get(HOA), 5, "the visitor on the FA")
    b = env.wait(lambda: env.bindings().get(HOA), 5, "the binding on the HA")
    return v, b


def test_advertisements_and_solicitations(env):
    """1. Solicitation answered within a few ms; periodic advertisements; tshark decodes
    them cleanly; sequence numbers from 0 after start, and again below 256 after a
    restart (RFC 5944 §2.3.2)."""
    env.mn_attach()
    cap = Capture(env.t, FA_NODE, FA_IF, str(env.rundir / "adv.pcapng"), bpf="icmp").start()
    adv_file = env.rundir / "adv1.json"
    lis = env.mn_spawn("listen", "wlan0", "4.5", str(adv_file))
    env.start_fa()
    time.sleep(1.2)
    answers = []
    for i in range(3):
        if i:
            time.sleep(1.05)      # one multicast answer per second (RFC 5944 §2.3)
        answers.append(env.solicit())
    lis.wait(15)
    first = json.loads(adv_file.read_text())
    seqs = [a["seq"] for a in first]
    lat = [a["latency_ms"] for a in answers]
    faenv.result(f"solicitation -> advertisement: {', '.join(f'{x} ms' for x in lat)}")
    assert all(x is not None and x < 20 for x in lat), f"slow or missing answers: {lat}"
    assert seqs and seqs[0] == 0, f"first advertisement after start has seq {seqs[:3]}"
    assert seqs == list(range(len(seqs))), f"sequence numbers not consecutive: {seqs}"
    assert len(seqs) >= 5, f"only {len(seqs)} advertisements in 4.5 s: {seqs}"
    a0 = first[0]
    assert a0["src"] == FA_ADDR and a0["dst"] == "224.0.0.1" and a0["ttl"] == 1, a0
    assert a0["coa"] == [FA_ADDR] and a0["reg_lifetime"] == 600, a0
    assert a0["flags"] & 0x8000 and a0["flags"] & 0x1000 and a0["flags"] & 0x0100, \
        f"R, F, T not all set: {a0['flags']:#06x}"
    assert not a0["flags"] & 0x2000, "H set on a foreign agent that is no home agent here"
    assert a0["prefix_lengths"] == [24], a0
    gaps = [b["t"] - a["t"] for a, b in zip(first, first[1:])]
    faenv.result(f"advertisement gaps (s, periodic and answers): {[round(g, 3) for g in gaps]}")
    st = env.fa_stats()
    assert st["solicitations"] == 3 and st["answers_multicast"] >= 3, st

    # restart: the numbers start again at 0 (< 256: a mobile node sees the reboot, §2.4.4)
    before = seqs[-1]
    assert env.stop_fa() == 0
    adv_file2 = env.rundir / "adv2.json"
    lis = env.mn_spawn("listen", "wlan0", "2.5", str(adv_file2))
    env.start_fa()
    lis.wait(15)
    seqs2 = [a["seq"] for a in json.loads(adv_file2.read_text())]
    faenv.result(f"sequence numbers: first run {seqs}, after restart {seqs2}")
    assert seqs2 and seqs2[0] == 0 and seqs2[0] < before and max(seqs2) < 256, seqs2
    cap.stop()
    assert cap.count("icmp.type == 9") >= len(seqs) + len(seqs2) - 1
    assert cap.count("icmp.type == 10") == 3
    problems = cap.problems()
    assert problems == "", f"tshark flags advertisements:\n{problems[:4000]}"


def test_register_deliver_reverse(env):
    """2. Registration through the FA (T bit, CoA = FA), relayed both ways; hactl on both
    sides; cn's pings delivered to the MN on int-f without ARP, answers reverse-tunnelled
    to the HA; tshark decodes the relayed messages cleanly."""
    env.mn_attach()
    env.start_ha()
    capl = Capture(env.t, FA_NODE, FA_IF, str(env.rundir / "fa-lan.pcapng")).start()
    capu = Capture(env.t, FA_NODE, "up0", str(env.rundir / "fa-up0.pcapng")).start()
    env.start_fa()
    adv = env.solicit()
    env.mn_route_via(adv["mac"])
    v, b = registered(env)
    faenv.result(f"registration through the FA (request sent -> reply at the MN): "
                 f"{env.last_register_ms} ms")
    assert v["home_agent"] == HA_ADDR and v["link_address"] == MN_MAC, v
    assert v["reverse_tunnel"] is True and 0 < v["remaining"] <= 300, v
    assert b["care_of_address"] == FA_ADDR and b["tunnel_endpoint"] == FA_ADDR, b
    assert b["encapsulation"] == "ipip" and b["reverse_tunnel"] is True, b
    text = env.t.run(FA_NODE, [env.hactl_bin, "--socket", str(env.fa_sock), "visitors"]).stdout
    assert HOA in text and MN_MAC in text and "1 visitor" in text, text
    # a foreign agent alone has no bindings to list: an error, exit 1
    assert env.hactl_rc(FA_NODE, env.fa_sock, ["list"]) == 1

    ks = env.fa_kernel_state()
    assert f"lladdr {MN_MAC}" in ks["neigh"] and "PERMANENT" in ks["neigh"], ks
    assert f"{HOA} dev {FA_IF}" in ks["route"], ks
    assert f"from {HOA} iif {FA_IF} lookup {FA_TABLE}" in ks["rules"], ks
    assert "default dev mipfa0" in ks["table"], ks

    ha0, fa0 = env.ha_stats()["datapath"], env.fa_stats()["datapath"]
    ech = env.rundir / "echoes.json"
    lis = env.mn_spawn("echoes", "wlan0", HOA, "6", str(ech))
    ps = env.t.ping_stats("cn", HOA, count=5, timeout=2, interval=0.2)
    lis.terminate()
    lis.wait(10)
    seen = json.loads(ech.read_text())
    faenv.result(f"cn -> home address through HA and FA: {ps}")
    assert ps["received"] == 5, f"ping {ps}\n{env.logs()}"
    ins = [e for e in seen if e["dir"] == "in"]
    outs = [e for e in seen if e["dir"] == "out"]
    assert len(ins) >= 5 and all(e["src"] == CN for e in ins), seen
    assert len(outs) >= 5, seen
    ha1, fa1 = env.ha_stats()["datapath"], env.fa_stats()["datapath"]
    assert ha1["forwarded_packets"] - ha0["forwarded_packets"] >= 5, (ha0, ha1)
    assert ha1["reverse_packets"] - ha0["reverse_packets"] >= 5, \
        f"the echo replies did not come back through the reverse tunnel: {ha0} {ha1}"
    assert fa1["delivered_packets"] - fa0["delivered_packets"] >= 5, (fa0, fa1)
    assert fa1["reverse_packets"] - fa0["reverse_packets"] >= 5, (fa0, fa1)
    # §4.2.2: the FA never ARPed for the home address (its entry stayed permanent)
    assert "PERMANENT" in env.fa_kernel_state()["neigh"]

    capl.stop()
    capu.stop()
    for cap, where in ((capl, "lan"), (capu, "up0")):
        assert cap.count("mip.type == 1") >= 1 and cap.count("mip.type == 3") >= 1, where
        problems = cap.problems()
        assert problems == "", f"tshark flags messages on {where}:\n{problems[:4000]}"
    # the relayed request went out from the care-of address to the HA
    rows = capu.fields("mip.type == 1", ["ip.src", "ip.dst", "mip.coa"])
    assert rows and rows[0][:3] == [FA_ADDR, HA_ADDR, FA_ADDR], rows


def test_hostile_input(env):
    """3. Malformed advertisements and solicitations, wrong lengths, random ICMP, garbage to
    UDP 434 (from the visited link and from outside), stray IP-in-IP: the FA keeps
    running, logs drop lines, relays nothing."""
    env.mn_attach()
    env.start_ha()
    env.start_fa()
    adv = env.solicit()
    env.mn_route_via(adv["mac"])
    mark = env.fa.mark()
    st0, ha0 = env.fa_stats(), env.ha_stats()
    grp = "224.0.0.11"
    pk = [
        faenv.ipv4(HOA, grp, 1, faenv.icmp(10, 0, b"\0" * 4, good_checksum=False), ttl=1),
        faenv.ipv4(HOA, grp, 1, faenv.icmp(10, 7, b"\0" * 4), ttl=1),          # bad code
        faenv.ipv4(HOA, grp, 1, b"\x0a\x00", ttl=1),                           # 2 bytes
        faenv.ipv4(HOA, FA_ADDR, 1, faenv.icmp(9, 0, b"\x01\x02\x00\x03"), ttl=1),  # no entries
        faenv.ipv4(HOA, FA_ADDR, 1, faenv.icmp(9, 0, bytes.fromhex(
            "01020003c6120d0100000000" "10ff0000")), ttl=1),                   # ext overruns
        faenv.ipv4(HOA, FA_ADDR, 1, faenv.icmp(42, 0, os.urandom(12))),
        faenv.ipv4(HOA, FA_ADDR, 1, faenv.icmp(13, 0, os.urandom(16))),
        faenv.ipv4(HOA, FA_ADDR, 1, faenv.icmp(200, 9, b"")),
        faenv.udp(HOA, FA_ADDR, 40001, 434, os.urandom(40), ttl=255),          # garbage
        faenv.udp(HOA, FA_ADDR, 40002, 434, b"\x01\x02", ttl=255),            # truncated
        faenv.udp(HOA, FA_ADDR, 40003, 434, env_request_cut(env), ttl=255),   # cut request
        faenv.udp(HOA, FA_ADDR, 40004, 434, b"\x03" + os.urandom(30), ttl=255),  # a "reply"
        faenv.udp(HOA, grp, 40005, 434, b"\x01" * 3, ttl=255),                # multicast
        faenv.udp(HOA, FA_ADDR, 40006, 434, b"", ttl=255),                    # empty
    ]
    env.mn_raw(pk)
    # from outside: garbage to 434, a forged reply, stray IP-in-IP for a non-visitor
    inner = faenv.ipv4(CN, "198.18.1.150", 1, faenv.icmp(8, 0, b"\0\1\0\1"))
    out = [faenv.udp(CN, FA_ADDR, 5000, 434, os.urandom(64)),
           faenv.udp(CN, FA_ADDR, 5001, 434, b"\x03\x00" + os.urandom(40)),
           faenv.ipv4(CN, FA_ADDR, 4, inner),
           faenv.ipv4(CN, FA_ADDR, 4, b"\x45\x00\x00")]
    env.t.run("cn", [faenv.PY, faenv.MNAGENT, "raw", "eth0", *[p.hex() for p in out]])
    time.sleep(0.5)
    assert env.fa.alive(), env.logs()
    st1, ha1 = env.fa_stats(), env.ha_stats()
    assert st1["relayed_requests"] == st0["relayed_requests"], (st0, st1)
    assert st1["relayed_replies"] == st0["relayed_replies"], (st0, st1)
    assert ha1["requests"] == ha0["requests"], "something reached the home agent"
    # 8 ICMP messages; the kernel itself filters the two shorter than an ICMP header
    # (8 bytes) before raw sockets see them: 6 reach us and are dropped with a line
    assert st1["icmp_dropped"] - st0["icmp_dropped"] >= 6, (st0, st1)
    assert st1["udp_dropped"] - st0["udp_dropped"] >= 4, (st0, st1)
    dp = st1["datapath"]
    assert dp["deliver_no_visitor"] >= 1 and dp["deliver_malformed"] >= 1, dp
    assert dp["delivered_packets"] == 0, dp
    lines = [l for _, l in env.fa.lines[mark:] if "dropped" in l or "ignored" in l]
    faenv.result(f"hostile input: {len(lines)} drop lines, e.g. {lines[:3]}")
    assert len(lines) >= 10, "\n".join(l for _, l in env.fa.lines[mark:])
    assert not env.visitors(), "a visitor from garbage"
    # still serving: a solicitation is answered, a real registration goes through
    again = env.solicit()
    assert again["latency_ms"] is not None and again["latency_ms"] < 1000, again
    registered(env)
    # the FA's own denial reaches the mobile node by its link-layer address (D bit: we
    # relay only registrations of our care-of address -> 65, RFC 5944 §3.7.2.3)
    time.sleep(1.1)     # one denial per second per home address
    rep = env.register(flags=mip4msg.FLAG_T | mip4msg.FLAG_D)
    assert rep is not None and rep.code == 65 and rep.home == HOA, rep
    # a home agent that does not answer: the pending request times out, 78 (§3.7.1)
    env.ha.stop()
    t0 = time.monotonic()
    rep = env.register(timeout=12)
    waited = time.monotonic() - t0
    faenv.result(f"pending request without a reply: code {rep and rep.code} after {waited:.1f} s")
    assert rep is not None and rep.code == 78, rep
    assert 6.5 < waited < 11, waited
    assert env.fa.alive()
    assert HOA in env.visitors(), "a timed-out request must not remove the visitor (§3.7.2)"


def env_request_cut(env) -> bytes:
    msg = mip4msg.build_request(env.key, faenv.SPI, HOA, HA_ADDR, FA_ADDR, mip4msg.ntp_now())
    return msg[:30]


def test_deregistration_and_exit_cleanup(env):
    """4. Lifetime 0 through the FA removes the visitor, its neighbour entry, host route and
    rule; the FA's exit removes everything it installed."""
    env.mn_attach()
    env.start_ha()
    env.start_fa()
    adv = env.solicit()
    env.mn_route_via(adv["mac"])
    registered(env)
    ks = env.fa_kernel_state()
    assert "PERMANENT" in ks["neigh"] and f"from {HOA}" in ks["rules"], ks

    rep = env.register(lifetime=0)
    assert rep is not None and rep.code == 0 and rep.lifetime == 0, rep
    env.wait(lambda: not env.visitors(), 5, "the visitor gone")
    env.wait(lambda: HOA not in env.bindings(), 5, "the binding gone")
    ks = env.fa_kernel_state()
    assert ks["neigh"].strip() == "", f"neighbour entry left: {ks}"
    assert HOA not in ks["route"], f"route left: {ks}"
    assert f"from {HOA}" not in ks["rules"], f"rule left: {ks}"
    assert "default dev mipfa0" in ks["table"], ks      # the table stays while we run

    # register again, then stop the FA: nothing of ours stays in rint-f
    registered(env)
    assert "PERMANENT" in env.fa_kernel_state()["neigh"]
    assert env.stop_fa() == 0
    ks = env.fa_kernel_state()
    assert ks["neigh"].strip() == "", ks
    assert HOA not in ks["route"], ks
    assert f"from {HOA}" not in ks["rules"] and f"lookup {FA_TABLE}" not in ks["rules"], ks
    assert ks["table"].strip() == "", ks
    assert ks["links"].strip() == "", ks
    faenv.result(f"after FA exit, rint-f rules:\n{ks['rules']}")

    # a foreign agent that was killed leaves its rule; the next one removes it at start,
    # and takes over the visitor's entries when the mobile node registers again
    env.start_fa()
    registered(env)
    env.fa.kill()
    assert f"from {HOA} iif {FA_IF} lookup {FA_TABLE}" in env.fa_kernel_state()["rules"]
    env.start_fa()
    env.fa.wait_log(r"removed 1 rule\(s\) to table 434 left by an earlier instance", 5)
    assert f"from {HOA}" not in env.fa_kernel_state()["rules"]
    registered(env)
    assert env.stop_fa() == 0
    ks = env.fa_kernel_state()
    assert ks["neigh"].strip() == "" and HOA not in ks["route"], ks
    assert f"lookup {FA_TABLE}" not in ks["rules"] and ks["table"].strip() == "", ks


def test_home_and_foreign_agent_in_one_process(env):
    """Both groups in one ha on the home link: advertisements carry H and F (RFC 5944 §2.3),
    hactl answers list, visitors and both sets of counters, SIGTERM exits 0. No home-agent
    keys are needed for the foreign agent alone (every other test runs it so)."""
    env.t.attach("wlan0", "home", dhcp=False)
    env.t.run("mn", ["ip", "addr", "add", f"{HOA}/24", "dev", "wlan0"])
    conf = env.rundir / "both.conf"
    conf.write_text("[home-agent]\n"
                    f"address = {HA_ADDR}\nhome-interface = eth0\nhome-prefix = 198.18.1.0/24\n"
                    f"keys-file = {env.keys}\nstate-file = {env.rundir / 'ha.bindings'}\n"
                    f"control-socket = {env.ha_sock}\n"
                    "[foreign-agent]\ninterface = eth0\n"
                    f"care-of-address = {HA_ADDR}\nadvertisement-interval = 1\n")
    adv_file = env.rundir / "both.json"
    lis = env.mn_spawn("listen", "wlan0", "2.5", str(adv_file))
    env.ha = mip4env.Daemon(env.t, "ha", "ha+fa", [env.ha_bin, "--config", str(conf),
                                                   "--log-level", "debug"],
                            env.rundir / "both.log")
    env.ha.wait_log(r"foreign agent on eth0 .*also home agent on this link", 10)
    lis.wait(15)
    advs = json.loads(adv_file.read_text())
    assert advs and advs[0]["seq"] == 0, advs
    assert all(a["flags"] & 0x2000 and a["flags"] & 0x1000 for a in advs), \
        [hex(a["flags"]) for a in advs]
    assert env.bindings() == {}
    assert env.hactl_json("ha", env.ha_sock, ["visitors"])["visitors"] == []
    st = env.ha_stats()
    assert "requests" in st and "datapath" in st and "persist" in st, st
    assert st["foreign_agent"]["advertisements"] >= 2, st["foreign_agent"]
    assert env.ha.stop() == 0
