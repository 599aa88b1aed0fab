"""pytest fixtures for the Mobile IPv4 integration tests (suite `mip4`).

- ``binaries``: paths of ha, hactl, mnd from $MM_HA, $MM_HACTL, $MM_MND (a missing binary
  is a failure, never a skip: a skipped check must not read as a pass).
- ``suite_dir``: one run directory for the session ($MM_INT_RUNDIR, else /tmp/mip4-int-*):
  configs, keys, daemon logs, stream stats and captures of every test. Removed at the end
  when everything passed, kept (and printed) otherwise.
- ``topo``: a fresh namespace topology per test, torn down at the end of the test even on
  failure, and checked for leftovers.
- ``env``: a MipEnv (mip4env.py) on that topology, with a tshark capture of UDP port 434 on
  the home agent's interface for the whole test (registered for test 5). At the end the
  daemons get SIGTERM and must exit with status 0.
On failure the daemon logs, hactl's view, mnd's status and the namespaces' addresses and
routes are attached to the report; measured numbers are printed in the terminal summary.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent / "topology"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import mip4env  # noqa: E402
import topo as topolib  # noqa: E402
from tsharkcheck import Capture  # noqa: E402

_FAILED = {"any": False}


def pytest_configure(config):  # noqa: ARG001
    if os.geteuid() != 0:
        raise pytest.UsageError("the mip4 integration tests need root (network namespaces)")


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
def binaries():
    try:
        return mip4env.Binaries.from_env()
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def suite_dir():
    given = os.environ.get("MM_INT_RUNDIR")
    if given:
        d = Path(given)
        d.mkdir(parents=True, exist_ok=True)
    else:
        d = Path(tempfile.mkdtemp(prefix="mip4-int-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    if _FAILED["any"] or given:
        print(f"\nmip4 integration run directory kept: {d}", file=sys.stderr)
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def topo(request, suite_dir):
    d = suite_dir / request.node.name / "topo"
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


@pytest.fixture
def env(request, topo, binaries, suite_dir):
    e = mip4env.MipEnv(topo, suite_dir / request.node.name, binaries, name=request.node.name)
    request.node.mip4env = e
    cap = Capture(topo, "ha", mip4env.HA_HOME_IFACE,
                  str(e.rundir / "ha-eth0.pcapng")).start()
    e.captures.append(cap)
    rec = {"test": request.node.name, "ha_stats": e.ha_final_stats, "exclude": None,
           "env": e}
    e.capture_record = rec
    yield e
    problems = []
    for s in e.streams:
        try:
            s.stop(timeout=10)
        except Exception as ex:  # noqa: BLE001
            problems.append(f"stream stop: {ex}")
    ended = {}
    if e.mnd is not None:             # first: it may send a last deregistration
        ended[e.mnd.name] = e.mnd.stop()
    if e.ha is not None and e.ha.alive():
        try:
            e.snapshot_ha_stats()
        except AssertionError as ex:
            problems.append(f"hactl stats at the end: {ex}")
    ended.update(e.stop_all())
    for c in e.captures:
        c.stop()
    rec["exclude"] = e.capture_exclude
    mip4env.CAPTURES.append(rec)
    for name, rc in ended.items():
        if rc != 0:
            problems.append(f"{name} did not exit cleanly on SIGTERM: "
                            f"{'killed after timeout' if rc is None else f'exit status {rc}'}")
    if problems and not getattr(request.node, "_mip4_failed", False):
        pytest.fail("; ".join(problems))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        _FAILED["any"] = True
        item._mip4_failed = True
        e = getattr(item, "mip4env", None)
        if e is not None and rep.when in ("call", "setup", "teardown"):
            for title, text in e.failure_sections():
                rep.sections.append((title, text))


def pytest_terminal_summary(terminalreporter):
    if mip4env.RESULTS:
        terminalreporter.section("mip4 integration: measurements")
        for line in mip4env.RESULTS:
            terminalreporter.write_line(line)
