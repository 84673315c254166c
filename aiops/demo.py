"""``aiops demo``: the whole kit on one machine, started and stopped with one command.

In order: the collector (``aiops collector``) on the given host and port; if the
``prometheus`` and ``promtool`` binaries are on PATH, days of backfilled history (built
once per seed and cached, see :mod:`aiops._history`) copied into a fresh data directory;
if ``alertmanager`` is on PATH too, Alertmanager (clustering off) sending to the
responder (``aiops responder``, remediation off unless ``--remediate``); Prometheus on a
loopback port scraping the collector and the detector; the detector (``aiops detect``)
reading Prometheus, with the history's incident records for its self-cleaning fit. Then
the scripted scenario (``scenarios/demo.yaml``), once the detector scores (it settles
for about two minutes after Prometheus starts, while the rate windows fill).

Every scrape interval it prints one line per service from the collector's ``/metrics``,
each new flag of the detector with its explanation, each detected incident with its
probable cause, and the scoreboard against the ground truth (:mod:`evaluation._scoreboard`),
which it saves as ``scoreboard.json`` and ``scoreboard.md`` in the run directory at the
end. Ctrl-C (or SIGTERM) stops every child process, last started first.

Every long-running Python part is a child process described by a :class:`ChildSpec`
(:meth:`Demo.collector_spec`, :meth:`Demo.long_running_specs`).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TextIO
from urllib.parse import urlencode

import httpx
import psutil

from plumbing.errors import UsageError
from plumbing.settings import EnvSettings, setting, shared

from plumbing import binaries as prom
from plumbing import monitoring as mon
from ._history import History, copy_blocks, ensure_history
from plumbing.procs import Child, ChildFailed, free_port, http_ok, spawn, stop_all, wait_until
from evaluation._scoreboard import Score, Scoreboard
from ._view import Scrape, parse_scrape, render, service_rows

__all__ = ["ChildSpec", "Demo", "DemoSettings"]


def _kit_scenario(name: str) -> Path:
    """A scenario file of the kit's ``scenarios`` data package (installed with it, so no checkout is needed)."""
    spec = importlib.util.find_spec("scenarios")  # finds the data package without running it
    if spec is None or not spec.submodule_search_locations:
        return Path("scenarios") / name  # not installed: relative to the working directory
    return Path(next(iter(spec.submodule_search_locations))) / name


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies inside it (a checkout), else in full."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


DEFAULT_SCENARIO = _kit_scenario("demo.yaml")
#: The live view's rates and p95 are over about this long (shorter is noisy at a 1 s counter tick).
VIEW_WINDOW_SECONDS = 30.0
#: History the detector wants before it flags (its own default, ``aiops detect --min-history``):
#: two days, so the time-of-day terms are fitted. With less history the demo lowers it.
DETECTOR_MIN_HISTORY_SECONDS = 2 * 86400.0
#: The scenario starts at the latest this long after the detector was started, scoring or not.
SCENARIO_WAIT_SECONDS = 300.0

def _default_cache_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aiops"


@dataclass(frozen=True, kw_only=True)
class DemoSettings(EnvSettings):
    """What ``aiops demo`` can be told: options over ``AIOPS_DEMO_*`` variables over the defaults.

    The collector's host, port and seed are read from the collector's own variables
    (``AIOPS_COLLECTOR_HOST``, ``_PORT``, ``_SEED``), the cache from the shared ``AIOPS_CACHE_DIR``.
    """

    ENV_PREFIX = "AIOPS_DEMO_"

    #: Interface of the collector (`--host`); anything but loopback lets a room reach it (no authentication).
    host: str = shared("AIOPS_COLLECTOR_HOST", "127.0.0.1")
    #: Port of the collector's /metrics and incident API (`--port`).
    port: int = shared("AIOPS_COLLECTOR_PORT", 8000)
    #: Seed of the fleet, and of its cached history (`--seed`).
    seed: int = shared("AIOPS_COLLECTOR_SEED", 0)
    #: Loopback port of Prometheus (`--prometheus-port`); 0 picks a free one.
    prometheus_port: int = 0
    #: Days of history backfilled into Prometheus (`--history-days`; 8: one weekly cycle and a day); 0 for none (the detector then only warms up).
    history_days: float = 8.0
    #: Time between backfilled samples.
    history_step_seconds: float = 60.0
    #: The scripted scenario (`--scenario`), run once the detector scores.
    scenario_path: Path = setting(DEFAULT_SCENARIO, shown_default="`scenarios/demo.yaml` (installed with the kit)")
    #: Run the scenario (`--no-scenario`: trigger incidents by hand).
    run_scenario: bool = True
    #: Cached history blocks and each run's data, logs and scoreboard.
    cache_dir: Path = shared(
        "AIOPS_CACHE_DIR",
        default_factory=lambda: _default_cache_dir({}),
        default_from_env=_default_cache_dir,
        shown_default="`$XDG_CACHE_HOME/aiops`, else `~/.cache/aiops`",
    )
    #: Seconds between two lines of the live view; 0 means the scrape interval.
    view_every_seconds: float = 0.0
    #: Let the responder take the runbook's automatic actions (`--remediate`; it ends the incidents it remedies).
    remediate: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535 or not 0 <= self.prometheus_port <= 65535:
            raise ValueError("ports must be in 1..65535 (0 for --prometheus-port picks a free one)")
        if self.history_days < 0 or self.history_step_seconds <= 0 or self.view_every_seconds < 0:
            raise ValueError("history_days and view_every_seconds must be >= 0, history_step_seconds > 0")


@dataclass(frozen=True)
class ChildSpec:
    """A long-running part of the demo: how to start it and how to tell it is ready."""

    name: str
    argv: tuple[str, ...]
    ready_url: str  # answers 2xx once ready
    ready_timeout_seconds: float = 60.0


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _local_host(host: str) -> str:
    """How this machine reaches a server listening on ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "localhost") or _is_loopback(host) else "::1" if host == "::" else host


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _room_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (for a room)."""
    out = []
    for addrs in psutil.net_if_addrs().values():
        out += [a.address for a in addrs if a.family == socket.AF_INET and not a.address.startswith("127.")]
    return sorted(set(out))


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def graph_link(prometheus_url: str, panels: Sequence[tuple[str, str]]) -> str:
    """A Prometheus /graph link showing ``(expr, range)`` panels as graphs."""
    params: dict[str, str] = {}
    for i, (expr, span) in enumerate(panels):
        params |= {f"g{i}.expr": expr, f"g{i}.tab": "0", f"g{i}.range_input": span}
    return f"{prometheus_url}/graph?{urlencode(params)}"


def _aiops_command() -> str:
    """How to call ``aiops`` from the user's shell: plain if on PATH, else this environment's script."""
    script = Path(sys.executable).parent / "aiops"
    if shutil.which("aiops") or not script.is_file():
        return "aiops"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _hms(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(seconds)) + " UTC"


class Demo:
    """One run of the demo; :meth:`run` returns the exit code."""

    def __init__(self, settings: DemoSettings, *, out: TextIO | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.out = out or sys.stdout
        self.clock = clock
        self.run_dir = settings.cache_dir / f"demo-{settings.port}"  # one per port: two demos do not share a data directory
        self.children: list[Child] = []  # everything started, in order; stopped in reverse
        self.collector_url = _url(_local_host(settings.host), settings.port)
        self.prometheus: prom.Server | None = None
        self.alertmanager: prom.Server | None = None
        self.history: History | None = None
        self.detector_url: str | None = None  # set once the detector is part of the run
        self.responder_url: str | None = None
        self.services: list[Child] = []  # the long-running children (watched; a death ends the demo)
        self.scoreboard: Scoreboard | None = None
        self.scoreboard_path = self.run_dir / "scoreboard.json"

    # -- output --------------------------------------------------------------------

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    # -- parts -----------------------------------------------------------------------

    def collector_spec(self) -> ChildSpec:
        s = self.settings
        argv = (sys.executable, "-m", "aiops", "collector", "--host", s.host, "--port", str(s.port), "--seed", str(s.seed),
                "--log", str(self.run_dir / "incidents.jsonl"))  # fmt: skip
        return ChildSpec("collector", argv, f"{self.collector_url}/healthz")

    def detector_min_history_seconds(self) -> float:
        """The detector's own two days, or (with less backfilled history) most of what there is."""
        have = self.settings.history_days * 86400.0
        return DETECTOR_MIN_HISTORY_SECONDS if have >= DETECTOR_MIN_HISTORY_SECONDS or have <= 0 else 0.9 * have

    def responder_spec(self, port: int) -> ChildSpec:
        """``aiops responder``: Alertmanager's webhook receiver, remediating only with ``--remediate``."""
        url = f"http://127.0.0.1:{port}"
        argv = (sys.executable, "-m", "aiops", "responder", "--port", str(port), "--collector-url", self.collector_url,
                "--log", str(self.run_dir / "alerts.jsonl"), *(("--remediate",) if self.settings.remediate else ()))  # fmt: skip
        return ChildSpec("responder", argv, f"{url}/healthz")

    def detector_spec(self, port: int, prometheus_url: str) -> ChildSpec:
        """``aiops detect`` reading Prometheus, with the history's incident records (self-cleaning)."""
        argv = [sys.executable, "-m", "aiops", "detect", "--prometheus-url", prometheus_url, "--collector-url", self.collector_url,
                "--port", str(port), "--min-history", f"{self.detector_min_history_seconds():.0f}s"]  # fmt: skip
        if self.history is not None and self.history.incidents_path.is_file():
            argv += ["--incident-records", str(self.history.incidents_path)]
        return ChildSpec("detector", tuple(argv), f"http://127.0.0.1:{port}/healthz")

    def long_running_specs(self) -> list[ChildSpec]:
        """Python parts started after Prometheus: the responder (with Alertmanager) and the detector (with Prometheus)."""
        specs = []
        if self.responder_url is not None:
            specs.append(self.responder_spec(int(self.responder_url.rsplit(":", 1)[1])))
        if self.detector_url is not None and self.prometheus is not None:
            specs.append(self.detector_spec(int(self.detector_url.rsplit(":", 1)[1]), self.prometheus.url))
        return specs

    def start_child(self, spec: ChildSpec, *, wait: bool = True) -> Child:
        """Start ``spec`` with its log in the run directory and (unless told not to) wait until it is ready."""
        child = spawn(spec.name, spec.argv, log_path=self.run_dir / f"{spec.name}.log")
        self.children.append(child)
        self.services.append(child)
        if wait:
            self.wait_ready(child, spec)
        return child

    def wait_ready(self, child: Child, spec: ChildSpec) -> None:
        wait_until(lambda: http_ok(spec.ready_url), child=child, timeout_seconds=spec.ready_timeout_seconds)

    @property
    def instance(self) -> str:
        """The collector's address as Prometheus scrapes it (the ``instance`` label of live and backfilled data)."""
        return f"{_local_host(self.settings.host)}:{self.settings.port}"

    def prepare_history(self) -> None:
        """Build or reuse the cached history and copy its blocks into this run's Prometheus data directory."""
        s = self.settings
        if s.history_days > 0:
            self.history = ensure_history(
                s.cache_dir,
                seed=s.seed,
                instance=self.instance,
                days=s.history_days,
                step_seconds=s.history_step_seconds,
                now_seconds=self.clock(),
                work_dir=self.run_dir / "history",
                started=self.children,
                say=lambda line: self.say(f"  history     {line}"),
            )
            copy_blocks(self.history, self.run_dir / "prometheus-data")
            h = self.history
            self.say(
                f"  history     {len(h.blocks)} blocks, {_hms(h.start_seconds)} to {_hms(h.end_seconds)}: "
                f"{h.action} in {h.elapsed_seconds:.1f} s (cache {h.cache_dir})"
            )

    def start_alertmanager(self) -> None:
        """Alertmanager on loopback (clustering off), sending to the responder's webhook."""
        assert self.responder_url is not None
        config = self.run_dir / "alertmanager.yml"
        config.write_text(mon.render_alertmanager_config(f"{self.responder_url}/alertmanager"))
        self.alertmanager = prom.start_alertmanager(
            config, storage_dir=self.run_dir / "alertmanager-data", log_path=self.run_dir / "alertmanager.log"
        )
        self.children.append(self.alertmanager.child)
        self.services.append(self.alertmanager.child)

    def start_prometheus(self) -> None:
        """Prometheus on loopback with the project's config pointed at the collector and detector, over the prepared data directory."""
        s = self.settings
        config = self.run_dir / "prometheus.yml"
        targets = {mon.COLLECTOR_JOB: [self.instance]}
        if self.detector_url is not None:
            targets[mon.DETECTOR_JOB] = [self.detector_url.removeprefix("http://")]
        alertmanagers = [f"127.0.0.1:{self.alertmanager.port}"] if self.alertmanager is not None else None
        config.write_text(mon.render_config(targets, alertmanagers=alertmanagers))
        retention_days = math.ceil(s.history_days) + 7
        self.prometheus = prom.start_prometheus(
            config,
            storage_dir=self.run_dir / "prometheus-data",
            port=s.prometheus_port or None,
            retention=f"{retention_days}d",
            log_path=self.run_dir / "prometheus.log",
        )
        self.children.append(self.prometheus.child)
        self.services.append(self.prometheus.child)

    def run_scenario(self) -> None:
        """Post the scenario's incidents, each delayed as scripted (what ``aiops scenario run`` does)."""
        from collector import APIError, CollectorClient, CollectorUnreachable
        from simulator import ScenarioError, load_catalog, load_scenario

        path = self.settings.scenario_path
        if not path.is_file():
            self.say(f"  scenario    {path} not found; none runs (trigger incidents by hand)")
            return
        try:
            scenario = load_scenario(path, load_catalog())
        except ScenarioError as exc:
            raise UsageError(f"{exc.source}: {'; '.join(exc.problems)}") from None
        self.say(f"  scenario    {scenario.name}: {len(scenario.steps)} incidents over {scenario.length_seconds / 60:.1f} min ({path.name})")
        with CollectorClient(self.collector_url) as client:
            for step in scenario.steps:
                try:
                    inc = client.trigger(
                        kind=step.kind,
                        service=step.service,
                        intensity=step.intensity,
                        duration_seconds=step.duration_seconds,
                        delay_seconds=step.at_seconds,
                        triggered_by="scenario",
                    )
                except (APIError, CollectorUnreachable) as exc:
                    why = exc.line() if isinstance(exc, APIError) else str(exc)
                    self.say(f"              +{step.at_seconds:>4.0f}s {step.kind} on {step.service}: refused: {why}")
                    continue
                self.say(f"              +{step.at_seconds:>4.0f}s incident {inc['id']}: {step.kind} on {step.service} for {step.duration_seconds:.0f} s")

    # -- the run ---------------------------------------------------------------------

    def run(self) -> int:
        """Start everything, show the live view until Ctrl-C or SIGTERM, stop everything."""
        # Ctrl-C and SIGTERM both end the run; set explicitly, as a shell starting the demo in
        # the background would otherwise leave SIGINT ignored.
        previous = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        code = 0
        try:
            self._start()
            self._watch()
        except KeyboardInterrupt:
            self.say("\nstopping ...")
        except ChildFailed as exc:
            self.say(f"aiops demo: error: {exc}")
            code = 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
            try:
                self.save_scoreboard()
            except Exception as exc:  # never in the way of stopping the children
                self.say(f"aiops demo: the scoreboard was not saved: {exc}")
            running = [c.name for c in self.children if c.alive()]
            stop_all(self.children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if running:
                self.say(f"stopped {', '.join(dict.fromkeys(name.split()[0] for name in running))}; logs in {self.run_dir}")
        return code

    def save_scoreboard(self) -> Score | None:
        """Write the scoreboard as it stands to ``scoreboard.json`` and ``scoreboard.md`` in the run directory."""
        if self.scoreboard is None:
            return None
        score = self.scoreboard.score(self.clock())
        self.scoreboard_path.write_text(json.dumps(score.as_dict(), indent=2) + "\n")
        self.scoreboard_path.with_suffix(".md").write_text(score.markdown())
        self.say(f"scoreboard: {score.line()}; saved to {self.scoreboard_path} (and .md)")
        return score

    def _start(self) -> None:
        s = self.settings
        t0 = time.monotonic()
        if not _port_free(s.host, s.port):
            raise UsageError(f"port {s.port} on {s.host} is in use (another `aiops collector` or demo?); pick another with --port")
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True)
        interval = mon.scrape_interval_seconds()
        self.say(f"aiops demo: seed {s.seed}, scrape every {interval:g} s ({_shown_path(mon.prometheus_config())}); Ctrl-C stops")

        collector = self.collector_spec()
        child = self.start_child(collector, wait=False)  # it starts while the history is prepared
        missing = [b for b in ("prometheus", "promtool") if prom.find_binary(b) is None]
        has_alertmanager = bool(prom.find_binary("prometheus-alertmanager") or prom.find_binary("alertmanager"))
        if not missing:
            self.detector_url = f"http://127.0.0.1:{free_port()}"
            if has_alertmanager:
                self.responder_url = f"http://127.0.0.1:{free_port()}"
            self.prepare_history()
        self.wait_ready(child, collector)
        self.say(f"  collector   {_url(s.host, s.port)} ready after {time.monotonic() - t0:.1f} s")

        if missing:
            self.say(
                f"  prometheus  {' and '.join(missing)} not on PATH: the demo runs without Prometheus "
                f"(collector and live view only; the detector reads Prometheus, so it does not run either). "
                f"Get it with: {prom.INSTALL_HINT}"
            )
        else:
            if self.responder_url is not None:
                self.start_alertmanager()
                assert self.alertmanager is not None
                self.say(f"  alertmanager {self.alertmanager.url} ready after {time.monotonic() - t0:.1f} s (sends to the responder)")
            else:
                self.say(f"  alertmanager not on PATH: alerts are not routed and nothing remediates. Get it with: {prom.INSTALL_HINT}")
            self.start_prometheus()
            assert self.prometheus is not None
            self.say(f"  prometheus  {self.prometheus.url} ready after {time.monotonic() - t0:.1f} s")
        specs = self.long_running_specs()
        started = [(spec, self.start_child(spec, wait=False)) for spec in specs]  # Python starts in parallel
        for spec, child in started:
            self.wait_ready(child, spec)
            self.say(f"  {spec.name:<11} {spec.ready_url.removesuffix('/healthz')} ready after {time.monotonic() - t0:.1f} s{self._note(spec.name)}")
        if self.detector_url is not None:
            from simulator import load_catalog

            self.scoreboard = Scoreboard(load_catalog())
        if s.run_scenario and self.detector_url is None:
            self.run_scenario()
        elif s.run_scenario:
            self.say("  scenario    starts once the detector scores (about 2 min after Prometheus starts, while its 2m rate windows fill)")
        self.say(f"ready after {time.monotonic() - t0:.1f} s")
        self._where_to_look()

    def _note(self, name: str) -> str:
        if name == "responder":
            return ", remediation on" if self.settings.remediate else ", remediation off (--remediate turns it on)"
        if name == "detector":
            need = self.detector_min_history_seconds()
            return f", reading Prometheus; flags after {need / 86400:.2g} days of history" + (
                ", with the history's incident records" if self.history is not None else ""
            )
        return ""

    def _where_to_look(self) -> None:
        s = self.settings
        self.say("where to look:")
        self.say(f"  metrics     {self.collector_url}/metrics   (API docs: {self.collector_url}/docs)")
        env = "" if self.collector_url == "http://127.0.0.1:8000" else f"AIOPS_COLLECTOR_URL={self.collector_url} "
        aiops = _aiops_command()
        self.say(f"  incidents   {env}{aiops} incident trigger cpu_hog --service checkout --duration 3m   (list, stop --all)")
        if not _is_loopback(s.host):
            for address in _room_addresses():
                self.say(f"  the room    AIOPS_COLLECTOR_URL={_url(address, s.port)} aiops incident trigger ...  (no authentication!)")
        if self.prometheus is not None:
            link = graph_link(
                self.prometheus.url,
                [
                    ('histogram_quantile(0.95, sum by (service, le) (rate(aiops_http_request_duration_seconds_bucket[2m])))', "30m"),
                    ("aiops_incident_active == 1", "30m"),
                    ("sum by (service) (rate(aiops_http_requests_total[10m]))", f"{max(1, math.ceil(s.history_days))}d"),
                ],
            )
            self.say(f"  prometheus  {self.prometheus.url}   graphs: {link}")
            self.say(f"              alerts: {self.prometheus.url}/alerts")
        if self.detector_url is not None:
            self.say(f"  detector    {self.detector_url}/api/anomalies   {self.detector_url}/api/incidents/detected   {self.detector_url}/metrics")
        if self.responder_url is not None:
            self.say(f"  responder   {self.responder_url}/api/alerts   (alerts received, actions taken)")
        if self.detector_url is not None:
            self.say(f"  scoreboard  saved at the end to {self.scoreboard_path}")
        self.say()

    def _watch(self) -> None:
        every = self.settings.view_every_seconds or mon.scrape_interval_seconds()
        services = None
        scrapes: deque[Scrape] = deque()
        scenario_due = self.settings.run_scenario and self.detector_url is not None
        detector_started = time.monotonic()
        watcher = _DetectorWatch(self) if self.detector_url is not None else None
        with httpx.Client(base_url=self.collector_url, timeout=min(5.0, every)) as http:
            try:
                services = [svc["name"] if isinstance(svc, dict) else svc for svc in http.get("/api/catalog").json()["services"]]
            except (httpx.HTTPError, KeyError, ValueError):
                services = None
            while True:
                for child in self.services:
                    if not child.alive():
                        raise ChildFailed(f"{child.name} exited with code {child.popen.returncode} (log: {child.log_path})", child.log_tail())
                status = watcher.poll() if watcher is not None else None
                if scenario_due and (status == "ok" or time.monotonic() - detector_started > SCENARIO_WAIT_SECONDS):
                    if status != "ok":
                        self.say(f"  (the detector is still {status or 'not answering'} after {SCENARIO_WAIT_SECONDS:.0f} s; the scenario starts anyway)")
                    self.run_scenario()
                    scenario_due = False
                try:
                    now = self.clock()
                    cur = parse_scrape(http.get("/metrics").text, now)
                    incidents = http.get("/api/incidents").json()["incidents"]
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    self.say(f"(collector did not answer: {exc})")
                else:
                    while scrapes and scrapes[0].time_seconds < now - VIEW_WINDOW_SECONDS:
                        scrapes.popleft()
                    prev = scrapes[0] if scrapes else None
                    scrapes.append(cur)
                    hint = "the scenario starts once the detector scores" if scenario_due else "trigger one (see above)"
                    lines = render(service_rows(cur, prev, services), time_seconds=now, incidents=incidents, idle_hint=hint)
                    if watcher is not None:
                        lines += watcher.update_score(incidents, now)
                    self.say("\n".join(lines))
                time.sleep(every)


class _DetectorWatch:
    """The demo's view of the detector: new flags and detected incidents as they come, and the scoreboard."""

    def __init__(self, demo: Demo) -> None:
        assert demo.detector_url is not None and demo.scoreboard is not None
        self.demo = demo
        self.board = demo.scoreboard
        self.http = httpx.Client(base_url=demo.detector_url, timeout=3.0)
        self.health: dict[str, Any] = {}
        self.reported: set[str] = set()  # ground-truth incidents whose outcome was printed
        self.causes: dict[int, tuple[str, str]] = {}  # detected incident -> the probable cause last printed
        self.alerts_seen: set[tuple[Any, ...]] = set()

    def _clock(self, seconds: float) -> str:
        return time.strftime("%H:%M:%S", time.gmtime(seconds)) + "Z"

    def poll(self) -> str | None:
        """Read the detector's health, new onsets and detected incidents; print what is new. Returns its status."""
        say = self.demo.say
        try:
            self.health = self.http.get("/healthz").json()
            anomalies = self.http.get("/api/anomalies", params={"limit": 500}).json()["anomalies"]
            detected = self.http.get("/api/incidents/detected").json()["incidents"]
        except (httpx.HTTPError, KeyError, ValueError):
            self.health = {}
            return None
        for a in self.board.add_anomalies(anomalies):
            say(f"{self._clock(a['timestamp_seconds'])}  FLAG      {a['service']} {a['signal']}: {a.get('explanation', '')}")
        opened, closed = self.board.add_detected(detected)
        for d in opened:
            c = d.get("probable_cause") or {}
            say(
                f"{self._clock(d['opened_seconds'])}  DETECTED  incident D{d['id']} on {', '.join(d.get('services') or [])}: "
                f"probable cause {c.get('service')} {c.get('signal')}"
            )
        for d in detected:  # the cause moves as members join (a deeper service, an earlier signal)
            c = d.get("probable_cause") or {}
            cause = (str(c.get("service")), str(c.get("signal")))
            if d["id"] in self.causes and self.causes[d["id"]] != cause and d.get("closed_seconds") is None:
                say(f"{self._clock(d['last_seen_seconds'])}  CAUSE     incident D{d['id']} on {', '.join(d.get('services') or [])}: "
                    f"probable cause now {cause[0]} {cause[1]}")  # fmt: skip
            self.causes[d["id"]] = cause
        for d in closed:
            c = d.get("probable_cause") or {}
            say(f"{self._clock(d['closed_seconds'])}  CLOSED    incident D{d['id']} (probable cause {c.get('service')} {c.get('signal')}), quiet for 3 min")
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
                out.append(f"{'':10}SCORE     incident {inc.id} ({inc.kind} on {inc.service}) detected after {score.time_to_detect[inc.id]:.0f} s ({by})")
                self.reported.add(inc.id)
            elif inc.id in score.missed:
                out.append(f"{'':10}SCORE     incident {inc.id} ({inc.kind} on {inc.service}) missed")
                self.reported.add(inc.id)
        h = self.health
        status = h.get("status", "not answering")
        if not h.get("runs", {}).get("success") and status in ("warming_up", "degraded"):
            state = "starting (first fit on the history)"
        elif status == "warming_up":
            state = f"warming up ({h.get('history_seconds', 0) / 3600:.0f} h of history, {h.get('history_needed_seconds', 0) / 3600:.0f} h needed)"
        elif status == "settling":
            state = "settling (its rate windows fill after the start)"
        else:
            state = str(status)
        out.append(f"{'':10}detector {state}; score: {score.line()}")
        return out


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
