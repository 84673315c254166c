"""Scripted scenarios: a YAML timeline of incidents for a workshop.

Format::

    name: warm-up
    description: three incidents, one after the other
    incidents:
      - at: 1m              # offset from the scenario's start
        kind: cpu_hog
        service: checkout
        duration: 2m        # default: the catalog's default duration
        intensity: 1.0      # default: the kind's default intensity
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from plumbing.durations import parse_duration

from ._catalog import Catalog
from ._incident import InvalidIncident, make_incident

__all__ = ["Scenario", "ScenarioError", "ScenarioStep", "load_scenario", "parse_scenario"]


class ScenarioError(ValueError):
    """A scenario file is invalid; ``problems`` lists every problem found, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


@dataclass(frozen=True, kw_only=True)
class ScenarioStep:
    at_seconds: float
    kind: str
    service: str
    duration_seconds: float
    intensity: float


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    description: str
    steps: tuple[ScenarioStep, ...]

    @property
    def length_seconds(self) -> float:
        return max((s.at_seconds + s.duration_seconds for s in self.steps), default=0.0)


def parse_scenario(text: str, catalog: Catalog, *, source: str = "<scenario>") -> Scenario:
    """Parse and validate a scenario; raises :class:`ScenarioError` listing every problem."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [f"not valid YAML: {exc}".replace("\n", " ")]) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("incidents"), list) or not raw["incidents"]:
        raise ScenarioError(source, ["needs a non-empty 'incidents' list"])
    problems: list[str] = []
    steps: list[ScenarioStep] = []
    allowed_keys = {"at", "kind", "service", "duration", "intensity"}
    for i, item in enumerate(raw["incidents"], start=1):
        where = f"incident {i}"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping with at, kind, service")
            continue
        unknown = set(item) - allowed_keys
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(allowed_keys)})")
        try:
            at = parse_duration(item.get("at", 0))
            duration = parse_duration(item["duration"]) if "duration" in item else None
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        try:
            inc = make_incident(
                catalog,
                id=str(i),
                kind=item.get("kind"),
                service=item.get("service"),
                duration_seconds=duration,
                intensity=item.get("intensity"),
                delay_seconds=at,
                now=0.0,
            )
        except InvalidIncident as exc:
            allowed = f" (allowed: {exc.allowed})" if exc.allowed is not None else ""
            problems.append(f"{where}: {exc.field}: {exc.message}{allowed}")
            continue
        steps.append(
            ScenarioStep(
                at_seconds=at, kind=inc.kind, service=inc.service, duration_seconds=inc.duration_seconds, intensity=inc.intensity
            )
        )
    steps.sort(key=lambda s: s.at_seconds)
    for s in steps:
        overlapping = sum(1 for o in steps if o.at_seconds <= s.at_seconds < o.at_seconds + o.duration_seconds)
        if overlapping > catalog.max_concurrent_incidents:
            problems.append(
                f"at {s.at_seconds:g}s {overlapping} incidents overlap; the limit is {catalog.max_concurrent_incidents}"
            )
            break
    if problems:
        raise ScenarioError(source, problems)
    return Scenario(name=str(raw.get("name", Path(source).stem)), description=str(raw.get("description", "")), steps=tuple(steps))


def load_scenario(path: str | Path, catalog: Catalog) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ScenarioError(str(p), [f"cannot read: {exc.strerror}"]) from None
    return parse_scenario(text, catalog, source=str(p))


def as_dict(s: Scenario) -> dict[str, Any]:
    return {
        "name": s.name,
        "description": s.description,
        "incidents": [vars(step) for step in s.steps],
    }
