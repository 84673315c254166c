"""Train and evaluate: one fit at the evaluation start, scored with the evaluation package's matching; a quality floor."""

from __future__ import annotations

import pytest

from training import Candidate, Dataset, evaluate_model, fit_candidate, n_coefficients


@pytest.fixture(scope="module")
def packaged(dataset: Dataset):
    model, start = fit_candidate(Candidate(id="c1", train_days=3.0), dataset)
    return model, start, evaluate_model(model, dataset)


def test_a_candidate_is_fitted_at_the_evaluation_start_on_its_window_only(dataset: Dataset, packaged) -> None:
    model, start, _ = packaged
    assert model.fit_time_.timestamp() == dataset.eval_start_seconds
    assert start == dataset.eval_start_seconds - 3 * 86_400.0
    assert all(m.n_fit_points_.max() <= 3 * 1440 for m in model.models_.values())
    # 3 days: the daily terms (4 pairs, 8 for disk) and the context, no weekly terms
    assert n_coefficients(model) == 6 * 8 + 16 + 4
    # the training window's labelled incidents are left out of the fit (self-cleaning)
    assert max(float(m.excluded_share_.max()) for m in model.models_.values()) > 0


def test_the_kits_model_clears_the_quality_floor_on_the_labelled_incidents(dataset: Dataset, packaged) -> None:
    _, _, e = packaged
    assert e.summary["incidents"] == len(dataset.eval_incidents) == 21
    assert e.recall >= 0.9 and e.precision >= 0.8 and e.f1 >= 0.85  # the gate's floors are 0.8
    assert e.median_ttd_seconds is not None and 0 < e.median_ttd_seconds < 300
    assert 0 < e.residual_error < 0.6 and set(e.mae_by_signal) == set(dataset.signals.names())
    assert e.metrics()["mae_latency"] == e.mae_by_signal["latency"] > 0


def test_a_flat_model_has_a_larger_residual_error_and_scoring_changes_nothing(dataset: Dataset, packaged) -> None:
    model, _, e = packaged
    flat, _ = fit_candidate(Candidate(id="c2", daily_order=0, weekly_order=0, context=False, train_days=3.0), dataset)
    worse = evaluate_model(flat, dataset)
    assert n_coefficients(flat) == 0
    assert worse.residual_error > e.residual_error + 0.2
    again = evaluate_model(model, dataset)
    assert again.summary == e.summary and again.residual_error == e.residual_error
