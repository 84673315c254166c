"""TrainSettings: AIOPS_TRAIN_* variables, the store under the data folder, the simulator by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.commands.train import TRACKING_URI_ENV
from plumbing.settings import SettingsError, env_var
from training import TrainSettings


def test_the_simulator_stays_the_default_when_the_detectors_prometheus_is_exported() -> None:
    s = TrainSettings.from_env({"AIOPS_PROMETHEUS_URL": "http://127.0.0.1:9090"})
    assert s.prometheus_url == "" and not s.uses_prometheus
    assert TrainSettings.from_env({"AIOPS_TRAIN_PROMETHEUS_URL": "http://p:9090"}).uses_prometheus


def test_the_store_and_the_runs_live_under_the_data_folder(tmp_path: Path) -> None:
    s = TrainSettings.from_env({"XDG_DATA_HOME": str(tmp_path)})
    assert s.data_dir == tmp_path / "aiops"
    assert s.resolved_tracking_uri() == f"sqlite:///{tmp_path}/aiops/mlflow/mlflow.db"
    assert s.runs_dir() == tmp_path / "aiops" / "training" / "runs"
    other = TrainSettings.from_env({"AIOPS_TRAIN_TRACKING_URI": "http://mlflow:5000", "AIOPS_TRAIN_OUT_DIR": str(tmp_path / "r")})
    assert other.resolved_tracking_uri() == "http://mlflow:5000" and other.runs_dir() == tmp_path / "r"
    assert TrainSettings.from_env({}, seed=3, history_days=None).seed == 3


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AIOPS_TRAIN_MIN_F1": "1.5"}, "min_f1 must be in [0, 1]"),
        ({"AIOPS_TRAIN_EVAL_DAYS": "0"}, "history_days and eval_days must be > 0"),
        ({"AIOPS_TRAIN_SEED": "x"}, "AIOPS_TRAIN_SEED='x': not an integer"),
        ({"AIOPS_TRAIN_STEP_SECONDS": "fast"}, "not a duration"),
    ],
)
def test_a_bad_value_names_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TrainSettings.from_env(env)


def test_the_command_reads_the_tracking_uri_from_the_settings_variable() -> None:
    assert env_var(TrainSettings, "tracking_uri") == TRACKING_URI_ENV
