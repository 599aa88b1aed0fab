"""The "mobile node" of the foreign-agent tests, run inside the mn namespace with
/usr/bin/python3 (plain sockets, so it starts in milliseconds; the registration messages come
from tests/integration/mip4msg.py, independent of the C code).

    mnagent.py listen IFACE SECONDS OUT.json     Agent Advertisements seen (packet socket)
    mnagent.py solicit IFACE [SRC]               one Agent Solicitation to 224.0.0.11, TTL 1
                                                 (RFC 5944 §2.2), the first advertisement
                                                 after it and the time it took (JSON line)
    mnagent.py register FA HOA SPORT HEXMSG [TIMEOUT]
                                                 a Registration Request from HOA:SPORT with
                                                 IP TTL 255 (RFC 3024 §4.2.1); the reply (hex)
    mnagent.py echoes IFACE HOA SECONDS OUT.json ICMP echo requests to HOA seen on IFACE
    mnagent.py raw IFACE HEXPACKET...            IPv4 packets sent as they are (IP_HDRINCL)

Advertisements are parsed here from RFC 5944 §2.1 / RFC 1256 §3 (type 9, extension 16).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4


ETH_P_ALL = 0x0003


def packet_socket(iface: str, proto: int = ETH_P_IP) -> socket.socket:
    """Incoming IPv4 (ETH_P_IP); ETH_P_ALL also sees what we send."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(proto))
    s.bind((iface, proto))
    return s


def parse_adv(pkt: bytes) -> dict | None:
    """An IPv4 packet carrying an Agent Advertisement -> its fields, else None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 0xf) * 4
    if pkt[9] != 1 or len(pkt) < ihl + 8:
        return None
    icmp = pkt[ihl:]
    if icmp[0] != 9:
        return None
    num, size, life = icmp[4], icmp[5], struct.unpack_from("!H", icmp, 6)[0]
    off = 8 + num * size * 4
    out = {"src": socket.inet_ntoa(pkt[12:16]), "dst": socket.inet_ntoa(pkt[16:20]),
           "ttl": pkt[8], "code": icmp[1], "lifetime": life, "routers": num}
    while off + 1 < len(icmp):
        t = icmp[off]
        if t == 0:
            off += 1
            continue
        ln = icmp[off + 1]
        body = icmp[off + 2:off + 2 + ln]
        if t == 16 and ln >= 6:
            seq, reglife, flags = struct.unpack_from("!HHH", body)
            out.update(seq=seq, reg_lifetime=reglife, flags=flags,
                       coa=[socket.inet_ntoa(body[6 + 4 * i:10 + 4 * i])
                            for i in range((ln - 6) // 4)])
        if t == 19:
            out["prefix_lengths"] = list(body)
        off += 2 + ln
    return out if "seq" in out else None


def cmd_listen(iface: str, seconds: float, out_path: str) -> None:
    s = packet_socket(iface)
    seen = []
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    end = time.monotonic() + seconds
    # tell the test we are listening
    print("listening", flush=True)
    while not stop["now"] and time.monotonic() < end:
        r, _, _ = select.select([s], [], [], 0.05)
        if not r:
            continue
        data, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        a = parse_adv(data)
        if a:
            a["t"] = time.monotonic()
            a["mac"] = addr[4][:6].hex(":")
            seen.append(a)
    with open(out_path + ".tmp", "w") as f:
        json.dump(seen, f)
    os.replace(out_path + ".tmp", out_path)


def cmd_solicit(iface: str, src: str | None) -> None:
    ps = packet_socket(iface)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    if src:
        s.bind((src, 0))
    # RFC 1256 §3: type 10, code 0, checksum, reserved
    msg = bytearray(struct.pack("!BBHI", 10, 0, 0, 0))
    c = sum(struct.unpack("!4H", msg))
    c = (c & 0xffff) + (c >> 16)
    struct.pack_into("!H", msg, 2, ~c & 0xffff)
    while select.select([ps], [], [], 0)[0]:     # nothing old
        ps.recvfrom(65535)
    t0 = time.monotonic()
    s.sendto(bytes(msg), ("224.0.0.11", 0))
    deadline = t0 + 3.0
    while time.monotonic() < deadline:
        r, _, _ = select.select([ps], [], [], 0.05)
        if not r:
            continue
        data, addr = ps.recvfrom(65535)
        t = time.monotonic()
        if addr[2] == PACKET_OUTGOING:
            continue
        a = parse_adv(data)
        if a:
            a["latency_ms"] = round((t - t0) * 1000, 3)
            a["mac"] = addr[4][:6].hex(":")
            print(json.dumps(a), flush=True)
            return
    print(json.dumps({"latency_ms": None}), flush=True)


def cmd_register(fa: str, hoa: str, sport: int, hexmsg: str, timeout: float = 3.0) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    s.bind((hoa, sport))
    s.settimeout(timeout)
    t0 = time.monotonic()
    s.sendto(bytes.fromhex(hexmsg), (fa, 434))
    try:
        data, src = s.recvfrom(65535)
        rtt = round((time.monotonic() - t0) * 1000, 3)
        print(json.dumps({"reply": data.hex(), "from": src[0], "port": src[1], "ms": rtt}),
              flush=True)
    except socket.timeout:
        print(json.dumps({"reply": None}), flush=True)


def cmd_echoes(iface: str, hoa: str, seconds: float, out_path: str) -> None:
    s = packet_socket(iface, ETH_P_ALL)
    seen = []
    print("listening", flush=True)
    end = time.monotonic() + seconds
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    while not stop["now"] and time.monotonic() < end:
        r, _, _ = select.select([s], [], [], 0.05)
        if not r:
            continue
        data, addr = s.recvfrom(65535)
        if addr[1] != ETH_P_IP or len(data) < 28 or data[9] != 1:
            continue
        ihl = (data[0] & 0xf) * 4
        kind = data[ihl]
        src, dst = socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20])
        if addr[2] != PACKET_OUTGOING and kind == 8 and dst == hoa:
            seen.append({"dir": "in", "src": src, "ttl": data[8], "mac": addr[4][:6].hex(":")})
        elif addr[2] == PACKET_OUTGOING and kind == 0 and src == hoa:
            seen.append({"dir": "out", "dst": dst})
    with open(out_path + ".tmp", "w") as f:
        json.dump(seen, f)
    os.replace(out_path + ".tmp", out_path)


def cmd_raw(iface: str, packets: list[str]) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    for h in packets:
        p = bytes.fromhex(h)
        s.sendto(p, (socket.inet_ntoa(p[16:20]), 0))
    print(json.dumps({"sent": len(packets)}), flush=True)


def main() -> None:
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "listen":
        cmd_listen(args[0], float(args[1]), args[2])
    elif cmd == "solicit":
        cmd_solicit(args[0], args[1] if len(args) > 1 else None)
    elif cmd == "register":
        cmd_register(args[0], args[1], int(args[2]), args[3],
                     float(args[4]) if len(args) > 4 else 3.0)
    elif cmd == "echoes":
        cmd_echoes(args[0], args[1], float(args[2]), args[3])
    elif cmd == "raw":
        cmd_raw(args[0], args[1:])
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
