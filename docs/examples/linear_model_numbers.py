"""The numbers quoted in docs/interpretable-linear-models.md, from the kit's own model.

    .venv/bin/python docs/examples/linear_model_numbers.py

Seeded and offline (about 15 s on two busy cores): 8 days of seed 0's fleet at a 60 s step
(what `aiops demo` backfills), computed as Prometheus computes the signals' PromQL; a
latency regression on payments (the catalog's default intensity, 5 minutes) right after;
the kit's FleetModel fitted on the 8 days and asked to explain its flags. Then the same
flag under other fits: the request rate in another unit, a stronger ridge, no context.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import simulator as sim
from evaluation import OfflineSettings, fleet_frame
from model import FleetModel, load_signals
from model._explain import format_value

CATALOG = sim.load_catalog()
EDGES = [(d.caller, d.callee) for d in CATALOG.dependencies]
SEED = 0
T0 = 1_767_355_200.0  # 2026-01-02 12:00 UTC, a Friday, when the history ends
DAY = 86_400.0
SERVICE = "payments"
OFFLINE = OfflineSettings(step_seconds=60.0, scrape_interval_seconds=60.0)


def ms(v: float) -> str:
    return format_value(v, "seconds", signed=False)


def terms_of(model: FleetModel, frame: pd.DataFrame, at: pd.Timestamp) -> tuple[pd.Series, pd.DataFrame]:
    """The summary row and the term rows of payments latency at ``at`` (explained whether flagged or not)."""
    marks = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    marks.loc[at, (SERVICE, "latency")] = True
    ex = model.explain(frame, marks)
    return ex.summary.iloc[0], ex.terms[ex.terms["point"] == 0]


def main() -> None:
    incident = sim.make_incident(CATALOG, id="1", kind="latency_regression", service=SERVICE,
                                 duration_seconds=300, delay_seconds=600, now=T0)  # fmt: skip
    frame = fleet_frame(CATALOG, SEED, start_seconds=T0 - 8 * DAY, end_seconds=T0 + 1800.0,
                        incidents=[incident], settings=OFFLINE)  # fmt: skip
    t = frame.index.as_unit("ns").asi8 / 1e9
    history, live = frame[t < T0], frame[t >= T0 - 600.0]

    model = FleetModel(dependencies=EDGES).fit(history)
    lat = model.models_["latency"]
    i = model.services_["latency"].index(SERVICE)
    print("== the fitted latency model of payments ==")
    print("features:", ", ".join(lat.feature_names_))
    k = lat.feature_names_.index("requests")
    print(f"coefficient of the request rate: {lat.coef_[i, k]:.6f} s per req/s = {lat.coef_[i, k] * 1000:.2f} ms per req/s")
    print(f"training mean of the request rate: {lat.context_mean_[i, 0]:.2f} req/s; intercept_ (raw units) {ms(lat.intercept_[i])}")
    print(f"robust sigma {ms(lat.scale_[i])}, calibrated threshold {lat.threshold_[i]:.2f} sigma")
    entry = model.to_dict()["models"]["latency"]["series"][SERVICE]
    print("saved JSON, models.latency.series.payments:", {k2: entry[k2] for k2 in ("intercept", "context_mean", "sigma", "threshold")})
    print("  coefficients.requests:", entry["coefficients"]["requests"])

    # How much of the request rate the time of day and day of week already explain (the collinearity).
    req = model.models_["requests"]
    j = model.services_["requests"].index(SERVICE)
    y = history[(SERVICE, "requests")].to_numpy()
    fitted = req.predict(history.index, None)[:, j]
    print(f"request rate of payments explained by time of day + day of week alone: R^2 = {1 - np.var(y - fitted) / np.var(y):.3f}")

    print("\n== the flags on payments latency, explained ==")
    ex = model.explain(live)
    mine = ex.summary[(ex.summary["service"] == SERVICE) & (ex.summary["signal"] == "latency")]
    print(f"{len(mine)} flagged points; the first:")
    first = mine.iloc[0]
    print(first["timestamp"], first["sentence"])
    rows = ex.terms[ex.terms["point"] == mine.index[0]]
    print(f"  baseline          {first['baseline'] * 1000:+10.3f} ms")
    for r in rows.itertuples():
        value = "" if np.isnan(r.value) else f" (value {r.value:.2f} req/s)"
        print(f"  {r.term:<17} {r.contribution * 1000:+10.3f} ms{value}")
    total = first["baseline"] + rows["contribution"].sum()
    print(f"  sum               {total * 1000:10.3f} ms; expected {first['expected'] * 1000:.3f} ms; difference {abs(total - first['expected']):.1e} s")
    print(f"  actual {first['actual'] * 1000:.1f} ms, residual {first['residual'] * 1000:+.1f} ms = {first['residual_sigma']:+.1f} robust sigma; score {first['anomaly_score']:.2f} (>= 1 scores)")
    at = first["timestamp"]

    print("\n== the same point under other fits ==")
    print(f"{'fit':<44} {'coef (ms per)':>16} {'baseline':>10} {'request rate':>13} {'time of day':>12} {'day of week':>12} {'expected':>10} {'residual σ':>10}")

    def show(name: str, m: FleetModel, fr: pd.DataFrame, per: float = 1.0) -> None:
        s, tr = terms_of(m, fr, at)
        c = dict(zip(tr["term"], tr["contribution"]))
        mm = m.models_["latency"]
        coef = mm.coef_[i, mm.feature_names_.index("requests")] * 1000 if "requests" in mm.feature_names_ else float("nan")
        print(f"{name:<44} {coef * per:>16.3f} {ms(s['baseline']):>10} {ms(c.get('requests', 0.0)):>13} {ms(c.get('time of day', 0.0)):>12} "
              f"{ms(c.get('day of week', 0.0)):>12} {ms(s['expected']):>10} {s['residual_sigma']:>+10.1f}")  # fmt: skip

    show("as fitted (ridge 1e-4, context: requests)", model, live)  # coefficient per req/s
    per_minute = frame.copy()
    for svc in CATALOG.service_names:
        per_minute[(svc, "requests")] = per_minute[(svc, "requests")] * 60.0
    pm = per_minute[t < T0]
    m60 = FleetModel(dependencies=EDGES).fit(pm)
    base = load_signals()
    show("request rate in req/min (coef per req/min)", m60, per_minute[t >= T0 - 600.0])
    strong = FleetModel(base.with_overrides(ridge=1.0), dependencies=EDGES).fit(history)
    show("ridge 1.0 (the grid's other value)", strong, live)
    strong60 = FleetModel(base.with_overrides(ridge=1.0), dependencies=EDGES).fit(pm)
    show("ridge 1.0, request rate in req/min", strong60, per_minute[t >= T0 - 600.0])
    alone = FleetModel(base.without_context(), dependencies=EDGES).fit(history)
    show("no context (seasonality only)", alone, live)

    print("\n== a multiplicative change: a bad release (latency x 2) over one day ==")
    release = sim.Incident(id="r", kind="bad_release", service=SERVICE, intensity=1.0,
                           start_seconds=T0 - 60.0, duration_seconds=30 * DAY)  # fmt: skip
    day_with = fleet_frame(CATALOG, SEED, start_seconds=T0, end_seconds=T0 + DAY, incidents=[release], settings=OFFLINE)
    day_without = fleet_frame(CATALOG, SEED, start_seconds=T0, end_seconds=T0 + DAY, settings=OFFLINE)
    step = (day_with[(SERVICE, "latency")] - day_without[(SERVICE, "latency")]).rolling(60, center=True).median()
    hour = step.index.hour
    print(f"added p95 latency, hourly medians over the day: min {ms(step.groupby(hour).median().min())} (at {step.groupby(hour).median().idxmin():02d}h UTC), "
          f"max {ms(step.groupby(hour).median().max())} (at {step.groupby(hour).median().idxmax():02d}h UTC)")  # fmt: skip


if __name__ == "__main__":
    main()
