"""pytest fixtures for the race suite (issue 6): ``topo`` (a fresh namespace topology per
test, torn down even on failure and checked for leftovers) and ``rundir`` (one directory per
test under the session's: configs, keys, daemon logs, captures; kept when a test failed or
$MM_RACE_RUNDIR is set, removed otherwise). Needs root."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent / "topology", HERE.parent / "integration", HERE.parent / "interop"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import topo as topolib  # noqa: E402

_FAILED = {"any": False}


def pytest_configure(config):  # noqa: ARG001
    if os.geteuid() != 0:
        raise pytest.UsageError("the race tests need root (network namespaces)")


@pytest.fixture(scope="session")
def race_suite_dir():
    given = os.environ.get("MM_RACE_RUNDIR")
    d = Path(given) if given else Path(tempfile.mkdtemp(prefix="mip4-race-", dir="/tmp"))
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o755)
    yield d
    if _FAILED["any"] or given:
        print(f"\nrace run directory kept: {d}", file=sys.stderr)
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def rundir(request, race_suite_dir):
    d = race_suite_dir / request.node.name
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o755)
    return d


@pytest.fixture
def topo(request, race_suite_dir):
    d = race_suite_dir / request.node.name / "topo"
    d.mkdir(parents=True, exist_ok=True)
    removed = topolib.sweep()
    if removed:
        print(f"swept leftovers of dead runs: {removed}", file=sys.stderr)
    restore = topolib.install_signal_handlers()
    t = topolib.Topology(rundir=str(d))
    t.build()
    try:
        yield t
    finally:
        t.teardown()
        restore()
        left = t.leftovers()
        assert not left["namespaces"] and not left["pids"], \
            f"topology {t.prefix} left things behind: {left}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        _FAILED["any"] = True
