"""Backfilled history as TSDB blocks, cached per seed so the demo's second start is quick.

:func:`collector.backfill` writes the fleet's past days as OpenMetrics text (one file
per two-hour window) and promtool turns each file into a block, several child processes
at a time (an interrupted demo stops them). The blocks are kept under
``<cache>/blocks/seed-<N>/<instance>/`` with a ``cache.json`` saying what they cover;
a later start tops the cache up with the time since (no random incidents in a top-up)
instead of building it again, and drops blocks older than the history asked for. The
cache is rebuilt when the simulator or the backfill code changes (a fingerprint of
their files), or when it does not reach back far enough. The cache keeps the counters at
its end (``counters.json``), so a top-up carries every counter on without a reset.

:func:`fine_tail` writes the minutes between the cached history and now at the scrape
interval, with ``up`` = 1 and the counters integrated on the live collector's tick from the
cached end; a collector continuing from that end (``--continue-history``,
:attr:`History.continue_dir`) serves the same numbers at the same times, so the history, the
tail and the live scrapes are one series at the resolution the detector's rate windows
need, and the detector scores from its first cycle.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import collector
import simulator
from collector import COUNTERS_FILE, MANIFEST_FILE, BackfillResult, backfill, load_counters
from plumbing.procs import Child, run_all
from plumbing.binaries import block_time_range_seconds, require_binary
from plumbing.monitoring import COLLECTOR_JOB
from simulator import Counters

__all__ = ["History", "Tail", "code_fingerprint", "copy_blocks", "ensure_history", "fine_tail", "history_cache_dir", "load_text"]

CACHE_FORMAT = 2
_DAY = 86400.0


@dataclass(frozen=True, kw_only=True)
class History:
    """Blocks that cover ``start_seconds`` to ``end_seconds``, and how they came about."""

    cache_dir: Path
    blocks: tuple[Path, ...]
    incidents_path: Path
    start_seconds: float
    end_seconds: float
    action: str  # "built", "topped up" or "reused"
    elapsed_seconds: float

    @property
    def counters_path(self) -> Path:
        """Every counter at :attr:`end_seconds` (what a continuation starts from)."""
        return self.cache_dir / COUNTERS_FILE

    @property
    def continue_dir(self) -> Path:
        """What ``aiops collector --continue-history`` reads to carry the history's counters on (its manifest and counters)."""
        return self.cache_dir


@dataclass(frozen=True, kw_only=True)
class Tail:
    """The fine tail written by :func:`fine_tail`: its OpenMetrics text and its end (a collector continues from ``text_dir``)."""

    text_dir: Path
    result: BackfillResult

    @property
    def end_seconds(self) -> float:
        return self.result.end_seconds


def history_cache_dir(cache_root: Path, *, seed: int, instance: str) -> Path:
    """Where the blocks of ``seed`` for a collector scraped as ``instance`` are kept."""
    return cache_root / "blocks" / f"seed-{seed}" / instance.replace(":", "_").replace("/", "_")


def code_fingerprint() -> str:
    """A hash of the code and catalog that decide the history's numbers (a change invalidates the cache)."""
    files = sorted(Path(simulator.__file__).parent.glob("*.py")) + sorted(Path(simulator.__file__).parent.glob("*.yaml"))
    col = Path(collector.__file__).parent
    files += [col / "_backfill.py", col / "_families.py"]
    digest = hashlib.sha256()
    for f in files:
        if f.is_file():
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _blocks(blocks_dir: Path) -> list[Path]:
    if not blocks_dir.is_dir():
        return []
    return sorted(p for p in blocks_dir.iterdir() if (p / "meta.json").is_file())


def ensure_history(
    cache_root: Path,
    *,
    seed: int,
    instance: str,
    days: float,
    step_seconds: float = 60.0,
    now_seconds: float,
    work_dir: Path,
    started: list[Child],
    parallel: int | None = None,
    say: Callable[[str], None] = lambda line: None,
    progress: Callable[[int, int], None] | None = None,
) -> History:
    """Blocks covering ``days`` up to ``now_seconds`` for ``seed`` and ``instance``, from the cache or built.

    ``work_dir`` holds the OpenMetrics text while it is loaded (removed afterwards) and the
    logs of the children; children are appended to ``started`` (see :func:`plumbing.procs.run_all`).
    ``progress(done, total)`` is called as the promtool runs (one per two-hour window) end.
    """
    t0 = time.monotonic()
    cache = history_cache_dir(cache_root, seed=seed, instance=instance)
    blocks_dir = cache / "blocks"
    key = {"format": CACHE_FORMAT, "seed": seed, "instance": instance, "job": COLLECTOR_JOB, "step_seconds": step_seconds, "code": code_fingerprint()}
    want_start = now_seconds - days * _DAY
    end = math.floor(now_seconds / step_seconds) * step_seconds
    with _locked(cache):
        meta_path = cache / "cache.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
        blocks = _blocks(blocks_dir)
        usable = (
            meta is not None
            and blocks
            and meta.get("key") == key
            and (cache / COUNTERS_FILE).is_file()
            and (cache / MANIFEST_FILE).is_file()
            and meta["start_seconds"] <= want_start + step_seconds
            and end - meta["end_seconds"] < days * _DAY / 2
        )
        if not usable:
            say(f"building {days:g} days of history for seed {seed} (cached in {cache}) ...")
            shutil.rmtree(blocks_dir, ignore_errors=True)
            (cache / "incidents.jsonl").unlink(missing_ok=True)
            (cache / COUNTERS_FILE).unlink(missing_ok=True)
            (cache / MANIFEST_FILE).unlink(missing_ok=True)
            start = _backfill_and_load(
                days=days, end=end, seed=seed, instance=instance, step_seconds=step_seconds, incidents_per_day=None,
                blocks_dir=blocks_dir, incidents_to=cache / "incidents.jsonl", work_dir=work_dir, started=started, parallel=parallel,
                continue_from=None, counters_to=cache / COUNTERS_FILE, progress=progress,
            )
            action = "built"
        else:
            start = meta["start_seconds"]
            gap = end - meta["end_seconds"]
            if gap >= 2 * step_seconds:
                say(f"topping up the cached history with the last {gap / 60:.0f} min ...")
                _backfill_and_load(
                    days=gap / _DAY, end=end, seed=seed, instance=instance, step_seconds=step_seconds, incidents_per_day=0.0,
                    blocks_dir=blocks_dir, incidents_to=None, work_dir=work_dir, started=started, parallel=parallel,
                    continue_from=load_counters(cache / COUNTERS_FILE), counters_to=cache / COUNTERS_FILE, progress=progress,
                )
                action = "topped up"
            else:
                end = meta["end_seconds"]
                action = "reused"
            for block in _blocks(blocks_dir):  # older than the history asked for, with a day to spare
                if block_time_range_seconds(block)[1] < want_start - _DAY:
                    shutil.rmtree(block)
            start = max(start, min(block_time_range_seconds(b)[0] for b in _blocks(blocks_dir)))
        meta_path.write_text(json.dumps({"key": key, "start_seconds": start, "end_seconds": end}, indent=2) + "\n")
        return History(
            cache_dir=cache,
            blocks=tuple(_blocks(blocks_dir)),
            incidents_path=cache / "incidents.jsonl",
            start_seconds=start,
            end_seconds=end,
            action=action,
            elapsed_seconds=time.monotonic() - t0,
        )


def _backfill_and_load(
    *,
    days: float,
    end: float,
    seed: int,
    instance: str,
    step_seconds: float,
    incidents_per_day: float | None,
    blocks_dir: Path,
    incidents_to: Path | None,
    work_dir: Path,
    started: list[Child],
    parallel: int | None,
    continue_from: Counters | None,
    counters_to: Path,
    progress: Callable[[int, int], None] | None,
) -> float:
    """Write the history as OpenMetrics text (in this process), then run promtool on each window in parallel.

    Returns the history's first time.
    """
    text_dir = work_dir / "openmetrics"
    shutil.rmtree(text_dir, ignore_errors=True)
    result = backfill(
        text_dir,
        days=days,
        step_seconds=step_seconds,
        end_seconds=end,
        seed=seed,
        job=COLLECTOR_JOB,
        instance=instance,
        continue_from=continue_from,
        **({} if incidents_per_day is None else {"incidents_per_day": incidents_per_day}),
    )
    staging = work_dir / "blocks"
    shutil.rmtree(staging, ignore_errors=True)
    load_text(result, staging, work_dir=work_dir, started=started, parallel=parallel, progress=progress)
    blocks_dir.mkdir(parents=True, exist_ok=True)
    for block in _blocks(staging):
        block.replace(blocks_dir / block.name)
    if incidents_to is not None:
        shutil.copyfile(text_dir / "incidents.jsonl", incidents_to)
    shutil.copyfile(text_dir / COUNTERS_FILE, counters_to)
    shutil.copyfile(text_dir / MANIFEST_FILE, counters_to.with_name(MANIFEST_FILE))  # with the counters: what a collector continues from
    shutil.rmtree(text_dir, ignore_errors=True)
    return result.start_seconds


def load_text(
    result: BackfillResult,
    data_dir: Path,
    *,
    work_dir: Path,
    started: list[Child],
    parallel: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """promtool on each of a backfill's files (one per two-hour window), on every core, writing blocks into ``data_dir``."""
    promtool = require_binary("promtool")
    data_dir.mkdir(parents=True, exist_ok=True)
    jobs = [
        (f"promtool {p.name}", [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(p), str(data_dir)])
        for p in result.metrics_paths
    ]
    run_all(jobs, log_path=work_dir / "promtool.log", parallel=parallel or os.cpu_count() or 1, started=started, progress=progress)


def fine_tail(
    history: History,
    *,
    seed: int,
    instance: str,
    now_seconds: float,
    step_seconds: float,
    tick_seconds: float,
    work_dir: Path,
) -> Tail | None:
    """The time from the history's end to ``now_seconds`` at ``step_seconds`` (the scrape interval), as OpenMetrics text.

    The counters carry on from the history's and are integrated every ``tick_seconds`` (the live
    collector's tick), so a collector continuing from :attr:`History.continue_dir` serves the
    same numbers at the same times; ``up`` is 1 at every sample. Written last thing before
    Prometheus starts, with ``now_seconds`` a few seconds ahead (the demo's lead): Prometheus
    refuses scrapes older than its newest block, and the first one it keeps follows the
    tail's end by about a scrape interval, so no rate window over the seam misses samples. None when the history ends less than a step before now.
    """
    origin = math.floor(history.end_seconds / tick_seconds) * tick_seconds  # the tick the counters count from
    span = now_seconds - origin
    if span < step_seconds or not history.counters_path.is_file():
        return None
    text_dir = work_dir / "tail"
    shutil.rmtree(text_dir, ignore_errors=True)
    result = backfill(
        text_dir,
        days=span / _DAY,
        step_seconds=step_seconds,
        tick_seconds=tick_seconds,
        end_seconds=now_seconds,
        seed=seed,
        job=COLLECTOR_JOB,
        instance=instance,
        incidents_per_day=0.0,
        continue_from=load_counters(history.counters_path),
        up=True,
    )
    return Tail(text_dir=text_dir, result=result)


def copy_blocks(history: History, data_dir: Path) -> None:
    """Copy the history's blocks into a fresh Prometheus data directory (the cache stays untouched)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for block in history.blocks:
        shutil.copytree(block, data_dir / block.name)

