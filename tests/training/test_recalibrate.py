"""The recalibrate stage and the gate on recent data: the live end of the drift lesson, offline.

A release makes payments slower for good 25 minutes before ``aiops train`` runs (the demo's
``--eval-days 0.75`` and the online loop's 15-minute horizon). The candidate, fitted on the
days before the evaluation window, flags it like the champion does; the re-baseline rule turns
the lasting change into a level offset learned up to its acceptance, and on the points after it
the recalibrated candidate beats the champion, so the gate promotes it, and it is quiet on the
release. A change that went away, or one under an incident that is still open, is left out.
"""

from __future__ import annotations

import numpy as np
import pytest

import simulator as sim
from evaluation import OfflineSettings, fleet_frame
from model import as_epoch_seconds, load_signals
from training._evaluate import evaluate_model, fit_candidate
from training._extract import DAY_SECONDS, Dataset
from training._gate import GateRules, RecentComparison, decide
from training._grid import load_grid
from training._recalibrate import MIN_POINTS_AFTER, find_lasting_changes, recent_error

CATALOG = sim.load_catalog()
SIGNALS = load_signals()
SEED = 0
T0 = 1_767_355_200.0  # 2026-01-02 12:00 UTC
STEP = 60.0
HISTORY_DAYS = 3.0
EVAL_DAYS = 0.75
HORIZON = 900.0
KEY = ("payments", "latency")


def dataset(incidents: list[sim.Incident], end: float) -> Dataset:
    start = end - (HISTORY_DAYS + EVAL_DAYS) * DAY_SECONDS
    frame = fleet_frame(
        CATALOG, SEED, start_seconds=start, end_seconds=end, incidents=incidents,
        settings=OfflineSettings(step_seconds=STEP, scrape_interval_seconds=STEP),
    )  # fmt: skip
    return Dataset(
        frame=frame, incidents=tuple(incidents), catalog=CATALOG, signals=SIGNALS, start_seconds=start,
        eval_start_seconds=end - EVAL_DAYS * DAY_SECONDS, end_seconds=end, step_seconds=STEP, source="simulator", seed=SEED,
    )  # fmt: skip


@pytest.fixture(scope="module")
def release_run():
    """The release 25 minutes before the end of the data; the best candidate fitted before the evaluation window."""
    release = sim.make_incident(CATALOG, id="1", kind="bad_release", service="payments", delay_seconds=0.0, now=T0)
    end = T0 + 25 * 60.0
    data = dataset([release], end)
    candidate = load_grid()[0]
    model, _ = fit_candidate(candidate, data)
    evaluation = evaluate_model(model, data)
    return release, data, model, evaluation


def test_a_release_that_lasted_the_horizon_becomes_the_new_normal_and_the_gate_promotes_it(release_run) -> None:
    release, data, model, evaluation = release_run
    recal = find_lasting_changes(model, evaluation, data, after_seconds=HORIZON)
    keys = [c.key for c in recal.changes]
    assert KEY in keys, recal.describe()
    change = recal.changes[keys.index(KEY)]
    # accepted as the online loop would: its first flag within a few minutes of the release, a horizon later
    assert release.start_seconds <= change.since_seconds <= release.start_seconds + 300.0
    assert HORIZON <= change.accepted_seconds - change.since_seconds <= HORIZON + 180.0
    assert change.points_after >= MIN_POINTS_AFTER
    # the offset was learned up to the acceptance and the change is still there after it (out of sample)
    assert change.offset > 0 and abs(change.residual_after - change.offset) < 0.5 * change.offset
    assert "payments p95 latency: level +" in change.sentence() and "accepted" in change.sentence()
    assert recal.recent_start_seconds == max(c.accepted_seconds for c in recal.changes)

    champion = model  # the same fit before the release: what the room's champion is
    registered = recal.apply(model)
    assert registered.level_offsets_[KEY] == pytest.approx(change.offset)
    start = recal.recent_start_seconds
    after = data.window(start + 1.0, data.end_seconds + 1.0)
    context = data.window(start - 7200.0, data.end_seconds + 1.0)
    tail = as_epoch_seconds(context.index) > start
    assert not registered.flags(context)[KEY].to_numpy()[tail].any()  # quiet on the release
    assert champion.flags(context)[KEY].to_numpy()[tail].all()  # the frozen champion is not
    assert len(after) >= MIN_POINTS_AFTER

    cand_err, champ_err = recent_error(registered, data, start), recent_error(champion, data, start)
    assert cand_err < champ_err
    rules = GateRules(max_residual_error=0.8)
    # on the evaluation window alone the two fits tie, and the champion stays
    tie = decide(evaluation, evaluation, rules, use_f1=False, champion_version="1")
    assert not tie.promote and "a tie" in tie.reasons[0]
    recent = RecentComparison(start_seconds=start, candidate_error=cand_err, champion_error=champ_err, window=f"the {len(after)} points since")
    decision = decide(evaluation, evaluation, rules, use_f1=False, champion_version="1", recent=recent)
    assert decision.promote and decision.mode == "residual+recent", decision.reasons
    assert f"{cand_err:.4f} vs {champ_err:.4f}" in decision.reasons[0]
    # and the other way round (a champion that already knows the change): the champion stays
    back = RecentComparison(start_seconds=start, candidate_error=champ_err, champion_error=cand_err, window="w")
    assert not decide(evaluation, evaluation, rules, use_f1=False, champion_version="1", recent=back).promote


def test_too_recent_a_change_is_not_accepted_yet(release_run) -> None:
    _, data, model, evaluation = release_run
    recal = find_lasting_changes(model, evaluation, data, after_seconds=HORIZON + 10 * 60.0)  # the horizon not reached: nothing due
    assert KEY not in [c.key for c in recal.changes]
    off = find_lasting_changes(model, evaluation, data, after_seconds=0.0)
    assert not off.changes and off.describe().startswith("off")


def test_a_change_that_went_away_or_an_open_incident_is_left_out() -> None:
    end = T0 + 40 * 60.0
    hog = sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="checkout", duration_seconds=1500, delay_seconds=0.0, now=T0)
    data = dataset([hog], end)  # 25 minutes of hog, ended 15 minutes before the end
    model, _ = fit_candidate(load_grid()[0], data)
    recal = find_lasting_changes(model, evaluation_of(model, data), data, after_seconds=HORIZON)
    assert ("checkout", "cpu") not in [c.key for c in recal.changes]
    assert any("checkout CPU" in x and "went away" in x for x in recal.left_out), recal.left_out

    leak = sim.make_incident(CATALOG, id="2", kind="memory_leak", service="checkout", duration_seconds=3600, delay_seconds=0.0, now=T0)
    data = dataset([leak], T0 + 30 * 60.0)  # still open at the end
    model, _ = fit_candidate(load_grid()[0], data)
    recal = find_lasting_changes(model, evaluation_of(model, data), data, after_seconds=HORIZON)
    assert not recal.changes
    assert recal.left_out and "an incident is still open (memory_leak on checkout" in recal.left_out[0]


def evaluation_of(model, data):
    return evaluate_model(model, data)


def test_recent_error_is_nan_without_points_after(release_run) -> None:
    _, data, model, _ = release_run
    assert np.isnan(recent_error(model, data, data.end_seconds + 60.0))
