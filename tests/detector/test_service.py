"""The detector service's cycles, with an injected clock and an in-process history source."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator as sim
from sources._prometheus import PrometheusUnavailable
from detector._service import DetectorService, build_service, in_shard
from detector._settings import DetectorSettings
from evaluation import OfflineSettings, SimulatedSource, fleet_frame
from model import SIGNALS_PATH, SignalSet, SignalsError, load_signals

CATALOG = sim.load_catalog()
EDGES = [(d.caller, d.callee) for d in CATALOG.dependencies]
NOW = 1_767_355_200.0  # 2026-01-02 12:00 UTC


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class FlakySource:
    """Wraps a source; raises while ``down`` is set, like a Prometheus that is not answering."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.down = False

    def fetch(self, start, end, step):
        if self.down:
            raise PrometheusUnavailable("Prometheus at http://test did not answer within 1 s")
        return self.inner.fetch(start, end, step)


def make(incidents=(), min_history=2 * 86400.0, clock=None, signals: SignalSet | None = None):
    clock = clock or Clock(NOW)
    source = FlakySource(SimulatedSource(CATALOG, 3, lambda: incidents, signals=signals))
    settings = DetectorSettings(fit_window_seconds=3 * 86400.0, min_history_seconds=min_history, lookback_seconds=300.0, infer_every_seconds=15.0)
    return DetectorService(settings, source=source, dependencies=EDGES, clock=clock, signals=signals), source, clock


def signals_file(tmp_path: Path, rate_window: str) -> Path:
    """A copy of the packaged signals file with only its rate_window replaced."""
    path = tmp_path / f"signals-{rate_window}.yaml"
    text, n = re.subn(r"^rate_window:.*$", f"rate_window: {rate_window}", SIGNALS_PATH.read_text(encoding="utf-8"), flags=re.M)
    assert n == 1
    path.write_text(text, encoding="utf-8")
    return path


def test_it_warms_up_instead_of_flagging_until_it_has_enough_history() -> None:
    service, _, _ = make(min_history=30 * 86400.0)
    service.fit_cycle()
    service.infer_cycle()
    assert service.model is None
    assert service.runs["warming_up"] == 1 and service.runs["success"] == 0
    health = service.health()
    assert health["status"] == "warming_up"
    assert 0.05 < health["warmup_ratio"] < 0.2  # about 3 of the 30 days
    assert health["history_needed_seconds"] == 30 * 86400.0
    assert service.snapshot().series == {}


def test_an_incident_is_flagged_explained_and_grouped_with_its_probable_cause() -> None:
    hog = sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="payments", duration_seconds=600, now=NOW - 120)
    service, _, clock = make(incidents=[hog])
    clock.t = NOW - 200  # fit before the incident
    service.fit_cycle()
    assert service.model is not None and service.warmup_ratio == 1.0
    clock.t = NOW
    seen = []
    service.on_anomaly = seen.append
    service.infer_cycle()
    assert service.runs["success"] == 1
    snap = service.snapshot()
    assert snap.series[("payments", "cpu")].anomaly
    assert snap.series[("payments", "cpu")].score >= 1
    assert not snap.series[("catalog", "memory")].anomaly
    flagged = [a for a in service.recent_anomalies() if a["service"] == "payments" and a["signal"] == "cpu"]
    assert flagged and "payments CPU" in flagged[0]["explanation"] and "robust" in flagged[0]["explanation"]
    assert all(a["component"] in ("point", "level shift", "noise change") and f"component {a['component']}, score" in a["explanation"] for a in flagged)
    assert abs(flagged[0]["baseline"] + sum(c["contribution"] for c in flagged[0]["contributions"]) - flagged[0]["expected"]) < 1e-6
    assert any(d["onset"] for d in seen)
    assert ("payments", "cpu") in snap.active_incidents
    [inc] = [i for i in service.detected_incidents() if "payments" in i["services"]]
    assert inc["probable_cause"] == {"service": "payments", "signal": "cpu"}


def test_a_quiet_fleet_raises_no_flags() -> None:
    service, _, clock = make()
    service.fit_cycle()
    for k in range(4):
        clock.t = NOW + 60 * k
        service.infer_cycle()
    assert service.runs["success"] == 4
    assert not any(o.anomaly for o in service.snapshot().series.values())
    assert service.detected_incidents() == []


def test_a_failed_cycle_is_counted_and_the_next_one_recovers() -> None:
    service, source, clock = make()
    service.fit_cycle()
    service.infer_cycle()
    source.down = True
    clock.t += 15
    service.infer_cycle()
    clock.t += 15
    service.fit_cycle()  # a failed fit keeps the previous model
    assert service.runs["failure"] == 2 and service.model is not None
    assert "did not answer" in service.health()["last_error"]
    clock.t += 120
    assert service.health()["status"] == "degraded"
    source.down = False
    service.infer_cycle()
    assert service.runs["success"] == 2 and service.health()["status"] == "ok" and service.health()["last_error"] is None


def test_shards_split_services_and_cover_each_exactly_once() -> None:
    for n in (1, 2, 3):
        owners = {s: [i for i in range(n) if in_shard(s, i, n)] for s in CATALOG.service_names}
        assert all(len(v) == 1 for v in owners.values())
    settings = DetectorSettings(shard_index=1, shard_count=2, fit_window_seconds=3 * 86400.0, min_history_seconds=86400.0)
    service = DetectorService(settings, source=SimulatedSource(CATALOG, 3, lambda: []), dependencies=EDGES, clock=Clock(NOW), infer_every_seconds=15)
    service.fit_cycle()
    services = {s for names in service.model.services_.values() for s in names}
    assert services == {s for s in CATALOG.service_names if in_shard(s, 1, 2)}


def test_settings_reject_a_bad_shard_and_read_the_environment() -> None:
    with pytest.raises(ValueError, match="shard"):
        DetectorSettings(shard_index=2, shard_count=2)
    s = DetectorSettings.from_env({"AIOPS_DETECTOR_PORT": "9001", "AIOPS_DETECTOR_FIT_EVERY_SECONDS": "5m"})
    assert s.port == 9001 and s.fit_every_seconds == 300.0


def test_incident_records_are_read_from_a_log_with_early_stops_and_a_torn_line(tmp_path) -> None:
    from sources._records import read_incident_log

    inc = {"id": "a", "kind": "cpu_hog", "service": "payments", "start_seconds": 100.0, "duration_seconds": 300.0}
    lines = [
        {"event": "triggered", "id": "a", "incident": inc},
        {"event": "started", "id": "a", "time_seconds": 100.0},
        {"event": "stopped", "id": "a", "time_seconds": 160.0},
        {"event": "triggered", "id": "b", "incident": {**inc, "id": "b", "service": "catalog", "start_seconds": 500.0}},
    ]
    import json

    path = tmp_path / "incidents.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"event": "trigg')
    records = {r.id: r for r in read_incident_log(path)}
    assert (records["a"].service, records["a"].start_seconds, records["a"].end_seconds) == ("payments", 100.0, 160.0)
    assert (records["b"].service, records["b"].end_seconds) == ("catalog", 800.0)


def test_points_whose_rate_windows_are_incomplete_are_not_scored() -> None:
    """Right after a scrape gap the detector settles instead of flagging the rate() dip."""
    hog = sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="payments", duration_seconds=600, now=NOW - 120)

    class Gappy(FlakySource):
        samples = 0.0

        def samples_in_window(self, start, end, step):
            frame = self.inner.fetch(start, end, step)
            return pd.Series(self.samples, index=frame.index)

    service, _, clock = make(incidents=[hog])
    service.source = Gappy(service.source.inner)
    clock.t = NOW - 200
    service.fit_cycle()
    clock.t = NOW
    service.infer_cycle()
    assert service.health()["status"] == "settling" and service.recent_anomalies() == []
    assert service.signals.completeness_window_seconds == 120.0  # the packaged file's rate_window
    service.source.samples = 120.0 / 15.0  # a full window at the 15 s test step
    service.infer_cycle()
    assert service.health()["status"] == "ok" and service.snapshot().series[("payments", "cpu")].anomaly


def test_the_service_settles_on_its_signal_sets_rate_window(tmp_path: Path) -> None:
    """One sample in the window is a full 15 s window at the 15 s step, and far too few for 2 minutes."""
    hog = sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="payments", duration_seconds=600, now=NOW - 120)

    class OneSample(FlakySource):
        def samples_in_window(self, start, end, step):
            return pd.Series(1.0, index=self.inner.fetch(start, end, step).index)

    outcomes = {}
    for window in ("2m", "15s"):
        service, _, clock = make(incidents=[hog], signals=load_signals(signals_file(tmp_path, window)))
        service.source = OneSample(service.source.inner)
        clock.t = NOW - 200
        service.fit_cycle()
        clock.t = NOW
        service.infer_cycle()
        outcomes[window] = service.health()["status"]
    assert outcomes == {"2m": "settling", "15s": "ok"}


def test_a_full_window_is_counted_in_scrapes_however_often_the_detector_scores() -> None:
    """Scoring every 5 s with the collector scraped every 15 s: a full 2 m window holds 8 samples, not 24."""
    hog = sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="payments", duration_seconds=600, now=NOW - 120)

    class EveryFifteen(FlakySource):
        def samples_in_window(self, start, end, step):
            return pd.Series(120.0 / 15.0, index=self.inner.fetch(start, end, step).index)

    base = dict(fit_window_seconds=3 * 86400.0, min_history_seconds=2 * 86400.0, lookback_seconds=300.0, infer_every_seconds=5.0)
    statuses = {}
    for scrape in (None, 15.0):
        source = EveryFifteen(SimulatedSource(CATALOG, 3, lambda: [hog]))
        clock = Clock(NOW - 200)
        service = DetectorService(DetectorSettings(**base), source=source, dependencies=EDGES, clock=clock, scrape_interval_seconds=scrape)
        service.fit_cycle()
        clock.t = NOW
        service.infer_cycle()
        statuses[scrape] = (service.health()["status"], service.health()["completeness_ratio"])
    # not told the scrape interval, the service takes its own period for it and waits for samples that never come
    assert statuses == {None: ("settling", pytest.approx(8 / 24)), 15.0: ("ok", 1.0)}


def test_build_service_takes_the_scrape_interval_from_the_kits_prometheus_config_unless_told() -> None:
    from plumbing.monitoring import scrape_interval_seconds

    assert build_service(DetectorSettings(infer_every_seconds=1.0)).scrape_interval_seconds == scrape_interval_seconds() == 5.0
    told = build_service(DetectorSettings(infer_every_seconds=1.0, scrape_interval_seconds=1.0))
    assert (told.infer_every_seconds, told.scrape_interval_seconds) == (1.0, 1.0)
    assert build_service(DetectorSettings(scrape_interval_seconds=2.0)).infer_every_seconds == 2.0  # scored at the scrape interval told
    with pytest.raises(ValueError, match="scrape_interval_seconds"):
        DetectorSettings(scrape_interval_seconds=-1.0)


def test_the_scrape_interval_reaches_the_detector_from_the_command_line_and_the_stack() -> None:
    from aiops import stack
    from aiops.cli import build_parser
    from aiops.commands.detect import build_settings

    told = build_settings(build_parser().parse_args(["detect", "--scrape-interval", "2s", "--infer-every", "1s"]))
    assert (told.scrape_interval_seconds, told.infer_every_seconds) == (2.0, 1.0)
    argv = stack.detector(port=1, prometheus_url="http://p", collector_url="http://c", scrape_interval_seconds=1.0).argv
    assert argv[argv.index("--scrape-interval") + 1] == "1s"


def test_build_service_reads_the_signals_file_it_is_given(tmp_path: Path) -> None:
    settings = DetectorSettings(infer_every_seconds=1.0)
    packaged = build_service(settings)
    assert packaged.signals == load_signals() and packaged.source.signals is packaged.signals
    fast = build_service(settings, signals_path=signals_file(tmp_path, "10s"))
    assert fast.signals.rate_window_seconds == 10.0 and fast.signals.completeness_window_seconds == 10.0
    assert fast.source.signals is fast.signals  # the queries sent to Prometheus are the file's
    assert fast.signals.spec("latency").promql.endswith("[10s])))")
    assert fast.signals.completeness_promql.endswith("[10s]))")
    broken = tmp_path / "broken.yaml"
    broken.write_text("signals:\n  requests:\n    promql: rate(x[$rate_window])\n", encoding="utf-8")
    with pytest.raises(SignalsError, match=r"broken\.yaml: .*'rate_window'"):
        build_service(settings, signals_path=broken)


def test_the_in_process_source_computes_rates_over_its_signal_sets_window(tmp_path: Path) -> None:
    """The emulator has one rate window: the signal set's (the packaged file's by default)."""
    fast = load_signals(signals_file(tmp_path, "30s"))
    start, end = NOW - 1800, NOW
    default = SimulatedSource(CATALOG, 3, lambda: []).fetch(start, end, 60)
    short = SimulatedSource(CATALOG, 3, lambda: [], signals=fast).fetch(start, end, 60)
    gauges = [c for c in default.columns if c[1] in ("cpu", "memory", "disk", "saturation")]
    rates = [c for c in default.columns if c[1] in ("requests", "errors", "latency")]
    pd.testing.assert_frame_equal(default[gauges], short[gauges])
    assert not np.allclose(default[rates].to_numpy(), short[rates].to_numpy(), equal_nan=True)
    settings = OfflineSettings(scrape_interval_seconds=5.0)
    assert settings.rate_window_for() == 120.0 and settings.rate_window_for(fast) == 30.0
    explicit = fleet_frame(CATALOG, 3, start_seconds=start, end_seconds=end, settings=OfflineSettings(scrape_interval_seconds=5.0, rate_window_seconds=30.0))
    given = fleet_frame(CATALOG, 3, start_seconds=start, end_seconds=end, settings=settings, signals=fast)
    pd.testing.assert_frame_equal(explicit, given)
    with pytest.raises(ValueError, match="two rate windows"):
        fleet_frame(CATALOG, 3, start_seconds=start, end_seconds=end, settings=OfflineSettings(rate_window_seconds=60.0), signals=fast)


def test_an_incident_is_kept_out_of_the_baselines_of_every_service_it_reaches() -> None:
    from model._fleet import neighbourhood

    assert set(neighbourhood(EDGES, "database")) == {"database", *CATALOG.upstream("database")}
    assert set(neighbourhood(EDGES, "checkout")) == {"checkout", "frontend", "payments", "inventory", "database"}
    assert neighbourhood(EDGES, "frontend")[0] == "frontend"


def test_an_outage_in_the_history_does_not_blind_its_callers_error_baselines() -> None:
    """A database outage a day ago also filled catalog's errors; left in, it widens catalog's band."""
    from sources._records import IncidentRecord

    past = sim.make_incident(CATALOG, id="p", kind="dependency_outage", service="database", duration_seconds=600, now=NOW - 86400)
    burst = sim.make_incident(CATALOG, id="b", kind="error_burst", service="catalog", duration_seconds=600, now=NOW - 120)
    service, _, clock = make(incidents=[past, burst])
    service.extra_records = [IncidentRecord(id="p", service="database", start_seconds=past.start_seconds, end_seconds=past.end_seconds)]
    clock.t = NOW - 200
    service.fit_cycle()
    clock.t = NOW
    service.infer_cycle()
    assert service.snapshot().series[("catalog", "errors")].anomaly


def test_after_a_scrape_gap_it_says_settling_while_the_newest_windows_are_incomplete() -> None:
    """Older complete rows are still scored, but health and readiness tell the truth about the newest ones."""
    from fastapi.testclient import TestClient

    from detector import create_app

    class AfterOutage(FlakySource):
        full = 120.0 / 15.0

        def samples_in_window(self, start, end, step):
            index = self.inner.fetch(start, end, step).index
            counts = pd.Series(self.full, index=index)
            counts.iloc[-3:] = self.full * 0.6  # the last windows span the outage: 60 % of their samples
            return counts

    service, _, clock = make()
    service.source = AfterOutage(service.source.inner)
    clock.t = NOW - 200
    service.fit_cycle()
    clock.t = NOW
    service.infer_cycle()
    health = service.health()
    assert health["status"] == "settling" and health["ready"] is False
    assert health["completeness_ratio"] == pytest.approx(0.6) and "scrape gap" in health["reason"]
    api = TestClient(create_app(service), base_url="http://127.0.0.1")
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").status_code == 503 and api.get("/readyz").json()["status"] == "settling"
    AfterOutage.samples_in_window = lambda self, start, end, step: pd.Series(self.full, index=self.inner.fetch(start, end, step).index)
    service.infer_cycle()
    assert service.health()["status"] == "ok" and api.get("/readyz").status_code == 200


def test_a_window_the_tail_of_a_gap_still_reaches_is_not_scored_though_its_count_passes() -> None:
    """After a gap the count climbs through min_ratio while the window still holds part of the gap (rate() reads low):
    a row is complete only once its count has passed for the last (1 - min_ratio) of a window too; a missed scrape here
    and there still passes."""

    class Climbing(FlakySource):
        tail: list[float] = []

        def samples_in_window(self, start, end, step):
            counts = pd.Series(120.0 / 15.0, index=self.inner.fetch(start, end, step).index)  # 8 samples: a full 2 m window at 15 s
            counts.iloc[len(counts) - len(self.tail):] = self.tail
            return counts

    service, _, clock = make()
    service.source = Climbing(service.source.inner)
    clock.t = NOW - 200
    service.fit_cycle()
    clock.t = NOW
    Climbing.tail = [0.0, 2.0, 5.0, 7.0, 8.0]  # the gap leaves the window: the newest row counts 8, the one before 7 (< 0.9 x 8)
    service.infer_cycle()
    # its completeness is reported by the same rule (the least count over that tail, 7 of 8), so a probe sees why
    assert service.health()["status"] == "settling" and service.health()["completeness_ratio"] == 7.0 / 8.0
    Climbing.tail = [8.0, 7.5, 8.0, 8.0, 7.5]  # scattered missed scrapes, each window above 0.9 x 8
    service.infer_cycle()
    assert service.health()["status"] == "ok"


def test_an_overrunning_cycle_backs_off_and_says_so_once_per_step(caplog: pytest.LogCaptureFixture) -> None:
    service, _, _ = make()
    with caplog.at_level("WARNING", logger="detector"):
        periods = [service.cycle_overran("infer") for _ in range(5)]
    assert periods == [30.0, 60.0, 120.0, None, None]  # doubled up to 8x the 15 s period, then left alone
    assert len([r for r in caplog.records if "took longer" in r.getMessage()]) == 3
    assert service.cycle_overran("fit") is None
    assert service.health()["infer_period_seconds"] == 120.0 and "120 s" in service.health()["overrun"]


class RecordingSource:
    """Wraps a source and records the start of every fetch."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.starts: list[float] = []

    def fetch(self, start, end, step):
        self.starts.append(start)
        return self.inner.fetch(start, end, step)


def test_a_cycle_reads_the_change_window_before_its_lookback_and_a_fresh_replica_scores_the_same() -> None:
    leak = sim.make_incident(CATALOG, id="1", kind="memory_leak", service="checkout", duration_seconds=1800, now=NOW - 900)
    service, _, clock = make(incidents=[leak])
    clock.t = NOW - 1000  # fit before the incident
    service.fit_cycle()
    model = service.model
    assert model is not None and model.signal_set_.change_history_seconds() == 600.0
    clock.t = NOW
    recorder = RecordingSource(service.source)
    service.source = recorder
    service.infer_cycle()
    assert recorder.starts == [NOW - 300.0 - 600.0]  # the lookback, and the change window before it
    # a fresh replica (a restart) serving the same fitted model scores the same rows the same way
    again, _, clock2 = make(incidents=[leak])
    again.model = model
    again.warmup_ratio = 1.0
    clock2.t = NOW
    again.infer_cycle()
    assert again.series.keys() == service.series.keys()
    for key, out in service.series.items():
        assert again.series[key].score == out.score and again.series[key].anomaly == out.anomaly
    flags = [a for a in service.recent_anomalies() if a["kind"] == "anomaly"]
    assert flags and all(a["component"] in ("point", "level shift", "noise change") for a in flags)
    assert [(a["service"], a["signal"], a["component"], a["anomaly_score"]) for a in again.recent_anomalies() if a["kind"] == "anomaly"] == [
        (a["service"], a["signal"], a["component"], a["anomaly_score"]) for a in flags
    ]


def test_a_first_fit_that_cannot_reach_prometheus_is_retried_within_seconds_not_a_minute() -> None:
    # the demo starts the detector just before Prometheus: its first fit may find nobody answering
    service, source, clock = make()
    source.down = True
    service.fit_cycle()
    assert service.model is None and service.runs["failure"] == 1
    source.down = False
    clock.t += 5
    service.infer_cycle()  # 5 s later: retried, fitted and scored
    assert service.model is not None and service.runs["success"] == 1


def test_a_first_fit_that_keeps_failing_backs_off_to_a_minute() -> None:
    service, source, clock = make()
    source.down = True
    attempts = []
    for _ in range(40):  # 10 minutes of 15 s cycles with Prometheus down
        before = service.runs["failure"]
        service.infer_cycle()
        if service.runs["failure"] > before:
            attempts.append(clock.t)
        clock.t += 15
    gaps = np.diff(attempts)
    assert gaps[0] == 15 and gaps.max() == 60 and (np.diff(gaps) >= 0).all()


def test_a_warming_up_fit_waits_a_minute_before_reading_again() -> None:
    service, source, clock = make(min_history=30 * 86400.0)
    service.infer_cycle()
    assert service.warmup_ratio < 1.0
    fetches = []
    source.fetch, inner = (lambda *a: fetches.append(a) or inner(*a)), source.fetch
    for _ in range(3):
        clock.t += 15
        service.infer_cycle()
    assert fetches == []  # 45 s later: not read again yet
    clock.t += 15
    service.infer_cycle()
    assert len(fetches) == 1
