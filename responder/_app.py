"""Alertmanager's webhook receiver: record every alert, remediate where the runbook allows."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from collector import APIError, CollectorClient, CollectorUnreachable

from ._runbook import Step, load_runbook
from ._settings import ResponderSettings

__all__ = ["Responder", "create_app"]


class Responder:
    """Records alerts to a JSON-lines file and, when enabled, asks the collector to act."""

    def __init__(
        self,
        *,
        log_path: Path,
        collector_url: str,
        remediate: bool = False,
        timeout_seconds: float = 5.0,
        runbook: dict[str, Step] | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.log_path = Path(log_path)
        self.collector_url = collector_url.rstrip("/")
        self.remediate = remediate
        self.timeout_seconds = timeout_seconds
        self.runbook = runbook if runbook is not None else load_runbook()
        self.clock = clock
        self.transport = transport
        self._lock = threading.Lock()
        self.registry = registry if registry is not None else CollectorRegistry()
        self.alerts_total = Counter(
            "aiops_responder_alerts", "Alert notifications received from Alertmanager.", ["alertname", "status"],
            registry=self.registry,
        )
        self.actions_total = Counter(
            "aiops_responder_actions", "Remediation actions asked of the collector.", ["action", "outcome"],
            registry=self.registry,
        )
        self.records: list[dict[str, Any]] = []

    @classmethod
    def from_settings(cls, settings: ResponderSettings, **kwargs: Any) -> "Responder":
        """A responder as ``settings`` say (``kwargs``: the runbook, clock, transport or registry)."""
        return cls(
            log_path=settings.log_path,
            collector_url=settings.collector_url,
            remediate=settings.remediate,
            timeout_seconds=settings.timeout_seconds,
            **kwargs,
        )

    def _append(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.records.append(record)
            self.records = self.records[-500:]
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a") as f:
                f.write(json.dumps(record, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())

    def handle(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """Process one Alertmanager webhook payload; returns what was recorded."""
        out = []
        for alert in payload.get("alerts", []):
            labels = alert.get("labels", {})
            name = labels.get("alertname", "?")
            status = alert.get("status", payload.get("status", "?"))
            self.alerts_total.labels(name, status).inc()
            record: dict[str, Any] = {
                "received_seconds": self.clock(),
                "alertname": name,
                "status": status,
                "labels": labels,
                "annotations": alert.get("annotations", {}),
                "starts_at": alert.get("startsAt"),
                "action": None,
            }
            step = self.runbook.get(labels.get("cause_signal", ""))
            if status == "firing" and step is not None and labels.get("service"):
                record["action"] = self._act(step, labels["service"])
            self._append(record)
            out.append(record)
        return out

    def _act(self, step: Step, service: str) -> dict[str, Any]:
        decision: dict[str, Any] = {"action": step.action, "service": service}
        if not step.automatic:
            decision["outcome"] = "needs a human (runbook)"
        elif not self.remediate:
            decision["outcome"] = "skipped (remediation is off)"
        else:
            try:
                with CollectorClient(self.collector_url, timeout_seconds=self.timeout_seconds, transport=self.transport) as client:
                    decision["collector"] = client.act(step.action, service, by="remediation")
                decision["outcome"] = "done"
            except APIError as exc:
                decision["outcome"] = f"refused ({exc.status})"
                decision["collector"] = exc.body
            except CollectorUnreachable:
                decision["outcome"] = "failed (collector unreachable)"
        self.actions_total.labels(step.action, decision["outcome"].split(" ")[0]).inc()
        return decision


def create_app(responder: Responder) -> FastAPI:
    app = FastAPI(title="aiops responder", description="Alertmanager webhook receiver and remediation.")

    @app.post("/alertmanager")
    async def alertmanager(request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be Alertmanager's webhook JSON"}, status_code=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
            return JSONResponse({"error": "body must be Alertmanager's webhook JSON", "field": "alerts"}, status_code=400)
        return JSONResponse({"recorded": responder.handle(payload)})

    @app.get("/api/alerts")
    def alerts() -> dict[str, Any]:
        return {"alerts": list(reversed(responder.records)), "remediation_enabled": responder.remediate}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(responder.registry), media_type=CONTENT_TYPE_LATEST)

    return app
