"""The one module that talks to Prometheus' HTTP API.

It turns range queries into the model's DataFrame shape: a UTC
``DatetimeIndex`` named ``timestamp`` and ``(service, signal)`` columns.
Everything it raises is a :class:`PrometheusError` with one readable line, so
the scheduled loop can count a failed cycle and carry on.

Errors::

    PrometheusError          any failed read (the cycle fails cleanly)
     ├── PrometheusUnavailable   connection refused, timeout, 5xx
     └── PrometheusQueryError    Prometheus answered, but rejected the query
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import httpx
import numpy as np
import pandas as pd

__all__ = [
    "PrometheusError",
    "PrometheusQueryError",
    "PrometheusReader",
    "PrometheusUnavailable",
    "aligned_grid",
    "matrix_to_frame",
    "series_values",
]

#: Prometheus refuses range queries longer than 11,000 points; stay under it.
MAX_POINTS_PER_QUERY = 10_000


class PrometheusError(RuntimeError):
    """Reading from Prometheus failed."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus could not be reached in time, or answered with a server error."""


class PrometheusQueryError(PrometheusError):
    """Prometheus rejected the query (bad PromQL, too many points...)."""


def aligned_grid(start: float, end: float, step_seconds: float) -> tuple[float, float, pd.DatetimeIndex]:
    """(start, end) floored to multiples of the step, and the grid of points between them.

    Aligned as Grafana aligns its queries, so the points of successive calls line up and
    Prometheus' millisecond timestamps match the grid exactly.
    """
    start = math.floor(start / step_seconds) * step_seconds
    end = math.floor(end / step_seconds) * step_seconds
    grid_ms = np.round(np.arange(start, end + step_seconds / 2, step_seconds) * 1000.0).astype(np.int64)
    return start, end, pd.DatetimeIndex(pd.to_datetime(grid_ms, unit="ms", utc=True), name="timestamp")


def series_values(series: dict) -> pd.Series:
    """One series of a ``matrix`` result as floats on millisecond UTC timestamps (NaN for NaN/Inf)."""
    values = series.get("values", [])
    ms = np.round(np.array([float(v[0]) for v in values]) * 1000.0).astype(np.int64)
    vals = np.array([_float(v[1]) for v in values], dtype=np.float64)
    return pd.Series(vals, index=pd.to_datetime(ms, unit="ms", utc=True))


def matrix_to_frame(result: list[dict], signal: str, label: str = "service") -> pd.DataFrame:
    """A Prometheus ``matrix`` result -> wide frame with (service, signal) columns."""
    columns: dict[tuple[str, str], pd.Series] = {}
    for series in result:
        key = series.get("metric", {}).get(label)
        if key is not None:
            columns[(key, signal)] = series_values(series)
    if not columns:
        frame = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="timestamp"))
        frame.columns = pd.MultiIndex.from_tuples([], names=["service", "signal"])
        return frame
    frame = pd.DataFrame(columns)
    frame.index.name = "timestamp"
    frame.columns = pd.MultiIndex.from_tuples(list(frame.columns), names=["service", "signal"])
    return frame


def _float(text: str) -> float:
    v = float(text)  # Prometheus encodes NaN/Inf as "NaN", "+Inf", "-Inf", which float() reads
    return v if math.isfinite(v) else math.nan


@dataclass(frozen=True, kw_only=True)
class PrometheusReader:
    """Range queries against one Prometheus server.

    ``transport`` lets unit tests inject ``httpx.MockTransport``; in production it is None.
    """

    base_url: str
    timeout_seconds: float = 10.0
    transport: httpx.BaseTransport | None = None

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout_seconds, transport=self.transport)

    def _get(self, client: httpx.Client, path: str, params: Mapping[str, str | float]) -> dict:
        try:
            response = client.get(path, params=params)
        except httpx.TimeoutException:
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} did not answer within {self.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"cannot reach Prometheus at {self.base_url}: {exc}") from None
        if response.status_code >= 500:
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise PrometheusQueryError(f"Prometheus answered {response.status_code} with a body that is not JSON") from None
        if body.get("status") != "success":
            raise PrometheusQueryError(f"Prometheus rejected the query: {body.get('error', response.status_code)}")
        return body["data"]

    def query_range(self, promql: str, *, start: float, end: float, step_seconds: float) -> list[dict]:
        """Raw ``matrix`` result of a range query, split into chunks Prometheus accepts."""
        out: dict[tuple, dict] = {}
        span = step_seconds * (MAX_POINTS_PER_QUERY - 1)
        chunk_start = start
        with self._client() as client:
            while chunk_start <= end:
                chunk_end = min(end, chunk_start + span)
                data = self._get(
                    client,
                    "/api/v1/query_range",
                    {"query": promql, "start": chunk_start, "end": chunk_end, "step": step_seconds},
                )
                if data.get("resultType") != "matrix":
                    raise PrometheusQueryError(f"expected a matrix, got {data.get('resultType')}")
                for series in data["result"]:
                    key = tuple(sorted(series["metric"].items()))
                    if key in out:
                        out[key]["values"].extend(v for v in series["values"] if float(v[0]) > float(out[key]["values"][-1][0]))
                    else:
                        out[key] = {"metric": series["metric"], "values": list(series["values"])}
                chunk_start = chunk_end + step_seconds
        return list(out.values())

    def query(self, promql: str, *, time: float | None = None) -> list[dict]:
        """Raw ``vector`` result of an instant query."""
        params: dict[str, str | float] = {"query": promql}
        if time is not None:
            params["time"] = time
        with self._client() as client:
            data = self._get(client, "/api/v1/query", params)
        return data["result"]

    def fetch_signals(
        self, queries: Mapping[str, str], *, start: float, end: float, step_seconds: float
    ) -> pd.DataFrame:
        """Every signal's query over [start, end] -> one wide frame on a common time grid.

        The grid is aligned to the step (:func:`aligned_grid`).
        """
        start, end, grid = aligned_grid(start, end, step_seconds)
        frames = [
            matrix_to_frame(self.query_range(q, start=start, end=end, step_seconds=step_seconds), signal)
            for signal, q in queries.items()
        ]
        frames = [f for f in frames if f.shape[1]]
        if not frames:
            empty = pd.DataFrame(index=grid)
            empty.columns = pd.MultiIndex.from_tuples([], names=["service", "signal"])
            return empty
        wide = pd.concat(frames, axis=1, sort=True).reindex(grid)
        return wide.sort_index(axis=1)

    def ready(self) -> bool:
        """True when Prometheus answers its readiness probe."""
        try:
            with self._client() as client:
                return client.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False
