"""The batched linear baseline and the frame-level FleetModel built on it."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.metrics import roc_auc_score

from model import FleetModel, LinearBaseline, anomaly_score, calibrate_threshold, cap_exclusions, load_signals
from model._features import DAY_SECONDS, seasonal_design

from model_helpers import SERVICES, fleet_frame

START = 1_700_006_400.0  # a Wednesday 00:00 UTC
STEP = 600.0


def grid(days: float, start: float = START, step: float = STEP) -> np.ndarray:
    return start + step * np.arange(int(days * DAY_SECONDS / step))


def fleet(times: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Latency-like targets (T, n) driven by a traffic-like context (T, n, 1), noise sizes differing by series."""
    rng = np.random.default_rng(seed)
    day = 2 * np.pi * (times % DAY_SECONDS) / DAY_SECONDS
    traffic = rng.uniform(20, 300, n) * (1 + 0.4 * np.cos(day - 2.6))[:, None] * (1 + 0.03 * rng.standard_normal((len(times), n)))
    noise = rng.uniform(0.001, 0.02, n)
    y = 0.05 + rng.uniform(1e-4, 1e-3, n) * traffic + 0.01 * np.sin(day)[:, None] + noise * rng.standard_normal((len(times), n))
    return y, traffic[:, :, None]


# --------------------------------------------------------------------------- estimator contract
def test_init_only_stores_parameters_and_clone_works():
    model = LinearBaseline(daily_order=2, direction="sideways", chunk_size=-3)  # nothing validated here
    assert model.get_params()["daily_order"] == 2
    assert clone(model).get_params() == model.get_params()
    assert not any(k.endswith("_") for k in vars(model))


def test_unfitted_model_raises_not_fitted():
    model = LinearBaseline()
    t = grid(3)
    y = np.zeros((len(t), 2))
    for call in (lambda: model.predict(t), lambda: model.decision_function(t, y), lambda: model.detect(t, y), lambda: model.decompose(t)):
        with pytest.raises(NotFittedError):
            call()


def test_fit_returns_self_with_trailing_underscore_attributes():
    t = grid(8)
    y, ctx = fleet(t, 5)
    model = LinearBaseline(context_names=("requests",))
    assert model.fit(t, y, ctx) is model
    F = model.n_seasonal_
    assert model.coef_.shape == (5, F + 1)
    assert model.intercept_.shape == model.scale_.shape == model.threshold_.shape == (5,)
    assert model.feature_names_[-1] == "requests" and len(model.feature_names_) == F + 1


def test_decision_function_changes_no_state():
    t = grid(8)
    y, ctx = fleet(t, 6)
    model = LinearBaseline(context_names=("requests",)).fit(t, y, ctx)
    before = copy.deepcopy(vars(model))
    model.decision_function(t[:50], y[:50] * 3, ctx[:50])
    model.detect(t[:50], y[:50], ctx[:50])
    model.decompose(t[:5], ctx[:5])
    after = vars(model)
    assert before.keys() == after.keys()
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, after[k])
        else:
            assert v == after[k]


# --------------------------------------------------------------------------- the fit itself
def test_batched_fit_matches_sklearn_per_series():
    t = grid(9)
    y, ctx = fleet(t, 4, seed=3)
    model = LinearBaseline(context_names=("requests",), ridge=0.0, dtype="float64").fit(t, y, ctx)
    X = seasonal_design(t, model.feature_names_[: model.n_seasonal_], trend_origin_seconds=model.trend_origin_seconds_, dtype=np.float64)
    for s in range(4):
        ref = LinearRegression().fit(np.column_stack([X, ctx[:, s, 0]]), y[:, s])
        np.testing.assert_allclose(model.coef_[s], ref.coef_, rtol=1e-6, atol=1e-9)
        assert model.intercept_[s] == pytest.approx(ref.intercept_, rel=1e-7)


def test_float32_agrees_with_float64():
    t = grid(8)
    y, ctx = fleet(t, 30, seed=4)
    m32 = LinearBaseline(context_names=("requests",), dtype="float32").fit(t, y, ctx)
    m64 = LinearBaseline(context_names=("requests",), dtype="float64").fit(t, y, ctx)
    np.testing.assert_allclose(m32.predict(t, ctx), m64.predict(t, ctx), rtol=1e-4)
    np.testing.assert_allclose(m32.threshold_, m64.threshold_, rtol=1e-3)


def test_chunking_threads_and_memory_layout_do_not_change_results():
    t = grid(8)
    y, ctx = fleet(t, 21, seed=5)
    y[5:9, 3] = np.nan  # one batch takes the masked path
    a = LinearBaseline(context_names=("requests",), dtype="float64", chunk_size=4).fit(t, y, ctx)
    b = LinearBaseline(context_names=("requests",), dtype="float64", chunk_size=1000).fit(t, np.asfortranarray(y), np.asfortranarray(ctx))
    c = LinearBaseline(context_names=("requests",), dtype="float64", chunk_size=4, n_jobs=3).fit(t, y, ctx)
    for other in (b, c):
        np.testing.assert_allclose(a.coef_, other.coef_, rtol=1e-9)
        np.testing.assert_allclose(a.threshold_, other.threshold_, rtol=1e-9)
        np.testing.assert_allclose(a.decision_function(t, y, ctx), other.decision_function(t, y, ctx), rtol=1e-9)
        np.testing.assert_allclose(a.predict(t, ctx), other.predict(t, ctx), rtol=1e-9)


def test_terms_appear_only_with_enough_history():
    def names(days):
        t = grid(days)
        return LinearBaseline().fit(t, np.random.default_rng(0).normal(size=(len(t), 1))).feature_names_

    assert names(1) == ()
    assert any(n.startswith("daily") for n in names(3)) and not any(n.startswith("weekly") for n in names(3))
    assert any(n.startswith("weekly") for n in names(7))


def test_calibration_in_fit_equals_the_reference_functions():
    t = grid(8)
    y, ctx = fleet(t, 12, seed=6)
    y[:, ::3] += np.random.default_rng(0).standard_t(2, size=(len(t), 4)) * 0.02  # heavier tails on some
    model = LinearBaseline(context_names=("requests",), dtype="float64").fit(t, y, ctx)
    residual = y - model.predict(t, ctx)
    np.testing.assert_allclose(model.threshold_, calibrate_threshold(residual / model.scale_), rtol=1e-9)
    np.testing.assert_allclose(
        model.decision_function(t, y, ctx), anomaly_score(residual, model.scale_, model.threshold_), rtol=1e-9
    )


def test_nan_points_are_left_out():
    t = grid(8)
    y, ctx = fleet(t, 3, seed=7)
    y[100:110, 1] = np.nan
    ctx[200:205, 2, 0] = np.nan
    model = LinearBaseline(context_names=("requests",)).fit(t, y, ctx)
    assert list(model.n_fit_points_) == [len(t), len(t) - 10, len(t) - 5]
    assert np.isfinite(model.coef_).all()


# --------------------------------------------------------------------------- quality
def test_injected_spikes_are_found_quality_floor():
    rng = np.random.default_rng(11)
    t = grid(9)
    y, ctx = fleet(t, 40, seed=11)
    train = t < t[0] + 8 * DAY_SECONDS
    model = LinearBaseline(context_names=("requests",)).fit(t[train], y[train], ctx[train])
    test_y = y[~train].copy()
    labels = np.zeros(test_y.shape, dtype=bool)
    rows = rng.integers(0, test_y.shape[0], 40)
    labels[rows, np.arange(40)] = True
    noise = np.std(y[train] - model.predict(t[train], ctx[train]), axis=0)
    test_y[labels] += (6 * noise)[np.nonzero(labels)[1]]
    score = model.decision_function(t[~train], test_y, ctx[~train])
    assert roc_auc_score(labels.ravel(), score.ravel()) >= 0.98
    flagged = score >= 1
    assert flagged[labels].mean() >= 0.8  # recall at the model's own threshold
    assert flagged[~labels].mean() <= 0.002  # false positive rate


def test_context_explains_a_traffic_rise_that_seasonality_alone_would_flag():
    t = grid(9)
    y, ctx = fleet(t, 10, seed=12)
    train = t < t[0] + 8 * DAY_SECONDS
    with_ctx = LinearBaseline(context_names=("requests",)).fit(t[train], y[train], ctx[train])
    seasonal_only = LinearBaseline().fit(t[train], y[train])
    # Traffic doubles on the last day, and latency follows it as it always has.
    ctx2 = ctx[~train] * 2
    slope = with_ctx.coef_[:, -1]
    y2 = y[~train] + slope * ctx[~train, :, 0]
    assert np.mean(with_ctx.decision_function(t[~train], y2, ctx2) >= 1) < 0.01
    assert np.mean(seasonal_only.decision_function(t[~train], y2) >= 1) > 0.5


# --------------------------------------------------------------------------- self-cleaning
def _band_width(model: LinearBaseline) -> np.ndarray:
    return model.scale_ * model.threshold_


def test_an_ended_incident_left_out_does_not_widen_the_band():
    t = grid(8)
    y, ctx = fleet(t, 8, seed=13)
    clean = LinearBaseline(context_names=("requests",)).fit(t, y, ctx)
    hit = y.copy()
    incident = (t >= t[0] + 3 * DAY_SECONDS) & (t < t[0] + 3 * DAY_SECONDS + 6 * 3600)
    hit[incident] += 0.3  # a six-hour incident inside the training week
    exclude = np.repeat(incident[:, None], y.shape[1], axis=1)
    dirty = LinearBaseline(context_names=("requests",)).fit(t, hit, ctx)
    cleaned = LinearBaseline(context_names=("requests",)).fit(t, hit, ctx, exclude=exclude)
    assert np.all(_band_width(dirty) > 1.5 * _band_width(clean))
    np.testing.assert_allclose(_band_width(cleaned), _band_width(clean), rtol=0.15)
    np.testing.assert_allclose(cleaned.excluded_share_, incident.mean(), rtol=1e-9)


def test_the_exclusion_cap_lets_a_lasting_level_shift_become_normal():
    t = grid(8)
    rng = np.random.default_rng(14)
    y = rng.normal(0.0, 1.0, size=(len(t), 1))
    shifted = t >= t[0] + 2 * DAY_SECONDS  # from day 2 of 8 on, 20 sigma higher, every point flagged
    y[shifted] += 20.0
    flagged = shifted[:, None]
    capped = LinearBaseline(max_excluded_share=0.25, daily_order=0, weekly_order=0).fit(t, y, exclude=flagged)
    uncapped = LinearBaseline(max_excluded_share=0.99, daily_order=0, weekly_order=0).fit(t, y, exclude=flagged)
    assert capped.excluded_share_[0] == pytest.approx(0.25, abs=1 / len(t))
    # Without a cap the fit sees only the old level and would flag the new one forever.
    assert uncapped.predict(t[-1:])[0, 0] == pytest.approx(0.0, abs=0.5)
    assert uncapped.decision_function(t[-1:], y[-1:])[0, 0] > 1
    # With the cap 2 of the 6 shifted days stay out, 4 are fitted beside 2 old ones:
    # the new level dominates the fit and is no longer anomalous.
    assert capped.predict(t[-1:])[0, 0] == pytest.approx(20.0 * 4 / 6, abs=0.5)
    assert capped.decision_function(t[-1:], y[-1:])[0, 0] < 1


def test_cap_exclusions_priority_and_oldest_first():
    incidents = np.zeros((10, 1), dtype=bool)
    incidents[6:9] = True
    flags = np.zeros((10, 1), dtype=bool)
    flags[0:5] = True
    out = cap_exclusions([incidents, flags], 0.4)  # budget 4 points
    assert out[6:9, 0].all()  # incidents first
    assert list(np.flatnonzero(out[:, 0])) == [0, 6, 7, 8]  # then the oldest flag


# --------------------------------------------------------------------------- FleetModel
def test_fleet_model_fits_declared_signals_with_their_context():
    frame = fleet_frame(8)
    model = FleetModel().fit(frame)
    assert set(model.models_) == {"requests", "cpu", "latency", "errors"}
    assert model.models_["latency"].context_names_ == load_signals().spec("latency").context == ("requests",)
    assert model.services_["latency"] == SERVICES
    assert load_signals().spec("latency").promql.startswith("histogram_quantile(0.95")


def test_fleet_model_detect_is_tidy_and_flags_an_injected_latency_regression():
    frame = fleet_frame(9, seed=1)
    cut = frame.index[0] + pd.Timedelta(days=8)
    train, test = frame[frame.index < cut], frame[frame.index >= cut].copy()
    test.loc[test.index[100:110], ("checkout", "latency")] += 0.05
    model = FleetModel().fit(train)
    out = model.detect(test)
    assert list(out.columns) == ["timestamp", "service", "signal", "value", "expected", "lower", "upper", "anomaly_score", "anomalous", "component"]
    assert len(out) == len(test) * 8
    hits = out[out.anomalous]
    assert set(zip(hits.service, hits.signal)) == {("checkout", "latency")}
    assert hits.timestamp.min() <= test.index[102]
    lat = out[(out.service == "checkout") & (out.signal == "latency")]
    assert np.all(np.isinf(lat.lower)) and np.all(lat.upper > lat.expected)  # latency watches "above" only


def test_fleet_model_never_reads_columns_it_does_not_model():
    frame = fleet_frame(8, seed=2)
    with_truth = frame.copy()
    truth = np.random.default_rng(0).integers(0, 2, (len(frame), len(SERVICES))).astype(float)
    for i, s in enumerate(SERVICES):  # ground truth beside the signals, as a careless caller might pass it
        with_truth[(s, "incident_active")] = truth[:, i]
    a = FleetModel().fit(frame).score(frame)
    b = FleetModel().fit(with_truth).score(with_truth)
    pd.testing.assert_frame_equal(a, b)


def test_fleet_model_leaves_out_only_incidents_that_had_ended():
    frame = fleet_frame(8, seed=3)
    hit = frame.copy()
    start, end = frame.index[0] + pd.Timedelta(days=3), frame.index[0] + pd.Timedelta(days=3, hours=6)
    rows = (frame.index >= start) & (frame.index < end)
    hit.loc[rows, ("checkout", "latency")] += 0.05
    plain = FleetModel().fit(hit).models_["latency"]
    cleaned = FleetModel().fit(hit, incidents=[("checkout", start, end)]).models_["latency"]
    running = FleetModel().fit(hit, incidents=[("checkout", start, None)]).models_["latency"]
    i = SERVICES.index("checkout")
    assert cleaned.scale_[i] * cleaned.threshold_[i] < 0.7 * plain.scale_[i] * plain.threshold_[i]
    assert cleaned.excluded_share_[i] > 0 and cleaned.excluded_share_[1 - i] == 0
    assert running.excluded_share_[i] == 0  # no end known at fit time: nothing to leave out


def test_fleet_model_leaves_earlier_flags_out_of_the_next_fit():
    frame = fleet_frame(8, seed=6)
    model = FleetModel().fit(frame)
    flagged = pd.DataFrame(False, index=frame.index, columns=model.score(frame).columns)
    flagged.iloc[100:200, flagged.columns.get_loc(("frontend", "requests"))] = True
    refit = FleetModel().fit(frame, flagged=flagged)
    share = refit.models_["requests"].excluded_share_
    assert share[0] == pytest.approx(100 / len(frame)) and share[1] == 0
    assert refit.models_["latency"].excluded_share_.sum() == 0  # flags act on their own series only


def test_recalibrate_on_the_fits_own_residuals_gives_its_own_calibration_and_sees_a_glitch_it_is_given():
    t = grid(7)
    x, ctx = fleet(t, 3)
    model = LinearBaseline(context_names=("traffic",)).fit(t, x, ctx)
    scale, threshold = model.scale_.copy(), model.threshold_.copy()
    residual = x - model.predict(t, ctx)
    model.recalibrate(residual, floor=1e-9)  # float64 residuals of a float32 fit: equal to its precision
    assert np.allclose(model.scale_, scale, rtol=1e-5) and np.allclose(model.threshold_, threshold, rtol=1e-5)
    # residuals with heavy tails on series 1 only: its threshold moves out, the others' stay
    heavy = residual.copy()
    heavy[:: 50, 1] += 40 * scale[1]
    model.recalibrate(heavy, floor=1e-9)
    heavy_threshold = model.threshold_[1]
    assert heavy_threshold > 2 * threshold[1] and np.allclose(model.threshold_[[0, 2]], threshold[[0, 2]], rtol=1e-5)
    # rows marked not valid do not count: without the glitch rows, series 1 is back near its own calibration
    model.recalibrate(heavy, np.broadcast_to(np.arange(t.size)[:, None] % 50 != 0, heavy.shape), floor=1e-9)
    assert model.threshold_[1] == pytest.approx(threshold[1], rel=0.2) and model.threshold_[1] < heavy_threshold
    with pytest.raises(ValueError, match=r"residual must be \(T, 3\)"):
        model.recalibrate(residual[:, :2], floor=1e-9)
