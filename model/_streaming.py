"""Streaming univariate detectors for NAB-style series (no lookahead).

A streaming detector turns one series into a score per row where the score of row ``i``
depends on rows ``<= i`` only, and anything fitted that it uses was fitted on rows ``< i``.
Scores follow the kit's convention: ``s >= 0``, ``s >= 1`` means anomalous.

- :class:`StreamingZScore` (``zscore``): the PromQL recording-rule way, a rolling mean and
  standard deviation over the previous hour of rows (12 rows at NAB's 5-minute step),
  ``|z| > 3`` scores above 1.
- :class:`StreamingLinear` (``linear``): the kit's interpretable linear baseline
  (:class:`model._linear.LinearBaseline`, the same model class as the fleet detector)
  refitted once a day of rows on the past only.

Both share the same alert grouping: after a flag (score >= 1) the next
:data:`COOLDOWN_ROWS` rows (one day at 5-minute steps) score 0, since the anomaly is already
raised (NAB's own CAD OSE detector has the same kind of rest period). Configuration is
fixed at construction, one for every file, and never looks at labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ._linear import LinearBaseline

__all__ = [
    "COOLDOWN_ROWS",
    "DETECTOR_NAMES",
    "MAX_SCORE",
    "StreamingLinear",
    "StreamResult",
    "StreamingDetector",
    "StreamingZScore",
    "make_detector",
]

#: Rows after a flag that score 0 (the alert is already raised): one day at 5-minute steps.
COOLDOWN_ROWS = 288

#: Scores are capped here so that ``s / (1 + s)`` stays a finite number below 1 in float64.
MAX_SCORE = 1e6


@dataclass(frozen=True)
class StreamResult:
    """One series scored row by row.

    ``score``: (N,) anomaly score, ``>= 0``, ``>= 1`` anomalous. ``expected``, ``lower``,
    ``upper``: (N,) the value the detector expected and the band where its score reaches 1
    (NaN where it had no model yet); ``None`` when the detector has no such notion.
    """

    score: np.ndarray
    expected: np.ndarray | None = None
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None


class StreamingDetector(Protocol):
    """Scores one series with no lookahead."""

    name: str

    def run(self, times_seconds: npt.ArrayLike, values: npt.ArrayLike) -> StreamResult:
        """Score every row of one series; row ``i`` may use rows ``<= i`` only."""
        ...


@dataclass(frozen=True, kw_only=True)
class StreamingZScore:
    """Rolling z-score of one streaming series against its previous ``window_rows`` rows (12 rows = 1 hour at NAB's 5-minute step).

    The single-series, row-counted form for NAB; :class:`model.RollingZScore` is the fleet-level
    form over a time window (PromQL's ``avg_over_time``/``stddev_over_time``) for the fleet suite.

    ``score = |x_i - mean| / (z_threshold * std)`` with mean and population standard deviation
    over rows ``i - window_rows .. i - 1``; rows without a full window score 0. A flat window
    (std 0) uses a tiny floor, so any change from a flat line scores high. After a flag the
    next ``cooldown_rows`` rows score 0.
    """

    window_rows: int = 12
    z_threshold: float = 3.0
    cooldown_rows: int = COOLDOWN_ROWS
    name: str = "zscore"

    def run(self, times_seconds: npt.ArrayLike, values: npt.ArrayLike) -> StreamResult:
        x = np.asarray(values, dtype=float)
        n, k = x.size, self.window_rows
        score = np.zeros(n)
        expected = np.full(n, np.nan)
        spread = np.full(n, np.nan)
        if n > k:
            past = sliding_window_view(x, k)[:-1]  # past[j] = x[j : j + k], used for row j + k
            mean = past.mean(axis=1)
            std = past.std(axis=1)
            floor = 1e-9 * np.maximum(1.0, np.abs(mean))
            z = np.abs(x[k:] - mean) / np.maximum(std, floor)
            score[k:] = np.minimum(z / self.z_threshold, MAX_SCORE)
            expected[k:] = mean
            spread[k:] = self.z_threshold * std
        if self.cooldown_rows:
            score = _cool_down(score, self.cooldown_rows)
        return StreamResult(score=score, expected=expected, lower=expected - spread, upper=expected + spread)


@dataclass(frozen=True, kw_only=True)
class StreamingLinear:
    """The kit's linear baseline run as a stream, refitted on the past every ``refit_every_rows``.

    ``expected[i] = level[i] + LinearBaseline.predict(t_i)`` where ``level[i]`` is the median
    of the ``level_rows`` values before row ``i`` (one day; fewer at the start, at least
    ``min_level_rows``) and the :class:`~model._linear.LinearBaseline` models the deviation
    from that level with its daily and weekly Fourier terms (each used only once the fitted
    span is long enough: the model's own rule), an optional trend and ``lags`` AR terms on
    past deviations. The model's robust (MAD) scale and per-series tail calibration give the
    score: ``|residual| / (scale * threshold)``.

    Rows are scored in blocks of ``refit_every_rows`` by a model fitted on the rows before the
    block (at most ``max_history_rows``; the first fit waits for ``min_history_rows``), so row
    ``i``'s score comes from a model fitted on rows ``< i``. With ``self_cleaning``, rows already
    flagged are left out of later fits (capped by the model). After a flag the next
    ``cooldown_rows`` rows score 0.
    """

    min_history_rows: int = 144
    refit_every_rows: int = 288
    max_history_rows: int = 8064
    level_rows: int = 288
    min_level_rows: int = 12
    lags: int = 0
    daily_order: int = 4
    weekly_order: int = 3
    trend: bool = False
    z_floor: float = 4.0
    calibration_quantile: float = 0.999
    calibration_factor: float = 1.25
    self_cleaning: bool = False
    cooldown_rows: int = COOLDOWN_ROWS
    name: str = "linear"

    def _model(self):
        return LinearBaseline(
            daily_order=self.daily_order,
            weekly_order=self.weekly_order,
            trend=self.trend,
            context_names=tuple(f"deviation {k} rows before" for k in range(1, self.lags + 1)),
            z_floor=self.z_floor,
            calibration_quantile=self.calibration_quantile,
            calibration_factor=self.calibration_factor,
            dtype="float64",
        )

    def run(self, times_seconds: npt.ArrayLike, values: npt.ArrayLike) -> StreamResult:
        t = np.asarray(times_seconds, dtype=float)
        x = np.asarray(values, dtype=float)
        n, h = x.size, self.level_rows
        level = _recent_median(x, h, self.min_level_rows)
        target = (x - level)[:, None]
        context = np.full((n, 1, self.lags), np.nan)
        for k in range(1, self.lags + 1):
            context[k:, 0, k - 1] = target[:-k, 0]
        score = np.zeros(n)
        expected, lower, upper = (np.full(n, np.nan) for _ in range(3))
        flagged = np.zeros((n, 1), dtype=bool)
        known = self.min_level_rows + self.lags  # first row with a target and its context
        for start in range(known + self.min_history_rows, n, self.refit_every_rows):
            # Rows whose level saw a full window fit better; use only them once there are enough.
            settled = self.level_rows + self.lags if start - self.level_rows - self.lags >= self.min_history_rows else known
            lo, stop = max(settled, start - self.max_history_rows), min(n, start + self.refit_every_rows)
            model = self._model().fit(
                t[lo:start], target[lo:start], context[lo:start], exclude=flagged[lo:start] if self.self_cleaning else None
            )
            found = model.detect(t[start:stop], target[start:stop], context[start:stop])
            score[start:stop] = np.minimum(np.nan_to_num(found.anomaly_score[:, 0], nan=0.0), MAX_SCORE)
            expected[start:stop] = level[start:stop] + found.expected[:, 0]
            lower[start:stop] = level[start:stop] + found.lower[:, 0]
            upper[start:stop] = level[start:stop] + found.upper[:, 0]
            flagged[start:stop, 0] = score[start:stop] >= 1.0
        if self.cooldown_rows:
            score = _cool_down(score, self.cooldown_rows)
        return StreamResult(score=score, expected=expected, lower=lower, upper=upper)


def _recent_median(x: np.ndarray, rows: int, min_rows: int) -> np.ndarray:
    """Median of the ``rows`` values before each row (fewer at the start, NaN under ``min_rows``)."""
    median = pd.Series(x).rolling(rows, min_periods=min_rows).median().to_numpy()
    return np.concatenate(([np.nan], median[:-1]))  # shift by one: row i sees rows i-rows .. i-1


def _cool_down(score: np.ndarray, rows: int) -> np.ndarray:
    """Zero the ``rows`` rows after each flag (score >= 1) that is itself not cooled down."""
    out = score.copy()
    quiet_until = -1
    for i in np.flatnonzero(score >= 1.0):
        if i <= quiet_until:
            out[i] = 0.0
            continue
        out[i + 1 : i + 1 + rows] = 0.0
        quiet_until = i + rows
    return out


DETECTOR_NAMES: tuple[str, ...] = ("linear", "zscore")


def make_detector(name: str) -> StreamingDetector:
    """The detector called ``name`` with the one configuration used for the whole corpus."""
    if name == "zscore":
        return StreamingZScore()
    if name == "linear":
        return StreamingLinear()
    raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
