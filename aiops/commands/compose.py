"""``aiops compose generate [--check]``: write ``docker-compose.yml`` and its monitoring configs from the stack specification.

Start-up: the handler imports the generator when it runs (see :mod:`aiops.commands.collector`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from plumbing.errors import UsageError

__all__ = ["register"]


def _cmd_generate(args: argparse.Namespace) -> int:
    from aiops._compose import generated_files, write_generated

    root = Path(args.root)
    if not (root / "pyproject.toml").is_file():
        raise UsageError(f"--root {root}: not the kit's checkout (no pyproject.toml there)")
    files = generated_files(root)
    changed = write_generated(files, check=args.check)
    if args.check:
        if changed:
            names = ", ".join(str(f.path) for f in changed)
            raise UsageError(f"out of date with the stack specification: {names}; run `aiops compose generate`")
        print(f"{len(files)} generated files are up to date (docker-compose.yml, monitoring/compose)")
        return 0
    for f in changed:
        print(f"wrote {f.path}")
    print(f"{len(changed)} of {len(files)} files changed" if changed else f"all {len(files)} files were up to date")
    return 0


def register(subparsers: Any) -> None:
    """Add ``aiops compose`` to the ``aiops`` parser."""
    p = subparsers.add_parser(
        "compose",
        help="the docker-compose stack: generate docker-compose.yml from the stack specification",
        description="docker-compose.yml and the compose copies of the monitoring configs (monitoring/compose/) are "
        "generated from the stack specification the demo and the tests use (aiops/stack.py).",
    )
    sub = p.add_subparsers(dest="compose_command", metavar="ACTION")
    sub.required = True
    g = sub.add_parser("generate", help="write docker-compose.yml and monitoring/compose/ from the stack specification")
    g.add_argument("--check", action="store_true", help="only check that the files are up to date (exit 2 if not)")
    g.add_argument("--root", default=".", metavar="DIR", help="the kit's checkout (default: the current directory)")
    g.set_defaults(func=_cmd_generate)
