"""Alertmanager's webhook receiver: record every alert, remediate where the runbook allows.

A notification is checked in this order, and refused whole at the first problem:

1. the guard (:mod:`plumbing.guard`): the responder's token when it has one (or listens off
   loopback), ``Content-Type: application/json``, a known Host, a body of at most 256 kB;
2. the JSON itself (400 ``body``), then Alertmanager's webhook schema (422 naming the
   field, e.g. ``alerts.0.labels``); every string must be valid Unicode (no lone surrogates);
3. only alerts the kit's rules produce: an ``alertname`` from ``monitoring/rules`` and, for
   the incident alert, a ``service`` from the catalog.

A refused notification is logged (a short prefix of the bad value, never a header) and
changes nothing, so ``/metrics`` and ``/api/alerts`` keep answering whatever is posted.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from collector import APIError, CollectorClient, CollectorUnreachable
from plumbing.errors import short
from plumbing.guard import GuardPolicy, RequestGuard
from plumbing.monitoring import alert_names
from plumbing.serving import json_errors
from simulator import load_catalog

from ._runbook import Step, load_runbook
from ._settings import ResponderSettings

__all__ = ["Responder", "WebhookPayload", "create_app", "refusal"]

log = logging.getLogger("responder")

#: The alert whose labels name a service and a probable cause (the one remediation acts on).
INCIDENT_ALERT = "AIOpsIncidentDetected"


class WebhookAlert(BaseModel):
    """One alert of Alertmanager's webhook payload (version 4)."""

    model_config = ConfigDict(extra="allow", strict=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class WebhookPayload(BaseModel):
    """Alertmanager's webhook payload (version 4); the fields the responder does not use are optional."""

    model_config = ConfigDict(extra="allow", strict=True)

    status: Literal["firing", "resolved"]
    alerts: list[WebhookAlert] = Field(max_length=1000)
    version: str | None = None
    groupKey: str | None = None
    truncatedAlerts: int | None = None
    receiver: str | None = None
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str | None = None


def _bad_text(value: Any, where: str) -> str | None:
    """The path of the first string (key or value) that is not valid Unicode (a lone surrogate), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
    elif isinstance(value, dict):
        for k, v in value.items():
            found = _bad_text(k, f"{where}.{short(k)}") or _bad_text(v, f"{where}.{k}" if isinstance(k, str) else where)
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _bad_text(v, f"{where}.{i}")
            if found:
                return found
    return None


def refusal(raw: bytes, *, alertnames: tuple[str, ...], services: tuple[str, ...]) -> tuple[int, dict[str, Any]] | tuple[None, dict[str, Any]]:
    """``(status, error)`` for a notification the responder refuses, or ``(None, payload)`` for one it takes."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return 400, {"field": "body", "error": f"not Alertmanager's webhook JSON: {short(str(exc), 80)}"}
    bad = _bad_text(obj, "body")
    if bad:
        return 422, {"field": bad.removeprefix("body."), "error": "is not valid Unicode (a lone surrogate?)"}
    try:
        payload = WebhookPayload.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        return 422, {"field": where, "error": f"{err['msg']} (got {short(err.get('input'))})", "schema": "Alertmanager webhook, version 4"}
    for i, alert in enumerate(payload.alerts):
        name = alert.labels.get("alertname")
        if name not in alertnames:
            return 422, {"field": f"alerts.{i}.labels.alertname", "error": f"{short(name)} is not one of the kit's alerts", "allowed": list(alertnames)}
        if name == INCIDENT_ALERT:
            service = alert.labels.get("service")
            if service not in services:
                return 422, {"field": f"alerts.{i}.labels.service", "error": f"{short(service)} is not a service of the kit", "allowed": list(services)}
            if not alert.labels.get("cause_signal"):
                return 422, {"field": f"alerts.{i}.labels.cause_signal", "error": "is required on the incident alert"}
    return None, payload.model_dump()


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
        token: str = "",
    ) -> None:
        self.log_path = Path(log_path)
        self.token = token  # sent to the collector: the only token whose actions count as remediation
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
            token=settings.token,
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
                with CollectorClient(
                    self.collector_url, timeout_seconds=self.timeout_seconds, transport=self.transport, token=self.token
                ) as client:
                    decision["collector"] = client.act(step.action, service, by="remediation")
                decision["outcome"] = "done"
            except APIError as exc:
                decision["outcome"] = f"refused ({exc.status})"
                decision["collector"] = exc.body
            except CollectorUnreachable:
                decision["outcome"] = "failed (collector unreachable)"
        self.actions_total.labels(step.action, decision["outcome"].split(" ")[0]).inc()
        return decision


def create_app(responder: Responder, *, policy: GuardPolicy | None = None) -> FastAPI:
    """The responder's app; ``policy`` defaults to requiring the responder's token whenever it has one."""
    app = FastAPI(title="aiops responder", description="Alertmanager webhook receiver and remediation.", redirect_slashes=False)
    app.add_middleware(
        RequestGuard, policy=policy or GuardPolicy(tokens={"responder": responder.token}, require_token=bool(responder.token))
    )
    json_errors(app)
    names = alert_names()
    services = load_catalog().service_names

    @app.post("/alertmanager")
    async def alertmanager(request: Request) -> JSONResponse:
        status, body = refusal(await request.body(), alertnames=names, services=services)
        if status is not None:
            log.warning("notification refused (%d): %s: %s", status, body["field"], body["error"])
            return JSONResponse({**body, "errors": [body]}, status_code=status)
        return JSONResponse({"recorded": responder.handle(body)})

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
