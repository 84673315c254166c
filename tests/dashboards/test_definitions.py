"""The dashboards as Grafana loads them: fixed uids, one datasource, units on every axis, links, the signals' own PromQL."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dashboards import (
    DASHBOARD_TAG,
    DATASOURCE_UID,
    EXPLORER_UID,
    FLAGGED_REF,
    FLEET_UID,
    HEALTH_UID,
    MLOPS_UID,
    MODELS,
    SCOREBOARD_UID,
    SIGNAL_UNITS,
    dashboards,
    panels,
    with_model_matcher,
    with_service_matcher,
)
from model import load_signals
from plumbing.durations import format_duration
from plumbing.monitoring import scrape_interval_seconds
from simulator import load_catalog

ALL = dashboards()
SIGNALS = load_signals()


def _panels(uid: str) -> list[Any]:
    return [p for p in panels(ALL[uid]) if p.type != "row"]


def test_five_dashboards_with_fixed_uids_and_the_kits_tag() -> None:
    assert list(ALL) == [FLEET_UID, EXPLORER_UID, SCOREBOARD_UID, HEALTH_UID, MLOPS_UID]
    assert [d["title"] for d in ALL.values()] == ["Fleet overview", "Anomaly explorer", "Workshop scoreboard", "Detector health", "AIOps vs MLOps"]
    for uid, d in ALL.items():
        assert d["uid"] == uid and DASHBOARD_TAG in d["tags"]


def test_they_are_built_the_same_way_every_time() -> None:
    assert dashboards() == ALL


@pytest.mark.parametrize("uid", list(ALL))
def test_every_panel_query_and_variable_names_the_one_prometheus_datasource(uid: str) -> None:
    d = ALL[uid]
    for p in _panels(uid):
        assert p.raw["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, p.title
        assert p.targets, f"{p.title}: no query"
        for t in p.raw["targets"]:
            assert t["datasource"]["uid"] == DATASOURCE_UID and t["refId"], p.title
    for var in d.get("templating", {}).get("list", []):
        if var["type"] == "query":  # a custom variable (model, signal) lists its values and queries nothing
            assert var["datasource"]["uid"] == DATASOURCE_UID
    for a in d["annotations"].get("list", []):
        assert a["datasource"]["uid"] in (DATASOURCE_UID, "-- Grafana --")


@pytest.mark.parametrize("uid", list(ALL))
def test_every_panel_has_a_unit_and_every_graph_an_axis_label(uid: str) -> None:
    for p in _panels(uid):
        assert p.unit, f"{ALL[uid]['title']} / {p.title}: no unit"
        if p.type == "timeseries":
            assert p.custom.get("axisLabel"), f"{ALL[uid]['title']} / {p.title}: no axis label"


@pytest.mark.parametrize("uid", list(ALL))
def test_panels_have_unique_ids_and_fit_the_grid_without_overlapping(uid: str) -> None:
    specs = list(panels(ALL[uid]))
    assert len({p.id for p in specs}) == len(specs)
    cells: set[tuple[int, int]] = set()
    for p in specs:
        x, y, w, h = p.grid
        assert 0 <= x and x + w <= 24, p.title
        mine = {(i, j) for i in range(x, x + w) for j in range(y, y + h)}
        assert not mine & cells, f"{p.title} overlaps another panel"
        cells |= mine


def test_every_dashboard_links_to_the_others_by_tag_keeping_time_and_service() -> None:
    for d in ALL.values():
        [link] = d["links"]
        assert link["type"] == "dashboards" and link["tags"] == [DASHBOARD_TAG]
        assert link["keepTime"] and link["includeVars"]
    # and the fleet's graphs link each series to the explorer of its service
    for p in _panels(FLEET_UID):
        if p.type == "timeseries":
            [data_link] = p.defaults["links"]
            assert f"/d/{EXPLORER_UID}/" in data_link["url"] and "var-service=${__field.labels.service}" in data_link["url"]


def test_the_service_variable_lists_the_collectors_services() -> None:
    fleet = {v["name"]: v for v in ALL[FLEET_UID]["templating"]["list"]}
    explorer = {v["name"]: v for v in ALL[EXPLORER_UID]["templating"]["list"]}
    for var in (fleet["service"], explorer["service"]):
        assert var["query"] == "label_values(aiops_http_requests_total, service)"
    assert fleet["service"]["multi"] and fleet["service"]["includeAll"] and fleet["service"]["allValue"] == ".*"
    assert not explorer["service"]["multi"] and not explorer["service"]["includeAll"]


@pytest.mark.parametrize("uid", [FLEET_UID, EXPLORER_UID])
def test_every_signal_is_drawn_with_the_detectors_own_promql_its_band_and_flags(uid: str) -> None:
    graphs = [p for p in _panels(uid) if {t.ref for t in p.targets} >= {"value", "lower", "upper", FLAGGED_REF}]
    assert len(graphs) == len(SIGNALS.signals)
    for spec, p in zip(SIGNALS.signals, graphs):
        assert p.unit == SIGNAL_UNITS[spec.unit]
        value = {t.ref: t.expr for t in p.targets}["value"]
        assert value == with_service_matcher(spec.promql, 'service=~"$service"' if uid == FLEET_UID else 'service="$service"')
        assert f'signal="{spec.name}"' in {t.ref: t.expr for t in p.targets}["upper"]
        upper = [o for o in p.overrides if any(x["id"] == "custom.fillBelowTo" for x in o["properties"])]
        assert upper, f"{p.title}: no band"


def test_the_fleets_bands_and_colours_cover_every_service() -> None:
    services = load_catalog().service_names
    [requests] = [p for p in _panels(FLEET_UID) if p.title == "Request rate"]
    fills = {o["matcher"]["options"]: x["value"] for o in requests.overrides for x in o["properties"] if x["id"] == "custom.fillBelowTo"}
    assert fills == {f"upper {s}": f"lower {s}" for s in services}
    colours = {o["matcher"]["options"] for o in requests.overrides if o["matcher"]["id"] == "byName" and o["matcher"]["options"] in services}
    assert colours == set(services)


def test_the_incidents_are_annotations_from_prometheus_and_from_the_kits_posts() -> None:
    step = format_duration(scrape_interval_seconds())
    for uid in (FLEET_UID, EXPLORER_UID, SCOREBOARD_UID):
        annotations = {a["name"]: a for a in ALL[uid]["annotations"]["list"]}
        truth, detected = annotations["Incidents (ground truth)"], annotations["Detected incidents"]
        assert truth["expr"].startswith("aiops_incident_active{") and truth["tagKeys"] == "kind,service"
        assert detected["expr"].startswith("aiops_detector_incident_active{") and "{{cause_signal}}" in detected["titleFormat"]
        assert truth["step"] == detected["step"] == step  # habit 12: the scrape interval
        posted = annotations["Posted by the kit (tag aiops)"]
        assert posted["target"] == {"limit": 200, "matchAny": True, "tags": ["aiops"], "type": "tags"}


def test_the_scoreboard_and_health_dashboards_read_the_detectors_metrics() -> None:
    exprs = " ".join(t.expr for p in _panels(SCOREBOARD_UID) for t in p.targets)
    for name in ("aiops_scoreboard_incidents", "aiops_scoreboard_false_alarms", "aiops_scoreboard_time_to_detect_seconds"):
        assert name in exprs
    exprs = " ".join(t.expr for p in _panels(HEALTH_UID) for t in p.targets)
    for name in ("aiops_detector_runs_total", "aiops_detector_run_duration_seconds", "aiops_detector_fit_duration_seconds",
                 "aiops_detector_last_success_timestamp_seconds", "aiops_detector_warmup_ratio", "aiops_detector_settling"):  # fmt: skip
        assert name in exprs


def test_the_score_graph_draws_the_threshold_of_1() -> None:
    [score] = [p for p in _panels(EXPLORER_UID) if p.title.startswith("Anomaly score")]
    assert [s["value"] for s in score.defaults["thresholds"]["steps"]] == [None, 1.0]
    assert score.custom["thresholdsStyle"]["mode"] != "off"


@pytest.mark.parametrize(
    ("promql", "expected"),
    [
        ("sum by (service) (rate(aiops_http_requests_total[120s]))", 'sum by (service) (rate(aiops_http_requests_total{service=~"$service"}[120s]))'),
        ("avg by (service) (aiops_cpu_utilization_ratio{pod!=\"\"})", 'avg by (service) (aiops_cpu_utilization_ratio{pod!="", service=~"$service"})'),
        ("histogram_quantile(0.95, sum by (service, le) (rate(aiops_http_request_duration_seconds_bucket[2m])))",
         'histogram_quantile(0.95, sum by (service, le) (rate(aiops_http_request_duration_seconds_bucket{service=~"$service"}[2m])))'),
        ("up{job=\"x\"}", "up{job=\"x\"}"),
    ],
)  # fmt: skip
def test_the_service_matcher_goes_on_every_kit_selector(promql: str, expected: str) -> None:
    assert with_service_matcher(promql) == expected


def test_every_signal_unit_has_a_grafana_unit() -> None:
    assert {s.unit for s in SIGNALS.signals} <= set(SIGNAL_UNITS)
    assert not re.search(r"\$rate_window", " ".join(t.expr for d in ALL.values() for p in panels(d) for t in p.targets))


def _variables(uid: str) -> dict[str, Any]:
    return {v["name"]: v for v in ALL[uid].get("templating", {}).get("list", [])}


@pytest.mark.parametrize("uid", [FLEET_UID, EXPLORER_UID, SCOREBOARD_UID, HEALTH_UID])
def test_the_model_variable_picks_online_or_champion_defaulting_to_online(uid: str) -> None:
    model = _variables(uid)["model"]
    assert model["type"] == "custom" and model["query"] == "online,champion" and MODELS == ("online", "champion")
    assert model["current"]["value"] == "online" and not model.get("multi") and not model.get("includeAll")


def _detector_selectors(expr: str) -> list[str]:
    return [m.group(0) for m in re.finditer(r"\baiops_(?:detector|scoreboard)_\w+(\{[^}]*\})?", expr)]


@pytest.mark.parametrize("uid", list(ALL))
def test_every_detector_selector_names_a_model(uid: str) -> None:
    """Both detectors publish the same series: a selector without ``model`` would draw every band twice."""
    d = ALL[uid]
    exprs = [t.expr for p in _panels(uid) for t in p.targets] + [a["expr"] for a in d.get("annotations", {}).get("list", []) if a.get("expr")]
    selectors = [s for e in exprs for s in _detector_selectors(e)]
    assert selectors
    for s in selectors:
        if uid == MLOPS_UID:
            assert re.search(r'model(="(online|champion)"|=~"online\|champion")', s), s
        else:
            assert 'model="$model"' in s, s


def test_the_detector_up_stat_follows_the_chosen_model() -> None:
    [up] = [p for p in _panels(HEALTH_UID) if p.title == "Detector up"]
    [target] = up.targets
    assert target.expr.startswith('up{job="aiops-detector"} and on(instance) ') and 'model="$model"' in target.expr


@pytest.mark.parametrize(
    ("promql", "expected"),
    [
        ("aiops_detector_anomaly", 'aiops_detector_anomaly{model="$model"}'),
        ('aiops_scoreboard_incidents{outcome="detected"}', 'aiops_scoreboard_incidents{outcome="detected", model="$model"}'),
        ('aiops_detector_anomaly{model="champion"}', 'aiops_detector_anomaly{model="champion"}'),
        ("time() - aiops_detector_last_fit_timestamp_seconds", 'time() - aiops_detector_last_fit_timestamp_seconds{model="$model"}'),
        ("sum(aiops_incident_active)", "sum(aiops_incident_active)"),
        ("count(aiops_registry_model_version_created_timestamp_seconds)", "count(aiops_registry_model_version_created_timestamp_seconds)"),
    ],
)
def test_the_model_matcher_goes_on_every_detector_selector_without_one(promql: str, expected: str) -> None:
    assert with_model_matcher(promql) == expected


def test_aiops_vs_mlops_compares_the_two_models_on_one_series() -> None:
    variables = _variables(MLOPS_UID)
    assert set(variables) == {"service", "signal"}
    assert variables["signal"]["query"] == ",".join(s.name for s in SIGNALS.signals)
    by_title = {p.title: p for p in _panels(MLOPS_UID)}
    score = by_title["Anomaly score, online vs champion: $service $signal"]
    assert [t.expr for t in score.targets] == [
        f'aiops_detector_anomaly_score{{service="$service", signal="$signal", model="{m}"}}' for m in MODELS
    ]
    assert [s["value"] for s in score.defaults["thresholds"]["steps"]] == [None, 1.0]
    # every signal with both models' bands, in the signal's own unit
    bands = [p for p in _panels(MLOPS_UID) if p.title.endswith(", online vs champion") and p.title != score.title]
    assert len(bands) == len(SIGNALS.signals)
    for spec, p in zip(SIGNALS.signals, bands):
        assert p.unit == SIGNAL_UNITS[spec.unit]
        fills = {o["matcher"]["options"]: x["value"] for o in p.overrides for x in o["properties"] if x["id"] == "custom.fillBelowTo"}
        assert fills == {"online upper": "online lower", "champion upper": "champion lower"}
        assert {t.ref for t in p.targets} == {"value"} | {f"{m}_{k}" for m in MODELS for k in ("expected", "lower", "upper")}


def test_aiops_vs_mlops_shows_the_registry_and_the_scoreboard_per_model() -> None:
    by_title = {p.title: p for p in _panels(MLOPS_UID)}
    [version] = by_title["Champion version over time"].targets
    assert version.expr == 'aiops_detector_champion_version{model="champion"}'
    runs = by_title["Training runs and the gate's verdict"]
    assert runs.type == "table" and runs.unit == "dateTimeAsIso"
    [target] = runs.raw["targets"]
    assert target["expr"] == "aiops_registry_model_version_created_timestamp_seconds" and target["instant"] and target["format"] == "table"
    [organize] = runs.raw["transformations"]
    assert organize["options"]["indexByName"]["gate"] == 1 and organize["options"]["renameByName"]["Value"] == "registered"
    for title in ("Detected by model", "Missed by model", "False alarms by model", "Median time to detect by model"):
        [t] = by_title[title].targets
        assert 'model=~"online|champion"' in t.expr and t.legend == "{{model}}"
        assert by_title[title].unit == ("s" if "time" in title else "none")
