"""The alert rules on the detector's outputs: valid, and they fire when they should (promtool)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

MONITORING = Path(__file__).resolve().parent.parent / "monitoring"


@pytest.mark.integration
def test_promtool_check_rules_accepts_the_alert_rules(promtool_bin: str) -> None:
    done = subprocess.run([promtool_bin, "check", "rules", str(MONITORING / "rules" / "aiops-alerts.yml")], capture_output=True, text=True)
    assert done.returncode == 0 and "SUCCESS: 3 rules found" in done.stdout, done.stdout + done.stderr


@pytest.mark.integration
def test_promtool_unit_tests_of_the_alert_rules_pass(promtool_bin: str) -> None:
    done = subprocess.run([promtool_bin, "test", "rules", str(MONITORING / "tests" / "aiops-alerts.test.yml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_promtool_unit_tests_catch_a_broken_rule(promtool_bin: str, tmp_path: Path) -> None:
    """The rule tests can fail: the same tests against a rule with a `for:` delay do."""
    rules = (MONITORING / "rules" / "aiops-alerts.yml").read_text()
    broken = rules.replace('expr: aiops_detector_incident_active{model="online"} == 1\n', 'expr: aiops_detector_incident_active{model="online"} == 1\n        for: 1m\n')
    assert broken != rules
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "aiops-alerts.yml").write_text(broken)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.yml").write_text((MONITORING / "tests" / "aiops-alerts.test.yml").read_text())
    done = subprocess.run([promtool_bin, "test", "rules", str(tmp_path / "tests" / "t.yml")], capture_output=True, text=True)
    assert done.returncode != 0


@pytest.mark.integration
def test_the_rules_render_for_the_champion_and_promtool_sees_only_its_detections_page(promtool_bin: str, tmp_path: Path) -> None:
    from plumbing.monitoring import render_rules

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "aiops-alerts.yml").write_text(render_rules("champion"))
    check = subprocess.run([promtool_bin, "check", "rules", str(tmp_path / "rules" / "aiops-alerts.yml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    (tmp_path / "t.yml").write_text(
        """rule_files: [rules/aiops-alerts.yml]
evaluation_interval: 5s
tests:
  - interval: 5s
    input_series:
      - series: 'aiops_detector_incident_active{service="database", cause_signal="errors", model="online"}'
        values: "1 1 1"
      - series: 'aiops_detector_incident_active{service="database", cause_signal="errors", model="champion"}'
        values: "1 1 1"
    alert_rule_test:
      - eval_time: 5s
        alertname: AIOpsIncidentDetected
        exp_alerts:
          - exp_labels: {severity: warning, service: database, cause_signal: errors, model: champion}
            exp_annotations:
              summary: "database: anomaly in errors (probable cause)"
              description: "The detector groups anomalies on database and the services around it into one incident; its probable cause is the errors signal. See the detector's /api/incidents/detected for the explanation."
"""
    )
    done = subprocess.run([promtool_bin, "test", "rules", str(tmp_path / "t.yml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_render_rules_refuses_an_unknown_model() -> None:
    from plumbing.monitoring import render_rules

    with pytest.raises(ValueError, match="alerting model must be one of online, champion, not 'both'"):
        render_rules("both")
