"""The candidates' grid: a small YAML file (``training/grid.yaml`` by default) read into :class:`Candidate` objects.

Every combination of the listed values is one candidate. A knob left at ``signals`` keeps
each signal's own value from the signals file, so the packaged per-signal choices (disk's
daily order of 8, say) survive unless the grid overrides them. :func:`load_grid` refuses an
unknown key or a bad value with a :class:`GridError` naming the key and what is allowed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from model import SignalSet

__all__ = ["GRID_KEYS", "GRID_PATH", "MAX_CANDIDATES", "Candidate", "GridError", "load_grid", "parse_grid"]

GRID_PATH = Path(__file__).with_name("grid.yaml")

#: What a grid may list, with what each allows (quoted in errors).
GRID_KEYS: dict[str, str] = {
    "daily_order": "a whole number >= 0, or 'signals' (each signal's own order)",
    "weekly_order": "a whole number >= 0, or 'signals' (each signal's own order)",
    "ridge": "a number >= 0, or 'signals' (each signal's own penalty)",
    "train_days": "a number of days > 0, or 'all' (the whole history)",
    "context": "true (the signals' context regressors) or false (seasonality only)",
}
#: A grid larger than this is refused: each candidate is a fit and an evaluation.
MAX_CANDIDATES = 64
#: The keyword that keeps the signals file's value.
FROM_SIGNALS = "signals"
ALL_HISTORY = "all"


class GridError(ValueError):
    """The grid file is malformed: the message names the key and the allowed values."""


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One point of the grid; ``None`` means "as the signals file says" (``train_days``: the whole history)."""

    id: str
    daily_order: int | None = None
    weekly_order: int | None = None
    ridge: float | None = None
    train_days: float | None = None
    context: bool = True

    def signal_set(self, base: SignalSet) -> SignalSet:
        """``base`` with this candidate's knobs (``SignalSet.with_overrides``, ``without_context``)."""
        knobs = {k: v for k, v in (("daily_order", self.daily_order), ("weekly_order", self.weekly_order), ("ridge", self.ridge)) if v is not None}
        out = base.with_overrides(**knobs) if knobs else base
        return out if self.context else out.without_context()

    def params(self) -> dict[str, str]:
        """The knobs as MLflow parameters (text: ``signals`` and ``all`` stay words)."""
        return {
            "daily_order": FROM_SIGNALS if self.daily_order is None else str(self.daily_order),
            "weekly_order": FROM_SIGNALS if self.weekly_order is None else str(self.weekly_order),
            "ridge": FROM_SIGNALS if self.ridge is None else f"{self.ridge:g}",
            "train_days": ALL_HISTORY if self.train_days is None else f"{self.train_days:g}",
            "context": "true" if self.context else "false",
        }

    def describe(self) -> str:
        """One line: ``daily signals, weekly 0, ridge 1, 7 days, context on``."""
        p = self.params()
        window = "all history" if self.train_days is None else f"{p['train_days']} days"
        return f"daily {p['daily_order']}, weekly {p['weekly_order']}, ridge {p['ridge']}, {window}, context {'on' if self.context else 'off'}"


def _order(key: str, v: Any, where: str) -> int | None:
    if isinstance(v, str) and v.strip() == FROM_SIGNALS:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise GridError(f"{where}: {key} has a bad value {v!r}; allowed: {GRID_KEYS[key]}")
    return int(v)


def _number(v: Any) -> float | None:
    """A YAML number, also one YAML read as text (``1e-4`` without a dot is a string to YAML 1.1)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _ridge(key: str, v: Any, where: str) -> float | None:
    if isinstance(v, str) and v.strip() == FROM_SIGNALS:
        return None
    x = _number(v)
    if x is None or not math.isfinite(x) or x < 0:
        raise GridError(f"{where}: {key} has a bad value {v!r}; allowed: {GRID_KEYS[key]}")
    return x


def _days(key: str, v: Any, where: str) -> float | None:
    if isinstance(v, str) and v.strip() == ALL_HISTORY:
        return None
    x = _number(v)
    if x is None or not math.isfinite(x) or x <= 0:
        raise GridError(f"{where}: {key} has a bad value {v!r}; allowed: {GRID_KEYS[key]}")
    return x


def _flag(key: str, v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise GridError(f"{where}: {key} has a bad value {v!r}; allowed: {GRID_KEYS[key]}")
    return v


_PARSERS = {"daily_order": _order, "weekly_order": _order, "ridge": _ridge, "train_days": _days, "context": _flag}
_DEFAULTS: dict[str, Any] = {"daily_order": None, "weekly_order": None, "ridge": None, "train_days": None, "context": True}


def parse_grid(raw: Any, *, source: str = "grid") -> tuple[Candidate, ...]:
    """The candidates of an already-parsed grid mapping (see ``training/grid.yaml`` for the shape)."""
    if not isinstance(raw, Mapping) or not raw:
        raise GridError(f"{source}: needs a mapping of knobs to values, e.g. 'daily_order: [signals, 2]'; allowed keys: {', '.join(GRID_KEYS)}")
    unknown = [str(k) for k in raw if k not in GRID_KEYS]
    if unknown:
        raise GridError(f"{source}: unknown key(s) {', '.join(repr(k) for k in unknown)}; allowed keys: {', '.join(GRID_KEYS)}")
    values: dict[str, list[Any]] = {}
    for key in GRID_KEYS:
        if key not in raw:
            values[key] = [_DEFAULTS[key]]
            continue
        listed = raw[key] if isinstance(raw[key], list) else [raw[key]]
        if not listed:
            raise GridError(f"{source}: {key} lists no value; allowed: {GRID_KEYS[key]}")
        parsed = [_PARSERS[key](key, v, source) for v in listed]
        if len(set(parsed)) != len(parsed):
            raise GridError(f"{source}: {key} lists a value twice ({listed!r}); each value once")
        values[key] = parsed
    combos = list(itertools.product(*(values[k] for k in GRID_KEYS)))
    if len(combos) > MAX_CANDIDATES:
        raise GridError(f"{source}: {len(combos)} candidates; at most {MAX_CANDIDATES} (each one is a fit and an evaluation): list fewer values")
    return tuple(Candidate(id=f"c{i + 1}", **dict(zip(GRID_KEYS, combo))) for i, combo in enumerate(combos))


def load_grid(path: str | Path | None = None) -> tuple[Candidate, ...]:
    """Read and validate a grid file (the packaged ``training/grid.yaml`` by default)."""
    p = Path(path) if path is not None else GRID_PATH
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GridError(f"{p}: cannot read the grid file: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise GridError(f"{p}: not YAML: {' '.join(str(exc).split())}") from None
    return parse_grid(raw, source=str(p))
