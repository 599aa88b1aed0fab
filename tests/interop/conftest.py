"""pytest fixtures for the strongSwan interop suite (suite `interop`).

- ``suite_dir``: one run directory for the session ($MM_INTEROP_RUNDIR, else
  /tmp/swan-int-*): strongswan.conf/swanctl.conf, certificates, charon logs, transfer stats
  and captures of every test. Removed at the end when everything passed, kept (and
  printed) otherwise.
- ``topo``: a fresh namespace topology per test (tests/topology/topo.py), torn down at the
  end of the test even on failure, and checked for leftovers.
- ``env``: an InteropEnv on that topology: charons, transfers and captures started
  through it are stopped at the end of the test (charons by PID: SIGTERM, then SIGKILL;
  a charon that does not exit with status 0 on SIGTERM fails the test). On failure the
  charon log tails and mn's and vpngw's addresses, routes and SAs go into the report.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent / "topology"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import swan  # noqa: E402
import topo as topolib  # noqa: E402
import xfer  # noqa: E402
from ikecap import IkeCapture  # noqa: E402

_FAILED = {"any": False}


def pytest_configure(config):  # noqa: ARG001
    if os.geteuid() != 0:
        raise pytest.UsageError("the interop tests need root (network namespaces)")
    missing = [p for p in (swan.CHARON, swan.SWANCTL, swan.OPENSSL) if not os.access(p, os.X_OK)]
    if missing:
        raise pytest.UsageError(f"strongSwan/openssl not installed ({', '.join(missing)}): "
                                "run scripts/setup.sh")


def pytest_sessionstart(session):  # noqa: ARG001
    removed = topolib.sweep()
    if removed:
        print(f"swept leftovers of dead runs: {removed}", file=sys.stderr)


@pytest.fixture(scope="session", autouse=True)
def _terminate_politely():
    restore = topolib.install_signal_handlers()
    yield
    restore()


@pytest.fixture(scope="session")
def suite_dir():
    given = os.environ.get("MM_INTEROP_RUNDIR")
    if given:
        d = Path(given)
        d.mkdir(parents=True, exist_ok=True)
    else:
        d = Path(tempfile.mkdtemp(prefix="swan-int-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    if _FAILED["any"] or given:
        print(f"\ninterop run directory kept: {d}", file=sys.stderr)
    else:
        shutil.rmtree(d, ignore_errors=True)


def _short(name: str) -> str:
    # unix socket paths (charon.vici) must stay under 108 bytes
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:40]


@pytest.fixture
def topo(request, suite_dir):
    d = suite_dir / _short(request.node.name) / "topo"
    d.mkdir(parents=True, exist_ok=True)
    t = topolib.Topology(rundir=str(d))
    t.build()
    try:
        yield t
    finally:
        t.teardown()
        left = t.leftovers()
        assert not left["namespaces"] and not left["pids"], \
            f"topology {t.prefix} left things behind: {left}"


class InteropEnv:
    """What a test starts on its topology, stopped in reverse order at the end."""

    def __init__(self, topo, rundir: Path) -> None:
        self.topo, self.rundir = topo, rundir
        self.charons: list[swan.Charon] = []
        self.transfers: list[xfer.Transfer] = []
        self.captures: list[IkeCapture] = []

    def charon(self, node: str, name: str, conf: str, pki=None, settings: str = "",
               start: bool = True) -> swan.Charon:
        c = swan.Charon(self.topo, node, self.rundir, name, conf, pki=pki, settings=settings)
        self.charons.append(c)
        return c.start() if start else c

    def transfer(self, dst: str, **kw) -> xfer.Transfer:
        x = xfer.Transfer(self.topo, self.rundir, dst, **kw)
        self.transfers.append(x)
        return x

    def capture(self, node: str, iface: str, name: str) -> IkeCapture:
        c = IkeCapture(self.topo, node, iface, self.rundir / f"{name}.pcapng")
        self.captures.append(c)
        return c.start()

    def stop_all(self) -> dict[str, int | None]:
        for x in self.transfers:
            for p in (x.tx, x.rx):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait(timeout=5)
        for c in self.captures:
            c.stop()
        return {c.name: c.stop() for c in reversed(self.charons)}

    def failure_sections(self) -> list[tuple[str, str]]:
        out = []
        for c in self.charons:
            out.append((f"charon {c.name} ({c.node}) log tail", c.log_tail(60)))
        for node in ("mn", "vpngw"):
            try:
                txt = "\n".join(self.topo.run(node, argv, check=False).stdout for argv in (
                    ["ip", "-br", "addr"], ["ip", "route", "show", "table", "all"]))
            except Exception as e:  # noqa: BLE001
                txt = f"({e})"
            out.append((f"{node} addresses and routes", txt))
        return out


@pytest.fixture
def env(request, topo, suite_dir):
    e = InteropEnv(topo, suite_dir / _short(request.node.name))
    e.rundir.mkdir(parents=True, exist_ok=True)
    request.node.interop_env = e
    yield e
    ended = e.stop_all()
    bad = {n: rc for n, rc in ended.items() if rc != 0}
    if bad and not getattr(request.node, "_interop_failed", False):
        pytest.fail("charon did not exit cleanly on SIGTERM: "
                    + ", ".join(f"{n}: {'killed after timeout' if rc is None else rc}"
                                for n, rc in bad.items()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        _FAILED["any"] = True
        item._interop_failed = True
        e = getattr(item, "interop_env", None)
        if e is not None and rep.when in ("call", "setup"):
            for title, text in e.failure_sections():
                rep.sections.append((title, text))


def pytest_terminal_summary(terminalreporter):
    if swan.RESULTS:
        terminalreporter.section("interop: measurements")
        for line in swan.RESULTS:
            terminalreporter.write_line(line)
