"""A flood of IKE_SA_INIT requests from many spoofed sources against our vpngw, end to end on
the namespace topology (issue 4, "Must show": a flood of IKE_SA_INIT from many spoofed
sources turns cookies on and a legitimate client still connects; RFC 7296 2.6).

The flood comes from the internet core (node ``inet``): a raw socket sends IKE_SA_INIT
requests (SA aes128gcm16-prfsha256-x25519, KE, Nonce: what vpngw accepts, so the first ones
really make half-open SAs) at a few thousand per second, each with a fresh SPIi, round robin
from FLOOD_SOURCES addresses of 198.19.128.0/20 that exist nowhere: inet has a blackhole
route for them, so vpngw's answers are dropped there and nothing ever comes back to the
flooder; an nft counter in inet's prerouting counts those answers. rp_filter is off in every
namespace of the topology, so vpngw takes the spoofed packets.

vpngw runs with cookie-threshold = COOKIE_THRESHOLD and half-open-max = HALF_OPEN_MAX.
1. test_flood_charon: strongSwan's charon in mn (ext-b) connects once without the flood
   (baseline; no COOKIE on the wire) and deletes the SA; then the flood runs for FLOOD_S
   seconds. Once gwctl stats shows cookies sent, charon connects, and the capture on mn's
   wlan0 shows vpngw's N(COOKIE) answer and charon's retry with that cookie as first
   payload (same SPIi); ping cn through the tunnel works while the flood goes on. gwctl
   stats, sampled every 0.1 s, shows the half-open SAs bounded (the threshold, plus at most
   the legitimate client; never half-open-max); inet counts one answer at most per spoofed
   request (stateless cookies: no amplification, no state). Both captures pass ikecap's
   check_decrypted with vpngw's key log.
2. test_flood_mnd: the same with our mnd as the client.

Reported: flood rate sent, cookies sent, answers seen in inet, half-open maximum seen, time
to connect without and under the flood.

vpngw, gwctl and mnd come from $MM_VPNGW, $MM_GWCTL and $MM_MND (meson sets them). Run as a
script (``test_vpngw_flood.py flood ...``) this file is the flooder itself (standard library).
"""

from __future__ import annotations

import array
import ipaddress
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FLOOD_NET = "198.19.128.0/20"        # spoofed sources: in 198.18.0.0/15, used by nothing
FLOOD_SOURCES = 1024
FLOOD_RATE = 3000                    # requests per second
FLOOD_S = 10.0                       # how long the flood lasts (charon may retransmit after 4 s)
COOKIE_THRESHOLD = 16
HALF_OPEN_MAX = 64
GW_PUBLIC = "198.19.0.2"
CN = "198.18.1.3"
SUITE = "aes128gcm16"
NFT_TABLE = "mm_flood"


# ------------------------------------------------------------------------------ the flooder

def _csum(data: bytes) -> int:
    """RFC 1071 Internet checksum (byte-order independent sum of 16-bit words)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(array.array("H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ike_sa_init(spi_i: bytes, pub: bytes, nonce: bytes) -> bytes:
    """An IKE_SA_INIT request (RFC 7296 1.2): HDR, SA, KE, Ni. The SA has one IKE proposal:
    ENCR_AES_GCM_16 (20) with a 128-bit key, PRF_HMAC_SHA2_256 (5), DH group 31 (Curve25519,
    RFC 8031); no INTEG with an AEAD (3.3.3)."""
    def transform(last: bool, ttype: int, tid: int, attrs: bytes = b"") -> bytes:
        return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), ttype, 0, tid) + attrs
    ts = (transform(False, 1, 20, struct.pack("!HH", 0x800E, 128))   # key length (3.3.5)
          + transform(False, 2, 5) + transform(True, 4, 31))
    prop = struct.pack("!BBHBBBB", 0, 0, 8 + len(ts), 1, 1, 0, 3) + ts
    sa = struct.pack("!BBH", 34, 0, 4 + len(prop)) + prop              # next: KE
    ke = struct.pack("!BBHHH", 40, 0, 8 + len(pub), 31, 0) + pub        # next: Nonce
    ni = struct.pack("!BBH", 0, 0, 4 + len(nonce)) + nonce
    body = sa + ke + ni
    hdr = spi_i + bytes(8) + struct.pack("!BBBBII", 33, 0x20, 34, 0x08, 0, 28 + len(body))
    return hdr + body


def flood_main(argv: list[str]) -> int:
    """flood DST RATE MAX_SECONDS NET NSOURCES: IKE_SA_INIT requests to DST:500 from NSOURCES
    addresses of NET, RATE per second, until MAX_SECONDS or SIGTERM; prints a JSON summary."""
    dst, rate, max_s, net, nsrc = argv[0], int(argv[1]), float(argv[2]), argv[3], int(argv[4])
    hosts = list(ipaddress.ip_network(net).hosts())[:nsrc]
    srcs = [socket.inet_aton(str(h)) for h in hosts]
    daddr = socket.inet_aton(dst)
    # one X25519 public value for all: 32 random octets (any but a handful of low-order
    # points is a valid u-coordinate, RFC 7748 5); vpngw does DH only for the first few
    pub, nonce = os.urandom(32), os.urandom(32)
    stop = {"now": False}

    def on_term(signum, frame):  # noqa: ARG001
        stop["now"] = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
    spis = os.urandom(8 * 65536)
    sent = errors = 0
    t0 = time.monotonic()
    print(json.dumps({"started": True, "sources": len(srcs)}), flush=True)
    while not stop["now"]:
        now = time.monotonic()
        if now - t0 >= max_s:
            break
        due = int((now - t0) * rate) + 1
        if sent + errors >= due:
            time.sleep(min(0.002, (sent + errors + 1) / rate - (now - t0)))
            continue
        for _ in range(min(due - sent - errors, 64)):
            n = sent + errors
            src = srcs[n % len(srcs)]
            k = (n % 65536) * 8
            ike = ike_sa_init(spis[k:k + 4] + struct.pack("!I", n), pub, nonce)
            udp = struct.pack("!HHHH", 500, 500, 8 + len(ike), 0) + ike
            c = _csum(src + daddr + struct.pack("!BBH", 0, 17, len(udp)) + udp) or 0xFFFF
            udp = udp[:6] + struct.pack("=H", c) + udp[8:]
            # the kernel fills in the IP checksum (and the ID, left 0) with IP_HDRINCL
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                             src, daddr)
            try:
                s.sendto(ip + udp, (dst, 0))
                sent += 1
            except OSError:
                errors += 1
    secs = time.monotonic() - t0
    print(json.dumps({"sent": sent, "errors": errors, "seconds": round(secs, 3),
                      "rate": round(sent / secs if secs else 0), "sources": len(srcs)}),
          flush=True)
    return 0


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "flood":
    sys.exit(flood_main(sys.argv[2:]))


# ------------------------------------------------------------------------------ the tests

import swan  # noqa: E402
from ikecap import N_COOKIE, IkeCapture, summarize  # noqa: E402
from swan import result  # noqa: E402
from test_mnd_swan import ourmnd  # noqa: E402,F401 (fixture)
from test_vpngw_swan import Vpngw, ourgw  # noqa: E402,F401 (fixture)


class Flood:
    """The flooder in inet, with inet's blackhole route and answer counter for FLOOD_NET."""

    def __init__(self, topo, rundir: Path, rate: int = FLOOD_RATE, max_s: float = FLOOD_S):
        self.topo, self.rate, self.max_s = topo, rate, max_s
        self.out = Path(rundir) / "flood.json"
        self.summary: dict = {}
        topo.run("inet", ["ip", "route", "add", "blackhole", FLOOD_NET])
        topo.run("inet", ["nft", "-f", "-"], input=(
            f"table ip {NFT_TABLE} {{\n"
            "    chain pre {\n"
            "        type filter hook prerouting priority -300; policy accept;\n"
            f"        ip saddr {GW_PUBLIC} ip daddr {FLOOD_NET} udp sport 500 "
            "counter\n"
            "    }\n"
            "}\n"))
        self.proc = None

    def start(self) -> "Flood":
        self._fh = open(self.out, "w")
        self.proc = self.topo.spawn("inet", [sys.executable, str(HERE / "test_vpngw_flood.py"),
                                             "flood", GW_PUBLIC, str(self.rate), str(self.max_s),
                                             FLOOD_NET, str(FLOOD_SOURCES)],
                                    stdout=self._fh, stderr=subprocess.STDOUT)
        self.t0 = time.monotonic()
        deadline = time.monotonic() + 10
        while "started" not in self.out.read_text():
            assert self.proc.poll() is None, f"flooder exited: {self.out.read_text()}"
            assert time.monotonic() < deadline, "flooder did not start"
            time.sleep(0.05)
        return self

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self) -> dict:
        """Let the flood run its course, and its summary."""
        self.proc.wait(self.max_s + 30)
        return self.stop()

    def stop(self) -> dict:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(15)
        self._fh.close()
        lines = [json.loads(l) for l in self.out.read_text().splitlines() if l.startswith("{")]
        self.summary = lines[-1] if lines else {}
        assert self.proc.returncode == 0 and "sent" in self.summary, self.out.read_text()
        return self.summary

    def answers(self) -> int:
        """vpngw's answers to the spoofed sources that reached inet (and died there)."""
        out = self.topo.run("inet", ["nft", "-j", "list", "table", "ip", NFT_TABLE]).stdout
        for item in json.loads(out)["nftables"]:
            rule = item.get("rule")
            if rule:
                for e in rule["expr"]:
                    if "counter" in e:
                        return int(e["counter"]["packets"])
        raise AssertionError(f"no counter in {out}")


def _stats(gw: Vpngw) -> dict:
    r = gw.gwctl("stats", "--json")
    assert r.returncode == 0, f"gwctl stats --json: {r.stderr}"
    return json.loads(r.stdout)["ike"]


class Sampler:
    """gwctl stats every 0.1 s in a thread: the largest half_open seen, the last counters."""

    def __init__(self, gw: Vpngw):
        self.gw, self.max_half_open, self.last, self.samples = gw, 0, {}, 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                st = _stats(self.gw)
                self.last = st
                self.samples += 1
                self.max_half_open = max(self.max_half_open, st["half_open"])
            except (AssertionError, ValueError, KeyError, subprocess.SubprocessError) as e:
                self.errors.append(str(e))
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._t.join(10)


def _gateway_conf() -> dict:
    return {"cookie-threshold": COOKIE_THRESHOLD, "half-open-max": HALF_OPEN_MAX}


def _cookies_on(gw: Vpngw, timeout: float = 15.0) -> dict:
    """Wait until the flood has filled the half-open table and vpngw asks for cookies."""
    deadline = time.monotonic() + timeout
    while True:
        st = _stats(gw)
        if st["cookies_sent"] > 100 and st["half_open"] >= COOKIE_THRESHOLD:
            return st
        assert time.monotonic() < deadline, f"cookies not on under the flood: {st}"
        time.sleep(0.1)


def _cookie_retry(cap: IkeCapture, client: str) -> int:
    """The capture (one connection) shows RFC 7296 2.6: the request without a cookie, vpngw's
    answer with only N(COOKIE) and SPIr zero, the retry with the same SPIi and that cookie as
    first payload, the normal response (SA, SPIr). A retransmitted retry (2.1) must be the
    same and get the same response. Returns the number of retries sent."""
    inits = [m for m in cap.last_messages if m.exchange == "IKE_SA_INIT"]
    assert len(inits) >= 4, [str(m) for m in inits]
    req1, cookie, rest = inits[0], inits[1], inits[2:]
    assert req1.src == client and not req1.response, req1
    assert N_COOKIE not in [n for n, _ in req1.notifies], req1
    assert cookie.src == GW_PUBLIC and cookie.response and cookie.payloads == [41] and \
        [n for n, _ in cookie.notifies] == [N_COOKIE] and cookie.spi_r == "0" * 16, cookie
    retries = [m for m in rest if not m.response]
    resps = [m for m in rest if m.response]
    assert retries and resps and rest[0] in retries and rest[-1] in resps, rest
    for m in retries:
        assert m.src == client and m.spi_i == req1.spi_i, (req1, m)
        assert m.payloads[0] == 41 and m.notifies[0] == cookie.notifies[0], \
            (m.notifies, cookie.notifies)
    for m in resps:
        assert m.src == GW_PUBLIC and m.spi_i == req1.spi_i and m.spi_r != "0" * 16 and \
            m.spi_r == resps[0].spi_r and 33 in m.payloads, m
    return len(retries)


def _no_cookie(cap: IkeCapture) -> None:
    inits = [m for m in cap.last_messages if m.exchange == "IKE_SA_INIT"]
    assert len(inits) == 2 and all(N_COOKIE not in [n for n, _ in m.notifies] for m in inits), \
        [str(m) for m in inits]


def _report(who: str, fl: dict, answers: int, smp: Sampler, st: dict, rx0: int,
            base_ms: float, flood_ms: float, w_base: dict, w_flood: dict,
            retries: int) -> None:
    result(f"flood vs {who}: {fl['sent']} spoofed IKE_SA_INIT from {fl['sources']} sources in "
           f"{fl['seconds']:.1f} s ({fl['rate']}/s); vpngw: {st['rx'] - rx0} IKE messages "
           f"received meanwhile, {st['cookies_sent']} cookies "
           f"sent, half-open max {smp.max_half_open} (threshold {COOKIE_THRESHOLD}, limit "
           f"{HALF_OPEN_MAX}, {smp.samples} samples), {answers} answers died in inet; "
           f"{who} connected in {base_ms:.0f} ms without the flood, {flood_ms:.0f} ms under "
           f"it (COOKIE round included"
           + (f", cookie retry retransmitted {retries - 1}x" if retries > 1 else "")
           + f"); tshark: baseline {summarize(w_base)}; under flood "
           f"{summarize(w_flood)}")


def _flood_checks(gw: Vpngw, flood: Flood, smp: Sampler) -> tuple[dict, dict, int]:
    """Let the flood end; the bounds on what vpngw did."""
    fl = flood.wait()
    smp.stop()
    st = _stats(gw)
    answers = flood.answers()
    assert fl["seconds"] >= FLOOD_S * 0.95 and fl["errors"] == 0, fl
    assert fl["rate"] >= FLOOD_RATE * 0.8 and fl["sources"] >= 200, fl
    # RFC 7296 2.6: past the threshold every request without a cookie got one (and no
    # state); the half-open SAs are the flood's first COOKIE_THRESHOLD requests and the
    # legitimate client's, never more
    assert st["cookies_sent"] >= fl["sent"] // 2, (st, fl)
    assert COOKIE_THRESHOLD <= smp.max_half_open <= COOKIE_THRESHOLD + 2, smp.max_half_open
    assert smp.samples >= 20 and not smp.errors, (smp.samples, smp.errors[:3])
    # vpngw's answers to the spoofed addresses (a cookie, or a response for the first few)
    # all went towards them and died in inet: one at most per request, no amplification
    assert st["cookies_sent"] - 1 <= answers <= fl["sent"], (answers, st, fl)
    return fl, st, answers


def test_flood_charon(env, topo, ourgw):
    client = topo.attach("wlan0", "ext-b")
    gw = ourgw(env, topo, auth="psk", suite=SUITE, gateway=_gateway_conf())
    mn = env.charon("mn", "mn", swan.initiator_conf(auth="psk", suite=SUITE))
    # baseline, no flood: no cookie asked for
    cap = env.capture("mn", "wlan0", "mn-wlan0-baseline")
    t0 = time.monotonic()
    mn.initiate("vpn")
    base_ms = (time.monotonic() - t0) * 1000
    assert topo.ping("mn", CN, count=2, timeout=3, interval=0.2), "ping cn (baseline)"
    mn.terminate(ike="vpn")
    deadline = time.monotonic() + 10
    while gw.sas():
        assert time.monotonic() < deadline, gw.sas()
        time.sleep(0.1)
    cap.stop()
    w_base = cap.check_decrypted(gw.keylog)
    _no_cookie(cap)
    before = _stats(gw)
    assert before["cookies_sent"] == 0 and before["half_open"] == 0, before
    rx0 = before["rx"]
    # the flood
    cap = env.capture("mn", "wlan0", "mn-wlan0-flood")
    flood = Flood(topo, env.rundir).start()
    smp = Sampler(gw)
    try:
        _cookies_on(gw)
        t0 = time.monotonic()
        mn.initiate("vpn", timeout=60)
        flood_ms = (time.monotonic() - t0) * 1000
        sa = mn.ike_sa("vpn")
        vip = swan.virtual_ip(sa)
        assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping cn under flood"
        assert flood.running(), "the flood ended before the client was up and had pinged"
        fl, st, answers = _flood_checks(gw, flood, smp)
    finally:
        if flood.proc.poll() is None:
            flood.proc.kill()
        smp.stop()
    g = gw.wait_sa(lambda s: s["peer_id"] == swan.MN_ID, 5, "charon's SA")
    assert g["inner_address"] == vip, g
    mn.terminate(ike="vpn")
    cap.stop()
    w_flood = cap.check_decrypted(gw.keylog)
    retries = _cookie_retry(cap, client)
    _report("charon", fl, answers, smp, st, rx0, base_ms, flood_ms, w_base, w_flood, retries)


def test_flood_mnd(env, topo, ourgw, ourmnd):
    client = topo.attach("wlan0", "ext-b")
    gw = ourgw(env, topo, auth="psk", suite=SUITE, gateway=_gateway_conf())
    cap = env.capture("mn", "wlan0", "mn-wlan0-baseline")
    m = ourmnd(env, topo, auth="psk", suite=SUITE)
    st0 = m.wait(lambda s: s.get("state") == "up" and s.get("children"), 30, "the tunnel")
    base_ms = float(st0["setup_ms"])
    assert topo.ping("mn", CN, count=2, timeout=3, interval=0.2), "ping cn (baseline)"
    assert m.stop() == 0, m.tail()
    deadline = time.monotonic() + 10
    while gw.sas():
        assert time.monotonic() < deadline, gw.sas()
        time.sleep(0.1)
    cap.stop()
    keylog = m.dir / "ikev2_decryption_table"
    w_base = cap.check_decrypted(keylog)
    _no_cookie(cap)
    before = _stats(gw)
    assert before["cookies_sent"] == 0 and before["half_open"] == 0, before
    rx0 = before["rx"]
    for f in ("mnd.log", "ikev2_decryption_table"):
        os.replace(m.dir / f, m.dir / f"baseline-{f}")
    m.status.unlink()
    # the flood
    cap = env.capture("mn", "wlan0", "mn-wlan0-flood")
    flood = Flood(topo, env.rundir).start()
    smp = Sampler(gw)
    try:
        _cookies_on(gw)
        m = ourmnd(env, topo, auth="psk", suite=SUITE)
        st1 = m.wait(lambda s: s.get("state") == "up" and s.get("children")
                     and s.get("ike_spi_i") != st0["ike_spi_i"], 60, "the tunnel under flood")
        flood_ms = float(st1["setup_ms"])
        assert topo.ping("mn", CN, count=3, timeout=3, interval=0.2), "ping cn under flood"
        assert flood.running(), "the flood ended before the client was up and had pinged"
        fl, st, answers = _flood_checks(gw, flood, smp)
    finally:
        if flood.proc.poll() is None:
            flood.proc.kill()
        smp.stop()
    g = gw.wait_sa(lambda s: s["peer_id"] == swan.MN_ID, 5, "mnd's SA")
    assert g["inner_address"] == st1["tia"], (g, st1)
    assert m.stop() == 0, m.tail()
    cap.stop()
    w_flood = cap.check_decrypted(keylog)
    retries = _cookie_retry(cap, client)
    _report("mnd", fl, answers, smp, st, rx0, base_ms, flood_ms, w_base, w_flood, retries)
