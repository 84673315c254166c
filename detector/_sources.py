"""Where the detector's history and incident records come from.

The service reads signals through a :class:`HistorySource`: in production
:class:`PrometheusSource` (range queries of the PromQL in ``signals.yaml``); in
the demo without Prometheus, :class:`EmbeddedSource`, which computes the same
frame from the simulated fleet the collector serves (same seed, same incidents).
Incident *records* (what an ops team's tracker would know: which incidents
ended when) come from the collector's API or from a backfill's log file; they
only ever feed the self-cleaning fit, never scoring.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

import httpx
import pandas as pd

from ._prometheus import PrometheusReader, PrometheusUnavailable, aligned_grid, series_values
from ._signals import SignalSet

__all__ = ["CollectorRecords", "EmbeddedSource", "HistorySource", "IncidentRecord", "PrometheusSource", "read_incident_log"]


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


@dataclass(frozen=True)
class EmbeddedSource:
    """The same frame computed from the simulator (the demo when Prometheus is not installed)."""

    catalog: object
    seed: int
    incidents: Callable[[], Sequence[object]]

    def fetch(self, start_seconds: float, end_seconds: float, step_seconds: float) -> pd.DataFrame:
        from ._offline import OfflineSettings, fleet_frame

        settings = OfflineSettings(step_seconds=step_seconds, scrape_interval_seconds=min(step_seconds, 5.0))
        return fleet_frame(
            self.catalog,  # type: ignore[arg-type]
            self.seed,
            start_seconds=start_seconds,
            end_seconds=end_seconds + step_seconds / 2,
            incidents=list(self.incidents()),
            settings=settings,
        )


@dataclass(frozen=True, kw_only=True)
class IncidentRecord:
    id: str
    service: str
    start_seconds: float
    end_seconds: float | None  # None while running


def read_incident_log(path: Path) -> list[IncidentRecord]:
    """Incident records from a collector log or a backfill's ground-truth file (JSON lines)."""
    found: dict[str, dict] = {}
    for line in Path(path).read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn last line after a crash
        iid = str(rec.get("id"))
        if rec.get("event") == "triggered":
            inc = rec.get("incident", rec)
            try:
                start = float(inc["start_seconds"])
                found[iid] = {"service": inc["service"], "start": start, "end": start + float(inc["duration_seconds"])}
            except (KeyError, TypeError, ValueError):
                continue
        elif rec.get("event") in ("stopped", "ended") and iid in found and "time_seconds" in rec:
            found[iid]["end"] = min(found[iid]["end"], max(found[iid]["start"], float(rec["time_seconds"])))
    return [IncidentRecord(id=k, service=v["service"], start_seconds=v["start"], end_seconds=v["end"]) for k, v in found.items()]


@dataclass
class CollectorRecords:
    """The collector's catalog and incident records, remembered across cycles."""

    base_url: str
    timeout_seconds: float = 5.0
    transport: httpx.BaseTransport | None = None
    known: dict[str, IncidentRecord] = field(default_factory=dict)

    def _get(self, path: str) -> dict:
        try:
            with httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout_seconds, transport=self.transport) as c:
                r = c.get(path)
                r.raise_for_status()
                return r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PrometheusUnavailable(f"cannot read {path} from the collector at {self.base_url}: {exc}") from None

    def dependencies(self) -> list[tuple[str, str]]:
        body = self._get("/api/catalog")
        return [(d["caller"], d["callee"]) for d in body.get("dependencies", [])]

    def refresh(self) -> list[IncidentRecord]:
        """Merge the collector's current list into what is known; returns every known record."""
        body = self._get("/api/incidents")
        for inc in body.get("incidents", []):
            state = inc.get("state")
            end = float(inc["end_seconds"]) if state in ("ended", "stopped") else None
            self.known[str(inc["id"])] = IncidentRecord(
                id=str(inc["id"]), service=inc["service"], start_seconds=float(inc["start_seconds"]), end_seconds=end
            )
        return list(self.known.values())

