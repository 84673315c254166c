"""``aiops dashboards``: its help imports nothing heavy (no SDK, grafana-client, matplotlib, numpy ...)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "pandas", "sklearn", "numpy", "simulator", "uvicorn", "scipy", "matplotlib", "grafana_foundation_sdk", "grafana_client", "niquests", "dashboards")


@pytest.mark.parametrize("argv", [["dashboards", "--help"], ["dashboards", "generate", "--help"], ["dashboards", "push", "--help"],
                                  ["dashboards", "render", "--help"]])  # fmt: skip
def test_help_imports_no_heavy_library(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "import aiops.cli as cli\n"
        "mods = cli.COMMAND_MODULES if 'aiops.commands.dashboards' in cli.COMMAND_MODULES else (*cli.COMMAND_MODULES, 'aiops.commands.dashboards')\n"
        "cli.COMMAND_MODULES = mods\n"
        "try:\n"
        f"    cli.build_parser().parse_args({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('LOADED:', *sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "LOADED:"
    assert "usage: aiops dashboards" in done.stdout


def test_render_passes_the_chosen_service_model_and_signal_as_variables(aiops, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import dashboards

    seen: dict = {}

    def fake_render(prometheus_url: str, out_dir: Path, **kwargs: object) -> list:
        seen.update(kwargs, prometheus_url=prometheus_url)
        return []

    monkeypatch.setattr(dashboards, "render", fake_render)
    argv = ["dashboards", "render", "--prometheus-url", "http://127.0.0.1:1", "--out", str(tmp_path), "--model", "champion", "--signal", "memory",
            "--dashboard", dashboards.MLOPS_UID]  # fmt: skip
    assert aiops(argv) == 0
    assert seen["variables"] == {"model": "champion", "signal": "memory"}
    assert list(seen["dashboards"]) == [dashboards.MLOPS_UID]
    with pytest.raises(SystemExit):
        aiops(["dashboards", "render", "--out", str(tmp_path), "--model", "offline"])
    assert "invalid choice: 'offline'" in capsys.readouterr().err
