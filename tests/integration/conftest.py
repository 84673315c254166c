"""Fixtures for the integration tests: the real collector, promtool and Prometheus on loopback.

The detector runs with ``--signals`` pointing at a copy of the packaged ``model/signals.yaml``
whose ``rate_window`` is :data:`FAST_RATE_WINDOW_SECONDS` instead of 2 minutes (generated
from the packaged file, replacing only that line, so the two cannot drift): with a 1 s
scrape its rate windows fill, and it scores, seconds after Prometheus starts.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import httpx
import pytest

from aiops import stack as stack_spec
from model import SIGNALS_PATH, load_signals
from plumbing import binaries as prom
from plumbing import monitoring as mon
from plumbing.durations import format_duration
from plumbing.procs import Child, free_port

#: Seed of the fleet in the integration tests (any fixed seed).
SEED = 7
#: Hours of backfilled history under the live data.
HISTORY_HOURS = 6.0
#: The rate window of the integration tests' signals file (the packaged one says 2m).
FAST_RATE_WINDOW_SECONDS = 15.0


def write_signals(path: Path, rate_window_seconds: float) -> Path:
    """Write the packaged signals file to ``path`` with only its ``rate_window`` line replaced; returns ``path``.

    Checks that the copy is the packaged signal set with other windows and nothing else.
    """
    window = format_duration(rate_window_seconds)
    text, n = re.subn(
        r"^rate_window:.*$",
        f"rate_window: {window}  # the integration tests' copy of {SIGNALS_PATH.name}",
        SIGNALS_PATH.read_text(encoding="utf-8"),
        flags=re.M,
    )
    assert n == 1, f"{SIGNALS_PATH} should have one top-level rate_window line, it has {n}"
    path.write_text(text, encoding="utf-8")
    copy, packaged = load_signals(path), load_signals()
    assert packaged.rate_window_seconds is not None, f"{SIGNALS_PATH} declares no rate_window"
    assert copy.rate_window_seconds == rate_window_seconds and copy.completeness_window_seconds == rate_window_seconds
    was = f"[{format_duration(packaged.rate_window_seconds)}]"
    assert [s.promql for s in copy.signals] == [s.promql.replace(was, f"[{window}]") for s in packaged.signals]
    return path


@pytest.fixture(scope="session")
def fast_signals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged signals file with a :data:`FAST_RATE_WINDOW_SECONDS` rate window (for ``aiops detect --signals``)."""
    return write_signals(tmp_path_factory.mktemp("signals") / "signals-fast.yaml", FAST_RATE_WINDOW_SECONDS)


@dataclass(frozen=True)
class RunningCollector:
    """An ``aiops collector`` child process on loopback."""

    url: str
    port: int
    target: str  # host:port as Prometheus scrapes it (and as the instance label reads)
    child: Child


def start_collector(
    workdir: Path,
    *,
    seed: int = 7,
    port: int | None = None,
    history_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    responder_token: str | None = None,
) -> RunningCollector:
    """Start ``aiops collector`` on loopback from the stack specification (a free port by default) and wait until ready; the caller stops it."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    spec = stack_spec.collector(
        port=port, seed=seed, log_path=workdir / "incidents.jsonl", history_dir=history_dir, responder_token=responder_token
    )
    spec = dataclasses.replace(spec, argv=spec.argv + tuple(extra_args))
    child = stack_spec.start(spec, log_dir=workdir, cwd=workdir)
    return RunningCollector(url=spec.url, port=port, target=f"127.0.0.1:{port}", child=child)


def detector_scoring(detector_url: str, *, cycles: int = 3) -> bool:
    """Whether the detector at ``detector_url`` reports ``ok`` after at least ``cycles`` successful cycles (False while it does not answer)."""
    try:
        h = httpx.get(f"{detector_url}/healthz", timeout=2).json()
    except httpx.HTTPError:
        return False
    return h["status"] == "ok" and h["runs"]["success"] >= cycles


class PromAPI:
    """The few calls of Prometheus' HTTP API the tests need, plus polling with a deadline."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10.0)

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr} | ({"time": at} if at is not None else {})
        body = self.http.get("/api/v1/query", params=params).raise_for_status().json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        params = {"query": expr, "start": start, "end": end, "step": step}
        body = self.http.get("/api/v1/query_range", params=params).raise_for_status().json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def scalar(self, expr: str) -> float | None:
        """The value of a query with at most one result (None when it has none)."""
        result = self.query(expr)
        assert len(result) <= 1, f"{expr} has {len(result)} series"
        return float(result[0]["value"][1]) if result else None

    def poll(self, what: str, check: Callable[[], Any], timeout_seconds: float = 30.0, interval_seconds: float = 0.25) -> Any:
        """Call ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
        deadline = time.monotonic() + timeout_seconds
        last = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(interval_seconds)
        pytest.fail(f"{what}: not seen within {timeout_seconds:.0f} s (last: {last!r})")


@dataclass(frozen=True)
class Stack:
    collector: RunningCollector
    prometheus: prom.Server
    api: PromAPI
    history_start_seconds: float
    history_end_seconds: float
    live_start_seconds: float


@pytest.fixture(scope="module")
def stack(prometheus_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Collector + hours of backfilled history loaded with promtool + Prometheus scraping every second."""
    from collector import backfill

    root = tmp_path_factory.mktemp("stack")
    running = start_collector(root / "collector", seed=SEED)
    server = None
    try:
        history = backfill(
            root / "openmetrics",
            days=HISTORY_HOURS / 24,
            seed=SEED,
            instance=running.target,
            incidents_per_day=0.0,
        )
        data = root / "prometheus-data"
        for path in history.metrics_paths:
            prom.create_blocks_from_openmetrics(path, data)
        config = root / "prometheus.yml"
        config.write_text(mon.render_config({mon.COLLECTOR_JOB: [running.target]}, scrape_interval_seconds=1))
        live_start = time.time()
        server = prom.start_prometheus(config, storage_dir=data, retention="30d", log_path=root / "prometheus.log")
        yield Stack(running, server, PromAPI(server.url), history.start_seconds, history.end_seconds, live_start)
    finally:
        if server is not None:
            server.stop()
        running.child.stop()
