"""Reading the generated dashboards back: panels, their queries with the variables filled in, legends.

What both :mod:`dashboards._render` (the PNGs) and the integration test (every query run on
the real Prometheus) need from the JSON Grafana loads, so they read the same definitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from plumbing.durations import parse_duration

__all__ = [
    "PanelSpec",
    "TargetSpec",
    "dashboard_range_seconds",
    "legend",
    "panels",
    "substitute",
    "variable_names",
]


@dataclass(frozen=True)
class TargetSpec:
    """One query of a panel."""

    ref: str
    expr: str
    legend: str


@dataclass(frozen=True)
class PanelSpec:
    """One panel as the JSON describes it (rows included: ``type == "row"``)."""

    id: int
    type: str
    title: str
    grid: tuple[int, int, int, int]  # x, y, w, h in grid units (24 columns)
    unit: str | None
    targets: tuple[TargetSpec, ...]
    raw: Mapping[str, Any]

    @property
    def defaults(self) -> Mapping[str, Any]:
        return (self.raw.get("fieldConfig") or {}).get("defaults") or {}

    @property
    def custom(self) -> Mapping[str, Any]:
        return self.defaults.get("custom") or {}

    @property
    def overrides(self) -> list[Mapping[str, Any]]:
        return list((self.raw.get("fieldConfig") or {}).get("overrides") or [])

    def properties_for(self, name: str, ref: str) -> dict[str, Any]:
        """The override properties that apply to a series named ``name`` from query ``ref``, later ones winning."""
        out: dict[str, Any] = {}
        for o in self.overrides:
            m = o.get("matcher") or {}
            if (m.get("id") == "byName" and m.get("options") == name) or (m.get("id") == "byFrameRefID" and m.get("options") == ref):
                for p in o.get("properties") or []:
                    out[p["id"]] = p.get("value")
        return out


def panels(dashboard: Mapping[str, Any]) -> Iterator[PanelSpec]:
    """Every panel of a dashboard, in the JSON's order (rows' nested panels follow their row)."""
    for p in dashboard.get("panels") or []:
        yield _panel(p)
        for inner in p.get("panels") or []:
            yield _panel(inner)


def _panel(p: Mapping[str, Any]) -> PanelSpec:
    g = p.get("gridPos") or {}
    defaults = (p.get("fieldConfig") or {}).get("defaults") or {}
    targets = tuple(
        TargetSpec(ref=str(t.get("refId", "")), expr=str(t["expr"]), legend=str(t.get("legendFormat", "")))
        for t in p.get("targets") or []
        if t.get("expr")
    )
    return PanelSpec(
        id=int(p.get("id", 0)),
        type=str(p.get("type", "")),
        title=str(p.get("title", "")),
        grid=(int(g.get("x", 0)), int(g.get("y", 0)), int(g.get("w", 24)), int(g.get("h", 8))),
        unit=defaults.get("unit"),
        targets=targets,
        raw=p,
    )


def variable_names(dashboard: Mapping[str, Any]) -> list[str]:
    return [v["name"] for v in (dashboard.get("templating") or {}).get("list") or []]


def substitute(text: str, values: Mapping[str, str]) -> str:
    """``$name`` and ``${name}`` replaced by ``values[name]`` (Grafana's own ``$__...`` left alone)."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, m.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, text)


def legend(fmt: str, labels: Mapping[str, str]) -> str:
    """Grafana's ``legendFormat``: ``{{label}}`` replaced by the series' label values."""
    if not fmt:
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
        return f"{labels.get('__name__', '')}{{{inner}}}"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(labels.get(m.group(1), "")), fmt)


def dashboard_range_seconds(dashboard: Mapping[str, Any]) -> float:
    """The dashboard's default time range (``now-30m`` -> 1800)."""
    start = str((dashboard.get("time") or {}).get("from", "now-1h"))
    return parse_duration(start.removeprefix("now-")) if start.startswith("now-") else 3600.0
