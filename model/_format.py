"""The fitted model as data: a :class:`FleetModel` saved as readable, versioned JSON (no pickle).

A saved model is one JSON object a trainee can open and read::

    {
      "format": "aiops-fleet-model",
      "format_version": 2,                 # 1 is still read, with the change components off
      "kit_version": "0.1.0",              # the package that saved it ("unknown" outside one)
      "git_commit": "165c233...",          # the checkout it ran from (null without git)
      "fit_time": "2023-11-22T23:55:00+00:00",
      "fit_time_seconds": 1700697300.0,
      "signals_sha256": "...",             # hash of the canonical JSON of "signal_set"
      "signal_set": {...},                 # every SignalSet / SignalSpec field: PromQL, context, knobs
      "dependencies": [["frontend", "checkout"], ...],
      "models": {
        "latency": {
          "label": "p95 latency", "unit": "seconds",
          "estimator": "LinearBaseline",
          "params": {...},                 # the LinearBaseline's constructor parameters
          "features": ["daily_sin_1", ..., "requests"],
          "term_groups": ["time of day", ..., "requests"],
          "context": ["requests"],
          "n_seasonal": 8, "n_context": 1,
          "trend_origin_seconds": ..., "train_span_seconds": ...,
          "array_dtypes": {"coef_": "float64", ...},
          "services": ["frontend", "checkout"],
          "series": {
            "checkout": {
              "intercept": {"value": 0.02, "unit": "seconds"},
              "coefficients": {"daily_sin_1": {"value": ..., "unit": "seconds"}, ...,
                               "requests": {"value": 0.0008, "unit": "seconds per rps"}},
              "context_mean": {"requests": {"value": 120.0, "unit": "rps"}},
              "sigma": {"value": ..., "unit": "seconds"},
              "threshold": {"value": 4.0, "unit": "robust sigmas"},
              "direction": "above",
              "min_deviation": {"value": 0.005, "unit": "seconds"},
              "n_fit_points": 2304, "excluded_share": 0.0,
              "change_thresholds": {"level shift": {"value": 4.0, "unit": "robust sigmas"},
                                    "noise change": {"value": 2.3, "unit": "times the robust sigma"}}
            }, ...

A model the online loop re-baselined (see :meth:`FleetModel.with_level_offsets`) also holds
``"level_offsets": [{"service": "payments", "signal": "latency", "offset": {"value": 0.43,
"unit": "seconds"}}, ...]``; a file without the key has none.

Floats are written with ``repr`` precision, so every array round-trips exactly; each
array's dtype is recorded and restored. A non-finite value (an empty series has no
intercept) is written as ``null`` (NaN) or ``"Infinity"`` / ``"-Infinity"``, so the file is
strict JSON any reader accepts. The per-series ``direction`` and ``min_deviation`` repeat
the model's parameters for the reader; loading checks that they agree.

:func:`load` refuses, with a :class:`ModelFormatError`, a file that is not JSON or not
this format, another ``format_version``, and -- given ``signals=`` -- a model fitted for
other signals. This module does I/O only in :func:`save` / :func:`load` and the provenance
look-up at save time; it never reads the clock.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import math
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ._features import TERM_TREND
from ._linear import LinearBaseline
from ._signals import SignalSet, SignalSpec

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFormatError",
    "SavedFleet",
    "from_dict",
    "load",
    "provenance",
    "save",
    "signals_sha256",
    "to_dict",
]

FORMAT_NAME = "aiops-fleet-model"
#: The version of the layout this kit writes and reads; bump it on any incompatible change.
FORMAT_VERSION = 2
#: Versions this kit reads: 1 (before the change components; read with them off) and 2.
READABLE_VERSIONS = (1, 2)
#: The distribution whose version a saved model records.
KIT_DISTRIBUTION = "aiops-workshop-kit"
GIT_TIMEOUT_SECONDS = 2.0

#: Every attribute ``LinearBaseline.fit`` sets; saving refuses a model with others, so a new
#: fitted attribute cannot be silently left out of the file.
_FITTED_ATTRIBUTES = frozenset(
    {
        "feature_names_",
        "term_groups_",
        "context_names_",
        "n_seasonal_",
        "n_series_",
        "n_context_",
        "coef_",
        "intercept_",
        "context_mean_",
        "scale_",
        "threshold_",
        "n_fit_points_",
        "excluded_share_",
        "trend_origin_seconds_",
        "train_span_seconds_",
    }
)
#: Arrays with one value per series (the per-series records hold them).
_SERIES_ARRAYS = ("coef_", "intercept_", "context_mean_", "scale_", "threshold_", "n_fit_points_", "excluded_share_")
_THRESHOLD_UNIT = "robust sigmas"


class ModelFormatError(ValueError):
    """A saved model this kit cannot use: not this format, another format version, or other signals."""


@dataclasses.dataclass(frozen=True)
class SavedFleet:
    """The state of a fitted :class:`FleetModel`, as read from a saved file."""

    signal_set: SignalSet
    dependencies: tuple[tuple[str, str], ...]
    models: dict[str, LinearBaseline]
    services: dict[str, tuple[str, ...]]
    fit_time: pd.Timestamp
    #: ``(service, signal) -> offset`` the online loop accepted (``"level_offsets"`` in the file; absent: none).
    level_offsets: dict[tuple[str, str], float] = dataclasses.field(default_factory=dict)
    #: signal -> component -> per-series threshold of the change components (format 2; none in a version 1 file).
    change_thresholds: dict[str, dict[str, np.ndarray]] = dataclasses.field(default_factory=dict)


# --------------------------------------------------------------------------- provenance
@functools.lru_cache(maxsize=1)
def provenance() -> dict[str, str | None]:
    """``kit_version`` (the installed package's, or "unknown") and ``git_commit`` of the checkout this code runs from (None without one)."""
    try:
        kit = importlib.metadata.version(KIT_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        kit = "unknown"
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
        commit = done.stdout.strip() if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        commit = None
    if commit is not None and not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        commit = None
    return {"kit_version": kit, "git_commit": commit}


# --------------------------------------------------------------------------- numbers
def _num(x: Any) -> float | int | str | None:
    """A number as JSON: exact ``repr`` floats; NaN as null, infinities as strings."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    f = float(x)
    if math.isfinite(f):
        return f
    if math.isnan(f):
        return None
    return "Infinity" if f > 0 else "-Infinity"


_NON_FINITE = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}


def _float(v: Any) -> float:
    """The inverse of :func:`_num` for floats."""
    if v is None:
        return math.nan
    if isinstance(v, str):
        if v in _NON_FINITE:
            return _NON_FINITE[v]
        raise ValueError(f"not a number: {v!r}")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"not a number: {v!r}")
    return float(v)


def _jsonable(obj: Any) -> Any:
    """Plain JSON values for a signal set's fields (tuples become lists, floats exact)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (bool, int, float, np.bool_, np.integer, np.floating)):
        return _num(obj)
    raise TypeError(f"cannot write {type(obj).__name__} {obj!r} to a saved model")


# --------------------------------------------------------------------------- the signal set
def _dataclass_dict(obj: Any) -> dict[str, Any]:
    """Every field of a signal dataclass; a float field given as an int is written as a float (0 and 0.0 hash alike)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(f.default, float) and isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            v = float(v)
        out[f.name] = v
    return out


def _signal_set_dict(sigset: SignalSet) -> dict[str, Any]:
    """The signal set as plain JSON, every field of the set and of each spec (new fields included)."""
    d = _dataclass_dict(sigset)
    d["signals"] = [_dataclass_dict(s) for s in sigset.signals]
    return _jsonable(d)


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def signals_sha256(sigset: SignalSet) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of every field of ``sigset``."""
    return hashlib.sha256(_canonical(_signal_set_dict(sigset))).hexdigest()


def _build(cls: type, raw: Mapping[str, Any], where: str) -> Any:
    """A signal dataclass from its saved fields; lists become tuples, missing fields take their defaults."""
    if not isinstance(raw, Mapping):
        raise ModelFormatError(f"{where} must be an object, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ModelFormatError(f"{where} has field(s) {unknown} this kit's {cls.__name__} does not know (saved by a newer kit?)")
    kwargs: dict[str, Any] = {}
    for name, v in raw.items():
        if isinstance(v, list):
            v = tuple(v)
        elif isinstance(fields[name].default, float) and (v is None or isinstance(v, str)):
            v = _float(v)
        kwargs[name] = v
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ModelFormatError(f"{where}: {exc}") from None


def _signal_set_from_dict(raw: Mapping[str, Any]) -> SignalSet:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("signals"), list):
        raise ModelFormatError("signal_set must be an object with a 'signals' list")
    specs = tuple(_build(SignalSpec, s, f"signal_set.signals[{i}]") for i, s in enumerate(raw["signals"]))
    return _build(SignalSet, {**raw, "signals": specs}, "signal_set")


def _short(v: Any, limit: int = 60) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _differences(saved: SignalSet, expected: SignalSet) -> list[str]:
    """What differs between two signal sets, one phrase per signal or shared setting."""
    a, b = _signal_set_dict(saved), _signal_set_dict(expected)
    out = []
    sa = {s["name"]: s for s in a.pop("signals")}
    sb = {s["name"]: s for s in b.pop("signals")}
    if list(sa) != list(sb) and set(sa) == set(sb):
        out.append(f"signal order {list(sa)} in the file, {list(sb)} expected")
    for name in sa.keys() - sb.keys():
        out.append(f"signal {name!r} only in the file")
    for name in sb.keys() - sa.keys():
        out.append(f"signal {name!r} only in the expected signals")
    for name in [n for n in sa if n in sb]:
        fields = [k for k in sorted(sa[name].keys() | sb[name].keys()) if sa[name].get(k) != sb[name].get(k)]
        if fields:
            detail = ", ".join(f"{k} {_short(sa[name].get(k))} in the file, {_short(sb[name].get(k))} expected" for k in fields)
            out.append(f"signal {name!r} differs: {detail}")
    for k in sorted(a.keys() | b.keys()):
        if a.get(k) != b.get(k):
            out.append(f"shared setting {k} {_short(a.get(k))} in the file, {_short(b.get(k))} expected")
    return out


# --------------------------------------------------------------------------- units
def _per(unit: str | None, other: str | None) -> str | None:
    return f"{unit} per {other}" if unit and other else None


def _feature_units(spec: SignalSpec | None, model: LinearBaseline, sigset: SignalSet) -> dict[str, str | None]:
    """Unit of each coefficient: the signal's unit for a seasonal term, per day for the trend, per context unit for a regressor."""
    unit = spec.unit if spec is not None and spec.unit else None
    context_units = {c: _context_unit(c, sigset) for c in model.context_names_}
    out: dict[str, str | None] = {}
    for name, group in zip(model.feature_names_[: model.n_seasonal_], model.term_groups_[: model.n_seasonal_]):
        out[name] = _per(unit, "day") if group == TERM_TREND else unit
    for c in model.context_names_:
        out[c] = _per(unit, context_units[c])
    return out


def _context_unit(name: str, sigset: SignalSet) -> str | None:
    try:
        return sigset.spec(name).unit or None
    except KeyError:
        return None


def _quantity(value: Any, unit: str | None) -> dict[str, Any]:
    return {"value": _num(value), "unit": unit}


# --------------------------------------------------------------------------- write
#: The unit of each change component's threshold in the file.
_CHANGE_UNITS = {"level shift": "robust sigmas", "noise change": "times the robust sigma", "spike": "recent spreads"}


def _model_dict(
    name: str, model: LinearBaseline, services: Sequence[str], sigset: SignalSet, changes: Mapping[str, np.ndarray] | None = None
) -> dict[str, Any]:
    extra = sorted(k for k in vars(model) if k.endswith("_") and not k.startswith("_") and k not in _FITTED_ATTRIBUTES)
    if extra:
        raise ValueError(
            f"LinearBaseline has fitted attribute(s) {extra} that model/_format.py does not save; "
            "add them to the format (and bump FORMAT_VERSION)"
        )
    names = list(model.feature_names_)
    if len(set(names)) != len(names):
        raise ValueError(f"signal {name!r}: feature names {names} are not unique, coefficients could not be named")
    try:
        spec: SignalSpec | None = sigset.spec(name)
    except KeyError:
        spec = None
    unit = spec.unit if spec is not None and spec.unit else None
    units = _feature_units(spec, model, sigset)
    ctx_units = {c: _context_unit(c, sigset) for c in model.context_names_}
    params = {k: _jsonable(v) for k, v in model.get_params(deep=False).items()}
    series = {}
    for i, svc in enumerate(services):
        series[str(svc)] = {
            "intercept": _quantity(model.intercept_[i], unit),
            "coefficients": {f: _quantity(model.coef_[i, k], units[f]) for k, f in enumerate(names)},
            "context_mean": {c: _quantity(model.context_mean_[i, j], ctx_units[c]) for j, c in enumerate(model.context_names_)},
            "sigma": _quantity(model.scale_[i], unit),
            "threshold": _quantity(model.threshold_[i], _THRESHOLD_UNIT),
            "direction": model.direction,
            "min_deviation": _quantity(model.min_deviation, unit),
            "n_fit_points": _num(model.n_fit_points_[i]),
            "excluded_share": _num(model.excluded_share_[i]),
        }
        if changes:
            series[str(svc)]["change_thresholds"] = {c: _quantity(v[i], _CHANGE_UNITS.get(c)) for c, v in changes.items()}
    return {
        "label": spec.label if spec is not None else name,
        "unit": unit,
        "estimator": type(model).__name__,
        "params": params,
        "features": names,
        "term_groups": list(model.term_groups_),
        "context": list(model.context_names_),
        "n_seasonal": int(model.n_seasonal_),
        "n_context": int(model.n_context_),
        "trend_origin_seconds": _num(model.trend_origin_seconds_),
        "train_span_seconds": _num(model.train_span_seconds_),
        "array_dtypes": {a: np.asarray(getattr(model, a)).dtype.name for a in _SERIES_ARRAYS},
        "services": [str(s) for s in services],
        "series": series,
    }


def to_dict(
    *,
    signal_set: SignalSet,
    dependencies: Sequence[Sequence[str]],
    models: Mapping[str, LinearBaseline],
    services: Mapping[str, Sequence[str]],
    fit_time: pd.Timestamp,
    change_thresholds: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """The saved form of a fitted fleet model (see the module docstring for the layout)."""
    sigset_json = _signal_set_dict(signal_set)
    fit_time = pd.Timestamp(fit_time)
    fit_time = fit_time.tz_localize("UTC") if fit_time.tzinfo is None else fit_time.tz_convert("UTC")
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        **provenance(),
        "fit_time": fit_time.isoformat(),
        "fit_time_seconds": _num(fit_time.timestamp()),
        "signals_sha256": hashlib.sha256(_canonical(sigset_json)).hexdigest(),
        "signal_set": sigset_json,
        "dependencies": [[str(e[0]), str(e[1])] for e in dependencies],
        "models": {
            name: _model_dict(name, m, services[name], signal_set, (change_thresholds or {}).get(name)) for name, m in models.items()
        },
    }


#: An object or list of plain values no longer than this is written on one line.
_INLINE_WIDTH = 100


def _dumps(obj: Any, indent: int = 0) -> str:
    """Indented JSON, with short objects and lists of plain values on one line (``{"value": 0.02, "unit": "seconds"}``)."""
    flat = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    items = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else None
    if items is None or not obj or (len(flat) <= _INLINE_WIDTH and not any(isinstance(v, (dict, list)) for v in items)):
        return flat
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(obj, dict):
        body = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {_dumps(v, indent + 2)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(body) + f"\n{pad}}}"
    return "[\n" + ",\n".join(f"{inner}{_dumps(v, indent + 2)}" for v in obj) + f"\n{pad}]"


def save(data: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``data`` (from :func:`to_dict`) as indented JSON to ``path``, atomically (its folder made if missing); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = _dumps(dict(data)) + "\n"
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)
    return p


# --------------------------------------------------------------------------- read
def _check_header(data: Any, source: str) -> None:
    if not isinstance(data, Mapping) or data.get("format") != FORMAT_NAME:
        found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
        raise ModelFormatError(f"{source}: not a saved fleet model (format {found!r}); expected a JSON object with \"format\": {FORMAT_NAME!r}")
    version = data.get("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise ModelFormatError(
            f"{source}: format_version {version!r} is not supported by this kit (it reads {' and '.join(map(str, READABLE_VERSIONS))}); "
            f"the file was saved by kit_version {data.get('kit_version')!r} (git_commit {data.get('git_commit')!r}): "
            "load it with that kit or refit the model with this one"
        )


def _array(values: list[Any], dtype: str) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return np.array([_float(v) for v in values], dtype=np.float64).astype(dt)
    return np.array(values, dtype=dt)


def _model_from_dict(name: str, raw: Mapping[str, Any]) -> tuple[LinearBaseline, tuple[str, ...]]:
    if raw.get("estimator") != LinearBaseline.__name__:
        raise ModelFormatError(f"model {name!r}: estimator {raw.get('estimator')!r}, expected {LinearBaseline.__name__!r}")
    defaults = LinearBaseline().get_params(deep=False)
    unknown = sorted(set(raw["params"]) - set(defaults))
    if unknown:
        raise ModelFormatError(f"model {name!r}: parameter(s) {unknown} unknown to this kit's LinearBaseline")
    params = {}
    for k, v in raw["params"].items():
        if isinstance(v, list):
            v = tuple(v)
        elif isinstance(defaults[k], float) and (v is None or isinstance(v, str)):
            v = _float(v)
        params[k] = v
    model = LinearBaseline(**params)
    features = tuple(str(f) for f in raw["features"])
    context = tuple(str(c) for c in raw["context"])
    F, C = int(raw["n_seasonal"]), int(raw["n_context"])
    if len(features) != F + C or features[F:] != context:
        raise ModelFormatError(f"model {name!r}: features {list(features)} do not end with the {C} context names {list(context)}")
    services = tuple(str(s) for s in raw["services"])
    series = raw["series"]
    if set(series) != set(services):
        raise ModelFormatError(f"model {name!r}: series {sorted(series)} do not match services {list(services)}")
    columns: dict[str, list[Any]] = {a: [] for a in _SERIES_ARRAYS}
    for svc in services:
        rec = series[svc]
        coefs = rec["coefficients"]
        if set(coefs) != set(features):
            raise ModelFormatError(f"model {name!r}, series {svc!r}: coefficients {sorted(coefs)}, expected {list(features)}")
        if set(rec["context_mean"]) != set(context):
            raise ModelFormatError(f"model {name!r}, series {svc!r}: context_mean {sorted(rec['context_mean'])}, expected {list(context)}")
        if rec["direction"] != model.direction or _float(rec["min_deviation"]["value"]) != float(model.min_deviation):
            raise ModelFormatError(
                f"model {name!r}, series {svc!r}: direction {rec['direction']!r} / min_deviation {rec['min_deviation']['value']!r} "
                f"disagree with the model's params ({model.direction!r} / {model.min_deviation!r})"
            )
        columns["coef_"].append([coefs[f]["value"] for f in features])
        columns["intercept_"].append(rec["intercept"]["value"])
        columns["context_mean_"].append([rec["context_mean"][c]["value"] for c in context])
        columns["scale_"].append(rec["sigma"]["value"])
        columns["threshold_"].append(rec["threshold"]["value"])
        columns["n_fit_points_"].append(rec["n_fit_points"])
        columns["excluded_share_"].append(rec["excluded_share"])
    dtypes = raw["array_dtypes"]
    S = len(services)
    shapes = {"coef_": (S, F + C), "context_mean_": (S, C)}
    for a in _SERIES_ARRAYS:
        flat = [v for row in columns[a] for v in row] if a in shapes else columns[a]
        setattr(model, a, _array(flat, dtypes[a]).reshape(shapes.get(a, (S,))))
    model.feature_names_ = features
    model.term_groups_ = tuple(str(g) for g in raw["term_groups"])
    model.context_names_ = context
    model.n_seasonal_ = F
    model.n_series_ = S
    model.n_context_ = C
    model.trend_origin_seconds_ = _float(raw["trend_origin_seconds"])
    model.train_span_seconds_ = _float(raw["train_span_seconds"])
    return model, services


def from_dict(data: Any, *, signals: SignalSet | None = None, source: str = "saved model") -> SavedFleet:
    """A fitted fleet model's state from its saved form; ``signals`` (optional) is the signal set it must have been fitted for."""
    if signals is not None and not isinstance(signals, SignalSet):
        raise TypeError(f"signals must be a SignalSet (see load_signals), got {type(signals).__name__}")
    _check_header(data, source)
    try:
        sigset = _signal_set_from_dict(data["signal_set"])
        version = data["format_version"]
        if version == 1:  # saved before the change components: it scores with the point score only
            sigset = sigset.without_changes()
            if signals is not None:  # compare the signals as version 1 knew them
                signals = dataclasses.replace(signals, **{f: getattr(sigset, f) for f in _CHANGE_FIELDS})
        stored = data["signals_sha256"]
        written = hashlib.sha256(_canonical(data["signal_set"])).hexdigest()
        if stored != written:
            raise ModelFormatError(f"signals_sha256 {stored!r} does not match the signal_set in the file ({written}); was it edited by hand?")
        if signals is not None:
            have, want = signals_sha256(sigset), signals_sha256(signals)
            if have != want:
                diff = "; ".join(_differences(sigset, signals)) or "the canonical JSON differs"
                raise ModelFormatError(
                    f"{source}: the model was fitted for other signals than expected (signals_sha256 {have[:12]}... in the file, "
                    f"{want[:12]}... expected): {diff}. Refit it on these signals, or load it with the signals it was fitted for"
                )
        models: dict[str, LinearBaseline] = {}
        services: dict[str, tuple[str, ...]] = {}
        change_thresholds: dict[str, dict[str, np.ndarray]] = {}
        for name, raw in data["models"].items():
            if name not in sigset.names():
                raise ModelFormatError(f"model {name!r} is not a signal of the file's signal_set {list(sigset.names())}")
            models[name], services[name] = _model_from_dict(name, raw)
            found = _change_thresholds_from_dict(raw, services[name]) if version >= 2 else {}
            if found:
                change_thresholds[name] = found
        if not models:
            raise ModelFormatError("the file holds no fitted signal")
        dependencies = tuple((str(e[0]), str(e[1])) for e in data["dependencies"])
        fit_time = pd.Timestamp(data["fit_time"]).tz_convert("UTC")
        level_offsets = {
            (str(o["service"]), str(o["signal"])): _float(o["offset"]["value"]) for o in data.get("level_offsets") or ()
        }
    except ModelFormatError as exc:
        if str(exc).startswith(source):
            raise
        raise ModelFormatError(f"{source}: {exc}") from None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelFormatError(f"{source}: a malformed {FORMAT_NAME} file (format_version {data.get('format_version')!r}): {what}") from exc
    return SavedFleet(
        signal_set=sigset,
        dependencies=dependencies,
        models=models,
        services=services,
        fit_time=fit_time,
        level_offsets=level_offsets,
        change_thresholds=change_thresholds,
    )


#: The signal set's fields a version 1 file did not have (the change components').
_CHANGE_FIELDS = tuple(f.name for f in dataclasses.fields(SignalSet) if f.name.startswith("change_"))


def _change_thresholds_from_dict(raw: Mapping[str, Any], services: Sequence[str]) -> dict[str, np.ndarray]:
    """The change components' per-series thresholds of one model (every series has the same components, or none)."""
    per_series = [raw["series"][svc].get("change_thresholds") for svc in services]
    if all(p is None for p in per_series):
        return {}
    if any(p is None for p in per_series) or len({tuple(sorted(p)) for p in per_series}) != 1:
        raise ModelFormatError("change_thresholds must name the same components for every series of a signal")
    return {c: np.array([_float(p[c]["value"]) for p in per_series], dtype=np.float64) for c in per_series[0]}


def load(path: str | os.PathLike[str], *, signals: SignalSet | None = None) -> SavedFleet:
    """Read a saved fleet model (see :func:`from_dict`); a file that is not JSON raises :class:`ModelFormatError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFormatError(f"{p}: not a JSON text file ({exc}); expected a saved fleet model ({FORMAT_NAME!r} JSON)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{p}: not JSON ({exc}); expected a saved fleet model ({FORMAT_NAME!r} JSON)") from None
    return from_dict(data, signals=signals, source=str(p))
