"""Group anomalies that belong together into detected incidents with a probable cause.

Anomalies on one service, and on services joined to it through the dependency
graph, that come close in time form one detected incident. Hysteresis: an
incident opens with its first (already debounced) anomaly and closes only after
``close_after_seconds`` without any new member, so a flickering signal does not
open and close it again and again.

Probable cause: failures travel *up* the graph (a slow database makes its
callers slow), so the cause is the deepest member service, the one none of whose
callees is also a member; ties go to the earliest, then the strongest anomaly. Its
cause signal is its earliest anomaly; at the same time, a resource signal (CPU,
memory, disk, traffic) before a symptom (latency, errors, saturation), then the
strongest.
Traffic travels *down* the graph (a surge at the front end loads everything it
calls), so when members show a request-rate anomaly the cause is the furthest
upstream of those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

__all__ = ["CLOSE_AFTER_SECONDS", "JOIN_WINDOW_SECONDS", "Anomaly", "Correlator", "DetectedIncident"]

#: An anomaly joins an open incident with a member at most this long before it (same service or a dependency edge).
JOIN_WINDOW_SECONDS = 180.0
#: An incident closes after this long without a new member (hysteresis).
CLOSE_AFTER_SECONDS = 180.0

TRAFFIC_SIGNAL = "requests"
#: Signals that are symptoms of something else (a resource, a dependency, the traffic):
#: when a service's signals go off together, a resource signal is the more likely cause.
SYMPTOM_SIGNALS = frozenset({"latency", "errors", "saturation"})


@dataclass(frozen=True, kw_only=True)
class Anomaly:
    """One flagged point: a service's signal at a time, with the model's explanation."""

    timestamp_seconds: float
    service: str
    signal: str
    score: float
    actual: float = float("nan")
    expected: float = float("nan")
    explanation: str = ""


@dataclass(kw_only=True)
class DetectedIncident:
    id: int
    opened_seconds: float
    last_seen_seconds: float
    members: list[Anomaly] = field(default_factory=list)
    closed_seconds: float | None = None
    cause_service: str = ""
    cause_signal: str = ""

    @property
    def services(self) -> set[str]:
        return {a.service for a in self.members}

    @property
    def is_open(self) -> bool:
        return self.closed_seconds is None

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "opened_seconds": self.opened_seconds,
            "closed_seconds": self.closed_seconds,
            "last_seen_seconds": self.last_seen_seconds,
            "services": sorted(self.services),
            "probable_cause": {"service": self.cause_service, "signal": self.cause_signal},
            "anomalies": [vars(a) for a in self.members],
        }


class Correlator:
    """Keeps the open and recent detected incidents as anomalies arrive (pure; time is passed in)."""

    def __init__(
        self,
        dependencies: Iterable[tuple[str, str]],
        *,
        join_window_seconds: float = JOIN_WINDOW_SECONDS,
        close_after_seconds: float = CLOSE_AFTER_SECONDS,
        keep_closed: int = 200,
    ) -> None:
        self.edges = {(a, b) for a, b in dependencies}
        self.join_window_seconds = join_window_seconds
        self.close_after_seconds = close_after_seconds
        self.keep_closed = keep_closed
        self.incidents: list[DetectedIncident] = []
        self._next_id = 1

    def _related(self, service: str, members: set[str]) -> bool:
        return service in members or any((service, m) in self.edges or (m, service) in self.edges for m in members)

    def update(self, now_seconds: float, anomalies: Sequence[Anomaly]) -> None:
        """Add this cycle's anomalies, then close incidents that went quiet."""
        for a in sorted(anomalies, key=lambda a: a.timestamp_seconds):
            matches = [
                inc
                for inc in self.incidents
                if inc.is_open
                and a.timestamp_seconds - inc.last_seen_seconds <= self.join_window_seconds
                and self._related(a.service, inc.services)
            ]
            if not matches:
                inc = DetectedIncident(id=self._next_id, opened_seconds=a.timestamp_seconds, last_seen_seconds=a.timestamp_seconds)
                self._next_id += 1
                self.incidents.append(inc)
                matches = [inc]
            target = min(matches, key=lambda i: i.id)
            for other in matches:
                if other is not target:  # the anomaly bridges two incidents: merge them
                    target.members.extend(other.members)
                    target.opened_seconds = min(target.opened_seconds, other.opened_seconds)
                    self.incidents.remove(other)
            target.members.append(a)
            target.last_seen_seconds = max(target.last_seen_seconds, a.timestamp_seconds)
            self._attribute(target)
        for inc in self.incidents:
            if inc.is_open and now_seconds - inc.last_seen_seconds > self.close_after_seconds:
                inc.closed_seconds = inc.last_seen_seconds
        closed = [i for i in self.incidents if not i.is_open]
        if len(closed) > self.keep_closed:
            drop = {id(i) for i in closed[: len(closed) - self.keep_closed]}
            self.incidents = [i for i in self.incidents if id(i) not in drop]

    def _attribute(self, inc: DetectedIncident) -> None:
        services = inc.services
        traffic = {a.service for a in inc.members if a.signal == TRAFFIC_SIGNAL and a.score > 0}
        if traffic:
            # the furthest upstream service with a traffic anomaly: no member caller of it has one too
            candidates = [s for s in traffic if not any((c, s) in self.edges for c in traffic)]
        else:
            candidates = [s for s in services if not any((s, c) in self.edges for c in services)]
        pool = [a for a in inc.members if a.service in candidates] or inc.members
        first = min(pool, key=lambda a: (a.timestamp_seconds, -a.score))
        inc.cause_service = first.service
        own = [a for a in inc.members if a.service == first.service]
        inc.cause_signal = min(own, key=lambda a: (a.timestamp_seconds, a.signal in SYMPTOM_SIGNALS, -a.score)).signal

    def open_incidents(self) -> list[DetectedIncident]:
        return [i for i in self.incidents if i.is_open]

    def snapshot(self) -> list[dict]:
        """Detected incidents, newest first, as JSON-ready dicts."""
        return [i.as_dict() for i in sorted(self.incidents, key=lambda i: -i.opened_seconds)]

