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
    assert (hourly.level, hourly.cooldown, hourly.min_history) == (24, 24, 24)  # 12 rows of warm-up, floored at min_fit_rows
    assert five.change_window == 12 and hourly.change_window == 6  # one hour, but at least 6 rows: a spread needs a few


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
    first, resting, second = 500, 518, 560  # 18 h after the first: inside its one-day rest; 60 h after: a new alert
    x[first] += 8
    x[resting] += 8
    x[second] += 20  # two 8 σ spikes already seen: the series' tail calibration now wants more than 8 σ
    for detector in (StreamingLinear(), StreamingZScore()):
        score = detector.run(t, x).score
        assert score[first] >= 1 and score[second] >= 1, detector.name  # not 288 rows (12 days) of silence
        assert score[resting] == 0 and not (score[first + 1 : first + 25] > 0).any(), detector.name  # 24 rows of rest


@pytest.mark.parametrize("step", [2 * 3600.0, 6 * 3600.0, DAY_SECONDS])
def test_steps_longer_than_the_level_window_still_score(step):
    t = 1_400_000_000 + step * np.arange(400, dtype=float)
    x = 10 + np.random.default_rng(5).normal(0, 0.3, t.size)
    x[300] += 8
    det = StreamingLinear()
    rows = det.rows(t)
    assert rows.level >= 1 and rows.min_history >= 24 and rows.change_window >= 6
    score = det.run(t, x).score  # half a day is fewer rows than min_level_rows here: no error
    assert score[300] >= 1 and np.isfinite(score).all()


def test_coarsen_averages_runs_of_a_bucket_in_file_order_and_carries_empty_ones():
    rows = [("00:00", 1), ("00:05", 3), ("00:30", "nan"), ("00:35", "x"), ("00:10", 5), ("00:05", 7), ("01:00", 11)]
    text = "timestamp,value\n" + "\n".join(f"2014-01-01 {hm}:00,{v}" for hm, v in rows) + "\n"
    raw = parse_series(text, "cat/f.csv")
    half_hour = coarsen(raw, 1800.0)
    stamps = pd.DatetimeIndex(half_hour.timestamps).strftime("%H:%M").tolist()
    # the clock going back (00:35 -> 00:10) starts a new 00:00 bucket: nothing is averaged with a later row
    assert stamps == ["00:00", "00:30", "00:00", "01:00"]
    assert half_hour.values.tolist() == [2.0, 2.0, 6.0, 11.0]  # 00:30 held only unusable values: carried
    assert half_hour.carried.tolist() == [False, True, False, False]
    assert half_hour.quirks == raw.quirks


def test_coarsen_skips_leading_empty_buckets_keeps_extremes_finite_and_checks_its_span():
    stamps = np.array(["2014-01-01T00:00", "2014-01-01T00:40", "2014-01-01T00:45", "2014-01-01T01:10"], dtype="datetime64[ns]")
    raw = RawSeries(stamps, np.array([0.0, 1e308, 1e308, 4.0]), np.array([True, False, False, False]), ())
    out = coarsen(raw, 1800.0)
    assert pd.DatetimeIndex(out.timestamps).strftime("%H:%M").tolist() == ["00:30", "01:00"]  # 00:00 had nothing usable
    assert out.values.tolist() == [1e308, 4.0] and not out.carried.any()  # two 1e308 average to 1e308, not inf
    for bad in (0.0, 0.5, -60.0, float("nan"), 1e15):
        with pytest.raises(ValueError, match="from 1 to"):
            coarsen(raw, bad)


def test_every_coarsens_the_corpus_and_the_windows_keep_their_times(tmp_path, capsys):
    data, labels = write_nab_folder(tmp_path)
    fine = load_corpus(data, labels)
    coarse = load_corpus(data, labels, every_seconds=3600.0)
    for a, b in zip(fine.series, coarse.series):
        assert b.values.size == pytest.approx(a.values.size / 12, abs=2)
        (lo, hi), = a.windows
        (clo, chi), = b.windows
        # the window is the same time span: its first and last rows move by less than a bucket
        assert abs(b.timestamps[clo] - a.timestamps[lo]) < np.timedelta64(1, "h")
        assert abs(b.timestamps[chi] - a.timestamps[hi]) < np.timedelta64(1, "h")
    with pytest.raises(NabInputError, match="from 1 to"):
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
    for bad in ("0", "500ms", "100000000000000"):
        args = evaluate_parser().parse_args(["evaluate", "nab", str(data), "--windows", str(labels), "--no-plots", "--every", bad])
        with pytest.raises(UsageError, match="--every must be from 1s to 3650d"):
            args.func(args)
    with pytest.raises(SystemExit):  # not a duration: argparse names the grammar
        evaluate_parser().parse_args(["evaluate", "nab", str(data), "--windows", str(labels), "--every", "abc"])
    json_args = evaluate_parser().parse_args(
        ["evaluate", "nab", str(data), "--windows", str(labels), "--results-dir", str(tmp_path / "r"), "--no-plots",
         "--every", "30m", "--format", "json"]
    )
    assert json_args.func(json_args) == 0
    assert json.loads(capsys.readouterr().out)["every_seconds"] == 1800.0


def test_a_configuration_shows_its_spans_in_words():
    from aiops.commands.evaluate_nab import _config

    text = _config({"level_seconds": 43200.0, "cooldown_seconds": 86400.0, "z_floor": 5.0, "noise_change": True})
    assert text == "level_seconds=43200 (12 h), cooldown_seconds=86400 (24 h), z_floor=5.0, noise_change=True"
