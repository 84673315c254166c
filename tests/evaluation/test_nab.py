"""NAB evaluation: reading NAB data, streaming detectors without lookahead, results, the command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation._nab import NabInputError, default_results_dir, evaluate_nab, load_corpus, read_series, read_windows, to_unit_interval
from aiops.commands.evaluate_nab import register_nab
from model._streaming import StreamingLinear, StreamingZScore, _cool_down, make_detector

REPO = Path(__file__).resolve().parents[2]
NAB = REPO.parent / "shared" / "datasets" / "nab"
STEP = 300  # NAB's 5-minute step


def synthetic_series(seed: int, n: int = 1400, *, spike: bool = True, shift: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Daily seasonal series with noise, a spike at half and a level shift at 85 % of its rows."""
    rng = np.random.default_rng(seed)
    t = 1_400_000_000 + STEP * np.arange(n, dtype=float)
    x = 10 + 3 * np.sin(2 * np.pi * t / 86_400) + rng.normal(0, 0.3, n)
    if spike:
        x[n // 2] += 6
    if shift:
        x[int(0.85 * n) :] += 4
    return t, x


def write_nab_folder(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """A tiny NAB layout: two files, one with a repeated timestamp, and its windows file."""
    data = root / "data"
    windows = {}
    for k, category in enumerate(("realThing", "artificialThing")):
        t, x = synthetic_series(seed + k)
        stamps = pd.to_datetime(t, unit="s")
        if k == 0:  # a daylight-saving style repeat, as in two real NAB files
            stamps = stamps.where(np.arange(t.size) % 700 != 1, stamps.shift(-1, freq="300s"))
            stamps = pd.DatetimeIndex(np.sort(stamps.to_numpy()))
        path = data / category / f"series_{k}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"), "value": x}).to_csv(path, index=False)
        lo, hi = stamps[int(0.85 * t.size) - 30], stamps[int(0.85 * t.size) + 40]
        windows[f"{category}/series_{k}.csv"] = [[f"{lo:%Y-%m-%d %H:%M:%S}.000000", f"{hi:%Y-%m-%d %H:%M:%S}.000000"]]
    labels = root / "windows.json"
    labels.write_text(json.dumps(windows))
    return data, labels


def evaluate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiops")
    sub = parser.add_subparsers(dest="command")
    evaluate = sub.add_parser("evaluate").add_subparsers(dest="what")
    register_nab(evaluate)
    return parser


@pytest.mark.parametrize("name", ["zscore", "linear"])
def test_cutting_a_series_at_row_k_leaves_every_earlier_score_unchanged(name):
    detector = make_detector(name)
    t, x = synthetic_series(3)
    full = detector.run(t, x)
    for k in (200, 700, 701, 983, 1150, 1399):
        cut = detector.run(t[:k], x[:k])
        # equal up to float rounding of the matrix products (a block of fewer rows may sum in another order)
        np.testing.assert_allclose(cut.score, full.score[:k], rtol=1e-12, atol=1e-12, err_msg=f"{name} cut at {k}")
        np.testing.assert_array_equal(cut.score >= 1, full.score[:k] >= 1)
        if full.expected is not None:
            np.testing.assert_allclose(cut.expected, full.expected[:k], rtol=1e-12)


@pytest.mark.skipif(not (NAB / "data").is_dir(), reason="NAB subset not present next to the repo")
@pytest.mark.parametrize("name", ["zscore", "linear"])
def test_prefix_property_on_a_real_nab_file(name):
    timestamps, values = read_series(NAB / "data" / "realAWSCloudwatch" / "ec2_network_in_5abac7.csv")  # repeated stamps
    t = timestamps.astype(np.int64) / 1e9
    detector = make_detector(name)
    full = detector.run(t, values).score
    for k in (900, 3001):
        np.testing.assert_allclose(detector.run(t[:k], values[:k]).score, full[:k], rtol=1e-12, atol=1e-12)


def test_a_changed_future_row_does_not_change_past_scores():
    t, x = synthetic_series(4)
    changed = x.copy()
    changed[900:] = 1e6
    for detector in (StreamingZScore(), StreamingLinear()):
        np.testing.assert_allclose(detector.run(t, changed).score[:900], detector.run(t, x).score[:900], rtol=1e-12, atol=1e-12)


def test_linear_flags_a_level_shift_at_its_start_and_nothing_else():
    t, x = synthetic_series(5, spike=False)
    flags = np.flatnonzero(StreamingLinear().run(t, x).score >= 1)
    assert flags.tolist() == [int(0.85 * x.size)]


def test_linear_flags_a_spike_once_its_fit_covers_two_days():
    t, x = synthetic_series(6, n=2400, shift=False)  # spike at row 1200, scored by the fit of row 1020 onwards
    flags = np.flatnonzero(StreamingLinear().run(t, x).score >= 1)
    assert flags.tolist() == [1200]


def test_zscore_is_the_distance_from_the_last_hour_in_three_sigmas():
    x = np.array([1.0, 2.0] * 6 + [4.0, 1.5])  # last hour: mean 1.5, std 0.5
    score = StreamingZScore(cooldown_seconds=0).run(np.arange(x.size) * STEP, x).score
    assert score[:12].tolist() == [0.0] * 12
    assert score[12] == pytest.approx((4.0 - 1.5) / (3 * 0.5))
    # after a flag, the next rows score 0 for the cool-down
    assert StreamingZScore(cooldown_seconds=STEP).run(np.arange(x.size) * STEP, x).score[13] == 0.0


def test_rest_period_after_a_flag_and_under_one_only_above_the_scores_before():
    score = np.array([0.2, 0.9, 0.5, 0.95, 1.5, 3.0, 0.7, 0.1, 0.99])
    # 0.5 is not above 0.9 two rows back; 1.5 silences the next two rows (3.0 too); 0.1 is not
    # above 3.0 two rows back, though 3.0 was silenced (the scores as computed count)
    assert _cool_down(score, 2).tolist() == [0.2, 0.9, 0.0, 0.95, 1.5, 0.0, 0.0, 0.0, 0.99]
    # higher means higher: a tie with the row before does not count, and one row of rest looks one row back
    assert _cool_down(np.array([0.5, 0.5, 0.4, 0.6]), 1).tolist() == [0.5, 0.0, 0.0, 0.6]


def _flags_only_rest(score: np.ndarray, rows: int) -> np.ndarray:
    """The rest period of flags alone, written out slowly: a flag not silenced silences the next ``rows`` rows."""
    flags, quiet_until = np.zeros(score.size, dtype=bool), -1
    for i, s in enumerate(score):
        if s >= 1.0 and i > quiet_until:
            flags[i], quiet_until = True, i + rows
    return flags


def _slow_rest(score: np.ndarray, rows: int) -> np.ndarray:
    """The rest period at every threshold, row by row."""
    flags = _flags_only_rest(score, rows)
    silenced = np.zeros(score.size, dtype=bool)
    for i in np.flatnonzero(flags):
        silenced[i + 1 : i + 1 + rows] = True
    out = np.zeros(score.size)
    for i, s in enumerate(score):
        before = score[max(0, i - rows) : i]  # every score of the rest period before, silenced or not
        if not silenced[i] and (s >= 1.0 or not before.size or s > before.max()):
            out[i] = s
    return out


@pytest.mark.parametrize("seed", range(20))
def test_rest_period_holds_at_every_threshold_and_changes_nothing_at_one(seed):
    rng = np.random.default_rng(seed)
    rows = (1, 2, 3, 4, 7, 11)[seed % 6]
    score = np.where(rng.random(300) < 0.5, 0.0, np.round(rng.gamma(1.0, 0.5, 300), 1))  # rounded: ties happen
    out = _cool_down(score, rows)
    assert out.tolist() == _slow_rest(score, rows).tolist()
    assert ((out >= 1.0) == _flags_only_rest(score, rows)).all()  # the detector's own threshold: as before
    for threshold in rng.uniform(0.05, 1.0, 5):
        fired = np.flatnonzero(out >= threshold)
        if (score >= threshold).any():
            assert fired.size and fired[0] == np.flatnonzero(score >= threshold)[0]  # the first row over it always fires
        for i, j in zip(fired[:-1], fired[1:]):
            if j - i <= rows:  # within the rest period of the row before (never a flag's): only by rising above it
                assert score[i] < 1.0 and score[j] > score[i]


def test_scores_map_to_unit_interval_with_own_threshold_one_half():
    assert to_unit_interval(np.array([0.0, 1.0, 3.0])).tolist() == [0.0, 0.5, 0.75]


def test_repeated_timestamps_keep_rows_and_windows_cover_timestamps(tmp_path):
    data, labels = write_nab_folder(tmp_path)
    corpus = load_corpus(data, labels)
    real = next(s for s in corpus.series if s.key.startswith("realThing"))
    assert real.values.size == 1400
    assert np.any(real.timestamps[1:] == real.timestamps[:-1])
    (left, right), = real.windows
    assert right - left == 70  # 30 rows before the shift, 40 after, both ends inside
    assert real.labels.sum() == 71


def test_evaluate_writes_nab_results_layout_and_plots_outside_the_repo(tmp_path):
    data, labels = write_nab_folder(tmp_path)
    seen = []
    report = evaluate_nab(
        data, labels, detector=StreamingZScore(), results_dir=tmp_path / "results", progress=lambda *a: seen.append(a)
    )
    assert report["files"] == 2 and report["windows"] == 2
    assert set(report["scores"]) == set(report["scores_own_threshold"]) == {
        "standard",
        "reward_low_FP_rate",
        "reward_low_FN_rate",
    }
    csv = tmp_path / "results" / "zscore" / "realThing" / "zscore_series_0.csv"
    frame = pd.read_csv(csv)
    assert list(frame.columns) == ["timestamp", "value", "anomaly_score", "label"]
    assert frame["label"].sum() == 71
    assert frame["anomaly_score"].between(0, 1).all()
    assert csv.with_suffix(".png").stat().st_size > 0
    assert [a[:2] for a in seen] == [(1, 2), (2, 2), (1, 2), (2, 2)]
    assert REPO not in default_results_dir().parents


def test_command_prints_json_report(tmp_path, capsys):
    data, labels = write_nab_folder(tmp_path)
    args = evaluate_parser().parse_args(
        ["evaluate", "nab", str(data), "--windows", str(labels), "--results-dir", str(tmp_path / "r"),
         "--detector", "linear", "--format", "json", "--no-plots"]
    )
    assert args.func(args) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["detector"] == "linear" and report["files"] == 2
    assert "nab: 2/2" in out.err
    # the two injected shifts sit at the start of their windows: the linear baseline finds both
    assert report["scores"]["standard"] > 90


def test_bad_input_is_one_clear_usage_error(tmp_path):
    from plumbing.errors import UsageError

    data, labels = write_nab_folder(tmp_path)
    parser = evaluate_parser()
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    missing_file = tmp_path / "missing.json"
    missing_file.write_text(json.dumps({"realThing/nope.csv": []}))
    cases = [
        ([str(tmp_path / "nowhere"), "--windows", str(labels)], "does not exist"),
        ([str(data), "--windows", str(tmp_path / "nowhere.json")], "does not exist"),
        ([str(data), "--windows", str(bad_json)], "not valid JSON"),
        ([str(data), "--windows", str(missing_file)], "listed in the windows file"),
    ]
    for argv, message in cases:
        args = parser.parse_args(["evaluate", "nab", *argv, "--results-dir", str(tmp_path / "r"), "--no-plots"])
        with pytest.raises(UsageError, match=message):
            args.func(args)


def test_windows_file_shape_is_checked(tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"realThing/a.csv": [["2014-01-01 00:00:00"]]}))
    with pytest.raises(NabInputError, match="must be"):
        read_windows(path)


@pytest.mark.skipif(not (NAB / "data").is_dir(), reason="NAB subset not present next to the repo")
def test_real_corpus_linear_scores_at_least_48_and_beats_zscore(tmp_path):
    """The done-when of issue 3: 28 files, 36 windows, standard profile (a few seconds)."""
    reports = {
        name: evaluate_nab(
            NAB / "data", NAB / "labels" / "combined_windows.json", detector=make_detector(name),
            results_dir=tmp_path, plots=False,
        )
        for name in ("linear", "zscore")
    }
    for name, report in reports.items():
        print(name, report["scores"], report["scores_own_threshold"])
    assert reports["linear"]["files"] == 28 and reports["linear"]["windows"] == 36
    assert reports["linear"]["scores"]["standard"] >= 48
    assert reports["linear"]["scores"]["standard"] > reports["zscore"]["scores"]["standard"]


@pytest.mark.parametrize("key", ["../outside.csv", "realThing/../../outside.csv", "/etc/passwd.csv", "realThing/..", "a\\..\\b.csv", "./a.csv", "realThing/a.txt"])
def test_a_windows_key_that_leaves_the_data_folder_is_refused(tmp_path, key):
    """A key is joined to the data folder (read) and to the results folder (written): only category/file.csv."""
    path = tmp_path / "w.json"
    path.write_text(json.dumps({key: [["2014-01-01 00:00:00", "2014-01-01 01:00:00"]]}))
    with pytest.raises(NabInputError, match="category/file.csv"):
        read_windows(path)
