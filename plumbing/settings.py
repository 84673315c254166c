"""One settings scheme for every service: a frozen dataclass, one environment variable per field.

A service's settings are a frozen, keyword-only dataclass that mixes in :class:`EnvSettings`
and names its variables' prefix::

    @dataclass(frozen=True, kw_only=True)
    class ResponderSettings(EnvSettings):
        ENV_PREFIX = "AIOPS_RESPONDER_"

        #: Port of the webhook receiver.
        port: int = 8002
        #: The collector the runbook's actions go to.
        collector_url: str = shared("AIOPS_COLLECTOR_URL", "http://127.0.0.1:8000")

- :meth:`EnvSettings.from_env` reads the defaults, then the environment, then the non-None
  overrides (the command-line options), in that order.
- Each field's variable is ``ENV_PREFIX + FIELD.upper()`` (``port`` -> ``AIOPS_RESPONDER_PORT``),
  except an address several services share, declared once with :func:`shared` (the field's
  ``metadata={"env": ...}``): ``AIOPS_COLLECTOR_URL``, ``AIOPS_PROMETHEUS_URL``, ``AIOPS_CACHE_DIR``.
  :func:`env_var` and :func:`env_vars` say which variable sets which field.
- A variable's text is converted by the field's annotation: ``int``, ``float``, ``bool``
  (``1/0``, ``true/false``, ``yes/no``, ``on/off``), ``str``, ``Path`` or ``Path | None``;
  fields ending ``_seconds`` take durations with units (``15m``, ``90s``, see
  :mod:`plumbing.durations`). An empty variable counts as unset. A value that does not convert
  raises :class:`SettingsError` naming the variable, its value and what is allowed.
- The Meaning of a field is the ``#:`` comment above it in the class source;
  :func:`settings_table` turns a class into the README's Markdown table.
- Units are in the field names (``timeout_seconds``, ``history_days``).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import os
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Mapping, TypeVar, Union

from plumbing.durations import parse_duration

__all__ = ["EnvSettings", "SettingsError", "env_var", "env_vars", "read_env", "setting", "settings_table", "shared"]

S = TypeVar("S", bound="EnvSettings")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """A setting's value is not allowed: the message names the variable, its value and what is allowed."""


class EnvSettings:
    """Mixin of a service's frozen, keyword-only settings dataclass (see the module's docstring)."""

    #: Prefix of the variable of every field not declared with :func:`shared`, e.g. ``AIOPS_COLLECTOR_``.
    ENV_PREFIX: ClassVar[str]

    @classmethod
    def from_env(cls: type[S], environ: Mapping[str, str] | None = None, **overrides: Any) -> S:
        """Defaults, then the variables in ``environ`` (default ``os.environ``), then non-None ``overrides``.

        A variable that does not convert, or settings the class refuses, raise :class:`SettingsError`.
        """
        env = os.environ if environ is None else environ
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"{cls.__name__} has no setting {', '.join(unknown)} (settings: {', '.join(sorted(names))})")
        values = read_env(cls, env)
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except SettingsError:
            raise
        except ValueError as exc:  # the class's own checks (__post_init__): a range, a relation between fields
            raise SettingsError(str(exc)) from None


# -- declaring fields --------------------------------------------------------------------


def setting(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    env: str | None = None,
    default_from_env: Callable[[Mapping[str, str]], Any] | None = None,
    shown_default: str | None = None,
    secret: bool = False,
) -> Any:
    """A settings field with extras (plain ``name: int = 3`` needs none of them).

    ``env``: the variable, when it is not the class's prefix + the field's name (see :func:`shared`).
    ``default_from_env``: when the variable is unset, :meth:`EnvSettings.from_env` takes the default
    from the environment through this (``$XDG_CACHE_HOME``, the collector's host and port).
    ``shown_default``: the Default cell of :func:`settings_table` (Markdown) when the default
    depends on the machine or the environment.
    ``secret``: a token; left out of the settings' ``repr`` so it is never logged.
    """
    metadata: dict[str, Any] = {}
    if env is not None:
        metadata["env"] = env
    if default_from_env is not None:
        metadata["default_from_env"] = default_from_env
    if shown_default is not None:
        metadata["shown_default"] = shown_default
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata, repr=not secret)


def shared(env: str, default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A field read from a variable several services share (``shared("AIOPS_COLLECTOR_URL", url)``)."""
    return setting(default, env=env, **kwargs)


# -- which variable sets which field ---------------------------------------------------


def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a settings dataclass")
    return dataclasses.fields(cls)


def _var(cls: type, f: dataclasses.Field[Any]) -> str:
    if "env" in f.metadata:
        return str(f.metadata["env"])
    prefix = getattr(cls, "ENV_PREFIX", None)
    if not prefix:
        raise TypeError(f"{cls.__name__} has no ENV_PREFIX")
    return prefix + f.name.upper()


def env_var(cls: type, field_name: str) -> str:
    """The variable that sets ``cls``'s field ``field_name`` (``env_var(CollectorSettings, "port")`` -> ``AIOPS_COLLECTOR_PORT``)."""
    for f in _fields(cls):
        if f.name == field_name:
            return _var(cls, f)
    raise KeyError(f"{cls.__name__} has no setting {field_name!r}")


def env_vars(cls: type) -> dict[str, str]:
    """``{field: variable}`` of every field of ``cls``, in declaration order."""
    return {f.name: _var(cls, f) for f in _fields(cls)}


# -- converting a variable's text ------------------------------------------------------


def _target(annotation: Any) -> tuple[Any, bool]:
    """(the type to convert to, whether None is allowed) of a field's annotation."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _convert(var: str, name: str, annotation: Any, raw: str) -> Any:
    kind, _ = _target(annotation)
    text = raw.strip()

    def bad(allowed: str) -> SettingsError:
        return SettingsError(f"{var}={raw!r}: {allowed}")

    if kind is bool:
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise bad("not a boolean (use 1/0, true/false, yes/no, on/off)")
    if name.endswith("_seconds") and kind in (int, float):
        try:
            seconds = parse_duration(text)
        except ValueError:
            raise bad("not a duration (seconds, or with units: 90s, 5m, 1h, 6m30s, 500ms, 2d)") from None
        if kind is int:
            if seconds != int(seconds):
                raise bad("not a whole number of seconds")
            return int(seconds)
        return seconds
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise bad("not an integer") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise bad("not a number") from None
    if kind is str:
        return text
    if kind is Path:
        return Path(text).expanduser()
    raise TypeError(f"{var}: a setting of type {annotation!r} cannot be read from the environment")


def read_env(cls: type, environ: Mapping[str, str] | None = None, names: Iterable[str] | None = None) -> dict[str, Any]:
    """``{field: value}`` of the fields (all, or ``names``) whose variable is set in ``environ``.

    Fields declared with ``default_from_env`` whose variable is unset get that default.
    """
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    wanted = None if names is None else set(names)
    values: dict[str, Any] = {}
    for f in _fields(cls):
        if wanted is not None and f.name not in wanted:
            continue
        var = _var(cls, f)
        raw = env.get(var)
        if raw is not None and raw.strip():
            values[f.name] = _convert(var, f.name, hints[f.name], raw)
        elif f.metadata.get("default_from_env") is not None:
            values[f.name] = f.metadata["default_from_env"](env)
    return values


# -- documentation ---------------------------------------------------------------------


def _comments(cls: type) -> dict[str, str]:
    """``{field: text}`` of the ``#:`` comment lines right above each field in the source of ``cls`` and its bases."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        lines = source.splitlines()
        node = ast.parse(source).body[0]
        assert isinstance(node, ast.ClassDef)
        for stmt in node.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            parts: list[str] = []
            i = stmt.lineno - 2  # the line above, 0-based
            while i >= 0 and lines[i].strip().startswith("#:"):
                parts.insert(0, lines[i].strip()[2:].strip())
                i -= 1
            if parts:
                out[stmt.target.id] = " ".join(parts)
    return out


def _shown_default(f: dataclasses.Field[Any]) -> str:
    if "shown_default" in f.metadata:
        return str(f.metadata["shown_default"])
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def settings_table(cls: type) -> str:
    """The Markdown table (Variable | Field | Default | Meaning) of ``cls``'s settings, as in the README.

    Meaning is the ``#:`` comment above each field; a field without one is an error.
    """
    comments = _comments(cls)
    rows = ["| Variable | Field | Default | Meaning |", "|---|---|---|---|"]
    for f in _fields(cls):
        meaning = comments.get(f.name)
        if not meaning:
            raise ValueError(f"{cls.__name__}.{f.name} has no '#:' comment to document it")
        meaning = meaning.replace("|", "\\|")
        rows.append(f"| `{_var(cls, f)}` | `{f.name}` | {_shown_default(f)} | {meaning} |")
    return "\n".join(rows)
