"""The project's Prometheus/Alertmanager configs: valid, one timing number, rendered copies stay valid."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from plumbing import binaries as prom
from plumbing import durations
from plumbing import monitoring as mon


def test_scrape_interval_is_read_from_the_project_config() -> None:
    written = yaml.safe_load(mon.prometheus_config().read_text())["global"]["scrape_interval"]
    assert mon.scrape_interval_seconds() == durations.parse_duration(written)
    assert mon.scrape_interval_seconds() > 0


def test_scrape_interval_is_written_down_once_with_a_reason() -> None:
    text = mon.prometheus_config().read_text()
    assert text.count("scrape_interval:") == 1
    before = text.split("scrape_interval:")[0].splitlines()[-6:]
    assert any("Why" in line or "why" in line for line in before), "say why this number, next to it"


def test_the_collector_job_scrapes_the_collectors_default_address() -> None:
    config = yaml.safe_load(mon.prometheus_config().read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs[mon.COLLECTOR_JOB]["static_configs"] == [{"targets": ["127.0.0.1:8000"]}]


@pytest.mark.parametrize(("seconds", "text"), [(1, "1s"), (5.0, "5s"), (0.25, "250ms"), (60, "60s")])
def test_durations_format_back(seconds: float, text: str) -> None:
    assert durations.format_duration(seconds) == text
    assert durations.parse_duration(text) == pytest.approx(seconds)


def test_rendered_config_has_the_given_targets_and_interval() -> None:
    config = yaml.safe_load(mon.render_config({mon.COLLECTOR_JOB: ["127.0.0.1:18000"]}, scrape_interval_seconds=1))
    assert config["global"]["scrape_interval"] == "1s"
    assert durations.parse_duration(config["global"]["scrape_timeout"]) <= 1
    assert [job["static_configs"] for job in config["scrape_configs"]] == [[{"targets": ["127.0.0.1:18000"]}]]


def test_rendered_config_keeps_the_project_interval_by_default() -> None:
    config = yaml.safe_load(mon.render_config({mon.COLLECTOR_JOB: ["127.0.0.1:18000"]}))
    assert durations.parse_duration(config["global"]["scrape_interval"]) == mon.scrape_interval_seconds()


def test_rendering_an_unknown_job_is_an_error() -> None:
    with pytest.raises(ValueError, match="no scrape job"):
        mon.render_config({"no-such-job": ["127.0.0.1:1"]})


def test_rendered_rule_files_become_absolute(tmp_path: Path) -> None:
    base = tmp_path / "monitoring" / "prometheus.yml"
    base.parent.mkdir()
    base.write_text("global: {scrape_interval: 5s}\nrule_files: [rules/a.yml]\nscrape_configs: [{job_name: j, static_configs: [{targets: ['x:1']}]}]\n")
    config = yaml.safe_load(mon.render_config({"j": ["y:2"]}, base=base))
    assert config["rule_files"] == [str(base.parent / "rules" / "a.yml")]


@pytest.mark.integration
def test_promtool_accepts_the_project_config(promtool_bin: str) -> None:
    assert "SUCCESS" in prom.check_config(mon.prometheus_config())


@pytest.mark.integration
def test_promtool_accepts_a_rendered_config(promtool_bin: str, tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(mon.render_config({mon.COLLECTOR_JOB: ["127.0.0.1:18000"]}, scrape_interval_seconds=1))
    assert "SUCCESS" in prom.check_config(path)


@pytest.mark.integration
def test_promtool_rejects_a_broken_config(promtool_bin: str, tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text("global: {scrape_interval: fast}\n")
    with pytest.raises(prom.PromtoolError):
        prom.check_config(path)


@pytest.mark.integration
def test_promtool_check_metrics_flags_a_lint_problem(promtool_bin: str) -> None:
    good = "# HELP aiops_x_total Things.\n# TYPE aiops_x_total counter\naiops_x_total 1\n"
    assert prom.check_metrics(good) == ""
    with pytest.raises(prom.PromtoolError, match="counter"):
        prom.check_metrics("# HELP aiops_x Things.\n# TYPE aiops_x counter\naiops_x 1\n")


@pytest.mark.integration
def test_amtool_accepts_the_alertmanager_config(alertmanager_bin: str) -> None:
    amtool = prom.find_binary("amtool")
    if amtool is None:
        pytest.skip(f"needs `amtool` (comes with prometheus-alertmanager); install it with: {prom.INSTALL_HINT}")
    done = subprocess.run([amtool, "check-config", str(mon.alertmanager_config())], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_amtool_accepts_the_rendered_config_with_the_responders_token(alertmanager_bin: str, tmp_path: Path) -> None:
    amtool = prom.find_binary("amtool")
    if amtool is None:
        pytest.skip(f"needs `amtool` (comes with prometheus-alertmanager); install it with: {prom.INSTALL_HINT}")
    text = mon.render_alertmanager_config("http://127.0.0.1:8002/alertmanager", token="responder-token")
    [hook] = yaml.safe_load(text)["receivers"][0]["webhook_configs"]
    assert hook["http_config"]["authorization"] == {"type": "Bearer", "credentials": "responder-token"}
    (tmp_path / "alertmanager.yml").write_text(text)
    done = subprocess.run([amtool, "check-config", str(tmp_path / "alertmanager.yml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_kits_alert_names_are_read_from_the_rule_files() -> None:
    assert mon.alert_names() == ("AIOpsIncidentDetected", "AIOpsDetectorCyclesFailing", "AIOpsDetectorDown")
