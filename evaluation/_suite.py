"""The labelled fleet suite: a seeded stretch of simulated history with incidents whose records are the labels.

:func:`make_suite` computes the fleet's signals the way Prometheus would
(:mod:`evaluation._promql`)::

    | history_days of training history           | days of evaluation                |
    | (about one incident a day, ended before    | every kind at its default         |
    |  the evaluation starts)                    | intensity on >= 3 services, a few |
    |                                            | minutes each, spaced out; and     |
    |                                            | quiet_days without any incident   |

The calendar starts on a Monday plus ``seed % 7`` days, so seeds cover different weekdays.
The runner (:mod:`evaluation._runner`) scores detectors on it; the matching
(:mod:`evaluation._matching`) turns their flags into the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from simulator import Catalog, Incident

from ._promql import OfflineSettings, fleet_frame

__all__ = ["CALENDAR_ORIGIN_SECONDS", "DAY_SECONDS", "Progress", "Suite", "SuiteSettings", "make_suite", "plan_incidents"]

DAY_SECONDS = 86_400.0
#: Monday 2026-01-05 00:00 UTC; a suite's history starts ``seed % 7`` days after it.
CALENDAR_ORIGIN_SECONDS = 1_767_571_200.0

Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class SuiteSettings:
    """The shape of a labelled suite (everything else comes from the seed)."""

    days: int = 3
    history_days: int = 14
    quiet_days: int = 1
    services_per_kind: int = 3
    min_duration_seconds: float = 180.0
    max_duration_seconds: float = 480.0
    history_incident_every_days: int = 1
    offline: OfflineSettings = field(default_factory=OfflineSettings)


@dataclass(frozen=True)
class Suite:
    """A labelled stretch of fleet history: the frame the detectors see and the answer key."""

    seed: int
    catalog: Catalog
    frame: pd.DataFrame
    incidents: tuple[Incident, ...]
    history_start_seconds: float
    eval_start_seconds: float
    days: int
    quiet_days: tuple[int, ...]

    @property
    def eval_end_seconds(self) -> float:
        return self.eval_start_seconds + self.days * DAY_SECONDS

    @property
    def eval_incidents(self) -> tuple[Incident, ...]:
        """The incidents the detectors are scored on (those starting in the evaluation days)."""
        return tuple(i for i in self.incidents if self.eval_start_seconds <= i.start_seconds < self.eval_end_seconds)

    def eval_index(self) -> pd.DatetimeIndex:
        t = _seconds(self.frame.index)
        return self.frame.index[(t >= self.eval_start_seconds) & (t < self.eval_end_seconds)]


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8.astype(np.float64) / 1e9


def _incident(catalog: Catalog, n: int, kind: str, service: str, start: float, duration: float) -> Incident:
    return Incident(
        id=f"s{n:03d}",
        kind=kind,
        service=service,
        intensity=catalog.kind(kind).intensity.default,
        start_seconds=float(round(start)),
        duration_seconds=float(round(duration)),
        triggered_by="scenario",
        triggered_seconds=float(round(start)),
    )


def plan_incidents(catalog: Catalog, seed: int, settings: SuiteSettings) -> tuple[tuple[Incident, ...], float, tuple[int, ...]]:
    """The suite's incident records, the evaluation start and the quiet days; no simulation.

    Every kind runs at its default intensity, on ``services_per_kind`` distinct services per
    two incident days (at least that many), in equal slots of the incident days with a
    seeded offset inside each slot, so consecutive incidents are at least about 40 minutes
    apart and every signal is back to normal before the next one.
    """
    if settings.days < 1 or settings.history_days < 1:
        raise ValueError("need at least one evaluation day and one history day")
    if not 0 <= settings.quiet_days < settings.days:
        raise ValueError("quiet_days must leave at least one evaluation day with incidents")
    rng = np.random.default_rng(seed)
    start = CALENDAR_ORIGIN_SECONDS + (seed % 7) * DAY_SECONDS
    eval_start = start + settings.history_days * DAY_SECONDS
    services = catalog.service_names
    kinds = catalog.transient_kind_names  # a permanent kind would never end: not a labelled incident
    lo, hi = settings.min_duration_seconds, settings.max_duration_seconds
    records: list[Incident] = []

    # Training history: one incident every few days, a bit longer, ended well before the evaluation.
    for d in range(1, settings.history_days, max(1, settings.history_incident_every_days)):
        kind = kinds[rng.integers(len(kinds))]
        service = services[rng.integers(len(services))]
        duration = float(rng.uniform(lo, 4 * hi))
        t0 = start + d * DAY_SECONDS + float(rng.uniform(0.05, 0.9)) * DAY_SECONDS
        records.append(_incident(catalog, len(records), kind, service, t0, duration))

    # Evaluation days: every kind on distinct services, spread over the non-quiet days.
    quiet = tuple(sorted(int(q) for q in rng.choice(settings.days, size=settings.quiet_days, replace=False)))
    busy = [d for d in range(settings.days) if d not in quiet]
    rounds = settings.services_per_kind * max(1, math.ceil(len(busy) / 2))
    pairs: list[tuple[str, str]] = []
    for kind in kinds:
        order = list(rng.permutation(len(services)))
        pairs += [(kind, services[order[r % len(services)]]) for r in range(rounds)]
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    per_day = [pairs[i :: len(busy)] for i in range(len(busy))]
    for day, todays in zip(busy, per_day):
        slot = DAY_SECONDS / max(1, len(todays))
        for j, (kind, service) in enumerate(todays):
            duration = float(rng.uniform(lo, hi))
            room = max(0.0, slot - duration - 40 * 60.0)
            t0 = eval_start + day * DAY_SECONDS + j * slot + 10 * 60.0 + float(rng.uniform(0, 1)) * max(0.0, room - 10 * 60.0)
            records.append(_incident(catalog, len(records), kind, service, t0, duration))
    records.sort(key=lambda i: i.start_seconds)
    return tuple(records), eval_start, quiet


def make_suite(catalog: Catalog, seed: int, settings: SuiteSettings = SuiteSettings(), *, progress: Progress | None = None) -> Suite:
    """Plan the incidents for ``seed`` and simulate the fleet's frame over history + evaluation."""
    incidents, eval_start, quiet = plan_incidents(catalog, seed, settings)
    history_start = eval_start - settings.history_days * DAY_SECONDS
    if progress:
        progress(f"simulating {settings.history_days + settings.days} days of fleet history (seed {seed})")
    frame = fleet_frame(
        catalog,
        seed,
        start_seconds=history_start,
        end_seconds=eval_start + settings.days * DAY_SECONDS,
        incidents=incidents,
        settings=settings.offline,
    )
    return Suite(
        seed=seed,
        catalog=catalog,
        frame=frame,
        incidents=incidents,
        history_start_seconds=history_start,
        eval_start_seconds=eval_start,
        days=settings.days,
        quiet_days=quiet,
    )
