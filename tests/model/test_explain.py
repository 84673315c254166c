"""Explanations come from the model's own numbers and add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import FleetModel, LinearBaseline, explain_points, format_value, render_sentence
from model._features import DAY_SECONDS

from model_helpers import fleet_frame


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n_series=st.integers(1, 5),
    n_context=st.integers(0, 3),
    days=st.sampled_from([1.5, 3.0, 8.0]),
    daily_order=st.integers(0, 4),
    weekly_order=st.integers(0, 3),
    trend=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_baseline_plus_contributions_is_expected_and_residual_is_actual_minus_expected(
    seed, n_series, n_context, days, daily_order, weekly_order, trend, dtype
):
    rng = np.random.default_rng(seed)
    t = 1_700_000_000.0 + rng.uniform(0, 7 * DAY_SECONDS) + 900.0 * np.arange(int(days * DAY_SECONDS / 900))
    T = len(t)
    context = rng.normal(rng.uniform(-50, 50, (1, n_series, n_context)), rng.uniform(0.1, 10, (1, n_series, n_context)), (T, n_series, n_context))
    y = rng.normal(0, 1, (T, n_series)) * rng.uniform(0.01, 100, n_series) + context.sum(axis=2) * rng.uniform(-2, 2)
    model = LinearBaseline(
        daily_order=daily_order, weekly_order=weekly_order, trend=trend, context_names=tuple(f"c{j}" for j in range(n_context)), dtype=dtype
    ).fit(t, y, context)
    points = [(int(rng.integers(0, T)), int(rng.integers(0, n_series))) for _ in range(6)]
    summary, terms = explain_points(model, t, y, context, points)

    rebuilt = summary["baseline"].to_numpy() + terms.groupby("point")["contribution"].sum().reindex(range(len(points)), fill_value=0.0).to_numpy()
    np.testing.assert_allclose(rebuilt, summary["expected"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(summary["residual"], summary["actual"] - summary["expected"], rtol=1e-12, atol=1e-12)
    # ... and it is the model's own expected value and score
    predicted = model.predict(t, context)
    rows, cols = np.array(points).T
    tol = 1e-9 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(summary["expected"], predicted[rows, cols], rtol=tol, atol=tol * np.abs(y).max())
    np.testing.assert_allclose(summary["residual_sigma"], summary["residual"] / model.scale_[cols], rtol=1e-12)


def test_format_value_units():
    assert format_value(210.4, "rps") == "210/s"
    assert format_value(0.41, "seconds") == "410 ms"
    assert format_value(2.5, "seconds") == "2.50 s"
    assert format_value(0.0321, "ratio") == "3.21 %"
    assert format_value(512e6, "bytes") == "512 MB"
    assert format_value(0.05, "seconds", signed=True) == "+50.0 ms"
    assert format_value(-0.002, "seconds", signed=True) == "-2.00 ms"


def test_sentence_is_rendered_from_the_numbers_only_and_its_parts_add_up_to_the_expected_value():
    summary = {"actual": 0.41, "expected": 0.13, "residual_sigma": 9.31, "baseline": 0.06}
    terms = pd.DataFrame(
        {
            "term": ["time of day", "requests"],
            "is_context": [False, True],
            "value": [np.nan, 210.0],
            "contribution": [0.02, 0.05],
        }
    )
    sentence = render_sentence(
        summary, terms, subject="checkout p95 latency", unit="seconds", term_labels={"requests": "request rate"}, term_units={"requests": "rps"}
    )
    assert sentence == (
        "checkout p95 latency 410 ms vs 130 ms expected = baseline 60.0 ms + request rate 210/s +50.0 ms + time of day +20.0 ms; "
        "residual +9.3 robust σ"
    )
    shortest = render_sentence(summary, terms, subject="checkout p95 latency", unit="seconds", max_terms=1)
    # the largest term only (no label or unit given: raw name and number), the rest summed, so the parts still add up
    assert "= baseline 60.0 ms + requests 210 +50.0 ms + 1 other term +20.0 ms;" in shortest
    no_baseline = render_sentence({k: v for k, v in summary.items() if k != "baseline"}, terms, subject="x", unit="seconds")
    assert "expected = request rate" not in no_baseline and "expected = requests 210 +50.0 ms + time of day +20.0 ms;" in no_baseline


def test_fleet_model_explains_each_flag_with_data_and_a_sentence():
    frame = fleet_frame(9, seed=4)
    cut = frame.index[0] + pd.Timedelta(days=8)
    train, test = frame[frame.index < cut], frame[frame.index >= cut].copy()
    test.loc[test.index[50:56], ("checkout", "latency")] += 0.05
    model = FleetModel().fit(train)
    explanation = model.explain(test)
    s = explanation.summary
    assert len(s) >= 4 and set(s["service"]) == {"checkout"} and set(s["signal"]) == {"latency"}
    # the debounced flags (2 of the last 3 points) may run one point past the last score >= 1
    assert (s["anomaly_score"] >= 1).sum() >= 4
    terms = explanation.terms
    assert set(terms["term"]) >= {"time of day", *model.signal_set_.spec("latency").context}
    assert "requests" in model.signal_set_.spec("latency").context
    per_point = terms.groupby("point")["contribution"].sum()
    np.testing.assert_allclose(s["baseline"] + per_point.to_numpy(), s["expected"], rtol=1e-12)
    row = s.iloc[0]
    assert explanation.sentences[0].startswith(f"checkout p95 latency {format_value(row['actual'], 'seconds')} vs ")
    assert "request rate" in explanation.sentences[0] and "robust σ" in explanation.sentences[0]
    assert f"expected = baseline {format_value(row['baseline'], 'seconds')} + " in explanation.sentences[0]


def test_explaining_nothing_returns_empty_frames():
    frame = fleet_frame(8, seed=5)
    model = FleetModel().fit(frame)
    none = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    explanation = model.explain(frame, none)
    assert explanation.summary.empty and explanation.terms.empty
    assert "sentence" in explanation.summary.columns
