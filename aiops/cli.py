"""The ``aiops`` console command: one parser, its sub-commands declared in :mod:`aiops.commands`.

Each module in :data:`COMMAND_MODULES` has ``register(subparsers) -> None``; a
sub-command stores its handler as ``func(args) -> int``. Errors a user can fix are
raised as :class:`~plumbing.errors.UsageError` and printed as one line with a non-zero exit.

Start-up: building the parser imports only the standard library and :mod:`plumbing`'s
light modules, so ``aiops --help`` and every ``aiops X --help`` stay quick; a handler
imports the packages it runs when it is called.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from plumbing.errors import UsageError

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

#: Modules whose ``register`` adds sub-commands, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "aiops.commands.collector",
    "aiops.commands.demo",
    "aiops.commands.detect",
    "aiops.commands.evaluate",
    "aiops.commands.respond",
    "aiops.commands.train",
    "aiops.commands.dashboards",
    "aiops.commands.console",
    "aiops.commands.compose",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiops",
        description="AIOps workshop kit: a simulated fleet, its incidents, and an interpretable detector.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
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
