"""The *validate* stage: checks on the extracted data before anything is fitted.

Every check runs (a failure does not hide the next one) and says how to fix what it found:

- **schema**: every ``(service, signal)`` column the signals declare, for every service of the catalog;
- **gaps**: no modelled series misses more than ``max_missing_share`` of its points, over the
  whole range or over the evaluation window;
- **staleness**: every series' last point is at most ``max_staleness_seconds`` before the end
  of the window;
- **history**: two days before the evaluation window for the daily terms (a failure); seven for
  the weekly terms (a warning: candidates fit without them); a candidate's training window
  longer than the history (a warning: it uses what there is);
- **labels**: at least one labelled incident in the evaluation window (a failure); fewer than
  ``min_labelled_incidents`` (a warning: the gate uses residual error alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from model import MIN_DAILY_HISTORY_SECONDS, MIN_WEEKLY_HISTORY_SECONDS

from ._extract import DAY_SECONDS, Dataset
from ._grid import Candidate

__all__ = ["Check", "ValidationReport", "validate"]

#: How many series a check's detail names before "and N more".
_NAMED = 4


@dataclass(frozen=True, kw_only=True)
class Check:
    """One check's outcome: ``status`` is ``ok``, ``warn`` (noted, the run goes on) or ``fail`` (the run stops)."""

    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class ValidationReport:
    """Every check's outcome, in order."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "fail")

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "warn")

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "checks": [c.__dict__ for c in self.checks]}


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_NAMED])
    return shown + (f" and {len(items) - _NAMED} more" if len(items) > _NAMED else "")


def _days(seconds: float) -> str:
    return f"{seconds / DAY_SECONDS:.2f} days"


def _schema(data: Dataset) -> Check:
    present = set(data.frame.columns)
    expected = [(s, sig) for s in data.catalog.service_names for sig in data.signals.names()]
    missing = [f"{s}/{sig}" for s, sig in expected if (s, sig) not in present]
    extra = sorted({str(s) for s, _ in present} - set(data.catalog.service_names))
    if missing:
        fix = (
            "check that each signal's PromQL returns one series per service with a `service` label "
            "(try it in Prometheus' graph page) and that Prometheus scrapes the collector"
            if data.source == "prometheus"
            else "the signals file declares a signal the simulator does not produce; use the kit's model/signals.yaml"
        )
        return Check(name="schema", status="fail", detail=f"{len(missing)} of {len(expected)} declared series missing: {_names(missing)}", fix=fix)
    note = f"; series of services the catalog does not know are ignored: {_names(extra)}" if extra else ""
    return Check(name="schema", status="ok", detail=f"{len(expected)} series: {len(data.catalog.service_names)} services x {len(data.signals.names())} signals{note}")


def _modelled(data: Dataset) -> list[tuple[str, str]]:
    present = set(data.frame.columns)
    return [(s, sig) for s in data.catalog.service_names for sig in data.signals.names() if (s, sig) in present]


def _gaps(data: Dataset, max_share: float) -> Check:
    cols = _modelled(data)
    if not cols:
        return Check(name="gaps", status="fail", detail="no modelled series to check", fix="see the schema check")
    values = data.frame[cols].to_numpy(dtype=np.float64)
    t = data.times()
    share_all = np.isnan(values).mean(axis=0) if len(values) else np.ones(len(cols))
    in_eval = t >= data.eval_start_seconds
    share_eval = np.isnan(values[in_eval]).mean(axis=0) if in_eval.any() else np.ones(len(cols))
    worst = np.maximum(share_all, share_eval)
    bad = [f"{s}/{sig} {w:.0%}" for (s, sig), w in sorted(zip(cols, worst), key=lambda x: -x[1]) if w > max_share]
    if bad:
        fix = (
            "Prometheus lacks samples there (the collector was down, or the history was not backfilled): "
            "pick another window (--history-days, --eval-days) or backfill the history (aiops backfill)"
            if data.source == "prometheus"
            else "the simulated history should have no gaps: check --step against the signals' rate window"
        )
        return Check(
            name="gaps",
            status="fail",
            detail=f"{len(bad)} series miss more than {max_share:.0%} of their points (whole range or evaluation window): {_names(bad)}",
            fix=fix,
        )
    return Check(name="gaps", status="ok", detail=f"at most {float(worst.max()):.1%} of a series' points missing (limit {max_share:.0%})")


def _staleness(data: Dataset, max_age_seconds: float) -> Check:
    cols = _modelled(data)
    if not cols:
        return Check(name="staleness", status="fail", detail="no modelled series to check", fix="see the schema check")
    t = data.times()
    values = data.frame[cols].to_numpy(dtype=np.float64)
    last_point = data.end_seconds - data.step_seconds
    stale = []
    oldest = 0.0
    for j, (s, sig) in enumerate(cols):
        finite = np.flatnonzero(np.isfinite(values[:, j]))
        age = (last_point - t[finite[-1]]) if finite.size else np.inf
        oldest = max(oldest, float(age))
        if age > max_age_seconds:
            stale.append(f"{s}/{sig} ({'no data' if not np.isfinite(age) else f'{age / 60:.0f} min old'})")
    if stale:
        fix = (
            "the newest points are missing: is the collector running and Prometheus scraping it? "
            "(or end the window earlier with --eval-days / wait a scrape)"
            if data.source == "prometheus"
            else "the simulated history should reach the end of the window"
        )
        return Check(
            name="staleness",
            status="fail",
            detail=f"{len(stale)} series end more than {max_age_seconds / 60:g} min before the end of the window: {_names(stale)}",
            fix=fix,
        )
    return Check(name="staleness", status="ok", detail=f"newest points at most {oldest:.0f} s before the end of the window")


def _history(data: Dataset, candidates: Sequence[Candidate]) -> list[Check]:
    cols = _modelled(data)
    t = data.times()
    before = t < data.eval_start_seconds
    if cols and before.any():
        has_data = np.isfinite(data.frame[cols].to_numpy(dtype=np.float64)[before]).any(axis=1)
        first = t[before][has_data][0] if has_data.any() else data.eval_start_seconds
    else:
        first = data.eval_start_seconds
    span = data.eval_start_seconds - first + (data.step_seconds if first < data.eval_start_seconds else 0.0)
    out: list[Check] = []
    if span < MIN_DAILY_HISTORY_SECONDS:
        fix = (
            "backfill at least 2 days before the evaluation window (aiops backfill --days 3 ..., as the demo does), "
            "or pass --history-days 2 or more if Prometheus already holds it"
            if data.source == "prometheus"
            else "pass --history-days 2 or more (8 by default: a full week for the weekly terms and a day)"
        )
        out.append(
            Check(
                name="history",
                status="fail",
                detail=f"{_days(span)} of history before the evaluation window; the daily terms need {_days(MIN_DAILY_HISTORY_SECONDS)}",
                fix=fix,
            )
        )
    elif span < MIN_WEEKLY_HISTORY_SECONDS:
        out.append(
            Check(
                name="history",
                status="warn",
                detail=f"{_days(span)} of history: enough for the daily terms; the weekly terms need {_days(MIN_WEEKLY_HISTORY_SECONDS)}, so every candidate fits without them",
                fix="for the weekly terms, 7 days or more of history (--history-days 8)",
            )
        )
    else:
        out.append(Check(name="history", status="ok", detail=f"{_days(span)} of history: enough for the daily and the weekly terms"))
    too_long = sorted({f"{c.train_days:g}" for c in candidates if c.train_days is not None and c.train_days * DAY_SECONDS > span + 1e-6})
    if too_long and span >= MIN_DAILY_HISTORY_SECONDS:
        out.append(
            Check(
                name="training window",
                status="warn",
                detail=f"the grid's train_days {', '.join(too_long)} exceed the {_days(span)} of history: those candidates use all of it",
                fix="more history (--history-days) or shorter windows in the grid",
            )
        )
    return out


def _labels(data: Dataset, min_labelled: int) -> list[Check]:
    n = len(data.eval_incidents)
    out: list[Check] = []
    if data.unknown_labels:
        out.append(
            Check(
                name="labels",
                status="warn",
                detail=f"aiops_incident_active series of kinds or services the catalog does not know were left out: {_names(list(data.unknown_labels))}",
                fix="train against the kit's collector (its catalog names the kinds and services)",
            )
        )
    if n == 0:
        fix = (
            "the collector's ground truth aiops_incident_active shows no incident in the evaluation window: trigger some "
            "(aiops incident trigger ..., aiops scenario run ...), backfill history with incidents, or move the window (--eval-days)"
            if data.source == "prometheus"
            else "the simulated suite always has incidents; pass --eval-days 1 or more"
        )
        out.append(Check(name="labels", status="fail", detail="no labelled incident in the evaluation window", fix=fix))
    elif n < min_labelled:
        out.append(
            Check(
                name="labels",
                status="warn",
                detail=(
                    f"{n} labelled incidents in the evaluation window, fewer than {min_labelled} (one miss would move recall by "
                    f"{1 / n:.2f}): the gate uses residual error alone"
                ),
                fix=f"{min_labelled} or more incidents in the evaluation window (a longer --eval-days, or trigger more)",
            )
        )
    else:
        kinds = len({i.kind for i in data.eval_incidents})
        services = len({i.service for i in data.eval_incidents})
        out.append(
            Check(
                name="labels",
                status="ok",
                detail=f"{n} labelled incidents in the evaluation window ({kinds} kinds on {services} services; one miss moves recall by {1 / n:.3f})",
            )
        )
    return out


def validate(
    data: Dataset,
    candidates: Sequence[Candidate] = (),
    *,
    max_missing_share: float = 0.05,
    max_staleness_seconds: float = 600.0,
    min_labelled_incidents: int = 10,
) -> ValidationReport:
    """Run every check on ``data`` (and the candidates' training windows); never raises on bad data."""
    checks = [
        _schema(data),
        _gaps(data, max_missing_share),
        _staleness(data, max_staleness_seconds),
        *_history(data, candidates),
        *_labels(data, min_labelled_incidents),
    ]
    return ValidationReport(tuple(checks))
