"""pytest fixtures for the foreign-agent suite (`fa`): ``topo`` (a fresh namespace topology
per test with DHCP off on int-f, torn down even on failure and checked for leftovers) and
``env`` (faenv.FaEnv in a per-test run directory, kept when a test failed or $MM_FA_RUNDIR
is set). At the end of each test the daemons get SIGTERM and must exit with status 0.
Needs root."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent / "topology", HERE.parent / "integration"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import faenv  # noqa: E402
import topo as topolib  # noqa: E402

_FAILED = {"any": False}


def pytest_configure(config):  # noqa: ARG001
    if os.geteuid() != 0:
        raise pytest.UsageError("the foreign-agent tests need root (network namespaces)")


@pytest.fixture(scope="session", autouse=True)
def _terminate_politely():
    removed = topolib.sweep()
    if removed:
        print(f"swept leftovers of dead runs: {removed}", file=sys.stderr)
    restore = topolib.install_signal_handlers()
    yield
    restore()


@pytest.fixture(scope="session")
def fa_suite_dir():
    given = os.environ.get("MM_FA_RUNDIR")
    d = Path(given) if given else Path(tempfile.mkdtemp(prefix="mip4-fa-", dir="/tmp"))
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o755)
    yield d
    if _FAILED["any"] or given:
        print(f"\nforeign-agent run directory kept: {d}", file=sys.stderr)
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def topo(request, fa_suite_dir):
    d = fa_suite_dir / request.node.name / "topo"
    d.mkdir(parents=True, exist_ok=True)
    t = topolib.Topology(rundir=str(d), dhcp={"int-f": False})
    t.build()
    try:
        yield t
    finally:
        t.teardown()
        left = t.leftovers()
        assert not left["namespaces"] and not left["pids"], \
            f"topology {t.prefix} left things behind: {left}"


@pytest.fixture
def env(request, topo, fa_suite_dir):
    e = faenv.FaEnv(topo, fa_suite_dir / request.node.name)
    request.node.faenv = e
    yield e
    ended = {}
    for d in (e.fa, e.ha):
        if d is not None and d.alive():
            ended[d.name] = d.stop()
    bad = {k: v for k, v in ended.items() if v != 0}
    if bad and not getattr(request.node, "_fa_failed", False):
        pytest.fail(f"daemons did not exit cleanly on SIGTERM: {bad}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        _FAILED["any"] = True
        item._fa_failed = True
        e = getattr(item, "faenv", None)
        if e is not None:
            rep.sections.append(("daemon logs", e.logs()))
            try:
                rep.sections.append(("rint-f kernel state", str(e.fa_kernel_state())))
            except Exception as ex:  # noqa: BLE001 - best effort
                rep.sections.append(("rint-f kernel state", f"failed: {ex}"))


def pytest_terminal_summary(terminalreporter):
    if faenv.RESULTS:
        terminalreporter.section("foreign agent: measurements")
        for line in faenv.RESULTS:
            terminalreporter.write_line(line)
