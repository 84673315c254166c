"""The detector service's settings: one frozen dataclass, read from ``AIOPS_DETECTOR_*`` variables.

Two addresses are shared with the other services: ``AIOPS_PROMETHEUS_URL`` and
``AIOPS_COLLECTOR_URL`` (default: the collector's own address, see :func:`collector.collector_url`).
"""

from __future__ import annotations

from dataclasses import dataclass

from collector import collector_url_setting
from plumbing.settings import EnvSettings, shared

__all__ = ["MODEL_SOURCES", "PROMETHEUS_URL_ENV", "DetectorSettings"]

#: Where the detector's model comes from: ``online`` (fitted here, refitted on a schedule) or
#: ``registry`` (the ``champion`` alias of the registered model, frozen).
MODEL_SOURCES = ("online", "registry")

#: The variable with the URL of the Prometheus the detector reads.
PROMETHEUS_URL_ENV = "AIOPS_PROMETHEUS_URL"


@dataclass(frozen=True, kw_only=True)
class DetectorSettings(EnvSettings):
    """Everything ``aiops detect`` can be told; units are in the field names.

    ``infer_every_seconds`` of 0 means "the scrape interval" (``scrape_interval_seconds``, else
    the one written in monitoring/prometheus.yml), so the query step and the scrape agree.
    """

    ENV_PREFIX = "AIOPS_DETECTOR_"

    #: Prometheus to read the signals from.
    prometheus_url: str = shared(PROMETHEUS_URL_ENV, "http://127.0.0.1:9090")
    #: The collector, for its catalog (the dependency graph) and its incident records.
    collector_url: str = collector_url_setting()
    #: Interface of the detector's /metrics and JSON API; anything but loopback exposes it without authentication.
    host: str = "127.0.0.1"
    #: Port of the detector's /metrics and JSON API (Prometheus scrapes it as job `aiops-detector`).
    port: int = 8001
    #: How often to score the newest points (0: the scrape interval, scrape_interval_seconds or else monitoring/prometheus.yml's).
    infer_every_seconds: float = 0.0
    #: Prometheus's scrape interval of the collector: a full rate window holds the window over it in samples (0: the one in monitoring/prometheus.yml).
    scrape_interval_seconds: float = 0.0
    #: How often to refit the baselines.
    fit_every_seconds: float = 600.0
    #: How much history each fit reads (14 days).
    fit_window_seconds: float = 14 * 86400.0
    #: Query step of the history a fit reads (the backfill's step).
    fit_step_seconds: float = 60.0
    #: History needed before the detector flags anything (two days: time-of-day terms need them).
    min_history_seconds: float = 2 * 86400.0
    #: How far back each inference cycle scores (enough for the debounce and the rate windows); it reads the change window of signals.yaml (10 min) before that too.
    lookback_seconds: float = 300.0
    #: Timeout of every Prometheus or collector request.
    timeout_seconds: float = 10.0
    #: A cycle that could not start on time still runs if it is at most this late.
    misfire_grace_seconds: float = 30.0
    #: This replica's shard (0-based, `--shard i/n`); services are split by a hash of their name.
    shard_index: int = 0
    #: Number of shards (replicas).
    shard_count: int = 1
    #: Where the model comes from (`--model-source`): `online` fits and refits it here; `registry` serves the registered model's `champion` and never refits (its metrics carry `model="champion"`).
    model_source: str = "online"
    #: Registry mode: how often to check whether the `champion` alias moved (and to retry an unreachable registry).
    champion_check_every_seconds: float = 30.0

    @property
    def role(self) -> str:
        """The ``model`` label of everything this detector serves: ``online`` or ``champion``."""
        return "champion" if self.model_source == "registry" else "online"
    #: Re-baseline rule of the online loop (`--rebaseline-after`): a series flagged this long without a 3-minute gap is accepted as the new normal (README, "The re-baseline rule"); 0: never.
    rebaseline_after_seconds: float = 900.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {self.port}")
        if self.shard_count < 1 or not 0 <= self.shard_index < self.shard_count:
            raise ValueError(f"shard must be i/n with 0 <= i < n, not {self.shard_index}/{self.shard_count}")
        for name in ("fit_every_seconds", "fit_window_seconds", "fit_step_seconds", "lookback_seconds", "timeout_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.model_source not in MODEL_SOURCES:
            raise ValueError(f"model_source must be one of {', '.join(MODEL_SOURCES)}, not {self.model_source!r}")
        if self.champion_check_every_seconds <= 0:
            raise ValueError("champion_check_every_seconds must be > 0")
        if self.rebaseline_after_seconds < 0:
            raise ValueError(f"rebaseline_after_seconds must be >= 0 (0: never re-baseline), not {self.rebaseline_after_seconds}")
        if self.infer_every_seconds < 0 or self.min_history_seconds < 0 or self.scrape_interval_seconds < 0:
            raise ValueError("infer_every_seconds, scrape_interval_seconds and min_history_seconds must be >= 0")
