"""A seeded random chaos schedule: one random incident every N seconds, for M seconds.

Like the OpenTelemetry demo's flag scheduler, but reproducible: round k of a
schedule with seed s always picks the same kind, service and intensity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._catalog import Catalog

__all__ = ["ChaosPick", "ChaosSchedule"]


@dataclass(frozen=True, kw_only=True)
class ChaosPick:
    round: int
    kind: str
    service: str
    intensity: float
    duration_seconds: float


@dataclass(frozen=True, kw_only=True)
class ChaosSchedule:
    """Every ``every_seconds``, one incident lasting ``duration_seconds``.

    ``kinds`` and ``services`` restrict the draw (empty: all of the catalog's, permanent kinds left out).
    Intensity is drawn between the kind's default and 1.5 x default (clipped to its range).
    """

    seed: int
    every_seconds: float
    duration_seconds: float
    kinds: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    def pick(self, catalog: Catalog, round: int) -> ChaosPick:
        rng = np.random.default_rng([self.seed, round])
        kinds = self.kinds or catalog.transient_kind_names
        services = self.services or catalog.service_names
        kind = kinds[int(rng.integers(len(kinds)))]
        service = services[int(rng.integers(len(services)))]
        spec = catalog.kind(kind).intensity
        intensity = float(np.clip(spec.default * rng.uniform(1.0, 1.5), spec.min, spec.max))
        return ChaosPick(round=round, kind=kind, service=service, intensity=round_(intensity), duration_seconds=self.duration_seconds)


def round_(x: float) -> float:
    return float(f"{x:.3g}")
