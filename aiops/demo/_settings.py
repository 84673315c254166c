"""What ``aiops demo`` can be told: :class:`DemoSettings`, options over environment over defaults."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from plumbing.settings import EnvSettings, setting, shared

__all__ = ["DEFAULT_SCENARIO", "DemoSettings"]


def _kit_scenario(name: str) -> Path:
    """A scenario file of the kit's ``scenarios`` data package (installed with it, so no checkout is needed)."""
    spec = importlib.util.find_spec("scenarios")  # finds the data package without running it
    if spec is None or not spec.submodule_search_locations:
        return Path("scenarios") / name  # not installed: relative to the working directory
    return Path(next(iter(spec.submodule_search_locations))) / name


#: The scripted scenario the demo runs unless told otherwise.
DEFAULT_SCENARIO = _kit_scenario("demo.yaml")


def _default_cache_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aiops"


@dataclass(frozen=True, kw_only=True)
class DemoSettings(EnvSettings):
    """What ``aiops demo`` can be told: options over ``AIOPS_DEMO_*`` variables over the defaults.

    The collector's host, port and seed are read from the collector's own variables
    (``AIOPS_COLLECTOR_HOST``, ``_PORT``, ``_SEED``), the cache from the shared ``AIOPS_CACHE_DIR``.
    """

    ENV_PREFIX = "AIOPS_DEMO_"

    #: Interface of the collector (`--host`); anything but loopback lets a room reach it (reads open, writes need the printed token; the console holds it).
    host: str = shared("AIOPS_COLLECTOR_HOST", "127.0.0.1")
    #: Port of the collector's /metrics and incident API (`--port`).
    port: int = shared("AIOPS_COLLECTOR_PORT", 8000)
    #: Seed of the fleet, and of its cached history (`--seed`).
    seed: int = shared("AIOPS_COLLECTOR_SEED", 0)
    #: Loopback port of Prometheus (`--prometheus-port`); 0 picks a free one.
    prometheus_port: int = 0
    #: Port of the trainee console (`--console-port`), on the collector's interface (`--host`); 0 picks a free one.
    console_port: int = 0
    #: Days of history backfilled into Prometheus (`--history-days`; 8: one weekly cycle and a day); 0 for none (the detector then only warms up).
    history_days: float = 8.0
    #: Time between backfilled samples.
    history_step_seconds: float = 60.0
    #: The scripted scenario (`--scenario`), run once the detector scores.
    scenario_path: Path = setting(DEFAULT_SCENARIO, shown_default="`scenarios/demo.yaml` (installed with the kit)")
    #: Run the scenario (`--no-scenario`: trigger incidents by hand).
    run_scenario: bool = True
    #: Cached history blocks and each run's data, logs and scoreboard.
    cache_dir: Path = shared(
        "AIOPS_CACHE_DIR",
        default_factory=lambda: _default_cache_dir({}),
        default_from_env=_default_cache_dir,
        shown_default="`$XDG_CACHE_HOME/aiops`, else `~/.cache/aiops`",
    )
    #: Seconds between two lines of the live view; 0 means the scrape interval.
    view_every_seconds: float = 0.0
    #: Let the responder take the runbook's automatic actions (`--remediate`; it ends the incidents it remedies).
    remediate: bool = False
    #: The detector's signals file (`--signals`; what is modelled, its PromQL and its rate window); empty: the kit's `model/signals.yaml`.
    signals_path: Path | None = None
    #: AIOps and MLOps side by side (`--mlops`): train a champion on the demo's history with `aiops train` (gated, registered in MLflow), then serve it beside the online loop.
    mlops: bool = False
    #: Whose detections page through Alertmanager (`--alerting-model`): `online` or `champion`; the other model's show on the scoreboard and the metrics only.
    alerting_model: str = "online"
    #: `--mlops`: the MLflow store the demo trains into and serves from; empty: `CACHE_DIR/mlflow/mlflow.db` (kept across runs, so the gate meets the last champion).
    tracking_uri: str = setting("", shown_default="unset (`CACHE_DIR/mlflow/mlflow.db`)")

    def resolved_tracking_uri(self) -> str:
        """:attr:`tracking_uri`, or the demo's sqlite store under the cache folder."""
        return self.tracking_uri.strip() or f"sqlite:///{(self.cache_dir / 'mlflow' / 'mlflow.db').resolve()}"

    def training_days(self) -> tuple[float, float]:
        """``--mlops``: (training days, evaluation days) within the backfilled history, a quarter day spare at its start.

        With 8 days or more, 7 train (the weekly terms need a week) and the rest evaluates (at most 2).
        """
        if self.history_days >= 8:  # seven training days, so the weekly terms are fitted; the rest evaluates
            evaluation = min(2.0, self.history_days - 7.25)
        else:
            evaluation = min(2.0, self.history_days / 4)
        return self.history_days - evaluation - 0.25, evaluation

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535 or not 0 <= self.prometheus_port <= 65535 or not 0 <= self.console_port <= 65535:
            raise ValueError("ports must be in 1..65535 (0 for --prometheus-port or --console-port picks a free one)")
        if self.alerting_model not in ("online", "champion"):
            raise ValueError(f"alerting_model must be one of online, champion, not {self.alerting_model!r}")
        if self.alerting_model == "champion" and not self.mlops:
            raise ValueError("alerting_model champion needs --mlops (without it no champion runs)")
        if self.mlops and self.history_days < 2:
            raise ValueError(f"--mlops trains on the demo's history and needs at least 2 days of it (history_days), not {self.history_days:g}")
        if self.history_days < 0 or self.history_step_seconds <= 0 or self.view_every_seconds < 0:
            raise ValueError("history_days and view_every_seconds must be >= 0, history_step_seconds > 0")
