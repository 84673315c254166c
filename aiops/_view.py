"""The demo's terminal view: per-service signals from two scrapes of the collector's ``/metrics``.

Pure functions: :func:`parse_scrape` reads an exposition into a :class:`Scrape`,
:func:`service_rows` turns two scrapes into one :class:`Row` per service (rates over the
time between them, as PromQL's ``rate()`` would), and :func:`render` makes the lines.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Row", "Scrape", "histogram_quantile", "parse_scrape", "render", "service_rows"]

_REQUESTS = "aiops_http_requests_total"
_ERRORS = "aiops_http_request_errors_total"
_BUCKET = "aiops_http_request_duration_seconds_bucket"
_CPU = "aiops_cpu_utilization_ratio"
_MEMORY = "aiops_memory_usage_bytes"
_INCIDENT = "aiops_incident_active"


@dataclass(frozen=True)
class Scrape:
    """The sums and means the view needs from one exposition, taken at ``time_seconds``."""

    time_seconds: float
    requests: Mapping[str, float]  # service -> requests_total summed over pods
    errors: Mapping[str, float]
    buckets: Mapping[str, Mapping[float, float]]  # service -> le -> cumulative count summed over pods
    cpu: Mapping[str, float]  # service -> mean over pods
    memory: Mapping[str, float]
    incidents: tuple[tuple[str, str], ...] = field(default=())  # (kind, service) with aiops_incident_active == 1


@dataclass(frozen=True)
class Row:
    """One service's line: NaN where two scrapes are needed and only one is there."""

    service: str
    requests_per_second: float
    latency_p95_seconds: float
    error_ratio: float
    cpu_ratio: float
    memory_bytes: float


def parse_scrape(text: str, time_seconds: float) -> Scrape:
    """Sum counters and average gauges by ``service`` from an exposition in the text format."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    gauges: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    incidents: list[tuple[str, str]] = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            service = s.labels.get("service")
            if service is None:
                continue
            if s.name in (_REQUESTS, _ERRORS):
                sums[s.name][service] += s.value
            elif s.name == _BUCKET:
                buckets[service][float(s.labels["le"])] += s.value
            elif s.name in (_CPU, _MEMORY):
                gauges[s.name][service].append(s.value)
            elif s.name == _INCIDENT and s.value == 1:
                incidents.append((s.labels.get("kind", "?"), service))
    mean = {name: {svc: sum(v) / len(v) for svc, v in per.items()} for name, per in gauges.items()}
    return Scrape(
        time_seconds=time_seconds,
        requests=dict(sums[_REQUESTS]),
        errors=dict(sums[_ERRORS]),
        buckets={svc: dict(b) for svc, b in buckets.items()},
        cpu=mean.get(_CPU, {}),
        memory=mean.get(_MEMORY, {}),
        incidents=tuple(sorted(incidents)),
    )


def histogram_quantile(q: float, cumulative: Mapping[float, float]) -> float:
    """The ``q`` quantile from cumulative bucket counts by upper bound, interpolated as PromQL does."""
    bounds = sorted(cumulative)
    if not bounds or not math.isinf(bounds[-1]):
        return math.nan
    total = cumulative[bounds[-1]]
    if total <= 0:
        return math.nan
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for b in bounds:
        count = cumulative[b]
        if count >= rank:
            if math.isinf(b):
                return lower_bound  # PromQL: the highest finite bound
            if count == lower_count:
                return b
            return lower_bound + (b - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = b, count
    return math.nan


def _delta(cur: Mapping[Any, float], prev: Mapping[Any, float] | None, key: Any) -> float:
    if prev is None or key not in prev or key not in cur:
        return math.nan
    d = cur[key] - prev[key]
    return cur[key] if d < 0 else d  # a counter reset (collector restarted): count from zero


def service_rows(cur: Scrape, prev: Scrape | None, services: Sequence[str] | None = None) -> list[Row]:
    """One row per service; rates and the p95 latency over the time from ``prev`` to ``cur``."""
    dt = (cur.time_seconds - prev.time_seconds) if prev is not None else math.nan
    rows = []
    for svc in services or sorted(set(cur.requests) | set(cur.cpu)):
        requests = _delta(cur.requests, prev.requests if prev else None, svc)
        errors = _delta(cur.errors, prev.errors if prev else None, svc)
        prev_b = prev.buckets.get(svc) if prev else None
        cur_b = cur.buckets.get(svc, {})
        window = {le: _delta(cur_b, prev_b, le) for le in cur_b} if prev_b is not None else {}
        rows.append(
            Row(
                service=svc,
                requests_per_second=requests / dt if dt > 0 else math.nan,
                latency_p95_seconds=histogram_quantile(0.95, window) if window and not any(map(math.isnan, window.values())) else math.nan,
                error_ratio=errors / requests if requests > 0 else math.nan,
                cpu_ratio=cur.cpu.get(svc, math.nan),
                memory_bytes=cur.memory.get(svc, math.nan),
            )
        )
    return rows


def _fmt(value: float, spec: str, width: int) -> str:
    return ("-" if math.isnan(value) else format(value, spec)).rjust(width)


def render(
    rows: Iterable[Row], *, time_seconds: float, incidents: Sequence[Mapping[str, Any]] = (), idle_hint: str = ""
) -> list[str]:
    """Lines of the view: a header with the time, one line per service, then the incidents.

    ``incidents`` are the collector's ``GET /api/incidents`` items; pending and active
    ones are listed with the time left, and their service's line is marked; ``idle_hint``
    follows "no incident active".
    """
    clock = datetime.fromtimestamp(time_seconds, tz=timezone.utc).strftime("%H:%M:%S")
    live = [i for i in incidents if i.get("state") in ("active", "pending")]
    hit: dict[str, list[str]] = defaultdict(list)
    for i in live:
        if i.get("state") == "active":
            hit[i["service"]].append(i["kind"])
    lines = [f"{clock}Z  {'service':<10} {'req/s':>7} {'p95 ms':>7} {'err %':>6} {'cpu %':>6} {'mem MB':>7}  incident"]
    for r in rows:
        lines.append(
            f"{'':10}{r.service:<10} {_fmt(r.requests_per_second, '.1f', 7)} {_fmt(r.latency_p95_seconds * 1000, '.0f', 7)} "
            f"{_fmt(r.error_ratio * 100, '.2f', 6)} {_fmt(r.cpu_ratio * 100, '.0f', 6)} {_fmt(r.memory_bytes / 1e6, '.0f', 7)}"
            + (f"  << {', '.join(hit[r.service])}" if r.service in hit else "")
        )
    for i in live:
        if i.get("state") == "active":
            lines.append(f"{'':10}incident {i['id']}: {i['kind']} on {i['service']}, {max(0, i['end_seconds'] - time_seconds):.0f} s left")
    pending = sorted((i for i in live if i.get("state") == "pending"), key=lambda i: i["start_seconds"])
    if pending:
        nxt = pending[0]
        more = f" (and {len(pending) - 1} more)" if len(pending) > 1 else ""
        lines.append(f"{'':10}next: {nxt['kind']} on {nxt['service']} in {max(0, nxt['start_seconds'] - time_seconds):.0f} s{more}")
    if not live:
        lines.append(f"{'':10}no incident active" + (f"; {idle_hint}" if idle_hint else ""))
    return lines
