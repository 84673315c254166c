"""The one HTTP client of a running collector: the CLI, the demo, the responder and the detector's record reader use it.

Errors::

    Exception
     ├── CollectorUnreachable   nothing answers at the URL
     └── APIError               the collector refused the request (.status, .body, .line())
"""

from __future__ import annotations

from typing import Any

import httpx

from simulator import ScenarioStep

__all__ = ["APIError", "CollectorClient", "CollectorUnreachable"]


class CollectorUnreachable(Exception):
    """No collector answers at the URL."""


class APIError(Exception):
    """The collector answered with an error status."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(self.line())

    def line(self) -> str:
        """One readable line: the field, the problem and what is allowed."""
        b = self.body if isinstance(self.body, dict) else {}
        if "error" not in b:
            return f"the collector answered HTTP {self.status}: {str(self.body)[:200]}"
        text = f"{b['field']}: {b['error']}" if b.get("field") else str(b["error"])
        allowed = b.get("allowed")
        if isinstance(allowed, list):
            text += f" (allowed: {', '.join(map(str, allowed))})"
        elif isinstance(allowed, dict) and {"min", "max"} <= set(allowed):
            text += f" (allowed: {allowed['min']:g} to {allowed['max']:g})"
        return text


class CollectorClient:
    """Calls a collector's API at ``url``; ``transport`` lets tests inject a fake one.

    ``token`` (the runner's ``AIOPS_TOKEN``, or the responder's own) is sent as a bearer
    token with every request; a collector off loopback refuses writes without one.
    """

    def __init__(
        self, url: str, *, timeout_seconds: float = 5.0, transport: httpx.BaseTransport | None = None, token: str | None = None
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout_seconds, transport=transport, headers=headers)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "CollectorClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise CollectorUnreachable(
                f"no collector answers at {self.url} ({type(exc).__name__}); start one with `aiops collector` or pass --url"
            ) from None
        try:
            body = r.json()
        except ValueError:
            body = r.text
        if r.status_code >= 400:
            raise APIError(r.status_code, body)
        return body

    def metrics(self) -> str:
        """The fleet's metrics in Prometheus' text format (``GET /metrics``)."""
        try:
            r = self._http.get("/metrics")
        except httpx.TransportError as exc:
            raise CollectorUnreachable(f"no collector answers at {self.url} ({type(exc).__name__})") from None
        if r.status_code >= 400:
            raise APIError(r.status_code, r.text)
        return r.text

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/healthz")

    def catalog(self) -> dict[str, Any]:
        return self._call("GET", "/api/catalog")

    def trigger(self, **body: Any) -> dict[str, Any]:
        """POST /api/incidents with the given fields (None values are left out)."""
        return self._call("POST", "/api/incidents", json={k: v for k, v in body.items() if v is not None})

    def trigger_step(self, step: ScenarioStep) -> dict[str, Any]:
        """POST one scripted incident of a scenario, delayed by its ``at`` (``triggered_by`` = ``scenario``)."""
        return self.trigger(
            kind=step.kind,
            service=step.service,
            intensity=step.intensity,
            duration_seconds=step.duration_seconds,
            delay_seconds=step.at_seconds,
            triggered_by="scenario",
        )

    def incidents(self) -> list[dict[str, Any]]:
        return self._call("GET", "/api/incidents")["incidents"]

    def stop(self, incident_id: str, *, by: str = "api") -> dict[str, Any]:
        return self._call("DELETE", f"/api/incidents/{incident_id}", params={"by": by})

    def stop_all(self, *, by: str = "api") -> dict[str, Any]:
        return self._call("DELETE", "/api/incidents", params={"by": by})

    def chaos(self) -> dict[str, Any]:
        return self._call("GET", "/api/chaos")

    def act(self, action: str, service: str, *, by: str = "remediation") -> dict[str, Any]:
        """POST /api/actions: a simulated runbook action on ``service`` (ends the incidents it remedies)."""
        return self._call("POST", "/api/actions", json={"action": action, "service": service, "by": by})
