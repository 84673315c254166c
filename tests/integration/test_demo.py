"""`aiops demo` as a user runs it: ready with Prometheus and history, quicker the second time, Ctrl-C stops every child."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from aiops._procs import free_port

pytestmark = pytest.mark.integration

READY = re.compile(r"^ready after ([0-9.]+) s$", re.M)


def _start_demo(cache: Path, out: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AIOPS_CACHE_DIR": str(cache)}
    with open(out, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "aiops", "demo", "--port", str(port), "--history-days", "1", *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _wait_for(out: Path, pattern: re.Pattern[str], proc: subprocess.Popen[bytes], timeout_seconds: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        match = pattern.search(out.read_text())
        if match:
            return match
        if proc.poll() is not None:
            pytest.fail(f"the demo exited with {proc.returncode} before {pattern.pattern!r}:\n{out.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"no {pattern.pattern!r} within {timeout_seconds:.0f} s:\n{out.read_text()}")


def _interrupt(proc: subprocess.Popen[bytes], out: Path) -> list[psutil.Process]:
    """SIGINT the demo as Ctrl-C would; return the children it had."""
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=60)
    assert code in (0, 130), out.read_text()
    return children


def _gone(p: psutil.Process) -> bool:
    try:
        return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_demo_runs_the_kit_and_ctrl_c_stops_every_child(prometheus_bin: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first_out, second_out = tmp_path / "first.out", tmp_path / "second.out"

    port = free_port()  # the same both times: the history is cached per seed and scraped address
    proc = _start_demo(cache, first_out, port)
    try:
        first = float(_wait_for(first_out, READY, proc, timeout_seconds=180).group(1))
        text = first_out.read_text()
        assert "history" in text and "built in" in text
        assert "scenario" in text and "incident 1:" in text
        prometheus_url = re.search(r"prometheus  (http://127\.0\.0\.1:\d+) ready", text).group(1)
        with httpx.Client(base_url=prometheus_url, timeout=10) as http:
            q = {"query": 'count_over_time(aiops_cpu_utilization_ratio{pod="checkout-0"}[1d])'}
            result = http.get("/api/v1/query", params=q).json()["data"]["result"]
        assert result and float(result[0]["value"][1]) >= 1000, "a day of history at 60 s is in the demo's Prometheus"
        _wait_for(first_out, re.compile(r"service +req/s"), proc, timeout_seconds=30)
        children = _interrupt(proc, first_out)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(children) >= 2, "collector and prometheus run as children"
    assert all(_gone(c) for c in children), [c for c in children if not _gone(c)]
    assert re.search(r"stopped collector, prometheus", first_out.read_text())

    proc = _start_demo(cache, second_out, port, "--no-scenario")
    try:
        second = float(_wait_for(second_out, READY, proc, timeout_seconds=120).group(1))
        assert re.search(r"(topped up|reused) in", second_out.read_text())
        assert "scenario" not in second_out.read_text()
        children = _interrupt(proc, second_out)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert all(_gone(c) for c in children)
    print(f"\ndemo with 1 day of history: first start ready after {first:.1f} s, second after {second:.1f} s")
