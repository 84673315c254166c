"""Property-based: no request to any collector endpoint gets a 5xx, every 4xx names the field, and a refused one writes no line."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from collector import CollectorRuntime, CollectorSettings, create_app

from collector_helpers import FakeClock
from fuzz_helpers import FUZZ, VALUES, check_answer, raw_bodies

INCIDENT = {"kind": "cpu_hog", "service": "checkout", "duration_seconds": 60, "intensity": 1.0, "delay_seconds": 0, "triggered_by": "api"}
ACTION = {"action": "restart", "service": "checkout", "by": "api"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    log_path = tmp_path_factory.mktemp("fuzz") / "incidents.jsonl"
    rt = CollectorRuntime(CollectorSettings(log_path=log_path, seed=3), clock=FakeClock())
    yield TestClient(create_app(runtime=rt, scheduler=False), base_url="http://127.0.0.1"), log_path
    rt.close()


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@FUZZ
@given(req=raw_bodies(INCIDENT))
def test_post_incidents(fuzzed: tuple[TestClient, Path], req: tuple[bytes, str | None]) -> None:
    api, log_path = fuzzed
    api.delete("/api/incidents")  # room for the next one: the concurrency limit is not what is fuzzed
    before = _lines(log_path)
    body, ctype = req
    r = api.post("/api/incidents", content=body, headers={"Content-Type": ctype} if ctype else {})
    if check_answer(r.status_code, r.content) is not None:
        assert _lines(log_path) == before, "a refused request wrote to the incident log"


@FUZZ
@given(req=raw_bodies(ACTION))
def test_post_actions(fuzzed: tuple[TestClient, Path], req: tuple[bytes, str | None]) -> None:
    api, log_path = fuzzed
    before = _lines(log_path)
    body, ctype = req
    r = api.post("/api/actions", content=body, headers={"Content-Type": ctype} if ctype else {})
    if check_answer(r.status_code, r.content) is not None:
        assert _lines(log_path) == before


@FUZZ
@given(
    method=st.sampled_from(["GET", "DELETE", "POST", "PUT", "PATCH", "OPTIONS", "HEAD"]),
    path=st.one_of(
        st.sampled_from(["/metrics", "/healthz", "/api/catalog", "/api/incidents", "/api/incidents/", "/api/chaos", "/api/chaos/pause", "/api/chaos/resume", "/nope"]),
        VALUES.map(lambda v: f"/api/incidents/{str(v)[:200]}"),
    ),
    by=st.one_of(st.none(), st.text(max_size=20)),
    host=st.sampled_from(["127.0.0.1", "localhost:8000", "attacker.example", "[::1]:8000"]),
)
def test_any_method_on_any_path(fuzzed: tuple[TestClient, Path], method: str, path: str, by: str | None, host: str) -> None:
    api, log_path = fuzzed
    before = _lines(log_path)
    params = {"by": by} if by is not None else None
    r = api.request(method, path.replace("#", "%23").replace("?", "%3F"), params=params, headers={"Host": host, "Content-Type": "application/json"})
    if method == "HEAD" and r.status_code >= 400:
        return  # a HEAD answer has no body to name the field in
    if check_answer(r.status_code, r.content) is not None and method != "GET":
        assert _lines(log_path) == before
