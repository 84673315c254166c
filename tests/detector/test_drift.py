"""The drift lesson offline, with the demo's defaults: a release that makes payments slower for good.

The online loop (the demo's detector settings: the defaults of ``DetectorSettings``) flags
it, then accepts it as the new normal within its re-baseline horizon and goes quiet; a
frozen model fitted before the release (the champion) keeps flagging; a model fitted on
history after the release (as ``aiops train`` fits on its ``history_days``) is quiet too.

The history is what the demo backfills (8 days at a 60 s step, scraped at that step, the
incident acting on the fleet), computed in process; the live 5 s queries are the simulated
fleet through the same PromQL emulation. The clock is injected and steps a minute at a time
(each inference cycle scores every 5 s point since the last one), the refit runs every
``fit_every_seconds`` as scheduled.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import simulator as sim
from detector._service import DetectorService
from detector._settings import DetectorSettings
from evaluation import OfflineSettings, SimulatedSource, fleet_frame
from model import REBASELINE_TERM, FleetModel, as_epoch_seconds

CATALOG = sim.load_catalog()
EDGES = [(d.caller, d.callee) for d in CATALOG.dependencies]
SEED = 0
T0 = 1_767_355_200.0  # the demo's detector starts (2026-01-02 12:00 UTC)
HISTORY_DAYS = 8.0  # the demo's default --history-days
STEP = 60.0  # the demo's --history-step and the detector's fit step
KEY = ("payments", "latency")


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class DemoHistory:
    """Prometheus as the demo fills it: backfilled 60 s history (from ``first``) for the fit's 60 s queries, the live fleet for the rest."""

    def __init__(self, incidents, first: float, last: float) -> None:
        self.first = first
        self.history = fleet_frame(
            CATALOG, SEED, start_seconds=first, end_seconds=last,
            incidents=incidents, settings=OfflineSettings(step_seconds=STEP, scrape_interval_seconds=STEP),
        )  # fmt: skip
        self.live = SimulatedSource(CATALOG, SEED, lambda: incidents)

    def fetch(self, start: float, end: float, step: float) -> pd.DataFrame:
        if step == STEP:
            t = as_epoch_seconds(self.history.index)
            return self.history.loc[(t >= start) & (t <= end)]
        return self.live.fetch(max(start, self.first), end, step)


def test_the_online_loop_accepts_a_lasting_release_the_frozen_champion_does_not_and_a_retrained_one_does() -> None:
    started = time.perf_counter()
    settings = DetectorSettings()  # the demo's: fit every 10 min on up to 14 days at 60 s, 2 days needed, 5-minute lookback
    horizon = settings.rebaseline_after_seconds
    assert horizon == 900.0 and settings.fit_every_seconds == 600.0
    release_at = T0 + 60.0  # scenarios/drift.yaml: 1 minute in
    step = sim.load_scenario("scenarios/drift.yaml", CATALOG).steps[0]
    assert (step.kind, step.service, step.at_seconds) == ("bad_release", "payments", 60.0)
    release = sim.make_incident(CATALOG, id="1", kind=step.kind, service=step.service, delay_seconds=step.at_seconds, now=T0)
    end = release_at + horizon + 20 * 60.0  # 35 minutes of the release
    source = DemoHistory([release], T0 - HISTORY_DAYS * 86400.0, end + STEP)
    clock = Clock(T0)
    service = DetectorService(settings, source=source, dependencies=EDGES, clock=clock, infer_every_seconds=5.0)
    assert service.rebaseliner is not None

    service.fit_cycle()
    champion = service.model  # fitted before the release, then frozen: the champion
    assert champion is not None
    last_fit = clock.t
    flagged_at: dict[float, bool] = {}
    seen: dict[tuple, dict] = {}  # every /api/anomalies entry (the service keeps the last 500)
    while clock.t < end:
        clock.t += 120.0  # every 5 s point since the last cycle is scored (the lookback is 5 minutes)
        if clock.t - last_fit >= settings.fit_every_seconds:
            service.fit_cycle()
            last_fit = clock.t
        service.infer_cycle()
        flagged_at[clock.t] = bool(service.series[KEY].anomaly)
        for a in service.recent_anomalies(500):
            seen.setdefault((a["kind"], a["timestamp_seconds"], a["service"], a["signal"]), a)
    loop_seconds = time.perf_counter() - started

    entries = sorted(seen.values(), key=lambda a: a["timestamp_seconds"])
    flags = [a for a in entries if a["kind"] == "anomaly" and (a["service"], a["signal"]) == KEY]
    rebaselines = [a for a in entries if a["kind"] == "rebaseline" and (a["service"], a["signal"]) == KEY]
    # 1. the online loop flags the release within a couple of minutes
    assert flags and flags[0]["timestamp_seconds"] - release_at <= 180.0
    # 2. then accepts it once, within the horizon (plus the debounce and a cycle), and says so with the numbers
    assert len(rebaselines) == 1, rebaselines
    rb = rebaselines[0]
    assert rb["since_seconds"] == flags[0]["timestamp_seconds"]
    assert horizon <= rb["lasted_seconds"] <= horizon + 60.0
    accepted_after = rb["timestamp_seconds"] - release_at
    assert accepted_after <= horizon + 180.0
    assert rb["offset"] > 0 and "accepted as the new normal" in rb["explanation"] and "payments p95 latency" in rb["explanation"]
    assert service.snapshot().rebaselines_total == {key: 1 for key in service.rebaseliner.counts} and service.rebaseliner.counts[KEY] == 1
    # 3. and stops flagging: no flag on payments latency in any cycle after the one that accepted it, refits included
    accepting_cycle = min(t for t in flagged_at if t >= rb["timestamp_seconds"])
    assert not [a for a in flags if a["timestamp_seconds"] > accepting_cycle]
    assert not any(v for t, v in flagged_at.items() if t > accepting_cycle)
    assert service.last_fit_seconds is not None and service.last_fit_seconds > rb["timestamp_seconds"]  # a refit after it
    assert KEY in service.model.level_offsets_  # the refit kept the accepted level

    # the explanation of a point after the acceptance shows the re-baseline term, and the parts still add up
    late = source.live.fetch(end - 300.0, end, 5.0)
    marks = pd.DataFrame(False, index=late.index, columns=late.columns)
    marks.loc[:, KEY] = True
    explained = service.model.explain(late, marks)
    offset_terms = explained.terms[explained.terms["term"] == REBASELINE_TERM]
    assert len(offset_terms) == len(explained.summary) and (offset_terms["contribution"] > 0).all()
    total = explained.terms.groupby("point")["contribution"].sum().to_numpy()
    np.testing.assert_allclose(explained.summary["baseline"] + total, explained.summary["expected"], rtol=1e-9)
    assert "+ re-baseline +" in explained.sentences[-1]

    # 4. the frozen champion keeps flagging the same minutes
    champion_flags = champion.flags(late)[KEY]
    assert champion_flags.mean() >= 0.95  # the first point of a window sees a shorter debounce
    assert not service.model.flags(late)[KEY].any()

    # 5. a model fitted on history after the release (aiops train's 8 days of history, all after it) is quiet too.
    # The release stays for good: over days its effect outlasts the 2 h the live API allows an incident.
    for_good = sim.Incident(id="1", kind="bad_release", service="payments", intensity=release.intensity,
                            start_seconds=release_at, duration_seconds=30 * 86400.0)  # fmt: skip
    days = fleet_frame(
        CATALOG, SEED, start_seconds=release_at + 3600.0, end_seconds=release_at + 3600.0 + (HISTORY_DAYS + 1) * 86400.0,
        incidents=[for_good], settings=OfflineSettings(step_seconds=STEP, scrape_interval_seconds=STEP),
    )  # fmt: skip
    cut = days.index[0] + pd.Timedelta(days=HISTORY_DAYS)
    retrained = FleetModel(dependencies=EDGES).fit(days[days.index < cut])
    next_day = days[days.index >= cut]
    retrained_share = float(retrained.flags(next_day)[KEY].mean())
    champion_next_day = float(champion.flags(next_day)[KEY].mean())
    assert retrained_share <= 0.01 and champion_next_day >= 0.9
    print(
        f"\nonline: first flag {flags[0]['timestamp_seconds'] - release_at:.0f} s after the release, accepted "
        f"{accepted_after:.0f} s after it (offset {rb['offset'] * 1000:+.1f} ms), quiet since; champion flags "
        f"{champion_flags.mean():.0%} of the last 5 minutes and {champion_next_day:.0%} of the day after 8 days; "
        f"retrained on those 8 days: {retrained_share:.1%}; online loop {loop_seconds:.1f} s, whole test {time.perf_counter() - started:.1f} s"
    )
    print(rb["explanation"])
    print(explained.sentences[-1])


def test_an_accepted_incident_that_ends_is_withdrawn_and_the_next_one_is_flagged_again() -> None:
    settings = DetectorSettings(rebaseline_after_seconds=300.0)  # a short horizon, so a 10-minute CPU hog is accepted
    first = sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="checkout", duration_seconds=600, delay_seconds=60, now=T0)
    second = sim.make_incident(CATALOG, id="2", kind="cpu_hog", service="checkout", duration_seconds=300, delay_seconds=1260, now=T0)
    end = second.end_seconds
    source = DemoHistory([first, second], T0 - HISTORY_DAYS * 86400.0, end + STEP)
    clock = Clock(T0)
    service = DetectorService(settings, source=source, dependencies=EDGES, clock=clock, infer_every_seconds=5.0)
    service.fit_cycle()
    last_fit = clock.t
    seen: dict[tuple, dict] = {}
    while clock.t < end:
        clock.t += 120.0
        if clock.t - last_fit >= settings.fit_every_seconds:
            service.fit_cycle()
            last_fit = clock.t
        service.infer_cycle()
        for a in service.recent_anomalies(500):
            seen.setdefault((a["kind"], a["timestamp_seconds"], a["service"], a["signal"]), a)
    cpu = [a for a in sorted(seen.values(), key=lambda a: a["timestamp_seconds"]) if (a["service"], a["signal"]) == ("checkout", "cpu")]
    accepted = [a for a in cpu if a["kind"] == "rebaseline"]
    withdrawn = [a for a in cpu if a["kind"] == "rebaseline_withdrawn"]
    assert len(accepted) == 1 and first.start_seconds + 300.0 <= accepted[0]["timestamp_seconds"] < first.end_seconds
    assert len(withdrawn) == 1 and first.end_seconds < withdrawn[0]["timestamp_seconds"] <= first.end_seconds + 360.0
    assert "back near its old baseline" in withdrawn[0]["explanation"]
    again = [a for a in cpu if a["kind"] == "anomaly" and a["timestamp_seconds"] >= second.start_seconds]
    assert again and again[0]["timestamp_seconds"] - second.start_seconds <= 180.0  # not deaf: the next hog is flagged
    assert ("checkout", "cpu") not in service.model.level_offsets_
