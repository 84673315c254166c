"""Determinism, seasonality, cause and effect, and speed-independent numbers."""

from __future__ import annotations

import numpy as np

import simulator as sim

CATALOG = sim.load_catalog()
MONDAY = 1_767_571_200.0  # 2026-01-05 00:00 UTC


def test_same_seed_and_clock_give_the_same_numbers() -> None:
    times = MONDAY + np.arange(0, 3600, 15.0)
    a = sim.simulate(CATALOG, 3, times)
    b = sim.simulate(CATALOG, 3, times)
    c = sim.simulate(CATALOG, 4, times)
    np.testing.assert_array_equal(a.request_rate, b.request_rate)
    np.testing.assert_array_equal(a.memory_bytes, b.memory_bytes)
    assert not np.allclose(a.cpu_ratio, c.cpu_ratio)


def test_a_time_gives_the_same_value_whether_asked_alone_or_in_a_long_run() -> None:
    times = MONDAY + np.arange(0, 86400, 60.0)
    long = sim.simulate(CATALOG, 5, times)
    one = sim.simulate(CATALOG, 5, times[[1234]])
    np.testing.assert_array_equal(long.cpu_ratio[1234], one.cpu_ratio[0])
    np.testing.assert_array_equal(long.latency_median_seconds[1234], one.latency_median_seconds[0])


def test_traffic_has_daily_and_weekly_seasonality() -> None:
    times = MONDAY + np.arange(0, 14 * 86400, 300.0)
    frame = sim.simulate(CATALOG, 1, times)
    total = frame.request_rate.sum(1)
    hours = ((times % 86400) / 3600).astype(int)
    by_hour = np.array([total[hours == h].mean() for h in range(24)])
    assert by_hour.argmax() in range(12, 21)  # afternoon / evening peak
    assert by_hour.argmin() in range(1, 7)  # small hours trough
    assert by_hour.max() > 2.0 * by_hour.min()
    day = ((times - MONDAY) // 86400).astype(int) % 7
    weekday = total[day < 5].mean()
    weekend = total[day >= 5].mean()
    assert 0.65 < weekend / weekday < 0.85


def test_cpu_and_latency_rise_with_load() -> None:
    times = MONDAY + np.arange(0, 7 * 86400, 300.0)
    frame = sim.simulate(CATALOG, 2, times)
    for p in range(len(frame.pods)):
        assert np.corrcoef(frame.request_rate[:, p], frame.cpu_ratio[:, p])[0, 1] > 0.9
        assert np.corrcoef(frame.request_rate[:, p], frame.latency_median_seconds[:, p])[0, 1] > 0.5


def test_memory_has_a_gc_sawtooth() -> None:
    times = MONDAY + np.arange(0, 1800, 5.0)
    mem = sim.simulate(CATALOG, 2, times).memory_bytes[:, 0]
    drops = np.diff(mem) < -15e6
    assert 4 <= drops.sum() <= 12  # a collection every 4-6 minutes


def test_live_counters_follow_the_rates() -> None:
    start = MONDAY + 12 * 3600
    live = sim.LiveFleet(CATALOG, 9, start_seconds=start)
    first = live.advance(start + 60, [])
    second = live.advance(start + 360, [])
    increase = second.counters.requests_total[0] - first.counters.requests_total[0]
    rates = sim.simulate(CATALOG, 9, start + 60 + np.arange(300.0)).request_rate
    np.testing.assert_allclose(increase, rates.sum(0), rtol=1e-9)
    assert np.all(second.counters.latency_bucket[0, :, -1] <= second.counters.requests_total[0] + 1e-9)
    assert np.all(np.diff(second.counters.latency_bucket[0], axis=1) >= 0)  # cumulative buckets


def test_live_fleet_is_reproducible_for_the_same_clock_readings() -> None:
    readings = MONDAY + np.array([5.0, 20.0, 20.5, 95.0, 4000.0])
    runs = []
    for _ in range(2):
        live = sim.LiveFleet(CATALOG, 1, start_seconds=MONDAY)
        runs.append([live.advance(t, []).counters.errors_total.copy() for t in readings])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_live_fleet_reports_active_incidents() -> None:
    live = sim.LiveFleet(CATALOG, 1, start_seconds=MONDAY)
    inc = sim.make_incident(CATALOG, id="a", kind="cpu_hog", service="payments", duration_seconds=60, delay_seconds=10, now=MONDAY)
    assert live.advance(MONDAY + 5, [inc]).incidents == ()
    assert live.advance(MONDAY + 30, [inc]).incidents == (inc,)
    assert live.advance(MONDAY + 80, [inc]).incidents == ()


def test_dependency_graph_is_a_dag_with_the_documented_chain() -> None:
    order = CATALOG.topological_order()
    for d in CATALOG.dependencies:
        assert order.index(d.caller) < order.index(d.callee)
    assert "checkout" in CATALOG.upstream("payments")
    assert set(CATALOG.upstream("database")) == {"inventory", "catalog", "checkout", "frontend"}
    assert len(CATALOG.services) >= 5 and all(s.replicas >= 2 for s in CATALOG.services)


def test_live_counters_can_continue_from_a_history() -> None:
    step = 60.0
    times = MONDAY + step * np.arange(100)
    history = sim.integrate(sim.simulate(CATALOG, 4, times), step)
    live = sim.LiveFleet(CATALOG, 4, start_seconds=times[-1] + step, initial=history)
    snap = live.advance(times[-1] + step + 30, [])
    gained = snap.counters.requests_total[0] - history.requests_total[-1]
    expected = sim.simulate(CATALOG, 4, times[-1] + step + np.arange(30.0)).request_rate.sum(0)
    np.testing.assert_allclose(gained, expected, rtol=1e-9)
