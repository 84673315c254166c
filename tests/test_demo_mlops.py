"""`aiops demo --mlops`: its settings, the trainer's and the champion detector's commands, one scoreboard row per model."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from aiops import stack
from aiops.demo import DemoSettings
from aiops.demo._run import Demo
from aiops.demo._watch import DetectorWatch
from evaluation import Scoreboard
from simulator import load_catalog

FLAG = {
    "kind": "anomaly",
    "timestamp_seconds": 1_767_356_215.0,
    "service": "payments",
    "signal": "latency",
    "onset": True,
    "explanation": "payments p95 latency 400 ms vs 240 ms expected = baseline 273 ms + request rate 12.4/s -55.3 ms + time of day +22.5 ms; residual +5.9 robust σ",
}


class FakeDetector:
    def __init__(self, health: dict) -> None:
        self._health = health

    def health(self) -> dict:
        return self._health

    def anomalies(self, limit: int = 100) -> list[dict]:
        return [FLAG]

    def detected_incidents(self) -> list[dict]:
        return []


def test_mlops_settings_are_checked_and_split_the_history_so_the_weekly_terms_fit(tmp_path: Path) -> None:
    s = DemoSettings(cache_dir=tmp_path, mlops=True)
    assert s.training_days() == (7.0, 0.75)  # 8 days: a week to train, the rest to evaluate, a quarter day spare
    assert DemoSettings(cache_dir=tmp_path, mlops=True, history_days=12).training_days() == (9.75, 2.0)
    assert DemoSettings(cache_dir=tmp_path, mlops=True, history_days=4).training_days() == (2.75, 1.0)
    assert s.resolved_tracking_uri() == f"sqlite:///{(tmp_path / 'mlflow' / 'mlflow.db').resolve()}"
    with pytest.raises(ValueError, match="at least 2 days"):
        DemoSettings(cache_dir=tmp_path, mlops=True, history_days=1)
    with pytest.raises(ValueError, match="alerting_model must be one of online, champion, not 'both'"):
        DemoSettings(cache_dir=tmp_path, alerting_model="both")
    with pytest.raises(ValueError, match="champion needs --mlops"):
        DemoSettings(cache_dir=tmp_path, alerting_model="champion")


def test_the_trainer_reads_prometheus_and_the_champion_detector_reads_the_same_store(tmp_path: Path) -> None:
    demo = Demo(DemoSettings(cache_dir=tmp_path, mlops=True))
    spec = demo.champion_spec(9104, "http://127.0.0.1:9090")
    argv = list(spec.argv)
    assert spec.name == "champion" and spec.url == "http://127.0.0.1:9104"
    assert argv[argv.index("--model-source") + 1] == "registry"
    uri = demo.settings.resolved_tracking_uri()
    assert argv[argv.index("--tracking-uri") + 1] == uri
    train = list(stack.train_argv(prometheus_url="http://127.0.0.1:9090", tracking_uri=uri, history_days=7.0, eval_days=0.75))
    assert train[train.index("train") + 1 :] == [
        "--prometheus-url", "http://127.0.0.1:9090", "--tracking-uri", uri, "--history-days", "7", "--eval-days", "0.75",
    ]  # fmt: skip


def test_the_live_view_marks_the_champions_lines_and_shows_one_row_per_model(tmp_path: Path) -> None:
    out = io.StringIO()
    demo = Demo(DemoSettings(cache_dir=tmp_path, mlops=True), out=out)
    demo.detector_url, demo.champion_url = "http://127.0.0.1:1", "http://127.0.0.1:2"
    demo.scoreboard, demo.champion_scoreboard = Scoreboard(load_catalog()), Scoreboard(load_catalog())
    online = DetectorWatch(demo)
    champion = DetectorWatch(demo, url=demo.champion_url, board=demo.champion_scoreboard, role="champion")
    online.detector = FakeDetector({"status": "ok", "runs": {"success": 3}})  # type: ignore[assignment]
    champion.detector = FakeDetector({"status": "ok", "runs": {"success": 3}, "champion": {"version": "2"}})  # type: ignore[assignment]
    online.poll()
    champion.poll()
    flags = [line for line in out.getvalue().splitlines() if "FLAG" in line]
    assert flags == [f"12:16:55Z  FLAG      payments latency: {FLAG['explanation']}", f"12:16:55Z  FLAG      [champion] payments latency: {FLAG['explanation']}"]
    rows = online.update_score([], 1_767_356_300.0) + champion.update_score([], 1_767_356_300.0)
    assert [r.split(";")[0].strip() for r in rows] == ["detector ok", "champion ok, version 2"]
    champion.detector = FakeDetector({"status": "online_fallback", "runs": {"success": 1}, "registry_error": "cannot reach the MLflow tracking server"})  # type: ignore[assignment]
    champion.poll()
    assert "fitting online: no champion from the registry (cannot reach the MLflow tracking server)" in champion.update_score([], 1_767_356_300.0)[-1]


def test_the_champions_scoreboard_is_saved_beside_the_online_one(tmp_path: Path) -> None:
    demo = Demo(DemoSettings(cache_dir=tmp_path, mlops=True), out=io.StringIO())
    demo.run_dir.mkdir(parents=True)
    demo.scoreboard, demo.champion_scoreboard = Scoreboard(load_catalog()), Scoreboard(load_catalog())
    demo.save_scoreboard()
    assert (demo.run_dir / "scoreboard.json").is_file() and (demo.run_dir / "scoreboard-champion.json").is_file()
    assert (demo.run_dir / "scoreboard-champion.md").is_file()
