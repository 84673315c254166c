"""What ``aiops console`` can be told: :class:`ConsoleSettings`, options over ``AIOPS_CONSOLE_*`` over defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collector import collector_url_setting, token_setting
from plumbing.settings import EnvSettings, shared

__all__ = ["ConsoleSettings"]


@dataclass(frozen=True, kw_only=True)
class ConsoleSettings(EnvSettings):
    """Where the console listens, what it reads, and how often the page refreshes; units in the names."""

    ENV_PREFIX = "AIOPS_CONSOLE_"

    #: Interface of the console (`--host`); loopback by default. Anything else lets a room trigger and stop incidents through it: it holds the runner's token (a warning is printed).
    host: str = "127.0.0.1"
    #: Port of the console's page and JSON API (`--port`).
    port: int = 8003
    #: The collector: the fleet, the catalog and the incident API the page's buttons call.
    collector_url: str = collector_url_setting()
    #: The runner's token, sent with the console's writes to the collector (a collector off loopback refuses writes without it); the room writes through the console, never with the token.
    token: str = token_setting()
    #: The detector: its health, flags with their explanations, detected incidents and scoreboard (`--detector-url`).
    detector_url: str = "http://127.0.0.1:8001"
    #: Prometheus, for the charts of each service's signals with the detector's band and flags (`--prometheus-url`).
    prometheus_url: str = shared("AIOPS_PROMETHEUS_URL", "http://127.0.0.1:9090")
    #: The detector's signals file (`--signals`), for the charts' PromQL; unset: the kit's `model/signals.yaml`.
    signals_path: Path | None = None
    #: Grafana's URL, for links into the kit's dashboards (by their fixed uids); unset: no links.
    grafana_url: str | None = shared("AIOPS_GRAFANA_URL", None)
    #: How often the page asks for the fleet's state (`--refresh-every`).
    refresh_every_seconds: float = 2.0
    #: How much of the recent past the charts show.
    chart_window_seconds: float = 900.0
    #: Timeout of every request the console makes to the collector, the detector or Prometheus.
    timeout_seconds: float = 3.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"AIOPS_CONSOLE_PORT={self.port}: a port is 0 to 65535")
        for name in ("refresh_every_seconds", "chart_window_seconds", "timeout_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"AIOPS_CONSOLE_{name.upper()}={getattr(self, name)}: must be > 0")
        if self.grafana_url is not None and not self.grafana_url.startswith(("http://", "https://")):
            raise ValueError(f"AIOPS_GRAFANA_URL={self.grafana_url!r}: not an http:// or https:// URL")
