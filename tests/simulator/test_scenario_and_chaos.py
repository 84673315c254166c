"""Scenario files and the seeded chaos schedule."""

from __future__ import annotations

import pytest

import simulator as sim

CATALOG = sim.load_catalog()

GOOD = """
name: warm-up
incidents:
  - {at: 1m, kind: cpu_hog, service: checkout, duration: 2m}
  - {at: 4m, kind: memory_leak, service: catalog, duration: 3m, intensity: 2}
"""


def test_a_valid_scenario_parses_in_time_order_with_defaults() -> None:
    s = sim.parse_scenario(GOOD, CATALOG)
    assert [step.kind for step in s.steps] == ["cpu_hog", "memory_leak"]
    assert s.steps[0].at_seconds == 60 and s.steps[0].intensity == CATALOG.kind("cpu_hog").intensity.default
    assert s.length_seconds == 7 * 60


def test_every_problem_in_a_scenario_is_reported() -> None:
    bad = """
incidents:
  - {at: 1m, kind: cpu_hogg, service: checkout}
  - {at: soon, kind: cpu_hog, service: checkout}
  - {at: 1m, kind: cpu_hog, service: nowhere}
  - {at: 1m, kind: cpu_hog, service: checkout, intensity: 99}
  - {at: 1m, kind: cpu_hog, service: checkout, colour: red}
"""
    with pytest.raises(sim.ScenarioError) as err:
        sim.parse_scenario(bad, CATALOG)
    text = "\n".join(err.value.problems)
    assert "incident 1: kind" in text and "memory_leak" in text  # names the allowed kinds
    assert "incident 2" in text and "duration" in text
    assert "incident 3: service" in text
    assert "incident 4: intensity" in text and "'max': 2.0" in text
    assert "incident 5: unknown keys" in text


def test_too_many_overlapping_incidents_are_rejected() -> None:
    steps = "\n".join(f"  - {{at: 0s, kind: cpu_hog, service: {s}}}" for s in CATALOG.service_names)
    with pytest.raises(sim.ScenarioError, match="limit"):
        sim.parse_scenario("incidents:\n" + steps, CATALOG)


def test_not_yaml_is_one_clear_problem() -> None:
    with pytest.raises(sim.ScenarioError, match="YAML"):
        sim.parse_scenario("incidents: [", CATALOG)


def test_chaos_schedule_is_seeded_and_stays_in_range() -> None:
    a = sim.ChaosSchedule(seed=1, every_seconds=900, duration_seconds=120)
    picks = [a.pick(CATALOG, k) for k in range(50)]
    assert picks == [a.pick(CATALOG, k) for k in range(50)]
    assert len({p.kind for p in picks}) >= 5
    for p in picks:
        assert CATALOG.kind(p.kind).intensity.contains(p.intensity)
    b = sim.ChaosSchedule(seed=2, every_seconds=900, duration_seconds=120)
    assert [b.pick(CATALOG, k) for k in range(50)] != picks


def test_chaos_can_be_restricted() -> None:
    s = sim.ChaosSchedule(seed=1, every_seconds=60, duration_seconds=30, kinds=("error_burst",), services=("payments",))
    assert {(p.kind, p.service) for p in (s.pick(CATALOG, k) for k in range(10))} == {("error_burst", "payments")}


def test_incident_request_validation_names_the_field() -> None:
    with pytest.raises(sim.InvalidIncident) as err:
        sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="checkout", duration_seconds=1e9, now=0)
    assert err.value.field == "duration_seconds" and err.value.allowed["max"] == CATALOG.duration_seconds.max
    with pytest.raises(sim.InvalidIncident) as err:
        sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="checkout", intensity="high", now=0)
    assert err.value.field == "intensity"


def test_an_incident_stopped_early_ends_then() -> None:
    inc = sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="checkout", duration_seconds=300, now=0)
    stopped = inc.stopped(100.0, "api")
    assert stopped.end_seconds == 100.0 and stopped.active_at(99) and not stopped.active_at(100)
    assert stopped.state_at(150) == "stopped" and inc.state_at(150) == "active"
    pending = sim.make_incident(CATALOG, id="2", kind="cpu_hog", service="checkout", delay_seconds=60, now=0).stopped(10.0, "api")
    assert not any(pending.active_at(t) for t in range(0, 500, 5))


def _problems(text: str | bytes, tmp_path) -> list[str]:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(path, CATALOG)
    assert all("\n" not in p and len(p) < 400 for p in info.value.problems)  # one short line each
    return info.value.problems


def test_hostile_scenario_files_are_refused_in_one_line_each(tmp_path) -> None:
    bomb = "a: &a ['x','x','x','x','x','x','x','x','x']\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")
    ) + "incidents: *i\n"
    assert "aliases" in _problems(bomb, tmp_path)[0]
    assert "duplicate key 'kind'" in _problems("incidents:\n  - {at: 1m, kind: cpu_hog, kind: disk_fill, service: checkout}\n", tmp_path)[0]
    assert "unknown keys" in _problems("incidents:\n  - {at: 1m, kind: cpu_hog, service: checkout, null: 1, 3: x}\n", tmp_path)[0]
    assert _problems("incidents:\n  - {at: " + "9" * 5000 + ", kind: cpu_hog, service: checkout}\n", tmp_path)
    assert "UTF-8" in _problems(b"incidents:\n  - {kind: \xff\xfe}\n", tmp_path)[0]
    assert "deep" in _problems("incidents: " + "[" * 100_000 + "]" * 100_000 + "\n", tmp_path)[0]


def test_the_overlap_check_is_n_log_n() -> None:
    import time

    from simulator._scenario import _max_overlap

    steps = [sim.ScenarioStep(at_seconds=i * 4.0, kind="cpu_hog", service="checkout", duration_seconds=10.0, intensity=1.0) for i in range(20_000)]
    started = time.perf_counter()
    assert _max_overlap(steps) == (3, 8.0)  # [0,10), [4,14), [8,18) first run at once at 8 s
    assert time.perf_counter() - started < 2.0  # the quadratic check took 34 s on 20,000 incidents
    crowded = "incidents:\n" + "".join(f"  - {{at: {i}s, kind: cpu_hog, service: checkout, duration: 5m}}\n" for i in range(CATALOG.max_concurrent_incidents + 1))
    with pytest.raises(sim.ScenarioError, match=f"at {CATALOG.max_concurrent_incidents}s {CATALOG.max_concurrent_incidents + 1} incidents overlap"):
        sim.parse_scenario(crowded, CATALOG)
