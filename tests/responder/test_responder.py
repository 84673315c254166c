"""The webhook receiver records every alert and remediates only where allowed."""

from __future__ import annotations

import json

import httpx
from fastapi.testclient import TestClient

from responder import Responder, create_app, load_runbook


def payload(status: str, cause_signal: str, service: str = "checkout") -> dict:
    return {
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "AIOpsIncidentDetected", "service": service, "cause_signal": cause_signal},
                "annotations": {"summary": "x"},
                "startsAt": "2026-01-01T00:00:00Z",
            }
        ],
    }


def make(tmp_path, remediate: bool, calls: list):
    def collector(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        return httpx.Response(200, json={"ended": ["abc"]})

    r = Responder(log_path=tmp_path / "alerts.jsonl", collector_url="http://collector.test", remediate=remediate,
                  clock=lambda: 1000.0, transport=httpx.MockTransport(collector))
    return r, TestClient(create_app(r), base_url="http://127.0.0.1")


def test_every_alert_is_recorded_and_nothing_is_done_while_remediation_is_off(tmp_path) -> None:
    calls: list = []
    r, client = make(tmp_path, remediate=False, calls=calls)
    assert client.post("/alertmanager", json=payload("firing", "memory")).status_code == 200
    assert client.post("/alertmanager", json=payload("resolved", "memory")).status_code == 200
    lines = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [x["status"] for x in lines] == ["firing", "resolved"]
    assert lines[0]["action"] == {"action": "restart", "service": "checkout", "outcome": "skipped (remediation is off)"}
    assert calls == []
    assert client.get("/api/alerts").json()["alerts"][0]["status"] == "resolved"


def test_an_allowed_action_is_asked_of_the_collector_when_remediation_is_on(tmp_path) -> None:
    calls: list = []
    r, client = make(tmp_path, remediate=True, calls=calls)
    client.post("/alertmanager", json=payload("firing", "requests", "frontend"))
    assert calls == [{"action": "scale_out", "service": "frontend", "by": "remediation"}]
    assert r.records[-1]["action"]["outcome"] == "done"


def test_actions_the_runbook_reserves_for_humans_are_not_taken(tmp_path) -> None:
    calls: list = []
    r, client = make(tmp_path, remediate=True, calls=calls)
    client.post("/alertmanager", json=payload("firing", "latency"))
    assert calls == [] and r.records[-1]["action"]["outcome"] == "needs a human (runbook)"
    assert load_runbook()["latency"].automatic is False


def test_a_body_that_is_not_a_webhook_is_rejected_and_not_recorded(tmp_path) -> None:
    r, client = make(tmp_path, remediate=True, calls=[])
    r1 = client.post("/alertmanager", content=b"not json", headers={"Content-Type": "application/json"})
    assert r1.status_code == 400 and r1.json()["field"] == "body"
    r2 = client.post("/alertmanager", json={"status": "firing", "alerts": "nope"})
    assert r2.status_code == 422 and r2.json()["field"] == "alerts"
    assert not (tmp_path / "alerts.jsonl").exists()
