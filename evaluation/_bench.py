"""``aiops bench detector``: the batched fit + score against a per-series scikit-learn loop.

Both sides do the same work on the same synthetic series (a daily and weekly shape, one
context regressor that drives the target, noise): build the features, fit the linear
regression, compute the training residuals' robust scale and calibrated threshold, and
score every point.

- **batched**: :class:`LinearBaseline` ``fit`` + ``decision_function``. Series are generated
  and processed in batches of ``batch_series`` so the data itself never needs more than a
  bounded amount of memory; only fit + score is timed, never the data generation.
- **loop**: per series, ``sklearn.linear_model.LinearRegression().fit`` on the same
  seasonal columns plus its context column, ``predict``, then the same scale, threshold
  and score with numpy. It is timed on ``loop_sample`` series and scaled up linearly
  (each series is independent work); the sample size is printed.

Both run with the same BLAS thread limit (one thread, the model's default: on skinny
products more threads only add contention). The batched side processes its batches on
``jobs`` threads (default 2, the cores of the workshop machine); the loop runs on one
thread, so the CPU-seconds ratio below is the per-core comparison.
Wall-clock seconds are the headline figures; CPU seconds of the process are reported
beside them -- their ratio is the like-for-like, per-core comparison, and on a shared
machine the wall clock also counts time other processes held the cores.

Peak memory is the process' peak resident set size from ``resource.getrusage``
(``ru_maxrss``; on Linux it is kB), read after the run: it includes the interpreter, the
imports and the data, so it bounds what the benchmark needed.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
from sklearn.linear_model import LinearRegression
from threadpoolctl import threadpool_limits

from model._features import DAY_SECONDS, WEEK_SECONDS, seasonal_design
from model._linear import LinearBaseline
from model._scoring import MAD_TO_SIGMA

__all__ = ["BenchSettings", "run_bench", "synthetic_batch"]


@dataclass(frozen=True, kw_only=True)
class BenchSettings:
    """What to benchmark: ``series`` series of ``days`` days at one sample per ``step_seconds``."""

    series: int = 10_000
    days: float = 7.0
    step_seconds: float = 60.0
    batch_series: int = 2_000
    loop_sample: int = 100
    jobs: int = 2
    seed: int = 0
    dtype: str = "float32"
    start_seconds: float = 1_700_006_400.0  # a Wednesday, 00:00 UTC


def synthetic_batch(times: np.ndarray, n: int, seed: int, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """``y`` (T, n) and ``context`` (T, n, 1), series-major: traffic-like context, latency-like target.

    The context follows a daily curve with a weekend dip at its own level per series; the
    target is a per-series linear function of it plus a daily term and noise whose size
    differs by series, plus a few spikes.
    """
    rng = np.random.default_rng(seed)
    T = times.shape[0]
    day = 2 * np.pi * (times % DAY_SECONDS) / DAY_SECONDS
    week = (times % WEEK_SECONDS) / DAY_SECONDS
    shape = ((1.0 + 0.4 * np.cos(day - 2.6)) * (1.0 - 0.2 * ((week > 2) & (week < 4)))).astype(dtype)
    daily = (0.01 * np.sin(day)).astype(dtype)
    level = rng.uniform(10, 500, n).astype(dtype)[:, None]
    slope = rng.uniform(1e-4, 1e-3, n).astype(dtype)[:, None]
    noise = rng.uniform(0.002, 0.02, n).astype(dtype)[:, None]
    ctx = np.empty((1, n, T), dtype=dtype)
    y = np.empty((n, T), dtype=dtype)
    # Written in place, noise drawn straight into the outputs: no full-size temporaries.
    rng.standard_normal(out=ctx[0], dtype=dtype)
    ctx[0] *= 0.03
    ctx[0] += 1.0
    ctx[0] *= shape
    ctx[0] *= level
    rng.standard_normal(out=y, dtype=dtype)
    y *= noise
    y += daily
    y += 0.05
    y += slope * ctx[0]
    spikes = rng.integers(0, T, (n, 3))
    y[np.arange(n)[:, None], spikes] += 8 * noise
    return y.T, ctx.T


def _loop_one(X: np.ndarray, y: np.ndarray, c: np.ndarray, z_floor: float, q: float, factor: float) -> np.ndarray:
    """The per-series reference: sklearn fit + predict, then the same scale, threshold and score."""
    Xs = np.column_stack([X, c])
    model = LinearRegression().fit(Xs, y)
    residual = y - model.predict(Xs)
    centre = np.median(residual)
    scale = MAD_TO_SIGMA * np.median(np.abs(residual - centre))
    tail = np.quantile(np.abs(residual), q, method="lower") / scale
    threshold = max(z_floor, factor * tail)
    return np.abs(residual) / (scale * threshold)


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def run_bench(
    settings: BenchSettings = BenchSettings(),
    *,
    clock: Callable[[], float] = time.perf_counter,
    cpu_clock: Callable[[], float] = time.process_time,
) -> dict[str, Any]:
    """Run the benchmark; returns the figures (see the module docstring for what is timed).

    Keys: series, batched_seconds, loop_seconds, loop_sample, ratio, peak_rss_bytes, the
    same in CPU seconds (``*_cpu_seconds``, ``cpu_ratio``), and ``config`` (timestamps,
    seasonal terms, context regressors per series, float width, batch sizes).
    """
    if settings.series < 1 or settings.days <= 0 or settings.step_seconds <= 0:
        raise ValueError("series, days and step_seconds must be positive")
    times = settings.start_seconds + settings.step_seconds * np.arange(int(round(settings.days * DAY_SECONDS / settings.step_seconds)))
    T = times.shape[0]
    model = LinearBaseline(context_names=("requests",), dtype=settings.dtype, n_jobs=settings.jobs)

    batched = batched_cpu = 0.0
    flagged = 0
    feature_names: tuple[str, ...] = ()
    for b, start in enumerate(range(0, settings.series, settings.batch_series)):
        n = min(settings.batch_series, settings.series - start)
        y, ctx = synthetic_batch(times, n, settings.seed + b, settings.dtype)
        t0, c0 = clock(), cpu_clock()
        model.fit(times, y, ctx)
        score = model.decision_function(times, y, ctx)
        batched += clock() - t0
        batched_cpu += cpu_clock() - c0
        flagged += int(np.count_nonzero(score >= 1.0))
        feature_names = model.feature_names_
        del y, ctx, score

    sample = max(1, min(settings.loop_sample, settings.series))
    y, ctx = synthetic_batch(times, sample, settings.seed, "float64")
    with threadpool_limits(model.blas_threads, user_api="blas"):
        t0, c0 = clock(), cpu_clock()
        X = seasonal_design(times, model.feature_names_[: model.n_seasonal_], trend_origin_seconds=float(times.mean()), dtype=np.float64)
        for s in range(sample):
            _loop_one(X, y[:, s], ctx[:, s, 0], model.z_floor, model.calibration_quantile, model.calibration_factor)
        loop_sample_seconds = clock() - t0
        loop_sample_cpu = cpu_clock() - c0
    loop_seconds = loop_sample_seconds * settings.series / sample
    loop_cpu = loop_sample_cpu * settings.series / sample

    n_seasonal = model.n_seasonal_
    daily = sum(1 for f in feature_names[:n_seasonal] if f.startswith("daily_sin"))
    weekly = sum(1 for f in feature_names[:n_seasonal] if f.startswith("weekly_sin"))
    return {
        "series": settings.series,
        "batched_seconds": batched,
        "loop_seconds": loop_seconds,
        "loop_sample": sample,
        "loop_sample_seconds": loop_sample_seconds,
        "ratio": loop_seconds / batched if batched > 0 else float("inf"),
        "batched_cpu_seconds": batched_cpu,
        "loop_cpu_seconds": loop_cpu,
        "cpu_ratio": loop_cpu / batched_cpu if batched_cpu > 0 else float("inf"),
        "peak_rss_bytes": _peak_rss_bytes(),
        "peak_rss_method": "resource.getrusage(RUSAGE_SELF).ru_maxrss after the run (whole process)",
        "points_flagged": flagged,
        "config": {
            **asdict(settings),
            "timestamps": T,
            "points": T * settings.series,
            "seasonal_terms": {"daily": daily, "weekly": weekly, "trend": int("trend" in feature_names)},  # sine/cosine pairs
            "seasonal_columns": n_seasonal,
            "context_regressors_per_series": model.n_context_,
            "float_bits": np.dtype(settings.dtype).itemsize * 8,
            "chunk_series": model.chunk_size,
            "blas_threads": model.blas_threads,
            "batched_threads": model.n_jobs,
        },
    }
