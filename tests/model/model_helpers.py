"""Seeded synthetic data shared by the detector's unit tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model._features import DAY_SECONDS

SERVICES = ("frontend", "checkout")


def fleet_frame(days: float, seed: int = 0) -> pd.DataFrame:
    """Two services' requests, cpu, latency (driven by both) and errors at 5-minute steps."""
    t = 1_700_006_400.0 + 300.0 * np.arange(int(days * DAY_SECONDS / 300.0))
    rng = np.random.default_rng(seed)
    day = 2 * np.pi * (t % DAY_SECONDS) / DAY_SECONDS
    cols, data = [], []
    for i, s in enumerate(SERVICES):
        req = (80 + 40 * i) * (1 + 0.4 * np.cos(day - 2.6)) * (1 + 0.02 * rng.standard_normal(len(t)))
        cpu = 0.05 + 0.002 * req + 0.005 * rng.standard_normal(len(t))
        lat = 0.02 + 0.0004 * req + 0.2 * cpu + 0.002 * rng.standard_normal(len(t))
        err = 0.002 + 0.0005 * rng.standard_normal(len(t))
        for name, v in (("requests", req), ("cpu", cpu), ("latency", lat), ("errors", err)):
            cols.append((s, name))
            data.append(v)
    idx = pd.DatetimeIndex(pd.to_datetime(t, unit="s", utc=True), name="timestamp")
    return pd.DataFrame(np.column_stack(data), index=idx, columns=pd.MultiIndex.from_tuples(cols, names=["service", "signal"]))
