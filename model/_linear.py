"""The batched linear baseline: many series, one vectorised fit, calibrated scores.

For every series ``s`` (all sharing the timestamps ``t``)::

    expected[t, s] = intercept[s]
                     + sum_k coef[s, k] * seasonal_k(t)        (daily / weekly Fourier terms, trend)
                     + sum_j coef[s, F + j] * context[t, s, j]  (other signals of the same service)

The fit solves the ridge-regularised normal equations of all series at once: the seasonal
columns are shared, so their cross-products are computed once (or, with excluded points,
as one matrix product over the batch), and only the context columns add per-series
products. The (S, P, P) systems are solved in one ``np.linalg.solve`` call in float64.
Targets and context regressors are centred per series before any product is formed, so
float32 products stay accurate, and context columns are scaled to unit variance so one
ridge penalty suits every column.

Speed comes from memory traffic, not arithmetic: series are processed in small batches
(``chunk_size``) laid out series-major, with scratch buffers reused across batches, so a
batch stays in the CPU cache while it is centred, multiplied and scored; residuals are
formed in place by one BLAS ``gemm`` call. The scoring maths (robust scale, per-series
calibration, direction, floor) is in :mod:`model._scoring`; :func:`_calibrate_block`
is its fast equivalent on a batch.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy.linalg.blas import get_blas_funcs
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ._features import (
    MIN_DAILY_HISTORY_SECONDS,
    MIN_WEEKLY_HISTORY_SECONDS,
    TERM_DAY_OF_WEEK,
    TERM_TIME_OF_DAY,
    TERM_TREND,
    seasonal_columns,
    seasonal_design,
)
from ._scoring import _MEAN_AD_TO_SIGMA, DIRECTIONS, MAD_TO_SIGMA, anomaly_score, bands

__all__ = ["Decomposition", "Detection", "LinearBaseline", "as_epoch_seconds", "cap_exclusions"]


def as_epoch_seconds(times: np.ndarray | pd.DatetimeIndex | Sequence[float]) -> np.ndarray:
    """Timestamps as float64 seconds since the epoch (UTC); accepts numbers or datetimes."""
    if isinstance(times, pd.Series):
        times = times.to_numpy()
    if isinstance(times, np.ndarray) and times.dtype == object and times.size and isinstance(times.flat[0], (pd.Timestamp, np.datetime64)):
        times = pd.DatetimeIndex(times)
    if isinstance(times, pd.DatetimeIndex) or (isinstance(times, np.ndarray) and times.dtype.kind == "M"):
        idx = pd.DatetimeIndex(times)
        if idx.tz is not None:
            idx = idx.tz_convert("UTC").tz_localize(None)
        return idx.as_unit("ns").asi8.astype(np.float64) / 1e9
    return np.asarray(times, dtype=np.float64)


def cap_exclusions(
    masks: Sequence[np.ndarray], max_share: float, usable: np.ndarray | None = None, *, axis: int = 0
) -> np.ndarray:
    """Union of exclusion ``masks`` (bool, in priority order, time along ``axis``), capped per series.

    At most ``floor(max_share * usable points)`` points of a series are excluded. Masks
    earlier in ``masks`` win; within one mask the oldest points stay excluded and the most
    recent are released first -- so a level shift that lasts longer than the cap allows
    flows back into the fit and becomes the new normal.
    """
    if not masks:
        raise ValueError("need at least one mask")
    shape = np.shape(masks[0])
    ok = np.ones(shape, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    budget = np.expand_dims(np.floor(max_share * ok.sum(axis=axis)).astype(np.int64), axis)
    out = np.zeros(shape, dtype=bool)
    for mask in masks:
        m = np.asarray(mask, dtype=bool) & ok & ~out
        keep = m & (np.cumsum(m, axis=axis) <= budget)
        out |= keep
        budget = budget - np.expand_dims(keep.sum(axis=axis), axis)
    return out


def _series_block(a: np.ndarray, sl: slice, dtype: np.dtype) -> np.ndarray:
    """Columns ``sl`` of a (T, S) array as (s, T); a view when ``a`` is series-major (Fortran order).

    pandas keeps a float frame's columns contiguous, so ``frame.to_numpy()`` of a wide
    frame is already series-major and costs no copy here.
    """
    return np.asarray(a[:, sl], dtype=dtype).T


def _add_scaled_rows(target: np.ndarray, rows: np.ndarray, factors: np.ndarray) -> None:
    """``target[i] += factors[i] * rows[i]`` for every row, in place, one pass (BLAS ``axpy`` per row).

    Both arrays are (s, T) with contiguous rows; a multiply then an add would make a
    temporary and a second pass over it.
    """
    axpy = get_blas_funcs("axpy", dtype=target.dtype)
    for i in range(target.shape[0]):
        out = axpy(rows[i], target[i], a=float(factors[i]))
        if not np.shares_memory(out, target):  # pragma: no cover - only for non-contiguous rows
            target[i] = out


def _row_order_stat(values: np.ndarray, valid: np.ndarray | None, q: float) -> np.ndarray:
    """Per-row order statistic at quantile ``q`` of the valid points (the lower one, no interpolation).

    Rank ``floor(q * (n - 1))`` of the ``n`` valid points of each row; NaN for empty rows.
    """
    S, T = values.shape
    if valid is None:
        k = min(T - 1, int(q * (T - 1)))
        return np.partition(values, k, axis=1)[:, k].astype(np.float64)
    n = valid.sum(axis=1)
    ranked = np.sort(np.where(valid, values, np.nan), axis=1)  # NaN sorts last
    k = np.clip(np.floor(q * (n - 1)).astype(np.int64), 0, T - 1)
    out = np.take_along_axis(ranked, k[:, None], axis=1)[:, 0].astype(np.float64)
    return np.where(n > 0, out, np.nan)


#: Median and MAD are taken over an evenly spaced subsample of about this many points per
#: series (exact for shorter series). Their relative standard error is then about 3 %, and
#: partitioning every point of every series would cost more than the rest of the fit.
SCALE_SAMPLE_POINTS = 1024

#: Calls over fewer values than this leave the BLAS thread pool alone: the products are
#: too small to start threads, and limiting them costs about 2 ms per call.
_BLAS_LIMIT_MIN_POINTS = 1 << 20


class _Workspace:
    """Scratch buffers for one batch of series, reused across batches (no page faults per batch)."""

    def __init__(self, rows: int, T: int, C: int, dtype: np.dtype) -> None:
        self.v = np.empty((1 + C, rows, T), dtype=dtype)  # centred target, then each centred regressor
        self.flag = np.empty((rows, T), dtype=bool)


def _calibrate_block(
    residual: np.ndarray,
    valid: np.ndarray | None,
    n: np.ndarray,
    ws: _Workspace,
    *,
    floor: np.ndarray,
    quantile: float,
    factor: float,
    z_floor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Robust scale and calibrated threshold of one batch of training residuals ``(s, T)``.

    ``residual`` is overwritten with its absolute values.

    The scale is :func:`detector.robust_scale` on an evenly spaced subsample (see
    :data:`SCALE_SAMPLE_POINTS`). The threshold equals :func:`detector.calibrate_threshold`
    exactly, found cheaply: ``max(z_floor, factor * tail)`` only exceeds ``z_floor`` when
    more points than the quantile leaves above it lie beyond ``z_floor / factor`` sigmas;
    a count finds those series, and only they are partitioned.
    """
    s, T = residual.shape
    stride = max(1, T // SCALE_SAMPLE_POINTS)
    sub = residual[:, ::stride].copy()
    vsub = None if valid is None else valid[:, ::stride]
    centre = _row_order_stat(sub, vsub, 0.5)
    np.subtract(sub, centre[:, None].astype(sub.dtype), out=sub)
    np.abs(sub, out=sub)
    scale = MAD_TO_SIGMA * _row_order_stat(sub, vsub, 0.5)
    zero = ~(scale > 0)
    if np.any(zero):  # over half the residuals equal (a flat series): mean absolute deviation
        d = sub[zero] if vsub is None else np.where(vsub[zero], sub[zero], 0)
        cnt = d.shape[1] if vsub is None else np.maximum(vsub[zero].sum(axis=1), 1)
        scale[zero] = _MEAN_AD_TO_SIGMA * d.sum(axis=1, dtype=np.float64) / cnt
    scale = np.maximum(np.nan_to_num(scale, nan=0.0), floor)

    absr = np.abs(residual, out=residual)  # the residuals are not needed after this: reuse their buffer
    beyond = np.greater(absr, ((z_floor / factor) * scale).astype(absr.dtype)[:, None], out=ws.flag[:s])
    if valid is not None:
        beyond &= valid
    # Summing the bytes in 16 bits is several times faster than count_nonzero along rows.
    count = beyond.view(np.uint8).sum(axis=1, dtype=np.uint16 if T < 65_536 else np.int64).astype(np.int64)
    rank = np.floor(quantile * (n - 1)).astype(np.int64)
    above = n.astype(np.int64) - 1 - rank  # points ranked above the quantile
    tail = np.zeros(s)
    heavy = count > above
    if np.any(heavy):
        # The quantile is among the points beyond the cut: ranked from the top, it is the
        # (above + 1)-th of them. Sort only those points, grouped by row.
        beyond[~heavy] = False
        flat = np.flatnonzero(beyond)  # 1-D nonzero is far cheaper than 2-D
        rows = flat // T
        values = absr.ravel()[flat].astype(np.float64)
        order = np.lexsort((values, rows))  # by row, then ascending value
        start = np.concatenate(([0], np.cumsum(count[heavy])[:-1]))
        pick = start + count[heavy] - 1 - above[heavy]
        tail[heavy] = values[order][pick] / scale[heavy]
    return scale, np.maximum(z_floor, factor * tail)


@dataclass(frozen=True)
class Detection:
    """What scoring a batch returns; every array is ``(T, S)``."""

    expected: np.ndarray
    residual: np.ndarray
    z: np.ndarray
    anomaly_score: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True)
class Decomposition:
    """The expected value split into terms: ``baseline + contributions.sum(-1) == expected``.

    ``baseline`` (S,) is the expected value at the training-average context with every
    seasonal and trend term at zero (the intercept in centred coordinates);
    ``contributions`` is ``(T, S, len(terms))``, each term's coefficient x value, with
    context regressors measured from their training mean; ``context`` is the raw
    regressor values ``(T, S, C)`` for rendering.
    """

    terms: tuple[str, ...]
    baseline: np.ndarray
    contributions: np.ndarray
    context: np.ndarray


class LinearBaseline(BaseEstimator):
    """Seasonal + context linear baselines for many series at once, with calibrated scores.

    Inputs share one layout: ``times`` (T,) seconds since the epoch or datetimes, ``y``
    (T, S) one column per series, ``context`` (T, S, C) the C regressors of each series.
    Series-major (Fortran-order) arrays, as ``DataFrame.to_numpy()`` returns, are read
    without copies.

    Parameters
    ----------
    daily_order, weekly_order : number of sine/cosine pairs for the day and the week.
    trend : add a linear trend column (per day, origin at the middle of the training span).
    context_names : names of the C context regressors (for ``feature_names_`` and explanations).
    ridge : ridge penalty relative to the number of fitted points (columns are scaled to O(1)).
    min_daily_history_seconds, min_weekly_history_seconds : training span a term needs.
    direction : "both", "above" or "below" -- which deviations score.
    min_deviation : absolute floor in the target's units; smaller deviations score 0.
    z_floor, calibration_quantile, calibration_factor : per-series threshold in robust
        sigmas, ``max(z_floor, factor * quantile(|z_train|))``.
    max_excluded_share : cap on the share of a series' points ``fit(exclude=...)`` removes.
    dtype : float width of the large arrays ("float32" or "float64").
    chunk_size : series per batch; small batches keep the scratch arrays in the CPU cache.
    blas_threads : BLAS threads during fit and scoring (the products here are skinny, one
        thread is fastest and leaves the other cores to the rest of the process); None = leave as is.
    n_jobs : threads that process batches of series side by side (numpy releases the GIL
        in the heavy operations); each has its own scratch buffers.

    Attributes (after ``fit``)
    --------------------------
    feature_names_ : seasonal column names then context names; ``coef_`` (S, F + C) follows it.
    term_groups_ : per feature, "time of day", "day of week", "trend" or the context name.
    intercept_ (S,), context_mean_ (S, C) : raw-unit intercept; training mean of each regressor.
    scale_ (S,) : robust sigma of the training residuals. threshold_ (S,) : calibrated z threshold.
    n_fit_points_ (S,), excluded_share_ (S,) : points fitted; share left out by ``exclude``.
    """

    def __init__(
        self,
        *,
        daily_order: int = 4,
        weekly_order: int = 3,
        trend: bool = False,
        context_names: Sequence[str] | None = None,
        ridge: float = 1e-4,
        min_daily_history_seconds: float = MIN_DAILY_HISTORY_SECONDS,
        min_weekly_history_seconds: float = MIN_WEEKLY_HISTORY_SECONDS,
        direction: str = "both",
        min_deviation: float = 0.0,
        z_floor: float = 4.0,
        calibration_quantile: float = 0.999,
        calibration_factor: float = 1.25,
        max_excluded_share: float = 0.25,
        dtype: str = "float32",
        chunk_size: int = 128,
        blas_threads: int | None = 1,
        n_jobs: int = 1,
    ) -> None:
        self.daily_order = daily_order
        self.weekly_order = weekly_order
        self.trend = trend
        self.context_names = context_names
        self.ridge = ridge
        self.min_daily_history_seconds = min_daily_history_seconds
        self.min_weekly_history_seconds = min_weekly_history_seconds
        self.direction = direction
        self.min_deviation = min_deviation
        self.z_floor = z_floor
        self.calibration_quantile = calibration_quantile
        self.calibration_factor = calibration_factor
        self.max_excluded_share = max_excluded_share
        self.dtype = dtype
        self.chunk_size = chunk_size
        self.blas_threads = blas_threads
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ inputs
    def _inputs(self, times, y, context, n_context: int | None = None, n_series: int | None = None):
        t = as_epoch_seconds(times)
        if t.ndim != 1:
            raise ValueError(f"times must be 1-D, got shape {t.shape}")
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 1:
                y = y[:, None]
            if y.ndim != 2 or y.shape[0] != t.shape[0]:
                raise ValueError(f"y must be (T, S) with T={t.shape[0]}, got {y.shape}")
            n_series = y.shape[1]
        if context is None:
            if n_context:
                raise ValueError(f"this model was fitted with {n_context} context regressors; pass context (T, S, {n_context})")
            context = np.zeros((t.shape[0], n_series or 0, 0), dtype=np.dtype(self.dtype))
        context = np.asarray(context)
        if context.ndim == 2:
            context = context[:, :, None]
        if context.ndim != 3 or context.shape[0] != t.shape[0]:
            raise ValueError(f"context must be (T, S, C) with T={t.shape[0]}, got {context.shape}")
        if n_series is not None and context.shape[1] != n_series:
            raise ValueError(f"context has {context.shape[1]} series, expected {n_series}")
        if n_context is not None and context.shape[2] != n_context:
            raise ValueError(f"context must have {n_context} regressors, got {context.shape[2]}")
        return t, y, context

    def _chunks(self, n: int) -> list[slice]:
        size = max(1, int(self.chunk_size))
        return [slice(a, min(a + size, n)) for a in range(0, n, size)]

    def _run_chunks(self, n: int, work: Callable[[slice, Any], None], scratch: Callable[[], Any], points: int) -> None:
        """Call ``work(batch_slice, scratch_buffers)`` for every batch, on ``n_jobs`` threads.

        Batches are dealt out in contiguous runs, one run and one set of scratch buffers per
        thread; ``work`` writes only into its own slice of the outputs.
        """
        chunks = self._chunks(n)
        jobs = max(1, min(int(self.n_jobs), len(chunks)))
        with self._blas(n * points):
            if jobs == 1:
                ws = scratch()
                for sl in chunks:
                    work(sl, ws)
                return
            runs = [chunks[i::jobs] for i in range(jobs)]

            def run(part: list[slice]) -> None:
                ws = scratch()
                for sl in part:
                    work(sl, ws)

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for future in [pool.submit(run, part) for part in runs]:
                    future.result()

    def _blas(self, points: int):
        """Limit BLAS threads for a call over ``points`` values (small calls skip the ~2 ms it costs)."""
        if not self.blas_threads or points < _BLAS_LIMIT_MIN_POINTS:
            return nullcontext()
        return threadpool_limits(self.blas_threads, user_api="blas")

    # --------------------------------------------------------------------- fit
    def fit(self, times, y, context=None, *, exclude: np.ndarray | None = None) -> "LinearBaseline":
        """Fit every series of ``y`` (T, S) on shared ``times`` (T,) and its ``context`` (T, S, C).

        ``exclude`` (T, S) bool marks points to leave out (known incidents, earlier flags);
        at most ``max_excluded_share`` of a series' usable points are dropped (see
        :func:`cap_exclusions`). NaN in ``y`` or ``context`` also leaves a point out.
        """
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        t, y, context = self._inputs(times, y, context)
        T, S = y.shape
        C = context.shape[2]
        if T < 2:
            raise ValueError("need at least two timestamps to fit")
        if exclude is not None:
            exclude = np.asarray(exclude, dtype=bool)
            if exclude.shape != (T, S):
                raise ValueError(f"exclude must be (T, S) = {(T, S)}, got {exclude.shape}")
        dt = np.dtype(self.dtype)
        # The span a fit covers: first to last sample plus one step (7 days of minutely
        # samples cover 7 days, not 7 days minus a minute).
        span = float(t.max() - t.min() + np.median(np.diff(np.sort(t))))
        names, groups = seasonal_columns(
            span,
            daily_order=self.daily_order,
            weekly_order=self.weekly_order,
            trend=self.trend,
            min_daily_history_seconds=self.min_daily_history_seconds,
            min_weekly_history_seconds=self.min_weekly_history_seconds,
        )
        ctx_names = tuple(self.context_names) if self.context_names is not None else tuple(f"context_{j}" for j in range(C))
        if len(ctx_names) != C:
            raise ValueError(f"context_names has {len(ctx_names)} names for {C} context regressors")
        origin = float(t.min() + t.max()) / 2.0
        X = seasonal_design(t, names, trend_origin_seconds=origin, dtype=dt)
        F = X.shape[1]
        X1 = np.asfortranarray(np.hstack([np.ones((T, 1), dtype=dt), X]))
        X64 = X.astype(np.float64)
        XtX, col_sum = X64.T @ X64, X64.sum(axis=0)

        coef = np.zeros((S, F + C))
        intercept = np.full(S, np.nan)
        ctx_mean = np.zeros((S, C))
        scale = np.full(S, np.nan)
        threshold = np.full(S, np.nan)
        n_fit = np.zeros(S, dtype=np.int64)
        excluded_share = np.zeros(S)

        def work(sl: slice, ws: _Workspace) -> None:
            yb = _series_block(y, sl, dt)
            zb = [_series_block(context[:, :, j], sl, dt) for j in range(C)]
            # Row means double as the NaN check: a finite mean means every value is finite.
            means = [yb.mean(axis=1, dtype=np.float64)] + [z.mean(axis=1, dtype=np.float64) for z in zb]
            usable = None
            if not all(np.isfinite(m).all() for m in means):
                usable = np.isfinite(yb)
                for z in zb:
                    usable &= np.isfinite(z)
            valid = usable
            if exclude is not None:
                ex_t = exclude[:, sl]
                if ex_t.any():
                    ok = np.ones(yb.shape, dtype=bool) if usable is None else usable
                    ex = cap_exclusions([ex_t.T], self.max_excluded_share, ok, axis=1)
                    valid = ok & ~ex
                    excluded_share[sl] = ex.sum(axis=1) / np.maximum(ok.sum(axis=1), 1)
            res = self._fit_block(X, X1, XtX, col_sum, yb, zb, valid, ws, means if valid is None else None)
            coef[sl], intercept[sl], ctx_mean[sl], scale[sl], threshold[sl], n_fit[sl] = res

        self._run_chunks(S, work, lambda: _Workspace(min(S, max(1, int(self.chunk_size))), T, C, dt), T)

        self.feature_names_ = tuple(names) + ctx_names
        self.term_groups_ = tuple(groups) + ctx_names
        self.context_names_ = ctx_names
        self.n_seasonal_ = F
        self.n_series_ = S
        self.n_context_ = C
        self.coef_ = coef
        self.intercept_ = intercept
        self.context_mean_ = ctx_mean
        self.scale_ = scale
        self.threshold_ = threshold
        self.n_fit_points_ = n_fit
        self.excluded_share_ = excluded_share
        self.trend_origin_seconds_ = origin
        self.train_span_seconds_ = span
        return self

    def _fit_block(self, X, X1, XtX, col_sum, y, z, valid, ws: _Workspace, means=None):
        """Fit one batch: ``y`` (s, T), ``z`` C arrays (s, T), ``valid`` (s, T) bool or None (all).

        ``means`` are the row means of ``y`` then each ``z`` when already known (all valid).

        Returns (coef, intercept, context mean, scale, threshold, points fitted).
        """
        dt = ws.v.dtype
        s, T = y.shape
        F = X.shape[1]
        C = len(z)
        P = 1 + F + C
        if valid is None:
            n = np.full(s, float(T))
        else:
            n = valid.sum(axis=1).astype(np.float64)
            invalid = ~valid
        n_safe = np.maximum(n, 1.0)

        def centred(src: np.ndarray, out: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
            """Copy ``src`` into ``out`` minus its mean over the valid points (0 elsewhere); return the mean."""
            if valid is None:
                mean = src.mean(axis=1, dtype=np.float64) if mean is None else mean
                np.subtract(src, mean[:, None].astype(dt), out=out)
            else:
                np.copyto(out, src)
                np.copyto(out, 0, where=invalid)
                mean = out.sum(axis=1, dtype=np.float64) / n_safe
                np.subtract(out, mean[:, None].astype(dt), out=out)
                np.copyto(out, 0, where=invalid)
            return mean

        yc = ws.v[0, :s]
        y_mean = centred(y, yc, None if means is None else means[0])
        zc = ws.v[1:, :s]
        z_mean = np.zeros((C, s))
        for j in range(C):
            z_mean[j] = centred(z[j], zc[j], None if means is None else means[1 + j])

        # Normal equations on columns [1, seasonal (F), centred context (C)], one system per series.
        A = np.zeros((s, P, P))
        b = np.zeros((s, P))
        A[:, 0, 0] = n
        if valid is None:
            A[:, 0, 1 : F + 1] = col_sum
            A[:, 1 : F + 1, 1 : F + 1] = XtX
        else:
            w = valid.astype(dt)
            A[:, 0, 1 : F + 1] = w @ X
            if F:
                outer = (X[:, :, None] * X[:, None, :]).reshape(T, F * F)
                A[:, 1 : F + 1, 1 : F + 1] = (w @ outer).reshape(s, F, F)
        A[:, 1 : F + 1, 0] = A[:, 0, 1 : F + 1]
        # Target and regressors against the seasonal columns: one matrix product for all.
        V = ws.v[:, :s]
        VX = (V.reshape(-1, T) @ X).reshape(1 + C, s, F) if s == ws.v.shape[1] else V @ X
        b[:, 1 : F + 1] = VX[0]
        for j in range(C):  # the context columns are centred: their products with the intercept are 0
            A[:, 1 : F + 1, F + 1 + j] = VX[1 + j]
            A[:, F + 1 + j, 1 : F + 1] = A[:, 1 : F + 1, F + 1 + j]
            b[:, F + 1 + j] = np.einsum("st,st->s", zc[j], yc)
            for k in range(j, C):
                A[:, F + 1 + j, F + 1 + k] = A[:, F + 1 + k, F + 1 + j] = np.einsum("st,st->s", zc[j], zc[k])
        # Scale the context columns to unit variance so one ridge fits every column.
        d = np.ones((s, P))
        sd = np.sqrt(np.diagonal(A, axis1=1, axis2=2)[:, F + 1 :] / n_safe[:, None])
        d[:, F + 1 :] = np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 1.0)
        A *= d[:, :, None] * d[:, None, :]
        b *= d
        idx = np.arange(1, P)
        A[:, idx, idx] += self.ridge * n_safe[:, None] + 1e-9
        empty = n == 0
        A[empty] = np.eye(P)
        b[empty] = 0.0
        beta = np.linalg.solve(A, b[:, :, None])[:, :, 0] * d  # back to centred, unscaled context

        coef = beta[:, 1:].copy()
        intercept = y_mean + beta[:, 0] - (coef[:, F:] * z_mean.T).sum(axis=1)
        intercept[empty] = np.nan

        # Training residuals, in place of yc: yc - [1, X] @ beta[:F+1] - context terms.
        gemm = get_blas_funcs("gemm", dtype=dt)
        rT = gemm(-1.0, X1, np.asfortranarray(beta[:, : F + 1].T.astype(dt)), beta=1.0, c=yc.T, overwrite_c=1)
        if not np.shares_memory(rT, yc):
            yc[...] = rT.T
        for j in range(C):
            _add_scaled_rows(yc, zc[j], -beta[:, F + 1 + j])
        scale, threshold = _calibrate_block(
            yc,
            valid,
            n,
            ws,
            floor=1e-6 * (np.abs(y_mean) + 1e-12),
            quantile=self.calibration_quantile,
            factor=self.calibration_factor,
            z_floor=self.z_floor,
        )
        scale[empty] = np.nan
        threshold[empty] = np.nan
        return coef, intercept, z_mean.T, scale, threshold, n.astype(np.int64)

    # ----------------------------------------------------------------- predict
    def _design1(self, t: np.ndarray) -> np.ndarray:
        """``[1, seasonal columns]`` at ``t``, transposed: (1 + F, T)."""
        dt = np.dtype(self.dtype)
        X = seasonal_design(t, self.feature_names_[: self.n_seasonal_], trend_origin_seconds=self.trend_origin_seconds_, dtype=dt)
        return np.ascontiguousarray(np.hstack([np.ones((t.shape[0], 1), dtype=dt), X]).T)

    def _expected_block(self, X1T: np.ndarray, context: np.ndarray, sl: slice, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
        """Expected values of the series in ``sl`` written into ``out`` (s, T)."""
        dt = out.dtype
        F = self.n_seasonal_
        beta1 = np.hstack([self.intercept_[sl, None], self.coef_[sl, :F]]).astype(dt)
        np.matmul(beta1, X1T, out=out)
        for j in range(self.n_context_):
            zj = _series_block(context[:, :, j], sl, dt)
            if zj.flags.c_contiguous:
                _add_scaled_rows(out, zj, self.coef_[sl, F + j])
            else:
                out += np.multiply(zj, self.coef_[sl, F + j].astype(dt)[:, None], out=tmp)
        return out

    def recalibrate(self, residual: np.ndarray, valid: np.ndarray | None = None, *, floor: np.ndarray | float) -> "LinearBaseline":
        """Set ``scale_`` and ``threshold_`` from the residuals ``(T, S)`` given, keeping the coefficients.

        The fit's own calibration (the same subsample, order statistics, quantile, factor and
        floor of ``z_floor`` σ), on residuals the caller computed: e.g. those of the targets as
        they were when the fit saw them clipped. ``valid`` ``(T, S)`` marks the rows that count
        (default: the finite ones); ``floor`` is the smallest scale (per series or one for all).
        """
        check_is_fitted(self, "coef_")
        r = np.asarray(residual, dtype=np.float64)
        if r.ndim != 2 or r.shape[1] != self.n_series_:
            raise ValueError(f"residual must be (T, {self.n_series_}), got shape {r.shape}")
        ok = np.isfinite(r) if valid is None else np.asarray(valid, dtype=bool) & np.isfinite(r)
        block = np.where(ok, r, 0.0).T.copy()
        mask = None if ok.all() else ok.T.copy()
        scale, threshold = _calibrate_block(
            block, mask, ok.sum(axis=0).astype(np.float64), _Workspace(block.shape[0], block.shape[1], 0, block.dtype),
            floor=np.broadcast_to(np.asarray(floor, dtype=np.float64), (block.shape[0],)),
            quantile=self.calibration_quantile, factor=self.calibration_factor, z_floor=self.z_floor,
        )
        self.scale_, self.threshold_ = scale, threshold
        return self

    def _check_series(self, n: int) -> None:
        if n != self.n_series_:
            raise ValueError(f"this model was fitted on {self.n_series_} series, got {n}")

    def predict(self, times, context=None) -> np.ndarray:
        """Expected values ``(T, S)`` at ``times`` given ``context`` (T, S, C)."""
        check_is_fitted(self, "coef_")
        t, _, context = self._inputs(times, None, context, self.n_context_, self.n_series_)
        X1T = self._design1(t)
        out = np.empty((self.n_series_, t.shape[0]), dtype=X1T.dtype)
        rows = min(self.n_series_, max(1, int(self.chunk_size)))
        self._run_chunks(
            self.n_series_,
            lambda sl, tmp: self._expected_block(X1T, context, sl, out[sl], tmp[: sl.stop - sl.start]),
            lambda: np.empty((rows, t.shape[0]), dtype=X1T.dtype),
            t.shape[0],
        )
        return out.T

    def decision_function(self, times, y, context=None) -> np.ndarray:
        """``anomaly_score`` (T, S): higher is more anomalous, ``>= 1`` is anomalous. Changes no state.

        The same numbers as :func:`detector.anomaly_score` on ``y - predict(...)``, computed
        batch by batch in place.
        """
        check_is_fitted(self, "coef_")
        t, y, context = self._inputs(times, y, context, self.n_context_)
        self._check_series(y.shape[1])
        X1T = self._design1(t)
        dt = X1T.dtype
        out = np.empty((self.n_series_, t.shape[0]), dtype=dt)
        rows = min(self.n_series_, max(1, int(self.chunk_size)))
        unit = self.scale_ * self.threshold_
        inv_unit = (1.0 / unit).astype(dt)
        floor_score = (np.asarray(self.min_deviation, dtype=np.float64) / unit).astype(dt)

        def work(sl: slice, tmp: np.ndarray) -> None:
            o = self._expected_block(X1T, context, sl, out[sl], tmp[: sl.stop - sl.start])
            np.subtract(_series_block(y, sl, dt), o, out=o)
            if self.direction == "both":
                np.abs(o, out=o)
            elif self.direction == "above":
                np.maximum(o, 0, out=o)
            else:
                np.negative(o, out=o)
                np.maximum(o, 0, out=o)
            o *= inv_unit[sl, None]
            if self.min_deviation:
                np.copyto(o, 0, where=o < floor_score[sl, None])

        self._run_chunks(self.n_series_, work, lambda: np.empty((rows, t.shape[0]), dtype=dt), t.shape[0])
        return out.T

    def detect(self, times, y, context=None) -> Detection:
        """Expected value, residual, z, anomaly_score and band for every point of ``y`` (T, S)."""
        check_is_fitted(self, "coef_")
        t, y, context = self._inputs(times, y, context, self.n_context_)
        self._check_series(y.shape[1])
        expected = self.predict(t, context)
        residual = np.asarray(y, dtype=expected.dtype) - expected
        z = residual / self.scale_.astype(expected.dtype)
        score = anomaly_score(residual, self.scale_, self.threshold_, direction=self.direction, min_deviation=self.min_deviation)
        lower, upper = bands(expected, self.scale_, self.threshold_, direction=self.direction, min_deviation=self.min_deviation)
        return Detection(expected=expected, residual=residual, z=z, anomaly_score=score, lower=lower, upper=upper)

    def decompose(self, times, context=None) -> Decomposition:
        """Each term's contribution to the expected value, in float64 (see :class:`Decomposition`)."""
        check_is_fitted(self, "coef_")
        t, _, context = self._inputs(times, None, context, self.n_context_, self.n_series_)
        F, C = self.n_seasonal_, self.n_context_
        X = seasonal_design(t, self.feature_names_[:F], trend_origin_seconds=self.trend_origin_seconds_, dtype=np.float64)
        seasonal_groups = [g for g in (TERM_TIME_OF_DAY, TERM_DAY_OF_WEEK, TERM_TREND) if g in self.term_groups_[:F]]
        terms = tuple(seasonal_groups) + self.context_names_
        contrib = np.zeros((t.shape[0], self.n_series_, len(terms)))
        groups = np.asarray(self.term_groups_[:F])
        for i, g in enumerate(seasonal_groups):
            cols = np.flatnonzero(groups == g)
            contrib[:, :, i] = X[:, cols] @ self.coef_[:, cols].T
        ctx = np.asarray(context, dtype=np.float64)
        for j in range(C):
            contrib[:, :, len(seasonal_groups) + j] = self.coef_[:, F + j] * (ctx[:, :, j] - self.context_mean_[:, j])
        baseline = self.intercept_ + (self.coef_[:, F:] * self.context_mean_).sum(axis=1)
        return Decomposition(terms=terms, baseline=baseline, contributions=contrib, context=ctx)
