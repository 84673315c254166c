"""The simple detectors the linear baseline is compared with, on the fleet's wide frame.

Both take and return frames shaped like the model's input (a UTC ``DatetimeIndex``,
``(service, signal)`` columns) and score with the kit's convention: ``anomaly_score >= 1``
is anomalous, NaN where there is not enough history to say.

- :class:`StaticThreshold` (``static``) -- what a hand-written alert rule does: one fixed
  upper threshold per series, its 99.5th percentile over the last training week. Upper
  only: every incident kind in the catalog pushes its signals up (more traffic, errors,
  latency, CPU, memory, disk, pool usage), and a lower threshold at the 0.5th percentile
  would only add the quiet-night dips as alarms.
- :class:`RollingZScore` (``zscore``) -- the PromQL recording-rule way::

      (x - avg_over_time(x[1h] offset 1m)) / stddev_over_time(x[1h] offset 1m)

  both directions, ``|z| > 3`` anomalous. The window holds the previous hour and not the
  point being scored, so no point scores against itself.

Neither reads incident records or cleans its training data (a hand-set threshold or a
rolling window is not cleaned in practice either).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

__all__ = ["RollingZScore", "StaticThreshold"]

_WEEK_SECONDS = 7 * 86_400.0


class StaticThreshold:
    """A fixed upper threshold per series: a quantile of its last ``window_seconds`` of training data.

    Parameters
    ----------
    quantile : the training quantile that becomes the threshold (0.995).
    window_seconds : how much of the end of the training frame is used (one week).
    """

    def __init__(self, *, quantile: float = 0.995, window_seconds: float = _WEEK_SECONDS) -> None:
        self.quantile = quantile
        self.window_seconds = window_seconds

    def fit(
        self, frame: pd.DataFrame, *, incidents: Iterable[Any] = (), flagged: pd.DataFrame | None = None, fit_time: float | None = None
    ) -> "StaticThreshold":
        """Set ``threshold_`` (one value per column) from the last ``window_seconds`` of ``frame``.

        Incident records and earlier flags are ignored: a static threshold learns from everything.
        """
        if frame.empty:
            raise ValueError("need at least one row to fit a threshold")
        since = frame.index[-1] - pd.Timedelta(seconds=self.window_seconds)
        recent = frame.loc[frame.index > since]
        self.threshold_ = recent.quantile(self.quantile)
        self.columns_ = frame.columns
        return self

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``value / threshold`` (>= 1 above the threshold) for every point; changes no state."""
        if not hasattr(self, "threshold_"):
            raise RuntimeError("StaticThreshold is not fitted yet; call fit() first")
        thr = self.threshold_.reindex(frame.columns).to_numpy(dtype=np.float64)
        x = frame.to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(thr > 0, x / thr, np.where(x > thr, np.inf, 0.0))
        score[np.isnan(x)] = np.nan
        return pd.DataFrame(score, index=frame.index, columns=frame.columns)


class RollingZScore:
    """``|x - mean| / (z * std)`` over the previous ``window_seconds`` of each series.

    Parameters
    ----------
    window_seconds : the rolling window (one hour), ending just before the scored point.
    z : how many standard deviations score 1 (3).
    min_points : fewest points in the window for a score (else NaN); default half the window.
    """

    def __init__(self, *, window_seconds: float = 3600.0, z: float = 3.0, min_points: int | None = None) -> None:
        self.window_seconds = window_seconds
        self.z = z
        self.min_points = min_points

    def fit(
        self, frame: pd.DataFrame, *, incidents: Iterable[Any] = (), flagged: pd.DataFrame | None = None, fit_time: float | None = None
    ) -> "RollingZScore":
        """Nothing to learn: the window moves with the data (records and flags are ignored). Returns ``self``."""
        self.fitted_ = True
        return self

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Scores for every row of ``frame``, each from the rows in the hour before it."""
        if len(frame.index) > 1:
            step = float(np.median(np.diff(frame.index.as_unit("ns").asi8))) / 1e9
        else:
            step = self.window_seconds
        min_points = self.min_points if self.min_points is not None else max(2, int(self.window_seconds / step) // 2)
        window = pd.Timedelta(seconds=self.window_seconds)
        roll = frame.rolling(window, closed="left", min_periods=min_points)
        mean = roll.mean().to_numpy(dtype=np.float64)
        std = roll.std(ddof=0).to_numpy(dtype=np.float64)  # stddev_over_time is the population deviation
        x = frame.to_numpy(dtype=np.float64)
        std = np.maximum(std, 1e-12 * np.abs(mean))
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.abs(x - mean) / (self.z * std)
        score = np.where(np.isnan(score) & np.isfinite(mean) & (x == mean), 0.0, score)
        return pd.DataFrame(score, index=frame.index, columns=frame.columns)
