"""The chaos schedule as a pausable job: one seeded random incident every N seconds."""

from __future__ import annotations

import logging
import math
import threading
from typing import Any, Callable

from simulator import ChaosSchedule, InvalidIncident

from ._store import IncidentStore, LogUnavailable, describe

__all__ = ["ChaosController"]

log = logging.getLogger("collector.chaos")


class ChaosController:
    """Runs rounds of a :class:`simulator.ChaosSchedule` against an incident store.

    Round numbers come from the clock (``floor(now / every_seconds)``), so the
    same seed picks the same incidents at the same times, even across restarts.
    The scheduler calls :meth:`run_round`; tests call it directly with a fake clock.
    Without a schedule (``every_seconds`` 0) the controller is disabled and does nothing.
    """

    def __init__(
        self,
        store: IncidentStore,
        *,
        seed: int,
        every_seconds: float,
        duration_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.schedule = (
            ChaosSchedule(seed=seed, every_seconds=every_seconds, duration_seconds=duration_seconds) if every_seconds > 0 else None
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._paused = False
        self.last: dict[str, Any] | None = None
        self.next_run_seconds: Callable[[], float | None] = lambda: None

    @property
    def enabled(self) -> bool:
        return self.schedule is not None

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        with self._lock:
            if not self._paused and self.enabled:
                log.info("chaos schedule paused")
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            if self._paused and self.enabled:
                log.info("chaos schedule resumed")
            self._paused = False

    def run_round(self) -> dict[str, Any] | None:
        """Trigger this round's incident unless paused or disabled; returns it as the API shows it."""
        with self._lock:
            if self.schedule is None or self._paused:
                return None
            now = self._clock()
            number = math.floor(now / self.schedule.every_seconds)
            pick = self.schedule.pick(self.store.catalog, number)
            try:
                inc = self.store.trigger(
                    kind=pick.kind,
                    service=pick.service,
                    intensity=pick.intensity,
                    duration_seconds=pick.duration_seconds,
                    by="chaos",
                )
            except (InvalidIncident, LogUnavailable) as exc:  # over the limit, or the log refuses writes: skip this round
                log.warning("chaos round %d skipped: %s", number, exc)
                self.last = {"round": number, "skipped": str(exc)}
                return None
            self.last = {"round": number, "incident": describe(inc, now)}
            return self.last["incident"]

    def status(self) -> dict[str, Any]:
        """What GET /api/chaos shows."""
        s = self.schedule
        return {
            "enabled": self.enabled,
            "paused": self._paused,
            "seed": s.seed if s else None,
            "every_seconds": s.every_seconds if s else None,
            "duration_seconds": s.duration_seconds if s else None,
            "next_run_seconds": None if (self._paused or s is None) else self.next_run_seconds(),
            "last": self.last,
        }
