"""From residuals to an ``anomaly_score`` where ``>= 1`` means anomalous, for every series.

Pure functions on arrays shaped ``(T, S)`` (time by series) and ``(S,)`` (per series):

1. :func:`robust_scale` -- ``1.4826 * MAD`` of the training residuals (a standard deviation
   for Gaussian noise that one incident in the training data barely moves);
2. :func:`calibrate_threshold` -- per series, how many robust sigmas count as anomalous:
   ``max(z_floor, factor * quantile(|z_train|, q))``. Residual tails differ by orders of
   magnitude between series (a p95 latency is spiky, a memory gauge is not), so a fixed
   z threshold is either deaf on one or noisy on the other; calibrating on each series'
   own training tail puts score 1 at the same rarity everywhere;
3. :func:`anomaly_score` -- the directed deviation divided by ``scale * threshold``, set to 0
   under an absolute ``min_deviation`` floor;
4. :func:`bands` -- the lower and upper value at which the score reaches 1;
5. :func:`debounce` -- a point is flagged when at least k of the last m points scored >= 1.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

__all__ = [
    "DIRECTIONS",
    "Direction",
    "MAD_TO_SIGMA",
    "anomaly_score",
    "bands",
    "calibrate_threshold",
    "debounce",
    "robust_scale",
]

Direction = Literal["both", "above", "below"]
DIRECTIONS: tuple[str, ...] = ("both", "above", "below")

#: 1.4826 * MAD estimates the standard deviation of Gaussian noise.
MAD_TO_SIGMA = 1.4826
#: sqrt(pi / 2) * mean absolute deviation estimates it too; used when over half the residuals are equal.
_MEAN_AD_TO_SIGMA = 1.2533


def _column_quantile(values: np.ndarray, valid: np.ndarray | None, q: float) -> np.ndarray:
    """Per-column quantile of ``values`` (T, S) over the points where ``valid`` is true.

    The order statistic of rank ``floor(q * (n - 1))`` (numpy's "lower" method): an
    observed value, never an interpolation.
    """
    if valid is None or bool(valid.all()):
        return np.quantile(values, q, axis=0, method="lower")
    masked = np.where(valid, values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, handled by callers
        return np.nanquantile(masked, q, axis=0, method="lower")


def robust_scale(residuals: np.ndarray, valid: np.ndarray | None = None, *, floor: float | np.ndarray = 0.0) -> np.ndarray:
    """``1.4826 * median(|r - median(r)|)`` per series over the valid points; shape ``(S,)``.

    Where that is zero (over half the residuals identical, e.g. a flat series) the mean
    absolute deviation is used instead, and the result is never below ``floor`` (> 0 keeps
    the z-scores finite). Series without any valid point get NaN.
    """
    r = np.asarray(residuals)
    centre = _column_quantile(r, valid, 0.5)
    dev = np.abs(r - centre.astype(r.dtype, copy=False))
    scale = MAD_TO_SIGMA * _column_quantile(dev, valid, 0.5)
    zero = scale <= 0
    if np.any(zero):
        if valid is None:
            mean_ad = dev[:, zero].mean(axis=0)
        else:
            v = valid[:, zero]
            mean_ad = np.where(v, dev[:, zero], 0).sum(axis=0) / np.maximum(v.sum(axis=0), 1)
        scale[zero] = _MEAN_AD_TO_SIGMA * mean_ad
    return np.maximum(scale.astype(np.float64), floor)


def calibrate_threshold(
    z: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    quantile: float = 0.999,
    factor: float = 1.25,
    z_floor: float = 4.0,
) -> np.ndarray:
    """Per-series threshold in robust sigmas: ``max(z_floor, factor * quantile(|z|))``, shape ``(S,)``."""
    tail = _column_quantile(np.abs(z), valid, quantile).astype(np.float64)
    tail = np.where(np.isfinite(tail), tail, 0.0)
    return np.maximum(z_floor, factor * tail)


def _directed(residual: np.ndarray, direction: str) -> np.ndarray:
    if direction == "both":
        return np.abs(residual)
    if direction == "above":
        return np.maximum(residual, 0)
    if direction == "below":
        return np.maximum(-residual, 0)
    raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")


def anomaly_score(
    residual: np.ndarray,
    scale: np.ndarray,
    threshold: np.ndarray,
    *,
    direction: str = "both",
    min_deviation: float | np.ndarray = 0.0,
) -> np.ndarray:
    """``deviation / (scale * threshold)``; 0 where the deviation is below ``min_deviation``.

    ``residual`` is actual minus expected, ``(T, S)``; ``scale`` and ``threshold`` are
    ``(S,)``. The deviation is the residual in the watched ``direction`` ("above" ignores
    drops, "below" ignores rises). NaN residuals give NaN scores.
    """
    dev = _directed(np.asarray(residual), direction)
    unit = (np.asarray(scale, dtype=np.float64) * np.asarray(threshold, dtype=np.float64)).astype(dev.dtype)
    score = dev / unit
    return np.where(dev < np.asarray(min_deviation, dtype=dev.dtype), np.zeros((), dev.dtype), score)


def bands(
    expected: np.ndarray,
    scale: np.ndarray,
    threshold: np.ndarray,
    *,
    direction: str = "both",
    min_deviation: float | np.ndarray = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)``: the values at which :func:`anomaly_score` reaches 1.

    The half-width is ``max(scale * threshold, min_deviation)``. On a side the direction
    does not watch, the bound is infinite (no value there is anomalous).
    """
    width = np.maximum(np.asarray(scale, dtype=np.float64) * np.asarray(threshold, dtype=np.float64), min_deviation)
    width = width.astype(expected.dtype, copy=False)
    inf = np.asarray(np.inf, dtype=expected.dtype)
    lower = expected - width if direction in ("both", "below") else np.broadcast_to(-inf, expected.shape).copy()
    upper = expected + width if direction in ("both", "above") else np.broadcast_to(inf, expected.shape).copy()
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return lower, upper


def debounce(flags: np.ndarray, k: int, m: int) -> np.ndarray:
    """True where at least ``k`` of the last ``m`` points (this one included) are true.

    Works along axis 0 of any array; the first points see a shorter window (no padding
    with anomalies). ``k=1, m=1`` returns the flags unchanged.
    """
    if not 1 <= k <= m:
        raise ValueError(f"need 1 <= k <= m, got k={k}, m={m}")
    f = np.asarray(flags, dtype=bool)
    counts = np.cumsum(f, axis=0, dtype=np.int32)
    if m < f.shape[0]:
        counts[m:] -= counts[:-m].copy()
    return counts >= k
