"""The *train* and *evaluate* stages, and the rule that picks the best candidate.

A candidate is fitted once, at the start of the evaluation window, on its training window
(the last ``train_days`` before it), leaving out the labelled incidents that had ended by
then (the self-cleaning fit). That fitted model is the one evaluated, and the one
registered. It scores the evaluation window (with two hours of history before it, as the
offline suite's runner does); its scores become flags through the signals' debounce, and
the flags are grouped and matched to the labelled incidents by the evaluation package's
rules (:func:`evaluation.group_flags`, :func:`evaluation.match`,
:func:`evaluation.summarize`: the offline suite's and the live scoreboard's).

Residual error is measured on the *normal* points of the evaluation window (none of the
labelled incidents active, nor in the ``incident_margin_seconds`` after one ended): per
series, the mean absolute residual (in the signal's unit) divided by the mean absolute
deviation from the series' median on the same points. 0 is a perfect fit, 1 no better than
a flat line at the median; :attr:`Evaluation.residual_error` is the mean over the series.

**Best candidate** (:func:`rank_key`): the highest F1, then fewer false alarms per day, then
lower residual error, then the simpler model (fewer fitted coefficients: :func:`n_coefficients`),
then the grid's order.
With fewer labelled incidents than the gate needs: the lowest residual error, then the
simpler model, then the grid's order.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from evaluation import group_flags, match, summarize
from model import FleetModel, debounce

from ._extract import DAY_SECONDS, Dataset
from ._grid import Candidate

__all__ = ["CONTEXT_SECONDS", "CandidateResult", "Evaluation", "evaluate_model", "fit_candidate", "n_coefficients", "pick_best", "rank_key"]

#: History handed to ``score`` before the evaluation window (the offline runner's ``context_seconds``).
CONTEXT_SECONDS = 7200.0


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8.astype(np.float64) / 1e9


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """One fitted model's figures on the evaluation window.

    ``summary`` is :func:`evaluation.summarize`'s dict (precision, recall, f1,
    false_alarms_per_day, median_time_to_detect_seconds, recall_by_kind, counts ...).
    ``mae_by_signal`` is in each signal's unit (mean over services), ``relative_by_signal``
    the relative MAE (see the module docstring). ``detection`` is the model's tidy output over
    the window (for the plots) and ``flags`` the debounced flags (wide, bool).
    """

    summary: dict[str, Any]
    residual_error: float
    mae_by_signal: dict[str, float]
    relative_by_signal: dict[str, float]
    normal_points: int
    detection: pd.DataFrame = field(repr=False)
    flags: pd.DataFrame = field(repr=False)

    @property
    def precision(self) -> float:
        return float(self.summary["precision"])

    @property
    def recall(self) -> float:
        return float(self.summary["recall"])

    @property
    def f1(self) -> float:
        return float(self.summary["f1"])

    @property
    def false_alarms_per_day(self) -> float:
        return float(self.summary["false_alarms_per_day"])

    @property
    def median_ttd_seconds(self) -> float | None:
        v = self.summary["median_time_to_detect_seconds"]
        return None if v is None else float(v)

    def metrics(self) -> dict[str, float]:
        """The figures as MLflow metrics (a missing median time to detect is left out)."""
        out = {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "false_alarms_per_day": self.false_alarms_per_day,
            "residual_error": self.residual_error,
            "incidents": float(self.summary["incidents"]),
            "detected": float(self.summary["detected"]),
            "false_alarms": float(self.summary["false_alarms"]),
        }
        if self.median_ttd_seconds is not None:
            out["median_time_to_detect_seconds"] = self.median_ttd_seconds
        for sig, v in self.mae_by_signal.items():
            if math.isfinite(v):
                out[f"mae_{sig}"] = v
        return out


@dataclass(frozen=True, kw_only=True)
class CandidateResult:
    """A candidate, its fitted model, its figures and its rank (1 = the best)."""

    candidate: Candidate
    model: FleetModel = field(repr=False)
    evaluation: Evaluation
    n_coefficients: int
    fit_seconds: float
    train_start_seconds: float
    rank: int = 0


def fit_candidate(candidate: Candidate, data: Dataset) -> tuple[FleetModel, float]:
    """``candidate`` fitted at the evaluation start on its training window; returns ``(model, train_start_seconds)``."""
    fit_at = data.eval_start_seconds
    start = data.start_seconds if candidate.train_days is None else max(data.start_seconds, fit_at - candidate.train_days * DAY_SECONDS)
    train = data.window(start, fit_at)
    known = [i for i in data.incidents if i.end_seconds <= fit_at]
    edges = [(d.caller, d.callee) for d in data.catalog.dependencies]
    model = FleetModel(candidate.signal_set(data.signals), dependencies=edges).fit(train, incidents=known, fit_time=fit_at)
    return model, start


def n_coefficients(model: FleetModel) -> int:
    """Coefficients a fitted model has per service, summed over its signals (the seasonal terms its history allowed, trend, context)."""
    return sum(len(m.feature_names_) for m in model.models_.values())


def _normal_rows(data: Dataset, t: np.ndarray, margin_seconds: float) -> np.ndarray:
    normal = np.ones(len(t), dtype=bool)
    for inc in data.incidents:
        normal &= ~((t >= inc.start_seconds) & (t < inc.end_seconds + margin_seconds))
    return normal


def evaluate_model(model: FleetModel, data: Dataset) -> Evaluation:
    """Score the evaluation window with a fitted ``model`` (no refit) and match its flags to the labels."""
    window = data.window(data.eval_start_seconds - CONTEXT_SECONDS, data.end_seconds)
    found = model.detect(window)
    found = found.loc[_seconds(pd.DatetimeIndex(found["timestamp"])) >= data.eval_start_seconds].reset_index(drop=True)
    score = found.pivot(index="timestamp", columns=["service", "signal"], values="anomaly_score")
    sigset = model.signal_set_
    raw = np.nan_to_num(score.to_numpy(dtype=np.float64), nan=0.0) >= 1.0
    flags = pd.DataFrame(debounce(raw, sigset.debounce_k, sigset.debounce_m), index=score.index, columns=score.columns)
    edges = [(d.caller, d.callee) for d in data.catalog.dependencies]
    incidents = data.eval_incidents
    groups = group_flags(flags, edges)
    matching = match(groups, incidents, data.catalog)
    summary = summarize(matching, incidents, data.catalog.kind_names, data.eval_days)

    actual = found.pivot(index="timestamp", columns=["service", "signal"], values="value")
    expected = found.pivot(index="timestamp", columns=["service", "signal"], values="expected")
    normal = _normal_rows(data, _seconds(pd.DatetimeIndex(actual.index)), sigset.incident_margin_seconds)
    a = actual.to_numpy(dtype=np.float64)[normal]
    e = expected.reindex(columns=actual.columns).to_numpy(dtype=np.float64)[normal]
    ok = np.isfinite(a) & np.isfinite(e)
    mae, rel = {}, {}
    for j, col in enumerate(actual.columns):
        m = ok[:, j]
        if m.sum() < 2:
            continue
        av, ev = a[m, j], e[m, j]
        err = float(np.mean(np.abs(av - ev)))
        spread = float(np.mean(np.abs(av - np.median(av))))
        mae[col] = err
        rel[col] = err / spread if spread > 0 else math.nan
    by_signal: dict[str, list[float]] = {}
    by_signal_rel: dict[str, list[float]] = {}
    for (service, signal), v in mae.items():
        by_signal.setdefault(signal, []).append(v)
        by_signal_rel.setdefault(signal, []).append(rel[(service, signal)])
    rel_values = [v for v in rel.values() if math.isfinite(v)]
    return Evaluation(
        summary=summary,
        residual_error=round(float(np.mean(rel_values)), 4) if rel_values else math.nan,
        mae_by_signal={s: float(np.mean(v)) for s, v in by_signal.items()},
        relative_by_signal={s: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan for s, v in by_signal_rel.items()},
        normal_points=int(normal.sum()),
        detection=found,
        flags=flags,
    )


def rank_key(result: CandidateResult, order: int, *, use_f1: bool) -> tuple[float, ...]:
    """The sort key of the best-candidate rule (smaller is better); see the module docstring."""
    e = result.evaluation
    residual = e.residual_error if math.isfinite(e.residual_error) else math.inf
    if use_f1:
        return (-round(e.f1, 4), round(e.false_alarms_per_day, 2), round(residual, 4), float(result.n_coefficients), float(order))
    return (round(residual, 4), float(result.n_coefficients), float(order))


def pick_best(results: Sequence[CandidateResult], *, use_f1: bool) -> list[CandidateResult]:
    """``results`` ranked by :func:`rank_key` (``rank`` set, 1 = the best), best first."""
    order = sorted(range(len(results)), key=lambda i: rank_key(results[i], i, use_f1=use_f1))
    ranked = [results[i] for i in order]
    return [dataclasses.replace(r, rank=n + 1) for n, r in enumerate(ranked)]
