"""The responder's settings: one frozen dataclass, read from ``AIOPS_RESPONDER_*`` variables.

The collector's URL is the shared ``AIOPS_COLLECTOR_URL`` (default: the collector's own
address, see :func:`collector.collector_url`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collector import collector_url_setting, responder_token_setting
from plumbing.settings import EnvSettings

__all__ = ["ResponderSettings"]


@dataclass(frozen=True, kw_only=True)
class ResponderSettings(EnvSettings):
    """Everything ``aiops responder`` can be told; units are in the field names."""

    ENV_PREFIX = "AIOPS_RESPONDER_"

    #: Interface of the webhook receiver; off loopback a token is required (generated and printed at start when none is set).
    host: str = "127.0.0.1"
    #: Port of `/alertmanager` (the webhook `monitoring/alertmanager.yml` sends to), `/api/alerts` and `/metrics`.
    port: int = 8002
    #: The collector the runbook's actions are asked of.
    collector_url: str = collector_url_setting()
    #: Where every alert is recorded (JSON lines).
    log_path: Path = Path(".aiops/alerts.jsonl")
    #: Take the runbook's automatic actions (off by default, so it never ends the incident a room is watching).
    remediate: bool = False
    #: The responder's bearer token: required on `/alertmanager` when set (Alertmanager sends it) and sent with its actions to the collector.
    token: str = responder_token_setting()
    #: Timeout of each action request to the collector.
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {self.port}")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be > 0")
