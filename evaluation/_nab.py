"""NAB evaluation: read NAB-format data, run a streaming detector, score, write results and plots.

Reads a NAB ``data/`` folder (``<category>/<file>.csv`` with ``timestamp,value``) and a windows
file (``labels/combined_windows.json``), runs one :mod:`model._streaming` detector over every
file listed in the windows file, maps its score ``s`` into ``[0, 1]`` as ``s / (1 + s)`` (so its
own threshold ``s >= 1`` is 0.5), scores with :mod:`evaluation._nab_score` at that threshold and at
the corpus-optimised one, and writes NAB's results layout
``<results_dir>/<detector>/<category>/<detector>_<file>.csv`` plus one PNG per file.

Files are read as they come (:mod:`evaluation._nab_read`): every quirk met is processed or
skipped and listed in the report (file, row, what was done); a file that cannot be scored is
named with its reason, the report says "scored N of M files", and one bad file never aborts
the corpus.

Errors::

    ValueError
     └── NabInputError   missing data folder, malformed windows file, or no file could be scored
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from plumbing.errors import short

from ._nab_read import EVERY_RANGE_SECONDS, Quirk, UnscorableFile, coarsen, file_order_window_rows, read_raw_series
from ._nab_score import PROFILES, normalised_score, optimise_threshold, score_corpus, window_rows
from model._streaming import StreamingDetector, StreamResult

__all__ = [
    "OWN_THRESHOLD",
    "Corpus",
    "FileResult",
    "NabInputError",
    "NabSeries",
    "file_scores",
    "default_results_dir",
    "evaluate_nab",
    "load_corpus",
    "plot_result",
    "read_series",
    "read_windows",
    "run_detector",
    "score_results",
    "to_unit_interval",
    "write_results_csv",
]

#: The detector's own threshold after ``s / (1 + s)``: ``s >= 1`` maps to ``>= 0.5``.
OWN_THRESHOLD = 0.5

Progress = Callable[[int, int, str], None]


class NabInputError(ValueError):
    """The NAB data folder or windows file cannot be used (one line, fit for the console)."""


@dataclass(frozen=True)
class NabSeries:
    """One NAB file: ``key`` is its path relative to ``data/`` (``category/name.csv``)."""

    key: str
    timestamps: np.ndarray  # (N,) datetime64[ns] in file order (a timestamp may go back), naive (read as UTC)
    values: np.ndarray  # (N,) float64, finite
    windows: tuple[tuple[int, int], ...]  # inclusive row ranges
    carried: np.ndarray | None = None  # (N,) bool: the value was unusable and carried (the row scores 0)
    quirks: tuple[Quirk, ...] = ()

    @property
    def category(self) -> str:
        return self.key.split("/")[0]

    @property
    def name(self) -> str:
        return Path(self.key).name

    @property
    def times_seconds(self) -> np.ndarray:
        """Epoch seconds (float64)."""
        return self.timestamps.astype("datetime64[ns]").astype(np.int64) / 1e9

    @property
    def labels(self) -> np.ndarray:
        """(N,) 1 inside a window, else 0."""
        label = np.zeros(self.values.size, dtype=np.int64)
        for left, right in self.windows:
            label[left : right + 1] = 1
        return label


@dataclass(frozen=True)
class FileResult:
    """A detector's output on one file: raw result and ``anomaly_score`` in [0, 1]."""

    series: NabSeries
    result: StreamResult
    anomaly_score: np.ndarray


@dataclass(frozen=True)
class Corpus:
    """The files a windows file lists: those that can be scored, and those that cannot with the reason."""

    series: tuple[NabSeries, ...]
    not_scored: tuple[tuple[str, str], ...]  # (key, reason)

    @property
    def listed(self) -> int:
        return len(self.series) + len(self.not_scored)

    @property
    def quirks(self) -> tuple[Quirk, ...]:
        return tuple(q for s in self.series for q in s.quirks)


def to_unit_interval(score: np.ndarray) -> np.ndarray:
    """Map a score ``s in [0, inf)`` to ``s / (1 + s)`` in ``[0, 1)`` (NaN counts as 0, +inf as just under 1)."""
    s = np.nan_to_num(np.maximum(np.asarray(score, dtype=float), 0.0), nan=0.0, posinf=1e15)
    return s / (1.0 + s)


def _inside_key(key: str) -> bool:
    """Whether a windows key names a file two plain folders deep (it joins the data and the results folders)."""
    if "\\" in key or "\x00" in key or key.startswith("/"):
        return False
    parts = key.split("/")
    return len(parts) == 2 and all(p and p not in (".", "..") for p in parts) and parts[1].endswith(".csv")


def file_scores(series: NabSeries, score: np.ndarray) -> np.ndarray:
    """A detector's scores on one file as NAB anomaly scores in ``[0, 1)``; 0 on a row whose value was carried (not there)."""
    anomaly_score = to_unit_interval(score)
    if series.carried is not None:
        anomaly_score[series.carried] = 0.0
    return anomaly_score


def read_windows(path: str | os.PathLike[str]) -> dict[str, list[tuple[str, str]]]:
    """Read a NAB windows JSON: ``{"category/file.csv": [[start, end], ...]}``."""
    path = Path(path)
    if not path.is_file():
        raise NabInputError(f"windows file {path} does not exist")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NabInputError(f"windows file {path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or not raw:
        raise NabInputError(f"windows file {path} must be a non-empty object of file -> [[start, end], ...]")
    windows: dict[str, list[tuple[str, str]]] = {}
    for key, spans in raw.items():
        ok = isinstance(spans, list) and all(
            isinstance(s, list) and len(s) == 2 and all(isinstance(t, str) for t in s) for s in spans
        )
        if not ok or not _inside_key(key):
            raise NabInputError(
                f"windows file {path}: entry {short(key, 80)} must be 'category/file.csv' (two plain names, "
                "no '..', no absolute path, no backslash): [[start, end], ...]"
            )
        windows[key] = [(s[0], s[1]) for s in spans]
    return windows


def read_series(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one NAB CSV (``timestamp,value``) as it comes -> (timestamps datetime64[ns] in file order, values float64).

    Quirks are handled as :mod:`evaluation._nab_read` says (use :func:`load_corpus` to see them);
    :class:`NabInputError` if the file cannot be scored at all.
    """
    try:
        raw = read_raw_series(path, Path(path).name)
    except UnscorableFile as exc:
        raise NabInputError(f"{path}: {exc}") from None
    return raw.timestamps, raw.values


def _load_one(data_dir: Path, key: str, spans: list[tuple[str, str]], every_seconds: float | None = None) -> NabSeries:
    raw = read_raw_series(data_dir / key, key)
    if every_seconds is not None:
        raw = coarsen(raw, every_seconds)
    try:
        if np.all(raw.timestamps[1:] >= raw.timestamps[:-1]):
            rows = window_rows(raw.timestamps, spans)
        else:
            rows = file_order_window_rows(raw.timestamps, spans)
    except ValueError as exc:
        raise UnscorableFile(f"windows do not fit the file: {exc}") from None
    return NabSeries(key=key, timestamps=raw.timestamps, values=raw.values, windows=tuple(rows),
                     carried=raw.carried, quirks=raw.quirks)


def load_corpus(
    data_dir: str | os.PathLike[str], windows_path: str | os.PathLike[str], *, every_seconds: float | None = None
) -> Corpus:
    """Every file the windows file lists, read as it comes; the files that cannot be scored are named with their reason.

    With ``every_seconds``, each file is averaged into buckets of that span first
    (:func:`evaluation._nab_read.coarsen`; the windows keep their times).
    """
    low, high = EVERY_RANGE_SECONDS
    if every_seconds is not None and not (np.isfinite(every_seconds) and low <= every_seconds <= high):
        raise NabInputError(f"every_seconds must be from {low:g} to {high:g} seconds (1 s to about ten years), got {every_seconds!r}")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise NabInputError(f"data folder {data_dir} does not exist")
    series, not_scored = [], []
    for key, spans in sorted(read_windows(windows_path).items()):
        try:
            series.append(_load_one(data_dir, key, spans, every_seconds))
        except UnscorableFile as exc:
            not_scored.append((key, str(exc)))
    return Corpus(series=tuple(series), not_scored=tuple(not_scored))


#: What a detector may raise on one strange file; with ``failures`` given, the file is named and the run goes on.
DETECTOR_FAILURES = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def run_detector(
    detector: StreamingDetector,
    corpus: Sequence[NabSeries],
    progress: Progress | None = None,
    *,
    failures: list[tuple[str, str]] | None = None,
) -> list[FileResult]:
    """Run one detector (one configuration) over every file, reporting ``(done, total, key)``.

    With ``failures`` (a list), a file the detector fails on (:data:`DETECTOR_FAILURES`) is
    appended as ``(key, reason)`` and left out; without it, the error propagates.
    """
    results = []
    for done, series in enumerate(corpus, start=1):
        try:
            result = detector.run(series.times_seconds, series.values)
        except DETECTOR_FAILURES as exc:
            if failures is None:
                raise
            failures.append((series.key, f"the detector failed: {str(exc)[:120]}"))
            continue
        results.append(FileResult(series=series, result=result, anomaly_score=file_scores(series, result.score)))
        if progress is not None:
            progress(done, len(corpus), series.key)
    return results


def score_results(results: Sequence[FileResult]) -> dict[str, object]:
    """NAB scores of all profiles at the corpus-optimised threshold and at :data:`OWN_THRESHOLD`."""
    files = [(r.anomaly_score, r.series.windows) for r in results]
    n_windows = sum(len(r.series.windows) for r in results)
    scores, own, thresholds = {}, {}, {}
    for name, profile in PROFILES.items():
        threshold, raw = optimise_threshold(files, profile)
        scores[name] = round(normalised_score(raw, n_windows, profile), 2)
        thresholds[name] = threshold
        own_raw = score_corpus(files, threshold=OWN_THRESHOLD, profile=profile)
        own[name] = round(normalised_score(own_raw, n_windows, profile), 2)
    return {
        "files": len(results),
        "windows": n_windows,
        "scores": scores,
        "scores_own_threshold": own,
        "thresholds": thresholds,
        "own_threshold": OWN_THRESHOLD,
    }


def write_results_csv(results_dir: Path, detector_name: str, result: FileResult) -> Path:
    """Write ``<results_dir>/<detector>/<category>/<detector>_<file>.csv`` (NAB's layout)."""
    series = result.series
    path = Path(results_dir) / detector_name / series.category / f"{detector_name}_{series.name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(series.timestamps).strftime("%Y-%m-%d %H:%M:%S"),
            "value": series.values,
            "anomaly_score": result.anomaly_score,
            "label": series.labels,
        }
    )
    frame.to_csv(path, index=False)
    return path


def plot_result(path: Path, result: FileResult, *, detector_name: str, thresholds: dict[str, float]) -> Path:
    """One PNG: the series, the expected band, flags at the own threshold, label windows, and the score."""
    import matplotlib  # lazy: start-up; matplotlib costs about 0.5 s and --no-plots never needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: start-up (as above)

    series, out = result.series, result.result
    t = pd.DatetimeIndex(series.timestamps)
    lo, hi = display_range(series.values)
    clip = lambda a: None if a is None else np.clip(a, lo, hi)  # noqa: E731
    values, clipped = clip(series.values), int(np.sum((series.values < lo) | (series.values > hi)))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5), sharex=True, height_ratios=(3, 1))
    for k, (left, right) in enumerate(series.windows):
        for ax in (top, bottom):
            ax.axvspan(t[left], t[right], color="tab:green", alpha=0.15, label="label window" if k == 0 and ax is top else None)
    if out.lower is not None and out.upper is not None:
        top.fill_between(t, clip(out.lower), clip(out.upper), color="tab:blue", alpha=0.15, linewidth=0, label="expected band (score 1)")
    if out.expected is not None:
        top.plot(t, clip(out.expected), color="tab:blue", linewidth=0.6, alpha=0.7, label="expected")
    top.plot(t, values, color="black", linewidth=0.6, label="value")
    flags = result.anomaly_score >= OWN_THRESHOLD
    top.scatter(t[flags], values[flags], color="tab:red", s=10, zorder=3, label="flag (own threshold)")
    note = f" ({clipped} extreme values clipped to the plot)" if clipped else ""
    top.set_title(f"{detector_name}: {series.key}{note}", fontsize=9)
    top.legend(fontsize=7, loc="upper left")
    bottom.plot(t, result.anomaly_score, color="tab:purple", linewidth=0.6)
    bottom.axhline(OWN_THRESHOLD, color="tab:red", linewidth=0.6, linestyle="--", label=f"own {OWN_THRESHOLD}")
    standard = thresholds.get("standard")
    if standard is not None and standard <= 1.0:
        bottom.axhline(standard, color="tab:orange", linewidth=0.6, linestyle=":", label=f"corpus {standard:.3f}")
    bottom.set_ylim(0, 1.02)
    bottom.set_ylabel("anomaly_score", fontsize=7)
    bottom.legend(fontsize=7, loc="upper left")
    fig.subplots_adjust(left=0.06, right=0.99, top=0.94, bottom=0.07, hspace=0.08)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def display_range(values: np.ndarray) -> tuple[float, float]:
    """The value range a plot shows: the 0.1-99.9 % quantiles widened by 5 times their spread each way.

    Ordinary spikes stay in view; a glitch of 1e9 or 1e308 is clipped to the edge (matplotlib
    cannot draw an axis whose span overflows float64).
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return -1.0, 1.0
    low, high = np.quantile(finite, [0.001, 0.999])
    spread = high - low
    if not np.isfinite(spread) or spread <= 0:
        spread = max(1.0, abs(float(np.median(finite))))
    pad = min(5.0 * spread, 1e300)
    return max(float(low - pad), -1e300), min(float(high + pad), 1e300)


def default_results_dir() -> Path:
    """``$XDG_DATA_HOME/aiops/nab`` or ``~/.local/share/aiops/nab``: a user data folder, never the repo."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "aiops" / "nab"


def corpus_report(corpus: Corpus, not_scored: Sequence[tuple[str, str]] = ()) -> dict[str, object]:
    """What reading met: files listed and scored, each file not scored with its reason, every quirk."""
    missing = list(corpus.not_scored) + list(not_scored)
    counts: dict[str, int] = {}
    for q in corpus.quirks:
        counts[q.kind] = counts.get(q.kind, 0) + 1
    return {
        "files_listed": corpus.listed,
        "files_scored": corpus.listed - len(missing),
        "not_scored": [{"file": key, "reason": reason} for key, reason in sorted(missing)],
        "quirk_counts": dict(sorted(counts.items())),
        "quirks": [q.as_dict() for q in corpus.quirks],
    }


def evaluate_nab(
    data_dir: str | os.PathLike[str],
    windows_path: str | os.PathLike[str],
    *,
    detector: StreamingDetector,
    results_dir: str | os.PathLike[str] | None = None,
    plots: bool = True,
    every_seconds: float | None = None,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Run, score and write results for one detector; returns the JSON-ready report.

    ``every_seconds``: average each file into buckets of that span first (:func:`load_corpus`).

    Raises :class:`NabInputError` only when nothing can be scored (no data folder, a malformed
    windows file, no scorable file, or no window in the files scored).
    """
    corpus = load_corpus(data_dir, windows_path, every_seconds=every_seconds)
    out_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    scored = None if progress is None else (lambda done, total, key: progress(done, total, f"{detector.name} scored {key}"))
    failures: list[tuple[str, str]] = []
    results = run_detector(detector, corpus.series, scored, failures=failures)
    reading = corpus_report(corpus, failures)
    if not results:
        reasons = "; ".join(f"{n['file']}: {n['reason']}" for n in reading["not_scored"])
        reasons = reasons if len(reasons) <= 400 else reasons[:399] + "…"
        raise NabInputError(f"scored 0 of {corpus.listed} files ({reasons})")
    try:
        report = score_results(results)
    except ValueError as exc:
        raise NabInputError(f"{exc} (scored {len(results)} of {corpus.listed} files)") from None
    for done, r in enumerate(results, start=1):
        csv_path = write_results_csv(out_dir, detector.name, r)
        if plots:
            plot_result(csv_path.with_suffix(".png"), r, detector_name=detector.name, thresholds=report["thresholds"])
        if progress is not None:
            progress(done, len(results), f"written {csv_path}")
    return {"detector": detector.name, **report, **reading, "every_seconds": every_seconds, "results_dir": str(out_dir / detector.name)}
