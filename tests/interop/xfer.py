#!/usr/bin/python3
"""A TCP transfer whose integrity is checked end to end with SHA-256, and its driver.

Two processes, started in their namespaces:

    xfer.py recv --port 5201 --stats FILE [--bind 0.0.0.0]
    xfer.py send --dst 198.18.100.1 --port 5201 --stats FILE
                 [--bytes N | --seconds S | until SIGTERM] [--rate BYTES_PER_S] [--chunk N]

The sender writes a deterministic pseudo-random byte stream (SHAKE-256 of a seed, a block
of a prime length repeated, so a lost, repeated or reordered block changes the digest),
hashing what it sends; on the end condition (byte count, time, or SIGTERM) it shuts its
side down (FIN). The receiver hashes everything it reads and, at EOF, sends its byte count
and SHA-256 back on the same connection and closes. The sender compares them with its own
("match"). Both write their stats as JSON (tmp + rename) every --interval seconds and at
the end: bytes, sha256, first/last data time (CLOCK_MONOTONIC, the same in every
namespace), error (a reset, a timeout), and the longest gap between reads.

``--rate 0`` (the default) sends as fast as the path takes it; ``--no-hash`` skips the
hashing on both sides (for throughput measurements where Python's SHA-256 would be the
bottleneck: then only byte counts are compared).

The driver side, ``Transfer``, starts both with Topology.spawn (killed at teardown at the
latest) and waits for and checks the result.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BLOCK_LEN = 1048573                     # prime, a little under 1 MiB
MAX_CHUNK = 262144


def _block(seed: str) -> bytes:
    b = hashlib.shake_256(seed.encode()).digest(BLOCK_LEN)
    return b + b[:MAX_CHUNK]            # slices up to MAX_CHUNK without wrapping


def _write_json(path: str, obj: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


class _Hash:
    def __init__(self, on: bool) -> None:
        self.h = hashlib.sha256() if on else None

    def update(self, data) -> None:
        if self.h is not None:
            self.h.update(data)

    def hexdigest(self) -> str:
        return self.h.hexdigest() if self.h is not None else "-"


# ------------------------------------------------------------------------------ receiver

def run_receiver(args) -> int:
    st = {"role": "recv", "pid": os.getpid(), "listening": False, "peer": None,
          "bytes": 0, "sha256": None, "eof": False, "error": None, "first_t": None,
          "last_t": None, "max_gap_ms": 0.0, "max_gap_end_t": None, "t": time.monotonic()}
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.bind, args.port))
    ls.listen(1)
    st["listening"] = True
    _write_json(args.stats, st)
    stop = {"flag": False}

    def on_term(signum, frame):  # noqa: ARG001
        stop["flag"] = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    conn = None
    while conn is None and not stop["flag"]:
        try:
            r, _, _ = select.select([ls], [], [], args.interval)
        except InterruptedError:
            continue
        if r:
            conn, peer = ls.accept()
            st["peer"] = f"{peer[0]}:{peer[1]}"
    ls.close()
    h = _Hash(not args.no_hash)
    buf = bytearray(MAX_CHUNK)
    view = memoryview(buf)
    last_write = 0.0
    if conn is not None:
        conn.settimeout(args.interval)
    while conn is not None and not stop["flag"]:
        try:
            n = conn.recv_into(buf)
        except socket.timeout:
            n = None
        except OSError as e:
            st["error"] = f"{type(e).__name__}: {e}"
            break
        now = time.monotonic()
        if n == 0:
            st["eof"] = True
            break
        if n:
            if st["last_t"] is not None:
                gap = (now - st["last_t"]) * 1000.0
                if gap > st["max_gap_ms"]:
                    # when data flowed again (CLOCK_MONOTONIC, comparable across
                    # namespaces): the benches measure outages from their own events
                    st["max_gap_ms"], st["max_gap_end_t"] = gap, now
            else:
                st["first_t"] = now
            st["last_t"] = now
            h.update(view[:n])
            st["bytes"] += n
        if now - last_write >= args.interval:
            st["t"] = now
            _write_json(args.stats, st)
            last_write = now
    st["sha256"] = h.hexdigest()
    if conn is not None:
        if st["eof"]:
            try:
                conn.settimeout(10)
                conn.sendall(f"{st['bytes']} {st['sha256']}\n".encode())
            except OSError as e:
                st["error"] = f"reply: {type(e).__name__}: {e}"
        conn.close()
    st["t"] = time.monotonic()
    st["done"] = True
    _write_json(args.stats, st)
    return 0 if st["eof"] and st["error"] is None else 1


# ------------------------------------------------------------------------------ sender

def run_sender(args) -> int:
    st = {"role": "send", "pid": os.getpid(), "connected": False, "bytes": 0,
          "sha256": None, "peer_bytes": None, "peer_sha256": None, "match": None,
          "error": None, "done": False, "t0": None, "t_end": None, "t": time.monotonic(),
          "local": None}
    _write_json(args.stats, st)
    stop = {"flag": False}

    def on_term(signum, frame):  # noqa: ARG001
        stop["flag"] = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    block = _block(args.seed)
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
    st["connected"] = True
    st["local"] = "%s:%d" % s.getsockname()
    s.settimeout(args.interval)
    h = _Hash(not args.no_hash)
    t0 = time.monotonic()
    st["t0"] = t0
    last_write = 0.0
    limit = args.bytes if args.bytes else None
    end_t = t0 + args.seconds if args.seconds else None
    while not stop["flag"]:
        now = time.monotonic()
        if end_t is not None and now >= end_t:
            break
        want = args.chunk
        if limit is not None:
            want = min(want, limit - st["bytes"])
            if want <= 0:
                break
        if args.rate:
            due = int((now - t0) * args.rate) - st["bytes"]
            if due <= 0:
                time.sleep(min(args.interval, args.chunk / args.rate))
                continue
            want = min(want, due)
        off = st["bytes"] % BLOCK_LEN
        data = memoryview(block)[off:off + want]
        try:
            k = s.send(data)
        except socket.timeout:
            k = 0
        except OSError as e:
            st["error"] = f"{type(e).__name__}: {e}"
            break
        if k:
            h.update(data[:k])
            st["bytes"] += k
        if now - last_write >= args.interval:
            st["t"] = now
            _write_json(args.stats, st)
            last_write = now
    st["t_end"] = time.monotonic()
    st["sha256"] = h.hexdigest()
    if st["error"] is None:
        # FIN, then the receiver's "<bytes> <sha256>" once it has read everything
        try:
            s.shutdown(socket.SHUT_WR)
            s.settimeout(args.drain_timeout)
            reply = b""
            while not reply.endswith(b"\n"):
                d = s.recv(256)
                if not d:
                    break
                reply += d
            parts = reply.decode(errors="replace").split()
            if len(parts) == 2:
                st["peer_bytes"], st["peer_sha256"] = int(parts[0]), parts[1]
                st["match"] = (st["peer_bytes"] == st["bytes"]
                               and st["peer_sha256"] == st["sha256"])
            else:
                st["error"] = f"no digest from the receiver (got {reply!r})"
        except OSError as e:
            st["error"] = f"drain: {type(e).__name__}: {e}"
    s.close()
    st["done"] = True
    st["t"] = time.monotonic()
    _write_json(args.stats, st)
    return 0 if st["error"] is None and st["match"] else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--bind", default="0.0.0.0")
    r.add_argument("--port", type=int, default=5201)
    r.add_argument("--stats", required=True)
    r.add_argument("--interval", type=float, default=0.2)
    r.add_argument("--no-hash", action="store_true")
    s = sub.add_parser("send")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, default=5201)
    s.add_argument("--stats", required=True)
    s.add_argument("--bytes", type=int, default=0, help="stop after this many bytes")
    s.add_argument("--seconds", type=float, default=0.0, help="stop after this long")
    s.add_argument("--rate", type=float, default=0.0, help="bytes per second, 0 = max")
    s.add_argument("--chunk", type=int, default=65536, help="bytes per write")
    s.add_argument("--seed", default="mip4-mobike xfer")
    s.add_argument("--interval", type=float, default=0.2)
    s.add_argument("--connect-timeout", type=float, default=10.0)
    s.add_argument("--drain-timeout", type=float, default=60.0)
    s.add_argument("--no-hash", action="store_true")
    args = p.parse_args(argv)
    if args.cmd == "send" and not 0 < args.chunk <= MAX_CHUNK:
        p.error(f"--chunk must be 1..{MAX_CHUNK}")
    return run_receiver(args) if args.cmd == "recv" else run_sender(args)


# ------------------------------------------------------------------------------ driver side

PYTHON = "/usr/bin/python3"
SCRIPT = str(Path(__file__).resolve())


class XferError(AssertionError):
    pass


class Transfer:
    """Receiver in ``rx_node`` (listening on all addresses), sender in ``tx_node``
    connecting to ``dst``. ``start()`` waits until the receiver listens and the sender is
    connected; ``wait()`` until both are done (``stop()`` first ends an open-ended one),
    then ``check()`` asserts an intact transfer."""

    def __init__(self, topo, rundir, dst: str, rx_node: str = "mn", tx_node: str = "cn",
                 port: int = 5201, nbytes: int = 0, seconds: float = 0.0, rate: float = 0.0,
                 chunk: int = 65536, hashing: bool = True, name: str = "xfer") -> None:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)      # a file name
        self.topo, self.dst, self.port, self.name = topo, dst, port, name
        self.rx_node, self.tx_node = rx_node, tx_node
        d = Path(rundir)
        d.mkdir(parents=True, exist_ok=True)
        self.rx_stats, self.tx_stats = d / f"{name}.recv.json", d / f"{name}.send.json"
        self.rx_log, self.tx_log = d / f"{name}.recv.log", d / f"{name}.send.log"
        self.nbytes, self.seconds, self.rate, self.chunk = nbytes, seconds, rate, chunk
        self.hashing = hashing
        self.rx = self.tx = None

    def start(self, timeout: float = 10.0) -> "Transfer":
        for f in (self.rx_stats, self.tx_stats):
            try:
                f.unlink()
            except FileNotFoundError:
                pass
        nh = [] if self.hashing else ["--no-hash"]
        with open(self.rx_log, "w") as log:
            self.rx = self.topo.spawn(self.rx_node, [
                PYTHON, SCRIPT, "recv", "--port", self.port, "--stats", self.rx_stats, *nh],
                stdout=log, stderr=subprocess.STDOUT)
        self._wait(lambda: (self.recv_stats() or {}).get("listening"), timeout,
                   "receiver listening")
        argv = [PYTHON, SCRIPT, "send", "--dst", self.dst, "--port", self.port,
                "--stats", self.tx_stats, "--chunk", self.chunk, *nh]
        if self.nbytes:
            argv += ["--bytes", self.nbytes]
        if self.seconds:
            argv += ["--seconds", self.seconds]
        if self.rate:
            argv += ["--rate", self.rate]
        with open(self.tx_log, "w") as log:
            self.tx = self.topo.spawn(self.tx_node, argv, stdout=log, stderr=subprocess.STDOUT)
        self._wait(lambda: (self.send_stats() or {}).get("connected")
                   or (self.send_stats() or {}).get("error"), timeout, "sender connected")
        st = self.send_stats()
        if st.get("error"):
            raise XferError(f"{self.name}: sender failed: {st['error']}")
        return self

    def _wait(self, pred, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise XferError(f"{self.name}: {what} not reached within {timeout} s; "
                                f"recv={self.recv_stats()} send={self.send_stats()} "
                                f"logs: {self._logs()}")
            time.sleep(0.05)

    def _logs(self) -> str:
        out = []
        for f in (self.rx_log, self.tx_log):
            try:
                t = f.read_text(errors="replace").strip()
            except FileNotFoundError:
                continue
            if t:
                out.append(f"{f.name}: {t[-1500:]}")
        return " | ".join(out) or "(empty)"

    @staticmethod
    def _read(path: Path) -> dict | None:
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def recv_stats(self) -> dict | None:
        return self._read(self.rx_stats)

    def send_stats(self) -> dict | None:
        return self._read(self.tx_stats)

    def received(self) -> int:
        return (self.recv_stats() or {}).get("bytes", 0)

    def stop(self) -> None:
        """Ask an open-ended sender to finish (SIGTERM: FIN, then the digest exchange)."""
        if self.tx is not None and self.tx.poll() is None:
            os.kill(self.tx.pid, signal.SIGTERM)

    def wait(self, timeout: float = 60.0) -> tuple[dict, dict]:
        deadline = time.monotonic() + timeout
        for p in (self.tx, self.rx):
            left = max(0.1, deadline - time.monotonic())
            try:
                p.wait(timeout=left)
            except subprocess.TimeoutExpired:
                raise XferError(f"{self.name}: not finished within {timeout} s; "
                                f"recv={self.recv_stats()} send={self.send_stats()}") from None
        return self.recv_stats() or {}, self.send_stats() or {}

    def check(self, timeout: float = 60.0, min_bytes: int = 1) -> dict:
        """Wait, then assert: no error on either side, EOF seen, the receiver's byte count
        and SHA-256 equal the sender's, at least ``min_bytes``. Returns a summary."""
        rs, ss = self.wait(timeout)
        problems = []
        if ss.get("error"):
            problems.append(f"sender: {ss['error']}")
        if rs.get("error"):
            problems.append(f"receiver: {rs['error']}")
        if not rs.get("eof"):
            problems.append("receiver saw no EOF")
        if ss.get("match") is not True:
            problems.append(f"digest mismatch: sent {ss.get('bytes')} {ss.get('sha256')}, "
                            f"received {rs.get('bytes')} {rs.get('sha256')}")
        if rs.get("bytes") != ss.get("bytes"):
            problems.append(f"byte counts differ: sent {ss.get('bytes')}, "
                            f"received {rs.get('bytes')}")
        if (rs.get("bytes") or 0) < min_bytes:
            problems.append(f"only {rs.get('bytes')} bytes, wanted >= {min_bytes}")
        if problems:
            raise XferError(f"{self.name}: " + "; ".join(problems) + f"; logs: {self._logs()}")
        secs = max(1e-9, (rs["last_t"] or 0) - (rs["first_t"] or 0))
        return {"bytes": rs["bytes"], "sha256": rs["sha256"], "seconds": secs,
                "mbit_s": rs["bytes"] * 8 / secs / 1e6, "max_gap_ms": rs["max_gap_ms"],
                "max_gap_end_t": rs.get("max_gap_end_t")}


if __name__ == "__main__":
    sys.exit(main())
