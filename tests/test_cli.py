"""The collector's commands end to end: `aiops incident`, `scenario`, `collector`, `backfill`, `docs`.

Incident commands talk over HTTP to a collector served by uvicorn in a background
thread on a free loopback port, with a fake clock.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Iterator

import pytest

from aiops.cli import main
from collector import CollectorServer, CollectorSettings

T0 = 1_764_079_200.0
REPO = Path(__file__).resolve().parent.parent


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CollectorServer]:
    settings = CollectorSettings(host="127.0.0.1", port=0, log_path=tmp_path / "incidents.jsonl", chaos_every_seconds=600)
    with CollectorServer(settings, clock=_Clock(), scheduler=False) as s:
        yield s


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_trigger_list_stop(server: CollectorServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "incident", "trigger", "cpu_hog", "--service", "checkout", "--duration", "5m", "--url", server.url)
    assert code == 0 and out.startswith("incident 1: cpu_hog on checkout, intensity 1, 5m from 14:00:00Z to 14:05:00Z (active)")
    code, out, _ = _run(
        capsys, "incident", "trigger", "disk_fill", "--service", "database", "--delay", "30s", "--intensity", "2", "--url", server.url
    )
    assert code == 0 and "(pending)" in out and "intensity 2," in out
    code, out, _ = _run(capsys, "incident", "list", "--url", server.url)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "KIND", "SERVICE", "STATE", "INTENSITY", "START", "END", "BY"]
    assert lines[1].split()[:4] == ["1", "cpu_hog", "checkout", "active"] and lines[1].split()[-1] == "cli"
    code, out, _ = _run(capsys, "incident", "list", "--json", "--url", server.url)
    assert [i["kind"] for i in json.loads(out)] == ["cpu_hog", "disk_fill"]
    code, out, _ = _run(capsys, "incident", "stop", "1", "--url", server.url)
    assert code == 0 and out.startswith("stopped incident 1: cpu_hog on checkout") and "(stopped)" in out
    code, out, _ = _run(capsys, "incident", "stop", "--all", "--url", server.url)
    assert code == 0 and "stopped 1 incident(s); chaos schedule paused" in out
    assert server.runtime.chaos.paused
    events = [json.loads(line) for line in server.settings.log_path.read_text().splitlines()]
    assert [(e["event"], e["by"]) for e in events if e["event"] == "stopped"] == [("stopped", "cli"), ("stopped", "cli")]


def test_bad_request_is_one_line_naming_what_is_allowed(server: CollectorServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "incident", "trigger", "meteor", "--service", "checkout", "--url", server.url)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "kind: unknown kind 'meteor' (allowed: cpu_hog, memory_leak" in err
    code, _, err = _run(capsys, "incident", "trigger", "cpu_hog", "--service", "checkout", "--intensity", "9", "--url", server.url)
    assert code == 2 and "intensity: 9.0 is out of range (allowed: 0.1 to 2)" in err
    code, _, err = _run(capsys, "incident", "stop", "42", "--url", server.url)
    assert code == 2 and "id: no incident with id '42'" in err
    code, _, err = _run(capsys, "incident", "stop", "--url", server.url)
    assert code == 2 and "give an incident ID or --all" in err


def test_unreachable_collector_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    code, out, err = _run(capsys, "incident", "list", "--url", f"http://127.0.0.1:{port}")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"no collector answers at http://127.0.0.1:{port}" in err


def test_collector_on_a_busy_port_is_one_clear_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, out, err = _run(capsys, "collector", "--port", str(port), "--log", str(tmp_path / "x.jsonl"))
    assert code == 2 and out == ""
    assert err.strip() == f"aiops collector: error: port {port} on 127.0.0.1 is already in use (another collector?); pick another with --port"


def test_collector_beyond_loopback_needs_a_token_for_writes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import collector
    import plumbing.serving

    served = []
    monkeypatch.setattr(plumbing.serving, "bind", lambda host, port, **_: socket.socket())
    def fake_serve(settings: CollectorSettings, *, sock: socket.socket, app: object) -> None:
        served.append(settings)
        sock.close()
        app.state.runtime.close()  # type: ignore[attr-defined]

    monkeypatch.setattr(collector, "serve", fake_serve)
    code, out, err = _run(capsys, "collector", "--host", "0.0.0.0", "--port", "8123", "--log", str(tmp_path / "x.jsonl"), "--chaos-every", "15m")
    assert code == 0 and served[0].token and f"export AIOPS_TOKEN={served[0].token}" in err  # generated, printed once
    assert served[0].host == "0.0.0.0" and served[0].chaos_every_seconds == 900.0
    assert "chaos one incident every 15m for 2m" in out and served[0].token not in out
    monkeypatch.setenv("AIOPS_TOKEN", "chosen-by-the-runner")
    code, _, err = _run(capsys, "collector", "--host", "0.0.0.0", "--port", "8123", "--log", str(tmp_path / "x.jsonl"))
    assert code == 0 and served[1].token == "chosen-by-the-runner" and "chosen-by-the-runner" not in err
    monkeypatch.delenv("AIOPS_TOKEN")
    code, _, err = _run(capsys, "collector", "--port", "8123", "--log", str(tmp_path / "x.jsonl"))
    assert code == 0 and "token" not in err and served[2].token == ""


def test_collector_with_an_unusable_log_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import plumbing.serving

    monkeypatch.setattr(plumbing.serving, "bind", lambda host, port, **_: socket.socket())
    (tmp_path / "a-file").write_text("")
    code, out, err = _run(capsys, "collector", "--port", "8123", "--log", str(tmp_path / "a-file" / "incidents.jsonl"))
    assert code == 2 and err.count("\n") == 1 and "cannot open the incident log" in err


def test_scenario_validate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name in ("demo", "workshop"):
        code, out, _ = _run(capsys, "scenario", "validate", str(REPO / "scenarios" / f"{name}.yaml"))
        assert code == 0 and "ok" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "incidents:\n"
        "  - {at: 1m, kind: meteor, service: checkout}\n"
        "  - {at: soon, kind: cpu_hog, service: checkout}\n"
        "  - {at: 2m, kind: cpu_hog, service: checkout, intensity: 9}\n"
    )
    code, out, err = _run(capsys, "scenario", "validate", str(bad))
    assert code == 2 and out == ""
    problems = [line for line in err.splitlines() if line.startswith(str(bad))]
    assert len(problems) == 3
    assert "meteor" in problems[0] and "soon" in problems[1] and "intensity" in problems[2]
    assert err.splitlines()[-1] == f"aiops scenario: error: {bad}: 3 problem(s)"


def test_demo_scenario_is_short_and_varied() -> None:
    from simulator import load_catalog, load_scenario

    s = load_scenario(REPO / "scenarios" / "demo.yaml", load_catalog())
    assert 300 <= s.length_seconds <= 17 * 60
    assert len({st.kind for st in s.steps}) == len(s.steps) == len({st.service for st in s.steps}) >= 3
    workshop = load_scenario(REPO / "scenarios" / "workshop.yaml", load_catalog())
    assert {st.kind for st in workshop.steps} == set(load_catalog().transient_kind_names)  # the drift scenario plays the permanent one


def test_demo_scenario_keeps_related_incidents_apart_so_each_is_its_own_detected_incident() -> None:
    """The detector joins flags on services with an edge between them into one incident until it
    has been quiet for 3 minutes; rate-based signals stay raised for the 2-minute rate window after
    an incident ends. So incidents whose reach touches leave that much time between them."""
    from simulator import load_catalog, load_scenario

    catalog = load_catalog()
    edges = {(d.caller, d.callee) for d in catalog.dependencies}

    def reach(step) -> set[str]:
        cascades = catalog.kind(step.kind).cascades
        more = catalog.upstream(step.service) if cascades == "callers" else catalog.downstream(step.service) if cascades == "callees" else ()
        return {step.service, *more}

    steps = load_scenario(REPO / "scenarios" / "demo.yaml", catalog).steps
    for i, a in enumerate(steps):
        for b in steps[i + 1 :]:
            touch = any(x == y or (x, y) in edges or (y, x) in edges for x in reach(a) for y in reach(b))
            if touch:
                assert b.at_seconds >= a.at_seconds + a.duration_seconds + 120 + 180, (a.kind, b.kind)


def test_scenario_run_posts_the_timeline(server: CollectorServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "scenario", "run", str(REPO / "scenarios" / "demo.yaml"), "--url", server.url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("scenario demo: 4 incident(s) over 16m40s")
    assert lines[1].startswith("+2s ") and "latency_regression on payments" in lines[1] and "(pending)" in lines[1]
    incidents = server.runtime.store.incidents()
    assert [i.triggered_by for i in incidents] == ["scenario"] * 4
    assert [i.start_seconds - T0 for i in incidents] == [2.0, 490.0, 490.0, 910.0]


def test_scenario_run_without_a_collector_posts_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = _run(capsys, "scenario", "run", str(REPO / "scenarios" / "demo.yaml"), "--url", f"http://127.0.0.1:{port}")
    assert code == 2 and out == "" and "no collector answers" in err


def test_backfill_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(
        capsys, "backfill", "--days", "0.1", "--step", "1m", "--out", str(tmp_path), "--seed", "5", "--end", "2025-11-25T16:00:00Z"
    )
    assert code == 0 and out.startswith("wrote ")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["end_seconds"] == T0 + 7200 and manifest["instance"] == "127.0.0.1:8000"
    assert all((tmp_path / name).exists() for name in manifest["metrics_paths"]) and (tmp_path / "incidents.jsonl").exists()
    code, _, err = _run(capsys, "backfill", "--days", "0", "--out", str(tmp_path))
    assert code == 2 and "must be positive" in err


def test_docs_incidents(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "incidents.md"
    target.write_text("stale\n")
    code, _, err = _run(capsys, "docs", "incidents", "--check", "--out", str(target))
    assert code == 2 and "out of date" in err
    code, out, _ = _run(capsys, "docs", "incidents", "--out", str(target))
    assert code == 0 and target.read_text() == (REPO / "docs" / "incidents.md").read_text()
    code, out, _ = _run(capsys, "docs", "incidents", "--check", "--out", str(target))
    assert code == 0 and "up to date" in out
