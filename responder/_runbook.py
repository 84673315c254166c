"""The runbook: which action the responder may take for a probable cause."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

__all__ = ["RUNBOOK_PATH", "Step", "load_runbook"]

RUNBOOK_PATH = Path(__file__).with_name("runbook.yaml")


@dataclass(frozen=True, kw_only=True)
class Step:
    signal: str
    action: str
    automatic: bool


@cache
def load_runbook(path: Path = RUNBOOK_PATH) -> dict[str, Step]:
    """Cause signal -> the runbook step for it."""
    raw = yaml.safe_load(Path(path).read_text())
    return {
        signal: Step(signal=signal, action=str(spec["action"]), automatic=bool(spec["automatic"]))
        for signal, spec in raw["actions"].items()
    }
