"""The validate stage: every check runs, each failure says how to fix it, and bad data never raises."""

from __future__ import annotations

import dataclasses

import numpy as np

from training import Candidate, Dataset, validate


def test_the_simulated_suite_passes_with_a_note_on_the_weekly_terms(dataset: Dataset) -> None:
    report = validate(dataset, [Candidate(id="c1", train_days=3.0)])
    assert report.ok and [c.name for c in report.checks] == ["schema", "gaps", "staleness", "history", "labels"]
    assert [c.name for c in report.warnings] == ["history"]  # 4 days: daily terms yes, weekly no
    assert "21 labelled incidents" in report.checks[-1].detail


def test_every_failed_check_is_reported_at_once_with_a_fix(dataset: Dataset) -> None:
    frame = dataset.frame.drop(columns=[("checkout", "latency")]).copy()
    frame[("payments", "cpu")] = np.where(np.arange(len(frame)) % 5 == 0, np.nan, frame[("payments", "cpu")])  # 20 % missing
    frame.iloc[-60:, frame.columns.get_loc(("frontend", "memory"))] = np.nan  # the last hour missing
    broken = dataclasses.replace(dataset, frame=frame, incidents=tuple(i for i in dataset.incidents if i not in dataset.eval_incidents))
    report = validate(broken, [Candidate(id="c1", train_days=30.0)])
    assert not report.ok
    failed = {c.name: c for c in report.failed}
    assert set(failed) == {"schema", "gaps", "staleness", "labels"}
    assert "checkout/latency" in failed["schema"].detail
    assert "payments/cpu 20%" in failed["gaps"].detail
    assert "frontend/memory (60 min old)" in failed["staleness"].detail
    assert "no labelled incident in the evaluation window" in failed["labels"].detail
    assert all(c.fix for c in report.failed)
    assert any(c.name == "training window" and "train_days 30" in c.detail for c in report.warnings)


def test_too_little_history_fails_and_few_labels_warn(dataset: Dataset) -> None:
    late = dataclasses.replace(dataset, frame=dataset.window(dataset.eval_start_seconds - 86_400.0, dataset.end_seconds))
    report = validate(late)
    history = next(c for c in report.checks if c.name == "history")
    assert history.status == "fail" and "1.00 days of history" in history.detail and "--history-days" in history.fix
    few = dataclasses.replace(dataset, incidents=dataset.eval_incidents[:5])
    labels = [c for c in validate(few).checks if c.name == "labels"]
    assert labels[0].status == "warn" and "the gate uses residual error alone" in labels[0].detail
