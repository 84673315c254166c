"""The gate and the best-candidate rule, on made-up figures."""

from __future__ import annotations

import pandas as pd
import pytest

from model import FleetModel
from training import Candidate, CandidateResult, Evaluation, GateRules, decide, pick_best


def ev(f1: float = 1.0, precision: float | None = None, recall: float | None = None, fa: float = 0.0, residual: float = 0.4) -> Evaluation:
    summary = {
        "precision": f1 if precision is None else precision,
        "recall": f1 if recall is None else recall,
        "f1": f1,
        "false_alarms_per_day": fa,
        "median_time_to_detect_seconds": 90.0,
        "incidents": 21,
        "detected": 21,
        "false_alarms": 0,
    }
    return Evaluation(summary=summary, residual_error=residual, mae_by_signal={}, relative_by_signal={}, normal_points=100, detection=pd.DataFrame(), flags=pd.DataFrame())


RULES = GateRules()


def test_no_champion_a_candidate_above_the_floors_becomes_the_first() -> None:
    d = decide(ev(0.9), None, RULES, use_f1=True)
    assert d.promote and "no champion yet" in d.reasons[0]


def test_every_floor_below_is_a_reason_even_without_a_champion() -> None:
    d = decide(ev(0.7, precision=0.75, recall=0.66), None, RULES, use_f1=True)
    assert not d.promote
    assert d.reasons == ("recall 0.6600 is below the floor 0.80", "precision 0.7500 is below the floor 0.80", "F1 0.7000 is below the floor 0.80")


def test_a_lower_f1_than_the_champion_is_refused_and_the_margin_lets_a_little_through() -> None:
    assert decide(ev(0.95), ev(1.0), RULES, use_f1=True, champion_version="3").reasons == ("F1 0.9500 is lower than the champion's 1.0000",)
    assert decide(ev(0.95), ev(1.0), GateRules(f1_margin=0.05), use_f1=True, champion_version="3").promote
    assert not decide(ev(0.94), ev(1.0), GateRules(f1_margin=0.05), use_f1=True).promote


def test_a_tie_keeps_the_champion_and_more_false_alarms_at_equal_f1_too() -> None:
    tie = decide(ev(0.95, fa=0.5), ev(0.95, fa=0.5), RULES, use_f1=True)
    assert not tie.promote and "a tie with the champion" in tie.reasons[0]
    within_rounding = decide(ev(0.95, fa=0.501), ev(0.95, fa=0.499), RULES, use_f1=True)
    assert not within_rounding.promote and "a tie" in within_rounding.reasons[0]
    more = decide(ev(0.95, fa=1.0), ev(0.95, fa=0.5), RULES, use_f1=True)
    assert not more.promote and "more false alarms per day (1.00 vs 0.50)" in more.reasons[0]
    fewer = decide(ev(0.95, fa=0.0), ev(0.95, fa=0.5), RULES, use_f1=True, champion_version="2")
    assert fewer.promote and "beats champion version 2" in fewer.reasons[0]


def test_with_few_labels_the_gate_reads_residual_error_alone() -> None:
    better = decide(ev(0.2, residual=0.30), ev(1.0, residual=0.35), RULES, use_f1=False, champion_version="1")
    assert better.promote and better.mode == "residual"  # F1 is not read
    assert not decide(ev(1.0, residual=0.36), ev(1.0, residual=0.35), RULES, use_f1=False).promote
    assert "a tie" in decide(ev(1.0, residual=0.35), ev(1.0, residual=0.35), RULES, use_f1=False).reasons[0]
    assert "above the floor 0.80" in decide(ev(1.0, residual=0.9), None, RULES, use_f1=False).reasons[0]


def test_a_champion_that_could_not_be_scored_leaves_the_floors_alone() -> None:
    d = decide(ev(0.9), None, RULES, use_f1=True, champion_version="4", champion_problem="champion version 4 could not be loaded")
    assert d.promote and "could not be loaded" in d.reasons[0]


def result(cid: str, evaluation: Evaluation, n: int = 10) -> CandidateResult:
    return CandidateResult(candidate=Candidate(id=cid), model=FleetModel(), evaluation=evaluation, n_coefficients=n, fit_seconds=0.1, train_start_seconds=0.0)


@pytest.mark.parametrize(
    ("results", "best"),
    [
        ([result("a", ev(0.95)), result("b", ev(0.98))], "b"),  # highest F1
        ([result("a", ev(0.98, fa=1.0)), result("b", ev(0.98, fa=0.5))], "b"),  # then fewer false alarms per day
        ([result("a", ev(0.98, residual=0.5)), result("b", ev(0.98, residual=0.4))], "b"),  # then lower residual error
        ([result("a", ev(0.98), n=40), result("b", ev(0.98), n=20)], "b"),  # then fewer coefficients
        ([result("a", ev(0.98)), result("b", ev(0.98))], "a"),  # then the grid's order
    ],
)
def test_the_best_candidate_rule(results: list[CandidateResult], best: str) -> None:
    ranked = pick_best(results, use_f1=True)
    assert ranked[0].candidate.id == best and [r.rank for r in ranked] == [1, 2]


def test_with_few_labels_the_best_is_the_lowest_residual_error_then_the_simpler() -> None:
    ranked = pick_best([result("a", ev(1.0, residual=0.5)), result("b", ev(0.1, residual=0.4), n=50), result("c", ev(0.1, residual=0.4), n=30)], use_f1=False)
    assert [r.candidate.id for r in ranked] == ["c", "b", "a"]
