"""The incident store: append-only JSON-lines log, events with time, restart, crash tolerance, limits."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from collector import ConcurrencyLimit, IncidentStore, UnknownIncident
from simulator import InvalidIncident, load_catalog

from collector_helpers import T0, FakeClock, read_jsonl

CATALOG = load_catalog()


def _store(path: Path, clock: FakeClock) -> IncidentStore:
    return IncidentStore(CATALOG, path, clock=clock)


def test_trigger_logs_triggered_and_started_then_ended_with_time(log_path: Path, clock: FakeClock) -> None:
    with _store(log_path, clock) as store:
        inc = store.trigger(kind="cpu_hog", service="checkout", duration_seconds=60, by="cli")
        assert [r["event"] for r in read_jsonl(log_path)] == ["triggered", "started"]
        clock.advance(59)
        store.catch_up()
        assert len(read_jsonl(log_path)) == 2
        clock.advance(5)
        store.catch_up()
    records = read_jsonl(log_path)
    assert [r["event"] for r in records] == ["triggered", "started", "ended"]
    assert {r["by"] for r in records} == {"cli"}
    assert records[2]["time_seconds"] == inc.end_seconds == T0 + 60  # when it ended, not when it was noticed
    assert records[0]["incident"]["kind"] == "cpu_hog" and records[0]["id"] == inc.id


def test_delayed_incident_starts_when_its_time_comes(log_path: Path, clock: FakeClock) -> None:
    with _store(log_path, clock) as store:
        inc = store.trigger(kind="disk_fill", service="database", duration_seconds=30, delay_seconds=120)
        assert store.active() == []
        clock.advance(125)
        assert [i.id for i in store.active()] == [inc.id]
    assert [(r["event"], r["time_seconds"]) for r in read_jsonl(log_path)] == [
        ("triggered", T0),
        ("started", T0 + 120),
    ]


def test_stop_logs_stopped_early_with_who(log_path: Path, clock: FakeClock) -> None:
    with _store(log_path, clock) as store:
        inc = store.trigger(kind="error_burst", service="payments", duration_seconds=300)
        clock.advance(10)
        stopped = store.stop(inc.id, by="cli")
        assert stopped.state_at(clock()) == "stopped" and stopped.end_seconds == T0 + 10
        with pytest.raises(ValueError, match="already over"):
            store.stop(inc.id)
        with pytest.raises(UnknownIncident):
            store.stop("404")
        clock.advance(1000)
        store.catch_up()
    events = [(r["event"], r["by"]) for r in read_jsonl(log_path)]
    assert events == [("triggered", "api"), ("started", "api"), ("stopped", "cli")]  # no "ended" after a stop


def test_bad_requests_write_nothing(log_path: Path, clock: FakeClock) -> None:
    with _store(log_path, clock) as store:
        store.trigger(kind="cpu_hog", service="checkout")
        before = log_path.read_bytes()
        bad = [
            dict(kind="nope", service="checkout"),
            dict(kind="cpu_hog", service="nowhere"),
            dict(kind="cpu_hog", service="checkout", intensity=99),
            dict(kind="cpu_hog", service="checkout", duration_seconds=-5),
            dict(kind="cpu_hog", service="checkout", delay_seconds="soon"),
            dict(kind="cpu_hog", service="checkout", by="intruder"),
        ]
        for request in bad:
            with pytest.raises(InvalidIncident):
                store.trigger(**request)
        assert log_path.read_bytes() == before


def test_restart_resumes_an_active_incident(log_path: Path, clock: FakeClock) -> None:
    with _store(log_path, clock) as store:
        inc = store.trigger(kind="memory_leak", service="inventory", duration_seconds=600)
        ended = store.trigger(kind="cpu_hog", service="frontend", duration_seconds=20)
    clock.advance(60)  # the collector was down for a minute
    with _store(log_path, clock) as store:
        assert [i.id for i in store.active()] == [inc.id]
        assert store.get(inc.id) == inc
        new = store.trigger(kind="cpu_hog", service="checkout")
        assert int(new.id) == int(ended.id) + 1  # ids continue
    records = read_jsonl(log_path)
    # the end that happened while the collector was down is logged at its true time
    assert ("ended", ended.id, T0 + 20) in [(r["event"], r["id"], r["time_seconds"]) for r in records]


def test_a_stop_survives_a_restart(log_path: Path, clock: FakeClock) -> None:
    with _store(log_path, clock) as store:
        inc = store.trigger(kind="latency_regression", service="database", duration_seconds=600)
        clock.advance(30)
        store.stop(inc.id, by="api")
    clock.advance(30)
    with _store(log_path, clock) as store:
        assert store.active() == []
        assert store.get(inc.id).stopped_by == "api"


def test_truncated_last_line_is_tolerated_and_reported(log_path: Path, clock: FakeClock) -> None:
    with _store(log_path, clock) as store:
        inc = store.trigger(kind="cpu_hog", service="checkout", duration_seconds=600)
    with open(log_path, "a") as f:
        f.write('{"event":"triggered","id":"2","kind":"error_bu')  # a crash mid-write
    with _store(log_path, clock) as store:
        assert len(store.problems) == 1 and "last line" in store.problems[0]
        assert [i.id for i in store.active()] == [inc.id]
        store.trigger(kind="error_burst", service="payments")
    lines = log_path.read_text().splitlines()
    assert lines[2].startswith('{"event":"triggered","id":"2","kind":"error_bu') and lines[2].endswith("error_bu")
    assert json.loads(lines[3])["event"] == "triggered"  # the next event starts on a line of its own
    with _store(log_path, clock) as store:  # and a second restart is fine too
        assert len(store.problems) == 1 and "line 3" in store.problems[0]
        assert sorted(i.kind for i in store.active()) == ["cpu_hog", "error_burst"]


def test_missing_log_starts_empty_in_a_new_directory(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "deep" / "dir" / "incidents.jsonl"
    with _store(path, clock) as store:
        assert store.incidents() == [] and store.problems == ()
    assert path.exists()


def test_concurrent_incident_limit(log_path: Path, clock: FakeClock) -> None:
    limit = CATALOG.max_concurrent_incidents
    with _store(log_path, clock) as store:
        for i in range(limit):
            store.trigger(kind="cpu_hog", service=CATALOG.service_names[i % 6], duration_seconds=100)
        before = log_path.read_bytes()
        with pytest.raises(ConcurrencyLimit) as err:
            store.trigger(kind="disk_fill", service="database", duration_seconds=100)
        assert err.value.field == "max_concurrent_incidents" and err.value.allowed == {"max": limit}
        assert log_path.read_bytes() == before
        # one that starts after they end is fine, and so is one after an early stop
        store.trigger(kind="disk_fill", service="database", duration_seconds=100, delay_seconds=100)
        store.stop("1")
        store.trigger(kind="disk_fill", service="database", duration_seconds=50)


def test_delayed_incidents_count_only_where_they_overlap(log_path: Path, clock: FakeClock) -> None:
    with _store(log_path, clock) as store:
        # a scenario posts its whole timeline up front: ten incidents one after the other
        for i in range(10):
            store.trigger(kind="cpu_hog", service="checkout", duration_seconds=60, delay_seconds=60 * i)
        assert len(store.incidents()) == 10


def test_concurrent_triggers_keep_the_log_valid(log_path: Path, clock: FakeClock) -> None:
    with _store(log_path, clock) as store:
        errors: list[Exception] = []

        def worker(n: int) -> None:
            for k in range(10):
                try:
                    inc = store.trigger(kind="cpu_hog", service="frontend", duration_seconds=10, delay_seconds=20 * (n * 10 + k + 1))
                    store.stop(inc.id)
                except Exception as exc:  # pragma: no cover - reported below
                    errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
    records = read_jsonl(log_path)
    assert len(records) == 80
    assert len({r["id"] for r in records if r["event"] == "triggered"}) == 40
