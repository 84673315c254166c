"""The collector's settings: one frozen dataclass, read from ``AIOPS_*`` environment variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from plumbing.settings import settings_from_env

__all__ = ["CollectorSettings", "env_name"]

#: Prefix of every environment variable the collector reads.
ENV_PREFIX = "AIOPS_"


def env_name(field: str) -> str:
    """The environment variable that sets ``field`` (``log_path`` -> ``AIOPS_LOG_PATH``)."""
    return ENV_PREFIX + field.upper()


@dataclass(frozen=True, kw_only=True)
class CollectorSettings:
    """Everything ``aiops collector`` can be told; units are in the field names.

    Durations given through the environment may use units (``15m``, ``90s``).
    """

    #: Interface to listen on; anything but loopback exposes an API without authentication.
    host: str = "127.0.0.1"
    #: TCP port of /metrics and the incident API (Prometheus' default config scrapes 127.0.0.1:8000).
    port: int = 8000
    #: Seed of the simulated fleet and of the chaos schedule (use the backfill's seed to continue its history).
    seed: int = 0
    #: Append-only incident log (JSON lines); incidents still active in it resume at start.
    log_path: Path = Path(".aiops/incidents.jsonl")
    #: Start one random incident this often; 0 turns the chaos schedule off.
    chaos_every_seconds: float = 0.0
    #: How long each chaos incident lasts.
    chaos_duration_seconds: float = 120.0
    #: How long ended incidents stay listed by GET /api/incidents.
    recent_seconds: float = 3600.0
    #: Step of the simulation clock; counters are integrated on this grid.
    tick_seconds: float = 1.0
    #: A backfill's output directory: the live counters continue its history (same seed), so history and live data are one series with no counter reset.
    history_dir: Path | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {self.port}")
        if self.chaos_every_seconds < 0 or self.chaos_duration_seconds <= 0:
            raise ValueError("chaos_every_seconds must be >= 0 and chaos_duration_seconds > 0")
        if self.tick_seconds <= 0 or self.recent_seconds < 0:
            raise ValueError("tick_seconds must be > 0 and recent_seconds >= 0")

    @property
    def chaos_enabled(self) -> bool:
        return self.chaos_every_seconds > 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "CollectorSettings":
        """Defaults, then ``AIOPS_*`` variables, then ``overrides`` (e.g. command-line options; None is ignored)."""
        return settings_from_env(cls, env_name, environ, overrides)

