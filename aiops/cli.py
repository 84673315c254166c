"""The ``aiops`` console command: one parser, sub-commands registered by each package.

Each package that offers commands has a ``cli`` module with
``register(subparsers) -> None``; a sub-command stores its handler as
``func(args) -> int``. Errors a user can fix are raised as :class:`UsageError`
and printed as one line with a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

__all__ = ["UsageError", "build_parser", "duration_arg", "main"]

#: Modules whose ``register`` adds sub-commands, in help order.
COMMAND_MODULES: tuple[str, ...] = ("collector.cli", "aiops.demo", "detector._service_cli", "detector.cli", "responder.cli")


class UsageError(Exception):
    """A problem the user can fix (bad argument, port in use, collector not running)."""


def duration_arg(text: str) -> float:
    """An argparse ``type`` for durations (``90s``, ``5m``, ``6m30s``): seconds, or a usage error."""
    from simulator import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiops",
        description="AIOps workshop kit: a simulated fleet, its incidents, and an interpretable detector.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a package not built yet in this checkout
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"aiops {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
