"""The demo's seam: the cached history, the fine tail and the live scrapes are one series, so the
detector scores from its first cycle after start and raises no flag where they meet.

Real promtool, Prometheus and collector, as ``aiops demo`` assembles them (the same functions);
the detector is the real service, run in-process for one fit and one inference cycle. The
second test is the control: without the fine tail (the 60 s history alone before the live
scrapes) the same check fails, so the first one can fail too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from aiops import stack
from aiops._history import History, copy_blocks, ensure_history, fine_tail, load_text
from aiops.demo import TAIL_LEAD_SECONDS, TAIL_SECONDS
from detector import DetectorSettings, build_service
from plumbing import monitoring as mon
from plumbing.procs import Child, free_port, stop_all
from tests.integration.conftest import SEED, PromAPI

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once
MODULE_SECONDS = 35  # on a quiet 2-core machine; the longest modules start first (tests/conftest.py)

HISTORY_DAYS = 2.0  # the detector's fit needs a day or two; the demo's eight only take longer


@pytest.fixture(scope="module")
def cached(promtool_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[History, int]]:
    """The coarse history (60 s step) up to TAIL_SECONDS ago, as the demo's cache holds it, for a collector on ``port``."""
    root = tmp_path_factory.mktemp("seam")
    port = free_port()
    started: list[Child] = []
    history = ensure_history(
        root / "cache", seed=SEED, instance=f"127.0.0.1:{port}", days=HISTORY_DAYS, now_seconds=time.time() - TAIL_SECONDS,
        work_dir=root / "work", started=started,
    )  # fmt: skip
    yield history, port
    stop_all(started)


def _first_cycle(history: History, port: int, root: Path, *, tail: bool) -> dict[str, Any]:
    """Start the collector (continuing the cached counters) and Prometheus as the demo does; one detector fit and cycle."""
    children: list[Child] = []
    try:
        spec = stack.collector(port=port, seed=SEED, log_path=root / "incidents.jsonl", history_dir=history.continue_dir)
        collector = stack.start(spec, log_dir=root, wait=False)
        children.append(collector)
        data = root / "prometheus-data"
        copy_blocks(history, data)
        stack.wait_ready(collector, spec)
        written = None
        if tail:
            written = fine_tail(history, seed=SEED, instance=f"127.0.0.1:{port}", now_seconds=time.time() + TAIL_LEAD_SECONDS,
                                step_seconds=mon.scrape_interval_seconds(), tick_seconds=1.0, work_dir=root / "work")  # fmt: skip
            assert written is not None
            load_text(written.result, data, work_dir=root / "work", started=children)
        prometheus = stack.start_prometheus(root, targets={mon.COLLECTOR_JOB: [f"127.0.0.1:{port}"]}, data_dir=data)
        children.append(prometheus.child)
        api = PromAPI(prometheus.url)
        live = f'count_over_time(scrape_duration_seconds{{job="{mon.COLLECTOR_JOB}"}}[1m])'  # only live scrapes write it
        api.poll("a live scrape", lambda: (api.scalar(live) or 0) >= 1, timeout_seconds=30)
        settings = DetectorSettings(prometheus_url=prometheus.url, collector_url=spec.url, min_history_seconds=1.5 * 86400)
        service = build_service(settings, incident_records=history.incidents_path)
        service.fit_cycle()
        assert service.model is not None, service.last_error
        service.infer_cycle()
        rate = 'sum(rate(aiops_http_requests_total[2m]))'  # every second across the seam: a missed sample shows as a dip
        seam = written.end_seconds if written else history.end_seconds
        values = [float(v) for _, v in api.query_range(rate, seam - 60, time.time(), 1.0)[0]["values"]]
        return {
            "rate_low_to_high": min(values) / max(values),
            "health": service.health(),
            "flags": service.recent_anomalies(),
            "scored_from": service.scoring_since_seconds,
            "tail_end": written.end_seconds if written else None,
        }
    finally:
        stop_all(children)


def test_the_detector_scores_its_first_cycle_with_no_flag_over_the_seam(cached: tuple[History, int], tmp_path: Path) -> None:
    history, port = cached
    cycle = _first_cycle(history, port, tmp_path, tail=True)
    assert cycle["health"]["status"] == "ok", cycle["health"]
    assert cycle["scored_from"] is not None and cycle["scored_from"] < cycle["tail_end"], "the scored rows reach back over the seam"
    assert cycle["flags"] == [], [f"{a['service']} {a['signal']}: {a.get('explanation')}" for a in cycle["flags"]]
    assert cycle["rate_low_to_high"] > 0.97, "the fleet's request rate has no dip where the tail meets the live scrapes"


def test_without_the_fine_tail_the_same_check_fails(cached: tuple[History, int], tmp_path: Path) -> None:
    history, port = cached
    cycle = _first_cycle(history, port, tmp_path, tail=False)
    assert cycle["health"]["status"] == "settling", "the 60 s history alone leaves the first rate windows incomplete"
