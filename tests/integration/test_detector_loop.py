"""The AIOps loop end to end on the real Prometheus and Alertmanager.

collector (history continued from a backfill) -> Prometheus (1 s scrape, alert rules)
-> `aiops detect` (reads only through --prometheus-url) -> Prometheus scrapes the detector
-> Alertmanager -> `aiops responder` (remediation on) -> the collector's runbook action.

The detector reads the signals file with a short rate window (``fast_signals``, see
conftest.py), so it scores seconds after Prometheus starts instead of after 2 minutes.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pandas as pd
import pytest

from plumbing import binaries as prom
from plumbing import monitoring as mon
from aiops import stack
from plumbing.procs import Child, free_port, wait_until
from model import load_signals

from tests.integration.conftest import FAST_RATE_WINDOW_SECONDS, PromAPI, RunningCollector, detector_scoring, start_collector

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once
MODULE_SECONDS = 200  # on a quiet 2-core machine; the longest modules start first (tests/conftest.py)

SEED = 11
SCRAPE_SECONDS = 1.0
INFER_SECONDS = 1.0
#: Enough history for the time-of-day terms (two days), so the baseline is the full model.
HISTORY_DAYS = 2.2
#: The backfill's step: half the rate window, so each window of the history holds at least two
#: samples and the fit's rate() signals have values (at the backfill's default 60 s step a
#: 15 s window holds one, and rate() returns nothing).
HISTORY_STEP_SECONDS = FAST_RATE_WINDOW_SECONDS / 2
#: The detector scores once its rate windows hold live samples; this covers that, the first fit
#: and three cycles, on a slow machine.
READY_TIMEOUT_SECONDS = FAST_RATE_WINDOW_SECONDS + 45


@dataclass
class Loop:
    root: Path
    collector: RunningCollector
    prometheus: prom.Server
    alertmanager: prom.Server
    detector: Child
    detector_url: str
    responder: Child
    responder_url: str
    api: PromAPI
    prometheus_config: Path
    prometheus_port: int
    data_dir: Path
    champion_port: int  # scraped from the start; the champion detector starts in its fixture
    signals_path: Path


@pytest.fixture(scope="module")
def loop(prometheus_bin: str, alertmanager_bin: str, fast_signals: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    from collector import backfill

    root = tmp_path_factory.mktemp("loop")
    collector_port = free_port()
    history = backfill(
        root / "history", days=HISTORY_DAYS, step_seconds=HISTORY_STEP_SECONDS, seed=SEED,
        instance=f"127.0.0.1:{collector_port}", incidents_per_day=1.0,
    )
    data = root / "prometheus-data"

    def load(path: Path) -> None:
        prom.create_blocks_from_openmetrics(path, data)
        path.unlink()  # a GB of text at this step; the collector continues from the manifest and incidents

    # two promtools at once (each writes its blocks under their own ids): about a third less waiting;
    # the collector, the responder and Alertmanager start meanwhile (none of them reads the blocks)
    pool = ThreadPoolExecutor(max_workers=2)
    loading = [pool.submit(load, path) for path in history.metrics_paths]
    children: list = []
    try:
        token = "loop-responder-token"  # the responder's: Alertmanager sends it, the collector takes its remediation
        collector = start_collector(root / "collector", seed=SEED, port=collector_port, history_dir=root / "history", responder_token=token)
        children.append(collector.child)

        responder_spec = stack.responder(port=free_port(), collector_url=collector.url, log_path=root / "alerts.jsonl", remediate=True, token=token)
        responder_url = responder_spec.url
        responder = stack.start(responder_spec, log_dir=root)
        children.append(responder)

        alertmanager = stack.start_alertmanager(root, webhook_url=f"{responder_url}/alertmanager", group_wait_seconds=1, group_interval_seconds=1, token=token)
        children.append(alertmanager)
        for done in loading:
            done.result()  # Prometheus starts on the whole history

        detector_port = free_port()
        detector_url = f"http://127.0.0.1:{detector_port}"
        champion_port = free_port()
        prom_port = free_port()
        prometheus = stack.start_prometheus(
            root,
            targets={mon.COLLECTOR_JOB: [collector.target], mon.DETECTOR_JOB: [f"127.0.0.1:{detector_port}", f"127.0.0.1:{champion_port}"]},
            data_dir=data,
            port=prom_port,
            scrape_interval_seconds=SCRAPE_SECONDS,
            alertmanager=alertmanager,
        )
        prometheus_config = root / "prometheus.yml"
        children.append(prometheus)

        detector_spec = stack.detector(
            port=detector_port, prometheus_url=prometheus.url, collector_url=collector.url, min_history_seconds=2 * 86400,
            incident_records=history.incidents_path, signals_path=fast_signals, infer_every_seconds=INFER_SECONDS, scrape_interval_seconds=SCRAPE_SECONDS, fit_every_seconds=600,
        )  # fmt: skip
        detector = stack.start(detector_spec, log_dir=root, wait=False)
        children.append(detector)

        wait_until(lambda: detector_scoring(detector_url), child=detector, timeout_seconds=READY_TIMEOUT_SECONDS)
        yield Loop(root, collector, prometheus, alertmanager, detector, detector_url, responder, responder_url,
                   PromAPI(prometheus.url), prometheus_config, prom_port, data, champion_port, fast_signals)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for child in reversed(children):
            child.stop()


def first_flag_seconds(api: PromAPI, service: str, signal: str, since: float) -> float | None:
    """Timestamp of the first aiops_detector_anomaly == 1 sample of a series, read from Prometheus."""
    result = api.query_range(f'aiops_detector_anomaly{{service="{service}",signal="{signal}",model="online"}}', since, time.time(), SCRAPE_SECONDS)
    for series in result:
        for t, v in series["values"]:
            if float(v) == 1.0:
                return float(t)
    return None


#: How fast each kind moves its signal at intensity 1, from simulator/_engine.py (the catalog's
#: `effect` text says the same): seconds for the signal to climb `gap` above normal.
def seconds_to_climb(kind: str, intensity: float, gap: float) -> float:
    from simulator._engine import RAMP_SECONDS

    if kind == "cpu_hog":  # +0.45 x intensity, ramped in over RAMP_SECONDS
        return RAMP_SECONDS * gap / (0.45 * intensity)
    if kind == "memory_leak":  # 1 MB/s x intensity
        return gap / (1e6 * intensity)
    if kind == "disk_fill":  # 25 MB/s x intensity
        return gap / (25e6 * intensity)
    raise ValueError(kind)


def band_gap(api: PromAPI, service: str, signal: str) -> float:
    """How far above the expected value the detector's band reaches now (from Prometheus)."""
    sel = f'{{service="{service}",signal="{signal}",model="online"}}'
    expr = f"aiops_detector_upper_bound{sel} - aiops_detector_expected_value{sel}"
    return api.poll(f"the detector's band for {service} {signal} in Prometheus", lambda: (g := api.scalar(expr)) is not None and g > 0 and g)


def trigger(loop: Loop, kind: str, service: str, **extra: float) -> dict:
    reply = httpx.post(f"{loop.collector.url}/api/incidents", json={"kind": kind, "service": service, "duration_seconds": 240, **extra})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_the_detector_serves_every_output_metric(loop: Loop) -> None:
    text = httpx.get(f"{loop.detector_url}/metrics").text
    for name in (
        "aiops_detector_expected_value", "aiops_detector_lower_bound", "aiops_detector_upper_bound",
        "aiops_detector_anomaly_score", "aiops_detector_anomaly", "aiops_detector_incident_active",
        "aiops_detector_warmup_ratio", "aiops_detector_last_success_timestamp_seconds",
        "aiops_detector_run_duration_seconds", "aiops_detector_runs_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert 'aiops_detector_expected_value{model="online",service="checkout",signal="latency"}' in text
    up = loop.api.poll("Prometheus scrapes the detector", lambda: loop.api.scalar(f'up{{job="{mon.DETECTOR_JOB}",instance="{loop.detector_url.removeprefix("http://")}"}}') == 1)
    assert up
    assert loop.api.scalar('aiops_detector_warmup_ratio{model="online"}') == 1.0


@dataclass
class Champion:
    child: Child
    url: str
    registry: object  # training.Registry on a real sqlite store


@pytest.fixture(scope="module")
def champion(loop: Loop) -> Iterator[Champion]:
    """Two versions registered in a real MLflow sqlite store, fitted on this Prometheus' history; the
    champion-serving detector (``aiops detect --model-source registry``) started on version 1."""
    import simulator as sim
    from model import FleetModel
    from sources import PrometheusReader, PrometheusSource
    from training import MODEL_JSON_NAME, Registry, quiet_mlflow

    quiet_mlflow()
    signals = load_signals(loop.signals_path)
    source = PrometheusSource(PrometheusReader(base_url=loop.prometheus.url, timeout_seconds=30), signals)
    edges = [(d.caller, d.callee) for d in sim.load_catalog().dependencies]
    uri = f"sqlite:///{loop.root / 'mlflow' / 'mlflow.db'}"
    registry = Registry.connect(uri, model_name="aiops-fleet", experiment_name="loop")
    now = time.time()
    history = source.fetch(now - 2.1 * 86400, now - 60, 60.0)  # read once; each version fits its own part
    for version, days in (("1", 2.0), ("2", 2.1)):  # two training windows: two different models
        frame = history.loc[history.index >= pd.Timestamp(now - days * 86400, unit="s", tz="UTC")]
        path = FleetModel(signals, dependencies=edges).fit(frame.loc[frame.notna().any(axis=1).to_numpy()]).save(loop.root / f"v{version}" / MODEL_JSON_NAME)
        logged = registry.log_run(
            run_name=f"loop-v{version}", params={"days": str(days)}, metrics={}, tags={}, model_json=path, pip_requirements=[],
            version_tags={"data_window": f"last {days:g} days"}, version_description=f"fitted on the last {days:g} days",
        )  # fmt: skip
        assert logged.version == version
    registry.set_champion("1")
    spec = stack.detector(
        port=loop.champion_port, prometheus_url=loop.prometheus.url, collector_url=loop.collector.url, signals_path=loop.signals_path,
        infer_every_seconds=INFER_SECONDS, scrape_interval_seconds=SCRAPE_SECONDS, model_source="registry", tracking_uri=uri, champion_check_every_seconds=1.0,
    )  # fmt: skip
    child = stack.start(spec, log_dir=loop.root)
    try:
        yield Champion(child, spec.url, registry)
    finally:
        child.stop()


def test_the_champion_detector_serves_the_registered_version_and_swaps_when_the_alias_moves(loop: Loop, champion: Champion) -> None:
    api = loop.api

    def serving() -> str | None:
        h = httpx.get(f"{champion.url}/healthz", timeout=5).json()
        return (h.get("champion") or {}).get("version") if h["status"] == "ok" else None

    assert api.poll("the champion detector serving version 1", serving, timeout_seconds=60) == "1"
    info = 'aiops_detector_champion_info{model="champion",version="%s",data_window="last %s days"}'
    api.poll("version 1 in Prometheus' champion_info", lambda: api.scalar(info % ("1", "2")) == 1.0, timeout_seconds=30)
    # both models score the same series, side by side under one name
    both = api.poll(
        "the online and the champion bands of checkout latency",
        lambda: (r := api.query('aiops_detector_expected_value{service="checkout",signal="latency"}')) and len(r) == 2 and r,
    )
    assert {x["metric"]["model"] for x in both} == {"online", "champion"}
    # the registry's versions, read from the real MLflow store by the champion detector
    registered = api.poll("both registered versions in Prometheus", lambda: len(r := api.query("aiops_registry_model_version_created_timestamp_seconds")) == 2 and r)
    assert sorted(x["metric"]["version"] for x in registered) == ["1", "2"] and all(float(x["value"][1]) > 1e9 for x in registered)

    champion.registry.set_champion("2")
    assert api.poll("the champion detector serving version 2 after the alias moved", lambda: serving() == "2" and "2", timeout_seconds=30) == "2"
    api.poll("version 2 in Prometheus' champion_info", lambda: api.scalar(info % ("2", "2.1")) == 1.0, timeout_seconds=30)
    assert "the champion alias moved: serving aiops-fleet version 2 instead of version 1" in (loop.root / "champion.log").read_text()


def test_incidents_are_flagged_explained_alerted_and_remediated(loop: Loop, champion: Champion) -> None:
    api = loop.api
    debounce_k = load_signals().debounce_k
    # several kinds on three services. Every service is within two dependency edges of every
    # other, so their cascades (payments' CPU slows checkout and fills the frontend's pool) can
    # join them into one detected incident. The leak goes first and is seen as its own incident
    # before the others start: the earliest cause stays the probable cause of a merged incident.
    gaps = {key: band_gap(api, *key) for key in (("payments", "cpu"), ("catalog", "memory"), ("inventory", "disk"))}
    leak = trigger(loop, "memory_leak", "catalog", intensity=5.0)
    api.poll("the memory leak on catalog flagged", lambda: first_flag_seconds(api, "catalog", "memory", leak["start_seconds"] - 30), timeout_seconds=90)
    hog = trigger(loop, "cpu_hog", "payments")
    fill = trigger(loop, "disk_fill", "inventory")
    cases = [(hog, "cpu"), (leak, "memory"), (fill, "disk")]

    # 1. flagged, with time to detect read from Prometheus' samples of aiops_detector_anomaly:
    # one scrape of the signal + one detector cycle (its period and its run time) + the
    # debounce, after the signal has climbed out of its band, plus one scrape of the detector's
    # own output (and 1 s for the phases of the three timers)
    for inc, signal in cases:
        # a detector cycle lasts its period plus however long a run takes on this machine
        run = api.scalar('max_over_time(aiops_detector_run_duration_seconds{model="online"}[2m])') or 0.0
        budget = SCRAPE_SECONDS + (INFER_SECONDS + run) + debounce_k * INFER_SECONDS + SCRAPE_SECONDS + 1.0
        flagged = api.poll(
            f"{inc['kind']} on {inc['service']} flagged",
            lambda: first_flag_seconds(api, inc["service"], signal, inc["start_seconds"] - 30),
            timeout_seconds=90,
        )
        ttd = flagged - inc["start_seconds"]
        climb = seconds_to_climb(inc["kind"], inc["intensity"], gaps[(inc["service"], signal)])
        # flagged because of the incident, not before it; how fast is a figure, printed against
        # its budget (on two busy cores a detector cycle can lag, so it is not asserted)
        assert ttd > 0, f"{inc['kind']} on {inc['service']}: flagged {-ttd:.1f} s before it started"
        late = "" if ttd <= climb + budget else " (over budget)"
        print(f"{inc['kind']} on {inc['service']}: time to detect {ttd:.1f} s ({climb:.1f} s to leave the band, budget {budget:.1f} s){late}")

    # 2. explained in the model's own numbers, naming the affected signal
    anomalies = httpx.get(f"{loop.detector_url}/api/anomalies", params={"limit": 500}).json()["anomalies"]
    for inc, signal in cases:
        mine = [a for a in anomalies if a["service"] == inc["service"] and a["signal"] == signal]
        assert mine, f"no explained anomaly for {inc['service']} {signal}"
        a = mine[-1]
        assert a["service"] in a["explanation"] and "robust σ" in a["explanation"]
        assert a["actual"] > a["expected"] and a["residual_sigma"] > 0
    for a in anomalies:
        if a.get("onset"):
            print(f"flag at {a['timestamp_seconds'] - hog['start_seconds']:+.1f} s: {a['explanation']}")

    def open_causes() -> set[tuple[str, str]]:
        detected = httpx.get(f"{loop.detector_url}/api/incidents/detected").json()["incidents"]
        return {(i["probable_cause"]["service"], i["probable_cause"]["signal"]) for i in detected if i["closed_seconds"] is None}

    # the correlator sees a flag one cycle after it is scored; on a loaded machine that cycle can lag
    causes = api.poll(
        "catalog memory as the probable cause of an open detected incident",
        lambda: (lambda c: c if ("catalog", "memory") in c else None)(open_causes()),
        timeout_seconds=30,
    )
    assert ("catalog", "memory") in causes

    # 3. the alert reaches the webhook through Alertmanager
    def alerted(service: str) -> bool:
        alerts = httpx.get(f"{loop.responder_url}/api/alerts").json()["alerts"]
        return any(x["alertname"] == "AIOpsIncidentDetected" and x["status"] == "firing" and x["labels"].get("service") == service for x in alerts)

    api.poll("an alert for catalog at the responder", lambda: alerted("catalog"), timeout_seconds=60)
    # the champion detects the same incidents (it runs beside the online loop), but only the online model pages
    api.poll("the champion's own detection of the leak", lambda: api.scalar('max_over_time(aiops_detector_anomaly{model="champion",service="catalog",signal="memory"}[5m])') == 1.0, timeout_seconds=60)
    pages = httpx.get(f"{loop.responder_url}/api/alerts").json()["alerts"]
    assert {x["labels"].get("model") for x in pages if x["alertname"] == "AIOpsIncidentDetected"} == {"online"}

    # 4. remediation on: the responder restarts catalog, which ends the memory leak (and only it)
    def state(inc: dict) -> dict:
        return httpx.get(f"{loop.collector.url}/api/incidents/{inc['id']}").json()

    ended = api.poll("the memory leak ended by remediation", lambda: (s := state(leak))["state"] == "stopped" and s, timeout_seconds=60)
    assert ended["stopped_by"] == "remediation"
    assert state(fill)["state"] == "active"  # disk_fill's runbook step needs a human
    records = httpx.get(f"{loop.responder_url}/api/alerts").json()["alerts"]
    assert any((r.get("action") or {}).get("action") == "restart" and (r["action"].get("outcome") == "done") for r in records)
    httpx.delete(f"{loop.collector.url}/api/incidents")


#: How long Prometheus stays down in the outage test: a full minute, longer than the detector's
#: lookback of its rate windows and than its "no successful cycle for a while" limit (3 periods + 30 s).
OUTAGE_SECONDS = 60.0


def test_prometheus_down_a_full_minute_then_back_loses_nothing_and_raises_no_false_flag(loop: Loop) -> None:
    """Prometheus stops for 60 s under the running detector, then restarts on its data.

    While it is down the detector stays up, its cycles fail, /readyz answers 503 throughout and
    health says degraded; once it is back, health says settling (with the completeness of the
    newest windows) until the rate windows hold no gap, /readyz answers 503 until then, and then
    ok. Nothing is lost (Prometheus' history before the outage, the detector's flags and
    detected incidents, the collector's incidents) and the gap raises no flag.
    """
    detector_api = httpx.Client(base_url=loop.detector_url, timeout=5)

    def health() -> dict:
        return detector_api.get("/healthz").json()

    def ready_status() -> int:
        return detector_api.get("/readyz").status_code

    def kept() -> tuple:
        return (
            detector_api.get("/api/anomalies", params={"limit": 100}).json()["anomalies"],
            sorted(i["id"] for i in detector_api.get("/api/incidents/detected").json()["incidents"]),
            [(i["id"], i["state"]) for i in httpx.get(f"{loop.collector.url}/api/incidents", timeout=5).json()["incidents"]],
        )

    quiet = "sum(aiops_detector_anomaly) or vector(0)"
    loop.api.poll("no flag raised before the outage (earlier incidents over)", lambda: loop.api.scalar(quiet) == 0, timeout_seconds=120)
    history = f'count_over_time(up{{job="{mon.COLLECTOR_JOB}"}}[10m])'
    stopped_at = time.time()
    held = loop.api.scalar(history.replace("[10m]", "[10m] @ %.3f" % (stopped_at - 5)))
    kept_before, before = kept(), health()
    loop.prometheus.stop()
    try:
        degraded = loop.api.poll(
            "failed cycles reported while Prometheus is down",
            lambda: (h := health())["runs"]["failure"] >= before["runs"]["failure"] + 3 and h,
            timeout_seconds=60,
        )
        assert degraded["last_error"]
        text = detector_api.get("/metrics").text
        assert 'aiops_detector_runs_total{model="online",outcome="failure"}' in text
        readiness: list[int] = []
        while time.time() < stopped_at + OUTAGE_SECONDS:  # the whole minute: up, failing, never ready
            assert loop.detector.alive(), "the detector stays up"
            readiness.append(ready_status())
            time.sleep(1.0)
        assert set(readiness) == {503}, readiness
        late = health()
        assert late["status"] == "degraded" and late["ready"] is False and "no successful cycle" in late["reason"], late
    finally:
        loop.prometheus = prom.start_prometheus(
            loop.prometheus_config, storage_dir=loop.data_dir, port=loop.prometheus_port, retention="30d",
            log_path=loop.root / "prometheus-restarted.log",
        )
    restarted_at = time.time()
    print(f"Prometheus down {restarted_at - stopped_at:.0f} s")
    seen: list[tuple[str, float | None, int]] = []

    def recovered() -> dict | None:
        r = detector_api.get("/readyz")  # one answer: its body is the health, so status and readiness are of the same moment
        h, ready = r.json(), r.status_code
        seen.append((h["status"], h["completeness_ratio"], ready))
        return h if h["status"] == "ok" and h["last_error"] is None and h["runs"]["success"] > degraded["runs"]["success"] + 2 else None

    loop.api.poll("status ok again once the rate windows hold no gap", recovered, timeout_seconds=FAST_RATE_WINDOW_SECONDS + 90)
    statuses = [s for s, _, _ in seen]
    assert "settling" in statuses, f"health never said settling while the windows refilled: {statuses}"
    assert all(ratio is not None and ratio < 1.0 for s, ratio, _ in seen if s == "settling"), seen
    assert all(ready == 503 for s, _, ready in seen if s != "ok"), seen
    assert loop.api.poll("ready again", lambda: ready_status() == 200, timeout_seconds=30)
    # nothing lost: Prometheus' history up to the outage, the detector's flags and detections, the incidents
    assert held and loop.api.scalar(history.replace("[10m]", "[10m] @ %.3f" % (stopped_at - 5))) == held
    anomalies, detected, incidents = kept()
    assert (detected, incidents) == kept_before[1:]
    # and no false flag: none in the detector's list, none in Prometheus since the restart
    assert anomalies == kept_before[0], "flags raised by the outage: " + str(
        [(a["timestamp_seconds"], a["service"], a["signal"], a.get("explanation")) for a in anomalies if a not in kept_before[0]]
    )
    span = max(1, int(time.time() - restarted_at) + 1)
    flagged = loop.api.query(f"max_over_time(aiops_detector_anomaly[{span}s]) == 1")
    assert not flagged, f"flags in Prometheus after the restart: {[f['metric'] for f in flagged]}"


def test_a_collector_restart_under_the_running_detector_loses_nothing_and_raises_no_flag(loop: Loop) -> None:
    """The collector stops and comes back on its port with its log and history: incidents kept, ids go on, no false flag."""
    quiet = 'sum(aiops_detector_anomaly) or vector(0)'
    loop.api.poll("no flag raised before the restart (earlier incidents over)", lambda: loop.api.scalar(quiet) == 0, timeout_seconds=120)
    before = httpx.get(f"{loop.collector.url}/api/incidents").json()["incidents"]
    old = loop.collector
    old.child.stop()
    restarted_at = time.time()
    loop.collector = start_collector(
        old.child.log_path.parent, seed=SEED, port=old.port, history_dir=loop.root / "history", responder_token="loop-responder-token"
    )
    try:
        after = httpx.get(f"{loop.collector.url}/api/incidents").json()["incidents"]
        assert [(i["id"], i["state"]) for i in after] == [(i["id"], i["state"]) for i in before]  # nothing lost
        def health() -> dict:
            return httpx.get(f"{loop.detector_url}/healthz", timeout=5).json()

        start_runs = health()["runs"]["success"]
        loop.api.poll(
            "the detector scoring again after the collector's restart",
            lambda: (h := health())["status"] == "ok" and h["runs"]["success"] >= start_runs + 5,
            timeout_seconds=FAST_RATE_WINDOW_SECONDS + 60,
        )
        span = max(1, int(time.time() - restarted_at) + 1)
        flagged = loop.api.query(f"max_over_time(aiops_detector_anomaly[{span}s]) == 1")
        anomalies = httpx.get(f"{loop.detector_url}/api/anomalies", params={"limit": 5}).json()["anomalies"]
        assert not flagged, f"flags raised by the restart alone: {[f['metric'] for f in flagged]}; restarted at {restarted_at:.0f}; newest: " + str(
            [(a.get("timestamp"), a.get("service"), a.get("signal"), a.get("sentence")) for a in anomalies]
        )
        nxt = httpx.post(f"{loop.collector.url}/api/incidents", json={"kind": "cpu_hog", "service": "checkout", "duration_seconds": 30, "delay_seconds": 3600})
        assert nxt.status_code == 201 and int(nxt.json()["id"]) > max((int(i["id"]) for i in before), default=0)
        httpx.delete(f"{loop.collector.url}/api/incidents")
    finally:
        loop.collector.child.stop()
