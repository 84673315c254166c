"""Fixtures for the training pipeline's tests: a small simulated suite, small grids, a real sqlite MLflow store per test.

Speed (the whole folder in well under a minute on 2 cores):

- the suite is small: 4 days of history and 1 evaluation day (21 labelled incidents), so the
  candidates' windows are 3 days (daily terms, no weekly ones);
- the simulated data is computed once per seed and shape for the session
  (:func:`memo_extract` replaces the pipeline's extractor with a memoised one: the data is a
  pure function of its arguments, so every run still sees exactly what extraction returns);
- each test gets its own MLflow store: a copy of a sqlite database created and migrated once
  for the session (alembic's migrations take seconds), with its own artifact folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import training._pipeline as pipeline
from model import SignalSet, load_signals, signals_sha256
from simulator import Catalog, load_catalog
from training import Dataset, Registry, TrainSettings, extract_simulated

#: The tests' suite: enough history for the daily terms, one evaluation day with every kind on 3 services.
HISTORY_DAYS = 4
EVAL_DAYS = 1
SEED = 0

GOOD_GRID = "daily_order: [signals, 2]\ntrain_days: [3]\ncontext: [true]\n"
#: Deliberately worse: no seasonal terms and no context (a flat line per series).
FLAT_GRID = "daily_order: 0\nweekly_order: 0\ncontext: false\ntrain_days: 3\n"

_EXTRACTED: dict[tuple[Any, ...], Dataset] = {}


def memo_extract(catalog: Catalog, signals: SignalSet, **kwargs: Any) -> Dataset:
    """:func:`training.extract_simulated`, computed once per signals and arguments for the session."""
    key = (signals_sha256(signals), *sorted((k, v) for k, v in kwargs.items() if k != "progress"))
    if key not in _EXTRACTED:
        _EXTRACTED[key] = extract_simulated(catalog, signals, **kwargs)
    return _EXTRACTED[key]


@pytest.fixture(autouse=True)
def _memoised_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "extract_simulated", memo_extract)


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    """The tests' simulated suite (the same object the pipeline's runs get)."""
    return memo_extract(load_catalog(), load_signals(), seed=SEED, history_days=HISTORY_DAYS, eval_days=EVAL_DAYS, step_seconds=60.0)


@pytest.fixture(scope="session")
def _template_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty sqlite MLflow database (created once; each test copies it)."""
    folder = tmp_path_factory.mktemp("mlflow-template")
    db = folder / "mlflow.db"
    Registry.connect(f"sqlite:///{db}", model_name="aiops-fleet", experiment_name=None)
    return db


@pytest.fixture
def tracking_uri(tmp_path: Path, _template_store: Path) -> str:
    """This test's own MLflow store: ``sqlite:///TMP/mlflow/mlflow.db`` (artifacts in ``TMP/mlflow/artifacts``)."""
    folder = tmp_path / "mlflow"
    folder.mkdir()
    shutil.copy(_template_store, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture
def write_grid(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "grid.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def settings(tmp_path: Path, tracking_uri: str, write_grid: Callable[[str, str], Path]) -> Callable[..., TrainSettings]:
    """``settings(**overrides)``: the small suite, the good grid, this test's store and data folder."""

    def make(**overrides: Any) -> TrainSettings:
        values: dict[str, Any] = {
            "seed": SEED,
            "history_days": float(HISTORY_DAYS),
            "eval_days": float(EVAL_DAYS),
            "grid_path": write_grid(GOOD_GRID, "good.yaml"),
            "tracking_uri": tracking_uri,
            "data_dir": tmp_path / "data",
        }
        values.update(overrides)
        return TrainSettings(**values)

    return make


@pytest.fixture
def no_mlruns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in an empty working directory and check that nothing (``./mlruns`` above all) is written there."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    assert list(cwd.iterdir()) == [], f"the pipeline wrote into the working directory: {list(cwd.iterdir())}"
