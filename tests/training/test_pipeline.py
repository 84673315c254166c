"""`aiops train` end to end on the simulator's history, each test with its own real sqlite MLflow store."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from aiops.cli import main
from model import FleetModel
from training import CHAMPION_ALIAS, TrainConsole, TrainSettings, load_champion, quiet_mlflow, run_training

from conftest import FLAT_GRID, GOOD_GRID


@pytest.fixture(autouse=True)
def _quiet() -> None:
    quiet_mlflow()


def _run(settings: TrainSettings) -> tuple[object, str]:
    """Run the pipeline, returning its result and what it printed (plain text, as in a log)."""
    console = TrainConsole()
    with console.console.capture() as captured:
        result = run_training(settings, console=console)
    return result, captured.get()


def _client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_first_run_registers_version_1_as_champion_with_its_report(settings: Callable[..., TrainSettings], tracking_uri: str, no_mlruns: Path) -> None:
    s = settings()
    result, out = _run(s)
    assert result.status == "promoted" and result.exit_code == 0 and result.version == "1"
    assert [st.name for st in result.stages] == ["extract", "validate", "train", "evaluate", "recalibrate", "gate", "register"]
    assert [st.status for st in result.stages] == ["ok", "warn", "ok", "ok", "ok", "ok", "ok"]  # 4 days of history: no weekly terms
    assert "the weekly terms need 7.00 days" in out
    assert "no champion yet: it becomes the first" in out and "Summary" in out

    client = _client(tracking_uri)
    assert str(client.get_model_version_by_alias("aiops-fleet", CHAMPION_ALIAS).version) == "1"
    version = client.get_model_version("aiops-fleet", "1")
    assert version.tags["gate"] == "promoted" and version.run_id == result.run_id
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["daily_order"] in ("signals", "2") and run.data.params["train_days"] == "3"
    assert run.data.metrics["f1"] == result.results[0].evaluation.f1 >= 0.8
    assert {"residual_error", "false_alarms_per_day", "median_time_to_detect_seconds", "mae_latency"} <= set(run.data.metrics)
    assert run.data.tags["seed"] == "0" and run.data.tags["kit_version"] and run.data.tags["git_commit"]
    assert run.data.tags["data_start"] < run.data.tags["eval_start"] < run.data.tags["data_end"]
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'")
    assert len(children) == 2  # one nested run per candidate

    artifacts = {a.path for a in client.list_artifacts(result.run_id, "report")}
    assert {"report/report.md", "report/series.png", "report/coefficients.png", "report/candidates.png", "report/fleet-model.json"} <= artifacts
    assert result.run_dir is not None and result.run_dir.parent == s.data_dir / "training" / "runs"
    report = (result.run_dir / "report.md").read_text()
    assert "## Decision: version 1 promoted" in report and "![" in report
    for png in ("series.png", "coefficients.png", "candidates.png"):
        assert (result.run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_champion_loads_back_through_mlflow_and_scores_exactly_as_the_trained_model(
    settings: Callable[..., TrainSettings], tracking_uri: str, dataset, no_mlruns: Path
) -> None:
    result, _ = _run(settings())
    trained: FleetModel = result.model
    frame = dataset.window(dataset.eval_start_seconds - 3600.0, dataset.eval_start_seconds + 6 * 3600.0)
    expected = trained.score(frame)

    version, champion = load_champion(tracking_uri, "aiops-fleet")
    assert version == "1"
    pd.testing.assert_frame_equal(champion.score(frame), expected)

    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/aiops-fleet@{CHAMPION_ALIAS}")
    pd.testing.assert_frame_equal(pyfunc.predict(frame), expected)
    # flat "service/signal" columns (what JSON can carry) come back flat
    flat = frame.set_axis([f"{a}/{b}" for a, b in frame.columns], axis=1)
    back = pyfunc.predict(flat)
    assert list(back.columns) == [f"{a}/{b}" for a, b in expected.columns]
    pd.testing.assert_frame_equal(back.set_axis(expected.columns, axis=1), expected)


def test_a_worse_grid_is_registered_and_refused_with_both_sets_of_numbers(
    settings: Callable[..., TrainSettings], write_grid, tracking_uri: str, no_mlruns: Path
) -> None:
    first, _ = _run(settings())
    assert first.status == "promoted"
    worse, out = _run(settings(grid_path=write_grid(FLAT_GRID, "flat.yaml")))
    assert worse.status == "refused" and worse.exit_code == 0 and worse.version == "2"
    assert worse.champion_before == "1"
    best, champion = worse.results[0].evaluation, worse.champion_evaluation
    assert champion is not None and best.f1 < champion.f1
    reason = f"F1 {best.f1:.4f} is lower than the champion's {champion.f1:.4f}"
    assert reason in out and "✗ refuse" in out
    assert "champion v1" in out and f"{best.residual_error:.4f}" in out and f"{champion.residual_error:.4f}" in out
    client = _client(tracking_uri)
    assert str(client.get_model_version_by_alias("aiops-fleet", CHAMPION_ALIAS).version) == "1"
    tags = client.get_model_version("aiops-fleet", "2").tags
    assert tags["gate"] == "refused" and reason in tags["gate_reasons"]


def test_a_candidate_that_beats_a_weak_champion_moves_the_alias(
    settings: Callable[..., TrainSettings], write_grid, tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], no_mlruns: Path,
) -> None:  # fmt: skip
    weak, _ = _run(settings(grid_path=write_grid(FLAT_GRID, "flat.yaml"), min_recall=0.0, min_precision=0.0, min_f1=0.0))
    assert weak.status == "promoted" and weak.version == "1"
    # the second run goes through the command line, options over the environment
    monkeypatch.setenv("AIOPS_TRAIN_HISTORY_DAYS", "4")
    monkeypatch.setenv("AIOPS_TRAIN_EVAL_DAYS", "1")
    monkeypatch.setenv("AIOPS_TRAIN_DATA_DIR", str(tmp_path / "data"))
    code = main(["train", "--tracking-uri", tracking_uri, "--grid", str(write_grid(GOOD_GRID, "good.yaml"))])
    out = capsys.readouterr().out
    assert code == 0
    assert "beats champion version 1" in out and "champion alias moved to it" in out
    assert str(_client(tracking_uri).get_model_version_by_alias("aiops-fleet", CHAMPION_ALIAS).version) == "2"
    for stage in ("extract", "validate", "train", "evaluate", "recalibrate", "gate", "register", "wall clock"):
        assert stage in out


def test_too_little_history_is_reported_with_a_fix_and_nothing_is_registered(
    settings: Callable[..., TrainSettings], tracking_uri: str, no_mlruns: Path
) -> None:
    result, out = _run(settings(history_days=1.0))
    assert result.status == "invalid" and result.exit_code == 2 and result.version is None
    failed = {c.name: c for c in result.validation.failed}
    assert set(failed) == {"history"}
    assert "the daily terms need 2.00 days" in out and "fix: pass --history-days 2 or more" in out
    assert [st.status for st in result.stages] == ["ok", "failed", "skipped", "skipped", "skipped", "skipped", "skipped"]
    assert "Traceback" not in out
    assert _client(tracking_uri).search_model_versions("name = 'aiops-fleet'") == []


def test_the_command_exits_2_on_a_validation_failure(tmp_path: Path, tracking_uri: str, capsys, no_mlruns: Path) -> None:
    code = main(["train", "--history-days", "1", "--eval-days", "1", "--tracking-uri", tracking_uri, "--out-dir", str(tmp_path / "runs")])
    captured = capsys.readouterr()
    assert code == 2
    assert "✗ history" in captured.out and "validation failed" in captured.out and "Traceback" not in captured.out + captured.err


def test_an_unreachable_tracking_server_is_one_clear_line_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, no_mlruns: Path) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("AIOPS_TRAIN_DATA_DIR", str(tmp_path / "data"))
    started = time.monotonic()
    code = main(["train", "--tracking-uri", "http://127.0.0.1:9"])
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == 2 and elapsed < 10
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "http://127.0.0.1:9" in lines[0] and lines[0].startswith("aiops train: error:")
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize("uri", ["nosuchscheme://somewhere", "sqlite:////proc/no/such/dir/mlflow.db"])
def test_a_bad_tracking_uri_is_one_clear_line(uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, no_mlruns: Path) -> None:
    monkeypatch.setenv("AIOPS_TRAIN_DATA_DIR", str(tmp_path / "data"))
    code = main(["train", "--tracking-uri", uri])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and uri in err


def test_a_bad_grid_is_one_line_naming_the_key_and_the_allowed_values(write_grid, tmp_path: Path, tracking_uri: str, capsys, no_mlruns: Path) -> None:
    grid = write_grid("daily_order: [4, -1]\n", "bad.yaml")
    code = main(["train", "--grid", str(grid), "--tracking-uri", tracking_uri, "--out-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and "daily_order has a bad value -1" in err and "a whole number >= 0, or 'signals'" in err


def test_the_default_store_lives_under_the_data_directory(tmp_path: Path) -> None:
    s = TrainSettings.from_env({"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert s.resolved_tracking_uri() == f"sqlite:///{tmp_path / 'xdg' / 'aiops' / 'mlflow' / 'mlflow.db'}"
    assert s.runs_dir() == tmp_path / "xdg" / "aiops" / "training" / "runs"
    assert json.dumps(s.resolved_tracking_uri()).count("mlruns") == 0
    assert os.path.isabs(s.resolved_tracking_uri().removeprefix("sqlite:///"))
