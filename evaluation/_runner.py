"""The runner: detectors side by side on a labelled suite, refitted daily on the past only.

:func:`run_detector` refits a detector at every evaluation midnight on everything before
it and scores the following day with that fit; what a detector may know at fit time is
only the records of incidents that had *ended* by then (and its own earlier flags). Scores
become flags through the model's debounce (:func:`model.debounce`) for everyone (at least ``k`` of the last ``m``
points score >= 1). :func:`evaluate_suite` groups and matches the flags
(:mod:`evaluation._matching`) and returns the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from model import CLOSE_AFTER_SECONDS, JOIN_WINDOW_SECONDS, FleetDetector, FleetModel, RollingZScore, StaticThreshold, debounce, load_signals
from simulator import Catalog, Incident

from ._matching import GRACE_SECONDS, group_flags, match, summarize
from ._suite import DAY_SECONDS, Progress, Suite

__all__ = ["DETECTOR_NAMES", "EvaluationSettings", "evaluate_suite", "known_at", "make_detector", "run_detector"]

#: The detectors compared, in report order.
DETECTOR_NAMES: tuple[str, ...] = ("static", "zscore", "linear_no_context", "linear")


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8.astype(np.float64) / 1e9


def make_detector(name: str, catalog: Catalog) -> FleetDetector:
    """A fresh, unfitted detector by its report name (see :data:`DETECTOR_NAMES`).

    ``linear`` is the detector's :class:`model.FleetModel` (``linear_no_context``: the same
    signals, seasonality only), told the catalog's dependency graph so an incident record
    leaves the incident's window out of the baselines of every service it reaches.
    """
    if name == "static":
        return StaticThreshold()
    if name == "zscore":
        return RollingZScore()
    if name in ("linear", "linear_no_context"):
        signals = load_signals()
        edges = [(d.caller, d.callee) for d in catalog.dependencies]
        return FleetModel(signals if name == "linear" else signals.without_context(), dependencies=edges)
    raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTOR_NAMES)}")


def _signals_debounce() -> tuple[int, int]:
    """The detector's own debounce, from the signals file, which every compared detector shares."""
    s = load_signals()
    return s.debounce_k, s.debounce_m


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

    debounce_k: int = field(default_factory=lambda: _signals_debounce()[0])
    debounce_m: int = field(default_factory=lambda: _signals_debounce()[1])
    join_window_seconds: float = JOIN_WINDOW_SECONDS
    close_after_seconds: float = CLOSE_AFTER_SECONDS
    grace_seconds: float = GRACE_SECONDS
    refit_every_seconds: float = DAY_SECONDS
    context_seconds: float = 7200.0
    share_flags: bool = True


def known_at(records: Sequence[Incident], fit_seconds: float) -> tuple[Incident, ...]:
    """The incident log as an ops team has it at ``fit_seconds``: incidents that had ended by then."""
    return tuple(i for i in records if i.end_seconds <= fit_seconds)


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
        flags_so_far = pd.DataFrame(debounce(raw, k, m), index=so_far.index, columns=so_far.columns)
        if progress:
            progress(f"  fitted before {pd.Timestamp(fit_at, unit='s', tz='UTC'):%Y-%m-%d %H:%M}, scored to {pd.Timestamp(until, unit='s', tz='UTC'):%Y-%m-%d %H:%M}")
        fit_at = until
    assert flags_so_far is not None
    return pd.concat(parts), flags_so_far


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
        out[name] = summarize(m, incidents, suite.catalog.transient_kind_names, suite.days)  # the kinds the suite plays
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
