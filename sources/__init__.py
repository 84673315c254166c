"""Where the detector's data comes from: Prometheus' HTTP API and the incident records.

- :class:`PrometheusReader` -- the one module that talks to Prometheus' HTTP API; range
  queries come back as DataFrames;
- :class:`PrometheusSource` -- the signals' PromQL (:class:`model.SignalSet`) evaluated by a
  real Prometheus, as the wide ``(service, signal)`` frame the model takes;
  :class:`HistorySource` is the protocol every source follows;
- incident records (what an ops team's tracker knows: which incidents ended when), from
  the collector's API (:class:`CollectorRecords`) or a log file (:func:`read_incident_log`);
  they only ever feed the self-cleaning fit, never scoring.

Errors::

    Exception
     └── PrometheusError
          ├── PrometheusUnavailable   Prometheus did not answer (down, slow, refused)
          └── PrometheusQueryError    Prometheus answered with an error (bad PromQL)
    collector.CollectorUnreachable    the collector did not answer (incident records)
"""

from ._history import HistorySource, PrometheusSource
from ._prometheus import PrometheusError, PrometheusQueryError, PrometheusReader, PrometheusUnavailable, aligned_grid, matrix_to_frame, series_values
from ._records import CollectorRecords, IncidentRecord, read_incident_log

__all__ = [
    "CollectorRecords",
    "HistorySource",
    "IncidentRecord",
    "PrometheusError",
    "PrometheusQueryError",
    "PrometheusReader",
    "PrometheusSource",
    "PrometheusUnavailable",
    "aligned_grid",
    "matrix_to_frame",
    "read_incident_log",
    "series_values",
]
