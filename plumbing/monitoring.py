"""What the kit's parts share about Prometheus: where its configs are, the scrape interval, the job names.

The configs live in the ``monitoring`` data package (installed with the kit, so they are
found without a checkout or a particular working directory); ``AIOPS_MONITORING_DIR``
points at another copy (a container's mount, a room's edited configs).

- :func:`monitoring_dir`, :func:`prometheus_config`, :func:`alertmanager_config`;
- the one timing number, written once in ``prometheus.yml``: :func:`scrape_interval_seconds`
  (the collector's tick, the detector's query step and Grafana's ``timeInterval`` follow it);
- the scrape jobs :data:`COLLECTOR_JOB`, :data:`DETECTOR_JOB` (backfilled history carries the
  collector's job label too);
- :func:`render_config` / :func:`render_alertmanager_config`: the project's configs for other
  targets, a shorter interval or another webhook (the demo and the tests render copies).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from plumbing.durations import format_duration, parse_duration

__all__ = [
    "ALERTING_MODELS",
    "COLLECTOR_JOB",
    "DETECTOR_JOB",
    "MONITORING_DIR_ENV",
    "alert_names",
    "alertmanager_config",
    "monitoring_dir",
    "prometheus_config",
    "render_alertmanager_config",
    "render_config",
    "render_rules",
    "scrape_interval_seconds",
]

#: The scrape job of the collector; backfilled history carries the same ``job`` label.
COLLECTOR_JOB = "aiops-collector"
#: The scrape job of the detector.
DETECTOR_JOB = "aiops-detector"
#: The variable that points the kit at another copy of the ``monitoring`` folder.
MONITORING_DIR_ENV = "AIOPS_MONITORING_DIR"


def monitoring_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder of the Prometheus and Alertmanager configs: ``$AIOPS_MONITORING_DIR``, else the installed package data."""
    env = os.environ if environ is None else environ
    override = env.get(MONITORING_DIR_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
        if not (path / "prometheus.yml").is_file():
            raise ValueError(f"{MONITORING_DIR_ENV}={override!r}: no prometheus.yml in that folder")
        return path
    spec = importlib.util.find_spec("monitoring")  # finds the data package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the kit's monitoring configs are not installed; set {MONITORING_DIR_ENV}")
    return Path(next(iter(spec.submodule_search_locations)))


def prometheus_config(environ: Mapping[str, str] | None = None) -> Path:
    """The project's Prometheus config (``prometheus.yml``)."""
    return monitoring_dir(environ) / "prometheus.yml"


def alertmanager_config(environ: Mapping[str, str] | None = None) -> Path:
    """The project's Alertmanager config (``alertmanager.yml``)."""
    return monitoring_dir(environ) / "alertmanager.yml"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a Prometheus config (expected a mapping)")
    return data


def alert_names(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The name of every alert the kit's rule files (``monitoring/rules/*.yml``) declare."""
    names: list[str] = []
    for path in sorted((monitoring_dir(environ) / "rules").glob("*.yml")):
        for group in _load(path).get("groups") or []:
            names.extend(str(rule["alert"]) for rule in group.get("rules") or [] if "alert" in rule)
    return tuple(names)


def scrape_interval_seconds(config_path: Path | None = None) -> float:
    """The scrape interval written down in the project's Prometheus config (``global.scrape_interval``)."""
    config_path = config_path or prometheus_config()
    value = (_load(config_path).get("global") or {}).get("scrape_interval")
    if value is None:
        raise ValueError(f"{config_path}: global.scrape_interval is not set")
    return parse_duration(value)


def render_config(
    targets: Mapping[str, Sequence[str]],
    *,
    scrape_interval_seconds: float | None = None,
    alertmanagers: Sequence[str] | None = None,
    base: Path | None = None,
    rule_files: Sequence[Path] | None = None,
) -> str:
    """The project's config as YAML text with the given ``{job: [host:port, ...]}`` targets.

    ``rule_files`` replaces the config's rule files (e.g. rules from :func:`render_rules`).

    Jobs of the base config not named in ``targets`` are left out (a test or the demo
    scrapes only what it started); a named job the base config lacks is an error. With
    ``scrape_interval_seconds`` the global interval (and evaluation interval) are set to it,
    and the scrape timeout is kept below it. Relative ``rule_files`` are made absolute so the
    rendered file can live anywhere. ``alertmanagers`` (``host:port``) replaces the
    Alertmanager targets; without it the ``alerting`` section is left out (nothing to send to).
    """
    base = base or prometheus_config()
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
    if rule_files is not None:
        config["rule_files"] = [str(Path(p).resolve()) for p in rule_files]
    elif config.get("rule_files"):
        config["rule_files"] = [str((Path(base).parent / p).resolve()) for p in config["rule_files"]]
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    else:
        config.pop("alerting", None)
    header = f"# Rendered from {base} by plumbing.monitoring.render_config; edit that file, not this one.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def render_alertmanager_config(
    webhook_url: str,
    *,
    group_wait_seconds: float | None = None,
    group_interval_seconds: float | None = None,
    base: Path | None = None,
    token: str | None = None,
    token_file: str | None = None,
) -> str:
    """The project's Alertmanager config as YAML text, sending to ``webhook_url`` (tests shorten the waits).

    With ``token`` (the responder's), every notification carries ``Authorization: Bearer <token>``
    (``http_config.authorization``); the text then holds a secret: write it to a file only its owner reads.
    ``token_file`` instead: Alertmanager reads the token from that file (``credentials_file``), so the
    config holds no secret (the compose stack writes the file from its ``.env``).
    """
    base = base or alertmanager_config()
    config = _load(base)
    for receiver in config.get("receivers") or []:
        for hook in receiver.get("webhook_configs") or []:
            hook["url"] = webhook_url
            if token:
                hook["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
            elif token_file:
                hook["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": token_file}}
    route = config.setdefault("route", {})
    if group_wait_seconds is not None:
        route["group_wait"] = format_duration(group_wait_seconds)
    if group_interval_seconds is not None:
        route["group_interval"] = format_duration(group_interval_seconds)
    header = f"# Rendered from {base} by plumbing.monitoring.render_alertmanager_config; edit that file, not this one.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


#: The models whose detections can page (the detector's ``model`` label).
ALERTING_MODELS = ("online", "champion")
INCIDENT_ALERT = "AIOpsIncidentDetected"


def render_rules(alerting_model: str = "online", *, base: Path | None = None) -> str:
    """The project's alert rules as YAML text, with ``alerting_model``'s detections paging.

    One model pages so Alertmanager and the responder never act twice on one incident: the
    incident alert's selector ``model="online"`` becomes ``model="<alerting_model>"``.
    """
    if alerting_model not in ALERTING_MODELS:
        raise ValueError(f"alerting model must be one of {', '.join(ALERTING_MODELS)}, not {alerting_model!r}")
    base = base or monitoring_dir() / "rules" / "aiops-alerts.yml"
    config = _load(base)
    found = 0
    for group in config.get("groups") or []:
        for rule in group.get("rules") or []:
            if rule.get("alert") == INCIDENT_ALERT:
                expr = str(rule["expr"])
                if 'model="online"' not in expr:
                    raise ValueError(f"{base}: the {INCIDENT_ALERT} rule does not select model=\"online\": {expr}")
                rule["expr"] = expr.replace('model="online"', f'model="{alerting_model}"')
                found += 1
    if not found:
        raise ValueError(f"{base}: no {INCIDENT_ALERT} rule")
    header = f"# Rendered from {base} by plumbing.monitoring.render_rules ({alerting_model} pages); edit that file, not this one.\n"
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
