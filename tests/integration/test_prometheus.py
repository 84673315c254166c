"""The real Prometheus scrapes the collector; incidents and backfilled history show through its HTTP API."""

from __future__ import annotations

import time

import httpx
import pytest

from plumbing import monitoring as mon

from tests.integration.conftest import HISTORY_HOURS, Stack

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once

CPU = 'avg by (service) (aiops_cpu_utilization_ratio{{service="{service}"}})'


def test_prometheus_scrapes_the_collector(stack: Stack) -> None:
    up = stack.api.poll("up == 1 for the collector", lambda: stack.api.scalar(f'up{{job="{mon.COLLECTOR_JOB}"}}') == 1)
    assert up
    series = stack.api.query('count by (service) (aiops_cpu_utilization_ratio{job="aiops-collector"})')
    assert {s["metric"]["service"] for s in series} >= {"frontend", "checkout", "payments"}


def test_live_samples_carry_the_scrape_labels(stack: Stack) -> None:
    stack.api.poll("a live sample", lambda: stack.api.query("aiops_cpu_utilization_ratio"))
    labels = stack.api.query("aiops_cpu_utilization_ratio")[0]["metric"]
    assert labels["job"] == mon.COLLECTOR_JOB and labels["instance"] == stack.collector.target
    assert {"service", "pod"} <= set(labels)


def test_an_incident_shows_in_its_signal_and_in_the_ground_truth(stack: Stack) -> None:
    api, service = stack.api, "database"
    cpu = CPU.format(service=service)
    active = f'aiops_incident_active{{kind="cpu_hog",service="{service}"}}'
    api.poll("3 s of live cpu before the incident", lambda: (api.scalar(f"count_over_time({cpu}[3s:1s])") or 0) >= 3)
    before = api.scalar(f"max_over_time({cpu}[3s:1s])")
    assert before is not None and api.scalar(active) == 0

    reply = httpx.post(f"{stack.collector.url}/api/incidents", json={"kind": "cpu_hog", "service": service, "duration_seconds": 60})
    assert reply.status_code == 201, reply.text
    try:
        api.poll("aiops_incident_active == 1", lambda: api.scalar(active) == 1, timeout_seconds=20)
        during = api.poll(f"{service} cpu clearly above {before:.2f}", lambda: (v := api.scalar(cpu)) is not None and v > before + 0.2 and v, timeout_seconds=30)
        assert during > before + 0.2
        others = api.scalar(f'max(aiops_incident_active{{service!="{service}"}})')
        assert others == 0, "only the triggered incident is active"
    finally:
        httpx.delete(f"{stack.collector.url}/api/incidents/{reply.json()['id']}")
    api.poll("aiops_incident_active back to 0 after the stop", lambda: api.scalar(active) == 0, timeout_seconds=20)


def test_backfilled_history_can_be_queried(stack: Stack) -> None:
    end = stack.history_end_seconds
    start = end - (HISTORY_HOURS - 0.5) * 3600
    cpu = stack.api.query_range('aiops_cpu_utilization_ratio{service="checkout"}', start, end, 60)
    assert len(cpu) == 2, "one series per checkout pod"
    for series in cpu:
        assert len(series["values"]) >= (end - start) / 60 * 0.95
    rate = stack.api.query_range("sum by (service) (rate(aiops_http_requests_total[5m]))", start + 600, end, 300)
    frontend = next(s for s in rate if s["metric"]["service"] == "frontend")
    assert min(float(v) for _, v in frontend["values"]) > 0


def test_history_and_live_data_are_one_series(stack: Stack) -> None:
    api = stack.api
    selector = 'aiops_memory_usage_bytes{service="checkout",pod="checkout-0"}'
    api.poll("live samples after the history", lambda: (api.scalar(f"count_over_time({selector}[5s])") or 0) >= 2)
    now = time.time()
    result = api.query_range(selector, stack.history_end_seconds - 3600, now, 5)
    assert len(result) == 1, f"history and live should be one series, got {[s['metric'] for s in result]}"
    times = [float(t) for t, _ in result[0]["values"]]
    assert min(times) < stack.history_end_seconds - 1800, "the series reaches back into the history"
    assert max(times) > stack.live_start_seconds, "the series goes on with live samples"
    assert result[0]["metric"]["instance"] == stack.collector.target
