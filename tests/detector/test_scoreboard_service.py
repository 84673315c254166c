"""The workshop scoreboard as the detector keeps it, its metrics, and the detector's Grafana annotations.

With an injected clock, an in-process history source, a fake ground truth (the collector's
incident list) and a recording annotation poster: no network.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

import simulator as sim
from detector import DetectorService, DetectorSettings, create_app
from detector._exposition import DetectorCollector, DetectorSnapshot, ScoreboardOutput
from evaluation import SimulatedSource
from plumbing.grafana import AnnotationPoster
from plumbing.procs import free_port

CATALOG = sim.load_catalog()
EDGES = [(d.caller, d.callee) for d in CATALOG.dependencies]
NOW = 1_767_355_200.0  # 2026-01-02 12:00 UTC


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class RecordingPoster:
    """Stands in for plumbing.grafana.AnnotationPoster: records what would be posted."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.closed_down = False

    def opened(self, key: str, **kw: Any) -> None:
        self.events.append(("opened", key, kw))

    def closed(self, key: str, **kw: Any) -> None:
        self.events.append(("closed", key, kw))

    def close(self) -> None:
        self.closed_down = True


class GroundTruth:
    """The collector's GET /api/incidents, as the detector's scoreboard job reads it."""

    def __init__(self, incidents: list[sim.Incident]) -> None:
        self.incidents = incidents
        self.down = False

    def __call__(self) -> list[dict[str, Any]]:
        if self.down:
            raise ConnectionError("the collector at http://test did not answer")
        return [i.as_dict() for i in self.incidents]


def make(incidents: list[sim.Incident], *, truth: list[sim.Incident] | None = None) -> tuple[DetectorService, Clock, GroundTruth, RecordingPoster]:
    clock = Clock(NOW - 200)
    source = SimulatedSource(CATALOG, 3, lambda: incidents)
    settings = DetectorSettings(fit_window_seconds=3 * 86400.0, min_history_seconds=2 * 86400.0, lookback_seconds=300.0, infer_every_seconds=15.0)
    ground = GroundTruth(truth if truth is not None else incidents)
    poster = RecordingPoster()
    service = DetectorService(
        settings, source=source, dependencies=EDGES, clock=clock, ground_truth=ground, catalog=CATALOG, annotations=poster  # type: ignore[arg-type]
    )
    service.fit_cycle()  # before the incidents
    return service, clock, ground, poster


def hog(start: float, duration: float = 600.0, id: str = "1", service: str = "payments") -> sim.Incident:
    return sim.make_incident(CATALOG, id=id, kind="cpu_hog", service=service, duration_seconds=duration, now=start)


class Online:
    """A registry's samples of the online detector (every sample carries ``model="online"``)."""

    def __init__(self, reg: CollectorRegistry) -> None:
        self.reg = reg

    def get_sample_value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.reg.get_sample_value(name, {**(labels or {}), "model": "online"})


def registry(service: DetectorService) -> Online:
    reg = CollectorRegistry()
    reg.register(DetectorCollector(service.snapshot))
    return Online(reg)


def test_a_detected_incident_is_scored_and_exported_as_metrics() -> None:
    inc = hog(NOW - 120)
    service, clock, _, _ = make([inc])
    clock.t = NOW
    service.infer_cycle()
    service.score_cycle()
    get = registry(service).get_sample_value
    assert get("aiops_scoreboard_incidents", {"outcome": "detected"}) == 1.0
    assert get("aiops_scoreboard_incidents", {"outcome": "missed"}) == 0.0
    assert get("aiops_scoreboard_incidents", {"outcome": "waiting"}) == 0.0
    assert get("aiops_scoreboard_false_alarms") == 0.0
    ttd = get("aiops_scoreboard_time_to_detect_seconds", {"quantile": "0.5"})
    assert ttd is not None and 0 < ttd <= 120
    assert get("aiops_scoreboard_time_to_detect_seconds_count") == 1.0
    assert get("aiops_scoreboard_time_to_detect_seconds_sum") == ttd
    report = service.scoreboard_report()
    assert report["status"] == "ok" and report["detected"] == 1
    assert report["by_incident"][0]["probable_causes"] == [{"service": "payments", "signal": "cpu"}]


def test_incidents_before_the_detector_scored_are_left_out_and_late_ones_wait() -> None:
    early = hog(NOW - 4000, duration=300, id="1", service="inventory")  # long over before the first scored point
    late = hog(NOW + 60, id="2", service="catalog")  # triggered with a delay: not started yet
    service, clock, _, _ = make([], truth=[early, late])
    clock.t = NOW
    service.infer_cycle()
    service.score_cycle()
    get = registry(service).get_sample_value
    assert sum(get("aiops_scoreboard_incidents", {"outcome": o}) for o in ("detected", "missed", "waiting")) == 0.0
    assert service.scoring_since_seconds is not None and service.scoring_since_seconds > early.end_seconds
    clock.t = NOW + 90
    service.score_cycle()
    assert registry(service).get_sample_value("aiops_scoreboard_incidents", {"outcome": "waiting"}) == 1.0


def test_nothing_is_scored_before_the_first_scoring_cycle() -> None:
    service, _, ground, _ = make([hog(NOW - 120)])
    service.score_cycle()
    assert service.score is None and service.scoreboard_report()["status"] == "waiting"
    assert registry(service).get_sample_value("aiops_scoreboard_incidents", {"outcome": "detected"}) == 0.0


def test_a_collector_that_does_not_answer_keeps_the_last_score(caplog: pytest.LogCaptureFixture) -> None:
    service, clock, ground, _ = make([hog(NOW - 120)])
    clock.t = NOW
    service.infer_cycle()
    service.score_cycle()
    before = service.score
    ground.down = True
    clock.t += 15
    service.infer_cycle()
    service.score_cycle()
    assert service.score is before
    assert "no incidents from the collector" in caplog.text
    assert service.runs["success"] == 2  # scoring itself went on


def test_without_the_collector_there_is_no_scoreboard() -> None:
    settings = DetectorSettings(min_history_seconds=0.0, infer_every_seconds=15.0)
    service = DetectorService(settings, source=SimulatedSource(CATALOG, 3, lambda: []), dependencies=EDGES, clock=Clock(NOW))
    service.score_cycle()
    text = generate_latest(registry(service).reg).decode()
    assert "aiops_scoreboard" not in text
    assert service.scoreboard_report()["status"] == "off"


def test_the_detector_annotates_a_detected_incident_when_it_opens_and_closes() -> None:
    inc = hog(NOW - 120, duration=150)  # ends 30 s after NOW
    service, clock, _, poster = make([inc])
    clock.t = NOW
    service.infer_cycle()
    [(what, key, kw)] = poster.events
    assert (what, key) == ("opened", "detected-1")
    assert kw["tags"] == ["detected", "online", "payments", "cpu"]
    assert "probable cause payments cpu" in kw["text"] and "robust σ" in kw["text"]  # the model's own explanation
    assert kw["time_seconds"] <= NOW
    for _ in range(12):  # quiet cycles after the hog ended: the incident closes 3 minutes after its last flag
        clock.t += 60
        service.infer_cycle()
    closed = [e for e in poster.events if e[0] == "closed"]
    assert [(k, e["start_seconds"]) for _, k, e in closed] == [("detected-1", kw["time_seconds"])]
    assert closed[0][2]["end_seconds"] > kw["time_seconds"] and "closed after" in closed[0][2]["text"]
    service.stop()
    assert poster.closed_down


def test_health_metrics_say_settling_and_how_long_the_fit_took() -> None:
    service, clock, _, _ = make([])
    get = registry(service).get_sample_value
    assert get("aiops_detector_settling") == 0.0
    fit = get("aiops_detector_fit_duration_seconds")
    assert fit is not None and fit > 0
    assert get("aiops_detector_last_fit_timestamp_seconds") == NOW - 200
    service.settling = True
    assert registry(service).get_sample_value("aiops_detector_settling") == 1.0


def test_the_scoreboard_metrics_follow_the_naming_guide() -> None:
    snap = DetectorSnapshot(scoreboard=ScoreboardOutput(detected=2, missed=1, waiting=0, false_alarms=3, time_to_detect_seconds=(10.0, 30.0)))
    raw = CollectorRegistry()
    raw.register(DetectorCollector(lambda: snap))
    text = generate_latest(raw).decode()
    reg = Online(raw)
    assert "# TYPE aiops_scoreboard_incidents gauge" in text
    assert "# TYPE aiops_scoreboard_time_to_detect_seconds summary" in text
    assert reg.get_sample_value("aiops_scoreboard_time_to_detect_seconds", {"quantile": "0.5"}) == 20.0
    assert reg.get_sample_value("aiops_scoreboard_time_to_detect_seconds_sum") == 40.0
    assert reg.get_sample_value("aiops_scoreboard_false_alarms") == 3.0
    # no median without a detection (rather than NaN); count and sum stay
    bare = CollectorRegistry()
    bare.register(DetectorCollector(lambda: DetectorSnapshot(scoreboard=ScoreboardOutput())))
    empty = Online(bare)
    assert empty.get_sample_value("aiops_scoreboard_time_to_detect_seconds", {"quantile": "0.5"}) is None
    assert empty.get_sample_value("aiops_scoreboard_time_to_detect_seconds_count") == 0.0


def test_the_scoreboard_is_served_as_json() -> None:
    service, clock, _, _ = make([hog(NOW - 120)])
    clock.t = NOW
    service.infer_cycle()
    service.score_cycle()
    body = TestClient(create_app(service)).get("/api/scoreboard").json()
    assert body["status"] == "ok" and body["incidents"] == 1 and body["detected"] == 1
    assert body["scoring_since_seconds"] == service.scoring_since_seconds


def test_a_grafana_that_is_down_costs_a_warning_never_a_detection(caplog: pytest.LogCaptureFixture) -> None:
    inc = hog(NOW - 120)
    service, clock, _, _ = make([inc])
    service.annotations = AnnotationPoster(f"http://127.0.0.1:{free_port()}", credential="t", timeout_seconds=0.5)
    clock.t = NOW
    service.infer_cycle()
    assert service.runs["success"] == 1 and service.snapshot().series[("payments", "cpu")].anomaly
    assert ("payments", "cpu") in service.snapshot().active_incidents
    assert service.annotations.flush(10)
    assert service.annotations.failed == 1
    assert "did not take the annotation" in caplog.text
    service.stop()
