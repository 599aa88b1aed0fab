"""Capture IKE traffic (UDP 500 and 4500) in a topology node with tshark and read it back
through Wireshark's own `isakmp` dissector: an independent check that what the peers
exchange is well-formed IKEv2 (RFC 7296), and which exchanges happened.

    cap = IkeCapture(t, "mn", "wlan0", rundir / "mn-ike.pcapng").start()
    ...                                       # tunnel set up, rekeyed, moved
    cap.stop()
    cap.exchanges()        # [(frame, src, dst, exchange type, initiator flag, response flag)]
    cap.malformed()        # tshark -V text of isakmp frames flagged malformed ("" = clean)

ESP in UDP 4500 (RFC 3948) is dissected as `esp`, not `isakmp`, so `-Y isakmp` keeps only
the IKE messages (including the NAT-T ones with the non-ESP marker).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

TSHARK = shutil.which("tshark") or "/usr/bin/tshark"
# IKE on port 500, and on 4500 only with the non-ESP marker (four zero octets where ESP
# has its SPI, RFC 3948 2.2): a bulk transfer's ESP packets stay out of the file
IKE_ONLY = "udp port 500 or (udp port 4500 and udp[8:4] = 0)"
# RFC 7296 3.1 exchange types
EXCHANGE = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL"}


class CaptureError(AssertionError):
    pass


class IkeCapture:
    def __init__(self, topo, node: str, iface: str, path, bpf: str = IKE_ONLY,
                 snaplen: int = 0) -> None:
        self.topo, self.node, self.iface, self.path = topo, node, iface, str(path)
        self.bpf, self.snaplen = bpf, snaplen
        self.proc = None
        self._ready = threading.Event()
        self._err: list[str] = []

    def start(self, timeout: float = 15.0) -> "IkeCapture":
        if not os.access(TSHARK, os.X_OK):
            raise CaptureError(f"tshark not found ({TSHARK}): run scripts/setup.sh")
        Path(self.path).unlink(missing_ok=True)
        argv = [TSHARK, "-n", "-q", "-i", self.iface, "-w", self.path, "-f", self.bpf]
        if self.snaplen:
            argv += ["-s", str(self.snaplen)]
        self.proc = self.topo.spawn(self.node, argv, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise CaptureError(f"tshark did not start on {self.node} {self.iface}: "
                               f"{''.join(self._err)[-1500:]}")
        return self

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            self._err.append(line)
            if "Capturing on" in line:
                time.sleep(0.5)        # dumpcap's loop is live a moment after it says so
                self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT to tshark's process group (tshark and dumpcap) so the file is complete."""
        p = self.proc
        if p is None or p.poll() is not None:
            return
        time.sleep(0.3)
        try:
            os.killpg(p.pid, signal.SIGINT)
        except OSError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)

    def _read(self, display: str, extra: list[str]) -> str:
        if not os.path.exists(self.path):
            raise CaptureError(f"capture file {self.path} does not exist")
        argv = [TSHARK, "-n", "-r", self.path, "-Y", display] + extra
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise CaptureError(f"{' '.join(argv)} failed rc {res.returncode}: {res.stderr}")
        return res.stdout

    def exchanges(self) -> list[tuple[int, str, str, str, bool, bool]]:
        """Every IKEv2 message: (frame, src, dst, exchange name, I flag, R flag)."""
        out = self._read("isakmp", ["-T", "fields", "-E", "separator=\t", "-e", "frame.number",
                                    "-e", "ip.src", "-e", "ip.dst", "-e", "isakmp.exchangetype",
                                    "-e", "isakmp.flag_i", "-e", "isakmp.flag_r"])
        rows = []
        for line in out.splitlines():
            f = line.split("\t")
            if len(f) < 6 or not f[3]:
                continue
            et = int(f[3].split(",")[0], 0)
            rows.append((int(f[0]), f[1], f[2], EXCHANGE.get(et, str(et)),
                         f[4] in ("1", "True"), f[5] in ("1", "True")))
        return rows

    def count(self, display: str) -> int:
        out = self._read(display, ["-T", "fields", "-e", "frame.number"])
        return len([l for l in out.splitlines() if l.strip()])

    def malformed(self) -> str:
        """Full decode of the IKE frames Wireshark flags as malformed or with an error-level
        expert item (the checks want this empty)."""
        return self._read("isakmp && (_ws.malformed || _ws.expert.severity >= 8388608)",
                          ["-V"]).strip()
