"""The signals file's rate window: written once, substituted into every query, the completeness window derived from it."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from model import SIGNALS_PATH, LinearBaseline, SignalsError, load_signals, parse_signals
from model._signals import RATE_WINDOW_PLACEHOLDER

RATE_SIGNALS = ("requests", "errors", "latency")


def packaged() -> dict[str, Any]:
    return yaml.safe_load(SIGNALS_PATH.read_text(encoding="utf-8"))


def with_window(text: str, window: str) -> str:
    """The packaged file's text with only its ``rate_window`` line replaced."""
    out, n = re.subn(r"^rate_window:.*$", f"rate_window: {window}", text, flags=re.M)
    assert n == 1, "the packaged file has one top-level rate_window line"
    return out


def test_the_packaged_file_declares_two_minutes_once_and_every_query_uses_it() -> None:
    raw = packaged()
    assert raw["rate_window"] == "2m"
    assert "window_seconds" not in raw["completeness"], "the completeness window is the rate window"
    text = SIGNALS_PATH.read_text(encoding="utf-8")
    data = "\n".join(line.split("#")[0] for line in text.splitlines())  # the file without its comments
    assert "[2m]" not in data and "[120s]" not in data, "no window written out beside rate_window"
    s = load_signals()
    assert s.rate_window_seconds == 120.0 and s.completeness_window_seconds == 120.0
    for name in RATE_SIGNALS:
        assert "[120s]" in s.spec(name).promql and "$" not in s.spec(name).promql
    assert s.spec("requests").promql == "sum by (service) (rate(aiops_http_requests_total[120s]))"
    assert s.spec("errors").promql == (
        "sum by (service) (rate(aiops_http_request_errors_total[120s])) / sum by (service) (rate(aiops_http_requests_total[120s]))"
    )
    assert s.completeness_promql == 'min(sum_over_time(up{job="aiops-collector"}[120s]))'
    assert s.spec("cpu").promql == "avg by (service) (aiops_cpu_utilization_ratio)"  # no range, nothing substituted
    assert RATE_WINDOW_PLACEHOLDER == "$rate_window" and RATE_WINDOW_PLACEHOLDER in text


def test_a_copy_with_another_window_changes_only_the_windows(tmp_path: Path) -> None:
    path = tmp_path / "signals-fast.yaml"
    path.write_text(with_window(SIGNALS_PATH.read_text(encoding="utf-8"), "15s"), encoding="utf-8")
    fast, base = load_signals(path), load_signals()
    assert fast.rate_window_seconds == 15.0 and fast.completeness_window_seconds == 15.0
    assert fast.completeness_promql == base.completeness_promql.replace("[120s]", "[15s]")
    for a, b in zip(fast.signals, base.signals):
        assert a.promql == b.promql.replace("[120s]", "[15s]")
        assert a == dataclasses.replace(b, promql=a.promql)
    assert (fast.debounce_k, fast.debounce_m, fast.incident_margin_seconds) == (base.debounce_k, base.debounce_m, base.incident_margin_seconds)


@pytest.mark.parametrize(
    ("window", "seconds", "written"),
    [("2m", 120.0, "120s"), ("90s", 90.0, "90s"), ("1m30s", 90.0, "90s"), (45, 45.0, "45s"), ("1.5s", 1.5, "1500ms")],
)
def test_the_window_is_any_duration_written_back_as_a_prometheus_duration(window: Any, seconds: float, written: str) -> None:
    raw = packaged() | {"rate_window": window}
    s = parse_signals(raw)
    assert s.rate_window_seconds == seconds and s.completeness_window_seconds == seconds
    assert s.spec("latency").promql.endswith(f"[{written}])))")
    assert s.completeness_promql.endswith(f"[{written}]))")


def test_the_braced_placeholder_is_the_same() -> None:
    raw = packaged() | {"rate_window": "30s"}
    raw["signals"]["requests"]["promql"] = "sum by (service) (rate(aiops_http_requests_total[${rate_window}]))"
    assert parse_signals(raw).spec("requests").promql == "sum by (service) (rate(aiops_http_requests_total[30s]))"


def test_a_placeholder_without_a_rate_window_names_the_file_and_the_key(tmp_path: Path) -> None:
    raw = packaged()
    del raw["rate_window"]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with pytest.raises(SignalsError, match=r"mine\.yaml: signal 'requests' uses \$rate_window but the file has no top-level 'rate_window' key"):
        load_signals(path)
    only_completeness = copy.deepcopy(raw)
    for body in only_completeness["signals"].values():
        body["promql"] = body["promql"].replace("$rate_window", "2m")
    with pytest.raises(SignalsError, match=r"completeness\.promql uses \$rate_window .* 'rate_window'"):
        parse_signals(only_completeness, source="x.yaml")


def test_a_file_without_rate_window_keeps_working_when_it_writes_its_ranges_out() -> None:
    raw = packaged()
    del raw["rate_window"]
    for body in raw["signals"].values():
        body["promql"] = body["promql"].replace("$rate_window", "2m")
    raw["completeness"] = {"promql": 'min(count_over_time(up{job="aiops-collector"}[2m]))', "window_seconds": 120, "min_ratio": 0.9}
    s = parse_signals(raw)
    assert s.rate_window_seconds is None
    assert s.completeness_window_seconds == 120.0 and s.completeness_promql.endswith("[2m]))")
    assert s.spec("requests").promql == "sum by (service) (rate(aiops_http_requests_total[2m]))"
    # the same set as the packaged file's, apart from how the windows are written
    base = load_signals()
    assert [x.name for x in s.signals] == [x.name for x in base.signals]
    assert [x.promql.replace("[2m]", "[120s]") for x in s.signals] == [x.promql for x in base.signals]


@pytest.mark.parametrize("bad", ["soon", "2 m", "0s", "-5s", ""])
def test_a_bad_rate_window_is_an_error(bad: str) -> None:
    with pytest.raises(SignalsError, match=r"^f\.yaml: rate_window"):
        parse_signals(packaged() | {"rate_window": bad}, source="f.yaml")


def test_a_completeness_window_of_its_own_must_agree_with_the_rate_window() -> None:
    raw = packaged()
    raw["completeness"]["window_seconds"] = 120
    assert parse_signals(raw).completeness_window_seconds == 120.0  # the same number is harmless
    raw["completeness"]["window_seconds"] = 60
    with pytest.raises(SignalsError, match=r"completeness\.window_seconds \(60\) differs from rate_window \(120s\)"):
        parse_signals(raw)


def test_a_misspelt_placeholder_is_an_error() -> None:
    raw = packaged()
    raw["signals"]["latency"]["promql"] = raw["signals"]["latency"]["promql"].replace("$rate_window", "$rate_windw")
    with pytest.raises(SignalsError, match=r"signal 'latency' has an unknown placeholder in \[\$rate_windw\]"):
        parse_signals(raw)


def test_ridge_is_a_knob_with_the_estimators_default_and_a_floor_of_zero() -> None:
    packaged = load_signals()
    assert {s.ridge for s in packaged.signals} == {LinearBaseline().ridge}
    raw = {"defaults": {"ridge": 0.01}, "signals": {"requests": {"promql": "x"}, "cpu": {"promql": "y", "ridge": "1e-3"}}}
    parsed = parse_signals(raw)
    assert parsed.spec("requests").ridge == 0.01 and parsed.spec("cpu").ridge == 1e-3
    with pytest.raises(SignalsError, match="ridge must be a number >= 0"):
        parse_signals({"signals": {"requests": {"promql": "x", "ridge": -1}}})
