"""The evaluation report: markdown with three PNG plots, written into the run's folder (and logged to MLflow).

- ``series.png`` -- one series of the evaluation window around a labelled incident: the
  value, the expected value and its band (where the score reaches 1), the flags, the incident;
- ``coefficients.png`` -- the same series' fitted coefficients, read from the saved JSON
  (named, with their units): the seasonal terms in the signal's unit, each context
  regressor in the signal's unit per the regressor's unit;
- ``candidates.png`` -- every candidate and the champion: precision, recall and F1 against
  the gate's floors, and residual error.

Plots use matplotlib's object API (no pyplot, no global backend), so they render without a display.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from model import format_value

from ._evaluate import CandidateResult, Evaluation
from ._extract import Dataset
from ._gate import GateDecision, GateRules, RecentComparison
from ._recalibrate import Recalibration
from ._validate import ValidationReport

__all__ = ["ReportContext", "pick_series", "plot_candidates", "plot_coefficients", "plot_series", "render_markdown", "write_report"]

#: Hours shown before and after the incident in ``series.png``.
_AROUND_HOURS = 1.5


def _ts(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


def _f(v: float | None, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}f}"


def pick_series(evaluation: Evaluation, data: Dataset) -> tuple[str, str, Any]:
    """``(service, signal, incident)`` to plot: a labelled incident the model flagged, clear of other incidents on its service.

    Preference, in order: detected on its kind's main signal; that signal has context
    regressors (the band follows them); no other incident on the service within the plotted
    hours; the highest peak anomaly score. Without a modelled main signal: the first signal.
    """
    incidents = data.eval_incidents
    modelled = set(data.signals.names())
    with_context = {s.name for s in data.signals.signals if s.context}
    det = evaluation.detection
    flagged = evaluation.flags
    t = flagged.index.as_unit("ns").asi8 / 1e9
    around = _AROUND_HOURS * 3600.0

    def peak_and_detected(inc: Any, signal: str) -> tuple[float, bool]:
        col = (inc.service, signal)
        if col not in flagged.columns:
            return 0.0, False
        rows = (t >= inc.start_seconds) & (t <= inc.end_seconds + 120.0)
        scores = det[(det["service"] == inc.service) & (det["signal"] == signal)]["anomaly_score"].to_numpy(dtype=float)
        peak = float(np.nanmax(scores[rows])) if rows.any() and len(scores) == len(t) and np.isfinite(scores[rows]).any() else 0.0
        return peak, bool(flagged[col].to_numpy()[rows].any())

    ranked = []
    for n, inc in enumerate(incidents):
        signal = data.catalog.kind(inc.kind).main_signal
        if signal not in modelled:
            continue
        peak, detected = peak_and_detected(inc, signal)
        crowded = any(
            o is not inc and o.service == inc.service and o.start_seconds < inc.end_seconds + around and o.end_seconds > inc.start_seconds - around
            for o in data.incidents
        )
        ranked.append(((not detected, signal not in with_context, crowded, -peak, n), inc, signal))
    if not ranked:
        first = incidents[0] if incidents else None
        service = first.service if first else data.catalog.service_names[0]
        return service, data.signals.names()[0], first
    _, inc, signal = min(ranked, key=lambda r: r[0])
    return inc.service, signal, inc


def plot_series(path: Path, evaluation: Evaluation, data: Dataset, service: str, signal: str, incident: Any, *, title: str) -> Path:
    """``series.png``: value, expected value and band, flags and the incident, a few hours around it."""
    det = evaluation.detection
    rows = det[(det["service"] == service) & (det["signal"] == signal)]
    t = pd.DatetimeIndex(rows["timestamp"])
    if incident is not None:
        lo = pd.Timestamp(incident.start_seconds - _AROUND_HOURS * 3600, unit="s", tz="UTC")
        hi = pd.Timestamp(incident.end_seconds + _AROUND_HOURS * 3600, unit="s", tz="UTC")
        keep = (t >= lo) & (t <= hi)
        rows, t = rows[keep], t[keep]
    unit = data.signals.spec(signal).unit
    scale, ylabel = _axis_scale(unit, np.nanmax(np.abs(rows["value"].to_numpy(dtype=float))) if len(rows) else 1.0)
    value = rows["value"].to_numpy(dtype=float) * scale
    expected = rows["expected"].to_numpy(dtype=float) * scale
    lower = np.where(np.isfinite(rows["lower"].to_numpy(dtype=float)), rows["lower"].to_numpy(dtype=float), np.nan) * scale
    upper = np.where(np.isfinite(rows["upper"].to_numpy(dtype=float)), rows["upper"].to_numpy(dtype=float), np.nan) * scale
    flag_col = (service, signal)
    flags = evaluation.flags[flag_col].reindex(t, fill_value=False).to_numpy(dtype=bool) if flag_col in evaluation.flags.columns else np.zeros(len(t), bool)
    fig = Figure(figsize=(10, 4.2), dpi=110)
    ax = fig.subplots()
    if incident is not None:
        ax.axvspan(
            pd.Timestamp(incident.start_seconds, unit="s", tz="UTC"),
            pd.Timestamp(incident.end_seconds, unit="s", tz="UTC"),
            color="tab:orange",
            alpha=0.25,
            label=f"labelled incident: {incident.kind} on {incident.service}",
        )
        others = [
            o for o in data.incidents
            if o is not incident and len(t) and o.end_seconds >= t[0].timestamp() and o.start_seconds <= t[-1].timestamp()
        ]  # fmt: skip
        for k, o in enumerate(others):
            ax.axvspan(
                pd.Timestamp(o.start_seconds, unit="s", tz="UTC"),
                pd.Timestamp(o.end_seconds, unit="s", tz="UTC"),
                color="tab:gray",
                alpha=0.15,
                label="other labelled incidents" if k == 0 else None,
            )
    band_lo = np.where(np.isnan(lower), expected, lower)
    band_hi = np.where(np.isnan(upper), expected, upper)
    ax.fill_between(t, band_lo, band_hi, color="tab:blue", alpha=0.15, linewidth=0, label="band (anomaly score 1)")
    ax.plot(t, expected, color="tab:blue", linewidth=1.0, label="expected")
    ax.plot(t, value, color="black", linewidth=0.8, label="value")
    if flags.any():
        ax.scatter(t[flags], value[flags], color="tab:red", s=14, zorder=3, label="flag (debounced)")
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_xlabel("time (UTC)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    return path


def _axis_scale(unit: str, magnitude: float) -> tuple[float, str]:
    """A multiplier and an axis label that keep a signal's numbers readable (ms, %, MB)."""
    if unit == "seconds" and magnitude < 1.0:
        return 1000.0, "milliseconds"
    if unit == "ratio":
        return 100.0, "percent"
    if unit == "bytes":
        return 1e-6, "megabytes"
    if unit == "rps":
        return 1.0, "requests per second"
    return 1.0, unit or "value"


def plot_coefficients(path: Path, saved: Mapping[str, Any], service: str, signal: str) -> Path:
    """``coefficients.png``: one series' named coefficients from the saved JSON, with their units."""
    block = saved["models"][signal]
    series = block["series"][service]
    coefs: Mapping[str, Mapping[str, Any]] = series["coefficients"]
    context = set(block.get("context", []))
    seasonal = [(k, v) for k, v in coefs.items() if k not in context]
    regressors = [(k, v) for k, v in coefs.items() if k in context]
    fig = Figure(figsize=(10, 4.2), dpi=110)
    axes = fig.subplots(1, 2, width_ratios=(3, 1)) if regressors else [fig.subplots()]
    ax = axes[0]
    unit = block.get("unit") or ""
    if seasonal:
        names = [k for k, _ in seasonal]
        values = [float(v["value"]) if v["value"] is not None else np.nan for _, v in seasonal]
        ax.barh(names, values, color=["tab:blue" if n.startswith("daily") else "tab:green" if n.startswith("weekly") else "tab:gray" for n in names])
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.5)
        ax.set_xlabel(f"coefficient ({seasonal[0][1].get('unit') or unit})", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no seasonal terms in this fit", ha="center", va="center", transform=ax.transAxes)
    intercept = series["intercept"]["value"]
    sigma = series["sigma"]["value"]
    ax.set_title(
        f"{service} {block.get('label', signal)}: seasonal terms (intercept {format_value(float(intercept), unit)}, "
        f"robust σ {format_value(float(sigma), unit)})",
        fontsize=9,
    )
    ax.tick_params(labelsize=7)
    if regressors:
        rax = axes[1]
        names = [f"{k}\n({v.get('unit')})" for k, v in regressors]
        rax.bar(names, [float(v["value"]) for _, v in regressors], color="tab:purple")
        rax.axhline(0, color="black", linewidth=0.5)
        rax.set_title("context regressors", fontsize=9)
        rax.tick_params(labelsize=7)
        for k, v in regressors:
            rax.set_ylabel(f"coefficient ({v.get('unit')})", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_candidates(
    path: Path, results: Sequence[CandidateResult], champion: Evaluation | None, champion_label: str, rules: GateRules, *, use_f1: bool
) -> Path:
    """``candidates.png``: precision, recall and F1 of every candidate and the champion against the floors; residual error."""
    labels = [r.candidate.id + (" (best)" if r.rank == 1 else "") for r in results]
    evals = [r.evaluation for r in results]
    if champion is not None:
        labels.append(champion_label)
        evals.append(champion)
    x = np.arange(len(labels))
    fig = Figure(figsize=(10, 4.2), dpi=110)
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    width = 0.27
    for k, (name, values, color) in enumerate(
        (
            ("precision", [e.precision for e in evals], "tab:blue"),
            ("recall", [e.recall for e in evals], "tab:green"),
            ("F1", [e.f1 for e in evals], "tab:purple"),
        )
    ):
        left.bar(x + (k - 1) * width, values, width, label=name, color=color)
    if use_f1:
        floor = min(rules.min_precision, rules.min_recall, rules.min_f1)
        left.axhline(floor, color="tab:red", linewidth=0.8, linestyle="--", label=f"gate floor {floor:.2f}")
    left.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    left.set_ylim(0, 1.05)
    left.set_title("event metrics on the evaluation window" + ("" if use_f1 else " (too few labels: not gated)"), fontsize=9)
    left.legend(fontsize=7, loc="lower left")
    right.bar(x, [e.residual_error for e in evals], color=["tab:orange" if i == len(evals) - 1 and champion is not None else "tab:gray" for i in range(len(evals))])
    if not use_f1:
        right.axhline(rules.max_residual_error, color="tab:red", linewidth=0.8, linestyle="--", label="gate floor")
        right.legend(fontsize=7)
    right.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    right.set_title("residual error (relative MAE, normal points)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return path


@dataclass(frozen=True, kw_only=True)
class ReportContext:
    """Everything the markdown report says (the pipeline fills it)."""

    run_name: str
    started: str
    data: Dataset
    signals_path: str
    grid_path: str
    validation: ValidationReport
    results: Sequence[CandidateResult]
    use_f1: bool
    rules: GateRules
    decision: GateDecision
    champion: Evaluation | None
    champion_version: str | None
    champion_note: str | None
    tracking_uri: str
    experiment: str
    run_id: str
    model_name: str
    version: str
    kit_version: str
    git_commit: str | None
    plots: Mapping[str, str]
    series_title: str
    recalibration: Recalibration | None = None
    recent: RecentComparison | None = None


def _metrics_table(rows: Sequence[tuple[str, str, str, str]]) -> list[str]:
    out = ["| | candidate | champion | gate |", "|---|---:|---:|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return out


def _f1_rule(rules: GateRules) -> str:
    champion = "the champion's" if not rules.f1_margin else f"the champion's - {rules.f1_margin:g}"
    return f">= {rules.min_f1:.2f} and >= {champion}"


def side_by_side(
    best: Evaluation, champion: Evaluation | None, rules: GateRules, *, use_f1: bool, recent: RecentComparison | None = None
) -> list[tuple[str, str, str, str]]:
    """Rows ``(metric, candidate, champion, gate rule)`` shared by the console and the report (``recent``: one row more, the one gated)."""
    ch = champion
    compare = "< champion" if recent is None else "not gated (recent data below)"

    def c(v: Any, d: int = 4) -> str:
        return "–" if ch is None else _f(v, d)

    ttd_c = best.median_ttd_seconds
    ttd_ch = ch.median_ttd_seconds if ch is not None else None
    return [
        ("precision", _f(best.precision, 4), c(ch.precision if ch else None), f">= {rules.min_precision:.2f}" if use_f1 else "not gated"),
        ("recall", _f(best.recall, 4), c(ch.recall if ch else None), f">= {rules.min_recall:.2f}" if use_f1 else "not gated"),
        ("F1", _f(best.f1, 4), c(ch.f1 if ch else None), (_f1_rule(rules) if use_f1 else "not gated")),
        ("false alarms / day", _f(best.false_alarms_per_day, 2), c(ch.false_alarms_per_day if ch else None, 2), "tie-break at equal F1" if use_f1 else "not gated"),
        ("median time to detect (s)", _f(ttd_c, 0), "–" if ch is None else _f(ttd_ch, 0), ""),
        (
            "residual error",
            _f(best.residual_error, 4),
            c(ch.residual_error if ch else None),
            "" if use_f1 else f"<= {rules.max_residual_error:.2f} and {compare}",
        ),
        ("detected / incidents", f"{best.summary['detected']}/{best.summary['incidents']}", "–" if ch is None else f"{ch.summary['detected']}/{ch.summary['incidents']}", ""),
    ] + (
        [(f"residual error, recent ({recent.window})", _f(recent.candidate_error, 4), _f(recent.champion_error, 4), "< champion")]
        if recent is not None
        else []
    )


def render_markdown(ctx: ReportContext) -> str:
    """The evaluation report as markdown (the plots are linked by file name, beside it)."""
    d = ctx.data
    best = ctx.results[0]
    lines = [
        f"# Training run {ctx.run_name}",
        "",
        f"- started {ctx.started}; data: {d.origin}; signals `{ctx.signals_path}`; grid `{ctx.grid_path}`",
        f"- training history {_ts(d.start_seconds)} to {_ts(d.eval_start_seconds)} ({d.history_days:.2f} days), "
        f"evaluation window {_ts(d.eval_start_seconds)} to {_ts(d.end_seconds)} ({d.eval_days:.2f} days), step {d.step_seconds:g} s",
        f"- {len(d.eval_incidents)} labelled incidents in the evaluation window; the gate reads "
        + ("event metrics (F1)" if ctx.use_f1 else "residual error alone (too few labelled incidents for event metrics)"),
        f"- MLflow: `{ctx.tracking_uri}`, experiment `{ctx.experiment}`, run `{ctx.run_id}`, registered `{ctx.model_name}` version {ctx.version}",
        f"- kit {ctx.kit_version}, git commit {ctx.git_commit or 'unknown'}",
        "",
        f"## Decision: version {ctx.version} {ctx.decision.verdict}",
        "",
        *(
            [f"- recalibrate: {ctx.recalibration.describe()}", *[f"  - left out: {x}" for x in ctx.recalibration.left_out]]
            if ctx.recalibration is not None
            else []
        ),
        *[f"- {r}" for r in ctx.decision.reasons],
        "",
        (f"Champion before this run: version {ctx.champion_version}." if ctx.champion_version else "No champion before this run.")
        + (f" {ctx.champion_note}" if ctx.champion_note else ""),
        "",
        f"Best candidate {best.candidate.id} ({best.candidate.describe()}) against the champion, on the same evaluation window:",
        "",
        *_metrics_table(side_by_side(best.evaluation, ctx.champion, ctx.rules, use_f1=ctx.use_f1, recent=ctx.recent)),
        "",
        "## Validation",
        "",
        "| check | outcome | detail | how to fix |",
        "|---|---|---|---|",
        *[f"| {c.name} | {c.status} | {c.detail} | {c.fix if c.status != 'ok' else ''} |" for c in ctx.validation.checks],
        "",
        "## Candidates",
        "",
        "Best candidate: the highest F1, then fewer false alarms per day, then lower residual error, then fewer "
        "coefficients, then the grid's order"
        + ("." if ctx.use_f1 else " (with too few labels: the lowest residual error, then fewer coefficients)."),
        "",
        "| rank | id | daily | weekly | ridge | train days | context | coefficients | precision | recall | F1 | false alarms / day | median TTD (s) | residual error | fit (s) |",
        "|---:|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ctx.results:
        p, e = r.candidate.params(), r.evaluation
        lines.append(
            f"| {r.rank} | {r.candidate.id} | {p['daily_order']} | {p['weekly_order']} | {p['ridge']} | {p['train_days']} | {p['context']} | "
            f"{r.n_coefficients} | {_f(e.precision)} | {_f(e.recall)} | {_f(e.f1)} | {_f(e.false_alarms_per_day)} | "
            f"{_f(e.median_ttd_seconds, 0)} | {_f(e.residual_error, 3)} | {r.fit_seconds:.2f} |"
        )
    lines += ["", "## Residual error by signal (normal points of the evaluation window)", ""]
    lines += ["| signal | unit | candidate MAE | candidate relative | champion MAE | champion relative |", "|---|---|---:|---:|---:|---:|"]
    for sig in d.signals.names():
        unit = d.signals.spec(sig).unit
        mae = best.evaluation.mae_by_signal.get(sig)
        rel = best.evaluation.relative_by_signal.get(sig)
        cm = ctx.champion.mae_by_signal.get(sig) if ctx.champion else None
        cr = ctx.champion.relative_by_signal.get(sig) if ctx.champion else None
        lines.append(
            f"| {sig} | {unit} | {format_value(mae, unit) if mae is not None else '–'} | {_f(rel, 3)} | "
            f"{format_value(cm, unit) if cm is not None else '–'} | {_f(cr, 3)} |"
        )
    kinds = best.evaluation.summary.get("recall_by_kind", {})
    if kinds:
        lines += ["", "## Recall per incident kind (best candidate)", "", "| " + " | ".join(kinds) + " |", "|" + "---:|" * len(kinds)]
        lines.append("| " + " | ".join(_f(v) for v in kinds.values()) + " |")
    lines += [
        "",
        "## Plots",
        "",
        f"![{ctx.series_title}]({ctx.plots['series']})",
        "",
        f"![coefficients]({ctx.plots['coefficients']})",
        "",
        f"![candidates against the champion]({ctx.plots['candidates']})",
        "",
    ]
    return "\n".join(lines)


def write_report(folder: Path, ctx: ReportContext) -> Path:
    """Write ``report.md`` into ``folder`` (the plots are already there); returns its path."""
    path = folder / "report.md"
    path.write_text(render_markdown(ctx), encoding="utf-8")
    return path
