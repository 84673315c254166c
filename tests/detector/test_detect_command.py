"""`aiops detect --signals FILE`: a bad file is a one-line usage error naming it; a good one reaches the service."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import detector
import plumbing.serving
from aiops.cli import main
from model import SIGNALS_PATH


@pytest.fixture
def no_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad --signals is reported before the detector takes its port."""

    def bind(*args: object, **kwargs: object) -> None:
        raise AssertionError("aiops detect bound its port before checking --signals")

    monkeypatch.setattr(plumbing.serving, "bind", bind)


def _detect(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["detect", "--port", "0", "--infer-every", "5s", *argv])
    return code, capsys.readouterr().err


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("aiops detect: error: --signals: "), err
    return lines[0]


@pytest.mark.usefixtures("no_bind")
def test_a_missing_signals_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    code, err = _detect(capsys, "--signals", str(missing))
    assert code == 2
    assert str(missing) in _one_line_error(err)


@pytest.mark.usefixtures("no_bind")
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("signals: [unclosed\n  - x: 1\n", r"while parsing|expected"),
        ("rate_window: 2m\n", r"needs a non-empty 'signals' mapping"),
        ("rate_window: soon\nsignals:\n  requests:\n    promql: rate(x[$rate_window])\n", r"rate_window: not a duration: 'soon'"),
        ("signals:\n  requests:\n    promql: rate(x[$rate_window])\n", r"uses \$rate_window but the file has no top-level 'rate_window' key"),
    ],
)
def test_a_bad_signals_file_is_a_one_line_usage_error_naming_the_file_and_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    bad = tmp_path / "bad-signals.yaml"
    bad.write_text(text, encoding="utf-8")
    code, err = _detect(capsys, "--signals", str(bad))
    assert code == 2
    line = _one_line_error(err)
    assert str(bad) in line
    assert re.search(problem, line), line


def test_the_signals_file_is_handed_to_the_service(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fast = tmp_path / "signals-fast.yaml"
    fast.write_text(re.sub(r"^rate_window:.*$", "rate_window: 15s", SIGNALS_PATH.read_text(encoding="utf-8"), flags=re.M), encoding="utf-8")
    seen: dict[str, object] = {}
    real_build_service = detector.build_service

    def build_service(settings: object, *, incident_records: Path | None = None, signals_path: Path | None = None, registry: object = None) -> None:
        seen["service"] = real_build_service(settings, incident_records=incident_records, signals_path=signals_path, registry=registry)  # type: ignore[arg-type]
        raise KeyboardInterrupt  # stop before serving (aiops exits with 130, as on Ctrl-C)

    monkeypatch.setattr(detector, "build_service", build_service)
    code = main(["detect", "--port", "0", "--infer-every", "1s", "--signals", str(fast)])
    assert code == 130, capsys.readouterr().err
    service = seen["service"]
    assert service.signals.rate_window_seconds == 15.0  # type: ignore[attr-defined]
    assert service.signals.completeness_window_seconds == 15.0  # type: ignore[attr-defined]
    assert service.source.signals is service.signals  # type: ignore[attr-defined]
    assert "[15s]" in service.source.signals.spec("requests").promql  # type: ignore[attr-defined]
