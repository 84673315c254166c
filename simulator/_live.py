"""The fleet as the live collector serves it: counters integrated as a passed-in clock advances."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._catalog import Catalog
from ._engine import Counters, Frame, integrate, simulate
from ._incident import Incident

__all__ = ["LiveFleet", "Snapshot"]

#: Longest stretch integrated tick by tick; a longer gap (a suspended laptop) is integrated coarser.
_MAX_TICKS_PER_ADVANCE = 3600


@dataclass(frozen=True)
class Snapshot:
    """Everything a scrape shows: gauges at ``time_seconds`` and counters up to it."""

    time_seconds: float
    gauges: Frame  # one row
    counters: Counters  # one row
    incidents: tuple[Incident, ...]  # active at time_seconds


class LiveFleet:
    """Integrates the fleet's counters on a fixed tick grid as time moves on.

    Counters start at zero at ``start_seconds`` (a process start, as for any
    instrumented service; PromQL's ``rate()`` handles the reset), or at ``initial``
    (the last row of counters integrated up to ``start_seconds``, e.g. by a backfill,
    so that the live series continue the history without a reset). Given the same
    seed, start and clock readings, the numbers are the same. Not thread-safe:
    the collector serialises calls.
    """

    def __init__(
        self,
        catalog: Catalog,
        seed: int,
        *,
        start_seconds: float,
        tick_seconds: float = 1.0,
        initial: Counters | None = None,
    ) -> None:
        self.catalog = catalog
        self.seed = seed
        self.tick_seconds = tick_seconds
        self._last_tick = math.floor(start_seconds / tick_seconds) * tick_seconds
        if initial is None:
            zero_frame = simulate(catalog, seed, [self._last_tick])
            self._counters = integrate(zero_frame, 0.0)
        else:  # carry on from counters integrated elsewhere (a backfill's history)
            self._counters = _last_row(initial)

    @property
    def integrated_until_seconds(self) -> float:
        """The last tick the counters are integrated up to: an incident over before it cannot change them."""
        return self._last_tick

    def advance(self, now: float, incidents: Sequence[Incident]) -> Snapshot:
        """Integrate up to ``now`` and return what a scrape at ``now`` sees."""
        target = math.floor(now / self.tick_seconds) * self.tick_seconds
        n = int(round((target - self._last_tick) / self.tick_seconds))
        if n > 0:
            if n <= _MAX_TICKS_PER_ADVANCE:
                grid = self._last_tick + self.tick_seconds * np.arange(1, n + 1)
                dt: float = self.tick_seconds
            else:
                grid = np.linspace(self._last_tick, target, _MAX_TICKS_PER_ADVANCE + 1)[1:]
                dt = (target - self._last_tick) / _MAX_TICKS_PER_ADVANCE
            # each tick integrates the rate at its start, so step back by dt
            frame = simulate(self.catalog, self.seed, grid - dt, incidents)
            self._counters = _last_row(integrate(frame, dt, start=self._counters))
            self._last_tick = target
        gauges = simulate(self.catalog, self.seed, [now], incidents)
        active = tuple(i for i in incidents if i.active_at(now))
        return Snapshot(time_seconds=now, gauges=gauges, counters=self._counters, incidents=active)


def _last_row(c: Counters) -> Counters:
    return Counters(
        c.times[-1:], c.requests_total[-1:], c.errors_total[-1:], c.latency_bucket[-1:], c.latency_sum_seconds[-1:]
    )
