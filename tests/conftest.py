"""Shared fixtures, and the rule that makes integration skips visible.

Tests that need the real ``prometheus`` / ``promtool`` / ``prometheus-alertmanager``
binaries are marked ``@pytest.mark.integration`` and ask for the fixtures below. Without
the binaries they skip, saying how to install them. With ``AIOPS_REQUIRE_INTEGRATION=1``
(set by ``.ci/run``) a skipped integration test is a failure, so CI cannot pass by
quietly skipping what it was meant to check.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import pytest

from aiops import _prometheus as prom
from aiops._procs import Child, free_port, http_ok, spawn, wait_until

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


@dataclass(frozen=True)
class RunningCollector:
    """An ``aiops collector`` child process on loopback."""

    url: str
    port: int
    target: str  # host:port as Prometheus scrapes it (and as the instance label reads)
    child: Child


def start_collector(workdir: Path, *, seed: int = 7, extra_args: Sequence[str] = ()) -> RunningCollector:
    """Start ``aiops collector`` on a free loopback port and wait for ``/healthz``; the caller stops it."""
    pytest.importorskip("collector", reason="the collector package is not in this checkout")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    child = spawn(
        "collector",
        [sys.executable, "-m", "aiops", "collector", "--host", "127.0.0.1", "--port", str(port), "--seed", str(seed), *extra_args],
        log_path=workdir / "collector.log",
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/healthz"), child=child, timeout_seconds=30)
    except BaseException:
        child.stop()
        raise
    return RunningCollector(url=url, port=port, target=f"127.0.0.1:{port}", child=child)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    """A fresh collector for one test."""
    running = start_collector(tmp_path / "collector")
    yield running
    running.child.stop()


StartPrometheus = Callable[..., prom.Server]


@pytest.fixture
def start_prometheus(prometheus_bin: str, tmp_path: Path) -> Iterator[StartPrometheus]:
    """Start the real Prometheus (1 s scrape, free loopback port, storage under tmp_path); stopped after the test."""
    started: list[prom.Server] = []

    def start(targets: Mapping[str, Sequence[str]], *, storage_dir: Path | None = None, scrape_interval_seconds: float = 1.0) -> prom.Server:
        n = len(started)
        config = tmp_path / f"prometheus-{n}.yml"
        config.write_text(prom.render_config(targets, scrape_interval_seconds=scrape_interval_seconds))
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
