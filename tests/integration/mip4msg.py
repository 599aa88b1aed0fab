"""Mobile IPv4 Registration Request/Reply built and read in Python, independently of the C
codec, for the negative tests (bad authenticator, replay, truncation, garbage).

RFC 5944 §3.3 (Request), §3.4 (Reply), §3.5.1-§3.5.2 (Mobile-Home Authentication:
HMAC-MD5 over the message up to and including the extension's Type, Length and SPI),
§5.7.1 (Identification: 64-bit NTP timestamp); RFC 3519 §3.1 (UDP Tunnel Request).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct
import time
from dataclasses import dataclass

REQUEST, REPLY = 1, 3
EXT_MN_HA = 32
EXT_UDP_TUN_REQ = 144
EXT_UDP_TUN_REP = 44
NTP_UNIX_OFFSET = 2208988800
FLAG_D, FLAG_T = 0x20, 0x02


def ntp_now(offset_s: float = 0.0) -> int:
    t = time.time() + offset_s + NTP_UNIX_OFFSET
    sec = int(t)
    frac = int((t - sec) * (1 << 32)) & 0xffffffff
    return (sec << 32) | frac


def _a(addr: str) -> bytes:
    return ipaddress.IPv4Address(addr).packed


def build_request(key: bytes, spi: int, home: str, ha: str, coa: str, ident: int,
                  lifetime: int = 300, flags: int = FLAG_D | FLAG_T,
                  udp_tunnel: bool = False) -> bytes:
    msg = struct.pack("!BBH4s4s4sQ", REQUEST, flags, lifetime, _a(home), _a(ha), _a(coa),
                      ident)
    if udp_tunnel:    # RFC 3519 §3.1: Type, Length 6, Sub-Type 0, Rsvd1, F|R|Rsvd2, Encap, Rsvd3
        msg += struct.pack("!BBBBBBH", EXT_UDP_TUN_REQ, 6, 0, 0, 0, 4, 0)
    msg += struct.pack("!BBI", EXT_MN_HA, 4 + 16, spi)
    return msg + hmac.new(key, msg, hashlib.md5).digest()


@dataclass
class Reply:
    code: int
    lifetime: int
    home: str
    ha: str
    ident: int
    spi: int | None
    auth_ok: bool | None        # None: no key given / no MN-HA extension
    extensions: list            # [(type, data)]


def parse_reply(data: bytes, key: bytes | None = None) -> Reply:
    if len(data) < 20 or data[0] != REPLY:
        raise ValueError(f"not a Registration Reply: {data[:24].hex()}")
    _, code, life, home, ha, ident = struct.unpack_from("!BBH4s4sQ", data)
    exts, off, spi, auth_ok = [], 20, None, None
    while off < len(data):
        t = data[off]
        if t == 0:
            off += 1
            continue
        if off + 2 > len(data):
            raise ValueError("truncated extension header")
        ln = data[off + 1]
        body = data[off + 2:off + 2 + ln]
        if len(body) != ln:
            raise ValueError("truncated extension")
        exts.append((t, body))
        if t == EXT_MN_HA and ln >= 4:
            spi = struct.unpack_from("!I", body)[0]
            if key is not None:
                mac = hmac.new(key, data[:off + 6], hashlib.md5).digest()
                auth_ok = hmac.compare_digest(mac, body[4:])
        off += 2 + ln
    return Reply(code, life, str(ipaddress.IPv4Address(home)), str(ipaddress.IPv4Address(ha)),
                 ident, spi, auth_ok, exts)


# ------------------------------------------------------------------------------ a sender
# run inside a namespace: sends hex payloads from a fixed source port to the HA and prints
# the hex of each answer (or "-" after the timeout), one line per payload

SEND_AND_WAIT_SRC = r"""
import socket, sys
dst, sport, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", sport))
s.settimeout(timeout)
for hexmsg in sys.argv[4:]:
    s.sendto(bytes.fromhex(hexmsg), (dst, 434))
    try:
        while True:
            data, src = s.recvfrom(65535)
            if src[0] == dst:
                print(data.hex(), flush=True)
                break
    except socket.timeout:
        print("-", flush=True)
"""


def send_and_wait(topo, node: str, dst: str, payloads: list[bytes], sport: int,
                  timeout: float = 1.5) -> list[bytes | None]:
    """Send each payload to dst:434 from ``node`` (source port ``sport``) and collect the
    answer to each (None when nothing came back within ``timeout``)."""
    res = topo.run(node, ["/usr/bin/python3", "-c", SEND_AND_WAIT_SRC, dst, str(sport),
                          str(timeout)] + [p.hex() for p in payloads],
                   timeout=len(payloads) * (timeout + 1) + 10)
    out = []
    for line in res.stdout.split():
        out.append(None if line == "-" else bytes.fromhex(line))
    if len(out) != len(payloads):
        raise AssertionError(f"sender printed {len(out)} results for {len(payloads)} payloads: "
                             f"{res.stdout!r} {res.stderr!r}")
    return out


def ident_split(ident: int) -> tuple[int, int]:
    return ident >> 32, ident & 0xffffffff
