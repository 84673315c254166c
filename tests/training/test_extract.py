"""Extract from Prometheus (a fake transport): the signals' range queries, and labels from aiops_incident_active."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from model import load_signals
from simulator import load_catalog
from sources import PrometheusReader, PrometheusUnavailable
from training import LABELS_PROMQL, extract_prometheus

END = 1_767_916_800.0  # a multiple of the step
STEP = 60.0
#: checkout's CPU hog is on from 09:00 to 09:05 of the last day (five points at 1).
HOG_START = END - 86_400.0 + 9 * 3600.0


def fake_prometheus(request: httpx.Request) -> httpx.Response:
    q = request.url.params
    start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
    times = np.arange(start, end + step / 2, step)
    if q["query"] == LABELS_PROMQL:
        on = (times >= HOG_START) & (times < HOG_START + 300)
        result = [
            {"metric": {"service": "checkout", "kind": "cpu_hog"}, "values": [[t, "1" if v else "0"] for t, v in zip(times, on)]},
            {"metric": {"service": "checkout", "kind": "meteor"}, "values": [[t, "0"] for t in times]},
        ]
    else:
        result = [{"metric": {"service": s}, "values": [[t, "1.5"] for t in times]} for s in load_catalog().service_names]
    return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": result}})


def test_the_history_and_the_labels_come_from_range_queries() -> None:
    reader = PrometheusReader(base_url="http://prom.test", transport=httpx.MockTransport(fake_prometheus))
    data = extract_prometheus(reader, load_catalog(), load_signals(), end_seconds=END + 30, history_days=2, eval_days=1, step_seconds=STEP)
    assert data.source == "prometheus" and data.origin == "prometheus http://prom.test"
    assert data.eval_start_seconds == END - 86_400.0 and data.end_seconds == END + STEP
    assert data.frame.shape == (3 * 1440 + 1, 6 * 7) and float(data.frame.iloc[-1, 0]) == 1.5
    [hog] = data.incidents
    assert (hog.kind, hog.service, hog.start_seconds, hog.end_seconds) == ("cpu_hog", "checkout", HOG_START, HOG_START + 300)
    assert data.eval_incidents == (hog,)
    assert data.unknown_labels == ("meteor/checkout",)


def test_an_unreachable_prometheus_raises_the_readers_error() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    reader = PrometheusReader(base_url="http://prom.test", transport=httpx.MockTransport(down))
    with pytest.raises(PrometheusUnavailable, match="http://prom.test"):
        extract_prometheus(reader, load_catalog(), load_signals(), end_seconds=END, history_days=2, eval_days=1)
