"""The pipeline: extract, validate, train, evaluate, recalibrate, gate, register, each a named and timed stage.

:func:`run_training` is ``aiops train``. Before the first stage it reads the grid and the
signals file and opens the MLflow store, so a bad file or an unreachable store fails in
seconds, on one line, before any work. A failing validation stops the run after its report
(:attr:`TrainResult.exit_code` 2); otherwise every candidate is fitted, evaluated and ranked,
the best one takes the lasting changes of the evaluation window as its new normal
(:mod:`training._recalibrate`), is gated against the champion and registered as a new version, and the
``champion`` alias moves to it only when the gate passes.

Errors a user can fix leave as exceptions with one readable line (the command prints it and
exits 2): :class:`training.GridError`, :class:`model.SignalsError`,
:class:`training.TrackingStoreError`, :class:`sources.PrometheusError`.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from model import FleetModel, ModelFormatError, load_signals, provenance, signals_sha256
from simulator import Catalog, load_catalog
from sources import PrometheusReader

from ._console import StageRecord, TrainConsole
from ._evaluate import CandidateResult, Evaluation, evaluate_model, fit_candidate, n_coefficients, pick_best
from ._extract import Dataset, extract_prometheus, extract_simulated
from ._gate import GateDecision, GateRules, RecentComparison, decide
from ._grid import GRID_PATH, Candidate, load_grid
from ._recalibrate import Recalibration, find_lasting_changes, recent_error
from ._registry import ChampionVersion, Registry, TrackingStoreError
from ._report import ReportContext, pick_series, plot_candidates, plot_coefficients, plot_series, side_by_side, write_report
from ._settings import TrainSettings
from ._validate import ValidationReport, validate

__all__ = ["TrainResult", "run_training"]


@dataclass
class TrainResult:
    """What a run did. ``status``: ``promoted``, ``refused`` (registered, not promoted) or ``invalid`` (validation failed)."""

    status: str
    exit_code: int
    stages: list[StageRecord]
    validation: ValidationReport | None = None
    #: What extract returned (the frame and the labelled incidents).
    data: Dataset | None = None
    results: list[CandidateResult] = field(default_factory=list)
    champion_before: str | None = None
    champion_evaluation: Evaluation | None = None
    decision: GateDecision | None = None
    version: str | None = None
    run_id: str | None = None
    run_dir: Path | None = None
    #: The registered model: the best candidate's fit, with the recalibration's level offsets.
    model: FleetModel | None = None
    recalibration: Recalibration | None = None


def _stamp(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").strftime("%Y%m%dT%H%M%SZ")


def _iso(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat()


def _requirements() -> list[str]:
    """The model's pip requirements, pinned to what this run used (no inference: MLflow would import the model to find them)."""
    out = []
    for dist in ("aiops-workshop-kit", "mlflow-skinny", "numpy", "pandas", "scikit-learn", "scipy", "pyyaml"):
        try:
            out.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(dist)
    return out


def _run_dir(settings: TrainSettings, stamp: str) -> Path:
    base = settings.runs_dir()
    path = base / stamp
    n = 1
    while path.exists():
        n += 1
        path = base / f"{stamp}-{n}"
    path.mkdir(parents=True)
    return path


def _fmt(v: float | None, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}f}"


def _header(out: TrainConsole, settings: TrainSettings, grid_path: Path, candidates: tuple[Candidate, ...], uri: str, champion: ChampionVersion | None) -> None:
    source = f"Prometheus {settings.prometheus_url}" if settings.uses_prometheus else f"the simulator (seed {settings.seed})"
    out.line(
        f"aiops train: {settings.history_days:g} days of history + {settings.eval_days:g} evaluation days from {source}, "
        f"step {settings.step_seconds:g} s; grid {grid_path} ({len(candidates)} candidate{'s' if len(candidates) != 1 else ''})"
    )
    out.line(
        f"MLflow store {uri}, experiment {settings.experiment_name}, model {settings.model_name} "
        + (f"(champion: version {champion.version})" if champion else "(no champion yet)")
    )


def _extract(settings: TrainSettings, catalog: Catalog, signals: Any, out: TrainConsole, now_seconds: float | None, reader: PrometheusReader | None) -> Dataset:
    with out.stage("extract") as stage:
        if settings.uses_prometheus:
            reader = reader or PrometheusReader(base_url=settings.prometheus_url.strip(), timeout_seconds=settings.timeout_seconds)
            with out.progress(f"range queries to {reader.base_url}", None):
                data = extract_prometheus(
                    reader,
                    catalog,
                    signals,
                    end_seconds=time.time() if now_seconds is None else now_seconds,
                    history_days=settings.history_days,
                    eval_days=settings.eval_days,
                    step_seconds=settings.step_seconds,
                )
        else:
            if settings.history_days != int(settings.history_days) or settings.eval_days != int(settings.eval_days):
                raise ValueError(f"the simulator takes whole days: --history-days {settings.history_days:g}, --eval-days {settings.eval_days:g}")
            with out.progress("simulating the fleet", None) as advance:
                data = extract_simulated(
                    catalog,
                    signals,
                    seed=settings.seed,
                    history_days=int(settings.history_days),
                    eval_days=int(settings.eval_days),
                    step_seconds=settings.step_seconds,
                    progress=lambda message: advance(0, message),
                )
        services = len({s for s, _ in data.frame.columns})
        stage.outcome = (
            f"{data.origin}: {data.history_days + data.eval_days:.1f} days x {services} services x {len(signals.names())} signals "
            f"at {data.step_seconds:g} s ({len(data.frame)} rows); {len(data.incidents)} labelled incidents, "
            f"{len(data.eval_incidents)} in the evaluation window"
        )
    return data


def _validate(settings: TrainSettings, data: Dataset, candidates: tuple[Candidate, ...], out: TrainConsole) -> ValidationReport:
    with out.stage("validate") as stage:
        report = validate(
            data,
            candidates,
            max_missing_share=settings.max_missing_share,
            max_staleness_seconds=settings.max_staleness_seconds,
            min_labelled_incidents=settings.min_labelled_incidents,
        )
        if report.ok:
            stage.status = "warn" if report.warnings else "ok"
            stage.outcome = f"{len(report.checks)} checks: {len(report.checks) - len(report.warnings)} passed, {len(report.warnings)} with a warning"
        else:
            stage.status = "failed"
            stage.outcome = f"{len(report.failed)} of {len(report.checks)} checks failed: {', '.join(c.name for c in report.failed)}"
    for check in report.checks:
        if check.status != "ok":
            mark = "✗" if check.status == "fail" else "!"
            out.line(f"  {mark} {check.name}: {check.detail}", style="red" if check.status == "fail" else "yellow")
            out.line(f"      fix: {check.fix}")
    return report


def _train(data: Dataset, candidates: tuple[Candidate, ...], out: TrainConsole) -> list[tuple[Candidate, FleetModel, float, float]]:
    fitted = []
    with out.stage("train") as stage, out.progress("fitting candidates", len(candidates)) as advance:
        for c in candidates:
            started = time.perf_counter()
            model, train_start = fit_candidate(c, data)
            fitted.append((c, model, train_start, time.perf_counter() - started))
            advance(1, f"fitted {c.id}")
        n = len(candidates)
        stage.outcome = f"{n} {'candidate' if n == 1 else 'candidates'} fitted at the evaluation start, each on its training window"
    return fitted


def _evaluate(data: Dataset, fitted: list[tuple[Candidate, FleetModel, float, float]], use_f1: bool, out: TrainConsole) -> list[CandidateResult]:
    with out.stage("evaluate") as stage, out.progress("scoring the evaluation window", len(fitted)) as advance:
        results = []
        for c, model, train_start, seconds in fitted:
            results.append(
                CandidateResult(
                    candidate=c,
                    model=model,
                    evaluation=evaluate_model(model, data),
                    n_coefficients=n_coefficients(model),
                    fit_seconds=seconds,
                    train_start_seconds=train_start,
                )
            )
            advance(1, f"scored {c.id}")
        ranked = pick_best(results, use_f1=use_f1)
        best = ranked[0]
        stage.outcome = (
            f"best {best.candidate.id}: F1 {best.evaluation.f1:.4f}, {best.evaluation.false_alarms_per_day:.2f} false alarms/day, "
            f"residual error {best.evaluation.residual_error:.4f}"
        )
    rows, styles = [], []
    for r in ranked:
        p, e = r.candidate.params(), r.evaluation
        rows.append(
            [
                str(r.rank), r.candidate.id, p["daily_order"], p["weekly_order"], p["ridge"], p["train_days"], p["context"],
                str(r.n_coefficients), _fmt(e.precision), _fmt(e.recall), _fmt(e.f1), _fmt(e.false_alarms_per_day),
                _fmt(e.median_ttd_seconds, 0), _fmt(e.residual_error, 3),
            ]
        )  # fmt: skip
        styles.append("bold" if r.rank == 1 else None)
    out.table(
        "Candidates (best first: highest F1, fewer false alarms/day, lower residual error, fewer coefficients)"
        if use_f1
        else "Candidates (best first: lowest residual error, then fewer coefficients; too few labels for F1)",
        [("#", "right"), ("id", "left"), ("daily", "left"), ("weekly", "left"), ("ridge", "left"), ("days", "left"), ("context", "left"),
         ("coefs", "right"), ("prec", "right"), ("recall", "right"), ("F1", "right"), ("FA/day", "right"), ("TTD s", "right"), ("resid", "right")],
        rows,
        styles=styles,
    )  # fmt: skip
    return ranked


def _recalibrate(settings: TrainSettings, data: Dataset, best: CandidateResult, out: TrainConsole) -> Recalibration:
    with out.stage("recalibrate") as stage:
        recal = find_lasting_changes(best.model, best.evaluation, data, after_seconds=settings.rebaseline_after_seconds)
        stage.outcome = f"{best.candidate.id}: {recal.describe()}"
    for line in recal.left_out[1 if not recal.changes else 0 :]:
        out.line(f"  left out: {line}", style="yellow")
    return recal


def _rules(settings: TrainSettings) -> GateRules:
    return GateRules(
        min_recall=settings.min_recall,
        min_precision=settings.min_precision,
        min_f1=settings.min_f1,
        f1_margin=settings.f1_margin,
        max_residual_error=settings.max_residual_error,
    )


def _recent_window(data: Dataset, start_seconds: float) -> str:
    n = int((data.times() > start_seconds + 1e-6).sum())
    return f"the {n} points since {pd.Timestamp(start_seconds, unit='s', tz='UTC'):%H:%M:%S}Z"


def _gate(
    rules: GateRules,
    registry: Registry,
    champion: ChampionVersion | None,
    data: Dataset,
    best: CandidateResult,
    use_f1: bool,
    out: TrainConsole,
    *,
    recal: Recalibration,
    registered: FleetModel,
) -> tuple[GateDecision, Evaluation | None, str | None, RecentComparison | None]:
    champion_eval: Evaluation | None = None
    note: str | None = None
    recent: RecentComparison | None = None
    with out.stage("gate") as stage:
        if champion is not None:
            try:
                champion_model = registry.load_version(champion.version)
                champion_eval = evaluate_model(champion_model, data)
                start = recal.recent_start_seconds
                if start is not None:
                    recent = RecentComparison(
                        start_seconds=start,
                        candidate_error=recent_error(registered, data, start),
                        champion_error=recent_error(champion_model, data, start),
                        window=_recent_window(data, start),
                    )
                if champion_model.fit_time_.timestamp() > data.eval_start_seconds:
                    note = (
                        f"Champion version {champion.version} was fitted on data up to {champion_model.fit_time_:%Y-%m-%d %H:%M} UTC, "
                        "after the evaluation window starts: its figures may be optimistic."
                    )
            except (TrackingStoreError, ModelFormatError, ValueError, KeyError) as exc:
                note = f"champion version {champion.version} could not be loaded or scored ({' '.join(str(exc).split())}): the candidate is gated on the floors alone"
        decision = decide(
            best.evaluation, champion_eval, rules, use_f1=use_f1, champion_version=champion.version if champion else None, champion_problem=note, recent=recent
        )
        stage.status = "ok" if decision.promote else "refused"
        gate_name = ("F1" if use_f1 else "residual error") + (" + recent data" if recent is not None else "")
        stage.outcome = f"{best.candidate.id} {decision.verdict} ({gate_name} gate): {decision.reasons[0]}"
    out.table(
        f"Best candidate {best.candidate.id} against the champion" + (f" (version {champion.version})" if champion else " (none yet)") + ", same evaluation window",
        [("", "left"), (f"candidate {best.candidate.id}", "right"), ("champion" + (f" v{champion.version}" if champion else ""), "right"), ("gate", "left")],
        [list(r) for r in side_by_side(best.evaluation, champion_eval, rules, use_f1=use_f1, recent=recent)],
    )
    if note:
        out.line(note, style="yellow")
    mark = "✓ promote" if decision.promote else "✗ refuse"
    for reason in decision.reasons:
        out.line(f"{mark}: {reason}", style="green" if decision.promote else "yellow")
    return decision, champion_eval, note, recent


def run_training(
    settings: TrainSettings,
    *,
    console: TrainConsole | None = None,
    catalog: Catalog | None = None,
    now_seconds: float | None = None,
    reader: PrometheusReader | None = None,
) -> TrainResult:
    """Run the pipeline with ``settings`` (see the module docstring); ``now_seconds`` is the clock (the end of a Prometheus window).

    Raises :class:`training.GridError`, :class:`model.SignalsError`,
    :class:`training.TrackingStoreError` or :class:`sources.PrometheusError` on a problem
    the user can fix (the message is one line naming the file, URI or query).
    """
    out = console or TrainConsole()
    started_seconds = time.time() if now_seconds is None else now_seconds
    catalog = catalog or load_catalog()
    grid_path = settings.grid_path or GRID_PATH
    candidates = load_grid(grid_path)
    signals = load_signals(settings.signals_path)
    uri = settings.resolved_tracking_uri()
    registry = Registry.connect(uri, model_name=settings.model_name, experiment_name=settings.experiment_name)
    champion = registry.champion_version()
    _header(out, settings, grid_path, candidates, uri, champion)

    data = _extract(settings, catalog, signals, out, now_seconds, reader)
    report = _validate(settings, data, candidates, out)
    if not report.ok:
        for name in ("train", "evaluate", "recalibrate", "gate", "register"):
            out.skip(name, "validation failed")
        out.summary()
        out.line("validation failed: nothing was trained or registered; fix the checks above and run again", style="red")
        return TrainResult(
            status="invalid", exit_code=2, stages=out.stages, validation=report, data=data, champion_before=champion.version if champion else None
        )

    use_f1 = len(data.eval_incidents) >= settings.min_labelled_incidents
    fitted = _train(data, candidates, out)
    ranked = _evaluate(data, fitted, use_f1, out)
    best = ranked[0]
    recal = _recalibrate(settings, data, best, out)
    registered = recal.apply(best.model)
    rules = _rules(settings)
    decision, champion_eval, note, recent = _gate(rules, registry, champion, data, best, use_f1, out, recal=recal, registered=registered)

    with out.stage("register") as stage, out.progress("logging to MLflow", None):
        stamp = _stamp(started_seconds)
        run_dir = _run_dir(settings, stamp)
        model_json = registered.save(run_dir / "fleet-model.json")
        saved = json.loads(model_json.read_text(encoding="utf-8"))
        service, signal, incident = pick_series(best.evaluation, data)
        series_title = f"{service} {data.signals.spec(signal).label}, best candidate {best.candidate.id}" + (
            f", around {incident.kind} on {incident.service}" if incident is not None else ""
        )
        plots = {
            "series": plot_series(run_dir / "series.png", best.evaluation, data, service, signal, incident, title=series_title).name,
            "coefficients": plot_coefficients(run_dir / "coefficients.png", saved, service, signal).name,
            "candidates": plot_candidates(
                run_dir / "candidates.png",
                ranked,
                champion_eval,
                f"champion v{champion.version}" if champion else "champion",
                rules,
                use_f1=use_f1,
            ).name,
        }
        (run_dir / "candidates.json").write_text(
            json.dumps(
                [{"id": r.candidate.id, "rank": r.rank, "params": r.candidate.params(), "n_coefficients": r.n_coefficients, "metrics": r.evaluation.metrics()} for r in ranked],
                indent=2,
            ),
            encoding="utf-8",
        )
        (run_dir / "validation.json").write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
        (run_dir / "gate.json").write_text(json.dumps(decision.as_dict(), indent=2), encoding="utf-8")
        prov = provenance()
        params = {
            **best.candidate.params(),
            "candidate": best.candidate.id,
            "n_candidates": str(len(ranked)),
            "source": data.source,
            "history_days": f"{data.history_days:g}",
            "eval_days": f"{data.eval_days:g}",
            "step_seconds": f"{data.step_seconds:g}",
            "signals_file": str(settings.signals_path or "model/signals.yaml"),
            "grid_file": str(grid_path),
            "gate_mode": decision.mode,
            "min_recall": f"{rules.min_recall:g}",
            "min_precision": f"{rules.min_precision:g}",
            "min_f1": f"{rules.min_f1:g}",
            "f1_margin": f"{rules.f1_margin:g}",
            "rebaseline_after_seconds": f"{settings.rebaseline_after_seconds:g}",
            "lasting_changes": str(len(recal.changes)),
        }
        metrics = dict(best.evaluation.metrics())
        if champion_eval is not None:
            metrics.update({f"champion_{k}": v for k, v in champion_eval.metrics().items() if not k.startswith("mae_")})
        tags = {
            "data_start": _iso(data.start_seconds),
            "eval_start": _iso(data.eval_start_seconds),
            "data_end": _iso(data.end_seconds),
            "source": data.origin,
            "kit_version": str(prov["kit_version"]),
            "git_commit": str(prov["git_commit"] or "unknown"),
            "signals_sha256": signals_sha256(data.signals),
            "gate_decision": decision.verdict,
            "gate_reasons": " | ".join(decision.reasons),
            "champion_before": champion.version if champion else "none",
            "run_dir": str(run_dir),
            "recalibration": recal.describe(),
        }
        if data.seed is not None:
            tags["seed"] = str(data.seed)
        if data.prometheus_url:
            tags["prometheus_url"] = data.prometheus_url
        children = [(f"candidate {r.candidate.id}", {**r.candidate.params(), "rank": str(r.rank)}, r.evaluation.metrics()) for r in ranked]

        def report_files(run_id: str, version: str) -> list[tuple[Path, str | None]]:
            ctx = ReportContext(
                run_name=f"train-{stamp}",
                started=pd.Timestamp(started_seconds, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC"),
                data=data,
                signals_path=str(settings.signals_path or "model/signals.yaml"),
                grid_path=str(grid_path),
                validation=report,
                results=ranked,
                use_f1=use_f1,
                rules=rules,
                decision=decision,
                champion=champion_eval,
                champion_version=champion.version if champion else None,
                champion_note=note,
                tracking_uri=uri,
                experiment=settings.experiment_name,
                run_id=run_id,
                model_name=settings.model_name,
                version=version,
                kit_version=str(prov["kit_version"]),
                git_commit=prov["git_commit"],
                plots=plots,
                series_title=series_title,
                recalibration=recal,
                recent=recent,
            )
            write_report(run_dir, ctx)
            return [(run_dir, "report")]

        logged = registry.log_run(
            run_name=f"train-{stamp}",
            params=params,
            metrics=metrics,
            tags=tags,
            model_json=model_json,
            pip_requirements=_requirements(),
            version_tags={
                "gate": decision.verdict,
                "gate_mode": decision.mode,
                "gate_reasons": " | ".join(decision.reasons),
                "candidate": best.candidate.id,
                "data_window": f"{_iso(data.start_seconds)} .. {_iso(data.end_seconds)}",
                "source": data.origin,
                "f1": f"{best.evaluation.f1:.4f}",
                "residual_error": f"{best.evaluation.residual_error:.4f}",
                "champion_before": champion.version if champion else "none",
                "lasting_changes": str(len(recal.changes)),
            },
            version_description=(
                f"{best.candidate.describe()}"
                + (f"; new normal: {'; '.join(c.sentence() for c in recal.changes)}" if recal.changes else "")
                + f"; {decision.verdict} by the gate: {decision.reasons[0]}"
            ),
            children=children,
            artifacts_after=report_files,
        )
        if decision.promote:
            registry.set_champion(logged.version)
            stage.outcome = f"{settings.model_name} version {logged.version} registered; champion alias moved to it"
        else:
            stage.status = "refused"
            stage.outcome = (
                f"{settings.model_name} version {logged.version} registered, not promoted; "
                + (f"champion stays version {champion.version}" if champion else "no champion")
            )
    out.summary()
    out.line(f"run folder: {run_dir} (report.md, series.png, coefficients.png, candidates.png, fleet-model.json)")
    out.line(f"MLflow run {logged.run_id}; model {logged.model_uri}" + (f" = models:/{settings.model_name}@champion" if decision.promote else ""))
    return TrainResult(
        status="promoted" if decision.promote else "refused",
        exit_code=0,
        stages=out.stages,
        validation=report,
        data=data,
        results=ranked,
        champion_before=champion.version if champion else None,
        champion_evaluation=champion_eval,
        decision=decision,
        version=logged.version,
        run_id=logged.run_id,
        run_dir=run_dir,
        model=registered,
        recalibration=recal,
    )
