"""The conftest rule: under AIOPS_REQUIRE_INTEGRATION=1 a skipped integration test fails."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

SKIPPING_TESTS = """
import pytest

@pytest.mark.integration
def test_needs_a_binary():
    pytest.skip("needs the `prometheus` binary")

def test_plain_skip_stays_a_skip():
    pytest.skip("not relevant here")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nmarkers =\n    integration: needs the real binaries\n")
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_rule=SKIPPING_TESTS)
    return pytester


def test_without_the_variable_an_integration_test_may_skip(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIOPS_REQUIRE_INTEGRATION", raising=False)
    suite.runpytest().assert_outcomes(skipped=2)


def test_with_the_variable_a_skipped_integration_test_fails(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_REQUIRE_INTEGRATION", "1")
    result = suite.runpytest()
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*AIOPS_REQUIRE_INTEGRATION=1*may not be skipped*needs the `prometheus` binary*"])
