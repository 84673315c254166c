"""Change components (level shift, noise change, spike) and the streaming linear detector's robustness to glitches."""

from __future__ import annotations

import numpy as np
import pytest

from model._changes import COMPONENTS, ChangeSettings, calibrate_changes, change_scores, combine, standardise, window_stats
from model._streaming import StreamingLinear

STEP = 300.0


def _series(n: int = 6000, seed: int = 0, *, heavy: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 1.7e9 + STEP * np.arange(n)
    noise = rng.standard_t(2, n) if heavy else rng.normal(0, 1, n)
    return t, 100 + 10 * np.sin(2 * np.pi * t / 86400) + noise


def test_one_glitch_does_not_blind_the_scale_to_a_spike_2000_rows_later():
    t, x = _series()
    x[3000] = 1e9
    x[5000] += 40  # 40 sigma of the noise
    found = StreamingLinear().run(t, x)
    assert found.score[5000] >= 1 and found.component[5000] == "point"
    assert "component point" in found.explanations[5000]
    # the same detector without the clipping: the glitch bends the fits and hides the spike
    assert StreamingLinear(fit_clip_sigmas=np.inf).run(t, x).score[5000] < 1


@pytest.mark.parametrize("glitch", [1e308, -1e308, 1e200])
def test_an_extreme_glitch_does_not_blind_the_scale_either(glitch):
    t, x = _series()
    x[3000] = glitch
    x[3500] += 40  # 40 sigma of the noise, within the history of every fit that saw the glitch
    found = StreamingLinear().run(t, x)
    assert found.score[3500] >= 1 and found.component[3500] == "point"
    # every fit keeps a scale of the noise's size, not of the glitch's
    assert "residual +" in found.explanations[3500] and float(found.explanations[3500].split("residual ")[1].split(" ")[0]) > 20


def test_on_a_strongly_seasonal_series_clipping_around_the_last_fit_holds_a_glitch():
    # a daily swing of 50 noise sigmas: the median clip lets a 1e308 glitch in at 50 swing-sized
    # sigmas, which bends every fit that sees it; clipped around the fit before, it does not
    rng = np.random.default_rng(0)
    t = 1.7e9 + STEP * np.arange(6000)
    clean = 100 + 50 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 1, t.size)
    clean[3500] += 10  # 10 sigma of the noise
    x = clean.copy()
    x[3000] = 1e308
    unharmed = StreamingLinear().run(t, clean).score[3500]
    held = StreamingLinear().run(t, x).score[3500]  # clip_around_last_fit is on by default
    assert unharmed >= 1 and held == pytest.approx(unharmed, rel=0.05)
    assert StreamingLinear(clip_around_last_fit=False).run(t, x).score[3500] < 1  # the median clip alone misses it


def test_clipping_around_the_last_fit_never_clips_a_row_up_to_a_prediction_its_lag_glitch_made():
    class LastFit:  # a fit whose prediction for the row after a glitch took the glitch as its lag input
        scale_ = np.array([1.0])

        def predict(self, t, context):
            return np.array([[0.0], [5e307], [0.0], [np.nan]])

    target = np.array([[500.0], [2.0], [-1.0], [3.0]])
    out = StreamingLinear(clip_around_last_fit=True)._clipped_to_fit(LastFit(), np.arange(4.0), target, np.zeros((4, 1, 1)))
    assert out[:, 0].tolist() == [50.0, 2.0, -1.0, 3.0]  # the glitch clipped at 50 σ; the rest as they were


def test_extreme_values_do_not_crash_and_every_score_is_finite():
    t, x = _series()
    x[2000], x[2001], x[2500] = 1e308, -1e308, np.nan
    x[4000:4003] = np.inf
    found = StreamingLinear(spike=True).run(t, x)
    assert np.isfinite(found.score).all() and (found.score >= 0).all()
    assert found.score[2000] >= 1


def test_a_level_shift_too_small_for_any_point_is_flagged_and_named():
    # heavy-tailed noise: the point threshold is calibrated far out (about 20 sigma), a step of 10 stays under it
    t, x = _series(seed=1, heavy=True)
    x[4500:] += 10.0
    # a one-day level window (the rolling median a shift must outrun: half a day catches up within hours), and no
    # rest period (heavy-tailed noise flags now and then, and a flag just before the step would silence it)
    det = StreamingLinear(level_shift=True, noise_change=False, level_seconds=86400.0, cooldown_seconds=0)
    found = det.run(t, x)
    window = det.rows(t).change_window
    flags = np.flatnonzero(found.score >= 1)
    first = flags[flags >= 4500][0]
    assert first < 4500 + 2 * window and found.component[first] == "level shift"
    assert "level up" in found.explanations[first] and "component level shift" in found.explanations[first]
    off = StreamingLinear(level_shift=False, noise_change=False, level_seconds=86400.0, cooldown_seconds=0).run(t, x)
    assert not (off.score[4500 : 4500 + 2 * window] >= 1).any()


def test_a_noise_change_is_flagged_and_named():
    t, x = _series(seed=2)
    rng = np.random.default_rng(9)
    x[4500:] += rng.normal(0, 5, x.size - 4500)  # noise x5
    found = StreamingLinear(level_shift=False).run(t, x)
    flags = np.flatnonzero(found.score >= 1)
    after = flags[flags >= 4500]
    assert len(after) and found.component[after[0]] in ("noise change", "point")
    assert any(found.component[i] == "noise change" and "noise ×" in found.explanations[i] for i in after)


def test_components_off_score_the_point_only():
    t, x = _series(seed=3)
    x[4000:] += 3.0
    plain = StreamingLinear(level_shift=False, noise_change=False, spike=False).run(t, x)
    assert set(plain.component[plain.score > 0]) <= {"point"}


def test_combine_takes_the_largest_and_names_it_and_keeps_missing_values_missing():
    point = np.array([[0.5], [2.0], [np.nan], [0.1]])
    level = np.array([[1.5], [1.0], [3.0], [0.0]])
    score, which = combine(point, {"level shift": level})
    np.testing.assert_array_equal(score[:, 0], [1.5, 2.0, np.nan, 0.1])
    assert [COMPONENTS[i] for i in which[:, 0]] == ["level shift", "point", "point", "point"]


def test_window_statistics_and_calibration_put_the_threshold_at_the_floor_or_the_tail():
    rng = np.random.default_rng(4)
    r = rng.normal(0, 1, (5000, 2))
    r[:, 1] *= 3
    stats = window_stats(r, 12, 12)
    assert np.isnan(stats.median[:11]).all() and np.isfinite(stats.median[11:]).all()
    z = standardise(r, stats, np.array([1.0, 1.0]), ("level shift", "noise change"))
    typical = np.nanmedian(z["noise change"], axis=0)  # the smaller of two 6-row IQRs reads low (about 0.55 sigma)
    assert 0.4 < typical[0] < 1.0 and typical[1] / typical[0] == pytest.approx(3.0, rel=0.1)
    thr = calibrate_changes(z, None, ChangeSettings())
    assert thr["level shift"][0] == pytest.approx(4.0)  # the floor: the window median of unit noise stays well under it
    assert thr["noise change"][1] > 3.0  # the tail of a series three times noisier
    scores = change_scores(z, thr, sigma=np.array([1.0, 1.0]))
    assert (np.nanmax(scores["noise change"], axis=0) <= 1.0 + 1e-9).all()  # the training tail scores at most 1 / factor


def test_a_level_step_inside_the_window_reads_as_a_level_shift_not_as_noise():
    rng = np.random.default_rng(5)
    r = rng.normal(0, 1, (400, 1))
    r[200:] += 30.0
    stats = window_stats(r, 12, 12)
    z = standardise(r, stats, np.array([1.0]), ("level shift", "noise change"))
    across = slice(200, 212)  # windows holding both sides of the step
    assert np.nanmax(z["noise change"][across]) < 2.0
    assert np.nanmax(z["level shift"][across]) > 20.0


# --------------------------------------------------------------------------- the fleet model (live and offline)
def _fleet_with_step(shift: float = 0.05):
    import pandas as pd

    from model import FleetModel
    from model_helpers import fleet_frame

    frame = fleet_frame(9, seed=4)
    cut = frame.index[0] + pd.Timedelta(days=8)
    train, test = frame[frame.index < cut], frame[frame.index >= cut].copy()
    test.loc[test.index[100:], ("checkout", "latency")] += shift  # a lasting step from row 100
    return FleetModel, train, test


def test_the_fleet_model_names_the_component_of_each_flag_and_its_scores_agree_everywhere():
    from model import load_signals

    FleetModel, train, test = _fleet_with_step()
    model = FleetModel(load_signals().with_overrides(change_window_seconds=3600.0)).fit(train)  # 12 rows at this 5-minute step
    rows = model.detect(test)
    latency = rows[(rows["service"] == "checkout") & (rows["signal"] == "latency")].set_index("timestamp")
    after = latency["component"].iloc[110:]
    # once the window holds the step, its median often scores highest (the point score wins where the noise adds to it)
    assert set(after) <= {"level shift", "point"} and (after == "level shift").mean() > 0.3
    wide = model.score(test)[("checkout", "latency")]
    np.testing.assert_allclose(latency["anomaly_score"].to_numpy(), wide.to_numpy(), rtol=1e-6)
    explained = model.explain(test)
    s = explained.summary
    later = s[(s["component"] == "level shift")]
    assert len(later) and all("; level up " in x and "component level shift, score" in x for x in later["sentence"])
    # the point part of the sentence (the decomposition) is still there
    assert all(x.startswith("checkout p95 latency ") and "expected = baseline " in x for x in later["sentence"])
    assert set(s["component"]) <= {"point", "level shift", "noise change"}
    assert all(f"component {c}, score" in x for c, x in zip(s["component"], s["sentence"]))


def test_with_the_change_components_off_the_fleet_model_scores_the_point_only():
    from model import load_signals

    FleetModel, train, test = _fleet_with_step()
    off = load_signals().with_overrides(change_level_shift=False, change_noise=False, change_spike=False)
    model = FleetModel(off).fit(train)
    assert model.change_thresholds_ == {}
    rows = model.detect(test)
    assert set(rows["component"]) <= {"point", ""}
    on = FleetModel().fit(train)
    point = on.models_["latency"].decision_function(test.index, *FleetModel._arrays(test, on.services_["latency"], on.signal_set_.spec("latency")))
    np.testing.assert_allclose(model.score(test)[("checkout", "latency")].to_numpy(), point[:, on.services_["latency"].index("checkout")], rtol=1e-6)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"level": True}, "changes has unknown keys"),
        ({"level_shift": "yes"}, "changes.level_shift must be true or false"),
        ({"level_floor": "high"}, "changes.level_floor must be a number"),
        ({"noise_floor": 0}, "changes.noise_floor must be > 0"),
        ({"window": "soon"}, "changes.window must be a positive duration"),
        ({"calibration_quantile": 2}, "changes.calibration_quantile must be in"),
    ],
)
def test_a_bad_changes_section_is_refused_naming_the_key(changes, message):
    import yaml

    from model import SignalsError, parse_signals
    from model._signals import SIGNALS_PATH

    raw = yaml.safe_load(SIGNALS_PATH.read_text())
    raw["changes"] = changes
    with pytest.raises(SignalsError, match=message):
        parse_signals(raw)


def test_the_changes_section_is_read_into_the_signal_set():
    from model import load_signals

    s = load_signals()
    assert s.change_window_seconds == 600.0 and s.change_settings().enabled() == ("level shift", "noise change")
    assert s.change_history_seconds() == 600.0 and s.without_changes().change_history_seconds() == 0.0
