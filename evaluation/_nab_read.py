"""Reading NAB-format CSVs as they come: rows in file order, every quirk processed or skipped, and counted.

Real series are not tidy. A NAB file (``timestamp,value``) is read as a sequence, in file
order, as NAB's own scorer does; nothing here sorts, de-duplicates or refuses a whole corpus:

======================  ===============================================================
quirk (``kind``)        what is done
======================  ===============================================================
timestamp goes back     kept in file order (NAB scores rows in file order); reported
duplicate timestamp     kept (one row each); a run of repeats is reported once
missing value           carried: the row gets the last usable value and scores 0
non-numeric value       carried, as above
non-finite value        carried, as above (``nan``, ``inf``)
leading unusable value  skipped: no earlier value to carry (the row is not scored)
bad timestamp           skipped: the row cannot be placed in time
bad row                 skipped: not two fields
gap                     kept: a step over :data:`GAP_FACTOR` times the usual one is reported
constant stretch        kept: a value repeated for at least :data:`CONSTANT_STRETCH_ROWS` rows
extreme value           kept and reported: ``|value| >= EXTREME_VALUE`` (plots clip it)
short file              kept: fewer than :data:`SHORT_FILE_ROWS` usable rows
======================  ===============================================================

A file that cannot be scored at all (missing, empty, no ``timestamp,value`` header, no usable
row) raises :class:`UnscorableFile` with the reason; the runner names it and goes on.

Rows are numbered from 0, as data rows (the header is not a row), the same numbering as the
results CSV.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from plumbing.durations import duration_words

__all__ = [
    "CONSTANT_STRETCH_ROWS",
    "EXTREME_VALUE",
    "EVERY_RANGE_SECONDS",
    "GAP_FACTOR",
    "SHORT_FILE_ROWS",
    "Quirk",
    "RawSeries",
    "UnscorableFile",
    "coarsen",
    "file_order_window_rows",
    "parse_series",
    "read_raw_series",
]

#: A step longer than this many times the file's median step is a gap.
GAP_FACTOR = 2.0

#: A value repeated on at least this many consecutive rows (one day at NAB's 5-minute step) is a constant stretch.
CONSTANT_STRETCH_ROWS = 288

#: Values at least this large in magnitude are reported (their squares overflow float64).
EXTREME_VALUE = 1e150

#: A file with fewer usable rows than this (one day at NAB's 5-minute step) is short: processed, reported.
SHORT_FILE_ROWS = 288

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


class UnscorableFile(Exception):
    """One file cannot be scored at all; ``str(exc)`` is the reason (one line)."""


@dataclass(frozen=True, kw_only=True)
class Quirk:
    """One thing met in one file: the first ``row`` (0-based data row), how many ``rows``, what was done."""

    file: str
    row: int
    kind: str
    action: str
    rows: int = 1

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "row": self.row, "rows": self.rows, "kind": self.kind, "action": self.action}


@dataclass(frozen=True)
class RawSeries:
    """One file as read: kept rows in file order, which of them carry a value, and the quirks met.

    ``timestamps`` (N,) datetime64[ns] in file order (not necessarily sorted); ``values`` (N,)
    float64, finite (an unusable value is replaced by the last usable one); ``carried`` (N,) bool,
    True where the value was carried (those rows score 0); ``quirks`` in row order.
    """

    timestamps: np.ndarray
    values: np.ndarray
    carried: np.ndarray
    quirks: tuple[Quirk, ...]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, length)`` of each run of True in a 1-D bool array."""
    if not mask.any():
        return []
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def _parse_timestamps(texts: list[str]) -> np.ndarray:
    """NAB's ``YYYY-MM-DD HH:MM:SS``, else any ISO 8601 form (an offset is converted to UTC); NaT if neither."""
    stamps = pd.to_datetime(pd.Series(texts, dtype=object), format=TIMESTAMP_FORMAT, errors="coerce")
    missing = stamps.isna().to_numpy()
    if missing.any():
        retry = pd.to_datetime(pd.Series(texts, dtype=object)[missing], format="ISO8601", errors="coerce", utc=True)
        stamps = stamps.astype("datetime64[ns]")
        stamps[missing] = retry.dt.tz_convert(None).to_numpy("datetime64[ns]")
    return stamps.to_numpy("datetime64[ns]")


def parse_series(text: str, key: str) -> RawSeries:
    """Parse one NAB CSV's text (header ``timestamp,value``) into a :class:`RawSeries`.

    Raises :class:`UnscorableFile` when no row can be scored: empty text, no such header, or
    no row with both a timestamp and a usable value.
    """
    if not text.strip():
        raise UnscorableFile("empty file")
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader)]
    if "timestamp" not in header or "value" not in header:
        raise UnscorableFile(f"no 'timestamp,value' header (first line has {', '.join(header)[:80]!r})")
    it, iv = header.index("timestamp"), header.index("value")
    quirks: list[Quirk] = []
    stamp_texts: list[str] = []
    value_texts: list[str] = []
    source_rows: list[int] = []
    bad_rows: list[int] = []
    for row_number, fields in enumerate(reader):
        if not fields or all(not f.strip() for f in fields):
            bad_rows.append(row_number)
            continue
        if len(fields) <= max(it, iv):
            bad_rows.append(row_number)
            continue
        stamp_texts.append(fields[it].strip())
        value_texts.append(fields[iv].strip())
        source_rows.append(row_number)
    for start, length in _group_rows(bad_rows):
        quirks.append(Quirk(file=key, row=start, rows=length, kind="bad row", action="skipped (not a timestamp,value row)"))
    if not stamp_texts:
        raise UnscorableFile("no rows" if not bad_rows else "no readable row")

    rows = np.asarray(source_rows, dtype=np.int64)
    stamps = _parse_timestamps(stamp_texts)
    values = pd.to_numeric(pd.Series(value_texts, dtype=object), errors="coerce").to_numpy(dtype=float)
    blank = np.array([not v for v in value_texts], dtype=bool)

    bad_stamp = np.isnat(stamps)
    for start, length in _runs(bad_stamp):
        quirks.append(Quirk(file=key, row=int(rows[start]), rows=length, kind="bad timestamp",
                            action=f"skipped (cannot read {stamp_texts[start][:40]!r} as a time)"))
    keep = ~bad_stamp
    rows, stamps, values, blank = rows[keep], stamps[keep], values[keep], blank[keep]
    texts = [v for v, k in zip(value_texts, keep) if k]

    unusable = ~np.isfinite(values)
    usable_index = np.flatnonzero(~unusable)
    if usable_index.size == 0:
        raise UnscorableFile(f"no usable value in {rows.size} rows")
    first = int(usable_index[0])
    if first > 0:
        quirks.append(Quirk(file=key, row=int(rows[0]), rows=first, kind="leading unusable value",
                            action="skipped (no earlier value to carry)"))
        rows, stamps, values, blank, unusable = rows[first:], stamps[first:], values[first:], blank[first:], unusable[first:]
        texts = texts[first:]
    for kind, mask in (
        ("missing value", unusable & blank),
        ("non-numeric value", unusable & ~blank & np.isnan(values) & np.array([not _is_nan_text(t) for t in texts], dtype=bool)),
        ("non-finite value", unusable & ~blank & (np.isinf(values) | np.array([_is_nan_text(t) for t in texts], dtype=bool))),
    ):
        for start, length in _runs(mask):
            quirks.append(Quirk(file=key, row=int(rows[start]), rows=length, kind=kind,
                                action="carried the last usable value; scores 0"))
    carried = unusable.copy()
    if carried.any():
        filled = pd.Series(np.where(carried, np.nan, values)).ffill().to_numpy()
        values = filled

    quirks += _time_quirks(key, rows, stamps)
    quirks += _value_quirks(key, rows, values, carried)
    if values.size < SHORT_FILE_ROWS:
        quirks.append(Quirk(file=key, row=int(rows[0]), rows=int(values.size), kind="short file",
                            action=f"processed ({values.size} row{'s' if values.size > 1 else ''}, under {SHORT_FILE_ROWS}: too little history for the detector to score much)"))
    quirks.sort(key=lambda q: (q.row, q.kind))
    return RawSeries(timestamps=stamps, values=values.astype(float), carried=carried, quirks=tuple(quirks))


def _is_nan_text(text: str) -> bool:
    return text.strip().lower() in ("nan", "+nan", "-nan")


def _group_rows(rows: list[int]) -> list[tuple[int, int]]:
    """Consecutive row numbers as ``(first, count)``."""
    groups: list[tuple[int, int]] = []
    for r in rows:
        if groups and groups[-1][0] + groups[-1][1] == r:
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        else:
            groups.append((r, 1))
    return groups


def _time_quirks(key: str, rows: np.ndarray, stamps: np.ndarray) -> list[Quirk]:
    quirks: list[Quirk] = []
    if stamps.size < 2:
        return quirks
    step = np.diff(stamps).astype("timedelta64[ns]").astype(np.int64) / 1e9
    for i in np.flatnonzero(step < 0):
        back = -step[i]
        later = int(np.sum(stamps[i + 1 :] <= stamps[i]))
        quirks.append(Quirk(file=key, row=int(rows[i + 1]), kind="timestamp goes back",
                            action=f"kept in file order (back {duration_words(back)}; "
                                   f"{later} rows from here are at or before the previous row's time)"))
    for start, length in _runs(step == 0):
        quirks.append(Quirk(file=key, row=int(rows[start + 1]), rows=length, kind="duplicate timestamp",
                            action=f"kept (the time of row {int(rows[start])} repeated on {length} more row{'s' if length > 1 else ''})"))
    forward = step[step > 0]
    if forward.size:
        usual = float(np.median(forward))
        for i in np.flatnonzero(step > GAP_FACTOR * usual):
            quirks.append(Quirk(file=key, row=int(rows[i + 1]), kind="gap",
                                action=f"kept ({duration_words(step[i])} after the previous row; usual step {duration_words(usual)})"))
    return quirks


def _value_quirks(key: str, rows: np.ndarray, values: np.ndarray, carried: np.ndarray) -> list[Quirk]:
    quirks: list[Quirk] = []
    same = np.concatenate(([False], values[1:] == values[:-1]))
    for start, length in _runs(same):
        if length + 1 >= CONSTANT_STRETCH_ROWS:
            quirks.append(Quirk(file=key, row=int(rows[start - 1]), rows=length + 1, kind="constant stretch",
                                action=f"processed (value {values[start]:g} on {length + 1} rows)"))
    for start, length in _runs((np.abs(values) >= EXTREME_VALUE) & ~carried):
        quirks.append(Quirk(file=key, row=int(rows[start]), rows=length, kind="extreme value",
                            action=f"kept ({values[start]:g}); plots clip it"))
    return quirks


def read_raw_series(path: str | os.PathLike[str], key: str) -> RawSeries:
    """Read and parse one file; :class:`UnscorableFile` if it is missing, unreadable or has no usable row."""
    path = Path(path)
    if not path.is_file():
        raise UnscorableFile(f"listed in the windows file but {path} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnscorableFile(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnscorableFile("not UTF-8 text") from None
    return parse_series(text, key)


def file_order_window_rows(timestamps: np.ndarray, windows: list[tuple[str, str]]) -> list[tuple[int, int]]:
    """Windows as inclusive row ranges for a file whose timestamps are not in order, walking rows in file order as NAB does.

    A window starts at the first row whose time is inside ``[start, end]`` and ends at the row
    before the first later row past ``end`` (or at the first later row exactly at ``end``, which
    is NAB's rule when both ends are rows of the file). Raises ``ValueError`` for a window that
    covers no row, ends before it starts, or overlaps another.
    """
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    spans: list[tuple[int, int]] = []
    for start, end in windows:
        lo, hi = np.datetime64(start, "ns"), np.datetime64(end, "ns")
        if hi < lo:
            raise ValueError(f"window [{start}, {end}] ends before it starts")
        inside = np.flatnonzero((ts >= lo) & (ts <= hi))
        if inside.size == 0:
            raise ValueError(f"window [{start}, {end}] covers no row")
        left = int(inside[0])
        after = np.flatnonzero(ts[left:] >= hi)
        if after.size == 0:
            right = ts.size - 1
        else:
            j = left + int(after[0])
            right = j if ts[j] == hi else j - 1
        spans.append((left, right))
    spans.sort()
    for (_, r0), (l1, _) in zip(spans, spans[1:]):
        if l1 <= r0:
            raise ValueError("windows overlap")
    return spans


#: The spans ``--every`` accepts: from one second to about ten years.
EVERY_RANGE_SECONDS = (1.0, 3650 * 86_400.0)


def coarsen(raw: RawSeries, every_seconds: float) -> RawSeries:
    """``raw`` averaged into buckets of ``every_seconds`` (how the same series looks at a coarser step).

    A row's bucket is its timestamp floored to a multiple of ``every_seconds`` (from the epoch).
    Rows stay in file order, as everywhere in the reader: each run of consecutive rows in the same
    bucket becomes one row at the bucket's start, so a timestamp going back starts a new bucket
    (nothing is averaged with a row that comes later in the file). Its value is the mean of the
    run's usable values (carried ones left out; computed as a sum of ``v / n``, so two values of
    1e308 average to 1e308, not to infinity); a run with none is carried (the last usable mean,
    the row scores 0), and runs before the first usable value are skipped, as the reader skips
    leading unusable rows. The file's quirks stay as read: their rows are the file's.
    """
    low, high = EVERY_RANGE_SECONDS
    if not (np.isfinite(every_seconds) and low <= every_seconds <= high):
        raise ValueError(f"every_seconds must be from {low:g} to {high:g} seconds, got {every_seconds!r}")
    step_ns = int(round(every_seconds * 1e9))
    bucket = raw.timestamps.astype("datetime64[ns]").astype(np.int64) // step_ns
    is_start = np.ones(bucket.size, dtype=bool)
    is_start[1:] = bucket[1:] != bucket[:-1]
    starts = np.flatnonzero(is_start)
    run = np.cumsum(is_start) - 1  # the run (output row) of each input row
    usable = ~raw.carried
    count = np.bincount(run[usable], minlength=starts.size).astype(float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        share = np.where(usable, raw.values / np.maximum(count[run], 1.0), 0.0)
    values = np.bincount(run, weights=share, minlength=starts.size)
    carried = count == 0
    first = int(np.argmax(~carried)) if (~carried).any() else starts.size
    keys, values, carried = bucket[starts][first:], values[first:], carried[first:]
    if carried.any():  # the last usable mean, carried forward
        values = pd.Series(np.where(carried, np.nan, values)).ffill().to_numpy()
    return RawSeries(
        timestamps=(keys * step_ns).astype("datetime64[ns]"), values=values, carried=carried, quirks=raw.quirks
    )
