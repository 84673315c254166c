"""The prometheus-client custom collector: metric families built fresh from a snapshot per scrape."""

from __future__ import annotations

from typing import Callable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from simulator import Catalog, Snapshot

from ._families import FAMILIES, fleet_families

__all__ = ["FleetCollector", "exposition_registry"]


class FleetCollector(Collector):
    """Yields the fleet's metric families from ``snapshot()``, called once per scrape.

    Nothing is kept between scrapes: every ``collect()`` asks for a fresh
    :class:`simulator.Snapshot` (the simulator's state at the clock's time) and
    builds new families from it.
    """

    def __init__(self, catalog: Catalog, snapshot: Callable[[], Snapshot]) -> None:
        self.catalog = catalog
        self._snapshot = snapshot

    def describe(self) -> Iterator[Metric]:
        """The families without samples (lets a registry detect duplicate names without a scrape)."""
        for family in FAMILIES:
            yield Metric(family.name, family.help, family.type, family.unit)

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        for family, series in fleet_families(self.catalog, snap.gauges, snap.counters, snap.incidents):
            metric = Metric(family.name, family.help, family.type, family.unit)
            for s in series:
                labels = dict(s.labels)
                row = s.values[-1].tolist()
                for (sample_name, extra), value in zip(s.lines, row):
                    metric.add_sample(sample_name, {**labels, **dict(extra)}, value)
            yield metric


def exposition_registry(catalog: Catalog, snapshot: Callable[[], Snapshot]) -> CollectorRegistry:
    """A fresh registry holding only a :class:`FleetCollector` (never the global ``REGISTRY``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(catalog, snapshot))
    return registry
