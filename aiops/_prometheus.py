"""The real Prometheus, promtool and Alertmanager binaries, driven from Python.

- the project's config (``monitoring/prometheus.yml``) and the one timing number in it:
  :func:`scrape_interval_seconds`; :func:`render_config` for other targets or a shorter
  interval (the tests scrape every second);
- :func:`start_prometheus` / :func:`start_alertmanager`: on a free loopback port, with a
  temporary or given storage directory, waiting until ready; stop with ``.stop()``;
- promtool: :func:`check_config`, :func:`check_metrics`, :func:`create_blocks_from_openmetrics`.

Errors::

    RuntimeError
     ├── BinaryMissing    prometheus / promtool / prometheus-alertmanager not on PATH (says how to install)
     ├── PromtoolError    promtool rejected its input (.output)
     └── ChildFailed      (aiops._procs) a server exited or was not ready in time
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ._procs import Child, free_port, http_ok, spawn, wait_until

__all__ = [
    "ALERTMANAGER_CONFIG",
    "COLLECTOR_JOB",
    "DETECTOR_JOB",
    "INSTALL_HINT",
    "MONITORING_DIR",
    "PROMETHEUS_CONFIG",
    "BinaryMissing",
    "PromtoolError",
    "Server",
    "block_time_range_seconds",
    "check_config",
    "check_metrics",
    "create_blocks_from_openmetrics",
    "find_binary",
    "format_duration",
    "parse_duration",
    "render_alertmanager_config",
    "render_config",
    "require_binary",
    "scrape_interval_seconds",
    "start_alertmanager",
    "start_prometheus",
]

#: The folder with the Prometheus and Alertmanager configs (and, later, the rules).
MONITORING_DIR = Path(__file__).resolve().parent.parent / "monitoring"
PROMETHEUS_CONFIG = MONITORING_DIR / "prometheus.yml"
ALERTMANAGER_CONFIG = MONITORING_DIR / "alertmanager.yml"
#: The scrape job of the collector; backfilled history carries the same ``job`` label.
COLLECTOR_JOB = "aiops-collector"
DETECTOR_JOB = "aiops-detector"
INSTALL_HINT = "sudo apt-get install --no-install-recommends prometheus prometheus-alertmanager"

_DURATION_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


class BinaryMissing(RuntimeError):
    """A Prometheus binary is not on PATH; the message says how to install it."""


class PromtoolError(RuntimeError):
    """promtool rejected its input; ``output`` is what it printed."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(f"{message}: {output.strip()}")
        self.output = output


def find_binary(name: str) -> str | None:
    """The path of ``name`` on PATH, or None."""
    return shutil.which(name)


def require_binary(name: str) -> str:
    """The path of ``name`` on PATH; raises :class:`BinaryMissing` saying how to install it."""
    path = find_binary(name)
    if path is None:
        raise BinaryMissing(f"{name} is not on PATH; install it with: {INSTALL_HINT}")
    return path


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as ``5s``, ``1m30s`` or ``500ms``."""
    text = str(text).strip()
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a Prometheus duration: {text!r} (e.g. 5s, 1m30s, 500ms)")
    return total


def format_duration(seconds: float) -> str:
    """A Prometheus duration for ``seconds`` (whole seconds as ``5s``, else milliseconds)."""
    ms = round(seconds * 1000)
    if ms <= 0:
        raise ValueError(f"a duration must be positive, got {seconds}")
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a Prometheus config (expected a mapping)")
    return data


def scrape_interval_seconds(config_path: Path = PROMETHEUS_CONFIG) -> float:
    """The scrape interval written down in the project's Prometheus config (``global.scrape_interval``)."""
    value = (_load(config_path).get("global") or {}).get("scrape_interval")
    if value is None:
        raise ValueError(f"{config_path}: global.scrape_interval is not set")
    return parse_duration(value)


def render_config(
    targets: Mapping[str, Sequence[str]],
    *,
    scrape_interval_seconds: float | None = None,
    alertmanagers: Sequence[str] | None = None,
    base: Path = PROMETHEUS_CONFIG,
) -> str:
    """The project's config as YAML text with the given ``{job: [host:port, ...]}`` targets.

    Jobs of the base config not named in ``targets`` are left out (a test or the demo
    scrapes only what it started); a named job the base config lacks is an error. With
    ``scrape_interval_seconds`` the global interval (and evaluation interval) are set to it,
    and the scrape timeout is kept below it. Relative ``rule_files`` are made absolute so the
    rendered file can live anywhere. ``alertmanagers`` (``host:port``) replaces the
    Alertmanager targets; without it the ``alerting`` section is left out (nothing to send to).
    """
    config = _load(base)
    jobs = {job["job_name"]: job for job in config.get("scrape_configs") or []}
    unknown = sorted(set(targets) - set(jobs))
    if unknown:
        raise ValueError(f"no scrape job {unknown} in {base} (jobs: {sorted(jobs)})")
    rendered_jobs = []
    for name, job in jobs.items():
        if name not in targets:
            continue
        job = dict(job)
        job["static_configs"] = [{"targets": list(targets[name])}]
        rendered_jobs.append(job)
    config["scrape_configs"] = rendered_jobs
    if scrape_interval_seconds is not None:
        interval = format_duration(scrape_interval_seconds)
        glob = dict(config.get("global") or {})
        glob["scrape_interval"] = interval
        glob["evaluation_interval"] = interval
        timeout = parse_duration(glob.get("scrape_timeout", "10s"))
        if timeout > scrape_interval_seconds:
            glob["scrape_timeout"] = interval
        config["global"] = glob
    if config.get("rule_files"):
        config["rule_files"] = [str((Path(base).parent / p).resolve()) for p in config["rule_files"]]
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    else:
        config.pop("alerting", None)
    header = f"# Rendered from {base} by aiops._prometheus.render_config; edit that file, not this one.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def render_alertmanager_config(
    webhook_url: str, *, group_wait_seconds: float | None = None, group_interval_seconds: float | None = None, base: Path = ALERTMANAGER_CONFIG
) -> str:
    """The project's Alertmanager config as YAML text, sending to ``webhook_url`` (tests shorten the waits)."""
    config = _load(base)
    for receiver in config.get("receivers") or []:
        for hook in receiver.get("webhook_configs") or []:
            hook["url"] = webhook_url
    route = config.setdefault("route", {})
    if group_wait_seconds is not None:
        route["group_wait"] = format_duration(group_wait_seconds)
    if group_interval_seconds is not None:
        route["group_interval"] = format_duration(group_interval_seconds)
    header = f"# Rendered from {base} by aiops._prometheus.render_alertmanager_config; edit that file, not this one.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def _promtool(args: Sequence[str], *, stdin: str | None = None, timeout_seconds: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_seconds,
    )


def check_config(config_path: Path) -> str:
    """``promtool check config``; returns its output, raises :class:`PromtoolError` if the config is bad."""
    done = _promtool(["check", "config", str(config_path)])
    if done.returncode != 0:
        raise PromtoolError(f"promtool check config {config_path} failed", done.stdout + done.stderr)
    return done.stdout + done.stderr


def check_metrics(exposition: str) -> str:
    """``promtool check metrics`` on an exposition; returns its output, raises :class:`PromtoolError` on lint problems."""
    done = _promtool(["check", "metrics"], stdin=exposition)
    if done.returncode != 0:
        raise PromtoolError("promtool check metrics found problems", done.stdout + done.stderr)
    return done.stdout + done.stderr


def create_blocks_from_openmetrics(openmetrics_path: Path, out_dir: Path, *, timeout_seconds: float = 600) -> list[Path]:
    """Load an OpenMetrics file into TSDB blocks under ``out_dir``; returns the new block directories."""
    out_dir.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in out_dir.iterdir()}
    done = _promtool(
        ["tsdb", "create-blocks-from", "openmetrics", "--quiet", str(openmetrics_path), str(out_dir)],
        timeout_seconds=timeout_seconds,
    )
    if done.returncode != 0:
        raise PromtoolError(f"promtool tsdb create-blocks-from openmetrics {openmetrics_path} failed", done.stdout + done.stderr)
    return sorted(p for p in out_dir.iterdir() if p.name not in before and (p / "meta.json").is_file())


def block_time_range_seconds(block_dir: Path) -> tuple[float, float]:
    """(minTime, maxTime) of a TSDB block in Unix seconds, from its ``meta.json``."""
    meta = json.loads((block_dir / "meta.json").read_text())
    return meta["minTime"] / 1000.0, meta["maxTime"] / 1000.0


@dataclass
class Server:
    """A running Prometheus or Alertmanager on loopback; ``stop()`` ends it (and removes a temporary dir)."""

    name: str
    url: str
    port: int
    storage_dir: Path
    log_path: Path
    child: Child = field(repr=False)
    _temp_dir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def stop(self, timeout_seconds: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_seconds``; returns the exit code."""
        code = self.child.stop(timeout_seconds)
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None
        return code

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _workdir(storage_dir: Path | None, log_path: Path | None, prefix: str) -> tuple[Path, Path, tempfile.TemporaryDirectory[str] | None]:
    temp = None
    if storage_dir is None:
        temp = tempfile.TemporaryDirectory(prefix=prefix)
        storage_dir = Path(temp.name) / "data"
    storage_dir.mkdir(parents=True, exist_ok=True)
    if log_path is None:
        log_path = storage_dir.parent / f"{prefix.strip('-')}.log"
    return storage_dir, log_path, temp


def start_prometheus(
    config_path: Path,
    *,
    storage_dir: Path | None = None,
    port: int | None = None,
    retention: str = "30d",
    log_path: Path | None = None,
    ready_timeout_seconds: float = 60.0,
    extra_args: Sequence[str] = (),
) -> Server:
    """Start ``prometheus`` on ``127.0.0.1:port`` (a free port by default) and wait until ``/-/ready``.

    ``storage_dir`` defaults to a temporary directory removed on ``stop()``; its log goes
    to ``log_path`` (default: next to the storage directory). ``retention`` must cover any
    backfilled history, or Prometheus deletes it at start.
    """
    binary = require_binary("prometheus")
    storage_dir, log_path, temp = _workdir(storage_dir, log_path, "aiops-prometheus-")
    port = port or free_port()
    argv = [
        binary,
        f"--config.file={Path(config_path).resolve()}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.path={storage_dir}",
        f"--storage.tsdb.retention.time={retention}",
        "--web.enable-lifecycle",
        *extra_args,
    ]
    url = f"http://127.0.0.1:{port}"
    return _start("prometheus", argv, url=url, port=port, storage_dir=storage_dir, log_path=log_path, temp=temp, timeout=ready_timeout_seconds)


def start_alertmanager(
    config_path: Path = ALERTMANAGER_CONFIG,
    *,
    storage_dir: Path | None = None,
    port: int | None = None,
    log_path: Path | None = None,
    ready_timeout_seconds: float = 30.0,
) -> Server:
    """Start ``prometheus-alertmanager`` (clustering off) on ``127.0.0.1:port`` and wait until ``/-/ready``."""
    binary = find_binary("prometheus-alertmanager") or require_binary("alertmanager")
    storage_dir, log_path, temp = _workdir(storage_dir, log_path, "aiops-alertmanager-")
    port = port or free_port()
    argv = [
        binary,
        f"--config.file={Path(config_path).resolve()}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.path={storage_dir}",
        "--cluster.listen-address=",
    ]
    url = f"http://127.0.0.1:{port}"
    return _start("alertmanager", argv, url=url, port=port, storage_dir=storage_dir, log_path=log_path, temp=temp, timeout=ready_timeout_seconds)


def _start(
    name: str,
    argv: list[str],
    *,
    url: str,
    port: int,
    storage_dir: Path,
    log_path: Path,
    temp: tempfile.TemporaryDirectory[str] | None,
    timeout: float,
) -> Server:
    child = spawn(name, argv, log_path=log_path)
    server = Server(name=name, url=url, port=port, storage_dir=storage_dir, log_path=log_path, child=child, _temp_dir=temp)
    try:
        wait_until(lambda: http_ok(f"{url}/-/ready"), child=child, timeout_seconds=timeout)
    except BaseException:
        server.stop()
        raise
    return server
