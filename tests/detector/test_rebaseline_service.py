"""The re-baseline rule in the detector service: its setting, option, guard, metric and event entry."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

import pytest
from prometheus_client import CollectorRegistry

from aiops.cli import build_parser
from aiops.commands.detect import build_settings
from detector._exposition import DetectorCollector, DetectorSnapshot
from detector._rebaseline import Rebaseline, Rebaseliner, make_rebaseliner, rebaseline_sentence
from detector._settings import DetectorSettings
from model import load_signals
from plumbing.errors import UsageError
from plumbing.settings import SettingsError

SIGNALS = load_signals()


def test_the_horizon_is_a_duration_setting_with_an_option_and_an_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert DetectorSettings().rebaseline_after_seconds == 900.0
    assert DetectorSettings.from_env({"AIOPS_DETECTOR_REBASELINE_AFTER_SECONDS": "20m"}).rebaseline_after_seconds == 1200.0
    args = build_parser().parse_args(["detect", "--rebaseline-after", "1h"])
    assert build_settings(args).rebaseline_after_seconds == 3600.0
    args = build_parser().parse_args(["detect", "--rebaseline-after", "0"])
    assert build_settings(args).rebaseline_after_seconds == 0.0
    with pytest.raises(SettingsError, match="AIOPS_DETECTOR_REBASELINE_AFTER_SECONDS='soon': not a duration"):
        DetectorSettings.from_env({"AIOPS_DETECTOR_REBASELINE_AFTER_SECONDS": "soon"})
    with pytest.raises(ValueError, match=r"rebaseline_after_seconds must be >= 0 \(0: never re-baseline\), not -5"):
        DetectorSettings(rebaseline_after_seconds=-5.0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["detect", "--rebaseline-after=-5s"])
    assert "argument --rebaseline-after: not a duration: '-5s'" in capsys.readouterr().err
    with pytest.raises(UsageError, match="rebaseline_after_seconds must be >= 0"):
        build_settings(SimpleNamespace(**{**vars(build_parser().parse_args(["detect"])), "rebaseline_after": -5.0}))


def test_only_an_online_detector_with_a_horizon_re_baselines() -> None:
    online = make_rebaseliner(DetectorSettings(), SIGNALS)
    assert isinstance(online, Rebaseliner) and online.after_seconds == 900.0 and online.runs.max_gap_seconds == 180.0
    assert make_rebaseliner(DetectorSettings(rebaseline_after_seconds=0.0), SIGNALS) is None
    frozen = SimpleNamespace(rebaseline_after_seconds=900.0, model_source="registry")  # a champion served from the registry
    assert make_rebaseliner(frozen, SIGNALS) is None  # type: ignore[arg-type]


def test_the_event_entry_and_its_sentence_carry_the_numbers() -> None:
    rb = Rebaseliner(after_seconds=900.0, max_gap_seconds=180.0, signals=SIGNALS)
    change = Rebaseline(service="payments", signal="latency", since_seconds=1_767_355_310.0, accepted_seconds=1_767_356_215.0, offset=0.4313)
    entry = rb.event(change)
    assert entry["kind"] == "rebaseline" and entry["onset"] is False  # not a flag: the scoreboard and the FLAG lines skip it
    assert (entry["service"], entry["signal"], entry["offset"], entry["lasted_seconds"]) == ("payments", "latency", 0.4313, 905.0)
    assert entry["explanation"] == (
        "payments p95 latency: flagged for 15m05s (since 12:01:50Z, horizon 15m00s); accepted as the new normal: "
        "the baseline moves by +431 ms (the median residual since the change began)"
    )
    assert rebaseline_sentence(change, subject="x", unit="seconds", after_seconds=7200.0).startswith("x: flagged for 15m05s (since 12:01:50Z, horizon 2h00m00s)")


def test_the_count_of_accepted_changes_is_a_counter_per_series() -> None:
    snap = DetectorSnapshot(rebaselines_total={("payments", "latency"): 2, ("checkout", "latency"): 1})
    reg = CollectorRegistry()
    reg.register(DetectorCollector(lambda: snap))
    assert reg.get_sample_value("aiops_detector_rebaselines_total", {"service": "payments", "signal": "latency", "model": "online"}) == 2.0
    assert reg.get_sample_value("aiops_detector_rebaselines_total", {"service": "checkout", "signal": "latency", "model": "online"}) == 1.0
    empty = CollectorRegistry()
    empty.register(DetectorCollector(lambda: DetectorSnapshot()))
    assert empty.get_sample_value("aiops_detector_rebaselines_total", {"service": "payments", "signal": "latency", "model": "online"}) is None


def _rows(values, expected, start: float = 1_767_356_300.0):
    ts = pd.to_datetime(start + 5.0 * np.arange(len(values)), unit="s", utc=True)
    return pd.DataFrame({"timestamp": ts, "service": "checkout", "signal": "cpu", "value": values, "expected": expected, "anomalous": False})


def test_an_accepted_change_that_goes_away_is_withdrawn_once_and_one_that_stays_is_kept() -> None:
    rb = Rebaseliner(after_seconds=900.0, max_gap_seconds=180.0, signals=SIGNALS)
    rb.accepted[("checkout", "cpu")] = Rebaseline(service="checkout", signal="cpu", since_seconds=1_767_355_300.0, accepted_seconds=1_767_356_200.0, offset=0.40)
    expected_with_offset = np.full(60, 0.70)  # old baseline 0.30 + the accepted 0.40
    stays = _rows(np.full(60, 0.71), expected_with_offset)
    assert rb.withdraw_returned(stays) == [] and ("checkout", "cpu") in rb.accepted
    gone = _rows(np.r_[np.full(20, 0.71), np.full(40, 0.31)], expected_with_offset)
    events = rb.withdraw_returned(gone)
    assert [(e["kind"], e["service"], e["signal"], e["offset"]) for e in events] == [("rebaseline_withdrawn", "checkout", "cpu", 0.40)]
    assert events[0]["explanation"] == "checkout CPU: back near its old baseline (median residual +1.00 % against it); the re-baseline of +40.0 % is withdrawn"
    assert rb.accepted == {} and rb.offsets == {} and rb.counts == {}  # the count is of acceptances
    assert rb.withdraw_returned(gone) == []
