"""The kit's Grafana dashboards, as code: built with Grafana's SDK, generated to JSON, pushed, rendered.

- :func:`dashboards` (:mod:`dashboards._definitions`): the five dashboards (fleet overview,
  anomaly explorer, workshop scoreboard, detector health, AIOps vs MLOps) as the JSON Grafana
  loads, with fixed uids (:data:`FLEET_UID` ...), one Prometheus datasource
  (:data:`DATASOURCE_UID`), a ``service`` variable, a ``model`` variable (:data:`MODELS`: the
  online loop or the registry's champion) on the detector's series, a unit on every axis and
  links between them;
- :func:`generated_files` / :func:`write_generated`: the committed ``dashboards/json/*.json``
  and Grafana's provisioning files (``monitoring/grafana/provisioning/``), regenerated
  deterministically (``aiops dashboards generate [--check]``);
- :func:`push`: the folder, the datasource and the dashboards into a running Grafana
  through ``grafana-client``, idempotent (``aiops dashboards push``);
- :func:`render`: every dashboard drawn to PNG with matplotlib from Prometheus, without
  Grafana (``aiops dashboards render``); :mod:`dashboards._panels` reads the JSON back for
  it and for the tests.

It sits on the detector's floor: it reads the signals (:mod:`model`), the catalog
(:mod:`simulator`), Prometheus (:mod:`sources`) and the scrape interval (:mod:`plumbing`).

Errors::

    Exception
     ├── PushError               (push) Grafana unreachable, not Grafana, too old, refused the credentials or a request
     └── sources.PrometheusError (render) Prometheus unreachable or refused a query
"""

from ._definitions import (
    DASHBOARD_TAG,
    DATASOURCE_NAME,
    DATASOURCE_UID,
    EXPLORER_UID,
    FLAGGED_REF,
    FLEET_UID,
    FOLDER_TITLE,
    FOLDER_UID,
    HEALTH_UID,
    MLOPS_UID,
    MODELS,
    SCOREBOARD_UID,
    SIGNAL_UNITS,
    dashboards,
    with_model_matcher,
    with_service_matcher,
)
from ._generate import GRAFANA_DASHBOARDS_PATH, JSON_DIR, GeneratedFile, dashboard_json, dashboards_provisioning, datasource_provisioning, generated_files, write_generated
from ._panels import PanelSpec, TargetSpec, dashboard_range_seconds, legend, panels, substitute
from ._push import MIN_GRAFANA, PushError, PushReport, datasource_body, push
from ._render import PanelDrawing, Rendered, format_value, render, render_dashboard, resolve_variables

__all__ = [
    "DASHBOARD_TAG",
    "DATASOURCE_NAME",
    "DATASOURCE_UID",
    "EXPLORER_UID",
    "FLAGGED_REF",
    "FLEET_UID",
    "FOLDER_TITLE",
    "FOLDER_UID",
    "GRAFANA_DASHBOARDS_PATH",
    "HEALTH_UID",
    "JSON_DIR",
    "MIN_GRAFANA",
    "MLOPS_UID",
    "MODELS",
    "SCOREBOARD_UID",
    "SIGNAL_UNITS",
    "GeneratedFile",
    "PanelDrawing",
    "PanelSpec",
    "PushError",
    "PushReport",
    "Rendered",
    "TargetSpec",
    "dashboard_json",
    "dashboard_range_seconds",
    "dashboards",
    "dashboards_provisioning",
    "datasource_body",
    "datasource_provisioning",
    "format_value",
    "generated_files",
    "legend",
    "panels",
    "push",
    "render",
    "render_dashboard",
    "resolve_variables",
    "substitute",
    "with_model_matcher",
    "with_service_matcher",
    "write_generated",
]
