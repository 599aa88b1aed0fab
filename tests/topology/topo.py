"""Namespace test topology for mip4-mobike: RFC 5266 Figure 1 built from network namespaces.

    import topo

    with topo.Topology() as t:                      # builds in about a second
        addr = t.attach("wlan0", "int-x")           # DHCP lease on the intranet subnet X
        assert t.ping("mn", t.addr("ha"))
        t.attach("wlan0", "ext-a")                  # roam to the coffee shop (behind NAT)
        assert not t.ping("mn", t.addr("ha"))       # the home agent is unreachable outside

Every node is a network namespace named ``<prefix>-<node>``; the prefix is unique per run
(``m4t`` + owner PID in base 36 + two random characters), so several runs coexist. The
picture, the addresses and the rules are in README.md next to this file. Only the standard
library is used; run it with /usr/bin/python3 (the tests need python3-pytest from Debian).

Cleanup: ``teardown()`` (also called by ``__exit__``, by an ``atexit`` hook and by the
signal handlers of ``install_signal_handlers()``) stops link emulators, kills every
process this topology started (by PID, SIGTERM then SIGKILL) and every process still
inside one of its namespaces, deletes the namespaces and removes its state directory.
``sweep()`` does the same for runs whose owner process is dead (e.g. killed with
SIGKILL); ``build()`` calls it first. Nothing outside ``/run/netns/<prefix>-*`` and
``/run/mip4-mobike-topo/<prefix>/`` (plus a caller-supplied run directory) is touched.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

__all__ = [
    "Topology", "TopologyError", "AccessNet", "NETS", "NODES", "HOME_ADDRESS",
    "HOME_POOL", "HOME_NET", "INTRANET", "INTERNET", "TIA_POOL", "MN_IFACES",
    "UdpListener", "sweep", "list_runs", "install_signal_handlers",
]

HERE = Path(__file__).resolve().parent
UDHCPC_SCRIPT = HERE / "udhcpc.script"
LINKEMU_DIR = HERE.parent / "linkemu"
STATE_ROOT = Path("/run/mip4-mobike-topo")
NETNS_DIR = Path("/run/netns")
PYTHON = sys.executable or "/usr/bin/python3"
DNSMASQ = "/usr/sbin/dnsmasq"
GENERATED_PREFIX = "m4t"           # generated prefixes: m4t + base36(owner pid) + 2 chars

# -------------------------------------------------------------------------------------
# The topology as data

INTRANET = "198.18.0.0/16"
INTERNET = "198.19.0.0/16"
TIA_POOL = "198.18.100.0/24"        # VPN tunnel inner addresses, routed to vpngw by icore
HOME_NET = "198.18.1.0/24"
HOME_POOL = ("198.18.1.100", "198.18.1.199")
HOME_ADDRESS = "198.18.1.100"       # the mobile node's home address by default
DMZ_PUBLIC = "198.19.0.0/24"        # vpngw's public side (ext0), reachable from inside

MN_IFACES = {"wlan0": 100, "wwan0": 200}   # mn interface -> default route metric
_MN_MACS = {"wlan0": "02:6d:6e:00:00:01", "wwan0": "02:6d:6e:00:00:02"}


@dataclass(frozen=True)
class AccessNet:
    """An access network the mobile node can attach to."""
    name: str                 # "int-x"
    router: str               # node holding the bridge: "rint-x" ("icore" for home)
    bridge: str               # bridge the mn peer end is enslaved to: "lan" ("home")
    lan: str                  # "198.18.11.0/24"
    core: str | None          # core router of the uplink: "icore" / "inet" (None: home)
    uplink: str | None        # uplink prefix, core .1, access router .2
    dhcp: bool                # default DHCP flag (dnsmasq on the bridge)
    nat: bool                 # default NAT flag (masquerade on the router's uplink)

    @property
    def gateway(self) -> str:
        """The router's address on the LAN (.1): the mobile node's default gateway."""
        return _host(self.lan, 1)

    @property
    def core_addr(self) -> str | None:
        return _host(self.uplink, 1) if self.uplink else None

    @property
    def router_uplink_addr(self) -> str | None:
        return _host(self.uplink, 2) if self.uplink else None

    @property
    def core_iface(self) -> str | None:
        """The core router's end of the uplink (named after the network)."""
        return self.name if self.uplink else None

    @property
    def router_iface(self) -> str | None:
        """The access router's end of the uplink."""
        return "up0" if self.uplink else None

    @property
    def dhcp_range(self) -> tuple[str, str]:
        return _host(self.lan, 100), _host(self.lan, 199)

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.lan).prefixlen


def _host(prefix: str, n: int) -> str:
    return str(ipaddress.ip_network(prefix)[n])


NETS: dict[str, AccessNet] = {n.name: n for n in [
    AccessNet("home", "icore", "home", HOME_NET, None, None, dhcp=False, nat=False),
    AccessNet("int-x", "rint-x", "lan", "198.18.11.0/24", "icore", "198.18.211.0/24",
              dhcp=True, nat=False),
    AccessNet("int-y", "rint-y", "lan", "198.18.12.0/24", "icore", "198.18.212.0/24",
              dhcp=True, nat=False),
    AccessNet("int-f", "rint-f", "lan", "198.18.13.0/24", "icore", "198.18.213.0/24",
              dhcp=True, nat=False),     # a foreign agent will live in rint-f
    AccessNet("ext-a", "rext-a", "lan", "198.19.10.0/24", "inet", "198.19.110.0/24",
              dhcp=True, nat=True),      # coffee shop: behind NAT
    AccessNet("ext-b", "rext-b", "lan", "198.19.20.0/24", "inet", "198.19.120.0/24",
              dhcp=True, nat=False),     # LTE: public addresses
]}

ROUTERS = ["inet", "vpngw", "icore"] + [n.router for n in NETS.values() if n.uplink]
NODES = ROUTERS + ["ha", "cn", "mn", "park"]

# well-known addresses for Topology.addr()
ADDRESSES: dict[str, str] = {
    "inet": "198.19.0.1",            # internet core, on the DMZ public link
    "vpngw": "198.19.0.2",           # the gateway's public address (ext0)
    "vpngw-ext": "198.19.0.2",
    "vpngw-int": "198.18.0.2",       # the gateway's intranet address (int0)
    "icore": "198.18.0.1",           # intranet core, on the DMZ internal link
    "icore-home": "198.18.1.1",      # default gateway of the home network
    "ha": "198.18.1.2",
    "cn": "198.18.1.3",
    "hoa": HOME_ADDRESS,
    "home-address": HOME_ADDRESS,
}
for _n in NETS.values():
    ADDRESSES[f"{_n.name}-gw"] = _n.gateway
    if _n.uplink:
        ADDRESSES[_n.router] = _n.gateway                       # "rint-x" -> LAN side .1
        ADDRESSES[f"{_n.router}-up"] = _n.router_uplink_addr    # "rint-x-up" -> uplink .2
        ADDRESSES[f"{_n.core}-{_n.name}"] = _n.core_addr        # "icore-int-x" -> .1

# sysctls for every namespace. rp_filter is off everywhere: the mobile node has two
# uplinks with a default route each, the home agent and the gateway receive tunnelled
# and decapsulated traffic on devices other than the reverse route, and NAT toggling
# makes paths asymmetric for a while; strict reverse-path filtering would silently drop
# exactly the packets the product must handle. IPv6 is off (quiet captures, no DAD or
# router solicitations disturbing timings); ICMP rate limiting is off so that error
# replies (port/net unreachable) are deterministic; redirects are off so that no router
# rewrites a host's routing table behind a test's back.
_SYSCTL_ALL = [
    "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
    "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0",
    "net.ipv4.conf.all.accept_redirects=0", "net.ipv4.conf.default.accept_redirects=0",
    "net.ipv4.icmp_ratelimit=0",
]
_SYSCTL_ROUTER = ["net.ipv4.ip_forward=1"]

_VPNGW_FILTER = """\
table inet mm_topo_vpngw {
    chain forward {
        type filter hook forward priority filter; policy accept;
        iifname "ext0" oifname "int0" counter drop
        iifname "int0" oifname "ext0" counter drop
    }
}
"""

_NAT_TABLE = "mm_topo_nat"


class TopologyError(RuntimeError):
    """Building or driving the topology failed."""


class CommandError(subprocess.CalledProcessError, TopologyError):
    """A command failed; str() includes its stderr."""

    def __str__(self) -> str:
        err = self.stderr or ""
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
        out = self.output or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        cmd = " ".join(map(str, self.cmd)) if isinstance(self.cmd, (list, tuple)) else self.cmd
        return (f"command {cmd!r} failed with rc {self.returncode}"
                + (f"; stderr: {err.strip()}" if err.strip() else "")
                + (f"; stdout: {out.strip()[:2000]}" if out.strip() else ""))


# -------------------------------------------------------------------------------------
# Small process helpers (every call has a timeout)

def _run(argv: Sequence[str], check: bool = True, timeout: float = 30, input: str | None = None,
         **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    if input is None and "stdin" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    res = subprocess.run(list(argv), timeout=timeout, input=input, **kw)
    if check and res.returncode != 0:
        raise CommandError(res.returncode, list(argv), res.stdout, res.stderr)
    return res


def _run_parallel(jobs: list[tuple[list[str], str | None]], timeout: float = 30) -> None:
    """Run several commands at once (each with optional stdin text); raise on any failure."""
    procs = []
    try:
        for argv, stdin in jobs:
            procs.append((argv, stdin, subprocess.Popen(
                argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        deadline = time.monotonic() + timeout
        errors = []
        for argv, stdin, p in procs:
            out, err = p.communicate(input=stdin, timeout=max(0.1, deadline - time.monotonic()))
            if p.returncode != 0:
                errors.append(str(CommandError(p.returncode, argv, out, err))
                              + (f"\n--- input:\n{stdin}" if stdin else ""))
        if errors:
            raise TopologyError("\n".join(errors))
    finally:
        for _, _, p in procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass


def _proc_starttime(pid: int) -> int | None:
    """Start time of a process (clock ticks since boot), to tell a PID from its reuse."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(data[data.rindex(")") + 2:].split()[19])
    except (ValueError, IndexError):
        return None


def _alive(pid: int, starttime: int | None = None) -> bool:
    if pid <= 0:
        return False
    st = _proc_starttime(pid)
    if st is None:
        return False
    try:
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z":
            return False
    except (OSError, IndexError):
        return False
    return starttime is None or st == starttime


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _new_prefix() -> str:
    rnd = random.SystemRandom()
    tail = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(2))
    return f"{GENERATED_PREFIX}{_base36(os.getpid())}{tail}"


def _netns_list() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def _ns_ids(names: Iterable[str]) -> dict[tuple[int, int], str]:
    ids = {}
    for name in names:
        try:
            st = os.stat(NETNS_DIR / name)
        except OSError:
            continue
        ids[(st.st_dev, st.st_ino)] = name
    return ids


def _pids_in_namespaces(names: Iterable[str]) -> dict[int, str]:
    """PIDs of all live processes whose network namespace is one of ``names``."""
    ids = _ns_ids(names)
    if not ids:
        return {}
    found = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        ns = ids.get((st.st_dev, st.st_ino))
        if ns is not None:
            found[int(entry)] = ns
    return found


def _kill_pids(pids: Iterable[int], grace: float = 2.0) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL whatever is left. Never raises."""
    pids = {p: _proc_starttime(p) for p in pids}
    pids = {p: st for p, st in pids.items() if st is not None}
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(_alive(p, st) for p, st in pids.items()):
            return
        time.sleep(0.02)
    for pid, st in pids.items():
        if _alive(pid, st):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _kill_namespace_processes(names: Iterable[str], grace: float = 2.0) -> list[int]:
    names = list(names)
    pids = _pids_in_namespaces(names)
    if pids:
        _kill_pids(pids, grace)
        # SIGKILLed processes disappear asynchronously; wait a little for them
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and _pids_in_namespaces(names):
            time.sleep(0.02)
    return sorted(pids)


def _delete_namespaces(names: Iterable[str]) -> None:
    names = [n for n in names if (NETNS_DIR / n).exists()]
    if not names:
        return
    try:
        _run(["ip", "-force", "-batch", "-"], check=False, timeout=30,
             input="".join(f"netns del {n}\n" for n in names))
    except (OSError, subprocess.SubprocessError):
        pass
    for n in names:               # one by one for anything the batch left behind
        if (NETNS_DIR / n).exists():
            try:
                _run(["ip", "netns", "del", n], check=False, timeout=10)
            except (OSError, subprocess.SubprocessError):
                pass


# -------------------------------------------------------------------------------------
# Runs of dead owners

_NS_RE = re.compile(r"^([a-z0-9]+)-([a-z0-9-]+)$")


def _owner_of(prefix: str) -> tuple[int | None, int | None, dict]:
    """(pid, starttime, record) of a run's owner, from its marker or, failing that, its name."""
    try:
        rec = json.loads((STATE_ROOT / prefix / "owner").read_text())
        return int(rec["pid"]), rec.get("starttime"), rec
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if prefix.startswith(GENERATED_PREFIX) and len(prefix) > len(GENERATED_PREFIX) + 2:
        try:
            return int(prefix[len(GENERATED_PREFIX):-2], 36), None, {}
        except ValueError:
            pass
    return None, None, {}


def list_runs() -> dict[str, dict]:
    """All runs on this machine: prefix -> {pid, alive, namespaces, state_dir}."""
    runs: dict[str, dict] = {}
    for name in _netns_list():
        m = _NS_RE.match(name)
        if not m or m.group(2) not in NODES:
            continue
        prefix = m.group(1)
        if not (prefix.startswith(GENERATED_PREFIX) or (STATE_ROOT / prefix).is_dir()):
            continue        # not one of ours
        runs.setdefault(prefix, {"namespaces": []})["namespaces"].append(name)
    if STATE_ROOT.is_dir():
        for d in STATE_ROOT.iterdir():
            if d.is_dir():
                runs.setdefault(d.name, {"namespaces": []})
    for prefix, info in runs.items():
        pid, st, rec = _owner_of(prefix)
        info["pid"] = pid
        info["alive"] = pid is not None and _alive(pid, st)
        info["state_dir"] = str(STATE_ROOT / prefix) if (STATE_ROOT / prefix).is_dir() else None
        info["rundir"] = rec.get("rundir")
        if pid is None and info["state_dir"]:
            # a marker directory without owner file: either being created this instant
            # or broken; only call it dead once it is old enough
            try:
                age = time.time() - os.stat(info["state_dir"]).st_mtime
            except OSError:
                age = 0
            info["alive"] = age < 30
    return runs


def _destroy_run(prefix: str, namespaces: Iterable[str], rec: dict | None = None) -> None:
    namespaces = list(namespaces)
    _kill_namespace_processes(namespaces)
    _delete_namespaces(namespaces)
    state = STATE_ROOT / prefix
    rec = rec or {}
    rundir = rec.get("rundir")
    if rundir and rec.get("own_rundir") and Path(rundir).is_dir() \
            and Path(rundir).resolve() != state.resolve():
        shutil.rmtree(rundir, ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)


def sweep(verbose: bool = False) -> list[str]:
    """Remove namespaces, processes and state of runs whose owner process is dead.

    Only runs that are recognisably ours are considered (namespaces ``<prefix>-<node>``
    with a marker under /run/mip4-mobike-topo/<prefix>/, or a generated ``m4t...``
    prefix), and a run is left alone while its owner PID (checked with its start time
    when recorded) is alive. Returns the prefixes removed.
    """
    removed = []
    for prefix, info in sorted(list_runs().items()):
        if info["alive"]:
            continue
        _, _, rec = _owner_of(prefix)
        if verbose:
            print(f"sweep: removing run {prefix} (owner pid {info['pid']} is dead): "
                  f"{len(info['namespaces'])} namespaces", file=sys.stderr)
        _destroy_run(prefix, info["namespaces"], rec)
        removed.append(prefix)
    return removed


# -------------------------------------------------------------------------------------
# Signals and interpreter exit

_LIVE: set["Topology"] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _teardown_live() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for t in live:
        t.teardown()


def _raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def install_signal_handlers(signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM,
                                                     signal.SIGHUP)) -> Callable[[], None]:
    """Turn SIGTERM/SIGHUP (and SIGINT, which a shell leaves ignored for background jobs,
    so Python would not even install its own handler) into KeyboardInterrupt, so that
    ``with``/``finally``/pytest fixture finalizers tear the topology down. Main thread
    only. Returns a function that restores the previous handlers."""
    old = {}
    for s in signals:
        old[s] = signal.signal(s, _raise_interrupt)

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)
    return restore


class _SignalsDeferred:
    """Ignore SIGINT/SIGTERM/SIGHUP while tearing down (main thread only)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __enter__(self):
        self.old = {}
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                try:
                    self.old[s] = signal.signal(s, signal.SIG_IGN)
                except (ValueError, OSError):
                    pass
        return self

    def __exit__(self, *exc):
        for s, h in self.old.items():
            try:
                signal.signal(s, h)
            except (ValueError, OSError, TypeError):
                pass


# -------------------------------------------------------------------------------------
# UDP helpers (used by the self-tests and handy for end-to-end tests)

_UDP_LISTEN_SRC = r"""
import json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, (ip, port) = s.recvfrom(65535)
    print(json.dumps({"src": ip, "sport": port, "data": data.hex()}), flush=True)
"""

_UDP_SEND_SRC = r"""
import socket, sys, time
dst, port, payload, src, count = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3]), sys.argv[4], int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if src:
    s.bind((src, 0))
try:
    for i in range(count):
        s.sendto(payload, (dst, port))
        if i + 1 < count:
            time.sleep(0.02)
except OSError as e:
    print(e, file=sys.stderr)
    sys.exit(3)
"""

# flush the conntrack table of the current namespace over ctnetlink (no conntrack tool
# here): IPCTNL_MSG_CT_DELETE without attributes deletes every IPv4 entry
_CT_FLUSH_SRC = r"""
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)   # NETLINK_NETFILTER
s.bind((0, 0))
msg = struct.pack("=LHHLL", 20, (1 << 8) | 2, 0x1 | 0x4, 1, 0) + struct.pack("=BBH", socket.AF_INET, 0, 0)
s.send(msg)
s.settimeout(5)
data = s.recv(65536)
err = struct.unpack_from("=i", data, 16)[0] if struct.unpack_from("=H", data, 4)[0] == 2 else 0
if err not in (0, -2):   # -ENOENT: nothing to flush / conntrack not loaded here
    print("conntrack flush failed:", err, file=sys.stderr); sys.exit(1)
"""


class UdpListener:
    """A UDP socket in a namespace; collects (src, sport, data) of every datagram."""

    def __init__(self, topo: "Topology", node: str, port: int, addr: str = "0.0.0.0",
                 ready_timeout: float = 5.0) -> None:
        self.node, self.port, self.addr = node, port, addr
        self.datagrams: list[tuple[str, int, bytes]] = []
        self._cond = threading.Condition()
        self._proc = topo.spawn(node, [PYTHON, "-u", "-c", _UDP_LISTEN_SRC, addr, str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self._readline_with_timeout(ready_timeout)
        if first.strip() != "ready":
            self.close()
            raise TopologyError(f"UDP listener on {node} {addr}:{port} failed to start: "
                                f"{first!r} {self._proc.stderr.read() if self._proc.stderr else ''}")
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()

    def _readline_with_timeout(self, timeout: float) -> str:
        box: list[str] = []
        t = threading.Thread(target=lambda: box.append(self._proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        return box[0] if box else ""

    def _reader(self) -> None:
        for line in self._proc.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self.datagrams.append((rec["src"], int(rec["sport"]), bytes.fromhex(rec["data"])))
                self._cond.notify_all()

    def wait_for(self, data: bytes | None = None, timeout: float = 2.0
                 ) -> tuple[str, int, bytes] | None:
        """First datagram (with payload ``data`` if given) within ``timeout``, else None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for d in self.datagrams:
                    if data is None or d[2] == data:
                        return d
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)

    def __enter__(self) -> "UdpListener":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -------------------------------------------------------------------------------------

class Topology:
    """RFC 5266 Figure 1 as network namespaces. See README.md for the picture."""

    def __init__(self, prefix: str | None = None, rundir: str | None = None,
                 dhcp: dict[str, bool] | None = None, nat: dict[str, bool] | None = None,
                 sweep_first: bool = True) -> None:
        if prefix is None:
            prefix = _new_prefix()
        elif not re.fullmatch(r"[a-z][a-z0-9]{0,11}", prefix) \
                or prefix.startswith(GENERATED_PREFIX):
            raise ValueError(f"bad prefix {prefix!r}: 1-12 chars [a-z0-9], starting with a "
                             f"letter, not starting with {GENERATED_PREFIX!r} (reserved)")
        for table, what in ((dhcp, "dhcp"), (nat, "nat")):
            for net in table or {}:
                if net not in NETS:
                    raise ValueError(f"{what}: unknown network {net!r}")
        if (dhcp or {}).get("home"):
            raise ValueError("no DHCP on the home network (the home address is static)")
        if (nat or {}).get("home"):
            raise ValueError("the home network cannot be put behind NAT")
        self.prefix = prefix
        self.state_dir = STATE_ROOT / prefix
        self._own_rundir = rundir is None
        self.rundir = Path(rundir) if rundir else self.state_dir
        self._dhcp = {n.name: n.dhcp for n in NETS.values()} | (dhcp or {})
        self._nat = {n.name: n.nat for n in NETS.values()} | (nat or {})
        self._dhcp_default = dict(self._dhcp)
        self._nat_default = dict(self._nat)
        self._gw_from_inside = True
        self._sweep_first = sweep_first
        self._attached: dict[str, str | None] = {i: None for i in MN_IFACES}
        self._procs: list[subprocess.Popen] = []
        self._dnsmasq: dict[str, subprocess.Popen] = {}
        self._emulators: list = []
        self._queue_next: dict[str, int] = {}
        self._lock = threading.RLock()
        self._built = False
        self._torn_down = False
        self._created_ns: list[str] = []     # teardown deletes only what this run created
        self._state_created = False
        self.build_seconds: float | None = None

    def __repr__(self) -> str:
        return f"Topology(prefix={self.prefix!r})"

    # ------------------------------------------------------------------ names, commands

    def ns(self, node: str) -> str:
        """Full namespace name of a node ("mn" -> "m4t1b2cxy-mn")."""
        if node not in NODES:
            hint = f" (the router of network {node!r} is {NETS[node].router!r})" \
                if node in NETS else ""
            raise ValueError(f"unknown node {node!r}{hint}; nodes: {', '.join(NODES)}")
        return f"{self.prefix}-{node}"

    @property
    def namespaces(self) -> list[str]:
        return [self.ns(n) for n in NODES]

    def run(self, node: str, argv: Sequence[str], check: bool = True, timeout: float = 30,
            **kw) -> subprocess.CompletedProcess:
        """Run ``argv`` in the node's namespace (``ip netns exec``) and wait for it.

        Output is captured as text by default (``capture_output``/``text`` can be
        overridden). With ``check`` a non-zero exit raises ``CommandError`` (a
        ``CalledProcessError`` whose message includes stderr)."""
        return _run(["ip", "netns", "exec", self.ns(node), *map(str, argv)],
                    check=check, timeout=timeout, **kw)

    def spawn(self, node: str, argv: Sequence[str], **kw) -> subprocess.Popen:
        """Start ``argv`` in the background in the node's namespace, tracked: it is killed
        (its process group: SIGTERM, then SIGKILL) at teardown. stdin defaults to
        /dev/null; the process gets its own session so a terminal's Ctrl-C reaches only
        the test driver, which then tears down in order."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("start_new_session", True)
        with self._lock:
            if self._torn_down:
                raise TopologyError("topology already torn down")
            p = subprocess.Popen(["ip", "netns", "exec", self.ns(node), *map(str, argv)], **kw)
            self._procs.append(p)
        return p

    def sysctl(self, node: str, key: str, value: str | int) -> None:
        self.run(node, ["sysctl", "-q", "-w", f"{key}={value}"], timeout=10)

    def _ip(self, node: str, lines: Iterable[str], check: bool = True,
            force: bool = False) -> subprocess.CompletedProcess:
        argv = ["ip", "-n", self.ns(node)] + (["-force"] if force else []) + ["-batch", "-"]
        return _run(argv, check=check, timeout=30, input="".join(l + "\n" for l in lines))

    def _nft(self, node: str, script: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(node, ["nft", "-f", "-"], input=script, check=check, timeout=15)

    # ------------------------------------------------------------------ addresses

    def addr(self, name: str) -> str:
        """A well-known address: "ha", "cn", "vpngw" (public, = "vpngw-ext"), "vpngw-int",
        "inet", "icore", "icore-home", "hoa", "<net>-gw" (LAN gateway, e.g. "int-x-gw"),
        "r<net>" (same), "r<net>-up" (router's uplink address), "<core>-<net>" (core's
        uplink address, e.g. "icore-int-x"); or "wlan0"/"wwan0": mn's current address
        (LookupError when it has none)."""
        if name in MN_IFACES:
            addrs = self.mn_addresses(name)
            if not addrs:
                raise LookupError(f"mn {name} has no IPv4 address")
            return addrs[0]
        try:
            return ADDRESSES[name]
        except KeyError:
            raise KeyError(f"unknown address name {name!r}; known: "
                           f"{', '.join(sorted(ADDRESSES))}, wlan0, wwan0") from None

    def mn_addresses(self, iface: str) -> list[str]:
        """IPv4 addresses currently on one of mn's interfaces."""
        return [a for a, _ in self._addrs("mn", iface)]

    def _addrs(self, node: str, iface: str) -> list[tuple[str, int]]:
        res = _run(["ip", "-n", self.ns(node), "-j", "-4", "addr", "show", "dev", iface],
                   timeout=10)
        out = []
        for link in json.loads(res.stdout or "[]"):
            for a in link.get("addr_info", []):
                if a.get("family") == "inet":
                    out.append((a["local"], int(a["prefixlen"])))
        return out

    def link_state(self, node: str, iface: str) -> dict:
        """``ip -j link show`` record of an interface (operstate, flags, ...)."""
        res = _run(["ip", "-n", self.ns(node), "-j", "link", "show", "dev", iface], timeout=10)
        return json.loads(res.stdout)[0]

    # ------------------------------------------------------------------ build

    def build(self) -> "Topology":
        """Create every namespace, link, address, route, filter and DHCP server.
        On failure, everything built so far is torn down and the error re-raised."""
        with self._lock:
            if self._built or self._torn_down:
                raise TopologyError("build() can be called once per Topology")
            self._built = True
        t0 = time.monotonic()
        if self._sweep_first:
            try:
                sweep()
            except Exception:  # noqa: BLE001 - leftovers of others never stop a build
                pass
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            self._build()
        except BaseException:
            self.teardown()
            raise
        self.build_seconds = time.monotonic() - t0
        return self

    def _write_owner(self) -> None:
        STATE_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            self.state_dir.mkdir(mode=0o755)
        except FileExistsError:
            raise TopologyError(f"{self.state_dir} exists: prefix {self.prefix!r} in use") from None
        self._state_created = True
        rec = {"pid": os.getpid(), "starttime": _proc_starttime(os.getpid()),
               "rundir": str(self.rundir), "own_rundir": self._own_rundir,
               "created": time.time(), "argv": sys.argv[:8]}
        tmp = self.state_dir / "owner.tmp"
        tmp.write_text(json.dumps(rec) + "\n")
        tmp.rename(self.state_dir / "owner")
        self.rundir.mkdir(mode=0o755, parents=True, exist_ok=True)

    def _build(self) -> None:
        for tool in ("ip", "nft", "sysctl", "busybox"):
            if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/sbin") is None:
                raise TopologyError(f"{tool} not found")
        self._write_owner()

        # 1. namespaces (one batch; `ip netns add` returns to the host namespace each time)
        clash = [n for n in self.namespaces if (NETNS_DIR / n).exists()]
        if clash:
            raise TopologyError(f"namespaces already exist: {clash}")
        self._created_ns = list(self.namespaces)
        _run(["ip", "-batch", "-"], input="".join(f"netns add {n}\n" for n in self.namespaces))

        # 2. sysctls before any interface exists, so that new devices inherit "default"
        jobs = []
        for node in NODES:
            keys = _SYSCTL_ALL + (_SYSCTL_ROUTER if node in ROUTERS else [])
            jobs.append((["ip", "netns", "exec", self.ns(node), "sysctl", "-q", "-w", *keys], None))
        _run_parallel(jobs)

        # 3. links: veth pairs created directly inside their namespaces (host untouched)
        links = []

        def veth(a: str, a_if: str, b: str, b_if: str, a_mac: str | None = None) -> None:
            mac = f" address {a_mac}" if a_mac else ""
            links.append(f"link add name {a_if}{mac} netns {self.ns(a)} type veth "
                         f"peer name {b_if} netns {self.ns(b)}")

        veth("vpngw", "ext0", "inet", "vpngw0")
        veth("vpngw", "int0", "icore", "vpngw0")
        veth("ha", "eth0", "icore", "ha")
        veth("cn", "eth0", "icore", "cn")
        for n in NETS.values():
            if n.uplink:
                veth(n.router, n.router_iface, n.core, n.core_iface)
        for iface in MN_IFACES:
            veth("mn", iface, "park", f"mn-{iface}", a_mac=_MN_MACS[iface])
        _run(["ip", "-batch", "-"], input="".join(l + "\n" for l in links))

        # 4. addresses and routes, one batch per namespace, all at once
        cfg: dict[str, list[str]] = {n: ["link set lo up"] for n in NODES}

        def up(node: str, iface: str, cidr: str | None = None) -> None:
            cfg[node].append(f"link set {iface} up")
            if cidr:
                cfg[node].append(f"addr add {cidr} dev {iface}")

        up("inet", "vpngw0", "198.19.0.1/24")
        up("vpngw", "ext0", "198.19.0.2/24")
        up("vpngw", "int0", "198.18.0.2/24")
        cfg["vpngw"] += ["route add 198.19.0.0/16 via 198.19.0.1",
                         "route add 198.18.0.0/16 via 198.18.0.1"]
        up("icore", "vpngw0", "198.18.0.1/24")
        cfg["icore"] += [f"route add {TIA_POOL} via 198.18.0.2",
                         f"route add {DMZ_PUBLIC} via 198.18.0.2"]
        for i, n in enumerate(NETS.values()):
            mac = f"02:6d:34:00:{i:02x}:01"     # fixed: a bridge would take a port's MAC
            cfg[n.router] += [f"link add name {n.bridge} address {mac} type bridge "
                              "forward_delay 0 stp_state 0 mcast_snooping 0"]
            # A port that always has carrier, as a switch's uplink does: without it the
            # bridge loses carrier whenever mn is unplugged, and after a re-plug the router's
            # first packets (a foreign agent's answer to mn's solicitation, sent within a
            # millisecond) can go to the bridge's no-op qdisc until linkwatch re-activates it.
            # (This kernel has no dummy devices: a veth pair with both ends here.)
            hold = f"{n.bridge}-hold"
            cfg[n.router] += [f"link add name {hold} type veth peer name {hold}p",
                              f"link set {hold} master {n.bridge}", f"link set {hold} up",
                              f"link set {hold}p up"]
            up(n.router, n.bridge, f"{n.gateway}/{n.prefixlen}")
            if n.uplink:
                plen = ipaddress.ip_network(n.uplink).prefixlen
                up(n.router, n.router_iface, f"{n.router_uplink_addr}/{plen}")
                cfg[n.router].append(f"route add default via {n.core_addr}")
                up(n.core, n.core_iface, f"{n.core_addr}/{plen}")
                if not self._nat[n.name]:
                    cfg[n.core].append(f"route add {n.lan} via {n.router_uplink_addr}")
        for host, a in (("ha", "198.18.1.2/24"), ("cn", "198.18.1.3/24")):
            cfg["icore"] += [f"link set {host} master home", f"link set {host} up"]
            up(host, "eth0", a)
            cfg[host].append("route add default via 198.18.1.1")
        for iface in MN_IFACES:
            up("mn", iface)
            cfg["park"].append(f"link set mn-{iface} down")
        _run_parallel([(["ip", "-n", self.ns(node), "-batch", "-"],
                        "".join(l + "\n" for l in lines)) for node, lines in cfg.items()])

        # 5. filters, NAT, DHCP
        self._nft("vpngw", _VPNGW_FILTER)
        for n in NETS.values():
            if self._nat[n.name]:
                self._nft(n.router, self._nat_script(n, True))
        for n in NETS.values():
            if self._dhcp[n.name]:
                self._start_dnsmasq(n)
        self._wait_dnsmasq(list(self._dnsmasq))

    # ------------------------------------------------------------------ DHCP

    def _start_dnsmasq(self, n: AccessNet) -> None:
        lo, hi = n.dhcp_range
        mask = str(ipaddress.ip_network(n.lan).netmask)
        base = self.rundir / n.name
        for suffix in (".pid", ".leases"):
            try:
                Path(f"{base}{suffix}").unlink()
            except FileNotFoundError:
                pass
        argv = [DNSMASQ, "--no-ping", "--keep-in-foreground", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--port=0", f"--interface={n.bridge}",
                "--bind-interfaces", f"--dhcp-range={lo},{hi},{mask},1h",
                f"--dhcp-option=option:router,{n.gateway}",
                f"--dhcp-leasefile={base}.leases", f"--pid-file={base}.pid",
                "--dhcp-authoritative", "--log-dhcp", f"--log-facility={base}.log",
                "--user=root", "--group=root"]
        log = open(f"{base}.out", "ab")
        try:
            self._dnsmasq[n.name] = self.spawn(n.router, argv, stdout=log, stderr=log)
        finally:
            log.close()

    def _wait_dnsmasq(self, nets: list[str], timeout: float = 10.0) -> None:
        """dnsmasq writes its pid file once its DHCP socket is bound."""
        deadline = time.monotonic() + timeout
        pending = list(nets)
        while pending:
            for net in list(pending):
                p = self._dnsmasq[net]
                if p.poll() is not None:
                    out = Path(f"{self.rundir / net}.out")
                    raise TopologyError(f"dnsmasq for {net} exited with rc {p.returncode}: "
                                        f"{out.read_text(errors='replace') if out.exists() else ''}")
                pidf = Path(f"{self.rundir / net}.pid")
                try:
                    if pidf.read_text().strip():
                        pending.remove(net)
                except OSError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TopologyError(f"dnsmasq not ready after {timeout} s: {pending}")
            if pending:
                time.sleep(0.01)

    def _stop_proc(self, p: subprocess.Popen, grace: float = 3.0) -> None:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass

    def set_dhcp(self, net: str, on: bool) -> None:
        """Start or stop the DHCP server of an access network (not "home")."""
        n = self._net(net)
        if n.name == "home" and on:
            raise ValueError("no DHCP on the home network")
        with self._lock:
            if on and n.name not in self._dnsmasq:
                self._start_dnsmasq(n)
                self._wait_dnsmasq([n.name])
            elif not on and n.name in self._dnsmasq:
                self._stop_proc(self._dnsmasq.pop(n.name))
            self._dhcp[n.name] = on

    def dhcp_enabled(self, net: str) -> bool:
        return self._dhcp[self._net(net).name]

    def dnsmasq_pid(self, net: str) -> int | None:
        p = self._dnsmasq.get(net)
        return p.pid if p is not None and p.poll() is None else None

    # ------------------------------------------------------------------ mobile node

    def _net(self, net: str) -> AccessNet:
        try:
            return NETS[net]
        except KeyError:
            raise ValueError(f"unknown network {net!r}; networks: {', '.join(NETS)}") from None

    @staticmethod
    def _check_iface(iface: str) -> None:
        if iface not in MN_IFACES:
            raise ValueError(f"mn has no interface {iface!r}; interfaces: {', '.join(MN_IFACES)}")

    def attachment(self, iface: str) -> str | None:
        """The network ``iface`` of mn is attached to, or None."""
        self._check_iface(iface)
        return self._attached[iface]

    def attach(self, iface: str, net: str, dhcp: bool = True, dhcp_tries: int = 5) -> str | None:
        """Plug mn's ``iface`` into ``net`` (detaching it first if needed): its peer end
        moves into the network's bridge and comes up, mn sees carrier. With ``dhcp``,
        run udhcpc in mn and return the leased address (verified on the interface);
        without, return None and let the caller configure addresses."""
        self._check_iface(iface)
        n = self._net(net)
        if dhcp and not self._dhcp[n.name]:
            raise ValueError(f"no DHCP on {net}; use attach(..., dhcp=False)")
        with self._lock:
            if self._attached[iface] is not None:
                self.detach(iface)
            peer = f"mn-{iface}"
            _run(["ip", "-n", self.ns("park"), "link", "set", peer, "netns", self.ns(n.router)],
                 timeout=10)
            self._attached[iface] = n.name
            self._ip(n.router, [f"link set {peer} master {n.bridge}", f"link set {peer} up"])
        if not dhcp:
            return None
        return self.dhcp(iface, tries=dhcp_tries)

    def dhcp(self, iface: str, tries: int = 5) -> str:
        """Run udhcpc on mn's ``iface`` (attached to a DHCP network); return the lease."""
        self._check_iface(iface)
        net = self._attached[iface]
        if net is None:
            raise TopologyError(f"mn {iface} is not attached")
        n = NETS[net]
        env = dict(os.environ, MM_TOPO_METRIC=str(MN_IFACES[iface]))
        res = self.run("mn", ["busybox", "udhcpc", "-i", iface, "-n", "-q", "-f",
                              "-t", str(tries), "-T", "1", "-s", str(UDHCPC_SCRIPT)],
                       check=False, timeout=tries * 3 + 10, env=env)
        if res.returncode != 0:
            raise TopologyError(f"udhcpc on mn {iface} ({net}) failed with rc "
                                f"{res.returncode}: {res.stderr.strip()} {res.stdout.strip()}")
        lan = ipaddress.ip_network(n.lan)
        got = [a for a, plen in self._addrs("mn", iface)
               if ipaddress.ip_address(a) in lan and plen == lan.prefixlen]
        if len(got) != 1:
            raise TopologyError(f"after DHCP on {net}, mn {iface} has addresses "
                                f"{self._addrs('mn', iface)}, expected one in {n.lan}")
        return got[0]

    def detach(self, iface: str) -> None:
        """Unplug mn's ``iface``: its peer end goes back to the parking namespace with its
        link down (mn sees carrier loss); mn's IPv4 addresses and routes on it are
        flushed."""
        self._check_iface(iface)
        peer = f"mn-{iface}"
        with self._lock:
            net = self._attached[iface]
            if net is not None:
                # moving a device to another namespace closes it (link down) first
                _run(["ip", "-n", self.ns(NETS[net].router), "link", "set", peer,
                      "netns", self.ns("park")], timeout=10)
                self._attached[iface] = None
            self._ip("park", [f"link set {peer} down"])
            self._ip("mn", [f"addr flush dev {iface}", f"route flush dev {iface}"],
                     check=False, force=True)

    def configure_static(self, iface: str, cidr: str, gateway: str | None = None,
                         metric: int | None = None) -> None:
        """Give mn's ``iface`` a static address (e.g. the home address at home) and,
        with ``gateway``, a default route (metric defaults to the interface's)."""
        self._check_iface(iface)
        metric = MN_IFACES[iface] if metric is None else metric
        lines = [f"addr flush dev {iface}", f"addr add {cidr} dev {iface}"]
        if gateway:
            lines.append(f"route replace default via {gateway} dev {iface} metric {metric}")
        self._ip("mn", lines)

    # ------------------------------------------------------------------ NAT, routes

    @staticmethod
    def _nat_script(n: AccessNet, on: bool) -> str:
        # "add table" + "delete table" makes the deletion idempotent
        script = f"add table ip {_NAT_TABLE}\ndelete table ip {_NAT_TABLE}\n"
        if on:
            script += (f"table ip {_NAT_TABLE} {{\n"
                       f"    chain postrouting {{\n"
                       f"        type nat hook postrouting priority srcnat; policy accept;\n"
                       f"        oifname \"{n.router_iface}\" counter masquerade\n"
                       f"    }}\n}}\n")
        return script

    def set_nat(self, net: str, on: bool) -> None:
        """Put an access network behind NAT (masquerade on its router's uplink, and the
        core router forgets the route to the LAN so the NAT is really needed), or take it
        out again. The router's conntrack table is flushed both ways, so flows after the
        switch are translated (or not) from their first packet, like after a NAT box
        reboot."""
        n = self._net(net)
        if not n.uplink:
            raise ValueError(f"{net} cannot be put behind NAT")
        with self._lock:
            self._nft(n.router, self._nat_script(n, on))
            verb = "del" if on else "replace"
            self._ip(n.core, [f"route {verb} {n.lan} via {n.router_uplink_addr}"],
                     check=not (on and self._nat[n.name]))
            self.run(n.router, [PYTHON, "-c", _CT_FLUSH_SRC], timeout=10)
            self._nat[n.name] = on

    def nat(self, net: str) -> bool:
        return self._nat[self._net(net).name]

    def gateway_reachable_from_inside(self, on: bool) -> None:
        """Add (True, the default) or remove icore's route to the gateway's public side
        (198.19.0.0/24 via vpngw), i.e. whether the intranet can reach the public address
        of the VPN gateway."""
        with self._lock:
            verb = "replace" if on else "del"
            self._ip("icore", [f"route {verb} {DMZ_PUBLIC} via 198.18.0.2"],
                     check=on or self._gw_from_inside)
            self._gw_from_inside = on

    def vpngw_forward_filter(self, on: bool) -> None:
        """The nft filter in vpngw that drops forwarding between ext0 and int0 (on by
        default). Only for negative controls in self-tests: never turn it off otherwise."""
        script = "add table inet mm_topo_vpngw\ndelete table inet mm_topo_vpngw\n"
        self._nft("vpngw", script + (_VPNGW_FILTER if on else ""))

    # ------------------------------------------------------------------ link emulation

    def uplink_iface(self, net: str) -> tuple[str, str]:
        """(router node, interface) where an emulator delays all routed traffic of an
        access network: the core router's end of its uplink (e.g. ("icore", "int-x"))."""
        n = self._net(net)
        if not n.uplink:
            raise ValueError(f"{net} has no uplink (its traffic to ha/cn is bridged, not "
                             "routed); emulate on another link instead")
        return n.core, n.core_iface

    def emulate(self, router_node: str, iface: str, delay_ms: float = 0.0, loss: float = 0.0,
                jitter_ms: float = 0.0, seed: int = 1, **kw):
        """Start a LinkEmulator (tests/linkemu) on packets forwarded by ``router_node``
        across ``iface`` (each direction gets ``delay_ms``/``loss``). Stopped at
        teardown; stop it earlier with its ``stop()``. Binary: $MM_LINKEMU."""
        if str(LINKEMU_DIR) not in sys.path:
            sys.path.insert(0, str(LINKEMU_DIR))
        from linkemu import LinkEmulator  # noqa: PLC0415 - optional dependency
        with self._lock:
            if self._torn_down:
                raise TopologyError("topology already torn down")
            ns = self.ns(router_node)
            q = self._queue_next.get(ns, 0)
            self._queue_next[ns] = q + 1
            emu = LinkEmulator(ns, iface, delay_ms=delay_ms, loss=loss, jitter_ms=jitter_ms,
                               queue_num=q, seed=seed, **kw)
            self._emulators.append(emu)
        return emu.start()

    # ------------------------------------------------------------------ probes

    def ping(self, node: str, dst: str, count: int = 1, timeout: float = 1.0,
             interval: float | None = None, iface: str | None = None) -> bool:
        """True if at least one echo reply came back."""
        return self.ping_stats(node, dst, count, timeout, interval, iface)["received"] > 0

    def ping_stats(self, node: str, dst: str, count: int = 1, timeout: float = 1.0,
                   interval: float | None = None, iface: str | None = None) -> dict:
        """Ping and parse the summary: transmitted, received, and (when any reply came)
        rtt_min/avg/max/mdev in ms. When ping cannot even send (no route), both counts
        are 0 and "error" holds its message."""
        argv = ["ping", "-n", "-q", "-c", str(count), "-W", f"{timeout:g}"]
        if interval is not None:
            argv += ["-i", f"{interval:g}"]
        if iface:
            argv += ["-I", iface]
        res = self.run(node, argv + [dst], check=False,
                       timeout=count * max(interval or 1.0, 0.01) + timeout + 30)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", res.stdout)
        if not m and res.returncode != 0:      # e.g. "connect: Network is unreachable"
            return {"transmitted": 0, "received": 0, "error": res.stderr.strip()}
        if not m:
            raise TopologyError(f"cannot parse ping output: {res.stdout!r} {res.stderr!r}")
        st = {"transmitted": int(m.group(1)), "received": int(m.group(2))}
        m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", res.stdout)
        if m:
            st.update(zip(("rtt_min", "rtt_avg", "rtt_max", "rtt_mdev"),
                          map(float, m.groups())))
        return st

    def udp_listener(self, node: str, port: int, addr: str = "0.0.0.0") -> UdpListener:
        """A UDP listener in ``node`` (killed at teardown at the latest)."""
        return UdpListener(self, node, port, addr)

    def udp_send(self, node: str, dst: str, port: int, payload: bytes, src: str | None = None,
                 count: int = 1) -> bool:
        """Send ``count`` datagrams from ``node``; False if sending itself failed."""
        res = self.run(node, [PYTHON, "-c", _UDP_SEND_SRC, dst, str(port), payload.hex(),
                              src or "", str(count)], check=False, timeout=30)
        return res.returncode == 0

    # ------------------------------------------------------------------ reset

    def reset(self) -> None:
        """Back to the state right after build(), for tests sharing one topology: stops
        link emulators, unplugs mn's interfaces, restores NAT and DHCP flags and the
        gateway route. Processes started with spawn() are left alone."""
        with self._lock:
            for emu in self._emulators:
                try:
                    emu.stop()
                except Exception:  # noqa: BLE001 - a failed stop must not block reset
                    pass
            self._emulators = [e for e in self._emulators if not getattr(e, "_stopped", False)]
            for iface in MN_IFACES:
                self.detach(iface)
            for net, on in self._nat_default.items():
                if self._nat[net] != on:
                    self.set_nat(net, on)
            for net, on in self._dhcp_default.items():
                if self._dhcp[net] != on:
                    self.set_dhcp(net, on)
            if not self._gw_from_inside:
                self.gateway_reachable_from_inside(True)

    # ------------------------------------------------------------------ teardown

    def teardown(self) -> None:
        """Stop emulators, kill every process started here and any process left in our
        namespaces, delete the namespaces and the state directory. Idempotent; never
        raises; signals are ignored while it runs."""
        with self._lock:
            if self._torn_down:
                return
            self._torn_down = True
        with _SignalsDeferred():
            for step in (self._teardown_emulators, self._teardown_procs,
                         self._teardown_namespaces, self._teardown_files):
                try:
                    step()
                except BaseException:  # noqa: BLE001 - teardown never raises
                    pass
            with _LIVE_LOCK:
                _LIVE.discard(self)

    def _teardown_emulators(self) -> None:
        for emu in reversed(self._emulators):
            try:
                emu.stop()
            except BaseException:  # noqa: BLE001
                pass

    def _teardown_procs(self) -> None:
        live = [p for p in self._procs if p.poll() is None]
        for p in live:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.monotonic() + 3.0
        for p in live:
            try:
                p.wait(timeout=max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
        for p in live:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for p in self._procs:
            for stream in (p.stdin, p.stdout, p.stderr):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass

    def _teardown_namespaces(self) -> None:
        names = [n for n in self._created_ns if (NETNS_DIR / n).exists()]
        _kill_namespace_processes(names)
        _delete_namespaces(names)

    def _teardown_files(self) -> None:
        # the default run directory is the state directory; a caller's rundir is kept
        if self._state_created:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def leftovers(self) -> dict:
        """What of this run still exists (for tests): namespaces, processes, state dir."""
        names = [n for n in _netns_list() if n.startswith(self.prefix + "-")]
        procs = [p.pid for p in self._procs if p.poll() is None]
        procs += list(_pids_in_namespaces(names))
        return {"namespaces": names, "pids": sorted(set(procs)),
                "state_dir": self.state_dir.exists()}

    def __enter__(self) -> "Topology":
        return self.build()

    def __exit__(self, *exc) -> None:
        self.teardown()

    # ------------------------------------------------------------------ description

    def describe(self) -> str:
        """Human-readable list of namespaces and addresses (printed by topo-cli up)."""
        lines = [f"prefix {self.prefix}   rundir {self.rundir}"]
        rows = [
            ("inet", "vpngw0 198.19.0.1/24, " + ", ".join(
                f"{n.name} {n.core_addr}/24" for n in NETS.values() if n.core == "inet")),
            ("vpngw", "ext0 198.19.0.2/24 (public), int0 198.18.0.2/24; no ext0<->int0 forwarding"),
            ("icore", "vpngw0 198.18.0.1/24, home 198.18.1.1/24 (bridge: ha, cn), " + ", ".join(
                f"{n.name} {n.core_addr}/24" for n in NETS.values() if n.core == "icore")),
            ("ha", "eth0 198.18.1.2/24"),
            ("cn", "eth0 198.18.1.3/24"),
        ]
        for n in NETS.values():
            if n.uplink:
                flags = ("DHCP" if self._dhcp[n.name] else "no DHCP") + \
                        (", NAT" if self._nat[n.name] else "")
                rows.append((n.router, f"lan {n.gateway}/{n.prefixlen} ({n.name}, {flags}), "
                                       f"up0 {n.router_uplink_addr}/24"))
        for iface in MN_IFACES:
            att = self._attached[iface]
            rows.append(("mn", f"{iface}: " + (f"attached to {att} {self.mn_addresses(iface)}"
                                               if att else "not attached")))
        rows.append(("park", "unplugged mn peer ends"))
        for node, text in rows:
            lines.append(f"  {self.ns(node):<20} {text}")
        lines.append(f"  home address {HOME_ADDRESS} (pool {HOME_POOL[0]}-{HOME_POOL[1]}), "
                     f"TIA pool {TIA_POOL} routed to vpngw")
        return "\n".join(lines)
