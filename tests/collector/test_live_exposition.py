"""The live exposition: fresh per scrape, Prometheus naming, parses back, promtool-clean."""

from __future__ import annotations

import subprocess

import pytest

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from collector import FAMILIES, FleetCollector, exposition_registry
from simulator import LATENCY_BUCKETS_SECONDS, LiveFleet, load_catalog, make_incident

from collector_helpers import T0, FakeClock

CATALOG = load_catalog()


def _registry(clock: FakeClock, incidents: list) -> CollectorRegistry:
    fleet = LiveFleet(CATALOG, 7, start_seconds=T0)
    return exposition_registry(CATALOG, lambda: fleet.advance(clock(), incidents))


def _incident(kind: str = "cpu_hog", service: str = "checkout", now: float = T0):
    return make_incident(CATALOG, id="1", kind=kind, service=service, duration_seconds=300, now=now)


def test_registry_is_fresh_and_global_registry_untouched() -> None:
    from prometheus_client import REGISTRY

    before = {m.name for m in REGISTRY.collect()}
    _registry(FakeClock(), [])
    assert not any(n.startswith("aiops_") for n in before | {m.name for m in REGISTRY.collect()})


def test_samples_readable_from_a_fresh_registry() -> None:
    clock = FakeClock(T0 + 60)
    reg = _registry(clock, [_incident()])
    assert reg.get_sample_value("aiops_incident_active", {"kind": "cpu_hog", "service": "checkout"}) == 1.0
    assert reg.get_sample_value("aiops_incident_active", {"kind": "cpu_hog", "service": "payments"}) == 0.0
    requests = reg.get_sample_value("aiops_http_requests_total", {"service": "frontend", "pod": "frontend-0"})
    assert requests is not None and requests > 0
    cpu = reg.get_sample_value("aiops_cpu_utilization_ratio", {"service": "checkout", "pod": "checkout-0"})
    assert 0.0 < cpu < 1.0
    assert reg.get_sample_value("aiops_disk_capacity_bytes", {"service": "database", "pod": "database-0"}) == 100e9


def test_each_scrape_builds_new_families_from_the_clock() -> None:
    clock = FakeClock(T0 + 60)
    incidents: list = []
    reg = _registry(clock, incidents)
    labels = {"service": "frontend", "pod": "frontend-0"}
    first = reg.get_sample_value("aiops_http_requests_total", labels)
    clock.advance(30)
    incidents.append(_incident("error_burst", "payments", now=clock()))
    second = reg.get_sample_value("aiops_http_requests_total", labels)
    assert second > first
    assert reg.get_sample_value("aiops_incident_active", {"kind": "error_burst", "service": "payments"}) == 1.0
    clock.advance(400)  # the incident is over
    assert reg.get_sample_value("aiops_incident_active", {"kind": "error_burst", "service": "payments"}) == 0.0


def test_every_kind_and_service_has_an_incident_active_series() -> None:
    text = generate_latest(_registry(FakeClock(T0 + 10), [])).decode()
    active = next(f for f in text_string_to_metric_families(text) if f.name == "aiops_incident_active")
    pairs = {(s.labels["kind"], s.labels["service"]) for s in active.samples}
    assert pairs == {(k, s) for k in CATALOG.kind_names for s in CATALOG.service_names}
    assert {s.value for s in active.samples} == {0.0}


def test_exposition_parses_back_with_the_conventions() -> None:
    text = generate_latest(_registry(FakeClock(T0 + 120), [_incident()])).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # the prometheus parser names counters without _total
    assert set(families) == {f.name for f in FAMILIES}
    pods = {p for s in CATALOG.services for p in s.pods}
    for f in FAMILIES:
        parsed = families[f.name]
        assert parsed.type == f.type
        assert parsed.documentation
        for s in parsed.samples:
            assert "instance" not in s.labels and "job" not in s.labels
            if f.name != "aiops_incident_active":
                assert s.labels["pod"] in pods and s.labels["pod"].startswith(s.labels["service"] + "-")
            if f.type == "counter":
                assert s.name.endswith("_total")
            else:
                assert not s.name.endswith("_total")
            if f.unit:
                assert f.name.endswith("_" + f.unit)
    assert "aiops_http_requests_total" in text and "aiops_http_request_errors_total" in text


def test_histogram_is_consistent() -> None:
    text = generate_latest(_registry(FakeClock(T0 + 120), [])).decode()
    hist = next(f for f in text_string_to_metric_families(text) if f.name == "aiops_http_request_duration_seconds")
    labels = {"service": "checkout", "pod": "checkout-1"}
    mine = [s for s in hist.samples if all(s.labels.get(k) == v for k, v in labels.items())]
    buckets = [s for s in mine if s.name.endswith("_bucket")]
    assert [float(s.labels["le"]) for s in buckets] == [*LATENCY_BUCKETS_SECONDS, float("inf")]
    values = [s.value for s in buckets]
    assert values == sorted(values) and values[0] >= 0
    count = next(s.value for s in mine if s.name.endswith("_count"))
    total = next(s.value for s in mine if s.name.endswith("_sum"))
    assert values[-1] == count > 0 and total > 0


def test_openmetrics_exposition_parses_back() -> None:
    text = generate_openmetrics(_registry(FakeClock(T0 + 120), [])).decode()
    assert text.endswith("# EOF\n")
    names = {f.name for f in parse_openmetrics(text)}
    assert names == {f.name for f in FAMILIES}


def test_describe_names_the_families_without_a_scrape() -> None:
    calls = []
    collector = FleetCollector(CATALOG, lambda: calls.append(1))  # type: ignore[arg-type,return-value]
    assert [m.name for m in collector.describe()] == [f.name for f in FAMILIES]
    assert calls == []


@pytest.mark.integration
def test_promtool_check_metrics_is_clean(promtool_bin: str) -> None:
    promtool = promtool_bin
    text = generate_latest(_registry(FakeClock(T0 + 120), [_incident()]))
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().strip() == "" and result.stderr.decode().strip() == ""
