"""The collector's settings (``AIOPS_COLLECTOR_*`` variables) and the one rule for the collector's URL.

:func:`collector_url` is what every client of the collector uses when it is not told a URL
(the ``aiops incident`` and ``aiops scenario run`` commands, the detector's and the responder's
``collector_url``): ``$AIOPS_COLLECTOR_URL``, else the collector's own address from
``AIOPS_COLLECTOR_HOST`` and ``AIOPS_COLLECTOR_PORT``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from plumbing.settings import EnvSettings, SettingsError, read_env, shared

__all__ = [
    "COLLECTOR_URL_ENV",
    "RESPONDER_TOKEN_ENV",
    "TOKEN_ENV",
    "CollectorSettings",
    "collector_url",
    "collector_url_setting",
    "responder_token_setting",
    "token_setting",
]

#: The runner's token: what a client sends with every write to a collector off loopback.
TOKEN_ENV = "AIOPS_TOKEN"
#: The responder's token: Alertmanager sends it to the responder, the responder to the collector.
RESPONDER_TOKEN_ENV = "AIOPS_RESPONDER_TOKEN"


def token_setting() -> Any:
    """The runner's token field (``AIOPS_TOKEN``), shared by the collector and its clients."""
    return shared(TOKEN_ENV, "", secret=True, shown_default="empty (generated and printed off loopback)")


def responder_token_setting() -> Any:
    """The responder's token field (``AIOPS_RESPONDER_TOKEN``), shared by the collector and the responder."""
    return shared(RESPONDER_TOKEN_ENV, "", secret=True, shown_default="empty")

#: The variable with the URL of the collector its clients talk to (shared by every service).
COLLECTOR_URL_ENV = "AIOPS_COLLECTOR_URL"

#: Listening on these means "every interface"; a client on this machine reaches them on loopback.
_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True, kw_only=True)
class CollectorSettings(EnvSettings):
    """Everything ``aiops collector`` can be told; units are in the field names.

    Durations given through the environment may use units (``15m``, ``90s``).
    """

    ENV_PREFIX = "AIOPS_COLLECTOR_"

    #: Interface the collector listens on; anything but loopback makes every write need the token (reads stay open).
    host: str = "127.0.0.1"
    #: Port of `/metrics` and the incident API (Prometheus' default config scrapes `127.0.0.1:8000`).
    port: int = 8000
    #: Bearer token every write needs when the collector listens off loopback (empty: one is generated and printed at start); clients send it from `--token` or this variable.
    token: str = token_setting()
    #: The responder's token: the only one whose runbook actions may say `by: "remediation"` (empty: no request may; the demo sets one for both).
    responder_token: str = responder_token_setting()
    #: Host names clients use to reach the collector besides its IP addresses and `localhost` (comma-separated); a write naming another Host is refused (DNS rebinding).
    public_names: str = ""
    #: Seed of the simulated fleet and the chaos schedule; use the backfill's seed so history and live data continue each other.
    seed: int = 0
    #: Append-only incident log (JSON lines); incidents still active in it resume when the collector restarts.
    log_path: Path = Path(".aiops/incidents.jsonl")
    #: Start one seeded random incident this often (`15m` works too); `0` turns the chaos schedule off.
    chaos_every_seconds: float = 0.0
    #: How long each chaos incident lasts.
    chaos_duration_seconds: float = 120.0
    #: How long ended incidents stay listed by `GET /api/incidents` and `aiops incident list`.
    recent_seconds: float = 3600.0
    #: How many ended incidents stay in memory (listed, scraped, looked up by id); the log keeps every one.
    keep_ended_incidents: int = 200
    #: Step of the simulation clock; counters are integrated on this grid.
    tick_seconds: float = 1.0
    #: A backfill's output directory (`--continue-history`): the live counters continue its history (same seed), so history and live data are one series with no counter reset.
    history_dir: Path | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {self.port}")
        if self.chaos_every_seconds < 0 or self.chaos_duration_seconds <= 0:
            raise ValueError("chaos_every_seconds must be >= 0 and chaos_duration_seconds > 0")
        if self.keep_ended_incidents < 0:
            raise ValueError(f"keep_ended_incidents must be >= 0, not {self.keep_ended_incidents}")
        if self.tick_seconds <= 0 or self.recent_seconds < 0:
            raise ValueError("tick_seconds must be > 0 and recent_seconds >= 0")

    @property
    def chaos_enabled(self) -> bool:
        return self.chaos_every_seconds > 0

    @property
    def url(self) -> str:
        """Where the collector listens, as a URL (``http://[::1]:8000`` for IPv6)."""
        return _http(self.host, self.port)


def _http(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def collector_url(environ: Mapping[str, str] | None = None) -> str:
    """The collector's URL for a client: ``$AIOPS_COLLECTOR_URL``, else ``http://$AIOPS_COLLECTOR_HOST:$AIOPS_COLLECTOR_PORT``.

    Only the collector's host and port are read (another bad collector variable is not the
    client's problem); a collector listening on every interface is reached on loopback.
    """
    env = os.environ if environ is None else environ
    url = env.get(COLLECTOR_URL_ENV, "").strip()
    if url:
        return url.rstrip("/")
    try:
        s = CollectorSettings(**read_env(CollectorSettings, env, ("host", "port")))
    except SettingsError:
        raise
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return _http(_WILDCARD.get(s.host, s.host), s.port)


def collector_url_setting() -> Any:
    """The ``collector_url`` field of another service's settings: variable ``AIOPS_COLLECTOR_URL``, default :func:`collector_url`."""
    return shared(
        COLLECTOR_URL_ENV,
        CollectorSettings().url,
        default_from_env=collector_url,
        shown_default=f"`http://$AIOPS_COLLECTOR_HOST:$AIOPS_COLLECTOR_PORT` (`{CollectorSettings().url}`)",
    )
