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
    det = StreamingLinear(noise_change=False)
    found = det.run(t, x)
    flags = np.flatnonzero(found.score >= 1)
    first = flags[flags >= 4500][0]
    assert first < 4500 + 2 * det.change_window_rows and found.component[first] == "level shift"
    assert "level up" in found.explanations[first] and "component level shift" in found.explanations[first]
    off = StreamingLinear(level_shift=False, noise_change=False).run(t, x)
    assert not (off.score[4500 : 4500 + 2 * det.change_window_rows] >= 1).any()


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
