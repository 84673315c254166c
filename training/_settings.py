"""The training pipeline's settings: one frozen dataclass, read from ``AIOPS_TRAIN_*`` variables.

The Prometheus URL is the pipeline's own (``AIOPS_TRAIN_PROMETHEUS_URL``), not the detector's
shared ``AIOPS_PROMETHEUS_URL``: a user who exported that one for ``aiops detect`` still
trains on the simulator unless they ask for Prometheus here.

The MLflow store defaults to a sqlite database and an artifact folder under the kit's data
directory (``$XDG_DATA_HOME/aiops``, else ``~/.local/share/aiops``), never ``./mlruns``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from plumbing.settings import EnvSettings, setting

__all__ = ["TrainSettings", "default_data_dir"]


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/aiops``, else ``~/.local/share/aiops``: a user data folder, never the repo or the working directory."""
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "aiops"


@dataclass(frozen=True, kw_only=True)
class TrainSettings(EnvSettings):
    """Everything ``aiops train`` can be told; units are in the field names.

    :attr:`tracking_uri` and :attr:`out_dir` empty mean "under :attr:`data_dir`" (see
    :meth:`resolved_tracking_uri` and :meth:`runs_dir`).
    """

    ENV_PREFIX = "AIOPS_TRAIN_"

    #: Prometheus to read the history and the labels (`aiops_incident_active`) from (`--prometheus-url`); empty: the simulator, in process.
    prometheus_url: str = setting("", shown_default="unset (the simulator)")
    #: Seed of the simulated fleet and its labelled incidents (`--seed`; the simulator only).
    seed: int = 0
    #: Days of training history before the evaluation window (`--history-days`; 8: a full week for the weekly terms and a day; whole days on the simulator).
    history_days: float = 8.0
    #: Days of the evaluation window, the most recent ones (`--eval-days`; the simulator keeps one of them free of incidents when there are two or more).
    eval_days: float = 2.0
    #: Step of the history (the range queries' step, the simulator's grid).
    step_seconds: float = 60.0
    #: The signals file (`--signals`): PromQL, context, knobs; empty: the kit's `model/signals.yaml`.
    signals_path: Path | None = None
    #: The candidates' grid (`--grid`); empty: the kit's `training/grid.yaml`.
    grid_path: Path | None = None
    #: The kit's data folder: the default MLflow store and the runs' reports live under it.
    data_dir: Path = setting(
        default_factory=lambda: default_data_dir({}),
        default_from_env=default_data_dir,
        shown_default="`$XDG_DATA_HOME/aiops`, else `~/.local/share/aiops`",
    )
    #: MLflow tracking and registry URI (`--tracking-uri`); empty: `sqlite:///DATA_DIR/mlflow/mlflow.db` with artifacts in `DATA_DIR/mlflow/artifacts`.
    tracking_uri: str = setting("", shown_default="unset (the sqlite store under `data_dir`)")
    #: MLflow experiment of the training runs (`--experiment`).
    experiment_name: str = "aiops-training"
    #: Registered model name (`--model-name`); its `champion` alias is the model in service.
    model_name: str = "aiops-fleet"
    #: Where each run's report, plots and model JSON are written (`--out-dir`); empty: `DATA_DIR/training/runs`.
    out_dir: Path | None = None
    #: Gate floor: event recall the best candidate needs to be promoted.
    min_recall: float = 0.8
    #: Gate floor: event precision the best candidate needs to be promoted.
    min_precision: float = 0.8
    #: Gate floor: F1 the best candidate needs to be promoted.
    min_f1: float = 0.8
    #: Gate margin: the candidate's F1 may be at most this much below the champion's (0: not lower).
    f1_margin: float = 0.0
    #: Labelled incidents in the evaluation window needed to gate on F1; with fewer, the gate uses residual error alone.
    min_labelled_incidents: int = 10
    #: Gate floor when gating on residual error alone: relative MAE on normal points (1.0 = no better than a flat line at the median).
    max_residual_error: float = 0.8
    #: Recalibrate: a series flagged this long without a 3-minute gap in the evaluation window, and still changed at its end, is the registered model's new normal (`--rebaseline-after`; the online loop's rule and default, README "The drift lesson"); 0: never.
    rebaseline_after_seconds: float = 900.0
    #: Validation: the largest share of missing points a modelled series may have.
    max_missing_share: float = 0.05
    #: Validation: how old a series' last point may be, against the end of the window.
    max_staleness_seconds: float = 600.0
    #: Timeout of each Prometheus request.
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.history_days <= 0 or self.eval_days <= 0:
            raise ValueError(f"history_days and eval_days must be > 0, not {self.history_days} and {self.eval_days}")
        if self.step_seconds <= 0 or self.timeout_seconds <= 0 or self.max_staleness_seconds <= 0:
            raise ValueError("step_seconds, timeout_seconds and max_staleness_seconds must be > 0")
        for name in ("min_recall", "min_precision", "min_f1", "max_missing_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")
        if self.f1_margin < 0 or self.max_residual_error <= 0:
            raise ValueError(f"f1_margin must be >= 0 and max_residual_error > 0, not {self.f1_margin} and {self.max_residual_error}")
        if self.rebaseline_after_seconds < 0:
            raise ValueError(f"rebaseline_after_seconds must be >= 0 (0: never recalibrate), not {self.rebaseline_after_seconds}")
        if self.min_labelled_incidents < 1:
            raise ValueError(f"min_labelled_incidents must be >= 1, not {self.min_labelled_incidents}")
        if not self.model_name.strip() or not self.experiment_name.strip():
            raise ValueError("model_name and experiment_name must not be empty")

    @property
    def mlflow_dir(self) -> Path:
        """The default store's folder: ``DATA_DIR/mlflow`` (``mlflow.db`` and ``artifacts/``)."""
        return self.data_dir / "mlflow"

    def resolved_tracking_uri(self) -> str:
        """:attr:`tracking_uri`, or the default sqlite store under :attr:`data_dir`."""
        if self.tracking_uri.strip():
            return self.tracking_uri.strip()
        return f"sqlite:///{(self.mlflow_dir / 'mlflow.db').resolve()}"

    def runs_dir(self) -> Path:
        """Where each run's folder goes: :attr:`out_dir`, or ``DATA_DIR/training/runs``."""
        return self.out_dir if self.out_dir is not None else self.data_dir / "training" / "runs"

    @property
    def uses_prometheus(self) -> bool:
        return bool(self.prometheus_url.strip())
