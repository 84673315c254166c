"""The *recalibrate* stage: a lasting change in the evaluation window becomes the registered model's new normal.

A model fitted on the days before the evaluation window has not seen a change that began
inside it (a release that made a service slower for good, minutes before ``aiops train``).
Registered as it is, it would page on that change for as long as it serves. This stage applies
the online loop's re-baseline rule (:mod:`model._rebaseline`) to the best candidate's own
debounced flags over the evaluation window:

1. a run of flags on one series that lasts ``after_seconds`` (gaps up to
   :data:`model.JOIN_WINDOW_SECONDS`) is a *lasting change*, accepted when it had lasted the
   horizon, exactly as the online loop would have accepted it;
2. its level offset is the median residual from the change's first flag to that acceptance
   (data up to the acceptance only), so every point after it is out of sample;
3. it is kept only if it is still there at the end of the data: over the points after the
   acceptance (at least :data:`MIN_POINTS_AFTER`), the series has not returned to its old
   baseline (:func:`model.has_returned`, the online loop's withdraw rule);
4. while a labelled incident that is meant to end (any kind but a permanent one, such as a
   release) is still open at the end of the data, no change is accepted: the fleet is in an
   incident, not in a new normal, and an offset learned now would make the champion deaf to it.

The kept offsets are applied to the candidate (``FleetModel.with_level_offsets``; saved in its
JSON, term ``re-baseline`` in its explanations), and the gate compares it with the champion on
the *recent window*, the points after the last acceptance: :func:`recent_error` (mean over
series of the mean absolute residual divided by the series' mean absolute deviation from its
median over the whole evaluation window). Only one offset per series, the first acceptance:
a ramp (a leak) keeps moving after it, and it is the online loop's job to follow one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model import JOIN_WINDOW_SECONDS, FleetModel, FlagRuns, as_epoch_seconds, format_value, has_returned, level_offset

from ._evaluate import CONTEXT_SECONDS, Evaluation
from ._extract import Dataset

__all__ = ["MIN_POINTS_AFTER", "LastingChange", "Recalibration", "find_lasting_changes", "recent_error"]

#: Points after an acceptance needed to tell that the change is still there (and to gate on).
MIN_POINTS_AFTER = 3

Key = tuple[str, str]


def _clock(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").strftime("%H:%M:%SZ")


@dataclass(frozen=True, kw_only=True)
class LastingChange:
    """One series' lasting change: its first flag, its acceptance, the offset and what followed it."""

    service: str
    signal: str
    since_seconds: float
    accepted_seconds: float
    offset: float
    #: Median residual after the acceptance against the old baseline (the fit without the offset).
    residual_after: float
    points_after: int
    unit: str = ""
    label: str = ""

    @property
    def key(self) -> Key:
        return (self.service, self.signal)

    def sentence(self) -> str:
        """``payments p95 latency: level +81.2 ms since 12:03:00Z (accepted 12:18:00Z; +80.9 ms over the 7 points since)``."""
        name = f"{self.service} {self.label or self.signal}"
        return (
            f"{name}: level {format_value(self.offset, self.unit, signed=True)} since {_clock(self.since_seconds)} "
            f"(accepted {_clock(self.accepted_seconds)}; {format_value(self.residual_after, self.unit, signed=True)} "
            f"over the {self.points_after} points since)"
        )


@dataclass(frozen=True, kw_only=True)
class Recalibration:
    """What the stage found: the changes kept, those left out (with why) and the recent window."""

    after_seconds: float
    changes: tuple[LastingChange, ...] = ()
    #: One sentence per change seen and not kept, or why none could be.
    left_out: tuple[str, ...] = ()

    @property
    def offsets(self) -> dict[Key, float]:
        return {c.key: c.offset for c in self.changes}

    @property
    def recent_start_seconds(self) -> float | None:
        """The recent window starts after the last acceptance (None: no change kept)."""
        return max((c.accepted_seconds for c in self.changes), default=None)

    def apply(self, model: FleetModel) -> FleetModel:
        """``model`` with the kept offsets (itself when there are none)."""
        return model.with_level_offsets(self.offsets) if self.changes else model

    def describe(self) -> str:
        if self.after_seconds <= 0:
            return "off (rebaseline_after_seconds 0)"
        if not self.changes:
            return "no lasting change in the evaluation window" + (f" ({self.left_out[0]})" if self.left_out else "")
        n = len(self.changes)
        return f"{n} lasting change{'s' if n != 1 else ''} accepted as the new normal: " + "; ".join(c.sentence() for c in self.changes)


def _open_incidents(data: Dataset) -> list[str]:
    """The labelled incidents still open at the end of the data whose kind is meant to end."""
    out = []
    for i in data.incidents:
        if i.start_seconds + i.duration_seconds >= data.end_seconds and not data.catalog.kind(i.kind).permanent:
            out.append(f"{i.kind} on {i.service} since {_clock(i.start_seconds)}")
    return out


def find_lasting_changes(model: FleetModel, evaluation: Evaluation, data: Dataset, *, after_seconds: float) -> Recalibration:
    """The lasting changes in ``evaluation`` (``model``'s own flags and residuals over the evaluation window); see the module docstring."""
    if after_seconds <= 0:
        return Recalibration(after_seconds=after_seconds)
    flags = evaluation.flags
    if flags.empty:
        return Recalibration(after_seconds=after_seconds)
    runs = FlagRuns(after_seconds=after_seconds, max_gap_seconds=JOIN_WINDOW_SECONDS)
    t = as_epoch_seconds(pd.DatetimeIndex(flags.index))
    due = {}
    for col in flags.columns:
        key = (str(col[0]), str(col[1]))
        for change in runs.observe((key, ts, bool(f)) for ts, f in zip(t, flags[col].to_numpy())):
            due.setdefault(change.key, change)  # the first acceptance of each series
    if not due:
        return Recalibration(after_seconds=after_seconds)
    blocking = _open_incidents(data)
    if blocking:
        return Recalibration(
            after_seconds=after_seconds,
            left_out=(f"{len(due)} lasting change{'s' if len(due) != 1 else ''} left out: an incident is still open ({'; '.join(blocking)})",),
        )
    found = evaluation.detection
    found_t = as_epoch_seconds(pd.DatetimeIndex(found["timestamp"]))
    kept, left_out = [], []
    for key, change in sorted(due.items()):
        mine = (found["service"].to_numpy() == key[0]) & (found["signal"].to_numpy() == key[1])
        during = mine & (found_t >= change.since_seconds - 1e-6) & (found_t <= change.accepted_seconds + 1e-6)
        after = mine & (found_t > change.accepted_seconds + 1e-6)
        offset = level_offset(found.loc[during, "value"].to_numpy(), found.loc[during, "expected"].to_numpy())
        residual_after = level_offset(found.loc[after, "value"].to_numpy(), found.loc[after, "expected"].to_numpy())
        spec = data.signals.spec(key[1])
        name = f"{key[0]} {spec.label}"
        n_after = int(after.sum())
        if not math.isfinite(offset):
            left_out.append(f"{name}: no values to measure a level on")
        elif n_after < MIN_POINTS_AFTER:
            left_out.append(f"{name}: accepted at {_clock(change.accepted_seconds)}, only {n_after} points since (needs {MIN_POINTS_AFTER}): too recent to tell")
        elif has_returned(residual_after, offset):
            left_out.append(
                f"{name}: a change of {format_value(offset, spec.unit, signed=True)} from {_clock(change.since_seconds)} went away "
                f"(median residual {format_value(residual_after, spec.unit, signed=True)} since {_clock(change.accepted_seconds)})"
            )
        else:
            kept.append(
                LastingChange(
                    service=key[0], signal=key[1], since_seconds=change.since_seconds, accepted_seconds=change.accepted_seconds,
                    offset=offset, residual_after=residual_after, points_after=n_after, unit=spec.unit, label=spec.label,
                )
            )  # fmt: skip
    return Recalibration(after_seconds=after_seconds, changes=tuple(kept), left_out=tuple(left_out))


def recent_error(model: FleetModel, data: Dataset, start_seconds: float) -> float:
    """``model``'s residual error on the points after ``start_seconds``: mean over series of MAE / the series' spread.

    The spread is the mean absolute deviation from the median over the whole evaluation
    window (a window of a few minutes is too short to give a series its scale). All points
    count, incidents included: the question is which model describes the data as it is now.
    NaN when no series has a point after ``start_seconds``.
    """
    window = data.window(data.eval_start_seconds - CONTEXT_SECONDS, data.end_seconds)
    found = model.detect(window)
    found = found.loc[as_epoch_seconds(pd.DatetimeIndex(found["timestamp"])) >= data.eval_start_seconds]
    ratios = []
    for _, part in found.groupby(["service", "signal"], sort=True):
        tt = as_epoch_seconds(pd.DatetimeIndex(part["timestamp"]))
        value, expected = part["value"].to_numpy(dtype=np.float64), part["expected"].to_numpy(dtype=np.float64)
        ok = np.isfinite(value) & np.isfinite(expected)
        recent = ok & (tt > start_seconds + 1e-6)
        if recent.sum() < 1 or ok.sum() < 2:
            continue
        spread = float(np.mean(np.abs(value[ok] - np.median(value[ok]))))
        if spread <= 0:
            continue
        ratios.append(float(np.mean(np.abs(value[recent] - expected[recent]))) / spread)
    return round(float(np.mean(ratios)), 4) if ratios else math.nan
