"""Evaluation on labelled scenarios: a seeded suite, detectors side by side, event matching.

The suite (:func:`make_suite`) is a stretch of simulated fleet history, computed the way
Prometheus would (:mod:`detector._offline`), with incidents whose records are the
labels::

    | history_days of training history           | days of evaluation                |
    | (about one incident a day, ended before    | every kind at its default         |
    |  the evaluation starts)                    | intensity on >= 3 services, a few |
    |                                            | minutes each, spaced out; and     |
    |                                            | quiet_days without any incident   |

The calendar starts on a Monday plus ``seed % 7`` days, so seeds cover different weekdays.

The runner (:func:`run_detector`) refits each detector at every evaluation midnight on
everything before it and scores the following day with that fit; what a detector may know
at fit time is only the records of incidents that had *ended* by then (and its own earlier
flags). Scores become flags through the same debounce for everyone (at least ``k`` of the
last ``m`` points score >= 1); a service is flagged when any of its signals is.

Grouping (:func:`group_flags`) and matching (:func:`match`), shared by every detector:

- flags are grouped the way the detector service's correlation step groups them into
  detected incidents (:class:`~detector._correlate.Correlator`): walking the scoring cycles
  in time order, a flagged point joins an open group that has a flagged point at most
  ``join_window_seconds`` earlier on the same service or on a service joined to it by an
  edge of the catalog's dependency graph (a point that joins several merges them), or else
  opens a group; a group closes after ``close_after_seconds`` without a new point. Both
  windows default to the correlator's own. A group is what an operator would see as one
  alert;
- a *flag* starts where a ``(service, signal)`` series turns flagged (it was not at the
  point before); an incident is *detected* when a flag on its service or on a direct
  caller starts in ``[start, end + grace_seconds]``; time to detect = the first such flag's
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

import inspect
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd

from simulator import Catalog, Incident

from ._baselines import RollingZScore, StaticThreshold
from ._offline import OfflineSettings, fleet_frame

__all__ = [
    "DETECTOR_NAMES",
    "EvaluationSettings",
    "FleetDetector",
    "Flag",
    "FlagGroup",
    "Matching",
    "Suite",
    "SuiteSettings",
    "debounce_flags",
    "echo_services",
    "evaluate_suite",
    "known_at",
    "group_flags",
    "make_detector",
    "make_suite",
    "match",
    "plan_incidents",
    "run_detector",
    "summarize",
]

DAY_SECONDS = 86_400.0
#: Monday 2026-01-05 00:00 UTC; a suite's history starts ``seed % 7`` days after it.
CALENDAR_ORIGIN_SECONDS = 1_767_571_200.0

#: The detectors compared, in report order.
DETECTOR_NAMES: tuple[str, ...] = ("static", "zscore", "linear_no_context", "linear")

Progress = Callable[[str], None]


# ============================================================================ the suite
@dataclass(frozen=True, kw_only=True)
class SuiteSettings:
    """The shape of a labelled suite (everything else comes from the seed)."""

    days: int = 3
    history_days: int = 14
    quiet_days: int = 1
    services_per_kind: int = 3
    min_duration_seconds: float = 180.0
    max_duration_seconds: float = 480.0
    history_incident_every_days: int = 1
    offline: OfflineSettings = field(default_factory=OfflineSettings)


@dataclass(frozen=True)
class Suite:
    """A labelled stretch of fleet history: the frame the detectors see and the answer key."""

    seed: int
    catalog: Catalog
    frame: pd.DataFrame
    incidents: tuple[Incident, ...]
    history_start_seconds: float
    eval_start_seconds: float
    days: int
    quiet_days: tuple[int, ...]

    @property
    def eval_end_seconds(self) -> float:
        return self.eval_start_seconds + self.days * DAY_SECONDS

    @property
    def eval_incidents(self) -> tuple[Incident, ...]:
        """The incidents the detectors are scored on (those starting in the evaluation days)."""
        return tuple(i for i in self.incidents if self.eval_start_seconds <= i.start_seconds < self.eval_end_seconds)

    def eval_index(self) -> pd.DatetimeIndex:
        t = _seconds(self.frame.index)
        return self.frame.index[(t >= self.eval_start_seconds) & (t < self.eval_end_seconds)]


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8.astype(np.float64) / 1e9


def _incident(catalog: Catalog, n: int, kind: str, service: str, start: float, duration: float) -> Incident:
    return Incident(
        id=f"s{n:03d}",
        kind=kind,
        service=service,
        intensity=catalog.kind(kind).intensity.default,
        start_seconds=float(round(start)),
        duration_seconds=float(round(duration)),
        triggered_by="scenario",
        triggered_seconds=float(round(start)),
    )


def plan_incidents(catalog: Catalog, seed: int, settings: SuiteSettings) -> tuple[tuple[Incident, ...], float, tuple[int, ...]]:
    """The suite's incident records, the evaluation start and the quiet days; no simulation.

    Every kind runs at its default intensity, on ``services_per_kind`` distinct services per
    two incident days (at least that many), in equal slots of the incident days with a
    seeded offset inside each slot, so consecutive incidents are at least about 40 minutes
    apart and every signal is back to normal before the next one.
    """
    if settings.days < 1 or settings.history_days < 1:
        raise ValueError("need at least one evaluation day and one history day")
    if not 0 <= settings.quiet_days < settings.days:
        raise ValueError("quiet_days must leave at least one evaluation day with incidents")
    rng = np.random.default_rng(seed)
    start = CALENDAR_ORIGIN_SECONDS + (seed % 7) * DAY_SECONDS
    eval_start = start + settings.history_days * DAY_SECONDS
    services = catalog.service_names
    kinds = catalog.kind_names
    lo, hi = settings.min_duration_seconds, settings.max_duration_seconds
    records: list[Incident] = []

    # Training history: one incident every few days, a bit longer, ended well before the evaluation.
    for d in range(1, settings.history_days, max(1, settings.history_incident_every_days)):
        kind = kinds[rng.integers(len(kinds))]
        service = services[rng.integers(len(services))]
        duration = float(rng.uniform(lo, 4 * hi))
        t0 = start + d * DAY_SECONDS + float(rng.uniform(0.05, 0.9)) * DAY_SECONDS
        records.append(_incident(catalog, len(records), kind, service, t0, duration))

    # Evaluation days: every kind on distinct services, spread over the non-quiet days.
    quiet = tuple(sorted(int(q) for q in rng.choice(settings.days, size=settings.quiet_days, replace=False)))
    busy = [d for d in range(settings.days) if d not in quiet]
    rounds = settings.services_per_kind * max(1, math.ceil(len(busy) / 2))
    pairs: list[tuple[str, str]] = []
    for kind in kinds:
        order = list(rng.permutation(len(services)))
        pairs += [(kind, services[order[r % len(services)]]) for r in range(rounds)]
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    per_day = [pairs[i :: len(busy)] for i in range(len(busy))]
    for day, todays in zip(busy, per_day):
        slot = DAY_SECONDS / max(1, len(todays))
        for j, (kind, service) in enumerate(todays):
            duration = float(rng.uniform(lo, hi))
            room = max(0.0, slot - duration - 40 * 60.0)
            t0 = eval_start + day * DAY_SECONDS + j * slot + 10 * 60.0 + float(rng.uniform(0, 1)) * max(0.0, room - 10 * 60.0)
            records.append(_incident(catalog, len(records), kind, service, t0, duration))
    records.sort(key=lambda i: i.start_seconds)
    return tuple(records), eval_start, quiet


def make_suite(catalog: Catalog, seed: int, settings: SuiteSettings = SuiteSettings(), *, progress: Progress | None = None) -> Suite:
    """Plan the incidents for ``seed`` and simulate the fleet's frame over history + evaluation."""
    incidents, eval_start, quiet = plan_incidents(catalog, seed, settings)
    history_start = eval_start - settings.history_days * DAY_SECONDS
    if progress:
        progress(f"simulating {settings.history_days + settings.days} days of fleet history (seed {seed})")
    frame = fleet_frame(
        catalog,
        seed,
        start_seconds=history_start,
        end_seconds=eval_start + settings.days * DAY_SECONDS,
        incidents=incidents,
        settings=settings.offline,
    )
    return Suite(
        seed=seed,
        catalog=catalog,
        frame=frame,
        incidents=incidents,
        history_start_seconds=history_start,
        eval_start_seconds=eval_start,
        days=settings.days,
        quiet_days=quiet,
    )


# ============================================================================ detectors
class FleetDetector(Protocol):
    """What the runner needs from a detector: fit on the past, score a frame (``>= 1`` anomalous).

    ``incidents`` are the incident records an ops team had at ``fit_time`` (only ended ones),
    ``flagged`` the detector's own earlier flags; a detector may use them to clean its
    baseline, or ignore them.
    """

    def fit(
        self, frame: pd.DataFrame, *, incidents: Sequence[Incident] = (), flagged: pd.DataFrame | None = None, fit_time: float | None = None
    ) -> "FleetDetector": ...

    def score(self, frame: pd.DataFrame) -> pd.DataFrame: ...


class _Linear:
    """The detector's :class:`~detector._signals.FleetModel` behind the runner's interface.

    ``context=False`` gives ``linear_no_context`` (the same signals, seasonality only). An
    incident record leaves the incident's window out of the baselines of its service and of
    every service up or down the dependency graph from it.
    """

    def __init__(self, catalog: Catalog, *, context: bool) -> None:
        from ._signals import FleetModel, load_signals

        signals = load_signals()
        self.model = FleetModel(signals if context else signals.without_context(), incident_scope=lambda s: _graph_neighbourhood(catalog, s))

    def fit(
        self, frame: pd.DataFrame, *, incidents: Sequence[Incident] = (), flagged: pd.DataFrame | None = None, fit_time: float | None = None
    ) -> "_Linear":
        self.model.fit(frame, incidents=incidents, flagged=flagged, fit_time=fit_time)
        return self

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.model.score(frame)


class _Simple:
    """A baseline detector that learns nothing from incident records or its own flags."""

    def __init__(self, inner: StaticThreshold | RollingZScore) -> None:
        self.inner = inner

    def fit(
        self, frame: pd.DataFrame, *, incidents: Sequence[Incident] = (), flagged: pd.DataFrame | None = None, fit_time: float | None = None
    ) -> "_Simple":
        self.inner.fit(frame)
        return self

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.inner.score(frame)


def _graph_neighbourhood(catalog: Catalog, service: str) -> tuple[str, ...]:
    return (service, *catalog.upstream(service), *catalog.downstream(service))


def make_detector(name: str, catalog: Catalog) -> FleetDetector:
    """A fresh, unfitted detector by its report name (see :data:`DETECTOR_NAMES`)."""
    if name == "static":
        return _Simple(StaticThreshold())
    if name == "zscore":
        return _Simple(RollingZScore())
    if name in ("linear", "linear_no_context"):
        return _Linear(catalog, context=(name == "linear"))
    raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTOR_NAMES)}")


def _detector_debounce() -> tuple[int, int]:
    """The detector's own debounce (``signals.yaml``), which every compared detector shares."""
    try:
        from ._signals import load_signals

        s = load_signals()
        return s.debounce_k, s.debounce_m
    except ImportError:  # pragma: no cover - the model core is part of the package
        return 2, 3


def _correlator_default(name: str) -> float:
    """The detector service's default for a :class:`~detector._correlate.Correlator` window."""
    from ._correlate import Correlator

    return float(inspect.signature(Correlator).parameters[name].default)


@dataclass(frozen=True, kw_only=True)
class EvaluationSettings:
    """Settings every detector shares (tuned on seed 8 only).

    ``debounce_k`` of the last ``debounce_m`` points must score >= 1 for a flag (default: the
    detector's own, from ``signals.yaml``); ``join_window_seconds`` and
    ``close_after_seconds`` group flags into detected incidents the way the detector
    service's correlator does (default: the correlator's own); ``grace_seconds`` after an
    incident's end a flag still counts for it (the 2m rate window drains);
    ``refit_every_seconds`` how often detectors are refitted on everything before;
    ``context_seconds`` of data before each scored period handed to ``score`` (a rolling
    window's history); ``share_flags`` hands each detector its own earlier flags at the next
    fit (for self-cleaning).
    """

    debounce_k: int = field(default_factory=lambda: _detector_debounce()[0])
    debounce_m: int = field(default_factory=lambda: _detector_debounce()[1])
    join_window_seconds: float = field(default_factory=lambda: _correlator_default("join_window_seconds"))
    close_after_seconds: float = field(default_factory=lambda: _correlator_default("close_after_seconds"))
    grace_seconds: float = 120.0
    refit_every_seconds: float = DAY_SECONDS
    context_seconds: float = 7200.0
    share_flags: bool = True


def known_at(records: Sequence[Incident], fit_seconds: float) -> tuple[Incident, ...]:
    """The incident log as an ops team has it at ``fit_seconds``: incidents that had ended by then."""
    return tuple(i for i in records if i.end_seconds <= fit_seconds)


def debounce_flags(anomalous: np.ndarray, k: int, m: int) -> np.ndarray:
    """True where at least ``k`` of the last ``m`` points (this one included) are anomalous."""
    if not 1 <= k <= m:
        raise ValueError(f"need 1 <= k <= m, got k={k}, m={m}")
    f = np.asarray(anomalous, dtype=bool)
    counts = np.cumsum(f, axis=0, dtype=np.int64)
    if m < f.shape[0]:
        counts[m:] -= counts[:-m].copy()
    return counts >= k


def run_detector(
    detector: Callable[[], FleetDetector],
    suite: Suite,
    settings: EvaluationSettings | None = None,
    *,
    records: Sequence[Incident] | None = None,
    frame: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Refit-and-score over the evaluation days; returns ``(scores, flags)`` on the evaluation rows.

    ``detector`` builds a fresh unfitted detector. At each refit it gets the frame before
    that moment, the incident records that had ended by then (from ``records``, default the
    suite's) and its own flags so far. ``frame`` defaults to the suite's; both are
    parameters so tests can show that neither ground truth nor future records change a flag.
    """
    settings = settings or EvaluationSettings()
    data = suite.frame if frame is None else frame
    log = suite.incidents if records is None else tuple(records)
    t = _seconds(data.index)
    k, m = settings.debounce_k, settings.debounce_m
    parts: list[pd.DataFrame] = []
    flags_so_far: pd.DataFrame | None = None
    fit_at = suite.eval_start_seconds
    while fit_at < suite.eval_end_seconds:
        until = min(fit_at + settings.refit_every_seconds, suite.eval_end_seconds)
        train = data.loc[t < fit_at]
        flagged = None
        if settings.share_flags and flags_so_far is not None:
            flagged = flags_so_far.reindex(index=train.index, columns=flags_so_far.columns, fill_value=False)
        model = detector().fit(train, incidents=known_at(log, fit_at), flagged=flagged, fit_time=fit_at)
        window = data.loc[(t >= fit_at - settings.context_seconds) & (t < until)]
        scores = model.score(window)
        parts.append(scores.loc[_seconds(scores.index) >= fit_at])
        so_far = pd.concat(parts)
        raw = np.nan_to_num(so_far.to_numpy(dtype=np.float64), nan=0.0) >= 1.0
        flags_so_far = pd.DataFrame(debounce_flags(raw, k, m), index=so_far.index, columns=so_far.columns)
        if progress:
            progress(f"  fitted before {pd.Timestamp(fit_at, unit='s', tz='UTC'):%Y-%m-%d %H:%M}, scored to {pd.Timestamp(until, unit='s', tz='UTC'):%Y-%m-%d %H:%M}")
        fit_at = until
    assert flags_so_far is not None
    return pd.concat(parts), flags_so_far


# ============================================================================ matching
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
    join_window_seconds: float,
    close_after_seconds: float,
) -> list[FlagGroup]:
    """Group flags the way the detector service's correlator does (:class:`~detector._correlate.Correlator`).

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


def match(groups: Sequence[FlagGroup], incidents: Sequence[Incident], catalog: Catalog, *, grace_seconds: float = 120.0) -> Matching:
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


def evaluate_suite(
    suite: Suite,
    detectors: Sequence[str] = DETECTOR_NAMES,
    settings: EvaluationSettings | None = None,
    *,
    factories: Mapping[str, Callable[[], FleetDetector]] | None = None,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Run every detector over the suite and return the report (the ``--format json`` payload)."""
    settings = settings or EvaluationSettings()
    out: dict[str, object] = {}
    incidents = suite.eval_incidents
    for name in detectors:
        if progress:
            progress(f"{name}: refit daily, scoring {suite.days} days")
        factory = (factories or {}).get(name) or (lambda name=name: make_detector(name, suite.catalog))
        _, flags = run_detector(factory, suite, settings, progress=progress)
        dependencies = [(d.caller, d.callee) for d in suite.catalog.dependencies]
        groups = group_flags(
            flags, dependencies, join_window_seconds=settings.join_window_seconds, close_after_seconds=settings.close_after_seconds
        )
        m = match(groups, incidents, suite.catalog, grace_seconds=settings.grace_seconds)
        out[name] = summarize(m, incidents, suite.catalog.kind_names, suite.days)
    return {
        "seed": suite.seed,
        "days": suite.days,
        "history_days": int(round((suite.eval_start_seconds - suite.history_start_seconds) / DAY_SECONDS)),
        "quiet_days": list(suite.quiet_days),
        "incidents": len(incidents),
        "settings": {
            "debounce": f"{settings.debounce_k} of {settings.debounce_m}",
            "grouping": "correlation over the dependency graph (as the detector service)",
            "join_window_seconds": settings.join_window_seconds,
            "close_after_seconds": settings.close_after_seconds,
            "grace_seconds": settings.grace_seconds,
            "step_seconds": float(np.median(np.diff(_seconds(suite.frame.index)))) if len(suite.frame.index) > 1 else None,
        },
        "detectors": out,
    }
