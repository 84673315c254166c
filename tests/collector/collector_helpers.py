"""Helpers for the collector's tests (a module name of its own: test directories share one import path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: A Tuesday at 14:00 UTC (busy hours), well inside the simulator's calendar.
T0 = 1_764_079_200.0


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON-lines file, parsed (fails the test on a bad line)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
