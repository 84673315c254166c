"""The simulated fleet: seeded, clock-free, and pure (no I/O beyond reading its catalog).

Public surface:

- :func:`load_catalog` -> :class:`Catalog` (services, dependency graph, incident kinds, limits)
- :func:`simulate` -> :class:`Frame` (every pod's signals at given times) and
  :func:`integrate` -> :class:`Counters` (requests, errors, latency histogram)
- :class:`LiveFleet` (counters integrated as a passed-in clock advances)
- :class:`Incident`, :func:`make_incident` (validation; raises :class:`InvalidIncident`)
- :func:`parse_scenario` / :func:`load_scenario`, :class:`ChaosSchedule`

Errors::

    ValueError
     ├── CatalogError      the catalog file is malformed
     ├── InvalidIncident   a request names a bad field (.field, .allowed)
     └── ScenarioError     a scenario file is invalid (.problems)
"""

from ._catalog import CATALOG_PATH, SIGNALS, Catalog, CatalogError, Dependency, IncidentKind, Range, Service, load_catalog
from ._chaos import ChaosPick, ChaosSchedule
from ._engine import LATENCY_BUCKETS_SECONDS, LATENCY_SIGMA, Counters, Frame, bucket_fractions, integrate, season, simulate
from ._incident import Incident, InvalidIncident, make_incident
from ._live import LiveFleet, Snapshot
from ._scenario import Scenario, ScenarioError, ScenarioStep, load_scenario, parse_scenario

__all__ = [
    "CATALOG_PATH",
    "LATENCY_BUCKETS_SECONDS",
    "LATENCY_SIGMA",
    "SIGNALS",
    "Catalog",
    "CatalogError",
    "ChaosPick",
    "ChaosSchedule",
    "Counters",
    "Dependency",
    "Frame",
    "Incident",
    "IncidentKind",
    "InvalidIncident",
    "LiveFleet",
    "Range",
    "Scenario",
    "ScenarioError",
    "ScenarioStep",
    "Service",
    "Snapshot",
    "bucket_fractions",
    "integrate",
    "load_catalog",
    "load_scenario",
    "make_incident",
    "parse_scenario",
    "season",
    "simulate",
]
