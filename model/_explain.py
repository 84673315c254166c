"""Explanations: the model's own numbers for a flagged point, as data and as one sentence.

For a point the linear baseline scored, :func:`explain_points` returns two frames:

- ``summary``, one row per point: ``actual``, ``expected``, ``residual`` (actual minus
  expected), ``robust_sigma`` (the series' scale), ``residual_sigma`` (residual in robust
  sigmas), ``anomaly_score`` and ``baseline`` -- the expected value with every term at
  zero (context at its training mean);
- ``terms``, one row per point and term: the term's name ("time of day", "day of week",
  "trend", or a context signal), the regressor's value (context terms only) and its
  ``contribution`` to the expected value (coefficient x value, context measured from its
  training mean), so ``baseline + sum(contribution) == expected`` row for row.

:func:`render_sentence` turns one point's rows into text using only those numbers, the
baseline first so the parts visibly add up to the expected value, e.g. ``checkout p95
latency 410 ms vs 130 ms expected = baseline 60.0 ms + request rate 210/s +50.0 ms + time of
day +20.0 ms; residual +9.3 robust σ``.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ._linear import LinearBaseline, as_epoch_seconds

__all__ = ["UNITS", "explain_points", "format_value", "render_sentence", "render_sentences"]

#: Units explanations know how to print.
UNITS: tuple[str, ...] = ("rps", "seconds", "ratio", "bytes", "")

SUMMARY_COLUMNS = (
    "actual",
    "expected",
    "residual",
    "robust_sigma",
    "residual_sigma",
    "anomaly_score",
    "baseline",
)


def _num(v: float) -> str:
    """Three significant digits, no exponent for everyday magnitudes."""
    a = abs(v)
    if a == 0 or not math.isfinite(v):
        return f"{v:g}"
    if a >= 1000:
        return f"{v:,.0f}"
    digits = max(0, 2 - int(math.floor(math.log10(a))))
    return f"{v:.{digits}f}"


def format_value(value: float, unit: str, *, signed: bool = False) -> str:
    """``value`` in ``unit`` for a sentence: ``210/s``, ``0.41 s``, ``3.2 %``, ``512 MB``.

    ``signed`` prefixes ``+`` to non-negative values (contributions, residuals).
    """
    sign = "+" if signed and value >= 0 else ""
    if unit == "rps":
        return f"{sign}{_num(value)}/s"
    if unit == "seconds":
        if abs(value) < 1.0 and value != 0:
            return f"{sign}{_num(value * 1000)} ms"
        return f"{sign}{_num(value)} s"
    if unit == "ratio":
        return f"{sign}{_num(value * 100)} %"
    if unit == "bytes":
        for factor, suffix in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if abs(value) >= factor:
                return f"{sign}{_num(value / factor)} {suffix}"
        return f"{sign}{_num(value)} B"
    return f"{sign}{_num(value)}"


def explain_points(
    model: LinearBaseline,
    times: np.ndarray,
    y: np.ndarray,
    context: np.ndarray | None,
    points: Sequence[tuple[int, int]],
    *,
    index: pd.Index | None = None,
    series: Sequence[object] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The numbers behind ``points`` (pairs of row, series position) of a batch the model scores.

    ``times``, ``y`` (T, S) and ``context`` (T, S, C) are what was passed to
    ``model.detect``. ``index`` labels the rows (e.g. timestamps) and ``series`` the
    columns; the frames carry them as ``time`` and ``series``. Returns ``(summary, terms)``
    as described in the module docstring; ``terms`` has a ``point`` column that is the
    summary row's position.
    """
    rows = np.asarray([p[0] for p in points], dtype=np.int64)
    cols = np.asarray([p[1] for p in points], dtype=np.int64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    t_all = as_epoch_seconds(times)
    uniq, inverse = np.unique(rows, return_inverse=True)
    ctx = None if context is None else np.asarray(context, dtype=np.float64)
    if ctx is not None and ctx.ndim == 2:
        ctx = ctx[:, :, None]
    dec = model.decompose(t_all[uniq], None if ctx is None else ctx[uniq])
    contrib = dec.contributions[inverse, cols]  # (N, terms)
    expected = dec.baseline[cols] + contrib.sum(axis=1)
    actual = y[rows, cols]
    residual = actual - expected
    scale = model.scale_[cols]
    unit = scale * model.threshold_[cols]
    dev = {"both": np.abs(residual), "above": np.maximum(residual, 0), "below": np.maximum(-residual, 0)}[model.direction]
    score = np.where(dev < model.min_deviation, 0.0, dev / unit)
    summary = pd.DataFrame(
        {
            "time": (np.asarray(index)[rows] if index is not None else rows),
            "series": (np.asarray(series, dtype=object)[cols] if series is not None else cols),
            "actual": actual,
            "expected": expected,
            "residual": residual,
            "robust_sigma": scale,
            "residual_sigma": residual / scale,
            "anomaly_score": score,
            "baseline": dec.baseline[cols],
        }
    )
    n_terms = len(dec.terms)
    n_seasonal_terms = n_terms - model.n_context_
    values = np.full((len(rows), n_terms), np.nan)
    if model.n_context_:
        values[:, n_seasonal_terms:] = dec.context[inverse, cols]
    terms = pd.DataFrame(
        {
            "point": np.repeat(np.arange(len(rows)), n_terms),
            "term": np.tile(np.asarray(dec.terms, dtype=object), len(rows)),
            "is_context": np.tile(np.arange(n_terms) >= n_seasonal_terms, len(rows)),
            "value": values.reshape(-1),
            "contribution": contrib.reshape(-1),
        }
    )
    return summary, terms


def render_sentence(
    summary_row: Mapping[str, float],
    term_rows: pd.DataFrame,
    *,
    subject: str,
    unit: str,
    term_labels: Mapping[str, str] | None = None,
    term_units: Mapping[str, str] | None = None,
    max_terms: int = 3,
) -> str:
    """One sentence from one point's numbers, whose parts add up to the expected value.

    e.g. ``checkout p95 latency 410 ms vs 130 ms expected = baseline 60.0 ms + request rate
    210/s +50.0 ms + time of day +20.0 ms; residual +9.3 robust σ``. ``subject`` names the
    series ("checkout p95 latency"); after the ``baseline`` (``summary_row["baseline"]``, the
    expected value with every term at zero) come the ``max_terms`` largest contributions,
    largest first, context terms with their current value in their own unit (``term_units``,
    by term name) and label (``term_labels``); the rest are summed into one "N other terms"
    part, so the parts add up to the expected value (up to the rounding of the printed
    digits). A row without ``baseline`` lists the terms only.
    """
    labels = term_labels or {}
    units = term_units or {}
    parts = []
    baseline = summary_row.get("baseline")
    if baseline is not None and math.isfinite(float(baseline)):
        parts.append(f"baseline {format_value(float(baseline), unit)}")
    contribution = term_rows["contribution"].to_numpy(dtype=np.float64)
    term, is_context, value = (term_rows[c].to_numpy() for c in ("term", "is_context", "value"))
    order = np.argsort(-np.abs(contribution), kind="stable")  # largest first, ties in their order
    for i in order[:max_terms]:
        name = labels.get(term[i], term[i])
        if is_context[i]:
            name = f"{name} {format_value(float(value[i]), units.get(term[i], ''))}"
        parts.append(f"{name} {format_value(float(contribution[i]), unit, signed=True)}")
    rest = order[max_terms:]
    if len(rest):
        noun = "other term" if len(rest) == 1 else "other terms"
        parts.append(f"{len(rest)} {noun} {format_value(float(contribution[rest].sum()), unit, signed=True)}")
    terms = f" = {' + '.join(parts)}" if parts else ""
    return (
        f"{subject} {format_value(summary_row['actual'], unit)} vs {format_value(summary_row['expected'], unit)} expected"
        f"{terms}; residual {summary_row['residual_sigma']:+.1f} robust σ"
    )


def render_sentences(
    summary: pd.DataFrame,
    terms: pd.DataFrame,
    *,
    subjects: Sequence[str],
    units: Sequence[str],
    term_labels: Mapping[str, str] | None = None,
    term_units: Mapping[str, str] | None = None,
) -> list[str]:
    """:func:`render_sentence` for every summary row (``subjects``/``units`` per row)."""
    by_point = dict(tuple(terms.groupby("point", sort=False)))
    empty = terms.iloc[0:0]
    return [
        render_sentence(
            row,
            by_point.get(i, empty),
            subject=subjects[i],
            unit=units[i],
            term_labels=term_labels,
            term_units=term_units,
        )
        for i, row in enumerate(summary.to_dict("records"))
    ]
