"""Shared fixtures, and the rule that makes integration skips visible.

Tests that need the real ``prometheus`` / ``promtool`` / ``prometheus-alertmanager``
binaries are marked ``@pytest.mark.integration`` and ask for the fixtures below. Without
the binaries they skip, saying how to install them. With ``AIOPS_REQUIRE_INTEGRATION=1``
(set by ``.ci/run``) a skipped integration test is a failure, so CI cannot pass by
quietly skipping what it was meant to check.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import pytest

from plumbing import binaries as prom
from plumbing import monitoring as mon

REQUIRE_ENV = "AIOPS_REQUIRE_INTEGRATION"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _integration_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") == "1"


def _required_message(reason: object) -> str:
    return f"{REQUIRE_ENV}=1: an integration test may not be skipped, but it was: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under AIOPS_REQUIRE_INTEGRATION=1 a skipped ``integration`` test is reported as failed."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and _integration_required() and item.get_closest_marker("integration"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = _required_message(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """The same for a whole module of integration tests skipped at collection."""
    outcome = yield
    report = outcome.get_result()
    path = Path(str(getattr(collector, "path", "")))
    if report.skipped and _integration_required() and (REPO_ROOT / "tests" / "integration") in path.parents:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = _required_message(reason)


#: Seconds a module's tests take on a quiet 2-core machine, for the modules that dominate the
#: suite (their stacks); read by :func:`pytest_collection_modifyitems`. Others count as 0.
_MODULE_SECONDS_ATTR = "MODULE_SECONDS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest modules first, so that ``make test`` (``-n 2 --dist loadfile``, a file per worker in
    collection order) does not pick the detector loop's three minutes up last and run it alone.

    A module says how long it takes with a ``MODULE_SECONDS`` constant; the order within a module
    and among the others is unchanged (a stable sort).
    """

    def seconds(item: pytest.Item) -> float:
        module = getattr(item, "module", None)
        return -float(getattr(module, _MODULE_SECONDS_ATTR, 0.0))

    items.sort(key=seconds)


def _need(name: str) -> str:
    path = prom.find_binary(name)
    if path is None:
        pytest.skip(f"needs the `{name}` binary; install it with: {prom.INSTALL_HINT}")
    return path


@pytest.fixture(scope="session")
def promtool_bin() -> str:
    """Path of ``promtool`` (skips, saying how to install it, if missing)."""
    return _need("promtool")


@pytest.fixture(scope="session")
def prometheus_bin(promtool_bin: str) -> str:
    """Path of ``prometheus`` (skips, saying how to install it, if missing); promtool comes with it."""
    return _need("prometheus")


@pytest.fixture(scope="session")
def alertmanager_bin() -> str:
    """Path of ``prometheus-alertmanager`` (skips, saying how to install it, if missing)."""
    return _need("prometheus-alertmanager")


StartPrometheus = Callable[..., prom.Server]


@pytest.fixture
def start_prometheus(prometheus_bin: str, tmp_path: Path) -> Iterator[StartPrometheus]:
    """Start the real Prometheus (1 s scrape, free loopback port, storage under tmp_path); stopped after the test."""
    started: list[prom.Server] = []

    def start(targets: Mapping[str, Sequence[str]], *, storage_dir: Path | None = None, scrape_interval_seconds: float = 1.0) -> prom.Server:
        n = len(started)
        config = tmp_path / f"prometheus-{n}.yml"
        config.write_text(mon.render_config(targets, scrape_interval_seconds=scrape_interval_seconds))
        server = prom.start_prometheus(
            config,
            storage_dir=storage_dir or tmp_path / f"prometheus-data-{n}",
            log_path=tmp_path / f"prometheus-{n}.log",
        )
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()
