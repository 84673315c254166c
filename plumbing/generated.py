"""Files the kit generates from its own code and commits (dashboards, compose, their configs), with a ``--check`` mode.

A :class:`GeneratedFile` is a path and the text it must hold; :func:`write_generated` writes
the stale ones (or, with ``check``, only lists them), so ``aiops ... generate --check`` and the
tests fail when a committed file drifts from the code that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = ["GeneratedFile", "write_generated"]


@dataclass(frozen=True)
class GeneratedFile:
    """One generated file: where it goes and what it must hold."""

    path: Path
    text: str

    def current(self) -> str | None:
        return self.path.read_text(encoding="utf-8") if self.path.is_file() else None

    @property
    def up_to_date(self) -> bool:
        return self.current() == self.text


def write_generated(files: Sequence[GeneratedFile], *, check: bool = False, prune_suffix: str | None = None) -> list[GeneratedFile]:
    """The files that were (or, with ``check``, would be) written.

    ``prune_suffix`` (e.g. ``".json"``): files with that suffix in the folders of generated files
    with it, which no generated file names, are stale too and removed (a renamed dashboard).
    """
    stale = [f for f in files if not f.up_to_date]
    extra: list[Path] = []
    if prune_suffix:
        dirs = {f.path.parent for f in files if f.path.suffix == prune_suffix}
        expected = {f.path for f in files}
        extra = [p for d in dirs if d.is_dir() for p in sorted(d.glob(f"*{prune_suffix}")) if p not in expected]
    if not check:
        for f in stale:
            f.path.parent.mkdir(parents=True, exist_ok=True)
            f.path.write_text(f.text, encoding="utf-8")
        for p in extra:
            p.unlink()
    return stale + [GeneratedFile(p, "") for p in extra]
