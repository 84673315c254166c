"""The detector's history as the wide ``(service, signal)`` frame: the :class:`HistorySource` protocol.

In production :class:`PrometheusSource` (range queries of the PromQL in the signals
file); the evaluation's :class:`evaluation.SimulatedSource` computes the same frame from
the simulated fleet, as Prometheus would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from model import SignalSet

from ._prometheus import PrometheusReader, aligned_grid, series_values

__all__ = ["HistorySource", "PrometheusSource"]


class HistorySource(Protocol):
    """Anything that returns the wide (service, signal) frame for a time range."""

    def fetch(self, start_seconds: float, end_seconds: float, step_seconds: float) -> pd.DataFrame: ...


@dataclass(frozen=True)
class PrometheusSource:
    """The signals' PromQL evaluated by a real Prometheus."""

    reader: PrometheusReader
    signals: SignalSet

    def fetch(self, start_seconds: float, end_seconds: float, step_seconds: float) -> pd.DataFrame:
        queries = {s.name: s.promql for s in self.signals.signals}
        return self.reader.fetch_signals(queries, start=start_seconds, end=end_seconds, step_seconds=step_seconds)

    def samples_in_window(self, start_seconds: float, end_seconds: float, step_seconds: float) -> pd.Series | None:
        """Samples the collector's scrape left in each point's rate window (None: not declared)."""
        q = self.signals.completeness_promql
        if not q:
            return None
        start, end, grid = aligned_grid(start_seconds, end_seconds, step_seconds)
        result = self.reader.query_range(q, start=start, end=end, step_seconds=step_seconds)
        if not result:
            return pd.Series(0.0, index=grid)
        return series_values(result[0]).reindex(grid).fillna(0.0)
