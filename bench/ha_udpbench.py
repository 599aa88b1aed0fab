#!/usr/bin/python3
"""The `ha` daemon's registration rate over UDP, in a pair of network namespaces.

    ns mipb-ha-PID: ha, home interface h0 = 198.18.0.2/20 (home prefix 198.18.0.0/20)
    ns mipb-cl-PID: the load generator, c0 = 198.18.16.1/20 (the care-of address of all)
    h0 <-veth-> c0, with on-link routes to each other's /20

N mobile nodes (default 500: daemon/secret.h caps the keys file at 64 KiB, ~50 bytes a
line) with random 16-byte keys, home addresses 198.18.1.0 upwards. Each round sends one
valid, authenticated request per mobile node (timestamp Identification taken when sent) with up to
--window requests outstanding, and counts accepted (code 0) replies; rate = accepted / time from
the first send to the last reply (CLOCK_MONOTONIC). Round 1 creates the bindings (each also
adds a proxy ARP entry, a host route and gratuitous ARPs on the home link), later rounds renew
them. ha writes its state file (whole binding cache, atomic write + fsync) before every reply:
that is by design (nothing acknowledged is lost) and is what bounds the rate. The state file
lives in --statedir (default /var/tmp: a real disk here, not tmpfs).

Needs root. Binaries: $MM_HA, $MM_HACTL. Usage: ha_udpbench.py [-n 500] [--rounds 3] [--window 32]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
import mip4msg  # noqa: E402

HA_ADDR, CL_ADDR, SPI = "198.18.0.2", "198.18.16.1", 4096


def hoa(i: int) -> str:
    return f"198.18.{1 + i // 250}.{1 + i % 250}"


CLIENT = r"""
import json, select, socket, struct, sys, time
sys.path.insert(0, sys.argv[1])
import mip4msg
cfg = json.load(open(sys.argv[2]))
keys = [bytes.fromhex(k) for k in cfg["keys"]]
n, window, ha, coa = len(keys), cfg["window"], cfg["ha"], cfg["coa"]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((coa, 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
out = []
for rnd in range(cfg["rounds"]):
    time.sleep(1.2)   # later Identification than the last round's, certainly
    sent = got = ok = 0
    codes = {}
    t0 = time.monotonic()
    deadline = t0 + 120
    while got < n and time.monotonic() < deadline:
        while sent < n and sent - got < window:
            # built when sent: a fresh timestamp Identification, as a mobile node does
            req = mip4msg.build_request(keys[sent], cfg["spi"], cfg["hoas"][sent], ha, coa,
                                        mip4msg.ntp_now(), lifetime=600)
            s.sendto(req, (ha, 434)); sent += 1
        r, _, _ = select.select([s], [], [], 2.0)
        if not r:
            break
        data = s.recv(2048)
        got += 1
        code = data[1]
        codes[code] = codes.get(code, 0) + 1
        ok += code == 0
    dt = time.monotonic() - t0
    out.append({"round": rnd + 1, "sent": sent, "replies": got, "accepted": ok,
                "codes": codes, "seconds": dt, "rate": ok / dt})
print(json.dumps(out))
"""


def atomic_write_ms(d: Path, size: int, count: int = 200) -> float:
    """Median time of what the state file costs per reply, done from Python in the same
    directory: write a temporary file, fsync, rename over the target, fsync the directory."""
    ts, tgt, tmp = [], d / "probe", d / "probe.tmp"
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(count):
        t = time.monotonic()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, b"x" * size)
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, tgt)
        os.fsync(dfd)
        ts.append((time.monotonic() - t) * 1000)
    os.close(dfd)
    os.unlink(tgt)
    return statistics.median(ts)


def sh(*argv, check=True, **kw):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, **kw)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--statedir", default="/var/tmp")
    ap.add_argument("--json")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    ha_bin, hactl = os.environ["MM_HA"], os.environ["MM_HACTL"]
    tag = str(os.getpid())
    nha, ncl = f"mipb-ha-{tag}", f"mipb-cl-{tag}"
    run = Path(tempfile.mkdtemp(prefix="mipb-ha-", dir=a.statedir))
    os.chmod(run, 0o755)
    keys = [os.urandom(16) for _ in range(a.n)]
    hoas = [hoa(i) for i in range(a.n)]
    kf = run / "ha.keys"
    fd = os.open(kf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for h, k in zip(hoas, keys):
            f.write(f"{h} {SPI} {k.hex()}\n")
    ksize = kf.stat().st_size
    (run / "ha.conf").write_text(
        "[home-agent]\n"
        f"address = {HA_ADDR}\nhome-interface = h0\nhome-prefix = 198.18.0.0/20\n"
        f"max-lifetime = 600\nkeys-file = {kf}\nstate-file = {run}/ha.bindings\n"
        f"control-socket = {run}/ha.sock\ntunnel-device = mipb0\nudp-tunnelling = allow\n"
        "keepalive-interval = 110\n")
    cl_cfg = run / "client.json"
    cl_cfg.write_text(json.dumps({"keys": [k.hex() for k in keys], "hoas": hoas,
                                  "window": a.window, "ha": HA_ADDR, "coa": CL_ADDR,
                                  "spi": SPI, "rounds": a.rounds}))
    ha = None
    res = {}
    try:
        sh("ip", "netns", "add", nha)
        sh("ip", "netns", "add", ncl)
        sh("ip", "-n", nha, "link", "add", "h0", "type", "veth", "peer", "name", "c0",
           "netns", ncl)
        for ns, dev, addr, other in ((nha, "h0", HA_ADDR, "198.18.16.0/20"),
                                     (ncl, "c0", CL_ADDR, "198.18.0.0/20")):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", f"{addr}/20", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "route", "add", other, "dev", dev)
        log = open(run / "ha.log", "w")
        ha = subprocess.Popen(["ip", "netns", "exec", nha, ha_bin, "--config",
                               str(run / "ha.conf"), "--log-level", "warning"],
                              stdout=log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if sh("ip", "netns", "exec", nha, hactl, "--socket", str(run / "ha.sock"),
                  "stats", "--json", check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("ha did not come up: " + (run / "ha.log").read_text()[-2000:])
        out = sh("ip", "netns", "exec", ncl, sys.executable, "-c", CLIENT,
                 str(HERE.parent / "tests" / "integration"), str(cl_cfg), timeout=600)
        rounds = json.loads(out.stdout)
        for r in rounds:
            print(f"round {r['round']}: {r['accepted']}/{a.n} accepted in {r['seconds']:.3f} s "
                  f"= {r['rate']:.0f} registrations/s (codes {r['codes']})", flush=True)
        st = json.loads(sh("ip", "netns", "exec", nha, hactl, "--socket",
                           str(run / "ha.sock"), "stats", "--json").stdout)
        sf = run / "ha.bindings"
        res = {"n": a.n, "window": a.window, "keys_file_bytes": ksize, "rounds": rounds,
               "median_rate": statistics.median(r["rate"] for r in rounds),
               "state_file_bytes": sf.stat().st_size if sf.exists() else None,
               "ha_stats": st}
        res["atomic_write_probe_ms"] = round(atomic_write_ms(run, res["state_file_bytes"] or 1), 3)
        print(f"keys file {ksize} bytes; state file {res['state_file_bytes']} bytes; "
              f"write+fsync+rename+fsync(dir) of that size in {run.parent}: median "
              f"{res['atomic_write_probe_ms']} ms (= at most "
              f"{1000 / res['atomic_write_probe_ms']:.0f}/s if done once per reply)")
        print("RESULT " + json.dumps({"ha_daemon_regs_per_s_median": round(res["median_rate"]),
                                      "n": a.n, "window": a.window}), flush=True)
    finally:
        if ha is not None and ha.poll() is None:
            ha.send_signal(signal.SIGTERM)
            try:
                ha.wait(timeout=10)
            except subprocess.TimeoutExpired:
                ha.kill()
                ha.wait()
        for ns in (ncl, nha):
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(run, ignore_errors=True)
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
