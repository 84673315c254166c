"""The kit's Grafana dashboards, written with Grafana's typed SDK (``grafana-foundation-sdk``, the 11.6 build).

Five dashboards, linked to each other (tag ``aiops``), every panel on the one Prometheus
datasource :data:`DATASOURCE_UID`, every axis with a unit. Every detector metric carries
``model`` (:data:`MODELS`: ``online``, the loop that refits, or ``champion``, the registry's
frozen version); the first four dashboards draw one model at a time (a ``model`` variable,
default ``online``, added to every detector selector by :func:`with_model_matcher`), so a stack
running both detectors draws each band once:

- *Fleet overview* (:data:`FLEET_UID`): the golden signals of every service, computed with
  the detector's own PromQL (``model/signals.yaml``, so the line is what the detector
  scores), each service's expected band around it and the flagged points marked; the
  ground-truth incidents (``aiops_incident_active``) and the detected incidents
  (``aiops_detector_incident_active``) as annotations from Prometheus queries, and the
  annotations the collector and the detector post (tag ``aiops``);
- *Anomaly explorer* (:data:`EXPLORER_UID`): one service at a time: every signal's anomaly
  score against its threshold of 1, the flags, the detected incidents, and each signal
  with its expected value and band;
- *Workshop scoreboard* (:data:`SCOREBOARD_UID`): incidents triggered, detected, missed,
  false alarms, time to detect (the detector's ``aiops_scoreboard_*`` metrics);
- *Detector health* (:data:`HEALTH_UID`): cycles by outcome, cycle and fit duration, time
  since the last success, warm-up and settling;
- *AIOps vs MLOps* (:data:`MLOPS_UID`): the online and the champion scores, flags, expected
  values and bands of the same series side by side; the champion's version over time; the
  training runs with the gate's verdict (``aiops_registry_model_version_created_timestamp_seconds``,
  which the champion-serving detector reads from the registry: no pushgateway); the
  scoreboard of each model.

:func:`dashboards` returns them as the JSON Grafana loads (plain dicts, deterministic);
:mod:`dashboards._generate` writes them to ``dashboards/json/``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders.dashboard import (
    AnnotationQuery,
    AnnotationTarget,
    CustomVariable,
    Dashboard,
    DashboardLink,
    QueryVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery as PrometheusQuery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.statetimeline import Panel as StateTimeline
from grafana_foundation_sdk.builders.table import Panel as Table
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from model import SignalSet, SignalSpec, load_signals
from plumbing.durations import format_duration
from plumbing.monitoring import scrape_interval_seconds
from simulator import load_catalog

__all__ = [
    "DASHBOARD_TAG",
    "DATASOURCE_NAME",
    "DATASOURCE_UID",
    "EXPLORER_UID",
    "FLAGGED_REF",
    "FLEET_UID",
    "FOLDER_TITLE",
    "FOLDER_UID",
    "HEALTH_UID",
    "MLOPS_UID",
    "MODELS",
    "SCOREBOARD_UID",
    "SIGNAL_UNITS",
    "dashboards",
    "with_model_matcher",
    "with_service_matcher",
]

#: The one Prometheus datasource every panel, variable and annotation query names (Grafana provisioning and push use it).
DATASOURCE_UID = "aiops-prometheus"
#: Its name in Grafana.
DATASOURCE_NAME = "AIOps Prometheus"
#: The folder the dashboards live in.
FOLDER_UID = "aiops"
FOLDER_TITLE = "AIOps workshop"
#: Fixed dashboard uids, so links and bookmarks (``/d/<uid>``) survive a push or a reprovisioning.
FLEET_UID = "aiops-fleet-overview"
EXPLORER_UID = "aiops-anomaly-explorer"
SCOREBOARD_UID = "aiops-workshop-scoreboard"
HEALTH_UID = "aiops-detector-health"
MLOPS_UID = "aiops-vs-mlops"
#: The values of every detector metric's ``model`` label: the online loop (refits itself) and the
#: champion (the registry's frozen ``champion`` version, ``aiops detect --model-source registry``).
#: The first is the ``model`` variable's default.
MODELS = ("online", "champion")
#: Every dashboard carries this tag; the links between them list the dashboards with it.
DASHBOARD_TAG = "aiops"

#: The refId of the queries that return only the points the detector flagged (empty while nothing is flagged).
FLAGGED_REF = "flagged"
#: Grafana's unit for each unit the signals file uses (a new unit there must be added here).
SIGNAL_UNITS = {"rps": "reqps", "ratio": "percentunit", "seconds": "s", "bytes": "bytes"}

_DS = dm.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
_GRAFANA_DS = dm.DataSourceRef(type_val="grafana", uid="-- Grafana --")
#: One colour per service (in the catalog's order), the same on every panel.
_PALETTE = ("#5794F2", "#73BF69", "#B877D9", "#FF9830", "#FADE2A", "#8AB8FF", "#96D98D", "#CA95E5")
_FLAG_COLOR = "#F2495C"
_BAND_COLOR = "#8E8E8E"
#: One colour per model, the same on every panel of the AIOps-vs-MLOps dashboard.
_MODEL_COLORS = {"online": "#5794F2", "champion": "#B877D9"}


# -- queries ------------------------------------------------------------------------------


def with_service_matcher(promql: str, matcher: str = 'service=~"$service"') -> str:
    """``promql`` with ``matcher`` added to every ``aiops_*`` selector (the signals' queries aggregate by service)."""

    def add(m: re.Match[str]) -> str:
        name, labels = m.group(1), m.group(2)
        if labels is None:
            return f"{name}{{{matcher}}}"
        inner = labels[1:-1].strip()
        return f"{name}{{{inner + ', ' if inner else ''}{matcher}}}"

    return re.sub(r"\b(aiops_[A-Za-z0-9_:]+)(\{[^}]*\})?", add, promql)


def with_model_matcher(promql: str, matcher: str = 'model="$model"') -> str:
    """``promql`` with ``matcher`` added to every detector selector (``aiops_detector_*``, ``aiops_scoreboard_*``) that names no model.

    Both detectors (online and champion) publish the same series under one name, told apart by
    ``model``: a selector without it draws every band twice when both run.
    """

    def add(m: re.Match[str]) -> str:
        name, labels = m.group(1), m.group(2)
        if labels is None:
            return f"{name}{{{matcher}}}"
        inner = labels[1:-1].strip()
        if re.search(r"(^|,)\s*model\s*(=|!=|=~|!~)", inner):
            return m.group(0)
        return f"{name}{{{inner + ', ' if inner else ''}{matcher}}}"

    return re.sub(r"\b(aiops_(?:detector|scoreboard)_[A-Za-z0-9_:]+)(\{[^}]*\})?", add, promql)


def _q(expr: str, legend: str, ref: str) -> PrometheusQuery:
    """A range query; a detector selector that names no model gets ``model="$model"``."""
    return PrometheusQuery().expr(with_model_matcher(expr)).legend_format(legend).ref_id(ref).datasource(_DS).range()


def _table_q(expr: str, ref: str) -> PrometheusQuery:
    """An instant query whose series become the rows of a table (labels as columns)."""
    return PrometheusQuery().expr(with_model_matcher(expr)).ref_id(ref).datasource(_DS).instant().format(pm.PromQueryFormat.TABLE)


def _prop(name: str, value: Any) -> dm.DynamicConfigValue:
    return dm.DynamicConfigValue(id_val=name, value=value)


def _hide_from_legend() -> dm.DynamicConfigValue:
    return _prop("custom.hideFrom", {"legend": True, "tooltip": False, "viz": False})


def _fixed(color: str) -> dm.DynamicConfigValue:
    return _prop("color", {"mode": "fixed", "fixedColor": color})


def _thresholds(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    return ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps([dm.Threshold(value=v, color=c) for v, c in steps])


def _legend() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
    )


def _timeseries(title: str, unit: str, axis_label: str, description: str) -> Timeseries:
    return (
        Timeseries()
        .title(title)
        .description(description)
        .datasource(_DS)
        .unit(unit)
        .axis_label(axis_label)
        .line_width(1)
        .fill_opacity(0)
        .show_points(common.VisibilityMode.NEVER)
        .legend(_legend())
    )


def _mapping(*values: tuple[str, str, str]) -> list[dm.ValueMap]:
    """Value mappings ``(value, text, colour)`` (0/1 flags shown as words)."""
    return [dm.ValueMap(options={v: dm.ValueMappingResult(text=t, color=c, index=i) for i, (v, t, c) in enumerate(values)})]


def _stat(title: str, unit: str, expr: str, legend: str, description: str, *, thresholds: ThresholdsConfig | None = None) -> Stat:
    panel = (
        Stat()
        .title(title)
        .description(description)
        .datasource(_DS)
        .unit(unit)
        .with_target(_q(expr, legend, "A"))
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.VALUE)
        .text_mode(common.BigValueTextMode.VALUE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .height(4)
        .span(4)
    )
    return panel.thresholds(thresholds or _thresholds((None, "text")))


def _links() -> list[DashboardLink]:
    """The link bar of every dashboard: the kit's dashboards (by tag), keeping the time range and the service."""
    return [
        DashboardLink("AIOps dashboards")
        .type(dm.DashboardLinkType.DASHBOARDS)
        .tags([DASHBOARD_TAG])
        .as_dropdown(False)
        .include_vars(True)
        .keep_time(True)
    ]


def _explore_link(title: str = "Anomaly explorer: ${__field.labels.service}") -> DashboardLink:
    """A data link from a series to the anomaly explorer of its service."""
    return (
        DashboardLink(title)
        .url(f"/d/{EXPLORER_UID}/anomaly-explorer?var-service=${{__field.labels.service}}&${{__url_time_range}}")
        .type(dm.DashboardLinkType.LINK)
    )


def _service_variable(*, multi: bool) -> QueryVariable:
    var = (
        QueryVariable("service")
        .label("service")
        .description("The services shown (from the collector's request counter).")
        .datasource(_DS)
        .query("label_values(aiops_http_requests_total, service)")
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )
    if multi:
        var = var.all_value(".*").current(dm.VariableOption(selected=True, text="All", value="$__all"))
    return var


def _model_variable() -> CustomVariable:
    return (
        CustomVariable("model")
        .label("model")
        .description("Which detector's series to draw: the online loop (refits itself) or the champion from the registry "
                     "(aiops detect --model-source registry). Both publish the same metrics, told apart by this label.")
        .values(",".join(MODELS))
        .current(dm.VariableOption(selected=True, text=MODELS[0], value=MODELS[0]))
    )


def _detector_up() -> str:
    """``up`` of the detector serving ``$model`` (both detectors are one scrape job; ``up`` has no model label)."""
    return 'up{job="aiops-detector"} and on(instance) last_over_time(aiops_detector_runs_total{model="$model", outcome="success"}[1d])'


class _PrometheusAnnotation(dm.AnnotationQuery):
    """An annotation query on Prometheus: the SDK's model plus the fields Grafana's Prometheus datasource reads.

    (``titleFormat``, ``textFormat``, ``tagKeys``, ``step``, ``useValueForTime``: the SDK
    types only ``expr``; Grafana reads these beside it.) Consecutive points one ``step``
    apart become one region.
    """

    def __init__(self, *, title_format: str, text_format: str, tag_keys: str, step: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title_format, self.text_format, self.tag_keys, self.step = title_format, text_format, tag_keys, step

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        payload.update(
            {"titleFormat": self.title_format, "textFormat": self.text_format, "tagKeys": self.tag_keys,
             "step": self.step, "useValueForTime": False}
        )  # fmt: skip
        return payload


class _Built(cogbuilder.Builder[dm.AnnotationQuery]):
    def __init__(self, annotation: dm.AnnotationQuery) -> None:
        self._annotation = annotation

    def build(self) -> dm.AnnotationQuery:
        return self._annotation


def _annotations(step: str, service_matcher: str, model_matcher: str = 'model="$model"') -> list[cogbuilder.Builder[dm.AnnotationQuery]]:
    """Ground-truth and detected incidents (of the models ``model_matcher`` picks) from Prometheus, and the annotations the kit posts (tag ``aiops``)."""
    truth = _PrometheusAnnotation(
        name="Incidents (ground truth)",
        datasource=_DS,
        enable=True,
        icon_color="red",
        expr=f"aiops_incident_active{{{service_matcher}}} == 1",
        title_format="incident: {{kind}} on {{service}}",
        text_format="ground truth from the collector (aiops_incident_active)",
        tag_keys="kind,service",
        step=step,
    )
    detected = _PrometheusAnnotation(
        name="Detected incidents",
        datasource=_DS,
        enable=True,
        icon_color="orange",
        expr=f"aiops_detector_incident_active{{{service_matcher}, {model_matcher}}} == 1",
        title_format="detected ({{model}}): {{service}}, probable cause {{cause_signal}}",
        text_format="the detector's correlated anomalies (aiops_detector_incident_active)",
        tag_keys="service,cause_signal",
        step=step,
    )
    posted = (
        AnnotationQuery()
        .name("Posted by the kit (tag aiops)")
        .datasource(_GRAFANA_DS)
        .enable(True)
        .icon_color("blue")
        .target(AnnotationTarget().type("tags").tags([DASHBOARD_TAG]).match_any(True).limit(200))
    )
    return [_Built(truth), _Built(detected), posted]


def _dashboard(uid: str, title: str, description: str, *, step: str, refresh: str, time_from: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([DASHBOARD_TAG])
        .editable()
        .timezone(common.TimeZoneUtc)
        .time(time_from, "now")
        .refresh(refresh)
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .links(_links())
    )


# -- the signals' panels ---------------------------------------------------------------


def _title(label: str) -> str:
    """``p95 latency`` -> ``P95 latency``; ``CPU`` stays ``CPU``."""
    return label[:1].upper() + label[1:]


def _unit(spec: SignalSpec) -> str:
    try:
        return SIGNAL_UNITS[spec.unit]
    except KeyError:
        raise ValueError(f"signal {spec.name}: unit {spec.unit!r} has no Grafana unit in dashboards.SIGNAL_UNITS") from None


def _band_floor(selector: str) -> str:
    """The bottom of the shaded band: the lower bound, or the expected value where there is none.

    A signal anomalous only above its expected value (CPU, memory, errors ...) has a lower
    bound of -Inf, which Grafana cannot shade to; its band is drawn from the expected value up.
    """
    return f"(aiops_detector_lower_bound{{{selector}}} > -Inf) or on(service, signal, model) aiops_detector_expected_value{{{selector}}}"


def _signal_panel_fleet(spec: SignalSpec, services: Sequence[str]) -> Timeseries:
    """One golden signal of every selected service: the value, the detector's band, the flagged points."""
    sel = f'signal="{spec.name}", service=~"$service"'
    value = with_service_matcher(spec.promql)
    panel = (
        _timeseries(
            _title(spec.label),
            _unit(spec),
            spec.label,
            f"{_title(spec.label)} of each service ({spec.promql}: the detector's own query), the detector's expected "
            "band (where the anomaly score reaches 1; from the expected value up for a signal anomalous only above it) "
            "shaded around it, and the points it flagged in red.",
        )
        .with_target(_q(value, "{{service}}", "value"))
        .with_target(_q(_band_floor(sel), "lower {{service}}", "lower"))
        .with_target(_q(f"aiops_detector_upper_bound{{{sel}}}", "upper {{service}}", "upper"))
        .with_target(_q(f"({value}) and on(service) (aiops_detector_anomaly{{{sel}}} == 1)", "flagged {{service}}", FLAGGED_REF))
        .data_links([_explore_link()])
        .height(8)
        .span(12)
    )
    panel = panel.override_by_query("lower", [_prop("custom.lineWidth", 0), _hide_from_legend()])
    panel = panel.override_by_query("upper", [_prop("custom.lineWidth", 0), _prop("custom.fillOpacity", 15), _hide_from_legend()])
    panel = panel.override_by_query(
        FLAGGED_REF,
        [_prop("custom.drawStyle", "points"), _prop("custom.pointSize", 7), _prop("custom.showPoints", "always"), _fixed(_FLAG_COLOR)],
    )
    for i, service in enumerate(services):
        color = _PALETTE[i % len(_PALETTE)]
        panel = panel.override_by_name(service, [_fixed(color)])
        panel = panel.override_by_name(f"upper {service}", [_fixed(color), _prop("custom.fillBelowTo", f"lower {service}")])
        panel = panel.override_by_name(f"lower {service}", [_fixed(color)])
    return panel


def _signal_panel_explorer(spec: SignalSpec) -> Timeseries:
    """One signal of the selected service: value, expected value, band, flagged points."""
    sel = f'signal="{spec.name}", service="$service"'
    value = with_service_matcher(spec.promql, 'service="$service"')
    panel = (
        _timeseries(
            f"{_title(spec.label)}: $service",
            _unit(spec),
            spec.label,
            f"{_title(spec.label)} of the service ({spec.promql}), the detector's expected value and band "
            "(where the anomaly score reaches 1), and the points it flagged.",
        )
        .with_target(_q(value, "actual", "value"))
        .with_target(_q(f"aiops_detector_expected_value{{{sel}}}", "expected", "expected"))
        .with_target(_q(_band_floor(sel), "lower", "lower"))
        .with_target(_q(f"aiops_detector_upper_bound{{{sel}}}", "upper", "upper"))
        .with_target(_q(f"({value}) and on(service) (aiops_detector_anomaly{{{sel}}} == 1)", "flagged", FLAGGED_REF))
        .height(7)
        .span(8)
    )
    panel = panel.override_by_name("actual", [_fixed(_PALETTE[0]), _prop("custom.lineWidth", 2)])
    panel = panel.override_by_name("expected", [_fixed(_BAND_COLOR), _prop("custom.lineStyle", {"fill": "dash", "dash": [6, 4]})])
    panel = panel.override_by_name("lower", [_fixed(_BAND_COLOR), _prop("custom.lineWidth", 0), _hide_from_legend()])
    panel = panel.override_by_name(
        "upper", [_fixed(_BAND_COLOR), _prop("custom.lineWidth", 0), _prop("custom.fillOpacity", 20), _prop("custom.fillBelowTo", "lower")]
    )
    panel = panel.override_by_name(
        "flagged", [_prop("custom.drawStyle", "points"), _prop("custom.pointSize", 7), _prop("custom.showPoints", "always"), _fixed(_FLAG_COLOR)]
    )
    return panel


def _score_panel(signals: SignalSet) -> Timeseries:
    return (
        _timeseries(
            "Anomaly score by signal: $service",
            "none",
            "anomaly score (1 = threshold)",
            "The detector's anomaly score of each signal: residual over the calibrated threshold, so 1 or more is "
            f"anomalous on every signal (one alert rule fits all). A point is flagged when {signals.debounce_k} of the "
            f"last {signals.debounce_m} points score 1 or more.",
        )
        .with_target(_q('aiops_detector_anomaly_score{service="$service"}', "{{signal}}", "A"))
        .thresholds(_thresholds((None, "green"), (1.0, "red")))
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
        .min(0)
        .height(8)
        .span(12)
    )


def _flag_mappings() -> list[dm.ValueMap]:
    return _mapping(("0", "normal", "green"), ("1", "flagged", "red"))


def _flags_panel() -> StateTimeline:
    return (
        StateTimeline()
        .title("Flags: $service")
        .description("Each signal of the service: flagged (after the debounce) or normal, over time.")
        .datasource(_DS)
        .unit("none")
        .with_target(_q('aiops_detector_anomaly{service="$service"}', "{{signal}}", "A"))
        .mappings(_flag_mappings())
        .show_value(common.VisibilityMode.NEVER)
        .height(8)
        .span(12)
    )


def _incidents_timeline(title: str, expr: str, legend: str, description: str, *, span: int = 12) -> StateTimeline:
    return (
        StateTimeline()
        .title(title)
        .description(description)
        .datasource(_DS)
        .unit("none")
        .with_target(_q(expr, legend, "A"))
        .mappings(_mapping(("0", "quiet", "transparent"), ("1", "active", "orange")))
        .show_value(common.VisibilityMode.NEVER)
        .height(6)
        .span(span)
    )


# -- the dashboards -------------------------------------------------------------------


def _fleet(signals: SignalSet, services: Sequence[str], step: str) -> Dashboard:
    d = _dashboard(
        FLEET_UID,
        "Fleet overview",
        "The golden signals of every service, as the detector computes them, with its expected band and flags; "
        "incidents (ground truth and detected) as annotations.",
        step=step,
        refresh=step,
        time_from="now-30m",
    ).with_variable(_service_variable(multi=True)).with_variable(_model_variable())
    for a in _annotations(step, 'service=~"$service"'):
        d = d.annotation(a)
    d = (
        d.with_row(Row("Now"))
        .with_panel(
            _stat("Incidents active (ground truth)", "none", 'sum(aiops_incident_active{service=~"$service"})', "incidents",
                  "Incidents active now on the selected services (the collector's aiops_incident_active).",
                  thresholds=_thresholds((None, "green"), (1.0, "red")))
        )
        .with_panel(
            _stat("Detected incidents open", "none", 'count(aiops_detector_incident_active{service=~"$service"} == 1) or vector(0)',
                  "detected", "Detected incidents the detector has open now (correlated anomalies with a probable cause).",
                  thresholds=_thresholds((None, "green"), (1.0, "orange")))
        )
        .with_panel(
            _stat("Signals flagged now", "none", 'sum(aiops_detector_anomaly{service=~"$service"})', "flagged",
                  "Series (service x signal) the detector flags now.", thresholds=_thresholds((None, "green"), (1.0, "red")))
        )
        .with_panel(
            _stat("Recall", "percentunit",
                  'sum(aiops_scoreboard_incidents{outcome="detected"}) / sum(aiops_scoreboard_incidents{outcome=~"detected|missed"})',
                  "recall", "Share of the incidents past their window that the detector caught (the workshop scoreboard).",
                  thresholds=_thresholds((None, "red"), (0.5, "orange"), (0.9, "green")))
        )
        .with_panel(
            _stat("Median time to detect", "s", 'aiops_scoreboard_time_to_detect_seconds{quantile="0.5"}', "median",
                  "From an incident's start to the first matching flag, median over the detected incidents.")
        )
        .with_panel(
            _stat("Detector up", "none", _detector_up(), "detector",
                  "Whether Prometheus scrapes the detector serving the chosen model.", thresholds=_thresholds((None, "red"), (1.0, "green")))
            .mappings(_mapping(("0", "down", "red"), ("1", "up", "green")))
        )  # fmt: skip
        .with_row(Row("Golden signals"))
    )
    for spec in signals.signals:
        d = d.with_panel(_signal_panel_fleet(spec, services))
    return d


def _explorer(signals: SignalSet, step: str) -> Dashboard:
    d = _dashboard(
        EXPLORER_UID,
        "Anomaly explorer",
        "One service at a time: every signal's anomaly score against its threshold of 1, the flags, "
        "and each signal with the detector's expected value and band.",
        step=step,
        refresh=step,
        time_from="now-30m",
    ).with_variable(_service_variable(multi=False)).with_variable(_model_variable())
    for a in _annotations(step, 'service="$service"'):
        d = d.annotation(a)
    d = (
        d.with_row(Row("Scores and flags"))
        .with_panel(_score_panel(signals))
        .with_panel(_flags_panel())
        .with_panel(
            _incidents_timeline(
                "Detected incidents (probable cause)",
                "aiops_detector_incident_active",
                "{{service}} {{cause_signal}}",
                "Detected incidents of the whole fleet while they are open, by probable cause (service and signal).",
                span=24,
            )
        )
        .with_row(Row("Signals with the expected band"))
    )
    for spec in signals.signals:
        d = d.with_panel(_signal_panel_explorer(spec))
    return d


def _scoreboard(step: str) -> Dashboard:
    d = _dashboard(
        SCOREBOARD_UID,
        "Workshop scoreboard",
        "The trainees' incidents (the collector's ground truth) against the detector's detections, scored as the offline "
        "evaluation scores: detected when a flag on the service or a direct caller starts between the incident's start and "
        "its end + 2 min; a detected incident matching no incident is a false alarm.",
        step=step,
        refresh=step,
        time_from="now-1h",
    ).with_variable(_model_variable())
    for a in _annotations(step, 'service=~".*"'):
        d = d.annotation(a)
    return (
        d.with_row(Row("Score"))
        .with_panel(_stat("Incidents triggered", "none", "sum(aiops_scoreboard_incidents)", "triggered",
                          "Ground-truth incidents started since the detector began scoring."))
        .with_panel(_stat("Detected", "none", 'aiops_scoreboard_incidents{outcome="detected"}', "detected",
                          "Incidents the detector caught in their window.", thresholds=_thresholds((None, "green"))))
        .with_panel(_stat("Missed", "none", 'aiops_scoreboard_incidents{outcome="missed"}', "missed",
                          "Incidents past their window without a matching flag.", thresholds=_thresholds((None, "green"), (1.0, "red"))))
        .with_panel(_stat("Waiting", "none", 'aiops_scoreboard_incidents{outcome="waiting"}', "waiting",
                          "Incidents still inside their window, not detected yet."))
        .with_panel(_stat("False alarms", "none", "aiops_scoreboard_false_alarms", "false alarms",
                          "Detected incidents that match no incident.", thresholds=_thresholds((None, "green"), (1.0, "orange"))))
        .with_panel(_stat("Median time to detect", "s", 'aiops_scoreboard_time_to_detect_seconds{quantile="0.5"}', "median",
                          "From an incident's start to its first matching flag, median over the detected incidents."))
        .with_row(Row("Over time"))
        .with_panel(
            _timeseries("Incidents by outcome", "none", "incidents",
                        "The scoreboard's counts as the workshop goes: detected, missed, still waiting.")
            .with_target(_q("aiops_scoreboard_incidents", "{{outcome}}", "A"))
            .with_target(_q("aiops_scoreboard_false_alarms", "false alarms", "B"))
            .min(0)
            .height(8)
            .span(12)
        )
        .with_panel(
            _timeseries("Time to detect", "s", "time to detect",
                        "Median and mean time from an incident's start to its first matching flag.")
            .with_target(_q('aiops_scoreboard_time_to_detect_seconds{quantile="0.5"}', "median", "A"))
            .with_target(_q("aiops_scoreboard_time_to_detect_seconds_sum / aiops_scoreboard_time_to_detect_seconds_count",
                            "mean", "B"))
            .min(0)
            .height(8)
            .span(12)
        )
        .with_panel(
            _incidents_timeline("Incidents (ground truth)", "max by (kind, service) (aiops_incident_active) > 0",
                                "{{kind}} on {{service}}", "The incidents the trainees triggered, while active.")
        )
        .with_panel(
            _incidents_timeline("Detected incidents (probable cause)", "aiops_detector_incident_active",
                                "{{service}} {{cause_signal}}", "What the detector reported, while open, by probable cause.")
        )
    )  # fmt: skip


def _health(step: str) -> Dashboard:
    d = _dashboard(
        HEALTH_UID,
        "Detector health",
        "The detector's own state: cycles by outcome, how long they take, when one last succeeded, warm-up and settling.",
        step=step,
        refresh=step,
        time_from="now-1h",
    ).with_variable(_model_variable())
    return (
        d.with_row(Row("Now"))
        .with_panel(_stat("Detector up", "none", _detector_up(), "detector", "Whether Prometheus scrapes the detector serving the chosen model.",
                          thresholds=_thresholds((None, "red"), (1.0, "green")))
                    .mappings(_mapping(("0", "down", "red"), ("1", "up", "green"))))
        .with_panel(_stat("Since the last successful cycle", "s", "time() - aiops_detector_last_success_timestamp_seconds", "age",
                          "Seconds since a detection cycle last succeeded (it runs every scrape interval).",
                          thresholds=_thresholds((None, "green"), (60.0, "orange"), (300.0, "red"))))
        .with_panel(_stat("Warm-up", "percentunit", "aiops_detector_warmup_ratio", "warm-up",
                          "History available over the history needed before the detector flags anything (100 %: warmed up).",
                          thresholds=_thresholds((None, "orange"), (1.0, "green"))))
        .with_panel(_stat("Settling", "none", "aiops_detector_settling", "settling",
                          "Whether the rate windows are still filling with live samples (nothing is scored meanwhile).",
                          thresholds=_thresholds((None, "green"), (1.0, "orange")))
                    .mappings(_mapping(("0", "scoring", "green"), ("1", "settling", "orange"))))
        .with_panel(_stat("Last fit", "s", "time() - aiops_detector_last_fit_timestamp_seconds", "age",
                          "Seconds since the baselines were last fitted (every 10 minutes by default)."))
        .with_panel(_stat("Failed cycles (1 h)", "none", 'sum(increase(aiops_detector_runs_total{outcome="failure"}[1h]))', "failures",
                          "Detection cycles that failed in the last hour (Prometheus slow or down).",
                          thresholds=_thresholds((None, "green"), (1.0, "red"))))
        .with_row(Row("Over time"))
        .with_panel(
            _timeseries("Cycles by outcome", "cpm", "cycles per minute",
                        "Detection cycles per minute: success, failure (Prometheus slow or down), warming_up (not enough history).")
            .with_target(_q("sum by (outcome) (rate(aiops_detector_runs_total[1m])) * 60", "{{outcome}}", "A"))
            .min(0)
            .height(8)
            .span(12)
        )
        .with_panel(
            _timeseries("Cycle and fit duration", "s", "duration",
                        "How long the last detection cycle and the last fit of the baselines took.")
            .with_target(_q("aiops_detector_run_duration_seconds", "cycle", "A"))
            .with_target(_q("aiops_detector_fit_duration_seconds", "fit", "B"))
            .min(0)
            .height(8)
            .span(12)
        )
        .with_panel(
            _timeseries("Warm-up and settling", "percentunit", "share",
                        "Warm-up ratio (history over history needed) and settling (100 % while the rate windows fill).")
            .with_target(_q("aiops_detector_warmup_ratio", "warm-up", "A"))
            .with_target(_q("aiops_detector_settling", "settling", "B"))
            .min(0)
            .max(1)
            .height(8)
            .span(12)
        )
        .with_panel(
            _timeseries("Series scored", "none", "series",
                        "Series (service x signal) with an expected value: what the detector scores each cycle.")
            .with_target(_q("count(aiops_detector_expected_value)", "scored", "A"))
            .with_target(_q("sum(aiops_detector_anomaly)", "flagged", "B"))
            .min(0)
            .height(8)
            .span(12)
        )
    )  # fmt: skip


def _versus(signals: SignalSet, step: str) -> Dashboard:
    """AIOps vs MLOps: the online loop and the registry's champion on the same series, the registry, the score per model."""
    names = [spec.name for spec in signals.signals]
    signal_var = (
        CustomVariable("signal")
        .label("signal")
        .description("The signal whose two anomaly scores are compared (from the detector's signals file).")
        .values(",".join(names))
        .current(dm.VariableOption(selected=True, text=names[0], value=names[0]))
    )
    d = _dashboard(
        MLOPS_UID,
        "AIOps vs MLOps",
        "The same series scored by the online loop (refits itself every few minutes) and by the champion (the frozen "
        "version the registry's champion alias names, served by aiops detect --model-source registry); the champion's "
        "version over time and the training runs with their gate's verdict, read from the registry by the champion "
        "detector; the workshop scoreboard of each model.",
        step=step,
        refresh=step,
        time_from="now-1h",
    ).with_variable(_service_variable(multi=False)).with_variable(signal_var)
    for a in _annotations(step, 'service="$service"', f'model=~"{"|".join(MODELS)}"'):
        d = d.annotation(a)
    sel = 'service="$service", signal="$signal"'
    scores = (
        _timeseries(
            "Anomaly score, online vs champion: $service $signal",
            "none",
            "anomaly score (1 = threshold)",
            "The two models' anomaly scores of one series: where they part, one has learnt something the other has not "
            "(the online loop accepts a lasting change after its re-baseline horizon; the champion keeps it until a new "
            "version is trained, gated and promoted).",
        )
        .with_target(_q(f'aiops_detector_anomaly_score{{{sel}, model="online"}}', "online", "online"))
        .with_target(_q(f'aiops_detector_anomaly_score{{{sel}, model="champion"}}', "champion", "champion"))
        .thresholds(_thresholds((None, "green"), (1.0, "red")))
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
        .min(0)
        .height(8)
        .span(12)
    )
    scores = scores.override_by_name("online", [_fixed(_MODEL_COLORS["online"])])
    scores = scores.override_by_name("champion", [_fixed(_MODEL_COLORS["champion"]), _prop("custom.lineStyle", {"fill": "dash", "dash": [6, 4]})])
    flags = (
        StateTimeline()
        .title("Flags, online vs champion: $service $signal")
        .description("Whether each model flags the series (after the debounce). Only the alerting model's detections page.")
        .datasource(_DS)
        .unit("none")
        .with_target(_q(f'aiops_detector_anomaly{{{sel}, model=~"{"|".join(MODELS)}"}}', "{{model}}", "A"))
        .mappings(_flag_mappings())
        .show_value(common.VisibilityMode.NEVER)
        .height(8)
        .span(12)
    )
    d = d.with_row(Row("The same series, scored by both models")).with_panel(scores).with_panel(flags)
    d = d.with_row(Row("Expected value and band of each model: $service"))
    for spec in signals.signals:
        d = d.with_panel(_signal_panel_versus(spec))
    registered = "aiops_registry_model_version_created_timestamp_seconds"
    runs = (
        Table()
        .title("Training runs and the gate's verdict")
        .description("Every version `aiops train` registered, with the gate's verdict (promote: the champion alias "
                     "moved to it; refuse: registered, not served) and the winning candidate; read from the MLflow "
                     "registry by the champion-serving detector and scraped by Prometheus (no pushgateway).")
        .datasource(_DS)
        .unit("dateTimeAsIso")
        .with_target(_table_q(registered, "A"))
        .with_transformation(dm.DataTransformerConfig(id_val="organize", options={
            "excludeByName": {"Time": True, "__name__": True, "instance": True, "job": True, "model": True},
            "indexByName": {"version": 0, "gate": 1, "candidate": 2, "model_name": 3, "Value": 4},
            "renameByName": {"Value": "registered", "model_name": "model name"},
        }))
        .sort_by([common_builders.TableSortByFieldState().display_name("registered").desc(True)])
        .override_by_name("gate", [_prop("custom.cellOptions", {"type": "color-text"}),
                                   _prop("mappings", _json_mappings(("promote", "promote", "green"), ("refuse", "refuse", "red")))])
        .height(8)
        .span(12)
    )  # fmt: skip
    version = (
        _timeseries("Champion version over time", "none", "registered version",
                    "The registered version the champion-serving detector scores with: a step where the alias moved.")
        .with_target(_q('aiops_detector_champion_version{model="champion"}', "champion version", "A"))
        .line_interpolation(common.LineInterpolation.STEP_AFTER)
        .decimals(0)
        .min(0)
        .height(8)
        .span(12)
    )  # fmt: skip
    d = (
        d.with_row(Row("The registry"))
        .with_panel(_stat("Champion version", "none", 'aiops_detector_champion_version{model="champion"}', "version",
                          "The registered version the champion-serving detector scores with now.").span(6))
        .with_panel(_stat("Registry reachable", "none", 'aiops_detector_registry_up{model="champion"}', "registry",
                          "Whether the champion detector can read the registry (when it cannot, the last champion keeps serving).",
                          thresholds=_thresholds((None, "red"), (1.0, "green")))
                    .mappings(_mapping(("0", "down", "red"), ("1", "up", "green"))).span(6))
        .with_panel(_stat("Training runs by verdict", "none", f"count by (gate) ({registered})", "{{gate}}",
                          "Registered versions by the gate's verdict.").span(6))
        .with_panel(_stat("Versions registered", "none", f"count({registered})", "versions",
                          "Versions of the model in the registry.").span(6))
        .with_panel(version)
        .with_panel(runs)
        .with_row(Row("Workshop scoreboard by model"))
    )  # fmt: skip
    both = f'model=~"{"|".join(MODELS)}"'
    for title, unit, expr, description in (
        ("Detected", "none", f'aiops_scoreboard_incidents{{outcome="detected", {both}}}', "Incidents each model caught in their window."),
        ("Missed", "none", f'aiops_scoreboard_incidents{{outcome="missed", {both}}}', "Incidents past their window without a matching flag of that model."),
        ("False alarms", "none", f"aiops_scoreboard_false_alarms{{{both}}}", "Detected incidents of that model that match no incident."),
        ("Median time to detect", "s", f'aiops_scoreboard_time_to_detect_seconds{{quantile="0.5", {both}}}',
         "From an incident's start to the model's first matching flag, median over its detected incidents."),
    ):  # fmt: skip
        d = d.with_panel(_stat(f"{title} by model", unit, expr, "{{model}}", description).span(6))
    return d


def _json_mappings(*values: tuple[str, str, str]) -> list[dict[str, Any]]:
    """Value mappings as JSON (for an override's ``mappings`` property)."""
    return [{"type": "value", "options": {v: {"text": t, "color": c, "index": i} for i, (v, t, c) in enumerate(values)}}]


def _signal_panel_versus(spec: SignalSpec) -> Timeseries:
    """One signal of the selected service: its value, and each model's expected value and band."""
    value = with_service_matcher(spec.promql, 'service="$service"')
    panel = (
        _timeseries(
            f"{_title(spec.label)}: $service, online vs champion",
            _unit(spec),
            spec.label,
            f"{_title(spec.label)} of the service ({spec.promql}), with the online loop's and the champion's expected "
            "value and band (where each model's anomaly score reaches 1).",
        )
        .with_target(_q(value, "actual", "value"))
        .height(7)
        .span(8)
    )
    panel = panel.override_by_name("actual", [_fixed(_BAND_COLOR), _prop("custom.lineWidth", 2)])
    for model in MODELS:
        sel = f'signal="{spec.name}", service="$service", model="{model}"'
        color = _MODEL_COLORS[model]
        panel = (
            panel.with_target(_q(f"aiops_detector_expected_value{{{sel}}}", f"{model} expected", f"{model}_expected"))
            .with_target(_q(_band_floor(sel), f"{model} lower", f"{model}_lower"))
            .with_target(_q(f"aiops_detector_upper_bound{{{sel}}}", f"{model} upper", f"{model}_upper"))
        )
        dash = [_prop("custom.lineStyle", {"fill": "dash", "dash": [6, 4]})] if model != MODELS[0] else []
        panel = panel.override_by_name(f"{model} expected", [_fixed(color), *dash])
        panel = panel.override_by_name(f"{model} lower", [_fixed(color), _prop("custom.lineWidth", 0), _hide_from_legend()])
        panel = panel.override_by_name(
            f"{model} upper",
            [_fixed(color), _prop("custom.lineWidth", 0), _prop("custom.fillOpacity", 12), _prop("custom.fillBelowTo", f"{model} lower")],
        )
    return panel


def _number_panels(d: dict[str, Any]) -> dict[str, Any]:
    """Panel ids 1, 2, 3 ... in grid order (Grafana needs them unique; fixed ids keep the JSON stable and links valid)."""
    for i, panel in enumerate(d["panels"], start=1):
        panel["id"] = i
    return d


def dashboards(signals: SignalSet | None = None, services: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every dashboard as the JSON Grafana loads, ``{uid: dashboard}``, in link order (deterministic).

    ``signals``: the detector's signal set (default: the packaged ``model/signals.yaml``);
    ``services``: the catalog's services (their colours on the fleet overview).
    """
    signals = signals or load_signals()
    services = tuple(services) if services is not None else load_catalog().service_names
    # Habit 12: one timing number. Grafana's annotation step and refresh follow the scrape interval
    # (monitoring/prometheus.yml), as do the datasource's timeInterval and the detector's query step.
    step = format_duration(scrape_interval_seconds())
    built = (_fleet(signals, services, step), _explorer(signals, step), _scoreboard(step), _health(step), _versus(signals, step))
    encoder = JSONEncoder(sort_keys=True, indent=2)
    out: dict[str, dict[str, Any]] = {}
    for builder in built:
        d = _number_panels(json.loads(encoder.encode(builder.build())))
        out[d["uid"]] = d
    return out
