"""DetectorSettings and the README's table of its environment variables cannot drift apart."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from detector._settings import DetectorSettings, detector_env_name

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- detector-settings:start -->", "<!-- detector-settings:end -->"


def test_readme_table_matches_the_settings() -> None:
    text = README.read_text()
    assert START in text and END in text
    rows = {}
    for line in text.split(START, 1)[1].split(END, 1)[0].splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("AIOPS_"):
            rows[cells[0]] = (cells[1], cells[2])
    fields = {f.name: f.default for f in dataclasses.fields(DetectorSettings)}
    assert set(rows) == {detector_env_name(f) for f in fields}
    for var, (field, default) in rows.items():
        assert detector_env_name(field) == var
        assert default == str(fields[field]), f"{var}: README says {default}, the code says {fields[field]}"
