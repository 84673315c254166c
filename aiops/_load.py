"""``aiops bench load``: a bounded load benchmark of the kit's read endpoints, loopback only.

``clients`` threads each poll every URL once a second for ``seconds`` seconds, then stop: a
fixed number of requests (``clients * seconds * len(urls)`` at most) over a fixed time. Each
request's latency and outcome are recorded; :func:`summarise` turns them into requests per
second, p50/p99 latency and errors per endpoint and in total.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence
from urllib.parse import urlsplit

import httpx
import numpy as np

from plumbing.serving import is_loopback

__all__ = ["LoadResult", "Sample", "not_loopback", "run_load", "summarise"]


@dataclass(frozen=True)
class Sample:
    url: str
    seconds: float
    ok: bool


@dataclass(frozen=True)
class LoadResult:
    """Figures of one endpoint (or ``total``)."""

    name: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float

    def line(self) -> str:
        return f"{self.name:<48} {self.requests:>7} {self.rps:>8.1f} {self.p50_ms:>8.1f} {self.p99_ms:>8.1f} {self.errors:>7}"


def not_loopback(urls: Sequence[str]) -> list[str]:
    """The URLs whose host is not loopback (the benchmark refuses to load anyone else's machine)."""
    return [u for u in urls if not is_loopback(urlsplit(u).hostname or "")]


def run_load(
    urls: Sequence[str],
    *,
    clients: int = 20,
    seconds: float = 20.0,
    period_seconds: float = 1.0,
    timeout_seconds: float = 5.0,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Sample]:
    """Poll every URL from ``clients`` threads once per ``period_seconds`` for ``seconds``; every request's sample."""
    samples: list[Sample] = []
    lock = threading.Lock()
    rounds = max(1, int(seconds / period_seconds))

    def client(index: int) -> None:
        mine: list[Sample] = []
        with httpx.Client(timeout=timeout_seconds, transport=transport) as http:
            start = clock() + period_seconds * index / max(1, clients)  # spread the clients over the period
            for n in range(rounds):
                wait = start + n * period_seconds - clock()
                if wait > 0:
                    sleep(wait)
                for url in urls:
                    t0 = clock()
                    try:
                        ok = http.get(url).status_code < 400
                    except httpx.HTTPError:
                        ok = False
                    mine.append(Sample(url, clock() - t0, ok))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(i,), name=f"load-{i}") for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples


def summarise(samples: Sequence[Sample], elapsed_seconds: float) -> list[LoadResult]:
    """Per URL, then ``total``: requests, errors, requests per second, p50 and p99 latency in ms."""

    def one(name: str, group: Sequence[Sample]) -> LoadResult:
        ms = np.array([s.seconds * 1000.0 for s in group]) if group else np.array([np.nan])
        return LoadResult(
            name=name,
            requests=len(group),
            errors=sum(not s.ok for s in group),
            rps=len(group) / elapsed_seconds if elapsed_seconds > 0 else float("nan"),
            p50_ms=float(np.percentile(ms, 50)),
            p99_ms=float(np.percentile(ms, 99)),
        )

    urls = list(dict.fromkeys(s.url for s in samples))
    return [one(u, [s for s in samples if s.url == u]) for u in urls] + [one("total", samples)]
