"""Simulated history -> the detector's wide frame, computed the way Prometheus would.

The live detector reads its signals from Prometheus with the PromQL of ``model/signals.yaml``
(``$rate_window`` is the file's ``rate_window``, 2m)::

    requests    sum by (service) (rate(aiops_http_requests_total[$rate_window]))
    errors      sum by (service) (rate(aiops_http_request_errors_total[$rate_window]))
                  / sum by (service) (rate(aiops_http_requests_total[$rate_window]))
    latency     histogram_quantile(0.95, sum by (service, le) (rate(aiops_http_request_duration_seconds_bucket[$rate_window])))
    cpu         avg by (service) (aiops_cpu_utilization_ratio)
    memory      avg by (service) (aiops_memory_usage_bytes)
    disk        avg by (service) (aiops_disk_used_bytes)
    saturation  avg by (service) (aiops_pool_usage_ratio)

The rate window of the emulation is the signal set's (the one :func:`fleet_frame` is given,
else the packaged file's), so the offline figures follow the file; only an explicit
``OfflineSettings(rate_window_seconds=...)`` overrides it.

The offline evaluation needs days of that at speed, without a Prometheus server. This
module samples the simulator on a scrape grid, integrates the counters the way the live
collector does (each tick adds the rate at its start times the tick), and then applies
re-implementations of the three PromQL pieces involved:

- :func:`prom_rate` -- ``rate()`` with Prometheus 2.x's ``extrapolatedRate``: the samples
  in the closed window ``[t - range, t]``, counter-reset correction, extrapolation to the
  window's edges when the first/last sample is within 1.1 average intervals of them
  (else half an interval), never extrapolating a counter below zero, divided by the range;
- :func:`histogram_quantile` -- Prometheus' ``bucketQuantile``: the rank ``q * count(+Inf)``,
  the first bucket whose cumulative count reaches it, linear interpolation inside that
  bucket (from 0 for the first bucket), the highest finite bound when the rank falls in
  the ``+Inf`` bucket, cumulative counts forced monotonic first;
- :func:`instant_value` -- an instant selector: the newest sample at or before ``t`` within
  the 5-minute lookback.

What differs from a real scrape, and why it does not matter here:

- the collector integrates on a 1 s tick; this integrates on ``tick_seconds`` (default:
  the scrape interval). The simulator's noise is smooth over 30 s, so a 2-minute rate
  changes by far less than its own noise;
- real scrapes land at a per-target offset and jitter a little; here they sit exactly on
  the grid (``scrape_offset_seconds`` moves the grid; with an offset the window holds one
  sample fewer and the extrapolation above kicks in, as it would in Prometheus);
- counts are floored to whole numbers before ``rate()``, as the collector exposes them
  (OpenMetrics wants whole bucket counts; ``whole_counts=False`` keeps the exact floats).
  That flooring is real noise: a service with few errors sees its error ratio move by
  one request per pod per window. Gauges are taken unrounded (the exposition rounds them
  to a byte or 1e-6, far below their noise);
- Prometheus stores float64 and so does this, but summation order differs, so values
  agree to ~1e-12 relative, not bit for bit;
- staleness markers, scrape failures and counter resets from restarts do not happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from model import SignalSet, load_signals
from simulator import LATENCY_BUCKETS_SECONDS, SIGNALS, Catalog, Incident, integrate, simulate

__all__ = [
    "LOOKBACK_DELTA_SECONDS",
    "OfflineSettings",
    "SimulatedSource",
    "fleet_frame",
    "ground_truth_frame",
    "histogram_quantile",
    "instant_value",
    "prom_rate",
]

#: Prometheus' default ``--query.lookback-delta``: an instant selector finds no sample older than this.
LOOKBACK_DELTA_SECONDS = 300.0


@dataclass(frozen=True, kw_only=True)
class OfflineSettings:
    """How the offline bridge samples and queries the simulated fleet.

    ``step_seconds`` is the evaluation grid (a range query's step), ``scrape_interval_seconds``
    how often counters and gauges are sampled, ``rate_window_seconds`` the range of the
    PromQL's ``rate()`` (None, the default: the signal set's ``rate_window``, see
    :meth:`rate_window_for`), ``quantile`` the latency quantile, ``tick_seconds`` the
    integration tick (default: the scrape interval), ``whole_counts`` floors counters as
    the collector exposes them, ``chunk_seconds`` how much is simulated at once (bounds memory).
    """

    step_seconds: float = 60.0
    scrape_interval_seconds: float = 5.0
    scrape_offset_seconds: float = 0.0
    rate_window_seconds: float | None = None
    quantile: float = 0.95
    tick_seconds: float | None = None
    whole_counts: bool = True
    chunk_seconds: float = 21_600.0  # six hours of 5 s ticks: ~200 MB peak for a 17-day suite

    def rate_window_for(self, signals: SignalSet | None = None) -> float:
        """The rate window to emulate: ``signals``' window (the packaged file's without one), or this override.

        An override that contradicts the window of the ``signals`` given is a ValueError:
        the emulation would not compute what the detector queries.
        """
        if self.rate_window_seconds is not None:
            if signals is not None and signals.rate_window_seconds is not None and signals.rate_window_seconds != self.rate_window_seconds:
                raise ValueError(
                    f"two rate windows: the signal set's {signals.rate_window_seconds:g} s and "
                    f"OfflineSettings.rate_window_seconds {self.rate_window_seconds:g} s; give one"
                )
            return float(self.rate_window_seconds)
        window = (signals if signals is not None else load_signals()).rate_window_seconds
        if window is None:
            raise ValueError("the signal set declares no rate_window; set OfflineSettings.rate_window_seconds")
        return float(window)


# --------------------------------------------------------------------------- PromQL pieces
def prom_rate(sample_times: np.ndarray, values: np.ndarray, eval_times: np.ndarray, range_seconds: float) -> np.ndarray:
    """PromQL ``rate(counter[range])`` at each of ``eval_times`` (Prometheus 2.x semantics).

    ``sample_times`` (N,) sorted seconds; ``values`` (N, ...) cumulative counters sharing
    those timestamps; returns (E, ...). Windows with fewer than two samples give NaN.
    """
    st = np.asarray(sample_times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    te = np.asarray(eval_times, dtype=np.float64)
    out_shape = (te.shape[0],) + v.shape[1:]
    if st.shape[0] < 2:
        return np.full(out_shape, np.nan)
    # Counter resets: a drop means the counter restarted from zero; add what it had reached.
    drop = np.zeros_like(v)
    drop[1:] = np.where(v[1:] < v[:-1], v[:-1], 0.0)
    adjusted = v + np.cumsum(drop, axis=0)

    range_start = te - range_seconds
    lo = np.searchsorted(st, range_start, side="left")  # first sample >= start (closed window in 2.x)
    hi = np.searchsorted(st, te, side="right") - 1  # last sample <= t
    n = hi - lo + 1
    ok = n >= 2
    lo_c = np.where(ok, lo, 0)
    hi_c = np.where(ok, hi, 1)
    first_t, last_t = st[lo_c], st[hi_c]
    first_v = v[lo_c]
    delta = adjusted[hi_c] - adjusted[lo_c]

    expand = (slice(None),) + (None,) * (v.ndim - 1)
    sampled = (last_t - first_t)[expand]
    to_start = (first_t - range_start)[expand] * np.ones_like(delta)
    to_end = (te - last_t)[expand]
    avg = sampled / np.maximum(n - 1, 1)[expand]
    with np.errstate(divide="ignore", invalid="ignore"):
        to_zero = np.where((delta > 0) & (first_v >= 0), sampled * (first_v / delta), np.inf)
    to_start = np.minimum(to_start, to_zero)
    threshold = avg * 1.1
    interval = sampled + np.where(to_start < threshold, to_start, avg / 2) + np.where(to_end < threshold, to_end, avg / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = delta * (interval / sampled) / range_seconds
    result[~ok] = np.nan
    return result


def histogram_quantile(q: float, upper_bounds: Sequence[float], cumulative: np.ndarray) -> np.ndarray:
    """PromQL ``histogram_quantile(q, ...)`` over cumulative bucket values ``(..., B)``.

    ``upper_bounds`` are the B ``le`` values in increasing order, the last one ``+Inf``
    (Prometheus returns NaN without it). NaN where the total count is zero.
    """
    le = np.asarray(upper_bounds, dtype=np.float64)
    if le.ndim != 1 or le.shape[0] < 2 or not np.isposinf(le[-1]) or np.any(np.diff(le) <= 0):
        raise ValueError("upper_bounds must increase and end with +Inf (at least two buckets)")
    c = np.maximum.accumulate(np.asarray(cumulative, dtype=np.float64), axis=-1)  # ensureMonotonic
    if q < 0:
        return np.full(c.shape[:-1], -np.inf)
    if q > 1:
        return np.full(c.shape[:-1], np.inf)
    total = c[..., -1]
    rank = q * total
    B = le.shape[0]
    reached = c[..., : B - 1] >= rank[..., None]
    b = np.where(reached.any(axis=-1), reached.argmax(axis=-1), B - 1)
    bc = np.minimum(b, B - 2)
    end = le[bc]
    start = np.where(bc > 0, le[np.maximum(bc - 1, 0)], 0.0)
    count_b = np.take_along_axis(c, bc[..., None], axis=-1)[..., 0]
    below = np.where(bc > 0, np.take_along_axis(c, np.maximum(bc - 1, 0)[..., None], axis=-1)[..., 0], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = start + (end - start) * ((rank - below) / (count_b - below))
    out = np.where(b == B - 1, le[B - 2], inside)
    out = np.where((b == 0) & (le[0] <= 0), le[0], out)
    return np.where(total > 0, out, np.nan)


def instant_value(
    sample_times: np.ndarray, values: np.ndarray, eval_times: np.ndarray, lookback_seconds: float = LOOKBACK_DELTA_SECONDS
) -> np.ndarray:
    """An instant vector selector: the newest sample at or before each eval time, NaN if older than the lookback."""
    st = np.asarray(sample_times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    te = np.asarray(eval_times, dtype=np.float64)
    i = np.searchsorted(st, te, side="right") - 1
    ok = (i >= 0) & (te - st[np.maximum(i, 0)] <= lookback_seconds)
    out = v[np.maximum(i, 0)].copy()
    out[~ok] = np.nan
    return out


# --------------------------------------------------------------------------- the fleet frame
def _index(eval_times: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(eval_times, unit="s", utc=True), name="timestamp")


def fleet_frame(
    catalog: Catalog,
    seed: int,
    *,
    start_seconds: float,
    end_seconds: float,
    incidents: Sequence[Incident] = (),
    settings: OfflineSettings | None = None,
    signals: SignalSet | None = None,
) -> pd.DataFrame:
    """Every service's signals on the step grid ``[start_seconds, end_seconds)``.

    Returns the model's frame: a UTC ``DatetimeIndex`` named ``timestamp`` and float64
    ``(service, signal)`` columns in catalog order, signals in :data:`simulator.SIGNALS`
    order. The incidents act on the simulated fleet; no ground truth enters the frame
    (see :func:`ground_truth_frame` for that, kept apart). ``rate()`` runs over the rate
    window of ``signals`` (default: the packaged signals file), unless ``settings`` sets one.
    """
    settings = settings if settings is not None else OfflineSettings()
    step = float(settings.step_seconds)
    scrape = float(settings.scrape_interval_seconds)
    tick = float(settings.tick_seconds or scrape)
    rng = settings.rate_window_for(signals)
    if step <= 0 or scrape <= 0 or tick <= 0 or rng <= 0:
        raise ValueError("step, scrape interval, tick and rate window must be positive")
    eval_times = np.arange(float(start_seconds), float(end_seconds), step)
    services = catalog.service_names
    S = len(services)
    le = np.array(LATENCY_BUCKETS_SECONDS + (np.inf,))

    # Ticks start early enough that the first window is full and every counter has a past.
    offset = float(settings.scrape_offset_seconds) % scrape
    # A sample is taken every `every` ticks (the scrape interval must be a multiple of the tick);
    # the first tick and every chunk start on a scrape, so a chunk holds its own gauges.
    every = int(round(scrape / tick))
    if every < 1 or abs(every * tick - scrape) > 1e-9 * scrape:
        raise ValueError("the scrape interval must be a whole multiple of the tick")
    first_tick = np.floor((eval_times[0] - rng - 2 * scrape - offset) / scrape) * scrape + offset if eval_times.size else 0.0
    last_time = eval_times[-1] if eval_times.size else first_tick
    n_ticks = int(np.floor((last_time - first_tick) / tick)) + 1
    per_chunk = max(1, int(settings.chunk_seconds // scrape)) * every

    out = np.full((eval_times.shape[0], S, len(SIGNALS)), np.nan)
    col = {name: j for j, name in enumerate(SIGNALS)}
    onehot: np.ndarray | None = None
    counts: np.ndarray | None = None
    keep = int(np.ceil(rng / scrape)) + 2  # samples of the previous chunk a window may need
    tail_t = np.empty(0)
    tail_req = tail_err = tail_bkt = None
    carry = None
    done = 0
    for a in range(0, n_ticks, per_chunk):
        ticks = first_tick + tick * np.arange(a, min(a + per_chunk, n_ticks))
        frame = simulate(catalog, seed, ticks, incidents)
        counters = integrate(frame, tick, start=carry)
        carry = counters
        if onehot is None:
            onehot = np.zeros((len(frame.pods), S))
            onehot[np.arange(len(frame.pods)), frame.pod_service] = 1.0
            counts = onehot.sum(axis=0)
        # Each tick integrates the rate at its start: the counter reaches its value at tick + dt.
        scraped = (np.round((ticks - offset) / tick).astype(np.int64) % every) == 0
        c_idx = np.flatnonzero(np.r_[scraped[1:], (np.round((ticks[-1] + tick - offset) / tick) % every) == 0])
        c_t = np.concatenate([tail_t, ticks[c_idx] + tick])
        req = counters.requests_total[c_idx]
        bkt = np.concatenate([counters.latency_bucket[c_idx], req[:, :, None]], axis=2)
        err = counters.errors_total[c_idx]
        if settings.whole_counts:
            req, err, bkt = np.floor(req), np.floor(err), np.floor(bkt)
        if tail_req is not None:
            req = np.concatenate([tail_req, req])
            err = np.concatenate([tail_err, err])
            bkt = np.concatenate([tail_bkt, bkt])
        # The eval times this chunk answers: up to (excluding) the next chunk's first counter sample.
        chunk_end = ticks[-1] + tick if a + per_chunk < n_ticks else np.inf
        e_lo = done
        e_hi = int(np.searchsorted(eval_times, chunk_end, side="left"))
        if e_hi > e_lo:
            te = eval_times[e_lo:e_hi]
            r_req = prom_rate(c_t, req, te, rng) @ onehot
            r_err = prom_rate(c_t, err, te, rng) @ onehot
            r_bkt = np.einsum("epb,ps->esb", prom_rate(c_t, bkt, te, rng), onehot)
            g_t = ticks[scraped]
            out[e_lo:e_hi, :, col["requests"]] = r_req
            with np.errstate(divide="ignore", invalid="ignore"):
                out[e_lo:e_hi, :, col["errors"]] = r_err / r_req
            out[e_lo:e_hi, :, col["latency"]] = histogram_quantile(settings.quantile, le, r_bkt)
            for name, arr in (
                ("cpu", frame.cpu_ratio),
                ("memory", frame.memory_bytes),
                ("disk", frame.disk_used_bytes),
                ("saturation", frame.pool_usage_ratio),
            ):
                out[e_lo:e_hi, :, col[name]] = (instant_value(g_t, arr[scraped], te) @ onehot) / counts
            done = e_hi
        tail_t, tail_req, tail_err, tail_bkt = c_t[-keep:], req[-keep:], err[-keep:], bkt[-keep:]

    columns = pd.MultiIndex.from_product([services, SIGNALS], names=["service", "signal"])
    return pd.DataFrame(out.reshape(eval_times.shape[0], S * len(SIGNALS)), index=_index(eval_times), columns=columns)


def ground_truth_frame(catalog: Catalog, incidents: Sequence[Incident], index: pd.DatetimeIndex) -> pd.DataFrame:
    """``aiops_incident_active`` on the frame's grid: 0/1 per ``(kind, service)`` column.

    The evaluation's answer key. It is kept out of :func:`fleet_frame` so that nothing a
    detector fits or scores can read it.
    """
    t = index.as_unit("ns").asi8.astype(np.float64) / 1e9
    cols = pd.MultiIndex.from_product([catalog.kind_names, catalog.service_names], names=["kind", "service"])
    out = pd.DataFrame(0.0, index=index, columns=cols)
    for inc in incidents:
        active = (t >= inc.start_seconds) & (t < inc.end_seconds)
        out[(inc.kind, inc.service)] = np.maximum(out[(inc.kind, inc.service)].to_numpy(), active.astype(np.float64))
    return out


@dataclass(frozen=True)
class SimulatedSource:
    """A :class:`sources.HistorySource` computed from the simulated fleet as Prometheus would (same seed, same incidents)."""

    catalog: Catalog
    seed: int
    incidents: Callable[[], Sequence[Incident]]
    #: Whose rate window the emulation uses (default: the packaged signals file's).
    signals: SignalSet | None = None

    def fetch(self, start_seconds: float, end_seconds: float, step_seconds: float) -> pd.DataFrame:
        settings = OfflineSettings(step_seconds=step_seconds, scrape_interval_seconds=min(step_seconds, 5.0))
        return fleet_frame(
            self.catalog,
            self.seed,
            start_seconds=start_seconds,
            end_seconds=end_seconds + step_seconds / 2,
            incidents=list(self.incidents()),
            settings=settings,
            signals=self.signals,
        )
