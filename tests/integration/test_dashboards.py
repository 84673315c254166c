"""Every dashboard panel's query on the real Prometheus, fed by the collector and the detector; the render from it.

collector (history continued from a short backfill) -> Prometheus (1 s scrape) -> `aiops detect`
(the tests' 15 s rate window, ``fast_signals``) -> Prometheus scrapes the detector. Three incidents
are triggered so the incident, flag and scoreboard queries have something to return. A fake
Grafana (tests/fake_grafana.py) stands in for Grafana: the collector and the detector post
their annotations there.

The history is short (about two hours) and the detector needs one hour of it, so the stack is
ready in seconds: the fit has no time-of-day terms, which these checks do not need.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from aiops import stack
from dashboards import EXPLORER_UID, FLAGGED_REF, FLEET_UID, dashboards, panels, render, substitute
from fake_grafana import FakeGrafana
from plumbing import binaries as prom
from plumbing import monitoring as mon
from plumbing.procs import Child, free_port, spawn, wait_until
from simulator import load_catalog

from tests.integration.conftest import FAST_RATE_WINDOW_SECONDS, PromAPI

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("detector-stacks")]  # one worker per group: the two detector stacks do not compete for the cores

SEED = 5
HISTORY_HOURS = 2.0
#: The backfill's step: half the rate window, so the history's rate() windows hold two samples.
HISTORY_STEP_SECONDS = FAST_RATE_WINDOW_SECONDS / 2
#: The service the single-service dashboards (the anomaly explorer) are checked on: the leak's.
EXPLORER_SERVICE = "catalog"
#: Incidents on services that share no dependency edge, each its own detected incident.
INCIDENTS = (
    {"kind": "memory_leak", "service": "catalog", "intensity": 5.0},
    {"kind": "disk_fill", "service": "inventory"},
    {"kind": "cpu_hog", "service": "payments"},
)


@dataclass
class DashStack:
    root: Path
    api: PromAPI
    prometheus: prom.Server
    collector_url: str
    detector_url: str
    grafana: FakeGrafana
    live_start: float
    incidents: list[dict[str, Any]]


@pytest.fixture(scope="module")
def dash_stack(prometheus_bin: str, fast_signals: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashStack]:
    from collector import backfill

    root = tmp_path_factory.mktemp("dashboards")
    collector_port, detector_port = free_port(), free_port()
    history = backfill(
        root / "history", days=HISTORY_HOURS / 24, step_seconds=HISTORY_STEP_SECONDS, seed=SEED,
        instance=f"127.0.0.1:{collector_port}", incidents_per_day=0.0,
    )  # fmt: skip
    data = root / "prometheus-data"
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda p: prom.create_blocks_from_openmetrics(p, data), history.metrics_paths))
    grafana = FakeGrafana().start()
    env = {"AIOPS_GRAFANA_URL": grafana.url, "AIOPS_GRAFANA_TOKEN": str(grafana.token), "AIOPS_GRAFANA_TIMEOUT_SECONDS": "2"}
    children: list[Any] = []
    try:
        collector_spec = stack.collector(port=collector_port, seed=SEED, log_path=root / "incidents.jsonl", history_dir=root / "history")
        collector = spawn(collector_spec.name, collector_spec.argv, log_path=root / "collector.log", env=env, cwd=root)
        children.append(collector)
        stack.wait_ready(collector, collector_spec)
        live_start = time.time()
        prometheus = stack.start_prometheus(
            root, targets={mon.COLLECTOR_JOB: [f"127.0.0.1:{collector_port}"], mon.DETECTOR_JOB: [f"127.0.0.1:{detector_port}"]},
            data_dir=data, scrape_interval_seconds=1.0,
        )  # fmt: skip
        children.append(prometheus)
        detector_spec = stack.detector(
            port=detector_port, prometheus_url=prometheus.url, collector_url=collector_spec.url, min_history_seconds=3600,
            signals_path=fast_signals, infer_every_seconds=1.0, fit_every_seconds=600,
        )  # fmt: skip
        detector: Child = spawn(detector_spec.name, detector_spec.argv, log_path=root / "detector.log", env=env, cwd=root)
        children.append(detector)
        detector_url = detector_spec.url

        def scoring() -> bool:
            try:
                h = httpx.get(f"{detector_url}/healthz", timeout=2).json()
            except httpx.HTTPError:
                return False
            return h["status"] == "ok" and h["runs"]["success"] >= 2

        wait_until(scoring, child=detector, timeout_seconds=FAST_RATE_WINDOW_SECONDS + 60)
        api = PromAPI(prometheus.url)
        triggered = []
        for body in INCIDENTS:
            reply = httpx.post(f"{collector_spec.url}/api/incidents", json={**body, "duration_seconds": 300})
            assert reply.status_code == 201, reply.text
            triggered.append(reply.json())
        # every incident detected on the scoreboard, and Prometheus has scraped the time to detect for a few seconds
        # (a range query sees a series from its first grid point after the first sample)
        api.poll(
            "every incident detected on the scoreboard, in Prometheus",
            lambda: api.scalar('aiops_scoreboard_incidents{outcome="detected"}') == len(INCIDENTS)
            and len(api.query_range('aiops_scoreboard_time_to_detect_seconds{quantile="0.5"}', live_start, time.time(), 1.0)) == 1,
            timeout_seconds=60,
        )
        yield DashStack(root, api, prometheus, collector_spec.url, detector_url, grafana, live_start, triggered)
    finally:
        for child in reversed(children):
            child.stop()
        grafana.stop()


def _variables(dashboard: dict[str, Any]) -> dict[str, str]:
    """All services where the dashboard allows it, else the explorer's service."""
    out = {}
    for var in (dashboard.get("templating") or {}).get("list") or []:
        out[var["name"]] = (var.get("allValue") or ".*") if var.get("includeAll") else EXPLORER_SERVICE
    return out


def _flagged_signals(api: PromAPI, services: str, start: float, end: float) -> set[str]:
    """The signals the detector flagged on ``services`` (a regex) between ``start`` and ``end``, read from Prometheus on the tests' grid."""
    result = api.query_range(f'max by (signal) (aiops_detector_anomaly{{service=~"{services}"}}) == 1', start, end, 1.0)
    return {r["metric"]["signal"] for r in result}


def _signal_of(expr: str) -> str | None:
    m = re.search(r'aiops_detector_anomaly\{signal="(\w+)"', expr)
    return m.group(1) if m else None


def test_every_panel_query_returns_data_of_the_expected_shape(dash_stack: DashStack) -> None:
    api = dash_stack.api
    end = time.time()
    start = dash_stack.live_start
    services = set(load_catalog().service_names)
    problems: list[str] = []
    checked = 0
    for uid, d in dashboards().items():
        values = _variables(d)
        flagged = _flagged_signals(api, values.get("service", ".*"), start, end)
        for p in panels(d):
            for t in p.targets:
                expr = substitute(t.expr, values)
                result = api.query_range(expr, start, end, 1.0)
                checked += 1
                where = f"{d['title']} / {substitute(p.title, values)} [{t.ref}]"
                if not result:
                    signal = _signal_of(expr)
                    if t.ref == FLAGGED_REF and signal is not None and signal not in flagged:
                        continue  # nothing of that signal was flagged: an empty answer is the right one
                    problems.append(f"{where}: no data for {expr}")
                    continue
                wanted = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", t.legend))
                for series in result:
                    missing = wanted - set(series["metric"])
                    if missing:
                        problems.append(f"{where}: a series without the label(s) {sorted(missing)} its legend names: {series['metric']}")
                        break
                seen = {s["metric"].get("service") for s in result}
                if "service" in wanted and t.ref != FLAGGED_REF:
                    if values.get("service") == ".*" and uid == FLEET_UID and seen != services:
                        problems.append(f"{where}: services {sorted(seen)}, expected every service {sorted(services)}")
                if uid == EXPLORER_UID and '"$service"' in t.expr and seen - {EXPLORER_SERVICE}:
                    problems.append(f"{where}: services {sorted(seen)}, expected only {EXPLORER_SERVICE}")
    assert checked > 60
    assert not problems, "\n".join(problems)


def test_the_flag_queries_return_the_flagged_points(dash_stack: DashStack) -> None:
    """The leak's memory is flagged: its points come back from both dashboards' flag queries, and only flagged ones."""
    api = dash_stack.api
    api.poll("the leak's memory flagged", lambda: "memory" in _flagged_signals(api, EXPLORER_SERVICE, dash_stack.live_start, time.time()), timeout_seconds=120)
    end = time.time()
    for uid in (FLEET_UID, EXPLORER_UID):
        d = dashboards()[uid]
        [target] = [t for p in panels(d) for t in p.targets if t.ref == FLAGGED_REF and _signal_of(substitute(t.expr, _variables(d))) == "memory"]
        expr = substitute(target.expr, {"service": EXPLORER_SERVICE})
        [series] = api.query_range(expr, dash_stack.live_start, end, 1.0)
        assert series["metric"]["service"] == EXPLORER_SERVICE
        flags = api.query_range(f'aiops_detector_anomaly{{service="{EXPLORER_SERVICE}", signal="memory"}}', dash_stack.live_start, end, 1.0)
        flagged_at = {float(t) for t, v in flags[0]["values"] if float(v) == 1.0}
        assert {float(t) for t, _ in series["values"]} <= flagged_at  # only the flagged points


def test_the_scoreboard_is_served_and_scraped(dash_stack: DashStack) -> None:
    board = httpx.get(f"{dash_stack.detector_url}/api/scoreboard").json()
    assert board["status"] == "ok"
    assert board["detected"] >= 1 and board["missed"] == 0
    assert {i["id"] for i in board["by_incident"]} == {i["id"] for i in dash_stack.incidents}
    api = dash_stack.api
    outcomes = {r["metric"]["outcome"]: float(r["value"][1]) for r in api.query("aiops_scoreboard_incidents")}
    assert set(outcomes) == {"detected", "missed", "waiting"}
    assert sum(outcomes.values()) == len(dash_stack.incidents)
    assert api.scalar("aiops_scoreboard_false_alarms") is not None


def test_the_collector_and_the_detector_annotate_grafana(dash_stack: DashStack) -> None:
    grafana = dash_stack.grafana

    def annotated() -> bool:
        tags = [set(a["tags"]) for a in grafana.annotations.values()]
        truth = {i["service"] for i in dash_stack.incidents if any({"aiops", "incident", i["kind"], i["service"]} <= t for t in tags)}
        return truth == {i["service"] for i in dash_stack.incidents} and any({"aiops", "detected"} <= t for t in tags)

    dash_stack.api.poll("the incidents and a detected incident annotated in the fake Grafana", annotated, timeout_seconds=20)
    texts = [a["text"] for a in grafana.annotations.values() if "detected" in a["tags"]]
    assert any("probable cause" in t and "robust σ" in t for t in texts), texts


def test_render_draws_every_panel(dash_stack: DashStack, tmp_path: Path) -> None:
    span = time.time() - dash_stack.live_start + 30
    done = render(dash_stack.prometheus.url, tmp_path, dashboards=dashboards(), range_seconds=span, step_seconds=1.0)
    assert [r.uid for r in done] == list(dashboards())
    explorer = next(r for r in done if r.uid == EXPLORER_UID)
    assert all(EXPLORER_SERVICE in p.title for p in explorer.panels if "$service" not in p.title and ":" in p.title)
    blank = []
    for r in done:
        assert r.path.is_file() and r.path.stat().st_size > 20_000, r.path
        for p in r.panels:
            if p.returned == 0 or p.drawn != p.returned:
                blank.append(f"{r.title} / {p.title}: {p.returned} series returned, {p.drawn} drawn (empty: {p.empty_queries})")
    assert not blank, "\n".join(blank)
    keep = os.environ.get("AIOPS_KEEP_RENDERS")  # a folder: keep the PNGs (the README's picture comes from here)
    if keep:
        for r in done:
            shutil.copy(r.path, Path(keep) / r.path.name)
