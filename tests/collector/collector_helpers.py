"""Helpers for the collector's tests (a module name of its own: test directories share one import path)."""

from __future__ import annotations

import json
import re
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


_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+) (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def om_samples(text: str) -> list[tuple[str, dict[str, str], float, float]]:
    """(name, labels, value, timestamp) of every sample line of an OpenMetrics text with timestamps.

    prometheus_client's OpenMetrics parser drops all but the first point of a
    histogram with several timestamps, so the backfill's tests read samples with
    this, check the OpenMetrics structure with prometheus_client on one-point
    files, and load the whole thing with promtool.
    """
    out = []
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = _LINE.match(line)
        assert m, f"not a sample line: {line!r}"
        out.append((m.group(1), dict(_LABEL.findall(m.group(2))), float(m.group(3)), float(m.group(4))))
    return out
