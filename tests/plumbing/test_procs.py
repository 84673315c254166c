"""Child processes: readiness with a deadline, stop escalates to SIGKILL, batches fail fast, children die with the parent."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from plumbing.procs import ChildFailed, free_port, run_all, spawn, wait_until

PY = sys.executable


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_until_returns_once_ready(tmp_path: Path) -> None:
    child = spawn("sleeper", [PY, "-c", "import time; time.sleep(30)"], log_path=tmp_path / "log")
    try:
        answers = iter([False, False, True])
        clock = FakeClock()
        wait_until(lambda: next(answers), child=child, timeout_seconds=10, clock=clock, sleep=clock.sleep)
        assert clock.now == pytest.approx(0.2)
    finally:
        child.stop()


def test_wait_until_gives_up_at_the_deadline_with_the_log_tail(tmp_path: Path) -> None:
    child = spawn("sleeper", [PY, "-c", "print('listening soon', flush=True); import time; time.sleep(30)"], log_path=tmp_path / "log")
    try:
        deadline = time.monotonic() + 10
        while "listening" not in (tmp_path / "log").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        clock = FakeClock()
        with pytest.raises(ChildFailed, match="not ready after 5 s") as err:
            wait_until(lambda: False, child=child, timeout_seconds=5, clock=clock, sleep=clock.sleep)
        assert "listening soon" in str(err.value)
    finally:
        child.stop()


def test_wait_until_notices_a_child_that_exited(tmp_path: Path) -> None:
    child = spawn("crasher", [PY, "-c", "import sys; print('port in use'); sys.exit(3)"], log_path=tmp_path / "log")
    child.popen.wait(timeout=30)
    with pytest.raises(ChildFailed, match="exited with code 3") as err:
        wait_until(lambda: False, child=child, timeout_seconds=60)
    assert "port in use" in err.value.log_tail


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    child = spawn("stubborn", [PY, "-c", code], log_path=tmp_path / "log")
    deadline = time.monotonic() + 20
    while "ready" not in (tmp_path / "log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.stop(timeout_seconds=0.5) == -signal.SIGKILL
    assert not child.alive()


def test_a_failing_job_stops_the_batch_and_the_others(tmp_path: Path) -> None:
    started: list = []
    jobs = [("slow", [PY, "-c", "import time; time.sleep(60)"]), ("bad", [PY, "-c", "raise SystemExit(2)"])]
    with pytest.raises(ChildFailed, match="bad failed with exit code 2"):
        run_all(jobs, log_path=tmp_path / "log", parallel=2, started=started)
    assert [c.name for c in started] == ["slow", "bad"]
    assert not any(c.alive() for c in started)


def test_children_die_with_their_parent(tmp_path: Path) -> None:
    parent_code = (
        "import sys, os; from pathlib import Path; from plumbing.procs import spawn; "
        f"c = spawn('grandchild', [sys.executable, '-c', 'import time; time.sleep(60)'], log_path=Path({str(tmp_path / 'log')!r})); "
        "print(c.pid, flush=True); os._exit(0)"
    )
    out = subprocess.run([PY, "-c", parent_code], capture_output=True, text=True, timeout=60, check=True)
    grandchild = psutil.Process(int(out.stdout.strip()))
    try:
        grandchild.wait(timeout=10)
    except psutil.TimeoutExpired:
        grandchild.kill()
        pytest.fail("the child outlived its parent")


def test_free_port_is_free() -> None:
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
