"""Real strongSwan (Debian's charon with kernel-libipsec) in a node of the namespace topology
(tests/topology/topo.py): the independent IKEv2/MOBIKE peer of our vpngw and mnd.

    pki = make_pki(workdir / "pki", "ecdsa")            # test CA, gateway and client certs
    gw = Charon(t, "vpngw", workdir, "gw",
                responder_conf(auth="cert", suite="aes128gcm16"), pki=pki).start()
    mn = Charon(t, "mn", workdir, "mn",
                initiator_conf(auth="cert", suite="aes128gcm16"), pki=pki).start()
    mn.initiate("vpn")                                  # IKE_SA "vpn" + CHILD_SA "vpn"
    sa = mn.ike_sa("vpn")                               # parsed list-sas record
    sa["local-vips"], sa["initiator-spi"], sa["child_sas"][0]["spi-in"], ...
    mn.rekey_child("vpn"); mn.rekey_ike("vpn"); mn.terminate(ike="vpn")
    mn.stop(); gw.stop()                                # SIGTERM by PID, then SIGKILL

Facts this relies on (seen on this machine, /work/shared/DESIGN.md "Real components in
tests"): the kernel has no ESP, so the IPsec data path is libipsec in user space (TUN
device ipsec0) and kernel-libipsec must load before kernel-netlink; the kdf plugin is
needed for the IKEv2 PRF+; charon writes /var/run/charon.pid whatever it is told, so every
instance runs in its own mount namespace with a private tmpfs on /run (`unshare -m`), its
vici socket in the work directory; libipsec always UDP-encapsulates ESP (port 4500); after
a MOBIKE move charon rekeys the CHILD_SA; `swanctl --load-conns --file` unloads
connections not in that file, so everything is loaded with one `swanctl --load-all` from
the instance's own SWANCTL_DIR.

Control goes over vici (vici.py, a small standard-library client: Debian 12 has no
python3-vici) on the unix socket in the work directory, reachable from the host namespace.
The charon log (a filelog with milliseconds) is <workdir>/<name>/charon.log; its stdout
and stderr go to charon.out.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from vici import ViciError, ViciSession

CHARON = "/usr/lib/ipsec/charon"
SWANCTL = "/usr/sbin/swanctl"
OPENSSL = "/usr/bin/openssl"

GW_PUBLIC = "198.19.0.2"          # vpngw ext0 (topo.py)
GW_FQDN = "vpngw.test"
MN_ID = "mn@test"
POOL = "198.18.100.0/24"          # topo.TIA_POOL: icore routes it to vpngw int0
INTRANET = "198.18.0.0/16"
PSK = "mip4-mobike interop test key, not a secret"

# Plugins, in load order. kernel-libipsec must come before kernel-netlink (otherwise
# child SAs fail with "Function not implemented": the kernel has no ESP); kernel-netlink
# stays for addresses, routes and roaming events. openssl brings AES-GCM, ChaCha20-
# Poly1305, X25519, MODP, ECDSA and RSA; kdf the IKEv2 PRF+; pem/pkcs1/pkcs8/x509/pubkey
# parse the test certificates and keys; constraints checks the CA's basic constraints.
# No resolve/attr/updown: nothing may touch the host's /etc/resolv.conf or run scripts.
PLUGINS = ("random nonce openssl kdf pem pkcs1 pkcs8 x509 pubkey constraints "
           "kernel-libipsec kernel-netlink socket-default vici")

# name -> (IKE proposal, ESP proposal)
SUITES = {
    "aes128gcm16": ("aes128gcm16-prfsha256-x25519", "aes128gcm16"),
    "aes256gcm16": ("aes256gcm16-prfsha384-x25519", "aes256gcm16"),
    "chacha20poly1305": ("chacha20poly1305-prfsha256-x25519", "chacha20poly1305"),
    "aes128-sha256-modp2048": ("aes128-sha256-modp2048", "aes128-sha256-modp2048"),
}


# measurements of a test session, printed at its end (conftest.py)
RESULTS: list[str] = []


def result(line: str) -> None:
    RESULTS.append(line)
    print(line, flush=True)


class SwanError(AssertionError):
    """charon did not start, a command failed, or a wait timed out (an AssertionError so
    that pytest shows it as a test failure with its message)."""


def _run(argv, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 30)
    res = subprocess.run(argv, **kw)
    if res.returncode != 0:
        raise SwanError(f"{' '.join(map(str, argv))} failed (rc {res.returncode}): "
                        f"{(res.stderr or '').strip()} {(res.stdout or '').strip()[-2000:]}")
    return res


# ------------------------------------------------------------------------------ certificates

class Pki:
    """Paths of a test CA and two end-entity certificates with their keys (PEM)."""

    def __init__(self, d: Path, keytype: str) -> None:
        self.dir, self.keytype = d, keytype
        self.ca = d / "ca.pem"
        self.gw_cert, self.gw_key = d / "gw.pem", d / "gw.key"
        self.mn_cert, self.mn_key = d / "mn.pem", d / "mn.key"
        # more clients for load tests (make_clients): (identity, cert, key)
        self.clients: list[tuple[str, Path, Path]] = []


_EXTENSIONS = f"""\
[gw]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectAltName = DNS:{GW_FQDN}, IP:{GW_PUBLIC}
extendedKeyUsage = serverAuth, 1.3.6.1.5.5.7.3.17
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[mn]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectAltName = email:{MN_ID}
extendedKeyUsage = clientAuth, 1.3.6.1.5.5.7.3.17
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def make_pki(d: Path, keytype: str = "ecdsa") -> Pki:
    """Generate, with the openssl CLI, a CA and the gateway and client certificates:
    ``ecdsa`` (P-256) or ``rsa`` (2048 bits). Gateway: CN/SAN DNS vpngw.test and SAN IP
    198.19.0.2; client: SAN email mn@test. Valid from one hour ago for two days (charon
    and the test run on the same clock). Nothing here is ever committed."""
    if keytype == "ecdsa":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    elif keytype == "rsa":
        newkey = ["-newkey", "rsa:2048"]
    else:
        raise ValueError(f"keytype must be ecdsa or rsa, not {keytype!r}")
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    p = Pki(d, keytype)
    ext = d / "ext.cnf"
    ext.write_text(_EXTENSIONS)
    _run([OPENSSL, "req", "-x509", *newkey, "-nodes", "-keyout", d / "ca.key", "-out", p.ca,
          "-days", "2", "-subj", "/O=mip4-mobike test/CN=mip4-mobike test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign",
          "-addext", "subjectKeyIdentifier=hash"])
    for who, cn, key, cert in (("gw", GW_FQDN, p.gw_key, p.gw_cert),
                               ("mn", MN_ID, p.mn_key, p.mn_cert)):
        csr = d / f"{who}.csr"
        _run([OPENSSL, "req", "-new", *newkey, "-nodes", "-keyout", key, "-out", csr,
              "-subj", f"/O=mip4-mobike test/CN={cn}"])
        _run([OPENSSL, "x509", "-req", "-in", csr, "-CA", p.ca, "-CAkey", d / "ca.key",
              "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
              "-extfile", ext, "-extensions", who, "-out", cert])
    for k in (d / "ca.key", p.gw_key, p.mn_key):
        os.chmod(k, 0o600)
    return p


def client_id(i: int) -> str:
    """Identity of load-test client ``i`` (1-based): user<i>@test."""
    return f"user{i}@test"


_CLIENT_CNF = """\
[req]
distinguished_name = dn
prompt = no
x509_extensions = client
[dn]
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectAltName = email:$ENV::MM_CLIENT_ID
extendedKeyUsage = clientAuth, 1.3.6.1.5.5.7.3.17
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def make_clients(pki: Pki, n: int, jobs: int = 4) -> Pki:
    """Add ``n`` client certificates (own key each, SAN email user<i>@test, signed by the
    test CA) to ``pki``, for load tests: charon reuses one IKE_SA for connections that
    differ only in name, so every connection needs its own identity. One `openssl req
    -x509 -CA` per client, ``jobs`` at a time."""
    newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
              if pki.keytype == "ecdsa" else ["-newkey", "rsa:2048"])
    d = pki.dir / "clients"
    d.mkdir(exist_ok=True)
    cnf = d / "client.cnf"
    cnf.write_text(_CLIENT_CNF)

    def one(i: int) -> tuple[str, Path, Path]:
        ident = client_id(i)
        cert, key = d / f"user{i}.pem", d / f"user{i}.key"
        _run([OPENSSL, "req", "-x509", "-config", cnf, *newkey, "-nodes", "-keyout", key,
              "-out", cert, "-CA", pki.ca, "-CAkey", pki.dir / "ca.key", "-days", "2",
              "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
              "-subj", f"/O=mip4-mobike test/CN={ident}"],
             env=dict(os.environ, MM_CLIENT_ID=ident))
        os.chmod(key, 0o600)
        return ident, cert, key

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        pki.clients.extend(ex.map(one, range(1, n + 1)))
    return pki


# ------------------------------------------------------------------------------ swanctl.conf

def _auth_section(side: str, auth: str, ident: str, cert: str | None = None,
                  cacert: str | None = None) -> str:
    lines = [f"auth = {'psk' if auth == 'psk' else 'pubkey'}", f"id = {ident}"]
    if auth == "cert" and cert:
        lines.append(f"certs = {cert}")
    if auth == "cert" and cacert:
        lines.append(f"cacerts = {cacert}")
    body = "\n".join("            " + l for l in lines)
    return f"        {side} {{\n{body}\n        }}\n"


def _check(auth: str, suite: str) -> tuple[str, str]:
    if auth not in ("psk", "cert"):
        raise ValueError(f"auth must be psk or cert, not {auth!r}")
    try:
        return SUITES[suite]
    except KeyError:
        raise ValueError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}") from None


def responder_conf(auth: str = "psk", suite: str = "aes128gcm16", name: str = "rw",
                   pool: str = POOL, local_ts: str = INTRANET, psk: str = PSK,
                   mobike: bool = True, child_rekey: str = "0", ike_rekey: str = "0",
                   remote_id: str | None = None) -> str:
    """swanctl.conf of the VPN gateway (node vpngw): IKEv2 responder on 198.19.0.2 for any
    client, identity vpngw.test, virtual IPs from ``pool``, CHILD_SA ``name`` with
    local_ts ``local_ts``, MOBIKE on. Rekeying is left to the test (0 = never on its own).
    The client's identity must be ``remote_id`` (default: any with PSK, mn@test with
    certificates; "%any" accepts every certificate the test CA issued)."""
    ike, esp = _check(auth, suite)
    local = _auth_section("local", auth, GW_FQDN, cert="gw.pem")
    if remote_id is None:
        remote_id = "%any" if auth == "psk" else MN_ID
    remote = _auth_section("remote", auth, remote_id)
    secrets = (f"secrets {{\n    ike-mn {{\n        id-gw = {GW_FQDN}\n        id-mn = %any\n"
               f"        secret = \"{psk}\"\n    }}\n}}\n") if auth == "psk" else ""
    return f"""\
connections {{
    {name} {{
        version = 2
        local_addrs = {GW_PUBLIC}
        pools = tia
        proposals = {ike}
        mobike = {'yes' if mobike else 'no'}
        rekey_time = {ike_rekey}
        send_cert = always
        unique = never
{local}{remote}        children {{
            {name} {{
                local_ts = {local_ts}
                esp_proposals = {esp}
                rekey_time = {child_rekey}
                life_time = 0
            }}
        }}
    }}
}}
pools {{
    tia {{
        addrs = {pool}
    }}
}}
{secrets}"""


def initiator_conf(auth: str = "psk", suite: str = "aes128gcm16", name: str = "vpn",
                   remote_ts: str = INTRANET, psk: str = PSK, mobike: bool = True,
                   ident: str = MN_ID, count: int = 1) -> str:
    """swanctl.conf of a client (node mn): connection (and CHILD_SA) ``name`` to
    198.19.0.2 (identity vpngw.test), requesting a virtual IP, remote_ts ``remote_ts``.
    ``count`` > 1 defines ``name``1..``name``N, identical but for the local identity
    (user1@test ...; with certificates those of make_clients), for load tests: charon
    reuses an IKE_SA for connections that differ only in name."""
    ike, esp = _check(auth, suite)
    conns = []
    for i in range(1, count + 1):
        cname = name if count == 1 else f"{name}{i}"
        lid = ident if count == 1 else client_id(i)
        local = _auth_section("local", auth, lid,
                              cert="mn.pem" if count == 1 else f"user{i}.pem")
        remote = _auth_section("remote", auth, GW_FQDN)
        conns.append(f"""\
    {cname} {{
        version = 2
        remote_addrs = {GW_PUBLIC}
        vips = 0.0.0.0
        proposals = {ike}
        mobike = {'yes' if mobike else 'no'}
        rekey_time = 0
{local}{remote}        children {{
            {cname} {{
                remote_ts = {remote_ts}
                esp_proposals = {esp}
                rekey_time = 0
                life_time = 0
            }}
        }}
    }}
""")
    secrets = (f"secrets {{\n    ike-gw {{\n        id-gw = {GW_FQDN}\n        id-mn = %any\n"
               f"        secret = \"{psk}\"\n    }}\n}}\n") if auth == "psk" else ""
    return "connections {\n" + "".join(conns) + "}\n" + secrets


# ------------------------------------------------------------------------------ charon

# filelog levels per subsystem (strongswan.conf(5)): enough to follow every exchange,
# route and SA installation; "quiet" (benchmarks) keeps only level 0 (SAs up/down, errors)
LOG_LEVELS = {
    "normal": "default = 1\n            ike = 2\n            cfg = 2\n            chd = 2\n"
              "            knl = 2\n            mgr = 1\n            net = 1\n            enc = 0\n"
              "            esp = 1\n            lib = 1",
    "quiet": "default = 0",
}


def _strongswan_conf(vici_sock: Path, log: Path, settings: str, plugin_settings: str,
                     log_level: str) -> str:
    return f"""\
# generated by tests/interop/swan.py
charon {{
    load_modular = no
    load = {PLUGINS}
    # install_routes and install_virtual_ip stay at their defaults (yes): routes through
    # libipsec's TUN device ipsec0 in table 220, virtual IPs on ipsec0. Keys set in this
    # template cannot be changed through ``settings`` (a later duplicate key did not take
    # effect here), so the template sets only what no caller needs to change.
    # a load test sends many IKE_SA_INITs from one address
    block_threshold = 100000
    cookie_threshold = 100000
    cookie_threshold_ip = 100000
    syslog {{
    }}
    filelog {{
        swan {{
            path = {log}
            append = no
            flush_line = yes
            time_format = %H:%M:%S
            time_add_ms = yes
            ike_name = yes
            {LOG_LEVELS[log_level]}
        }}
    }}
    plugins {{
        vici {{
            socket = unix://{vici_sock}
        }}
{plugin_settings}
    }}
{settings}
}}
"""


class Charon:
    """One charon in topology node ``node``; files in ``workdir``/``name``.

    ``swanctl_conf``: the text of its swanctl.conf (responder_conf/initiator_conf);
    ``pki``: certificates to install (the gateway's for node vpngw, the client's
    otherwise, and the CA); ``settings``: extra strongswan.conf lines inside ``charon {}``,
    ``plugin_settings``: extra lines inside ``charon.plugins {}``; ``log_level``: "normal"
    or "quiet" (benchmarks)."""

    def __init__(self, topo, node: str, workdir, name: str, swanctl_conf: str,
                 pki: Pki | None = None, settings: str = "", plugin_settings: str = "",
                 log_level: str = "normal") -> None:
        self.topo, self.node, self.name = topo, node, name
        self.dir = Path(workdir) / name
        self.swanctl_dir = self.dir / "swanctl"
        self.conf_path = self.dir / "strongswan.conf"
        self.log_path = self.dir / "charon.log"
        self.out_path = self.dir / "charon.out"
        self.vici_path = self.dir / "charon.vici"
        if len(str(self.vici_path)) > 100:          # sun_path is 108 bytes
            raise ValueError(f"work directory too deep for a unix socket: {self.vici_path}")
        if log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        self.swanctl_conf, self.pki, self.settings = swanctl_conf, pki, settings
        self.plugin_settings, self.log_level = plugin_settings, log_level
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        self.exit_status: int | None = None
        self._out = None

    def __repr__(self) -> str:
        return f"Charon({self.name!r} in {self.node}, pid {self.pid})"

    # ------------------------------------------------------------------ files
    def _write_files(self) -> None:
        # every directory swanctl --load-all scans (a missing one is reported as "failed")
        for sub in ("", "x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey",
                    "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12", "conf.d"):
            (self.swanctl_dir / sub).mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(_strongswan_conf(self.vici_path, self.log_path,
                                                   self.settings, self.plugin_settings,
                                                   self.log_level))
        (self.swanctl_dir / "swanctl.conf").write_text(self.swanctl_conf)
        if self.pki is not None:
            own = "gw" if self.node == "vpngw" else "mn"
            cert = self.pki.gw_cert if own == "gw" else self.pki.mn_cert
            key = self.pki.gw_key if own == "gw" else self.pki.mn_key
            (self.swanctl_dir / "x509ca" / "ca.pem").write_bytes(self.pki.ca.read_bytes())
            if own == "mn":
                for _, c, k in self.pki.clients:
                    (self.swanctl_dir / "x509" / c.name).write_bytes(c.read_bytes())
                    (self.swanctl_dir / "private" / k.name).write_bytes(k.read_bytes())
                    os.chmod(self.swanctl_dir / "private" / k.name, 0o600)
            (self.swanctl_dir / "x509" / f"{own}.pem").write_bytes(cert.read_bytes())
            kp = self.swanctl_dir / "private" / f"{own}.key"
            kp.write_bytes(key.read_bytes())
            os.chmod(kp, 0o600)

    def _env(self) -> dict:
        return dict(os.environ, STRONGSWAN_CONF=str(self.conf_path),
                    SWANCTL_DIR=str(self.swanctl_dir))

    # ------------------------------------------------------------------ life cycle
    def start(self, timeout: float = 15.0, load: bool = True) -> "Charon":
        """Write the configuration, start charon, wait for its vici socket to answer,
        then (``load``) `swanctl --load-all`."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_files()
        try:
            self.vici_path.unlink()
        except FileNotFoundError:
            pass
        # a private /run: charon insists on /var/run/charon.pid (and refuses to start when
        # another instance's pid file is there); the mount dies with the namespace
        script = f"mount -t tmpfs -o mode=0755 tmpfs /run && exec {CHARON}"
        self._out = open(self.out_path, "ab")
        self.proc = self.topo.spawn(self.node, ["unshare", "-m", "sh", "-c", script],
                                    stdout=self._out, stderr=subprocess.STDOUT,
                                    env=self._env())
        self.pid = self.proc.pid    # ip netns exec -> unshare -> sh all exec: charon's PID
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc.poll() is not None:
                raise SwanError(f"{self.name}: charon exited with status {self.proc.returncode} "
                                f"while starting; log tail:\n{self.log_tail()}")
            try:
                with ViciSession(str(self.vici_path), timeout=2) as v:
                    v.request("version")
                break
            except (OSError, ViciError) as e:
                last = e
            if time.monotonic() > deadline:
                self.stop()
                raise SwanError(f"{self.name}: vici did not answer within {timeout} s "
                                f"({last}); log tail:\n{self.log_tail()}")
            time.sleep(0.05)
        if load:
            self.load_all()
        return self

    def load_all(self) -> str:
        """`swanctl --load-all` from this instance's SWANCTL_DIR (connections, pools,
        credentials): one call, because --load-conns --file unloads what it doesn't list."""
        res = _run([SWANCTL, "--load-all", "--noprompt", "--uri", f"unix://{self.vici_path}"],
                   env=self._env())
        if "failed" in res.stdout.lower() or "failed" in res.stderr.lower():
            raise SwanError(f"{self.name}: swanctl --load-all: {res.stdout}{res.stderr}")
        return res.stdout

    def reload(self, swanctl_conf: str) -> str:
        self.swanctl_conf = swanctl_conf
        (self.swanctl_dir / "swanctl.conf").write_text(swanctl_conf)
        return self.load_all()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM to charon's PID, wait, SIGKILL after ``timeout``. Returns the exit
        status (None if it had to be killed). Idempotent."""
        p = self.proc
        if p is None:
            return self.exit_status
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout)
                self.exit_status = p.returncode
            except subprocess.TimeoutExpired:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=5)
                self.exit_status = None
        else:
            self.exit_status = p.returncode
        if self._out is not None:
            self._out.close()
            self._out = None
        return self.exit_status

    # ------------------------------------------------------------------ logs
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        out = ""
        try:
            out = self.out_path.read_text(errors="replace")
        except FileNotFoundError:
            pass
        lines = self.log_text().splitlines()[-n:]
        return "\n".join(lines) + (f"\n[stdout/stderr]\n{out[-2000:]}" if out.strip() else "")

    def log_count(self, pattern: str) -> int:
        rx = re.compile(pattern)
        return sum(1 for l in self.log_text().splitlines() if rx.search(l))

    def wait_log(self, pattern: str, timeout: float = 10.0, count: int = 1) -> str:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            hits = [l for l in self.log_text().splitlines() if rx.search(l)]
            if len(hits) >= count:
                return hits[count - 1]
            if time.monotonic() > deadline:
                raise SwanError(f"{self.name}: {count} log line(s) matching {pattern!r} not "
                                f"seen within {timeout} s (saw {len(hits)}); tail:\n"
                                f"{self.log_tail()}")
            time.sleep(0.1)

    # ------------------------------------------------------------------ vici commands
    def vici(self, timeout: float = 30.0) -> ViciSession:
        return ViciSession(str(self.vici_path), timeout=timeout)

    def _control(self, cmd: str, msg: dict, timeout: float) -> list[dict]:
        msg = dict(msg, timeout=str(int(timeout * 1000)), loglevel="1")
        with self.vici(timeout=timeout + 5) as v:
            try:
                events, _ = v.streamed(cmd, "control-log", msg)
            except ViciError as e:
                raise SwanError(f"{self.name}: {e}\nlog tail:\n{self.log_tail()}") from None
        return events

    def initiate(self, child: str, ike: str | None = None, timeout: float = 15.0) -> list[dict]:
        """Bring up CHILD_SA ``child`` (and its IKE_SA); blocks until established."""
        return self._control("initiate", {"child": child, **({"ike": ike} if ike else {})},
                             timeout)

    def terminate(self, ike: str | None = None, child: str | None = None,
                  timeout: float = 10.0) -> list[dict]:
        msg = {}
        if ike:
            msg["ike"] = ike
        if child:
            msg["child"] = child
        return self._control("terminate", msg, timeout)

    def rekey_child(self, child: str) -> None:
        """Start a CHILD_SA rekey (asynchronous in charon: wait with list_sas/wait_log)."""
        with self.vici() as v:
            v.request("rekey", {"child": child})

    def rekey_ike(self, ike: str, reauth: bool = False) -> None:
        """Start an IKE_SA rekey (RFC 7296 1.3.2), or a reauthentication."""
        with self.vici() as v:
            v.request("rekey", {"ike": ike, **({"reauth": "yes"} if reauth else {})})

    def list_sas(self, ike: str | None = None) -> list[dict]:
        """Every IKE_SA as a dict (vici list-sa fields: uniqueid, state, local-host,
        local-port, remote-host, remote-port, initiator-spi, responder-spi, nat-local,
        nat-remote, local-vips, remote-vips, encr-alg, ...) plus "name" and "child_sas",
        a list of CHILD_SA dicts (name, uniqueid, state, spi-in, spi-out, encap, bytes-in,
        local-ts, remote-ts, ...)."""
        with self.vici() as v:
            events, _ = v.streamed("list-sas", "list-sa", {"ike": ike} if ike else {})
        out = []
        for ev in events:
            for name, sa in ev.items():
                rec = dict(sa, name=name)
                rec["child_sas"] = [dict(c) for c in (sa.get("child-sas") or {}).values()]
                out.append(rec)
        return out

    def ike_sa(self, ike: str) -> dict:
        """The one ESTABLISHED IKE_SA of connection ``ike`` (SwanError if not exactly one)."""
        sas = [s for s in self.list_sas(ike) if s.get("state") == "ESTABLISHED"]
        if len(sas) != 1:
            raise SwanError(f"{self.name}: {len(sas)} established IKE_SAs for {ike!r}: "
                            f"{self.list_sas(ike)}")
        return sas[0]

    def installed_children(self, ike: str) -> list[dict]:
        return [c for c in self.ike_sa(ike)["child_sas"] if c.get("state") == "INSTALLED"]

    def wait_sa(self, ike: str, pred, timeout: float = 10.0, what: str = "condition") -> dict:
        """Poll list-sas until ``pred(ike_sa_dict)`` is true for an established IKE_SA."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = self.list_sas(ike)
                for s in last:
                    if s.get("state") == "ESTABLISHED" and pred(s):
                        return s
            except (OSError, ViciError) as e:
                last = e
            if time.monotonic() > deadline:
                raise SwanError(f"{self.name}: {what} not reached within {timeout} s; "
                                f"last list-sas: {last}\nlog tail:\n{self.log_tail()}")
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """User + system CPU time charon (all its threads) has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stats(self) -> dict:
        with self.vici() as v:
            return v.request("stats")


def virtual_ip(sa: dict) -> str:
    """The one IPv4 virtual IP of an initiator's IKE_SA record (list_sas)."""
    vips = sa.get("local-vips") or []
    v4 = [v for v in vips if ipaddress.ip_address(v).version == 4]
    if len(v4) != 1:
        raise SwanError(f"expected one IPv4 virtual IP, got {vips}")
    return v4[0]
