"""The *extract* stage: the history and its labels, from the simulator or from Prometheus.

Both give a :class:`Dataset`: the wide ``(service, signal)`` frame over the training history
and the evaluation window, and the labelled incidents over both.

- :func:`extract_simulated` -- the labelled fleet suite (:func:`evaluation.make_suite`), in
  process and seeded: its training history, its evaluation days, its incidents as the labels;
- :func:`extract_prometheus` -- range queries of the signals' PromQL
  (:class:`sources.PrometheusSource`) and the collector's ground truth
  ``max by (service, kind) (aiops_incident_active)`` over the same range, whose runs of 1
  become the labelled incidents (start: the first point at 1; end: the first point after
  it, so to within one step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from evaluation import OfflineSettings, SuiteSettings, make_suite
from model import SignalSet
from simulator import Catalog, Incident
from sources import PrometheusReader, PrometheusSource, aligned_grid, series_values

__all__ = ["DAY_SECONDS", "LABELS_PROMQL", "Dataset", "extract_prometheus", "extract_simulated", "incidents_from_series"]

DAY_SECONDS = 86_400.0
#: The collector's ground truth: 1 while an incident of that kind is active on that service.
LABELS_PROMQL = "max by (service, kind) (aiops_incident_active)"

Progress = Callable[[str], None]


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8.astype(np.float64) / 1e9


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """What the pipeline trains and evaluates on.

    ``frame`` covers ``[start_seconds, end_seconds)``; the training history is everything
    before ``eval_start_seconds``, the evaluation window everything from it. ``incidents``
    are the labels over both (the evaluation scores on those starting in the window; a fit
    may leave out those that had ended by its fit time).
    """

    frame: pd.DataFrame
    incidents: tuple[Incident, ...]
    catalog: Catalog
    signals: SignalSet
    start_seconds: float
    eval_start_seconds: float
    end_seconds: float
    step_seconds: float
    #: "simulator" or "prometheus".
    source: str
    seed: int | None = None
    prometheus_url: str | None = None
    #: Labels from Prometheus that name a kind or a service the catalog does not know (left out).
    unknown_labels: tuple[str, ...] = field(default=())

    @property
    def history_days(self) -> float:
        return (self.eval_start_seconds - self.start_seconds) / DAY_SECONDS

    @property
    def eval_days(self) -> float:
        return (self.end_seconds - self.eval_start_seconds) / DAY_SECONDS

    @property
    def eval_incidents(self) -> tuple[Incident, ...]:
        """The labelled incidents the evaluation scores on: those starting in the evaluation window."""
        return tuple(i for i in self.incidents if self.eval_start_seconds <= i.start_seconds < self.end_seconds)

    @property
    def origin(self) -> str:
        """``simulator seed 0`` or ``prometheus http://...``."""
        return f"simulator seed {self.seed}" if self.source == "simulator" else f"prometheus {self.prometheus_url}"

    def times(self) -> np.ndarray:
        return _seconds(self.frame.index)

    def window(self, start_seconds: float, end_seconds: float) -> pd.DataFrame:
        """The frame's rows in ``[start_seconds, end_seconds)``."""
        t = self.times()
        return self.frame.loc[(t >= start_seconds) & (t < end_seconds)]


def extract_simulated(
    catalog: Catalog,
    signals: SignalSet,
    *,
    seed: int,
    history_days: int,
    eval_days: int,
    step_seconds: float = 60.0,
    progress: Progress | None = None,
) -> Dataset:
    """The labelled fleet suite for ``seed``: ``history_days`` of history, then ``eval_days`` of evaluation.

    With two or more evaluation days, one of them has no incident (false alarms on a quiet
    day count too). The signals' rate window is the emulated ``rate()``'s.
    """
    if history_days < 1 or eval_days < 1 or int(history_days) != history_days or int(eval_days) != eval_days:
        raise ValueError(f"the simulator needs whole days: history_days {history_days}, eval_days {eval_days}")
    settings = SuiteSettings(
        days=int(eval_days),
        history_days=int(history_days),
        quiet_days=1 if eval_days >= 2 else 0,
        offline=OfflineSettings(step_seconds=step_seconds, rate_window_seconds=signals.rate_window_seconds),
    )
    suite = make_suite(catalog, seed, settings, progress=progress)
    return Dataset(
        frame=suite.frame,
        incidents=suite.incidents,
        catalog=catalog,
        signals=signals,
        start_seconds=suite.history_start_seconds,
        eval_start_seconds=suite.eval_start_seconds,
        end_seconds=suite.eval_end_seconds,
        step_seconds=float(step_seconds),
        source="simulator",
        seed=seed,
    )


def incidents_from_series(
    result: list[dict], catalog: Catalog, grid: pd.DatetimeIndex, step_seconds: float
) -> tuple[tuple[Incident, ...], tuple[str, ...]]:
    """Incidents from a range query of :data:`LABELS_PROMQL`: one per run of 1s of each ``(service, kind)`` series.

    Returns ``(incidents, unknown)``: ``unknown`` names the series whose kind or service the
    catalog does not know (left out). A run starts at its first point at 1 and ends at the
    first point after it (a run still on at the grid's end ends one step after it).
    """
    t = _seconds(grid)
    found: list[Incident] = []
    unknown: list[str] = []
    for series in result:
        labels = series.get("metric", {})
        service, kind = labels.get("service"), labels.get("kind")
        if kind not in catalog.kind_names or service not in catalog.service_names:
            unknown.append(f"{kind}/{service}")
            continue
        on = series_values(series).reindex(grid).to_numpy(dtype=np.float64) >= 0.5
        if not on.any():
            continue
        edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            start = float(t[a])
            end = float(t[b]) if b < len(t) else float(t[-1]) + step_seconds
            found.append(
                Incident(
                    id=f"p{len(found) + 1:03d}",
                    kind=str(kind),
                    service=str(service),
                    intensity=float(catalog.kind(str(kind)).intensity.default),
                    start_seconds=start,
                    duration_seconds=end - start,
                    triggered_by="prometheus",
                    triggered_seconds=start,
                )
            )
    found.sort(key=lambda i: (i.start_seconds, i.service, i.kind))
    return tuple(found), tuple(sorted(set(unknown)))


def extract_prometheus(
    reader: PrometheusReader,
    catalog: Catalog,
    signals: SignalSet,
    *,
    end_seconds: float,
    history_days: float,
    eval_days: float,
    step_seconds: float = 60.0,
) -> Dataset:
    """Range queries from Prometheus: the signals over ``history_days + eval_days`` up to ``end_seconds``, and the labels.

    The window is aligned to the step (:func:`sources.aligned_grid`); the evaluation window
    is its last ``eval_days``. Raises :class:`sources.PrometheusError` when Prometheus does
    not answer or rejects a query.
    """
    span = (history_days + eval_days) * DAY_SECONDS
    start, end, grid = aligned_grid(end_seconds - span, end_seconds, step_seconds)
    eval_start = math.floor((end - eval_days * DAY_SECONDS) / step_seconds) * step_seconds
    frame = PrometheusSource(reader, signals).fetch(start, end, step_seconds)
    result = reader.query_range(LABELS_PROMQL, start=start, end=end, step_seconds=step_seconds)
    incidents, unknown = incidents_from_series(result, catalog, grid, step_seconds)
    return Dataset(
        frame=frame,
        incidents=incidents,
        catalog=catalog,
        signals=signals,
        start_seconds=start,
        eval_start_seconds=float(eval_start),
        end_seconds=end + step_seconds,
        step_seconds=float(step_seconds),
        source="prometheus",
        prometheus_url=reader.base_url,
        unknown_labels=unknown,
    )
