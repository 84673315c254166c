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

__all__ = ["UsageError"]


class UsageError(Exception):
    """A problem the user can fix (bad argument, port in use, collector not running)."""
