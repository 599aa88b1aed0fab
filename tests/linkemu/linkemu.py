"""Python wrapper around the NFQUEUE link emulator (tests/linkemu/linkemu.c).

The kernel on the test machines has no netem, so delay and loss are emulated in user
space: inside a router namespace, iptables-legacy (mangle/FORWARD) steers every packet
forwarded in or out of one interface into an NFQUEUE that ``linkemu`` serves.

    from linkemu import LinkEmulator

    with LinkEmulator("r1", "veth-r1-b", delay_ms=10, loss=0.01) as emu:
        ...                       # traffic crossing veth-r1-b now sees +10 ms each way
    print(emu.stats)              # {"queue": 0, "packets": ..., "accepted": ..., ...}

Delay and loss apply per direction, so a round trip that crosses the interface both ways
gets 2 * delay_ms of extra RTT and survives with probability (1 - loss) ** 2. Only
packets *forwarded* by the namespace are affected (not ones it sends or receives itself).

Only the standard library is used; run with /usr/bin/python3.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["LinkEmulator", "LinkEmulatorError", "default_binary"]

_REPO = Path(__file__).resolve().parents[2]
_READY_PREFIX = "linkemu: ready "


class LinkEmulatorError(RuntimeError):
    """linkemu could not be started or stopped cleanly."""


def default_binary() -> str:
    """$MM_LINKEMU if set, else <repo>/build/tests/linkemu/linkemu."""
    env = os.environ.get("MM_LINKEMU")
    if env:
        return env
    return str(_REPO / "build" / "tests" / "linkemu" / "linkemu")


def _find_tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        raise LinkEmulatorError(f"{name} not found in PATH (needed by the link emulator)")
    return path


# emulators started and not yet stopped, stopped at interpreter exit as a last resort
_live: set[LinkEmulator] = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_leftovers() -> None:
    with _live_lock:
        leftovers = list(_live)
    for emu in leftovers:
        try:
            emu.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class LinkEmulator:
    """Delay/jitter/loss for packets forwarded across ``iface`` inside ``netns``.

    delay_ms/jitter_ms/loss apply to each direction separately; jitter is uniform in
    [-jitter_ms, +jitter_ms] (at most delay_ms) and never reorders packets. queue_num must
    be unique per namespace (chain ``LINKEMU<queue_num>`` in table mangle). seed makes the
    loss pattern reproducible. max_queue is the kernel queue length: beyond it packets
    pass undelayed (fail-open), so keep it large. rt_priority runs linkemu as SCHED_FIFO
    (0 = off) so that a busy machine does not make releases late. binary defaults to
    $MM_LINKEMU, else <repo>/build/tests/linkemu/linkemu. After stop(), ``stats`` holds
    the final counters: queue, packets, accepted, dropped, enobufs, max_held.
    """

    def __init__(self, netns: str, iface: str, delay_ms: float = 0.0, loss: float = 0.0,
                 jitter_ms: float = 0.0, queue_num: int = 0, seed: int = 1,
                 binary: str | None = None, max_queue: int = 65536,
                 rt_priority: int = 10, ready_timeout: float = 5.0) -> None:
        if not netns or "/" in netns:
            raise ValueError(f"bad namespace name {netns!r}")
        if not iface or len(iface) > 15 or any(c.isspace() or c == "/" for c in iface):
            raise ValueError(f"bad interface name {iface!r}")
        if not 0.0 <= float(delay_ms) <= 3_600_000:
            raise ValueError(f"delay_ms out of range: {delay_ms}")
        if not 0.0 <= float(jitter_ms) <= float(delay_ms):
            raise ValueError(f"jitter_ms must be within 0..delay_ms, got {jitter_ms}")
        if not 0.0 <= float(loss) <= 1.0:
            raise ValueError(f"loss must be within 0..1, got {loss}")
        if not 0 <= int(queue_num) <= 65535:
            raise ValueError(f"queue_num must be within 0..65535, got {queue_num}")
        if not 0 <= int(seed) < 2**64:
            raise ValueError(f"seed must be an unsigned 64-bit integer, got {seed}")
        if not 1 <= int(max_queue) <= 1 << 24:
            raise ValueError(f"max_queue out of range: {max_queue}")
        if not 0 <= int(rt_priority) <= 99:
            raise ValueError(f"rt_priority must be within 0..99, got {rt_priority}")

        self.netns = netns
        self.iface = iface
        self.delay_ms = float(delay_ms)
        self.jitter_ms = float(jitter_ms)
        self.loss = float(loss)
        self.queue_num = int(queue_num)
        self.seed = int(seed)
        self.max_queue = int(max_queue)
        self.rt_priority = int(rt_priority)
        self.binary = binary if binary is not None else default_binary()
        self.ready_timeout = float(ready_timeout)
        self.chain = f"LINKEMU{self.queue_num}"
        self._iptables = "iptables-legacy"

        self.stats: dict | None = None       # final counters once stopped
        self._proc: subprocess.Popen | None = None
        self._stderr = None                  # temp file holding linkemu's stderr
        self._out = b""                      # stdout read so far
        self._chain_created = False
        self._jumps: list[list[str]] = []    # FORWARD match specs that jump to our chain
        self._started = False
        self._stopped = False

    def __repr__(self) -> str:
        return (f"LinkEmulator(netns={self.netns!r}, iface={self.iface!r}, "
                f"delay_ms={self.delay_ms}, jitter_ms={self.jitter_ms}, loss={self.loss}, "
                f"queue_num={self.queue_num})")

    # ------------------------------------------------------------------------------

    def _ipt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = ["ip", "netns", "exec", self.netns, self._iptables, "-w", "5",
               "-t", "mangle", *args]
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=30)
        if check and res.returncode != 0:
            raise LinkEmulatorError(f"{' '.join(cmd)} failed (rc {res.returncode}): "
                                    f"{res.stderr.strip()}")
        return res

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            try:
                self._stderr.close()
            except OSError:
                pass
            self._stderr = None

    def _read_stdout(self, deadline: float | None) -> bool:
        """Read what linkemu wrote to stdout; False on EOF."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return True
        chunk = os.read(fd, 65536)
        if not chunk:
            return False
        self._out += chunk
        return True

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while b"\n" not in self._out:
            if time.monotonic() >= deadline:
                raise LinkEmulatorError(
                    f"linkemu (queue {self.queue_num} in {self.netns}) not ready after "
                    f"{self.ready_timeout:g} s; stderr: {self._stderr_text() or '-'}")
            if not self._read_stdout(deadline):
                rc = self._proc.wait(timeout=5) if self._proc else None
                raise LinkEmulatorError(
                    f"linkemu (queue {self.queue_num} in {self.netns}) exited with rc {rc} "
                    f"before it was ready: {self._stderr_text() or '(no message)'}")
        line, _, rest = self._out.partition(b"\n")
        self._out = rest
        text = line.decode(errors="replace")
        if not text.startswith(_READY_PREFIX) or f"queue={self.queue_num} " not in text:
            raise LinkEmulatorError(f"unexpected first line from linkemu: {text!r}")

    # ------------------------------------------------------------------------------

    def start(self) -> LinkEmulator:
        """Start linkemu in the namespace, then divert forwarded traffic to it."""
        if self._started:
            raise LinkEmulatorError(f"{self!r} was already started")
        self._started = True
        try:
            binary = Path(self.binary)
            if not binary.is_file() or not os.access(binary, os.X_OK):
                raise LinkEmulatorError(
                    f"linkemu binary {self.binary} not found or not executable; build it "
                    "(ninja -C build tests/linkemu/linkemu) or set MM_LINKEMU")
            self._iptables = _find_tool("iptables-legacy")
            ip = _find_tool("ip")

            # 1. the emulator, so that the queue is bound before any packet is diverted
            self._stderr = tempfile.TemporaryFile(prefix="linkemu-stderr-")
            cmd = [ip, "netns", "exec", self.netns, str(binary),
                   "--queue", str(self.queue_num), "--delay-ms", repr(self.delay_ms),
                   "--jitter-ms", repr(self.jitter_ms), "--loss", repr(self.loss),
                   "--seed", str(self.seed), "--max-queue", str(self.max_queue),
                   "--rt-prio", str(self.rt_priority), "--watch-stdin"]
            # stdin stays open: linkemu exits (releasing everything) when it hits EOF,
            # i.e. when this process dies without calling stop()
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=self._stderr, close_fds=True)
            with _live_lock:
                _live.add(self)
            self._wait_ready()

            # 2. a private chain and the jumps to it, appended to mangle/FORWARD
            res = self._ipt("-N", self.chain, check=False)
            if res.returncode != 0:
                raise LinkEmulatorError(
                    f"cannot create chain {self.chain} in {self.netns} (is another "
                    f"LinkEmulator using queue {self.queue_num} there?): "
                    f"{res.stderr.strip()}")
            self._chain_created = True
            self._ipt("-A", self.chain, "-j", "NFQUEUE", "--queue-num", str(self.queue_num),
                      "--queue-bypass")
            for spec in (["-i", self.iface], ["-o", self.iface]):
                self._ipt("-A", "FORWARD", *spec, "-j", self.chain)
                self._jumps.append(spec)
        except BaseException:
            try:
                self._cleanup()
            except Exception:  # noqa: BLE001 - keep the original error
                pass
            self._close_stderr()
            self._stopped = True             # stop() is then a harmless no-op
            self.stats = {}
            raise
        return self

    def _remove_rules(self, errors: list[str]) -> None:
        if not Path(f"/run/netns/{self.netns}").exists():
            # the namespace is gone, and its rules with it
            self._jumps.clear()
            self._chain_created = False
            return
        for spec in list(self._jumps):
            res = self._ipt("-D", "FORWARD", *spec, "-j", self.chain, check=False)
            if res.returncode != 0 and "does not exist" not in res.stderr \
                    and "No such file" not in res.stderr and "Bad rule" not in res.stderr:
                errors.append(f"removing FORWARD {' '.join(spec)} -j {self.chain}: "
                              f"{res.stderr.strip()}")
            self._jumps.remove(spec)
        if self._chain_created:
            self._ipt("-F", self.chain, check=False)
            res = self._ipt("-X", self.chain, check=False)
            if res.returncode != 0 and "No chain" not in res.stderr \
                    and "does not exist" not in res.stderr:
                errors.append(f"deleting chain {self.chain}: {res.stderr.strip()}")
            self._chain_created = False

    def _stop_process(self, errors: list[str]) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)     # only the PID we started
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                errors.append("linkemu ignored SIGTERM for 10 s, killed it")
                proc.kill()
                proc.wait(timeout=10)
        # collect the rest of stdout (the JSON line) up to EOF
        deadline = time.monotonic() + 2.0
        try:
            while self._read_stdout(deadline) and time.monotonic() < deadline:
                pass
        except (OSError, ValueError):
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if proc.returncode != 0:
            errors.append(f"linkemu exited with rc {proc.returncode}: "
                          f"{self._stderr_text() or '(no message)'}")
        self._proc = None

    def _cleanup(self) -> list[str]:
        errors: list[str] = []
        # rules first: from then on nothing new is queued, and linkemu can release every
        # packet it holds before it unbinds (unbinding drops what is still queued)
        try:
            if self._jumps or self._chain_created:
                self._remove_rules(errors)
        except Exception as exc:  # noqa: BLE001 - still stop the process
            errors.append(f"removing rules: {exc}")
        self._stop_process(errors)
        with _live_lock:
            _live.discard(self)
        return errors

    def stop(self) -> dict:
        """Remove the rules, stop linkemu and return its final counters (idempotent)."""
        if self._stopped:
            return dict(self.stats or {})
        self._stopped = True
        if not self._started:
            self.stats = {}
            return {}
        errors = self._cleanup()
        stats = None
        for line in reversed(self._out.decode(errors="replace").splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    stats = json.loads(line)
                except ValueError:
                    continue
                break
        self._close_stderr()
        if stats is None:
            errors.append("linkemu printed no final statistics")
        self.stats = stats or {}
        if errors:
            raise LinkEmulatorError(f"stopping {self!r}: " + "; ".join(errors))
        return dict(self.stats)

    def __enter__(self) -> LinkEmulator:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.stop()
        except LinkEmulatorError:
            if exc_type is None:
                raise
