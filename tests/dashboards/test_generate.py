"""The committed JSON and Grafana's provisioning files are what the code generates (``aiops dashboards generate --check``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import pytest
import yaml

from dashboards import (
    DATASOURCE_NAME,
    DATASOURCE_UID,
    FOLDER_UID,
    GRAFANA_DASHBOARDS_PATH,
    JSON_DIR,
    dashboards,
    generated_files,
    write_generated,
)
from plumbing.durations import format_duration, parse_duration
from plumbing.monitoring import monitoring_dir, prometheus_config, scrape_interval_seconds

PROVISIONING = monitoring_dir() / "grafana" / "provisioning"


def test_the_committed_files_are_what_the_code_generates() -> None:
    stale = [str(f.path) for f in write_generated(generated_files(), check=True)]
    assert not stale, f"out of date with the code: {stale}; run `aiops dashboards generate`"


def test_the_json_folder_holds_one_file_per_dashboard_named_by_uid() -> None:
    assert sorted(p.name for p in JSON_DIR.glob("*.json")) == sorted(f"{uid}.json" for uid in dashboards())
    for uid in dashboards():
        assert json.loads((JSON_DIR / f"{uid}.json").read_text())["uid"] == uid


def test_the_datasource_has_the_fixed_uid_and_the_scrape_interval_of_prometheus_yml() -> None:
    provisioned = yaml.safe_load((PROVISIONING / "datasources" / "aiops.yml").read_text())
    [ds] = provisioned["datasources"]
    assert (ds["uid"], ds["name"], ds["type"]) == (DATASOURCE_UID, DATASOURCE_NAME, "prometheus")
    scrape = yaml.safe_load(prometheus_config().read_text())["global"]["scrape_interval"]
    assert parse_duration(ds["jsonData"]["timeInterval"]) == parse_duration(scrape) == scrape_interval_seconds()
    assert ds["url"] == "${AIOPS_PROMETHEUS_URL}"


def test_the_dashboard_provider_loads_the_json_folder_into_the_kits_folder() -> None:
    [provider] = yaml.safe_load((PROVISIONING / "dashboards" / "aiops.yml").read_text())["providers"]
    assert provider["type"] == "file" and provider["folderUid"] == FOLDER_UID
    assert provider["options"]["path"] == GRAFANA_DASHBOARDS_PATH


def test_a_changed_scrape_interval_changes_the_datasource_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "monitoring"
    copy.mkdir()
    text = prometheus_config().read_text().replace("scrape_interval: 5s", "scrape_interval: 15s")
    (copy / "prometheus.yml").write_text(text)
    monkeypatch.setenv("AIOPS_MONITORING_DIR", str(copy))
    files = generated_files(json_dir=tmp_path / "json", provisioning_dir=tmp_path / "prov")
    [datasource] = [f for f in files if f.path.parent.name == "datasources"]
    assert f"timeInterval: {format_duration(15)}" in datasource.text


def test_write_then_check_then_drift(tmp_path: Path) -> None:
    files = generated_files(json_dir=tmp_path / "json", provisioning_dir=tmp_path / "prov")
    assert len(write_generated(files)) == len(files)  # all new
    assert write_generated(files, check=True) == []
    first = files[0].path
    first.write_text(first.read_text().replace('"Fleet overview"', '"Edited in the UI"'))
    (tmp_path / "json" / "old-dashboard.json").write_text("{}")
    stale = {f.path.name for f in write_generated(files, check=True)}
    assert stale == {first.name, "old-dashboard.json"}
    write_generated(files)
    assert write_generated(files, check=True) == [] and not (tmp_path / "json" / "old-dashboard.json").exists()


def test_the_command_checks_and_says_what_to_run(aiops: Callable[[Sequence[str]], int], capsys: pytest.CaptureFixture[str]) -> None:
    assert aiops(["dashboards", "generate", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
