"""The collector's runtime (fleet, incident store, chaos, scheduler) and its HTTP app.

Endpoints::

    GET    /metrics                  the fleet's metrics (Prometheus text or OpenMetrics)
    GET    /healthz                  liveness, with the number of active incidents
    GET    /api/catalog              {"kinds": [...], "services": [...], "dependencies": [...], "limits": ...}
    POST   /api/incidents            trigger one -> 201 and the incident (with its id)
    GET    /api/incidents            pending, active and recently ended incidents
    GET    /api/incidents/{id}       one incident (404 for an unknown id)
    DELETE /api/incidents/{id}       end one early (404 for an unknown id, 409 if it is over)
    DELETE /api/incidents            end all and pause the chaos schedule (the panic button)
    GET    /api/chaos                the chaos schedule's state
    POST   /api/chaos/pause|resume
    POST   /api/actions              a runbook action (``by: "remediation"`` only with the responder's token)

Every error answers JSON ``{"field": ..., "error": ..., "allowed": ...,
"errors": [...]}`` naming the field and what it may be (parse errors, unknown
paths and methods too); a bad value is quoted by a short prefix only. Every
write goes through :class:`plumbing.guard.RequestGuard` (Host, token off
loopback, JSON content type, body size); a write the incident log cannot take
answers 503 and changes nothing. Paths match exactly: no redirect on a trailing
slash (``DELETE /api/incidents/`` is not the panic button).
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager
from datetime import timezone
from typing import Any, AsyncIterator, Callable, Literal

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client.exposition import choose_encoder
from pydantic import BaseModel, ConfigDict, Field

from plumbing.errors import short
from plumbing.grafana import AnnotationPoster, GrafanaSettings, annotation_poster
from plumbing.guard import TOKEN_SCOPE_KEY, GuardPolicy, RequestGuard
from plumbing.serving import is_loopback, json_errors
from simulator import Catalog, Incident, InvalidIncident, LiveFleet, Snapshot, load_catalog

from ._backfill import history_end_counters
from ._chaos import ChaosController
from ._exposition import exposition_registry
from ._settings import CollectorSettings
from ._store import IncidentStore, LogUnavailable, UnknownIncident, describe

__all__ = ["CollectorRuntime", "IncidentRequest", "create_app"]

log = logging.getLogger("collector")

#: Actors a client may name when it triggers or stops an incident (chaos and remediation are the server's own).
CLIENT_ACTORS = ("api", "cli", "scenario")


class CollectorRuntime:
    """The simulated fleet, the incident store and the chaos schedule, sharing one clock.

    ``start()`` runs the scheduled jobs (a one-second tick that logs incident
    starts and ends, and the chaos rounds); ``close()`` stops them and closes the log.
    With ``annotations`` each incident is annotated in Grafana when it is triggered (at
    its start) and turned into a region when it ends or is stopped.
    """

    def __init__(
        self,
        settings: CollectorSettings,
        *,
        catalog: Catalog | None = None,
        clock: Callable[[], float] = time.time,
        annotations: AnnotationPoster | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog or load_catalog()
        self.clock = clock
        self.started_seconds = clock()
        self.annotations = annotations
        self.store = IncidentStore(self.catalog, settings.log_path, clock=clock, keep_ended=settings.keep_ended_incidents)
        if annotations is not None:
            self.store.on_event = self._annotate
        if settings.history_dir is not None:
            end, counters = history_end_counters(settings.history_dir, seed=settings.seed, catalog=self.catalog)
            self.fleet = LiveFleet(self.catalog, settings.seed, start_seconds=end, tick_seconds=settings.tick_seconds, initial=counters)
        else:
            self.fleet = LiveFleet(self.catalog, settings.seed, start_seconds=self.started_seconds, tick_seconds=settings.tick_seconds)
        self.chaos = ChaosController(
            self.store,
            seed=settings.seed,
            every_seconds=settings.chaos_every_seconds,
            duration_seconds=settings.chaos_duration_seconds,
            clock=clock,
        )
        self.registry = exposition_registry(self.catalog, self.snapshot)
        self._fleet_lock = threading.Lock()
        known = self.store.incidents()
        if known:
            live = [i.id for i in known if i.end_seconds > self.started_seconds]
            log.info(
                "incident log %s: %d incident(s), %d still pending or active%s",
                settings.log_path,
                len(known),
                len(live),
                f" (resumed: {', '.join(live)})" if live else "",
            )
        self._scheduler: Any = None

    def _annotate(self, event: str, incident: Incident, time_seconds: float) -> None:
        """Queue a Grafana annotation for a trigger (at the incident's start) and for its end (never waits on Grafana)."""
        assert self.annotations is not None
        key = f"incident-{incident.id}"
        tags = ["incident", incident.kind, incident.service]
        what = f"{incident.kind} on {incident.service}, intensity {incident.intensity:g}"
        if event == "triggered":
            text = f"Incident {incident.id} triggered by {incident.triggered_by}: {what}, for {incident.duration_seconds:.0f} s"
            self.annotations.opened(key, time_seconds=incident.start_seconds, text=text, tags=tags)
        elif event in ("ended", "stopped"):
            how = f"stopped early by {incident.stopped_by}" if event == "stopped" else "ended"
            text = f"Incident {incident.id} {how}: {what}, after {max(0.0, time_seconds - incident.start_seconds):.0f} s"
            self.annotations.closed(key, start_seconds=incident.start_seconds, end_seconds=time_seconds, text=text, tags=tags)

    def snapshot(self) -> Snapshot:
        """The fleet at the clock's time (counters integrated up to it) and the incidents active then."""
        with self._fleet_lock:
            now = self.clock()
            # only incidents not over before the last integrated tick can touch the ticks still to integrate
            window = max(0.0, now - self.fleet.integrated_until_seconds) + 2 * self.fleet.tick_seconds
            return self.fleet.advance(now, self.store.relevant(now, window))

    def tick(self) -> None:
        """The scheduled tick: notice a vanished log file, and log incident starts and ends as they happen."""
        self.store.check_log()
        self.store.catch_up()

    def start(self) -> None:
        """Start the scheduled jobs (APScheduler, in a background thread)."""
        if self._scheduler is not None:
            return
        sched = BackgroundScheduler(timezone=timezone.utc, job_defaults={"max_instances": 1, "coalesce": True})
        sched.add_job(self.tick, "interval", seconds=1.0, id="tick", misfire_grace_time=1)
        if self.chaos.enabled:
            every = self.settings.chaos_every_seconds
            job = sched.add_job(self.chaos.run_round, "interval", seconds=every, id="chaos", misfire_grace_time=max(1, int(every / 2)))
            self.chaos.next_run_seconds = lambda: job.next_run_time.timestamp() if job.next_run_time else None
            log.info("chaos schedule: one incident every %gs for %gs (seed %d)", every, self.settings.chaos_duration_seconds, self.settings.seed)
        sched.start()
        self._scheduler = sched

    def close(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self.store.close()
        if self.annotations is not None:
            self.annotations.close()


class IncidentRequest(BaseModel):
    """The body of ``POST /api/incidents``; omitted optional fields take the catalog's defaults."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: str = Field(description="An incident kind from the catalog.")
    service: str = Field(description="A service from the catalog.")
    duration_seconds: float | None = Field(None, description="How long it lasts (catalog limits; default: the catalog default, the longest allowed for a permanent kind).")
    intensity: float | None = Field(None, description="Strength; default and range per kind in the catalog.")
    delay_seconds: float | None = Field(None, description="Start this many seconds from now.")
    triggered_by: Literal["api", "cli", "scenario"] = Field("api", description="Who asks (recorded in the log).")


class ActionRequest(BaseModel):
    """The body of ``POST /api/actions``: a simulated runbook action on one service."""

    model_config = ConfigDict(extra="forbid", strict=True)

    action: str = Field(description="A remediation named in the catalog (restart, scale_out, rollback, cleanup).")
    service: str = Field(description="A service from the catalog.")
    by: Literal["api", "cli", "remediation"] = Field("api", description="Who acts (recorded in the log); `remediation` only with the responder's token.")


#: The fields of each endpoint's body, for "unknown field" and "the body must be a JSON object".
_MODELS: dict[str, type[BaseModel]] = {"/api/incidents": IncidentRequest, "/api/actions": ActionRequest}
#: Who a request may say it is, per endpoint.
_ACTORS: dict[str, list[str]] = {"/api/actions": ["api", "cli", "remediation"]}


def guard_policy(settings: CollectorSettings) -> GuardPolicy:
    """What every request to the collector must show (:mod:`plumbing.guard`): a token off loopback, a JSON write, a known Host."""
    return GuardPolicy(
        tokens={"runner": settings.token, "responder": settings.responder_token},
        require_token=not is_loopback(settings.host),
        public_names=frozenset(n.strip() for n in settings.public_names.split(",") if n.strip()),
    )


def _parse_error(detail: str) -> str:
    return (
        "the body could not be parsed as JSON: it must be UTF-8, nest at most a few hundred levels "
        f"and hold numbers of at most 4,300 digits ({detail})"
    )


def _problem(field: str, error: str, allowed: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"field": field, "error": error}
    if allowed is not None:
        out["allowed"] = allowed
    return out


def _error_response(status: int, problems: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({**problems[0], "errors": problems}, status_code=status)


def _allowed(catalog: Catalog, field: str, body: Any, path: str = "/api/incidents") -> Any:
    if field == "kind":
        return list(catalog.kind_names)
    if field == "service":
        return list(catalog.service_names)
    if field == "duration_seconds":
        return catalog.duration_seconds.as_dict()
    if field == "delay_seconds":
        return catalog.delay_seconds.as_dict()
    if field == "intensity":
        kind = body.get("kind") if isinstance(body, dict) else None
        if kind in catalog.kind_names:
            return catalog.kind(kind).intensity.as_dict()
        return {k.name: k.intensity.as_dict() for k in catalog.kinds}
    if field in ("triggered_by", "by"):
        return _ACTORS.get(path, list(CLIENT_ACTORS))
    if field == "action":
        return sorted({k.remediation for k in catalog.kinds if k.remediation})
    return None


def create_app(
    settings: CollectorSettings | None = None,
    *,
    runtime: CollectorRuntime | None = None,
    clock: Callable[[], float] = time.time,
    scheduler: bool = True,
    grafana: GrafanaSettings | None = None,
) -> FastAPI:
    """The collector's ASGI app; nothing runs until a server starts it.

    Pass ``runtime`` to share one (tests do, with a fake clock); otherwise the app
    builds one from ``settings`` at startup and closes it at shutdown, annotating
    incidents in the Grafana of ``grafana`` when it has a URL. With ``scheduler`` the
    startup also starts the tick and chaos jobs.
    """
    settings = settings or (runtime.settings if runtime else CollectorSettings())
    owns_runtime = runtime is None
    rt = runtime or CollectorRuntime(
        settings, clock=clock, annotations=annotation_poster(grafana, name="collector") if grafana is not None else None
    )
    catalog = rt.catalog

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if scheduler:
            rt.start()
        try:
            yield
        finally:
            if owns_runtime:
                rt.close()
            elif scheduler and rt._scheduler is not None:
                rt._scheduler.shutdown(wait=False)
                rt._scheduler = None

    app = FastAPI(
        title="aiops collector",
        summary="Metrics of a simulated service fleet, and the API that triggers its incidents.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.runtime = rt
    app.add_middleware(RequestGuard, policy=guard_policy(settings))

    json_errors(app)  # unknown paths, wrong methods, unparsable bodies; the request models' errors are answered below

    @app.exception_handler(LogUnavailable)
    async def log_unavailable(request: Request, exc: LogUnavailable) -> JSONResponse:
        # nothing was recorded: the client may retry once the runner has fixed the log
        return _error_response(503, [_problem("log", str(exc))])

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        body = getattr(exc, "body", None)
        path = request.url.path
        fields = sorted(_MODELS.get(path, IncidentRequest).model_fields)
        problems: list[dict[str, Any]] = []
        status = 422
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            typ = err.get("type", "")
            if typ == "json_invalid":
                return _error_response(400, [_problem("body", _parse_error(short(str(err.get("ctx", {}).get("error", err["msg"])), 80)))])
            if loc in (["body"], []) or (typ in ("model_attributes_type", "dict_type") and len(loc) <= 1):
                return _error_response(400, [_problem("body", "the body must be a JSON object", fields)])
            field = loc[-1] if loc[0] != "body" or len(loc) > 1 else "body"
            if typ == "extra_forbidden":
                problems.append(_problem(field[:60], "unknown field", fields))
            elif typ == "missing":
                problems.append(_problem(field, "is required", _allowed(catalog, field, body, path)))
            else:
                problems.append(_problem(field, f"{err.get('msg', 'is invalid')} (got {short(err.get('input'))})", _allowed(catalog, field, body, path)))
        return _error_response(status, problems)

    def now_describe(incident: Any) -> dict[str, Any]:
        return describe(incident, rt.clock())

    @app.get("/metrics", summary="The fleet's metrics, built fresh for this scrape")
    def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(rt.registry), media_type=None, headers={"Content-Type": content_type})

    @app.get("/healthz", summary="Liveness")
    def healthz() -> dict[str, Any]:
        now = rt.clock()
        refused = rt.store.check_log()
        return {
            "status": "ok" if refused is None else "writes refused",
            "writes_refused": refused,
            "time_seconds": now,
            "uptime_seconds": now - rt.started_seconds,
            "seed": rt.settings.seed,
            "active_incidents": len(rt.store.active(now)),
            "log_problems": list(rt.store.problems),
        }

    @app.get("/api/catalog", summary="Incident kinds, services, dependency edges and limits")
    def get_catalog() -> dict[str, Any]:
        return catalog.as_dict()

    @app.post("/api/incidents", status_code=201, summary="Trigger an incident")
    def trigger(req: IncidentRequest) -> Any:
        try:
            inc = rt.store.trigger(
                kind=req.kind,
                service=req.service,
                duration_seconds=req.duration_seconds,
                intensity=req.intensity,
                delay_seconds=req.delay_seconds,
                by=req.triggered_by,
            )
        except InvalidIncident as exc:
            status = 409 if exc.field == "max_concurrent_incidents" else 422
            return _error_response(status, [exc.as_dict()])
        return now_describe(inc)

    @app.get("/api/incidents", summary="Pending, active and recently ended incidents")
    def list_incidents() -> dict[str, Any]:
        now = rt.clock()
        return {
            "time_seconds": now,
            "incidents": [describe(i, now) for i in rt.store.relevant(now, rt.settings.recent_seconds)],
        }

    @app.get("/api/incidents/{incident_id}", summary="One incident, with its state now")
    def get_incident(incident_id: str) -> Any:
        try:
            rt.store.catch_up()
            return now_describe(rt.store.get(incident_id))
        except UnknownIncident:
            return _error_response(404, [_problem("id", f"no incident with id {short(incident_id)} (ended ones are kept for a while only)")])

    @app.delete("/api/incidents/{incident_id}", summary="End one incident early")
    def stop(incident_id: str, by: Literal["api", "cli", "scenario"] = Query("api")) -> Any:
        try:
            return now_describe(rt.store.stop(incident_id, by=by))
        except UnknownIncident:
            return _error_response(404, [_problem("id", f"no incident with id {short(incident_id)} (ended ones are kept for a while only)")])
        except ValueError as exc:
            return _error_response(409, [_problem("id", str(exc))])

    @app.post("/api/actions", summary="A simulated runbook action: ends the service's incidents it remedies")
    def act(req: ActionRequest, request: Request) -> Any:
        if req.by == "remediation" and request.scope.get(TOKEN_SCOPE_KEY) != "responder":
            return _error_response(
                403,
                [_problem("by", "'remediation' is accepted only with the responder's token (AIOPS_RESPONDER_TOKEN)", ["api", "cli"])],
            )
        actions = sorted({k.remediation for k in rt.catalog.kinds if k.remediation})
        if req.action not in actions:
            return _error_response(422, [_problem("action", f"unknown action {short(req.action)}", actions)])
        if req.service not in rt.catalog.service_names:
            return _error_response(422, [_problem("service", f"unknown service {short(req.service)}", list(rt.catalog.service_names))])
        remedied = {k.name for k in rt.catalog.kinds if k.remediation == req.action}
        ended = []
        for inc in rt.store.active():
            if inc.service == req.service and inc.kind in remedied:
                try:
                    ended.append(now_describe(rt.store.stop(inc.id, by=req.by)))
                except (UnknownIncident, ValueError):
                    continue  # ended on its own meanwhile
        log.info("action %s on %s by %s ended %d incident(s)", req.action, req.service, req.by, len(ended))
        return {"action": req.action, "service": req.service, "remedies": sorted(remedied), "ended": ended}

    @app.delete("/api/incidents", summary="The panic button: end every incident and pause the chaos schedule")
    def stop_all(by: Literal["api", "cli", "scenario"] = Query("api")) -> dict[str, Any]:
        rt.chaos.pause()
        stopped = rt.store.stop_all(by=by)
        return {"stopped": [now_describe(i) for i in stopped], "chaos": rt.chaos.status()}

    @app.get("/api/chaos", summary="The chaos schedule's state")
    def chaos() -> dict[str, Any]:
        return rt.chaos.status()

    @app.post("/api/chaos/pause", summary="Pause the chaos schedule")
    def chaos_pause() -> dict[str, Any]:
        rt.chaos.pause()
        return rt.chaos.status()

    @app.post("/api/chaos/resume", summary="Resume the chaos schedule")
    def chaos_resume() -> dict[str, Any]:
        rt.chaos.resume()
        return rt.chaos.status()

    return app
