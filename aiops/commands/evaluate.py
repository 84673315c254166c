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

    load = bench_sub.add_parser(
        "load",
        help="a bounded load benchmark of the kit's read endpoints (loopback only)",
        description=(
            "N clients poll the collector's /metrics and GET /api/incidents (and, with --detector-url, the "
            "detector's /metrics and JSON, with --console-url the console's data calls) once a second for a fixed time, then stop; prints requests per second, "
            "p50/p99 latency and errors. Without --collector-url a collector is started on a free loopback port "
            "(a child process) with a few incidents, and stopped at the end."
        ),
    )
    load.add_argument("--collector-url", help="a running collector on loopback (default: start one)")
    load.add_argument("--detector-url", help="a running detector on loopback (default: leave the detector out)")
    load.add_argument("--console-url", help="a running trainee console on loopback: its data calls, as the page polls them (default: leave it out)")
    load.add_argument("--clients", type=int, default=20, help="concurrent clients (default: 20)")
    load.add_argument("--seconds", type=float, default=20.0, help="how long the clients poll (default: 20)")
    load.set_defaults(func=run_bench_load)

    evaluate = subparsers.add_parser("evaluate", help="evaluate the detector offline", description="Offline evaluations.")
    evaluate_sub = evaluate.add_subparsers(dest="evaluate_command", metavar="SUITE")
    evaluate_sub.required = True
    register_fleet(evaluate_sub)
    register_nab(evaluate_sub)


def run_bench_load(args: argparse.Namespace) -> int:
    """Handler of ``aiops bench load``."""
    import tempfile
    import time
    from pathlib import Path

    from aiops import stack
    from aiops._load import not_loopback, run_load, summarise
    from collector import CollectorClient
    from plumbing.procs import free_port

    if args.clients < 1 or not 1 <= args.seconds <= 600:
        raise UsageError("--clients must be >= 1 and --seconds between 1 and 600")
    given = [u for u in (args.collector_url, args.detector_url, args.console_url) if u]
    if not_loopback(given):
        raise UsageError(f"aiops bench load polls loopback only, not {', '.join(not_loopback(given))}")
    child = None
    with tempfile.TemporaryDirectory(prefix="aiops-load-") as tmp:
        collector_url = args.collector_url
        if collector_url is None:
            spec = stack.collector(port=free_port(), seed=0, log_path=Path(tmp) / "incidents.jsonl")
            child = stack.start(spec, log_dir=Path(tmp))
            collector_url = spec.url
            with CollectorClient(collector_url) as c:  # something to list and to scrape
                for kind, service in (("cpu_hog", "checkout"), ("memory_leak", "payments"), ("traffic_surge", "frontend")):
                    c.trigger(kind=kind, service=service, duration_seconds=600)
        urls = [f"{collector_url.rstrip('/')}/metrics", f"{collector_url.rstrip('/')}/api/incidents"]
        if args.detector_url:
            d = args.detector_url.rstrip("/")
            urls += [f"{d}/metrics", f"{d}/api/anomalies", f"{d}/api/incidents/detected"]
        if args.console_url:
            c = args.console_url.rstrip("/")
            urls += [f"{c}/api/state", f"{c}/api/charts"]
        print(f"{args.clients} clients, each polling {len(urls)} endpoints once a second for {args.seconds:g} s ...", flush=True)
        try:
            started = time.monotonic()
            samples = run_load(urls, clients=args.clients, seconds=args.seconds)
            elapsed = time.monotonic() - started
        finally:
            if child is not None:
                child.stop()
    print(f"{'endpoint':<48} {'requests':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    results = summarise(samples, elapsed)
    for r in results:
        print(r.line())
    return 0 if results[-1].errors == 0 else 1


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
