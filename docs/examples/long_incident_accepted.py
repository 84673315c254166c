"""The online loop's price for accepting change: a long incident becomes the new normal. Quoted in docs/aiops-vs-mlops.md.

    .venv/bin/python docs/examples/long_incident_accepted.py

The detector service with the demo's defaults (`DetectorSettings()`: refit every 10 minutes,
re-baseline horizon 15 minutes) over seed 0's 8 days of history at 60 s, as the demo backfills
it, then a 40-minute CPU hog on checkout that nobody stops; the injected clock steps 2 minutes
per inference cycle, each cycle scoring every 5 s point since the last, as
tests/detector/test_drift.py does. Prints when checkout CPU was flagged, accepted and withdrawn.
About 30 s on two busy cores.
"""

from __future__ import annotations

import pandas as pd

import simulator as sim
from detector import DetectorService, DetectorSettings
from evaluation import OfflineSettings, SimulatedSource, fleet_frame
from model import as_epoch_seconds

CATALOG = sim.load_catalog()
EDGES = [(d.caller, d.callee) for d in CATALOG.dependencies]
T0 = 1_767_355_200.0  # 2026-01-02 12:00 UTC
STEP = 60.0
KEY = ("checkout", "cpu")


class DemoHistory:
    """Prometheus as the demo fills it: the backfilled 60 s history for fits, the live fleet at 5 s for inference."""

    def __init__(self, incidents, first: float, last: float) -> None:
        self.first = first
        self.history = fleet_frame(CATALOG, 0, start_seconds=first, end_seconds=last, incidents=incidents,
                                   settings=OfflineSettings(step_seconds=STEP, scrape_interval_seconds=STEP))  # fmt: skip
        self.live = SimulatedSource(CATALOG, 0, lambda: incidents)

    def fetch(self, start: float, end: float, step: float) -> pd.DataFrame:
        if step == STEP:
            t = as_epoch_seconds(self.history.index)
            return self.history.loc[(t >= start) & (t <= end)]
        return self.live.fetch(max(start, self.first), end, step)


def main() -> None:
    settings = DetectorSettings()
    hog = sim.make_incident(CATALOG, id="1", kind="cpu_hog", service="checkout", duration_seconds=2400, delay_seconds=60, now=T0)
    end = hog.end_seconds + 900.0
    source = DemoHistory([hog], T0 - 8 * 86400.0, end + STEP)
    clock = [T0]
    service = DetectorService(settings, source=source, dependencies=EDGES, clock=lambda: clock[0], infer_every_seconds=5.0)
    service.fit_cycle()
    last_fit = clock[0]
    flagged: dict[float, bool] = {}
    seen: dict[tuple, dict] = {}
    while clock[0] < end:
        clock[0] += 120.0
        if clock[0] - last_fit >= settings.fit_every_seconds:
            service.fit_cycle()
            last_fit = clock[0]
        service.infer_cycle()
        flagged[clock[0]] = bool(service.series[KEY].anomaly)
        for a in service.recent_anomalies(500):
            seen.setdefault((a["kind"], a["timestamp_seconds"], a["service"], a["signal"]), a)
    start = hog.start_seconds
    print(f"cpu_hog on checkout (intensity {hog.intensity:g}) from +0 s to +{hog.duration_seconds:.0f} s; horizon {settings.rebaseline_after_seconds:.0f} s")
    for a in sorted(seen.values(), key=lambda a: a["timestamp_seconds"]):
        if (a["service"], a["signal"]) != KEY or (a["kind"] == "anomaly" and not a.get("onset")):
            continue
        print(f"  +{a['timestamp_seconds'] - start:5.0f} s  {a['kind']:<21} {a['explanation']}")
    during = [v for t, v in flagged.items() if start < t <= hog.end_seconds]
    print(f"cycles during the hog with checkout CPU flagged: {sum(during)} of {len(during)}")


if __name__ == "__main__":
    main()
