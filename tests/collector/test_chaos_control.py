"""The chaos job: seeded, clock-driven rounds that can be paused, and that respect the limits."""

from __future__ import annotations

from pathlib import Path

from collector import ChaosController, IncidentStore
from simulator import load_catalog

from collector_helpers import FakeClock

CATALOG = load_catalog()


def _controller(path: Path, clock: FakeClock, *, every: float = 900.0, seed: int = 5) -> ChaosController:
    store = IncidentStore(CATALOG, path, clock=clock)
    return ChaosController(store, seed=seed, every_seconds=every, duration_seconds=120.0, clock=clock)


def _rounds(path: Path, seed: int) -> list[tuple[str, str, float]]:
    clock = FakeClock()
    chaos = _controller(path, clock, seed=seed)
    out = []
    for _ in range(6):
        inc = chaos.run_round()
        assert inc is not None and inc["triggered_by"] == "chaos" and inc["duration_seconds"] == 120.0
        out.append((inc["kind"], inc["service"], inc["intensity"]))
        clock.advance(900)
    chaos.store.close()
    return out


def test_same_seed_same_incidents_at_the_same_times(tmp_path: Path) -> None:
    a = _rounds(tmp_path / "a.jsonl", seed=5)
    assert a == _rounds(tmp_path / "b.jsonl", seed=5)
    assert a != _rounds(tmp_path / "c.jsonl", seed=6)
    assert len({(k, s) for k, s, _ in a}) > 1


def test_paused_or_disabled_does_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    chaos = _controller(tmp_path / "log.jsonl", clock)
    chaos.pause()
    assert chaos.run_round() is None and chaos.store.incidents() == []
    assert chaos.status()["paused"] is True and chaos.status()["next_run_seconds"] is None
    chaos.resume()
    assert chaos.run_round() is not None
    chaos.store.close()
    off = _controller(tmp_path / "off.jsonl", clock, every=0)
    assert not off.enabled and off.run_round() is None and off.status()["enabled"] is False
    off.store.close()


def test_a_round_over_the_limit_is_skipped_not_fatal(tmp_path: Path) -> None:
    clock = FakeClock()
    chaos = _controller(tmp_path / "log.jsonl", clock)
    for service in CATALOG.service_names[: CATALOG.max_concurrent_incidents]:
        chaos.store.trigger(kind="disk_fill", service=service, duration_seconds=3600)
    assert chaos.run_round() is None
    assert "skipped" in chaos.status()["last"]
    chaos.store.close()
