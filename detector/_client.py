"""A small HTTP client of a running detector: health, recent anomalies, detected incidents (the demo and the console use it).

Errors::

    Exception
     └── DetectorUnreachable   no detector answers at the URL, or it answered with an error
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["DetectorClient", "DetectorUnreachable"]


class DetectorUnreachable(Exception):
    """No detector answers at the URL (or it answered with an error status or no JSON)."""


class DetectorClient:
    """Calls a detector's API at ``url``; ``transport`` lets tests inject a fake one."""

    def __init__(self, url: str, *, timeout_seconds: float = 3.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_seconds, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "DetectorClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        try:
            r = self._http.get(path, params=params or None)
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DetectorUnreachable(f"the detector at {self.url} did not answer {path}: {exc}") from None

    def health(self) -> dict[str, Any]:
        """``/healthz``: status (``ok``, ``warming_up``, ``settling``, ``degraded``), runs, history."""
        return self._get("/healthz")

    def anomalies(self, *, limit: int = 500) -> list[dict[str, Any]]:
        """Recent flags, newest last, each with its explanation and every term's contribution."""
        return self._get("/api/anomalies", limit=limit)["anomalies"]

    def scoreboard(self) -> dict[str, Any]:
        """The workshop's scoreboard as the detector scores it (``status``, totals, one entry per incident)."""
        return self._get("/api/scoreboard")

    def detected_incidents(self) -> list[dict[str, Any]]:
        """Detected incidents (correlated anomalies) with their probable cause and members."""
        return self._get("/api/incidents/detected")["incidents"]
