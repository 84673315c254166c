"""The demo's live view: scrapes of /metrics become per-service rates, a p95 and the incidents."""

from __future__ import annotations

import math

import pytest

from aiops._view import Row, Scrape, histogram_quantile, parse_scrape, render, service_rows


def exposition(requests: float, errors: float, buckets: dict[str, float], cpu: tuple[float, float], active: bool) -> str:
    lines = [
        "# HELP aiops_http_requests_total Requests.",
        "# TYPE aiops_http_requests_total counter",
        f'aiops_http_requests_total{{pod="api-0",service="api"}} {requests / 2}',
        f'aiops_http_requests_total{{pod="api-1",service="api"}} {requests / 2}',
        "# HELP aiops_http_request_errors_total Errors.",
        "# TYPE aiops_http_request_errors_total counter",
        f'aiops_http_request_errors_total{{pod="api-0",service="api"}} {errors}',
        "# HELP aiops_http_request_duration_seconds Latency.",
        "# TYPE aiops_http_request_duration_seconds histogram",
        *(f'aiops_http_request_duration_seconds_bucket{{le="{le}",pod="api-0",service="api"}} {n}' for le, n in buckets.items()),
        f'aiops_http_request_duration_seconds_count{{pod="api-0",service="api"}} {buckets["+Inf"]}',
        f'aiops_http_request_duration_seconds_sum{{pod="api-0",service="api"}} 1.0',
        "# HELP aiops_cpu_utilization_ratio CPU.",
        "# TYPE aiops_cpu_utilization_ratio gauge",
        f'aiops_cpu_utilization_ratio{{pod="api-0",service="api"}} {cpu[0]}',
        f'aiops_cpu_utilization_ratio{{pod="api-1",service="api"}} {cpu[1]}',
        "# HELP aiops_memory_usage_bytes Memory.",
        "# TYPE aiops_memory_usage_bytes gauge",
        'aiops_memory_usage_bytes{pod="api-0",service="api"} 3e8',
        'aiops_memory_usage_bytes{pod="api-1",service="api"} 5e8',
        "# HELP aiops_incident_active Ground truth.",
        "# TYPE aiops_incident_active gauge",
        f'aiops_incident_active{{kind="cpu_hog",service="api"}} {1.0 if active else 0.0}',
        'aiops_incident_active{kind="error_burst",service="api"} 0.0',
    ]
    return "\n".join(lines) + "\n"


def test_a_scrape_sums_counters_and_averages_gauges_by_service() -> None:
    s = parse_scrape(exposition(100, 3, {"0.1": 50, "0.5": 90, "+Inf": 100}, (0.2, 0.4), True), 10.0)
    assert s.requests == {"api": 100} and s.errors == {"api": 3}
    assert s.cpu["api"] == pytest.approx(0.3) and s.memory["api"] == pytest.approx(4e8)
    assert s.buckets["api"][math.inf] == 100
    assert s.incidents == (("cpu_hog", "api"),)


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.5, 0.1), (0.25, 0.05), (0.95, 0.5 + 0.5 * (95 - 90) / (100 - 90)), (0.99, 0.5 + 0.5 * 9 / 10)],
)
def test_histogram_quantile_interpolates_like_promql(q: float, expected: float) -> None:
    assert histogram_quantile(q, {0.1: 50, 0.5: 90, 1.0: 100, math.inf: 100}) == pytest.approx(expected)


def test_histogram_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.95, {0.1: 10, 0.5: 20, math.inf: 100}) == 0.5


def test_histogram_quantile_without_observations_is_nan() -> None:
    assert math.isnan(histogram_quantile(0.95, {0.1: 0, math.inf: 0}))


def test_rows_are_rates_over_the_time_between_two_scrapes() -> None:
    prev = parse_scrape(exposition(100, 3, {"0.1": 50, "0.5": 90, "+Inf": 100}, (0.2, 0.4), False), 10.0)
    cur = parse_scrape(exposition(300, 5, {"0.1": 150, "0.5": 270, "+Inf": 300}, (0.6, 0.8), True), 20.0)
    (row,) = service_rows(cur, prev)
    assert row.requests_per_second == pytest.approx(20.0)
    assert row.error_ratio == pytest.approx(2 / 200)
    assert row.latency_p95_seconds == pytest.approx(histogram_quantile(0.95, {0.1: 100, 0.5: 180, math.inf: 200}))
    assert row.cpu_ratio == pytest.approx(0.7)


def test_the_first_scrape_has_gauges_but_no_rates() -> None:
    cur = parse_scrape(exposition(100, 3, {"0.1": 50, "+Inf": 100}, (0.2, 0.4), False), 10.0)
    (row,) = service_rows(cur, None)
    assert math.isnan(row.requests_per_second) and math.isnan(row.latency_p95_seconds)
    assert row.cpu_ratio == pytest.approx(0.3)


def test_a_counter_reset_counts_from_zero() -> None:
    prev = Scrape(10.0, {"api": 1000.0}, {"api": 0.0}, {}, {}, {})
    cur = Scrape(20.0, {"api": 50.0}, {"api": 0.0}, {}, {}, {})
    assert service_rows(cur, prev)[0].requests_per_second == pytest.approx(5.0)


def test_render_marks_active_incidents_and_announces_the_next_one() -> None:
    rows = [Row("api", 20.0, 0.125, 0.01, 0.7, 4e8), Row("db", math.nan, math.nan, math.nan, 0.1, 1e9)]
    incidents = [
        {"id": "1", "kind": "cpu_hog", "service": "api", "state": "active", "start_seconds": 0, "end_seconds": 130},
        {"id": "2", "kind": "error_burst", "service": "db", "state": "pending", "start_seconds": 160, "end_seconds": 250},
        {"id": "0", "kind": "memory_leak", "service": "db", "state": "ended", "start_seconds": 0, "end_seconds": 50},
    ]
    lines = render(rows, time_seconds=100, incidents=incidents)
    api = next(line for line in lines if " api " in line)
    assert "20.0" in api and "125" in api and "1.00" in api and "70" in api and "400" in api and "<< cpu_hog" in api
    db = next(line for line in lines if " db " in line)
    assert "<<" not in db and " - " in db
    assert any("incident 1: cpu_hog on api, 30 s left" in line for line in lines)
    assert any("next: error_burst on db in 60 s" in line for line in lines)
    assert not any("memory_leak" in line for line in lines)


def test_render_without_incidents_gives_the_hint() -> None:
    lines = render([Row("api", 1.0, 0.1, 0.0, 0.1, 1e8)], time_seconds=0, incidents=[], idle_hint="try aiops incident trigger")
    assert lines[-1].strip() == "no incident active; try aiops incident trigger"
