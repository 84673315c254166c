"""The console's HTTP surface: the page (static files from the package) and a JSON API over the collector, detector and Prometheus.

Every call the page makes goes through here, so the page needs one origin and no CORS:

- ``GET /api/config``: refresh period, chart window, the signals charted, Grafana links;
- ``GET /api/catalog``: the collector's incident catalog (kinds, services, limits);
- ``GET /api/state``: one snapshot of the collector (health, incidents, chaos) and of the
  detector (health, recent flags, detected incidents, scoreboard), each part with its own
  ``status`` and ``error`` so one part down never blanks the page;
- ``GET /api/charts``: each service's signals over the chart window with the detector's band
  and flags, read from Prometheus; ``{"status": "warming", ...}`` at once until the first
  reading is done (it starts with the console, in the background);
- ``POST /api/incidents``, ``DELETE /api/incidents/{id}``, ``DELETE /api/incidents``:
  passed to the collector as they are; its refusals come back with their status and an
  ``error`` sentence naming the field and what is allowed.

The state and the charts are computed once for every page that polls within a short time
(half the refresh period; :data:`CHARTS_EVERY_SECONDS`), so a room of browsers costs the
collector, the detector and Prometheus what one does; a write clears the state, so the next
poll shows what it did. The first readings of both start in the background when the console
starts; the charts' (15 minutes of every signal, the slowest call) answer "warming" until it is
done, so no page waits for it.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from importlib import resources
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

from fastapi import Body, FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from collector import APIError, CollectorClient, CollectorUnreachable
from detector import DetectorClient, DetectorUnreachable
from model import SignalSet
from plumbing.guard import GuardPolicy, RequestGuard
from sources import PrometheusError, PrometheusReader

__all__ = ["STATIC_DIR", "create_app", "grafana_links", "scoreboard_rows"]

#: The page's files (HTML, JS, CSS), installed with the package.
STATIC_DIR = resources.files("aiops.console") / "static"

#: How many of the detector's most recent flags the page lists.
RECENT_FLAGS = 30

#: Points per chart at most (the query step is the chart window over this).
CHART_POINTS = 180

#: The charts are queried from Prometheus at most this often, however many pages poll (the page asks every 5 s or more).
CHARTS_EVERY_SECONDS = 4.0


def grafana_links(grafana_url: str | None) -> dict[str, str] | None:
    """The kit's dashboards at ``grafana_url`` by their fixed uids, or None without a URL."""
    if not grafana_url:
        return None
    from dashboards import EXPLORER_UID, FLEET_UID, HEALTH_UID, MLOPS_UID, SCOREBOARD_UID  # lazy: the package loads Grafana's SDK (seconds); needed only with a Grafana URL

    base = grafana_url.rstrip("/")
    uids = {"fleet": FLEET_UID, "explorer": EXPLORER_UID, "scoreboard": SCOREBOARD_UID, "health": HEALTH_UID, "mlops": MLOPS_UID}
    return {name: f"{base}/d/{uid}" for name, uid in uids.items()}


def scoreboard_rows(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per model: ``board["models"]`` when the detector scores several (a champion beside the baseline), else the board itself."""
    keys = ("incidents", "detected", "missed", "waiting", "false_alarms", "median_time_to_detect_seconds")
    models = board.get("models")
    entries = models if isinstance(models, list) and models else [board]
    rows = []
    for entry in entries:
        row = {"model": str(entry.get("model") or entry.get("name") or "detector")}
        row.update({k: entry.get(k) for k in keys})
        rows.append(row)
    return rows


class _Cached:
    """One value recomputed at most every ``ttl_seconds`` of ``clock``, shared by every page that asks (a room polls at once).

    With ``background`` (the default), a stale value is served at once while one thread
    recomputes it, so no page waits on the collector, the detector or Prometheus; the first
    ask, and the first after :meth:`clear` (a write the page must see), compute in line, unless
    a ``warming`` answer is given: then nobody waits even for the first value, the ``warming``
    answer is served until one thread has computed it (:meth:`warm` starts that at once).
    """

    def __init__(
        self, compute: Callable[[], Any], ttl_seconds: float, clock: Callable[[], float], *, background: bool = True, warming: Any = None
    ) -> None:
        self._compute, self._ttl, self._clock = compute, ttl_seconds, clock
        self._background, self._warming = background, warming
        self._lock = threading.Lock()
        self._value: Any = None
        self._at: float | None = None
        self._refreshing = False
        self._generation = 0  # bumped by clear(): a refresh started before it is dropped

    def _start_refresh(self) -> None:
        """One background recompute at a time (call with the lock held)."""
        if not self._refreshing:
            self._refreshing = True
            threading.Thread(target=self._refresh, args=(self._generation,), name="console-refresh", daemon=True).start()

    def _refresh(self, generation: int) -> None:
        try:
            value, at = self._compute(), self._clock()
            with self._lock:
                if generation == self._generation:  # not cleared meanwhile (a cleared value is recomputed afresh)
                    self._value, self._at = value, at
        finally:
            with self._lock:
                self._refreshing = False

    def warm(self) -> None:
        """Start computing the first value in the background (the console's start)."""
        with self._lock:
            if self._at is None:
                self._start_refresh()

    def get(self) -> Any:
        with self._lock:
            now = self._clock()
            if self._at is not None and now - self._at < self._ttl:
                return self._value
            if self._at is not None and self._background:  # stale: serve it, refresh once in the background
                self._start_refresh()
                return self._value
            if self._at is None and self._warming is not None:  # no value yet: say so at once, compute it once in the background
                self._start_refresh()
                return self._warming
            self._value, self._at = self._compute(), now
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._at = None
            self._generation += 1


def _error_body(exc: APIError) -> dict[str, Any]:
    body = exc.body if isinstance(exc.body, dict) else {}
    return {"status": exc.status, "error": exc.line(), "field": body.get("field"), "allowed": body.get("allowed")}


def _finite(value: str) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None


def create_app(
    *,
    collector: CollectorClient,
    detector: DetectorClient,
    prometheus: PrometheusReader | None,
    signals: SignalSet,
    refresh_every_seconds: float = 2.0,
    chart_window_seconds: float = 900.0,
    grafana_url: str | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The console over these clients; ``clock`` (seconds since the epoch) sets the charts' window."""
    charts_cache: _Cached  # set below; the lifespan warms both when the server starts
    state_cache: _Cached

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state_cache.warm()  # the first pages find the state read, not a room waiting on one read
        charts_cache.warm()  # the charts' first reading takes seconds: start it now, in the background
        yield

    app = FastAPI(title="aiops console", description="The trainee console: the fleet, its incidents and what the detector sees.", lifespan=lifespan)
    # writes must be JSON and name a known Host (no cross-site form or rebinding page can post), bodies bounded;
    # no token: the room triggers through the console, which sends the runner's token on to the collector
    app.add_middleware(RequestGuard, policy=GuardPolicy())
    catalog_cache: dict[str, Any] = {}
    charted: Sequence[str] = [s.name for s in signals.signals]

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(STATIC_DIR / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/api/config", summary="Refresh period, chart window, charted signals, Grafana links")
    def config() -> dict[str, Any]:
        return {
            "refresh_every_seconds": refresh_every_seconds,
            "chart_window_seconds": chart_window_seconds,
            "signals": [{"name": s.name, "label": s.label, "unit": s.unit, "direction": s.direction} for s in signals.signals],
            "grafana": grafana_links(grafana_url),
        }

    @app.get("/api/catalog", summary="The collector's incident catalog")
    def catalog() -> JSONResponse:
        if not catalog_cache:
            try:
                catalog_cache.update(collector.catalog())
            except CollectorUnreachable as exc:
                return JSONResponse({"status": 502, "error": str(exc)}, status_code=502)
            except APIError as exc:
                return JSONResponse(_error_body(exc), status_code=502)
        return JSONResponse(catalog_cache)

    def collector_part() -> dict[str, Any]:
        try:
            return {"status": "ok", "error": None, "health": collector.health(), "incidents": collector.incidents(), "chaos": collector.chaos()}
        except (CollectorUnreachable, APIError) as exc:
            return {"status": "down", "error": str(exc), "health": None, "incidents": [], "chaos": None}

    def detector_part() -> dict[str, Any]:
        try:
            health = detector.health()
        except DetectorUnreachable as exc:
            return {"status": "down", "error": str(exc), "health": None, "anomalies": [], "detected": [], "scoreboard": None}
        out: dict[str, Any] = {"status": health.get("status", "unknown"), "error": health.get("last_error"), "health": health}
        try:
            out["anomalies"] = detector.anomalies(limit=RECENT_FLAGS)
            out["detected"] = detector.detected_incidents()
            board = detector.scoreboard()
            out["scoreboard"] = {**board, "rows": scoreboard_rows(board) if board.get("status") == "ok" else []}
        except DetectorUnreachable as exc:
            out.update(status="down", error=str(exc), anomalies=out.get("anomalies", []), detected=out.get("detected", []), scoreboard=None)
        return out

    state_cache = _Cached(lambda: {"time_seconds": clock(), "collector": collector_part(), "detector": detector_part()}, refresh_every_seconds / 2, clock)

    @app.get("/api/state", summary="The collector's and the detector's state, each with its own status")
    def state() -> dict[str, Any]:
        return state_cache.get()

    def chart_data() -> dict[str, Any]:
        if prometheus is None:
            return {"status": "off", "error": "no Prometheus configured (--prometheus-url)", "series": {}}
        end = clock()
        start = end - chart_window_seconds
        step = max(1.0, round(chart_window_seconds / CHART_POINTS))
        series: dict[str, dict[str, dict[str, Any]]] = {}

        def put(service: str, signal: str, what: str, values: list[list[Any]]) -> None:
            entry = series.setdefault(service, {}).setdefault(signal, {})
            entry[what] = [[float(t), _finite(v)] for t, v in values]

        try:
            for s in signals.signals:
                if s.name not in charted:
                    continue
                for r in prometheus.query_range(s.promql, start=start, end=end, step_seconds=step):
                    if "service" in r["metric"]:
                        put(r["metric"]["service"], s.name, "actual", r["values"])
            for metric, what in (("aiops_detector_lower_bound", "lower"), ("aiops_detector_upper_bound", "upper"),
                                 ("aiops_detector_expected_value", "expected"), ("aiops_detector_anomaly", "flag")):  # fmt: skip
                # the online loop's band (a champion-serving detector scores the same series under model="champion")
                for r in prometheus.query_range(f'{metric}{{model="online"}}', start=start, end=end, step_seconds=step):
                    labels = r["metric"]
                    if "service" in labels and labels.get("signal") in charted:
                        put(labels["service"], labels["signal"], what, r["values"])
        except PrometheusError as exc:
            return {"status": "down", "error": str(exc), "series": {}}
        return {"status": "ok", "error": None, "start_seconds": start, "end_seconds": end, "step_seconds": step, "series": series}

    minutes = f"{chart_window_seconds / 60:g} minutes"
    warming = {"status": "warming", "error": f"reading the last {minutes} of every signal from Prometheus; the charts show in a few seconds", "series": {}}
    charts_cache = _Cached(chart_data, CHARTS_EVERY_SECONDS, clock, warming=warming if prometheus is not None else None)

    @app.get("/api/charts", summary="Each service's signals over the chart window, with the detector's band and flags")
    def charts() -> dict[str, Any]:
        return charts_cache.get()

    def relay(call: Callable[[], Any], ok_status: int = 200) -> JSONResponse:
        state_cache.clear()  # the next poll shows what the write did
        try:
            return JSONResponse(call(), status_code=ok_status)
        except APIError as exc:
            return JSONResponse(_error_body(exc), status_code=exc.status)
        except CollectorUnreachable as exc:
            return JSONResponse({"status": 502, "error": str(exc)}, status_code=502)

    @app.post("/api/incidents", status_code=201, summary="Trigger an incident (passed to the collector)")
    def trigger(body: Any = Body(None)) -> JSONResponse:
        if not isinstance(body, dict):
            return JSONResponse({"status": 400, "error": "the request body must be a JSON object"}, status_code=400)
        fields = {k: body.get(k) for k in ("kind", "service", "intensity", "duration_seconds", "delay_seconds")}
        return relay(lambda: collector.trigger(**fields), ok_status=201)

    @app.delete("/api/incidents/{incident_id}", summary="Stop one incident (passed to the collector)")
    def stop(incident_id: str) -> JSONResponse:
        return relay(lambda: collector.stop(incident_id))

    @app.delete("/api/incidents", summary="The panic button: stop every incident and pause the chaos schedule")
    def stop_all() -> JSONResponse:
        return relay(lambda: collector.stop_all())

    return app
