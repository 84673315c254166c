"""The monitoring configs are found as package data, or where AIOPS_MONITORING_DIR says, never through the current directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from plumbing import monitoring


def test_the_configs_are_found_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    found = monitoring.monitoring_dir({})
    assert (found / "prometheus.yml").is_file() and (found / "alertmanager.yml").is_file()
    assert (found / "rules" / "aiops-alerts.yml").is_file()
    assert monitoring.scrape_interval_seconds(monitoring.prometheus_config({})) > 0


def test_a_variable_points_at_another_copy(tmp_path: Path) -> None:
    copy = tmp_path / "room"
    shutil.copytree(monitoring.monitoring_dir({}), copy)
    text = (copy / "prometheus.yml").read_text()
    (copy / "prometheus.yml").write_text(text.replace("scrape_interval: 5s", "scrape_interval: 15s"))
    env = {monitoring.MONITORING_DIR_ENV: str(copy)}
    assert monitoring.prometheus_config(env) == copy / "prometheus.yml"
    assert monitoring.scrape_interval_seconds(monitoring.prometheus_config(env)) == 15.0


def test_a_variable_pointing_at_nothing_says_so(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="AIOPS_MONITORING_DIR=.*no prometheus.yml"):
        monitoring.monitoring_dir({monitoring.MONITORING_DIR_ENV: str(tmp_path)})
