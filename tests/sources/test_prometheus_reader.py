"""The Prometheus reader, against a fake HTTP transport (the integration tests use the real server)."""

from __future__ import annotations

import math

import httpx
import pytest

from sources._prometheus import PrometheusQueryError, PrometheusReader, PrometheusUnavailable


def matrix(*series: tuple[str, list[tuple[float, str]]]) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"service": s}, "values": [[t, v] for t, v in vals]} for s, vals in series],
        },
    }


def reader(handler) -> PrometheusReader:
    return PrometheusReader(base_url="http://prom.test", timeout_seconds=1.0, transport=httpx.MockTransport(handler))


def test_signals_become_one_wide_frame_on_the_query_grid() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        q = request.url.params["query"]
        if "cpu" in q:
            return httpx.Response(200, json=matrix(("checkout", [(90, "0.5"), (150, "0.6")]), ("payments", [(150, "0.2")])))
        return httpx.Response(200, json=matrix(("checkout", [(90, "12"), (120, "NaN"), (150, "14")])))

    frame = reader(handler).fetch_signals({"cpu": "avg by (service) (cpu)", "requests": "sum(rate(x))"}, start=90, end=150, step_seconds=30)
    assert list(frame.columns) == [("checkout", "cpu"), ("checkout", "requests"), ("payments", "cpu")]
    assert frame.columns.names == ["service", "signal"]
    assert frame.index.name == "timestamp" and str(frame.index.tz) == "UTC"
    assert len(frame) == 3
    assert frame[("checkout", "cpu")].iloc[0] == 0.5
    assert math.isnan(frame[("checkout", "cpu")].iloc[1])  # no sample at t=120
    assert math.isnan(frame[("checkout", "requests")].iloc[1])  # NaN from Prometheus stays NaN
    assert frame[("payments", "cpu")].iloc[2] == 0.2


def test_long_ranges_are_split_into_chunks_prometheus_accepts() -> None:
    calls: list[tuple[float, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        start, end = float(request.url.params["start"]), float(request.url.params["end"])
        calls.append((start, end))
        assert (end - start) / 1.0 + 1 <= 10_000
        return httpx.Response(200, json=matrix(("a", [(start, "1"), (end, "2")])))

    result = reader(handler).query_range("up", start=0, end=25_000, step_seconds=1)
    assert len(calls) == 3
    times = [float(v[0]) for v in result[0]["values"]]
    assert times == sorted(times) and len(times) == len(set(times))


def test_timeouts_and_refusals_are_unavailable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(PrometheusUnavailable, match="did not answer within 1 s"):
        reader(slow).query("up")

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(PrometheusUnavailable, match="cannot reach"):
        reader(refused).query("up")
    assert reader(refused).ready() is False

    with pytest.raises(PrometheusUnavailable, match="503"):
        reader(lambda r: httpx.Response(503, text="down")).query("up")


def test_a_rejected_query_says_why() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}
    with pytest.raises(PrometheusQueryError, match="parse error at char 5"):
        reader(lambda r: httpx.Response(400, json=body)).query_range("sum(", start=0, end=10, step_seconds=1)


def test_an_unaligned_range_is_aligned_to_the_step_so_millisecond_timestamps_match() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        start, step = float(request.url.params["start"]), float(request.url.params["step"])
        assert start % step == 0
        return httpx.Response(200, json=matrix(("a", [(start, "1"), (start + step, "2")])))

    frame = reader(handler).fetch_signals({"cpu": "x"}, start=1000.4806128, end=1120.9, step_seconds=60)
    assert frame[("a", "cpu")].tolist()[:2] == [1.0, 2.0]
    assert frame.index[0].timestamp() == 960.0
