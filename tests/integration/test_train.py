"""`aiops train` from the real Prometheus: history backfilled as the demo does, labels from `aiops_incident_active`.

Three days of the fleet at the demo's 60 s step (with incidents, 16 a day) are written by the
backfill, loaded with promtool, and served by Prometheus with the collector continuing them
live. The pipeline then reads the signals with the packaged signals file's PromQL (2-minute
rate window) and the labels from the collector's ground truth, trains two candidates,
registers the best one in a sqlite MLflow store and gates it.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
from mlflow import MlflowClient

from collector import backfill
from plumbing import binaries as prom
from plumbing import monitoring as mon
from plumbing.procs import free_port
from training import CHAMPION_ALIAS, TrainConsole, TrainSettings, quiet_mlflow, run_training

from tests.integration.conftest import RunningCollector, start_collector

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once

SEED = 5
#: Enough history for the daily terms (two days) before an evaluation window of 0.8 days.
HISTORY_DAYS = 3.0
TRAIN_HISTORY_DAYS = 2.1
EVAL_DAYS = 0.8
INCIDENTS_PER_DAY = 16.0


@pytest.fixture(scope="module")
def served(prometheus_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[prom.Server, Path, RunningCollector]]:
    root = tmp_path_factory.mktemp("train")
    port = free_port()
    history = backfill(root / "history", days=HISTORY_DAYS, seed=SEED, instance=f"127.0.0.1:{port}", incidents_per_day=INCIDENTS_PER_DAY)
    data = root / "prometheus-data"
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda p: prom.create_blocks_from_openmetrics(p, data), history.metrics_paths))
    collector = start_collector(root / "collector", seed=SEED, port=port, extra_args=["--continue-history", str(root / "history")])
    server = None
    try:
        config = root / "prometheus.yml"
        config.write_text(mon.render_config({mon.COLLECTOR_JOB: [collector.target]}, scrape_interval_seconds=5))
        server = prom.start_prometheus(config, storage_dir=data, retention="30d", log_path=root / "prometheus.log")
        yield server, history.incidents_path, collector
    finally:
        if server is not None:
            server.stop()
        collector.child.stop()


def _backfilled(path: Path) -> list[dict]:
    return [json.loads(line)["incident"] for line in path.read_text().splitlines() if json.loads(line).get("event") == "triggered"]


def test_train_from_prometheus_with_labels_from_the_ground_truth_series(served, tmp_path: Path) -> None:
    server, incidents_path, _ = served
    quiet_mlflow()
    grid = tmp_path / "grid.yaml"
    grid.write_text("daily_order: [signals, 2]\n")
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    settings = TrainSettings(
        prometheus_url=server.url,
        history_days=TRAIN_HISTORY_DAYS,
        eval_days=EVAL_DAYS,
        grid_path=grid,
        tracking_uri=uri,
        data_dir=tmp_path / "data",
    )
    console = TrainConsole()
    with console.console.capture() as captured:
        result = run_training(settings, console=console, now_seconds=time.time())
    out = captured.get()
    assert result.status in ("promoted", "refused"), out
    assert result.version == "1" and f"prometheus {server.url}" in out

    # the labels are the backfill's incidents, read back from aiops_incident_active (to within a step)
    data = result.data
    assert data is not None and data.source == "prometheus"
    truth = [(i["kind"], i["service"], float(i["start_seconds"])) for i in _backfilled(incidents_path)]
    labels = [(i.kind, i.service, i.start_seconds) for i in data.eval_incidents]

    def found(kind: str, service: str, start: float, among: list[tuple[str, str, float]]) -> bool:
        return any(k == kind and s == service and 0 <= t_label - start <= 60.0 for k, s, t_label in among)

    assert len(labels) >= 10
    assert all(any(k == kind and s == service and 0 <= start - t <= 60.0 for k, s, t in truth) for kind, service, start in labels), labels
    expected = [(k, s, t) for k, s, t in truth if data.eval_start_seconds <= t < data.end_seconds]
    assert all(found(k, s, t, labels) for k, s, t in expected), (expected, labels)
    run = MlflowClient(uri, uri).get_run(result.run_id)
    assert run.data.tags["prometheus_url"] == server.url and run.data.params["source"] == "prometheus"
    assert run.data.metrics["incidents"] == len(labels) and run.data.params["gate_mode"] == "f1"
    ttd = run.data.metrics.get("median_time_to_detect_seconds")
    assert ttd is None or 0 <= ttd < 600
    if result.status == "promoted":
        assert str(MlflowClient(uri, uri).get_model_version_by_alias("aiops-fleet", CHAMPION_ALIAS).version) == "1"
    assert (result.run_dir / "report.md").is_file()
