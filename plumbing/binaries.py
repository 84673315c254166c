"""The real Prometheus, promtool and Alertmanager binaries, driven from Python.

- (the configs they run with are rendered by :mod:`plumbing.monitoring`)
- :func:`start_prometheus` / :func:`start_alertmanager`: on a free loopback port, with a
  temporary or given storage directory, waiting until ready; stop with ``.stop()``;
- promtool: :func:`check_config`, :func:`check_metrics`, :func:`create_blocks_from_openmetrics`.

Errors::

    RuntimeError
     ├── BinaryMissing    prometheus / promtool / prometheus-alertmanager not on PATH (says how to install)
     ├── PromtoolError    promtool rejected its input (.output)
     └── ChildFailed      (plumbing.procs) a server exited or was not ready in time
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from plumbing.procs import Child, free_port, http_ok, spawn, wait_until

__all__ = [
    "INSTALL_HINT",
    "BinaryMissing",
    "PromtoolError",
    "Server",
    "block_time_range_seconds",
    "check_config",
    "check_metrics",
    "create_blocks_from_openmetrics",
    "find_binary",
    "require_binary",
    "start_alertmanager",
    "start_prometheus",
]

INSTALL_HINT = "sudo apt-get install --no-install-recommends prometheus prometheus-alertmanager"


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
    config_path: Path,
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
