"""History for Prometheus: the fleet's metrics over past days as OpenMetrics text, plus its ground truth.

``backfill(out_dir, days=8)`` writes three files into ``out_dir``:

- ``history-YYYYmmddTHHMM.om``, one per two-hour window (or one ``history.om``
  with ``split_seconds=0``): OpenMetrics text with a timestamp (seconds) on every
  sample, families grouped and each series' samples in time order, ending in
  ``# EOF``; ``promtool tsdb create-blocks-from openmetrics FILE DATA_DIR`` loads
  each file (in any order).
  Every series carries ``job`` and ``instance`` labels equal to the ones
  Prometheus adds to the live scrape, so history and live data are one series.
  It includes ``aiops_incident_active``.
- ``incidents.jsonl``: the seeded random incidents of the history, in the
  incident store's log format (triggered, started, ended; ``by`` = ``backfill``).
- ``counters.json``: every counter at the last timestamp (:func:`load_counters`), so a
  later backfill (``continue_from``) or a live collector (``--continue-history``) can
  carry on from them without a reset.
- ``manifest.json``: the parameters, the time range and the counts (a cache key).

Names, labels and values come from the same :func:`fleet_families` as the live
``/metrics``. Counters start at zero at the first timestamp, or carry on from
``continue_from``. With ``tick_seconds`` finer than the step the counters are
integrated tick by tick exactly as the live collector integrates them (and sampled
every step), so a collector continuing from the last sample serves the numbers the
history would have had. With ``up=True`` the files hold the ``up`` series Prometheus
records for each successful scrape (the demo's fine tail: the detector's completeness
check counts it).
"""

from __future__ import annotations

import json
import math
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from simulator import Catalog, ChaosSchedule, Counters, Incident, integrate, load_catalog, make_incident, simulate

from ._families import Family, Series, fleet_families
from ._store import event_record, lines

__all__ = ["BackfillResult", "COUNTERS_FILE", "HistoryError", "history_end_counters", "load_counters", "METRICS_FILE", "SPLIT_SECONDS", "INCIDENTS_FILE", "MANIFEST_FILE", "backfill", "history_incidents", "openmetrics_chunks", "openmetrics_text"]

METRICS_FILE = "history.om"
INCIDENTS_FILE = "incidents.jsonl"
MANIFEST_FILE = "manifest.json"
COUNTERS_FILE = "counters.json"
#: Length of each metrics file's time window: promtool's block length (two hours).
SPLIT_SECONDS = 7200.0
#: Bumped when the files' content changes for the same parameters (invalidates caches keyed on the manifest).
FORMAT_VERSION = 2

#: The series Prometheus writes for every scrape (1: the target answered).
UP = Family(name="up", type="gauge", help="1 if the scrape of the target succeeded.", decimals=0)

#: No backfilled incident starts or runs within this long before the end of the history.
QUIET_TAIL_SECONDS = 3600.0
_MIN_DURATION_SECONDS, _MAX_DURATION_SECONDS = 240.0, 1200.0


@dataclass(frozen=True, kw_only=True)
class BackfillResult:
    """What a backfill wrote, and how long it took."""

    metrics_paths: tuple[Path, ...]  # in time order
    incidents_path: Path
    manifest_path: Path
    seed: int
    job: str
    instance: str
    start_seconds: float
    end_seconds: float
    step_seconds: float
    timestamps: int
    series: int  # Prometheus series (a histogram's buckets, count and sum each count)
    samples: int
    incidents: int
    tick_seconds: float  # the counters' integration step (the step, or the live collector's tick)
    bytes: int
    elapsed_seconds: float


def history_incidents(
    catalog: Catalog, *, seed: int, start_seconds: float, end_seconds: float, per_day: float
) -> list[Incident]:
    """Seeded random incidents between start and end, none in the last hour, never overlapping.

    The history (less its last hour) is cut into equal slots, one incident per
    slot at a random place; kinds, services and intensities are drawn like the
    chaos schedule's.
    """
    window_end = end_seconds - QUIET_TAIL_SECONDS
    n = int(round(per_day * (end_seconds - start_seconds) / 86400.0))
    if n <= 0 or window_end - start_seconds < 2 * _MAX_DURATION_SECONDS:
        return []
    n = min(n, int((window_end - start_seconds) // (_MAX_DURATION_SECONDS + 60.0)))
    slot = (window_end - start_seconds) / max(n, 1)
    rng = np.random.default_rng([seed, 0xBAC6F111])
    picks = ChaosSchedule(seed=seed, every_seconds=slot, duration_seconds=_MIN_DURATION_SECONDS)
    out = []
    for i in range(n):
        duration = float(30.0 * round(rng.uniform(_MIN_DURATION_SECONDS, _MAX_DURATION_SECONDS) / 30.0))
        lo = start_seconds + i * slot
        start = float(math.floor(lo + rng.uniform(0.0, max(0.0, slot - duration - 60.0))))
        pick = picks.pick(catalog, i)
        out.append(
            make_incident(
                catalog,
                id=f"bf-{i + 1}",
                kind=pick.kind,
                service=pick.service,
                intensity=pick.intensity,
                duration_seconds=duration,
                now=start,
                triggered_by="backfill",
            )
        )
    return out


def _shift_counters(c: Counters) -> Counters:
    """Counters as a scrape at each time sees them: everything integrated *before* that time."""

    def shift(a: np.ndarray) -> np.ndarray:
        out = np.zeros_like(a)
        out[1:] = a[:-1]
        return out

    return Counters(c.times, shift(c.requests_total), shift(c.errors_total), shift(c.latency_bucket), shift(c.latency_sum_seconds))


def _counters_at(
    catalog: Catalog, seed: int, times: np.ndarray, incidents: Sequence[Incident], *, tick_seconds: float, start: Counters | None
) -> Counters:
    """Counters as a scrape at each of ``times`` sees them, integrated every ``tick_seconds`` from ``start`` (or from zero at ``times[0]``).

    Each tick integrates the rate at its beginning (as :class:`simulator.LiveFleet` does):
    the value at ``origin + k * tick`` is ``start`` plus the ticks ``0 .. k-1``.
    """
    # like the live collector: counters given at time T count from the tick at or before T
    origin = math.floor(float(start.times[-1]) / tick_seconds) * tick_seconds if start is not None else float(times[0])
    k = np.rint((times - origin) / tick_seconds).astype(np.int64)
    if not np.allclose(origin + k * tick_seconds, times, rtol=0.0, atol=1e-6) or (k < (1 if start is not None else 0)).any():
        raise ValueError(f"the times must lie after {origin:.0f} on its {tick_seconds:g} s tick grid")
    grid = origin + tick_seconds * np.arange(int(k.max()), dtype=np.float64)
    if not len(grid):
        c = start or integrate(simulate(catalog, seed, times[:1], incidents), 0.0)
        return Counters(times, *(np.repeat(a[-1:], len(times), axis=0) for a in (c.requests_total, c.errors_total, c.latency_bucket, c.latency_sum_seconds)))
    cum = integrate(simulate(catalog, seed, grid, incidents), tick_seconds, start=start)
    first = start or integrate(simulate(catalog, seed, grid[:1], incidents), 0.0)  # the value at the origin
    arrays = []
    for a0, a in zip((first.requests_total, first.errors_total, first.latency_bucket, first.latency_sum_seconds),
                     (cum.requests_total, cum.errors_total, cum.latency_bucket, cum.latency_sum_seconds)):  # fmt: skip
        full = np.concatenate([a0[-1:], a])  # row k: the value at origin + k * tick
        arrays.append(full[k])
    return Counters(times, *arrays)


def _counters_json(c: Counters) -> str:
    last = {
        "time_seconds": float(c.times[-1]),
        "requests_total": c.requests_total[-1].tolist(),
        "errors_total": c.errors_total[-1].tolist(),
        "latency_bucket": c.latency_bucket[-1].tolist(),
        "latency_sum_seconds": c.latency_sum_seconds[-1].tolist(),
    }
    return json.dumps(last) + "\n"


def load_counters(path: Path | str) -> Counters:
    """The counters a backfill wrote to ``counters.json``: one row, at the history's last timestamp."""
    d = json.loads(Path(path).read_text())
    return Counters(
        np.array([float(d["time_seconds"])]),
        np.array([d["requests_total"]], dtype=np.float64),
        np.array([d["errors_total"]], dtype=np.float64),
        np.array([d["latency_bucket"]], dtype=np.float64),
        np.array([d["latency_sum_seconds"]], dtype=np.float64),
    )


class HistoryError(ValueError):
    """A backfill directory cannot be continued (missing, unreadable, another seed)."""


def history_end_counters(history_dir: Path | str, *, seed: int, catalog: Catalog | None = None) -> tuple[float, Counters]:
    """(end of the history, its counters there) from a backfill's ``manifest.json`` and ``incidents.jsonl``.

    The counters are recomputed exactly as :func:`backfill` wrote them, so a live
    collector that starts from them continues every counter of the history.
    """
    d = Path(history_dir)
    try:
        manifest = json.loads((d / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise HistoryError(f"cannot read {d / MANIFEST_FILE}: {exc}") from None
    if int(manifest["seed"]) != seed:
        raise HistoryError(f"the history in {d} was made with seed {manifest['seed']}, not {seed}; use --seed {manifest['seed']}")
    catalog = catalog or load_catalog()
    step = float(manifest["step_seconds"])
    end = float(manifest["end_seconds"])
    if (d / COUNTERS_FILE).is_file():  # written by the backfill: exact, and the only way when it continued others
        return end, load_counters(d / COUNTERS_FILE)
    times = end - step * np.arange(int(manifest["timestamps"]) - 1, -1, -1, dtype=np.float64)
    incidents = []
    path = d / str(manifest.get("incidents_path", INCIDENTS_FILE))
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") == "triggered" and isinstance(rec.get("incident"), dict):
                incidents.append(Incident.from_dict(rec["incident"]))
    counters = _shift_counters(integrate(simulate(catalog, seed, times, incidents), step))
    return end, counters


def _label_text(labels: Sequence[tuple[str, str]]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels)


def _family_header(f: Family) -> str:
    head = f"# HELP {f.name} {f.help}\n# TYPE {f.name} {f.type}\n"
    if f.unit:
        head += f"# UNIT {f.name} {f.unit}\n"
    return head


def _digits(q: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits (as ASCII codes) of non-negative integers, shaped (N, width), most significant first."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((q[:, None] // powers) % 10 + 48).astype(np.uint8)


def _format_column(prefix: bytes, values: np.ndarray, decimals: int, ts_bytes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lines ``prefix value timestamp`` for one column of values, as (bytes, keep-mask) arrays shaped (T, width).

    Values are written with ``decimals`` fixed decimals; leading zeros of the
    integer part are masked out. Vectorised: no Python per sample.
    """
    T = values.shape[0]
    scale = 10**decimals
    q = np.rint(values * scale).astype(np.int64)
    ip, fp = np.divmod(q, scale)
    width = max(1, len(str(int(ip.max())))) if T else 1
    idig = _digits(ip, width)
    keep_int = np.cumsum(idig != 48, axis=1) > 0
    keep_int[:, -1] = True
    parts = [np.broadcast_to(np.frombuffer(prefix, dtype=np.uint8), (T, len(prefix))), idig]
    keeps = [np.ones((T, len(prefix)), dtype=bool), keep_int]
    if decimals:
        parts += [np.full((T, 1), ord("."), dtype=np.uint8), _digits(fp, decimals)]
        keeps += [np.ones((T, 1 + decimals), dtype=bool)]
    parts.append(ts_bytes)
    keeps.append(np.ones(ts_bytes.shape, dtype=bool))
    return np.concatenate(parts, axis=1), np.concatenate(keeps, axis=1)


def _timestamp_bytes(timestamps: np.ndarray) -> np.ndarray | None:
    """`` <seconds>\\n`` per time as a (T, width) byte array, or None if the widths differ."""
    text = [f" {int(t)}\n" for t in np.asarray(timestamps).tolist()]
    width = len(text[0]) if text else 0
    if any(len(t) != width for t in text):
        return None
    return np.frombuffer("".join(text).encode("ascii"), dtype=np.uint8).reshape(len(text), width)


def _series_bytes(
    s: Series, ts_bytes: np.ndarray | None, ts_text: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One series' lines for every time as a flat byte array, and where each time's lines end (T+1 offsets)."""
    base = _label_text(s.labels)
    prefixes = []
    for name, extra in s.lines:
        labels = base + ("," + _label_text(extra) if extra else "")
        prefixes.append(f"{name}{{{labels}}} ")
    values = np.asarray(s.values, dtype=np.float64)
    if ts_bytes is not None and values.size and np.isfinite(values).all() and (values >= 0).all():
        cols = [_format_column(p.encode("ascii"), values[:, j], s.decimals[j], ts_bytes) for j, p in enumerate(prefixes)]
        text = np.concatenate([c[0] for c in cols], axis=1)
        keep = np.concatenate([c[1] for c in cols], axis=1)
        row_ends = np.cumsum(keep.sum(axis=1))
        flat = text[keep]
    else:  # negative or non-finite values, or timestamps of uneven width: the plain (slower) way
        rows = ["".join(p + repr(v) + t for p, v in zip(prefixes, row)).encode("ascii") for row, t in zip(values.tolist(), ts_text)]
        row_ends = np.cumsum([len(r) for r in rows], dtype=np.int64)
        flat = np.frombuffer(b"".join(rows), dtype=np.uint8)
    return flat, np.concatenate([[0], row_ends]).astype(np.int64)


def openmetrics_chunks(
    families: Sequence[tuple[Family, Sequence[Series]]], timestamps: np.ndarray, windows: Sequence[tuple[int, int]]
) -> Iterator[tuple[int, list[bytes]]]:
    """OpenMetrics text for each window of ``timestamps`` (index ranges), built series by series.

    Yields (samples, one chunk per window): a family's header, then each
    series' lines (all windows formatted at once, then cut), then ``# EOF``.
    Each point's lines (a histogram's buckets, count and sum) stay together and
    points follow in time order, as OpenMetrics requires. Values are written with
    each line's fixed number of decimals (the same rounding as the live exposition).
    """
    ts_bytes = _timestamp_bytes(timestamps)
    ts_text = [f" {int(t)}\n" for t in np.asarray(timestamps).tolist()]
    for family, series in families:
        head = _family_header(family).encode("ascii")
        yield 0, [head] * len(windows)
        for s in series:
            flat, ends = _series_bytes(s, ts_bytes, ts_text)
            yield s.values.size, [flat[ends[i0] : ends[i1]].tobytes() for i0, i1 in windows]
    yield 0, [b"# EOF\n"] * len(windows)


def openmetrics_text(families: Sequence[tuple[Family, Sequence[Series]]], timestamps: np.ndarray) -> bytes:
    """The families as one OpenMetrics document with timestamps (small histories; tests)."""
    return b"".join(c[0] for _, c in openmetrics_chunks(families, timestamps, [(0, len(timestamps))]))


def _window_slices(times: np.ndarray, split_seconds: float) -> list[tuple[int, int]]:
    """Index ranges of ``times`` falling in the same ``split_seconds`` window (aligned to the epoch)."""
    if not split_seconds:
        return [(0, len(times))]
    window = np.floor(times / split_seconds).astype(np.int64)
    cuts = np.flatnonzero(np.diff(window)) + 1
    bounds = [0, *cuts.tolist(), len(times)]
    return list(zip(bounds[:-1], bounds[1:]))


def _file_name(start_seconds: float, split: bool) -> str:
    if not split:
        return METRICS_FILE
    return "history-" + datetime.fromtimestamp(start_seconds, tz=timezone.utc).strftime("%Y%m%dT%H%M") + ".om"


def backfill(
    out_dir: Path | str,
    *,
    days: float,
    step_seconds: float = 60.0,
    seed: int = 0,
    incidents_per_day: float = 2.0,
    job: str = "aiops-collector",
    instance: str = "127.0.0.1:8000",
    end_seconds: float | None = None,
    split_seconds: float = SPLIT_SECONDS,
    catalog: Catalog | None = None,
    progress: Callable[[float], None] | None = None,
    continue_from: Counters | None = None,
    tick_seconds: float | None = None,
    up: bool = False,
) -> BackfillResult:
    """Write ``days`` of history ending at ``end_seconds`` (default: now) into ``out_dir``.

    With ``split_seconds`` (default two hours, promtool's block length) the
    metrics go into one file per window, ``history-YYYYmmddTHHMM.om``, in time
    order: promtool reads its whole input once per block it writes, so one big
    file costs (blocks x size) to load while windows cost (size). With 0 they go
    into one ``history.om``. Old ``history*.om`` files in ``out_dir`` are removed.
    ``progress`` is called with the share done (0..1) as the files are written.

    ``continue_from`` (one row of counters, e.g. :func:`load_counters` of an earlier
    backfill) makes the counters carry on from it: the history then runs from one step
    after its time (its tick, as the live collector counts) up to ``end_seconds``, and
    ``days`` is not used. ``tick_seconds`` (default: the step) is how finely the counters are
    integrated; ``up`` adds ``up`` = 1 at every timestamp.
    """
    t0 = time.perf_counter()
    tick = step_seconds if tick_seconds is None else tick_seconds
    if days <= 0 or step_seconds <= 0 or split_seconds < 0 or tick <= 0:
        raise ValueError("days, step_seconds and tick_seconds must be positive, split_seconds at least 0")
    catalog = catalog or load_catalog()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wanted_end = time.time() if end_seconds is None else end_seconds
    if continue_from is None:
        end = math.floor(wanted_end / step_seconds) * step_seconds
        n = int(round(days * 86400.0 / step_seconds))
    else:  # from one step after the counters' tick up to the end: the days follow
        origin = math.floor(float(continue_from.times[-1]) / tick) * tick
        n = int(math.floor((wanted_end - origin) / step_seconds + 1e-9))
        if n < 1:
            raise ValueError(f"end_seconds {wanted_end:.0f} is less than a step after the counters continued from ({origin:.0f})")
        end = origin + n * step_seconds
    times = end - step_seconds * np.arange(n - 1, -1, -1, dtype=np.float64)
    start = float(times[0])

    incidents = history_incidents(catalog, seed=seed, start_seconds=start, end_seconds=end, per_day=incidents_per_day)
    frame = simulate(catalog, seed, times, incidents)
    if continue_from is None and tick == step_seconds:
        counters = _shift_counters(integrate(frame, step_seconds))
    else:
        counters = _counters_at(catalog, seed, times, incidents, tick_seconds=tick, start=continue_from)
    families = fleet_families(catalog, frame, counters, incidents, extra_labels=(("job", job), ("instance", instance)))
    if up:  # what Prometheus records for each successful scrape
        families.append((UP, [Series((("job", job), ("instance", instance)), (("up", ()),), np.ones((n, 1)), (0,))]))
    series = sum(len(s.lines) for _, ss in families for s in ss)
    total = series * n

    for old in [*out.glob("history*.om"), *out.glob("history*.partial")]:
        old.unlink()
    windows = _window_slices(times, split_seconds)
    paths = [out / _file_name(float(times[i0]), bool(split_seconds)) for i0, _ in windows]
    written = size = 0
    with ExitStack() as stack:
        files = [stack.enter_context(open(p.with_suffix(".partial"), "wb")) for p in paths]
        for count, chunks in openmetrics_chunks(families, times, windows):
            for f, chunk in zip(files, chunks):
                f.write(chunk)
                size += len(chunk)
            written += count
            if progress is not None and count:
                progress(written / total)
    for p in paths:
        p.with_suffix(".partial").replace(p)

    incidents_path = out / INCIDENTS_FILE
    records = []
    for inc in incidents:
        records += [
            event_record("triggered", inc, inc.triggered_seconds, inc.triggered_by),
            event_record("started", inc, inc.start_seconds, inc.triggered_by),
            event_record("ended", inc, inc.end_seconds, inc.triggered_by),
        ]
    incidents_path.write_text(lines(records))
    (out / COUNTERS_FILE).write_text(_counters_json(counters))

    result = BackfillResult(
        metrics_paths=tuple(paths),
        incidents_path=incidents_path,
        manifest_path=out / MANIFEST_FILE,
        seed=seed,
        job=job,
        instance=instance,
        start_seconds=start,
        end_seconds=float(end),
        step_seconds=step_seconds,
        timestamps=n,
        series=series,
        samples=written,
        incidents=len(incidents),
        tick_seconds=tick,
        bytes=size,
        elapsed_seconds=time.perf_counter() - t0,
    )
    manifest = asdict(result)
    manifest.update(
        metrics_paths=[p.name for p in paths],
        incidents_path=incidents_path.name,
        manifest_path=result.manifest_path.name,
        format_version=FORMAT_VERSION,
        days=days,
        incidents_per_day=incidents_per_day,
        split_seconds=split_seconds,
        counters_path=COUNTERS_FILE,
        continued=continue_from is not None,
        up=up,
    )
    result.manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return result
