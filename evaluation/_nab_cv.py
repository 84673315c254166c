"""Honest model selection on NAB: every setting, the corpus threshold included, chosen by cross-validation over files.

- **Folds** (:func:`assign_folds`): :data:`FOLDS` folds by file, stratified by category: within
  each category (sorted) the files (sorted) are dealt to the folds in turn, one counter running
  across categories so the folds stay the same size. A fixed rule of the file names, no seed.
- **Grid** (:data:`GRID`): fixed here, over :class:`model._streaming.StreamingLinear`'s parameters;
  the report says how many configurations were tried.
- **Selection**: for each fold and each NAB profile, the configuration and corpus threshold with
  the best score on the *other* folds' files (the training folds) only; its detections on the
  fold's own files (the test fold) are kept. At the detector's own threshold (0.5) only the
  configuration is chosen, the same way.
- **Score**: the test folds' detections are pooled into one corpus and scored with NAB's
  normalisation over the whole corpus (every window of every file). The in-sample score is the
  grid's best on all files at once (settings chosen by looking at the files scored).

Each configuration runs once per file; its scores become per-file threshold events
(:func:`evaluation._nab_score.file_events`), from which every fold's threshold sweep and every
test score is computed, so a threshold is never re-run. Ties between configurations go to the
earlier one in the grid.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from ._nab import DETECTOR_FAILURES, OWN_THRESHOLD, NabInputError, NabSeries, evaluate_nab, load_corpus, to_unit_interval
from ._nab_score import PROFILES, Profile, best_threshold, file_events, normalised_score, raw_at_threshold
from model._streaming import StreamingLinear

__all__ = ["FOLDS", "GRID", "GRID_AXES", "CvReport", "assign_folds", "cross_validate", "default_jobs", "grid_size", "select_and_evaluate"]

#: Folds by file (stratified by category).
FOLDS = 4

#: The grid: every combination of these values of :class:`StreamingLinear`'s parameters.
GRID_AXES: dict[str, tuple[object, ...]] = {
    "level_rows": (144, 288, 576),
    "refit_every_rows": (144, 288),
    "cooldown_rows": (144, 288),
    "calibration_factor": (1.0, 1.25),
    "z_floor": (4.0, 5.0),
    "level_shift": (False, True),  # the change components (model._changes), off or on
    "noise_change": (False, True),
}

#: Every configuration tried, in a fixed order (the first is not special; ties go to the earlier).
GRID: tuple[dict[str, object], ...] = tuple(
    dict(zip(GRID_AXES, values)) for values in itertools.product(*GRID_AXES.values())
)

Progress = Callable[[int, int, str], None]


def grid_size(grid: Sequence[Mapping[str, object]] = GRID) -> int:
    """How many configurations a grid holds."""
    return len(grid)


def assign_folds(keys: Sequence[str], folds: int = FOLDS) -> dict[str, int]:
    """Fold of each file: stratified by category (the folder), dealt in turn in sorted order."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    by_category: dict[str, list[str]] = {}
    for key in sorted(set(keys)):
        by_category.setdefault(key.split("/")[0], []).append(key)
    assignment, turn = {}, 0
    for category in sorted(by_category):
        for key in by_category[category]:
            assignment[key] = turn % folds
            turn += 1
    return assignment


@dataclass
class _Best:
    """The best configuration so far for one (fold, profile, threshold rule)."""

    train: float = -np.inf
    config: int = -1
    threshold: float = np.nan
    test_raw: float = 0.0


@dataclass
class CvReport:
    """What :func:`cross_validate` found; :meth:`as_dict` is JSON-ready."""

    configurations: int
    n_folds: int
    folds: dict[str, int]
    grid: tuple[dict[str, object], ...]
    n_windows: int
    in_sample: dict[str, dict[str, object]] = field(default_factory=dict)
    cv: dict[str, dict[str, object]] = field(default_factory=dict)
    failures: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "configurations": self.configurations,
            "folds": self.n_folds,
            "fold_of_file": self.folds,
            "windows": self.n_windows,
            "grid_axes": {k: list(v) for k, v in _axes(self.grid).items()},
            "in_sample": self.in_sample,
            "cross_validated": self.cv,
            "detector_failures": self.failures,
        }


def _axes(grid: Sequence[Mapping[str, object]]) -> dict[str, list[object]]:
    axes: dict[str, list[object]] = {}
    for config in grid:
        for k, v in config.items():
            if v not in axes.setdefault(k, []):
                axes[k].append(v)
    return axes


def _run_config(args: tuple[dict[str, object], Sequence[NabSeries]]) -> tuple[list[np.ndarray], int]:
    """One configuration over every file: the anomaly scores (zeros where the detector failed) and the failure count."""
    config, corpus = args
    detector = StreamingLinear(**config)
    scores, failures = [], 0
    for series in corpus:
        try:
            with np.errstate(all="ignore"):
                s = to_unit_interval(detector.run(series.times_seconds, series.values).score)
        except DETECTOR_FAILURES:
            s, failures = np.zeros(series.values.size), failures + 1
        if series.carried is not None:
            s[series.carried] = 0.0
        scores.append(s)
    return scores, failures


def cross_validate(
    corpus: Sequence[NabSeries],
    *,
    grid: Sequence[Mapping[str, object]] = GRID,
    folds: int = FOLDS,
    jobs: int = 1,
    progress: Progress | None = None,
) -> CvReport:
    """Cross-validated and in-sample NAB scores of the best of ``grid``, all profiles, both threshold rules."""
    keys = [s.key for s in corpus]
    fold_of = assign_folds(keys, folds)
    fold = np.array([fold_of[k] for k in keys])
    windows = np.array([len(s.windows) for s in corpus])
    n_windows = int(windows.sum())
    if n_windows == 0:
        raise ValueError("the files scored have no anomaly windows, so the score is undefined")
    grid = [dict(c) for c in grid]
    report = CvReport(configurations=len(grid), n_folds=folds, folds=fold_of, grid=tuple(grid), n_windows=n_windows)
    rules = ("corpus", "own")
    best_cv = {(f, p, r): _Best() for f in range(folds) for p in PROFILES for r in rules}
    best_in = {(p, r): _Best() for p in PROFILES for r in rules}

    tasks = ((config, corpus) for config in grid)
    if jobs > 1:
        pool = ProcessPoolExecutor(max_workers=jobs)
        outputs = pool.map(_run_config, tasks)
    else:
        pool, outputs = None, map(_run_config, tasks)
    try:
        for c, (scores, failures) in enumerate(outputs):
            report.failures += failures
            for name, profile in PROFILES.items():
                events = [file_events(s, series.windows, profile) for s, series in zip(scores, corpus)]
                own = np.array([raw_at_threshold(e, n, OWN_THRESHOLD, profile) for e, n in zip(events, windows)])
                _update(best_in[(name, "own")], float(own.sum()), c, OWN_THRESHOLD, 0.0)
                t_all, raw_all = best_threshold(events, int(windows.sum()), profile)
                _update(best_in[(name, "corpus")], raw_all, c, t_all, 0.0)
                for f in range(folds):
                    train = fold != f
                    test = np.flatnonzero(~train)
                    _update(best_cv[(f, name, "own")], float(own[train].sum()), c, OWN_THRESHOLD,
                            lambda: float(own[~train].sum()))
                    t, raw = best_threshold([events[i] for i in np.flatnonzero(train)], int(windows[train].sum()), profile)
                    _update(best_cv[(f, name, "corpus")], raw, c, t,
                            lambda t=t: sum(raw_at_threshold(events[i], windows[i], t, profile) for i in test))
            if progress is not None:
                progress(c + 1, len(grid), f"configuration {c + 1} of {len(grid)}")
    finally:
        if pool is not None:
            pool.shutdown()

    for name, profile in PROFILES.items():
        for rule in rules:
            b = best_in[(name, rule)]
            report.in_sample.setdefault(name, {})[rule] = {
                "score": round(normalised_score(b.train, n_windows, profile), 2),
                "threshold": b.threshold,
                "configuration": grid[b.config],
            }
            chosen = [best_cv[(f, name, rule)] for f in range(folds)]
            pooled = sum(b.test_raw for b in chosen)
            report.cv.setdefault(name, {})[rule] = {
                "score": round(normalised_score(pooled, n_windows, profile), 2),
                "per_fold": [
                    {"fold": f, "threshold": b.threshold, "configuration": grid[b.config]} for f, b in enumerate(chosen)
                ],
            }
    return report


def _update(best: _Best, train_raw: float, config: int, threshold: float, test: float | Callable[[], float]) -> None:
    """Keep ``config`` if it beats the best training score so far (ties keep the earlier); compute its test score then."""
    if train_raw > best.train + 1e-9 * max(1.0, abs(best.train)) or best.config < 0:
        best.train, best.config, best.threshold = train_raw, config, threshold
        best.test_raw = test() if callable(test) else test


def default_jobs() -> int:
    """Both cores only when the machine is free (1-minute load average under 0.5), else one (results do not depend on it)."""
    try:
        free = os.getloadavg()[0] < 0.5
    except OSError:
        free = False
    return 2 if free and (os.cpu_count() or 1) >= 2 else 1


def select_and_evaluate(
    data_dir,
    windows_path,
    *,
    results_dir=None,
    plots: bool = True,
    grid: Sequence[Mapping[str, object]] | None = None,
    folds: int = FOLDS,
    jobs: int = 1,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Cross-validate the grid over the corpus, then evaluate (and write results for) the configuration chosen on all files.

    The chosen configuration is the in-sample best of the standard profile at the corpus-optimised
    threshold: what one would ship. ``grid`` defaults to :data:`GRID`. Returns :func:`evaluation._nab.evaluate_nab`'s report with a
    ``"selection"`` entry (:meth:`CvReport.as_dict`).
    """
    corpus = load_corpus(data_dir, windows_path)
    if not corpus.series:
        raise NabInputError(f"scored 0 of {corpus.listed} files")
    cv_progress = None if progress is None else (lambda d, t, what: progress(d, t, f"cv: {what}"))
    try:
        cv = cross_validate(corpus.series, grid=GRID if grid is None else grid, folds=folds, jobs=jobs, progress=cv_progress)
    except ValueError as exc:
        raise NabInputError(str(exc)) from None
    chosen = cv.in_sample["standard"]["corpus"]["configuration"]
    detector = StreamingLinear(**chosen)
    with np.errstate(all="ignore"):
        report = evaluate_nab(data_dir, windows_path, detector=detector, results_dir=results_dir, plots=plots, progress=progress)
    return {**report, "configuration": chosen, "selection": cv.as_dict()}
