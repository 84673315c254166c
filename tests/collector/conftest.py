"""Fixtures for the collector's tests: a fake clock, a fresh runtime and an API client on it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from collector import CollectorRuntime, CollectorSettings, create_app
from simulator import load_catalog

from collector_helpers import FakeClock

@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def catalog():
    return load_catalog()


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "incidents.jsonl"


@pytest.fixture
def runtime(clock: FakeClock, log_path: Path) -> Iterator[CollectorRuntime]:
    rt = CollectorRuntime(CollectorSettings(
            log_path=log_path, chaos_every_seconds=600, seed=3, token="runner-token", responder_token="responder-token"
        ), clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def api(runtime: CollectorRuntime) -> TestClient:
    return TestClient(create_app(runtime=runtime, scheduler=False), base_url="http://127.0.0.1")
