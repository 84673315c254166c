"""Correlation: one detected incident per failure, with the probable cause where the failure started."""

from __future__ import annotations

from model._correlate import Anomaly, Correlator
from simulator import load_catalog

EDGES = [(d.caller, d.callee) for d in load_catalog().dependencies]


def a(t: float, service: str, signal: str, score: float = 2.0) -> Anomaly:
    return Anomaly(timestamp_seconds=t, service=service, signal=signal, score=score)


def test_a_cascading_outage_is_one_incident_caused_by_the_deepest_service() -> None:
    c = Correlator(EDGES)
    c.update(100, [a(100, "checkout", "errors"), a(100, "frontend", "errors")])
    c.update(110, [a(105, "inventory", "errors"), a(110, "database", "errors", 5.0), a(110, "database", "latency", 3.0)])
    [inc] = c.open_incidents()
    assert inc.services == {"checkout", "frontend", "inventory", "database"}
    assert (inc.cause_service, inc.cause_signal) == ("database", "errors")


def test_unrelated_services_and_distant_times_make_separate_incidents() -> None:
    c = Correlator(EDGES, join_window_seconds=120)
    c.update(100, [a(100, "payments", "latency")])
    c.update(100, [a(100, "catalog", "memory")])  # catalog and payments share no edge
    c.update(1000, [a(1000, "payments", "latency")])  # too late to join
    assert len(c.incidents) == 3


def test_hysteresis_keeps_an_incident_open_through_short_gaps_then_closes_it() -> None:
    c = Correlator(EDGES, close_after_seconds=180)
    c.update(0, [a(0, "payments", "cpu")])
    c.update(150, [a(150, "payments", "cpu")])  # a gap shorter than the close delay
    c.update(300, [])
    assert len(c.incidents) == 1 and c.incidents[0].is_open
    c.update(331, [])
    assert not c.incidents[0].is_open and c.incidents[0].closed_seconds == 150


def test_a_traffic_surge_is_blamed_on_the_furthest_upstream_service() -> None:
    c = Correlator(EDGES)
    c.update(60, [a(60, "catalog", "requests"), a(60, "database", "cpu", 4.0), a(55, "frontend", "requests"), a(70, "database", "requests")])
    [inc] = c.open_incidents()
    assert (inc.cause_service, inc.cause_signal) == ("frontend", "requests")


def test_an_anomaly_bridging_two_incidents_merges_them() -> None:
    c = Correlator(EDGES)
    c.update(0, [a(0, "payments", "latency"), a(0, "inventory", "errors")])
    assert len(c.open_incidents()) == 2
    c.update(10, [a(10, "checkout", "latency")])  # calls both
    [inc] = c.open_incidents()
    assert inc.services == {"payments", "inventory", "checkout"}


def test_a_resource_signal_is_the_cause_before_the_symptoms_it_produces() -> None:
    c = Correlator(EDGES)
    c.update(60, [a(60, "payments", "latency", 9.0), a(60, "payments", "cpu", 3.0), a(60, "checkout", "latency")])
    [inc] = c.open_incidents()
    assert (inc.cause_service, inc.cause_signal) == ("payments", "cpu")
