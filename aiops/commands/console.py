"""``aiops console``: the trainee console, a web page to trigger incidents and watch them get caught."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from plumbing.durations import duration_arg
from plumbing.errors import UsageError

__all__ = ["build_settings", "register"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "console",
        help="the trainee console: a web page to trigger incidents and watch the detector catch them",
        description="Serves the trainee console: the fleet with charts of its signals and the detector's band, a form "
        "for every incident kind, the incidents with stop buttons and the panic button, the detector's flags with "
        "their explanations, detected incidents and the scoreboard. Options override the AIOPS_CONSOLE_* "
        "environment variables (see the README).",
    )
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for a room: no authentication)")
    p.add_argument("--port", type=int, help="port of the page (default 8003)")
    p.add_argument(
        "--collector-url",
        help="the collector (default: $AIOPS_COLLECTOR_URL, else http://$AIOPS_COLLECTOR_HOST:$AIOPS_COLLECTOR_PORT)",
    )
    p.add_argument("--detector-url", help="the detector (default http://127.0.0.1:8001)")
    p.add_argument("--prometheus-url", help="Prometheus, for the charts (default: $AIOPS_PROMETHEUS_URL, else http://127.0.0.1:9090)")
    p.add_argument("--grafana-url", help="Grafana, for links to the dashboards (default: $AIOPS_GRAFANA_URL; unset: no links)")
    p.add_argument("--signals", type=Path, metavar="FILE", help="the detector's signals file, for the charts' PromQL (default: the kit's model/signals.yaml)")
    p.add_argument("--refresh-every", type=duration_arg, metavar="DURATION", help="how often the page refreshes (default 2s)")
    p.add_argument("--chart-window", type=duration_arg, metavar="DURATION", help="how much of the recent past the charts show (default 15m)")
    p.set_defaults(func=run)


def build_settings(args: argparse.Namespace) -> Any:
    """The :class:`aiops.console.ConsoleSettings` of the options over the environment over the defaults."""
    from aiops.console import ConsoleSettings

    try:
        return ConsoleSettings.from_env(
            host=args.host,
            port=args.port,
            collector_url=args.collector_url,
            detector_url=args.detector_url,
            prometheus_url=args.prometheus_url,
            grafana_url=args.grafana_url,
            signals_path=args.signals,
            refresh_every_seconds=args.refresh_every,
            chart_window_seconds=args.chart_window,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from aiops.console import create_app
    from collector import CollectorClient
    from detector import DetectorClient
    from model import SignalsError, load_signals
    from plumbing.serving import PortInUse, bind, is_loopback, serve_forever, url_for
    from sources import PrometheusReader

    settings = build_settings(args)
    try:
        signals = load_signals(settings.signals_path)
    except SignalsError as exc:
        raise UsageError(str(exc)) from None
    try:
        sock = bind(settings.host, settings.port, what="console")
    except PortInUse as exc:
        raise UsageError(exc.strerror or str(exc)) from None
    if not is_loopback(settings.host):
        print(f"warning: listening on {settings.host}: anyone who reaches this port can trigger and stop incidents through it (the console holds the token)", file=sys.stderr)
    timeout = settings.timeout_seconds
    app = create_app(
        collector=CollectorClient(settings.collector_url, timeout_seconds=timeout, token=settings.token or None),
        detector=DetectorClient(settings.detector_url, timeout_seconds=timeout),
        prometheus=PrometheusReader(base_url=settings.prometheus_url, timeout_seconds=timeout),
        signals=signals,
        refresh_every_seconds=settings.refresh_every_seconds,
        chart_window_seconds=settings.chart_window_seconds,
        grafana_url=settings.grafana_url,
    )
    print(
        f"console on {url_for(settings.host, sock.getsockname()[1])}/ (collector {settings.collector_url}, "
        f"detector {settings.detector_url}, Prometheus {settings.prometheus_url})",
        flush=True,
    )
    serve_forever(app, sock)
    return 0
