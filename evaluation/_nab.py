"""NAB evaluation: read NAB-format data, run a streaming detector, score, write results and plots.

Reads a NAB ``data/`` folder (``<category>/<file>.csv`` with ``timestamp,value``) and a windows
file (``labels/combined_windows.json``), runs one :mod:`model._streaming` detector over every
file listed in the windows file, maps its score ``s`` into ``[0, 1]`` as ``s / (1 + s)`` (so its
own threshold ``s >= 1`` is 0.5), scores with :mod:`evaluation._nab_score` at that threshold and at
the corpus-optimised one, and writes NAB's results layout
``<results_dir>/<detector>/<category>/<detector>_<file>.csv`` plus one PNG per file.

Errors::

    ValueError
     └── NabInputError   missing folder or file, unreadable CSV, malformed windows file
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

from ._nab_score import PROFILES, normalised_score, optimise_threshold, score_corpus, window_rows
from model._streaming import StreamingDetector, StreamResult

__all__ = [
    "OWN_THRESHOLD",
    "FileResult",
    "NabInputError",
    "NabSeries",
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
    timestamps: np.ndarray  # (N,) datetime64[ns], non-decreasing, naive (read as UTC)
    values: np.ndarray  # (N,) float64
    windows: tuple[tuple[int, int], ...]  # inclusive row ranges

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


def to_unit_interval(score: np.ndarray) -> np.ndarray:
    """Map a score ``s in [0, inf)`` to ``s / (1 + s)`` in ``[0, 1)``."""
    s = np.maximum(np.asarray(score, dtype=float), 0.0)
    return s / (1.0 + s)


def _inside_key(key: str) -> bool:
    """Whether a windows key names a file two plain folders deep (it joins the data and the results folders)."""
    if "\\" in key or "\x00" in key or key.startswith("/"):
        return False
    parts = key.split("/")
    return len(parts) == 2 and all(p and p not in (".", "..") for p in parts) and parts[1].endswith(".csv")


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
    """Read one NAB CSV (``timestamp,value``) -> (timestamps datetime64[ns], values float64)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"value": "float64"})
        timestamps = pd.to_datetime(frame["timestamp"], format="%Y-%m-%d %H:%M:%S").to_numpy("datetime64[ns]")
        values = frame["value"].to_numpy(dtype=float)
    except (OSError, KeyError, ValueError, pd.errors.ParserError) as exc:
        raise NabInputError(f"{path} is not a NAB CSV (timestamp,value): {exc}") from None
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise NabInputError(f"{path} has no rows or a non-numeric value")
    if np.any(timestamps[1:] < timestamps[:-1]):
        raise NabInputError(f"{path} is not in time order")
    return timestamps, values


def load_corpus(data_dir: str | os.PathLike[str], windows_path: str | os.PathLike[str]) -> list[NabSeries]:
    """Every file the windows file lists, read from ``data_dir`` with its windows as row ranges."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise NabInputError(f"data folder {data_dir} does not exist")
    corpus = []
    for key, spans in sorted(read_windows(windows_path).items()):
        path = data_dir / key
        if not path.is_file():
            raise NabInputError(f"{key} is listed in the windows file but {path} does not exist")
        timestamps, values = read_series(path)
        try:
            rows = window_rows(timestamps, spans)
        except ValueError as exc:
            raise NabInputError(f"{key}: {exc}") from None
        corpus.append(NabSeries(key=key, timestamps=timestamps, values=values, windows=tuple(rows)))
    return corpus


def run_detector(
    detector: StreamingDetector, corpus: Sequence[NabSeries], progress: Progress | None = None
) -> list[FileResult]:
    """Run one detector (one configuration) over every file, reporting ``(done, total, key)``."""
    results = []
    for done, series in enumerate(corpus, start=1):
        result = detector.run(series.times_seconds, series.values)
        results.append(FileResult(series=series, result=result, anomaly_score=to_unit_interval(result.score)))
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
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5), sharex=True, height_ratios=(3, 1))
    for k, (left, right) in enumerate(series.windows):
        for ax in (top, bottom):
            ax.axvspan(t[left], t[right], color="tab:green", alpha=0.15, label="label window" if k == 0 and ax is top else None)
    if out.lower is not None and out.upper is not None:
        top.fill_between(t, out.lower, out.upper, color="tab:blue", alpha=0.15, linewidth=0, label="expected band (score 1)")
    if out.expected is not None:
        top.plot(t, out.expected, color="tab:blue", linewidth=0.6, alpha=0.7, label="expected")
    top.plot(t, series.values, color="black", linewidth=0.6, label="value")
    flags = result.anomaly_score >= OWN_THRESHOLD
    top.scatter(t[flags], series.values[flags], color="tab:red", s=10, zorder=3, label="flag (own threshold)")
    top.set_title(f"{detector_name}: {series.key}", fontsize=9)
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


def default_results_dir() -> Path:
    """``$XDG_DATA_HOME/aiops/nab`` or ``~/.local/share/aiops/nab``: a user data folder, never the repo."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "aiops" / "nab"


def evaluate_nab(
    data_dir: str | os.PathLike[str],
    windows_path: str | os.PathLike[str],
    *,
    detector: StreamingDetector,
    results_dir: str | os.PathLike[str] | None = None,
    plots: bool = True,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Run, score and write results for one detector; returns the JSON-ready report."""
    corpus = load_corpus(data_dir, windows_path)
    out_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    scored = None if progress is None else (lambda done, total, key: progress(done, total, f"{detector.name} scored {key}"))
    results = run_detector(detector, corpus, scored)
    try:
        report = score_results(results)
    except ValueError as exc:
        raise NabInputError(str(exc)) from None
    for done, r in enumerate(results, start=1):
        csv_path = write_results_csv(out_dir, detector.name, r)
        if plots:
            plot_result(csv_path.with_suffix(".png"), r, detector_name=detector.name, thresholds=report["thresholds"])
        if progress is not None:
            progress(done, len(results), f"written {csv_path}")
    return {"detector": detector.name, **report, "results_dir": str(out_dir / detector.name)}
