"""``aiops demo``: the whole kit on one machine, started and stopped with one command.

In order: if the ``prometheus`` and ``promtool`` binaries are on PATH, days of backfilled
history up to :data:`TAIL_SECONDS` ago (built once per seed and cached with its end counters,
see :mod:`aiops._history`) copied into a fresh data directory; the collector (``aiops
collector``) on the given host and port, continuing the cached counters, with the responder
(``aiops responder``, remediation off unless ``--remediate``) and the trainee console
(``aiops console``) on the collector's interface; if ``alertmanager`` is on PATH too,
Alertmanager (clustering off) sending to the responder; the fine tail (the minutes since
the cached end, at the scrape interval, :data:`TAIL_LEAD_SECONDS` ahead); the detector
(``aiops detect``) with the history's incident records for its self-cleaning fit; Prometheus
on a loopback port scraping the collector and the detector. With ``--mlops``, the MLOps half
beside it: ``aiops train`` on the demo's history in Prometheus (its labels from the
ground-truth series), gated and registered in the demo's MLflow store, then a second detector
serving the registered ``champion`` (``aiops detect --model-source registry``), scraped by the
same Prometheus; only one model pages (``--alerting-model``). Then the scripted scenario
(``scenarios/demo.yaml``), once the detector scores (its first cycle: the history, the tail and
the live scrapes are one series, so it does not settle).

The live view (:mod:`aiops.demo._watch`, on a screen of :mod:`aiops.demo._screen`) shows one
line per service from the collector's ``/metrics``, each new flag of the detector with its
explanation, each detected incident with its probable cause, the scoreboard against the ground
truth (:mod:`evaluation._scoreboard`), which it saves as ``scoreboard.json`` and
``scoreboard.md`` in the run directory at the end, and TIMING lines from the command. Ctrl-C (or SIGTERM) stops every child process, last started first.

Every child process is built from the stack specification (:mod:`aiops.stack`), as the
integration tests build theirs; the live view is :mod:`aiops.demo._watch`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Callable, Sequence, TextIO
from urllib.parse import urlencode

import psutil

from aiops import stack
from aiops._history import History, Tail, copy_blocks, ensure_history, fine_tail, load_text
from collector import RESPONDER_TOKEN_ENV, TOKEN_ENV, APIError, CollectorClient, CollectorSettings, CollectorUnreachable
from evaluation import Score, Scoreboard
from model import SignalsError, load_signals
from plumbing import binaries as prom
from plumbing import monitoring as mon
from plumbing.durations import format_duration
from plumbing.errors import UsageError
from plumbing.guard import generate_token
from plumbing.procs import Child, ChildFailed, free_port, spawn, stop_all
from plumbing.serving import is_loopback, local_host, port_free, url_for
from simulator import ScenarioError, load_catalog, load_scenario

from ._settings import DemoSettings
from ._screen import Screen
from ._watch import watch

__all__ = ["DETECTOR_MIN_HISTORY_SECONDS", "TAIL_LEAD_SECONDS", "TAIL_SECONDS", "Demo", "graph_link"]

#: The fine tail: the last minutes before the start, backfilled at the scrape interval (with ``up``
#: and the collector's counters) instead of the history's step. It covers the detector's lookback
#: (5 min) and two rate windows, so the detector's first cycle scores on complete windows.
TAIL_SECONDS = 600.0
#: The tail ends this far after it is written: about the time Prometheus takes to start and scrape
#: once. A scrape before the tail's end is refused by Prometheus (older than its newest block) and
#: the tail holds the same numbers for it; without the lead the rate windows over the seam would
#: miss the seconds between the tail's end and the first scrape and dip (a false flag on every
#: signal explained by the request rate).
TAIL_LEAD_SECONDS = 10.0

#: History the detector wants before it flags (its own default, ``aiops detect --min-history``):
#: two days, so the time-of-day terms are fitted. With less history the demo lowers it.
DETECTOR_MIN_HISTORY_SECONDS = 2 * 86400.0
#: ``--mlops``: how often the champion detector checks the registry (it picks up a new champion within this).
CHAMPION_CHECK_SECONDS = 10.0


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies inside it (a checkout), else in full."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _room_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (for a room)."""
    out = []
    for addrs in psutil.net_if_addrs().values():
        out += [a.address for a in addrs if a.family == socket.AF_INET and not a.address.startswith("127.")]
    return sorted(set(out))


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
        try:  # checked before anything starts: the detector would refuse a bad file only once running
            self.signals = load_signals(settings.signals_path)
        except SignalsError as exc:
            raise UsageError(f"--signals: {exc}") from None
        self.out = out or sys.stdout
        self.clock = clock
        self.run_dir = settings.cache_dir / f"demo-{settings.port}"  # one per port: two demos do not share a data directory
        self.children: list[Child] = []  # everything started, in order; stopped in reverse
        self.collector_url = url_for(local_host(settings.host), settings.port)
        self.prometheus: prom.Server | None = None
        self.alertmanager: prom.Server | None = None
        self.history: History | None = None
        self.tail: Tail | None = None
        self.screen: Screen | None = None  # the live view's, while it runs
        #: When the command started (the process' start): the TIMING lines count from it.
        self.started_seconds = psutil.Process().create_time()
        self.prometheus_port: int | None = None  # chosen before Prometheus starts, so the detector can start first
        self.detector_url: str | None = None  # set once the detector is part of the run
        self.responder_url: str | None = None
        self.console_port: int | None = None  # chosen when the console is started
        self.champion_url: str | None = None  # --mlops: the champion-serving detector
        self.champion_scoreboard: Scoreboard | None = None
        self.services: list[Child] = []  # the long-running children (watched; a death ends the demo)
        self.scoreboard: Scoreboard | None = None
        self.scoreboard_path = self.run_dir / "scoreboard.json"
        # fresh tokens for this run, passed to the children through their environment: the runner's (every
        # write to a collector off loopback needs it) and the responder's (the only one that may remediate)
        self.token = os.environ.get(TOKEN_ENV) or generate_token()
        self.responder_token = os.environ.get(RESPONDER_TOKEN_ENV) or generate_token()

    # -- output --------------------------------------------------------------------

    def say(self, line: str = "") -> None:
        """A line of output: printed, or (while the live view runs) an event on its screen."""
        if self.screen is not None:
            self.screen.event(line)
        else:
            print(line, file=self.out, flush=True)

    # -- parts -----------------------------------------------------------------------

    def collector_spec(self) -> stack.ProcessSpec:
        s = self.settings
        return stack.collector(
            host=s.host, port=s.port, seed=s.seed, log_path=self.run_dir / "incidents.jsonl", token=self.token, responder_token=self.responder_token,
            history_dir=self.history.continue_dir if self.history is not None else None,
        )

    def detector_min_history_seconds(self) -> float:
        """The detector's own two days, or (with less backfilled history) most of what there is."""
        have = self.settings.history_days * 86400.0
        return DETECTOR_MIN_HISTORY_SECONDS if have >= DETECTOR_MIN_HISTORY_SECONDS or have <= 0 else 0.9 * have

    def responder_spec(self, port: int) -> stack.ProcessSpec:
        """``aiops responder``: Alertmanager's webhook receiver, remediating only with ``--remediate``."""
        return stack.responder(
            port=port, collector_url=self.collector_url, log_path=self.run_dir / "alerts.jsonl", remediate=self.settings.remediate, token=self.responder_token
        )

    def detector_spec(self, port: int, prometheus_url: str) -> stack.ProcessSpec:
        """``aiops detect`` reading Prometheus, with the history's incident records (self-cleaning)."""
        records = self.history.incidents_path if self.history is not None and self.history.incidents_path.is_file() else None
        return stack.detector(
            port=port,
            prometheus_url=prometheus_url,
            collector_url=self.collector_url,
            min_history_seconds=round(self.detector_min_history_seconds()),
            incident_records=records,
            signals_path=self.settings.signals_path,
        )

    def champion_spec(self, port: int, prometheus_url: str) -> stack.ProcessSpec:
        """``--mlops``: ``aiops detect --model-source registry``, serving the demo store's champion (never refitting)."""
        return stack.detector(
            port=port, prometheus_url=prometheus_url, collector_url=self.collector_url, signals_path=self.settings.signals_path,
            model_source="registry", tracking_uri=self.settings.resolved_tracking_uri(),
            champion_check_every_seconds=CHAMPION_CHECK_SECONDS, min_history_seconds=round(self.detector_min_history_seconds()),
        )  # fmt: skip

    def train_champion(self) -> int:
        """``--mlops``: ``aiops train`` on Prometheus' history, its stage lines shown as they come; returns its exit code."""
        assert self.prometheus is not None
        s = self.settings
        history_days, eval_days = s.training_days()
        argv = stack.train_argv(
            prometheus_url=self.prometheus.url, tracking_uri=s.resolved_tracking_uri(), history_days=history_days,
            eval_days=eval_days, signals_path=s.signals_path,
        )  # fmt: skip
        self.say(f"  train       aiops train on {history_days:g} days of the history + {eval_days:g} evaluation days, into {s.resolved_tracking_uri()}")
        log = self.run_dir / "train.log"
        child = spawn("train", argv, log_path=log)
        self.children.append(child)
        shown = 0
        while True:
            done = not child.alive()
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.is_file() else []
            for line in lines[shown:]:
                if line.strip():
                    self.say(f"  train       {line}")
            shown = len(lines)
            if done:
                return int(child.popen.returncode or 0)
            time.sleep(0.5)

    def long_running_specs(self) -> list[stack.ProcessSpec]:
        """Python parts started after Prometheus: the responder (with Alertmanager) and the detector (with Prometheus)."""
        specs = []
        if self.responder_url is not None:
            specs.append(self.responder_spec(int(self.responder_url.rsplit(":", 1)[1])))
        if self.detector_url is not None and self.prometheus_url is not None:
            specs.append(self.detector_spec(int(self.detector_url.rsplit(":", 1)[1]), self.prometheus_url))
        if self.champion_url is not None and self.prometheus_url is not None:
            # started with the others, so Prometheus never finds its target down; until a champion
            # is registered it fits online (health online_fallback) and checks the registry
            specs.append(self.champion_spec(int(self.champion_url.rsplit(":", 1)[1]), self.prometheus_url))
        specs.append(self.console_spec())
        return specs

    def console_spec(self) -> stack.ProcessSpec:
        """``aiops console`` on the collector's interface: the page trainees open (the detector and charts when they run)."""
        s = self.settings
        if self.console_port is None:
            self.console_port = s.console_port or free_port()
        return stack.console(
            host=s.host, port=self.console_port, collector_url=self.collector_url, detector_url=self.detector_url,
            prometheus_url=self.prometheus_url, signals_path=s.signals_path,
            token=self.token,
        )  # fmt: skip

    def start_child(self, spec: stack.ProcessSpec, *, wait: bool = True) -> Child:
        """Start ``spec`` with its log in the run directory and (unless told not to) wait until it is ready."""
        child = stack.start(spec, log_dir=self.run_dir, wait=False)
        self.children.append(child)
        self.services.append(child)
        if wait:
            stack.wait_ready(child, spec)
        return child

    @property
    def prometheus_url(self) -> str | None:
        """Prometheus' URL once its port is chosen (before it starts), else None."""
        return f"http://127.0.0.1:{self.prometheus_port}" if self.prometheus_port is not None else None

    def since_command(self) -> float:
        """Seconds since the command started."""
        return time.time() - self.started_seconds

    @property
    def rate_window_seconds(self) -> float:
        """The detector's rate window (its signals file's ``rate_window``)."""
        return self.signals.rate_window_seconds or 120.0

    @property
    def instance(self) -> str:
        """The collector's address as Prometheus scrapes it (the ``instance`` label of live and backfilled data)."""
        return f"{local_host(self.settings.host)}:{self.settings.port}"

    def prepare_history(self) -> None:
        """Build or reuse the cached history up to :data:`TAIL_SECONDS` ago (progress shown); copy its blocks into this run's data directory."""
        s = self.settings
        if s.history_days <= 0:
            return
        last = [-1]

        def progress(done: int, total: int) -> None:  # a line every tenth of the windows
            tenth = done * 10 // max(1, total)
            if total > 4 and tenth != last[0]:
                last[0] = tenth
                self.say(f"  history     promtool: {done}/{total} two-hour windows loaded ({self.since_command():.1f} s)")

        self.history = ensure_history(
            s.cache_dir,
            seed=s.seed,
            instance=self.instance,
            days=s.history_days,
            step_seconds=s.history_step_seconds,
            now_seconds=self.clock() - TAIL_SECONDS,
            work_dir=self.run_dir / "history",
            started=self.children,
            say=lambda line: self.say(f"  history     {line}"),
            progress=progress,
        )
        h = self.history
        self.say(
            f"  history     {len(h.blocks)} blocks, {_hms(h.start_seconds)} to {_hms(h.end_seconds)}: "
            f"{h.action} in {h.elapsed_seconds:.1f} s (cache {h.cache_dir})"
        )
        copy_blocks(h, self.run_dir / "prometheus-data")

    def load_tail(self) -> None:
        """The fine tail, from the cached history's end to now at the scrape interval, into this run's data directory (just before Prometheus starts)."""
        if self.history is None:
            return
        s = self.settings
        t = time.monotonic()
        work = self.run_dir / "history"
        self.tail = fine_tail(
            self.history, seed=s.seed, instance=self.instance, now_seconds=self.clock() + TAIL_LEAD_SECONDS, step_seconds=mon.scrape_interval_seconds(),
            tick_seconds=CollectorSettings.from_env().tick_seconds, work_dir=work,
        )  # fmt: skip
        if self.tail is None:
            self.say("  history     no fine tail (the cached history ends less than a scrape ago): the detector settles while its rate windows fill")
            return
        load_text(self.tail.result, self.run_dir / "prometheus-data", work_dir=work, started=self.children)
        r = self.tail.result
        self.say(
            f"  history     + the last {(r.end_seconds - self.history.end_seconds) / 60:.1f} min at the scrape interval "
            f"({r.step_seconds:g} s, with up = 1; the collector continues the same counters): written and loaded in {time.monotonic() - t:.1f} s"
        )

    def start_alertmanager(self) -> None:
        """Alertmanager on loopback (clustering off), sending to the responder's webhook."""
        assert self.responder_url is not None
        self.alertmanager = stack.start_alertmanager(self.run_dir, webhook_url=f"{self.responder_url}/alertmanager", token=self.responder_token)
        self.children.append(self.alertmanager.child)
        self.services.append(self.alertmanager.child)

    def start_prometheus(self) -> None:
        """Prometheus on loopback with the project's config pointed at the collector and detector, over the prepared data directory."""
        s = self.settings
        targets = {mon.COLLECTOR_JOB: [self.instance]}
        if self.detector_url is not None:
            targets[mon.DETECTOR_JOB] = [url.removeprefix("http://") for url in (self.detector_url, self.champion_url) if url]
        self.prometheus = stack.start_prometheus(
            self.run_dir,
            targets=targets,
            port=self.prometheus_port or s.prometheus_port or None,
            alertmanager=self.alertmanager,
            retention=f"{math.ceil(s.history_days) + 7}d",
            alerting_model=s.alerting_model,
        )
        self.children.append(self.prometheus.child)
        self.services.append(self.prometheus.child)

    def run_scenario(self) -> None:
        """Post the scenario's incidents, each delayed as scripted (what ``aiops scenario run`` does)."""
        path = self.settings.scenario_path
        if not path.is_file():
            self.say(f"  scenario    {path} not found; none runs (trigger incidents by hand)")
            return
        try:
            scenario = load_scenario(path, load_catalog())
        except ScenarioError as exc:
            raise UsageError(f"{exc.source}: {'; '.join(exc.problems)}") from None
        self.say(f"  scenario    {scenario.name}: {len(scenario.steps)} incidents over {scenario.length_seconds / 60:.1f} min ({path.name})")
        with CollectorClient(self.collector_url, token=self.token) as client:
            for step in scenario.steps:
                try:
                    inc = client.trigger_step(step)
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
            watch(self)
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
        if self.champion_scoreboard is not None:
            champion = self.champion_scoreboard.score(self.clock())
            path = self.scoreboard_path.with_name("scoreboard-champion.json")
            path.write_text(json.dumps(champion.as_dict(), indent=2) + "\n")
            path.with_suffix(".md").write_text(champion.markdown())
            self.say(f"scoreboard of the champion: {champion.line()}; saved to {path} (and .md)")
        return score

    def _start(self) -> None:
        s = self.settings
        t0 = time.monotonic()
        if not port_free(s.host, s.port):
            raise UsageError(f"port {s.port} on {s.host} is in use (another `aiops collector` or demo?); pick another with --port")
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True)
        interval = mon.scrape_interval_seconds()
        self.say(f"aiops demo: seed {s.seed}, scrape every {interval:g} s ({_shown_path(mon.prometheus_config())}); Ctrl-C stops")

        missing = [b for b in ("prometheus", "promtool") if prom.find_binary(b) is None]
        has_alertmanager = bool(prom.find_binary("prometheus-alertmanager") or prom.find_binary("alertmanager"))
        if not missing:
            self.detector_url = f"http://127.0.0.1:{free_port()}"
            if s.mlops:
                self.champion_url = f"http://127.0.0.1:{free_port()}"
            if has_alertmanager:
                self.responder_url = f"http://127.0.0.1:{free_port()}"
            self.prometheus_port = s.prometheus_port or free_port()
            self.prepare_history()  # the collector then continues the fine tail's counters
        collector = self.collector_spec()
        child = self.start_child(collector, wait=False)
        specs = self.long_running_specs() if not missing else []
        # the Python parts take seconds to import: start them now, each ready well before it is needed;
        # the detector last, just before Prometheus (its first fit reads Prometheus)
        early = [spec for spec in specs if spec.name not in ("detector", "champion")]
        late = [spec for spec in specs if spec.name in ("detector", "champion")]
        started = [(spec, self.start_child(spec, wait=False)) for spec in early]
        stack.wait_ready(child, collector)
        self.say(f"  collector   {url_for(s.host, s.port)} ready after {time.monotonic() - t0:.1f} s")

        if missing:
            self.say(
                f"  prometheus  {' and '.join(missing)} not on PATH: the demo runs without Prometheus "
                f"(collector and live view only; the detector reads Prometheus, so it does not run either). "
                f"Get it with: {prom.INSTALL_HINT}"
            )
            started = [(spec, self.start_child(spec, wait=False)) for spec in self.long_running_specs()]
        else:
            if self.responder_url is not None:
                self.start_alertmanager()
                assert self.alertmanager is not None
                self.say(f"  alertmanager {self.alertmanager.url} ready after {time.monotonic() - t0:.1f} s (sends to the responder)")
            else:
                self.say(f"  alertmanager not on PATH: alerts are not routed and nothing remediates. Get it with: {prom.INSTALL_HINT}")
            self.load_tail()  # last thing before Prometheus: its first scrape follows the tail's end within seconds
            started += [(spec, self.start_child(spec, wait=False)) for spec in late]
            self.start_prometheus()
            assert self.prometheus is not None
            self.say(f"  prometheus  {self.prometheus.url} ready after {time.monotonic() - t0:.1f} s")
        for spec, child in started:
            stack.wait_ready(child, spec)
            self.say(f"  {spec.name:<11} {spec.url} ready after {time.monotonic() - t0:.1f} s{self._note(spec.name)}")
        if self.detector_url is not None:
            self.scoreboard = Scoreboard(load_catalog())
        if self.champion_url is not None and self.prometheus is not None:
            self.champion_scoreboard = Scoreboard(load_catalog())
            started_training = time.monotonic()
            code = self.train_champion()
            if code == 0:
                verdict = f"done; the champion detector loads the champion within {CHAMPION_CHECK_SECONDS:g} s"
            else:
                verdict = f"exited with code {code} (log: {self.run_dir / 'train.log'}); the champion detector fits online until a champion exists"
            self.say(f"  train       {verdict} (after {time.monotonic() - started_training:.0f} s)")
        if s.run_scenario and self.detector_url is None:
            self.run_scenario()
        elif s.run_scenario:
            self.say("  scenario    starts once the detector scores (its first cycle after its first fit)")
        self.say(f"ready after {time.monotonic() - t0:.1f} s")
        self._where_to_look()

    def _note(self, name: str) -> str:
        if name == "responder":
            return ", remediation on" if self.settings.remediate else ", remediation off (--remediate turns it on)"
        if name == "champion":
            pages = "it pages" if self.settings.alerting_model == "champion" else "the online loop pages"
            return f", serving models:/aiops-fleet@champion once there is one (never refits; {pages})"
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
        if self.console_port is not None:
            self.say(f"  console     {url_for(local_host(s.host), self.console_port)}/   (the trainee console: trigger, watch, stop)")
        if not is_loopback(s.host):
            self.say(f"  token       export AIOPS_TOKEN={self.token}   (every write off loopback needs it; keep it from the room)")
            for address in _room_addresses():
                self.say(f"  the room    {url_for(address, s.port)}/metrics and /api/incidents are open to read; writes need the token")
                if self.console_port is not None:
                    self.say(f"  the room    open {url_for(address, self.console_port)}/ in a browser  (the console triggers for the room: it holds the token)")
        if self.prometheus is not None:
            link = graph_link(
                self.prometheus.url,
                [
                    (f"histogram_quantile(0.95, sum by (service, le) (rate(aiops_http_request_duration_seconds_bucket[{format_duration(self.rate_window_seconds)}])))", "30m"),
                    ("aiops_incident_active == 1", "30m"),
                    ("sum by (service) (rate(aiops_http_requests_total[10m]))", f"{max(1, math.ceil(s.history_days))}d"),
                ],
            )
            self.say(f"  prometheus  {self.prometheus.url}   graphs: {link}")
            self.say(f"              alerts: {self.prometheus.url}/alerts")
        if self.detector_url is not None:
            self.say(f"  detector    {self.detector_url}/api/anomalies   {self.detector_url}/api/incidents/detected   {self.detector_url}/metrics")
        if self.champion_url is not None:
            self.say(f"  champion    {self.champion_url}/api/anomalies   {self.champion_url}/healthz   (the registered champion beside the online loop)")
            self.say(f"  mlflow      {self.settings.resolved_tracking_uri()}   (browse: mlflow ui --backend-store-uri {self.settings.resolved_tracking_uri()}, with the full mlflow package)")
            if self.prometheus is not None:
                history_days, eval_days = s.training_days()
                argv = stack.train_argv(
                    prometheus_url=self.prometheus.url, tracking_uri=s.resolved_tracking_uri(), history_days=history_days,
                    eval_days=eval_days, signals_path=s.signals_path,
                )  # fmt: skip
                retrain = " ".join([aiops, *argv[3:]])  # argv: the interpreter, -m aiops, then train's arguments
                self.say(f"  retrain     {retrain}   (the MLOps loop by hand: gated; the champion detector swaps within {CHAMPION_CHECK_SECONDS:g} s)")
        if self.responder_url is not None:
            self.say(f"  responder   {self.responder_url}/api/alerts   (alerts received, actions taken)")
        if self.detector_url is not None:
            self.say(f"  scoreboard  saved at the end to {self.scoreboard_path}")
        self.say()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
