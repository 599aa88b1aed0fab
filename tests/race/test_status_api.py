"""mnd's D-Bus status API under a private system bus (issue 6 item 5, Must-show: "an
unprivileged user reads status and is refused control").

A private dbus-daemon (type system) runs with a generated configuration: the usual
system-bus defaults (deny own, deny method calls, allow signals and replies) plus our
policy file systemd/org.mip4mobike.MobileNode1.conf, included as installed. mnd runs as
root in a network namespace of its own whose configured interface (wlan0) does not exist
yet: mode "offline". Clients reach the bus through DBUS_SYSTEM_BUS_ADDRESS (mnctl, GDBus),
`busctl --address` and `dbus-send --bus=` (independent implementations: sd-bus, libdbus).

The two gates for Redetect are tested apart, so that each can fail on its own:
 - the bus policy: nobody (uid 65534) is refused by the bus; mnd never sees the call;
 - mnd's own uid check: the test configuration lets the user "daemon" (uid 1) through the
   bus (a stand-in for a missing or wrong policy file); mnd refuses it and logs the uid.

Binaries: $MM_MND and $MM_MNCTL (meson sets them), else $MM_BUILD/mnd/{mnd,mnctl}, else
the build directories the other race tests use. Everything started here is stopped by its
PID and the namespaces are removed, also on failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
POLICY = REPO / "systemd" / "org.mip4mobike.MobileNode1.conf"

NAME = "org.mip4mobike.MobileNode1"
OBJ = "/org/mip4mobike/MobileNode1"
IFACE = "org.mip4mobike.MobileNode1"

HOME_ADDRESS = "198.18.1.100"
OTHER_HOME_ADDRESS = "198.18.1.101"
HOME_AGENT = "198.18.1.2"
GATEWAY = "198.19.0.2"
COA = "198.18.11.10"
ACCESS_ROUTER = "198.18.11.1"

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
# Let through the bus by the test configuration only (see above): mnd must refuse it.
OTHER_USER, OTHER_UID = "daemon", 1
AS_OTHER = ["setpriv", f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups"]

# The interface as issue 6 and the brief define it: name -> D-Bus type.
PROPERTIES = {
    "Mode": "s", "Trusted": "b", "Trust": "s", "Reason": "s", "HomeAddress": "s",
    "CareOfAddress": "s", "Interface": "s", "TunnelInnerAddress": "s", "Gateway": "s",
    "HomeAgent": "s", "Handovers": "u", "LastHandoverMs": "u", "ModeSince": "t",
}
MODES = {"offline", "detecting", "home", "c", "f", "mc", "blocked"}


def _binary(var: str, rel: str) -> str:
    p = os.environ.get(var)
    if p:
        return p
    for d in (os.environ.get("MM_BUILD"), REPO / "build", "/tmp/b-lead"):
        if d and (Path(d) / rel).exists():
            return str(Path(d) / rel)
    return ""


def _need(path: str, what: str) -> str:
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{what} not found ({path!r}): set MM_MND/MM_MNCTL or MM_BUILD")
    return path


def _run(argv, env=None, timeout=15.0, check=False) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       env=env, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} -> {r.returncode}\n"
                             f"stdout: {r.stdout}\nstderr: {r.stderr}")
    return r


class World:
    """The private bus, mnd instances in namespaces, and their clean-up."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mm-status-api-", dir="/tmp"))
        os.chmod(self.dir, 0o755)          # nobody must reach the socket and mnctl
        self.tag = f"mmbus{os.getpid() % 10000}{uuid.uuid4().hex[:4]}"
        self.procs: list[subprocess.Popen] = []
        self.namespaces: list[str] = []
        self.bus: subprocess.Popen | None = None
        self.address = ""
        # mnctl copied next to the socket: any build directory may sit below a path that
        # nobody cannot traverse.
        self.mnctl_path = str(self.dir / "mnctl")
        shutil.copy2(_need(_binary("MM_MNCTL", "mnd/mnctl"), "mnctl"), self.mnctl_path)
        os.chmod(self.mnctl_path, 0o755)
        self.mnd_bin = _need(_binary("MM_MND", "mnd/mnd"), "mnd")

    # ------------------------------------------------------------------ the bus
    def start_bus(self) -> None:
        sock = self.dir / "system_bus_socket"
        conf = self.dir / "bus.conf"
        conf.write_text(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path={sock}</listen>
  <!-- Debian's system.conf defaults -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>{POLICY}</include>
  <!-- test only: the daemon's own check, behind a policy that would let {OTHER_USER} in -->
  <policy user="{OTHER_USER}">
    <allow send_destination="{NAME}" send_interface="{IFACE}" send_member="Redetect"/>
  </policy>
</busconfig>
""")
        self.bus_log = open(self.dir / "dbus-daemon.log", "w")
        self.bus = subprocess.Popen(["dbus-daemon", f"--config-file={conf}", "--nofork",
                                     "--nopidfile", "--print-address=1"],
                                    stdout=subprocess.PIPE, stderr=self.bus_log, text=True)
        self.procs.append(self.bus)
        line = self.bus.stdout.readline().strip()
        assert line.startswith("unix:"), \
            f"dbus-daemon gave no address: {line!r}; {self.bus_log_text()}"
        self.address = line

    def bus_log_text(self) -> str:
        try:
            return (self.dir / "dbus-daemon.log").read_text()
        except OSError:
            return ""

    def env(self, address: str | None = None) -> dict:
        return dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address or self.address)

    # ------------------------------------------------------------------ mnd
    def namespace(self) -> str:
        ns = f"{self.tag}-{len(self.namespaces)}"
        _run(["ip", "netns", "add", ns], check=True)
        self.namespaces.append(ns)
        _run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        return ns

    def start_mnd(self, name: str, home_address: str = HOME_ADDRESS, extra: str = "",
                  address: str | None = None, ns: str | None = None) -> "Mnd":
        ns = ns or self.namespace()
        d = self.dir / name
        d.mkdir()
        key, psk = d / "mip.key", d / "vpn.psk"
        key.write_text("00112233445566778899aabbccddeeff\n")
        psk.write_text("status api test key, not a secret at all\n")
        os.chmod(key, 0o600)
        os.chmod(psk, 0o600)
        conf = d / "mnd.conf"
        conf.write_text(
            "[mobile-node]\n"
            f"home-address = {home_address}\nhome-agent = {HOME_AGENT}\nspi = 4096\n"
            f"key-file = {key}\ninterfaces = wlan0\n"
            f"status-file = {d / 'mnd.status.json'}\n"
            "probe-retries = 0\nprobe-timeout = 300\n"
            f"{extra}"
            "\n[vpn]\n"
            f"gateway = {GATEWAY}\nlocal-id = mn@test\nremote-id = fqdn:vpngw.test\n"
            f"auth = psk\npsk-file = {psk}\nintranet = 198.18.0.0/16\n"
            f"status-file = {d / 'mnd.vpn.json'}\n")
        log = open(d / "mnd.log", "w")
        # `ip netns exec` execs mnd: the PID is mnd's.
        p = subprocess.Popen(["ip", "netns", "exec", ns, self.mnd_bin, "--config", str(conf),
                              "--log-level", "debug"], stdout=log, stderr=subprocess.STDOUT,
                             env=self.env(address))
        self.procs.append(p)
        return Mnd(self, name, ns, p, d / "mnd.log", d / "mnd.status.json")

    # ------------------------------------------------------------------ clients
    def mnctl(self, *args, user=None, timeout=15.0) -> subprocess.CompletedProcess:
        return _run([*(user or []), self.mnctl_path, *args], env=self.env(), timeout=timeout)

    def status(self, user=None) -> dict:
        r = self.mnctl("status", "--json", user=user)
        assert r.returncode == 0, f"mnctl status --json -> {r.returncode}: {r.stderr}"
        return json.loads(r.stdout)

    def busctl(self, *args, user=None) -> subprocess.CompletedProcess:
        return _run([*(user or []), "busctl", f"--address={self.address}", *args])

    def dbus_send(self, *args, user=None) -> subprocess.CompletedProcess:
        return _run([*(user or []), "dbus-send", f"--bus={self.address}", "--print-reply",
                     *args])

    def name_owner(self) -> bool:
        r = self.dbus_send("--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus.NameHasOwner", f"string:{NAME}")
        assert r.returncode == 0, r.stderr
        return "boolean true" in r.stdout

    # ------------------------------------------------------------------ clean-up
    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        for ns in self.namespaces:
            _run(["ip", "netns", "del", ns])
        if self.bus is not None:
            self.bus.stdout.close()
            self.bus_log.close()
        left = [ns for ns in self.namespaces
                if ns in _run(["ip", "netns", "list"]).stdout.split()]
        assert not left, f"namespaces left behind: {left}"
        shutil.rmtree(self.dir, ignore_errors=True)


class Mnd:
    def __init__(self, world: World, name: str, ns: str, proc: subprocess.Popen,
                 log_path: Path, status_path: Path) -> None:
        self.world, self.name, self.ns, self.proc = world, name, ns, proc
        self.log_path, self.status_path = log_path, status_path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_log(self, pattern: str, timeout: float = 10.0) -> str:
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log())
            if m:
                return m.group(0)
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.log()[-3000:]}"
            assert time.monotonic() < deadline, \
                f"{self.name}: no log line /{pattern}/ in {timeout} s:\n{self.log()[-3000:]}"
            time.sleep(0.05)

    def status_file(self) -> dict:
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return {}

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise AssertionError(f"{self.name} ignored SIGTERM:\n{self.log()[-3000:]}")


def _wait(pred, timeout: float, what: str, last=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s; {last()}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def world():
    if os.geteuid() != 0:
        pytest.fail("the status API test needs root (network namespaces, setpriv)")
    for tool in ("dbus-daemon", "busctl", "dbus-send", "setpriv", "ip"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing (scripts/setup.sh installs it)")
    w = World()
    try:
        w.start_bus()
        w.mnd = w.start_mnd("mnd")
        w.mnd.wait_log(r"D-Bus: owning org\.mip4mobike\.MobileNode1")
        _wait(lambda: w.mnctl("status").returncode == 0, 10, "mnctl status answers")
        yield w
    finally:
        w.close()


# ---------------------------------------------------------------------- reading
def test_unprivileged_status(world):
    """nobody reads the status: text and JSON, mode offline, the home address."""
    r = world.mnctl("status", user=NOBODY)
    assert r.returncode == 0, r.stderr
    rows = {line[:22].strip(): line[22:].strip() for line in r.stdout.splitlines()}
    assert rows.get("mode") == "offline", r.stdout
    assert rows.get("home address") == HOME_ADDRESS, r.stdout
    assert rows.get("home agent") == HOME_AGENT, r.stdout
    assert rows.get("gateway") == GATEWAY, r.stdout
    assert rows.get("care-of address") == "-" and rows.get("interface") == "-", r.stdout
    assert rows.get("trusted") == "no", r.stdout

    s = world.status(user=NOBODY)
    assert set(s) == set(PROPERTIES), s
    assert s["Mode"] == "offline" and s["HomeAddress"] == HOME_ADDRESS, s
    assert s["Trusted"] is False and s["Trust"] == "unknown", s
    assert s["HomeAgent"] == HOME_AGENT and s["Gateway"] == GATEWAY, s
    assert s["CareOfAddress"] == "" and s["TunnelInnerAddress"] == "", s
    assert s["Handovers"] == 0 and s["LastHandoverMs"] == 0, s
    # ModeSince is wall-clock microseconds: the mode began after this test's bus did.
    now_us = time.time() * 1e6
    assert now_us - 120e6 < s["ModeSince"] <= now_us, s


def test_independent_clients_agree(world):
    """busctl (sd-bus) and dbus-send (libdbus), as nobody, read what mnctl reads."""
    ours = world.status()
    r = world.busctl("--json=short", "get-property", NAME, OBJ, IFACE, *PROPERTIES,
                     user=NOBODY)
    assert r.returncode == 0, r.stderr
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(got) == len(PROPERTIES), r.stdout
    for (prop, sig), v in zip(PROPERTIES.items(), got):
        assert v["type"] == sig, (prop, v)
        if prop != "Reason":        # the others are stable while offline
            assert v["data"] == ours[prop], (prop, v, ours)

    r = world.dbus_send(f"--dest={NAME}", OBJ, "org.freedesktop.DBus.Properties.GetAll",
                        f"string:{IFACE}", user=NOBODY)
    assert r.returncode == 0, r.stderr
    entries = dict(re.findall(r'string "(\w+)"\s+variant\s+(?:string "([^"]*)"|\S+ \S+)',
                              r.stdout))
    assert entries.get("Mode") == "offline", r.stdout
    assert entries.get("HomeAddress") == HOME_ADDRESS, r.stdout
    assert entries.get("HomeAgent") == HOME_AGENT, r.stdout


def test_introspection_complete(world):
    """Introspect (as nobody): every property read-only with its type and the
    EmitsChangedSignal annotation; Redetect without arguments."""
    r = world.dbus_send(f"--dest={NAME}", OBJ, "org.freedesktop.DBus.Introspectable.Introspect",
                        user=NOBODY)
    assert r.returncode == 0, r.stderr
    xml = re.search(r'string "(.*)"', r.stdout, re.S).group(1)
    root = ET.fromstring(xml)
    iface = [i for i in root.findall("interface") if i.get("name") == IFACE]
    assert len(iface) == 1, xml
    iface = iface[0]
    props = {p.get("name"): p for p in iface.findall("property")}
    assert {n: p.get("type") for n, p in props.items()} == PROPERTIES, xml
    for n, p in props.items():
        assert p.get("access") == "read", n
        ann = {a.get("name"): a.get("value") for a in p.findall("annotation")}
        assert ann.get("org.freedesktop.DBus.Property.EmitsChangedSignal") == "true", n
    methods = {m.get("name"): m for m in iface.findall("method")}
    assert set(methods) == {"Redetect"}, xml
    assert not methods["Redetect"].findall("arg"), xml


def test_properties_read_only(world):
    """Even root cannot set a property."""
    r = world.busctl("set-property", NAME, OBJ, IFACE, "Mode", "s", "c")
    assert r.returncode != 0, r.stdout
    assert world.status()["Mode"] == "offline"


def test_unprivileged_cannot_own_the_name(world):
    for user in (NOBODY, AS_OTHER):
        r = world.dbus_send("--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus.RequestName", f"string:{NAME}", "uint32:4",
                            user=user)
        assert r.returncode != 0, r.stdout
        assert "AccessDenied" in r.stderr, r.stderr


# ---------------------------------------------------------------------- control
def test_redetect_refused_by_bus_policy(world):
    """nobody: the bus refuses Redetect (our policy file); mnd never sees the call."""
    before = world.mnd.log()
    r = world.mnctl("redetect", user=NOBODY)
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    assert "root" in r.stderr and "access denied" in r.stderr, r.stderr
    time.sleep(0.3)
    new = world.mnd.log()[len(before):]
    assert "Redetect" not in new and "detection restarted" not in new, new


def test_redetect_refused_by_mnd(world):
    """A user the (test) bus policy lets through: mnd checks the uid, refuses with
    AccessDenied and logs the uid; the trust race is not restarted."""
    before = len(world.mnd.log())
    r = world.mnctl("redetect", user=AS_OTHER)
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    assert "root" in r.stderr, r.stderr
    world.mnd.wait_log(rf"Redetect refused for uid {OTHER_UID}\b")
    new = world.mnd.log()[before:]
    assert f"Redetect refused for uid {OTHER_UID}" in new, new
    assert "detection restarted" not in new, new
    # The same error through libdbus: the name AccessDenied, from mnd itself.
    r = world.dbus_send(f"--dest={NAME}", OBJ, f"{IFACE}.Redetect", user=AS_OTHER)
    assert r.returncode != 0
    assert "org.freedesktop.DBus.Error.AccessDenied" in r.stderr, r.stderr
    assert f"uid {OTHER_UID}" in r.stderr, r.stderr


def test_redetect_as_root(world):
    before = len(world.mnd.log())
    r = world.mnctl("redetect")
    assert r.returncode == 0, (r.stdout, r.stderr)
    world.mnd.wait_log(r"D-Bus: Redetect by uid 0\b")
    world.mnd.wait_log(r"detection restarted on request")
    assert "refused" not in world.mnd.log()[before:]


# ---------------------------------------------------------------------- changes
def test_monitor_sees_the_change(world):
    """Two monitors (text and JSON, as nobody); wlan0 appears in mnd's namespace with an
    address and a route to the home agent: mnd leaves offline, both see it."""
    before = world.status()
    assert before["Mode"] == "offline"
    mons = []
    for extra in ([], ["--json"]):
        mons.append(subprocess.Popen([*NOBODY, world.mnctl_path, "monitor", "--count", "1",
                                      *extra], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=world.env()))
        world.procs.append(mons[-1])
    time.sleep(1.5)             # subscribed (mnctl subscribes before its first GetAll)
    for m in mons:
        assert m.poll() is None, f"monitor ended early: {m.communicate()}"
    ns = world.mnd.ns
    t0 = time.time()
    for cmd in (["link", "add", "wlan0", "type", "veth", "peer", "name", "wlan0p"],
                ["link", "set", "wlan0p", "up"],
                ["addr", "add", f"{COA}/24", "dev", "wlan0"],
                ["link", "set", "wlan0", "up"],
                ["route", "add", "default", "via", ACCESS_ROUTER]):
        _run(["ip", "-n", ns, *cmd], check=True)
    outs = []
    for m in mons:
        try:
            out, err = m.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            m.kill()
            out, err = m.communicate()
            raise AssertionError(f"monitor saw no change in 15 s: {out!r} {err!r}\n"
                                 f"{world.mnd.log()[-3000:]}")
        assert m.returncode == 0, (m.returncode, err)
        outs.append(out)
    text, js = outs
    lines = text.splitlines()
    assert len(lines) == 1, text
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z((?: \w+=\S.*?)+)", lines[0])
    assert m, lines[0]
    seen = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert t0 - 2 <= seen <= time.time() + 1, (lines[0], t0)
    names = re.findall(r" (\w+)=", m.group(2))
    assert names and set(names) <= set(PROPERTIES), lines[0]
    ev = json.loads(js)
    assert ev["changed"] and set(ev["changed"]) <= set(PROPERTIES), js
    assert abs(ev["time_us"] / 1e6 - time.time()) < 20, js

    # mnd left offline for the race (detecting, then blocked with no answer).
    after = _wait(lambda: (lambda s: s if s["Mode"] in ("detecting", "blocked") else None)(
        world.status()), 15, "mode detecting/blocked", lambda: str(world.status()))
    assert after["Interface"] == "wlan0", after
    assert after["ModeSince"] > before["ModeSince"], (before, after)
    assert after["Mode"] in MODES
    # The status file says the same as the bus.
    assert world.mnd.status_file().get("interface") == "wlan0"


def test_name_taken_carries_on(world):
    """A second mnd on the same bus: the name is refused, one warning, it runs on; the
    first keeps the name."""
    second = world.start_mnd("second", home_address=OTHER_HOME_ADDRESS)
    second.wait_log(r"D-Bus status API off: the system bus refused the name")
    time.sleep(0.5)
    assert second.proc.poll() is None, second.log()[-3000:]
    assert second.log().count("D-Bus status API off") == 1, second.log()
    assert world.status()["HomeAddress"] == HOME_ADDRESS
    assert second.stop() == 0, second.log()[-3000:]


def test_no_bus_carries_on(world):
    """No system bus at all: one warning, mnd runs on (its status file is written)."""
    lone = world.start_mnd("lone", home_address=OTHER_HOME_ADDRESS,
                           address=f"unix:path={world.dir / 'no-such-socket'}")
    lone.wait_log(r"D-Bus status API off: cannot connect to the system bus")
    _wait(lambda: lone.status_file().get("mode") == "offline", 10, "lone's status file",
          lambda: lone.log()[-2000:])
    assert lone.proc.poll() is None
    assert lone.log().count("D-Bus status API off") == 1, lone.log()
    assert lone.stop() == 0, lone.log()[-3000:]


def test_stopped_mnd(world):
    """SIGTERM: mnd exits 0, the name goes; mnctl then says mnd is not running (exit 1).
    With dbus = no a new mnd stays off the bus."""
    assert world.mnd.stop() == 0, world.mnd.log()[-3000:]
    _wait(lambda: not world.name_owner(), 5, "the name released")
    for args in (["status"], ["monitor", "--count", "1"], ["redetect"]):
        r = world.mnctl(*args, user=NOBODY)
        assert r.returncode == 1, (args, r.returncode, r.stderr)
        assert "mnd is not running" in r.stderr, r.stderr
    off = world.start_mnd("off", extra="dbus = no\n")
    _wait(lambda: off.status_file().get("mode") == "offline", 10, "off's status file",
          lambda: off.log()[-2000:])
    time.sleep(0.5)
    assert not world.name_owner()
    assert "D-Bus" not in off.log(), off.log()
    assert off.stop() == 0, off.log()[-3000:]


def _nft_tables(ns: str) -> str:
    return _run(["ip", "netns", "exec", ns, "nft", "list", "tables"]).stdout


def test_stale_fail_closed_filter_removed(world):
    """An mnd killed without clean-up (SIGKILL) leaves its fail-closed table (mnd/failclosed.h)
    in place; a new mnd in the same namespace with fail-closed = no removes it at start and
    says so (otherwise it would go on dropping the node's traffic with nobody to remove
    it)."""
    first = world.start_mnd("killed", home_address=OTHER_HOME_ADDRESS, extra="dbus = no\n")
    _wait(lambda: "mnd_failclosed" in _nft_tables(first.ns), 10, "the filter's table",
          lambda: first.log()[-2000:])
    first.proc.kill()
    first.proc.wait(timeout=5)
    assert "mnd_failclosed" in _nft_tables(first.ns)
    off = world.start_mnd("fail-open", home_address=OTHER_HOME_ADDRESS,
                          extra="dbus = no\nfail-closed = no\n", ns=first.ns)
    off.wait_log(r"removed the fail-closed filter an earlier mnd left in place")
    assert "mnd_failclosed" not in _nft_tables(first.ns)
    assert off.stop() == 0, off.log()[-3000:]
    # and with nothing left behind: no such line
    again = world.start_mnd("fail-open-2", home_address=OTHER_HOME_ADDRESS,
                            extra="dbus = no\nfail-closed = no\n", ns=first.ns)
    _wait(lambda: again.status_file().get("mode") == "offline", 10, "its status file",
          lambda: again.log()[-2000:])
    assert "earlier mnd" not in again.log(), again.log()
    assert again.stop() == 0, again.log()[-3000:]

