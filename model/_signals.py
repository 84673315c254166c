"""What the model models, declared in a file: :func:`load_signals` reads ``signals.yaml`` into a :class:`SignalSet`.

Each signal has its PromQL (what the live detector asks Prometheus, and the evaluation's
emulator re-implements), its context regressors, its scoring knobs; the set has the
shared settings (the rate window, debounce, self-cleaning, rate-window completeness).

The file's top-level ``rate_window`` (a duration, e.g. ``2m``) is written once: every
``promql`` (and the completeness query) says ``$rate_window`` where the range goes, e.g.
``rate(aiops_http_requests_total[$rate_window])``, and :func:`parse_signals` substitutes it
as a Prometheus duration (``[120s]``). The completeness window is the rate window. A file
without ``rate_window`` writes its ranges out and may not use the placeholder.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from plumbing.durations import format_duration, parse_duration

from ._changes import ChangeSettings
from ._scoring import DIRECTIONS

__all__ = [
    "RATE_WINDOW_PLACEHOLDER",
    "SIGNALS_PATH",
    "SignalSet",
    "SignalSpec",
    "SignalsError",
    "load_signals",
]

SIGNALS_PATH = Path(__file__).with_name("signals.yaml")

#: What a query in the signals file writes where the range of its ``rate()`` (or ``count_over_time()``) goes.
RATE_WINDOW_PLACEHOLDER = "$rate_window"
_PLACEHOLDER = re.compile(r"\$\{rate_window\}|\$rate_window(?![A-Za-z0-9_])")
#: A range (``[...]``) still holding a ``$`` after the substitution: a misspelt placeholder.
_LEFT_IN_RANGE = re.compile(r"\[[^\]]*\$[^\]]*\]")

_MODEL_KNOBS = (
    "daily_order",
    "weekly_order",
    "trend",
    "ridge",
    "direction",
    "min_deviation",
    "z_floor",
    "calibration_quantile",
    "calibration_factor",
)


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
    #: Ridge penalty of the fit, relative to the number of fitted points (LinearBaseline's ``ridge``).
    ridge: float = 1e-4
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
    #: The file's ``rate_window`` in seconds, already substituted into every ``promql``
    #: (None: the file writes its ranges out and declares no window).
    rate_window_seconds: float | None = None
    #: Live-data completeness (see signals.yaml): samples the collector's scrape left in the
    #: rate window, the window's length (the rate window), and the share of expected samples needed to score.
    completeness_promql: str | None = None
    completeness_window_seconds: float = 120.0
    completeness_min_ratio: float = 0.9
    #: Change components beside the point score (see signals.yaml, ``changes``, and model/_changes.py).
    change_level_shift: bool = True
    change_noise: bool = True
    change_spike: bool = False
    change_window_seconds: float = 600.0
    change_level_floor: float = 4.0
    change_noise_floor: float = 4.0
    change_spike_floor: float = 6.0
    change_quantile: float = 0.999
    change_factor: float = 1.25

    def change_settings(self) -> ChangeSettings:
        """The change components' settings (:class:`model._changes.ChangeSettings`)."""
        return ChangeSettings(
            level_shift=self.change_level_shift,
            noise_change=self.change_noise,
            spike=self.change_spike,
            level_floor=self.change_level_floor,
            noise_floor=self.change_noise_floor,
            spike_floor=self.change_spike_floor,
            calibration_quantile=self.change_quantile,
            calibration_factor=self.change_factor,
        )

    def change_history_seconds(self) -> float:
        """History a scoring cycle must read before its first scored row for the change windows (0 with them off)."""
        return self.change_window_seconds if self.change_settings().enabled() else 0.0

    def without_changes(self) -> "SignalSet":
        """The same set with every change component off (the point score only, as format version 1 scored)."""
        return dataclasses.replace(self, change_level_shift=False, change_noise=False, change_spike=False)

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


def _rate_window(raw: Mapping[str, Any], source: str) -> float | None:
    """The top-level ``rate_window`` in seconds (None when the file has none)."""
    if raw.get("rate_window") is None:
        return None
    try:
        seconds = parse_duration(raw["rate_window"])
    except ValueError as exc:
        raise SignalsError(f"{source}: rate_window: {exc}") from None
    if not seconds > 0 or round(seconds * 1000) <= 0:
        raise SignalsError(f"{source}: rate_window must be a positive duration, got {raw['rate_window']!r}")
    return seconds


def _seconds_or_none(value: Any) -> float | None:
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _substitute(promql: Any, window: float | None, source: str, where: str) -> str:
    """``promql`` on one line with ``$rate_window`` replaced by the window as a Prometheus duration."""
    text = " ".join(str(promql).split())
    if _PLACEHOLDER.search(text) and window is None:
        raise SignalsError(
            f"{source}: {where} uses {RATE_WINDOW_PLACEHOLDER} but the file has no top-level 'rate_window' key (e.g. rate_window: 2m)"
        )
    if window is not None:
        text = _PLACEHOLDER.sub(format_duration(window), text)
    left = _LEFT_IN_RANGE.search(text)
    if left:
        raise SignalsError(f"{source}: {where} has an unknown placeholder in {left.group(0)} (the only one is {RATE_WINDOW_PLACEHOLDER})")
    return text


_CHANGE_KEYS = {
    "level_shift": "change_level_shift",
    "noise_change": "change_noise",
    "spike": "change_spike",
    "level_floor": "change_level_floor",
    "noise_floor": "change_noise_floor",
    "spike_floor": "change_spike_floor",
    "calibration_quantile": "change_quantile",
    "calibration_factor": "change_factor",
}


def _changes(raw: Any, source: str) -> dict[str, Any]:
    """The ``changes`` section as SignalSet fields (missing keys keep the defaults)."""
    if not isinstance(raw, Mapping):
        raise SignalsError(f"{source}: changes must be a mapping, got {type(raw).__name__}")
    allowed = set(_CHANGE_KEYS) | {"window"}
    extra = set(raw) - allowed
    if extra:
        raise SignalsError(f"{source}: changes has unknown keys {sorted(extra)}; allowed: {sorted(allowed)}")
    out: dict[str, Any] = {}
    for key, field_name in _CHANGE_KEYS.items():
        if key not in raw:
            continue
        v = raw[key]
        if key in ("level_shift", "noise_change", "spike"):
            if not isinstance(v, bool):
                raise SignalsError(f"{source}: changes.{key} must be true or false, got {v!r}")
            out[field_name] = v
            continue
        try:
            out[field_name] = float(v)
        except (TypeError, ValueError):
            raise SignalsError(f"{source}: changes.{key} must be a number, got {v!r}") from None
        if not out[field_name] > 0:
            raise SignalsError(f"{source}: changes.{key} must be > 0, got {v!r}")
    if "calibration_quantile" in raw and not out["change_quantile"] <= 1.0:
        raise SignalsError(f"{source}: changes.calibration_quantile must be in (0, 1], got {raw['calibration_quantile']!r}")
    if "window" in raw:
        seconds = _seconds_or_none(raw["window"])
        if seconds is None or not seconds > 0:
            raise SignalsError(f"{source}: changes.window must be a positive duration (e.g. 10m), got {raw['window']!r}")
        out["change_window_seconds"] = seconds
    return out


def parse_signals(raw: Mapping[str, Any], *, source: str = "signals") -> SignalSet:
    """Validate an already-parsed signals mapping (see ``signals.yaml`` for the shape).

    ``$rate_window`` in every ``promql`` and in ``completeness.promql`` becomes the top-level
    ``rate_window`` (a :class:`SignalsError` if the file uses it without declaring one).
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get("signals"), Mapping) or not raw["signals"]:
        raise SignalsError(f"{source}: needs a non-empty 'signals' mapping")
    window = _rate_window(raw, source)
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
        typed = _typed_knobs(knobs, f"{source}: signal {name!r}")
        if not typed.get("ridge", 0.0) >= 0.0:
            raise SignalsError(f"{source}: signal {name!r} ridge must be a number >= 0, got {knobs['ridge']!r}")
        specs.append(
            SignalSpec(
                name=str(name),
                promql=_substitute(body["promql"], window, source, f"signal {name!r}"),
                label=str(body.get("label", name)),
                unit=str(body.get("unit", "")),
                context=context,
                **typed,
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
    if window is None:
        complete_window = float(complete.get("window_seconds", 120.0))
    else:  # the completeness window is the rate window: no second number to keep in step
        complete_window = window
        if complete.get("window_seconds") is not None and _seconds_or_none(complete["window_seconds"]) != window:
            raise SignalsError(
                f"{source}: completeness.window_seconds ({complete['window_seconds']}) differs from rate_window "
                f"({format_duration(window)}); leave it out, the completeness window is the rate window"
            )
    changes = _changes(raw.get("changes") or {}, source)
    return SignalSet(
        **changes,
        rate_window_seconds=window,
        completeness_promql=_substitute(complete["promql"], window, source, "completeness.promql") if complete.get("promql") else None,
        completeness_window_seconds=complete_window,
        completeness_min_ratio=float(complete.get("min_ratio", 0.9)),
        signals=tuple(specs),
        debounce_k=k,
        debounce_m=m,
        max_excluded_share=share,
        incident_margin_seconds=float(clean.get("incident_margin_seconds", 300.0)),
    )
