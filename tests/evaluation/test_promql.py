"""The offline bridge computes the PromQL signals the way Prometheus does."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evaluation._promql import OfflineSettings, fleet_frame, ground_truth_frame, histogram_quantile, instant_value, prom_rate
from simulator import LATENCY_BUCKETS_SECONDS, SIGNALS, bucket_fractions, load_catalog, make_incident, simulate

INF = math.inf
MIDNIGHT = 1_767_571_200.0  # 2026-01-05 00:00 UTC, on every scrape grid


# ------------------------------------------------------------------ histogram_quantile
LE = [0.1, 0.25, 0.5, INF]
COUNTS = np.array([10.0, 50.0, 90.0, 100.0])


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.05, 0.0 + 0.1 * (5 / 10)),  # first bucket: interpolate from 0
        (0.3, 0.1 + 0.15 * (20 / 40)),  # rank 30 in (10, 50]
        (0.5, 0.25),  # exactly at a bucket's cumulative count
        (0.9, 0.25 + 0.25 * (40 / 40)),
        (0.95, 0.5),  # rank 95 falls in +Inf: the highest finite bound
    ],
)
def test_histogram_quantile_interpolates_linearly_within_the_bucket(q: float, expected: float) -> None:
    assert histogram_quantile(q, LE, COUNTS) == pytest.approx(expected)


def test_histogram_quantile_edge_cases_follow_prometheus() -> None:
    assert math.isnan(histogram_quantile(0.95, LE, np.zeros(4)))  # no observations
    assert histogram_quantile(-0.1, LE, COUNTS) == -INF
    assert histogram_quantile(1.5, LE, COUNTS) == INF
    # A non-monotonic set (float noise in summed rates) is made monotonic first.
    assert histogram_quantile(0.3, LE, np.array([10.0, 8.0, 90.0, 100.0])) == pytest.approx(0.25 + 0.25 * (20 / 80))
    # Vectorised over leading axes.
    both = histogram_quantile(0.3, LE, np.stack([COUNTS, COUNTS * 2]))
    assert both == pytest.approx([0.175, 0.175])
    with pytest.raises(ValueError):
        histogram_quantile(0.5, [0.1, 0.2], np.array([1.0, 2.0]))  # no +Inf bucket


# ------------------------------------------------------------------ rate()
def test_rate_of_aligned_samples_is_increase_over_range() -> None:
    t = np.arange(0.0, 301.0, 15.0)
    v = 1000.0 + 3.0 * t
    assert prom_rate(t, v, np.array([300.0]), 120.0) == pytest.approx([3.0])


def test_rate_extrapolates_to_the_window_edges_like_prometheus() -> None:
    # Samples at 10, 25, ..., 115; window [0, 120]: 10 s before the first and 5 s after the
    # last sample are both within 1.1 average intervals, so the rate extrapolates to 120 s.
    t = np.arange(10.0, 116.0, 15.0)
    v = 1000.0 + 3.0 * t
    assert prom_rate(t, v, np.array([120.0]), 120.0) == pytest.approx([3.0])
    # Samples only from 40 s on: the 40 s gap is too long, so only half an interval is added.
    t2 = np.arange(40.0, 116.0, 15.0)
    v2 = 1000.0 + 3.0 * t2
    delta, sampled = 3.0 * 75.0, 75.0
    assert prom_rate(t2, v2, np.array([120.0]), 120.0) == pytest.approx([delta * (sampled + 7.5 + 5.0) / sampled / 120.0])


def test_rate_handles_a_counter_reset_and_a_fresh_counter() -> None:
    t = np.array([0.0, 15.0, 30.0, 45.0])
    v = np.array([100.0, 130.0, 10.0, 40.0])  # restarted between 15 s and 30 s
    assert prom_rate(t, v, np.array([45.0]), 45.0) == pytest.approx([(30.0 + 10.0 + 30.0) / 45.0])
    # A counter that starts at zero is never extrapolated below zero.
    t3 = np.arange(0.0, 61.0, 15.0)
    assert prom_rate(t3, 2.0 * t3, np.array([60.0]), 120.0) == pytest.approx([2.0 * 60.0 / 120.0])
    # Fewer than two samples in the window: no value.
    assert np.isnan(prom_rate(t, v, np.array([200.0]), 30.0)).all()


def test_instant_value_takes_the_newest_sample_within_the_lookback() -> None:
    t = np.array([0.0, 5.0, 10.0])
    v = np.array([1.0, 2.0, 3.0])
    got = instant_value(t, v, np.array([-1.0, 5.0, 7.0, 310.0, 311.0]))
    assert np.isnan(got[0]) and got[1] == 2.0 and got[2] == 2.0 and got[3] == 3.0 and np.isnan(got[4])


# ------------------------------------------------------------------ the fleet frame
@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, object, list]:
    catalog = load_catalog()
    incidents = [
        make_incident(catalog, id="a", kind="error_burst", service="checkout", duration_seconds=600, now=MIDNIGHT + 1800),
    ]
    settings = OfflineSettings(scrape_interval_seconds=5.0, chunk_seconds=1800.0, whole_counts=False)
    frame = fleet_frame(catalog, 3, start_seconds=MIDNIGHT, end_seconds=MIDNIGHT + 3600, incidents=incidents, settings=settings)
    return frame, catalog, incidents


def test_frame_has_the_models_shape(small) -> None:
    frame, catalog, _ = small
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC" and frame.index.name == "timestamp"
    assert list(frame.columns.names) == ["service", "signal"]
    assert list(frame.columns) == [(s, sig) for s in catalog.service_names for sig in SIGNALS]
    assert (frame.dtypes == np.float64).all()
    assert frame.shape == (60, 42) and not frame.isna().any().any()
    assert (np.diff(frame.index.as_unit("s").asi8) == 60).all()


def _window_ticks(t: float, scrape: float = 5.0, window: float = 120.0) -> np.ndarray:
    # The live collector adds rate(tick start) x tick per tick; a sample at t holds ticks before t.
    return np.arange(t - window, t, scrape)


def test_requests_and_errors_equal_the_direct_sums_of_pod_rates(small) -> None:
    frame, catalog, incidents = small
    services = np.array(catalog.service_names)
    for ts in (frame.index[5], frame.index[40]):  # quiet, and during the error burst
        t = ts.timestamp()
        direct = simulate(catalog, 3, _window_ticks(t), incidents)
        pod_rate = direct.request_rate.mean(axis=0)  # rate over [t-2m, t] of each pod
        pod_err = (direct.request_rate * direct.error_ratio).mean(axis=0)
        for i, s in enumerate(services):
            pods = direct.pod_service == i
            assert frame.loc[ts, (s, "requests")] == pytest.approx(pod_rate[pods].sum(), rel=1e-9)
            assert frame.loc[ts, (s, "errors")] == pytest.approx(pod_err[pods].sum() / pod_rate[pods].sum(), rel=1e-9)
    assert frame.loc[frame.index[40], ("checkout", "errors")] > 0.1  # the burst is visible


def test_latency_is_histogram_quantile_of_the_summed_bucket_rates(small) -> None:
    frame, catalog, incidents = small
    ts = frame.index[20]
    t = ts.timestamp()
    direct = simulate(catalog, 3, _window_ticks(t), incidents)
    counts = direct.request_rate[..., None] * bucket_fractions(direct.latency_median_seconds)  # (T, P, B)
    le = list(LATENCY_BUCKETS_SECONDS) + [INF]
    for i, s in enumerate(catalog.service_names):
        pods = direct.pod_service == i
        finite = counts[:, pods].sum(axis=(0, 1))
        total = direct.request_rate[:, pods].sum()
        cumulative = np.r_[finite, total]
        want = histogram_quantile(0.95, le, cumulative)
        assert frame.loc[ts, (s, "latency")] == pytest.approx(want, rel=1e-9)
        # and it lies in the bucket that holds the true p95 of the window's latency mixture
        b = int(np.searchsorted(cumulative, 0.95 * total))
        lo = 0.0 if b == 0 else le[b - 1]
        assert lo <= frame.loc[ts, (s, "latency")] <= le[b]


def test_gauges_are_the_pod_average_at_the_evaluation_time(small) -> None:
    frame, catalog, incidents = small
    ts = frame.index[33]
    now = simulate(catalog, 3, [ts.timestamp()], incidents)
    for i, s in enumerate(catalog.service_names):
        pods = now.pod_service == i
        assert frame.loc[ts, (s, "cpu")] == pytest.approx(now.cpu_ratio[0, pods].mean(), rel=1e-12)
        assert frame.loc[ts, (s, "memory")] == pytest.approx(now.memory_bytes[0, pods].mean(), rel=1e-12)
        assert frame.loc[ts, (s, "disk")] == pytest.approx(now.disk_used_bytes[0, pods].mean(), rel=1e-12)
        assert frame.loc[ts, (s, "saturation")] == pytest.approx(now.pool_usage_ratio[0, pods].mean(), rel=1e-12)


def test_chunking_does_not_change_a_value(small) -> None:
    frame, catalog, incidents = small
    whole = fleet_frame(
        catalog, 3, start_seconds=MIDNIGHT, end_seconds=MIDNIGHT + 3600, incidents=incidents,
        settings=OfflineSettings(scrape_interval_seconds=5.0, chunk_seconds=86_400.0, whole_counts=False),
    )
    pd.testing.assert_frame_equal(whole, frame, rtol=1e-10)


def test_a_scrape_offset_changes_rates_only_by_sampling(small) -> None:
    frame, catalog, incidents = small
    shifted = fleet_frame(
        catalog, 3, start_seconds=MIDNIGHT, end_seconds=MIDNIGHT + 3600, incidents=incidents,
        settings=OfflineSettings(scrape_interval_seconds=5.0, scrape_offset_seconds=2.0, whole_counts=False),
    )
    rel = ((shifted - frame).abs() / frame.abs()).xs("requests", axis=1, level="signal")
    assert float(rel.max().max()) < 0.01


def test_whole_counts_move_a_rate_by_at_most_one_request_per_pod_per_window(small) -> None:
    frame, catalog, incidents = small
    exposed = fleet_frame(
        catalog, 3, start_seconds=MIDNIGHT, end_seconds=MIDNIGHT + 3600, incidents=incidents,
        settings=OfflineSettings(scrape_interval_seconds=5.0),
    )
    pods = {s.name: s.replicas for s in catalog.services}
    for s in catalog.service_names:
        diff = (exposed[(s, "requests")] - frame[(s, "requests")]).abs()
        assert float(diff.max()) <= pods[s] / 120.0 + 1e-9
        assert float(diff.max()) > 0  # the flooring is there
    pd.testing.assert_frame_equal(exposed.xs("cpu", axis=1, level="signal"), frame.xs("cpu", axis=1, level="signal"))


def test_ground_truth_is_kept_apart_and_marks_active_minutes(small) -> None:
    frame, catalog, incidents = small
    truth = ground_truth_frame(catalog, incidents, frame.index)
    assert truth.columns.names == ["kind", "service"]
    active = truth[("error_burst", "checkout")]
    assert active.sum() == 10 and active.iloc[30] == 1.0 and active.iloc[29] == 0.0
    assert truth.drop(columns=[("error_burst", "checkout")]).to_numpy().sum() == 0
    assert not any("incident" in str(c) for c in frame.columns.get_level_values("signal"))


# ------------------------------------------------------------------ against the real Prometheus
@pytest.mark.integration
def test_the_bridge_matches_prometheus_on_backfilled_history(tmp_path, promtool_bin, start_prometheus) -> None:
    """Backfill a few hours, load them into Prometheus, run signals.yaml's PromQL: the bridge agrees."""
    backfill_mod = pytest.importorskip("collector._backfill")
    from plumbing import binaries as prom
    from sources._prometheus import PrometheusReader
    from model._signals import load_signals

    catalog = load_catalog()
    seed, step, hours = 5, 15.0, 3
    # The backfill's first sample at start = end - 15 s x 719 lands 150 s (one 2m window and two
    # scrapes) before a whole minute: that minute is the bridge's first point, and the bridge's first
    # tick is then the backfill's first sample, so both integrate the counters from the same zero.
    end = MIDNIGHT + hours * 3600.0 + 15.0
    out = backfill_mod.backfill(
        tmp_path / "history", days=hours / 24, step_seconds=step, seed=seed, incidents_per_day=24, end_seconds=end, split_seconds=0
    )
    start = end - step * (int(round(hours * 3600 / step)) - 1)
    incidents = backfill_mod.history_incidents(catalog, seed=seed, start_seconds=start, end_seconds=end, per_day=24)
    assert incidents  # the comparison covers incidents, not only quiet traffic
    data = tmp_path / "data"
    for path in out.metrics_paths:
        prom.create_blocks_from_openmetrics(path, data)
    server = start_prometheus({}, storage_dir=data)

    q0 = start + 120.0 + 2 * step
    assert q0 % 60 == 0
    ours = fleet_frame(catalog, seed, start_seconds=q0, end_seconds=end, incidents=incidents, settings=OfflineSettings(scrape_interval_seconds=step))
    queries = {s.name: s.promql for s in load_signals().signals}
    theirs = PrometheusReader(base_url=server.url).fetch_signals(queries, start=q0, end=float(_seconds_index(ours)[-1]), step_seconds=60.0)
    theirs = theirs.reindex(columns=ours.columns)
    assert not theirs.isna().any().any()
    # Counter-based signals agree to float precision; gauges to the exposition's rounding
    # (ratios to 1e-6, bytes to whole bytes), which the bridge does not copy.
    rates = ["requests", "errors", "latency"]
    for signal, atol in [*((r, 0.0) for r in rates), ("cpu", 1e-6), ("saturation", 1e-6), ("memory", 1.0), ("disk", 1.0)]:
        got = theirs.xs(signal, axis=1, level="signal")
        want = ours.xs(signal, axis=1, level="signal")
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9, atol=atol, err_msg=signal)
    during = ground_truth_frame(catalog, incidents, ours.index).to_numpy().any(axis=1)
    assert during.sum() >= 10  # minutes under incident were compared too


def _seconds_index(frame: pd.DataFrame) -> np.ndarray:
    return frame.index.as_unit("s").asi8
