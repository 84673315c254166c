"""The shared part of the design matrix: Fourier terms for the day and the week, and a trend.

Every series of one batched fit shares its timestamps, so these columns are built once,
shape ``(T, F)``, and only the context regressors differ per series.

A seasonal term is used only once the training span covers enough history to tell it
apart from noise and from the trend:

- daily terms need at least :data:`MIN_DAILY_HISTORY_SECONDS` (two days: with one day,
  a Fourier series of the day fits that day's incidents as if they were the daily shape);
- weekly terms need at least :data:`MIN_WEEKLY_HISTORY_SECONDS` (one full week: the
  weekday/weekend difference is identifiable only once both have been seen; the low
  orders used here are smooth, so one day's incident shifts them little, and the
  self-cleaning fit leaves known incidents out anyway).

Both thresholds are estimator parameters; these are the defaults.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DAY_SECONDS",
    "MIN_DAILY_HISTORY_SECONDS",
    "MIN_WEEKLY_HISTORY_SECONDS",
    "TERM_DAY_OF_WEEK",
    "TERM_TIME_OF_DAY",
    "TERM_TREND",
    "WEEK_SECONDS",
    "seasonal_columns",
    "seasonal_design",
]

DAY_SECONDS = 86_400.0
WEEK_SECONDS = 7 * DAY_SECONDS
MIN_DAILY_HISTORY_SECONDS = 2 * DAY_SECONDS
MIN_WEEKLY_HISTORY_SECONDS = WEEK_SECONDS

#: Names of the term groups explanations report (context regressors add their own names).
TERM_TIME_OF_DAY = "time of day"
TERM_DAY_OF_WEEK = "day of week"
TERM_TREND = "trend"


def seasonal_columns(
    span_seconds: float,
    *,
    daily_order: int,
    weekly_order: int,
    trend: bool,
    min_daily_history_seconds: float = MIN_DAILY_HISTORY_SECONDS,
    min_weekly_history_seconds: float = MIN_WEEKLY_HISTORY_SECONDS,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names and term groups of the shared columns a fit over ``span_seconds`` of history uses.

    Returns ``(names, groups)``: e.g. ``("daily_sin_1", "daily_cos_1", ..., "trend")`` and
    ``("time of day", "time of day", ..., "trend")``.
    """
    names: list[str] = []
    groups: list[str] = []
    if daily_order > 0 and span_seconds >= min_daily_history_seconds:
        for k in range(1, daily_order + 1):
            names += [f"daily_sin_{k}", f"daily_cos_{k}"]
            groups += [TERM_TIME_OF_DAY, TERM_TIME_OF_DAY]
    if weekly_order > 0 and span_seconds >= min_weekly_history_seconds:
        for k in range(1, weekly_order + 1):
            names += [f"weekly_sin_{k}", f"weekly_cos_{k}"]
            groups += [TERM_DAY_OF_WEEK, TERM_DAY_OF_WEEK]
    if trend:
        names.append("trend")
        groups.append(TERM_TREND)
    return tuple(names), tuple(groups)


def seasonal_design(
    times: np.ndarray,
    names: tuple[str, ...],
    *,
    trend_origin_seconds: float = 0.0,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """The shared columns ``names`` evaluated at ``times`` (seconds since the epoch, UTC).

    Returns an array of shape ``(T, len(names))``. Phases are computed in float64 (epoch
    seconds do not fit float32) and only the result is cast to ``dtype``. The trend column
    is ``(t - trend_origin_seconds) / DAY_SECONDS``, so its coefficient is a change per day.
    """
    t = np.asarray(times, dtype=np.float64)
    out = np.empty((t.shape[0], len(names)), dtype=dtype)
    day_phase = 2.0 * np.pi * ((t % DAY_SECONDS) / DAY_SECONDS)
    week_phase = 2.0 * np.pi * ((t % WEEK_SECONDS) / WEEK_SECONDS)
    for j, name in enumerate(names):
        if name == "trend":
            out[:, j] = (t - trend_origin_seconds) / DAY_SECONDS
            continue
        period, fn, k = name.split("_")
        phase = day_phase if period == "daily" else week_phase
        out[:, j] = (np.sin if fn == "sin" else np.cos)(int(k) * phase)
    return out
