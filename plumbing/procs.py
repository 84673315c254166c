"""Child processes the kit starts (collector, Prometheus, Alertmanager): spawn, wait, stop.

A :class:`Child` writes its output to a log file (kept for debugging), dies with its
parent on Linux (``PR_SET_PDEATHSIG``) and runs in its own session, so a Ctrl-C in the
terminal reaches only the parent, which stops its children in order.

Errors::

    RuntimeError
     └── ChildFailed     a child exited or did not become ready in time (.log_tail)
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import httpx

__all__ = ["Child", "ChildFailed", "free_port", "http_ok", "run_all", "spawn", "stop_all", "wait_until"]


class ChildFailed(RuntimeError):
    """A child process exited early or did not become ready; the message ends with its log tail."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message + (f"\n--- last lines of its log ---\n{log_tail}" if log_tail else ""))
        self.log_tail = log_tail


@dataclass
class Child:
    """A started child process and the file its output goes to."""

    name: str
    argv: tuple[str, ...]
    log_path: Path
    popen: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the child's log (empty if there is none)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_seconds: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``timeout_seconds``, then SIGKILL; returns the exit code."""
        if self.alive():
            try:
                self.popen.send_signal(signal.SIGTERM)
                self.popen.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout_seconds)
        return self.popen.returncode


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Child:
    """Start ``argv`` with stdout and stderr appended to ``log_path``.

    Call it from a thread that lives as long as the child should: Linux delivers the
    parent-death signal when the *thread* that started the child ends.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else {**os.environ, **env},
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Child(name=name, argv=tuple(argv), log_path=log_path, popen=popen)


def wait_until(
    ready: Callable[[], bool],
    *,
    child: Child,
    timeout_seconds: float,
    interval_seconds: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll ``ready()`` until it is true; raise :class:`ChildFailed` if ``child`` exits or time runs out."""
    deadline = clock() + timeout_seconds
    while True:
        if ready():
            return
        if not child.alive():
            raise ChildFailed(
                f"{child.name} exited with code {child.popen.returncode} before it was ready (log: {child.log_path})",
                child.log_tail(),
            )
        if clock() >= deadline:
            raise ChildFailed(f"{child.name} not ready after {timeout_seconds:.0f} s (log: {child.log_path})", child.log_tail())
        sleep(interval_seconds)


def http_ok(url: str, timeout_seconds: float = 1.0) -> bool:
    """True if ``GET url`` answers 2xx."""
    try:
        return httpx.get(url, timeout=timeout_seconds).is_success
    except httpx.HTTPError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def stop_all(children: Sequence[Child], timeout_seconds: float = 10.0) -> None:
    """Stop ``children`` in reverse start order (consumers before what they consume)."""
    for child in reversed(children):
        child.stop(timeout_seconds)


def run_all(
    jobs: Sequence[tuple[str, Sequence[str]]],
    *,
    log_path: Path,
    parallel: int = 1,
    started: list[Child] | None = None,
    poll_seconds: float = 0.05,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Run ``(name, argv)`` jobs to completion, ``parallel`` at a time; raise :class:`ChildFailed` on the first failure.

    All jobs append their output to ``log_path``. Every child is appended to ``started`` as it
    starts, so a caller interrupted (Ctrl-C) can stop what is still running; on a failure
    the others are stopped here. ``progress(done, total)`` is called once before the first
    job and after each job that succeeded.
    """
    started = [] if started is None else started
    queue = list(jobs)
    running: list[Child] = []
    done = 0
    if progress is not None:
        progress(0, len(queue))
    try:
        while queue or running:
            while queue and len(running) < max(1, parallel):
                name, argv = queue.pop(0)
                child = spawn(name, argv, log_path=log_path)
                started.append(child)
                running.append(child)
            for child in list(running):
                code = child.popen.poll()
                if code is None:
                    continue
                running.remove(child)
                if code != 0:
                    raise ChildFailed(f"{child.name} failed with exit code {code} (log: {child.log_path})", child.log_tail())
                done += 1
                if progress is not None:
                    progress(done, len(jobs))
            if running:
                time.sleep(poll_seconds)
    finally:
        stop_all(running)
