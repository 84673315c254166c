"""The candidates' grid: the packaged file, the product of its values, and errors that name the key and the allowed values."""

from __future__ import annotations

import pytest

from model import load_signals
from training import GRID_KEYS, Candidate, GridError, fit_candidate, load_grid, parse_grid


def test_the_packaged_grid_loads_and_its_first_candidate_is_the_signals_file_as_is() -> None:
    candidates = load_grid()
    assert len(candidates) == 8 and [c.id for c in candidates] == [f"c{i}" for i in range(1, 9)]
    first = candidates[0]
    assert (first.daily_order, first.weekly_order, first.ridge, first.context) == (None, None, None, True)
    assert first.signal_set(load_signals()) == load_signals()


def test_every_combination_is_one_candidate_in_key_order_the_last_key_fastest() -> None:
    cands = parse_grid({"daily_order": [4, 2], "context": [True, False]})
    assert [(c.daily_order, c.context) for c in cands] == [(4, True), (4, False), (2, True), (2, False)]
    assert all(c.weekly_order is None and c.ridge is None and c.train_days is None for c in cands)


def test_a_candidate_overrides_the_signals_knobs_and_drops_the_context() -> None:
    base = load_signals()
    c = Candidate(id="c1", daily_order=2, weekly_order=0, ridge=0.5, train_days=3.0, context=False)
    sigset = c.signal_set(base)
    assert {s.daily_order for s in sigset.signals} == {2} and {s.weekly_order for s in sigset.signals} == {0}
    assert {s.ridge for s in sigset.signals} == {0.5} and all(s.context == () for s in sigset.signals)
    assert c.params() == {"daily_order": "2", "weekly_order": "0", "ridge": "0.5", "train_days": "3", "context": "false"}
    # `signals` keeps each signal's own order: disk's 8 survives
    assert Candidate(id="c3").signal_set(base).spec("disk").daily_order == 8


def test_ridge_reaches_the_fitted_baselines(dataset) -> None:
    model, _ = fit_candidate(Candidate(id="c1", ridge=1.0, train_days=3.0), dataset)
    assert {m.ridge for m in model.models_.values()} == {1.0}
    plain, _ = fit_candidate(Candidate(id="c2", train_days=3.0), dataset)
    assert {m.ridge for m in plain.models_.values()} == {1e-4}
    shrunk = abs(model.models_["requests"].coef_).sum()  # seasonal terms only: requests has no context
    assert shrunk < 0.9 * abs(plain.models_["requests"].coef_).sum()  # a heavier penalty, smaller coefficients


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"daily": [4]}, "unknown key(s) 'daily'; allowed keys: daily_order, weekly_order, ridge, train_days, context"),
        ({"daily_order": [4, -1]}, "daily_order has a bad value -1; allowed: " + GRID_KEYS["daily_order"]),
        ({"weekly_order": "three"}, "weekly_order has a bad value 'three'; allowed: " + GRID_KEYS["weekly_order"]),
        ({"daily_order": 2.5}, "daily_order has a bad value 2.5"),
        ({"ridge": [-1e-3]}, "ridge has a bad value -0.001; allowed: " + GRID_KEYS["ridge"]),
        ({"train_days": [0]}, "train_days has a bad value 0; allowed: " + GRID_KEYS["train_days"]),
        ({"context": "yes"}, "context has a bad value 'yes'; allowed: " + GRID_KEYS["context"]),
        ({"context": []}, "context lists no value"),
        ({"daily_order": [2, 2]}, "daily_order lists a value twice"),
        ({"daily_order": list(range(9)), "ridge": list(range(8))}, "72 candidates; at most 64"),
        ([1, 2], "needs a mapping of knobs to values"),
    ],
)
def test_a_bad_grid_names_the_key_and_the_allowed_values(raw: object, message: str) -> None:
    with pytest.raises(GridError) as err:
        parse_grid(raw, source="g.yaml")
    assert message in str(err.value) and str(err.value).startswith("g.yaml: ")


def test_yaml_numbers_written_without_a_dot_are_numbers_and_files_are_checked(tmp_path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text("ridge: [1e-4, signals]\ntrain_days: all\n")
    cands = load_grid(path)
    assert [c.ridge for c in cands] == [1e-4, None] and cands[0].train_days is None
    with pytest.raises(GridError, match="cannot read the grid file"):
        load_grid(tmp_path / "missing.yaml")
    path.write_text("daily_order: [1, 2\n")
    with pytest.raises(GridError, match="not YAML"):
        load_grid(path)
