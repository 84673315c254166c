"""The demo's history and its fine tail: counters that carry on across backfills and into the live collector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collector import CollectorRuntime, CollectorSettings, backfill, history_end_counters, load_counters
from simulator import LiveFleet, load_catalog

T0 = 1_789_999_980.0  # a fixed clock (a multiple of 60 s)


def _requests(c) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.rint(c.requests_total.sum(axis=1))


def test_a_top_up_carries_the_counters_on_and_a_tail_integrates_them_as_the_collector_does(tmp_path: Path) -> None:
    catalog = load_catalog()
    coarse = backfill(tmp_path / "coarse", days=0.05, seed=5, end_seconds=T0, incidents_per_day=0.0)
    at_end = load_counters(tmp_path / "coarse" / "counters.json")
    assert at_end.times[-1] == T0 and (at_end.requests_total > 0).all()

    # a tail at 5 s, integrated on the live collector's 1 s tick, continuing the coarse history
    tail_end = T0 + 600.0
    tail = backfill(
        tmp_path / "tail", days=600.0 / 86400, step_seconds=5.0, tick_seconds=1.0, seed=5, end_seconds=tail_end,
        incidents_per_day=0.0, continue_from=at_end, up=True,
    )  # fmt: skip
    assert (tail.start_seconds, tail.end_seconds, tail.tick_seconds) == (T0 + 5.0, tail_end, 1.0)
    end, last = history_end_counters(tmp_path / "tail", seed=5)
    assert end == tail_end

    # the collector's fleet, continuing the coarse history on its 1 s tick, shows the tail's counters at the tail's end
    fleet = LiveFleet(catalog, 5, start_seconds=T0, initial=at_end)
    fleet.advance(T0 + 300.0, [])
    live = fleet.advance(tail_end, []).counters
    assert np.allclose(live.requests_total, last.requests_total, rtol=1e-12, atol=0)
    assert np.allclose(live.latency_bucket, last.latency_bucket, rtol=1e-12, atol=0)
    assert not np.allclose(last.requests_total, at_end.requests_total), "ten minutes of requests were added"

    # the tail holds `up` at every sample, and its first counters are one 5 s step on from the coarse end (no reset)
    text = b"".join(p.read_bytes() for p in tail.metrics_paths).decode()
    assert text.count('up{job="aiops-collector",instance="127.0.0.1:8000"} 1 ') == 120
    first = [line for line in text.splitlines() if line.startswith('aiops_http_requests_total{') and line.endswith(f" {T0 + 5.0:.0f}")]
    assert first and all(float(line.split()[1]) >= 0 for line in first)
    first_total = sum(float(line.split()[1]) for line in first)
    assert 0 < first_total - _requests(at_end).sum() < 0.01 * first_total
    assert coarse.end_seconds == T0


def test_a_collector_continuing_the_tail_serves_no_reset(tmp_path: Path) -> None:
    at_end_seconds = T0 + 600.0  # ten minutes of history from zero
    backfill(tmp_path / "h", days=600.0 / 86400, step_seconds=5.0, tick_seconds=1.0, seed=2, end_seconds=at_end_seconds, incidents_per_day=0.0)
    served = load_counters(tmp_path / "h" / "counters.json")
    clock = [at_end_seconds + 7.0]
    rt = CollectorRuntime(CollectorSettings(seed=2, log_path=tmp_path / "i.jsonl", history_dir=tmp_path / "h"), clock=lambda: clock[0])
    snap = rt.snapshot()
    grown = snap.counters.requests_total - served.requests_total
    assert (grown > 0).all() and (grown < served.requests_total * 7 / 600 * 2).all(), "seven seconds more than ten minutes, not a restart from zero"


def test_times_off_the_tick_grid_are_refused(tmp_path: Path) -> None:
    at_end = backfill(tmp_path / "c", days=0.01, seed=1, end_seconds=T0, incidents_per_day=0.0)
    with pytest.raises(ValueError, match="tick grid"):
        backfill(tmp_path / "t", days=60 / 86400, step_seconds=5.0, tick_seconds=2.0, seed=1, end_seconds=T0 + 63.0,
                 continue_from=load_counters(at_end.manifest_path.parent / "counters.json"))  # fmt: skip


def test_run_all_reports_progress_as_jobs_end(tmp_path: Path) -> None:
    from plumbing.procs import run_all

    seen: list[tuple[int, int]] = []
    run_all([(f"job {i}", ["true"]) for i in range(3)], log_path=tmp_path / "log", parallel=2, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_a_tail_after_a_history_ending_off_the_tick_grid_matches_the_collector(tmp_path: Path) -> None:
    catalog = load_catalog()
    end = T0 + 7.5  # a 7.5 s history step ends between two 1 s ticks
    backfill(tmp_path / "c", days=0.01, step_seconds=7.5, seed=4, end_seconds=end, incidents_per_day=0.0)
    at_end = load_counters(tmp_path / "c" / "counters.json")
    assert at_end.times[-1] == end
    tail = backfill(tmp_path / "t", days=1.0, step_seconds=5.0, tick_seconds=1.0, seed=4, end_seconds=end + 62.0,
                    incidents_per_day=0.0, continue_from=at_end, up=True)  # fmt: skip
    assert (tail.start_seconds, tail.end_seconds) == (T0 + 12.0, T0 + 67.0), "every 5 s from the tick at or before the history's end"
    fleet = LiveFleet(catalog, 4, start_seconds=end, initial=at_end)
    assert np.allclose(fleet.advance(T0 + 67.0, []).counters.requests_total, load_counters(tmp_path / "t" / "counters.json").requests_total, rtol=1e-12, atol=0)
