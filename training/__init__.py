"""The MLOps pipeline: train offline on a fixed window, evaluate on labelled incidents, gate, version, promote.

The other half of the kit's contrast: the detector service (the AIOps loop) refits itself
every few minutes and nobody signs anything off; this pipeline fits candidates once on a
training window, scores them on labelled incidents after it with the evaluation package's
rules, refuses a model worse than the one in service, registers what it ships in MLflow and
promotes it by moving the ``champion`` alias. Both use the same model (:mod:`model`) and the
same evaluation (:mod:`evaluation`).

Stages (:func:`run_training`, ``aiops train``):

- *extract* (:mod:`training._extract`): the simulator's labelled suite in process, or range
  queries from Prometheus with labels from ``aiops_incident_active`` -> :class:`Dataset`;
- *validate* (:func:`validate`): schema, gaps, staleness, history, labels -> :class:`ValidationReport`;
- *train* / *evaluate* (:func:`fit_candidate`, :func:`evaluate_model`, :func:`pick_best`):
  the candidates of the grid (:func:`load_grid`, ``training/grid.yaml``);
- *gate* (:func:`decide`, :class:`GateRules`): floors, margin, ties -> :class:`GateDecision`;
- *register* (:class:`Registry`): MLflow run, nested candidate runs, the model as a
  models-from-code pyfunc (``training/mlflow_model.py`` + the readable JSON weights), a new
  version, the report and plots (:mod:`training._report`), the ``champion`` alias.

:func:`load_champion` reads ``models:/NAME@champion`` back as a :class:`model.FleetModel`.
Settings: :class:`TrainSettings` (``AIOPS_TRAIN_*``).

Errors::

    ValueError
     └── GridError            the grid file is malformed (names the key and the allowed values)
    RuntimeError
     └── TrackingStoreError   the MLflow store cannot be opened, reached or written (names the URI)
    model.SignalsError, sources.PrometheusError   as raised by those packages
"""

from ._console import StageRecord, TrainConsole
from ._evaluate import CandidateResult, Evaluation, evaluate_model, fit_candidate, n_coefficients, pick_best, rank_key
from ._extract import LABELS_PROMQL, Dataset, extract_prometheus, extract_simulated, incidents_from_series
from ._gate import GateDecision, GateRules, decide
from ._grid import GRID_KEYS, GRID_PATH, Candidate, GridError, load_grid, parse_grid
from ._pipeline import TrainResult, run_training
from ._registry import CHAMPION_ALIAS, MODEL_CODE_PATH, MODEL_JSON_NAME, ChampionVersion, LoggedRun, Registry, TrackingStoreError, load_champion, quiet_mlflow
from ._settings import TrainSettings, default_data_dir
from ._validate import Check, ValidationReport, validate

__all__ = [
    "CHAMPION_ALIAS",
    "GRID_KEYS",
    "GRID_PATH",
    "LABELS_PROMQL",
    "MODEL_CODE_PATH",
    "MODEL_JSON_NAME",
    "Candidate",
    "CandidateResult",
    "ChampionVersion",
    "Check",
    "Dataset",
    "Evaluation",
    "GateDecision",
    "GateRules",
    "GridError",
    "LoggedRun",
    "Registry",
    "StageRecord",
    "TrackingStoreError",
    "TrainConsole",
    "TrainResult",
    "TrainSettings",
    "ValidationReport",
    "decide",
    "default_data_dir",
    "evaluate_model",
    "extract_prometheus",
    "extract_simulated",
    "fit_candidate",
    "incidents_from_series",
    "load_champion",
    "load_grid",
    "n_coefficients",
    "parse_grid",
    "pick_best",
    "quiet_mlflow",
    "rank_key",
    "run_training",
    "validate",
]
