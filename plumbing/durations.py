"""One duration grammar for the whole kit: options, environment variables, YAML files and Prometheus' config.

A duration is a plain number of seconds (``90``, ``1.5``) or one or more ``<number><unit>``
parts with no spaces between them (``90s``, ``5m``, ``6m30s``, ``1.5h``, ``500ms``, ``2d``,
``1w``). Units: ``ms``, ``s``, ``m``, ``h``, ``d``, ``w``, ``y`` (365 days). Every
Prometheus duration is one of these.
"""

from __future__ import annotations

import argparse
import re

__all__ = ["UNIT_SECONDS", "duration_arg", "duration_words", "format_duration", "parse_duration"]

UNIT_SECONDS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "y": 365 * 86400.0}

_NUMBER = r"\d+(?:\.\d+)?"
_PLAIN = re.compile(rf"^{_NUMBER}$")
_PART = re.compile(rf"({_NUMBER})(ms|y|w|d|h|m|s)")
_COMPOUND = re.compile(rf"^(?:{_NUMBER}(?:ms|y|w|d|h|m|s))+$")


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text`` (``"90"``, ``"90s"``, ``"6m30s"``, ``"500ms"``, ``"1.5h"``, ``"1w"``); ValueError if it is not one."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    compact = str(text).strip()
    if _PLAIN.match(compact):
        return float(compact)
    if _COMPOUND.match(compact):
        return sum(float(n) * UNIT_SECONDS[u] for n, u in _PART.findall(compact))
    raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 5m, 1h, 6m30s, 500ms)")


def format_duration(seconds: float) -> str:
    """A Prometheus duration for ``seconds`` (whole seconds as ``5s``, else milliseconds)."""
    ms = round(seconds * 1000)
    if ms <= 0:
        raise ValueError(f"a duration must be positive, got {seconds}")
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def duration_words(seconds: float) -> str:
    """``seconds`` for a sentence: whole hours as ``2 h``, whole minutes as ``10 min``, else ``45 s``."""
    seconds = float(seconds)
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def duration_arg(text: str) -> float:
    """An argparse ``type`` for durations: seconds, or an argparse error naming the grammar."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
