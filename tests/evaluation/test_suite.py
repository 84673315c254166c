"""Labelled-scenario evaluation: the suite, the shared matching rules, no leaks, a quality floor."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from model._baselines import RollingZScore, StaticThreshold
from evaluation._promql import OfflineSettings, ground_truth_frame
from evaluation._suite import DAY_SECONDS, SuiteSettings, make_suite, plan_incidents
from model import debounce
from evaluation._runner import EvaluationSettings, evaluate_suite, known_at, make_detector, run_detector
from evaluation._matching import Flag, FlagGroup, group_flags, match, summarize
from model._correlate import Anomaly, Correlator
from simulator import Incident, load_catalog

CATALOG = load_catalog()
T0 = 1_767_571_200.0  # a midnight


def _inc(id: str, kind: str, service: str, start: float, duration: float = 300.0) -> Incident:
    return Incident(id=id, kind=kind, service=service, intensity=1.0, start_seconds=T0 + start, duration_seconds=duration)


DEPENDENCIES = [(d.caller, d.callee) for d in CATALOG.dependencies]


def _group(service: str, start: float, end: float | None = None, *, onset: bool = True) -> FlagGroup:
    """A one-service group whose latency flag starts at ``start`` (or was already on, ``onset=False``)."""
    flags = (Flag(T0 + start, service, "latency"),) if onset else ()
    end_seconds = T0 + (start if end is None else end)
    return FlagGroup(start_seconds=T0 + start, end_seconds=end_seconds, services=(service,), signals=("latency",), onsets=flags)


# ------------------------------------------------------------------ the suite plan
def test_plan_runs_every_kind_on_three_services_at_default_intensity_with_a_quiet_day() -> None:
    settings = SuiteSettings()
    records, eval_start, quiet = plan_incidents(CATALOG, 8, settings)
    ev = [i for i in records if i.start_seconds >= eval_start]
    assert {i.kind for i in records} == set(CATALOG.transient_kind_names)  # a permanent kind never ends: not a labelled incident
    for kind in CATALOG.transient_kind_names:
        of_kind = [i for i in ev if i.kind == kind]
        assert len({i.service for i in of_kind}) >= 3, kind
        assert all(i.intensity == CATALOG.kind(kind).intensity.default for i in of_kind)
    assert all(settings.min_duration_seconds <= i.duration_seconds <= settings.max_duration_seconds for i in ev)
    assert len(quiet) == 1
    day = lambda i: int((i.start_seconds - eval_start) // DAY_SECONDS)  # noqa: E731
    assert not [i for i in ev if day(i) in quiet]
    assert all(i.end_seconds <= eval_start + settings.days * DAY_SECONDS for i in ev)
    starts = sorted(i.start_seconds for i in ev)
    ends = sorted(i.end_seconds for i in ev)
    assert min(b - a for a, b in zip(ends[:-1], starts[1:])) >= 30 * 60  # spaced out
    history = [i for i in records if i.start_seconds < eval_start]
    assert len(history) >= 10 and all(i.end_seconds < eval_start for i in history)


def test_plan_is_fixed_by_the_seed() -> None:
    a = plan_incidents(CATALOG, 7, SuiteSettings())
    assert a == plan_incidents(CATALOG, 7, SuiteSettings())
    assert a[0] != plan_incidents(CATALOG, 9, SuiteSettings())[0]


# ------------------------------------------------------------------ debounce, grouping, matching
def test_debounce_needs_k_of_the_last_m_points() -> None:
    raw = np.array([1, 0, 1, 0, 0, 1, 1, 0], dtype=bool)
    assert debounce(raw, 2, 3).tolist() == [False, False, True, False, False, False, True, True]
    assert debounce(raw, 1, 1).tolist() == raw.tolist()


def _flags(columns: list[tuple[str, str]], rows: int = 40, step: float = 60.0) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(T0 + step * np.arange(rows), unit="s", utc=True), name="timestamp")
    cols = pd.MultiIndex.from_tuples(columns, names=["service", "signal"])
    return pd.DataFrame(False, index=index, columns=cols)


def _spans(groups: list[FlagGroup]) -> list[tuple[tuple[str, ...], float, float]]:
    return [(g.services, g.start_seconds - T0, g.end_seconds - T0) for g in groups]


def test_flags_on_services_joined_by_an_edge_and_close_in_time_form_one_group() -> None:
    # checkout -> payments is an edge; catalog and payments are not joined
    flags = _flags([("checkout", "latency"), ("checkout", "errors"), ("payments", "cpu"), ("catalog", "latency")])
    flags.iloc[[2, 3], 0] = True
    flags.iloc[[5], 2] = True  # payments 2 minutes after checkout's last flag: same group
    flags.iloc[[4], 3] = True  # catalog at the same time, but no edge to either: its own group
    flags.iloc[[7, 8], 1] = True  # checkout again 2 minutes after payments: still the same group
    flags.iloc[[20], 0] = True  # 12 minutes later: a new group
    kw = dict(join_window_seconds=180.0, close_after_seconds=180.0)
    groups = group_flags(flags, DEPENDENCIES, **kw)
    assert _spans(groups) == [
        (("checkout", "payments"), 120.0, 480.0),
        (("catalog",), 240.0, 240.0),
        (("checkout",), 1200.0, 1200.0),
    ]
    assert groups[0].signals == ("cpu", "errors", "latency")
    # the flags that start inside the group: latency at 2 min, cpu at 5, errors at 7 (latency at 3 continues a flag)
    assert [(f.timestamp_seconds - T0, f.service, f.signal) for f in groups[0].onsets] == [
        (120.0, "checkout", "latency"),
        (300.0, "payments", "cpu"),
        (420.0, "checkout", "errors"),
    ]
    # without the graph, or with a join window shorter than the gaps, the same flags split up
    assert len(group_flags(flags, [], **kw)) == 5
    assert len(group_flags(flags, DEPENDENCIES, join_window_seconds=60.0, close_after_seconds=60.0)) == 5


def test_a_flag_that_bridges_two_groups_merges_them() -> None:
    # payments and inventory are not joined, checkout calls both
    flags = _flags([("payments", "cpu"), ("inventory", "cpu"), ("checkout", "latency")])
    flags.iloc[[2], 0] = True
    flags.iloc[[3], 1] = True
    flags.iloc[[4], 2] = True
    groups = group_flags(flags, DEPENDENCIES, join_window_seconds=180.0, close_after_seconds=180.0)
    assert _spans(groups) == [(("checkout", "inventory", "payments"), 120.0, 240.0)]


def test_a_group_closed_after_a_quiet_period_takes_no_new_flags() -> None:
    # with a join window longer than the quiet period, only the closing keeps the flags apart
    flags = _flags([("checkout", "latency")])
    flags.iloc[[2, 7], 0] = True  # 5 minutes apart
    kw = dict(join_window_seconds=600.0)
    assert len(group_flags(flags, DEPENDENCIES, close_after_seconds=180.0, **kw)) == 2
    assert len(group_flags(flags, DEPENDENCIES, close_after_seconds=300.0, **kw)) == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("windows", [(180.0, 180.0), (120.0, 300.0), (600.0, 180.0)])
def test_grouping_is_the_detector_services_correlator_fed_cycle_by_cycle(seed: int, windows: tuple[float, float]) -> None:
    join, close = windows
    rng = np.random.default_rng(seed)
    columns = [(s, sig) for s in CATALOG.service_names for sig in ("latency", "cpu")]
    flags = _flags(columns, rows=400)
    flags[:] = rng.random(flags.shape) < 0.03
    groups = group_flags(flags, DEPENDENCIES, join_window_seconds=join, close_after_seconds=close)

    correlator = Correlator(DEPENDENCIES, join_window_seconds=join, close_after_seconds=close, keep_closed=10_000)
    t = flags.index.as_unit("ns").asi8 / 1e9
    for row, now in zip(flags.to_numpy(), t):
        flagged = [Anomaly(timestamp_seconds=float(now), service=s, signal=sig, score=1.0) for (s, sig), f in zip(columns, row) if f]
        correlator.update(float(now), flagged)
    expected = sorted((i.opened_seconds, i.last_seen_seconds, tuple(sorted(i.services))) for i in correlator.incidents)
    assert sorted((g.start_seconds, g.end_seconds, g.services) for g in groups) == expected
    assert len(expected) > 10 and any(len(g.services) > 1 for g in groups)


def test_a_flag_on_the_service_detects_it_and_sets_the_time_to_detect() -> None:
    inc = _inc("a", "cpu_hog", "payments", start=1000)
    m = match([_group("payments", 1090, 1400), _group("payments", 1150)], [inc], CATALOG)
    assert m.detected == {"a": 90.0}
    assert m.false_alarms == ()  # the second group also matches the incident


def test_a_flag_on_a_direct_caller_detects_it() -> None:
    inc = _inc("a", "dependency_outage", "payments", start=1000)
    assert CATALOG.callers("payments") == ("checkout",)
    m = match([_group("checkout", 1060)], [inc], CATALOG)
    assert m.detected == {"a": 60.0} and m.false_alarms == ()


def test_a_group_further_up_alone_is_a_false_alarm_counted_as_an_echo() -> None:
    inc = _inc("a", "dependency_outage", "payments", start=1000)
    m = match([_group("frontend", 1060)], [inc], CATALOG)  # frontend -> checkout -> payments
    assert m.detected == {} and len(m.false_alarms) == 1 and m.echoes == m.false_alarms
    # a kind that does not spread has no echoes: the same flag is a false alarm and no echo
    leak = _inc("b", "memory_leak", "payments", start=1000)
    m = match([_group("frontend", 1060)], [leak], CATALOG)
    assert len(m.false_alarms) == 1 and m.echoes == ()


def test_a_group_with_a_flag_on_the_service_matches_with_its_flags_further_up() -> None:
    inc = _inc("a", "dependency_outage", "payments", start=1000)
    group = FlagGroup(
        start_seconds=T0 + 1060,
        end_seconds=T0 + 1300,
        services=("frontend", "payments"),
        signals=("latency",),
        onsets=(Flag(T0 + 1060, "frontend", "latency"), Flag(T0 + 1120, "payments", "latency")),
    )
    m = match([group], [inc], CATALOG)
    assert m.detected == {"a": 120.0}  # the first flag on the service or a direct caller, not the group's start
    assert m.false_alarms == () and m.echoes == ()


def test_a_flag_already_on_before_the_incident_does_not_detect_it() -> None:
    inc = _inc("a", "cpu_hog", "payments", start=900)  # minute 15 to 20
    flags = _flags([("payments", "cpu"), ("payments", "latency")])
    flags.iloc[10:26, 0] = True  # cpu flagged from minute 10, through the incident
    groups = group_flags(flags, DEPENDENCIES, join_window_seconds=180.0, close_after_seconds=180.0)
    m = match(groups, [inc], CATALOG)
    assert m.detected == {} and len(m.false_alarms) == 1
    flags.iloc[17:20, 1] = True  # a latency flag starting inside the incident: detected, in the same group
    groups = group_flags(flags, DEPENDENCIES, join_window_seconds=180.0, close_after_seconds=180.0)
    m = match(groups, [inc], CATALOG)
    assert len(groups) == 1 and m.detected == {"a": 120.0} and m.false_alarms == ()


def test_flags_outside_start_to_end_plus_two_minutes_do_not_match() -> None:
    inc = _inc("a", "error_burst", "checkout", start=1000, duration=300)  # ends at 1300
    edge = match([_group("checkout", 1300 + 120)], [inc], CATALOG, grace_seconds=120)
    assert edge.detected == {"a": 420.0}
    late = match([_group("checkout", 1300 + 121)], [inc], CATALOG, grace_seconds=120)
    assert late.detected == {} and len(late.false_alarms) == 1
    early = match([_group("checkout", 940, 1200)], [inc], CATALOG)  # started before the incident
    assert early.detected == {} and len(early.false_alarms) == 1
    elsewhere = match([_group("database", 1100)], [inc], CATALOG)  # a callee is not a caller
    assert elsewhere.detected == {} and len(elsewhere.false_alarms) == 1


def test_summary_counts_events() -> None:
    incs = [
        _inc("a", "cpu_hog", "payments", start=1000),
        _inc("b", "cpu_hog", "inventory", start=5000),
        _inc("c", "disk_fill", "catalog", start=9000),
    ]
    groups = [_group("payments", 1060), _group("catalog", 9180), _group("database", 20000), _group("catalog", 30000)]
    m = match(groups, incs, CATALOG)
    s = summarize(m, incs, CATALOG.kind_names, days=2)
    assert (s["detected"], s["false_alarms"]) == (2, 2)
    assert s["precision"] == pytest.approx(2 / 4, abs=1e-4) and s["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3), abs=1e-4)
    assert s["false_alarms_per_day"] == 1.0
    assert s["median_time_to_detect_seconds"] == pytest.approx(120.0)
    assert s["recall_by_kind"]["cpu_hog"] == 0.5 and s["recall_by_kind"]["disk_fill"] == 1.0
    assert s["recall_by_kind"]["memory_leak"] is None


def test_the_incident_log_at_fit_time_holds_only_ended_incidents() -> None:
    ended = _inc("e", "cpu_hog", "payments", start=600, duration=300)
    running = _inc("r", "cpu_hog", "payments", start=3000, duration=6000)
    future = _inc("f", "cpu_hog", "payments", start=90000)
    assert known_at([ended, running, future], T0 + 4000) == (ended,)
    assert known_at([ended, running, future], T0 + 900) == (ended,)  # ended exactly at fit time
    assert known_at([ended, running, future], T0 + 899) == ()


# ------------------------------------------------------------------ the simple detectors
def _frame(values: np.ndarray, step: float = 60.0) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(T0 + step * np.arange(len(values)), unit="s", utc=True), name="timestamp")
    return pd.DataFrame({("a", "cpu"): values}).set_axis(index).rename_axis(columns=["service", "signal"])


def test_static_threshold_is_the_training_quantile_above_only() -> None:
    train = _frame(np.arange(1000, dtype=float))
    model = StaticThreshold(quantile=0.995).fit(train)
    assert model.threshold_.iloc[0] == pytest.approx(np.quantile(np.arange(1000.0), 0.995))
    scores = model.score(_frame(np.array([0.0, 994.0, 2000.0]))).iloc[:, 0].to_numpy()
    assert scores[0] == 0.0 and scores[1] < 1.0 <= scores[2]


def test_zscore_uses_only_the_previous_hour() -> None:
    rng = np.random.default_rng(0)
    values = 10.0 + rng.normal(0, 1, 200)
    values[150] = 30.0
    scores = RollingZScore().score(_frame(values)).iloc[:, 0].to_numpy()
    assert np.isnan(scores[:30]).all()  # under half an hour of history
    assert scores[150] > 3.0
    others = np.delete(scores, 150)[30:]
    assert np.mean(others >= 1.0) < 0.05  # Gaussian noise: |z| > 3 is rare
    window = values[90:150]
    assert scores[150] == pytest.approx(abs(30.0 - window.mean()) / (3 * window.std()))


# ------------------------------------------------------------------ end to end on a short suite
SHORT = SuiteSettings(days=2, history_days=8, offline=OfflineSettings(scrape_interval_seconds=15.0))


@pytest.fixture(scope="module")
def short_suite():
    return make_suite(CATALOG, 11, SHORT)


def _with_ground_truth(suite) -> pd.DataFrame:
    truth = ground_truth_frame(suite.catalog, suite.incidents, suite.frame.index)
    truth.columns = pd.MultiIndex.from_tuples(
        [(service, f"aiops_incident_active:{kind}") for kind, service in truth.columns], names=["service", "signal"]
    )
    return pd.concat([suite.frame, truth], axis=1)


@pytest.mark.parametrize("name", ["static", "zscore", "linear"])  # linear_no_context shares linear's code path
def test_flags_do_not_depend_on_ground_truth_or_future_records(short_suite, name: str) -> None:
    factory = lambda: make_detector(name, CATALOG)  # noqa: E731
    settings = EvaluationSettings()
    _, flags = run_detector(factory, short_suite, settings)
    assert flags.to_numpy().any()
    # aiops_incident_active beside the signals in the frame, and in the log an incident still
    # running at every fit (from the second history day on, for 30 days) that no ops team could
    # have closed yet: the same flags. (Were that record leaked into the fits, it would take a
    # quarter of the training points out of each and move the flags.)
    ghost = dataclasses.replace(
        short_suite.incidents[0], id="ghost", start_seconds=short_suite.history_start_seconds + DAY_SECONDS, duration_seconds=30 * DAY_SECONDS
    )
    _, leaky = run_detector(factory, short_suite, settings, frame=_with_ground_truth(short_suite), records=[*short_suite.incidents, ghost])
    pd.testing.assert_frame_equal(leaky[flags.columns], flags)
    # Without the evaluation's own incidents in the log, the first day (fitted before any of them) is unchanged.
    history_only = [i for i in short_suite.incidents if i.end_seconds <= short_suite.eval_start_seconds]
    _, without = run_detector(factory, short_suite, settings, records=history_only)
    first_day = flags.index < pd.Timestamp(short_suite.eval_start_seconds + DAY_SECONDS, unit="s", tz="UTC")
    pd.testing.assert_frame_equal(without[first_day], flags[first_day])


def test_every_fit_sees_only_the_past_and_the_ended_incidents(short_suite) -> None:
    seen: list[tuple[float, float, tuple[float, ...], bool]] = []

    class Spy:
        def fit(self, frame, *, incidents=(), flagged=None, fit_time=None):
            last = frame.index[-1].timestamp()
            seen.append((fit_time, last, tuple(i.end_seconds for i in incidents), flagged is not None))
            return self

        def score(self, frame):
            return pd.DataFrame(0.0, index=frame.index, columns=frame.columns)

    scores, flags = run_detector(Spy, short_suite, EvaluationSettings())
    assert [s[0] for s in seen] == [short_suite.eval_start_seconds + d * DAY_SECONDS for d in range(short_suite.days)]
    for fit_time, last, ends, _ in seen:
        assert last < fit_time and all(end <= fit_time for end in ends)
    assert [s[3] for s in seen] == [False] + [True] * (short_suite.days - 1)  # its own earlier flags
    assert len(scores) == short_suite.days * 1440 and not flags.to_numpy().any()


@pytest.fixture(scope="module")
def short_report(short_suite) -> dict:
    return evaluate_suite(short_suite, ("zscore", "linear"))


def test_linear_clears_a_quality_floor_on_a_short_suite(short_report) -> None:
    report = short_report
    linear, zscore = report["detectors"]["linear"], report["detectors"]["zscore"]
    print(report)
    assert report["incidents"] == 21
    assert report["settings"]["join_window_seconds"] == 180.0  # the correlator's grouping, as the service uses it
    assert linear["f1"] >= 0.9
    assert linear["f1"] > zscore["f1"]
    assert linear["false_alarms_per_day"] <= 2.0


def test_markdown_report_has_a_row_per_detector_and_kind_columns(short_report) -> None:
    from aiops.commands.evaluate_fleet import render_markdown

    text = render_markdown(short_report)
    rows = [line for line in text.splitlines() if line.startswith("| zscore |") or line.startswith("| linear |")]
    assert len(rows) == 4  # headline table and per-kind table
    assert all(k in text for k in CATALOG.transient_kind_names) and "bad_release" not in text  # the kinds the suite plays
    assert f"Seed {short_report['seed']}" in text


def test_cli_rejects_bad_arguments_in_one_line(capsys) -> None:
    from aiops.cli import main

    assert main(["evaluate", "fleet", "--detectors", "prophet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown detector prophet" in err[0] and "linear_no_context" in err[0]
    assert main(["evaluate", "fleet", "--days", "1"]) == 2
    assert main(["evaluate", "fleet", "--scrape-interval", "7"]) == 2
