"""Scoring: robust scale, per-series calibration, direction, floor, bands, debounce."""

from __future__ import annotations

import numpy as np
import pytest

from model import anomaly_score, bands, calibrate_threshold, debounce, robust_scale


def test_robust_scale_is_sigma_for_gaussian_noise_and_ignores_outliers():
    rng = np.random.default_rng(0)
    r = rng.normal(0.0, 2.0, size=(20_000, 1))
    assert robust_scale(r)[0] == pytest.approx(2.0, rel=0.03)
    spoiled = r.copy()
    spoiled[::20] = 500.0  # 5 % wild points
    assert robust_scale(spoiled)[0] == pytest.approx(2.0, rel=0.10)
    assert spoiled.std() > 50  # what a plain standard deviation would have said


def test_robust_scale_respects_valid_mask_and_flat_series_stay_finite():
    r = np.zeros((100, 2))
    r[:, 0] = np.arange(100.0)
    valid = np.ones((100, 2), dtype=bool)
    valid[50:, 0] = False
    scale = robust_scale(r, valid, floor=1e-9)
    assert scale[0] == pytest.approx(1.4826 * 12, rel=0.1)  # MAD of 0..49 is 12.5 (lower median 12)
    assert scale[1] == 1e-9  # a flat series gets the floor, not zero


def test_calibration_is_per_series_so_score_one_means_the_same_rarity_everywhere():
    rng = np.random.default_rng(1)
    light = rng.normal(size=50_000)
    heavy = rng.standard_t(2, size=50_000)
    z = np.column_stack([light, heavy])
    threshold = calibrate_threshold(z, quantile=0.999, factor=1.25, z_floor=4.0)
    assert threshold[0] == pytest.approx(4.2, abs=0.3)  # Gaussian tail: 1.25 x 3.3
    assert threshold[1] > 3 * threshold[0]  # the heavy tail needs a far higher z for the same rarity
    share_flagged = (np.abs(z) >= threshold).mean(axis=0)
    assert np.all(share_flagged <= 0.001)


def test_direction_and_min_deviation():
    residual = np.array([[-5.0], [-0.5], [0.5], [5.0]])
    scale, threshold = np.array([1.0]), np.array([2.0])
    both = anomaly_score(residual, scale, threshold, direction="both")
    np.testing.assert_allclose(both[:, 0], [2.5, 0.25, 0.25, 2.5])
    above = anomaly_score(residual, scale, threshold, direction="above")
    np.testing.assert_allclose(above[:, 0], [0.0, 0.0, 0.25, 2.5])
    below = anomaly_score(residual, scale, threshold, direction="below")
    np.testing.assert_allclose(below[:, 0], [2.5, 0.25, 0.0, 0.0])
    floored = anomaly_score(residual, scale, threshold, direction="both", min_deviation=1.0)
    np.testing.assert_allclose(floored[:, 0], [2.5, 0.0, 0.0, 2.5])
    with pytest.raises(ValueError):
        anomaly_score(residual, scale, threshold, direction="sideways")


@pytest.mark.parametrize("direction", ["both", "above", "below"])
@pytest.mark.parametrize("min_deviation", [0.0, 10.0])
def test_bands_are_where_the_score_reaches_one(direction, min_deviation):
    """Inside the band the score is < 1, on it >= 1 (under the floor the score is 0, then jumps)."""
    expected = np.array([[100.0, 5.0]])
    scale, threshold = np.array([2.0, 0.1]), np.array([4.0, 5.0])
    lower, upper = bands(expected, scale, threshold, direction=direction, min_deviation=min_deviation)
    for bound, watched in ((upper, direction in ("both", "above")), (lower, direction in ("both", "below"))):
        if watched:
            at = anomaly_score(bound - expected, scale, threshold, direction=direction, min_deviation=min_deviation)
            assert np.all(at >= 1.0 - 1e-12)
            # exactly 1 where the calibrated width, not the floor, sets the band
            by_width = scale * threshold >= min_deviation
            np.testing.assert_allclose(at[:, by_width], 1.0, rtol=1e-12)
            inside = expected + 0.99 * (bound - expected)
            assert np.all(anomaly_score(inside - expected, scale, threshold, direction=direction, min_deviation=min_deviation) < 1)
        else:
            assert np.all(np.isinf(bound))


def test_debounce_k_of_m():
    f = np.array([1, 0, 1, 0, 0, 1, 1, 1, 0, 0], dtype=bool)
    np.testing.assert_array_equal(debounce(f, 2, 3), [0, 0, 1, 0, 0, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(debounce(f, 1, 1), f)
    np.testing.assert_array_equal(debounce(f, 3, 3), [0, 0, 0, 0, 0, 0, 0, 1, 0, 0])
    two = np.column_stack([f, ~f])
    np.testing.assert_array_equal(debounce(two, 2, 3)[:, 0], debounce(f, 2, 3))  # columns independent
    with pytest.raises(ValueError):
        debounce(f, 4, 3)
