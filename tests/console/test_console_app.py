"""The console's JSON API over fake collector, detector and Prometheus transports (httpx.MockTransport), with an injected clock."""

from __future__ import annotations

import json
import threading
from typing import Any, Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from aiops.console import ConsoleSettings, create_app, grafana_links, scoreboard_rows
from collector import CollectorClient
from detector import DetectorClient
from model import load_signals
from plumbing.settings import SettingsError
from sources import PrometheusReader

NOW = 1_800_000_000.0
CATALOG = {
    "kinds": [{"kind": "cpu_hog", "description": "A runaway process burns CPU.", "parameters": {"intensity": {"min": 0.1, "max": 2.0, "default": 1.0}}}],
    "services": ["frontend", "checkout"],
    "dependencies": [{"caller": "frontend", "callee": "checkout", "calls_per_request": 1.0}],
    "limits": {"max_concurrent_incidents": 5, "duration_seconds": {"min": 10, "max": 7200, "default": 300}, "delay_seconds": {"min": 0, "max": 86400, "default": 0}},
}
INCIDENT = {"id": "1", "kind": "cpu_hog", "service": "checkout", "intensity": 1.0, "start_seconds": NOW - 30, "duration_seconds": 300.0,
            "end_seconds": NOW + 270, "state": "active", "stopped_seconds": None}  # fmt: skip
FLAG = {"timestamp_seconds": NOW - 5, "service": "checkout", "signal": "cpu", "explanation": "checkout CPU 80 % vs 40 % expected; residual +9.0 robust σ", "onset": True}
DETECTED = {"id": 1, "opened_seconds": NOW - 5, "closed_seconds": None, "services": ["checkout"], "probable_cause": {"service": "checkout", "signal": "cpu"}}
BOARD = {"status": "ok", "incidents": 1, "detected": 1, "missed": 0, "waiting": 0, "false_alarms": 0, "median_time_to_detect_seconds": 25.0, "by_incident": []}


def collector_transport(sent: list[httpx.Request], *, refuse: tuple[int, dict[str, Any]] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        path, method = request.url.path, request.method
        if method == "GET" and path == "/api/catalog":
            return httpx.Response(200, json=CATALOG)
        if method == "GET" and path == "/healthz":
            return httpx.Response(200, json={"status": "ok", "active_incidents": 1})
        if method == "GET" and path == "/api/incidents":
            return httpx.Response(200, json={"incidents": [INCIDENT]})
        if method == "GET" and path == "/api/chaos":
            return httpx.Response(200, json={"enabled": False, "paused": False})
        if refuse is not None:
            return httpx.Response(refuse[0], json=refuse[1])
        if method == "POST" and path == "/api/incidents":
            return httpx.Response(201, json={**INCIDENT, **json.loads(request.content), "id": "2"})
        if method == "DELETE" and path == "/api/incidents/1":
            return httpx.Response(200, json={**INCIDENT, "state": "stopped"})
        if method == "DELETE" and path == "/api/incidents":
            return httpx.Response(200, json={"stopped": [INCIDENT], "chaos": {"enabled": False, "paused": True}})
        return httpx.Response(404, json={"error": f"no {method} {path}"})

    return httpx.MockTransport(handle)


def detector_transport(health: dict[str, Any] | None = None, board: dict[str, Any] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/healthz":
            return httpx.Response(200, json=health or {"status": "ok", "warmup_ratio": 1.0, "last_error": None})
        if path == "/api/anomalies":
            return httpx.Response(200, json={"anomalies": [FLAG]})
        if path == "/api/incidents/detected":
            return httpx.Response(200, json={"incidents": [DETECTED]})
        if path == "/api/scoreboard":
            return httpx.Response(200, json=board or BOARD)
        return httpx.Response(404)

    return httpx.MockTransport(handle)


def down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def prometheus_transport(queries: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        q = request.url.params["query"]
        queries.append(q)
        start = float(request.url.params["start"])
        if q.startswith("aiops_detector_"):
            name, _, selector = q.partition("{")
            assert selector == 'model="online"}', q  # the online loop's band, not the champion's
            value = {"aiops_detector_lower_bound": "0.3", "aiops_detector_upper_bound": "0.5", "aiops_detector_expected_value": "0.4", "aiops_detector_anomaly": "1"}[name]
            result = [{"metric": {"service": "checkout", "signal": "cpu"}, "values": [[start, value]]},
                      {"metric": {"service": "checkout", "signal": "not-charted"}, "values": [[start, "1"]]}]  # fmt: skip
        else:
            result = [{"metric": {"service": "checkout"}, "values": [[start, "0.8"], [start + 5, "NaN"]]}]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": result}})

    return httpx.MockTransport(handle)


def make_client(
    *,
    collector: httpx.MockTransport | None = None,
    detector: httpx.MockTransport | None = None,
    prometheus: httpx.MockTransport | Callable[..., Any] | None = None,
    grafana_url: str | None = None,
    sent: list[httpx.Request] | None = None,
) -> TestClient:
    app = create_app(
        collector=CollectorClient("http://collector", transport=collector or collector_transport(sent if sent is not None else [])),
        detector=DetectorClient("http://detector", transport=detector or detector_transport()),
        prometheus=None if prometheus is None else PrometheusReader(base_url="http://prometheus", transport=prometheus),  # type: ignore[arg-type]
        signals=load_signals(),
        chart_window_seconds=900.0,
        grafana_url=grafana_url,
        clock=lambda: NOW,
    )
    return TestClient(app, base_url="http://127.0.0.1")  # the guard wants a Host it knows


# ------------------------------------------------------------------------ the page


def test_the_page_and_its_files_are_served_from_the_package() -> None:
    client = make_client()
    page = client.get("/")
    assert page.status_code == 200 and "AIOps workshop console" in page.text
    for path in ("/static/console.js", "/static/console.css"):
        assert client.get(path).status_code == 200, path
    for text in (page.text, client.get("/static/console.css").text):
        assert 'src="http' not in text and 'href="http' not in text and "url(http" not in text  # no CDN: nothing from the internet


def test_config_lists_every_signal_and_the_grafana_dashboards_by_uid() -> None:
    body = make_client(grafana_url="http://grafana:3000/").get("/api/config").json()
    assert [s["name"] for s in body["signals"]] == [s.name for s in load_signals().signals]
    assert body["grafana"]["fleet"] == "http://grafana:3000/d/aiops-fleet-overview"
    assert body["grafana"]["mlops"] == "http://grafana:3000/d/aiops-vs-mlops"
    assert make_client().get("/api/config").json()["grafana"] is None
    assert grafana_links(None) is None


# ------------------------------------------------------------------------ the state


def test_state_joins_the_collector_and_the_detector() -> None:
    body = make_client().get("/api/state").json()
    assert body["time_seconds"] == NOW
    assert body["collector"]["status"] == "ok" and body["collector"]["incidents"] == [INCIDENT]
    d = body["detector"]
    assert d["status"] == "ok" and d["anomalies"] == [FLAG] and d["detected"] == [DETECTED]
    assert d["scoreboard"]["rows"] == [{"model": "detector", "incidents": 1, "detected": 1, "missed": 0, "waiting": 0, "false_alarms": 0, "median_time_to_detect_seconds": 25.0}]


def test_a_detector_that_is_down_or_warming_up_says_so() -> None:
    gone = make_client(detector=httpx.MockTransport(down)).get("/api/state").json()
    assert gone["detector"]["status"] == "down" and "did not answer /healthz" in gone["detector"]["error"]
    assert gone["collector"]["status"] == "ok"  # the rest of the page still has its data
    warming = {"status": "warming_up", "warmup_ratio": 0.5, "history_seconds": 86400.0, "history_needed_seconds": 172800.0, "last_error": None}
    board = {"status": "waiting", "reason": "the detector has not scored yet"}
    body = make_client(detector=detector_transport(health=warming, board=board)).get("/api/state").json()
    assert body["detector"]["status"] == "warming_up" and body["detector"]["health"]["warmup_ratio"] == 0.5
    assert body["detector"]["scoreboard"]["rows"] == [] and body["detector"]["scoreboard"]["reason"] == board["reason"]


def test_a_collector_that_is_down_says_so() -> None:
    client = make_client(collector=httpx.MockTransport(down))
    body = client.get("/api/state").json()
    assert body["collector"]["status"] == "down" and "no collector answers at http://collector" in body["collector"]["error"]
    catalog = client.get("/api/catalog")
    assert catalog.status_code == 502 and "no collector answers" in catalog.json()["error"]


def test_the_scoreboard_has_one_row_per_model_when_several_score() -> None:
    board = {**BOARD, "models": [{"model": "baseline", **{k: BOARD[k] for k in ("incidents", "detected", "missed")}},
                                 {"model": "champion", "incidents": 1, "detected": 0, "missed": 1}]}  # fmt: skip
    rows = scoreboard_rows(board)
    assert [(r["model"], r["detected"], r["missed"]) for r in rows] == [("baseline", 1, 0), ("champion", 0, 1)]


# ------------------------------------------------------------------------ writes


def test_a_trigger_is_passed_to_the_collector_with_only_the_incident_fields() -> None:
    sent: list[httpx.Request] = []
    reply = make_client(sent=sent).post("/api/incidents", json={"kind": "cpu_hog", "service": "checkout", "intensity": 1.5, "triggered_by": "chaos", "extra": 1})
    assert reply.status_code == 201 and reply.json()["id"] == "2"
    posted = [json.loads(r.content) for r in sent if r.method == "POST"]
    assert posted == [{"kind": "cpu_hog", "service": "checkout", "intensity": 1.5}]


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (422, {"field": "intensity", "error": "99.0 is out of range", "allowed": {"min": 0.1, "max": 2.0}}, "intensity: 99.0 is out of range (allowed: 0.1 to 2)"),
        (409, {"field": "start_seconds", "error": "more than 5 incidents would overlap"}, "start_seconds: more than 5 incidents would overlap"),
        (422, {"field": "kind", "error": "unknown kind 'meteor'", "allowed": ["cpu_hog"]}, "kind: unknown kind 'meteor' (allowed: cpu_hog)"),
    ],
)  # fmt: skip
def test_a_refusal_comes_back_with_its_status_and_a_sentence(status: int, body: dict[str, Any], words: str) -> None:
    client = make_client(collector=collector_transport([], refuse=(status, body)))
    reply = client.post("/api/incidents", json={"kind": "cpu_hog", "service": "checkout", "intensity": 99})
    assert reply.status_code == status
    assert reply.json()["error"] == words and reply.json()["field"] == body["field"]


def test_a_body_that_is_not_an_object_is_refused_in_words() -> None:
    reply = make_client().post("/api/incidents", json=["cpu_hog"])
    assert reply.status_code == 400 and reply.json()["error"] == "the request body must be a JSON object"


def test_stop_one_and_the_panic_button() -> None:
    sent: list[httpx.Request] = []
    client = make_client(sent=sent)
    assert client.delete("/api/incidents/1").json()["state"] == "stopped"
    assert client.delete("/api/incidents").json()["chaos"]["paused"] is True
    assert [(r.method, r.url.path) for r in sent if r.method == "DELETE"] == [("DELETE", "/api/incidents/1"), ("DELETE", "/api/incidents")]
    gone = make_client(collector=httpx.MockTransport(down)).delete("/api/incidents")
    assert gone.status_code == 502 and "no collector answers" in gone.json()["error"]


# ------------------------------------------------------------------------ charts


def charts_when_ready(client: TestClient) -> dict[str, Any]:
    """``/api/charts`` once its first reading is done (it says "warming" at once until then)."""
    for _ in range(500):
        body = client.get("/api/charts").json()
        if body["status"] != "warming":
            return body
        threading.Event().wait(0.01)
    raise AssertionError("the charts were still warming after 500 asks")


def test_charts_read_the_signals_and_the_detectors_band_over_the_window() -> None:
    queries: list[str] = []
    body = charts_when_ready(make_client(prometheus=prometheus_transport(queries)))
    assert body["status"] == "ok" and body["end_seconds"] == NOW and body["start_seconds"] == NOW - 900
    cpu = body["series"]["checkout"]["cpu"]
    assert cpu["actual"] == [[NOW - 900, 0.8], [NOW - 895, None]]  # NaN becomes a gap
    assert (cpu["lower"][0][1], cpu["upper"][0][1], cpu["expected"][0][1], cpu["flag"][0][1]) == (0.3, 0.5, 0.4, 1.0)
    assert "not-charted" not in body["series"]["checkout"]
    assert len(queries) == len(load_signals().signals) + 4


def test_charts_say_why_they_are_missing() -> None:
    assert make_client().get("/api/charts").json()["error"].startswith("no Prometheus configured")
    body = charts_when_ready(make_client(prometheus=httpx.MockTransport(down)))
    assert body["status"] == "down" and "cannot reach Prometheus at http://prometheus" in body["error"]


# ------------------------------------------------------------------------ settings


def test_settings_read_the_shared_addresses_and_refuse_bad_values() -> None:
    s = ConsoleSettings.from_env({"AIOPS_COLLECTOR_PORT": "9100", "AIOPS_PROMETHEUS_URL": "http://p:1", "AIOPS_GRAFANA_URL": "http://g:3000"})
    assert (s.collector_url, s.prometheus_url, s.grafana_url, s.host, s.port) == ("http://127.0.0.1:9100", "http://p:1", "http://g:3000", "127.0.0.1", 8003)
    assert ConsoleSettings.from_env({"AIOPS_CONSOLE_REFRESH_EVERY_SECONDS": "5s"}).refresh_every_seconds == 5.0
    with pytest.raises(SettingsError, match="AIOPS_CONSOLE_REFRESH_EVERY_SECONDS"):
        ConsoleSettings.from_env({}, refresh_every_seconds=0)
    with pytest.raises(SettingsError, match="AIOPS_GRAFANA_URL='grafana:3000'"):
        ConsoleSettings.from_env({"AIOPS_GRAFANA_URL": "grafana:3000"})


# ------------------------------------------------------------------------ a room polling


def test_a_room_polling_at_once_costs_the_services_one_poll_and_a_write_shows_at_once() -> None:
    sent: list[httpx.Request] = []
    now = [NOW]
    app = create_app(
        collector=CollectorClient("http://collector", transport=collector_transport(sent)),
        detector=DetectorClient("http://detector", transport=detector_transport()),
        prometheus=None, signals=load_signals(), refresh_every_seconds=2.0, clock=lambda: now[0],
    )  # fmt: skip
    client = TestClient(app, base_url="http://127.0.0.1")

    def incident_reads() -> int:
        return sum(1 for r in sent if (r.method, r.url.path) == ("GET", "/api/incidents"))

    for _ in range(20):  # twenty pages within half the refresh period
        client.get("/api/state")
    assert incident_reads() == 1
    now[0] += 1.0  # half the refresh period later
    client.get("/api/state")
    assert incident_reads() == 2
    client.delete("/api/incidents/1")
    client.get("/api/state")
    assert incident_reads() == 3  # the write cleared it: the page sees the stop on its next poll


def test_the_console_takes_only_json_writes_from_a_host_it_knows() -> None:
    """No cross-site form and no rebinding page can trigger through the console (it holds the runner's token)."""
    client = make_client()
    form = client.post("/api/incidents", data={"kind": "cpu_hog", "service": "payments"})
    assert form.status_code == 415 and form.json()["field"] == "Content-Type"
    rebound = TestClient(client.app, base_url="http://attacker.example").post("/api/incidents", json={"kind": "cpu_hog", "service": "payments"})
    assert rebound.status_code == 403 and rebound.json()["field"].lower() == "host"


def test_a_stale_value_is_served_at_once_while_one_thread_refreshes_it() -> None:
    from aiops.console._app import _Cached

    now = [0.0]
    release, calls = threading.Event(), []

    def compute() -> int:
        calls.append(now[0])
        if len(calls) > 1:
            release.wait(5)  # a slow Prometheus
        return len(calls)

    cache = _Cached(compute, 4.0, lambda: now[0])
    assert cache.get() == 1  # the first ask computes in line
    now[0] = 5.0  # stale
    assert cache.get() == 1 and cache.get() == 1  # served at once, while one refresh runs
    release.set()
    for _ in range(100):
        if cache.get() == 2:
            break
        threading.Event().wait(0.01)
    assert cache.get() == 2 and len(calls) == 2  # one refresh, however many asked
    cache.clear()
    assert cache.get() == 3  # after a write: in line, so the page shows it at once


def test_the_charts_warm_in_the_background_at_start_and_say_so_until_ready() -> None:
    """A cold start never makes a page wait for the charts' first reading: it answers "warming" at once, then the charts."""
    started, release, queries = threading.Event(), threading.Event(), []
    fast = prometheus_transport(queries)

    def slow(request: httpx.Request) -> httpx.Response:
        started.set()
        release.wait(10)  # a Prometheus taking its time over 15 minutes of every signal
        return fast.handle_request(request)

    client = make_client(prometheus=httpx.MockTransport(slow))
    with client:  # the server starts: the lifespan starts the first reading in the background
        assert started.wait(10)  # reading before any page asked
        waiting = [client.get("/api/charts").json() for _ in range(20)]  # a room arriving together
        assert all(b["status"] == "warming" and b["series"] == {} for b in waiting)
        assert "reading the last 15 minutes of every signal from Prometheus" in waiting[0]["error"]
        release.set()
        body = charts_when_ready(client)
    assert body["status"] == "ok" and body["series"]["checkout"]["cpu"]["actual"][0] == [NOW - 900, 0.8]
    assert len(queries) == len(load_signals().signals) + 4  # one reading, however many asked


def test_a_warming_cache_computes_once_and_never_in_line() -> None:
    from aiops.console._app import _Cached

    release, calls = threading.Event(), []

    def compute() -> str:
        calls.append(1)
        release.wait(5)
        return "charts"

    cache = _Cached(compute, 4.0, lambda: 0.0, warming="warming")
    cache.warm()
    assert [cache.get() for _ in range(5)] == ["warming"] * 5
    release.set()
    for _ in range(500):
        if cache.get() == "charts":
            break
        threading.Event().wait(0.01)
    assert cache.get() == "charts" and len(calls) == 1


def test_the_state_is_read_in_the_background_at_start() -> None:
    sent: list[httpx.Request] = []
    client = make_client(sent=sent)
    with client:
        for _ in range(500):
            if any(r.url.path == "/api/incidents" for r in sent):
                break
            threading.Event().wait(0.01)
        assert any(r.url.path == "/api/incidents" for r in sent)  # read before any page asked
        assert client.get("/api/state").json()["collector"]["status"] == "ok"
