"""Capture Mobile IPv4 control traffic with tshark and check that Wireshark's own `mip`
dissector decodes every message without a malformed-packet or expert warning.

    cap = Capture(topo, "ha", "eth0", "/run/dir/t1.pcapng").start()
    ...                                     # registrations happen
    cap.stop()
    problems = cap.problems()               # tshark -V output of flagged frames ("" = clean)
    n = cap.count("mip.type == 1")          # Registration Requests seen

The capture filter is UDP port 434 (RFC 5944 §1.8 registration port; also RFC 3519 MIP
tunnel data). Frames a test sends on purpose malformed are excluded from the checks with a
display filter (``exclude=``), so the check covers every message the daemons sent.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time

TSHARK = shutil.which("tshark") or "/usr/bin/tshark"
# Registration Request (1) and Reply (3), RFC 5944 §1.8; 4 is RFC 3519 tunnel data.
REGISTRATION = "mip.type == 1 || mip.type == 3"
# RFC 3519 tunnel data frames carry the users' traffic (a TCP stream captured mid-flight gets
# TCP-analysis expert notes such as "previous segment not captured"); they are not
# registration messages, so the decode check looks at everything else on port 434.
NOT_TUNNEL_DATA = "!(mip.type == 4)"


class CaptureError(AssertionError):
    pass


class Capture:
    def __init__(self, topo, node: str, iface: str, path: str,
                 bpf: str = "udp port 434", exclude: str | None = None) -> None:
        self.topo, self.node, self.iface, self.path = topo, node, iface, str(path)
        self.bpf, self.exclude = bpf, exclude
        self.proc = None
        self.err_path = f"{self.path}.stderr"
        self._stderr_lines: list[str] = []
        self._ready = threading.Event()

    def start(self, timeout: float = 15.0) -> "Capture":
        if not os.access(TSHARK, os.X_OK):
            raise CaptureError(f"tshark not found ({TSHARK}): install the tshark package")
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        # -n: no name resolution; -q: no per-packet output while writing
        self.proc = self.topo.spawn(self.node, [TSHARK, "-n", "-q", "-i", self.iface,
                                                "-w", self.path, "-f", self.bpf],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise CaptureError(f"tshark did not start capturing on {self.node} {self.iface} "
                               f"within {timeout} s: {''.join(self._stderr_lines)[-2000:]}")
        return self

    def _read_stderr(self) -> None:
        with open(self.err_path, "w") as log:
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace")
                self._stderr_lines.append(line)
                log.write(line)
                log.flush()
                if "Capturing on" in line:
                    # dumpcap prints this just before its capture loop is live; give it a
                    # moment so the first packet a test sends right after start() is not lost
                    time.sleep(0.5)
                    self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT to tshark's process group (tshark and its dumpcap), so the file is
        finished properly; then wait."""
        p = self.proc
        if p is None or p.poll() is not None:
            return
        # let the last packets reach dumpcap's buffer before asking it to stop
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

    # ------------------------------------------------------------------ reading
    def _filter(self, display: str) -> str:
        if self.exclude:
            return f"({display}) && !({self.exclude})"
        return display

    def _tshark_read(self, display: str, extra: list[str] | None = None) -> str:
        if not os.path.exists(self.path):
            raise CaptureError(f"capture file {self.path} does not exist")
        argv = [TSHARK, "-n", "-r", self.path, "-d", "udp.port==434,mip",
                "-Y", self._filter(display)] + (extra or [])
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise CaptureError(f"{' '.join(argv)} failed rc {res.returncode}: {res.stderr}")
        return res.stdout

    def problems(self) -> str:
        """Full decode (-V) of every frame with an expert-info item or a malformed
        packet (the test wants this empty)."""
        return self._tshark_read(f"(_ws.expert || _ws.malformed) && {NOT_TUNNEL_DATA}",
                                 ["-V"]).strip()

    def count(self, display: str = REGISTRATION) -> int:
        out = self._tshark_read(display, ["-T", "fields", "-e", "frame.number"])
        return len([l for l in out.splitlines() if l.strip()])

    def fields(self, display: str, fields: list[str]) -> list[list[str]]:
        """One row per matching frame with the requested fields (tab-separated values)."""
        argv = ["-T", "fields", "-E", "separator=\t"]
        for f in fields:
            argv += ["-e", f]
        out = self._tshark_read(display, argv)
        return [l.split("\t") for l in out.splitlines() if l.strip()]

    def summary(self, display: str = "mip") -> str:
        return self._tshark_read(display)
