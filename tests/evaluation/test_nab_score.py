"""NAB scorer: the rules of ../shared/datasets/nab/README.md, checked against a literal reading."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation._nab_score import NEVER_FIRE_THRESHOLD, PROFILES, normalised_score, optimise_threshold, probation_rows, score_corpus, score_file, window_rows

STANDARD = PROFILES["standard"]


def sigma(y: float) -> float:
    return -1.0 if y > 3 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def literal_score(scores, windows, threshold, profile) -> float:
    """The README's rules, one row at a time, with no shared code."""
    n = len(scores)
    probation = min(math.floor(0.15 * n), 750)
    windows = sorted(windows)
    total = 0.0
    found = [False] * len(windows)
    for i, s in enumerate(scores):
        if i < probation or s < threshold:
            continue
        inside = [k for k, (lo, hi) in enumerate(windows) if lo <= i <= hi]
        if inside:
            k = inside[0]
            if not found[k]:
                lo, hi = windows[k]
                w = hi - lo + 1
                total += profile.tp_weight * sigma(-(hi - i + 1) / w) / sigma(-1.0)
                found[k] = True
            continue
        before = [(lo, hi) for lo, hi in windows if hi < i]
        if not before:
            total -= profile.fp_weight
        else:
            lo, hi = before[-1]
            total += profile.fp_weight * sigma((i - hi) / max(hi - lo, 1))
    total -= profile.fn_weight * found.count(False)
    return total


def brute_force_threshold(files, profile) -> tuple[float, float]:
    candidates = sorted({float(v) for s, _ in files for v in s} | {NEVER_FIRE_THRESHOLD})
    totals = [sum(literal_score(s, w, c, profile) for s, w in files) for c in candidates]
    best = max(totals)
    chosen = max(i for i, t in enumerate(totals) if t >= best - 1e-9 * max(1.0, abs(best)))
    return candidates[chosen], totals[chosen]


def test_probation_is_fifteen_percent_capped_at_750():
    assert probation_rows(20) == 3
    assert probation_rows(4032) == 604
    assert probation_rows(10_000) == 750


def test_hand_computed_file():
    # 20 rows: probation 3 rows; one window over rows 10..14 (w = 5).
    scores = np.zeros(20)
    scores[[2, 5, 12, 13, 17]] = 0.9  # 2: probation, 5: FP before any window, 12: TP, 13: free, 17: FP after
    raw = score_file(scores, [(10, 14)], threshold=0.5, profile=STANDARD)
    # TP at row 12: y = -(14 - 12 + 1) / 5 = -0.6 -> sigma(-0.6) / sigma(-1) = 0.905148 / 0.986614
    # FP at row 5: -0.11. FP at row 17: y = (17 - 14) / (5 - 1) = 0.75 -> 0.11 * sigma(0.75) = -0.104945
    assert raw == pytest.approx(0.9174286804 - 0.11 - 0.1049449786, abs=1e-9)
    assert normalised_score(raw, 1, STANDARD) == pytest.approx(85.1241850904, abs=1e-8)
    assert raw == pytest.approx(literal_score(scores, [(10, 14)], 0.5, STANDARD), abs=1e-12)


def test_missed_window_costs_fn_weight_of_each_profile():
    scores = np.zeros(40)
    for profile in PROFILES.values():
        assert score_file(scores, [(20, 25)], threshold=0.5, profile=profile) == -profile.fn_weight


def test_perfect_detector_scores_100_and_never_firing_scores_0():
    rng = np.random.default_rng(1)
    files = []
    for n, spans in ((400, [(100, 140), (250, 300)]), (300, [(200, 230)]), (200, [])):
        scores = np.zeros(n)
        for lo, _ in spans:
            scores[lo] = 1.0
        files.append((scores, spans))
    n_windows = 3
    for profile in PROFILES.values():
        raw = score_corpus(files, threshold=0.5, profile=profile)
        assert normalised_score(raw, n_windows, profile) == pytest.approx(100.0)
        threshold, best = optimise_threshold(files, profile)
        assert threshold == 1.0
        assert normalised_score(best, n_windows, profile) == pytest.approx(100.0)
        silent = [(np.zeros_like(s), w) for s, w in files]
        assert normalised_score(score_corpus(silent, threshold=0.5, profile=profile), n_windows, profile) == 0.0
        threshold, best = optimise_threshold(silent, profile)
        assert threshold == NEVER_FIRE_THRESHOLD
        assert normalised_score(best, n_windows, profile) == 0.0
    # and a detector firing everywhere is far below the null detector
    noisy = [(rng.uniform(0.6, 1.0, s.size), w) for s, w in files]
    assert normalised_score(score_corpus(noisy, threshold=0.5, profile=STANDARD), n_windows, STANDARD) < 0


def test_score_file_matches_literal_reading_on_random_inputs():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(5, 60))
        spans = _random_windows(rng, n)
        scores = rng.choice([0.0, 0.2, 0.5, 0.7, 1.0], size=n)
        threshold = float(rng.choice([0.2, 0.5, 0.7, 1.0]))
        for profile in PROFILES.values():
            assert score_file(scores, spans, threshold=threshold, profile=profile) == pytest.approx(
                literal_score(scores, spans, threshold, profile), abs=1e-12
            )


def random_files(rng, trial: int, *, most_files: int, most_rows: int) -> list:
    """A few files of random scores (on odd trials from five values only: many ties) with random windows."""
    files = []
    for _ in range(int(rng.integers(1, most_files + 1))):
        n = int(rng.integers(5, most_rows))
        scores = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=n) if trial % 2 else np.round(rng.uniform(0, 1, n) ** 3, 3)
        files.append((scores, _random_windows(rng, n)))
    return files


def test_sorted_sweep_equals_brute_force_on_random_inputs():
    rng = np.random.default_rng(3)
    for trial in range(60):
        files = random_files(rng, trial, most_files=3, most_rows=50)
        for profile in PROFILES.values():
            threshold, raw = optimise_threshold(files, profile)
            want_threshold, want_raw = brute_force_threshold(files, profile)
            assert raw == pytest.approx(want_raw, abs=1e-9)
            assert threshold == want_threshold


def test_window_timestamps_map_to_inclusive_rows_with_repeated_timestamps():
    ts = np.array(
        ["2014-03-09 02:50", "2014-03-09 02:55", "2014-03-09 03:00", "2014-03-09 03:00", "2014-03-09 03:00",
         "2014-03-09 03:05", "2014-03-09 03:10"],
        dtype="datetime64[ns]",
    )
    assert window_rows(ts, [("2014-03-09 03:00:00.000000", "2014-03-09 03:05:00.000000")]) == [(2, 5)]
    assert window_rows(ts, [("2014-03-09 02:50:00", "2014-03-09 03:00:00")]) == [(0, 4)]
    with pytest.raises(ValueError, match="covers no row"):
        window_rows(ts, [("2014-03-09 03:01", "2014-03-09 03:04")])
    with pytest.raises(ValueError, match="overlap"):
        window_rows(ts, [("2014-03-09 02:50", "2014-03-09 03:00"), ("2014-03-09 03:00", "2014-03-09 03:10")])


def test_scores_outside_unit_interval_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        score_file(np.array([0.0, 1.5]), [], threshold=0.5, profile=STANDARD)


def _random_windows(rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    spans, start = [], int(rng.integers(0, n))
    while start < n and len(spans) < 3:
        end = min(n - 1, start + int(rng.integers(0, 8)))
        spans.append((start, end))
        start = end + 1 + int(rng.integers(1, 15))
    return spans


def test_sorted_events_sweep_any_subset_exactly_as_a_fresh_sweep():
    from evaluation._nab_score import SortedEvents, file_events, threshold_sweep

    rng = np.random.default_rng(11)
    for trial in range(40):
        files = random_files(rng, trial, most_files=5, most_rows=60)
        for profile in PROFILES.values():
            events = [file_events(s, w, profile) for s, w in files]
            windows = [len(w) for _, w in files]
            ordered = SortedEvents(events, windows)
            for _ in range(4):
                mask = rng.random(len(files)) < 0.6
                want = threshold_sweep([e for e, m in zip(events, mask) if m], sum(n for n, m in zip(windows, mask) if m), profile)
                got = ordered.sweep(mask, profile)
                assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])  # bit for bit
