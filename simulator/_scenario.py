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
from plumbing.errors import short

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


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader without anchors and aliases (an alias bomb expands a few hundred bytes into gigabytes) and without duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed in a scenario; write each incident out", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # a list or mapping as a key
                raise yaml.constructor.ConstructorError(None, None, "a key must be a plain value", key_node.start_mark) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {short(key)}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what is wrong and where (line and column), without the echo of the text."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"not valid YAML: {where}{what}"[:300]


def _max_overlap(steps: list[ScenarioStep]) -> tuple[int, float]:
    """The most incidents running at once and when that first happens (a sweep over starts and ends: n log n)."""
    events = sorted([(s.at_seconds, 1) for s in steps] + [(s.at_seconds + s.duration_seconds, -1) for s in steps], key=lambda e: (e[0], e[1]))
    running, worst, when = 0, 0, 0.0
    for t, delta in events:  # at one instant, ends (-1) come before starts (+1): [at, at + duration)
        running += delta
        if running > worst:
            worst, when = running, t
    return worst, when


def parse_scenario(text: str, catalog: Catalog, *, source: str = "<scenario>") -> Scenario:
    """Parse and validate a scenario; raises :class:`ScenarioError` listing every problem, one line each."""
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader, stricter
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [_yaml_problem(exc)]) from None
    except RecursionError:
        raise ScenarioError(source, ["not a scenario: it nests too deep"]) from None
    except ValueError as exc:  # a number beyond Python's 4,300-digit conversion limit
        raise ScenarioError(source, [f"not a scenario: {short(str(exc), 120)}"]) from None
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
        unknown = [k for k in item if k not in allowed_keys]
        if unknown:
            problems.append(f"{where}: unknown keys {', '.join(short(k) for k in unknown[:5])} (allowed: {sorted(allowed_keys)})")
        try:
            at = parse_duration(item.get("at", 0))
            duration = parse_duration(item["duration"]) if "duration" in item else None
        except (ValueError, TypeError, OverflowError) as exc:
            problems.append(f"{where}: {short(str(exc), 200)}")
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
    overlapping, when = _max_overlap(steps)
    if overlapping > catalog.max_concurrent_incidents:
        problems.append(f"at {when:g}s {overlapping} incidents overlap; the limit is {catalog.max_concurrent_incidents}")
    if problems:
        if len(problems) > 50:  # a generated file can be wrong 20,000 times: the first fifty say enough
            problems = problems[:50] + [f"... and {len(problems) - 50} more problems"]
        raise ScenarioError(source, problems)
    return Scenario(name=str(raw.get("name", Path(source).stem)), description=str(raw.get("description", "")), steps=tuple(steps))


def load_scenario(path: str | Path, catalog: Catalog) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(p), [f"cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(p), [f"not UTF-8 text (byte {exc.start})"]) from None
    return parse_scenario(text, catalog, source=str(p))


def as_dict(s: Scenario) -> dict[str, Any]:
    return {
        "name": s.name,
        "description": s.description,
        "incidents": [vars(step) for step in s.steps],
    }
