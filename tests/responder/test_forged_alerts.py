"""The responder acts only on real alerts: its token first, then Alertmanager's schema, then the kit's own alerts."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from responder import Responder, create_app

from test_responder import payload


def _responder(tmp_path, calls: list, token: str = "") -> tuple[Responder, TestClient]:
    def collector(request: httpx.Request) -> httpx.Response:
        calls.append((request.headers.get("authorization"), json.loads(request.content)))
        return httpx.Response(200, json={"ended": []})

    r = Responder(log_path=tmp_path / "alerts.jsonl", collector_url="http://collector.test", remediate=True,
                  clock=lambda: 1000.0, transport=httpx.MockTransport(collector), token=token)
    return r, TestClient(create_app(r), base_url="http://127.0.0.1")


def test_with_a_token_only_alertmanagers_notifications_are_taken(tmp_path) -> None:
    calls: list = []
    r, client = _responder(tmp_path, calls, token="responder-token")
    forged = client.post("/alertmanager", json=payload("firing", "memory"))
    assert forged.status_code == 401 and forged.json()["field"] == "Authorization"
    wrong = client.post("/alertmanager", json=payload("firing", "memory"), headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401 and "guess" not in wrong.text
    assert calls == [] and not (tmp_path / "alerts.jsonl").exists()
    ok = client.post("/alertmanager", json=payload("firing", "memory"), headers={"Authorization": "Bearer responder-token"})
    assert ok.status_code == 200
    assert calls == [("Bearer responder-token", {"action": "restart", "service": "checkout", "by": "remediation"})]


def test_a_form_or_text_post_from_a_web_page_is_refused(tmp_path) -> None:
    calls: list = []
    r, client = _responder(tmp_path, calls)
    body = json.dumps(payload("firing", "memory"))
    for ctype in ("text/plain", "application/x-www-form-urlencoded"):
        resp = client.post("/alertmanager", content=body, headers={"Content-Type": ctype})
        assert resp.status_code == 415 and resp.json()["field"] == "Content-Type"
    rebound = client.post("/alertmanager", json=payload("firing", "memory"), headers={"Host": "attacker.example"})
    assert rebound.status_code == 403 and rebound.json()["field"] == "Host"
    assert calls == [] and r.records == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "firing", "alerts": [1]}, "alerts.0"),
        ({"status": "firing", "alerts": [None]}, "alerts.0"),
        ({"status": "firing", "alerts": ["x"]}, "alerts.0"),
        ({"status": "firing", "alerts": [{"status": "firing", "labels": "x"}]}, "alerts.0.labels"),
        ({"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "AIOpsIncidentDetected", "service": "checkout", "cause_signal": ["memory"]}}]}, "alerts.0.labels.cause_signal"),
        ({"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "Forged", "service": "checkout"}}]}, "alerts.0.labels.alertname"),
        ({"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "AIOpsIncidentDetected", "service": "mars", "cause_signal": "memory"}}]}, "alerts.0.labels.service"),
        ({"alerts": []}, "status"),
    ],
)
def test_a_malformed_notification_is_422_naming_the_field(tmp_path, body: dict, field: str) -> None:
    calls: list = []
    r, client = _responder(tmp_path, calls)
    resp = client.post("/alertmanager", json=body)
    assert resp.status_code == 422 and resp.json()["field"] == field, resp.text
    assert calls == [] and r.records == []


def test_a_lone_surrogate_cannot_break_metrics_or_the_alert_list(tmp_path) -> None:
    calls: list = []
    r, client = _responder(tmp_path, calls)
    raw = json.dumps(payload("firing", "memory")).replace("AIOpsIncidentDetected", "\\ud800")
    resp = client.post("/alertmanager", content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 422 and resp.json()["field"] == "alerts.0.labels.alertname"
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/alerts").status_code == 200
    assert client.post("/alertmanager", json=payload("firing", "memory")).status_code == 200
    assert client.get("/metrics").status_code == 200 and len(client.get("/api/alerts").json()["alerts"]) == 1
