"""The README's settings tables are the settings classes' own (``aiops docs settings`` writes them).

(Named apart from tests/plumbing/test_settings.py: the test folders are not packages, so two
test modules may not share a file name.)
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from aiops.cli import main
from aiops.console import ConsoleSettings
from aiops.demo import DemoSettings
from collector import COLLECTOR_URL_ENV, CollectorSettings
from detector import DetectorSettings
from plumbing.settings import env_var, env_vars, settings_table
from responder import ResponderSettings
from plumbing.grafana import GrafanaSettings
from training import TrainSettings

README = Path(__file__).resolve().parent.parent / "README.md"

TABLES = [
    ("collector-settings", CollectorSettings),
    ("detector-settings", DetectorSettings),
    ("responder-settings", ResponderSettings),
    ("demo-settings", DemoSettings),
    ("train-settings", TrainSettings),
    ("grafana-settings", GrafanaSettings),
    ("console-settings", ConsoleSettings),
]


def _block(text: str, name: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    assert text.count(start) == 1 and text.count(end) == 1, f"README.md needs one {start} ... {end} block"
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


@pytest.mark.parametrize(("name", "cls"), TABLES, ids=[n for n, _ in TABLES])
def test_the_readme_table_is_the_classes_own(name: str, cls: type) -> None:
    assert _block(README.read_text(), name) == settings_table(cls), (
        f"README.md's {name} table and {cls.__name__} drifted apart; run `aiops docs settings`"
    )


@pytest.mark.parametrize(("name", "cls"), TABLES, ids=[n for n, _ in TABLES])
def test_every_variable_is_the_services_own_or_a_shared_one(name: str, cls: type) -> None:
    prefix = cls.ENV_PREFIX  # type: ignore[attr-defined]
    shared = {"AIOPS_COLLECTOR_URL", "AIOPS_PROMETHEUS_URL", "AIOPS_CACHE_DIR", "AIOPS_GRAFANA_URL"} | set(env_vars(CollectorSettings).values())
    for field, var in env_vars(cls).items():
        assert var == prefix + field.upper() or var in shared, f"{cls.__name__}.{field}: {var}"


def test_the_demo_reads_the_collectors_own_variables_and_defaults() -> None:
    demo, collector = DemoSettings(), CollectorSettings()
    for field in ("host", "port", "seed"):
        assert env_var(DemoSettings, field) == env_var(CollectorSettings, field)
        assert getattr(demo, field) == getattr(collector, field)
    env = {"AIOPS_COLLECTOR_HOST": "0.0.0.0", "AIOPS_COLLECTOR_PORT": "9100", "AIOPS_COLLECTOR_SEED": "3"}
    d, c = DemoSettings.from_env(env), CollectorSettings.from_env(env)
    assert (d.host, d.port, d.seed) == (c.host, c.port, c.seed) == ("0.0.0.0", 9100, 3)


def test_every_client_of_the_collector_reads_one_variable_with_one_default() -> None:
    for cls in (DetectorSettings, ResponderSettings, ConsoleSettings):
        assert env_var(cls, "collector_url") == COLLECTOR_URL_ENV
        assert {f.name: f.default for f in dataclasses.fields(cls)}["collector_url"] == CollectorSettings().url
        assert cls.from_env({"AIOPS_COLLECTOR_PORT": "9100"}).collector_url == "http://127.0.0.1:9100"
        assert cls.from_env({"AIOPS_COLLECTOR_URL": "http://c:1", "AIOPS_COLLECTOR_PORT": "9100"}).collector_url == "http://c:1"


def test_the_generator_checks_and_rewrites_the_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    shutil.copy(README, readme)
    assert main(["docs", "settings", "--check", "--readme", str(readme)]) == 0
    stale = readme.read_text().replace("| `AIOPS_RESPONDER_PORT` | `port` | `8002` |", "| `AIOPS_RESPONDER_PORT` | `port` | `9999` |")
    readme.write_text(stale)
    assert main(["docs", "settings", "--check", "--readme", str(readme)]) == 2
    assert "out of date" in capsys.readouterr().err
    assert main(["docs", "settings", "--readme", str(readme)]) == 0
    assert readme.read_text() == README.read_text()
