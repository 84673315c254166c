"""The live scoreboard: the detector's detections against the collector's ground truth.

Scored the way the offline evaluation scores (:mod:`evaluation._matching`, whose
:func:`~evaluation._matching.match` does the matching here): a *flag* is an anomaly the
detector marks as an onset (its series turned flagged); an incident is *detected* when a
flag on its service or on a direct caller starts in ``[start, end + grace]``, and its time
to detect is the first such flag's time minus its start; each detected incident (a group
of correlated anomalies, ``GET /api/incidents/detected``) that matches no incident is one
*false alarm*. Live, an incident that started and whose window is still open is
*waiting*; once the window has passed undetected it is *missed*.

Pure: :class:`Scoreboard` keeps what the demo polled, :meth:`Scoreboard.score` takes the
time as an argument.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from simulator import Catalog, Incident

from ._matching import GRACE_SECONDS, Flag, FlagGroup, match

__all__ = ["Score", "Scoreboard"]




@dataclass(frozen=True)
class Score:
    """The scoreboard at one time; ``time_to_detect`` maps a detected incident's id to seconds."""

    time_seconds: float
    incidents: tuple[Incident, ...]  # started by time_seconds, in start order
    time_to_detect: Mapping[str, float]
    missed: tuple[str, ...]
    waiting: tuple[str, ...]
    false_alarms: tuple[int, ...]  # ids of detected incidents matching no incident
    matched_by: Mapping[str, tuple[int, ...]]  # incident id -> ids of the detected incidents that matched it
    detected_incidents: tuple[Mapping[str, Any], ...]

    @property
    def median_time_to_detect_seconds(self) -> float | None:
        return statistics.median(self.time_to_detect.values()) if self.time_to_detect else None

    def line(self) -> str:
        """One compact line for the live view."""
        ttd = self.median_time_to_detect_seconds
        parts = [f"{len(self.time_to_detect)}/{len(self.incidents)} detected" + (f" (median TTD {ttd:.0f} s)" if ttd is not None else "")]
        parts += [f"{len(self.missed)} missed", f"{len(self.false_alarms)} false alarm{'s' if len(self.false_alarms) != 1 else ''}"]
        if self.waiting:
            parts.append(f"{len(self.waiting)} waiting")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the totals, then one entry per incident and per detected incident."""
        ttd = self.median_time_to_detect_seconds
        causes = {d["id"]: d.get("probable_cause") or {} for d in self.detected_incidents}
        return {
            "time_seconds": self.time_seconds,
            "rules": (
                "an incident is detected when a flag on its service or a direct caller starts between its start "
                f"and its end + {GRACE_SECONDS:.0f} s; time to detect = that flag's time - the incident's start; "
                "a detected incident matching no incident is a false alarm (as evaluation._matching)"
            ),
            "incidents": len(self.incidents),
            "detected": len(self.time_to_detect),
            "missed": len(self.missed),
            "waiting": len(self.waiting),
            "false_alarms": len(self.false_alarms),
            "median_time_to_detect_seconds": ttd,
            "by_incident": [
                {
                    "id": i.id,
                    "kind": i.kind,
                    "service": i.service,
                    "start_seconds": i.start_seconds,
                    "end_seconds": i.end_seconds,
                    "outcome": "detected" if i.id in self.time_to_detect else "missed" if i.id in self.missed else "waiting",
                    "time_to_detect_seconds": self.time_to_detect.get(i.id),
                    "detected_incidents": list(self.matched_by.get(i.id, ())),
                    "probable_causes": [causes[g] for g in self.matched_by.get(i.id, ()) if g in causes],
                }
                for i in self.incidents
            ],
            "false_alarm_incidents": [
                {k: d.get(k) for k in ("id", "opened_seconds", "closed_seconds", "services", "probable_cause")}
                for d in self.detected_incidents
                if d["id"] in self.false_alarms
            ],
        }

    def markdown(self) -> str:
        """The same as a small markdown report."""
        d = self.as_dict()
        ttd = d["median_time_to_detect_seconds"]
        out = [
            "# aiops demo scoreboard",
            "",
            f"{d['detected']} of {d['incidents']} incidents detected, {d['missed']} missed, {d['false_alarms']} false alarms"
            + (f", median time to detect {ttd:.0f} s" if ttd is not None else "")
            + (f", {d['waiting']} still in their window" if d["waiting"] else "")
            + ".",
            "",
            "| incident | kind | service | outcome | time to detect | probable cause |",
            "|---|---|---|---|---|---|",
        ]
        for i in d["by_incident"]:
            t = i["time_to_detect_seconds"]
            cause = "; ".join(f"{c.get('service')} {c.get('signal')}" for c in i["probable_causes"]) or "-"
            out.append(f"| {i['id']} | {i['kind']} | {i['service']} | {i['outcome']} | {'-' if t is None else f'{t:.0f} s'} | {cause} |")
        if d["false_alarm_incidents"]:
            out += ["", "False alarms (detected incidents matching no incident):", ""]
            for g in d["false_alarm_incidents"]:
                c = g.get("probable_cause") or {}
                out.append(f"- detected incident {g['id']}: {', '.join(g.get('services') or [])} (probable cause {c.get('service')} {c.get('signal')})")
        out += ["", d["rules"] + "."]
        return "\n".join(out) + "\n"


@dataclass
class Scoreboard:
    """What the demo has seen so far: the collector's incidents, the detector's onsets and detected incidents."""

    catalog: Catalog
    grace_seconds: float = GRACE_SECONDS
    incidents: dict[str, Incident] = field(default_factory=dict)
    onsets: set[tuple[float, str, str]] = field(default_factory=set)
    detected: dict[int, Mapping[str, Any]] = field(default_factory=dict)

    def add_incidents(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Items of the collector's ``GET /api/incidents`` (newer states replace older ones)."""
        for item in items:
            inc = Incident.from_dict(dict(item))
            self.incidents[inc.id] = inc

    def add_anomalies(self, items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Items of the detector's ``GET /api/anomalies``; returns the onsets not seen before, oldest first."""
        new = []
        for a in items:
            if not a.get("onset"):
                continue
            key = (float(a["timestamp_seconds"]), str(a["service"]), str(a["signal"]))
            if key not in self.onsets:
                self.onsets.add(key)
                new.append(a)
        return sorted(new, key=lambda a: a["timestamp_seconds"])

    def add_detected(self, items: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
        """Items of the detector's ``GET /api/incidents/detected``; returns (newly opened, newly closed)."""
        opened, closed = [], []
        for d in items:
            before = self.detected.get(d["id"])
            if before is None:
                opened.append(d)
                if d.get("closed_seconds") is not None:
                    closed.append(d)
            elif before.get("closed_seconds") is None and d.get("closed_seconds") is not None:
                closed.append(d)
            self.detected[d["id"]] = d
        return sorted(opened, key=lambda d: d["id"]), sorted(closed, key=lambda d: d["id"])

    def score(self, now_seconds: float) -> Score:
        """The scoreboard at ``now_seconds``: the offline evaluation's matching on what was seen."""
        started = sorted(
            (i for i in self.incidents.values() if i.start_seconds <= now_seconds and i.end_seconds > i.start_seconds),
            key=lambda i: (i.start_seconds, i.id),
        )
        ids = sorted(self.detected)
        groups = []
        for gid in ids:
            d = self.detected[gid]
            members = d.get("anomalies") or []
            flags = sorted(
                {
                    Flag(float(a["timestamp_seconds"]), str(a["service"]), str(a["signal"]))
                    for a in members
                    if (float(a["timestamp_seconds"]), str(a["service"]), str(a["signal"])) in self.onsets
                },
                key=lambda f: (f.timestamp_seconds, f.service, f.signal),
            )
            times = [float(a["timestamp_seconds"]) for a in members] or [float(d.get("opened_seconds", math.nan))]
            groups.append(
                FlagGroup(
                    start_seconds=min(times),
                    end_seconds=max(times),
                    services=tuple(sorted({str(a["service"]) for a in members})),
                    signals=tuple(sorted({str(a["signal"]) for a in members})),
                    onsets=tuple(flags),
                )
            )
        m = match(groups, started, self.catalog, grace_seconds=self.grace_seconds)
        false_ids = tuple(gid for gid, g in zip(ids, groups) if any(g is f for f in m.false_alarms))
        matched_by: dict[str, tuple[int, ...]] = {}
        for inc in started:  # which detected incidents matched this one (for the report)
            alone = match(groups, [inc], self.catalog, grace_seconds=self.grace_seconds)
            hits = tuple(gid for gid, g in zip(ids, groups) if not any(g is f for f in alone.false_alarms))
            if hits:
                matched_by[inc.id] = hits
        undetected = [i for i in started if i.id not in m.detected]
        return Score(
            time_seconds=now_seconds,
            incidents=tuple(started),
            time_to_detect=dict(m.detected),
            missed=tuple(i.id for i in undetected if now_seconds > i.end_seconds + self.grace_seconds),
            waiting=tuple(i.id for i in undetected if now_seconds <= i.end_seconds + self.grace_seconds),
            false_alarms=false_ids,
            matched_by=matched_by,
            detected_incidents=tuple(self.detected[g] for g in ids),
        )
