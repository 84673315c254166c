"""The demo's live view: the fleet's signals, the detector's flags and detected incidents, alerts, the scoreboard.

:func:`watch` runs until Ctrl-C: the view (one line per service from the collector's
``/metrics``, :mod:`aiops._view`; the incidents; each detector's state and score) and, as
they happen, the events: each new flag with its explanation, each detected incident with its
probable cause, each alert the responder received, each incident's outcome on the scoreboard
(:class:`DetectorWatch`), and two TIMING lines (the detector scoring, the first incident
detected, in seconds from the command). In a terminal the view is redrawn in place with the
events beneath it; piped, the events only and a STATUS line at most once a minute
(:mod:`aiops.demo._screen`).
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import httpx

from aiops._view import Row, Scrape, parse_scrape, render, service_rows
from collector import APIError, CollectorClient, CollectorUnreachable
from detector import DetectorClient, DetectorUnreachable
from plumbing import monitoring as mon
from plumbing.procs import ChildFailed

from ._screen import EVENTS_LOG, Screen, make_screen

if TYPE_CHECKING:
    from ._run import Demo

__all__ = ["SCENARIO_WAIT_SECONDS", "VIEW_WINDOW_SECONDS", "DetectorWatch", "status_line", "watch"]

#: The live view's rates and p95 are over about this long (shorter is noisy at a 1 s counter tick).
VIEW_WINDOW_SECONDS = 30.0
#: The scenario starts at the latest this long after the detector was started, scoring or not.
SCENARIO_WAIT_SECONDS = 300.0


def watch(demo: "Demo", screen: "Screen | None" = None) -> None:
    """Check the children, poll the detector, start the scenario when due, draw the view. Never returns.

    Until the first scripted incident is detected it polls every second (the TIMING lines are
    then exact to about a second), afterwards every view interval.
    """
    every = demo.settings.view_every_seconds or mon.scrape_interval_seconds()
    services = None
    scrapes: deque[Scrape] = deque()
    scenario_due = demo.settings.run_scenario and demo.detector_url is not None
    detector_started = time.monotonic()
    watcher = DetectorWatch(demo) if demo.detector_url is not None else None
    champion: DetectorWatch | None = None  # --mlops: the champion-serving detector, one more scoreboard row
    screen = screen or make_screen(demo.out, events_log=demo.run_dir / EVENTS_LOG)
    demo.screen = screen
    scoring_seen = first_detection_seen = False
    try:
        with CollectorClient(demo.collector_url, timeout_seconds=min(5.0, every)) as collector:
            try:
                services = [svc["name"] if isinstance(svc, dict) else svc for svc in collector.catalog()["services"]]
            except (CollectorUnreachable, APIError, KeyError):
                services = None
            while True:
                for child in demo.services:
                    if not child.alive():
                        raise ChildFailed(f"{child.name} exited with code {child.popen.returncode} (log: {child.log_path})", child.log_tail())
                status = watcher.poll() if watcher is not None else None
                if status == "ok" and not scoring_seen:
                    scoring_seen = True
                    demo.say(f"{'':10}TIMING    detector scoring at +{demo.since_command():.1f} s from the command")
                if champion is None and demo.champion_url is not None and demo.champion_scoreboard is not None:
                    champion = DetectorWatch(demo, url=demo.champion_url, board=demo.champion_scoreboard, role="champion")
                if champion is not None:
                    champion.poll()
                if scenario_due and (status == "ok" or time.monotonic() - detector_started > SCENARIO_WAIT_SECONDS):
                    if status != "ok":
                        demo.say(f"  (the detector is still {status or 'not answering'} after {SCENARIO_WAIT_SECONDS:.0f} s; the scenario starts anyway)")
                    demo.run_scenario()
                    scenario_due = False
                try:
                    now = demo.clock()
                    cur = parse_scrape(collector.metrics(), now)
                    incidents = collector.incidents()
                except (CollectorUnreachable, APIError, KeyError, ValueError) as exc:
                    demo.say(f"(collector did not answer: {exc})")
                else:
                    while scrapes and scrapes[0].time_seconds < now - VIEW_WINDOW_SECONDS:
                        scrapes.popleft()
                    prev = scrapes[0] if scrapes else None
                    scrapes.append(cur)
                    hint = "the scenario starts once the detector scores" if scenario_due else "trigger one (see above)"
                    rows = service_rows(cur, prev, services)
                    view = render(rows, time_seconds=now, incidents=incidents, idle_hint=hint)
                    states = []
                    for w in (watcher, champion):
                        if w is None:
                            continue
                        *scores, state = w.update_score(incidents, now)
                        for line in scores:
                            demo.say(line)
                            if not first_detection_seen and w is watcher and "detected after" in line:
                                first_detection_seen = True
                                demo.say(f"{'':10}TIMING    first incident detected at +{demo.since_command():.1f} s from the command")
                        states.append(state.strip())
                    view += [f"{'':10}{state}" for state in states]
                    screen.status(view, status_line(rows, incidents, states, now))
                fast = watcher is not None and not first_detection_seen and time.monotonic() - detector_started < 600
                time.sleep(min(1.0, every) if fast else every)
    finally:
        demo.screen = None
        screen.close()


def status_line(rows: Sequence[Row], incidents: Sequence[Mapping[str, Any]], states: Sequence[str], now: float) -> str:
    """The compact line a pipe gets at most once a minute: the time, the fleet's traffic, the active incidents, the detectors."""
    clock = time.strftime("%H:%M:%S", time.gmtime(now)) + "Z"
    rps = sum(r.requests_per_second for r in rows if r.requests_per_second == r.requests_per_second)
    active = [f"{i['kind']} on {i['service']}" for i in incidents if i.get("state") == "active"]
    parts = [f"{len(rows)} services, {rps:.0f} req/s", "active: " + (", ".join(active) if active else "none"), *states]
    return f"{clock}  STATUS    " + "; ".join(parts)


class DetectorWatch:
    """The demo's view of one detector: new flags and detected incidents as they come, and its scoreboard row.

    ``role`` ``online`` (the default: the demo's detector) or ``champion`` (``--mlops``: the
    registered champion; its lines are marked, and alerts are shown by the online watch only).
    """

    def __init__(self, demo: Demo, *, url: str | None = None, board: Any = None, role: str = "online") -> None:
        url = url or demo.detector_url
        board = board or demo.scoreboard
        assert url is not None and board is not None
        self.demo = demo
        self.board = board
        self.role = role
        self.mark = "" if role == "online" else f"[{role}] "
        self.detector = DetectorClient(url)
        self.health: dict[str, Any] = {}
        self.reported: set[str] = set()  # ground-truth incidents whose outcome was printed
        self.causes: dict[int, tuple[str, str]] = {}  # detected incident -> the probable cause last printed
        self.alerts_seen: set[tuple[Any, ...]] = set()
        self.rebaselines_seen: set[tuple[Any, ...]] = set()  # changes the online loop accepted as the new normal

    def _clock(self, seconds: float) -> str:
        return time.strftime("%H:%M:%S", time.gmtime(seconds)) + "Z"

    def poll(self) -> str | None:
        """Read the detector's health, new onsets and detected incidents; print what is new. Returns its status."""
        say = self.demo.say
        try:
            self.health = self.detector.health()
            anomalies = self.detector.anomalies(limit=500)
            detected = self.detector.detected_incidents()
        except (DetectorUnreachable, KeyError):
            self.health = {}
            return None
        for a in self.board.add_anomalies(anomalies):
            say(f"{self._clock(a['timestamp_seconds'])}  FLAG      {self.mark}{a['service']} {a['signal']}: {a.get('explanation', '')}")
        for a in sorted((a for a in anomalies if a.get("kind") in ("rebaseline", "rebaseline_withdrawn")), key=lambda a: a["timestamp_seconds"]):
            key = (a["timestamp_seconds"], a["service"], a["signal"])
            if key not in self.rebaselines_seen:
                self.rebaselines_seen.add(key)
                say(f"{self._clock(a['timestamp_seconds'])}  REBASE    {a.get('explanation', '')}")
        opened, closed = self.board.add_detected(detected)
        for d in opened:
            c = d.get("probable_cause") or {}
            say(
                f"{self._clock(d['opened_seconds'])}  DETECTED  {self.mark}incident D{d['id']} on {', '.join(d.get('services') or [])}: "
                f"probable cause {c.get('service')} {c.get('signal')}"
            )
        for d in detected:  # the cause moves as members join (a deeper service, an earlier signal)
            c = d.get("probable_cause") or {}
            cause = (str(c.get("service")), str(c.get("signal")))
            if d["id"] in self.causes and self.causes[d["id"]] != cause and d.get("closed_seconds") is None:
                say(f"{self._clock(d['last_seen_seconds'])}  CAUSE     {self.mark}incident D{d['id']} on {', '.join(d.get('services') or [])}: "
                    f"probable cause now {cause[0]} {cause[1]}")  # fmt: skip
            self.causes[d["id"]] = cause
        for d in closed:
            c = d.get("probable_cause") or {}
            say(f"{self._clock(d['closed_seconds'])}  CLOSED    {self.mark}incident D{d['id']} (probable cause {c.get('service')} {c.get('signal')}), quiet for 3 min")
        if self.role == "online":
            self._alerts()
        return self.health.get("status")

    def _alerts(self) -> None:
        """Print what reached the responder through Alertmanager, and what it did."""
        if self.demo.responder_url is None:
            return
        try:
            alerts = httpx.get(f"{self.demo.responder_url}/api/alerts", timeout=3.0).json()["alerts"]
        except (httpx.HTTPError, KeyError, ValueError):
            return
        for a in alerts:
            labels = a.get("labels") or {}
            key = (a.get("received_seconds"), a.get("alertname"), a.get("status"), labels.get("service"), labels.get("cause_signal"))
            if key in self.alerts_seen:
                continue
            self.alerts_seen.add(key)
            action = a.get("action") or {}
            did = f"; runbook: {action.get('action')} {action.get('service')}: {action.get('outcome')}" if action else ""
            self.demo.say(
                f"{self._clock(float(a.get('received_seconds') or time.time()))}  ALERT     {a.get('alertname')} {a.get('status')} "
                f"for {labels.get('service')} ({labels.get('cause_signal')}){did}"
            )

    def update_score(self, incidents: Sequence[Mapping[str, Any]], now: float) -> list[str]:
        """Fold in the collector's incidents; lines for the view (the detector's state and the scoreboard)."""
        self.board.add_incidents(incidents)
        score = self.board.score(now)
        out = []
        for inc in score.incidents:
            if inc.id in self.reported:
                continue
            if inc.id in score.time_to_detect:
                by = ", ".join(f"D{g}" for g in score.matched_by.get(inc.id, ()))
                out.append(f"{'':10}SCORE     {self.mark}incident {inc.id} ({inc.kind} on {inc.service}) detected after {score.time_to_detect[inc.id]:.0f} s ({by})")
                self.reported.add(inc.id)
            elif inc.id in score.missed:
                out.append(f"{'':10}SCORE     {self.mark}incident {inc.id} ({inc.kind} on {inc.service}) missed")
                self.reported.add(inc.id)
        h = self.health
        status = h.get("status", "not answering")
        if not h.get("runs", {}).get("success") and status in ("warming_up", "degraded"):
            state = "starting" if self.role == "champion" else "starting (first fit on the history)"
        elif status == "warming_up":
            state = f"warming up ({h.get('history_seconds', 0) / 3600:.0f} h of history, {h.get('history_needed_seconds', 0) / 3600:.0f} h needed)"
        elif status == "settling":
            state = "settling (its rate windows fill after the start)"
        elif status == "online_fallback":
            state = f"fitting online: no champion from the registry ({h.get('registry_error')})"
        else:
            state = str(status)
        if self.role == "champion":
            served = (h.get("champion") or {}).get("version")
            out.append(f"{'':10}champion {state}" + (f", version {served}" if served else "") + f"; score: {score.line()}")
        else:
            out.append(f"{'':10}detector {state}; score: {score.line()}")
        return out
