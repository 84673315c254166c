"""Every incident kind, at its default intensity, moves its main signal clearly and fast,
reaches the services it should cascade to, and lets the fleet return to normal."""

from __future__ import annotations

import numpy as np
import pytest

import simulator as sim

CATALOG = sim.load_catalog()
SEED = 11
T0 = 1_767_268_800.0  # 2026-01-01 12:00 UTC, a weekday afternoon
STEP = 60.0


def service_signal(frame: sim.Frame, signal: str, service: str) -> np.ndarray:
    """The service-level value of a signal, aggregated over pods as the detector's PromQL does."""
    idx = CATALOG.service_names.index(service)
    pods = frame.pod_service == idx
    if signal == "requests":
        return frame.request_rate[:, pods].sum(1)
    if signal == "errors":
        r = frame.request_rate[:, pods]
        return (r * frame.error_ratio[:, pods]).sum(1) / r.sum(1)
    arrays = {
        "latency": frame.latency_median_seconds,
        "cpu": frame.cpu_ratio,
        "memory": frame.memory_bytes,
        "disk": frame.disk_used_bytes,
        "saturation": frame.pool_usage_ratio,
    }
    return arrays[signal][:, pods].mean(1)


def robust_noise(x: np.ndarray) -> float:
    """Robust sigma of a signal's normal minute-to-minute noise (MAD of first differences / sqrt 2)."""
    d = np.diff(x)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def run(kind: str, service: str, duration: float = 600.0):
    inc = sim.make_incident(CATALOG, id="x", kind=kind, service=service, duration_seconds=duration, now=T0)
    before = np.arange(T0 - 3600.0, T0, STEP)
    during = np.array([T0 + 120.0])
    after = np.arange(inc.end_seconds + 1.0, inc.end_seconds + 600.0, STEP)
    times = np.concatenate([before, during, after])
    with_incident = sim.simulate(CATALOG, SEED, times, [inc])
    counterfactual = sim.simulate(CATALOG, SEED, times, [])
    return with_incident, counterfactual, len(before)


CASES = [(k.name, s) for k in CATALOG.kinds for s in ("checkout", "database", "frontend")]


@pytest.mark.parametrize("kind,service", CASES)
def test_main_signal_moves_five_robust_sigma_within_two_minutes(kind: str, service: str) -> None:
    signal = CATALOG.kind(kind).main_signal
    inc, cf, n_before = run(kind, service)
    x_inc = service_signal(inc, signal, service)
    x_cf = service_signal(cf, signal, service)
    sigma = robust_noise(x_cf[:n_before])
    shift = abs(x_inc[n_before] - x_cf[n_before])
    assert sigma > 0
    assert shift >= 5 * sigma, f"{kind} on {service}: {signal} moved {shift:.4g}, noise sigma {sigma:.4g}"


@pytest.mark.parametrize("kind,service", CASES)
def test_signals_return_to_normal_after_the_incident_ends(kind: str, service: str) -> None:
    inc, cf, n_before = run(kind, service)
    for signal in sim.SIGNALS:
        for s in CATALOG.service_names:
            a = service_signal(inc, signal, s)[n_before + 1 :]
            b = service_signal(cf, signal, s)[n_before + 1 :]
            np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=f"{signal} of {s} after {kind} on {service}")


CASCADING = [(k.name, k.cascades) for k in CATALOG.kinds if k.cascades != "none"]


@pytest.mark.parametrize("kind,direction", CASCADING)
def test_cascading_kinds_reach_their_neighbours(kind: str, direction: str) -> None:
    service = "inventory"  # called by checkout, calls database
    neighbour = CATALOG.callers(service)[0] if direction == "callers" else CATALOG.callees(service)[0]
    signals = {"cpu_hog": "latency", "latency_regression": "latency", "bad_release": "latency", "error_burst": "errors",
               "dependency_outage": "errors", "traffic_surge": "requests"}
    signal = signals[kind]
    inc, cf, n_before = run(kind, service)
    x_inc = service_signal(inc, signal, neighbour)
    x_cf = service_signal(cf, signal, neighbour)
    sigma = robust_noise(x_cf[:n_before])
    assert abs(x_inc[n_before] - x_cf[n_before]) >= 3 * sigma, f"{kind} on {service} did not reach {neighbour}"


def test_non_cascading_kinds_stay_on_their_service() -> None:
    for kind in ("memory_leak", "disk_fill"):
        inc, cf, n_before = run(kind, "checkout")
        for s in CATALOG.service_names:
            if s == "checkout":
                continue
            for signal in sim.SIGNALS:
                np.testing.assert_allclose(service_signal(inc, signal, s), service_signal(cf, signal, s), rtol=1e-12)


def test_outage_cascades_up_the_whole_chain() -> None:
    inc, cf, n_before = run("dependency_outage", "database")
    for s in CATALOG.upstream("database"):
        assert service_signal(inc, "errors", s)[n_before] > service_signal(cf, "errors", s)[n_before] + 0.05, s
