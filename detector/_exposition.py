"""The detector's own metrics, built fresh per scrape from the latest cycle's snapshot.

One metric per quantity (expected value, bounds, score, flag are separate
metrics), labelled by ``service`` and ``signal`` only: no ids, no timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["DetectorCollector", "DetectorSnapshot", "SeriesOutput"]


@dataclass(frozen=True, kw_only=True)
class SeriesOutput:
    """The latest scored point of one (service, signal) series."""

    expected: float
    lower: float
    upper: float
    score: float
    anomaly: bool


@dataclass(frozen=True, kw_only=True)
class DetectorSnapshot:
    """What the detector knows after its latest cycle."""

    series: Mapping[tuple[str, str], SeriesOutput] = field(default_factory=dict)
    active_incidents: tuple[tuple[str, str], ...] = ()  # (service, cause_signal) of open detected incidents
    warmup_ratio: float = 0.0
    last_success_seconds: float | None = None
    last_run_duration_seconds: float | None = None
    runs_total: Mapping[str, int] = field(default_factory=dict)  # outcome -> count


class DetectorCollector(Collector):
    """A prometheus_client collector over ``snapshot()`` (called once per scrape)."""

    def __init__(self, snapshot: Callable[[], DetectorSnapshot], services: tuple[str, ...] = ()) -> None:
        self._snapshot = snapshot
        self._services = services

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        labels = ["service", "signal"]
        per_series = {
            "expected_value": ("aiops_detector_expected_value", "What the baseline expects the signal to be now.", lambda o: o.expected),
            "lower": ("aiops_detector_lower_bound", "Lower edge of the band (anomaly score 1 below the expected value).", lambda o: o.lower),
            "upper": ("aiops_detector_upper_bound", "Upper edge of the band (anomaly score 1 above the expected value).", lambda o: o.upper),
            "score": ("aiops_detector_anomaly_score", "Anomaly score: below 1 is normal, 1 or more is anomalous.", lambda o: o.score),
            "flag": ("aiops_detector_anomaly", "1 while the signal is flagged anomalous (after debounce), else 0.", lambda o: 1.0 if o.anomaly else 0.0),
        }
        for name, help_text, get in per_series.values():
            fam = GaugeMetricFamily(name, help_text, labels=labels)
            for (service, signal), out in sorted(snap.series.items()):
                fam.add_metric([service, signal], float(get(out)))
            yield fam
        inc = GaugeMetricFamily(
            "aiops_detector_incident_active",
            "1 while a detected incident is open; labelled by its probable cause.",
            labels=["service", "cause_signal"],
        )
        for service, cause in sorted(set(snap.active_incidents)):
            inc.add_metric([service, cause], 1.0)
        yield inc
        yield GaugeMetricFamily(
            "aiops_detector_warmup_ratio", "History available over history needed before flagging (1 = warmed up).", value=snap.warmup_ratio
        )
        last = GaugeMetricFamily("aiops_detector_last_success_timestamp_seconds", "When the last detection cycle succeeded.")
        if snap.last_success_seconds is not None:
            last.add_metric([], snap.last_success_seconds)
        yield last
        dur = GaugeMetricFamily("aiops_detector_run_duration_seconds", "How long the last detection cycle took.")
        if snap.last_run_duration_seconds is not None:
            dur.add_metric([], snap.last_run_duration_seconds)
        yield dur
        runs = CounterMetricFamily("aiops_detector_runs", "Detection cycles by outcome.", labels=["outcome"])
        for outcome in sorted(set(snap.runs_total) | {"success", "failure", "warming_up"}):
            runs.add_metric([outcome], float(snap.runs_total.get(outcome, 0)))
        yield runs
