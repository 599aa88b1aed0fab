#!/usr/bin/python3
"""Numbered UDP datagrams, to see what a move does to a datagram flow: how many arrive twice,
how many never arrive.

    udpseq.py send --dst 198.18.1.100 --port 5002 --rate 200 --size 200
    udpseq.py recv --bind 198.18.1.100 --port 5002 --stats FILE

The sender puts a 64-bit sequence number (from 0) and a fixed pattern in each datagram, at
--rate datagrams per second, until SIGTERM; it then sends a final datagram marked "end" a
few times. The receiver counts distinct sequence numbers, datagrams seen more than once, and
malformed ones, and writes its stats (JSON, atomically) every --interval seconds and when it
sees the end mark or SIGTERM: {"listening", "received", "distinct", "duplicates",
"max_seq", "end_seq", "malformed"}. Lost = end_seq - distinct (datagrams 0..end_seq-1).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import sys
import time

MAGIC = b"MIP4SEQ1"
END = 0xFFFFFFFFFFFFFFFF


def write_stats(path: str, st: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f)
    os.replace(tmp, path)


def recv(a) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((a.bind, a.port))
    s.settimeout(a.interval)
    seen: set[int] = set()
    st = {"listening": True, "received": 0, "distinct": 0, "duplicates": 0, "max_seq": -1,
          "end_seq": None, "malformed": 0}
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("now", True))
    write_stats(a.stats, st)
    last = time.monotonic()
    while not stop["now"]:
        try:
            data, _ = s.recvfrom(65535)
        except socket.timeout:
            data = None
        if data is not None:
            if len(data) < 24 or data[:8] != MAGIC:
                st["malformed"] += 1
            else:
                seq, total = struct.unpack("!QQ", data[8:24])
                if seq == END:
                    st["end_seq"] = total
                else:
                    st["received"] += 1
                    if seq in seen:
                        st["duplicates"] += 1
                    else:
                        seen.add(seq)
                        st["max_seq"] = max(st["max_seq"], seq)
                    st["distinct"] = len(seen)
        now = time.monotonic()
        if now - last >= a.interval or (st["end_seq"] is not None and data is not None):
            write_stats(a.stats, st)
            last = now
    write_stats(a.stats, st)
    return 0


def send(a) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("now", True))
    pad = bytes(max(0, a.size - 24))
    t0 = time.monotonic()
    seq = 0
    while not stop["now"]:
        due = t0 + seq / a.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
            continue
        try:
            s.sendto(MAGIC + struct.pack("!QQ", seq, 0) + pad, (a.dst, a.port))
        except OSError:
            pass           # no route for a moment: the datagram counts as sent and lost
        seq += 1
    for _ in range(5):
        try:
            s.sendto(MAGIC + struct.pack("!QQ", END, seq), (a.dst, a.port))
        except OSError:
            pass
        time.sleep(0.05)
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--stats", required=True)
    r.add_argument("--interval", type=float, default=0.2)
    t = sub.add_parser("send")
    t.add_argument("--dst", required=True)
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--rate", type=float, default=200.0)
    t.add_argument("--size", type=int, default=200)
    a = p.parse_args()
    return recv(a) if a.cmd == "recv" else send(a)


if __name__ == "__main__":
    sys.exit(main())
