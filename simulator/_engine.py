"""The fleet's behaviour over time: a vectorised, seeded, clock-free model.

Everything here is a pure function of (catalog, seed, times, incidents): give it
the same inputs and it returns the same numbers, whether asked for one second or
for a week at once.

Cause and effect, per time step:

1. Outside traffic follows a daily and a weekly curve (local time at the
   catalog's ``utc_offset_hours``) with a slow random wander; it flows down the
   dependency graph (callers before callees), scaled by ``calls_per_request``.
2. CPU utilisation rises with each pod's request rate.
3. A service's own latency rises with CPU through a queueing factor; its total
   latency adds the latency of the calls it makes (callees first). Errors
   compound the same way: a failing callee fails its callers in proportion to
   how often they call it.
4. Saturation (connection-pool usage) follows Little's law: in-flight requests
   = request rate x mean latency, over the pool size.
5. Memory follows a garbage-collection sawtooth; disk fills with logs through
   the day and is rotated at local midnight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._catalog import Catalog
from ._incident import Incident
from ._noise import normal, smooth_normal, stream_id

__all__ = [
    "LATENCY_BUCKETS_SECONDS",
    "LATENCY_SIGMA",
    "Frame",
    "Counters",
    "simulate",
    "integrate",
    "season",
]

#: Upper bounds of the latency histogram's buckets (``+Inf`` is implied).
LATENCY_BUCKETS_SECONDS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Spread of the log-normal latency distribution (log-space standard deviation).
LATENCY_SIGMA = 0.45
#: How long a step-like incident takes to reach full strength.
RAMP_SECONDS = 15.0
#: A request to a service in outage times out after this long.
TIMEOUT_SECONDS = 1.0

_DAY = 86400.0
_WEEK = 7 * _DAY


@dataclass(frozen=True)
class Frame:
    """Instantaneous signals of every pod at every time.

    Arrays are shaped (T, P): T times (seconds since the epoch), P pods in
    ``pods`` order; ``pod_service[p]`` is the index of pod p's service.
    """

    times: np.ndarray
    services: tuple[str, ...]
    pods: tuple[str, ...]
    pod_service: np.ndarray
    request_rate: np.ndarray  # requests per second
    error_ratio: np.ndarray  # 0..1
    latency_median_seconds: np.ndarray
    cpu_ratio: np.ndarray  # 0..1
    memory_bytes: np.ndarray
    disk_used_bytes: np.ndarray
    disk_capacity_bytes: np.ndarray  # (P,)
    pool_usage_ratio: np.ndarray  # 0..1

    def latency_mean_seconds(self) -> np.ndarray:
        return self.latency_median_seconds * math.exp(LATENCY_SIGMA**2 / 2)


@dataclass(frozen=True)
class Counters:
    """Cumulative counters at each time, shaped (T, P) and (T, P, B) for buckets."""

    times: np.ndarray
    requests_total: np.ndarray
    errors_total: np.ndarray
    latency_bucket: np.ndarray  # cumulative per ``le`` in LATENCY_BUCKETS_SECONDS, +Inf = requests
    latency_sum_seconds: np.ndarray


def season(t: np.ndarray, utc_offset_hours: float = 0.0) -> np.ndarray:
    """Traffic multiplier for the time of day and the day of week (mean about 1)."""
    local = np.asarray(t, dtype=np.float64) + utc_offset_hours * 3600.0
    h = (local % _DAY) / 3600.0
    daily = 1.0 + 0.42 * np.cos(2 * np.pi * (h - 15.0) / 24.0) + 0.13 * np.cos(4 * np.pi * (h - 12.5) / 24.0)
    # 1970-01-01 was a Thursday: day 2 is Saturday, day 3 Sunday.
    dow = (local % _WEEK) / _DAY
    weekend = 1.0 / (1.0 + np.exp(-(dow - 2.0) * 12.0)) - 1.0 / (1.0 + np.exp(-(dow - 4.0) * 12.0))
    return daily * (1.0 - 0.25 * weekend)


def _ramp(t: np.ndarray, inc: Incident) -> tuple[np.ndarray, np.ndarray]:
    """(strength 0..1 ramping up over RAMP_SECONDS while active, seconds since start while active)."""
    active = (t >= inc.start_seconds) & (t < inc.end_seconds)
    elapsed = np.where(active, t - inc.start_seconds, 0.0)
    return np.clip(elapsed / RAMP_SECONDS, 0.0, 1.0) * active, elapsed


def simulate(catalog: Catalog, seed: int, times: Sequence[float] | np.ndarray, incidents: Sequence[Incident] = ()) -> Frame:
    """Every pod's signals at ``times`` (seconds since the epoch), given the incidents."""
    t = np.asarray(times, dtype=np.float64)
    T = t.shape[0]
    names = catalog.service_names
    tick = np.floor(t).astype(np.int64)
    base_season = season(t, catalog.utc_offset_hours)

    # Incident effects per service, each (T,) arrays.
    def effect(kind: str, service: str) -> tuple[np.ndarray, np.ndarray]:
        strength = np.zeros(T)
        grow = np.zeros(T)  # intensity x seconds active, for gradual kinds
        for inc in incidents:
            if inc.kind == kind and inc.service == service:
                r, e = _ramp(t, inc)
                strength += inc.intensity * r
                grow += inc.intensity * e
        return strength, grow

    # 1. traffic, callers before callees
    rps: dict[str, np.ndarray] = {}
    for s in catalog.topological_order():
        svc = catalog.service(s)
        wander = 0.06 * smooth_normal(seed, stream_id("wander", s), t, 1800.0)
        incoming = svc.external_rps * base_season * (1.0 + wander)
        for d in catalog.dependencies:
            if d.callee == s:
                incoming = incoming + rps[d.caller] * d.calls_per_request
        surge, _ = effect("traffic_surge", s)
        rps[s] = incoming * (1.0 + 1.5 * surge)

    pods: list[str] = []
    pod_service: list[int] = []
    for i, s in enumerate(names):
        for p in catalog.service(s).pods:
            pods.append(p)
            pod_service.append(i)
    P = len(pods)
    out = {k: np.empty((T, P)) for k in ("rps", "err", "lat", "cpu", "mem", "disk", "pool")}
    capacity = np.empty(P)

    # 2-4. per pod; latency and errors callees first
    svc_latency_mean: dict[str, np.ndarray] = {}
    svc_error: dict[str, np.ndarray] = {}
    pod_index = {s: [j for j, si in enumerate(pod_service) if names[si] == s] for s in names}
    sigma_factor = math.exp(LATENCY_SIGMA**2 / 2)
    for s in reversed(catalog.topological_order()):
        svc = catalog.service(s)
        hog, _ = effect("cpu_hog", s)
        regression, _ = effect("latency_regression", s)
        release, _ = effect("bad_release", s)
        burst, _ = effect("error_burst", s)
        outage, _ = effect("dependency_outage", s)
        _, leak = effect("memory_leak", s)
        _, fill = effect("disk_fill", s)
        p_fail = np.minimum(1.0, 0.9 * outage)
        lat_acc = np.zeros(T)
        err_acc = np.zeros(T)
        for j in pod_index[s]:
            pod = pods[j]
            r = rps[s] / svc.replicas * (1.0 + 0.02 * smooth_normal(seed, stream_id("rps", pod), t, 30.0))
            cpu = 0.04 + r * svc.cpu_seconds_per_request / svc.cores + 0.45 * hog + 0.006 * normal(seed, stream_id("cpu", pod), tick)
            cpu = np.clip(cpu, 0.01, 0.99)
            rho = np.minimum(cpu, 0.95)
            own = svc.base_latency_seconds * (1.0 + 1.2 * rho / (1.0 - rho)) * (1.0 + 2.0 * regression) * (1.0 + 1.0 * release)
            own = own * np.exp(0.04 * smooth_normal(seed, stream_id("lat", pod), t, 30.0))
            total = own.copy()
            ok = (1.0 - np.clip(svc.base_error_ratio * np.exp(0.25 * smooth_normal(seed, stream_id("err", pod), t, 30.0)) + 0.12 * burst, 0.0, 1.0))
            for d in catalog.dependencies:
                if d.caller == s:
                    total = total + d.calls_per_request * svc_latency_mean[d.callee] / sigma_factor
                    ok = ok * (1.0 - svc_error[d.callee]) ** d.calls_per_request
            # an outage: a share p_fail of requests hang until the timeout, then fail
            median = total * (1.0 - p_fail) + TIMEOUT_SECONDS * p_fail
            err = 1.0 - ok * (1.0 - p_fail)
            pool = np.clip(r * median * sigma_factor / svc.pool_size + 0.004 * normal(seed, stream_id("pool", pod), tick), 0.0, 1.0)
            gc_period = 240.0 + 45.0 * (j % 3)
            gc_phase = ((t + 97.0 * j) % gc_period) / gc_period
            mem = (
                svc.memory_base_bytes
                + 0.8e6 * r
                + 30e6 * gc_phase
                + 1.0e6 * leak
                + 1.0e6 * normal(seed, stream_id("mem", pod), tick)
            )
            day_phase = ((t + catalog.utc_offset_hours * 3600.0) % _DAY) / _DAY
            disk = (
                svc.disk_base_bytes
                + 0.6e9 * day_phase
                + 25e6 * fill
                + 0.3e6 * normal(seed, stream_id("disk", pod), tick)
            )
            capacity[j] = svc.disk_capacity_bytes
            out["rps"][:, j] = r
            out["err"][:, j] = np.clip(err, 0.0, 1.0)
            out["lat"][:, j] = median
            out["cpu"][:, j] = cpu
            out["mem"][:, j] = mem
            out["disk"][:, j] = np.minimum(disk, svc.disk_capacity_bytes * 0.999)
            out["pool"][:, j] = pool
            lat_acc += median * sigma_factor
            err_acc += out["err"][:, j]
        svc_latency_mean[s] = lat_acc / svc.replicas
        svc_error[s] = err_acc / svc.replicas

    return Frame(
        times=t,
        services=names,
        pods=tuple(pods),
        pod_service=np.asarray(pod_service, dtype=np.int64),
        request_rate=out["rps"],
        error_ratio=out["err"],
        latency_median_seconds=out["lat"],
        cpu_ratio=out["cpu"],
        memory_bytes=out["mem"],
        disk_used_bytes=out["disk"],
        disk_capacity_bytes=capacity,
        pool_usage_ratio=out["pool"],
    )


def _norm_cdf(z: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 for erf (absolute error < 1.5e-7), vectorised.
    x = np.abs(z) / math.sqrt(2.0)
    k = 1.0 / (1.0 + 0.3275911 * x)
    poly = k * (0.254829592 + k * (-0.284496736 + k * (1.421413741 + k * (-1.453152027 + k * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


def bucket_fractions(latency_median_seconds: np.ndarray) -> np.ndarray:
    """Share of requests at or below each bucket bound, shaped (..., B)."""
    le = np.log(np.asarray(LATENCY_BUCKETS_SECONDS))
    z = (le - np.log(latency_median_seconds)[..., None]) / LATENCY_SIGMA
    return _norm_cdf(z)


def integrate(frame: Frame, dt: float | np.ndarray, start: Counters | None = None) -> Counters:
    """Cumulative counters after each step of ``frame`` (each step lasting ``dt`` seconds).

    ``start`` carries the counters' values from before the first step (the live
    collector integrates a few ticks at a time and keeps the running totals).
    """
    dt_arr = np.broadcast_to(np.asarray(dt, dtype=np.float64), frame.times.shape)[:, None]
    req = frame.request_rate * dt_arr
    err = req * frame.error_ratio
    buckets = req[..., None] * bucket_fractions(frame.latency_median_seconds)
    lat_sum = req * frame.latency_mean_seconds()
    c_req, c_err, c_bkt, c_sum = np.cumsum(req, 0), np.cumsum(err, 0), np.cumsum(buckets, 0), np.cumsum(lat_sum, 0)
    if start is not None:
        c_req += start.requests_total[-1]
        c_err += start.errors_total[-1]
        c_bkt += start.latency_bucket[-1]
        c_sum += start.latency_sum_seconds[-1]
    return Counters(frame.times, c_req, c_err, c_bkt, c_sum)
