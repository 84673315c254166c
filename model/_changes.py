"""Change components beside the linear baseline: a level shift, a noise change, a spike, on the residuals.

The linear baseline scores each point on its own (the **point** component: residual ÷ robust σ
÷ calibrated threshold). Three more components read a window of recent residuals (actual minus
the baseline's expected value; the window is ``window`` rows or a time span, ending at the row
scored, the row included):

- **level shift**: the median of the window's residuals, in robust σ of the model. A lasting
  step too small for any single point to pass its threshold moves the median past its own.
- **noise change**: the spread of the window's residuals (interquartile range ÷ 1.349, a
  standard deviation for Gaussian noise that one spike does not move; the smaller of the two
  half windows', so that a level step inside the window does not read as noise) over the
  model's robust σ: "noise ×3".
- **spike**: the residual's distance from the median of the window before it, in units of that
  window's spread (at least the model's σ): a jump against the recent residuals. Off by default.

Each statistic gets a per-series threshold calibrated like the point score's: ``max(floor,
factor × quantile(|statistic|))`` over the fit's own residuals (the live model, saved with it) or
the rows scored before (the streaming runner), so every component scores on the same scale (``>= 1`` anomalous, equally
rare everywhere). The combined score is the **largest** component score and the flag names that
component. Everything here is a pure function of arrays: stateless, so the same residuals give
the same scores whoever computes them (the live detector per cycle, the streaming NAB runner).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from plumbing.durations import duration_words

from ._scoring import _directed, calibrate_threshold

__all__ = [
    "CHANGE_COMPONENTS",
    "COMPONENTS",
    "POINT",
    "ChangeSettings",
    "WindowStats",
    "calibrate_changes",
    "change_scores",
    "change_sentence",
    "combine",
    "run_start",
    "standardise",
    "window_stats",
]

POINT = "point"
LEVEL = "level shift"
NOISE = "noise change"
SPIKE = "spike"
#: The change components, in the order the combined score breaks ties (the point first).
CHANGE_COMPONENTS: tuple[str, ...] = (LEVEL, NOISE, SPIKE)
COMPONENTS: tuple[str, ...] = (POINT, *CHANGE_COMPONENTS)

#: The interquartile range of Gaussian noise is 1.349 standard deviations.
IQR_TO_SIGMA = 1.349


@dataclass(frozen=True, kw_only=True)
class ChangeSettings:
    """Which change components score, and their floors (in robust σ; the noise floor is a ratio)."""

    level_shift: bool = True
    noise_change: bool = True
    spike: bool = False
    level_floor: float = 4.0
    noise_floor: float = 2.0
    spike_floor: float = 6.0
    calibration_quantile: float = 0.999
    calibration_factor: float = 1.25

    def enabled(self) -> tuple[str, ...]:
        """The components switched on, in :data:`CHANGE_COMPONENTS` order."""
        on = {LEVEL: self.level_shift, NOISE: self.noise_change, SPIKE: self.spike}
        return tuple(c for c in CHANGE_COMPONENTS if on[c])

    def floor(self, component: str) -> float:
        return {LEVEL: self.level_floor, NOISE: self.noise_floor, SPIKE: self.spike_floor}[component]


@dataclass(frozen=True)
class WindowStats:
    """Rolling statistics of residuals ``(T, S)``: of the window ending at each row, and of the one ending just before."""

    median: np.ndarray
    spread: np.ndarray
    prev_median: np.ndarray
    prev_spread: np.ndarray


def _half_window(window: int | str) -> int | str:
    if isinstance(window, (int, np.integer)):
        return max(2, int(window) // 2)
    return f"{int(pd.Timedelta(window).total_seconds() * 500)}ms"


def _shifted_by(values: np.ndarray, window: int | str, index: pd.Index | None) -> np.ndarray:
    """``values`` (T, S) as they were ``window`` (rows, or a time span over ``index``) before each row; NaN before the start."""
    out = np.full(values.shape, np.nan)
    if isinstance(window, (int, np.integer)):
        k = int(window)
        if k < values.shape[0]:
            out[k:] = values[:-k] if k else values
        return out
    t = pd.DatetimeIndex(index).as_unit("ns").asi8
    back = np.searchsorted(t, t - pd.Timedelta(window).value, side="right") - 1
    ok = back >= 0
    out[ok] = values[back[ok]]
    return out


def window_stats(residual: np.ndarray, window: int | str, min_rows: int, index: pd.Index | None = None) -> WindowStats:
    """Median and spread of the residuals over each row's window, NaN under ``min_rows`` finite values.

    ``window`` is a number of rows, or a time span (``"600s"``) over ``index`` (a sorted
    DatetimeIndex); NaN and infinite residuals are skipped. The spread is the smaller of the
    two half windows' (IQR ÷ 1.349 each): a level step inside the window lands in one half and
    leaves the other's spread as it was, so a step reads as a level shift, not as noise; noise
    that grew over the whole window raises both.
    """
    r = np.asarray(residual, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    r = np.where(np.isfinite(r), r, np.nan)
    timed = not isinstance(window, (int, np.integer))
    frame = pd.DataFrame(r, index=index if timed else None)
    roll = frame.rolling(window, min_periods=max(1, int(min_rows)))
    median = roll.median().to_numpy()
    half = _half_window(window)
    hroll = frame.rolling(half, min_periods=max(1, int(min_rows) // 2))
    half_spread = (hroll.quantile(0.75).to_numpy() - hroll.quantile(0.25).to_numpy()) / IQR_TO_SIGMA
    earlier = _shifted_by(half_spread, half, index if timed else None)
    spread = np.where(np.isnan(median), np.nan, np.fmin(half_spread, np.where(np.isnan(earlier), np.inf, earlier)))
    spread = np.where(np.isinf(spread), np.nan, spread)
    prev_median = np.vstack([np.full((1, r.shape[1]), np.nan), median[:-1]])
    prev_spread = np.vstack([np.full((1, r.shape[1]), np.nan), spread[:-1]])
    return WindowStats(median=median, spread=spread, prev_median=prev_median, prev_spread=prev_spread)


def standardise(residual: np.ndarray, stats: WindowStats, sigma: np.ndarray, components: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Each component's statistic ``(T, S)`` in robust σ (signed; the noise one a ratio); ``sigma`` is ``(S,)`` or ``(T, S)``."""
    r = np.asarray(residual, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    sig = np.asarray(sigma, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out: dict[str, np.ndarray] = {}
        if LEVEL in components:
            out[LEVEL] = stats.median / sig
        if NOISE in components:
            out[NOISE] = stats.spread / sig
        if SPIKE in components:
            out[SPIKE] = (r - stats.prev_median) / np.fmax(stats.prev_spread, sig)
    return out


def calibrate_changes(z: dict[str, np.ndarray], valid: np.ndarray | None, settings: ChangeSettings) -> dict[str, np.ndarray]:
    """Per-series threshold ``(S,)`` of each component: ``max(floor, factor × quantile(|z|))`` over the valid rows."""
    out = {}
    for c, values in z.items():
        ok = np.isfinite(values) if valid is None else (valid & np.isfinite(values))
        out[c] = calibrate_threshold(
            np.where(ok, values, 0.0), ok, quantile=settings.calibration_quantile, factor=settings.calibration_factor, z_floor=settings.floor(c)
        )
    return out


def change_scores(
    z: dict[str, np.ndarray],
    thresholds: dict[str, np.ndarray],
    *,
    sigma: np.ndarray,
    direction: str = "both",
    min_deviation: float = 0.0,
) -> dict[str, np.ndarray]:
    """Each component's score ``(T, S)``: ``|z| / threshold`` (directed; the noise ratio as it is), 0 where unknown.

    As for the point score, a deviation below ``min_deviation`` (in the signal's unit: the
    window's median or spread, the spike's distance) scores 0.
    """
    sig = np.asarray(sigma, dtype=np.float64)
    out = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for c, values in z.items():
            dev = values if c == NOISE else _directed(values, direction)
            score = dev / np.asarray(thresholds[c], dtype=np.float64)
            if min_deviation:
                absolute = np.abs(values) * sig
                score = np.where(absolute < min_deviation, 0.0, score)
            out[c] = np.where(np.isfinite(score), score, 0.0)
    return out


def combine(point: np.ndarray, scores: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(score, component)``: the largest of the point score and the change scores, and which one (index into :data:`COMPONENTS`).

    Ties go to the point score, then to the order of :data:`CHANGE_COMPONENTS`; where the point
    score is NaN (no value) the combined score is NaN too.
    """
    p = np.asarray(point, dtype=np.float64)
    best = p.copy()
    which = np.zeros(p.shape, dtype=np.int8)
    for c in CHANGE_COMPONENTS:
        if c not in scores:
            continue
        s = scores[c]
        higher = s > np.nan_to_num(best, nan=np.inf)
        best = np.where(higher, s, best)
        which = np.where(higher, COMPONENTS.index(c), which).astype(np.int8)
    return best, which


def run_start(scores: np.ndarray, row: int) -> int:
    """The first row of the run of scores ``>= 1`` that ends at ``row`` (1-D ``scores``): where a flagged change began to show."""
    first = row
    while first > 0 and scores[first - 1] >= 1.0:
        first -= 1
    return first


def _window_words(window: int | str | float) -> str:
    if isinstance(window, (int, np.integer)):
        return f"{int(window)} rows"
    return duration_words(float(pd.Timedelta(window).total_seconds()) if isinstance(window, str) else float(window))


def change_sentence(
    component: str,
    *,
    z: float,
    threshold: float,
    score: float,
    sigma: float,
    expected: float,
    since: str,
    window: int | str | float,
    fmt=None,
) -> str:
    """The component's own numbers in words, e.g. ``level up 23 % since 14:05 (median residual +12.0 ms over 10 min = +5.1 robust σ, threshold 4.6)``.

    ``z`` is the component's statistic (:func:`standardise`), ``sigma`` the model's robust σ,
    ``expected`` the baseline's value at the row (for the level's percentage), ``since`` the
    window's first timestamp as text, ``fmt(value, signed)`` formats a value in the signal's unit
    (default: three significant digits).
    """
    fmt = fmt or (lambda v, signed=False: f"{v:+.3g}" if signed else f"{v:.3g}")
    span = _window_words(window)
    tail = f"; component {component}, score {score:.2f}"
    if component == LEVEL:
        shift = z * sigma
        way = "up" if shift >= 0 else "down"
        pct = abs(shift) / abs(expected) * 100 if expected and math.isfinite(expected) else math.inf
        size = f"{pct:.0f} %" if math.isfinite(pct) and pct < 1e4 else fmt(abs(shift))
        return (
            f"level {way} {size} since {since} (median residual {fmt(shift, True)} over {span} = {z:+.1f} robust σ, "
            f"threshold {threshold:.1f}){tail}"
        )
    if component == NOISE:
        return (
            f"noise ×{z:.1f} since {since} (spread of the residuals over {span} {fmt(z * sigma)} against robust σ {fmt(sigma)}, "
            f"threshold ×{threshold:.1f}){tail}"
        )
    if component == SPIKE:
        return f"spike {z:+.1f}× the spread of the residuals over the {span} before it (threshold {threshold:.1f}){tail}"
    raise ValueError(f"component must be one of {CHANGE_COMPONENTS}, got {component!r}")
