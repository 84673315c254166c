"""The detector's metrics: names, labels and values as a scrape sees them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from detector._exposition import DetectorCollector, DetectorSnapshot, SeriesOutput


def registry_for(snap: DetectorSnapshot) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(DetectorCollector(lambda: snap))
    return reg


def test_every_output_is_its_own_metric_labelled_by_service_and_signal() -> None:
    snap = DetectorSnapshot(
        series={("checkout", "latency"): SeriesOutput(expected=0.1, lower=0.05, upper=0.2, score=3.5, anomaly=True)},
        active_incidents=(("database", "errors"),),
        warmup_ratio=1.0,
        last_success_seconds=1000.0,
        last_run_duration_seconds=0.25,
        runs_total={"success": 4, "failure": 1},
    )
    reg = registry_for(snap)
    def get(name: str, labels: dict[str, str] | None = None) -> float | None:  # every sample carries the detector's role
        return reg.get_sample_value(name, {**(labels or {}), "model": "online"})

    labels = {"service": "checkout", "signal": "latency"}
    assert get("aiops_detector_expected_value", labels) == 0.1
    assert get("aiops_detector_lower_bound", labels) == 0.05
    assert get("aiops_detector_upper_bound", labels) == 0.2
    assert get("aiops_detector_anomaly_score", labels) == 3.5
    assert get("aiops_detector_anomaly", labels) == 1.0
    assert get("aiops_detector_incident_active", {"service": "database", "cause_signal": "errors"}) == 1.0
    assert get("aiops_detector_warmup_ratio") == 1.0
    assert get("aiops_detector_last_success_timestamp_seconds") == 1000.0
    assert get("aiops_detector_run_duration_seconds") == 0.25
    assert get("aiops_detector_runs_total", {"outcome": "failure"}) == 1.0
    assert get("aiops_detector_runs_total", {"outcome": "warming_up"}) == 0.0


def test_exposition_parses_back_and_labels_carry_no_ids() -> None:
    snap = DetectorSnapshot(series={("a", "cpu"): SeriesOutput(expected=1, lower=0, upper=2, score=0.1, anomaly=False)})
    text = generate_latest(registry_for(snap)).decode()
    families = list(text_string_to_metric_families(text))
    for fam in families:
        assert fam.name.startswith("aiops_detector_")
        for sample in fam.samples:
            assert set(sample.labels) <= {"service", "signal", "cause_signal", "outcome", "model"}
            assert sample.labels.get("model") == "online"
    assert "\naiops_detector_last_success_timestamp_seconds " not in text  # no sample until a cycle succeeds
