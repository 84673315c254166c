"""The backfill: OpenMetrics history that promtool loads, the same names as live, and its ground truth."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from collector import FAMILIES, backfill, exposition_registry, fleet_families, history_incidents, read_log
from collector._backfill import openmetrics_text
from simulator import Counters, LiveFleet, load_catalog, make_incident, simulate

from collector_helpers import T0, om_samples

CATALOG = load_catalog()
END = T0 + 7200.0  # 16:00 UTC on a Tuesday


def _samples(path: Path) -> list[tuple[str, dict[str, str], float, float]]:
    return om_samples(path.read_text())


def test_one_point_is_valid_openmetrics(tmp_path: Path) -> None:
    r = backfill(tmp_path, days=60 / 86400, step_seconds=60, seed=3, end_seconds=END, split_seconds=0)
    assert r.timestamps == 1
    families = {f.name: f for f in parse_openmetrics(r.metrics_paths[0].read_text())}  # strict: integer buckets, +Inf...
    assert set(families) == {f.name for f in FAMILIES}
    assert {f.name: f.type for f in FAMILIES} == {n: f.type for n, f in families.items()}
    assert families["aiops_http_request_duration_seconds"].unit == "seconds"


def test_short_history_has_job_and_instance_and_timestamps(tmp_path: Path) -> None:
    r = backfill(tmp_path, days=2 / 24, step_seconds=60, seed=3, end_seconds=END, split_seconds=0, instance="127.0.0.1:9999")
    assert [p.name for p in r.metrics_paths] == ["history.om"]
    assert r.metrics_paths[0].read_text().endswith("# EOF\n")
    samples = _samples(r.metrics_paths[0])
    for name, labels, _, t in samples:
        assert labels["job"] == "aiops-collector" and labels["instance"] == "127.0.0.1:9999"
        assert r.start_seconds <= t <= r.end_seconds == END and t % 60 == 0
    assert r.series == len({(n, tuple(sorted(lab.items()))) for n, lab, _, _ in samples})
    assert r.samples == len(samples) == r.series * r.timestamps == r.series * 120


def test_each_series_in_time_order_and_counters_never_fall(tmp_path: Path) -> None:
    r = backfill(tmp_path, days=3 / 24, seed=3, end_seconds=END, split_seconds=0)
    series: dict = {}
    for name, labels, value, t in _samples(r.metrics_paths[0]):
        series.setdefault((name, tuple(sorted(labels.items()))), []).append((t, value))
    for (name, _), points in series.items():
        times = [t for t, _ in points]
        assert times == sorted(times) and len(set(times)) == len(times)
        if name.endswith(("_total", "_bucket", "_count", "_sum")):
            values = [v for _, v in points]
            assert values == sorted(values) and values[0] == 0.0


def test_families_are_not_interleaved(tmp_path: Path) -> None:
    r = backfill(tmp_path, days=1 / 24, seed=3, end_seconds=END, split_seconds=0)
    order = [line.split()[2] for line in r.metrics_paths[0].read_text().splitlines() if line.startswith("# TYPE")]
    assert order == [f.name for f in FAMILIES]
    seen: list[str] = []
    for line in r.metrics_paths[0].read_text().splitlines():
        if not line.startswith("#"):
            family = next(f.name for f in FAMILIES if line.startswith(f.name))
            if not seen or seen[-1] != family:
                assert family not in seen
                seen.append(family)


def test_history_values_match_the_live_exposition(tmp_path: Path) -> None:
    """One naming module: same names and labels, and the gauges agree with a live scrape at the same time."""
    r = backfill(tmp_path, days=1 / 24, seed=3, end_seconds=END, split_seconds=0)
    history: dict = {}
    for name, labels, value, t in _samples(r.metrics_paths[0]):
        history.setdefault(name, []).append((labels, value, t))
    fleet = LiveFleet(CATALOG, 3, start_seconds=END - 10)
    live_text = generate_latest(exposition_registry(CATALOG, lambda: fleet.advance(END, []))).decode()
    from prometheus_client.parser import text_string_to_metric_families

    live_samples = [s for f in text_string_to_metric_families(live_text) for s in f.samples]
    live_keys = {(s.name, frozenset(s.labels.items())) for s in live_samples}
    hist_keys = {
        (name, frozenset((k, v) for k, v in labels.items() if k not in ("job", "instance")))
        for name, points in history.items()
        for labels, _, _ in points
    }
    assert live_keys == hist_keys
    at_end = {labels["pod"]: v for labels, v, t in history["aiops_cpu_utilization_ratio"] if t == END}
    live_cpu = [s for s in live_samples if s.name == "aiops_cpu_utilization_ratio"]
    assert len(live_cpu) == len(at_end) > 0
    for s in live_cpu:
        assert at_end[s.labels["pod"]] == pytest.approx(s.value, abs=1e-6)


def test_ground_truth_file_and_series_agree(tmp_path: Path) -> None:
    r = backfill(tmp_path, days=0.5, step_seconds=60, seed=4, incidents_per_day=12, end_seconds=END, split_seconds=0)
    replay = read_log(r.incidents_path)
    assert replay.problems == ()
    incidents = [e.incident for e in replay.entries.values()]
    assert len(incidents) == r.incidents == 6
    assert all(i.triggered_by == "backfill" for i in incidents)
    assert all(i.end_seconds <= END - 3600 for i in incidents)  # none in the last hour
    events = [json.loads(line)["event"] for line in r.incidents_path.read_text().splitlines()]
    assert events == ["triggered", "started", "ended"] * 6
    text = r.metrics_paths[0].read_text()
    active_lines = "\n".join(line for line in text.splitlines() if line.startswith("aiops_incident_active{"))
    ones = {(labels["kind"], labels["service"], t) for _, labels, value, t in om_samples(active_lines) if value == 1.0}
    expected = {
        (i.kind, i.service, t)
        for i in incidents
        for t in np.arange(r.start_seconds, r.end_seconds + 1, 60.0)
        if i.active_at(t)
    }
    assert ones == expected and ones


def test_history_incidents_are_seeded_and_never_overlap() -> None:
    a = history_incidents(CATALOG, seed=1, start_seconds=END - 8 * 86400, end_seconds=END, per_day=2)
    assert a == history_incidents(CATALOG, seed=1, start_seconds=END - 8 * 86400, end_seconds=END, per_day=2)
    assert a != history_incidents(CATALOG, seed=2, start_seconds=END - 8 * 86400, end_seconds=END, per_day=2)
    assert len(a) == 16
    spans = sorted((i.start_seconds, i.end_seconds) for i in a)
    assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))
    assert len({i.kind for i in a}) > 3


def test_split_files_are_aligned_to_two_hour_windows(tmp_path: Path) -> None:
    (tmp_path / "history-19700101T0000.om").write_text("stale")
    r = backfill(tmp_path, days=5 / 24, seed=3, end_seconds=END + 1800)
    assert [p.name for p in r.metrics_paths] == sorted(p.name for p in tmp_path.glob("history*.om"))
    assert len(r.metrics_paths) == 3 or len(r.metrics_paths) == 4
    total = 0
    for p in r.metrics_paths:
        times = {t for _, _, _, t in _samples(p)}
        assert len({int(t // 7200) for t in times}) == 1
        total += len(times)
    assert total == r.timestamps
    manifest = json.loads(r.manifest_path.read_text())
    assert manifest["metrics_paths"] == [p.name for p in r.metrics_paths] and manifest["seed"] == 3


def test_fallback_formatting_matches_the_fast_path() -> None:
    times = np.arange(END - 600, END + 1, 60.0)
    frame = simulate(CATALOG, 3, times)
    zero = np.zeros_like(frame.request_rate)
    counters = Counters(times, zero, zero, np.zeros((*zero.shape, 10)), zero)
    fams = fleet_families(CATALOG, frame, counters, [])
    fast = om_samples(openmetrics_text(fams, times).decode())
    # negative values take the plain (repr) path: same lines, same numbers
    shifted = [(f, [type(s)(s.labels, s.lines, s.values - 1e12, s.decimals) for s in ss]) for f, ss in fams]
    slow = om_samples(openmetrics_text(shifted, times).decode())
    assert len(fast) == len(slow) == len(times) * sum(len(s.lines) for _, ss in fams for s in ss)
    for (n1, l1, v1, t1), (n2, l2, v2, t2) in zip(fast, slow):
        assert (n1, l1, t1) == (n2, l2, t2) and v2 == pytest.approx(v1 - 1e12, abs=1e-3)


@pytest.mark.integration
def test_promtool_loads_the_history(tmp_path: Path, promtool_bin: str) -> None:
    r = backfill(tmp_path / "out", days=2 / 24, seed=3, end_seconds=END)
    data = tmp_path / "data"
    for path in r.metrics_paths:
        result = subprocess.run(
            [promtool_bin, "tsdb", "create-blocks-from", "openmetrics", str(path), str(data)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr + result.stdout
    blocks = [p for p in data.iterdir() if (p / "meta.json").exists()]
    assert blocks
    stats = [json.loads((b / "meta.json").read_text())["stats"] for b in blocks]
    assert sum(s["numSamples"] for s in stats) == r.samples
    assert max(s["numSeries"] for s in stats) == r.series


def test_make_incident_round_trip_through_the_log_format(tmp_path: Path) -> None:
    inc = make_incident(CATALOG, id="bf-1", kind="cpu_hog", service="checkout", now=END, triggered_by="backfill")
    from collector._store import event_record, lines

    path = tmp_path / "x.jsonl"
    path.write_text(lines([event_record("triggered", inc, END, "backfill")]))
    assert read_log(path).entries["bf-1"].incident == inc


def test_a_collector_continues_the_history_counters_without_a_reset(tmp_path) -> None:
    from collector import CollectorSettings
    from collector._app import CollectorRuntime
    from collector._backfill import HistoryError, backfill

    end = 1_767_571_200.0
    result = backfill(tmp_path / "h", days=0.05, step_seconds=60.0, seed=3, end_seconds=end, incidents_per_day=0)
    last = {}
    for path in result.metrics_paths:
        for line in path.read_text().splitlines():
            if line.startswith('aiops_http_requests_total{') and 'pod="frontend-0"' in line:
                last["frontend-0"] = float(line.split()[-2])
    clock = lambda: end + 30.0  # noqa: E731
    rt = CollectorRuntime(CollectorSettings(seed=3, log_path=tmp_path / "i.jsonl", history_dir=tmp_path / "h"), clock=clock)
    snap = rt.snapshot()
    pod = snap.gauges.pods.index("frontend-0")
    live = snap.counters.requests_total[0, pod]
    # continues from the history's last value: 30 more seconds of traffic, not a reset to zero
    assert last["frontend-0"] < live < last["frontend-0"] + 30 * 200
    rt.close()
    with pytest.raises(HistoryError, match="seed 3"):
        CollectorRuntime(CollectorSettings(seed=4, log_path=tmp_path / "j.jsonl", history_dir=tmp_path / "h"), clock=clock)
