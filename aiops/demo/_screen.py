"""Where the demo's live view goes: a screen redrawn in place in a terminal, events only when piped.

- :class:`LiveScreen` (a terminal): ``rich``'s :class:`~rich.live.Live` redraws the fleet's
  table, the incidents and the detector's state in place, with the latest events (flags,
  detections, alerts, scores, ...) scrolling beneath it.
- :class:`PlainScreen` (piped to a file or another program): the events only, one line each
  as they come, and a compact ``STATUS`` line at most once a minute.

Both append every event to ``events.log`` in the run directory. :func:`make_screen` picks one.
"""

from __future__ import annotations

import shutil
import time
from collections import deque
from pathlib import Path
from typing import Callable, Protocol, Sequence, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

__all__ = ["EVENTS_LOG", "STATUS_EVERY_SECONDS", "LiveScreen", "PlainScreen", "Screen", "make_screen"]

#: The events of a run, one line each, kept in the run directory.
EVENTS_LOG = "events.log"
#: Piped output: the least time between two STATUS lines.
STATUS_EVERY_SECONDS = 60.0


class Screen(Protocol):
    """What the live view writes to."""

    def event(self, line: str) -> None:
        """One event (a flag, a detection, an alert, a score, a timing, ...): shown and logged."""

    def status(self, view: Sequence[str], compact: str) -> None:
        """The state now: ``view`` (the table's lines) for a terminal, ``compact`` (one line) for a pipe."""

    def close(self) -> None:
        """Leave the screen as it is (the last view stays visible)."""


class _EventLog:
    def __init__(self, path: Path | None) -> None:
        self.path = path

    def write(self, line: str) -> None:
        if self.path is None:
            return
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError:
            pass  # the log is a convenience; the screen still shows the event


class PlainScreen:
    """Events one line each; a ``STATUS`` line at most every ``every_seconds`` (the first at once)."""

    def __init__(
        self, out: TextIO, *, events_log: Path | None = None, every_seconds: float = STATUS_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.out = out
        self.log = _EventLog(events_log)
        self.every_seconds = every_seconds
        self.clock = clock
        self._last_status: float | None = None

    def event(self, line: str) -> None:
        self.log.write(line)
        print(line, file=self.out, flush=True)

    def status(self, view: Sequence[str], compact: str) -> None:
        now = self.clock()
        if self._last_status is not None and now - self._last_status < self.every_seconds:
            return
        self._last_status = now
        print(compact, file=self.out, flush=True)

    def close(self) -> None:
        pass


class LiveScreen:
    """The view redrawn in place (``rich`` Live), the latest events beneath it; older events are in ``events.log``."""

    def __init__(self, console: Console, *, events_log: Path | None = None) -> None:
        self.console = console
        self.log = _EventLog(events_log)
        self.view: list[str] = []
        self.events: deque[str] = deque(maxlen=200)
        self.live = Live(console=console, auto_refresh=False, transient=False, redirect_stdout=False, redirect_stderr=False)
        self.live.start()

    def _events_shown(self) -> int:
        """As many events as fit under the view (at least five)."""
        height = self.console.size.height if self.console.is_terminal else shutil.get_terminal_size().lines
        return max(5, height - len(self.view) - 3)

    def _draw(self) -> None:
        shown = list(self.events)[-self._events_shown() :]
        rule = Text("─" * min(self.console.width, 100) + "  events (all in events.log)", style="dim")
        body = Group(*(Text(line) for line in self.view), rule, *(Text(line) for line in shown))
        self.live.update(body, refresh=True)

    def event(self, line: str) -> None:
        self.log.write(line)
        self.events.append(line)
        self._draw()

    def status(self, view: Sequence[str], compact: str) -> None:
        self.view = list(view)
        self._draw()

    def close(self) -> None:
        self.live.stop()


def make_screen(out: TextIO, *, events_log: Path | None = None, force_terminal: bool | None = None) -> Screen:
    """A :class:`LiveScreen` when ``out`` is a terminal (or ``force_terminal``), else a :class:`PlainScreen`."""
    terminal = out.isatty() if force_terminal is None else force_terminal
    if terminal:
        return LiveScreen(Console(file=out, force_terminal=True), events_log=events_log)
    return PlainScreen(out, events_log=events_log)
