"""CollectorSettings: its ``AIOPS_COLLECTOR_*`` variables and the one rule for the collector's URL.

(The README's table of these variables is checked in tests/test_settings_tables.py.)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from collector import CollectorSettings, collector_url
from plumbing.settings import SettingsError, env_vars


def test_from_env_reads_every_variable_with_units() -> None:
    env = {
        "AIOPS_COLLECTOR_HOST": "0.0.0.0",
        "AIOPS_COLLECTOR_PORT": "9100",
        "AIOPS_COLLECTOR_SEED": "42",
        "AIOPS_COLLECTOR_LOG_PATH": "/tmp/x.jsonl",
        "AIOPS_COLLECTOR_CHAOS_EVERY_SECONDS": "15m",
        "AIOPS_COLLECTOR_CHAOS_DURATION_SECONDS": "90",
        "AIOPS_COLLECTOR_RECENT_SECONDS": "2h",
        "AIOPS_COLLECTOR_TICK_SECONDS": "0.5",
        "AIOPS_COLLECTOR_HISTORY_DIR": "/tmp/history",
        "AIOPS_COLLECTOR_KEEP_ENDED_INCIDENTS": "50",
        "AIOPS_COLLECTOR_PUBLIC_NAMES": "kit.example,room",
        "AIOPS_TOKEN": "runner-secret",
        "AIOPS_RESPONDER_TOKEN": "responder-secret",
        "UNRELATED": "x",
    }
    s = CollectorSettings.from_env(env)
    assert s == CollectorSettings(
        host="0.0.0.0",
        port=9100,
        seed=42,
        log_path=Path("/tmp/x.jsonl"),
        chaos_every_seconds=900.0,
        chaos_duration_seconds=90.0,
        recent_seconds=7200.0,
        tick_seconds=0.5,
        history_dir=Path("/tmp/history"),
        keep_ended_incidents=50,
        public_names="kit.example,room",
        token="runner-secret",
        responder_token="responder-secret",
    )
    assert "secret" not in repr(s)  # tokens are never logged
    assert set(env_vars(CollectorSettings).values()) <= set(env)


def test_the_old_unprefixed_names_are_not_read() -> None:
    assert CollectorSettings.from_env({"AIOPS_PORT": "9100", "AIOPS_SEED": "3"}) == CollectorSettings()


def test_overrides_win_and_none_is_ignored() -> None:
    s = CollectorSettings.from_env({"AIOPS_COLLECTOR_PORT": "9100", "AIOPS_COLLECTOR_SEED": "1"}, port=8001, seed=None)
    assert (s.port, s.seed) == (8001, 1)
    assert CollectorSettings.from_env({}) == CollectorSettings()


def test_frozen_keyword_only_and_validated() -> None:
    s = CollectorSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        CollectorSettings("0.0.0.0")  # type: ignore[misc]
    with pytest.raises(SettingsError, match="AIOPS_COLLECTOR_PORT='eighty': not an integer"):
        CollectorSettings.from_env({"AIOPS_COLLECTOR_PORT": "eighty"})
    with pytest.raises(ValueError):
        CollectorSettings(port=70000)
    assert not s.chaos_enabled and CollectorSettings(chaos_every_seconds=60).chaos_enabled
    assert CollectorSettings(host="::1", port=1).url == "http://[::1]:1"


def test_a_client_uses_the_url_variable_else_the_collectors_own_address() -> None:
    assert collector_url({}) == "http://127.0.0.1:8000" == CollectorSettings().url
    assert collector_url({"AIOPS_COLLECTOR_URL": "http://room:8000/"}) == "http://room:8000"
    assert collector_url({"AIOPS_COLLECTOR_URL": "http://room:8000", "AIOPS_COLLECTOR_PORT": "1"}) == "http://room:8000"
    assert collector_url({"AIOPS_COLLECTOR_HOST": "10.0.0.5", "AIOPS_COLLECTOR_PORT": "9100"}) == "http://10.0.0.5:9100"
    # listening on every interface: a client on this machine goes through loopback
    assert collector_url({"AIOPS_COLLECTOR_HOST": "0.0.0.0"}) == "http://127.0.0.1:8000"
    assert collector_url({"AIOPS_COLLECTOR_HOST": "::"}) == "http://[::1]:8000"
    # only host and port matter to a client
    assert collector_url({"AIOPS_COLLECTOR_CHAOS_EVERY_SECONDS": "often"}) == "http://127.0.0.1:8000"
    with pytest.raises(SettingsError, match="AIOPS_COLLECTOR_PORT='x'"):
        collector_url({"AIOPS_COLLECTOR_PORT": "x"})


def test_collector_url_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIOPS_COLLECTOR_URL", raising=False)
    monkeypatch.setenv("AIOPS_COLLECTOR_PORT", "9123")
    assert collector_url() == "http://127.0.0.1:9123"
