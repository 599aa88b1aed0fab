"""Namespace pair and packet agent for tests/race/test_failclosed.py (mnd's fail-closed
filter, mnd/failclosed.h).

Library side (imported by the test, runs in the root namespace):

- ``NetnsPair``: two network namespaces, ``mn`` (the mobile node) and ``peer`` (everything
  behind its access links), joined by two veth pairs that play the physical interfaces
  ``wlan0`` and ``wwan0``, plus a TUN device ``mnd0`` in ``mn`` that plays mnd's tunnel
  device (the home address on it). Addresses come from 198.18.0.0/15 only. ``close()``
  (also ``__exit__`` and an ``atexit`` hook) kills the agents it started (by PID) and
  deletes both namespaces; ``sweep()`` removes pairs left by dead test processes.
- ``Probe``: one test packet (outer IPv4 header written here, sent through a raw
  ``IP_HDRINCL`` socket bound to an interface, so it goes through the kernel's output path
  and netfilter exactly as a packet of an application or of mnd would; AF_PACKET would
  bypass netfilter). Each carries a unique tag ``FCTEST:<id>:`` in its payload.

Agent side (``ip netns exec NS python3 fcnet.py capture|send ...``):

- ``capture``: an AF_PACKET socket on every interface of the peer namespace; prints
  ``ready`` once bound, then records every IPv4 frame with a tag until stdin closes, and
  prints them as JSON (id, interface, outer source, destination, protocol).
- ``send FILE``: opens the TUN device (so its carrier is up and what enters it can be
  read), sends each packet of FILE (JSON), reads the TUN for 300 ms, prints JSON: per
  packet the send result (0 or the errno: a packet dropped by netfilter on output makes
  sendto fail with EPERM) and the ids that came out of the TUN.

Only the standard library; /usr/bin/python3.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"
NS_PREFIX = "fcr"

# Addresses (198.18.0.0/15, RFC 2544 benchmarking space).
MN_WLAN = "198.18.100.2"      # the care-of address on wlan0
PEER_WLAN = "198.18.100.1"
MN_WWAN = "198.18.101.2"      # wwan0
PEER_WWAN = "198.18.101.1"
WWAN_NET = "198.18.61.0/24"   # routed through wwan0
HOME_ADDRESS = "198.19.1.100"
HOME_AGENT = "198.19.2.1"
GATEWAY = "198.18.50.1"
INTRANET = ["198.19.1.0/24", "198.19.2.0/24", "198.19.128.0/17"]
INTRANET_HOST = "198.19.130.7"
DHCP_SERVER = "198.19.2.67"   # a DHCP server inside the intranet (unicast renewal)
INTERNET_HOST = "198.18.60.1"
TUN = "mnd0"

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
ETH_P_ALL = 0x0003
TAG = b"FCTEST:"


def run(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), check=check, text=True, input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# --------------------------------------------------------------------------------------
# packets


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), random.randrange(1, 65535),
                      0, 64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return hdr + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    # Checksum 0: none (RFC 768), valid for IPv4.
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp_echo(payload: bytes) -> bytes:
    msg = struct.pack("!BBHHH", 8, 0, 0, 0x4643, 1) + payload
    return msg[:2] + struct.pack("!H", _csum(msg)) + msg[4:]


@dataclass
class Probe:
    """One packet: what it is, where it leaves, and whether the filter must let it out."""
    id: int
    what: str
    iface: str
    src: str
    dst: str
    kind: str = "udp"            # udp | icmp | ipip
    sport: int = 40000
    dport: int = 9
    first: int | None = None     # first payload byte (the Mobile IP message type)
    passes: bool = True          # with the filter on
    counter: str | None = None   # the counter a drop must land in
    packet: str = field(default="", repr=False)   # hex, built by build()

    def build(self) -> "Probe":
        tag = TAG + str(self.id).encode() + b":" + self.what.encode()[:40]
        body = (bytes([self.first]) + b"\0" * 23 if self.first is not None else b"") + tag
        if self.kind == "udp":
            pkt = ipv4(self.src, self.dst, 17, udp(self.sport, self.dport, body))
        elif self.kind == "icmp":
            pkt = ipv4(self.src, self.dst, 1, icmp_echo(body))
        elif self.kind == "ipip":   # RFC 2003: a home-address packet inside
            inner = ipv4(HOME_ADDRESS, INTERNET_HOST, 17, udp(5000, 5001, body))
            pkt = ipv4(self.src, self.dst, 4, inner)
        else:
            raise ValueError(self.kind)
        self.packet = pkt.hex()
        return self


# --------------------------------------------------------------------------------------
# the namespace pair


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> None:
    """Delete pairs whose owner process (the number in the name) is gone."""
    try:
        names = [line.split()[0] for line in run("ip", "netns", "list").stdout.splitlines()
                 if line.strip()]
    except (OSError, subprocess.CalledProcessError):
        return
    for name in names:
        parts = name.split("-")
        if len(parts) == 4 and parts[0] == NS_PREFIX and parts[1].isdigit() \
                and not _alive(int(parts[1])):
            run("ip", "netns", "pids", name, check=False)
            _kill_ns_procs(name)
            run("ip", "netns", "del", name, check=False)


def _kill_ns_procs(ns: str) -> None:
    out = run("ip", "netns", "pids", ns, check=False).stdout.split()
    for pid in out:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


class NetnsPair:
    def __init__(self) -> None:
        tag = f"{os.getpid()}-{random.randrange(36**3):03x}"
        self.mn = f"{NS_PREFIX}-{tag}-mn"
        self.peer = f"{NS_PREFIX}-{tag}-peer"
        self._procs: list[subprocess.Popen] = []
        self._closed = False
        atexit.register(self.close)

    def __enter__(self) -> "NetnsPair":
        try:
            self.build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def sh(self, ns: str, *argv: str, check: bool = True, input: str | None = None):
        return run("ip", "netns", "exec", ns, *argv, check=check, input=input)

    def build(self) -> None:
        sweep()
        run("ip", "netns", "add", self.mn)
        run("ip", "netns", "add", self.peer)
        for ns in (self.mn, self.peer):
            self.sh(ns, "ip", "link", "set", "lo", "up")
            self.sh(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            self.sh(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        for mn_if, peer_if, mn_a, peer_a in (("wlan0", "peer0", MN_WLAN, PEER_WLAN),
                                             ("wwan0", "peer1", MN_WWAN, PEER_WWAN)):
            run("ip", "link", "add", mn_if, "netns", self.mn, "type", "veth",
                "peer", "name", peer_if, "netns", self.peer)
            self.sh(self.mn, "ip", "addr", "add", f"{mn_a}/24", "dev", mn_if)
            self.sh(self.peer, "ip", "addr", "add", f"{peer_a}/24", "dev", peer_if)
            self.sh(self.mn, "ip", "link", "set", mn_if, "up")
            self.sh(self.peer, "ip", "link", "set", peer_if, "up")
        self.sh(self.mn, "ip", "route", "add", "default", "via", PEER_WLAN, "dev", "wlan0")
        self.sh(self.mn, "ip", "route", "add", WWAN_NET, "via", PEER_WWAN, "dev", "wwan0")
        # A packet bound to wwan0 (SO_BINDTODEVICE) needs a route through wwan0.
        self.sh(self.mn, "ip", "route", "add", "default", "via", PEER_WWAN, "dev", "wwan0",
                "metric", "200")
        # mnd's TUN: the home address on it, as mnd/netcfg.c does away from home.
        self.sh(self.mn, "ip", "tuntap", "add", "dev", TUN, "mode", "tun")
        self.sh(self.mn, "ip", "addr", "add", f"{HOME_ADDRESS}/32", "dev", TUN)
        self.sh(self.mn, "ip", "link", "set", TUN, "up")
        # Neighbours resolved in advance: no ARP timing in the results.
        for ns, a in ((self.mn, PEER_WLAN), (self.mn, PEER_WWAN)):
            self.sh(ns, "ping", "-c1", "-W2", a)

    def spawn(self, ns: str, *argv: str) -> subprocess.Popen:
        p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._procs.append(p)
        return p

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for ns in (self.mn, self.peer):
            _kill_ns_procs(ns)
            run("ip", "netns", "del", ns, check=False)

    def exists(self) -> bool:
        names = run("ip", "netns", "list").stdout
        return any(line.split()[0] in (self.mn, self.peer)
                   for line in names.splitlines() if line.strip())

    # ---- capture and send -----------------------------------------------------------

    def start_capture(self) -> subprocess.Popen:
        p = self.spawn(self.peer, PYTHON, str(HERE / "fcnet.py"), "capture")
        line = p.stdout.readline().strip()
        if line != "ready":
            p.kill()
            raise RuntimeError(f"capture did not start: {line!r} {p.stderr.read()}")
        return p

    @staticmethod
    def stop_capture(p: subprocess.Popen) -> list[dict]:
        out, err = p.communicate(input="", timeout=10)
        if p.returncode != 0:
            raise RuntimeError(f"capture failed ({p.returncode}): {err}")
        return json.loads(out)

    def send(self, probes: list[Probe], path: Path) -> dict:
        path.write_text(json.dumps([asdict(p) for p in probes]))
        r = self.sh(self.mn, PYTHON, str(HERE / "fcnet.py"), "send", str(path), check=False)
        if r.returncode != 0:
            raise RuntimeError(f"sender failed ({r.returncode}): {r.stderr}")
        return json.loads(r.stdout)

    def exchange(self, probes: list[Probe], path: Path) -> tuple[dict, dict]:
        """Send probes with a capture running on the peer side. Returns (send results,
        {id: [captured frames]})."""
        cap = self.start_capture()
        sent = self.send(probes, path)
        time.sleep(0.3)   # the last frames cross the veth
        frames = self.stop_capture(cap)
        seen: dict[int, list[dict]] = {}
        for f in frames:
            seen.setdefault(f["id"], []).append(f)
        return sent, seen


# --------------------------------------------------------------------------------------
# agents (inside a namespace)


def agent_capture() -> int:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setblocking(False)
    print("ready", flush=True)
    frames = []
    stdin = sys.stdin.fileno()
    while True:
        r, _, _ = select.select([s, stdin], [], [], 0.5)
        if s in r:
            while True:
                try:
                    data, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                # addr: (ifname, proto, pkttype, hatype, hwaddr). Incoming only.
                if addr[2] == socket.PACKET_OUTGOING or addr[1] != 0x0800 or len(data) < 34:
                    continue
                ip = data[14:]
                at = ip.find(TAG)
                if at < 0:
                    continue
                ident = int(ip[at + len(TAG):].split(b":", 1)[0])
                frames.append({"id": ident, "iface": addr[0],
                               "src": socket.inet_ntoa(ip[12:16]),
                               "dst": socket.inet_ntoa(ip[16:20]), "proto": ip[9]})
        if stdin in r:
            if not os.read(stdin, 4096):
                break
    print(json.dumps(frames), flush=True)
    return 0


def agent_send(path: str) -> int:
    probes = json.loads(Path(path).read_text())
    tun = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", TUN.encode(), IFF_TUN | IFF_NO_PI))
    time.sleep(0.05)   # carrier up on the TUN
    results = {}
    for p in probes:
        pkt = bytes.fromhex(p["packet"])
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, p["iface"].encode())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            s.sendto(pkt, (p["dst"], 0))
            results[str(p["id"])] = 0
        except OSError as e:
            results[str(p["id"])] = e.errno
        finally:
            s.close()
    tun_ids = []
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        r, _, _ = select.select([tun], [], [], 0.05)
        if not r:
            continue
        try:
            data = os.read(tun, 65535)
        except BlockingIOError:
            continue
        at = data.find(TAG)
        if at >= 0:
            tun_ids.append(int(data[at + len(TAG):].split(b":", 1)[0]))
    os.close(tun)
    print(json.dumps({"sent": results, "tun": tun_ids, "EPERM": errno.EPERM}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "capture":
        sys.exit(agent_capture())
    if len(sys.argv) == 3 and sys.argv[1] == "send":
        sys.exit(agent_send(sys.argv[2]))
    print("usage: fcnet.py capture | send FILE", file=sys.stderr)
    sys.exit(2)
