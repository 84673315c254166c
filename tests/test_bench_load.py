"""``aiops bench load``: a fixed number of requests, counted per endpoint, loopback only."""

from __future__ import annotations

import httpx
import pytest

from aiops._load import not_loopback, run_load, summarise


def test_a_fixed_number_of_requests_is_made_and_errors_are_counted() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500 if request.url.path == "/broken" else 200, text="ok")

    urls = ["http://127.0.0.1:1/metrics", "http://127.0.0.1:1/broken"]
    samples = run_load(urls, clients=3, seconds=4, transport=httpx.MockTransport(answer), sleep=lambda s: None)
    assert len(samples) == 3 * 4 * 2  # clients x rounds x endpoints, and then it stops
    by_name = {r.name: r for r in summarise(samples, elapsed_seconds=4.0)}
    assert by_name["http://127.0.0.1:1/metrics"].errors == 0 and by_name["http://127.0.0.1:1/broken"].errors == 12
    assert by_name["total"].requests == 24 and by_name["total"].rps == pytest.approx(6.0)
    assert 0 <= by_name["total"].p50_ms <= by_name["total"].p99_ms


def test_only_loopback_is_loaded() -> None:
    assert not_loopback(["http://127.0.0.1:8000", "http://localhost:8001", "http://[::1]:8002"]) == []
    assert not_loopback(["http://10.0.0.5:8000", "http://example.org"]) == ["http://10.0.0.5:8000", "http://example.org"]


def test_the_command_refuses_another_machine(capsys: pytest.CaptureFixture[str]) -> None:
    from aiops.cli import main

    code = main(["bench", "load", "--collector-url", "http://192.0.2.1:8000"])
    assert code == 2 and "loopback only" in capsys.readouterr().err


def test_the_command_refuses_a_console_on_another_machine(capsys: pytest.CaptureFixture[str]) -> None:
    from aiops.cli import main

    code = main(["bench", "load", "--collector-url", "http://127.0.0.1:8000", "--console-url", "http://192.0.2.1:8003"])
    assert code == 2 and "http://192.0.2.1:8003" in capsys.readouterr().err
