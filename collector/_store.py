"""The incident store: an append-only JSON-lines log and the state rebuilt from it.

One line per event, written with a single ``write`` and fsync'd before the call
returns::

    {"event": "triggered", "id": "3", "kind": "cpu_hog", "service": "checkout",
     "by": "cli", "time_seconds": 1764160000.0, "time": "2025-11-26T12:26:40Z",
     "incident": {...}}                              # the full incident
    {"event": "started",  "id": "3", ..., "by": "cli", "time_seconds": ...}
    {"event": "ended",    "id": "3", ..., "by": "cli", "time_seconds": ...}
    {"event": "stopped",  "id": "3", ..., "by": "api", "time_seconds": ...}   # ended early

``by`` says who or what caused the event: ``api``, ``cli``, ``scenario``,
``chaos``, ``remediation`` or ``backfill`` for a trigger or an early stop; a
``started`` or ``ended`` event happens with time and carries the ``by`` of the
trigger. ``time_seconds`` is when the event took effect (an incident's planned
start or end), even when the store notices it later (after a restart).

Started and ended events are written when the store notices them: every public
method first catches up to the clock, and the collector's one-second tick job
calls :meth:`IncidentStore.catch_up`. A line that does not parse (the last line
after a crash mid-write) is reported in :attr:`IncidentStore.problems` and
skipped; it is never fatal. A request that fails validation writes nothing.

:attr:`IncidentStore.on_event` (``(event, incident, time_seconds)``), when set, is called
after each event is written (the collector's Grafana annotations); it must not block, and
an exception it raises is logged and ignored.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Iterable

from simulator import Catalog, Incident, InvalidIncident, make_incident

__all__ = [
    "ACTORS",
    "EVENTS",
    "ConcurrencyLimit",
    "IncidentStore",
    "UnknownIncident",
    "event_record",
    "read_log",
]

log = logging.getLogger("collector.incidents")

#: Who or what can trigger or stop an incident.
ACTORS: tuple[str, ...] = ("api", "cli", "scenario", "chaos", "remediation", "backfill")
#: The events of an incident's life, in order.
EVENTS: tuple[str, ...] = ("triggered", "started", "ended", "stopped")


class ConcurrencyLimit(InvalidIncident):
    """Too many incidents would overlap the requested one."""


class UnknownIncident(KeyError):
    """No incident has this id."""


def iso(t: float) -> str:
    """``2025-11-26T12:26:40Z`` (milliseconds kept when there are any)."""
    d = datetime.fromtimestamp(t, tz=timezone.utc)
    return d.isoformat(timespec="milliseconds" if t % 1 else "seconds").replace("+00:00", "Z")


def event_record(event: str, incident: Incident, time_seconds: float, by: str) -> dict[str, Any]:
    """One log line's content (the store and the backfill both write these)."""
    rec: dict[str, Any] = {
        "event": event,
        "id": incident.id,
        "kind": incident.kind,
        "service": incident.service,
        "by": by,
        "time_seconds": time_seconds,
        "time": iso(time_seconds),
    }
    if event == "triggered":
        rec["incident"] = incident.as_dict()
    return rec


@dataclass
class _Entry:
    incident: Incident
    started_logged: bool = False
    finished_logged: bool = False  # ended or stopped


@dataclass(frozen=True)
class LogReplay:
    """What a log holds: incidents by id (in trigger order), which events were seen, and bad lines."""

    entries: dict[str, _Entry]
    problems: tuple[str, ...]
    ends_with_newline: bool


def read_log(path: Path) -> LogReplay:
    """Replay a log; unreadable lines are reported, never fatal."""
    entries: dict[str, _Entry] = {}
    problems: list[str] = []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return LogReplay(entries, (), True)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
            event, iid = rec["event"], str(rec["id"])
            if event == "triggered":
                entries[iid] = _Entry(Incident.from_dict(rec["incident"]))
            elif iid not in entries:
                raise ValueError(f"{event} event for unknown incident {iid!r}")
            elif event == "started":
                entries[iid].started_logged = True
            elif event == "ended":
                entries[iid].finished_logged = True
            elif event == "stopped":
                e = entries[iid]
                e.incident = e.incident.stopped(float(rec["time_seconds"]), str(rec["by"]))
                e.finished_logged = True
            else:
                raise ValueError(f"unknown event {event!r}")
        except (ValueError, KeyError, TypeError) as exc:
            where = "last line" if n == len(lines) else f"line {n}"
            problems.append(f"{path}: {where} skipped ({type(exc).__name__}: {exc})")
    return LogReplay(entries, tuple(problems), data.endswith(b"\n") or not data)


class IncidentStore:
    """Incidents and their append-only log; thread-safe, with an injected clock.

    Incidents are kept in memory as well as in the log, and rebuilt from the
    log when the store opens it, so incidents still active resume after a restart.
    """

    def __init__(self, catalog: Catalog, log_path: Path | str, *, clock: Callable[[], float]) -> None:
        self.catalog = catalog
        self.log_path = Path(log_path)
        self._clock = clock
        self._lock = threading.RLock()
        replay = read_log(self.log_path)
        self._entries = replay.entries
        self.problems: tuple[str, ...] = replay.problems
        for p in self.problems:
            log.warning("incident log: %s", p)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = open(self.log_path, "a", encoding="utf-8")
        if not replay.ends_with_newline:
            # a crash cut the last line short: keep it, but start the next event on a line of its own
            self._write_raw("\n")
        self._next_id = 1 + max((int(i) for i in self._entries if i.isdigit()), default=0)
        #: Called after each event is written: ``(event, incident, time_seconds)``; must not block.
        self.on_event: Callable[[str, Incident, float], None] | None = None

    # -- writing -----------------------------------------------------------------

    def _write_raw(self, text: str) -> None:
        if self._file is None:
            raise RuntimeError("the incident store is closed")
        self._file.write(text)
        self._file.flush()
        os.fsync(self._file.fileno())

    def _append(self, event: str, incident: Incident, time_seconds: float, by: str) -> None:
        rec = event_record(event, incident, time_seconds, by)
        self._write_raw(json.dumps(rec, separators=(",", ":")) + "\n")
        log.info("incident %s %s: %s on %s (by %s)", incident.id, event, incident.kind, incident.service, by)
        if self.on_event is not None:
            try:
                self.on_event(event, incident, time_seconds)
            except Exception:  # an observer's bug must not cost an incident
                log.exception("incident %s %s: the event observer failed", incident.id, event)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> "IncidentStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- time ----------------------------------------------------------------------

    def catch_up(self, now: float | None = None) -> list[dict[str, Any]]:
        """Log every start and end that has happened by ``now``, in time order; returns them."""
        with self._lock:
            t = self._clock() if now is None else now
            due: list[tuple[float, int, str, _Entry]] = []
            for e in self._entries.values():
                inc = e.incident
                if e.finished_logged:
                    continue
                if not e.started_logged and inc.start_seconds <= t and inc.end_seconds > inc.start_seconds:
                    due.append((inc.start_seconds, 0, "started", e))
                if inc.end_seconds <= t:
                    due.append((inc.end_seconds, 1, "ended", e))
            due.sort(key=lambda d: (d[0], d[1]))
            out = []
            for when, _, event, e in due:
                self._append(event, e.incident, when, e.incident.triggered_by)
                if event == "started":
                    e.started_logged = True
                else:
                    e.finished_logged = True
                out.append(event_record(event, e.incident, when, e.incident.triggered_by))
            return out

    # -- requests ------------------------------------------------------------------

    def trigger(
        self,
        *,
        kind: Any,
        service: Any,
        duration_seconds: Any = None,
        intensity: Any = None,
        delay_seconds: Any = None,
        by: str = "api",
    ) -> Incident:
        """Validate and log a new incident; raises :class:`InvalidIncident` (nothing logged) on bad input."""
        if by not in ACTORS:
            raise InvalidIncident("triggered_by", f"unknown actor {by!r}", list(ACTORS))
        with self._lock:
            now = self._clock()
            self.catch_up(now)
            incident = make_incident(
                self.catalog,
                id=str(self._next_id),
                kind=kind,
                service=service,
                duration_seconds=duration_seconds,
                intensity=intensity,
                delay_seconds=delay_seconds,
                now=now,
                triggered_by=by,
            )
            self._check_concurrency(incident, now)
            self._append("triggered", incident, now, by)
            self._entries[incident.id] = _Entry(incident)
            self._next_id += 1
            self.catch_up(now)  # an incident without delay starts now
            return incident

    def _check_concurrency(self, new: Incident, now: float) -> None:
        limit = self.catalog.max_concurrent_incidents
        others = [e.incident for e in self._entries.values() if e.incident.end_seconds > max(now, new.start_seconds)]
        points = [new.start_seconds] + [o.start_seconds for o in others if new.start_seconds < o.start_seconds < new.end_seconds]
        worst = max(sum(1 for o in others if o.active_at(p)) for p in points)
        if worst + 1 > limit:
            raise ConcurrencyLimit(
                "max_concurrent_incidents",
                f"{worst} incidents already overlap the requested one; at most {limit} may run at once "
                "(stop one, or pick a later delay_seconds)",
                {"max": limit},
            )

    def stop(self, incident_id: str, *, by: str = "api") -> Incident:
        """End a pending or active incident early; raises :class:`UnknownIncident`, or ValueError if it is over."""
        with self._lock:
            now = self._clock()
            self.catch_up(now)
            e = self._entries.get(incident_id)
            if e is None:
                raise UnknownIncident(incident_id)
            if e.finished_logged:
                raise ValueError(f"incident {incident_id} is already over ({e.incident.state_at(now)})")
            e.incident = e.incident.stopped(now, by)
            self._append("stopped", e.incident, now, by)
            e.finished_logged = True
            return e.incident

    def stop_all(self, *, by: str = "api") -> list[Incident]:
        """End every pending or active incident early (the panic button)."""
        with self._lock:
            self.catch_up()
            return [self.stop(e.incident.id, by=by) for e in list(self._entries.values()) if not e.finished_logged]

    # -- reading -------------------------------------------------------------------

    def get(self, incident_id: str) -> Incident:
        with self._lock:
            e = self._entries.get(incident_id)
            if e is None:
                raise UnknownIncident(incident_id)
            return e.incident

    def incidents(self) -> list[Incident]:
        """Every incident the log knows, in trigger order."""
        with self._lock:
            self.catch_up()
            return [e.incident for e in self._entries.values()]

    def relevant(self, now: float, window_seconds: float) -> list[Incident]:
        """Incidents pending, active, or over for less than ``window_seconds``."""
        with self._lock:
            self.catch_up(now)
            return [e.incident for e in self._entries.values() if e.incident.end_seconds > now - window_seconds]

    def active(self, now: float | None = None) -> list[Incident]:
        with self._lock:
            t = self._clock() if now is None else now
            self.catch_up(t)
            return [e.incident for e in self._entries.values() if e.incident.active_at(t)]


def describe(incident: Incident, now: float) -> dict[str, Any]:
    """An incident as the API shows it: its fields, its state now and readable times."""
    d = incident.as_dict()
    d["state"] = incident.state_at(now)
    d["start"] = iso(incident.start_seconds)
    d["end"] = iso(incident.end_seconds)
    return d


def lines(records: Iterable[dict[str, Any]]) -> str:
    """Records as JSON lines (the log's format)."""
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
