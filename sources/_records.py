"""Incident records: what an ops team's tracker knows (which incidents ended when).

From the collector's API (:class:`CollectorRecords`, through :class:`collector.CollectorClient`)
or from a log file (:func:`read_incident_log`: the collector's incident log or a backfill's
ground truth). They only ever feed the self-cleaning fit, never scoring.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from collector import CollectorClient

__all__ = ["CollectorRecords", "IncidentRecord", "read_incident_log"]


@dataclass(frozen=True, kw_only=True)
class IncidentRecord:
    """One incident as a tracker knows it; ``end_seconds`` is None while it runs."""

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
    """The collector's dependency graph and incident records, remembered across cycles.

    Raises :class:`collector.CollectorUnreachable` or :class:`collector.APIError` when the
    collector does not answer or refuses.
    """

    base_url: str
    timeout_seconds: float = 5.0
    transport: httpx.BaseTransport | None = None
    known: dict[str, IncidentRecord] = field(default_factory=dict)

    def _client(self) -> CollectorClient:
        return CollectorClient(self.base_url, timeout_seconds=self.timeout_seconds, transport=self.transport)

    def dependencies(self) -> list[tuple[str, str]]:
        with self._client() as client:
            body = client.catalog()
        return [(d["caller"], d["callee"]) for d in body.get("dependencies", [])]

    def incidents(self) -> list[dict]:
        """The collector's ``GET /api/incidents`` as it answers (pending, active, recently ended): the ground truth."""
        with self._client() as client:
            return client.incidents()

    def refresh(self) -> list[IncidentRecord]:
        """Merge the collector's current list into what is known; returns every known record."""
        for inc in self.incidents():
            state = inc.get("state")
            end = float(inc["end_seconds"]) if state in ("ended", "stopped") else None
            self.known[str(inc["id"])] = IncidentRecord(
                id=str(inc["id"]), service=inc["service"], start_seconds=float(inc["start_seconds"]), end_seconds=end
            )
        return list(self.known.values())
