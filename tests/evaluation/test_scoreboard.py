"""The demo's scoreboard: hand-made incidents and flags, scored as the offline evaluation scores."""

from __future__ import annotations

import json

import pytest

from evaluation._matching import GRACE_SECONDS
from evaluation._scoreboard import Scoreboard
from simulator import load_catalog

T0 = 1_800_000_000.0


def _incident(id: str, kind: str, service: str, start: float, duration: float, **extra: object) -> dict:
    return {"id": id, "kind": kind, "service": service, "intensity": 1.0, "start_seconds": T0 + start,
            "duration_seconds": duration, "state": "active", **extra}  # fmt: skip


def _anomaly(t: float, service: str, signal: str, *, onset: bool = True) -> dict:
    return {"timestamp_seconds": T0 + t, "service": service, "signal": signal, "onset": onset, "explanation": f"{service} {signal} high"}


def _detected(id: int, *members: dict, closed: float | None = None, cause: tuple[str, str] = ("", "")) -> dict:
    anomalies = [{k: a[k] for k in ("timestamp_seconds", "service", "signal")} | {"score": 2.0} for a in members]
    return {
        "id": id,
        "opened_seconds": min(a["timestamp_seconds"] for a in members),
        "closed_seconds": None if closed is None else T0 + closed,
        "services": sorted({a["service"] for a in members}),
        "probable_cause": {"service": cause[0], "signal": cause[1]},
        "anomalies": anomalies,
    }


@pytest.fixture
def board() -> Scoreboard:
    return Scoreboard(load_catalog())


def test_the_grace_is_the_offline_evaluations() -> None:
    from evaluation._runner import EvaluationSettings

    assert GRACE_SECONDS == EvaluationSettings.__dataclass_fields__["grace_seconds"].default


def test_a_flag_on_the_service_or_a_direct_caller_detects_it_with_its_time_to_detect(board: Scoreboard) -> None:
    board.add_incidents([_incident("1", "latency_regression", "payments", 30, 120), _incident("2", "cpu_hog", "inventory", 300, 120)])
    on_caller = _anomaly(52, "checkout", "latency")  # checkout calls payments
    later = _anomaly(60, "payments", "latency")
    on_service = _anomaly(318, "inventory", "cpu")
    board.add_anomalies([on_caller, later, on_service])
    board.add_detected([_detected(1, on_caller, later, cause=("payments", "latency")), _detected(2, on_service)])
    s = board.score(T0 + 600)
    assert s.time_to_detect == {"1": pytest.approx(22.0), "2": pytest.approx(18.0)}
    assert s.missed == () and s.false_alarms == () and s.waiting == ()
    assert s.median_time_to_detect_seconds == pytest.approx(20.0)
    assert s.matched_by == {"1": (1,), "2": (2,)}
    assert s.line() == "2/2 detected (median TTD 20 s), 0 missed, 0 false alarms"


def test_a_flag_further_up_the_graph_does_not_detect_and_is_a_false_alarm(board: Scoreboard) -> None:
    board.add_incidents([_incident("1", "latency_regression", "payments", 0, 120)])
    far = _anomaly(20, "frontend", "latency")  # frontend calls checkout, not payments
    board.add_anomalies([far])
    board.add_detected([_detected(7, far)])
    s = board.score(T0 + 100)
    assert s.time_to_detect == {} and s.waiting == ("1",) and s.missed == ()
    assert s.false_alarms == (7,)
    s = board.score(T0 + 120 + GRACE_SECONDS + 1)
    assert s.missed == ("1",) and s.waiting == ()


def test_flags_count_from_start_to_end_plus_the_grace(board: Scoreboard) -> None:
    board.add_incidents([_incident("1", "error_burst", "catalog", 100, 60)])
    early = _anomaly(99, "catalog", "errors")  # before the start
    late = _anomaly(100 + 60 + GRACE_SECONDS, "catalog", "latency")  # exactly at end + grace
    board.add_anomalies([early, late])
    board.add_detected([_detected(1, early), _detected(2, late)])
    s = board.score(T0 + 1000)
    assert s.time_to_detect == {"1": pytest.approx(60 + GRACE_SECONDS)}
    assert s.false_alarms == (1,)


def test_only_onsets_are_flags(board: Scoreboard) -> None:
    """A series already flagged before the incident (no onset inside its window) does not detect it."""
    board.add_incidents([_incident("1", "cpu_hog", "payments", 100, 120)])
    still = _anomaly(130, "payments", "cpu", onset=False)
    first = _anomaly(90, "payments", "cpu")
    assert board.add_anomalies([still, first]) == [first]
    board.add_detected([_detected(1, first, still)])
    s = board.score(T0 + 1000)
    assert s.time_to_detect == {} and s.missed == ("1",) and s.false_alarms == (1,)


def test_pending_incidents_and_ones_stopped_before_they_started_are_not_counted(board: Scoreboard) -> None:
    board.add_incidents([
        _incident("1", "cpu_hog", "payments", 500, 120, state="pending"),
        _incident("2", "cpu_hog", "checkout", 50, 120, stopped_seconds=T0 + 10, state="stopped"),
    ])  # fmt: skip
    assert board.score(T0 + 100).incidents == ()


def test_an_incident_stopped_early_ends_its_window_early(board: Scoreboard) -> None:
    board.add_incidents([_incident("1", "memory_leak", "inventory", 0, 600, stopped_seconds=T0 + 60, stopped_by="remediation")])
    late = _anomaly(60 + GRACE_SECONDS + 5, "inventory", "memory")
    board.add_anomalies([late])
    board.add_detected([_detected(1, late)])
    s = board.score(T0 + 700)
    assert s.missed == ("1",) and s.false_alarms == (1,)


def test_new_onsets_and_detected_incidents_are_reported_once(board: Scoreboard) -> None:
    a = _anomaly(10, "payments", "latency")
    assert board.add_anomalies([a]) == [a]
    assert board.add_anomalies([a]) == []
    opened, closed = board.add_detected([_detected(1, a)])
    assert [d["id"] for d in opened] == [1] and closed == []
    opened, closed = board.add_detected([_detected(1, a, closed=200)])
    assert opened == [] and [d["id"] for d in closed] == [1]
    assert board.add_detected([_detected(1, a, closed=200)]) == ([], [])


def test_the_saved_forms_carry_the_outcomes(board: Scoreboard) -> None:
    board.add_incidents([_incident("1", "latency_regression", "payments", 0, 120), _incident("2", "disk_fill", "database", 0, 60)])
    hit, noise = _anomaly(15, "payments", "latency"), _anomaly(2000, "frontend", "requests")
    board.add_anomalies([hit, noise])
    board.add_detected([_detected(1, hit, cause=("payments", "latency")), _detected(2, noise, cause=("frontend", "requests"))])
    s = board.score(T0 + 3000)
    d = json.loads(json.dumps(s.as_dict()))
    assert (d["incidents"], d["detected"], d["missed"], d["false_alarms"]) == (2, 1, 1, 1)
    first = d["by_incident"][0]
    assert first["outcome"] == "detected" and first["time_to_detect_seconds"] == pytest.approx(15.0)
    assert first["probable_causes"] == [{"service": "payments", "signal": "latency"}]
    assert d["by_incident"][1]["outcome"] == "missed"
    assert [g["id"] for g in d["false_alarm_incidents"]] == [2]
    md = s.markdown()
    assert "1 of 2 incidents detected, 1 missed, 1 false alarms" in md
    assert "| 1 | latency_regression | payments | detected | 15 s | payments latency |" in md
