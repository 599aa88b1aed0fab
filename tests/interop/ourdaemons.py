"""Our daemons as the interop suites start them (tests/interop: test_mnd_swan.py,
test_vpngw_swan.py, test_mnd_vpngw.py, test_mobike.py, test_vpngw_flood.py): mnd's VPN client
in mn and vpngw in the vpngw node, each with its own run directory, configuration, log and
key log, started through the topology (tests/topology/topo.py) and stopped by PID.

- OurDaemon: the process: spawn in a namespace with the log file, tail(), stop() (SIGTERM,
  then SIGKILL; ignoring SIGTERM fails the test).
- started(cls): the body of a pytest fixture that starts any number of them and checks at the
  end of the test that each exited with status 0.
- Mnd, Vpngw: the two daemons with the configurations the suites use.
- binary(), write_private(), spi(), installed_children(): small helpers the tests share.

Binaries come from $MM_MND, $MM_VPNGW, $MM_GWCTL (meson sets them); a missing one fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import swan

GW_PUBLIC = "198.19.0.2"
SUITE = "aes128gcm16"


def binary(var: str) -> str:
    path = os.environ.get(var)
    assert path and os.access(path, os.X_OK), f"${var} does not name an executable: {path!r}"
    return path


def write_private(path: Path, text: str) -> None:
    """A key or PSK file, mode 0600 (the daemons refuse readable secrets)."""
    path.write_text(text)
    os.chmod(path, 0o600)


def spi(x: str) -> str:
    """Both ends' SPI spellings to one: lower-case hex without 0x, no leading zeros."""
    return format(int(x, 16), "x")


def installed_children(sa: dict) -> list[dict]:
    """The INSTALLED Child SAs of a charon list-sas entry."""
    return [c for c in sa["child_sas"] if c.get("state") == "INSTALLED"]


class OurDaemon:
    """One of our daemons in a namespace; subclasses set self.name and self.log_path, then
    call spawn()."""

    name = "daemon"
    log_path: Path

    def spawn(self, node: str, argv: list) -> None:
        self.log = open(self.log_path, "w")
        self.proc = self.topo.spawn(node, argv, stdout=self.log, stderr=self.log)

    def tail(self, n: int = 6000) -> str:
        try:
            return self.log_path.read_text()[-n:]
        except OSError:
            return ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"{self.name} ignored SIGTERM: {self.tail()}")
        self.log.close()
        return self.proc.returncode


def started(cls):
    """Fixture body: yields a function that starts cls(*a, **kw); at the end of the test
    every one started is stopped and must have exited with status 0."""
    made: list = []

    def start(*a, **kw):
        d = cls(*a, **kw)
        made.append(d)
        return d
    yield start
    for d in made:
        rc = d.stop()
        assert rc == 0, f"{d.name} exited with {rc}: {d.tail()}"


class Mnd(OurDaemon):
    """Our mnd in mn, VPN part configured against the gateway on 198.19.0.2."""

    name = "mnd"

    def __init__(self, env, topo, auth: str = "psk", suite: str = SUITE, pki=None,
                 dpd: int = 2, mobike: bool = True):
        self.topo = topo
        self.dir = Path(env.rundir) / "mnd"
        self.dir.mkdir(exist_ok=True)
        self.status = self.dir / "vpn.json"
        self.log_path = self.dir / "mnd.log"
        ike, esp = swan.SUITES[suite]
        write_private(self.dir / "mip.key", "00112233445566778899aabbccddeeff\n")
        if auth == "psk":
            write_private(self.dir / "vpn.psk", swan.PSK + "\n")
            a = "auth = psk\npsk-file = vpn.psk\n"
        else:
            a = f"auth = cert\ncert = {pki.mn_cert}\nkey = {pki.mn_key}\nca = {pki.ca}\n"
        (self.dir / "mnd.conf").write_text(
            "[mobile-node]\n"
            "home-address = 10.254.0.1\nhome-agent = 10.254.0.2\nspi = 256\n"
            "key-file = mip.key\ninterfaces = wlan0\n"
            f"status-file = {self.dir / 'mip.json'}\n"
            "\n[vpn]\n"
            f"gateway = {GW_PUBLIC}\n"
            f"local-id = {swan.MN_ID}\n"
            f"remote-id = fqdn:{swan.GW_FQDN}\n"
            f"{a}ike = {ike}\nesp = {esp}\n"
            f"intranet = {swan.INTRANET}\n"
            f"{'' if mobike else 'mobike = no'}\n"
            f"dpd-interval = {dpd}\n"
            f"status-file = {self.status}\n"
            f"keylog-file = {self.dir / 'ikev2_decryption_table'}\n")
        self.spawn("mn", [binary("MM_MND"), "--config", self.dir / "mnd.conf",
                          "--log-level", "debug"])

    def state(self) -> dict:
        try:
            return json.loads(self.status.read_text())
        except (OSError, ValueError):
            return {}

    def wait(self, pred, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"mnd exited: {self.tail()}"
            s = self.state()
            if s and pred(s):
                return s
            assert time.monotonic() < deadline, f"mnd: timed out waiting for {what}: " \
                                                f"{s}\n{self.tail()}"
            time.sleep(0.1)


class Vpngw(OurDaemon):
    """Our gateway in the vpngw node, with its own config, socket, log and key log.
    ``gateway``: more [gateway] keys, e.g. {"cookie-threshold": 16} (test_vpngw_flood)."""

    name = "vpngw"

    def __init__(self, env, topo, auth: str = "psk", suite: str = "aes128gcm16", pki=None,
                 gateway: dict | None = None):
        self.topo = topo
        self.dir = Path(env.rundir) / "ourgw"
        self.dir.mkdir(exist_ok=True)
        self.sock = self.dir / "vpngw.sock"
        self.log_path = self.dir / "vpngw.log"
        self.keylog = self.dir / "ikev2_decryption_table"
        ike, esp = swan.SUITES[suite]
        if auth == "psk":
            write_private(self.dir / "mn.psk", swan.PSK + "\n")
            a = "auth = psk\npsk-file = mn.psk\n"
        else:
            a = f"auth = cert\ncert = {pki.gw_cert}\nkey = {pki.gw_key}\nca = {pki.ca}\n"
        (self.dir / "vpngw.conf").write_text(
            "[gateway]\n"
            f"listen = {GW_PUBLIC}\n"
            f"pool = {swan.POOL}\n"
            f"control-socket = {self.sock}\n"
            f"keylog-file = {self.keylog}\n"
            + "".join(f"{k} = {v}\n" for k, v in (gateway or {}).items()) +
            "\n[peer mn]\n"
            f"remote-id = {swan.MN_ID}\n"
            f"local-id = fqdn:{swan.GW_FQDN}\n"
            f"{a}ike = {ike}\nesp = {esp}\nlocal-ts = 198.18.0.0/16\n")
        self.spawn("vpngw", [binary("MM_VPNGW"), "--config", self.dir / "vpngw.conf",
                             "--log-level", "debug"])
        deadline = time.monotonic() + 10
        while not self.sock.exists():
            assert self.proc.poll() is None, f"vpngw exited: {self.tail()}"
            assert time.monotonic() < deadline, f"vpngw did not start: {self.tail()}"
            time.sleep(0.05)

    def gwctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([binary("MM_GWCTL"), "--socket", str(self.sock), *args],
                              capture_output=True, text=True, timeout=10)

    def sas(self) -> list[dict]:
        r = self.gwctl("list", "--json")
        assert r.returncode == 0, f"gwctl list --json: {r.stderr}"
        return json.loads(r.stdout)["ike_sas"]

    def wait_sa(self, pred, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for s in self.sas():
                if pred(s):
                    return s
            assert time.monotonic() < deadline, f"vpngw: timed out waiting for {what}: " \
                                                f"{self.sas()}"
            time.sleep(0.1)
