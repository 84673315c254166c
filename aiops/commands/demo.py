"""``aiops demo``: the whole kit on one machine (the demo itself is :mod:`aiops.demo`).

Start-up: the handler imports the demo when it runs (see :mod:`aiops.commands.collector`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plumbing.durations import duration_arg
from plumbing.errors import UsageError

__all__ = ["register"]


def _cmd_demo(args: Any) -> int:
    from aiops.demo import Demo, DemoSettings

    try:
        settings = DemoSettings.from_env(
            host=args.host,
            port=args.port,
            seed=args.seed,
            prometheus_port=args.prometheus_port,
            console_port=args.console_port,
            history_days=args.history_days,
            scenario_path=args.scenario,
            signals_path=args.signals,
            history_step_seconds=args.history_step,
            run_scenario=False if args.no_scenario else None,
            remediate=True if args.remediate else None,
            mlops=True if args.mlops else None,
            alerting_model=args.alerting_model,
            tracking_uri=args.tracking_uri,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Demo(settings).run()


def register(subparsers: Any) -> None:
    """Add ``aiops demo``."""
    p = subparsers.add_parser(
        "demo",
        help="run the whole kit on this machine: collector, Prometheus with history, detector, alerts, a scenario, a live scoreboard",
        description=(
            "Start the collector and, if the prometheus binary is on PATH, Prometheus with days of backfilled "
            "history (cached per seed) and the detector reading it, and, if alertmanager is on PATH, Alertmanager "
            "and the responder (its webhook). Run the demo scenario once the detector scores, and show the signals, "
            "each detection with its explanation and a scoreboard against the ground truth live; the scoreboard is "
            "saved at the end. Ctrl-C stops everything."
        ),
        epilog="environment variables (options win): AIOPS_DEMO_*, the collector's AIOPS_COLLECTOR_HOST, _PORT and _SEED, "
        "and AIOPS_CACHE_DIR; see the README's demo section",
    )
    p.add_argument("--host", help="collector interface (default 127.0.0.1; 0.0.0.0 lets a room trigger incidents)")
    p.add_argument("--port", type=int, metavar="N", help="collector port (default 8000)")
    p.add_argument("--seed", type=int, metavar="N", help="fleet seed (default 0)")
    p.add_argument("--prometheus-port", type=int, metavar="N", help="Prometheus port on 127.0.0.1 (default: a free one)")
    p.add_argument("--console-port", type=int, metavar="N", help="port of the trainee console, on --host (default: a free one)")
    p.add_argument("--history-days", type=float, metavar="DAYS", help="days of backfilled history (default 8; 0 for none)")
    p.add_argument("--scenario", type=Path, metavar="FILE", help="scenario file (default: the kit's scenarios/demo.yaml)")
    p.add_argument("--no-scenario", action="store_true", help="do not run the scenario")
    p.add_argument("--signals", type=Path, metavar="FILE", help="the detector's signals file (default: the kit's model/signals.yaml)")
    p.add_argument("--history-step", type=duration_arg, metavar="DURATION", help="time between backfilled samples (default 60s; at most half the signals' rate window)")
    p.add_argument("--remediate", action="store_true", help="let the responder take the runbook's automatic actions (off by default)")
    p.add_argument(
        "--mlops",
        action="store_true",
        help="AIOps and MLOps side by side: train a champion on the demo's history (aiops train, gated, registered in MLflow) and serve it beside the online loop",
    )
    p.add_argument("--alerting-model", choices=("online", "champion"), help="whose detections page through Alertmanager (default online)")
    p.add_argument("--tracking-uri", metavar="URI", help="--mlops: the MLflow store (default: a sqlite store under the cache folder)")
    p.set_defaults(func=_cmd_demo)
