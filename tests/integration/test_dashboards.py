"""Every dashboard panel's query on the real Prometheus, fed by the collector and both detectors; the render from it.

collector (history continued from a short backfill) -> Prometheus (1 s scrape) -> `aiops detect`
(the online loop) and `aiops detect --model-source registry` (the champion), both with the tests'
15 s rate window (``fast_signals``) -> Prometheus scrapes both. The champion is served from a real
MLflow sqlite store in the test's folder, where two versions fitted on this Prometheus' history
are registered (one promoted by the gate and given the ``champion`` alias, one refused), as
`aiops train` registers them. Three incidents are triggered so the incident, flag and scoreboard
queries have something to return. A fake Grafana (tests/fake_grafana.py) stands in for Grafana:
the collector and the online detector post their annotations there.

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
from dashboards import EXPLORER_UID, FLAGGED_REF, FLEET_UID, HEALTH_UID, MLOPS_UID, MODELS, dashboards, panels, render, substitute
from fake_grafana import FakeGrafana
from plumbing import binaries as prom
from plumbing import monitoring as mon
from plumbing.procs import Child, free_port, spawn, wait_until
from simulator import load_catalog

from tests.integration.conftest import FAST_RATE_WINDOW_SECONDS, PromAPI, detector_scoring

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once
MODULE_SECONDS = 55  # on a quiet 2-core machine; the longest modules start first (tests/conftest.py)

SEED = 5
HISTORY_HOURS = 2.0
#: The backfill's step: half the rate window, so the history's rate() windows hold two samples.
HISTORY_STEP_SECONDS = FAST_RATE_WINDOW_SECONDS / 2
#: The service the single-service dashboards (the anomaly explorer) are checked on: the leak's.
EXPLORER_SERVICE = "catalog"
#: The signal the AIOps-vs-MLOps dashboard compares the two models on: the leak's.
COMPARED_SIGNAL = "memory"
#: The versions registered before the champion detector starts: (version, hours of history fitted on, the gate's verdict).
VERSIONS = (("1", 1.9, "promote"), ("2", 1.5, "refuse"))
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
    champion_url: str
    grafana: FakeGrafana
    live_start: float
    incidents: list[dict[str, Any]]


@pytest.fixture(scope="module")
def dash_stack(prometheus_bin: str, fast_signals: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashStack]:
    from collector import backfill

    root = tmp_path_factory.mktemp("dashboards")
    collector_port, detector_port, champion_port = free_port(), free_port(), free_port()
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
            root, targets={mon.COLLECTOR_JOB: [f"127.0.0.1:{collector_port}"], mon.DETECTOR_JOB: [f"127.0.0.1:{detector_port}", f"127.0.0.1:{champion_port}"]},
            data_dir=data, scrape_interval_seconds=1.0,
        )  # fmt: skip
        children.append(prometheus)
        detector_spec = stack.detector(
            port=detector_port, prometheus_url=prometheus.url, collector_url=collector_spec.url, min_history_seconds=3600,
            signals_path=fast_signals, infer_every_seconds=1.0, scrape_interval_seconds=1.0, fit_every_seconds=600,
        )  # fmt: skip
        detector: Child = spawn(detector_spec.name, detector_spec.argv, log_path=root / "detector.log", env=env, cwd=root)
        children.append(detector)
        detector_url = detector_spec.url
        # while the online loop settles: a real registry (created here, before a second process opens it), the
        # champion detector started on it (it runs online until the alias exists, then serves the champion), and the
        # versions fitted on this Prometheus' history registered in it
        registry, tracking_uri = _registry(root)
        champion_spec = stack.detector(
            port=champion_port, prometheus_url=prometheus.url, collector_url=collector_spec.url, signals_path=fast_signals,
            infer_every_seconds=1.0, scrape_interval_seconds=1.0, model_source="registry", tracking_uri=tracking_uri, champion_check_every_seconds=1.0,
        )  # fmt: skip
        champion: Child = spawn(champion_spec.name, champion_spec.argv, log_path=root / "champion.log", cwd=root)
        children.append(champion)
        _register_versions(registry, root, prometheus.url, fast_signals)
        for url, child in ((detector_url, detector), (champion_spec.url, champion)):
            wait_until(lambda: detector_scoring(url, cycles=2), child=child, timeout_seconds=FAST_RATE_WINDOW_SECONDS + 150)  # the champion waits for the versions to be registered
        api = PromAPI(prometheus.url)
        triggered = []
        for body in INCIDENTS:
            reply = httpx.post(f"{collector_spec.url}/api/incidents", json={**body, "duration_seconds": 300})
            assert reply.status_code == 201, reply.text
            triggered.append(reply.json())
        # every incident detected on the online model's scoreboard, one at least on the champion's, and Prometheus
        # has scraped both times to detect (a range query sees a series from its first grid point after the first sample)
        api.poll(
            "every incident detected on the scoreboard (online), one at least (champion), in Prometheus",
            lambda: api.scalar('aiops_scoreboard_incidents{outcome="detected", model="online"}') == len(INCIDENTS)
            and (api.scalar('aiops_scoreboard_incidents{outcome="detected", model="champion"}') or 0) >= 1
            and len(api.query_range('aiops_scoreboard_time_to_detect_seconds{quantile="0.5"}', live_start, time.time(), 1.0)) == 2,
            timeout_seconds=60,
        )
        yield DashStack(root, api, prometheus, collector_spec.url, detector_url, champion_spec.url, grafana, live_start, triggered)
    finally:
        for child in reversed(children):
            child.stop()
        grafana.stop()


def _registry(root: Path) -> tuple[Any, str]:
    """A real MLflow registry in a sqlite store under ``root`` (``training.Registry``) and its tracking URI."""
    from training import Registry, quiet_mlflow

    quiet_mlflow()
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    (root / "mlflow").mkdir(exist_ok=True)
    return Registry.connect(uri, model_name="aiops-fleet", experiment_name="dashboards"), uri


def _register_versions(registry: Any, root: Path, prometheus_url: str, signals_path: Path) -> None:
    """:data:`VERSIONS` fitted on this Prometheus' history and registered, with the gate's verdict in their tags as
    `aiops train` writes it; the first gets the champion alias."""
    import simulator as sim
    from model import FleetModel, load_signals
    from sources import PrometheusReader, PrometheusSource
    from training import MODEL_JSON_NAME

    signals = load_signals(signals_path)
    source = PrometheusSource(PrometheusReader(base_url=prometheus_url, timeout_seconds=30), signals)
    edges = [(d.caller, d.callee) for d in sim.load_catalog().dependencies]
    now = time.time()
    for version, hours, gate in VERSIONS:
        frame = source.fetch(now - hours * 3600, now - 60, 60.0)
        path = FleetModel(signals, dependencies=edges).fit(frame.loc[frame.notna().any(axis=1).to_numpy()]).save(root / f"v{version}" / MODEL_JSON_NAME)
        logged = registry.log_run(
            run_name=f"dashboards-v{version}", params={"hours": f"{hours:g}"}, metrics={}, tags={}, model_json=path, pip_requirements=[],
            version_tags={"gate": gate, "candidate": f"last-{hours:g}h", "data_window": f"last {hours:g} hours"},
            version_description=f"fitted on the last {hours:g} hours; {gate} by the gate",
        )  # fmt: skip
        assert logged.version == version
    registry.set_champion(VERSIONS[0][0])


def _variables(dashboard: dict[str, Any]) -> dict[str, str]:
    """All services where the dashboard allows it, else the explorer's service; the compared signal; the default model (online)."""
    out = {}
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if var["name"] == "signal":
            out["signal"] = COMPARED_SIGNAL
        elif var["type"] == "custom":
            out[var["name"]] = var["current"]["value"]
        else:
            out[var["name"]] = (var.get("allValue") or ".*") if var.get("includeAll") else EXPLORER_SERVICE
    return out


def _variants(uid: str, dashboard: dict[str, Any]) -> Iterator[dict[str, str]]:
    """The variables each dashboard is checked with: the defaults (model online), and model champion where the
    champion has every series (not the health dashboard: the champion never fits, so its fit panels stay empty)."""
    values = _variables(dashboard)
    yield values
    if "model" in values and uid != HEALTH_UID:
        yield {**values, "model": "champion"}


def _flagged_signals(api: PromAPI, services: str, start: float, end: float, model: str = MODELS[0]) -> set[str]:
    """The signals ``model`` flagged on ``services`` (a regex) between ``start`` and ``end``, read from Prometheus on the tests' grid."""
    result = api.query_range(f'max by (signal) (aiops_detector_anomaly{{service=~"{services}", model="{model}"}}) == 1', start, end, 1.0)
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
        for values in _variants(uid, d):
            flagged = _flagged_signals(api, values.get("service", ".*"), start, end, values.get("model", MODELS[0]))
            for p in panels(d):
                for t in p.targets:
                    expr = substitute(t.expr, values)
                    result = api.query_range(expr, start, end, 1.0)
                    checked += 1
                    where = f"{d['title']}{' (model ' + values['model'] + ')' if 'model' in values else ''} / {substitute(p.title, values)} [{t.ref}]"
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
                    if uid in (EXPLORER_UID, MLOPS_UID) and '"$service"' in t.expr and seen - {EXPLORER_SERVICE}:
                        problems.append(f"{where}: services {sorted(seen)}, expected only {EXPLORER_SERVICE}")
                    # the series keep the model label unless the query aggregates it away (the selectors are checked in tests/dashboards)
                    models = {s["metric"]["model"] for s in result if "model" in s["metric"]}
                    if not models:
                        continue
                    if '"$model"' in t.expr and models != {values["model"]}:
                        problems.append(f"{where}: models {sorted(models, key=str)}, expected only {values['model']}")
                    for model in MODELS:  # a selector naming one model, or both, returns exactly those
                        if f'model="{model}"' in t.expr and models != {model}:
                            problems.append(f"{where}: models {sorted(models, key=str)}, expected only {model}")
                    if f'model=~"{"|".join(MODELS)}"' in t.expr and models != set(MODELS):
                        problems.append(f"{where}: models {sorted(models, key=str)}, expected both {list(MODELS)}")
    assert checked > 150
    assert not problems, "\n".join(problems)


def test_the_registrys_versions_reach_prometheus_through_the_champion_detector(dash_stack: DashStack) -> None:
    """The training runs panel's query: one row per registered version with the gate's verdict, when it was registered."""
    api = dash_stack.api
    [table] = [p for p in panels(dashboards()[MLOPS_UID]) if p.type == "table"]
    [target] = table.targets
    rows = api.query(target.expr)
    assert sorted((r["metric"]["version"], r["metric"]["gate"], r["metric"]["candidate"]) for r in rows) == [
        (v, gate, f"last-{hours:g}h") for v, hours, gate in VERSIONS
    ]
    created = sorted(float(r["value"][1]) for r in rows)
    assert dash_stack.live_start < created[0] <= created[1] < time.time()  # registered during the fixture, in order
    assert api.scalar('aiops_detector_champion_version{model="champion"}') == float(VERSIONS[0][0])
    h = httpx.get(f"{dash_stack.champion_url}/healthz", timeout=5).json()
    assert (h.get("champion") or {}).get("version") == VERSIONS[0][0]


def test_the_flag_queries_return_the_flagged_points(dash_stack: DashStack) -> None:
    """The leak's memory is flagged: its points come back from both dashboards' flag queries, and only flagged ones."""
    api = dash_stack.api
    api.poll("the leak's memory flagged", lambda: "memory" in _flagged_signals(api, EXPLORER_SERVICE, dash_stack.live_start, time.time()), timeout_seconds=120)
    end = time.time()
    for uid in (FLEET_UID, EXPLORER_UID):
        d = dashboards()[uid]
        [target] = [t for p in panels(d) for t in p.targets if t.ref == FLAGGED_REF and _signal_of(substitute(t.expr, _variables(d))) == "memory"]
        expr = substitute(target.expr, {**_variables(d), "service": EXPLORER_SERVICE})
        [series] = api.query_range(expr, dash_stack.live_start, end, 1.0)
        assert series["metric"]["service"] == EXPLORER_SERVICE
        flags = api.query_range(f'aiops_detector_anomaly{{service="{EXPLORER_SERVICE}", signal="memory", model="online"}}', dash_stack.live_start, end, 1.0)
        flagged_at = {float(t) for t, v in flags[0]["values"] if float(v) == 1.0}
        assert {float(t) for t, _ in series["values"]} <= flagged_at  # only the flagged points


def test_the_scoreboard_is_served_and_scraped(dash_stack: DashStack) -> None:
    board = httpx.get(f"{dash_stack.detector_url}/api/scoreboard").json()
    assert board["status"] == "ok"
    assert board["detected"] >= 1 and board["missed"] == 0
    assert {i["id"] for i in board["by_incident"]} == {i["id"] for i in dash_stack.incidents}
    api = dash_stack.api
    outcomes = {r["metric"]["outcome"]: float(r["value"][1]) for r in api.query('aiops_scoreboard_incidents{model="online"}')}
    assert set(outcomes) == {"detected", "missed", "waiting"}
    assert sum(outcomes.values()) == len(dash_stack.incidents)
    assert api.scalar('aiops_scoreboard_false_alarms{model="online"}') is not None


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
    done = render(dash_stack.prometheus.url, tmp_path, dashboards=dashboards(), range_seconds=span, step_seconds=1.0, variables={"signal": COMPARED_SIGNAL})
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
