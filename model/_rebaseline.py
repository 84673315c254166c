"""The re-baseline rule: a change that has lasted longer than a horizon is accepted as the new normal.

Pure and clock-free: times are passed in, in seconds since the epoch.

- :class:`FlagRuns` follows, per series, the run of debounced flags it is in: a run starts at
  a flag and goes on while flags keep coming no more than ``max_gap_seconds`` apart (a short
  dip under the threshold does not end a change). A run that has lasted ``after_seconds`` is
  *due*: :meth:`FlagRuns.observe` returns it once, and the series starts afresh.
- :func:`has_returned` tells when an accepted change went away: the series back within half
  the offset of its old baseline (an incident that ended, a release rolled back).
- :func:`level_offset` is what accepting it means for a linear baseline: a level offset, the
  median residual (actual minus the model's own expected value) since the change began. Added
  to the expected value (and the band), it makes a step change normal.

A ramping change (a leak left running) keeps escaping a constant offset: after one is accepted
it is flagged again and, a horizon later, accepted again, one step behind. The horizon is the
trade-off: the shorter it is, the sooner a lasting change stops paging, and the sooner a long
incident left running is forgotten as the new normal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Iterable

import numpy as np

__all__ = ["AcceptedChange", "FlagRuns", "has_returned", "level_offset"]


@dataclass(frozen=True, kw_only=True)
class AcceptedChange:
    """A run of flags on one series accepted as the new normal.

    ``since_seconds`` is the run's first flag, ``accepted_seconds`` the flag at which it had
    lasted the horizon, ``flags`` how many flagged points it held.
    """

    key: Hashable
    since_seconds: float
    accepted_seconds: float
    flags: int

    @property
    def lasted_seconds(self) -> float:
        return self.accepted_seconds - self.since_seconds


class FlagRuns:
    """Runs of flags per series (any hashable key, e.g. ``(service, signal)``); see the module docstring.

    Parameters
    ----------
    after_seconds : how long a run must last to be accepted (``> 0``).
    max_gap_seconds : the longest gap between two flags of one run (``>= 0``).
    """

    def __init__(self, *, after_seconds: float, max_gap_seconds: float) -> None:
        if not after_seconds > 0:
            raise ValueError(f"after_seconds must be > 0, not {after_seconds}")
        if not max_gap_seconds >= 0:
            raise ValueError(f"max_gap_seconds must be >= 0, not {max_gap_seconds}")
        self.after_seconds = float(after_seconds)
        self.max_gap_seconds = float(max_gap_seconds)
        self._runs: dict[Hashable, tuple[float, float, int]] = {}  # key -> (first flag, last flag, flags)

    def run_start(self, key: Hashable) -> float | None:
        """When the current run of ``key`` began (None: not in a run)."""
        run = self._runs.get(key)
        return None if run is None else run[0]

    def observe(self, points: Iterable[tuple[Hashable, float, bool]]) -> list[AcceptedChange]:
        """Feed ``(key, time_seconds, flagged)`` points in time order; returns the runs that became due.

        A point that is not flagged ends its key's run once the last flag is more than
        ``max_gap_seconds`` before it. A run that is due is returned once and forgotten, so
        the next flag of that key starts a new run.
        """
        due: list[AcceptedChange] = []
        for key, t, flagged in points:
            t = float(t)
            run = self._runs.get(key)
            if run is not None and t - run[1] > self.max_gap_seconds:
                run = None  # the gap ended the run
                del self._runs[key]
            if not flagged:
                continue
            if run is None:
                run = (t, t, 0)
            run = (run[0], max(run[1], t), run[2] + 1)
            if run[1] - run[0] >= self.after_seconds:
                due.append(AcceptedChange(key=key, since_seconds=run[0], accepted_seconds=run[1], flags=run[2]))
                self._runs.pop(key, None)
            else:
                self._runs[key] = run
        return due

    def forget(self, key: Hashable) -> None:
        """Drop ``key``'s current run (e.g. after its model changed)."""
        self._runs.pop(key, None)


def level_offset(actual: np.ndarray, expected: np.ndarray) -> float:
    """The median of ``actual - expected`` over the points where both are finite (NaN without any)."""
    r = np.asarray(actual, dtype=np.float64) - np.asarray(expected, dtype=np.float64)
    r = r[np.isfinite(r)]
    return float(np.median(r)) if r.size else float("nan")


def has_returned(residual_against_old: float, offset: float) -> bool:
    """Whether a series whose change was accepted with ``offset`` is back near its old baseline.

    ``residual_against_old`` is the median residual after the acceptance against the baseline
    *without* the offset. Back means within half the offset of it (a change of no size never
    returns; a NaN residual says nothing, so it does not either).
    """
    return bool(offset != 0 and np.isfinite(residual_against_old) and abs(residual_against_old) < 0.5 * abs(offset))
