"""The permanent incident kind (``bad_release``): validated in the catalog, lasts, and plays the drift scenario."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import simulator as sim
from simulator._catalog import CATALOG_PATH, _parse

CATALOG = sim.load_catalog()
REPO = Path(__file__).resolve().parents[2]
T0 = 1_767_355_200.0


def test_bad_release_is_permanent_without_remediation_and_lasts_the_longest_allowed_by_default() -> None:
    kind = CATALOG.kind("bad_release")
    assert kind.permanent and kind.remediation is None and kind.main_signal == "latency"
    assert [k.name for k in CATALOG.kinds if k.permanent] == ["bad_release"]
    assert "bad_release" not in CATALOG.transient_kind_names and "cpu_hog" in CATALOG.transient_kind_names
    inc = sim.make_incident(CATALOG, id="1", kind="bad_release", service="payments", now=T0)
    assert inc.duration_seconds == CATALOG.duration_seconds.max == 7200
    hog = sim.make_incident(CATALOG, id="2", kind="cpu_hog", service="payments", now=T0)
    assert hog.duration_seconds == CATALOG.duration_seconds.default
    assert kind.as_dict()["permanent"] is True and CATALOG.kind("cpu_hog").as_dict()["permanent"] is False


def _raw() -> dict:
    return yaml.safe_load(CATALOG_PATH.read_text())


def test_a_permanent_kind_with_a_remediation_is_refused_naming_the_field() -> None:
    raw = _raw()
    raw["kinds"]["bad_release"]["remediation"] = "rollback"
    with pytest.raises(sim.CatalogError, match=r"kind bad_release: remediation must be null for a permanent kind.*'rollback'"):
        _parse(raw)


def test_permanent_must_be_a_boolean() -> None:
    raw = _raw()
    raw["kinds"]["cpu_hog"]["permanent"] = "yes"
    with pytest.raises(sim.CatalogError, match=r"kind cpu_hog: permanent must be true or false, not 'yes'"):
        _parse(raw)


def test_the_release_slows_the_service_and_its_callers_for_as_long_as_it_lasts() -> None:
    inc = sim.make_incident(CATALOG, id="1", kind="bad_release", service="payments", now=T0)
    times = np.array([T0 - 60.0, T0 + 60.0, T0 + 3600.0, T0 + 7100.0])
    with_release = sim.simulate(CATALOG, 1, times, [inc])
    without = sim.simulate(CATALOG, 1, times, [])
    for service in ("payments", "checkout"):
        cols = [j for j, p in enumerate(with_release.pods) if p.startswith(service)]
        ratio = with_release.latency_median_seconds[:, cols].mean(axis=1) / without.latency_median_seconds[:, cols].mean(axis=1)
        assert ratio[0] == pytest.approx(1.0)
        assert (ratio[1:] > 1.15).all(), (service, ratio)  # payments x2 on its own latency; checkout waits for it
    pay = [j for j, p in enumerate(with_release.pods) if p.startswith("payments")]
    np.testing.assert_allclose(with_release.latency_median_seconds[1:, pay] / without.latency_median_seconds[1:, pay], 2.0, rtol=1e-9)


def test_chaos_never_draws_a_permanent_kind() -> None:
    schedule = sim.ChaosSchedule(seed=4, every_seconds=60.0, duration_seconds=120.0)
    assert {schedule.pick(CATALOG, r).kind for r in range(300)} == set(CATALOG.transient_kind_names)


def test_the_drift_scenario_releases_on_one_service_early_for_the_rest_of_the_session() -> None:
    s = sim.load_scenario(REPO / "scenarios" / "drift.yaml", CATALOG)
    assert [(st.kind, st.service) for st in s.steps] == [("bad_release", "payments")]
    step = s.steps[0]
    assert step.at_seconds <= 120 and step.duration_seconds == CATALOG.duration_seconds.max
