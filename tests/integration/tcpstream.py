#!/usr/bin/python3
"""A long-lived TCP stream whose every byte is checked: does a session survive the moves?

A receiver (in the mobile node, listening on the home address) and a sender (in the
correspondent node) run as separate processes in their namespaces:

    tcpstream.py recv --bind 198.18.1.100 --port 5001 --stats FILE
    tcpstream.py send --dst 198.18.1.100 --port 5001 --rate 200000 --chunk 1000 --stats FILE

The sender writes a deterministic byte sequence (a pattern with a prime period, so a lost,
repeated or shifted block shows as a mismatch) at a steady rate in small writes, paced on
an absolute schedule (after a stall it catches up). The receiver compares every byte with
the pattern, and records a reset, an error or the first mismatching offset, and every
inter-arrival gap longer than --gap-ms with its CLOCK_MONOTONIC start and end (the clock is
the same in every namespace, so the test driver can put moves on the same time line).

Both write their stats as JSON to their --stats file (atomically: tmp + rename) every
--interval seconds and at the end. SIGTERM (or SIGINT) asks the sender to stop: it stops
writing, shuts its side down (FIN) and waits for the receiver to close after reading
everything, then writes its final stats ("done": true). The receiver writes its final stats
("eof": true) when it reads the end of the stream.

The Python side (StreamPair) starts both through Topology.spawn, reads the stats files and
computes the outage around each move.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import sys
import time

PERIOD = 65521                     # prime: no power-of-two sized loss can realign
_PATTERN = bytes(((i * 7) + (i // 251) + (i >> 11)) & 0xff for i in range(PERIOD))
_DOUBLE = _PATTERN + _PATTERN      # slicing without wrap for chunks up to PERIOD bytes
MAX_CHUNK = 32768
IP_FREEBIND = 15


def expected(offset: int, length: int) -> bytes:
    """The pattern bytes at stream offsets [offset, offset + length), length <= PERIOD."""
    start = offset % PERIOD
    return _DOUBLE[start:start + length]


def _write_json(path: str, obj: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------ receiver

def run_receiver(args) -> int:
    st = {"role": "recv", "pid": os.getpid(), "listening": False, "connected": False,
          "peer": None, "received": 0, "mismatch_at": None, "error": None, "eof": False,
          "extra_connections": 0, "first_t": None, "last_t": None, "max_gap_ms": 0.0,
          "gaps": [], "gaps_dropped": 0, "t": time.monotonic()}
    gap_s = args.gap_ms / 1000.0
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)   # the home address may come later
    ls.bind((args.bind, args.port))
    ls.listen(4)
    st["listening"] = True
    _write_json(args.stats, st)
    stop = {"flag": False}

    def on_term(signum, frame):  # noqa: ARG001
        stop["flag"] = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    conn = None
    last_write = 0.0
    while not stop["flag"]:
        rl = [ls] + ([conn] if conn is not None else [])
        try:
            ready, _, _ = select.select(rl, [], [], args.interval)
        except InterruptedError:
            continue
        now = time.monotonic()
        if ls in ready:
            c, peer = ls.accept()
            if conn is None and not st["connected"]:
                conn = c
                st["connected"], st["peer"] = True, f"{peer[0]}:{peer[1]}"
            else:                      # the sender never reconnects: count and refuse
                st["extra_connections"] += 1
                c.close()
        if conn is not None and conn in ready:
            try:
                data = conn.recv(MAX_CHUNK)
            except OSError as e:
                st["error"] = f"{type(e).__name__}: {e}"
                conn.close()
                conn = None
                data = None
            if data is not None:
                if not data:
                    st["eof"] = True
                    conn.close()
                    conn = None
                else:
                    if st["last_t"] is not None:
                        gap = now - st["last_t"]
                        if gap * 1000.0 > st["max_gap_ms"]:
                            st["max_gap_ms"] = gap * 1000.0
                        if gap >= gap_s:
                            if len(st["gaps"]) < 5000:
                                st["gaps"].append([st["last_t"], now, round(gap * 1000.0, 1),
                                                   st["received"]])
                            else:
                                st["gaps_dropped"] += 1
                    else:
                        st["first_t"] = now
                    st["last_t"] = now
                    if st["mismatch_at"] is None and data != expected(st["received"], len(data)):
                        want = expected(st["received"], len(data))
                        off = next(i for i in range(len(data)) if data[i] != want[i])
                        st["mismatch_at"] = st["received"] + off
                    st["received"] += len(data)
        if now - last_write >= args.interval or st["eof"] or st["error"]:
            st["t"] = now
            _write_json(args.stats, st)
            last_write = now
        if st["eof"] or st["error"]:
            break
    st["t"] = time.monotonic()
    st["stopped"] = True
    _write_json(args.stats, st)
    return 0


# ------------------------------------------------------------------------------ sender

def run_sender(args) -> int:
    st = {"role": "send", "pid": os.getpid(), "connected": False, "sent": 0, "error": None,
          "done": False, "peer_closed": False, "t0": None, "t": time.monotonic(),
          "max_stall_ms": 0.0, "local": None}
    _write_json(args.stats, st)
    stop = {"flag": False}

    def on_term(signum, frame):  # noqa: ARG001
        stop["flag"] = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    deadline = time.monotonic() + args.connect_timeout
    s = None
    while s is None:
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(1.0)
        try:
            c.connect((args.dst, args.port))
            s = c
        except OSError as e:
            c.close()
            if time.monotonic() > deadline or stop["flag"]:
                st["error"] = f"connect: {type(e).__name__}: {e}"
                st["done"] = True
                _write_json(args.stats, st)
                return 1
            time.sleep(0.1)
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    st["connected"] = True
    st["local"] = "%s:%d" % s.getsockname()
    t0 = time.monotonic()
    st["t0"] = t0
    last_write = 0.0
    last_progress = t0
    while not stop["flag"]:
        now = time.monotonic()
        target = int((now - t0) * args.rate)
        try:
            while st["sent"] < target:
                n = min(args.chunk, target - st["sent"])
                k = s.send(expected(st["sent"], n))
                st["sent"] += k
                if k:
                    stall = (time.monotonic() - last_progress) * 1000.0
                    st["max_stall_ms"] = max(st["max_stall_ms"], stall)
                    last_progress = time.monotonic()
        except BlockingIOError:
            pass
        except OSError as e:
            st["error"] = f"{type(e).__name__}: {e}"
            break
        if now - last_write >= args.interval:
            st["t"] = now
            _write_json(args.stats, st)
            last_write = now
        # sleep until the next chunk is due (or the socket is writable again)
        due = t0 + (st["sent"] + args.chunk) / args.rate
        try:
            select.select([], [s] if st["sent"] < target else [], [],
                          max(0.0, min(args.interval, due - time.monotonic())))
        except InterruptedError:
            pass
    if st["error"] is None:
        # drain: everything accepted by the kernel must reach the receiver, then FIN
        try:
            s.setblocking(True)
            s.settimeout(args.drain_timeout)
            s.shutdown(socket.SHUT_WR)
            while True:
                d = s.recv(4096)
                if not d:
                    st["peer_closed"] = True
                    break
        except OSError as e:
            st["error"] = f"drain: {type(e).__name__}: {e}"
    s.close()
    st["done"] = True
    st["t"] = time.monotonic()
    _write_json(args.stats, st)
    return 0 if st["error"] is None else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, default=5001)
    r.add_argument("--stats", required=True)
    r.add_argument("--gap-ms", type=float, default=30.0)
    r.add_argument("--interval", type=float, default=0.1)
    s = sub.add_parser("send")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, default=5001)
    s.add_argument("--stats", required=True)
    s.add_argument("--rate", type=float, default=200000.0, help="bytes per second")
    s.add_argument("--chunk", type=int, default=1000, help="bytes per write")
    s.add_argument("--interval", type=float, default=0.1)
    s.add_argument("--connect-timeout", type=float, default=10.0)
    s.add_argument("--drain-timeout", type=float, default=30.0)
    args = p.parse_args(argv)
    if args.cmd == "send" and not 0 < args.chunk <= MAX_CHUNK:
        p.error(f"--chunk must be 1..{MAX_CHUNK}")
    return run_receiver(args) if args.cmd == "recv" else run_sender(args)


# ------------------------------------------------------------------------------ driver side

class StreamError(AssertionError):
    pass


class StreamPair:
    """Receiver in ``rx_node`` on ``addr``:``port``, sender in ``tx_node``, both started
    with ``topo.spawn`` (so killed at teardown at the latest)."""

    def __init__(self, topo, rundir, addr: str, port: int = 5001, rx_node: str = "mn",
                 tx_node: str = "cn", rate: int = 200000, chunk: int = 1000,
                 name: str = "stream") -> None:
        self.topo, self.addr, self.port = topo, addr, port
        self.rx_node, self.tx_node = rx_node, tx_node
        self.rate, self.chunk = rate, chunk
        self.rx_stats_path = os.path.join(str(rundir), f"{name}.recv.json")
        self.tx_stats_path = os.path.join(str(rundir), f"{name}.send.json")
        self.rx_log = os.path.join(str(rundir), f"{name}.recv.log")
        self.tx_log = os.path.join(str(rundir), f"{name}.send.log")
        self.rx = self.tx = None
        self.marks: list[tuple[str, float]] = []

    def _spawn(self, node, argv, log):
        with open(log, "ab") as f:
            return self.topo.spawn(node, [sys.executable or "/usr/bin/python3",
                                          os.path.abspath(__file__)] + argv,
                                   stdout=f, stderr=f)

    @staticmethod
    def _read(path):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def rx_stats(self) -> dict | None:
        return self._read(self.rx_stats_path)

    def tx_stats(self) -> dict | None:
        return self._read(self.tx_stats_path)

    def start(self, timeout: float = 10.0, min_bytes: int = 50000) -> None:
        for p in (self.rx_stats_path, self.tx_stats_path):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        self.rx = self._spawn(self.rx_node, ["recv", "--bind", self.addr, "--port",
                                             str(self.port), "--stats", self.rx_stats_path],
                              self.rx_log)
        self._wait(lambda: (self.rx_stats() or {}).get("listening"), 5, "receiver listening")
        self.tx = self._spawn(self.tx_node, ["send", "--dst", self.addr, "--port",
                                             str(self.port), "--stats", self.tx_stats_path,
                                             "--rate", str(self.rate), "--chunk",
                                             str(self.chunk)], self.tx_log)
        self.wait_progress(min_bytes, timeout, "initial stream")

    def _wait(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            self.check_alive()
            if time.monotonic() > deadline:
                raise StreamError(f"TCP stream: timed out after {timeout} s waiting for {what}; "
                                  f"{self.describe()}")
            time.sleep(0.05)

    def check_alive(self) -> None:
        """Fail at once on a reset, an error or a mismatch (either side)."""
        rx, tx = self.rx_stats() or {}, self.tx_stats() or {}
        bad = []
        if rx.get("error"):
            bad.append(f"receiver error {rx['error']}")
        if rx.get("mismatch_at") is not None:
            bad.append(f"byte mismatch at offset {rx['mismatch_at']}")
        if rx.get("extra_connections"):
            bad.append(f"{rx['extra_connections']} unexpected extra connections")
        if tx.get("error"):
            bad.append(f"sender error {tx['error']}")
        if bad:
            raise StreamError("TCP stream broken: " + "; ".join(bad) + f"; {self.describe()}")

    def received(self) -> int:
        return int((self.rx_stats() or {}).get("received", 0))

    def wait_progress(self, nbytes: int, timeout: float, what: str = "stream progress",
                      since: int | None = None) -> float:
        """Wait until ``nbytes`` more than ``since`` (default: now) have arrived; returns
        the monotonic time it happened."""
        base = self.received() if since is None else since
        self._wait(lambda: self.received() >= base + nbytes, timeout,
                   f"{what} ({nbytes} bytes after {base})")
        return time.monotonic()

    def mark(self, label: str) -> float:
        t = time.monotonic()
        self.marks.append((label, t))
        return t

    def outage_after(self, t_from: float, t_to: float | None = None) -> dict:
        """The longest arrival gap that ends after ``t_from`` (and before ``t_to``): the
        outage a move at ``t_from`` caused, in ms, with its start/end relative to t_from."""
        rx = self.rx_stats() or {}
        best = None
        for start, end, ms, _off in rx.get("gaps", []):
            if end < t_from or (t_to is not None and end > t_to):
                continue
            if best is None or ms > best[2]:
                best = (start, end, ms)
        if best is None:
            return {"outage_ms": 0.0, "below_ms": 30.0}
        return {"outage_ms": best[2], "gap_start_ms": round((best[0] - t_from) * 1000.0, 1),
                "gap_end_ms": round((best[1] - t_from) * 1000.0, 1)}

    def stop(self, timeout: float = 40.0) -> dict:
        """Stop the sender, wait for both sides to finish, return the final stats."""
        if self.tx is not None and self.tx.poll() is None:
            os.kill(self.tx.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in (self.tx, self.rx):
            if p is None:
                continue
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - reported below
                pass
        for p in (self.tx, self.rx):
            if p is not None and p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        return {"rx": self.rx_stats() or {}, "tx": self.tx_stats() or {}}

    def describe(self) -> str:
        rx, tx = self.rx_stats() or {}, self.tx_stats() or {}
        rxs = {k: rx.get(k) for k in ("connected", "peer", "received", "mismatch_at", "error",
                                      "eof", "max_gap_ms")}
        txs = {k: tx.get(k) for k in ("connected", "local", "sent", "error", "done",
                                      "peer_closed")}
        return f"receiver {rxs}, sender {txs}"


if __name__ == "__main__":
    sys.exit(main())
