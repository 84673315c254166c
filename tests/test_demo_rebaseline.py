"""The demo's live view prints the online loop's re-baseline events once each (REBASE lines), never as flags."""

from __future__ import annotations

import io
from pathlib import Path

from aiops.demo import DemoSettings
from aiops.demo._run import Demo
from aiops.demo._watch import DetectorWatch
from evaluation import Scoreboard
from simulator import load_catalog

EVENT = {
    "kind": "rebaseline",
    "timestamp_seconds": 1_767_356_215.0,
    "service": "payments",
    "signal": "latency",
    "onset": False,
    "explanation": "payments p95 latency: flagged for 15m05s (since 12:01:50Z, horizon 15m00s); accepted as the new normal: "
    "the baseline moves by +431 ms (the median residual since the change began)",
}


class FakeDetector:
    def health(self):
        return {"status": "ok"}

    def anomalies(self, limit: int = 100):
        return [EVENT]

    def detected_incidents(self):
        return []


def test_a_rebaseline_event_is_printed_once_and_is_not_a_flag(tmp_path: Path) -> None:
    out = io.StringIO()
    demo = Demo(DemoSettings(cache_dir=tmp_path), out=out)
    demo.detector_url = "http://127.0.0.1:1"
    demo.scoreboard = Scoreboard(load_catalog())
    watch = DetectorWatch(demo)
    watch.detector = FakeDetector()  # type: ignore[assignment]
    watch.poll()
    watch.poll()
    lines = [line for line in out.getvalue().splitlines() if "REBASE" in line or "FLAG" in line]
    assert lines == [f"12:16:55Z  REBASE    {EVENT['explanation']}"]
    assert demo.scoreboard.onsets == set()
