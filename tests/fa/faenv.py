"""Harness of the foreign-agent tests (suite `fa`): our ha as home agent in ns "ha" (home
link eth0, trusted networks 198.18.0.0/16, RFC 5265 4.3), our ha as foreign agent in ns
"rint-f" (visited link "lan", int-f 198.18.13.0/24, care-of address 198.18.13.1), and a
python "mobile node" (mnagent.py) in ns "mn" with wlan0 on int-f, no DHCP, the home address
on wlan0.

    env = FaEnv(topo, rundir)
    env.start_ha(); env.start_fa()
    env.mn_attach()                       # wlan0 on int-f, 198.18.1.100/32 on it
    adv = env.solicit()                   # the answer and its latency
    env.mn_route_via(adv["mac"])          # static neighbour + default route via the FA
    reply = env.register(lifetime=300)    # mip4msg.build_request, through the FA

Daemons go through tests/integration/mip4env.Daemon (logs with monotonic timestamps).
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE.parent / "topology", HERE.parent / "integration"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import mip4env  # noqa: E402
import mip4msg  # noqa: E402

PY = "/usr/bin/python3"
MNAGENT = str(HERE / "mnagent.py")
HOA = "198.18.1.100"
HA_ADDR = "198.18.1.2"
CN = "198.18.1.3"
FA_NODE, FA_IF = "rint-f", "lan"
FA_ADDR = "198.18.13.1"                  # the FA's address on int-f and its care-of address
FA_TABLE = 434
SPI = 4096
MN_MAC = "02:6d:6e:00:00:01"             # topo.py's wlan0
RESULTS: list[str] = []


def result(line: str) -> None:
    RESULTS.append(line)
    print(line, flush=True)


def binaries() -> tuple[str, str]:
    ha, hactl = os.environ.get("MM_HA", ""), os.environ.get("MM_HACTL", "")
    for d in (os.environ.get("MM_BUILD"), "/tmp/b-fadaemon"):
        if d and not ha and Path(d, "ha/ha").exists():
            ha, hactl = str(Path(d, "ha/ha")), str(Path(d, "ha/hactl"))
    if not (ha and os.access(ha, os.X_OK) and hactl and os.access(hactl, os.X_OK)):
        raise RuntimeError(f"ha/hactl not found (MM_HA={ha!r}, MM_HACTL={hactl!r})")
    return ha, hactl


# ---------------------------------------------------------------------------- packets
def csum(b: bytes) -> int:
    """RFC 1071."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(src: str, dst: str, proto: int, payload: bytes, ttl: int = 64) -> bytes:
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), random.randrange(65536), 0,
                    ttl, proto, 0, ipaddress.IPv4Address(src).packed,
                    ipaddress.IPv4Address(dst).packed)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def icmp(type_: int, code: int, body: bytes, good_checksum: bool = True) -> bytes:
    m = struct.pack("!BBH", type_, code, 0) + body
    c = csum(m) if good_checksum else (csum(m) ^ 0x5a5a) or 1
    return m[:2] + struct.pack("!H", c) + m[4:]


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes, ttl: int = 64) -> bytes:
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed + \
        struct.pack("!BBH", 0, 17, len(u))
    c = csum(pseudo + u) or 0xffff
    return ipv4(src, dst, 17, u[:6] + struct.pack("!H", c) + u[8:], ttl)


# ---------------------------------------------------------------------------- the env
class FaEnv:
    def __init__(self, topo, rundir: Path) -> None:
        self.t = topo
        self.rundir = Path(rundir)
        self.rundir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.rundir, 0o755)
        self.ha_bin, self.hactl_bin = binaries()
        self.key = os.urandom(16)
        self.keys = self.rundir / "ha.keys"
        fd = os.open(self.keys, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{HOA} {SPI} {self.key.hex()}\n")
        self.ha_sock = self.rundir / "ha.sock"
        self.fa_sock = self.rundir / "fa.sock"
        self.ha: mip4env.Daemon | None = None
        self.fa: mip4env.Daemon | None = None
        self.fa_runs = 0
        self.sport = 40434

    # ------------------------------------------------------------------ daemons
    def start_ha(self) -> mip4env.Daemon:
        conf = self.rundir / "ha.conf"
        conf.write_text("[home-agent]\n"
                        f"address = {HA_ADDR}\nhome-interface = eth0\n"
                        "home-prefix = 198.18.1.0/24\n"
                        f"keys-file = {self.keys}\nstate-file = {self.rundir / 'ha.bindings'}\n"
                        f"control-socket = {self.ha_sock}\ntunnel-device = mipha0\n"
                        "trusted-networks = 198.18.0.0/16\n")
        self.ha = mip4env.Daemon(self.t, "ha", "ha", [self.ha_bin, "--config", str(conf),
                                                      "--log-level", "debug"],
                                 self.rundir / "ha.log")
        self.wait(lambda: self.hactl_rc("ha", self.ha_sock, ["list", "--json"]) == 0, 10,
                  "the home agent's control socket")
        return self.ha

    def fa_conf(self, **over) -> Path:
        cfg = {"interface": FA_IF, "care-of-address": FA_ADDR, "advertisement-interval": "1",
               "registration-lifetime": "600", "reverse-tunnelling": "yes",
               "control-socket": str(self.fa_sock), "tunnel-device": "mipfa0",
               "routing-table": str(FA_TABLE)}
        cfg.update({k.replace("_", "-"): str(v) for k, v in over.items()})
        conf = self.rundir / "fa.conf"
        conf.write_text("[foreign-agent]\n" + "".join(f"{k} = {v}\n" for k, v in cfg.items()))
        return conf

    def start_fa(self, wait: bool = True, **over) -> mip4env.Daemon:
        conf = self.fa_conf(**over)
        self.fa_runs += 1
        self.fa = mip4env.Daemon(self.t, FA_NODE, f"fa#{self.fa_runs}",
                                 [self.ha_bin, "--config", str(conf), "--log-level", "debug"],
                                 self.rundir / "fa.log")
        if wait:
            self.fa.wait_log(r"foreign agent on lan", 10)
        return self.fa

    def stop_fa(self) -> int | None:
        rc = self.fa.stop()
        return rc

    # ------------------------------------------------------------------ control sockets
    def hactl_rc(self, node: str, sock: Path, args: list[str]) -> int:
        return self.t.run(node, [self.hactl_bin, "--socket", str(sock), *args], check=False,
                          timeout=10).returncode

    def hactl_json(self, node: str, sock: Path, args: list[str]) -> dict:
        res = self.t.run(node, [self.hactl_bin, "--socket", str(sock), *args, "--json"],
                         check=False, timeout=10)
        assert res.returncode == 0, f"hactl {args} on {node}: rc {res.returncode} " \
                                    f"{res.stdout} {res.stderr}"
        return json.loads(res.stdout)

    def fa_stats(self) -> dict:
        return self.hactl_json(FA_NODE, self.fa_sock, ["stats"])["foreign_agent"]

    def ha_stats(self) -> dict:
        return self.hactl_json("ha", self.ha_sock, ["stats"])

    def visitors(self) -> dict[str, dict]:
        doc = self.hactl_json(FA_NODE, self.fa_sock, ["visitors"])
        return {v["home_address"]: v for v in doc["visitors"]}

    def bindings(self) -> dict[str, dict]:
        doc = self.hactl_json("ha", self.ha_sock, ["list"])
        return {b["home_address"]: b for b in doc["bindings"]}

    # ------------------------------------------------------------------ the mobile node
    def mn_attach(self) -> None:
        self.t.attach("wlan0", "int-f", dhcp=False)
        self.t.run("mn", ["ip", "addr", "add", f"{HOA}/32", "dev", "wlan0"])

    def mn_route_via(self, fa_mac: str) -> None:
        """The FA's link-layer address from its advertisement (no ARP from the home
        address, RFC 5944 §4.6), and the FA as default router."""
        self.t.run("mn", ["sh", "-c",
                          f"ip neigh replace {FA_ADDR} lladdr {fa_mac} dev wlan0 nud permanent"
                          f" && ip route replace {FA_ADDR}/32 dev wlan0"
                          f" && ip route replace default via {FA_ADDR} dev wlan0 onlink"])

    def mn(self, *args: str, timeout: float = 20) -> dict:
        res = self.t.run("mn", [PY, MNAGENT, *args], timeout=timeout)
        return json.loads(res.stdout.strip().splitlines()[-1])

    def mn_spawn(self, *args: str) -> subprocess.Popen:
        p = self.t.spawn("mn", [PY, MNAGENT, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
        line = p.stdout.readline().decode()
        assert line.strip() == "listening", f"mnagent {args}: {line!r} " \
                                            f"{p.stderr.read().decode() if p.poll() else ''}"
        return p

    def solicit(self) -> dict:
        return self.mn("solicit", "wlan0")

    def register(self, lifetime: int = 300, flags: int = mip4msg.FLAG_T,
                 ident: int | None = None, timeout: float = 3.0) -> mip4msg.Reply | None:
        ident = ident if ident is not None else mip4msg.ntp_now()
        msg = mip4msg.build_request(self.key, SPI, HOA, HA_ADDR, FA_ADDR, ident,
                                    lifetime=lifetime, flags=flags)
        self.last_request = msg
        out = self.mn("register", FA_ADDR, HOA, str(self.sport), msg.hex(), str(timeout),
                      timeout=timeout + 20)
        if not out.get("reply"):
            return None
        assert out["from"] == FA_ADDR and out["port"] == 434, out
        self.last_register_ms = out["ms"]
        return mip4msg.parse_reply(bytes.fromhex(out["reply"]), self.key)

    def mn_raw(self, packets: list[bytes]) -> None:
        self.mn("raw", "wlan0", *[p.hex() for p in packets])

    # ------------------------------------------------------------------ kernel state
    def fa_kernel_state(self) -> dict:
        def sh(cmd: str) -> str:
            return self.t.run(FA_NODE, ["sh", "-c", cmd], check=False).stdout
        return {"neigh": sh(f"ip neigh show {HOA}"),
                "route": sh(f"ip route show {HOA}/32; ip route show table all | grep -w "
                            f"{HOA} || true"),
                "rules": sh("ip rule"),
                "table": sh(f"ip route show table {FA_TABLE} 2>/dev/null"),
                "links": sh("ip -o link show mipfa0 2>/dev/null")}

    # ------------------------------------------------------------------ waiting
    def wait(self, cond, timeout: float, what: str, interval: float = 0.05):
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            for d in (self.ha, self.fa):
                if d is not None and not d.alive():
                    raise AssertionError(f"{d.name} exited ({d.proc.returncode}) while "
                                         f"waiting for {what}:\n{d.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(interval)

    def logs(self) -> str:
        out = []
        for d in (self.ha, self.fa):
            if d is not None:
                out.append(f"--- {d.name}\n{d.text()[-6000:]}")
        return "\n".join(out)
