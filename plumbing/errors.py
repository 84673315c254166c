"""The kit's errors that every layer may raise, and the tree of the rest.

Errors::

    Exception
     ├── UsageError                 a problem the user can fix; ``aiops`` prints it as one line
     ├── ValueError
     │    └── SettingsError         (plumbing.settings) an option or variable does not parse
     ├── OSError
     │    └── PortInUse             (plumbing.serving) the port is taken or cannot be bound
     └── RuntimeError
          ├── ChildFailed           (plumbing.procs) a child process exited or was not ready in time
          ├── BinaryMissing         (plumbing.binaries) prometheus / promtool / alertmanager not on PATH
          └── PromtoolError         (plumbing.binaries) promtool rejected its input

Errors of the packages above (the collector's ``APIError``, the model's ``SignalsError``,
``ModelFormatError`` ...) are declared in their own packages.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UsageError", "short"]


def short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error never echoes a huge value (a 10 MB string, a 5,000-digit number)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        return f"a {value.bit_length()}-bit integer"  # repr() of a huge int is slow, and refused past 4,300 digits
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class UsageError(Exception):
    """A problem the user can fix (bad argument, port in use, collector not running)."""
