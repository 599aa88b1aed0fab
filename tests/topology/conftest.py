"""pytest fixtures for the namespace topology (tests/topology/topo.py).

    def test_something(topology):          # one Topology per test module, shared
        topology.attach("wlan0", "int-x")
        ...

``topology`` is module-scoped and reset (mn unplugged, NAT/DHCP/routes back to their
defaults, emulators stopped) before every test that uses it through ``topo_clean``.
SIGTERM/SIGHUP are turned into KeyboardInterrupt for the whole session so that pytest
runs the fixture finalizers (teardown) when the run is killed politely; runs killed
with SIGKILL are removed by ``topo.sweep()`` at the next build or session start.
"""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import topo  # noqa: E402


def pytest_configure(config):  # noqa: ARG001
    if os.geteuid() != 0:
        raise pytest.UsageError("the topology tests need root (network namespaces)")


def pytest_sessionstart(session):  # noqa: ARG001
    removed = topo.sweep()
    if removed:
        print(f"swept leftovers of dead runs: {removed}", file=sys.stderr)


@pytest.fixture(scope="session", autouse=True)
def _terminate_politely():
    restore = topo.install_signal_handlers()
    yield
    restore()


def _build(**kw) -> topo.Topology:
    t = topo.Topology(**kw)
    t.build()
    print(f"\ntopology {t.prefix} built in {t.build_seconds:.3f} s", file=sys.stderr)
    return t


def _teardown_and_check(t: topo.Topology) -> None:
    t.teardown()
    left = t.leftovers()
    assert not left["namespaces"] and not left["pids"] and not left["state_dir"], \
        f"topology {t.prefix} left things behind: {left}"


@pytest.fixture(scope="module")
def topology():
    """One full topology for the test module, torn down at its end (even on failure)."""
    t = _build()
    try:
        yield t
    finally:
        _teardown_and_check(t)


@pytest.fixture
def topo_clean(topology):
    """The module's topology, reset to its just-built state before the test."""
    topology.reset()
    return topology


@pytest.fixture
def second_topology():
    """A second, independent topology alive at the same time as ``topology``."""
    t = _build()
    try:
        yield t
    finally:
        _teardown_and_check(t)


@pytest.fixture(scope="session")
def linkemu_binary():
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "linkemu"))
    import linkemu  # noqa: PLC0415
    path = linkemu.default_binary()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        # A missing emulator is a failure, not a skip: a skipped check must never read as a pass.
        pytest.fail(f"linkemu binary {path} not built (build it, or set MM_LINKEMU)")
    return path
