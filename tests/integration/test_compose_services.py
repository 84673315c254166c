"""What of the compose stack runs here is run: each kit service's compose command, started on this machine.

There is no Docker engine on the machines the kit is tested on, so the images are never built
here. What can be run is: the collector, the online and champion detectors, the responder and
the console, each started from its ``command:`` in docker-compose.yml, and each service's
compose healthcheck run against it. The only changes from the compose file are the ones a
container gives for free, written down in :func:`localise`:

- ``aiops`` is this interpreter's ``python -m aiops`` (the image installs the command);
- ``--host 0.0.0.0`` (every interface of a container, published on ``$AIOPS_BIND``) is
  ``.env.example``'s ``AIOPS_BIND`` (127.0.0.1): the process listens where compose would publish it;
- each service's port is a free port (other work on this machine may hold 8000...), and
  ``http://<service>:<port>`` is ``http://127.0.0.1:<that port>``: the compose network's names;
- the data folder (the ``aiops-data`` volume) is a temporary folder.

Prometheus and MLflow are not started (their images are not run here), so the detectors
answer ``/healthz`` unable to reach them, as they do in a stack that is still starting.

The one-shot backfill's shell script runs too, with ``aiops`` and the real ``promtool`` on
PATH, over a few hours of history instead of 8 days.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from aiops import _compose
from plumbing.procs import Child, free_port, spawn, stop_all

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once

ROOT = Path(__file__).resolve().parents[2]
KIT_SERVICES = ("collector", "responder", "detector", "champion", "console")
HEALTHY_WITHIN_SECONDS = 60.0


def env_example() -> dict[str, str]:
    lines = (line for line in (ROOT / ".env.example").read_text().splitlines() if line.strip() and not line.startswith("#"))
    return dict(line.split("=", 1) for line in lines)


def localise(argv: list[str], *, ports: dict[str, int], bind: str, data_dir: Path) -> list[str]:
    """A compose ``command:`` or healthcheck as this machine runs it (the substitutions in the module's docstring)."""
    out: list[str] = []
    for i, token in enumerate(argv):
        if i == 0 and token == "aiops":
            out += [sys.executable, "-m", "aiops"]
            continue
        if i == 0 and token == "python":
            out.append(sys.executable)
            continue
        previous = argv[i - 1] if i else ""
        if previous == "--host" and token == "0.0.0.0":
            token = bind
        elif previous == "--port":
            token = str(next(ports[s] for s, p in _compose.PORTS.items() if str(p) == token and s in ports))
        for service, port in _compose.PORTS.items():
            token = token.replace(f"http://{service}:{port}", f"http://127.0.0.1:{ports[service]}")
            token = token.replace(f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{ports[service]}/") if service in KIT_SERVICES else token
        out.append(token.replace(str(_compose.DATA_DIR), str(data_dir)))
    return out


def healthcheck(service: dict[str, Any], **local: Any) -> list[str]:
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD"
    return localise(test[1:], **local)


def healthy(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0


@pytest.fixture(scope="module")
def compose_services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_each_kit_service_starts_from_its_compose_command_and_passes_its_healthcheck(
    compose_services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    bind = env_example()["AIOPS_BIND"]
    assert bind == "127.0.0.1"
    # every service gets a free port; Prometheus and MLflow get one nobody listens on
    ports = {name: free_port() for name in _compose.PORTS}
    data_dir = tmp_path / "data"
    (data_dir / "history").mkdir(parents=True)
    (data_dir / "history" / "incidents.jsonl").write_text("")  # the backfill's incident records (none)
    local = {"ports": ports, "bind": bind, "data_dir": data_dir}

    checks = {name: healthcheck(compose_services[name], **local) for name in KIT_SERVICES}
    for name, check in checks.items():
        assert not healthy(check), f"{name}'s healthcheck passes with nothing running: it cannot fail"

    children: list[Child] = []
    timings: dict[str, float] = {}
    try:
        started = time.monotonic()
        for name in KIT_SERVICES:
            argv = localise(compose_services[name]["command"], **local)
            assert argv[:3] == [sys.executable, "-m", "aiops"] and str(ports[name]) in argv
            children.append(spawn(name, argv, log_path=tmp_path / f"{name}.log", cwd=tmp_path))
        for child in children:
            deadline = started + HEALTHY_WITHIN_SECONDS
            while not healthy(checks[child.name]):
                assert child.alive(), f"{child.name} exited:\n{child.log_tail()}"
                assert time.monotonic() < deadline, f"{child.name} not healthy after {HEALTHY_WITHIN_SECONDS:g} s:\n{child.log_tail()}"
                time.sleep(0.5)
            timings[child.name] = time.monotonic() - started
        # the two detectors are the online one and the registry's champion, as their commands say
        for name, model in (("detector", "online"), ("champion", "champion")):
            health = httpx.get(checks[name][-1], timeout=5).json()
            assert health["model"] == model, health
    finally:
        stop_all(children)
    print("healthy after (s, started together): " + ", ".join(f"{n} {t:.1f}" for n, t in timings.items()))
    assert set(timings) == set(KIT_SERVICES)


def test_the_backfill_script_loads_history_blocks_once(compose_services: dict[str, dict[str, Any]], promtool_bin: str, tmp_path: Path) -> None:
    """The one-shot backfill's script, run by ``sh`` as its container would, over 6 hours instead of 8 days (to stay quick)."""
    shell, flag, script = compose_services["backfill"]["command"]
    assert (shell, flag) == ("sh", "-c")
    days = f"--days {_compose.HISTORY_DAYS:g} "
    assert days in script
    data_dir, prometheus_dir = tmp_path / "data", tmp_path / "prometheus"
    prometheus_dir.mkdir()
    script = (
        script.replace("$$", "$")  # compose's escape for a literal $
        .replace(days, "--days 0.25 ")
        .replace(_compose.PROMETHEUS_DATA, str(prometheus_dir))
        .replace(str(_compose.DATA_DIR), str(data_dir))
    )
    bin_dir = tmp_path / "bin"  # `aiops` and `promtool` as the image has them on PATH
    bin_dir.mkdir()
    (bin_dir / "aiops").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m aiops "$@"\n')
    (bin_dir / "promtool").symlink_to(promtool_bin)
    (bin_dir / "aiops").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}

    first = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    blocks = [p for p in prometheus_dir.iterdir() if (p / "meta.json").is_file()]
    assert blocks, "promtool wrote no block"
    listing = subprocess.run([promtool_bin, "tsdb", "list", str(prometheus_dir)], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and all(b.name in listing.stdout for b in blocks)
    history = data_dir / "history"
    assert (history / "incidents.jsonl").is_file() and not list(history.glob("history-*.om"))

    again = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert again.returncode == 0 and "already" in again.stdout
    assert sorted(p.name for p in prometheus_dir.iterdir() if (p / "meta.json").is_file()) == sorted(b.name for b in blocks)
