"""The benchmark runs and reports its figures in the promised shape (no timing asserted)."""

from __future__ import annotations

import json

from aiops.cli import main
from evaluation._bench import BenchSettings, run_bench


def test_run_bench_reports_every_figure_on_a_tiny_size():
    ticks = iter(range(1000))
    report = run_bench(
        BenchSettings(series=12, days=2.0, step_seconds=900.0, batch_series=5, loop_sample=3),
        clock=lambda: float(next(ticks)),  # an injected clock: each reading one second later
    )
    for key in ("series", "batched_seconds", "loop_seconds", "ratio", "peak_rss_bytes"):
        assert key in report
    assert report["series"] == 12 and report["loop_sample"] == 3
    assert report["batched_seconds"] == 3.0  # three batches of at most 5 series, one tick each
    assert report["loop_seconds"] == 4.0  # one tick for 3 series, scaled to 12
    assert report["peak_rss_bytes"] > 0
    config = report["config"]
    assert config["context_regressors_per_series"] == 1
    assert config["float_bits"] == 32
    assert config["seasonal_terms"]["daily"] == 4 and config["seasonal_terms"]["weekly"] == 0  # 2 days: no weekly terms yet


def test_cli_prints_json(capsys):
    assert main(["bench", "detector", "--series", "8", "--days", "2", "--step", "1800", "--loop-sample", "2", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"series", "batched_seconds", "loop_seconds", "ratio", "peak_rss_bytes"} <= set(report)
    assert report["series"] == 8


def test_cli_prints_text(capsys):
    assert main(["bench", "detector", "--series", "4", "--days", "1", "--step", "3600", "--loop-sample", "1"]) == 0
    out = capsys.readouterr().out
    assert "batched fit + score" in out and "timed on 1 series" in out and "32 bits" in out


def test_cli_rejects_nonsense(capsys):
    assert main(["bench", "detector", "--series", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
