"""Synthetic quirky copies of NAB files: to show, on the real corpus, that every quirk is reported and the rest scored.

:func:`write_quirky_copies` makes a folder holding the corpus a windows file lists (linked, not
copied) plus copies of a few of its files, each with one kind of quirk real data has, under
the category :data:`QUIRKY_CATEGORY`, and a windows file listing them all. The copies keep
their source's windows (mapped by row, so they move with the rows); the one-row copy has none.

=============================  =====================================================
copy                           quirk
=============================  =====================================================
``timestamp_back.csv``         from row 2000 the clock is one hour behind (it goes back)
``duplicate_timestamp.csv``    row 1500 is written twice
``missing_values.csv``         ``nan``, an empty value, ``n/a`` and ``error`` at rows 1200-1203
``extreme_values.csv``         ``1e308`` at row 1100 and ``-1e308`` at row 2500
``empty.csv``                  an empty file (cannot be scored)
``one_row.csv``                the header and one row
=============================  =====================================================
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ._nab import NabInputError, load_corpus, read_windows

__all__ = ["QUIRKY_CATEGORY", "QUIRKY_FILES", "write_quirky_copies"]

QUIRKY_CATEGORY = "quirkyCopies"

#: The copies' names (under :data:`QUIRKY_CATEGORY`).
QUIRKY_FILES = (
    "timestamp_back.csv",
    "duplicate_timestamp.csv",
    "missing_values.csv",
    "extreme_values.csv",
    "empty.csv",
    "one_row.csv",
)

_FORMAT = "%Y-%m-%d %H:%M:%S"


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        target.unlink()
    try:
        os.symlink(source.resolve(), target)
    except OSError:  # a file system without symlinks
        shutil.copyfile(source, target)


def _windows_by_row(stamps: pd.DatetimeIndex, rows: tuple[tuple[int, int], ...]) -> list[list[str]]:
    return [[f"{stamps[left]:{_FORMAT}}.000000", f"{stamps[right]:{_FORMAT}}.000000"] for left, right in rows]


def write_quirky_copies(
    data_dir: str | os.PathLike[str], windows_path: str | os.PathLike[str], out_dir: str | os.PathLike[str]
) -> tuple[Path, Path]:
    """Write ``out_dir/data`` (the listed files, linked, plus the quirky copies) and ``out_dir/windows.json``.

    The copies are made from the first listed file that has a window and at least 3,000 rows.
    Returns ``(data folder, windows file)`` for :func:`evaluation.evaluate_nab`.
    """
    data_dir, out = Path(data_dir), Path(out_dir)
    windows = read_windows(windows_path)
    corpus = load_corpus(data_dir, windows_path)
    source = next((s for s in corpus.series if s.windows and s.values.size >= 3000), None)
    if source is None:
        raise NabInputError("no listed file has a window and 3,000 rows to copy")
    data = out / "data"
    for key in windows:
        if (data_dir / key).is_file():
            _link(data_dir / key, data / key)
    quirky = data / QUIRKY_CATEGORY
    quirky.mkdir(parents=True, exist_ok=True)
    stamps = pd.DatetimeIndex(source.timestamps)
    values = [repr(float(v)) for v in source.values]
    rows = source.windows
    new_windows = dict(windows)

    def write(name: str, stamp_list: pd.DatetimeIndex, value_list: list[str], spans: list[list[str]]) -> None:
        lines = ["timestamp,value"] + [f"{t:{_FORMAT}},{v}" for t, v in zip(stamp_list, value_list)]
        (quirky / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        new_windows[f"{QUIRKY_CATEGORY}/{name}"] = spans

    back = stamps.to_numpy().copy()
    back[2000:] = back[2000:] - np.timedelta64(3600, "s")
    back_index = pd.DatetimeIndex(back)
    write("timestamp_back.csv", back_index, values, _windows_by_row(back_index, rows))

    dup = 1500
    dup_stamps = stamps.insert(dup + 1, stamps[dup])
    dup_rows = tuple((lo + (lo > dup), hi + (hi > dup)) for lo, hi in rows)
    write("duplicate_timestamp.csv", dup_stamps, values[: dup + 1] + [values[dup]] + values[dup + 1 :], _windows_by_row(dup_stamps, dup_rows))

    missing = list(values)
    missing[1200:1204] = ["nan", "", "n/a", "error"]
    write("missing_values.csv", stamps, missing, _windows_by_row(stamps, rows))

    extreme = list(values)
    extreme[1100], extreme[2500] = "1e308", "-1e308"
    write("extreme_values.csv", stamps, extreme, _windows_by_row(stamps, rows))

    (quirky / "empty.csv").write_bytes(b"")
    new_windows[f"{QUIRKY_CATEGORY}/empty.csv"] = _windows_by_row(stamps, rows)
    write("one_row.csv", stamps[:1], values[:1], [])

    windows_out = out / "windows.json"
    windows_out.write_text(json.dumps(new_windows, indent=1), encoding="utf-8")
    return data, windows_out
