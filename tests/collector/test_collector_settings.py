"""CollectorSettings: environment variables, and the README's table that documents them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from collector import CollectorSettings
from collector._settings import env_name

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- collector-settings:start -->", "<!-- collector-settings:end -->"


def _readme_table() -> dict[str, tuple[str, str]]:
    """``{VARIABLE: (field, default)}`` from the README's table between the markers."""
    text = README.read_text() if README.exists() else ""
    if START not in text or END not in text:
        pytest.fail(f"README.md has no table between {START} and {END}")
    rows = {}
    for line in text.split(START, 1)[1].split(END, 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`AIOPS_"):
            continue
        rows[cells[0].strip("`")] = (cells[1].strip("`"), cells[2].strip("`"))
    return rows


def test_readme_table_matches_the_settings() -> None:
    table = _readme_table()
    fields = {f.name: f.default for f in dataclasses.fields(CollectorSettings)}
    assert set(table) == {env_name(f) for f in fields}
    for var, (field, default) in table.items():
        assert env_name(field) == var
        assert default == str(fields[field]), f"{var}: README says {default}, the code says {fields[field]}"


def test_from_env_reads_every_variable_with_units() -> None:
    env = {
        "AIOPS_HOST": "0.0.0.0",
        "AIOPS_PORT": "9100",
        "AIOPS_SEED": "42",
        "AIOPS_LOG_PATH": "/tmp/x.jsonl",
        "AIOPS_CHAOS_EVERY_SECONDS": "15m",
        "AIOPS_CHAOS_DURATION_SECONDS": "90",
        "AIOPS_RECENT_SECONDS": "2h",
        "AIOPS_TICK_SECONDS": "0.5",
        "AIOPS_HISTORY_DIR": "/tmp/history",
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
    )
    assert {env_name(f.name) for f in dataclasses.fields(CollectorSettings)} <= set(env)


def test_overrides_win_and_none_is_ignored() -> None:
    s = CollectorSettings.from_env({"AIOPS_PORT": "9100", "AIOPS_SEED": "1"}, port=8001, seed=None)
    assert (s.port, s.seed) == (8001, 1)
    assert CollectorSettings.from_env({}) == CollectorSettings()


def test_frozen_keyword_only_and_validated() -> None:
    s = CollectorSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        CollectorSettings("0.0.0.0")  # type: ignore[misc]
    with pytest.raises(ValueError, match="AIOPS_PORT"):
        CollectorSettings.from_env({"AIOPS_PORT": "eighty"})
    with pytest.raises(ValueError):
        CollectorSettings(port=70000)
    assert not s.chaos_enabled and CollectorSettings(chaos_every_seconds=60).chaos_enabled
    assert CollectorSettings(host="::1", port=1).url == "http://[::1]:1"
