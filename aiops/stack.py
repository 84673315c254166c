"""One specification of the kit's stack: which processes run, with which command, on which port.

The demo (:mod:`aiops.demo`) and the integration tests build every child process from
here, so what the tests start is what the demo starts:

- the Python services as ``python -m aiops ...`` commands: :func:`collector`,
  :func:`detector`, :func:`responder`, :func:`console` return a :class:`ProcessSpec` (command, URL, the URL
  that answers once it is ready); :func:`start` spawns one with its log in a folder and
  waits until it is ready;
- Prometheus and Alertmanager (the real binaries) with the project's configs rendered for
  the ports in use: :func:`start_prometheus`, :func:`start_alertmanager`.

Every address is on loopback unless a host is given; ports are chosen by the caller
(:func:`plumbing.procs.free_port` for a free one). Tokens reach a child through its
environment (``AIOPS_TOKEN``, ``AIOPS_RESPONDER_TOKEN``), never its command line, which
anyone on the machine can read.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from plumbing import binaries, monitoring
from plumbing.procs import Child, http_ok, spawn, wait_until
from plumbing.serving import local_host, url_for

__all__ = [
    "ProcessSpec",
    "aiops_argv",
    "collector",
    "console",
    "detector",
    "responder",
    "start",
    "start_alertmanager",
    "start_prometheus",
    "train_argv",
    "wait_ready",
]


@dataclass(frozen=True)
class ProcessSpec:
    """A long-running part of the stack: how to start it, where it answers, how to tell it is ready."""

    name: str
    argv: tuple[str, ...]
    url: str
    ready_url: str  # answers 2xx once ready
    ready_timeout_seconds: float = 60.0
    env: tuple[tuple[str, str], ...] = ()  # variables added to the child's environment (tokens)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def aiops_argv(*args: str) -> tuple[str, ...]:
    """The ``aiops`` command as this interpreter runs it (no PATH or activated environment needed)."""
    return (sys.executable, "-m", "aiops", *args)


def _token_env(**tokens: str | None) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in tokens.items() if value)


def collector(
    *,
    host: str = "127.0.0.1",
    port: int,
    seed: int,
    log_path: Path,
    history_dir: Path | None = None,
    token: str | None = None,
    responder_token: str | None = None,
) -> ProcessSpec:
    """``aiops collector``: the simulated fleet's /metrics and the incident API (its history continued with ``history_dir``).

    ``token`` is the runner's (writes off loopback), ``responder_token`` the one whose actions count as remediation.
    """
    argv = aiops_argv("collector", "--host", host, "--port", str(port), "--seed", str(seed), "--log", str(log_path))
    if history_dir is not None:
        argv += ("--continue-history", str(history_dir))
    url = url_for(local_host(host), port)
    env = _token_env(AIOPS_TOKEN=token, AIOPS_RESPONDER_TOKEN=responder_token)
    return ProcessSpec("collector", argv, url, f"{url}/healthz", env=env)


def detector(
    *,
    host: str | None = None,
    port: int,
    prometheus_url: str,
    collector_url: str,
    min_history_seconds: float | None = None,
    incident_records: Path | None = None,
    signals_path: Path | None = None,
    infer_every_seconds: float | None = None,
    scrape_interval_seconds: float | None = None,
    fit_every_seconds: float | None = None,
    model_source: str = "online",
    tracking_uri: str | None = None,
    model_name: str | None = None,
    champion_check_every_seconds: float | None = None,
) -> ProcessSpec:
    """``aiops detect`` reading Prometheus, with the collector for the graph and the incident records.

    ``model_source="registry"``: the champion-serving detector (process name ``champion``),
    reading ``models:/MODEL_NAME@champion`` from ``tracking_uri`` (default: the store
    ``aiops train`` writes).
    """
    argv = aiops_argv("detect", "--prometheus-url", prometheus_url, "--collector-url", collector_url)
    if host is not None:
        argv += ("--host", host)
    argv += ("--port", str(port))
    for option, seconds in (
        ("--min-history", min_history_seconds),
        ("--infer-every", infer_every_seconds),
        ("--scrape-interval", scrape_interval_seconds),
        ("--fit-every", fit_every_seconds),
        ("--champion-check-every", champion_check_every_seconds),
    ):
        if seconds is not None:
            argv += (option, f"{seconds:g}s")
    if incident_records is not None:
        argv += ("--incident-records", str(incident_records))
    if signals_path is not None:
        argv += ("--signals", str(signals_path))
    if model_source != "online":
        argv += ("--model-source", model_source)
    if tracking_uri is not None:
        argv += ("--tracking-uri", tracking_uri)
    if model_name is not None:
        argv += ("--model-name", model_name)
    url = url_for(local_host(host or "127.0.0.1"), port)
    name = "champion" if model_source == "registry" else "detector"
    return ProcessSpec(name, argv, url, f"{url}/healthz", ready_timeout_seconds=120.0)


def responder(
    *, host: str | None = None, port: int, collector_url: str, log_path: Path, remediate: bool, token: str | None = None
) -> ProcessSpec:
    """``aiops responder``: Alertmanager's webhook receiver, remediating only when told to (``token``: the responder's own)."""
    argv = aiops_argv("responder") + (("--host", host) if host is not None else ())
    # said either way, so a variable inherited from the shell cannot turn remediation on behind the caller's back
    argv += ("--port", str(port), "--collector-url", collector_url, "--log", str(log_path),
             "--remediate" if remediate else "--no-remediate")  # fmt: skip
    url = url_for(local_host(host or "127.0.0.1"), port)
    return ProcessSpec("responder", argv, url, f"{url}/healthz", env=_token_env(AIOPS_RESPONDER_TOKEN=token))


def console(
    *,
    host: str = "127.0.0.1",
    port: int,
    collector_url: str,
    detector_url: str | None = None,
    prometheus_url: str | None = None,
    signals_path: Path | None = None,
    refresh_every_seconds: float | None = None,
    token: str | None = None,
) -> ProcessSpec:
    """``aiops console``: the trainee console over the collector, the detector and Prometheus (the charts); ``token``: the runner's, for its writes."""
    argv = aiops_argv("console", "--host", host, "--port", str(port), "--collector-url", collector_url)
    for option, value in (("--detector-url", detector_url), ("--prometheus-url", prometheus_url), ("--signals", signals_path)):
        if value is not None:
            argv += (option, str(value))
    if refresh_every_seconds is not None:
        argv += ("--refresh-every", f"{refresh_every_seconds:g}s")
    url = url_for(local_host(host), port)
    return ProcessSpec("console", argv, url, f"{url}/api/config", env=_token_env(AIOPS_TOKEN=token))


def train_argv(
    *, prometheus_url: str, tracking_uri: str, history_days: float, eval_days: float, signals_path: Path | None = None
) -> tuple[str, ...]:
    """``aiops train`` on Prometheus' history and labels, into ``tracking_uri``: the one-shot trainer of the stack."""
    argv = aiops_argv(
        "train", "--prometheus-url", prometheus_url, "--tracking-uri", tracking_uri,
        "--history-days", f"{history_days:g}", "--eval-days", f"{eval_days:g}",
    )  # fmt: skip
    if signals_path is not None:
        argv += ("--signals", str(signals_path))
    return argv


def wait_ready(child: Child, spec: ProcessSpec) -> None:
    """Wait until ``spec.ready_url`` answers; raises :class:`plumbing.procs.ChildFailed` if the child dies or time runs out."""
    wait_until(lambda: http_ok(spec.ready_url), child=child, timeout_seconds=spec.ready_timeout_seconds)


def start(spec: ProcessSpec, *, log_dir: Path, cwd: Path | None = None, wait: bool = True) -> Child:
    """Spawn ``spec`` with its output in ``log_dir/<name>.log``; unless ``wait`` is false, wait until it is ready."""
    child = spawn(spec.name, spec.argv, log_path=log_dir / f"{spec.name}.log", cwd=cwd, env=dict(spec.env) or None)
    if wait:
        try:
            wait_ready(child, spec)
        except BaseException:
            child.stop()
            raise
    return child


def start_alertmanager(
    run_dir: Path,
    *,
    webhook_url: str,
    group_wait_seconds: float | None = None,
    group_interval_seconds: float | None = None,
    token: str | None = None,
) -> binaries.Server:
    """Alertmanager on a free loopback port (clustering off) with the project's config, sending to ``webhook_url``.

    With ``token`` (the responder's) every notification carries it; the rendered config is then readable by its owner only.
    """
    config = run_dir / "alertmanager.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.touch(mode=0o600)
    config.chmod(0o600)
    config.write_text(
        monitoring.render_alertmanager_config(
            webhook_url, group_wait_seconds=group_wait_seconds, group_interval_seconds=group_interval_seconds, token=token
        )
    )
    return binaries.start_alertmanager(config, storage_dir=run_dir / "alertmanager-data", log_path=run_dir / "alertmanager.log")


def start_prometheus(
    run_dir: Path,
    *,
    targets: Mapping[str, Sequence[str]],
    data_dir: Path | None = None,
    port: int | None = None,
    scrape_interval_seconds: float | None = None,
    alertmanager: binaries.Server | None = None,
    retention: str = "30d",
    alerting_model: str = "online",
) -> binaries.Server:
    """Prometheus on loopback with the project's config for ``{job: [host:port]}`` targets, over ``data_dir`` (backfilled blocks).

    ``alerting_model``: whose detections page (the rules are rendered for it, see :func:`plumbing.monitoring.render_rules`).
    """
    config = run_dir / "prometheus.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    rules = run_dir / "aiops-alerts.yml"
    rules.write_text(monitoring.render_rules(alerting_model))
    alertmanagers = [f"127.0.0.1:{alertmanager.port}"] if alertmanager is not None else None
    config.write_text(
        monitoring.render_config(targets, scrape_interval_seconds=scrape_interval_seconds, alertmanagers=alertmanagers, rule_files=[rules])
    )
    return binaries.start_prometheus(
        config, storage_dir=data_dir or run_dir / "prometheus-data", port=port, retention=retention, log_path=run_dir / "prometheus.log"
    )
