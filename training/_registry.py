"""The *register* stage and the champion: MLflow's tracking store and model registry, local by default.

- :meth:`Registry.connect` opens the store (the default: a sqlite database and an artifact
  folder under the kit's data directory; no server) and fails fast, on one line naming the
  URI, when it cannot (:class:`TrackingStoreError`);
- :meth:`Registry.champion_version` is the version the ``champion`` alias points at, and
  :meth:`Registry.load_version` reads a version back as a :class:`model.FleetModel` (it
  downloads the version's JSON weights and loads them: no code runs, nothing is unpickled);
- :meth:`Registry.log_run` records one training run: parameters, metrics and tags, one
  nested run per candidate, the model as an MLflow *models-from-code* pyfunc
  (``training/mlflow_model.py`` plus the saved JSON as its artifact), a new registered
  version with the gate's verdict in its tags, and the report and plots as artifacts;
- :meth:`Registry.set_champion` moves the ``champion`` alias;
- :func:`load_champion` -- ``models:/NAME@champion`` as a :class:`model.FleetModel`, for the
  detector.

Every MLflow call goes through the client of the URI given here: the user's
``MLFLOW_TRACKING_URI`` is not read (``aiops train`` never writes ``./mlruns``).
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence
from urllib.parse import urlparse

import httpx
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS, MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from model import FleetModel

__all__ = [
    "CHAMPION_ALIAS",
    "MODEL_CODE_PATH",
    "MODEL_JSON_NAME",
    "ChampionVersion",
    "LoggedRun",
    "Registry",
    "TrackingStoreError",
    "load_champion",
    "quiet_mlflow",
]

CHAMPION_ALIAS = "champion"
#: The models-from-code file MLflow copies into every logged model.
MODEL_CODE_PATH = Path(__file__).with_name("mlflow_model.py")
#: The saved model's name among the MLflow model's artifacts.
MODEL_JSON_NAME = "fleet-model.json"
#: The key of the JSON in the pyfunc's ``artifacts`` (``training.mlflow_model.ARTIFACT_KEY``).
ARTIFACT_KEY = "fleet_model"
#: Seconds to wait for an MLflow server to answer its health check before giving up.
CONNECT_TIMEOUT_SECONDS = 5.0
#: MLflow's loggers that print set-up chatter (alembic's migrations on a new sqlite store, every
#: new model version) into the run's output.
_NOISY_LOGGERS = ("mlflow", "alembic", "alembic.runtime.migration", "databricks", "urllib3", "git")


class TrackingStoreError(RuntimeError):
    """The MLflow tracking store or registry cannot be opened, reached or written; the message names the URI."""


def quiet_mlflow() -> None:
    """Keep MLflow's and alembic's INFO lines and MLflow's advice out of the console (the command calls it)."""
    for name in _NOISY_LOGGERS:  # MLflow's warnings are advice (add a signature, an input example); its failures raise
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
    warnings.filterwarnings("ignore", message=r".*type hint.*", category=UserWarning)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _is_local(uri: str) -> bool:
    scheme = urlparse(uri).scheme
    return scheme in ("", "file", "sqlite") or len(scheme) == 1  # a Windows drive letter


def _default_artifact_root(uri: str) -> str | None:
    """A folder beside a sqlite database (``.../mlflow.db`` -> ``.../artifacts``), as a file URI; None for a server."""
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":
        db = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else parsed.path
        if db and db != ":memory:":
            return (Path(db).parent / "artifacts").resolve().as_uri()
    if parsed.scheme in ("", "file"):
        root = Path(parsed.path if parsed.scheme == "file" else uri)
        return (root / "artifacts").resolve().as_uri()
    return None


@dataclass(frozen=True, kw_only=True)
class ChampionVersion:
    """The registered version the ``champion`` alias points at."""

    name: str
    version: str
    run_id: str | None
    source: str
    tags: dict[str, str] = field(default_factory=dict)
    created_seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class LoggedRun:
    """What :meth:`Registry.log_run` recorded: the run, the model version and where they are."""

    run_id: str
    experiment_id: str
    version: str
    model_uri: str
    artifact_uri: str


@dataclass
class Registry:
    """One MLflow tracking store and registry (sqlite or a server), the experiment and the registered model's name."""

    tracking_uri: str
    model_name: str
    experiment_name: str
    client: MlflowClient
    experiment_id: str

    @classmethod
    def connect(cls, tracking_uri: str, *, model_name: str, experiment_name: str | None) -> "Registry":
        """Open the store (creating a local one and the experiment if missing); :class:`TrackingStoreError` on failure.

        ``experiment_name`` None: only the registry is read (no experiment is created).

        A server URI is first asked for its ``/health`` with a short timeout, so an
        unreachable one fails in seconds, not after MLflow's retries.
        """
        parsed = urlparse(tracking_uri)
        if parsed.scheme in ("http", "https"):
            try:
                httpx.get(tracking_uri.rstrip("/") + "/health", timeout=CONNECT_TIMEOUT_SECONDS)
            except httpx.HTTPError as exc:
                raise TrackingStoreError(f"cannot reach the MLflow tracking server {tracking_uri}: {_one_line(exc) or type(exc).__name__}") from None
        if parsed.scheme == "sqlite":
            db = tracking_uri[len("sqlite:///") :] if tracking_uri.startswith("sqlite:///") else ""
            if db and db != ":memory:":
                try:
                    Path(db).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise TrackingStoreError(f"cannot create the MLflow store {tracking_uri}: {exc.strerror or exc}") from None
        try:
            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            experiment = client.get_experiment_by_name(experiment_name) if experiment_name else None
            if experiment_name is None:
                client.search_registered_models(max_results=1)
                experiment_id = ""
            elif experiment is None:
                root = _default_artifact_root(tracking_uri)
                location = f"{root}/{experiment_name}" if root else None
                experiment_id = client.create_experiment(experiment_name, artifact_location=location)
            else:
                experiment_id = experiment.experiment_id
                if experiment.lifecycle_stage == "deleted":  # deleted in the UI: runs cannot start in it until restored
                    client.restore_experiment(experiment_id)
        except Exception as exc:  # MLflow, SQLAlchemy, requests: anything the store raises is one line here
            raise TrackingStoreError(f"cannot use the MLflow tracking store {tracking_uri}: {_one_line(exc)}") from None
        return cls(tracking_uri=tracking_uri, model_name=model_name, experiment_name=experiment_name or "", client=client, experiment_id=experiment_id)

    @contextmanager
    def _store(self, what: str) -> Iterator[None]:
        """MLflow's fluent API on this store; a failure becomes a :class:`TrackingStoreError` saying what was being done."""
        previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        try:
            yield
        except TrackingStoreError:
            raise
        except MlflowException as exc:
            raise TrackingStoreError(f"MLflow store {self.tracking_uri}: {what}: {_one_line(exc)}") from None
        finally:
            mlflow.set_tracking_uri(previous[0])
            mlflow.set_registry_uri(previous[1])

    # ------------------------------------------------------------------ champion
    def champion_version(self) -> ChampionVersion | None:
        """The version the ``champion`` alias points at, or None (no such model or alias)."""
        try:
            mv = self.client.get_model_version_by_alias(self.model_name, CHAMPION_ALIAS)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
                return None
            raise TrackingStoreError(f"MLflow store {self.tracking_uri}: reading the {CHAMPION_ALIAS} of {self.model_name}: {_one_line(exc)}") from None
        return ChampionVersion(name=self.model_name, version=str(mv.version), run_id=mv.run_id, source=mv.source, tags=dict(mv.tags or {}))

    def versions(self) -> list[ChampionVersion]:
        """Every registered version of the model, oldest first, with its tags (the gate's verdict among them)."""
        try:
            found = self.client.search_model_versions(f"name='{self.model_name}'")
        except MlflowException as exc:
            raise TrackingStoreError(f"MLflow store {self.tracking_uri}: listing the versions of {self.model_name}: {_one_line(exc)}") from None
        out = [
            ChampionVersion(name=self.model_name, version=str(mv.version), run_id=mv.run_id, source=mv.source, tags=dict(mv.tags or {}),
                            created_seconds=(mv.creation_timestamp or 0) / 1000.0)
            for mv in found
        ]  # fmt: skip
        return sorted(out, key=lambda v: int(v.version) if v.version.isdigit() else 0)

    def load_version(self, version: str) -> FleetModel:
        """A registered version's weights as a :class:`model.FleetModel` (its JSON artifact, read by ``FleetModel.load``).

        Raises :class:`TrackingStoreError` when the artifacts cannot be fetched and
        :class:`model.ModelFormatError` when the JSON is not a model this kit reads.
        """
        with tempfile.TemporaryDirectory(prefix="aiops-champion-") as tmp, self._store(f"downloading version {version} of {self.model_name}"):
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{self.model_name}/{version}", dst_path=tmp))
            found = sorted(local.rglob(MODEL_JSON_NAME))
            if not found:
                raise TrackingStoreError(f"version {version} of {self.model_name} has no {MODEL_JSON_NAME} among its artifacts")
            return FleetModel.load(found[0])

    def set_champion(self, version: str) -> None:
        """Point the ``champion`` alias at ``version``."""
        try:
            self.client.set_registered_model_alias(self.model_name, CHAMPION_ALIAS, version)
        except MlflowException as exc:
            raise TrackingStoreError(f"MLflow store {self.tracking_uri}: moving the {CHAMPION_ALIAS} alias: {_one_line(exc)}") from None

    # ------------------------------------------------------------------ one run
    def log_run(
        self,
        *,
        run_name: str,
        params: Mapping[str, str],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        model_json: Path,
        pip_requirements: Sequence[str],
        version_tags: Mapping[str, str],
        version_description: str,
        children: Sequence[tuple[str, Mapping[str, str], Mapping[str, float]]] = (),
        artifacts_after: Callable[[str, str], Sequence[tuple[Path, str | None]]] | None = None,
    ) -> LoggedRun:
        """Record a training run and register its model as a new version (the alias is not touched).

        ``children`` are the candidates' nested runs (name, params, metrics).
        ``artifacts_after(run_id, version)``, called once the version exists, returns
        ``(local path, artifact folder)`` pairs (files or folders) to log to the run: the
        report, which names the run and the version.
        """
        with self._store("logging the training run"):
            run = self.client.create_run(self.experiment_id, run_name=run_name, tags=dict(tags))
            run_id = run.info.run_id
            status = "FAILED"
            try:
                self._log_batch(run_id, params, metrics, {})
                for name, child_params, child_metrics in children:
                    child = self.client.create_run(self.experiment_id, run_name=name, tags={MLFLOW_PARENT_RUN_ID: run_id})
                    self._log_batch(child.info.run_id, child_params, child_metrics, {MLFLOW_RUN_NAME: name})
                    self.client.set_terminated(child.info.run_id, "FINISHED")
                with mlflow.start_run(run_id=run_id, experiment_id=self.experiment_id):
                    info = mlflow.pyfunc.log_model(
                        name="model",
                        python_model=str(MODEL_CODE_PATH),
                        artifacts={ARTIFACT_KEY: str(model_json)},
                        pip_requirements=list(pip_requirements),
                    )
                    version = self._register(info.model_uri, info.model_id, run_id, version_tags, version_description)
                    for path, folder in (artifacts_after(run_id, version) if artifacts_after else ()):
                        if path.is_dir():
                            self.client.log_artifacts(run_id, str(path), folder)
                        else:
                            self.client.log_artifact(run_id, str(path), folder)
                status = "FINISHED"
            finally:
                self.client.set_terminated(run_id, status)
            return LoggedRun(
                run_id=run_id,
                experiment_id=self.experiment_id,
                version=version,
                model_uri=f"models:/{self.model_name}/{version}",
                artifact_uri=run.info.artifact_uri,
            )

    def _log_batch(self, run_id: str, params: Mapping[str, str], metrics: Mapping[str, float], tags: Mapping[str, str]) -> None:
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items() if v is not None and math.isfinite(float(v))],
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )

    def _register(self, model_uri: str, model_id: str | None, run_id: str, tags: Mapping[str, str], description: str) -> str:
        try:
            self.client.create_registered_model(
                self.model_name, description="The kit's fleet model (model/): one linear baseline per signal; `champion` is the version in service."
            )
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        mv = self.client.create_model_version(
            self.model_name, source=model_uri, run_id=run_id, tags=dict(tags), description=description, model_id=model_id
        )
        if model_id:
            self.client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps([{"name": self.model_name, "version": str(mv.version)}])})
        return str(mv.version)

    def set_version_tags(self, version: str, tags: Mapping[str, str]) -> None:
        """Tags on a registered version (the gate's verdict)."""
        with self._store(f"tagging version {version}"):
            for k, v in tags.items():
                self.client.set_model_version_tag(self.model_name, version, k, str(v))


def load_champion(tracking_uri: str, model_name: str = "aiops-fleet") -> tuple[str, FleetModel]:
    """``models:/MODEL_NAME@champion`` as ``(version, FleetModel)``; :class:`TrackingStoreError` when there is none.

    For the detector: ``settings = TrainSettings.from_env(); version, model =
    load_champion(settings.resolved_tracking_uri(), settings.model_name)``.
    """
    registry = Registry.connect(tracking_uri, model_name=model_name, experiment_name=None)
    champion = registry.champion_version()
    if champion is None:
        raise TrackingStoreError(f"MLflow store {tracking_uri}: {model_name} has no version with the {CHAMPION_ALIAS!r} alias yet; run `aiops train`")
    return champion.version, registry.load_version(champion.version)
