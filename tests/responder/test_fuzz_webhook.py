"""Property-based: no notification gets a 5xx or breaks /metrics or /api/alerts; every 4xx names the field; nothing refused is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from responder import Responder, create_app

from fuzz_helpers import FUZZ, VALUES, check_answer, raw_bodies

ALERT = {"status": "firing", "labels": {"alertname": "AIOpsIncidentDetected", "service": "checkout", "cause_signal": "memory"}, "annotations": {}}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Responder, list]]:
    calls: list = []

    def collector(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"ended": []})

    r = Responder(log_path=tmp_path_factory.mktemp("fuzz") / "alerts.jsonl", collector_url="http://collector.test", remediate=True,
                  clock=lambda: 1000.0, transport=httpx.MockTransport(collector))
    yield TestClient(create_app(r), base_url="http://127.0.0.1"), r, calls


alerts = st.lists(st.one_of(st.just(ALERT), VALUES, st.fixed_dictionaries({"status": VALUES, "labels": VALUES})), max_size=3)


@FUZZ
@given(req=st.one_of(raw_bodies({"status": "firing", "alerts": [ALERT]}), alerts.map(lambda a: (__import__("json").dumps({"status": "firing", "alerts": a}).encode(), "application/json"))))
def test_post_alertmanager(fuzzed: tuple[TestClient, Responder, list], req: tuple[bytes, str | None]) -> None:
    client, responder, _ = fuzzed
    before = len(responder.records)
    body, ctype = req
    r = client.post("/alertmanager", content=body, headers={"Content-Type": ctype} if ctype else {})
    if check_answer(r.status_code, r.content) is not None:
        assert len(responder.records) == before
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/alerts").status_code == 200
