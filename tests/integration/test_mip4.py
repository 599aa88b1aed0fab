"""Mobile IPv4 home agent (`ha`) and mobile node (`mnd`) end to end, on the namespace topology
of RFC 5266 Figure 1 (tests/topology). The issue's "must show" list, one test each:

1. test_tcp_survives_moves: cn holds a TCP stream to the home address while mn moves
   home -> int-x -> int-y -> home; no reset, every byte in order; hactl shows each care-of
   address, and no binding after the deregistration at home. Outage per move printed.
2. test_nat_switches_to_udp_tunnelling: int-x behind NAT: the registration switches to
   RFC 3519 UDP tunnelling by itself (endpoint = the NAT's address:port); the stream survives.
3. test_ha_restart_restores_bindings: ha SIGKILLed and restarted while mn is registered:
   the binding comes back from the state file, the stream survives, deregistration works.
4. test_bad_requests_rejected: wrong authenticator, replay, stale identification, unknown
   SPI, truncated requests, random bytes: each answered with the RFC 5944 reply code or
   silently dropped as §3.8.2.1 says, logged by ha, and the binding cache is unchanged.
6. test_udp_datagrams_once_across_a_move: a numbered UDP flow across a move: the home
   agent's handover replay and mnd's duplicate filter deliver every datagram exactly once.
5. test_tshark_decodes_every_registration: Wireshark's `mip` dissector decodes every
   registration message of the suite without malformed or expert warnings, and the counts
   match what the home agent says it received and sent.

Each test builds its own topology (conftest.py) and starts its own daemons.
"""

from __future__ import annotations

import json
import random
import re
import signal
import time
from pathlib import Path

import mip4env
import mip4msg
from mip4env import HA_ADDRESS, HOME_ADDRESS, MN_SPI, OTHER_SPI, result
from tcpstream import StreamPair
from tsharkcheck import Capture

MOVE_TIMEOUT = 20.0        # registration after a move (DHCP done -> both sides agree)
RESUME_BYTES = 60000       # the stream must carry this much after each move ...
RESUME_TIMEOUT = 20.0      # ... within this time (TCP back-off after an outage included)
DWELL_BYTES = 300000       # then it stays there while this much more goes by (1.5 s)
CN_PORT_GOOD = 40001       # source ports of the injected requests (test 4): well formed
CN_PORT_BAD = 40000        # ... and malformed on purpose (excluded from test 5's check)
NAT_UPLINK = "198.18.211.2"  # rint-x's uplink address: what the HA sees behind the NAT


# ------------------------------------------------------------------------------ helpers

def _start(env, stream=True) -> StreamPair | None:
    """mn at home, ha and mnd running, mnd says it is at home; then the TCP stream."""
    env.go_home()
    env.start_ha()
    env.start_mnd()
    st = env.wait_home(timeout=15)
    assert st.get("home") is True, st
    if not stream:
        return None
    s = StreamPair(env.topo, env.rundir, HOME_ADDRESS)
    env.streams.append(s)
    s.start(timeout=15)
    return s


def _check_binding(b: dict, coa: str, encap: str) -> None:
    assert b["home_address"] == HOME_ADDRESS, b
    assert b["care_of_address"] == coa, b
    assert b["encapsulation"] == encap, b
    assert b["reverse_tunnel"] is True, b
    assert 0 < int(b["lifetime"]) <= 300, b
    assert 0 < int(b["remaining"]) <= int(b["lifetime"]), b
    assert int(b["registrations"]) >= 1, b
    assert re.fullmatch(r"0x[0-9a-fA-F]{1,16}", str(b["identification"])), b


def _move(env, stream: StreamPair | None, net: str, label: str) -> dict:
    """Move wlan0 to ``net`` ("home" or an access network), wait until mnd and hactl agree,
    and until the stream carries data again. Returns the measurements."""
    t0 = stream.mark(label) if stream else time.monotonic()
    m = {"move": label, "net": net}
    mark = env.mnd.mark()
    if net == "home":
        env.go_home()
        t_addr = time.monotonic()
        st = env.wait_home(timeout=MOVE_TIMEOUT)
        m["deregistered_ms"] = round((time.monotonic() - t_addr) * 1000)
        m["status"], m["binding"] = st, None
    else:
        coa = env.go(net)
        t_addr = time.monotonic()
        b, st = env.wait_registered(coa, timeout=MOVE_TIMEOUT)
        m["coa"], m["binding"], m["status"] = coa, b, st
        reg_at = st.get("registered_at_monotonic_ms")
        assert isinstance(reg_at, (int, float)), f"status without registered_at: {st}"
        m["registration_ms"] = round(reg_at - t_addr * 1000)     # after DHCP finished
        m["registration_from_move_ms"] = round(reg_at - t0 * 1000)
        # when mnd noticed the new address (its log line, read as it was written): the
        # registration time proper, without DHCP
        seen = env.mnd.find(r"care-of address " + re.escape(coa) + r"\b", since=mark)
        if seen:
            m["registration_from_address_ms"] = round(reg_at - seen[0][0] * 1000)
    m["dhcp_ms"] = round((t_addr - t0) * 1000)
    if stream:
        stream.wait_progress(RESUME_BYTES, RESUME_TIMEOUT, f"stream after the move to {net}")
        m.update(stream.outage_after(t0))
        # stay a while, and see where the stream's packets go meanwhile: away, both
        # directions through the home agent's tunnel (reverse tunnelling, RFC 3024); at
        # home, none through it
        d0 = _datapath(env)
        stream.wait_progress(DWELL_BYTES, RESUME_TIMEOUT, f"stream while at {net}")
        d1 = _datapath(env)
        m["tunnelled"] = {k: d1[k] - d0[k] for k in d0}
        if net == "home":
            assert m["tunnelled"]["forwarded_packets"] == 0, \
                f"at home, ha still tunnels the stream: {m['tunnelled']}"
            assert m["tunnelled"]["reverse_packets"] == 0, \
                f"at home, mn still reverse-tunnels: {m['tunnelled']}"
        else:
            assert m["tunnelled"]["forwarded_packets"] > 0, \
                f"away on {net}, ha tunnelled none of the stream to the mobile node: " \
                f"{m['tunnelled']}"
            assert m["tunnelled"]["reverse_packets"] > 0, \
                f"away on {net}, nothing came through the reverse tunnel: {m['tunnelled']}"
    return m


def _datapath(env) -> dict:
    """The home agent's tunnel packet counters (hactl stats --json, "datapath")."""
    dp = env.stats().get("datapath")
    assert isinstance(dp, dict) and all(isinstance(dp.get(k), int) for k in
                                        ("forwarded_packets", "reverse_packets")), \
        f"hactl stats --json has no datapath packet counters: {env.stats()}"
    return {k: dp[k] for k in ("forwarded_packets", "reverse_packets")}


def _report(test: str, moves: list[dict]) -> None:
    for m in moves:
        parts = [f"{test}: {m['move']}"]
        if "coa" in m:
            parts.append(f"coa {m['coa']}")
            parts.append(f"registered {m['registration_from_move_ms']} ms after the move "
                         f"(DHCP {m['dhcp_ms']} ms"
                         + (f", {m['registration_from_address_ms']} ms after mnd saw the "
                            "address)" if "registration_from_address_ms" in m else ")"))
        if "deregistered_ms" in m:
            parts.append(f"deregistration seen {m['deregistered_ms']} ms after the "
                         "home address was configured")
        if "tunnelled" in m:
            parts.append(f"while there ha tunnelled {m['tunnelled']['forwarded_packets']} "
                         f"packets to mn and decapsulated {m['tunnelled']['reverse_packets']} "
                         "from it")
        if "outage_ms" in m:
            parts.append(f"stream outage {m['outage_ms']} ms"
                         + (f" (gap {m['gap_start_ms']}..{m['gap_end_ms']} ms after the move)"
                            if "gap_start_ms" in m else " (no gap above 30 ms)"))
        result(", ".join(parts))


def _finish_stream(env, stream: StreamPair, test: str) -> dict:
    fin = stream.stop()
    rx, tx = fin["rx"], fin["tx"]
    result(f"{test}: stream {tx.get('sent')} bytes sent, {rx.get('received')} received in "
           f"order, largest gap {rx.get('max_gap_ms', 0):.0f} ms")
    assert tx.get("error") is None, f"sender: {tx}"
    assert rx.get("error") is None, f"receiver: {rx}"
    assert rx.get("mismatch_at") is None, f"byte mismatch at offset {rx['mismatch_at']}"
    assert rx.get("extra_connections") == 0, rx
    assert tx.get("done") and tx.get("peer_closed"), f"sender did not finish cleanly: {tx}"
    assert rx.get("eof") is True, f"receiver did not see the end of the stream: {rx}"
    assert tx["sent"] > 0 and rx["received"] == tx["sent"], \
        f"sent {tx['sent']} bytes but received {rx['received']}"
    env.streams.remove(stream)
    return fin


# ------------------------------------------------------------------------------ 1

def test_tcp_survives_moves(env):
    s = _start(env)
    moves = []

    m = _move(env, s, "int-x", "home -> int-x")
    _check_binding(m["binding"], m["coa"], "ipip")
    assert m["binding"]["tunnel_endpoint"].split(":")[0] == m["coa"], m["binding"]
    assert m["status"]["encapsulation"] == "ipip", m["status"]
    assert m["status"]["interface"] == "wlan0", m["status"]
    assert m["status"]["home_agent"] == HA_ADDRESS, m["status"]
    assert m["status"]["last_reply_code"] == 0, m["status"]
    table = env.hactl(["list"]).stdout
    assert HOME_ADDRESS in table and m["coa"] in table, f"hactl list (table): {table}"
    moves.append(m)
    first = m

    replayed0 = env.stats()["datapath"]["handover_replayed_packets"]
    m = _move(env, s, "int-y", "int-x -> int-y")
    _check_binding(m["binding"], m["coa"], "ipip")
    assert m["coa"] != first["coa"]
    # handover replay (ha/replay.h): what went to int-x during the move was sent again to
    # the new care-of address; the stream check (every byte once, in order) covers mnd's
    # duplicate filter and TCP
    replayed = env.stats()["datapath"]["handover_replayed_packets"] - replayed0
    assert replayed > 0, "ha sent nothing again after the move (handover replay)"
    env.ha.wait_log(r"handover replay for " + re.escape(HOME_ADDRESS), 1)
    m["handover_replayed_packets"] = replayed
    assert int(m["binding"]["identification"], 16) > int(first["binding"]["identification"], 16)
    assert int(m["binding"]["registrations"]) > int(first["binding"]["registrations"]), \
        (first["binding"], m["binding"])
    assert int(m["status"]["registrations"]) > int(first["status"]["registrations"])
    moves.append(m)

    m = _move(env, s, "home", "int-y -> home")
    assert env.binding() is None
    assert m["status"]["state"] != "registered", m["status"]
    moves.append(m)

    _report("test 1", moves)
    _finish_stream(env, s, "test 1")
    # the deregistration is logged on both sides
    env.ha.wait_log(r"deregistered", 1)
    env.mnd.wait_log(r"deregistered", 1)


# ------------------------------------------------------------------------------ 2

def test_nat_switches_to_udp_tunnelling(env):
    env.topo.set_nat("int-x", True)
    s = _start(env)
    moves = []

    m = _move(env, s, "int-x", "home -> int-x (NAT)")
    b = m["binding"]
    _check_binding(b, m["coa"], "udp")
    host, _, port = b["tunnel_endpoint"].rpartition(":")
    assert host == NAT_UPLINK and port.isdigit() and 0 < int(port) < 65536, \
        f"tunnel endpoint should be the NAT's address {NAT_UPLINK}:port: {b}"
    assert m["status"]["encapsulation"] == "udp", m["status"]
    moves.append(m)
    result(f"test 2: behind NAT: care-of address {b['care_of_address']}, tunnel endpoint "
           f"{b['tunnel_endpoint']}, encapsulation {b['encapsulation']}")

    m = _move(env, s, "home", "int-x (NAT) -> home")
    moves.append(m)
    _report("test 2", moves)
    _finish_stream(env, s, "test 2")


# ------------------------------------------------------------------------------ 3

def test_ha_restart_restores_bindings(env):
    s = _start(env)
    moves = []
    m = _move(env, s, "int-x", "home -> int-x")
    _check_binding(m["binding"], m["coa"], "ipip")
    moves.append(m)
    before = env.binding()
    # let the remaining lifetime tick so that a restored binding can be told from a reset one
    time.sleep(1.2)
    assert env.ha_state.exists(), f"state file {env.ha_state} not written while registered"

    t_kill = s.mark("ha SIGKILL + restart")
    env.kill_ha()
    time.sleep(0.5)
    t_up = time.monotonic()
    env.start_ha()
    after = env.wait(lambda: env.binding(), 5, "the restored binding in hactl",
                     lambda: env.last_hactl)
    t_back = time.monotonic()
    restored_ms = round((t_back - t_kill) * 1000)
    # it came back from the journal: the state file itself is only rewritten at start-up,
    # at a clean stop and when the journal is long (ha/persist.h)
    applied = env.ha.find(r"journal .*: applied \d+ record")
    assert applied and int(re.search(r"applied (\d+) record", applied[0][1]).group(1)) >= 1, \
        f"ha did not restore the binding from its journal: {applied}"
    for k in ("home_address", "care_of_address", "tunnel_endpoint", "encapsulation",
              "reverse_tunnel", "lifetime", "identification"):
        assert after[k] == before[k], f"{k} changed over the restart: {before} -> {after}"
    assert int(after["remaining"]) <= int(before["remaining"]), (before, after)
    assert int(after["remaining"]) > 0, after
    s.wait_progress(RESUME_BYTES, RESUME_TIMEOUT, "stream after the home agent restart")
    o = s.outage_after(t_kill)
    d0 = _datapath(env)
    s.wait_progress(DWELL_BYTES, RESUME_TIMEOUT, "stream through the restarted home agent")
    d1 = _datapath(env)
    assert d1["forwarded_packets"] > d0["forwarded_packets"] and \
        d1["reverse_packets"] > d0["reverse_packets"], \
        f"the restarted ha does not tunnel the stream both ways: {d0} -> {d1}"
    result(f"test 3: ha killed and restarted: binding back in hactl {restored_ms} ms after "
           f"the kill ({round((t_back - t_up) * 1000)} ms after the restart), stream "
           f"outage {o['outage_ms']} ms; remaining {before['remaining']} -> {after['remaining']}")
    # mnd did not have to register again
    st = env.mn_status()
    assert st["state"] == "registered" and st["care_of_address"] == m["coa"], st
    assert st["registrations"] == m["status"]["registrations"], (m["status"], st)

    # the restored binding (and its replay state) accepts the next move and the
    # deregistration
    m = _move(env, s, "int-y", "int-x -> int-y (restarted ha)")
    _check_binding(m["binding"], m["coa"], "ipip")
    assert int(m["binding"]["identification"], 16) > int(before["identification"], 16)
    moves.append(m)
    moves.append(_move(env, s, "home", "int-y -> home (restarted ha)"))
    _report("test 3", moves)
    _finish_stream(env, s, "test 3")


# ------------------------------------------------------------------------------ 4

def _stable(b: dict | None) -> dict | None:
    """A binding without the fields that change on their own (the countdown)."""
    if b is None:
        return None
    return {k: v for k, v in b.items() if k != "remaining"}


def test_bad_requests_rejected(env, topo):
    _start(env, stream=False)
    coa = env.go("int-x")
    b0, st0 = env.wait_registered(coa, timeout=MOVE_TIMEOUT)

    # the Registration Request mnd sent, as captured on the home agent's link
    cap = env.captures[0]
    cap.stop()
    rows = cap.fields(f"mip.type == 1 && ip.src == {coa}", ["udp.payload"])
    assert rows, f"no Registration Request from {coa} in the capture: {cap.summary()}"
    valid = bytes.fromhex(rows[-1][0].replace(":", ""))
    # the second capture covers the injections; test 5 skips only the malformed ones
    cap2 = Capture(topo, "ha", mip4env.HA_HOME_IFACE, str(env.rundir / "ha-eth0-inject.pcapng"))
    env.captures.append(cap2.start())
    env.capture_exclude = f"udp.srcport == {CN_PORT_BAD}"
    stats0 = env.stats()

    now_hi = mip4msg.ntp_now() >> 32
    wrong_key = bytes(b ^ 0x5a for b in env.key)
    rnd = random.Random(5944)
    cases = [
        # name, payload, source port, allowed reply codes (None = no reply), log pattern
        ("wrong authenticator",
         mip4msg.build_request(wrong_key, MN_SPI, HOME_ADDRESS, HA_ADDRESS, "198.18.12.77",
                               mip4msg.ntp_now()),
         CN_PORT_GOOD, {131, None}, r"denied code=131|dropped:"),
        ("unknown SPI (no security association)",
         mip4msg.build_request(env.key, 9999, HOME_ADDRESS, HA_ADDRESS, "198.18.12.77",
                               mip4msg.ntp_now()),
         CN_PORT_GOOD, {None}, r"dropped:"),
        ("SPI of another mobile node",
         mip4msg.build_request(env.other_key, OTHER_SPI, HOME_ADDRESS, HA_ADDRESS,
                               "198.18.12.77", mip4msg.ntp_now()),
         CN_PORT_GOOD, {131, None}, r"denied code=131|dropped:"),
        ("replay of mnd's request", valid, CN_PORT_GOOD, {133}, r"denied code=133"),
        ("stale identification (1 hour old)",
         mip4msg.build_request(env.key, MN_SPI, HOME_ADDRESS, HA_ADDRESS, "198.18.12.77",
                               mip4msg.ntp_now(-3600)),
         CN_PORT_GOOD, {133}, r"denied code=133"),
        ("truncated in the authenticator", valid[:-7], CN_PORT_BAD, {134, None},
         r"denied code=134|dropped:"),
        ("truncated fixed part", valid[:13], CN_PORT_BAD, {134, None},
         r"denied code=134|dropped:"),
        ("random bytes, unknown type",
         bytes([200]) + bytes(rnd.getrandbits(8) for _ in range(63)),
         CN_PORT_BAD, {None}, r"dropped:"),
        ("random bytes after a Request type",
         bytes([1]) + bytes(rnd.getrandbits(8) for _ in range(71)),
         CN_PORT_BAD, {134, None}, r"denied code=134|dropped:"),
    ]
    outcomes = []
    for name, payload, sport, allowed, logpat in cases:
        mark = env.ha.mark()
        env.bad_frames_sent += sport == CN_PORT_BAD
        (ans,) = mip4msg.send_and_wait(topo, "cn", HA_ADDRESS, [payload], sport, timeout=1.0)
        code = None
        if ans is not None:
            rep = mip4msg.parse_reply(ans, env.key)
            code = rep.code
            # a reply from the home agent carries a valid MN-HA extension (§3.8.2.1 a,
            # §3.8.3.3); for 133 the low 32 bits echo ours and the high 32 bits are the
            # home agent's clock (§5.7.1)
            assert rep.auth_ok is True, f"{name}: reply without a valid MN-HA extension: {rep}"
            assert rep.home == HOME_ADDRESS, f"{name}: {rep}"
            if code == 133:
                req_ident = int.from_bytes(payload[16:24], "big")
                hi, lo = mip4msg.ident_split(rep.ident)
                assert lo == req_ident & 0xffffffff, f"{name}: 133 does not echo our low bits"
                assert abs(hi - now_hi) <= 10, f"{name}: 133 carries time {hi}, ours {now_hi}"
        assert code in allowed, f"{name}: reply code {code}, expected one of {allowed}"
        t, line = env.ha.wait_log(logpat, 3, since=mark)
        outcomes.append((name, code, line))
        assert env.ha.alive(), f"ha died on: {name}"

    # nothing changed: the binding (but for its countdown), mnd's registration
    b1 = env.binding()
    assert _stable(b1) == _stable(b0), f"binding changed: {b0} -> {b1}"
    assert len(env.bindings()) == 1, env.bindings()
    st1 = env.mn_status()
    assert st1["state"] == "registered" and st1["care_of_address"] == coa, st1
    assert st1["registrations"] == st0["registrations"], (st0, st1)
    stats1 = env.stats()
    for name, code, line in outcomes:
        result(f"test 4: {name}: {'reply ' + str(code) if code is not None else 'no reply'}; "
               f"ha: {line.strip()[:150]}")
    delta = _counter_delta(stats0, stats1)
    result(f"test 4: ha counters that moved: {delta}")
    # hactl stats --json counts what happened (the contract: requests, accepted, denied by
    # code, dropped malformed, auth failures, replays)
    for key, low in (("requests", 5), ("auth_failures", 1),
                     ("dropped_malformed", 3), ("denied_by_code.131", 1),
                     ("denied_by_code.133", 2)):
        assert delta.get(key, 0) >= low, \
            f"hactl stats: {key} went up by {delta.get(key, 0)}, expected >= {low}: {delta}"
    # the replay is counted as a replay while mnd's request is younger than the 7 s
    # Identification window (RFC 5944 5.7.1), as stale after it (a loaded machine); the
    # 1-hour-old request is always stale: two 133s either way
    assert delta.get("replays", 0) + delta.get("stale_identification", 0) >= 2, \
        f"hactl stats: the replayed and the stale request were not both counted: {delta}"
    assert delta.get("accepted", 0) == 0, f"ha accepted something: {delta}"

    # a well-formed, correctly authenticated request still works afterwards: the mobile node
    # moves on and deregisters at home
    m = _move(env, None, "int-y", "int-x -> int-y (after the attacks)")
    _check_binding(m["binding"], m["coa"], "ipip")
    _move(env, None, "home", "int-y -> home (after the attacks)")


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        elif isinstance(v, int) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = v
    return out


def _counter_delta(before: dict, after: dict) -> dict:
    b, a = _flatten(before), _flatten(after)
    return {k: a[k] - b.get(k, 0) for k in a if a[k] != b.get(k, 0)}


# ------------------------------------------------------------------------------ 6

def _udpseq_stats(path) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def test_udp_datagrams_once_across_a_move(env):
    """Handover replay (ha/replay.h) with mnd's duplicate filter (mnd/dedup.h): a numbered
    UDP flow cn -> home address across int-x -> int-y. ha sends again what went to int-x
    during the move, some of which had arrived: no datagram may reach the application twice,
    and with a replay window longer than the move none is lost either."""
    env.go_home()
    env.start_ha(handover_replay_ms=3000)
    env.start_mnd()
    env.wait_home(timeout=15)
    m = _move(env, None, "int-x", "home -> int-x")
    stats = str(env.rundir / "udpseq.json")
    script = str(Path(__file__).resolve().parent / "udpseq.py")
    rx = env.topo.spawn("mn", ["/usr/bin/python3", script, "recv", "--bind", HOME_ADDRESS,
                               "--port", "5002", "--stats", stats])
    deadline = time.monotonic() + 5
    while not _udpseq_stats(stats).get("listening"):
        assert time.monotonic() < deadline, "UDP receiver did not start"
        time.sleep(0.05)
    tx = env.topo.spawn("cn", ["/usr/bin/python3", script, "send", "--dst", HOME_ADDRESS,
                               "--port", "5002", "--rate", "200"])
    time.sleep(1.0)
    replayed0 = env.stats()["datapath"]["handover_replayed_packets"]
    m = _move(env, None, "int-y", "int-x -> int-y")
    time.sleep(1.5)
    tx.send_signal(signal.SIGTERM)
    tx.wait(timeout=10)
    deadline = time.monotonic() + 5
    while _udpseq_stats(stats).get("end_seq") is None:
        assert time.monotonic() < deadline, f"no end mark: {_udpseq_stats(stats)}"
        time.sleep(0.05)
    rx.send_signal(signal.SIGTERM)
    rx.wait(timeout=10)
    st = _udpseq_stats(stats)
    replayed = env.stats()["datapath"]["handover_replayed_packets"] - replayed0
    lost = st["end_seq"] - st["distinct"]
    result(f"test 6: {st['end_seq']} datagrams sent across the move (coa {m['coa']}), "
           f"{st['distinct']} arrived, {st['duplicates']} twice, {lost} lost; ha sent "
           f"{replayed} again after the move")
    assert replayed > 0, "ha sent nothing again after the move"
    assert st["malformed"] == 0, st
    assert st["duplicates"] == 0, f"datagrams delivered twice after the move: {st}"
    assert st["max_seq"] < st["end_seq"], st
    assert lost == 0, f"datagrams lost across the move despite the replay: {st}"



# ------------------------------------------------------------------------------ 5

def _expected_counts(stats: list[dict]) -> tuple[int | None, int | None]:
    """Registration Requests received and Replies sent, summed over the ha instances, from
    hactl stats (None when the counters are not there)."""
    req = rep = 0
    for s in stats:
        r = s.get("requests")
        if not isinstance(r, int):
            return None, None
        req += r
        acc = s.get("accepted")
        den = s.get("denied")
        if isinstance(den, dict):
            den = sum(int(v) for v in den.values())
        if not isinstance(acc, int) or not isinstance(den, int):
            return req, None
        rep += acc + den
    return req, rep


def test_tshark_decodes_every_registration(request):
    records = list(mip4env.CAPTURES)
    if not records:
        # run alone: make some registrations of our own
        env = request.getfixturevalue("env")
        _start(env, stream=False)
        coa = env.go("int-x")
        env.wait_registered(coa, timeout=MOVE_TIMEOUT)
        env.go_home()
        env.wait_home(timeout=MOVE_TIMEOUT)
        env.mnd.stop()
        env.snapshot_ha_stats()
        env.stop_all()
        for c in env.captures:
            c.stop()
        records = [env.capture_record]
    total = {"requests": 0, "replies": 0}
    failures = []
    for rec in records:
        for cap in rec["env"].captures:
            cap.exclude = rec["exclude"]
            probs = cap.problems()
            if probs:
                failures.append(f"{rec['test']} {cap.path}: tshark flags frames:\n{probs[:6000]}")
            nreq = cap.count("mip.type == 1")
            nrep = cap.count("mip.type == 3")
            total["requests"] += nreq
            total["replies"] += nrep
            rec.setdefault("counted", [0, 0])
            rec["counted"][0] += nreq
            rec["counted"][1] += nrep
        exp_req, exp_rep = _expected_counts(rec["ha_stats"])
        got_req, got_rep = rec.get("counted", [0, 0])
        result(f"test 5: {rec['test']}: {got_req} requests and {got_rep} replies decoded; "
               f"ha counted {exp_req} requests, {exp_rep} replies")
        if got_req == 0 or got_rep == 0:
            failures.append(f"{rec['test']}: no registration messages captured")
        if exp_req is None:
            failures.append(f"{rec['test']}: hactl stats has no integer 'requests' counter "
                            f"to compare with: {rec['ha_stats']}")
            continue
        # the frames sent malformed on purpose are excluded from the capture check, but the
        # home agent received them: whether a datagram too short or too garbled to be a
        # request counts as one is its choice, so it may count up to that many more
        n_bad = rec["env"].bad_frames_sent
        if not got_req <= exp_req <= got_req + n_bad:
            failures.append(f"{rec['test']}: {got_req} Registration Requests on the wire "
                            f"(+{n_bad} malformed on purpose), ha counted {exp_req}")
        if exp_rep is not None and got_rep != exp_rep:
            failures.append(f"{rec['test']}: {got_rep} Registration Replies on the wire, ha "
                            f"counted {exp_rep} (accepted + denied)")
    result(f"test 5: {total['requests']} requests, {total['replies']} replies decoded in "
           f"{sum(len(r['env'].captures) for r in records)} captures")
    assert not failures, "\n".join(failures)

