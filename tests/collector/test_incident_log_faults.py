"""The incident log never lies: a refused write changes nothing, a vanished or replaced file is caught first."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector import CollectorRuntime, CollectorSettings, IncidentStore, LogUnavailable, create_app
from simulator import load_catalog

from collector_helpers import FakeClock, read_jsonl

CATALOG = load_catalog()


class FlakyWrite:
    """``os.write`` that fails with ``errno`` while ``failing`` is set."""

    def __init__(self, err: int = errno.ENOSPC) -> None:
        self.failing = False
        self.err = err

    def __call__(self, fd: int, data: bytes) -> int:
        if self.failing:
            raise OSError(self.err, os.strerror(self.err))
        return os.write(fd, data)


def test_a_failed_write_changes_nothing_and_nothing_is_written_later(log_path: Path, clock: FakeClock) -> None:
    write = FlakyWrite()
    with IncidentStore(CATALOG, log_path, clock=clock, write=write) as store:
        first = store.trigger(kind="cpu_hog", service="checkout", duration_seconds=60)
        before = log_path.read_bytes()
        write.failing = True
        with pytest.raises(LogUnavailable, match="No space left"):
            store.trigger(kind="memory_leak", service="payments", duration_seconds=60)
        with pytest.raises(LogUnavailable):
            store.stop(first.id)
        assert [i.id for i in store.incidents()] == [first.id]  # no ghost, not stopped
        assert store.active()[0].id == first.id
        clock.advance(120)  # the end is due but cannot be written: reads still answer
        assert store.active() == [] and store.write_problem is not None
        assert log_path.read_bytes() == before
        write.failing = False
        second = store.trigger(kind="memory_leak", service="payments", duration_seconds=60)
        assert store.write_problem is None
    events = [(r["event"], r["id"]) for r in read_jsonl(log_path)]
    # the end waited for the log and was written once; the refused trigger never appears; no id twice
    assert events == [("triggered", "1"), ("started", "1"), ("ended", "1"), ("triggered", "2"), ("started", "2")]
    assert second.id == "2"


def test_a_deleted_log_folder_refuses_every_write_until_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "logs" / "incidents.jsonl"
    with IncidentStore(CATALOG, path, clock=clock) as store:
        store.trigger(kind="cpu_hog", service="checkout", duration_seconds=60)
        shutil.rmtree(tmp_path / "logs")
        with pytest.raises(LogUnavailable, match="deleted"):
            store.trigger(kind="error_burst", service="payments")
        path.parent.mkdir()  # a new folder does not bring the old file back
        with pytest.raises(LogUnavailable, match="deleted|replaced"):
            store.trigger(kind="error_burst", service="payments")
        assert len(store.incidents()) == 1
    assert not path.exists() or read_jsonl(path) == []


def test_health_notices_a_deleted_log_before_any_write(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "logs" / "incidents.jsonl"
    rt = CollectorRuntime(CollectorSettings(log_path=path, seed=3), clock=clock)
    try:
        api = TestClient(create_app(runtime=rt, scheduler=False), base_url="http://127.0.0.1")
        assert api.get("/healthz").json()["status"] == "ok"
        shutil.rmtree(tmp_path / "logs")
        assert api.get("/healthz").json()["status"] == "writes refused"  # said before anyone tries to write
    finally:
        rt.close()


def test_a_replaced_log_file_is_caught_before_the_next_write(log_path: Path, clock: FakeClock) -> None:
    with IncidentStore(CATALOG, log_path, clock=clock) as store:
        store.trigger(kind="cpu_hog", service="checkout", duration_seconds=60)
        log_path.rename(log_path.with_suffix(".1"))  # rotated
        log_path.mkdir()  # and the path is now something else entirely
        with pytest.raises(LogUnavailable, match="replaced"):
            store.trigger(kind="error_burst", service="payments")
    assert [r["event"] for r in read_jsonl(log_path.with_suffix(".1"))] == ["triggered", "started"]


def test_the_api_answers_503_and_keeps_reading_while_writes_are_refused(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "logs" / "incidents.jsonl"
    rt = CollectorRuntime(CollectorSettings(log_path=path, seed=3), clock=clock)
    try:
        api = TestClient(create_app(runtime=rt, scheduler=False), base_url="http://127.0.0.1")
        assert api.post("/api/incidents", json={"kind": "cpu_hog", "service": "checkout"}).status_code == 201
        shutil.rmtree(tmp_path / "logs")
        r = api.post("/api/incidents", json={"kind": "error_burst", "service": "payments"})
        assert r.status_code == 503 and r.json()["field"] == "log" and "deleted" in r.json()["error"]
        assert api.delete("/api/incidents/1").status_code == 503
        assert api.delete("/api/incidents").status_code == 503
        clock.advance(3600)
        assert api.get("/metrics").status_code == 200
        assert len(api.get("/api/incidents").json()["incidents"]) == 1
        health = api.get("/healthz").json()
        assert health["status"] == "writes refused" and "deleted" in health["writes_refused"]
    finally:
        rt.close()


def test_ids_are_never_reused_after_a_restart(log_path: Path, clock: FakeClock) -> None:
    write = FlakyWrite(errno.EIO)
    with IncidentStore(CATALOG, log_path, clock=clock, write=write) as store:
        store.trigger(kind="cpu_hog", service="checkout", duration_seconds=10)
        write.failing = True
        with pytest.raises(LogUnavailable):
            store.trigger(kind="cpu_hog", service="frontend", duration_seconds=10)
    with IncidentStore(CATALOG, log_path, clock=clock) as store:
        assert store.trigger(kind="error_burst", service="payments").id == "2"
    ids = [r["id"] for r in read_jsonl(log_path) if r["event"] == "triggered"]
    assert ids == ["1", "2"]


def test_only_recent_ended_incidents_stay_in_memory(log_path: Path, clock: FakeClock) -> None:
    with IncidentStore(CATALOG, log_path, clock=clock, keep_ended=5) as store:
        for _ in range(30):
            inc = store.trigger(kind="cpu_hog", service="checkout", duration_seconds=60)
            clock.advance(1)
            store.stop(inc.id)
        assert [i.id for i in store.incidents()] == [str(n) for n in range(26, 31)]
        assert store.trigger(kind="cpu_hog", service="checkout").id == "31"
    with IncidentStore(CATALOG, log_path, clock=clock, keep_ended=5) as store:  # after a restart too
        assert len(store.incidents()) == 6
    assert sum(r["event"] == "triggered" for r in read_jsonl(log_path)) == 31  # the log keeps them all


def test_a_chaos_round_is_skipped_while_the_log_refuses_writes(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "logs" / "incidents.jsonl"
    rt = CollectorRuntime(CollectorSettings(log_path=path, seed=3, chaos_every_seconds=60), clock=clock)
    try:
        shutil.rmtree(tmp_path / "logs")
        assert rt.chaos.run_round() is None and "deleted" in rt.chaos.status()["last"]["skipped"]
        assert rt.store.incidents() == []
    finally:
        rt.close()
