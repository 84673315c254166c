"""Fault cases against a real ``aiops collector`` process: the log's folder deleted under it, kill -9 during a burst."""

from __future__ import annotations

import shutil
import signal
import threading
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import start_collector

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once

SERVICES = ("frontend", "checkout", "payments", "catalog", "inventory", "database")


def _log_ids(path: Path) -> list[str]:
    import json

    ids = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn last line after kill -9 is reported and skipped by the collector too
        if rec.get("event") == "triggered":
            ids.append(rec["id"])
    return ids


def test_a_deleted_log_folder_refuses_writes_and_health_says_why(tmp_path: Path) -> None:
    running = start_collector(tmp_path / "run")
    try:
        url = running.url
        assert httpx.post(f"{url}/api/incidents", json={"kind": "cpu_hog", "service": "checkout"}).status_code == 201
        shutil.rmtree(tmp_path / "run")
        r = httpx.post(f"{url}/api/incidents", json={"kind": "error_burst", "service": "payments"})
        assert r.status_code == 503 and r.json()["field"] == "log" and "deleted" in r.json()["error"]
        health = httpx.get(f"{url}/healthz").json()
        assert health["status"] == "writes refused" and "deleted" in health["writes_refused"]
        assert httpx.get(f"{url}/metrics").status_code == 200
        assert [i["id"] for i in httpx.get(f"{url}/api/incidents").json()["incidents"]] == ["1"]
    finally:
        running.child.stop()


def test_kill_9_during_a_burst_loses_no_acknowledged_incident(tmp_path: Path) -> None:
    workdir = tmp_path / "run"
    running = start_collector(workdir)
    acknowledged: list[str] = []
    stop = threading.Event()

    def burst() -> None:
        with httpx.Client(base_url=running.url, timeout=5) as client:
            n = 0
            while not stop.is_set():
                service = SERVICES[n % len(SERVICES)]
                try:
                    r = client.post("/api/incidents", json={"kind": "cpu_hog", "service": service, "duration_seconds": 30})
                    if r.status_code == 201:
                        acknowledged.append(r.json()["id"])
                        client.delete(f"/api/incidents/{r.json()['id']}")
                except httpx.TransportError:
                    return  # killed
                n += 1

    thread = threading.Thread(target=burst)
    thread.start()
    try:
        while len(acknowledged) < 40:
            thread.join(timeout=0.05)
            assert thread.is_alive(), "the burst stopped before the kill"
        running.child.popen.send_signal(signal.SIGKILL)
        running.child.popen.wait(timeout=10)
    finally:
        stop.set()
        thread.join(timeout=10)
    logged = _log_ids(workdir / "incidents.jsonl")
    assert set(acknowledged) <= set(logged), "an incident was acknowledged (201) but is not in the log"
    assert len(logged) == len(set(logged)), "an id was used twice"
    again = start_collector(workdir, port=running.port)
    try:
        r = httpx.post(f"{again.url}/api/incidents", json={"kind": "disk_fill", "service": "database"})
        assert r.status_code == 201 and int(r.json()["id"]) == max(int(i) for i in logged) + 1  # ids go on, never reused
    finally:
        again.child.stop()


def test_an_immutable_log_refuses_writes_without_a_ghost_and_recovers(tmp_path: Path) -> None:
    """The log made unwritable under a running collector (``chattr +i``, as the finding did): 503, reads go on,
    nothing buffered is written later, no id is reused once it is writable again."""
    import subprocess

    chattr = shutil.which("chattr")
    assert chattr, "chattr (e2fsprogs) is needed for this fault test"
    running = start_collector(tmp_path / "run")
    log = tmp_path / "run" / "incidents.jsonl"
    url = running.url
    immutable = False
    try:
        assert httpx.post(f"{url}/api/incidents", json={"kind": "cpu_hog", "service": "checkout"}).status_code == 201
        before = log.read_text()
        done = subprocess.run([chattr, "+i", str(log)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"chattr +i failed here ({done.stderr.strip()}): this fault cannot be made on this filesystem")
        immutable = True
        for _ in range(3):
            r = httpx.post(f"{url}/api/incidents", json={"kind": "error_burst", "service": "payments"})
            assert r.status_code == 503 and r.json()["field"] == "log", r.text
        assert httpx.delete(f"{url}/api/incidents/1").status_code == 503
        assert httpx.get(f"{url}/metrics").status_code == 200
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert [i["id"] for i in httpx.get(f"{url}/api/incidents").json()["incidents"]] == ["1"]  # state unchanged
        subprocess.run([chattr, "-i", str(log)], check=True)
        immutable = False
        r = httpx.post(f"{url}/api/incidents", json={"kind": "error_burst", "service": "payments"})
        assert r.status_code == 201 and r.json()["id"] == "2"  # the refused ones used no id
        assert log.read_text().startswith(before)
        assert _log_ids(log) == ["1", "2"]  # no ghost of a refused trigger, nothing buffered flushed later
    finally:
        if immutable:
            subprocess.run([chattr, "-i", str(log)])
        running.child.stop()
