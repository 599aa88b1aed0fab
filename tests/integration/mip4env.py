"""Harness for the Mobile IPv4 integration tests: the home agent `ha` and the mobile node
`mnd` on the namespace topology (tests/topology/topo.py).

    env = MipEnv(topo, rundir, Binaries.from_env())
    env.go_home()                           # wlan0 on the home link with the home address
    ha = env.start_ha()                     # ns "ha", home interface eth0
    mnd = env.start_mnd()                   # ns "mn"
    env.wait_home()
    coa = env.go("int-x")                   # wlan0 to int-x, DHCP
    b, st = env.wait_registered(coa)        # hactl list --json + mnd's status file agree

It writes ha.conf, mnd.conf and the key files (mode 0600) into the run directory, starts the
daemons with Topology.spawn (killed at teardown at the latest), keeps their logs (each line
prefixed with CLOCK_MONOTONIC seconds, the clock mnd's status file uses too) and polls
`hactl list --json` (run in ns "ha", control socket in the run directory) and mnd's status
file with timeouts. Every wait raises AssertionError naming what it waited for and what it
saw last.

The configuration keys and the CLI are the contract in the issue (see test_mip4.py).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOPO_DIR = HERE.parent / "topology"
if str(TOPO_DIR) not in sys.path:
    sys.path.insert(0, str(TOPO_DIR))

import topo as topolib  # noqa: E402

HOME_ADDRESS = topolib.HOME_ADDRESS          # 198.18.1.100
HA_ADDRESS = "198.18.1.2"
HOME_PREFIX = "198.18.1.0/24"
HOME_GATEWAY = "198.18.1.1"
HA_HOME_IFACE = "eth0"                       # ha's interface on the "home" bridge (topo.py)
MN_SPI = 4096                                # >= 256 (RFC 5944 §1.6)
OTHER_HOA, OTHER_SPI = "198.18.1.101", 4097  # a second mobile node that never registers
MIP_PORT = 434

# measurements collected over the session, printed at the end (conftest.py)
RESULTS: list[str] = []
# every test's captures, for the tshark check (test 5): dicts with test, env (its captures),
# ha_stats (final counters of each ha instance), exclude (display filter of the frames sent
# malformed on purpose)
CAPTURES: list[dict] = []


def result(line: str) -> None:
    RESULTS.append(line)
    print(line, flush=True)


@dataclass
class Binaries:
    ha: str
    hactl: str
    mnd: str

    @classmethod
    def from_env(cls) -> "Binaries":
        missing, paths = [], {}
        for key, var in (("ha", "MM_HA"), ("hactl", "MM_HACTL"), ("mnd", "MM_MND")):
            p = os.environ.get(var, "")
            if not p or not os.access(p, os.X_OK):
                missing.append(f"{var}={p!r}")
            paths[key] = p
        if missing:
            raise RuntimeError("daemon binaries not found: " + ", ".join(missing)
                               + " (run through `meson test --suite mip4`, or set MM_HA, "
                               "MM_HACTL, MM_MND to the built executables)")
        return cls(**paths)


class Daemon:
    """A daemon started in a namespace; its stderr+stdout go, line by line and prefixed
    with the monotonic time, into ``log_path`` and ``self.lines``."""

    def __init__(self, topo, node: str, name: str, argv: list[str], log_path: Path,
                 env: dict | None = None) -> None:
        self.node, self.name, self.argv, self.log_path = node, name, argv, Path(log_path)
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._log = open(self.log_path, "a", buffering=1)
        self._log.write(f"==== {time.monotonic():.3f} start {' '.join(argv)}\n")
        penv = dict(os.environ, **(env or {}))
        self.proc = topo.spawn(node, argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=penv)
        self.pid = self.proc.pid           # `ip netns exec` execs the daemon: same PID
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        for raw in self.proc.stdout:
            t = time.monotonic()
            line = raw.decode(errors="replace").rstrip("\n")
            with self._cond:
                self.lines.append((t, line))
                self._cond.notify_all()
            try:
                self._log.write(f"{t:.3f} {line}\n")
            except ValueError:
                pass
        with self._cond:
            self._cond.notify_all()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def mark(self) -> int:
        """Index of the next log line (for wait_log(since=...))."""
        with self._cond:
            return len(self.lines)

    def find(self, pattern: str, since: int = 0) -> list[tuple[float, str]]:
        rx = re.compile(pattern)
        with self._cond:
            return [(t, l) for t, l in self.lines[since:] if rx.search(l)]

    def wait_log(self, pattern: str, timeout: float, since: int = 0) -> tuple[float, str]:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, l in self.lines[since:]:
                    if rx.search(l):
                        return t, l
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._thread.is_alive()):
                    tail = "\n".join(l for _, l in self.lines[-30:])
                    raise AssertionError(f"{self.name}: no log line matching {pattern!r} within "
                                         f"{timeout} s (alive={self.alive()}); last lines:\n{tail}")
                self._cond.wait(min(left, 0.2))

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit status
        (None if it had to be killed)."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
                self._finish(f"did not exit within {timeout} s of SIGTERM: killed")
                return None
        self._finish(f"exited with {self.proc.returncode}")
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL (a crash, as far as the daemon is concerned)."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self._finish("killed with SIGKILL")

    def _finish(self, what: str) -> None:
        self._thread.join(timeout=2)
        try:
            self._log.write(f"==== {time.monotonic():.3f} {what}\n")
            self._log.close()
        except ValueError:
            pass

    def text(self) -> str:
        with self._cond:
            return "\n".join(f"{t:.3f} {l}" for t, l in self.lines)


class MipEnv:
    def __init__(self, topo, rundir, binaries: Binaries, name: str = "t") -> None:
        self.topo = topo
        self.rundir = Path(rundir)
        self.rundir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.rundir, 0o755)
        self.bin = binaries
        self.name = name
        self.key = os.urandom(16)
        self.other_key = os.urandom(16)
        self.ha: Daemon | None = None
        self.mnd: Daemon | None = None
        self.old_ha: list[Daemon] = []       # earlier instances (restart tests)
        self.ha_sock = self.rundir / "ha.sock"
        self.ha_state = self.rundir / "ha.bindings"
        self.mn_status_path = self.rundir / "mnd.status.json"
        self.keys_file = self.rundir / "ha.keys"
        self.mn_key_file = self.rundir / "mnd.key"
        self.ha_conf = self.rundir / "ha.conf"
        self.mnd_conf = self.rundir / "mnd.conf"
        self.last_hactl = ""
        self.streams: list = []
        self.captures: list = []
        self.ha_final_stats: list[dict] = []     # last counters of each ha instance
        self.capture_exclude: str | None = None  # frames sent malformed on purpose ...
        self.bad_frames_sent = 0                 # ... and how many
        self.capture_record: dict | None = None
        self._write_keys()

    # ------------------------------------------------------------------ files
    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)

    def _write_keys(self) -> None:
        self._write_private(self.keys_file,
                            "# HOME-ADDRESS SPI HEXKEY (written by tests/integration)\n"
                            f"{HOME_ADDRESS} {MN_SPI} {self.key.hex()}\n"
                            f"{OTHER_HOA} {OTHER_SPI} {self.other_key.hex()}\n")
        self._write_private(self.mn_key_file, self.key.hex() + "\n")

    def write_ha_conf(self, **over) -> Path:
        cfg = {
            "address": HA_ADDRESS,
            "home-interface": HA_HOME_IFACE,
            "home-prefix": HOME_PREFIX,
            "max-lifetime": "600",
            "keys-file": str(self.keys_file),
            "state-file": str(self.ha_state),
            "control-socket": str(self.ha_sock),
            "tunnel-device": "mipha0",
            "udp-tunnelling": "allow",
            "keepalive-interval": "110",
        }
        cfg.update({k.replace("_", "-"): str(v) for k, v in over.items()})
        self.ha_conf.write_text("[home-agent]\n" + "".join(f"{k} = {v}\n"
                                                           for k, v in cfg.items()))
        return self.ha_conf

    def write_mnd_conf(self, **over) -> Path:
        cfg = {
            "home-address": HOME_ADDRESS,
            "home-prefix-length": "24",
            "home-agent": HA_ADDRESS,
            "spi": str(MN_SPI),
            "key-file": str(self.mn_key_file),
            "lifetime": "300",
            "interfaces": "wlan0,wwan0",
            "tunnel-device": "mip0",
            "reverse-tunnel": "true",
            "udp-tunnel": "auto",
            "status-file": str(self.mn_status_path),
            "routing-table": "4444",
        }
        cfg.update({k.replace("_", "-"): str(v) for k, v in over.items()})
        self.mnd_conf.write_text("[mobile-node]\n" + "".join(f"{k} = {v}\n"
                                                             for k, v in cfg.items()))
        return self.mnd_conf

    # ------------------------------------------------------------------ daemons
    def start_ha(self, wait: float = 10.0, **conf) -> Daemon:
        if self.ha is not None:
            self.old_ha.append(self.ha)
        if conf or not self.ha_conf.exists():
            self.write_ha_conf(**conf)
        n = len(self.old_ha)
        self.ha = Daemon(self.topo, "ha", "ha" if n == 0 else f"ha#{n + 1}",
                         [self.bin.ha, "--config", str(self.ha_conf), "--log-level", "debug"],
                         self.rundir / "ha.log")
        # ready = the control socket answers
        self.wait(lambda: self.hactl_ok(["list", "--json"]), wait, "ha control socket",
                  lambda: f"ha alive={self.ha.alive()}; last hactl: {self.last_hactl}")
        return self.ha

    def start_mnd(self, **conf) -> Daemon:
        if conf or not self.mnd_conf.exists():
            self.write_mnd_conf(**conf)
        self.mnd = Daemon(self.topo, "mn", "mnd",
                          [self.bin.mnd, "--config", str(self.mnd_conf), "--log-level", "debug"],
                          self.rundir / "mnd.log")
        return self.mnd

    def snapshot_ha_stats(self) -> dict:
        """The counters of the running ha, kept for the capture check (test 5)."""
        st = self.stats()
        self.ha_final_stats.append(st)
        return st

    def kill_ha(self) -> dict:
        """Snapshot the counters, then SIGKILL ha. Returns the snapshot."""
        st = self.snapshot_ha_stats()
        self.ha.kill()
        return st

    def stop_all(self) -> dict:
        """Stop mnd, then ha, politely; report how each ended."""
        out = {}
        for d in (self.mnd, self.ha):
            if d is not None:
                out[d.name] = d.stop()
        return out

    # ------------------------------------------------------------------ hactl
    def hactl(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
        res = self.topo.run("ha", [self.bin.hactl, "--socket", str(self.ha_sock), *args],
                            check=False, timeout=10)
        self.last_hactl = f"hactl {' '.join(args)} -> rc {res.returncode}: " \
                          f"{res.stdout.strip()[:3000]} {res.stderr.strip()[:1000]}"
        if check and res.returncode != 0:
            raise AssertionError(self.last_hactl)
        return res

    def hactl_ok(self, args: list[str]) -> bool:
        try:
            return self.hactl(args, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def hactl_json(self, args: list[str]) -> dict:
        res = self.hactl(args)
        try:
            return json.loads(res.stdout)
        except ValueError as e:
            raise AssertionError(f"hactl {' '.join(args)} printed invalid JSON ({e}): "
                                 f"{res.stdout[:2000]!r}") from None

    def bindings(self) -> dict[str, dict]:
        doc = self.hactl_json(["list", "--json"])
        assert isinstance(doc.get("bindings"), list), f"hactl list --json: no bindings list: {doc}"
        return {b["home_address"]: b for b in doc["bindings"]}

    def binding(self, hoa: str = HOME_ADDRESS) -> dict | None:
        return self.bindings().get(hoa)

    def stats(self) -> dict:
        return self.hactl_json(["stats", "--json"])

    # ------------------------------------------------------------------ mnd status
    def mn_status(self) -> dict | None:
        try:
            return json.loads(self.mn_status_path.read_text())
        except FileNotFoundError:
            return None
        except ValueError as e:
            # written atomically (tmp + rename), so a half-written file is a bug
            raise AssertionError(f"mnd status file {self.mn_status_path} is not valid JSON: "
                                 f"{e}: {self.mn_status_path.read_text()[:500]!r}") from None

    # ------------------------------------------------------------------ waiting
    def check_daemons(self) -> None:
        for d in (self.ha, self.mnd):
            if d is not None and not d.alive():
                tail = "\n".join(l for _, l in d.lines[-40:])
                raise AssertionError(f"{d.name} exited with {d.proc.returncode}; last lines:\n"
                                     f"{tail}")

    def wait(self, cond, timeout: float, what: str, describe=None, interval: float = 0.05):
        deadline = time.monotonic() + timeout
        last_exc = None
        while True:
            try:
                v = cond()
                if v:
                    return v
            except AssertionError as e:
                last_exc = e
            for s in self.streams:
                s.check_alive()
            self.check_daemons()
            if time.monotonic() > deadline:
                extra = describe() if describe else ""
                raise AssertionError(f"timed out after {timeout} s waiting for {what}. {extra}"
                                     + (f" last error: {last_exc}" if last_exc else ""))
            time.sleep(interval)

    def _state_text(self) -> str:
        return f"last {self.last_hactl}; mnd status: {self.mn_status()}"

    def wait_registered(self, coa: str, timeout: float = 20.0) -> tuple[dict, dict]:
        """Both sides agree that the mobile node is registered with care-of address coa."""
        def cond():
            b = self.binding()
            st = self.mn_status()
            if b and b.get("care_of_address") == coa and st and st.get("state") == "registered" \
                    and st.get("care_of_address") == coa and st.get("home") is False:
                return b, st
            return None
        return self.wait(cond, timeout, f"registration with care-of address {coa}",
                         self._state_text)

    def wait_home(self, timeout: float = 20.0, expect_binding_gone: bool = True) -> dict:
        """mnd says it is at home and (by default) the home agent has no binding for it."""
        def cond():
            st = self.mn_status()
            if not st or st.get("home") is not True:
                return None
            if expect_binding_gone and self.binding() is not None:
                return None
            return st
        return self.wait(cond, timeout, "the mobile node at home (deregistered)",
                         self._state_text)

    # ------------------------------------------------------------------ moves
    def go_home(self) -> None:
        """wlan0 onto the home link, with the home address and the home gateway."""
        self.topo.attach("wlan0", "home", dhcp=False)
        self.topo.configure_static("wlan0", f"{HOME_ADDRESS}/24", HOME_GATEWAY)

    def go(self, net: str) -> str:
        """wlan0 onto an access network; returns its DHCP address (the care-of address)."""
        return self.topo.attach("wlan0", net)

    # ------------------------------------------------------------------ failure output
    def failure_sections(self) -> list[tuple[str, str]]:
        out = []
        for d in [*self.old_ha, self.ha, self.mnd]:
            if d is not None:
                out.append((f"{d.name} log ({d.log_path})", _tail(d.text(), 300)))
        try:
            out.append(("hactl list --json (now)",
                        self.hactl(["list", "--json"], check=False).stdout[-4000:]))
        except Exception as e:  # noqa: BLE001 - best effort
            out.append(("hactl list --json (now)", f"failed: {e}"))
        try:
            out.append(("mnd status file", self.mn_status_path.read_text()))
        except OSError as e:
            out.append(("mnd status file", f"unreadable: {e}"))
        for s in self.streams:
            out.append((f"tcp stream {s.rx_stats_path}", s.describe()))
            for p in (s.rx_log, s.tx_log):
                try:
                    txt = Path(p).read_text()
                    if txt.strip():
                        out.append((p, _tail(txt, 50)))
                except OSError:
                    pass
        try:
            out.append(("mn addresses/routes/rules", self.topo.run(
                "mn", ["sh", "-c", "ip -4 addr; ip route show table all; ip rule"],
                check=False).stdout[-4000:]))
            out.append(("ha addresses/routes/neigh", self.topo.run(
                "ha", ["sh", "-c", "ip -4 addr; ip route; ip neigh show proxy; "
                                   "sysctl net.ipv4.ip_forward"],
                check=False).stdout[-4000:]))
        except Exception as e:  # noqa: BLE001
            out.append(("namespace state", f"failed: {e}"))
        return out


def _tail(text: str, n: int) -> str:
    lines = text.splitlines()
    return "\n".join(lines[-n:])


def is_ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
        return True
    except ValueError:
        return False
