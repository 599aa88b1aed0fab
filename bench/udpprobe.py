#!/usr/bin/python3
"""A 10 ms probe of our own (DESIGN.md: `ping -i 0.01` sends about every 16 ms here):
numbered UDP datagrams on an absolute schedule, their arrival times logged by the receiver,
which echoes each back; the sender logs the echoes. Times are CLOCK_MONOTONIC (one clock for
every network namespace of the machine), so a harness can compare them with its own.

    udpprobe.py recv --port 5005 [--bind ADDR] --log FILE   (in the receiving node)
    udpprobe.py send --dst ADDR --port 5005 --interval 0.01 --log FILE   (until SIGTERM)

Log lines: "<monotonic seconds> <seq>" per datagram received (recv) or echo received (send).
The receiver binds to --bind (start_pair: the address the sender sends to), so its echoes
leave from that address, as a server's replies do: from a mobile node's home address they
take the reverse tunnel (and tell the home agent the path still worked, daemon/replay.h),
not the care-of address's direct route.
"""

from __future__ import annotations

import argparse
import select
import signal
import socket
import struct
import sys
import time

HDR = struct.Struct("!8sQ")
MAGIC = b"MMPROBE1"
_stop = False


def _term(*_):
    global _stop
    _stop = True


def read_log(path) -> list[float]:
    """The CLOCK_MONOTONIC times of a log written by this program (either side)."""
    out = []
    try:
        text = open(path, errors="replace").read()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        f = line.split()
        if len(f) == 2:
            try:
                out.append(float(f[0]))
            except ValueError:
                pass
    return out


def start_pair(topo, rundir, dst: str, rx_node: str = "mn", tx_node: str = "cn",
               port: int = 5005, interval: float = 0.01) -> tuple[list, object]:
    """This probe between two namespaces of a topology (tests/topology/topo.py): the
    receiver in rx_node logging to rundir/probe-<rx_node>.log, then the sender in tx_node to
    dst. Returns (processes, receiver log path); the caller terminates the processes."""
    from pathlib import Path  # noqa: PLC0415

    rlog = Path(rundir) / f"probe-{rx_node}.log"
    me = str(Path(__file__).resolve())
    procs = [topo.spawn(rx_node, ["/usr/bin/python3", me, "recv", "--port", str(port),
                                  "--bind", dst, "--log", str(rlog)])]
    time.sleep(0.3)
    procs.append(topo.spawn(tx_node, ["/usr/bin/python3", me, "send", "--dst", dst, "--port",
                                      str(port), "--interval", f"{interval:g}", "--log",
                                      str(Path(rundir) / f"probe-{tx_node}.log")]))
    time.sleep(1.0)
    return procs, rlog


def ping_rtt_ms(topo, node: str, iface: str, dst: str) -> float | None:
    """Average RTT of 5 pings node -> dst out of iface (None when none came back)."""
    import re  # noqa: PLC0415

    r = topo.run(node, ["ping", "-n", "-q", "-c", "5", "-i", "0.2", "-I", iface, dst],
                 check=False)
    m = re.search(r"= [\d.]+/([\d.]+)/", r.stdout)
    return float(m.group(1)) if m else None


def recv(a) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    with open(a.log, "w", buffering=1) as log:
        while not _stop:
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                continue
            data, peer = s.recvfrom(2048)
            now = time.monotonic()
            if len(data) < HDR.size:
                continue
            magic, seq = HDR.unpack_from(data)
            if magic != MAGIC:
                continue
            log.write(f"{now:.6f} {seq}\n")
            try:
                s.sendto(data, peer)
            except OSError:
                pass
    return 0


def send(a) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    seq = 0
    start = time.monotonic()
    with open(a.log, "w", buffering=1) as log:
        while not _stop:
            due = start + seq * a.interval
            while True:
                now = time.monotonic()
                wait = due - now
                if wait <= 0:
                    break
                r, _, _ = select.select([s], [], [], wait)
                if r:
                    try:
                        data = s.recv(2048)
                        m, q = HDR.unpack_from(data)
                        if m == MAGIC:
                            log.write(f"{time.monotonic():.6f} {q}\n")
                    except (OSError, struct.error):
                        pass
            try:
                s.sendto(HDR.pack(MAGIC, seq) + bytes(56), (a.dst, a.port))
            except OSError:
                pass       # no route during a move: the datagram is lost, as it would be
            seq += 1
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--bind", default="0.0.0.0")
    r.add_argument("--log", required=True)
    s = sub.add_parser("send")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--interval", type=float, default=0.01)
    s.add_argument("--log", required=True)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    return recv(a) if a.cmd == "recv" else send(a)


if __name__ == "__main__":
    sys.exit(main())
