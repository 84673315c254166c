"""The demo's history cache: built once, topped up with the time since, rebuilt when it cannot serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops._history import ensure_history
from plumbing.binaries import block_time_range_seconds

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once

T0 = 1_790_000_000.0  # a fixed clock: the cache logic only sees the times it is given
STEP = 60.0


def _history(cache: Path, work: Path, *, days: float, now: float):  # type: ignore[no-untyped-def]
    return ensure_history(cache, seed=3, instance="127.0.0.1:18000", days=days, step_seconds=STEP, now_seconds=now, work_dir=work, started=[])


def test_the_cache_is_built_topped_up_reused_and_rebuilt(promtool_bin: str, tmp_path: Path) -> None:
    cache, work = tmp_path / "cache", tmp_path / "work"

    first = _history(cache, work, days=0.1, now=T0)
    assert first.action == "built"
    assert first.blocks and all(b.parent == first.cache_dir / "blocks" for b in first.blocks)
    assert first.end_seconds == T0 // STEP * STEP
    assert first.start_seconds <= T0 - 0.1 * 86400 + STEP
    covered = [block_time_range_seconds(b) for b in first.blocks]
    assert min(lo for lo, _ in covered) == pytest.approx(first.start_seconds)
    assert first.incidents_path.is_file()

    later = _history(cache, work, days=0.1, now=T0 + 900)
    assert later.action == "topped up"
    assert later.end_seconds == (T0 + 900) // STEP * STEP
    new = set(later.blocks) - set(first.blocks)
    assert len(new) == 1 and set(first.blocks) <= set(later.blocks)
    (lo, hi) = block_time_range_seconds(new.pop())
    assert lo == pytest.approx(first.end_seconds + STEP), "the top-up starts one step after the cached end"
    assert hi >= later.end_seconds

    again = _history(cache, work, days=0.1, now=T0 + 930)
    assert again.action == "reused" and again.blocks == later.blocks

    longer = _history(cache, work, days=0.2, now=T0 + 930)
    assert longer.action == "built", "the cache does not reach back far enough"
    assert longer.start_seconds <= T0 + 930 - 0.2 * 86400 + STEP
    assert not any(b.exists() for b in later.blocks), "a rebuild replaces the old blocks"
    assert all(b.is_dir() for b in longer.blocks)
    assert not (work / "openmetrics").exists(), "the OpenMetrics text is removed once loaded"
