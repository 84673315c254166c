"""Fixtures for the dashboards' tests: the ``aiops`` command with ``aiops dashboards`` registered, a fake Grafana."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import pytest

import aiops.cli as cli
from fake_grafana import FakeGrafana

DASHBOARDS_COMMAND = "aiops.commands.dashboards"


@pytest.fixture
def aiops(monkeypatch: pytest.MonkeyPatch) -> Callable[[Sequence[str]], int]:
    """``aiops ARGS`` in-process, with the dashboards command registered (also before aiops/cli.py lists it)."""
    if DASHBOARDS_COMMAND not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, DASHBOARDS_COMMAND))
    for var in ("AIOPS_GRAFANA_URL", "AIOPS_GRAFANA_TOKEN", "AIOPS_GRAFANA_USER", "AIOPS_GRAFANA_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    return lambda argv: cli.main(list(argv))


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana() as g:
        yield g
