"""Load and validate the fleet and incident catalog declared in ``catalog.yaml``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

__all__ = [
    "CATALOG_PATH",
    "SIGNALS",
    "Catalog",
    "CatalogError",
    "Dependency",
    "IncidentKind",
    "Range",
    "Service",
    "load_catalog",
]

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")

#: The signals every service emits, by their short name (the detector's ``signal`` label).
SIGNALS: tuple[str, ...] = ("requests", "errors", "latency", "cpu", "memory", "disk", "saturation")

_CASCADES = ("none", "callers", "callees")


class CatalogError(ValueError):
    """The catalog file is malformed."""


@dataclass(frozen=True, kw_only=True)
class Range:
    """An allowed numeric range with its default."""

    min: float
    max: float
    default: float

    def contains(self, value: float) -> bool:
        return math.isfinite(value) and self.min <= value <= self.max

    def as_dict(self) -> dict[str, float]:
        return {"min": self.min, "max": self.max, "default": self.default}


@dataclass(frozen=True, kw_only=True)
class Service:
    """One simulated service and the constants of its behaviour."""

    name: str
    description: str
    replicas: int
    external_rps: float
    base_latency_seconds: float
    cpu_seconds_per_request: float
    cores: float
    base_error_ratio: float
    memory_base_bytes: float
    disk_base_bytes: float
    disk_capacity_bytes: float
    pool_size: float

    @property
    def pods(self) -> tuple[str, ...]:
        return tuple(f"{self.name}-{i}" for i in range(self.replicas))


@dataclass(frozen=True, kw_only=True)
class Dependency:
    """A caller -> callee edge of the dependency graph."""

    caller: str
    callee: str
    calls_per_request: float


@dataclass(frozen=True, kw_only=True)
class IncidentKind:
    """One kind of incident a trainee can trigger."""

    name: str
    description: str
    effect: str
    main_signal: str
    cascades: str
    remediation: str | None
    intensity: Range
    #: A change meant to stay: no remediation, default duration the longest allowed, never drawn by the suite or chaos.
    permanent: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "description": self.description,
            "effect": self.effect,
            "main_signal": self.main_signal,
            "cascades": self.cascades,
            "remediation": self.remediation,
            "permanent": self.permanent,
            "parameters": {"intensity": self.intensity.as_dict()},
        }


@dataclass(frozen=True, kw_only=True)
class Catalog:
    """The fleet, its dependency graph, the incident kinds and the API limits."""

    utc_offset_hours: float
    services: tuple[Service, ...]
    dependencies: tuple[Dependency, ...]
    kinds: tuple[IncidentKind, ...]
    max_concurrent_incidents: int
    duration_seconds: Range
    delay_seconds: Range

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    @property
    def kind_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds)

    @property
    def transient_kind_names(self) -> tuple[str, ...]:
        """The kinds that end (not ``permanent``): what the evaluation suite and chaos mode draw from."""
        return tuple(k.name for k in self.kinds if not k.permanent)

    def default_duration_seconds(self, kind: str) -> float:
        """How long an incident of ``kind`` lasts unless told: the longest allowed for a permanent kind."""
        return self.duration_seconds.max if self.kind(kind).permanent else self.duration_seconds.default

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)

    def kind(self, name: str) -> IncidentKind:
        for k in self.kinds:
            if k.name == name:
                return k
        raise KeyError(name)

    def callees(self, service: str) -> tuple[str, ...]:
        return tuple(d.callee for d in self.dependencies if d.caller == service)

    def callers(self, service: str) -> tuple[str, ...]:
        return tuple(d.caller for d in self.dependencies if d.callee == service)

    def upstream(self, service: str) -> tuple[str, ...]:
        """Every service that calls ``service`` directly or through others."""
        return _reach(service, self.callers)

    def downstream(self, service: str) -> tuple[str, ...]:
        """Every service that ``service`` calls directly or through others."""
        return _reach(service, self.callees)

    def topological_order(self) -> tuple[str, ...]:
        """Services with every caller before its callees."""
        order: list[str] = []
        remaining = list(self.service_names)
        while remaining:
            ready = [s for s in remaining if all(c in order for c in self.callers(s))]
            if not ready:
                raise CatalogError(f"the dependency graph has a cycle among {remaining}")
            order.extend(ready)
            remaining = [s for s in remaining if s not in ready]
        return tuple(order)

    def as_dict(self) -> dict[str, Any]:
        """The catalog as the API publishes it."""
        return {
            "kinds": [k.as_dict() for k in self.kinds],
            "services": list(self.service_names),
            "dependencies": [
                {"caller": d.caller, "callee": d.callee, "calls_per_request": d.calls_per_request}
                for d in self.dependencies
            ],
            "limits": {
                "max_concurrent_incidents": self.max_concurrent_incidents,
                "duration_seconds": self.duration_seconds.as_dict(),
                "delay_seconds": self.delay_seconds.as_dict(),
            },
            "utc_offset_hours": self.utc_offset_hours,
        }


def _reach(service: str, step: "Callable[[str], tuple[str, ...]]") -> tuple[str, ...]:
    """Services reachable from ``service`` by repeated ``step`` (breadth first, each once)."""
    seen: list[str] = []
    frontier = list(step(service))
    while frontier:
        s = frontier.pop(0)
        if s not in seen:
            seen.append(s)
            frontier.extend(step(s))
    return tuple(seen)


def _range(raw: Mapping[str, Any], where: str) -> Range:
    try:
        r = Range(min=float(raw["min"]), max=float(raw["max"]), default=float(raw["default"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"{where}: needs numeric min, max and default ({exc})") from None
    if not r.min <= r.default <= r.max:
        raise CatalogError(f"{where}: default {r.default} is outside [{r.min}, {r.max}]")
    return r


def _parse(raw: Mapping[str, Any]) -> Catalog:
    services = []
    for name, spec in (raw.get("services") or {}).items():
        try:
            services.append(Service(name=name, **{k: (int(v) if k == "replicas" else v if k == "description" else float(v)) for k, v in spec.items()}))
        except TypeError as exc:
            raise CatalogError(f"service {name}: {exc}") from None
    names = {s.name for s in services}
    deps = []
    for d in raw.get("dependencies") or []:
        dep = Dependency(caller=d["caller"], callee=d["callee"], calls_per_request=float(d["calls_per_request"]))
        if dep.caller not in names or dep.callee not in names:
            raise CatalogError(f"dependency {dep.caller} -> {dep.callee} names an unknown service")
        deps.append(dep)
    kinds = []
    for name, spec in (raw.get("kinds") or {}).items():
        if spec.get("main_signal") not in SIGNALS:
            raise CatalogError(f"kind {name}: main_signal must be one of {SIGNALS}")
        if spec.get("cascades") not in _CASCADES:
            raise CatalogError(f"kind {name}: cascades must be one of {_CASCADES}")
        permanent = spec.get("permanent", False)
        if not isinstance(permanent, bool):
            raise CatalogError(f"kind {name}: permanent must be true or false, not {permanent!r}")
        if permanent and spec.get("remediation") is not None:
            raise CatalogError(
                f"kind {name}: remediation must be null for a permanent kind (a change meant to stay has no runbook action), "
                f"not {spec.get('remediation')!r}"
            )
        kinds.append(
            IncidentKind(
                name=name,
                description=str(spec["description"]),
                effect=str(spec["effect"]),
                main_signal=spec["main_signal"],
                cascades=spec["cascades"],
                remediation=spec.get("remediation"),
                intensity=_range(spec["intensity"], f"kind {name} intensity"),
                permanent=permanent,
            )
        )
    limits = raw.get("limits") or {}
    catalog = Catalog(
        utc_offset_hours=float(raw.get("utc_offset_hours", 0.0)),
        services=tuple(services),
        dependencies=tuple(deps),
        kinds=tuple(kinds),
        max_concurrent_incidents=int(limits.get("max_concurrent_incidents", 5)),
        duration_seconds=_range(limits["duration_seconds"], "limits.duration_seconds"),
        delay_seconds=_range(limits["delay_seconds"], "limits.delay_seconds"),
    )
    catalog.topological_order()  # rejects cycles early
    return catalog


@cache
def load_catalog(path: Path | None = None) -> Catalog:
    """Read the catalog file (the packaged ``catalog.yaml`` by default)."""
    p = Path(path) if path is not None else CATALOG_PATH
    try:
        raw = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"cannot read the catalog {p}: {exc}") from None
    return _parse(raw)
