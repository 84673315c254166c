"""The one place where the collector's metric names, types, help and labels are decided.

Both the live ``/metrics`` exposition (one row, no timestamps) and the backfill
(many rows, with timestamps) take their samples from :func:`fleet_families`, so a
name or a label can never differ between history and live data.

Every family is a list of :class:`Series`: one label set (``service``, ``pod`` or
``kind``, ``service``) with the sample lines that make up one point (one line for
a counter or a gauge; the ``_bucket`` lines, ``_count`` and ``_sum`` for a
histogram) and their values over time, shaped (T, lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from prometheus_client.utils import floatToGoString

from simulator import LATENCY_BUCKETS_SECONDS, Catalog, Counters, Frame, Incident

__all__ = [
    "FAMILIES",
    "Family",
    "Series",
    "fleet_families",
    "incident_active",
    "le_labels",
]


@dataclass(frozen=True, kw_only=True)
class Family:
    """A metric family as OpenMetrics names it (a counter's name has no ``_total``)."""

    name: str
    type: str  # counter | gauge | histogram
    help: str
    unit: str = ""
    #: Decimals kept in exposed values; counts (counters, histogram buckets) are whole numbers.
    decimals: int = 6

    @property
    def exposed_name(self) -> str:
        """The name queries use: ``_total`` added to counters."""
        return self.name + "_total" if self.type == "counter" else self.name


@dataclass(frozen=True)
class Series:
    """One label set of a family: its sample lines and their values, (T, len(lines)), already rounded."""

    labels: tuple[tuple[str, str], ...]
    lines: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (sample name, extra labels)
    values: np.ndarray
    decimals: tuple[int, ...]  # per line: decimals the values carry (0: whole numbers)


#: Decimals of the histogram's ``_sum`` (its buckets and count are whole numbers).
SUM_DECIMALS = 3

REQUESTS = Family(name="aiops_http_requests", type="counter", help="HTTP requests served by the pod.", decimals=0)
ERRORS = Family(
    name="aiops_http_request_errors", type="counter", help="HTTP requests the pod answered with a server error.", decimals=0
)
DURATION = Family(
    name="aiops_http_request_duration_seconds",
    type="histogram",
    help="Time the pod took to answer HTTP requests, including the calls it made.",
    unit="seconds",
    decimals=SUM_DECIMALS,
)
CPU = Family(
    name="aiops_cpu_utilization_ratio", type="gauge", help="Share of the pod's CPU cores in use (0-1).", unit="ratio"
)
MEMORY = Family(
    name="aiops_memory_usage_bytes", type="gauge", help="Memory in use by the pod.", unit="bytes", decimals=0
)
DISK_USED = Family(name="aiops_disk_used_bytes", type="gauge", help="Disk space used by the pod.", unit="bytes", decimals=0)
DISK_CAPACITY = Family(
    name="aiops_disk_capacity_bytes", type="gauge", help="Disk space available to the pod in total.", unit="bytes", decimals=0
)
POOL = Family(
    name="aiops_pool_usage_ratio",
    type="gauge",
    help="Share of the pod's connection pool in use (0-1): in-flight requests over pool size.",
    unit="ratio",
)
INCIDENT_ACTIVE = Family(
    name="aiops_incident_active",
    type="gauge",
    help="1 while an incident of this kind is active on this service, else 0 (the ground truth).",
    decimals=0,
)

#: Every family the collector exposes, in exposition order.
FAMILIES: tuple[Family, ...] = (REQUESTS, ERRORS, DURATION, CPU, MEMORY, DISK_USED, DISK_CAPACITY, POOL, INCIDENT_ACTIVE)


def le_labels() -> tuple[str, ...]:
    """The histogram's ``le`` label values, formatted as Prometheus clients do (``1.0``, ``+Inf``)."""
    return tuple(floatToGoString(b) for b in LATENCY_BUCKETS_SECONDS) + ("+Inf",)


def incident_active(catalog: Catalog, times: np.ndarray, incidents: Sequence[Incident]) -> np.ndarray:
    """0/1 per time and (kind, service) pair, shaped (T, kinds x services), kinds major."""
    t = np.asarray(times, dtype=np.float64)
    services = catalog.service_names
    out = np.zeros((t.shape[0], len(catalog.kind_names) * len(services)))
    for inc in incidents:
        col = catalog.kind_names.index(inc.kind) * len(services) + services.index(inc.service)
        out[:, col] = np.maximum(out[:, col], (t >= inc.start_seconds) & (t < inc.end_seconds))
    return out


def _rounded(values: np.ndarray, decimals: int, *, count: bool = False) -> np.ndarray:
    """Values as exposed: counts floored to whole numbers (OpenMetrics requires it of buckets), others rounded."""
    return np.floor(values) if count else np.round(values, decimals)


def fleet_families(
    catalog: Catalog,
    gauges: Frame,
    counters: Counters,
    incidents: Sequence[Incident],
    *,
    extra_labels: tuple[tuple[str, str], ...] = (),
) -> list[tuple[Family, list[Series]]]:
    """Every family's series for the rows of ``gauges`` and ``counters`` (same times).

    ``extra_labels`` (the backfill's ``job`` and ``instance``) go first on every series.
    """
    pods = gauges.pods
    services = [gauges.services[i] for i in gauges.pod_service]
    pod_labels = [extra_labels + (("service", s), ("pod", p)) for s, p in zip(services, pods)]
    T = gauges.times.shape[0]

    def per_pod(family: Family, values: np.ndarray) -> tuple[Family, list[Series]]:
        v = _rounded(np.broadcast_to(values, (T, len(pods))), family.decimals, count=family.type == "counter")
        line = ((family.exposed_name, ()),)
        dec = (family.decimals,)
        return family, [Series(labels, line, v[:, j : j + 1], dec) for j, labels in enumerate(pod_labels)]

    les = le_labels()
    hist_lines = tuple((f"{DURATION.name}_bucket", (("le", le),)) for le in les) + (
        (f"{DURATION.name}_count", ()),
        (f"{DURATION.name}_sum", ()),
    )
    counts = _rounded(
        np.concatenate(
            [
                counters.latency_bucket,
                counters.requests_total[..., None],  # +Inf
                counters.requests_total[..., None],  # _count
            ],
            axis=2,
        ),
        0,
        count=True,
    )
    hist_values = np.concatenate([counts, _rounded(counters.latency_sum_seconds[..., None], SUM_DECIMALS)], axis=2)
    hist_dec = (0,) * counts.shape[2] + (SUM_DECIMALS,)
    histogram = [Series(labels, hist_lines, hist_values[:, j, :], hist_dec) for j, labels in enumerate(pod_labels)]

    active = incident_active(catalog, gauges.times, incidents)
    active_series = []
    for k, kind in enumerate(catalog.kind_names):
        for s, service in enumerate(catalog.service_names):
            col = k * len(catalog.service_names) + s
            active_series.append(
                Series(
                    extra_labels + (("kind", kind), ("service", service)),
                    ((INCIDENT_ACTIVE.name, ()),),
                    active[:, col : col + 1],
                    (0,),
                )
            )

    return [
        per_pod(REQUESTS, counters.requests_total),
        per_pod(ERRORS, counters.errors_total),
        (DURATION, histogram),
        per_pod(CPU, gauges.cpu_ratio),
        per_pod(MEMORY, gauges.memory_bytes),
        per_pod(DISK_USED, gauges.disk_used_bytes),
        per_pod(DISK_CAPACITY, gauges.disk_capacity_bytes[None, :]),
        per_pod(POOL, gauges.pool_usage_ratio),
        (INCIDENT_ACTIVE, active_series),
    ]
