"""The incident store: an append-only JSON-lines log and the state rebuilt from it.

One line per event, written with a single unbuffered ``os.write`` and fsync'd before the
call returns (and before the API answers), so an acknowledged event is on disk::

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

A write that fails changes nothing: the event is not acknowledged (:class:`LogUnavailable`,
the API's 503), the state in memory stays as it was, no id is used up, and nothing is kept
to be written later (there is no buffer). Before each write the store checks that the path
still names the file it has open (same device and inode); a deleted folder or a rotated or
replaced file refuses every later write until the collector restarts, because the events
would otherwise go to a file nobody will read. A plain write error (a full disk, a read-only
or immutable file) is retried by the next write. :attr:`IncidentStore.write_problem` says why
writes are refused; reads keep answering from memory. Only the last ``keep_ended`` ended
incidents are kept in memory (the log keeps them all), so a scrape and a listing do not
grow with history.

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
from typing import Any, Callable, Iterable

from simulator import Catalog, Incident, InvalidIncident, make_incident

__all__ = [
    "ACTORS",
    "EVENTS",
    "ConcurrencyLimit",
    "IncidentStore",
    "LogUnavailable",
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


class LogUnavailable(RuntimeError):
    """The incident log cannot take the event (write failed, file deleted or replaced): nothing was recorded."""


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

    def __init__(
        self,
        catalog: Catalog,
        log_path: Path | str,
        *,
        clock: Callable[[], float],
        keep_ended: int = 200,
        write: Callable[[int, bytes], int] = os.write,
    ) -> None:
        self.catalog = catalog
        self.log_path = Path(log_path)
        self._clock = clock
        self._lock = threading.RLock()
        self._keep_ended = keep_ended
        self._write = write  # tests inject a failing one
        replay = read_log(self.log_path)
        self._entries = replay.entries
        self.problems: tuple[str, ...] = replay.problems
        for p in self.problems:
            log.warning("incident log: %s", p)
        self._next_id = 1 + max((int(i) for i in self._entries if i.isdigit()), default=0)
        #: Why writes are refused right now (None while the log takes them).
        self.write_problem: str | None = None
        self._latched = False  # the file is gone or replaced: refuse until a restart
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._identity = _identity(os.fstat(self._fd))
        if not replay.ends_with_newline:
            # a crash cut the last line short: keep it, but start the next event on a line of its own
            self._write_raw("\n")
        self._prune()
        #: Called after each event is written: ``(event, incident, time_seconds)``; must not block.
        self.on_event: Callable[[str, Incident, float], None] | None = None

    # -- writing -----------------------------------------------------------------

    def _refuse(self, why: str, *, latch: bool) -> LogUnavailable:
        if self.write_problem != why:
            log.error("incident log: %s", why)
        self.write_problem = why
        self._latched = self._latched or latch
        return LogUnavailable(why)

    def _check_file(self, fd: int) -> None:
        """Raise unless the log's path still names the file open as ``fd``."""
        where = str(self.log_path)
        try:
            st = os.stat(self.log_path)
        except FileNotFoundError:
            raise self._refuse(f"{where} (or its folder) was deleted; writes are refused until the collector restarts", latch=True) from None
        except OSError as exc:
            raise self._refuse(f"{where} cannot be checked ({exc.strerror}); writes are refused", latch=False) from None
        if _identity(st) != self._identity:
            raise self._refuse(f"{where} was replaced by another file (moved or rotated?); writes are refused until the collector restarts", latch=True)

    def check_log(self) -> str | None:
        """Check now that the log's path still names the open file (health and the tick call it); returns :attr:`write_problem`."""
        with self._lock:
            if self._fd is not None and not self._latched:
                try:
                    self._check_file(self._fd)
                except LogUnavailable:
                    pass
            return self.write_problem

    def _write_raw(self, text: str) -> None:
        """Write one whole line, unbuffered, and fsync it; raise :class:`LogUnavailable` (nothing kept) otherwise."""
        if self._fd is None:
            raise LogUnavailable("the incident store is closed")
        if self._latched:
            raise LogUnavailable(self.write_problem or "the incident log is unavailable")
        self._check_file(self._fd)
        data = text.encode("utf-8")
        try:
            n = self._write(self._fd, data)
        except OSError as exc:
            raise self._refuse(f"writing {self.log_path} failed ({exc.strerror or exc}); nothing was recorded", latch=False) from None
        if n != len(data):
            raise self._refuse(f"{self.log_path}: a line was cut short ({n} of {len(data)} bytes); writes are refused until the collector restarts", latch=True)
        try:
            os.fsync(self._fd)
        except OSError as exc:
            # the line may reach the disk: refuse every later write rather than risk reusing its id
            raise self._refuse(f"fsync of {self.log_path} failed ({exc.strerror}); writes are refused until the collector restarts", latch=True) from None
        self.write_problem = None

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
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _prune(self) -> None:
        """Forget all but the last ``keep_ended`` ended incidents (the log keeps them)."""
        ended = [e for e in self._entries.values() if e.finished_logged]
        if len(ended) <= self._keep_ended:
            return
        ended.sort(key=lambda e: e.incident.end_seconds)
        for e in ended[: len(ended) - self._keep_ended]:
            del self._entries[e.incident.id]

    def __enter__(self) -> "IncidentStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- time ----------------------------------------------------------------------

    def catch_up(self, now: float | None = None) -> list[dict[str, Any]]:
        """Log every start and end that has happened by ``now``, in time order; returns them.

        Never raises for the log: while it refuses writes the events wait (the state
        in memory follows the clock regardless) and :attr:`write_problem` says why.
        """
        try:
            return self._catch_up(now)
        except LogUnavailable:
            return []

    def _catch_up(self, now: float | None = None) -> list[dict[str, Any]]:
        """:meth:`catch_up`, raising :class:`LogUnavailable` when an event cannot be written."""
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
            if out:
                self._prune()
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
            self._catch_up(now)
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
            self.catch_up(now)  # an incident without delay starts now (acknowledged even if this line waits)
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
            self._catch_up(now)
            e = self._entries.get(incident_id)
            if e is None:
                raise UnknownIncident(incident_id)
            if e.finished_logged:
                raise ValueError(f"incident {incident_id} is already over ({e.incident.state_at(now)})")
            stopped = e.incident.stopped(now, by)
            self._append("stopped", stopped, now, by)
            e.incident = stopped
            e.finished_logged = True
            self._prune()
            return stopped

    def stop_all(self, *, by: str = "api") -> list[Incident]:
        """End every pending or active incident early (the panic button)."""
        with self._lock:
            self._catch_up()
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


def _identity(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


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
