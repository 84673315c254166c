"""`aiops demo` as a user runs it: ready with Prometheus, history, detector, Alertmanager and responder, quicker
the second time; an incident is detected, explained and scored; Ctrl-C stops every child and saves the scoreboard."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import json

import httpx
import psutil
import pytest

from plumbing.procs import free_port
from tests.integration.conftest import FAST_RATE_WINDOW_SECONDS

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once
MODULE_SECONDS = 60  # on a quiet 2-core machine; the longest modules start first (tests/conftest.py)

READY = re.compile(r"^ready after ([0-9.]+) s$", re.M)
#: What each long-running part prints once ready, with its URL.
PARTS = ("collector", "alertmanager", "prometheus", "responder", "detector")


def _start_demo(cache: Path, out: Path, port: int, signals: Path, *extra: str) -> subprocess.Popen[bytes]:
    """The demo on a day of history, its detector on the tests' short rate window (history at half that window)."""
    env = {**os.environ, "AIOPS_CACHE_DIR": str(cache)}
    step = f"{FAST_RATE_WINDOW_SECONDS / 2:g}s"
    with open(out, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "aiops", "demo", "--port", str(port), "--history-days", "1",
             "--signals", str(signals), "--history-step", step, *extra],  # fmt: skip
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


def _url_of(text: str, part: str) -> str:
    match = re.search(rf"^  {part} +(http://127\.0\.0\.1:\d+) ready after", text, re.M)
    assert match, f"no ready line for {part}:\n{text}"
    return match.group(1)


def test_demo_runs_the_kit_detects_an_incident_and_ctrl_c_stops_every_child(
    prometheus_bin: str, alertmanager_bin: str, fast_signals: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first_out, second_out = tmp_path / "first.out", tmp_path / "second.out"

    port = free_port()  # the same both times: the history is cached per seed and scraped address
    proc = _start_demo(cache, first_out, port, fast_signals)
    try:
        first = float(_wait_for(first_out, READY, proc, timeout_seconds=180).group(1))
        text = first_out.read_text()
        assert "history" in text and "built in" in text
        urls = {part: _url_of(text, part) for part in PARTS}
        assert "remediation off" in text
        assert "scenario    starts once the detector scores" in text
        with httpx.Client(base_url=urls["prometheus"], timeout=10) as http:
            q = {"query": 'count_over_time(aiops_cpu_utilization_ratio{pod="checkout-0"}[1d])'}
            result = http.get("/api/v1/query", params=q).json()["data"]["result"]
            assert result and float(result[0]["value"][1]) >= 1000, "a day of backfilled history is in the demo's Prometheus"
            config = http.get("/api/v1/status/config").json()["data"]["yaml"]
        assert urls["alertmanager"].removeprefix("http://") in config, "Prometheus sends to the demo's Alertmanager"
        assert urls["detector"].removeprefix("http://") in config, "Prometheus scrapes the demo's detector"
        assert httpx.get(f"{urls['detector']}/healthz").json()["history_needed_seconds"] > 0
        assert httpx.get(f"{urls['responder']}/healthz").is_success
        _wait_for(first_out, re.compile(r"STATUS +\d+ services, \d+ req/s"), proc, timeout_seconds=30)  # piped: no table, a STATUS line a minute
        assert "service      req/s" not in first_out.read_text()
        children = _interrupt(proc, first_out)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(children) >= len(PARTS), "collector, alertmanager, prometheus, responder and detector run as children"
    assert all(_gone(c) for c in children), [c for c in children if not _gone(c)]
    stopped = re.search(r"^stopped (.*); logs in", first_out.read_text(), re.M)
    assert stopped and set(PARTS) <= set(stopped.group(1).split(", ")), "every part was stopped"
    scoreboard = cache / f"demo-{port}" / "scoreboard.json"
    assert f"saved to {scoreboard}" in first_out.read_text()

    # second start: quicker; no scenario, so we trigger one incident once the detector scores
    proc = _start_demo(cache, second_out, port, fast_signals, "--no-scenario", "--remediate")
    try:
        second = float(_wait_for(second_out, READY, proc, timeout_seconds=120).group(1))
        text = second_out.read_text()
        assert re.search(r"(topped up|reused) in", text)
        assert "scenario" not in text and "remediation on" in text
        collector = _url_of(text, "collector")
        _wait_for(second_out, re.compile(r"TIMING +detector scoring at \+[0-9.]+ s from the command"), proc, timeout_seconds=200)
        reply = httpx.post(f"{collector}/api/incidents", json={"kind": "cpu_hog", "service": "payments", "duration_seconds": 120, "intensity": 2.0})
        assert reply.status_code == 201, reply.text
        inc = reply.json()
        scored = _wait_for(second_out, re.compile(rf"SCORE +incident {inc['id']} \(cpu_hog on payments\) detected after (\d+) s"), proc, timeout_seconds=120)
        text = second_out.read_text()
        assert re.search(r"FLAG +(payments|checkout) \w+: .*robust σ", text), "the flag is printed with its explanation"
        assert re.search(r"DETECTED +incident D\d+ on .*probable cause", text)
        children = _interrupt(proc, second_out)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert all(_gone(c) for c in children)
    saved = json.loads(scoreboard.read_text())
    ours = [i for i in saved["by_incident"] if i["id"] == inc["id"]]
    assert ours and ours[0]["outcome"] == "detected"
    assert ours[0]["time_to_detect_seconds"] == pytest.approx(float(scored.group(1)), abs=1.0)
    assert saved["detected"] >= 1 and scoreboard.with_suffix(".md").is_file()
    events = (cache / f"demo-{port}" / "events.log").read_text()
    assert f"SCORE     incident {inc['id']} (cpu_hog on payments) detected" in events and "STATUS" not in events
    print(f"\ndemo with 1 day of history: first start ready after {first:.1f} s, second after {second:.1f} s; "
          f"cpu_hog on payments detected after {scored.group(1)} s")
