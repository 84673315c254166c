"""Reading a frozen settings dataclass from environment variables, one field per variable."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from plumbing.durations import parse_duration

__all__ = ["settings_from_env"]

T = TypeVar("T")


def _convert(name: str, default: Any, raw: str) -> Any:
    """A variable's text as the field's type; fields in seconds take units (``15m``)."""
    if isinstance(default, Path) or name.endswith("_dir"):
        return Path(raw)
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return parse_duration(raw) if name.endswith("_seconds") else float(raw)
    return raw


def settings_from_env(cls: type[T], env_name: Callable[[str], str], environ: Mapping[str, str] | None, overrides: Mapping[str, Any]) -> T:
    """Defaults, then each field's variable ``env_name(field)``, then non-None ``overrides``.

    A variable that does not parse raises ValueError naming it and its value.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        raw = env.get(env_name(f.name))
        if raw is None or not raw.strip():
            continue
        try:
            values[f.name] = _convert(f.name, f.default, raw.strip())
        except ValueError as exc:
            raise ValueError(f"{env_name(f.name)}={raw!r}: {exc}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls(**values)
