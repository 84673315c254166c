"""Honest model selection on NAB: every setting, the corpus threshold included, chosen by cross-validation over files.

- **Folds** (:func:`assign_folds`): :data:`FOLDS` folds by file, stratified by category: within
  each category (sorted) the files (sorted) are dealt to the folds in turn, one counter running
  across categories so the folds stay the same size. A fixed rule of the file names, no seed.
  Further *assignments* (``also_assignments``) deal the files of each category in another fixed
  order (by a hash of the assignment number and the name) to show how much the estimate owes
  to one split: reported, never used to choose.
- **Grid** (:data:`GRID`): fixed here, over :class:`model._streaming.StreamingLinear`'s parameters;
  the report says how many configurations were tried.
- **Selection**: for each fold and each NAB profile, the configuration and corpus threshold are
  chosen on the *other* folds' files (the training folds) only; its detections on the fold's own
  files (the test fold) are kept. At the detector's own threshold (0.5) only the configuration is
  chosen. Three rules (:data:`RULES`), all always computed: ``best`` takes the configuration and
  threshold with the best pooled training score; ``robust`` takes the configuration with the best
  mean rank over the training folds scored one by one (:func:`mean_rank_choice`; at the corpus
  threshold each fold scored at its own best threshold) and the middle of the widest threshold
  plateau within 1 point of the best pooled training score (:func:`plateau_threshold`);
  ``plateau`` is ``robust`` with each configuration ranked, at the corpus threshold, at the one
  threshold it would be used with (its plateau midpoint on the training folds pooled). At the
  own threshold ``plateau`` and ``robust`` are the same rule.
- **Score**: the test folds' detections are pooled into one corpus and scored with NAB's
  normalisation over the whole corpus (every window of every file). The in-sample score is the
  rule's choice on all files at once (settings chosen by looking at the files scored). Further fold
  counts (``also_folds``) reuse the same per-file events, so a stability check costs no detector run.

Each configuration runs once per file; its scores become per-file threshold events
(:func:`evaluation._nab_score.file_events`), from which every fold's threshold sweep and every
test score is computed, so a threshold is never re-run. Ties between configurations go to the
earlier one in the grid.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy.stats import rankdata

from ._nab import DETECTOR_FAILURES, OWN_THRESHOLD, NabInputError, NabSeries, evaluate_nab, file_scores, load_corpus
from ._nab_score import PROFILES, Profile, SortedEvents, best_of_sweep, file_events, normalised_score, raw_at_threshold, threshold_sweep
from model._streaming import DAY_SECONDS, StreamingLinear

__all__ = [
    "FOLDS",
    "GRID",
    "GRID_AXES",
    "RULE",
    "RULES",
    "CvReport",
    "assign_folds",
    "cross_validate",
    "default_jobs",
    "grid_size",
    "mean_rank_choice",
    "plateau_threshold",
    "select_and_evaluate",
]

#: Folds by file (stratified by category).
FOLDS = 4

#: Selection rules: ``best`` (pooled-training argmax of configuration and threshold), ``robust``
#: (best mean rank over the training folds; the corpus threshold at the middle of the widest plateau
#: within 1 point of the best) and ``plateau`` (``robust`` with configurations ranked at their
#: plateau threshold, the one they would be used with).
RULES: tuple[str, ...] = ("best", "robust", "plateau")

#: The default rule, by the comparison written in the README before the robust rule was run: robust,
#: whose 4-fold cross-validated standard score at the corpus threshold (53.64) is not lower than
#: best's (53.49).
RULE = "robust"

#: The grid: every combination of these values of :class:`StreamingLinear`'s parameters.
GRID_AXES: dict[str, tuple[object, ...]] = {
    "min_history_seconds": (0.5 * DAY_SECONDS, DAY_SECONDS, 2 * DAY_SECONDS),  # the warm-up before the first fit
    "level_seconds": (0.5 * DAY_SECONDS, DAY_SECONDS, 2 * DAY_SECONDS),
    "refit_every_seconds": (0.5 * DAY_SECONDS, DAY_SECONDS),
    "cooldown_seconds": (0.5 * DAY_SECONDS, DAY_SECONDS),
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


def assign_folds(keys: Sequence[str], folds: int = FOLDS, assignment: int = 0) -> dict[str, int]:
    """Fold of each file: stratified by category (the folder), dealt in turn in sorted order.

    ``assignment`` 0 is that order; assignment ``a > 0`` deals each category's files in the order of
    ``sha256(f"{a}/{key}")`` instead: another fixed split with the same strata and fold sizes.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if assignment < 0:
        raise ValueError(f"assignment must be >= 0, got {assignment}")
    order = (lambda key: key) if assignment == 0 else (lambda key: hashlib.sha256(f"{assignment}/{key}".encode()).hexdigest())
    by_category: dict[str, list[str]] = {}
    for key in sorted(set(keys), key=order):
        by_category.setdefault(key.split("/")[0], []).append(key)
    fold_of, turn = {}, 0
    for category in sorted(by_category):
        for key in by_category[category]:
            fold_of[key] = turn % folds
            turn += 1
    return fold_of


@dataclass
class _Best:
    """The best configuration so far for one (fold, profile, threshold rule)."""

    train: float = -np.inf
    config: int = -1
    threshold: float = np.nan
    test_raw: float = 0.0


@dataclass
class CvReport:
    """What :func:`cross_validate` found; :meth:`as_dict` is JSON-ready.

    ``in_sample`` and ``cv`` are the figures of ``rule`` at ``n_folds`` folds; ``rules`` holds every
    rule's figures, ``other_folds`` the cross-validated scores at the other fold counts asked for,
    ``assignments`` every rule's cross-validated scores at ``n_folds`` folds under each fold
    assignment (0, the one above, first).
    """

    configurations: int
    n_folds: int
    folds: dict[str, int]
    grid: tuple[dict[str, object], ...]
    n_windows: int
    rule: str = "best"
    in_sample: dict[str, dict[str, object]] = field(default_factory=dict)
    cv: dict[str, dict[str, object]] = field(default_factory=dict)
    rules: dict[str, dict[str, object]] = field(default_factory=dict)
    other_folds: dict[str, dict[str, object]] = field(default_factory=dict)
    assignments: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    failures: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "configurations": self.configurations,
            "folds": self.n_folds,
            "fold_of_file": self.folds,
            "windows": self.n_windows,
            "grid_axes": {k: list(v) for k, v in _axes(self.grid).items()},
            "rule": self.rule,
            "in_sample": self.in_sample,
            "cross_validated": self.cv,
            "rules": self.rules,
            "other_folds": self.other_folds,
            "assignments": self.assignments,
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
                s = file_scores(series, detector.run(series.times_seconds, series.values).score)
        except DETECTOR_FAILURES:
            s, failures = np.zeros(series.values.size), failures + 1
        scores.append(s)
    return scores, failures


def mean_rank_choice(fold_scores: np.ndarray) -> int:
    """The configuration (row) with the best mean rank over the folds (columns), ranked fold by fold.

    Rank 1 is a fold's highest score; equal scores (to 1e-9) share their average rank; ties in the
    mean rank go to the earlier row. ``fold_scores`` has shape ``(configurations, folds)``.
    """
    s = np.round(np.asarray(fold_scores, dtype=float), 9)
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"fold_scores must be a non-empty (configurations, folds) array, got shape {s.shape}")
    ranks = np.column_stack([rankdata(-s[:, j], method="average") for j in range(s.shape[1])])
    mean = ranks.mean(axis=1)
    return int(np.flatnonzero(mean <= mean.min() + 1e-12)[0])


def plateau_threshold(
    events: Sequence[tuple[np.ndarray, np.ndarray]], n_windows: int, profile: Profile, *, within_points: float = 1.0
) -> tuple[float, float, tuple[float, float]]:
    """The midpoint of the widest contiguous threshold interval scoring within ``within_points`` of the best.

    Scores are normalised over ``n_windows`` (1 point is ``(A_TP + A_FN) * n_windows / 100`` raw);
    thresholds run over ``[0, NEVER_FIRE_THRESHOLD]``; ties in width go to the higher interval.
    Returns ``(threshold, raw score at it, (interval low, interval high))``.
    """
    if n_windows <= 0:
        raise ValueError(f"n_windows must be positive (the score is normalised over the windows), got {n_windows}")
    return plateau_of_sweep(*threshold_sweep(events, n_windows, profile), n_windows, profile, within_points=within_points)


def plateau_of_sweep(
    candidates: np.ndarray, totals: np.ndarray, n_windows: int, profile: Profile, *, within_points: float = 1.0
) -> tuple[float, float, tuple[float, float]]:
    """:func:`plateau_threshold`'s choice from a threshold sweep (:func:`evaluation._nab_score.threshold_sweep`)."""
    slack = within_points * (profile.tp_weight + profile.fn_weight) * n_windows / 100.0
    near = totals >= totals.max() - slack - 1e-9 * max(1.0, abs(totals.max()))
    lows = np.concatenate(([0.0], candidates[:-1]))
    # runs of consecutive near candidates: [starts[r], ends[r]] (the best candidate is always near)
    edges = np.diff(np.concatenate(([0], near.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    run_lows = np.minimum(lows[starts], candidates[starts])
    widths = candidates[ends] - run_lows
    # the widest run; runs within 1e-12 of the widest tie, and the tie goes to the higher interval (the last of them)
    r = int(np.flatnonzero(widths >= widths.max() - 1e-12)[-1])
    low, high = float(run_lows[r]), float(candidates[ends[r]])
    threshold = (low + high) / 2.0
    raw = float(totals[min(int(np.searchsorted(candidates, threshold, side="left")), totals.size - 1)])
    return threshold, raw, (low, high)


def cross_validate(
    corpus: Sequence[NabSeries],
    *,
    grid: Sequence[Mapping[str, object]] = GRID,
    folds: int = FOLDS,
    rule: str = RULE,
    also_folds: Sequence[int] = (),
    also_assignments: int = 0,
    jobs: int = 1,
    progress: Progress | None = None,
) -> CvReport:
    """Cross-validated and in-sample NAB scores of ``grid`` chosen by every rule, all profiles, both thresholds.

    ``rule`` (one of :data:`RULES`) is the one whose figures fill ``in_sample`` and ``cv``;
    ``also_folds`` are further fold counts whose cross-validated scores are reported, not used;
    ``also_assignments`` further fold assignments at ``folds`` folds (:func:`assign_folds`), reported
    in ``assignments``, not used.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    if also_assignments < 0:
        raise ValueError(f"also_assignments must be >= 0, got {also_assignments}")
    keys = [s.key for s in corpus]
    # a scheme is (fold count, assignment); the first is the one reported as cross-validated
    main = (folds, 0)
    schemes = [main, *((k, 0) for k in dict.fromkeys(also_folds) if k != folds), *((folds, a) for a in range(1, also_assignments + 1))]
    fold_of = {sch: assign_folds(keys, *sch) for sch in schemes}
    fold_arr = {sch: np.array([fold_of[sch][key] for key in keys]) for sch in schemes}
    windows = np.array([len(s.windows) for s in corpus])
    n_windows = int(windows.sum())
    if n_windows == 0:
        raise ValueError("the files scored have no anomaly windows, so the score is undefined")
    grid = [dict(c) for c in grid]
    report = CvReport(configurations=len(grid), n_folds=folds, folds=fold_of[main], grid=tuple(grid), n_windows=n_windows, rule=rule)
    kinds = ("corpus", "own")
    best_cv = {(sch, f, p, r): _Best() for sch in schemes for f in range(sch[0]) for p in PROFILES for r in kinds}
    best_in = {(p, r): _Best() for p in PROFILES for r in kinds}
    # For the robust rule: each configuration's raw score on each fold alone (at the fold's best threshold)
    # and its own-threshold raw score per file.
    fold_raw = {(sch, p): np.zeros((len(grid), sch[0])) for sch in schemes for p in PROFILES}
    own_raw = {p: np.zeros((len(grid), len(corpus))) for p in PROFILES}
    # For the robust and plateau rules: with the training folds of test fold f (f = K: all folds, in-sample),
    # each configuration's plateau (threshold, pooled training raw score, interval low, high) and its raw
    # score on every fold g at that threshold.
    at_use = {(sch, p): np.zeros((len(grid), sch[0] + 1, sch[0])) for sch in schemes for p in PROFILES}
    at_use_threshold = {(sch, p): np.zeros((len(grid), sch[0] + 1, 4)) for sch in schemes for p in PROFILES}

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
                ordered = SortedEvents(events, windows)  # sorted once for every fold's sweep
                own = np.array([raw_at_threshold(e, n, OWN_THRESHOLD, profile) for e, n in zip(events, windows)])
                own_raw[name][c] = own
                _update(best_in[(name, "own")], float(own.sum()), c, OWN_THRESHOLD, 0.0)
                t_all, raw_all = best_of_sweep(*ordered.sweep(np.ones(len(corpus), dtype=bool), profile))
                _update(best_in[(name, "corpus")], raw_all, c, t_all, 0.0)
                for sch in schemes:
                    K, fold = sch[0], fold_arr[sch]
                    for f in range(K):
                        train = fold != f
                        test = np.flatnonzero(~train)
                        _update(best_cv[(sch, f, name, "own")], float(own[train].sum()), c, OWN_THRESHOLD,
                                lambda: float(own[~train].sum()))
                        t, raw = best_of_sweep(*ordered.sweep(train, profile))
                        _update(best_cv[(sch, f, name, "corpus")], raw, c, t,
                                lambda t=t: sum(raw_at_threshold(events[i], windows[i], t, profile) for i in test))
                        fold_raw[(sch, name)][c, f] = best_of_sweep(*ordered.sweep(~train, profile))[1]
                    for f in range(K + 1):  # f == K: no test fold (in-sample)
                        if f == K and sch != main:
                            continue  # in-sample is the main scheme's
                        train = fold != f
                        t, raw, (low, high) = plateau_of_sweep(*ordered.sweep(train, profile), int(windows[train].sum()), profile)
                        per_file = np.array([raw_at_threshold(e, n, t, profile) for e, n in zip(events, windows)])
                        at_use[(sch, name)][c, f] = np.bincount(fold, weights=per_file, minlength=K)
                        at_use_threshold[(sch, name)][c, f] = (t, raw, low, high)
            if progress is not None:
                progress(c + 1, len(grid), f"configuration {c + 1} of {len(grid)}")
    finally:
        if pool is not None:
            pool.shutdown()

    def at_plateau(sch: tuple[int, int], name: str, f: int, c: int) -> tuple[_Best, tuple[float, float]]:
        """Configuration ``c`` at its plateau threshold on the training folds of fold ``f`` of scheme ``sch`` (``f == K``: all)."""
        K = sch[0]
        t, raw, low, high = at_use_threshold[(sch, name)][c, f]
        test_raw = float(at_use[(sch, name)][c, f, f]) if f < K else 0.0
        return _Best(train=float(raw), config=c, threshold=float(t), test_raw=test_raw), (float(low), float(high))

    def robust(sch: tuple[int, int], name: str, f: int) -> tuple[_Best, _Best, tuple[float, float]]:
        """The robust rule's choices with fold ``f`` of scheme ``sch`` held out (``f == K``: none): corpus and own threshold."""
        K, fold = sch[0], fold_arr[sch]
        train_folds = [g for g in range(K) if g != f]
        own_by_fold = np.column_stack([own_raw[name][:, fold == g].sum(axis=1) for g in train_folds])
        c_own = mean_rank_choice(own_by_fold)
        corpus_pick, interval = at_plateau(sch, name, f, mean_rank_choice(fold_raw[(sch, name)][:, train_folds]))
        train = fold != f
        own_pick = _Best(train=float(own_raw[name][c_own][train].sum()), config=c_own, threshold=OWN_THRESHOLD,
                         test_raw=float(own_raw[name][c_own][~train].sum()))
        return corpus_pick, own_pick, interval

    def plateau(sch: tuple[int, int], name: str, f: int) -> tuple[_Best, tuple[float, float]]:
        """The plateau rule's corpus-threshold choice with fold ``f`` of scheme ``sch`` held out (``f == K``: none held out)."""
        train_folds = [g for g in range(sch[0]) if g != f]
        return at_plateau(sch, name, f, mean_rank_choice(at_use[(sch, name)][:, f, train_folds]))

    for name, profile in PROFILES.items():
        r_corpus, r_own, interval = robust(main, name, folds)
        p_corpus, p_interval = plateau(main, name, folds)
        in_sample = {
            "best": {k: best_in[(name, k)] for k in kinds},
            "robust": {"corpus": r_corpus, "own": r_own},
            "plateau": {"corpus": p_corpus, "own": r_own},
        }
        for rule_name, picks in in_sample.items():
            entry = report.rules.setdefault(rule_name, {"in_sample": {}, "cross_validated": {}})
            entry["in_sample"][name] = {
                k: {"score": round(normalised_score(b.train, n_windows, profile), 2), "threshold": b.threshold,
                    "configuration": grid[b.config]}
                for k, b in picks.items()
            }
            if rule_name in ("robust", "plateau"):
                entry["in_sample"][name]["corpus"]["plateau"] = list(interval if rule_name == "robust" else p_interval)
        for sch in schemes:
            K = sch[0]
            chosen: dict[str, dict[str, list[_Best]]] = {"best": {k: [best_cv[(sch, f, name, k)] for f in range(K)] for k in kinds},
                                                         "robust": {"corpus": [], "own": []}, "plateau": {"corpus": [], "own": []}}
            intervals: dict[str, list[tuple[float, float]]] = {"robust": [], "plateau": []}
            for f in range(K):
                rc, ro, iv = robust(sch, name, f)
                pc, piv = plateau(sch, name, f)
                chosen["robust"]["corpus"].append(rc)
                chosen["robust"]["own"].append(ro)
                chosen["plateau"]["corpus"].append(pc)
                chosen["plateau"]["own"].append(ro)
                intervals["robust"].append(iv)
                intervals["plateau"].append(piv)
            for rule_name, picks in chosen.items():
                result = {}
                for k, bests in picks.items():
                    result[k] = {
                        "score": round(normalised_score(sum(b.test_raw for b in bests), n_windows, profile), 2),
                        "per_fold": [{"fold": f, "threshold": b.threshold, "configuration": grid[b.config]}
                                     for f, b in enumerate(bests)],
                    }
                if rule_name in intervals:
                    for item, iv in zip(result["corpus"]["per_fold"], intervals[rule_name]):
                        item["plateau"] = list(iv)
                scores_only = {k: v["score"] for k, v in result.items()}
                if sch == main:
                    report.rules[rule_name]["cross_validated"][name] = result
                elif sch[1] == 0:
                    report.other_folds.setdefault(str(K), {}).setdefault(rule_name, {})[name] = scores_only
                if K == folds and also_assignments:  # assignment 0 (the main one) first, then 1, 2, ...
                    listed = report.assignments.setdefault(rule_name, {}).setdefault(name, {k: [] for k in kinds})
                    for k in kinds:
                        listed[k].append(scores_only[k])
    report.in_sample = report.rules[rule]["in_sample"]
    report.cv = report.rules[rule]["cross_validated"]
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
    rule: str | None = None,
    also_folds: Sequence[int] = (),
    also_assignments: int = 0,
    jobs: int = 1,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Cross-validate the grid over the corpus, then evaluate (and write results for) the configuration chosen on all files.

    The chosen configuration is the one ``rule`` picks on all files for the standard profile at the
    corpus threshold (``None``: :data:`RULE`): what one would ship. The evaluation written is :func:`evaluation._nab.evaluate_nab`'s
    (its corpus threshold is the argmax, whatever the rule). ``grid`` defaults to :data:`GRID`.
    Returns that report with a ``"selection"`` entry (:meth:`CvReport.as_dict`).
    """
    corpus = load_corpus(data_dir, windows_path)
    if not corpus.series:
        raise NabInputError(f"scored 0 of {corpus.listed} files")
    cv_progress = None if progress is None else (lambda d, t, what: progress(d, t, f"cv: {what}"))
    try:
        cv = cross_validate(corpus.series, grid=GRID if grid is None else grid, folds=folds, rule=RULE if rule is None else rule,
                            also_folds=also_folds, also_assignments=also_assignments, jobs=jobs, progress=cv_progress)
    except ValueError as exc:
        raise NabInputError(str(exc)) from None
    chosen = cv.in_sample["standard"]["corpus"]["configuration"]
    detector = StreamingLinear(**chosen)
    with np.errstate(all="ignore"):
        report = evaluate_nab(data_dir, windows_path, detector=detector, results_dir=results_dir, plots=plots, progress=progress)
    return {**report, "configuration": chosen, "selection": cv.as_dict()}
