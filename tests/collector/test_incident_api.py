"""The HTTP API: happy paths, every bad input, the log kept intact, the panic button."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector import CollectorRuntime
from prometheus_client.parser import text_string_to_metric_families
from simulator import load_catalog

from collector_helpers import FakeClock, read_jsonl

CATALOG = load_catalog()
#: The tokens the ``runtime`` fixture's collector knows (tests/collector/conftest.py).
RUNNER = {"Authorization": "Bearer runner-token"}
RESPONDER = {"Authorization": "Bearer responder-token"}


def _active(api: TestClient, kind: str, service: str) -> float:
    text = api.get("/metrics").text
    family = next(f for f in text_string_to_metric_families(text) if f.name == "aiops_incident_active")
    return next(s.value for s in family.samples if s.labels == {"kind": kind, "service": service})


def test_trigger_shows_in_the_next_scrape_and_the_list(api: TestClient, clock: FakeClock) -> None:
    assert _active(api, "cpu_hog", "checkout") == 0.0
    r = api.post("/api/incidents", json={"kind": "cpu_hog", "service": "checkout", "duration_seconds": 120})
    assert r.status_code == 201
    inc = r.json()
    assert inc["id"] and inc["state"] == "active" and inc["intensity"] == CATALOG.kind("cpu_hog").intensity.default
    clock.advance(15)
    assert _active(api, "cpu_hog", "checkout") == 1.0
    listed = api.get("/api/incidents").json()["incidents"]
    assert [(i["id"], i["state"]) for i in listed] == [(inc["id"], "active")]
    clock.advance(120)
    assert _active(api, "cpu_hog", "checkout") == 0.0
    assert api.get("/api/incidents").json()["incidents"][0]["state"] == "ended"  # recent


def test_delay_and_intensity_are_honoured(api: TestClient, clock: FakeClock) -> None:
    body = {"kind": "traffic_surge", "service": "frontend", "duration_seconds": 60, "intensity": 2.5, "delay_seconds": 30}
    inc = api.post("/api/incidents", json=body).json()
    assert inc["state"] == "pending" and inc["intensity"] == 2.5 and inc["start_seconds"] == clock() + 30
    clock.advance(31)
    assert _active(api, "traffic_surge", "frontend") == 1.0


def test_stop_one_and_unknown_id(api: TestClient, clock: FakeClock) -> None:
    inc = api.post("/api/incidents", json={"kind": "error_burst", "service": "payments"}).json()
    clock.advance(5)
    r = api.delete(f"/api/incidents/{inc['id']}", params={"by": "cli"})
    assert r.status_code == 200 and r.json()["state"] == "stopped" and r.json()["stopped_by"] == "cli"
    assert _active(api, "error_burst", "payments") == 0.0
    again = api.delete(f"/api/incidents/{inc['id']}")
    assert again.status_code == 409 and again.json()["field"] == "id"
    assert api.get(f"/api/incidents/{inc['id']}").json()["state"] == "stopped"
    assert api.get("/api/incidents/does-not-exist").status_code == 404
    missing = api.delete("/api/incidents/does-not-exist")
    assert missing.status_code == 404 and missing.json()["field"] == "id" and "does-not-exist" in missing.json()["error"]


def test_panic_button_stops_all_and_pauses_chaos(api: TestClient, runtime: CollectorRuntime, clock: FakeClock) -> None:
    assert runtime.chaos.run_round() is not None  # chaos on: a round triggers an incident
    api.post("/api/incidents", json={"kind": "disk_fill", "service": "inventory"})
    api.post("/api/incidents", json={"kind": "cpu_hog", "service": "catalog", "delay_seconds": 600})
    r = api.delete("/api/incidents")
    assert r.status_code == 200
    assert len(r.json()["stopped"]) == 3 and r.json()["chaos"]["paused"] is True
    assert api.get("/api/chaos").json()["paused"] is True
    clock.advance(600)
    assert runtime.chaos.run_round() is None  # paused: nothing happens
    assert all(i["state"] == "stopped" for i in api.get("/api/incidents").json()["incidents"])
    assert api.post("/api/chaos/resume", json={}).json()["paused"] is False
    assert runtime.chaos.run_round() is not None
    assert api.post("/api/chaos/pause", json={}).json()["paused"] is True


def test_catalog_endpoint(api: TestClient) -> None:
    c = api.get("/api/catalog").json()
    assert [k["kind"] for k in c["kinds"]] == list(CATALOG.kind_names)
    assert c["services"] == list(CATALOG.service_names)
    assert {"caller": "frontend", "callee": "checkout"}.items() <= c["dependencies"][1].items()
    assert c["kinds"][0]["parameters"]["intensity"]["default"] == CATALOG.kinds[0].intensity.default


def test_healthz_and_openmetrics_negotiation(api: TestClient) -> None:
    assert api.get("/healthz").json()["status"] == "ok"
    r = api.get("/metrics", headers={"Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
    assert r.headers["content-type"].startswith("application/openmetrics-text") and r.text.endswith("# EOF\n")
    plain = api.get("/metrics")
    assert plain.headers["content-type"].startswith("text/plain") and "# EOF" not in plain.text


VALID = {"kind": "cpu_hog", "service": "checkout"}


@pytest.mark.parametrize(
    ("body", "status", "field", "allowed"),
    [
        ({"kind": "nope", "service": "checkout"}, 422, "kind", list(CATALOG.kind_names)),
        ({"kind": "cpu_hog", "service": "nowhere"}, 422, "service", list(CATALOG.service_names)),
        ({**VALID, "intensity": 50}, 422, "intensity", CATALOG.kind("cpu_hog").intensity.as_dict()),
        ({**VALID, "intensity": "high"}, 422, "intensity", CATALOG.kind("cpu_hog").intensity.as_dict()),
        ({**VALID, "intensity": True}, 422, "intensity", CATALOG.kind("cpu_hog").intensity.as_dict()),
        ({**VALID, "duration_seconds": 5}, 422, "duration_seconds", CATALOG.duration_seconds.as_dict()),
        ({**VALID, "duration_seconds": "5m"}, 422, "duration_seconds", CATALOG.duration_seconds.as_dict()),
        ({**VALID, "delay_seconds": -1}, 422, "delay_seconds", CATALOG.delay_seconds.as_dict()),
        ({"kind": 3, "service": "checkout"}, 422, "kind", list(CATALOG.kind_names)),
        ({"service": "checkout"}, 422, "kind", list(CATALOG.kind_names)),
        ({"kind": "cpu_hog"}, 422, "service", list(CATALOG.service_names)),
        ({**VALID, "colour": "red"}, 422, "colour", None),
        ({**VALID, "triggered_by": "chaos"}, 422, "triggered_by", ["api", "cli", "scenario"]),
        ([VALID], 400, "body", None),
        ("cpu_hog", 400, "body", None),
    ],
)
def test_bad_input_names_the_field_and_keeps_the_log(
    api: TestClient, log_path: Path, body: object, status: int, field: str, allowed: object
) -> None:
    api.post("/api/incidents", json={"kind": "memory_leak", "service": "database"})
    before = log_path.read_bytes()
    r = api.post("/api/incidents", json=body)
    assert r.status_code == status, r.text
    err = r.json()
    assert err["field"] == field and err["error"]
    if allowed is not None:
        assert err["allowed"] == allowed
    if field == "colour":
        assert "kind" in err["allowed"] and "duration_seconds" in err["allowed"]
    assert log_path.read_bytes() == before
    assert [rec["event"] for rec in read_jsonl(log_path)] == ["triggered", "started"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"{not json", "application/json"), (b"", "application/json"), (b'{"kind": "\xff"}', "application/json"), (b"[" * 5000, "application/json")],
)
def test_a_body_that_is_not_a_json_object_is_400(api: TestClient, log_path: Path, content: bytes, content_type: str) -> None:
    r = api.post("/api/incidents", content=content, headers={"Content-Type": content_type})
    assert r.status_code == 400 and r.json()["field"] == "body"
    assert not log_path.exists() or log_path.read_bytes() == b""


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", None])
def test_a_write_that_is_not_json_is_415_naming_the_header(api: TestClient, log_path: Path, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/api/incidents", "/api/chaos/pause", "/api/actions"):
        r = api.post(path, content=b"kind=cpu_hog&service=checkout" if content_type else b"", headers=headers)
        assert r.status_code == 415 and r.json()["field"] == "Content-Type", path
    assert api.get("/api/chaos").json()["paused"] is False
    assert not log_path.exists() or log_path.read_bytes() == b""


def test_limit_on_concurrent_incidents_is_409(api: TestClient, log_path: Path) -> None:
    for service in CATALOG.service_names[: CATALOG.max_concurrent_incidents]:
        assert api.post("/api/incidents", json={"kind": "cpu_hog", "service": service}).status_code == 201
    before = log_path.read_bytes()
    r = api.post("/api/incidents", json={"kind": "cpu_hog", "service": "database"})
    assert r.status_code == 409 and r.json()["field"] == "max_concurrent_incidents"
    assert r.json()["allowed"] == {"max": CATALOG.max_concurrent_incidents}
    assert log_path.read_bytes() == before


def test_wrong_by_on_delete_names_the_field(api: TestClient) -> None:
    inc = api.post("/api/incidents", json=VALID).json()
    r = api.delete(f"/api/incidents/{inc['id']}", params={"by": "someone"})
    assert r.status_code == 422 and r.json()["field"] == "by" and r.json()["allowed"] == ["api", "cli", "scenario"]


def test_a_runbook_action_ends_only_the_incidents_it_remedies(api: TestClient, clock: FakeClock, log_path: Path) -> None:
    leak = api.post("/api/incidents", json={"kind": "memory_leak", "service": "catalog", "duration_seconds": 600}).json()
    burst = api.post("/api/incidents", json={"kind": "error_burst", "service": "catalog", "duration_seconds": 600}).json()
    other = api.post("/api/incidents", json={"kind": "memory_leak", "service": "payments", "duration_seconds": 600}).json()
    clock.advance(30)
    forged = api.post("/api/actions", json={"action": "restart", "service": "catalog", "by": "remediation"})
    assert forged.status_code == 403 and forged.json()["field"] == "by"
    remediation = {"action": "restart", "service": "catalog", "by": "remediation"}
    assert api.post("/api/actions", json=remediation, headers=RUNNER).status_code == 403
    r = api.post("/api/actions", json=remediation, headers=RESPONDER)
    assert r.status_code == 200
    assert [i["id"] for i in r.json()["ended"]] == [leak["id"]]
    states = {i["id"]: (i["state"], i["stopped_by"]) for i in api.get("/api/incidents").json()["incidents"]}
    assert states[leak["id"]] == ("stopped", "remediation")
    assert states[burst["id"]][0] == "active" and states[other["id"]][0] == "active"
    assert any(x["event"] == "stopped" and x["by"] == "remediation" for x in read_jsonl(log_path))
    wrong = api.post("/api/actions", json={"action": "reboot", "service": "catalog"}, headers=RESPONDER)
    assert wrong.status_code == 422 and wrong.json()["field"] == "action" and "restart" in wrong.json()["allowed"]
    assert api.post("/api/actions", json={"action": "restart", "service": "mars"}, headers=RESPONDER).json()["field"] == "service"
    by = api.post("/api/actions", json={"action": "restart", "service": "catalog", "by": "someone"})
    assert by.status_code == 422 and by.json()["allowed"] == ["api", "cli", "remediation"]  # the actions' own actors
    assert api.post("/api/actions", json={"action": "restart", "service": "catalog", "by": "api"}).status_code == 200
