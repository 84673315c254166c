"""``aiops train``: the MLOps pipeline (extract, validate, train, evaluate, recalibrate, gate, register) from the command line.

Start-up: the handler imports the training package (MLflow, pandas, matplotlib) when it
runs (see :mod:`aiops.commands.collector`). Exit codes: 0 when the run completed, whether
the gate promoted the candidate or refused it (the verdict is printed and kept in the
version's tags); 2 when validation failed or a file, the MLflow store or Prometheus is
unusable (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from plumbing.durations import duration_arg
from plumbing.errors import UsageError

__all__ = ["register"]

#: The variable of ``TrainSettings.tracking_uri`` (read here before the settings class is imported).
TRACKING_URI_ENV = "AIOPS_TRAIN_TRACKING_URI"
#: MLflow's HTTP client retries for minutes by default; a workshop wants a quick, clear failure.
#: Set only when the user has not set them.
MLFLOW_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "train",
        help="train, evaluate, gate and register the fleet model in MLflow (the MLOps pipeline)",
        description=(
            "Extract history and labelled incidents (the simulator in process, or Prometheus with --prometheus-url), "
            "validate them, fit every candidate of the grid on its training window, evaluate each on the labelled "
            "incidents of the evaluation window (event precision, recall, F1, false alarms per day, time to detect, "
            "residual error), accept the changes that lasted the re-baseline horizon and are still there as the new normal, "
            "gate the best one against the champion (on the data after such a change, when there is one), register it in MLflow and move the `champion` "
            "alias when the gate passes. Options override AIOPS_TRAIN_* variables, which override the defaults."
        ),
    )
    p.add_argument("--prometheus-url", metavar="URL", help="read history and labels from this Prometheus (default: the simulator in process)")
    p.add_argument("--signals", type=Path, metavar="FILE", help="the signals file (default: the kit's model/signals.yaml)")
    p.add_argument("--grid", type=Path, metavar="FILE", help="the candidates' grid (default: the kit's training/grid.yaml)")
    p.add_argument("--seed", type=int, help="seed of the simulated fleet and its incidents (default 0)")
    p.add_argument("--history-days", type=float, metavar="DAYS", help="days of training history (default 8)")
    p.add_argument("--eval-days", type=float, metavar="DAYS", help="days of the evaluation window (default 2)")
    p.add_argument("--step", type=duration_arg, metavar="DURATION", help="step of the history (default 60s)")
    p.add_argument(
        "--rebaseline-after",
        type=duration_arg,
        metavar="DURATION",
        help="recalibrate: a change flagged this long in the evaluation window, and still there at its end, becomes the new normal (default 15m, the online loop's; 0: never)",
    )
    p.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking and registry URI (default: a sqlite store under ~/.local/share/aiops/mlflow)")
    p.add_argument("--experiment", metavar="NAME", help="MLflow experiment (default aiops-training)")
    p.add_argument("--model-name", metavar="NAME", help="registered model name (default aiops-fleet)")
    p.add_argument("--out-dir", type=Path, metavar="DIR", help="where each run's report folder goes (default ~/.local/share/aiops/training/runs)")
    p.add_argument("--min-recall", type=float, metavar="X", help="gate floor on recall (default 0.8)")
    p.add_argument("--min-precision", type=float, metavar="X", help="gate floor on precision (default 0.8)")
    p.add_argument("--min-f1", type=float, metavar="X", help="gate floor on F1 (default 0.8)")
    p.add_argument("--f1-margin", type=float, metavar="X", help="how far below the champion's F1 a candidate may be (default 0)")
    p.set_defaults(func=run_train)


def build_settings(args: argparse.Namespace) -> Any:
    """The :class:`training.TrainSettings` of the options over the environment over the defaults."""
    from training import TrainSettings

    try:
        return TrainSettings.from_env(
            prometheus_url=args.prometheus_url,
            signals_path=args.signals,
            grid_path=args.grid,
            seed=args.seed,
            history_days=args.history_days,
            eval_days=args.eval_days,
            step_seconds=args.step,
            tracking_uri=args.tracking_uri,
            experiment_name=args.experiment,
            model_name=args.model_name,
            out_dir=args.out_dir,
            min_recall=args.min_recall,
            min_precision=args.min_precision,
            min_f1=args.min_f1,
            f1_margin=args.f1_margin,
            rebaseline_after_seconds=args.rebaseline_after,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_days(settings: Any) -> None:
    if not settings.uses_prometheus and (settings.history_days != int(settings.history_days) or settings.eval_days != int(settings.eval_days)):
        raise UsageError(
            f"the simulator takes whole days: --history-days {settings.history_days:g}, --eval-days {settings.eval_days:g} "
            "(fractions of a day work with --prometheus-url)"
        )


def _check_tracking_server(uri: str) -> None:
    """An MLflow server that does not answer fails here, in a fraction of a second, before the training
    package (MLflow, pandas, matplotlib: seconds of imports) is loaded; the pipeline checks again."""
    uri = uri.strip()
    if not uri.startswith(("http://", "https://")):
        return
    import httpx

    try:
        httpx.get(uri.rstrip("/") + "/health", timeout=5.0)
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot reach the MLflow tracking server {uri}: {' '.join(str(exc).split()) or type(exc).__name__}") from None


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``aiops train``."""
    started = time.perf_counter()
    _check_tracking_server(args.tracking_uri or os.environ.get(TRACKING_URI_ENV, ""))
    settings = build_settings(args)
    _check_days(settings)
    for name, value in MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)

    from model import SignalsError
    from sources import PrometheusError
    from training import GridError, TrackingStoreError, TrainConsole, quiet_mlflow, run_training

    quiet_mlflow()
    console = TrainConsole(started=started)
    try:
        result = run_training(settings, console=console)
    except (GridError, SignalsError, TrackingStoreError, PrometheusError) as exc:
        if console.stages:
            console.summary()
        raise UsageError(" ".join(str(exc).split())) from None
    return result.exit_code
