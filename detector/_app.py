"""The detector's HTTP surface: /metrics, the JSON API (anomalies, detected incidents, scoreboard), /healthz and /readyz.

``/healthz`` always answers 200 while the process lives (liveness) and says how it is doing;
``/readyz`` answers 503 unless the detector is scoring complete data (``status`` ``ok`` and
the last cycle succeeded), so a probe or an orchestrator can tell a detector that is warming
up, settling after a scrape gap or failing its cycles. The detector takes no writes; the shared guard still bounds bodies.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from plumbing.guard import GuardPolicy, RequestGuard
from plumbing.serving import json_errors

from ._exposition import DetectorCollector
from ._service import DetectorService

__all__ = ["create_app"]


def create_app(service: DetectorService, registry: CollectorRegistry | None = None) -> FastAPI:
    """The app serving ``service``'s outputs; ``registry`` defaults to a fresh one."""
    reg = registry if registry is not None else CollectorRegistry()
    reg.register(DetectorCollector(service.snapshot))
    app = FastAPI(title="aiops detector", description="Interpretable anomaly detection over the fleet's signals.", redirect_slashes=False)
    app.add_middleware(RequestGuard, policy=GuardPolicy())
    json_errors(app)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(reg), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/anomalies", summary="Recent flagged points with their explanations (kind anomaly) and re-baseline events (kind rebaseline, rebaseline_withdrawn), newest first")
    def anomalies(limit: int = Query(100, ge=1, le=500)) -> dict[str, Any]:
        return {"anomalies": service.recent_anomalies(limit)}

    @app.get("/api/incidents/detected", summary="Detected incidents: grouped anomalies with a probable cause")
    def detected() -> dict[str, Any]:
        return {"incidents": service.detected_incidents()}

    @app.get("/api/scoreboard", summary="The workshop's scoreboard: the collector's incidents against the detections")
    def scoreboard() -> dict[str, Any]:
        return service.scoreboard_report()

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        body = service.health()
        return JSONResponse(body, status_code=200)

    @app.get("/readyz", summary="200 while the detector scores complete data, 503 (with the reason) otherwise")
    def readyz() -> JSONResponse:
        body = service.health()
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    return app
