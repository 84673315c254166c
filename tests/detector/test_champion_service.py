"""Registry mode: the detector serves the champion, swaps when the alias moves, and never crashes on the registry.

A fake registry stands in for MLflow here (the real one is in tests/integration/test_champion.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry, generate_latest

import simulator as sim
from detector._app import create_app
from detector._exposition import DetectorCollector
from detector._service import DetectorService
from detector._settings import DetectorSettings
from evaluation import SimulatedSource
from model import FleetModel

from tests.detector.test_service import CATALOG, EDGES, NOW, Clock

SOURCE = SimulatedSource(CATALOG, 3, lambda: [])


@dataclass
class Version:
    name: str
    version: str
    tags: dict = field(default_factory=dict)


class FakeRegistry:
    """Versions by number, a movable champion alias, and a switch that makes every call fail."""

    def __init__(self) -> None:
        self.models: dict[str, FleetModel] = {}
        self.champion: str | None = None
        self.down = False
        self.loads: list[str] = []

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("cannot reach the MLflow tracking server http://mlflow.test")

    def champion_version(self):
        self._check()
        return None if self.champion is None else Version("aiops-fleet", self.champion, {"data_window": f"window of v{self.champion}"})

    def versions(self):
        self._check()
        return [Version("aiops-fleet", v, {"gate": "promote" if v == "1" else "refuse", "candidate": f"c{v}"}) for v in sorted(self.models)]

    def load_version(self, version: str) -> FleetModel:
        self._check()
        self.loads.append(version)
        return self.models[version]


def fitted(until_seconds: float) -> FleetModel:
    frame = SOURCE.fetch(until_seconds - 3 * 86400.0, until_seconds, 60.0)
    return FleetModel(dependencies=EDGES).fit(frame, fit_time=until_seconds)


@pytest.fixture(scope="module")
def models() -> dict[str, FleetModel]:
    return {"1": fitted(NOW - 86400.0), "2": fitted(NOW - 3600.0)}


def make(registry: FakeRegistry, clock: Clock | None = None) -> DetectorService:
    """Registry mode with no collector and no graph given: the graph comes from the champion."""
    settings = DetectorSettings(
        model_source="registry", fit_window_seconds=3 * 86400.0, min_history_seconds=2 * 86400.0, lookback_seconds=300.0, infer_every_seconds=15.0
    )
    return DetectorService(settings, source=SOURCE, clock=clock or Clock(NOW), registry=lambda: registry)


def test_registry_mode_serves_the_champion_never_refits_and_swaps_when_the_alias_moves(models) -> None:
    reg = FakeRegistry()
    reg.models = models
    reg.champion = "1"
    service = make(reg)
    service.champion_cycle()
    assert service.model is models["1"] and service.champion.version == "1"
    assert service.correlator.edges == set(EDGES)  # the graph, so flags group into incidents as online
    service.fit_cycle()  # the fit job is a no-op while a champion serves
    assert service.model is models["1"]
    service.infer_cycle()
    assert service.runs["success"] == 1 and service.series
    health = service.health()
    assert health["status"] == "ok" and health["model"] == "champion" and health["champion"]["version"] == "1"

    service.champion_cycle()  # same alias: nothing reloaded
    assert reg.loads == ["1"]
    reg.champion = "2"
    service.champion_cycle()
    assert service.model is models["2"] and service.champion.version == "2" and reg.loads == ["1", "2"]

    text = generate_latest(_registry(service)).decode()
    assert 'aiops_detector_champion_info{data_window="window of v2",model="champion",model_name="aiops-fleet",version="2"} 1.0' in text
    assert 'aiops_detector_registry_up{model="champion"} 1.0' in text
    assert 'aiops_detector_champion_version{model="champion"} 2.0' in text
    assert 'aiops_registry_model_version_created_timestamp_seconds{candidate="c2",gate="refuse",model_name="aiops-fleet",version="2"}' in text
    assert 'aiops_detector_expected_value{model="champion",service="checkout",signal="latency"}' in text


def test_an_unreachable_registry_at_start_leaves_it_fitting_online_then_the_champion_takes_over(models, caplog) -> None:
    reg = FakeRegistry()
    reg.models = models
    reg.down = True
    service = make(reg)
    service.champion_cycle()
    service.champion_cycle()
    assert service.champion is None and service.registry_up is False
    assert len([r for r in caplog.records if "fitting online" in r.message]) == 1  # said once per outage
    service.fit_cycle()  # the fallback: an online fit, still labelled as the champion's role
    assert service.model is not None and service.model is not models["1"]
    service.infer_cycle()
    health = service.health()
    assert health["status"] == "online_fallback" and "cannot reach" in health["registry_error"]
    assert 'aiops_detector_registry_up{model="champion"} 0.0' in generate_latest(_registry(service)).decode()

    reg.down = False
    reg.champion = "1"
    service.champion_cycle()
    assert service.model is models["1"] and service.health()["status"] == "ok" and service.registry_up is True


def test_a_registry_without_a_champion_is_a_fallback_not_a_crash(models) -> None:
    reg = FakeRegistry()
    reg.models = models
    service = make(reg)
    service.champion_cycle()
    assert service.champion is None and "no version with the champion alias" in service.registry_error


def test_a_registry_that_fails_after_a_load_keeps_the_last_champion_serving(models, caplog) -> None:
    reg = FakeRegistry()
    reg.models = models
    reg.champion = "1"
    service = make(reg)
    service.champion_cycle()
    reg.down = True
    reg.champion = "2"
    service.champion_cycle()
    service.champion_cycle()
    assert service.model is models["1"] and service.champion.version == "1"
    assert len([r for r in caplog.records if "keeps serving" in r.message]) == 1
    service.infer_cycle()
    health = service.health()
    assert health["status"] == "ok" and health["registry_up"] is False and health["champion"]["version"] == "1"


def test_online_mode_labels_its_metrics_online_and_has_no_registry_metrics() -> None:
    settings = DetectorSettings(fit_window_seconds=3 * 86400.0, lookback_seconds=300.0, infer_every_seconds=15.0)
    service = DetectorService(settings, source=SOURCE, dependencies=EDGES, clock=Clock(NOW))
    service.fit_cycle()
    service.infer_cycle()
    text = generate_latest(_registry(service)).decode()
    assert 'aiops_detector_anomaly{model="online",service="payments",signal="cpu"}' in text
    assert "aiops_detector_registry_up" not in text and "aiops_detector_champion_info" not in text
    assert service.health()["model"] == "online"


def test_registry_mode_needs_a_registry_and_a_known_model_source() -> None:
    with pytest.raises(ValueError, match="needs a registry"):
        DetectorService(DetectorSettings(model_source="registry"), source=SOURCE)
    with pytest.raises(ValueError, match="model_source must be one of online, registry, not 'champion'"):
        DetectorSettings(model_source="champion")


def test_the_app_reports_the_fallback_in_its_health(models) -> None:
    from fastapi.testclient import TestClient

    reg = FakeRegistry()
    reg.down = True
    service = make(reg)
    service.champion_cycle()
    body = TestClient(create_app(service)).get("/healthz").json()
    assert body["model"] == "champion" and body["registry_up"] is False and body["champion"] is None


def _registry(service: DetectorService) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(DetectorCollector(service.snapshot))
    return reg


def test_an_incident_scored_by_the_champion_is_flagged(models) -> None:
    hog = sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="payments", duration_seconds=600, now=NOW - 120)
    source = SimulatedSource(CATALOG, 3, lambda: [hog])
    reg = FakeRegistry()
    reg.models = models
    reg.champion = "1"
    settings = DetectorSettings(model_source="registry", lookback_seconds=300.0, infer_every_seconds=15.0)
    service = DetectorService(settings, source=source, dependencies=EDGES, clock=Clock(NOW), registry=lambda: reg)
    service.champion_cycle()
    service.infer_cycle()
    assert any(a["service"] == "payments" and a["signal"] == "cpu" for a in service.recent_anomalies())


def test_a_fallback_fit_that_ends_after_the_champion_arrived_does_not_warm_it_up_again(models) -> None:
    """A race seen live: the fallback fit read the history, the champion loaded, then the fit set the warm-up back."""
    reg = FakeRegistry()
    reg.models = models
    service = make(reg)
    settings = service.settings
    service.settings = type(settings)(**{**vars(settings), "min_history_seconds": 30 * 86400.0})  # the fit will find too little history
    inner = service.source

    class LoadsTheChampionMidFit:
        def fetch(self, start, end, step):
            frame = inner.fetch(start, end, step)
            reg.champion = "1"
            service.champion_cycle()  # the champion job runs while the fit is reading
            return frame

    service.source = LoadsTheChampionMidFit()
    service.fit_cycle()
    assert service.champion is not None and service.warmup_ratio == 1.0 and service.model is models["1"]


class SwapDuringFetch:
    """A source that moves the alias and runs the champion check while a cycle is fetching (the two jobs run on separate threads)."""

    def __init__(self, inner, on_fetch=None) -> None:
        self.inner, self.on_fetch = inner, on_fetch

    def fetch(self, start: float, end: float, step: float):
        frame = self.inner.fetch(start, end, step)
        if self.on_fetch is not None:
            hook, self.on_fetch = self.on_fetch, None
            hook()
        return frame


def test_a_swap_while_a_cycle_is_in_flight_reports_no_spurious_onset_and_the_new_champion_starts_afresh(models) -> None:
    hog = sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="checkout", duration_seconds=3600, delay_seconds=0, now=NOW - 600.0)
    source = SwapDuringFetch(SimulatedSource(CATALOG, 3, lambda: [hog]))
    reg = FakeRegistry()
    reg.models = models
    reg.champion = "1"
    clock = Clock(NOW)
    settings = DetectorSettings(
        model_source="registry", fit_window_seconds=3 * 86400.0, min_history_seconds=2 * 86400.0, lookback_seconds=300.0, infer_every_seconds=15.0
    )
    service = DetectorService(settings, source=source, clock=clock, registry=lambda: reg)
    service.champion_cycle()
    service.infer_cycle()
    key = ("checkout", "cpu")
    assert service.series[key].anomaly  # v1 flags the hog
    before = len(service.anomalies)

    def swap() -> None:
        reg.champion = "2"
        service.champion_cycle()

    source.on_fetch = swap
    clock.t += 15.0
    service.infer_cycle()  # scored with v1 (taken before the swap), recorded after it
    assert service.champion.version == "2"
    in_flight = list(service.anomalies)[before:]
    assert in_flight and not any(d["onset"] for d in in_flight if (d["service"], d["signal"]) == key)  # no spurious onset

    clock.t += 15.0
    before = len(service.anomalies)
    service.infer_cycle()  # the first cycle of v2: a series it still flags is a fresh onset, with v2's explanation
    first_of_v2 = [d for d in list(service.anomalies)[before:] if (d["service"], d["signal"]) == key]
    assert first_of_v2 and first_of_v2[0]["onset"]
