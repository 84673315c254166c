"""Spans in time, not rows: the same settings mean the same on a 5-minute and an hourly series; ``--every`` coarsens files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evaluation._nab import NabInputError, load_corpus
from evaluation._nab_read import RawSeries, coarsen, parse_series
from model._streaming import DAY_SECONDS, StreamingLinear, StreamingZScore, as_rows, usual_step_seconds
from plumbing.errors import UsageError

from test_nab import evaluate_parser, write_nab_folder


def seasonal(step_seconds: float, days: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A daily sine with noise sampled every ``step_seconds`` for ``days`` days."""
    rng = np.random.default_rng(seed)
    t = 1_400_000_000 + step_seconds * np.arange(int(days * DAY_SECONDS / step_seconds), dtype=float)
    return t, 10 + 3 * np.sin(2 * np.pi * t / DAY_SECONDS) + rng.normal(0, 0.3, t.size)


def test_the_usual_step_is_the_median_time_between_rows_whatever_the_quirks():
    t = 300.0 * np.arange(100)
    quirky = np.concatenate([t[:40], [t[39]] * 3, t[40:60] - 3600, t[60:] + 7200])  # repeats, a clock going back, a gap
    assert usual_step_seconds(t) == 300.0
    assert usual_step_seconds(quirky) == 300.0
    assert usual_step_seconds([5.0]) == 300.0 and usual_step_seconds([]) == 300.0  # no step to read: NAB's 5 minutes
    assert as_rows(DAY_SECONDS, 300.0) == 288 and as_rows(DAY_SECONDS, 3600.0) == 24 and as_rows(60.0, 3600.0) == 1
    with pytest.raises(ValueError, match="positive number of seconds"):
        as_rows(0.0, 300.0)


def test_one_day_is_288_rows_at_five_minutes_and_24_rows_hourly():
    det = StreamingLinear(level_seconds=DAY_SECONDS, cooldown_seconds=DAY_SECONDS, min_history_seconds=0.5 * DAY_SECONDS)
    five, hourly = det.rows(seasonal(300, 2)[0]), det.rows(seasonal(3600, 2)[0])
    assert (five.level, five.cooldown, five.min_history) == (288, 288, 144)
    assert (hourly.level, hourly.cooldown, hourly.min_history) == (24, 24, 12)
    assert five.change_window == 12 and hourly.change_window == 1


@pytest.mark.parametrize("step", [300.0, 1800.0, 3600.0])
def test_the_same_spike_stands_out_alike_at_any_step(step):
    t, x = seasonal(step, 21, seed=3)
    spike = int(0.7 * t.size)
    x[spike] += 8  # about 27 σ of the noise
    score = StreamingLinear().run(t, x).score
    # the spike scores 4 to 6 at every step; Gaussian noise at the 5 σ floor may pass 1 now and then, never 2
    assert score[spike] > 4
    assert np.flatnonzero(score >= 2).tolist() == [spike]


def test_an_hourly_rest_period_is_one_day_not_288_rows():
    t, x = seasonal(3600, 40, seed=4)
    first, second = 500, 560  # 60 hours apart: a second alert, not 12 days of silence
    x[first] += 8
    x[second] += 8
    for detector in (StreamingLinear(), StreamingZScore()):
        flags = np.flatnonzero(detector.run(t, x).score >= 1).tolist()
        assert first in flags and second in flags, detector.name
        assert not [f for f in flags if first < f < first + 24], detector.name  # the rest period: one day, 24 rows


def test_coarsen_averages_buckets_in_time_order_and_carries_empty_ones():
    text = "timestamp,value\n" + "\n".join(
        f"2014-01-01 00:{m:02d}:00,{v}" for m, v in [(0, 1), (5, 3), (30, "nan"), (35, "x"), (10, 5), (65 - 60, 7)]
    ) + "\n2014-01-01 01:00:00,11\n"
    raw = parse_series(text, "cat/f.csv")
    half_hour = coarsen(raw, 1800.0)
    stamps = pd.DatetimeIndex(half_hour.timestamps).strftime("%H:%M").tolist()
    assert stamps == ["00:00", "00:30", "01:00"]
    assert half_hour.values[0] == pytest.approx((1 + 3 + 5 + 7) / 4)  # the row going back joins its bucket
    assert half_hour.carried.tolist() == [False, True, False]  # 00:30 held only unusable values
    assert half_hour.values[1] == half_hour.values[0]  # carried from the bucket before
    assert half_hour.values[2] == 11
    assert half_hour.quirks == raw.quirks
    with pytest.raises(ValueError, match="positive"):
        coarsen(RawSeries(raw.timestamps, raw.values, raw.carried, raw.quirks), 0.0)


def test_every_coarsens_the_corpus_and_the_windows_keep_their_times(tmp_path, capsys):
    data, labels = write_nab_folder(tmp_path)
    fine = load_corpus(data, labels)
    coarse = load_corpus(data, labels, every_seconds=3600.0)
    for a, b in zip(fine.series, coarse.series):
        assert b.values.size == pytest.approx(a.values.size / 12, abs=2)
        (lo, hi), = a.windows
        (clo, chi), = b.windows
        assert b.timestamps[clo] <= a.timestamps[lo] + np.timedelta64(1, "h") and b.timestamps[chi] <= a.timestamps[hi]
    with pytest.raises(NabInputError, match="positive"):
        load_corpus(data, labels, every_seconds=-1.0)
    args = evaluate_parser().parse_args(
        ["evaluate", "nab", str(data), "--windows", str(labels), "--results-dir", str(tmp_path / "r"), "--no-plots", "--every", "1h"]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "each file averaged into 1 h buckets" in out
    args = evaluate_parser().parse_args(
        ["evaluate", "nab", str(data), "--windows", str(labels), "--no-plots", "--every", "1h", "--select", "cv"]
    )
    with pytest.raises(UsageError, match="--every applies to a plain run"):
        args.func(args)
    json_args = evaluate_parser().parse_args(
        ["evaluate", "nab", str(data), "--windows", str(labels), "--results-dir", str(tmp_path / "r"), "--no-plots",
         "--every", "30m", "--format", "json"]
    )
    assert json_args.func(json_args) == 0
    assert json.loads(capsys.readouterr().out)["every_seconds"] == 1800.0
