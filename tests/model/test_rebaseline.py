"""The re-baseline rule's pure parts: runs of flags, the level offset, and a FleetModel that carries offsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model import REBASELINE_TERM, FlagRuns, FleetModel, level_offset

from model_helpers import fleet_frame

KEY = ("checkout", "latency")


def feed(runs: FlagRuns, flags: list[tuple[float, bool]]):
    return runs.observe((KEY, t, f) for t, f in flags)


def test_a_run_is_due_once_when_it_has_lasted_the_horizon_and_short_gaps_do_not_end_it() -> None:
    runs = FlagRuns(after_seconds=600.0, max_gap_seconds=120.0)
    flags = [(t, (t // 60) % 5 != 2) for t in np.arange(0.0, 700.0, 5.0)]  # a 60 s dip every 5 minutes
    due = feed(runs, flags)
    assert len(due) == 1
    assert (due[0].key, due[0].since_seconds, due[0].accepted_seconds) == (KEY, 0.0, 600.0)
    assert due[0].lasted_seconds == 600.0 and due[0].flags == sum(1 for t, f in flags if f and t <= 600.0)
    assert runs.run_start(KEY) == 605.0  # forgotten once due: the next flag starts afresh


def test_a_gap_longer_than_allowed_ends_the_run() -> None:
    runs = FlagRuns(after_seconds=600.0, max_gap_seconds=120.0)
    assert feed(runs, [(t, True) for t in np.arange(0.0, 500.0, 5.0)]) == []
    assert runs.run_start(KEY) == 0.0
    assert feed(runs, [(t, False) for t in np.arange(500.0, 700.0, 5.0)]) == []
    assert runs.run_start(KEY) is None
    assert feed(runs, [(t, True) for t in np.arange(700.0, 1250.0, 5.0)]) == []  # 545 s: not yet
    assert runs.run_start(KEY) == 700.0


def test_flag_runs_refuse_a_horizon_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="after_seconds must be > 0, not 0"):
        FlagRuns(after_seconds=0.0, max_gap_seconds=10.0)
    with pytest.raises(ValueError, match="max_gap_seconds must be >= 0, not -1"):
        FlagRuns(after_seconds=10.0, max_gap_seconds=-1.0)


def test_level_offset_is_the_median_residual_over_finite_points() -> None:
    assert level_offset(np.array([3.0, 5.0, np.nan, 100.0]), np.array([1.0, 1.0, 1.0, 1.0])) == 4.0
    assert np.isnan(level_offset(np.array([np.nan]), np.array([1.0])))


@pytest.fixture(scope="module")
def shifted():
    frame = fleet_frame(10, seed=2)
    cut = frame.index[0] + pd.Timedelta(days=8)
    train, test = frame[frame.index < cut], frame[frame.index >= cut].copy()
    test.loc[:, KEY] += 0.05  # a step that stays
    return FleetModel().fit(train), test


def test_an_offset_makes_a_step_normal_and_moves_the_expected_value_and_band(shifted) -> None:
    model, test = shifted
    assert model.flags(test)[KEY].mean() > 0.9
    raw = model.detect(test)
    offset = level_offset(test[KEY].to_numpy(), raw[(raw.service == KEY[0]) & (raw.signal == KEY[1])]["expected"].to_numpy())
    assert offset == pytest.approx(0.05, abs=0.005)
    moved = model.with_level_offsets({KEY: offset})
    assert not moved.flags(test)[KEY].any()
    assert not hasattr(model, "level_offsets_") or model.level_offsets_ == {}  # the original is untouched
    after = moved.detect(test)
    mine = (after.service == KEY[0]) & (after.signal == KEY[1])
    for col in ("expected", "lower", "upper"):
        np.testing.assert_allclose(after.loc[mine, col], raw.loc[mine, col] + offset, rtol=1e-12)
    np.testing.assert_array_equal(after.loc[mine, "value"], raw.loc[mine, "value"])
    others = ~mine
    pd.testing.assert_frame_equal(after[others], raw[others])


def test_the_offset_is_a_term_of_the_explanation_and_the_parts_still_add_up(shifted) -> None:
    model, test = shifted
    moved = model.with_level_offsets({KEY: 0.04})
    marks = pd.DataFrame(False, index=test.index, columns=test.columns)
    marks.loc[test.index[:20], KEY] = True
    e = moved.explain(test, marks)
    assert len(e.summary) == 20
    offsets = e.terms[e.terms["term"] == REBASELINE_TERM]
    assert len(offsets) == 20 and (offsets["contribution"] == 0.04).all()
    total = e.terms.groupby("point")["contribution"].sum().to_numpy()
    np.testing.assert_allclose(e.summary["baseline"] + total, e.summary["expected"], rtol=1e-12)
    np.testing.assert_allclose(e.summary["actual"], test.loc[test.index[:20], KEY].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(e.summary["residual"], e.summary["actual"] - e.summary["expected"], rtol=1e-9, atol=1e-12)
    assert "+ re-baseline +40.0 ms" in e.sentences[0]


def test_offsets_are_saved_and_loaded_and_bad_ones_are_refused_naming_the_series(shifted, tmp_path) -> None:
    model, test = shifted
    moved = model.with_level_offsets({KEY: 0.05})
    data = moved.to_dict()
    assert data["level_offsets"] == [{"service": "checkout", "signal": "latency", "offset": {"value": 0.05, "unit": "seconds"}}]
    assert "level_offsets" not in model.to_dict()
    back = FleetModel.load(moved.save(tmp_path / "m.json"))
    assert back.level_offsets_ == {KEY: 0.05}
    pd.testing.assert_frame_equal(back.detect(test), moved.detect(test), check_exact=True)
    with pytest.raises(ValueError, match=r"level offset for \('nowhere', 'latency'\): not a series this model scores"):
        model.with_level_offsets({("nowhere", "latency"): 1.0})
    with pytest.raises(ValueError, match=r"level offset for \('checkout', 'latency'\) must be a finite number, not nan"):
        model.with_level_offsets({KEY: float("nan")})
