"""NAB's scoring rules as pure functions (no I/O, no clock).

The rules are the ones written down in ``../shared/datasets/nab/README.md``:

- probation: the first ``P = min(floor(0.15 N), 750)`` rows of a file count neither way;
- inside a window ``[L, R]`` (row indices, inclusive, width ``w = R - L + 1``) only the earliest
  detection counts and earns ``A_TP * sigma(y) / sigma(-1)`` with ``y = -(R - i + 1) / w``;
  a window with no detection costs ``-A_FN``;
- a detection outside every window costs ``A_FP * sigma(y)`` (``sigma`` is negative there) with
  ``y = (i - R_prev) / (w_prev - 1)`` from the most recent window before it, or the full
  ``-A_FP`` when no window precedes it;
- the normalised score is ``100 * (S - S_null) / (S_perfect - S_null)`` over the windows scored;
- the corpus-optimised threshold is the distinct score value with the best raw score over all
  files (ties go to the higher threshold), found by one sorted sweep.

``sigma(y) = 2 / (1 + exp(5 y)) - 1``, and ``-1`` for ``y > 3``.

Files are given as ``(scores, windows)`` pairs: ``scores`` is the detector's ``anomaly_score``
per row (in ``[0, 1]``), ``windows`` a sequence of inclusive ``(L, R)`` row ranges, which
:func:`window_rows` builds from NAB's ``[start, end]`` timestamps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "NEVER_FIRE_THRESHOLD",
    "PROFILES",
    "Profile",
    "ScoredFile",
    "SortedEvents",
    "best_of_sweep",
    "best_threshold",
    "file_events",
    "normalised_score",
    "optimise_threshold",
    "probation_rows",
    "raw_at_threshold",
    "row_weights",
    "scaled_sigmoid",
    "score_corpus",
    "score_file",
    "threshold_sweep",
    "window_rows",
]

#: A threshold above every score in [0, 1]: the "never fire" candidate NAB's sweep starts from.
NEVER_FIRE_THRESHOLD = 1.1

Windows = Sequence[tuple[int, int]]
ScoredFile = tuple[npt.ArrayLike, Windows]


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One NAB application profile: the weights of a true positive, false positive, false negative."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(name="standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0),
        Profile(name="reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0),
        Profile(name="reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0),
    )
}


def scaled_sigmoid(y: npt.ArrayLike) -> np.ndarray:
    """NAB's ``sigma(y) = 2 / (1 + e^{5y}) - 1``, and exactly ``-1`` for ``y > 3``."""
    y = np.asarray(y, dtype=float)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * np.minimum(y, 3.0))) - 1.0
    return np.where(y > 3.0, -1.0, value)


def probation_rows(n_rows: int) -> int:
    """Rows of NAB's probationary warm-up in a file of ``n_rows``: ``min(floor(0.15 N), 750)``."""
    return min(math.floor(0.15 * n_rows), 750)


def window_rows(timestamps: npt.ArrayLike, windows: Iterable[tuple[object, object]]) -> list[tuple[int, int]]:
    """Map ``[start, end]`` timestamp windows to inclusive ``(L, R)`` row ranges.

    A row is inside a window when ``start <= timestamp <= end``; with repeated timestamps every
    copy is inside or outside together. ``timestamps`` must be non-decreasing. Raises
    ``ValueError`` for a window that covers no row, ends before it starts, or overlaps another.
    """
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    if ts.size and np.any(ts[1:] < ts[:-1]):
        raise ValueError("timestamps are not in time order")
    rows: list[tuple[int, int]] = []
    for start, end in windows:
        lo, hi = np.datetime64(start, "ns"), np.datetime64(end, "ns")
        if hi < lo:
            raise ValueError(f"window [{start}, {end}] ends before it starts")
        left = int(np.searchsorted(ts, lo, side="left"))
        right = int(np.searchsorted(ts, hi, side="right")) - 1
        if left > right:
            raise ValueError(f"window [{start}, {end}] covers no row")
        rows.append((left, right))
    rows.sort()
    for (_, r0), (l1, _) in zip(rows, rows[1:]):
        if l1 <= r0:
            raise ValueError("windows overlap")
    return rows


def row_weights(n_rows: int, windows: Windows, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """What a detection at each row is worth, and which window (or -1) each row is in.

    Returns ``(weight, window_id)``, both of shape ``(n_rows,)``. Inside window ``k`` the weight
    is the true-positive reward for that row being the window's earliest detection; outside it
    is the (negative) false-positive cost. Probation rows have weight 0 and ``window_id`` -1.
    """
    spans = sorted(windows)
    lefts = np.array([left for left, _ in spans], dtype=np.int64)
    rights = np.array([right for _, right in spans], dtype=np.int64)
    if spans and (lefts.min() < 0 or rights.max() >= n_rows or np.any(rights < lefts)):
        raise ValueError(f"window rows {spans} do not fit a file of {n_rows} rows")
    if np.any(lefts[1:] <= rights[:-1]):
        raise ValueError("windows overlap")
    widths = rights - lefts + 1
    idx = np.arange(n_rows)
    # The last window starting at or before each row (-1: none), and whether the row is inside it.
    k = np.searchsorted(lefts, idx, side="right") - 1
    inside = np.zeros(n_rows, dtype=bool)
    weight = np.full(n_rows, -profile.fp_weight, dtype=float)  # FP with no earlier window
    if spans:
        inside = (k >= 0) & (idx <= rights[np.maximum(k, 0)])
        r, w = rights[k[inside]], widths[k[inside]]
        weight[inside] = profile.tp_weight * scaled_sigmoid(-(r - idx[inside] + 1) / w) / scaled_sigmoid(-1.0)
        after = ~inside & (k >= 0)  # outside, with a window before it (the one starting last)
        r, w = rights[k[after]], widths[k[after]]
        weight[after] = profile.fp_weight * scaled_sigmoid((idx[after] - r) / np.maximum(w - 1, 1))
    window_id = np.where(inside, k, -1)
    probation = probation_rows(n_rows)
    weight[:probation] = 0.0
    window_id[:probation] = -1
    return weight, window_id


def _as_scores(scores: npt.ArrayLike) -> np.ndarray:
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1:
        raise ValueError("scores must be one-dimensional")
    if np.any(~np.isfinite(s)) or np.any(s < 0.0) or np.any(s > 1.0):
        raise ValueError("anomaly scores must be finite and in [0, 1]")
    return s


def score_file(scores: npt.ArrayLike, windows: Windows, *, threshold: float, profile: Profile) -> float:
    """Raw NAB score of one file when every row with ``score >= threshold`` is a detection."""
    s = _as_scores(scores)
    weight, window_id = row_weights(s.size, windows, profile)
    detected = (s >= threshold) & (np.arange(s.size) >= probation_rows(s.size))
    total = float(weight[detected & (window_id < 0)].sum())
    for k in range(len(windows)):
        hits = np.flatnonzero(detected & (window_id == k))
        total += float(weight[hits[0]]) if hits.size else -profile.fn_weight
    return total


def score_corpus(files: Sequence[ScoredFile], *, threshold: float, profile: Profile) -> float:
    """Raw NAB score ``S`` summed over files at one threshold."""
    return sum(score_file(s, w, threshold=threshold, profile=profile) for s, w in files)


def normalised_score(raw: float, n_windows: int, profile: Profile) -> float:
    """``100 * (S - S_null) / (S_perfect - S_null)``; 0 is the null detector, 100 a perfect one."""
    if n_windows <= 0:
        raise ValueError("the files scored have no anomaly windows, so the score is undefined")
    perfect = profile.tp_weight * n_windows
    null = -profile.fn_weight * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def _events(scores: np.ndarray, windows: Windows, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Threshold values at which the file's raw score changes, and by how much.

    Lowering the threshold to ``v`` turns on every row scoring ``v``. An outside row adds its
    FP cost. Inside a window the earliest detection moves only to a row whose score beats every
    earlier (post-probation) row of the window (a left-to-right record).
    """
    weight, window_id = row_weights(scores.size, windows, profile)
    eligible = np.arange(scores.size) >= probation_rows(scores.size)
    outside = eligible & (window_id < 0)
    values = [scores[outside]]
    deltas = [weight[outside]]
    for k in range(len(windows)):
        rows = np.flatnonzero(window_id == k)  # already post-probation
        if rows.size == 0:
            continue
        s = scores[rows]
        previous_max = np.concatenate(([-np.inf], np.maximum.accumulate(s)[:-1]))
        record = s > previous_max
        reward = weight[rows[record]]
        values.append(s[record])
        # Records rise left to right, so they switch on right to left as the threshold falls:
        # each replaces the reward of the record after it (the last replaces the miss).
        deltas.append(reward - np.append(reward[1:], -profile.fn_weight))
    return np.concatenate(values), np.concatenate(deltas)


def file_events(scores: npt.ArrayLike, windows: Windows, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """One file's threshold events: the score values at which its raw score changes, and by how much.

    The file's raw score at threshold ``t`` is ``-A_FN * len(windows) + sum(deltas[values >= t])``
    (:func:`raw_at_threshold`); a corpus's best threshold is one sweep over its files' events
    (:func:`best_threshold`).
    """
    return _events(_as_scores(scores), windows, profile)


def raw_at_threshold(events: tuple[np.ndarray, np.ndarray], n_windows: int, threshold: float, profile: Profile) -> float:
    """A file's raw NAB score at ``threshold`` from its :func:`file_events` (equal to :func:`score_file`)."""
    values, deltas = events
    return float(-profile.fn_weight * n_windows + deltas[values >= threshold].sum())


def threshold_sweep(events: Sequence[tuple[np.ndarray, np.ndarray]], n_windows: int, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Every candidate threshold (ascending, :data:`NEVER_FIRE_THRESHOLD` last) and the corpus raw score at it.

    Candidates are the event values of the files given by their :func:`file_events`; the raw score
    at a threshold ``t`` is the one at the smallest candidate ``>= t``, so candidate ``j`` holds
    for every threshold in ``(candidates[j-1], candidates[j]]``. ``O(N log N)`` in the events.
    """
    values = np.concatenate([v for v, _ in events]) if events else np.empty(0)
    deltas = np.concatenate([d for _, d in events]) if events else np.empty(0)
    order = np.argsort(values, kind="stable")
    return _sorted_sweep(values[order], deltas[order], -profile.fn_weight * n_windows)


def _sorted_sweep(values: np.ndarray, deltas: np.ndarray, base: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`threshold_sweep` on events already sorted by value (stable); ``base`` is the raw score with nothing detected.

    Scores lie in ``[0, 1]``, under :data:`NEVER_FIRE_THRESHOLD`: the first of each run of equal
    values is a candidate, and its total is ``base`` plus every delta from it on.
    """
    suffix = np.concatenate((np.cumsum(deltas[::-1])[::-1], [0.0]))  # suffix[j] = sum of deltas[j:]
    first = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1]))) if values.size else np.zeros(0, dtype=int)
    candidates = np.concatenate((values[first], [NEVER_FIRE_THRESHOLD]))
    return candidates, base + suffix[np.concatenate((first, [values.size]))]


def best_threshold(events: Sequence[tuple[np.ndarray, np.ndarray]], n_windows: int, profile: Profile) -> tuple[float, float]:
    """The corpus-optimised threshold and its raw score over files given by their :func:`file_events`.

    Candidates are every event value plus :data:`NEVER_FIRE_THRESHOLD` (a score value that is not
    an event ties with the next event above it, and ties go to the higher threshold, so the other
    score values never win); the best raw score wins, ties (within float rounding) go to the
    higher threshold. ``O(N log N)`` in the number of events.
    """
    return best_of_sweep(*threshold_sweep(events, n_windows, profile))


def best_of_sweep(candidates: np.ndarray, totals: np.ndarray) -> tuple[float, float]:
    """:func:`best_threshold`'s choice from a :func:`threshold_sweep`: the best raw score, ties to the higher threshold."""
    best = float(totals.max())
    tolerance = 1e-9 * max(1.0, abs(best))
    chosen = int(np.flatnonzero(totals >= best - tolerance)[-1])  # candidates ascend: last = highest
    return float(candidates[chosen]), float(totals[chosen])


class SortedEvents:
    """Several files' :func:`file_events`, sorted once, for many :func:`threshold_sweep` s over subsets of the files.

    ``sweep(files)`` equals ``threshold_sweep([events[i] for i in files], ...)`` exactly (the same
    stable order of equal values, so the same sums) without sorting again.
    """

    def __init__(self, events: Sequence[tuple[np.ndarray, np.ndarray]], n_windows: Sequence[int]):
        values = np.concatenate([v for v, _ in events]) if events else np.empty(0)
        deltas = np.concatenate([d for _, d in events]) if events else np.empty(0)
        owner = np.repeat(np.arange(len(events)), [v.size for v, _ in events])
        order = np.argsort(values, kind="stable")
        self.values, self.deltas, self.owner = values[order], deltas[order], owner[order]
        self.n_windows = np.asarray(n_windows, dtype=int)

    def sweep(self, files: np.ndarray, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
        """:func:`threshold_sweep` over the files where the boolean mask ``files`` is true."""
        files = np.asarray(files, dtype=bool)
        keep = files[self.owner]
        return _sorted_sweep(self.values[keep], self.deltas[keep], -profile.fn_weight * int(self.n_windows[files].sum()))


def optimise_threshold(files: Sequence[ScoredFile], profile: Profile) -> tuple[float, float]:
    """The corpus-optimised threshold and its raw score, by one sorted sweep.

    The best raw score over all files wins, ties (within float rounding) go to the higher
    threshold; candidates are the distinct score values and :data:`NEVER_FIRE_THRESHOLD`
    (:func:`best_threshold`). ``O(N log N)`` in the total number of rows.
    """
    events = [file_events(s, windows, profile) for s, windows in files]
    return best_threshold(events, sum(len(windows) for _, windows in files), profile)
