"""Incidents: a frozen record of what was triggered, and the validation of a request."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from plumbing.errors import short

from ._catalog import Catalog

__all__ = ["Incident", "InvalidIncident", "make_incident"]


class InvalidIncident(ValueError):
    """A request for an incident names a bad field.

    ``field`` is the offending field, ``allowed`` the allowed values or range.
    """

    def __init__(self, field: str, message: str, allowed: Any = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.allowed = allowed

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "error": self.message}
        if self.allowed is not None:
            out["allowed"] = self.allowed
        return out


@dataclass(frozen=True, kw_only=True)
class Incident:
    """One incident on one service, in wall-clock seconds since the epoch.

    It is *pending* before ``start_seconds``, *active* until ``end_seconds``
    (or until it was stopped early, ``stopped_seconds``), then *ended*.
    """

    id: str
    kind: str
    service: str
    intensity: float
    start_seconds: float
    duration_seconds: float
    triggered_by: str = "api"
    triggered_seconds: float = 0.0
    stopped_seconds: float | None = None
    stopped_by: str | None = None

    @property
    def end_seconds(self) -> float:
        """When the incident stops acting (the earlier of its planned end and an early stop)."""
        planned = self.start_seconds + self.duration_seconds
        if self.stopped_seconds is None:
            return planned
        return min(planned, max(self.start_seconds, self.stopped_seconds))

    def active_at(self, t: float) -> bool:
        return self.start_seconds <= t < self.end_seconds

    def state_at(self, t: float) -> str:
        if (
            self.stopped_seconds is not None
            and self.stopped_seconds <= t
            and self.stopped_seconds < self.start_seconds + self.duration_seconds
        ):
            return "stopped"
        if t < self.start_seconds:
            return "pending"
        if t < self.end_seconds:
            return "active"
        return "ended"

    def stopped(self, t: float, by: str) -> "Incident":
        return replace(self, stopped_seconds=t, stopped_by=by)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["end_seconds"] = self.end_seconds
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Incident":
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**fields)


def _number(value: Any, field: str, allowed: dict[str, float]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidIncident(field, "must be a number", allowed)
    try:
        v = float(value)
    except OverflowError:  # an integer too big for a float
        v = math.inf
    if not math.isfinite(v) or not allowed["min"] <= v <= allowed["max"]:
        raise InvalidIncident(field, f"{short(value)} is out of range", allowed)
    return v


def make_incident(
    catalog: Catalog,
    *,
    id: str,
    kind: Any,
    service: Any,
    duration_seconds: Any = None,
    intensity: Any = None,
    delay_seconds: Any = None,
    now: float,
    triggered_by: str = "api",
) -> Incident:
    """Validate a request against the catalog and build the incident it asks for.

    Raises :class:`InvalidIncident` naming the first bad field and what is allowed.
    """
    if kind not in catalog.kind_names:
        raise InvalidIncident("kind", f"unknown kind {short(kind)}", list(catalog.kind_names))
    if service not in catalog.service_names:
        raise InvalidIncident("service", f"unknown service {short(service)}", list(catalog.service_names))
    k = catalog.kind(kind)
    intensity_v = k.intensity.default if intensity is None else _number(intensity, "intensity", k.intensity.as_dict())
    duration_v = (
        catalog.default_duration_seconds(kind)
        if duration_seconds is None
        else _number(duration_seconds, "duration_seconds", catalog.duration_seconds.as_dict())
    )
    delay_v = 0.0 if delay_seconds is None else _number(delay_seconds, "delay_seconds", catalog.delay_seconds.as_dict())
    return Incident(
        id=id,
        kind=kind,
        service=service,
        intensity=intensity_v,
        start_seconds=now + delay_v,
        duration_seconds=duration_v,
        triggered_by=triggered_by,
        triggered_seconds=now,
    )
