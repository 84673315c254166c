"""docs/incidents.md is generated from the catalog and committed up to date."""

from __future__ import annotations

from pathlib import Path

from collector import incidents_markdown
from simulator import load_catalog

DOC = Path(__file__).resolve().parents[2] / "docs" / "incidents.md"


def test_committed_reference_is_the_generated_one() -> None:
    assert DOC.read_text() == incidents_markdown(), "docs/incidents.md is stale: run `aiops docs incidents`"


def test_reference_covers_every_kind_service_and_limit() -> None:
    text = incidents_markdown()
    c = load_catalog()
    for k in c.kinds:
        assert f"### {k.name}" in text and k.effect in text
    for s in c.services:
        assert f"`{s.name}`" in text
    for d in c.dependencies:
        assert f"{d.caller} --> {d.callee}" in text
    assert f"At most **{c.max_concurrent_incidents}**" in text
