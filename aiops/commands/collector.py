"""The collector's commands: ``aiops collector``, ``incident``, ``scenario``, ``backfill`` and ``docs``.

Start-up: like every module in :mod:`aiops.commands`, this one imports only the standard
library and light :mod:`plumbing` modules at its top; each handler imports the packages
it runs (numpy, FastAPI ...) when it is called, so ``aiops --help`` stays quick.
"""

from __future__ import annotations

import argparse
import json
import os
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from plumbing.durations import duration_arg
from plumbing.errors import UsageError

__all__ = ["register"]

#: The README's generated settings tables: ``<!-- NAME:start -->`` ... ``<!-- NAME:end -->``, in this order.
SETTINGS_BLOCKS = ("collector-settings", "detector-settings", "responder-settings", "demo-settings", "train-settings", "grafana-settings", "console-settings")


# -- argument types ----------------------------------------------------------------


def _end_time(text: str) -> float:
    """``now``, seconds since the epoch, or an ISO 8601 time (UTC unless it says otherwise)."""
    if text == "now":
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (use now, epoch seconds or 2025-01-31T12:00:00Z)") from None
    return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp()


def _settings(**overrides: Any) -> Any:
    from collector import CollectorSettings

    try:
        return CollectorSettings.from_env(**overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _add_url(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url",
        help="the collector's URL (default: $AIOPS_COLLECTOR_URL, else http://$AIOPS_COLLECTOR_HOST:$AIOPS_COLLECTOR_PORT = http://127.0.0.1:8000)",
    )
    p.add_argument(
        "--token",
        help="the collector's token, needed for writes when it listens off loopback (default: $AIOPS_TOKEN; "
        "prefer the variable: an option shows in the process list)",
    )


def _client(args: argparse.Namespace) -> Any:
    """A client of the collector at ``--url``, else :func:`collector.collector_url` (the environment's)."""
    from collector import CollectorClient, collector_url

    from collector import TOKEN_ENV

    try:
        url = args.url or collector_url()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return CollectorClient(url, token=getattr(args, "token", None) or os.environ.get(TOKEN_ENV) or None)


def _api(call: Callable[[], Any]) -> Any:
    """Run a client call; unreachable collector or a refused request -> one clear line."""
    from collector import APIError, CollectorUnreachable

    try:
        return call()
    except CollectorUnreachable as exc:
        raise UsageError(str(exc)) from None
    except APIError as exc:
        raise UsageError(exc.line()) from None


def _hms(iso: str) -> str:
    return iso[11:19] + "Z" if len(iso) >= 19 else iso


def _span(seconds: float) -> str:
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s" if s % 60 else f"{s // 60}m"
    return f"{s}s"


def _describe(inc: dict[str, Any]) -> str:
    return (
        f"incident {inc['id']}: {inc['kind']} on {inc['service']}, intensity {inc['intensity']:g}, "
        f"{_span(inc['end_seconds'] - inc['start_seconds'])} from {_hms(inc['start'])} to {_hms(inc['end'])} ({inc['state']})"
    )


# -- aiops collector ---------------------------------------------------------------


def _cmd_collector(args: argparse.Namespace) -> int:
    from collector import create_app, serve
    from plumbing.serving import PortInUse, bind, is_loopback

    settings = _settings(
        host=args.host,
        port=args.port,
        seed=args.seed,
        log_path=args.log,
        chaos_every_seconds=args.chaos_every,
        chaos_duration_seconds=args.chaos_duration,
        history_dir=args.continue_history,
    )
    if settings.port == 0:
        raise UsageError("--port 0 is not allowed here: Prometheus needs to know the port")
    from plumbing.grafana import GrafanaSettings

    try:
        grafana = GrafanaSettings.from_env()  # with AIOPS_GRAFANA_URL, incidents are annotated in Grafana
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        sock = bind(settings.host, settings.port, what="collector")
    except PortInUse as exc:
        raise UsageError(exc.strerror) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if not is_loopback(settings.host):
        from dataclasses import replace

        from plumbing.guard import generate_token

        if not settings.token:
            settings = replace(settings, token=generate_token())
            print(
                f"listening on {settings.host}: every write needs this token (reads stay open):\n"
                f"  export AIOPS_TOKEN={settings.token}\n"
                "  (generated for this run; set AIOPS_TOKEN before starting to choose one)",
                file=sys.stderr,
                flush=True,
            )
        else:
            print(f"listening on {settings.host}: every write needs the token of AIOPS_TOKEN (reads stay open)", file=sys.stderr)
    chaos = (
        f"one incident every {_span(settings.chaos_every_seconds)} for {_span(settings.chaos_duration_seconds)}"
        if settings.chaos_enabled
        else "off"
    )
    print(
        f"collector on {settings.url}: metrics {settings.url}/metrics, API docs {settings.url}/docs\n"
        f"  seed {settings.seed}, incident log {settings.log_path}, chaos {chaos}; Ctrl-C stops"
        + (f"\n  annotating incidents in Grafana at {grafana.url}" if grafana.url and grafana.annotations else ""),
        flush=True,
    )
    from collector import HistoryError, LogUnavailable

    try:
        app = create_app(settings, grafana=grafana)
    except HistoryError as exc:
        sock.close()
        raise UsageError(f"--continue-history: {exc}") from None
    except (OSError, LogUnavailable) as exc:
        sock.close()
        raise UsageError(f"cannot open the incident log {settings.log_path}: {getattr(exc, 'strerror', None) or exc}") from None
    serve(settings, sock=sock, app=app)
    return 0


# -- aiops incident ----------------------------------------------------------------


def _cmd_trigger(args: argparse.Namespace) -> int:
    with _client(args) as c:
        inc = _api(
            lambda: c.trigger(
                kind=args.kind,
                service=args.service,
                intensity=args.intensity,
                duration_seconds=args.duration,
                delay_seconds=args.delay,
                triggered_by="cli",
            )
        )
    print(_describe(inc))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with _client(args) as c:
        incidents = _api(c.incidents)
    if args.json:
        print(json.dumps(incidents, indent=2))
        return 0
    if not incidents:
        print("no incidents pending, active or recently ended")
        return 0
    rows = [("ID", "KIND", "SERVICE", "STATE", "INTENSITY", "START", "END", "BY")]
    for i in incidents:
        by = i["triggered_by"] + (f", stopped by {i['stopped_by']}" if i.get("stopped_by") else "")
        rows.append((i["id"], i["kind"], i["service"], i["state"], f"{i['intensity']:g}", _hms(i["start"]), _hms(i["end"]), by))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    if bool(args.id) == bool(args.all):
        raise UsageError("give an incident ID or --all")
    with _client(args) as c:
        if args.all:
            out = _api(lambda: c.stop_all(by="cli"))
            for inc in out["stopped"]:
                print(f"stopped {_describe(inc)}")
            print(f"stopped {len(out['stopped'])} incident(s); chaos schedule paused" + ("" if out["chaos"]["enabled"] else " (it was off)"))
        else:
            print(f"stopped {_describe(_api(lambda: c.stop(args.id, by='cli')))}")
    return 0


# -- aiops scenario ----------------------------------------------------------------


def _load_scenario(path: str) -> Any:
    from simulator import ScenarioError, load_catalog, load_scenario

    try:
        return load_scenario(path, load_catalog())
    except ScenarioError as exc:
        for p in exc.problems:
            print(f"{exc.source}: {p}", file=sys.stderr)
        raise UsageError(f"{exc.source}: {len(exc.problems)} problem(s)") from None


def _cmd_validate(args: argparse.Namespace) -> int:
    s = _load_scenario(args.file)
    print(f"{args.file}: ok, {len(s.steps)} incident(s) over {_span(s.length_seconds)} ({s.name})")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    s = _load_scenario(args.file)
    failed = 0
    with _client(args) as c:
        _api(c.health)
        print(f"scenario {s.name}: {len(s.steps)} incident(s) over {_span(s.length_seconds)}, posted to {c.url}")
        for step in s.steps:
            when = f"+{_span(step.at_seconds)}".ljust(8)
            try:
                inc = _api(lambda: c.trigger_step(step))
            except UsageError as exc:
                failed += 1
                print(f"{when} {step.kind} on {step.service}: refused: {exc}")
                continue
            print(f"{when} {_describe(inc)}")
    if failed:
        raise UsageError(f"{failed} of {len(s.steps)} incident(s) refused; `aiops incident stop --all` ends the rest")
    print("stop it early with `aiops incident stop --all`")
    return 0


# -- aiops backfill ----------------------------------------------------------------


def _cmd_backfill(args: argparse.Namespace) -> int:
    from collector import backfill

    settings = _settings()
    seed = settings.seed if args.seed is None else args.seed
    instance = args.instance or f"{settings.host}:{settings.port}"
    tty = sys.stderr.isatty()
    last = [-1]

    def progress(share: float) -> None:
        pct = int(share * 100)
        if pct != last[0] and (tty or pct % 25 == 0):
            last[0] = pct
            print(f"\rbackfill: writing {pct:3d}%" if tty else f"backfill: writing {pct}%", end="" if tty else "\n", file=sys.stderr, flush=True)

    try:
        r = backfill(
            args.out,
            days=args.days,
            step_seconds=args.step,
            seed=seed,
            incidents_per_day=args.incidents_per_day,
            job=args.job,
            instance=instance,
            end_seconds=args.end,
            split_seconds=args.split,
            progress=progress,
        )
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    if tty:
        print(file=sys.stderr)
    start = datetime.fromtimestamp(r.start_seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    end = datetime.fromtimestamp(r.end_seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    files = r.metrics_paths
    shown = str(files[0]) if len(files) == 1 else f"{files[0].parent}/history-*.om ({len(files)} files, one per {_span(args.split)} window)"
    print(
        f"wrote {r.samples:,} samples ({r.series} series x {r.timestamps:,} times, {start} to {end} UTC, "
        f"{r.bytes / 1e6:.0f} MB) and {r.incidents} incidents in {r.elapsed_seconds:.1f}s:\n"
        f"  {shown}\n  {r.incidents_path}\n  {r.manifest_path}\n"
        f"load with: for f in {files[0].parent}/history*.om; do promtool tsdb create-blocks-from openmetrics \"$f\" DATA_DIR; done"
    )
    return 0


# -- aiops docs --------------------------------------------------------------------


def _cmd_docs_incidents(args: argparse.Namespace) -> int:
    from collector import DOC_PATH, incidents_markdown

    text = incidents_markdown()
    path = Path(args.out) if args.out else DOC_PATH
    if args.check:
        current = path.read_text() if path.exists() else None
        if current != text:
            raise UsageError(f"{path} is out of date with the catalog; run `aiops docs incidents`")
        print(f"{path} is up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


def _settings_classes() -> dict[str, type]:
    """The settings class of each of the README's generated tables (:data:`SETTINGS_BLOCKS`)."""
    from aiops.console import ConsoleSettings
    from aiops.demo import DemoSettings
    from collector import CollectorSettings
    from detector import DetectorSettings
    from responder import ResponderSettings
    from plumbing.grafana import GrafanaSettings
    from training import TrainSettings

    classes = (CollectorSettings, DetectorSettings, ResponderSettings, DemoSettings, TrainSettings, GrafanaSettings, ConsoleSettings)
    return dict(zip(SETTINGS_BLOCKS, classes))


def _with_settings_tables(text: str, source: str) -> str:
    """``text`` with each settings block replaced by the table :func:`plumbing.settings.settings_table` makes."""
    from plumbing.settings import settings_table

    for name, cls in _settings_classes().items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
            raise UsageError(f"{source}: needs one {start} ... {end} block for {cls.__name__}")
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        text = f"{head}{start}\n{settings_table(cls)}\n{end}{tail}"
    return text


def _cmd_docs_settings(args: argparse.Namespace) -> int:
    path = Path(args.readme)
    if not path.is_file():
        raise UsageError(f"no {path} here; give --readme")
    current = path.read_text()
    text = _with_settings_tables(current, str(path))
    if args.check:
        if current != text:
            raise UsageError(f"the settings tables in {path} are out of date with the code; run `aiops docs settings`")
        print(f"the settings tables in {path} are up to date")
        return 0
    if current != text:
        path.write_text(text)
        print(f"wrote the settings tables in {path}")
    else:
        print(f"the settings tables in {path} are up to date")
    return 0


# -- registration ------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add the collector's commands to the ``aiops`` parser."""
    p = subparsers.add_parser(
        "collector",
        help="serve the simulated fleet's /metrics and the incident API",
        description="Serve the simulated fleet's metrics on /metrics and the incident API. "
        "Options override the AIOPS_COLLECTOR_* environment variables (see the README).",
    )
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1; on any other, every write needs the token: $AIOPS_TOKEN, or one printed at start)")
    p.add_argument("--port", type=int, help="TCP port (default 8000)")
    p.add_argument("--seed", type=int, help="seed of the fleet and the chaos schedule (default 0)")
    p.add_argument("--log", type=Path, help="incident log, JSON lines (default .aiops/incidents.jsonl)")
    p.add_argument("--chaos-every", type=duration_arg, metavar="DURATION", help="start one random incident this often, e.g. 15m (default: off)")
    p.add_argument("--chaos-duration", type=duration_arg, metavar="DURATION", help="how long each chaos incident lasts (default 2m)")
    p.add_argument(
        "--continue-history", type=Path, metavar="DIR",
        help="a backfill's output directory: continue its counters (same --seed) so history and live data join without a reset",
    )
    p.set_defaults(func=_cmd_collector)

    inc = subparsers.add_parser("incident", help="trigger, list and stop incidents on a running collector")
    isub = inc.add_subparsers(dest="incident_command", metavar="ACTION")
    isub.required = True
    t = isub.add_parser("trigger", help="start an incident (see docs/incidents.md for kinds)")
    t.add_argument("kind", help="incident kind, e.g. cpu_hog")
    t.add_argument("--service", required=True, help="affected service, e.g. checkout")
    t.add_argument("--intensity", type=float, help="strength (default: the kind's default)")
    t.add_argument("--duration", type=duration_arg, metavar="DURATION", help="how long it lasts, e.g. 5m (default 5m; a permanent kind: the longest allowed, 2h)")
    t.add_argument("--delay", type=duration_arg, metavar="DURATION", help="start after this long, e.g. 30s")
    _add_url(t)
    t.set_defaults(func=_cmd_trigger)
    ls = isub.add_parser("list", help="pending, active and recently ended incidents")
    ls.add_argument("--json", action="store_true", help="print the API's JSON")
    _add_url(ls)
    ls.set_defaults(func=_cmd_list)
    st = isub.add_parser("stop", help="end one incident early, or all of them (which also pauses chaos)")
    st.add_argument("id", nargs="?", help="incident ID (see `aiops incident list`)")
    st.add_argument("--all", action="store_true", help="end every incident and pause the chaos schedule")
    _add_url(st)
    st.set_defaults(func=_cmd_stop)

    sc = subparsers.add_parser("scenario", help="validate or run a scripted timeline of incidents")
    ssub = sc.add_subparsers(dest="scenario_command", metavar="ACTION")
    ssub.required = True
    v = ssub.add_parser("validate", help="check a scenario file and list every problem")
    v.add_argument("file")
    v.set_defaults(func=_cmd_validate)
    r = ssub.add_parser("run", help="post every incident of a scenario to a running collector, delayed as scripted")
    r.add_argument("file")
    _add_url(r)
    r.set_defaults(func=_cmd_run)

    b = subparsers.add_parser(
        "backfill",
        help="write past days of metrics as OpenMetrics text for promtool, plus their incidents",
        description="Write DIR/history-*.om, one file per two-hour window (load each with "
        "`promtool tsdb create-blocks-from openmetrics FILE DATA_DIR`), "
        "DIR/incidents.jsonl (ground truth, the incident log's format) and DIR/manifest.json.",
    )
    b.add_argument("--days", type=float, required=True, help="days of history")
    b.add_argument("--step", type=duration_arg, default=60.0, metavar="DURATION", help="time between samples (default 60s)")
    b.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    b.add_argument("--seed", type=int, help="fleet seed (default: AIOPS_COLLECTOR_SEED or 0; use the live collector's)")
    b.add_argument("--incidents-per-day", type=float, default=2.0, metavar="K", help="random incidents per day (default 2)")
    b.add_argument("--job", default="aiops-collector", help="job label, as Prometheus sets it on the live scrape")
    b.add_argument("--instance", help="instance label (default: AIOPS_COLLECTOR_HOST:AIOPS_COLLECTOR_PORT = 127.0.0.1:8000)")
    b.add_argument("--end", type=_end_time, default="now", help="end of the history: now (default), epoch seconds or ISO time")
    b.add_argument(
        "--split",
        type=duration_arg,
        default=7200.0,
        metavar="DURATION",
        help="one file per window this long (default 2h, promtool's block length: loads fastest); 0: one history.om",
    )
    b.set_defaults(func=_cmd_backfill)

    d = subparsers.add_parser("docs", help="generate documentation from the catalog and the settings classes")
    dsub = d.add_subparsers(dest="docs_command", metavar="DOC")
    dsub.required = True
    di = dsub.add_parser("incidents", help="write the incident reference (docs/incidents.md) from simulator/catalog.yaml")
    di.add_argument("--check", action="store_true", help="only check that the file is up to date (exit 2 if not)")
    di.add_argument("--out", help="where to write (default docs/incidents.md)")
    di.set_defaults(func=_cmd_docs_incidents)
    ds = dsub.add_parser("settings", help="write the README's tables of environment variables from the settings classes")
    ds.add_argument("--check", action="store_true", help="only check that the tables are up to date (exit 2 if not)")
    ds.add_argument("--readme", default="README.md", help="the README to update (default README.md)")
    ds.set_defaults(func=_cmd_docs_settings)
