"""The detector's own metrics, built fresh per scrape from the latest cycle's snapshot.

One metric per quantity (expected value, bounds, score, flag are separate
metrics), labelled by ``service`` and ``signal`` only: no ids, no timestamps.

When the detector knows the collector it also serves the workshop's scoreboard
(:class:`ScoreboardOutput`, scored by :class:`evaluation.Scoreboard`):
``aiops_scoreboard_incidents{outcome}`` (detected, missed, waiting),
``aiops_scoreboard_false_alarms`` and the summary ``aiops_scoreboard_time_to_detect_seconds``
(its median as ``quantile="0.5"``, with ``_sum`` and ``_count``), so Grafana, the console
and the demo can read the same numbers.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

__all__ = ["SCOREBOARD_OUTCOMES", "DetectorCollector", "DetectorSnapshot", "ScoreboardOutput", "SeriesOutput"]

#: The outcomes of a ground-truth incident on the scoreboard (the ``outcome`` label).
SCOREBOARD_OUTCOMES = ("detected", "missed", "waiting")


@dataclass(frozen=True, kw_only=True)
class SeriesOutput:
    """The latest scored point of one (service, signal) series."""

    expected: float
    lower: float
    upper: float
    score: float
    anomaly: bool


@dataclass(frozen=True, kw_only=True)
class ScoreboardOutput:
    """The workshop's scoreboard as the detector last scored it (see :mod:`evaluation._scoreboard`)."""

    detected: int = 0
    missed: int = 0
    waiting: int = 0
    false_alarms: int = 0
    time_to_detect_seconds: tuple[float, ...] = ()  # one per detected incident


@dataclass(frozen=True, kw_only=True)
class DetectorSnapshot:
    """What the detector knows after its latest cycle."""

    series: Mapping[tuple[str, str], SeriesOutput] = field(default_factory=dict)
    active_incidents: tuple[tuple[str, str], ...] = ()  # (service, cause_signal) of open detected incidents
    warmup_ratio: float = 0.0
    last_success_seconds: float | None = None
    last_run_duration_seconds: float | None = None
    runs_total: Mapping[str, int] = field(default_factory=dict)  # outcome -> count
    settling: bool = False
    last_fit_seconds: float | None = None
    last_fit_duration_seconds: float | None = None
    scoreboard: ScoreboardOutput | None = None  # None: the detector does not know the collector
    rebaselines_total: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (service, signal) -> changes accepted


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
        yield GaugeMetricFamily(
            "aiops_detector_settling",
            "1 while the rate windows are still filling with live samples (after a start or a scrape gap): nothing is scored.",
            value=1.0 if snap.settling else 0.0,
        )
        fit = GaugeMetricFamily("aiops_detector_fit_duration_seconds", "How long the last successful fit of the baselines took.")
        if snap.last_fit_duration_seconds is not None:
            fit.add_metric([], snap.last_fit_duration_seconds)
        yield fit
        fitted = GaugeMetricFamily("aiops_detector_last_fit_timestamp_seconds", "When the baselines were last fitted.")
        if snap.last_fit_seconds is not None:
            fitted.add_metric([], snap.last_fit_seconds)
        yield fitted
        rebaselines = CounterMetricFamily(
            "aiops_detector_rebaselines",
            "Lasting changes the online loop accepted as the new normal (its re-baseline rule), per series.",
            labels=labels,
        )
        for (service, signal), n in sorted(snap.rebaselines_total.items()):
            rebaselines.add_metric([service, signal], float(n))
        yield rebaselines
        if snap.scoreboard is not None:
            yield from _scoreboard_families(snap.scoreboard)


def _scoreboard_families(board: ScoreboardOutput) -> Iterator[Metric]:
    incidents = GaugeMetricFamily(
        "aiops_scoreboard_incidents",
        "Ground-truth incidents started since the detector began scoring, by outcome (detected, missed, waiting: still in its window).",
        labels=["outcome"],
    )
    for outcome in SCOREBOARD_OUTCOMES:
        incidents.add_metric([outcome], float(getattr(board, outcome)))
    yield incidents
    yield GaugeMetricFamily(
        "aiops_scoreboard_false_alarms", "Detected incidents that match no ground-truth incident.", value=float(board.false_alarms)
    )
    ttd = board.time_to_detect_seconds
    summary = SummaryMetricFamily(
        "aiops_scoreboard_time_to_detect_seconds",
        "Time from an incident's start to its first matching flag, over the detected incidents (quantile 0.5: the median).",
        count_value=len(ttd),
        sum_value=float(sum(ttd)),
    )
    if ttd:
        summary.add_sample("aiops_scoreboard_time_to_detect_seconds", {"quantile": "0.5"}, float(statistics.median(ttd)))
    yield summary
