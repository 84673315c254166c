"""When does a retrained champion stop flagging a lasting change? Quoted in docs/aiops-vs-mlops.md.

    .venv/bin/python docs/examples/retrain_after_release.py

`aiops train` fits its candidates at the start of its evaluation window (the most recent
`--eval-days`) on the `train_days` before it (7 in the default grid), and registers that fit.
This replays that on seed 0's fleet, computed as Prometheus computes the signals' PromQL at a
60 s step, with a bad release on payments (latency x 2, for good): for a retrain some time
after the release, it fits the signals file's model as the pipeline does (the release is still
running, so no labelled incident is left out) and reports the share of the next day's points
on which payments' p95 latency is flagged. About 20 s on two busy cores.
"""

from __future__ import annotations

import pandas as pd

import simulator as sim
from evaluation import OfflineSettings, fleet_frame
from model import FleetModel

CATALOG = sim.load_catalog()
EDGES = [(d.caller, d.callee) for d in CATALOG.dependencies]
DAY = 86_400.0
RELEASE = 1_767_355_260.0  # 2026-01-02 12:01 UTC
KEY = ("payments", "latency")
TRAIN_DAYS = 7.0  # the default grid's train_days


def main() -> None:
    release = sim.Incident(id="1", kind="bad_release", service="payments", intensity=1.0,
                           start_seconds=RELEASE, duration_seconds=60 * DAY)  # fmt: skip
    start, end = RELEASE - 10 * DAY, RELEASE + 12 * DAY
    frame = fleet_frame(CATALOG, 0, start_seconds=start, end_seconds=end, incidents=[release],
                        settings=OfflineSettings(step_seconds=60.0, scrape_interval_seconds=60.0))  # fmt: skip
    frame = frame.loc[:, [("payments", "requests"), ("payments", "latency")]]
    t = frame.index.as_unit("ns").asi8 / 1e9

    def retrain(fit_at: float, score_from: float) -> tuple[float, str]:
        """Fit as the pipeline does at ``fit_at``; the next day's flagged share from ``score_from``, and the fit's band."""
        train = frame[(t >= fit_at - TRAIN_DAYS * DAY) & (t < fit_at)]
        model = FleetModel(dependencies=EDGES).fit(train, fit_time=fit_at)
        after = (t >= score_from - 600.0) & (t < score_from + DAY)
        flags = model.flags(frame[after])[KEY]
        shared = float(flags[flags.index >= pd.Timestamp(score_from, unit="s", tz="UTC")].mean())
        m = model.models_["latency"]
        k = m.feature_names_.index("requests")
        baseline = m.intercept_[0] + m.coef_[0, k] * m.context_mean_[0, 0]
        band = m.scale_[0] * m.threshold_[0]
        return shared, f"baseline {baseline * 1000:.0f} ms, band +{band * 1000:.0f} ms, {m.coef_[0, k] * 1000:.0f} ms per req/s"

    frozen, how = retrain(RELEASE, RELEASE + 3600.0)
    print(f"frozen champion fitted just before the release: flags {frozen:.0%} of the next day ({how})")
    print("retrained at release + N days, fitted at the evaluation start on the 7 days before it;")
    print("share of the following day's points flagged on payments p95 latency, and the fitted model:")
    for eval_days, name in ((2.0, "--eval-days 2 (the default)"), (0.75, "--eval-days 0.75 (aiops demo --mlops)")):
        print(name)
        for n in (0.01, 1, 2, 3, 5, 6, 7, 8, 9):
            now = RELEASE + n * DAY
            fit_at = now - eval_days * DAY
            inside = max(0.0, min(TRAIN_DAYS, (fit_at - RELEASE) / DAY))
            shared, how = retrain(fit_at, now)
            print(f"  N {n:>4g} d: release in {inside:4.2f} of the 7 training days: flags {shared:4.0%}   ({how})")


if __name__ == "__main__":
    main()
