"""``aiops detect``: the scheduled detector on Prometheus, serving its metrics and JSON API.

Start-up: the handler imports the detector when it runs (see :mod:`aiops.commands.collector`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from typing import Any

from plumbing.durations import duration_arg
from plumbing.errors import UsageError

__all__ = ["register"]


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard takes i/n, e.g. 0/2, not {text!r}") from None
    return i, n


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "detect",
        help="run the detector on Prometheus (scheduled fit and inference, /metrics on :8001)",
        description="Fit interpretable baselines on the fleet's history in Prometheus, score the newest points "
        "on the scrape interval, explain and correlate the flags, and serve the results as metrics and JSON.",
    )
    p.add_argument("--prometheus-url", help="Prometheus to read (default http://127.0.0.1:9090)")
    p.add_argument("--collector-url", help="collector for the dependency graph and incident records (default http://127.0.0.1:8000)")
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port of /metrics and the JSON API (default 8001)")
    p.add_argument("--shard", type=_shard, help="this replica's share i/n of the services (split by a hash of the service name)")
    p.add_argument("--infer-every", type=duration_arg, help="inference period (default: the scrape interval, --scrape-interval or else monitoring/prometheus.yml's)")
    p.add_argument("--scrape-interval", type=duration_arg, help="how often Prometheus scrapes the collector: a full rate window holds the window over it in samples (default: monitoring/prometheus.yml's)")
    p.add_argument("--fit-every", type=duration_arg, help="refit period (default 10m)")
    p.add_argument("--min-history", type=duration_arg, help="history needed before flagging (default 2d)")
    p.add_argument(
        "--rebaseline-after",
        type=duration_arg,
        metavar="DURATION",
        help="accept a change flagged this long as the new normal (default 15m; 0 never)",
    )
    p.add_argument("--incident-records", type=Path, help="a backfill's incidents.jsonl: past incidents to keep out of the baselines")
    p.add_argument(
        "--signals",
        type=Path,
        metavar="FILE",
        help="the signals file: PromQL, rate window, scoring knobs (default: the kit's model/signals.yaml)",
    )
    p.add_argument(
        "--model-source",
        choices=("online", "registry"),
        help="online (default): fit and refit here; registry: serve the registered model's champion, never refit",
    )
    p.add_argument("--tracking-uri", metavar="URI", help="registry mode: MLflow tracking and registry URI (default: the store `aiops train` writes)")
    p.add_argument("--model-name", metavar="NAME", help="registry mode: the registered model (default aiops-fleet, as `aiops train`)")
    p.add_argument("--champion-check-every", type=duration_arg, metavar="DURATION", help="registry mode: how often to check whether the champion moved (default 30s)")
    p.set_defaults(func=run_detect)


def build_settings(args: argparse.Namespace) -> Any:
    """The :class:`detector.DetectorSettings` of the options over the environment over the defaults."""
    from detector import DetectorSettings

    shard = args.shard or (None, None)
    try:
        return DetectorSettings.from_env(
            prometheus_url=args.prometheus_url,
            collector_url=args.collector_url,
            host=args.host,
            port=args.port,
            infer_every_seconds=args.infer_every,
            scrape_interval_seconds=args.scrape_interval,
            fit_every_seconds=args.fit_every,
            min_history_seconds=args.min_history,
            rebaseline_after_seconds=args.rebaseline_after,
            shard_index=shard[0],
            shard_count=shard[1],
            model_source=args.model_source,
            champion_check_every_seconds=args.champion_check_every,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_signals(path: Path | None) -> None:
    """Fail early, on one line naming the file and the problem, if ``--signals`` is not a usable signals file."""
    if path is None:
        return
    from model import SignalsError, load_signals

    if not path.is_file():
        raise UsageError(f"--signals: no such file {path}")
    try:
        load_signals(path)
    except SignalsError as exc:
        raise UsageError("--signals: " + " ".join(str(exc).split())) from None


def check_grafana() -> None:
    """Fail early, on one line, if an ``AIOPS_GRAFANA_*`` variable is set but unusable (the service reads them for annotations)."""
    from plumbing.grafana import GrafanaSettings

    try:
        GrafanaSettings.from_env()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def registry_connector(args: argparse.Namespace) -> tuple[Any, str]:
    """Registry mode: a function that connects to the store ``aiops train`` writes (or ``--tracking-uri``), and its description."""
    from training import Registry, TrainSettings, quiet_mlflow

    try:
        train = TrainSettings.from_env(tracking_uri=args.tracking_uri, model_name=args.model_name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    quiet_mlflow()
    uri, name = train.resolved_tracking_uri(), train.model_name

    def connect() -> Any:
        return Registry.connect(uri, model_name=name, experiment_name=None)

    return connect, f"models:/{name}@champion in {uri}"


def run_detect(args: argparse.Namespace) -> int:
    from detector import build_service, create_app
    from plumbing.serving import PortInUse, bind, is_loopback, serve_forever

    settings = build_settings(args)
    if args.incident_records is not None and not args.incident_records.is_file():
        raise UsageError(f"--incident-records: no such file {args.incident_records}")
    check_signals(args.signals)
    check_grafana()
    try:
        sock = bind(settings.host, settings.port, what="detector")
    except PortInUse as exc:
        raise UsageError(exc.strerror or str(exc)) from None
    if not is_loopback(settings.host):
        print(f"note: listening on {settings.host}: the detector's API is read-only and open to anyone who can reach it", file=sys.stderr)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("apscheduler", "httpx"):  # a line per job run and per query would bury the detector's own
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # a skipped run is the service's to report (once, as it backs off), not a line per second
    logging.getLogger("apscheduler.scheduler").addFilter(lambda r: "maximum number of running instances" not in r.getMessage())
    registry, where = registry_connector(args) if settings.model_source == "registry" else (None, "")
    service = build_service(settings, incident_records=args.incident_records, signals_path=args.signals, registry=registry)
    app = create_app(service)
    service.start()
    print(
        f"detector on http://{settings.host}:{sock.getsockname()[1]} (metrics, /api/anomalies, /api/incidents/detected) "
        f"reading {settings.prometheus_url} every {service.infer_every_seconds:g} s, shard {settings.shard_index}/{settings.shard_count}",
        flush=True,
    )
    if registry is not None:
        served = service.champion
        print(f"  serving {where}: " + (f"version {served.version}" if served else f"none yet ({service.registry_error}); fitting online meanwhile"), flush=True)
    if service.annotations is not None:
        print(f"  annotating detected incidents in Grafana at {service.annotations.url}", flush=True)
    try:
        serve_forever(app, sock)
    finally:
        service.stop()
    return 0
