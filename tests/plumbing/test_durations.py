"""One duration grammar for options, variables, YAML files and Prometheus' config."""

from __future__ import annotations

import argparse

import pytest

from plumbing.durations import duration_arg, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0), ("1.5", 1.5), ("90s", 90.0), ("5m", 300.0), ("1.5h", 5400.0), ("2d", 172800.0),
        ("6m30s", 390.0), ("1h30m", 5400.0), ("500ms", 0.5), ("1m30s", 90.0), ("1w", 604800.0), (" 5s ", 5.0),
    ],
)  # fmt: skip
def test_plain_compound_and_prometheus_forms_read_the_same(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "6x", "m5", "5 m 3", "5 s", "s5", "-5s", "5m-3s"])
def test_anything_else_is_refused_naming_the_grammar(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration.*e.g. 90s"):
        parse_duration(text)


def test_numbers_pass_through_and_format_back_for_prometheus() -> None:
    assert parse_duration(7) == 7.0
    assert [format_duration(s) for s in (1, 5.0, 0.25, 60)] == ["1s", "5s", "250ms", "60s"]
    with pytest.raises(ValueError):
        format_duration(0)


def test_the_argparse_type_reports_a_usage_error() -> None:
    assert duration_arg("2m") == 120.0
    with pytest.raises(argparse.ArgumentTypeError, match="not a duration"):
        duration_arg("soon")
