"""What the model models, declared in a file: :func:`load_signals` reads ``signals.yaml`` into a :class:`SignalSet`.

Each signal has its PromQL (what the live detector asks Prometheus, and the evaluation's
emulator re-implements), its context regressors, its scoring knobs; the set has the
shared settings (debounce, self-cleaning, rate-window completeness).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from ._scoring import DIRECTIONS

__all__ = [
    "SIGNALS_PATH",
    "SignalSet",
    "SignalSpec",
    "SignalsError",
    "load_signals",
]

SIGNALS_PATH = Path(__file__).with_name("signals.yaml")

_MODEL_KNOBS = ("daily_order", "weekly_order", "trend", "direction", "min_deviation", "z_floor", "calibration_quantile", "calibration_factor")


class SignalsError(ValueError):
    """``signals.yaml`` (or a replacement for it) is malformed."""


@dataclass(frozen=True, kw_only=True)
class SignalSpec:
    """One modelled signal: its query, its context and its scoring knobs."""

    name: str
    promql: str
    label: str
    unit: str
    context: tuple[str, ...] = ()
    daily_order: int = 4
    weekly_order: int = 3
    trend: bool = False
    direction: str = "both"
    min_deviation: float = 0.0
    z_floor: float = 4.0
    calibration_quantile: float = 0.999
    calibration_factor: float = 1.25


@dataclass(frozen=True, kw_only=True)
class SignalSet:
    """Every modelled signal plus the settings shared by all of them."""

    signals: tuple[SignalSpec, ...]
    debounce_k: int = 2
    debounce_m: int = 3
    max_excluded_share: float = 0.25
    incident_margin_seconds: float = 300.0
    dtype: str = "float32"
    #: Live-data completeness (see signals.yaml): samples the collector's scrape left in the
    #: rate window, the window's length, and the share of expected samples needed to score.
    completeness_promql: str | None = None
    completeness_window_seconds: float = 120.0
    completeness_min_ratio: float = 0.9

    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.signals)

    def spec(self, name: str) -> SignalSpec:
        for s in self.signals:
            if s.name == name:
                return s
        raise KeyError(name)

    def without_context(self) -> "SignalSet":
        """The same set with seasonality only (the ``linear_no_context`` comparison)."""
        return dataclasses.replace(self, signals=tuple(dataclasses.replace(s, context=()) for s in self.signals))

    def with_overrides(self, **knobs: Any) -> "SignalSet":
        """Every signal with the given knobs replaced (e.g. ``z_floor=5``); shared settings too."""
        shared = {k: v for k, v in knobs.items() if k in {f.name for f in dataclasses.fields(SignalSet)}}
        per_signal = {k: v for k, v in knobs.items() if k not in shared}
        return dataclasses.replace(self, signals=tuple(dataclasses.replace(s, **per_signal) for s in self.signals), **shared)


def _typed_knobs(knobs: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Knob values with their types checked (YAML reads ``10.0e6`` as a string, for one)."""
    out: dict[str, Any] = {}
    for k, v in knobs.items():
        try:
            if k in ("daily_order", "weekly_order"):
                out[k] = int(v)
            elif k == "trend":
                if not isinstance(v, bool):
                    raise ValueError(v)
                out[k] = v
            elif k == "direction":
                out[k] = str(v)
            else:
                out[k] = float(v)
        except (TypeError, ValueError):
            raise SignalsError(f"{where}: {k} has a bad value {v!r}") from None
    return out


def load_signals(path: str | Path | None = None) -> SignalSet:
    """Read and validate ``signals.yaml`` (the packaged one by default)."""
    p = Path(path) if path is not None else SIGNALS_PATH
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SignalsError(f"{p}: {exc}") from exc
    return parse_signals(raw, source=str(p))


def parse_signals(raw: Mapping[str, Any], *, source: str = "signals") -> SignalSet:
    """Validate an already-parsed signals mapping (see ``signals.yaml`` for the shape)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("signals"), Mapping) or not raw["signals"]:
        raise SignalsError(f"{source}: needs a non-empty 'signals' mapping")
    defaults = dict(raw.get("defaults") or {})
    unknown = set(defaults) - set(_MODEL_KNOBS)
    if unknown:
        raise SignalsError(f"{source}: unknown defaults {sorted(unknown)}")
    names = list(raw["signals"])
    specs = []
    allowed = set(_MODEL_KNOBS) | {"promql", "label", "unit", "context"}
    for name, body in raw["signals"].items():
        body = dict(body or {})
        extra = set(body) - allowed
        if extra:
            raise SignalsError(f"{source}: signal {name!r} has unknown keys {sorted(extra)}")
        if "promql" not in body:
            raise SignalsError(f"{source}: signal {name!r} needs 'promql'")
        context = tuple(body.pop("context", None) or ())
        for c in context:
            if c not in names or c == name:
                raise SignalsError(f"{source}: signal {name!r} has context {c!r}, which is not another declared signal")
        knobs = {**defaults, **{k: v for k, v in body.items() if k in _MODEL_KNOBS}}
        if knobs.get("direction", "both") not in DIRECTIONS:
            raise SignalsError(f"{source}: signal {name!r} direction must be one of {DIRECTIONS}")
        specs.append(
            SignalSpec(
                name=str(name),
                promql=" ".join(str(body["promql"]).split()),
                label=str(body.get("label", name)),
                unit=str(body.get("unit", "")),
                context=context,
                **_typed_knobs(knobs, f"{source}: signal {name!r}"),
            )
        )
    deb = raw.get("debounce") or {}
    clean = raw.get("self_cleaning") or {}
    k, m = int(deb.get("k", 2)), int(deb.get("m", 3))
    if not 1 <= k <= m:
        raise SignalsError(f"{source}: debounce needs 1 <= k <= m")
    share = float(clean.get("max_excluded_share", 0.25))
    if not 0.0 <= share < 1.0:
        raise SignalsError(f"{source}: self_cleaning.max_excluded_share must be in [0, 1)")
    complete = raw.get("completeness") or {}
    return SignalSet(
        completeness_promql=" ".join(str(complete["promql"]).split()) if complete.get("promql") else None,
        completeness_window_seconds=float(complete.get("window_seconds", 120.0)),
        completeness_min_ratio=float(complete.get("min_ratio", 0.9)),
        signals=tuple(specs),
        debounce_k=k,
        debounce_m=m,
        max_excluded_share=share,
        incident_margin_seconds=float(clean.get("incident_margin_seconds", 300.0)),
    )
