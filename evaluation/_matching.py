"""Grouping and matching: one set of rules for the offline evaluation, the live scoreboard and the training gate.

- flags are grouped the way the detector service's correlation step groups them into
  detected incidents (:class:`model.Correlator`): walking the scoring cycles in time order, a
  flagged point joins an open group that has a flagged point at most
  :data:`JOIN_WINDOW_SECONDS` earlier on the same service or on a service joined to it by an
  edge of the dependency graph (a point that joins several merges them), or else opens a
  group; a group closes after :data:`CLOSE_AFTER_SECONDS` without a new point. A group is
  what an operator would see as one alert;
- a *flag* starts where a ``(service, signal)`` series turns flagged (it was not at the
  point before); an incident is *detected* when a flag on its service or on a direct caller
  starts in ``[start, end + GRACE_SECONDS]``; time to detect = the first such flag's
  timestamp minus the incident's start. The groups holding such flags match the incident
  (a group may match several incidents, and an incident may be matched by several groups);
- every group that matches no incident is one *false alarm*. Among those, the report
  counts for information the *echoes*: groups with a flag starting, inside an incident's
  window, on a service the incident reaches further along the graph
  (:func:`echo_services`). They still count as false alarms.

Metrics (:func:`summarize`): event precision ``detected / (detected + false alarms)``,
recall ``detected / incidents``, F1, false alarms per evaluation day, the median time to
detect and the recall per incident kind; for diagnosis also the raw counts and, per
signal, how many false-alarm groups it took part in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from model import CLOSE_AFTER_SECONDS, JOIN_WINDOW_SECONDS
from simulator import Catalog, Incident

__all__ = [
    "CLOSE_AFTER_SECONDS",
    "GRACE_SECONDS",
    "JOIN_WINDOW_SECONDS",
    "Flag",
    "FlagGroup",
    "Matching",
    "echo_services",
    "group_flags",
    "match",
    "summarize",
]

#: A flag up to this long after an incident's end still counts for it (the rate windows drain).
GRACE_SECONDS = 120.0


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8.astype(np.float64) / 1e9


@dataclass(frozen=True)
class Flag:
    """A flag *starts* where one ``(service, signal)`` series turns flagged (it was not at the point before)."""

    timestamp_seconds: float
    service: str
    signal: str


@dataclass(frozen=True)
class FlagGroup:
    """Flags the correlation step puts together: one detected incident, as the detector service reports it.

    ``start_seconds``/``end_seconds`` are its first and last flagged points; ``onsets`` the
    flags that start inside it (a series already flagged when the group opened has none).
    """

    start_seconds: float
    end_seconds: float
    services: tuple[str, ...]
    signals: tuple[str, ...]
    onsets: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class Matching:
    """The outcome of matching flag groups to incidents.

    ``echoes`` is informational: the false alarms that have a flag starting on a service the
    incident reaches further along the dependency graph, inside its window.
    """

    detected: dict[str, float]  # incident id -> time to detect (seconds)
    false_alarms: tuple[FlagGroup, ...]
    echoes: tuple[FlagGroup, ...]
    groups: tuple[FlagGroup, ...]


@dataclass
class _OpenGroup:
    """A group being built by :func:`group_flags`."""

    id: int
    start: float
    last: float
    services: set[str]
    signals: set[str]
    onsets: list[Flag]
    closed: bool = False


def group_flags(
    flags: pd.DataFrame,
    dependencies: Iterable[tuple[str, str]],
    *,
    join_window_seconds: float = JOIN_WINDOW_SECONDS,
    close_after_seconds: float = CLOSE_AFTER_SECONDS,
) -> list[FlagGroup]:
    """Group flags the way the detector service's correlator does (:class:`~model._correlate.Correlator`).

    ``flags`` is boolean with ``(service, signal)`` columns, one row per scoring cycle;
    ``dependencies`` are ``(caller, callee)`` pairs. Walking the rows in time order, each
    flagged point joins every open group that has a flagged point at most
    ``join_window_seconds`` earlier on the same service or on a service joined to it by a
    dependency edge (several such groups merge into the oldest), or else opens a group; a
    group closes once a cycle finds it ``close_after_seconds`` without a new point. The same
    rule as feeding the correlator every flagged point cycle by cycle (a test checks that),
    but it keeps only what the matching needs, so long flagged runs cost little.
    """
    t = _seconds(flags.index)
    cols = [(c[0], c[1]) if isinstance(c, tuple) else (c, "") for c in flags.columns]
    values = flags.to_numpy(dtype=bool)
    starts = values.copy()
    starts[1:] &= ~values[:-1]
    related: dict[str, set[str]] = {}
    for a, b in dependencies:
        related.setdefault(a, {a}).add(b)
        related.setdefault(b, {b}).add(a)
    order: list[str] = []
    for s, _ in cols:
        if s not in order:
            order.append(s)
    by_service = {s: [j for j, c in enumerate(cols) if c[0] == s] for s in order}

    groups: list[_OpenGroup] = []
    live: list[_OpenGroup] = []
    opened = 0
    rows = np.flatnonzero(values.any(axis=1))
    for r in rows:
        now = float(t[r])
        if r > 0:  # the cycles up to this one closed what had gone quiet
            before = float(t[r - 1])
            for g in live:
                if before - g.last > close_after_seconds:
                    g.closed = True
            live = [g for g in live if not g.closed]
        for service in order:
            idx = [j for j in by_service[service] if values[r, j]]
            if not idx:
                continue
            near = related.get(service, {service})
            matches = [g for g in live if now - g.last <= join_window_seconds and not g.services.isdisjoint(near)]
            if not matches:
                opened += 1
                g = _OpenGroup(id=opened, start=now, last=now, services=set(), signals=set(), onsets=[])
                groups.append(g)
                live.append(g)
                matches = [g]
            target = min(matches, key=lambda g: g.id)
            for other in matches:
                if other is not target:  # the point bridges two groups: merge them
                    target.start = min(target.start, other.start)
                    target.services |= other.services
                    target.signals |= other.signals
                    target.onsets += other.onsets
                    other.closed = True
                    groups.remove(other)
            live = [g for g in live if not g.closed]
            target.services.add(service)
            target.signals.update(cols[j][1] for j in idx if cols[j][1])
            target.onsets += [Flag(now, service, cols[j][1]) for j in idx if starts[r, j]]
            target.last = now
    out = [
        FlagGroup(
            start_seconds=g.start,
            end_seconds=g.last,
            services=tuple(sorted(g.services)),
            signals=tuple(sorted(g.signals)),
            onsets=tuple(sorted(g.onsets, key=lambda f: (f.timestamp_seconds, f.service, f.signal))),
        )
        for g in groups
    ]
    out.sort(key=lambda g: (g.start_seconds, g.services))
    return out


def echo_services(catalog: Catalog, inc: Incident) -> set[str]:
    """Services an incident reaches through the dependency graph, by its kind's ``cascades``.

    ``callers``: every service up the graph (they wait for, or fail with, this one).
    ``callees``: every service down the graph (they get the extra load) and every service up
    the graph (that load slows the callees, and their callers wait for them). ``none``: none.
    Used only for the informational echo count.
    """
    cascades = catalog.kind(inc.kind).cascades
    if cascades == "callers":
        return set(catalog.upstream(inc.service))
    if cascades == "callees":
        return set(catalog.downstream(inc.service)) | set(catalog.upstream(inc.service))
    return set()


def match(groups: Sequence[FlagGroup], incidents: Sequence[Incident], catalog: Catalog, *, grace_seconds: float = GRACE_SECONDS) -> Matching:
    """Match flag groups to incidents (see the module docstring for the rules)."""
    detected: dict[str, float] = {}
    used: set[int] = set()
    echo: set[int] = set()
    for inc in incidents:
        lo, hi = inc.start_seconds, inc.end_seconds + grace_seconds
        direct = {inc.service, *catalog.callers(inc.service)}
        spread = echo_services(catalog, inc) - direct
        for n, g in enumerate(groups):
            hits = [f.timestamp_seconds for f in g.onsets if f.service in direct and lo <= f.timestamp_seconds <= hi]
            if hits:
                used.add(n)
                detected[inc.id] = min(min(hits) - inc.start_seconds, detected.get(inc.id, math.inf))
            elif any(f.service in spread and lo <= f.timestamp_seconds <= hi for f in g.onsets):
                echo.add(n)
    echo -= used
    return Matching(
        detected=detected,
        false_alarms=tuple(g for n, g in enumerate(groups) if n not in used),
        echoes=tuple(groups[n] for n in sorted(echo)),
        groups=tuple(groups),
    )


def summarize(matching: Matching, incidents: Sequence[Incident], kinds: Sequence[str], days: float) -> dict[str, object]:
    """The per-detector metrics of the report (rounded for reading)."""
    n = len(incidents)
    tp = sum(1 for i in incidents if i.id in matching.detected)
    fa = len(matching.false_alarms)
    precision = tp / (tp + fa) if tp + fa else 0.0
    recall = tp / n if n else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    ttd = [matching.detected[i.id] for i in incidents if i.id in matching.detected]
    by_signal: dict[str, int] = {}
    for g in matching.false_alarms:
        for sig in g.signals:
            by_signal[sig] = by_signal.get(sig, 0) + 1
    by_kind: dict[str, float | None] = {}
    for k in kinds:
        of_kind = [i for i in incidents if i.kind == k]
        by_kind[k] = round(sum(1 for i in of_kind if i.id in matching.detected) / len(of_kind), 4) if of_kind else None
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "false_alarms_per_day": round(fa / days, 4) if days else 0.0,
        "median_time_to_detect_seconds": float(np.median(ttd)) if ttd else None,
        "recall_by_kind": by_kind,
        "incidents": n,
        "detected": tp,
        "false_alarms": fa,
        "groups": len(matching.groups),
        "echoes": len(matching.echoes),
        "false_alarms_by_signal": dict(sorted(by_signal.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
