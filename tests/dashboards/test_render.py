"""The renderer on made-up Prometheus answers: every panel draws what its queries return, in its place, with its unit.

(The integration test renders from the real Prometheus.)
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from dashboards import EXPLORER_UID, FLEET_UID, MLOPS_UID, MODELS, dashboards, format_value, panels, render_dashboard, resolve_variables
from simulator import load_catalog

ALL = dashboards()
SERVICES = load_catalog().service_names
END = 1_800_000_000.0
START = END - 1800.0
STEP = 15.0


def fake_prometheus(empty: Callable[[str], bool] = lambda expr: False) -> Callable[..., list[dict[str, Any]]]:
    """A range query answering every expression with plausible series: one per service (and per signal or outcome if asked)."""

    def query(expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        if empty(expr):
            return []
        t = np.arange(start, end + step / 2, step)
        m = re.search(r'service=~?"([^"]+)"', expr)
        services = [s for s in SERVICES if m is None or re.fullmatch(m.group(1), s)]
        models = [x for x in MODELS if re.search(r'model=~"[^"]*' + x, expr)] or ["online"]
        out = []
        for k, (service, model) in enumerate((s, x) for s in services for x in models):
            labels = {"service": service, "signal": "cpu", "outcome": "detected", "kind": "cpu_hog", "cause_signal": "cpu", "quantile": "0.5",
                      "model": model, "version": str(k + 1), "gate": ("promote", "refuse")[k % 2], "candidate": f"c{k}", "model_name": "aiops-fleet"}
            base = 0.3 + 0.05 * k
            if "lower_bound" in expr:
                v = np.full(len(t), base - 0.1)
            elif "upper_bound" in expr:
                v = np.full(len(t), base + 0.1)
            elif "== 1" in expr or "> 0" in expr:
                v = np.where(t > end - 300, base + 0.2, np.nan)  # flagged / active only at the end
            else:
                v = base + 0.02 * np.sin(t / 120.0)
            out.append({"metric": labels, "values": [[float(a), "NaN" if math.isnan(b) else repr(float(b))] for a, b in zip(t, v)]})
        return out

    return query


@pytest.mark.parametrize("uid", list(ALL))
def test_every_panel_draws_every_series_its_queries_return(uid: str, tmp_path: Path) -> None:
    d = ALL[uid]
    variables = {"service": ".*" if uid == FLEET_UID else "catalog", "model": "online", "signal": "cpu"}
    out = render_dashboard(d, tmp_path / f"{uid}.png", query_range=fake_prometheus(), variables=variables, start=START, end=END, step=STEP)
    assert out.path.is_file() and out.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = {p.title: (p.returned, p.drawn) for p in out.panels}
    assert len(out.panels) == len([p for p in panels(d) if p.type != "row"])
    bad = {title: rd for title, rd in drawn.items() if rd[0] == 0 or rd[0] != rd[1]}
    assert not bad, bad


def test_a_panel_without_data_is_reported_as_drawing_nothing(tmp_path: Path) -> None:
    d = ALL[EXPLORER_UID]
    out = render_dashboard(d, tmp_path / "x.png", query_range=fake_prometheus(empty=lambda e: "aiops_memory_usage_bytes" in e or "signal=\"memory\"" in e),
                           variables={"service": "catalog"}, start=START, end=END, step=STEP)  # fmt: skip
    [memory] = [p for p in out.panels if p.title.startswith("Memory")]
    assert (memory.returned, memory.drawn) == (0, 0) and set(memory.empty_queries) == {"value", "expected", "lower", "upper", "flagged"}
    assert all(p.drawn for p in out.panels if not p.title.startswith("Memory"))


def test_the_titles_show_the_chosen_service(tmp_path: Path) -> None:
    out = render_dashboard(ALL[EXPLORER_UID], tmp_path / "x.png", query_range=fake_prometheus(), variables={"service": "payments"},
                           start=START, end=END, step=STEP)  # fmt: skip
    assert "Anomaly score by signal: payments" in [p.title for p in out.panels]


def test_variables_are_all_where_allowed_else_the_first_service() -> None:
    def instant(expr: str) -> list[dict[str, Any]]:
        assert expr == "count by (service) (aiops_http_requests_total)"
        return [{"metric": {"service": s}, "value": [0, "2"]} for s in ("payments", "catalog")]

    assert resolve_variables(ALL[FLEET_UID], instant) == {"service": ".*", "model": "online"}
    assert resolve_variables(ALL[EXPLORER_UID], instant) == {"service": "catalog", "model": "online"}
    assert resolve_variables(ALL[EXPLORER_UID], instant, {"service": "payments", "model": "champion"}) == {"service": "payments", "model": "champion"}
    assert resolve_variables(ALL[MLOPS_UID], instant, {"model": "champion"}) == {"service": "catalog", "signal": "requests"}
    with pytest.raises(ValueError, match="no values"):
        resolve_variables(ALL[EXPLORER_UID], lambda expr: [])


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.4567, "percentunit", "45.7 %"),
        (0.25, "s", "250 ms"),
        (42.0, "s", "42 s"),
        (600.0, "s", "10 min"),
        (3 * 1024**3, "bytes", "3 GiB"),
        (512.0, "bytes", "512 B"),
        (17.5, "reqps", "17.5 req/s"),
        (60.0, "cpm", "60 c/min"),
        (1_800_000_000.0, "dateTimeAsIso", "2027-01-15 08:00:00"),
        (3.0, "none", "3"),
        (float("nan"), "s", "-"),
    ],
)
def test_values_are_formatted_with_their_unit(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_the_training_runs_table_draws_one_row_per_registered_version(tmp_path: Path) -> None:
    out = render_dashboard(ALL[MLOPS_UID], tmp_path / "x.png", query_range=fake_prometheus(), variables={"service": "catalog", "signal": "cpu"},
                           start=START, end=END, step=STEP)  # fmt: skip
    [table] = [p for p in out.panels if p.type == "table"]
    assert (table.returned, table.drawn) == (len(SERVICES), len(SERVICES))
    [scores] = [p for p in out.panels if p.title == "Anomaly score, online vs champion: catalog cpu"]
    assert scores.drawn == 2
