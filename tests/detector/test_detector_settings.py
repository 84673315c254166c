"""DetectorSettings: its ``AIOPS_DETECTOR_*`` variables and the two shared addresses.

(The README's table of these variables is checked in tests/test_settings_tables.py.)
"""

from __future__ import annotations

import pytest

from detector._settings import DetectorSettings
from plumbing.settings import SettingsError, env_var, env_vars


def test_every_variable_but_the_shared_addresses_has_the_detectors_prefix() -> None:
    shared = {"prometheus_url": "AIOPS_PROMETHEUS_URL", "collector_url": "AIOPS_COLLECTOR_URL"}
    for field, var in env_vars(DetectorSettings).items():
        assert var == shared.get(field, "AIOPS_DETECTOR_" + field.upper())
    assert env_var(DetectorSettings, "port") == "AIOPS_DETECTOR_PORT"


def test_the_shared_addresses_are_read() -> None:
    env = {"AIOPS_PROMETHEUS_URL": "http://prom:9090", "AIOPS_COLLECTOR_URL": "http://coll:8000", "AIOPS_DETECTOR_PROMETHEUS_URL": "http://old:1"}
    s = DetectorSettings.from_env(env)
    assert (s.prometheus_url, s.collector_url) == ("http://prom:9090", "http://coll:8000")
    assert DetectorSettings.from_env({"AIOPS_COLLECTOR_PORT": "9100"}).collector_url == "http://127.0.0.1:9100"


def test_durations_options_and_bad_values() -> None:
    s = DetectorSettings.from_env({"AIOPS_DETECTOR_FIT_EVERY_SECONDS": "5m", "AIOPS_DETECTOR_PORT": "9001"}, port=9002, host=None)
    assert (s.fit_every_seconds, s.port, s.host) == (300.0, 9002, "127.0.0.1")
    with pytest.raises(SettingsError, match="AIOPS_DETECTOR_PORT='x': not an integer"):
        DetectorSettings.from_env({"AIOPS_DETECTOR_PORT": "x"})
    with pytest.raises(SettingsError, match="shard must be i/n"):
        DetectorSettings.from_env({"AIOPS_DETECTOR_SHARD_INDEX": "2", "AIOPS_DETECTOR_SHARD_COUNT": "2"})
