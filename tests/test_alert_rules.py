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
    broken = rules.replace("expr: aiops_detector_incident_active == 1\n", "expr: aiops_detector_incident_active == 1\n        for: 1m\n")
    assert broken != rules
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "aiops-alerts.yml").write_text(broken)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.yml").write_text((MONITORING / "tests" / "aiops-alerts.test.yml").read_text())
    done = subprocess.run([promtool_bin, "test", "rules", str(tmp_path / "tests" / "t.yml")], capture_output=True, text=True)
    assert done.returncode != 0
