"""The Alertmanager launcher: the real binary on a free loopback port, clustering off, the project's config."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from plumbing import binaries as prom
from plumbing import monitoring as mon

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once


def test_alertmanager_starts_with_the_project_config_and_clustering_off(alertmanager_bin: str, tmp_path: Path) -> None:
    with prom.start_alertmanager(mon.alertmanager_config(), storage_dir=tmp_path / "data", log_path=tmp_path / "alertmanager.log") as am:
        status = httpx.get(f"{am.url}/api/v2/status", timeout=10).json()
        assert status["cluster"]["status"] == "disabled"
        loaded = yaml.safe_load(status["config"]["original"])
        ours = yaml.safe_load(mon.alertmanager_config().read_text())
        assert loaded["route"]["receiver"] == ours["route"]["receiver"]
        assert loaded["route"]["group_by"] == ours["route"]["group_by"]
        child = am.child
    assert not child.alive(), "stop() ends the process"
