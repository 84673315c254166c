"""`aiops demo`: its settings, its links, and running without Prometheus on PATH."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

import scenarios
from plumbing import binaries as prom
from plumbing.procs import free_port
from plumbing.settings import env_vars
from aiops.demo import DEFAULT_SCENARIO, DemoSettings, graph_link


def test_settings_come_from_defaults_then_environment_then_options(tmp_path: Path) -> None:
    env = {"AIOPS_COLLECTOR_PORT": "9001", "AIOPS_COLLECTOR_SEED": "4", "AIOPS_DEMO_HISTORY_DAYS": "2.5", "AIOPS_CACHE_DIR": str(tmp_path)}
    s = DemoSettings.from_env(env, seed=9, host=None)
    assert (s.host, s.port, s.seed, s.history_days, s.cache_dir) == ("127.0.0.1", 9001, 9, 2.5, tmp_path)


def test_the_cache_follows_xdg_cache_home(tmp_path: Path) -> None:
    assert DemoSettings.from_env({"XDG_CACHE_HOME": str(tmp_path)}).cache_dir == tmp_path / "aiops"


def test_every_field_has_a_variable_the_collectors_or_the_demos_own() -> None:
    variables = env_vars(DemoSettings)
    assert set(variables) == set(DemoSettings.__dataclass_fields__)
    assert [variables[f] for f in ("host", "port", "seed", "cache_dir")] == [
        "AIOPS_COLLECTOR_HOST", "AIOPS_COLLECTOR_PORT", "AIOPS_COLLECTOR_SEED", "AIOPS_CACHE_DIR",
    ]  # fmt: skip
    assert variables["scenario_path"] == "AIOPS_DEMO_SCENARIO_PATH" and variables["remediate"] == "AIOPS_DEMO_REMEDIATE"


def test_the_default_scenario_is_the_installed_data_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_SCENARIO == Path(scenarios.__file__).parent / "demo.yaml" and DEFAULT_SCENARIO.is_file()
    monkeypatch.chdir(tmp_path)  # found from anywhere, not from the working directory
    assert DemoSettings.from_env({}).scenario_path == DEFAULT_SCENARIO


def test_booleans_and_durations_come_from_the_environment_too() -> None:
    s = DemoSettings.from_env({"AIOPS_DEMO_REMEDIATE": "yes", "AIOPS_DEMO_RUN_SCENARIO": "0", "AIOPS_DEMO_VIEW_EVERY_SECONDS": "1m"})
    assert (s.remediate, s.run_scenario, s.view_every_seconds) == (True, False, 60.0)


@pytest.mark.parametrize(
    ("var", "raw"), [("AIOPS_COLLECTOR_PORT", "eighty"), ("AIOPS_COLLECTOR_PORT", "70000"), ("AIOPS_DEMO_HISTORY_DAYS", "-1")]
)
def test_bad_settings_are_refused(var: str, raw: str) -> None:
    with pytest.raises(ValueError):
        DemoSettings.from_env({var: raw})


def test_the_graph_link_carries_each_panel() -> None:
    link = graph_link("http://127.0.0.1:9090", [("up == 1", "30m"), ('sum by (service) (rate(x{a="b"}[2m]))', "8d")])
    url = urlparse(link)
    assert url.path == "/graph"
    q = parse_qs(url.query)
    assert q["g0.expr"] == ["up == 1"] and q["g1.expr"] == ['sum by (service) (rate(x{a="b"}[2m]))']
    assert q["g1.range_input"] == ["8d"] and q["g0.tab"] == ["0"]


def test_the_demo_runs_without_prometheus_and_says_how_to_get_it(tmp_path: Path) -> None:
    pytest.importorskip("collector", reason="the collector package is not in this checkout")
    empty = tmp_path / "bin"
    empty.mkdir()  # a PATH with no prometheus on it
    env = {**os.environ, "PATH": str(empty), "AIOPS_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "demo.out"
    with open(out, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aiops", "demo", "--port", str(free_port()), "--no-scenario"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        ready = re.compile(r"^ready after [0-9.]+ s$", re.M)  # the demo's own line, not a child's "... ready after"
        while not ready.search(out.read_text()) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        text = out.read_text()
        assert ready.search(text), text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) in (0, 130)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "runs without Prometheus" in text and prom.INSTALL_HINT in text
    assert not re.search(r"prometheus  http://", text)
    assert "stopped collector" in out.read_text()


def test_the_responder_remediates_only_when_told(tmp_path: Path) -> None:
    from aiops.demo import Demo

    off = Demo(DemoSettings(cache_dir=tmp_path)).responder_spec(9100)
    on = Demo(DemoSettings(cache_dir=tmp_path, remediate=True)).responder_spec(9100)
    assert "--no-remediate" in off.argv and "--remediate" not in off.argv and "--remediate" in on.argv
    assert off.argv[off.argv.index("--collector-url") + 1] == "http://127.0.0.1:8000"
    assert on.ready_url == "http://127.0.0.1:9100/healthz"


@pytest.mark.parametrize(("days", "need"), [(8.0, 2 * 86400.0), (2.0, 2 * 86400.0), (1.0, 0.9 * 86400.0), (0.0, 2 * 86400.0)])
def test_the_detector_reads_prometheus_and_wants_the_history_there_is(tmp_path: Path, days: float, need: float) -> None:
    from aiops.demo import Demo

    demo = Demo(DemoSettings(cache_dir=tmp_path, history_days=days))
    spec = demo.detector_spec(9101, "http://127.0.0.1:9090")
    argv = list(spec.argv)
    assert argv[argv.index("--prometheus-url") + 1] == "http://127.0.0.1:9090"
    assert argv[argv.index("--min-history") + 1] == f"{need:.0f}s"
    assert "--incident-records" not in argv  # no history prepared yet


def test_the_demo_starts_the_console_on_the_collectors_interface(tmp_path: Path) -> None:
    from aiops.demo import Demo

    demo = Demo(DemoSettings(cache_dir=tmp_path, host="0.0.0.0", console_port=9103))
    spec = demo.console_spec()
    argv = spec.argv
    assert argv[argv.index("--host") + 1] == "0.0.0.0" and argv[argv.index("--port") + 1] == "9103"
    assert argv[argv.index("--collector-url") + 1] == "http://127.0.0.1:8000"
    assert "--detector-url" not in argv and "--prometheus-url" not in argv  # no Prometheus: the page says the detector is down
    assert spec.url == "http://127.0.0.1:9103" and spec in demo.long_running_specs()
    free = Demo(DemoSettings(cache_dir=tmp_path)).console_spec()
    assert free.port > 0  # 0 picks a free port
