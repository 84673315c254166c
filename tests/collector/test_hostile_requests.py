"""Hostile requests to the collector: off-loopback writes, cross-site and rebinding writes, huge values, odd paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector import CollectorRuntime, CollectorSettings, create_app

from collector_helpers import FakeClock, read_jsonl

VALID = {"kind": "cpu_hog", "service": "checkout"}


@pytest.fixture
def exposed(clock: FakeClock, log_path: Path):
    """A collector listening on every interface, with the runner's token."""
    rt = CollectorRuntime(CollectorSettings(host="0.0.0.0", log_path=log_path, seed=3, token="room-token"), clock=clock)
    yield TestClient(create_app(runtime=rt, scheduler=False), base_url="http://192.0.2.10:8000")
    rt.close()


def test_off_loopback_every_write_needs_the_token_and_reads_stay_open(exposed: TestClient, log_path: Path) -> None:
    for method, path, body in [
        ("POST", "/api/incidents", VALID),
        ("DELETE", "/api/incidents", None),
        ("DELETE", "/api/incidents/1", None),
        ("POST", "/api/chaos/pause", {}),
        ("POST", "/api/chaos/resume", {}),
        ("POST", "/api/actions", {"action": "restart", "service": "checkout"}),
    ]:
        r = exposed.request(method, path, json=body)
        assert r.status_code == 401 and r.json()["field"] == "Authorization", (method, path)
    assert not log_path.exists() or log_path.read_bytes() == b""
    assert exposed.get("/metrics").status_code == 200 and exposed.get("/api/incidents").status_code == 200
    ok = exposed.post("/api/incidents", json=VALID, headers={"Authorization": "Bearer room-token"})
    assert ok.status_code == 201
    assert [r["event"] for r in read_jsonl(log_path)] == ["triggered", "started"]


def test_a_rebinding_page_cannot_write_even_on_loopback(api: TestClient, log_path: Path) -> None:
    r = api.post("/api/incidents", json=VALID, headers={"Host": "attacker.example"})
    assert r.status_code == 403 and r.json()["field"] == "Host"
    assert api.post("/api/chaos/pause", content=b"", headers={"Content-Type": "text/plain"}).status_code == 415
    assert not log_path.exists() or log_path.read_bytes() == b""


def test_no_cors_header_is_ever_granted(api: TestClient) -> None:
    pre = api.options("/api/incidents", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code >= 400 and not any(h.lower().startswith("access-control") for h in pre.headers)
    got = api.get("/api/incidents", headers={"Origin": "http://evil.example"})
    assert not any(h.lower().startswith("access-control") for h in got.headers)


def test_a_trailing_slash_is_not_the_panic_button(api: TestClient) -> None:
    inc = api.post("/api/incidents", json=VALID).json()
    r = api.delete("/api/incidents/", follow_redirects=False)
    assert r.status_code in (404, 405) and r.json()["field"] in ("path", "id", "method")
    assert api.get(f"/api/incidents/{inc['id']}").json()["state"] == "active"


def test_a_huge_value_is_quoted_by_a_short_prefix_only(api: TestClient) -> None:
    r = api.post("/api/incidents", json={"kind": "x" * 100_000, "service": "checkout"})
    assert r.status_code == 422 and r.json()["field"] == "kind" and len(r.content) < 2_000
    big = api.post("/api/incidents", content=b'{"kind": "cpu_hog", "service": "checkout", "intensity": 1' + b"0" * 5000 + b"}",
                   headers={"Content-Type": "application/json"})
    assert big.status_code in (400, 422) and big.json()["field"] in ("body", "intensity") and len(big.content) < 2_000
    huge = api.post("/api/incidents", json={**VALID, "intensity": 10**400})
    assert huge.status_code == 422 and huge.json()["field"] == "intensity"


def test_a_body_over_the_limit_is_413(api: TestClient, log_path: Path) -> None:
    r = api.post("/api/incidents", content=b'{"kind": "' + b"x" * 1_000_000 + b'"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] == "body"
    assert not log_path.exists() or log_path.read_bytes() == b""


def test_unknown_paths_and_methods_name_what_is_wrong(api: TestClient) -> None:
    assert api.get("/api/nothing").json()["field"] == "path"
    assert api.put("/api/incidents", json={}).json()["field"] == "method"
