"""``aiops dashboards render``: the dashboards drawn to PNG without Grafana, from the same JSON Grafana loads.

For a runner with only a projector. Every panel's queries are run on Prometheus over the
dashboard's time range (range queries at a step no shorter than the scrape interval, as
Grafana's ``timeInterval`` asks) and drawn with matplotlib (Agg, no display) in its grid
position, with its title and unit:

- *timeseries*: one line per series, coloured as the JSON's overrides say; a series with
  ``fillBelowTo`` is the top of a shaded band down to the series it names (the detector's
  band); ``drawStyle: points`` draws markers only (the flagged points); threshold lines
  (the anomaly score's 1); the dashboard's Prometheus annotations (incidents) as shaded spans;
- *stat*: the last value, formatted with the unit or the value mapping, coloured by thresholds;
- *state-timeline*: one lane per series, coloured by the value mappings;
- *table*: one row per series (its labels as columns, its last value in the unit), the
  columns as the panel's ``organize`` transformation orders, hides and renames them;
- *row*: a heading.

Each panel reports how many series its queries returned and how many it drew
(:class:`PanelDrawing`), so a test can check that no panel is blank.
"""

from __future__ import annotations

import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from plumbing.monitoring import scrape_interval_seconds
from sources import PrometheusReader

from ._panels import PanelSpec, dashboard_range_seconds, legend, panels, substitute

__all__ = ["PanelDrawing", "Rendered", "format_value", "render", "render_dashboard", "resolve_variables"]

#: (expr, start, end, step) -> Prometheus' ``matrix`` result.
QueryRange = Callable[[str, float, float, float], list[dict[str, Any]]]
#: expr -> Prometheus' ``vector`` result (instant query at now).
QueryInstant = Callable[[str], list[dict[str, Any]]]

_GRID_COLUMNS = 24
_INCH_PER_COLUMN = 0.75
_INCH_PER_ROW = 0.36
_DPI = 100
_NAMED = {
    "green": "#73BF69", "red": "#F2495C", "orange": "#FF9830", "yellow": "#FADE2A", "blue": "#5794F2",
    "purple": "#B877D9", "text": "#D8D9DA", "transparent": "none", "dark-red": "#C4162A", "dark-green": "#37872D",
}  # fmt: skip
_PALETTE = ("#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0")
_BG, _PANEL_BG, _FG, _GRIDC = "#111217", "#181b1f", "#ccccdc", "#2c3235"


@dataclass(frozen=True)
class PanelDrawing:
    """One panel as drawn: the series its queries returned and the series it drew (equal unless something is wrong)."""

    title: str
    type: str
    returned: int
    drawn: int
    empty_queries: tuple[str, ...]  # refIds whose query returned nothing


@dataclass(frozen=True)
class Rendered:
    """One dashboard's PNG and what each of its panels drew."""

    uid: str
    title: str
    path: Path
    panels: tuple[PanelDrawing, ...]


def _color(name: str | None, fallback: str) -> str:
    if not name:
        return fallback
    return _NAMED.get(name, name)


# -- units ----------------------------------------------------------------------------


def format_value(value: float, unit: str | None) -> str:
    """A value as Grafana would show it with ``unit`` (the units the kit's dashboards use)."""
    if value is None or not math.isfinite(value):
        return "-"
    unit = unit or "none"
    if unit == "percentunit":
        return f"{value * 100:.3g} %"
    if unit == "s":
        a = abs(value)
        if a == 0:
            return "0 s"
        if a < 1:
            return f"{value * 1000:.3g} ms"
        if a < 120:
            return f"{value:.3g} s"
        if a < 7200:
            return f"{value / 60:.3g} min"
        return f"{value / 3600:.3g} h"
    if unit == "bytes":
        a, v = abs(value), value
        for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if a < 1024 or suffix == "TiB":
                return f"{v:.3g} {suffix}"
            a, v = a / 1024, v / 1024
    if unit == "reqps":
        return f"{value:.3g} req/s"
    if unit == "cpm":
        return f"{value:.3g} c/min"
    if unit == "dateTimeAsIso":
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value))
    return f"{value:.3g}"


# -- variables ---------------------------------------------------------------------------


def resolve_variables(dashboard: Mapping[str, Any], query: QueryInstant, chosen: Mapping[str, str] | None = None) -> dict[str, str]:
    """The value of each template variable: as chosen, else *All* (its ``allValue``), a custom variable's current
    value (or its first), or the first of its ``label_values``. A choice for a variable the dashboard lacks is ignored."""
    chosen = chosen or {}
    values: dict[str, str] = {}
    for var in (dashboard.get("templating") or {}).get("list") or []:
        name = var["name"]
        if name in chosen:
            values[name] = chosen[name]
            continue
        if var.get("type") == "custom":
            options = [o.strip() for o in str(var.get("query", "")).split(",") if o.strip()]
            current = (var.get("current") or {}).get("value")
            values[name] = str(current) if current else options[0]
            continue
        if var.get("includeAll"):
            values[name] = var.get("allValue") or ".*"
            continue
        m = re.fullmatch(r"\s*label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)\s*", str(var.get("query", "")))
        if not m:
            raise ValueError(f"{dashboard.get('title')}: cannot resolve variable {name} (query {var.get('query')!r})")
        metric, label = m.groups()
        found = sorted({r["metric"].get(label) for r in query(f"count by ({label}) ({metric})") if r["metric"].get(label)})
        if not found:
            raise ValueError(f"{dashboard.get('title')}: variable {name} has no values (no {metric} in Prometheus yet?)")
        values[name] = found[0]
    return values


# -- drawing -----------------------------------------------------------------------------


def _values(series: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    pts = series.get("values") or []
    t = np.array([float(p[0]) for p in pts], dtype=np.float64)
    v = np.array([float(p[1]) for p in pts], dtype=np.float64)
    v[~np.isfinite(v)] = np.nan
    return t, v


def _dates(t: np.ndarray) -> np.ndarray:
    return np.round(t * 1000.0).astype("int64").astype("datetime64[ms]")


@dataclass
class _Series:
    name: str
    ref: str
    t: np.ndarray
    v: np.ndarray
    props: dict[str, Any]
    labels: Mapping[str, str]


def _props(panel: PanelSpec, name: str, ref: str) -> dict[str, Any]:
    """The panel's field defaults with the overrides for this series (``custom.`` keys unprefixed)."""
    out = dict(panel.custom)
    if panel.defaults.get("color"):
        out["color"] = panel.defaults["color"]
    for key, value in panel.properties_for(name, ref).items():
        out[key.removeprefix("custom.")] = value
    return out


def _fetch(panel: PanelSpec, variables: Mapping[str, str], results: Mapping[str, list[dict[str, Any]]]) -> tuple[list[_Series], list[str]]:
    """The panel's series from the query ``results`` (by expression), named by the legends, with their field properties."""
    out, empty = [], []
    for target in panel.targets:
        result = results[substitute(target.expr, variables)]
        if not result:
            empty.append(target.ref)
        for s in result:
            name = legend(substitute(target.legend, variables), s.get("metric") or {})
            t, v = _values(s)
            labels = s.get("metric") or {}
            out.append(_Series(name, target.ref, t, v, _props(panel, name, target.ref), labels))
    return out, empty


def _style_axes(ax: Axes, panel: PanelSpec, title: str) -> None:
    ax.set_facecolor(_PANEL_BG)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(_GRIDC)
    ax.tick_params(colors=_FG, labelsize=6, length=2)
    ax.set_title(title, color=_FG, fontsize=8, loc="left", pad=3)


def _draw_timeseries(ax: Axes, panel: PanelSpec, title: str, series: list[_Series], spans: Sequence[tuple[float, float, str]], start: float, end: float) -> int:
    _style_axes(ax, panel, title)
    unit = panel.unit
    drawn: set[int] = set()
    by_name = {s.name: i for i, s in enumerate(series)}
    palette = iter(_PALETTE * 8)
    colors = [_color((s.props.get("color") or {}).get("fixedColor"), next(palette)) for s in series]
    for a, b, color in spans:  # the dashboard's annotations: incidents
        ax.axvspan(_dates(np.array([a]))[0], _dates(np.array([b]))[0], color=color, alpha=0.07, lw=0)
    for i, s in enumerate(series):
        ok = np.isfinite(s.v)
        if not ok.any():
            continue
        x = _dates(s.t)
        hidden = bool((s.props.get("hideFrom") or {}).get("legend"))
        label = None if hidden else s.name
        if s.props.get("drawStyle") == "points":
            size = float(s.props.get("pointSize", 5))
            ax.scatter(x[ok], s.v[ok], s=size * 2.2, color=colors[i], zorder=5, label=label, linewidths=0)
            drawn.add(i)
            continue
        width = float(s.props.get("lineWidth", 1))
        if width > 0:
            dash = (s.props.get("lineStyle") or {}).get("fill") == "dash"
            steps = "steps-post" if s.props.get("lineInterpolation") == "stepAfter" else "default"
            ax.plot(x, s.v, lw=width * 0.8, color=colors[i], ls="--" if dash else "-", label=label, drawstyle=steps)
            drawn.add(i)
        below = s.props.get("fillBelowTo")
        if below and below in by_name:
            j = by_name[below]
            other = series[j]
            common, ia, ib = np.intersect1d(s.t, other.t, return_indices=True)
            if len(common):
                alpha = float(s.props.get("fillOpacity", 15)) / 100.0
                ax.fill_between(_dates(common), other.v[ib], s.v[ia], color=colors[i], alpha=max(alpha, 0.1), lw=0,
                                label=None if hidden else " ".join(["band", *s.name.replace("upper", " ").split()]))  # fmt: skip
                if np.isfinite(s.v[ia]).any() and np.isfinite(other.v[ib]).any():
                    drawn.update((i, j))
    style = (panel.custom.get("thresholdsStyle") or {}).get("mode", "off")
    if style != "off":
        for step in (panel.defaults.get("thresholds") or {}).get("steps") or []:
            if step.get("value") is not None:
                ax.axhline(step["value"], color=_color(step.get("color"), "#F2495C"), lw=0.9, ls="--", zorder=4)
    lo, hi = panel.defaults.get("min"), panel.defaults.get("max")
    if lo is not None:
        ax.set_ylim(bottom=lo)
    if hi is not None:
        ax.set_ylim(top=hi)
    ax.set_xlim(_dates(np.array([start]))[0], _dates(np.array([end]))[0])
    ax.xaxis.set_major_formatter(mdates.DateFormatter(_time_format(end - start), tz=timezone.utc))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, unit)))
    ax.grid(True, color=_GRIDC, lw=0.4)
    label = panel.custom.get("axisLabel")
    if label:
        ax.set_ylabel(label, color=_FG, fontsize=6)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        leg = ax.legend(handles[:12], labels[:12], fontsize=5, loc="upper left", ncol=min(4, len(handles)), frameon=False)
        for text in leg.get_texts():
            text.set_color(_FG)
    return len(drawn)


def _time_format(span_seconds: float) -> str:
    return "%H:%M:%S" if span_seconds <= 900 else "%H:%M"


def _mapped(panel: PanelSpec, value: float) -> tuple[str | None, str | None]:
    """(text, colour) of a value mapping that matches ``value``."""
    for m in panel.defaults.get("mappings") or []:
        if m.get("type", "value") != "value":
            continue
        for key, result in (m.get("options") or {}).items():
            try:
                if float(key) == value:
                    return result.get("text"), result.get("color")
            except ValueError:
                continue
    return None, None


def _threshold_color(panel: PanelSpec, value: float) -> str:
    color = _FG
    for step in (panel.defaults.get("thresholds") or {}).get("steps") or []:
        if step.get("value") is None or value >= float(step["value"]):
            color = _color(step.get("color"), _FG)
    return _FG if color == "none" else color


def _draw_stat(ax: Axes, panel: PanelSpec, title: str, series: list[_Series]) -> int:
    _style_axes(ax, panel, title)
    ax.set_xticks([])
    ax.set_yticks([])
    shown = []
    for s in series:
        ok = np.isfinite(s.v)
        if ok.any():
            shown.append((s.name, float(s.v[ok][-1])))
    for k, (name, value) in enumerate(shown):
        text, color = _mapped(panel, value)
        x = (k + 0.5) / len(shown)
        ax.text(x, 0.45, text or format_value(value, panel.unit), ha="center", va="center", fontsize=16 if len(shown) == 1 else 11,
                color=_color(color, _threshold_color(panel, value)), transform=ax.transAxes, weight="bold")  # fmt: skip
        if len(shown) > 1:
            ax.text(x, 0.12, name, ha="center", va="center", fontsize=6, color=_FG, transform=ax.transAxes)
    return len(shown)


def _draw_state_timeline(ax: Axes, panel: PanelSpec, title: str, series: list[_Series], start: float, end: float, step: float) -> int:
    _style_axes(ax, panel, title)
    lanes = [s for s in series if np.isfinite(s.v).any()]
    for k, s in enumerate(lanes):
        y = len(lanes) - 1 - k
        ok = np.isfinite(s.v)
        t, v = s.t[ok], s.v[ok]
        edges = np.flatnonzero(np.diff(v) != 0) + 1
        by_color: dict[str, list[tuple[float, float]]] = {}
        for a, b in zip(np.r_[0, edges], np.r_[edges, len(v)]):  # one bar per run of equal values
            _, color = _mapped(panel, float(v[a]))
            c = _color(color, "#5794F2")
            if c != "none":
                t0, t1 = float(t[a]), float(t[b - 1]) + step
                by_color.setdefault(c, []).append((mdates.date2num(_dates(np.array([t0]))[0]), (t1 - t0) / 86400.0))
        for c, bars in by_color.items():
            ax.broken_barh(bars, (y + 0.1, 0.8), facecolors=c)
    ax.set_yticks([k + 0.5 for k in range(len(lanes))])
    ax.set_yticklabels([s.name for s in reversed(lanes)], fontsize=6, color=_FG)
    ax.set_ylim(-0.1, max(1, len(lanes)) + 0.1)
    ax.set_xlim(mdates.date2num(_dates(np.array([start]))[0]), mdates.date2num(_dates(np.array([end]))[0]))
    ax.xaxis_date(tz=timezone.utc)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))
    ax.xaxis.set_major_formatter(mdates.DateFormatter(_time_format(end - start), tz=timezone.utc))
    return len(lanes)


def _table_columns(panel: PanelSpec, series: list[_Series]) -> list[tuple[str, str]]:
    """(field, heading) of the table's columns: the series' labels and ``Value``, ordered, hidden and renamed by ``organize``."""
    organize: Mapping[str, Any] = {}
    for t in panel.raw.get("transformations") or []:
        if t.get("id") == "organize":
            organize = t.get("options") or {}
    hidden = {k for k, v in (organize.get("excludeByName") or {}).items() if v}
    order = organize.get("indexByName") or {}
    rename = organize.get("renameByName") or {}
    fields = sorted({k for s in series for k in s.labels} | {"Time", "Value"})
    fields = [f for f in fields if f not in hidden]
    fields.sort(key=lambda f: (order.get(f, len(order)), f))
    return [(f, rename.get(f, f)) for f in fields]


def _draw_table(ax: Axes, panel: PanelSpec, title: str, series: list[_Series]) -> int:
    _style_axes(ax, panel, title)
    ax.set_xticks([])
    ax.set_yticks([])
    columns = _table_columns(panel, series)
    rows = []
    for s in series:
        ok = np.isfinite(s.v)
        if not ok.any():
            continue
        value = float(s.v[ok][-1])
        rows.append((value, [format_value(value, panel.unit) if f == "Value" else s.labels.get(f, "") for f, _ in columns]))
    for sort in (panel.raw.get("options") or {}).get("sortBy") or []:  # the panel's own sort (by the value column here)
        if sort.get("displayName") in {h for f, h in columns if f == "Value"}:
            rows.sort(key=lambda r: r[0], reverse=bool(sort.get("desc")))
    n = max(1, len(columns))
    line = min(0.12, 0.9 / (len(rows) + 1))
    for j, (field, heading) in enumerate(columns):
        x = 0.02 + j * 0.96 / n
        ax.text(x, 0.92, heading, color=_FG, fontsize=7, weight="bold", va="top", transform=ax.transAxes)
        for k, (_, cells) in enumerate(rows):
            text, color = _mapped_text(panel, heading, cells[j])
            ax.text(x, 0.92 - (k + 1) * line, text, color=_color(color, _FG), fontsize=7, va="top", transform=ax.transAxes)
    return len(rows)


def _mapped_text(panel: PanelSpec, column: str, text: str) -> tuple[str, str | None]:
    """A table cell's text and colour after the column's value mappings (an override by the column's name)."""
    for m in panel.properties_for(column, "").get("mappings") or []:
        result = (m.get("options") or {}).get(text)
        if result:
            return result.get("text") or text, result.get("color")
    return text, None


def _annotation_spans(dashboard: Mapping[str, Any], variables: Mapping[str, str], query: QueryRange, start: float, end: float, step: float) -> list[tuple[float, float, str]]:
    """The dashboard's Prometheus annotation queries as (start, end, colour) spans (consecutive points join)."""
    spans = []
    for a in (dashboard.get("annotations") or {}).get("list") or []:
        if not a.get("enable") or not a.get("expr") or (a.get("datasource") or {}).get("type") != "prometheus":
            continue
        color = _color(a.get("iconColor"), "#F2495C")
        for s in query(substitute(a["expr"], variables), start, end, step):
            t, v = _values(s)
            t = t[np.isfinite(v)]
            if not len(t):
                continue
            breaks = np.flatnonzero(np.diff(t) > 1.5 * step) + 1
            for seg in np.split(t, breaks):
                spans.append((float(seg[0]), float(seg[-1] + step), color))
    return spans


def render_dashboard(
    dashboard: Mapping[str, Any],
    out_path: Path,
    *,
    query_range: QueryRange,
    variables: Mapping[str, str],
    start: float,
    end: float,
    step: float,
) -> Rendered:
    """Draw one dashboard to ``out_path`` (PNG); every panel in its grid position."""
    specs = list(panels(dashboard))
    rows = max((p.grid[1] + p.grid[3] for p in specs), default=1)
    width, height = _GRID_COLUMNS * _INCH_PER_COLUMN, rows * _INCH_PER_ROW + 0.6
    fig = Figure(figsize=(width, height), dpi=_DPI, facecolor=_BG)
    FigureCanvasAgg(fig)
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(start)) + " to " + time.strftime("%H:%M UTC", time.gmtime(end))
    shown_vars = ", ".join(f"{k} = {'All' if v == '.*' else v}" for k, v in variables.items())
    fig.text(0.01, 1 - 0.25 / height, f"{dashboard.get('title')}", color=_FG, fontsize=13, weight="bold", va="center")
    fig.text(0.99, 1 - 0.25 / height, f"{when}{'   ' + shown_vars if shown_vars else ''}   (rendered by aiops dashboards render)",
             color=_FG, fontsize=7, ha="right", va="center")  # fmt: skip
    top = 0.6 / height
    # every query at once, as Grafana sends them (Prometheus answers them in parallel)
    exprs = sorted({substitute(t.expr, variables) for p in specs for t in p.targets})
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = dict(zip(exprs, pool.map(lambda e: query_range(e, start, end, step), exprs)))
    spans = _annotation_spans(dashboard, variables, query_range, start, end, step)
    drawings = []
    for p in specs:
        x, y, w, h = p.grid
        left, right = x / _GRID_COLUMNS, (x + w) / _GRID_COLUMNS
        y0 = 1 - top - (y + h) * _INCH_PER_ROW / height
        y1 = 1 - top - y * _INCH_PER_ROW / height
        title = substitute(p.title, {k: ("All" if v == ".*" else v) for k, v in variables.items()})
        if p.type == "row":
            fig.text(left + 0.005, (y0 + y1) / 2, title, color=_FG, fontsize=10, weight="bold", va="center")
            fig.add_artist(Line2D([left + 0.005, right - 0.005], [y0 + 0.1 / height, y0 + 0.1 / height], color=_GRIDC, lw=0.6))
            continue
        pad_left = {"timeseries": 0.75, "state-timeline": 1.8}.get(p.type, 0.15) / width  # room for the tick labels
        pad_right, pad_top, pad_bottom = 0.12 / width, 0.3 / height, 0.28 / height
        ax = fig.add_axes((left + pad_left, y0 + pad_bottom, max(0.01, right - left - pad_left - pad_right), max(0.01, y1 - y0 - pad_top - pad_bottom)))
        series, empty = _fetch(p, variables, results)
        if p.type == "timeseries":
            drawn = _draw_timeseries(ax, p, title, series, spans, start, end)
        elif p.type == "stat":
            drawn = _draw_stat(ax, p, title, series)
        elif p.type == "state-timeline":
            drawn = _draw_state_timeline(ax, p, title, series, start, end, step)
        elif p.type == "table":
            drawn = _draw_table(ax, p, title, series)
        else:
            raise ValueError(f"{dashboard.get('title')}: cannot draw a {p.type!r} panel ({title})")
        if not series:
            ax.text(0.5, 0.5, "No data", ha="center", va="center", color=_FG, fontsize=9, transform=ax.transAxes)
        drawings.append(PanelDrawing(title=title, type=p.type, returned=len(series), drawn=drawn, empty_queries=tuple(empty)))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, facecolor=_BG)
    return Rendered(uid=str(dashboard.get("uid")), title=str(dashboard.get("title")), path=out_path, panels=tuple(drawings))


def render(
    prometheus_url: str,
    out_dir: Path,
    *,
    dashboards: Mapping[str, Mapping[str, Any]],
    range_seconds: float | None = None,
    end_seconds: float | None = None,
    step_seconds: float | None = None,
    variables: Mapping[str, str] | None = None,
    timeout_seconds: float = 10.0,
) -> list[Rendered]:
    """Every dashboard to ``out_dir/<uid>.png``, over its own time range (or ``range_seconds``) ending now.

    The step is at least the scrape interval of ``monitoring/prometheus.yml`` (Grafana's
    ``timeInterval``), and coarser over long ranges (about 600 points per series).
    Prometheus errors raise :class:`sources.PrometheusError`.
    """
    reader = PrometheusReader(base_url=prometheus_url, timeout_seconds=timeout_seconds)

    def query_range(expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return reader.query_range(expr, start=start, end=end, step_seconds=step)

    def query(expr: str) -> list[dict[str, Any]]:
        return reader.query(expr)

    end = end_seconds if end_seconds is not None else time.time()
    minimum = step_seconds if step_seconds is not None else scrape_interval_seconds()
    out = []
    for uid, d in dashboards.items():
        span = range_seconds or dashboard_range_seconds(d)
        step = max(minimum, math.ceil(span / 600.0))
        start = math.floor((end - span) / step) * step
        values = resolve_variables(d, query, variables)
        out.append(render_dashboard(d, Path(out_dir) / f"{uid}.png", query_range=query_range, variables=values, start=start, end=end, step=step))
    return out
