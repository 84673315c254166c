"""The demo's terminal screen: redrawn in place in a terminal, events only (and a STATUS line a minute) when piped."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from aiops._view import Row
from aiops.demo._screen import LiveScreen, PlainScreen, make_screen
from aiops.demo._watch import status_line

VIEW = ["12:00:00Z  service      req/s", "          payments      40.0", "          detector ok; score: 0/0 detected"]


def test_piped_it_prints_each_event_once_and_a_status_line_at_most_once_a_minute(tmp_path: Path) -> None:
    out, now = io.StringIO(), [0.0]
    screen = PlainScreen(out, events_log=tmp_path / "events.log", clock=lambda: now[0])
    screen.status(VIEW, "12:00:00Z  STATUS    first")
    screen.event("12:00:01Z  FLAG      payments latency: high")
    now[0] = 30.0
    screen.status(VIEW, "12:00:30Z  STATUS    too soon")
    screen.event("12:00:31Z  DETECTED  incident D1 on payments")
    now[0] = 61.0
    screen.status(VIEW, "12:01:01Z  STATUS    a minute on")
    assert out.getvalue().splitlines() == [
        "12:00:00Z  STATUS    first",
        "12:00:01Z  FLAG      payments latency: high",
        "12:00:31Z  DETECTED  incident D1 on payments",
        "12:01:01Z  STATUS    a minute on",
    ]
    assert "service      req/s" not in out.getvalue(), "no table when piped"
    assert (tmp_path / "events.log").read_text().splitlines() == ["12:00:01Z  FLAG      payments latency: high", "12:00:31Z  DETECTED  incident D1 on payments"]


def test_in_a_terminal_the_view_is_redrawn_in_place_with_the_events_beneath(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, height=30)
    screen = LiveScreen(console, events_log=tmp_path / "events.log")
    screen.status(VIEW, "unused")
    screen.event("12:00:01Z  FLAG      payments latency: high")
    screen.status([line.replace("40.0", "41.0") for line in VIEW], "unused")
    screen.close()
    text = out.getvalue()
    assert "\x1b[2K" in text and "\x1b[1A" in text, "rich erases and moves the cursor up to redraw in place"
    frame = text[text.rindex("12:00:00Z") :]  # the last frame drawn
    assert "41.0" in frame and frame.index("41.0") < frame.index("FLAG      payments latency: high"), "events beneath the view"
    assert "STATUS" not in text
    assert (tmp_path / "events.log").read_text() == "12:00:01Z  FLAG      payments latency: high\n"


def test_the_screen_follows_the_output() -> None:
    assert isinstance(make_screen(io.StringIO()), PlainScreen)
    live = make_screen(io.StringIO(), force_terminal=True)
    assert isinstance(live, LiveScreen)
    live.close()


def test_the_status_line_is_compact() -> None:
    rows = [Row("payments", 40.0, 0.1, 0.0, 0.2, 1e8), Row("catalog", float("nan"), 0.1, 0.0, 0.2, 1e8)]
    incidents = [{"kind": "cpu_hog", "service": "payments", "state": "active"}, {"kind": "disk_fill", "service": "catalog", "state": "pending"}]
    line = status_line(rows, incidents, ["detector ok; score: 1/1 detected"], 1_767_356_215.0)
    assert line == "12:16:55Z  STATUS    2 services, 40 req/s; active: cpu_hog on payments; detector ok; score: 1/1 detected"
