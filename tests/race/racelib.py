"""The whole product on the namespace topology (tests/topology/topo.py): our ha (home agent,
trusted networks configured, RFC 5265 4.3), our vpngw (MOBIKE, TIA pool routed inside the
intranet), our mnd with Mobile IPv4 and [vpn] (the trust race of RFC 5266 3.4), cn streaming
TCP to the home address. Used by tests/race/test_race.py and scripts/demo.py.

    env = RaceEnv(topo, rundir)            # binaries from MM_* or the build directory
    env.start()                             # ha, vpngw, mnd; mn at home
    row = env.move("int-x", expect="c")     # wlan0 to int-x; waits for the handover
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE.parent / "topology", HERE.parent / "integration", HERE.parent / "interop"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import mip4env  # noqa: E402
import swan  # noqa: E402
import topo as topolib  # noqa: E402
import xfer  # noqa: E402
from ikecap import IkeCapture  # noqa: E402
from test_vpngw_swan import Vpngw  # noqa: E402

HOME_ADDRESS = mip4env.HOME_ADDRESS        # 198.18.1.100
HA_ADDRESS = mip4env.HA_ADDRESS            # 198.18.1.2
INTRANET = "198.18.0.0/16"
TRUSTED = "198.18.0.0/16"                  # ha's trusted-networks: the intranet (RFC 5265 4.3)
GW_PUBLIC = "198.19.0.2"
EXTERNAL = ("ext-a", "ext-b")


def default_build() -> Path:
    for d in (os.environ.get("MM_BUILD"), HERE.parent.parent / "build", "/tmp/b-lead"):
        if d and (Path(d) / "mnd" / "mnd").exists():
            return Path(d)
    raise RuntimeError("no build directory: set MM_BUILD (or MM_MND etc.)")


def set_binaries(build: Path | None = None) -> None:
    b = build or default_build()
    for var, rel in (("MM_HA", "ha/ha"), ("MM_HACTL", "ha/hactl"), ("MM_MND", "mnd/mnd"),
                     ("MM_VPNGW", "vpngw/vpngw"), ("MM_GWCTL", "vpngw/gwctl"),
                     ("MM_MNCTL", "mnd/mnctl"), ("MM_LINKEMU", "tests/linkemu/linkemu")):
        if not os.environ.get(var) and (b / rel).exists():
            os.environ[var] = str(b / rel)


class _Run:
    def __init__(self, rundir: Path) -> None:
        self.rundir = str(rundir)


class RaceEnv:
    def __init__(self, topo, rundir: Path, probe_retries: int = 2, probe_timeout_ms: int = 1000,
                 mnd_extra: dict | None = None) -> None:
        set_binaries()
        self.topo = topo
        self.rundir = Path(rundir)
        self.rundir.mkdir(parents=True, exist_ok=True)
        self.mip = mip4env.MipEnv(topo, self.rundir, mip4env.Binaries.from_env())
        self.gw: Vpngw | None = None
        self.probe_retries, self.probe_timeout_ms = probe_retries, probe_timeout_ms
        self.mnd_extra = mnd_extra or {}
        self.timeline: list[dict] = []
        self.status_path = self.mip.mn_status_path
        self.vpn_status_path = self.rundir / "mnd.vpn.json"

    # ------------------------------------------------------------------ start / stop
    def write_mnd_conf(self) -> Path:
        psk = self.rundir / "vpn.psk"
        psk.write_text(swan.PSK + "\n")
        os.chmod(psk, 0o600)
        ike, esp = swan.SUITES["aes128gcm16"]
        conf = self.mip.write_mnd_conf(interfaces="wlan0",
                                       probe_retries=self.probe_retries,
                                       probe_timeout=self.probe_timeout_ms,
                                       **self.mnd_extra)
        conf.write_text(conf.read_text() + "\n[vpn]\n"
                        f"gateway = {GW_PUBLIC}\nlocal-id = {swan.MN_ID}\n"
                        f"remote-id = fqdn:{swan.GW_FQDN}\nauth = psk\npsk-file = {psk}\n"
                        f"ike = {ike}\nesp = {esp}\nintranet = {INTRANET}\n"
                        "dpd-interval = 5\n"
                        f"status-file = {self.vpn_status_path}\n"
                        f"keylog-file = {self.rundir / 'ikev2_decryption_table'}\n")
        return conf

    def start(self, at: str = "home") -> None:
        self.mip.start_ha(trusted_networks=TRUSTED)
        self.gw = Vpngw(_Run(self.rundir), self.topo)
        self.write_mnd_conf()
        if at == "home":
            self.mip.go_home()
        else:
            self.mip.go(at)
        self.mip.start_mnd()

    def stop(self) -> dict:
        out = {}
        if self.mip.mnd is not None:
            out["mnd"] = self.mip.mnd.stop()
        if self.gw is not None:
            out["vpngw"] = self.gw.stop()
        if self.mip.ha is not None:
            out["ha"] = self.mip.ha.stop()
        return out

    # ------------------------------------------------------------------ state
    def status(self) -> dict:
        try:
            return json.loads(self.status_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def vpn_status(self) -> dict:
        try:
            return json.loads(self.vpn_status_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def wait(self, pred, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            s = self.status()
            if s and pred(s):
                return s
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached within {timeout} s; status {s}; "
                                     f"vpn {self.vpn_status()}; mnd log tail:\n"
                                     f"{self.mnd_log()[-4000:]}")
            time.sleep(0.02)

    def mnd_log(self) -> str:
        try:
            return (self.rundir / "mnd.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_mode(self, mode: str, timeout: float = 30.0, after: int | None = None) -> dict:
        """mnd in `mode` with a completed handover (handovers > after)."""
        def ok(s):
            if s.get("mode") != mode:
                return False
            return after is None or s.get("handovers", 0) > after
        return self.wait(ok, timeout, f"mode {mode}")

    # ------------------------------------------------------------------ moves
    def attach(self, net: str) -> str | None:
        self.topo.detach("wlan0")
        if net == "home":
            self.mip.go_home()
            return HOME_ADDRESS
        return self.mip.go(net)

    def move(self, net: str, expect: str, timeout: float = 30.0) -> dict:
        """wlan0 to net; wait for mnd in mode `expect` after a new handover. A row for the
        timeline: net, address, mode, trust, reason, the handover time mnd measured
        (attachment seen -> traffic flowing), and the wall time of the whole move."""
        before = self.status().get("handovers", 0)
        t0 = time.monotonic()
        addr = self.attach(net)
        t_addr = time.monotonic()
        s = self.wait_mode(expect, timeout, after=before)
        row = {"net": net, "address": addr, "mode": s.get("mode"), "trust": s.get("trust"),
               "reason": s.get("mode_reason"), "handover_ms": s.get("last_handover_ms"),
               "move_s": round(time.monotonic() - t0, 3),
               "attach_s": round(t_addr - t0, 3),
               "care_of_address": s.get("care_of_address"),
               "vpn_spi_i": self.vpn_status().get("ike_spi_i")}
        self.timeline.append(row)
        return row

    def modes_seen(self) -> list[str]:
        """Every mode mnd logged, in order ("mode: a -> b" lines)."""
        out = []
        for line in self.mnd_log().splitlines():
            i = line.find("mode: ")
            if i >= 0 and " -> " in line[i:]:
                out.append(line[i + 6:].split(" -> ", 1)[1].split(" ", 1)[0])
        return out


FA_NODE, FA_IF, FA_ADDR = "rint-f", "lan", "198.18.13.1"


class ForeignAgent:
    """Our ha with only [foreign-agent], in rint-f."""

    def __init__(self, topo, rundir: Path) -> None:
        self.topo, self.rundir = topo, rundir
        self.sock = rundir / "fa.sock"
        self.conf = rundir / "fa.conf"
        self.conf.write_text("[foreign-agent]\n"
                             f"interface = {FA_IF}\ncare-of-address = {FA_ADDR}\n"
                             "advertisement-interval = 1\nregistration-lifetime = 600\n"
                             "reverse-tunnelling = yes\n"
                             f"control-socket = {self.sock}\ntunnel-device = mipfa0\n")
        self.runs = 0
        self.d: mip4env.Daemon | None = None

    def start(self) -> None:
        self.runs += 1
        self.d = mip4env.Daemon(self.topo, FA_NODE, f"fa#{self.runs}",
                                [os.environ["MM_HA"], "--config", str(self.conf),
                                 "--log-level", "debug"], self.rundir / f"fa{self.runs}.log")
        self.d.wait_log(r"foreign agent on lan", 10)

    def stop(self) -> int | None:
        return self.d.stop() if self.d else None

    def visitors(self) -> list:
        r = self.topo.run(FA_NODE, [os.environ["MM_HACTL"], "--socket", str(self.sock),
                                    "visitors", "--json"], check=False, timeout=10)
        if r.returncode != 0:
            return []
        v = json.loads(r.stdout)
        return v.get("visitors", v) if isinstance(v, dict) else v
