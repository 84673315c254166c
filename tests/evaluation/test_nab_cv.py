"""Honest model selection on NAB: folds by file stratified by category, settings chosen on training folds only, pooled test score."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evaluation._nab_cv as nab_cv
from aiops.commands.evaluate_nab import register_nab, render_markdown
from evaluation._nab import OWN_THRESHOLD, load_corpus, run_detector, score_results
from evaluation._nab_cv import GRID, GRID_AXES, assign_folds, cross_validate
from evaluation._nab_score import PROFILES, file_events, normalised_score, optimise_threshold, raw_at_threshold, score_file
from model._streaming import StreamingLinear

STEP = 300
#: Two configurations that differ where it shows: the rest period and the level window.
SMALL_GRID = ({"cooldown_rows": 288, "level_rows": 288}, {"cooldown_rows": 12, "level_rows": 72}, {"cooldown_rows": 24, "level_rows": 72, "z_floor": 5.0})


def write_corpus(root: Path, n_files: int = 8) -> tuple[Path, Path]:
    """``n_files`` seasonal series in two categories, each with a level shift or a spike and a window on it."""
    data, windows = root / "data", {}
    for k in range(n_files):
        rng = np.random.default_rng(k)
        n = 1600
        t = 1_400_000_000 + STEP * np.arange(n, dtype=float)
        x = 10 + 3 * np.sin(2 * np.pi * t / 86_400) + rng.normal(0, 0.3 + 0.2 * (k % 3), n)
        at = 900 + 60 * k
        if k % 2:
            x[at:] += 3 + k % 4
        else:
            x[at] += 5 + k % 3
        x[rng.integers(400, 1500, size=k % 4)] += 2.5  # a few lesser bumps: false alarms for some settings
        category = "realThing" if k < 5 else "artificialThing"
        stamps = pd.to_datetime(t, unit="s")
        path = data / category / f"s{k}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"), "value": x}).to_csv(path, index=False)
        lo, hi = stamps[at - 40], stamps[at + 40]
        windows[f"{category}/s{k}.csv"] = [[f"{lo:%Y-%m-%d %H:%M:%S}.000000", f"{hi:%Y-%m-%d %H:%M:%S}.000000"]]
    labels = root / "windows.json"
    labels.write_text(json.dumps(windows))
    return data, labels


def test_folds_are_by_file_stratified_by_category_and_fixed():
    keys = [f"a/{i}.csv" for i in range(17)] + [f"b/{i}.csv" for i in range(6)] + [f"c/{i}.csv" for i in range(5)]
    folds = assign_folds(keys, 4)
    assert folds == assign_folds(list(reversed(keys)), 4)  # a rule of the names, not of the order given
    sizes = np.bincount(list(folds.values()))
    assert sizes.tolist() == [7, 7, 7, 7]
    for category, count in (("a", 17), ("b", 6), ("c", 5)):
        per_fold = np.bincount([f for k, f in folds.items() if k.startswith(category)], minlength=4)
        assert per_fold.max() - per_fold.min() <= 1 and per_fold.sum() == count


def test_the_grid_is_fixed_in_the_code():
    assert len(GRID) == int(np.prod([len(v) for v in GRID_AXES.values()]))
    assert len({json.dumps(c, sort_keys=True) for c in GRID}) == len(GRID)
    for config in GRID:
        StreamingLinear(**config)  # every configuration is a valid detector


@settings(max_examples=30, derandomize=True, deadline=None, database=None)
@given(st.integers(0, 10_000), st.floats(0.0, 1.0))
def test_a_files_raw_score_from_its_events_is_its_raw_score(seed, threshold):
    rng = np.random.default_rng(seed)
    scores = rng.random(300) ** 3
    windows = [(120, 150), (200, 230)] if seed % 2 else []
    for profile in PROFILES.values():
        events = file_events(scores, windows, profile)
        expected = score_file(scores, windows, threshold=threshold, profile=profile)
        assert raw_at_threshold(events, len(windows), threshold, profile) == pytest.approx(expected, abs=1e-9)


def brute_force_cv(corpus, grid, folds):
    """The same selection written the slow, obvious way: run, sweep and score each fold's files directly."""
    fold_of = assign_folds([s.key for s in corpus], folds)
    scored = [[r.anomaly_score for r in run_detector(StreamingLinear(**c), corpus)] for c in grid]
    n_windows = sum(len(s.windows) for s in corpus)
    out = {}
    for name, profile in PROFILES.items():
        pooled_corpus = pooled_own = 0.0
        for f in range(folds):
            train = [i for i, s in enumerate(corpus) if fold_of[s.key] != f]
            test = [i for i, s in enumerate(corpus) if fold_of[s.key] == f]
            best = None
            for c, scores in enumerate(scored):
                t, raw = optimise_threshold([(scores[i], corpus[i].windows) for i in train], profile)
                if best is None or raw > best[0] + 1e-9:
                    best = (raw, c, t)
            _, c, t = best
            pooled_corpus += sum(score_file(scored[c][i], corpus[i].windows, threshold=t, profile=profile) for i in test)
            own = [sum(score_file(scored[c][i], corpus[i].windows, threshold=OWN_THRESHOLD, profile=profile) for i in train)
                   for c in range(len(grid))]
            c = int(np.argmax(np.asarray(own) - 1e-12 * np.arange(len(grid))))
            pooled_own += sum(score_file(scored[c][i], corpus[i].windows, threshold=OWN_THRESHOLD, profile=profile) for i in test)
        out[name] = (round(normalised_score(pooled_corpus, n_windows, profile), 2), round(normalised_score(pooled_own, n_windows, profile), 2))
    return out


def test_cross_validation_matches_the_slow_obvious_computation(tmp_path):
    data, labels = write_corpus(tmp_path)
    corpus = load_corpus(data, labels).series
    report = cross_validate(corpus, grid=SMALL_GRID, folds=3)
    expected = brute_force_cv(corpus, SMALL_GRID, 3)
    for name in PROFILES:
        assert (report.cv[name]["corpus"]["score"], report.cv[name]["own"]["score"]) == expected[name]
    assert report.configurations == 3 and report.n_windows == 8
    assert len(report.cv["standard"]["corpus"]["per_fold"]) == 3


def test_in_sample_of_a_one_configuration_grid_is_the_plain_runs_score_and_its_own_threshold_cv_equals_it(tmp_path):
    data, labels = write_corpus(tmp_path)
    corpus = load_corpus(data, labels).series
    plain = score_results(run_detector(StreamingLinear(), corpus))
    report = cross_validate(corpus, grid=({},), folds=4)
    for name in PROFILES:
        assert report.in_sample[name]["corpus"]["score"] == plain["scores"][name]
        assert report.in_sample[name]["corpus"]["threshold"] == plain["thresholds"][name]
        assert report.in_sample[name]["own"]["score"] == plain["scores_own_threshold"][name]
        # one configuration and a fixed threshold: nothing is chosen, so pooling the folds gives the whole corpus back
        assert report.cv[name]["own"]["score"] == plain["scores_own_threshold"][name]


def test_two_processes_give_the_same_report(tmp_path):
    data, labels = write_corpus(tmp_path, n_files=6)
    corpus = load_corpus(data, labels).series
    one = cross_validate(corpus, grid=SMALL_GRID, folds=3, jobs=1).as_dict()
    two = cross_validate(corpus, grid=SMALL_GRID, folds=3, jobs=2).as_dict()
    assert one == two


def test_command_select_cv_reports_in_sample_and_cross_validated_scores(tmp_path, capsys, monkeypatch):
    import argparse

    monkeypatch.setattr(nab_cv, "GRID", SMALL_GRID)
    data, labels = write_corpus(tmp_path)
    parser = argparse.ArgumentParser(prog="aiops")
    register_nab(parser.add_subparsers(dest="command").add_parser("evaluate").add_subparsers(dest="what"))
    args = parser.parse_args(["evaluate", "nab", str(data), "--windows", str(labels), "--results-dir", str(tmp_path / "r"),
                              "--select", "cv", "--jobs", "1", "--folds", "3", "--format", "json", "--no-plots"])
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    selection = report["selection"]
    assert selection["configurations"] == 3 and selection["folds"] == 3
    assert set(selection["in_sample"]) == set(selection["cross_validated"]) == set(PROFILES)
    assert report["configuration"] == selection["in_sample"]["standard"]["corpus"]["configuration"]
    assert report["scores"]["standard"] == selection["in_sample"]["standard"]["corpus"]["score"]
    text = render_markdown(report)
    assert "3-fold cross-validation over files" in text and "3 configurations" in text


def test_select_cv_is_for_the_linear_detector_only(tmp_path):
    import argparse

    from plumbing.errors import UsageError

    parser = argparse.ArgumentParser(prog="aiops")
    register_nab(parser.add_subparsers(dest="command").add_parser("evaluate").add_subparsers(dest="what"))
    args = parser.parse_args(["evaluate", "nab", str(tmp_path), "--windows", "w.json", "--select", "cv", "--detector", "zscore"])
    with pytest.raises(UsageError, match="allowed: linear"):
        args.func(args)
    args = parser.parse_args(["evaluate", "nab", str(tmp_path), "--windows", "w.json", "--select", "cv", "--folds", "1"])
    with pytest.raises(UsageError, match="--folds must be at least 2"):
        args.func(args)
