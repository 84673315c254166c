"""What ``aiops train`` prints: one line per stage as it ends, progress bars on the long ones, tables, a closing summary.

Built on ``rich``. On a terminal the long stages show a live progress bar (removed when the
stage ends); elsewhere (a log, a pipe, the tests) there is no live display at all, only the
lines and tables, 120 columns wide and without colour codes.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

__all__ = ["StageHandle", "StageRecord", "TrainConsole"]

#: The width of the output when it does not go to a terminal.
PLAIN_WIDTH = 120
_MARKS = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "failed": ("✗", "red"), "refused": ("✗", "yellow"), "skipped": ("-", "dim")}


@dataclass
class StageRecord:
    """One stage as the summary shows it: its name, how long it took, ``status`` and a one-line outcome."""

    name: str
    seconds: float
    status: str
    outcome: str


class StageHandle:
    """What a stage's body sets: the outcome line and, if not ``ok``, the status (``warn``, ``refused``, ``failed``)."""

    def __init__(self) -> None:
        self.outcome = ""
        self.status = "ok"


class TrainConsole:
    """The pipeline's output (``console``: a rich Console; default: stdout).

    ``started`` is the ``time.perf_counter()`` the command started at (default: now); the
    summary's wall-clock row counts from it, so it includes start-up (imports, opening the store).
    """

    def __init__(self, console: Console | None = None, *, started: float | None = None) -> None:
        self.started = time.perf_counter() if started is None else started
        if console is None:
            console = Console(highlight=False)
            if not console.is_terminal:
                console = Console(highlight=False, width=PLAIN_WIDTH, no_color=True)
        self.console = console
        self.stages: list[StageRecord] = []

    @property
    def interactive(self) -> bool:
        return bool(self.console.is_terminal)

    # ---------------------------------------------------------------- lines
    def line(self, text: str = "", style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""), soft_wrap=not self.interactive)

    def error(self, text: str) -> None:
        self.console.print(Text(text, style="bold red"), soft_wrap=True)

    # ---------------------------------------------------------------- stages
    @contextmanager
    def stage(self, name: str) -> Iterator[StageHandle]:
        """Time a stage; its line is printed when it ends (an exception marks it failed and goes on up)."""
        handle = StageHandle()
        started = time.perf_counter()
        try:
            yield handle
        except BaseException as exc:
            self._done(name, time.perf_counter() - started, "failed", handle.outcome or " ".join(str(exc).split()) or type(exc).__name__)
            raise
        self._done(name, time.perf_counter() - started, handle.status, handle.outcome)

    def skip(self, name: str, why: str) -> None:
        self.stages.append(StageRecord(name, 0.0, "skipped", why))

    def _done(self, name: str, seconds: float, status: str, outcome: str) -> None:
        self.stages.append(StageRecord(name, seconds, status, outcome))
        mark, style = _MARKS.get(status, ("?", ""))
        line = Text()
        line.append(f"{mark} ", style=style)
        line.append(f"{name:<9}", style="bold")
        line.append(f"{seconds:6.1f} s  ")
        line.append(outcome)
        self.console.print(line, soft_wrap=not self.interactive)

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[..., None]]:
        """A progress bar (a spinner when ``total`` is None) on a terminal; nothing elsewhere.

        Yields ``advance(step=1, description=None)``.
        """
        if not self.interactive:
            yield lambda *args, **kwargs: None
            return
        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if total is not None:
            columns += [BarColumn(), MofNCompleteColumn()]
        columns.append(TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(description, total=total)

            def advance(step: int = 1, description: str | None = None) -> None:
                bar.update(task, advance=step, **({"description": description} if description else {}))

            yield advance

    # ---------------------------------------------------------------- tables
    def table(self, title: str | None, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], *, styles: Sequence[str | None] = ()) -> None:
        """A table: ``columns`` are ``(header, "left"|"right")``; ``styles`` one per row (e.g. bold for the best)."""
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for header, justify in columns:
            table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for n, row in enumerate(rows):
            table.add_row(*row, style=styles[n] if n < len(styles) and styles[n] else None)
        self.console.print(table)

    def summary(self) -> None:
        """The closing summary: one row per stage with its duration and outcome, and the total."""
        rows = []
        for s in self.stages:
            mark, _ = _MARKS.get(s.status, ("?", ""))
            rows.append([s.name, f"{s.seconds:.1f} s", f"{mark} {s.status}", s.outcome])
        total = sum(s.seconds for s in self.stages)
        rows.append(["stages", f"{total:.1f} s", "", ""])
        rows.append(["wall clock", f"{time.perf_counter() - self.started:.1f} s", "", "start-up (imports, opening the MLflow store) included"])
        self.table("Summary", [("stage", "left"), ("duration", "right"), ("", "left"), ("outcome", "left")], rows)
