"""The detector's own metrics, built fresh per scrape from the latest cycle's snapshot.

One metric per quantity (expected value, bounds, score, flag are separate
metrics), labelled by ``service``, ``signal`` and ``model``: no ids, no timestamps.
``model`` is the detector's role, ``online`` (the loop that refits itself) or
``champion`` (the frozen model from the registry), on every metric it serves, so two
detectors scraped by one Prometheus never mix. The champion-serving detector also serves
``aiops_detector_champion_info{model_name,version,data_window}`` and
``aiops_detector_registry_up`` (0 while the registry cannot be read).

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

__all__ = ["MODEL_ROLES", "SCOREBOARD_OUTCOMES", "ChampionOutput", "RegisteredVersion", "DetectorCollector", "DetectorSnapshot", "ScoreboardOutput", "SeriesOutput"]

#: The ``model`` label: which detector a series comes from.
MODEL_ROLES = ("online", "champion")

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
class ChampionOutput:
    """The registered version the champion-serving detector scores with."""

    model_name: str
    version: str
    data_window: str = ""


@dataclass(frozen=True, kw_only=True)
class RegisteredVersion:
    """One registered version of the model: when training registered it and the gate's verdict."""

    model_name: str
    version: str
    created_seconds: float
    gate: str = ""  # promote / refuse, from the version's tags
    candidate: str = ""


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
    model: str = "online"  # the ``model`` label: online or champion
    champion: ChampionOutput | None = None  # the version served (the champion role only)
    registry_up: bool | None = None  # None: no registry (the online role)
    registered: tuple[RegisteredVersion, ...] = ()  # every version in the registry (the champion role)
    rebaselines_total: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (service, signal) -> changes accepted


class DetectorCollector(Collector):
    """A prometheus_client collector over ``snapshot()`` (called once per scrape)."""

    def __init__(self, snapshot: Callable[[], DetectorSnapshot], services: tuple[str, ...] = ()) -> None:
        self._snapshot = snapshot
        self._services = services

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        m = snap.model
        labels = ["service", "signal", "model"]
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
                fam.add_metric([service, signal, m], float(get(out)))
            yield fam
        inc = GaugeMetricFamily(
            "aiops_detector_incident_active",
            "1 while a detected incident is open; labelled by its probable cause.",
            labels=["service", "cause_signal", "model"],
        )
        for service, cause in sorted(set(snap.active_incidents)):
            inc.add_metric([service, cause, m], 1.0)
        yield inc
        yield _gauge("aiops_detector_warmup_ratio", "History available over history needed before flagging (1 = warmed up).", m, snap.warmup_ratio)
        yield _gauge("aiops_detector_last_success_timestamp_seconds", "When the last detection cycle succeeded.", m, snap.last_success_seconds)
        yield _gauge("aiops_detector_run_duration_seconds", "How long the last detection cycle took.", m, snap.last_run_duration_seconds)
        runs = CounterMetricFamily("aiops_detector_runs", "Detection cycles by outcome.", labels=["outcome", "model"])
        for outcome in sorted(set(snap.runs_total) | {"success", "failure", "warming_up"}):
            runs.add_metric([outcome, m], float(snap.runs_total.get(outcome, 0)))
        yield runs
        yield _gauge(
            "aiops_detector_settling",
            "1 while the rate windows are still filling with live samples (after a start or a scrape gap): nothing is scored.",
            m,
            1.0 if snap.settling else 0.0,
        )
        yield _gauge("aiops_detector_fit_duration_seconds", "How long the last successful fit of the baselines took.", m, snap.last_fit_duration_seconds)
        yield _gauge("aiops_detector_last_fit_timestamp_seconds", "When the baselines were last fitted.", m, snap.last_fit_seconds)
        if snap.registry_up is not None:
            yield _gauge("aiops_detector_registry_up", "1 while the model registry answers, 0 when it cannot be read (the last champion keeps serving).", m, 1.0 if snap.registry_up else 0.0)
            info = GaugeMetricFamily(
                "aiops_detector_champion_info",
                "The registered version the champion-serving detector scores with (1), and its data window.",
                labels=["model", "model_name", "version", "data_window"],
            )
            if snap.champion is not None:
                info.add_metric([m, snap.champion.model_name, snap.champion.version, snap.champion.data_window], 1.0)
            yield info
            number = snap.champion.version if snap.champion is not None else ""
            yield _gauge(
                "aiops_detector_champion_version",
                "The registered version number the champion-serving detector scores with (plot it over time to see the alias move).",
                m,
                float(number) if number.isdigit() else None,
            )
            runs = GaugeMetricFamily(
                "aiops_registry_model_version_created_timestamp_seconds",
                "When `aiops train` registered each version of the model, with the gate's verdict (promote or refuse); read from the registry by the champion-serving detector.",
                labels=["model_name", "version", "gate", "candidate"],
            )
            for v in snap.registered:
                runs.add_metric([v.model_name, v.version, v.gate, v.candidate], v.created_seconds)
            yield runs
        rebaselines = CounterMetricFamily(
            "aiops_detector_rebaselines",
            "Lasting changes the online loop accepted as the new normal (its re-baseline rule), per series.",
            labels=labels,
        )
        for (service, signal), n in sorted(snap.rebaselines_total.items()):
            rebaselines.add_metric([service, signal, m], float(n))
        yield rebaselines
        if snap.scoreboard is not None:
            yield from _scoreboard_families(snap.scoreboard, m)


def _gauge(name: str, help_text: str, model: str, value: float | None) -> GaugeMetricFamily:
    """A gauge with one sample labelled by ``model``, or none while ``value`` is unknown."""
    fam = GaugeMetricFamily(name, help_text, labels=["model"])
    if value is not None:
        fam.add_metric([model], float(value))
    return fam


def _scoreboard_families(board: ScoreboardOutput, model: str) -> Iterator[Metric]:
    incidents = GaugeMetricFamily(
        "aiops_scoreboard_incidents",
        "Ground-truth incidents started since the detector began scoring, by outcome (detected, missed, waiting: still in its window).",
        labels=["outcome", "model"],
    )
    for outcome in SCOREBOARD_OUTCOMES:
        incidents.add_metric([outcome, model], float(getattr(board, outcome)))
    yield incidents
    yield _gauge("aiops_scoreboard_false_alarms", "Detected incidents that match no ground-truth incident.", model, float(board.false_alarms))
    ttd = board.time_to_detect_seconds
    summary = SummaryMetricFamily(
        "aiops_scoreboard_time_to_detect_seconds",
        "Time from an incident's start to its first matching flag, over the detected incidents (quantile 0.5: the median).",
        labels=["model"],
    )
    summary.add_metric([model], count_value=len(ttd), sum_value=float(sum(ttd)))
    if ttd:
        summary.add_sample("aiops_scoreboard_time_to_detect_seconds", {"model": model, "quantile": "0.5"}, float(statistics.median(ttd)))
    yield summary
