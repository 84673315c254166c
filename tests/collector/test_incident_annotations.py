"""The collector's Grafana annotations: an incident triggered opens one (at its start), its end closes it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector import CollectorRuntime, CollectorSettings, create_app
from collector_helpers import FakeClock
from fake_grafana import FakeGrafana
from plumbing.grafana import GrafanaSettings


class RecordingPoster:
    """Stands in for plumbing.grafana.AnnotationPoster."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def opened(self, key: str, **kw: Any) -> None:
        self.events.append(("opened", key, kw))

    def closed(self, key: str, **kw: Any) -> None:
        self.events.append(("closed", key, kw))

    def close(self) -> None:
        pass


def runtime(tmp_path: Path, clock: FakeClock, poster: Any) -> CollectorRuntime:
    return CollectorRuntime(CollectorSettings(log_path=tmp_path / "incidents.jsonl", seed=3), clock=clock, annotations=poster)


def test_a_triggered_incident_is_annotated_at_its_start_and_closed_at_its_end(tmp_path: Path) -> None:
    clock, poster = FakeClock(), RecordingPoster()
    rt = runtime(tmp_path, clock, poster)
    api = TestClient(create_app(runtime=rt, scheduler=False), base_url="http://127.0.0.1")
    inc = api.post("/api/incidents", json={"kind": "cpu_hog", "service": "checkout", "duration_seconds": 120, "delay_seconds": 30}).json()
    [(what, key, kw)] = poster.events
    assert (what, key) == ("opened", f"incident-{inc['id']}")
    assert kw["time_seconds"] == inc["start_seconds"] == clock.now + 30  # the incident's start, not the request's time
    assert kw["tags"] == ["incident", "cpu_hog", "checkout"]
    assert "cpu_hog on checkout" in kw["text"] and "triggered by api" in kw["text"]
    clock.advance(200)
    rt.tick()  # the collector's one-second job notices the end
    closed = [e for e in poster.events if e[0] == "closed"]
    assert [(k, e["start_seconds"], e["end_seconds"]) for _, k, e in closed] == [(key, inc["start_seconds"], inc["end_seconds"])]
    assert "ended" in closed[0][2]["text"]
    rt.close()


def test_an_incident_stopped_early_is_closed_when_stopped(tmp_path: Path) -> None:
    clock, poster = FakeClock(), RecordingPoster()
    rt = runtime(tmp_path, clock, poster)
    api = TestClient(create_app(runtime=rt, scheduler=False), base_url="http://127.0.0.1")
    inc = api.post("/api/incidents", json={"kind": "memory_leak", "service": "catalog", "duration_seconds": 300}).json()
    clock.advance(45)
    api.delete(f"/api/incidents/{inc['id']}", params={"by": "cli"})
    [(_, _, kw)] = [e for e in poster.events if e[0] == "closed"]
    assert kw["end_seconds"] == clock.now and "stopped early by cli" in kw["text"]
    rt.close()


def test_an_observer_that_fails_costs_a_log_line_not_the_incident(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(RecordingPoster):
        def opened(self, key: str, **kw: Any) -> None:
            raise RuntimeError("boom")

    clock = FakeClock()
    rt = runtime(tmp_path, clock, Broken())
    api = TestClient(create_app(runtime=rt, scheduler=False), base_url="http://127.0.0.1")
    caplog.set_level(logging.ERROR, logger="collector.incidents")
    reply = api.post("/api/incidents", json={"kind": "cpu_hog", "service": "checkout"})
    assert reply.status_code == 201
    assert "event observer failed" in caplog.text
    rt.close()


def test_without_a_grafana_url_nothing_is_annotated(tmp_path: Path) -> None:
    app = create_app(CollectorSettings(log_path=tmp_path / "i.jsonl"), grafana=GrafanaSettings(), scheduler=False)
    assert app.state.runtime.annotations is None
    assert app.state.runtime.store.on_event is None
    app.state.runtime.close()


def test_the_collector_posts_to_a_real_http_grafana(tmp_path: Path) -> None:
    with FakeGrafana() as grafana:
        settings = GrafanaSettings(url=grafana.url, token=grafana.token)
        app = create_app(CollectorSettings(log_path=tmp_path / "i.jsonl"), grafana=settings, scheduler=False)
        rt = app.state.runtime
        with TestClient(app, base_url="http://127.0.0.1") as api:
            api.post("/api/incidents", json={"kind": "disk_fill", "service": "inventory", "duration_seconds": 60})
            assert rt.annotations.flush()
        [a] = grafana.annotations.values()
        assert a["tags"] == ["aiops", "incident", "disk_fill", "inventory"]
