"""The collector: the only code that exposes the simulated fleet's metrics (live and backfilled) and the incident API.

Public surface:

- :class:`CollectorSettings` (``from_env()``), :func:`collector_url` (the URL a client uses), :func:`create_app` (the FastAPI app),
  :class:`CollectorRuntime` (fleet + incident store + chaos, one injected clock)
- :class:`CollectorServer` (uvicorn in a background thread; tests and the demo),
  :func:`serve` (foreground, what ``aiops collector`` runs)
- :class:`FleetCollector` / :func:`exposition_registry` (the per-scrape prometheus-client collector)
- :data:`FAMILIES` / :func:`fleet_families` (the one table of metric names, shared with the backfill)
- :class:`IncidentStore` (the append-only JSON-lines incident log), :class:`ChaosController`
- :func:`backfill` (history as OpenMetrics text for promtool, plus its incidents)
- :class:`CollectorClient` (HTTP client of a running collector), :func:`incidents_markdown`

Errors::

    Exception
     ├── CollectorUnreachable        no collector answers at the URL (client)
     ├── RuntimeError
     │    └── LogUnavailable         the incident log cannot take an event (the API's 503)
     ├── APIError                    the collector refused a request (client; .status, .body)
     ├── OSError
     │    └── PortInUse              the collector's port is taken
     ├── KeyError
     │    └── UnknownIncident        no incident has this id
     └── ValueError
          └── InvalidIncident        (from simulator) a request names a bad field
               └── ConcurrencyLimit  too many incidents would overlap
"""

from ._app import CollectorRuntime, IncidentRequest, create_app
from ._backfill import COUNTERS_FILE, INCIDENTS_FILE, MANIFEST_FILE, METRICS_FILE, BackfillResult, HistoryError, backfill, history_end_counters, history_incidents, load_counters
from ._chaos import ChaosController
from ._client import APIError, CollectorClient, CollectorUnreachable
from ._docs import DOC_PATH, incidents_markdown
from ._exposition import FleetCollector, exposition_registry
from ._families import FAMILIES, Family, Series, fleet_families
from ._server import CollectorServer, PortInUse, is_loopback, serve
from ._settings import (
    COLLECTOR_URL_ENV,
    RESPONDER_TOKEN_ENV,
    TOKEN_ENV,
    CollectorSettings,
    collector_url,
    collector_url_setting,
    responder_token_setting,
    token_setting,
)
from ._store import ACTORS, ConcurrencyLimit, IncidentStore, LogUnavailable, UnknownIncident, read_log

__all__ = [
    "DOC_PATH",
    "HistoryError",
    "history_end_counters",
    "load_counters",
    "COUNTERS_FILE",
    "ACTORS",
    "APIError",
    "BackfillResult",
    "ChaosController",
    "CollectorClient",
    "CollectorRuntime",
    "CollectorServer",
    "COLLECTOR_URL_ENV",
    "CollectorSettings",
    "CollectorUnreachable",
    "ConcurrencyLimit",
    "FAMILIES",
    "Family",
    "FleetCollector",
    "INCIDENTS_FILE",
    "IncidentRequest",
    "IncidentStore",
    "LogUnavailable",
    "MANIFEST_FILE",
    "METRICS_FILE",
    "PortInUse",
    "Series",
    "UnknownIncident",
    "backfill",
    "collector_url",
    "collector_url_setting",
    "responder_token_setting",
    "token_setting",
    "RESPONDER_TOKEN_ENV",
    "TOKEN_ENV",
    "create_app",
    "exposition_registry",
    "fleet_families",
    "history_incidents",
    "incidents_markdown",
    "is_loopback",
    "read_log",
    "serve",
]
