"""The detector's commands: ``aiops bench detector`` and the ``aiops evaluate ...`` family.

``register(subparsers)`` adds two top-level commands, ``bench`` and ``evaluate``, each with
its own sub-commands. An evaluation module plugs in with one line in
:data:`EVALUATE_MODULES`: a module path and the name of its ``register_*(evaluate_subparsers)``
function.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from plumbing.errors import UsageError

from .evaluate_fleet import register_fleet
from .evaluate_nab import register_nab

__all__ = ["register"]

def register(subparsers: Any) -> None:
    """Add ``bench`` and ``evaluate`` to the ``aiops`` parser."""
    bench = subparsers.add_parser("bench", help="time the detector", description="Benchmarks that print figures.")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="WHAT")
    bench_sub.required = True
    p = bench_sub.add_parser(
        "detector",
        help="batched fit + score vs a per-series scikit-learn loop",
        description=(
            "Time LinearBaseline's batched fit + score of N synthetic series (one context regressor each) "
            "against a per-series sklearn LinearRegression loop doing the same work (timed on a sample, "
            "scaled up), and report the ratio and the process' peak memory."
        ),
    )
    p.add_argument("--series", type=int, default=10_000, help="number of series (default: 10000)")
    p.add_argument("--days", type=float, default=7.0, help="days of history per series (default: 7)")
    p.add_argument("--step", type=float, default=60.0, help="seconds between samples (default: 60)")
    p.add_argument("--loop-sample", type=int, default=100, help="series the sklearn loop is timed on (default: 100)")
    p.add_argument("--batch-series", type=int, default=2_000, help="series generated and fitted per call (default: 2000)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="float width of the batched arrays")
    p.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="threads for the batched side (default: 2, the workshop machine's cores; the loop runs on one)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run_bench_detector)

    evaluate = subparsers.add_parser("evaluate", help="evaluate the detector offline", description="Offline evaluations.")
    evaluate_sub = evaluate.add_subparsers(dest="evaluate_command", metavar="SUITE")
    evaluate_sub.required = True
    register_fleet(evaluate_sub)
    register_nab(evaluate_sub)


def run_bench_detector(args: argparse.Namespace) -> int:
    """Handler of ``aiops bench detector``."""
    from evaluation import BenchSettings, run_bench

    if args.series < 1 or args.days <= 0 or args.step <= 0 or args.loop_sample < 1 or args.batch_series < 1 or args.jobs < 1:
        raise UsageError("--series, --days, --step, --loop-sample, --batch-series and --jobs must be positive")
    settings = BenchSettings(
        series=args.series,
        days=args.days,
        step_seconds=args.step,
        loop_sample=args.loop_sample,
        batch_series=args.batch_series,
        dtype=args.dtype,
        jobs=args.jobs,
        seed=args.seed,
    )
    report = run_bench(settings)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(render_text(report))
    return 0


def render_text(report: dict[str, Any]) -> str:
    """The benchmark figures as a few aligned lines."""
    c = report["config"]
    seasonal = c["seasonal_terms"]
    lines = [
        f"series                 {report['series']} x {c['timestamps']} timestamps ({c['days']:g} days at {c['step_seconds']:g} s)",
        f"features per series    intercept + {seasonal['daily']} daily + {seasonal['weekly']} weekly sine/cosine pairs"
        f"{' + trend' if seasonal['trend'] else ''} ({c['seasonal_columns']} shared columns)"
        f" + {c['context_regressors_per_series']} context regressor(s) of its own",
        f"float width            {c['float_bits']} bits (batches of {c['batch_series']} series, {c['chunk_series']} per block, "
        f"{c['batched_threads']} thread(s), BLAS threads {c['blas_threads']})",
        f"batched fit + score    {report['batched_seconds']:.3f} s wall, {report['batched_cpu_seconds']:.3f} s CPU",
        f"sklearn loop           {report['loop_seconds']:.3f} s wall, {report['loop_cpu_seconds']:.3f} s CPU "
        f"(timed on {report['loop_sample']} series: {report['loop_sample_seconds']:.3f} s, scaled x{report['series'] / report['loop_sample']:g})",
        f"ratio                  {report['ratio']:.1f}x wall, {report['cpu_ratio']:.1f}x CPU",
        f"peak RSS               {report['peak_rss_bytes'] / 2**20:.0f} MiB ({report['peak_rss_method']})",
    ]
    return "\n".join(lines)
