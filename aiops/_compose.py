"""The docker-compose stack, generated from the stack specification (:mod:`aiops.stack`).

One definition of the stack: the kit's services in ``docker-compose.yml`` (collector, the
online detector, the champion detector, responder, console, the one-shot trainer) take
their commands, ports and healthchecks from the same :class:`aiops.stack.ProcessSpec` the
demo and the integration tests start, with container addresses (service names on the
compose network, ``--host 0.0.0.0``, data under :data:`DATA_DIR`). The compose copies of
the monitoring configs are rendered from the kit's own (``monitoring/``) by
:mod:`plumbing.monitoring`, with the service names as targets.

- :func:`generated_files`: every generated file and the text it must hold;
- :func:`write_generated`: write them, or (``check``) only say which are out of date.

``aiops compose generate [--check]`` (:mod:`aiops.commands.compose`) runs these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from plumbing import monitoring as mon
from plumbing.generated import GeneratedFile, write_generated

from . import stack

__all__ = [
    "BIND_VARIABLE",
    "COMPOSE_FILE",
    "DATA_DIR",
    "GeneratedFile",
    "IMAGES",
    "KIT_IMAGE",
    "PORTS",
    "compose_document",
    "generated_files",
    "kit_specs",
    "write_generated",
]

#: The one variable that opens every published port beyond loopback (``AIOPS_BIND=0.0.0.0`` for a room).
BIND_VARIABLE = "AIOPS_BIND"
COMPOSE_FILE = "docker-compose.yml"
#: The compose copies of the monitoring configs (relative to the checkout).
COMPOSE_MONITORING = Path("monitoring") / "compose"

#: The kit's image, built from the Dockerfile (tagged with the kit's version in pyproject.toml).
KIT_VERSION = "0.1.0"
KIT_IMAGE = f"aiops-workshop-kit:{KIT_VERSION}"
#: The kit's image with promtool (the Dockerfile's ``backfill`` stage), for the one-shot backfill.
BACKFILL_IMAGE = f"aiops-workshop-kit-backfill:{KIT_VERSION}"

#: Third-party images, each pinned. Prometheus' version is the Dockerfile's promtool too (a test compares them);
#: Grafana's is the build the dashboards' SDK targets (grafana-foundation-sdk 11.6); MLflow's is the client's.
IMAGES = {
    "prometheus": "prom/prometheus:v2.53.4",
    "alertmanager": "prom/alertmanager:v0.27.0",
    "grafana": "grafana/grafana:11.6.0",
    "mlflow": "ghcr.io/mlflow/mlflow:v3.17.2",
}

#: Port of each service inside its container, published on the same host port.
PORTS = {
    "collector": 8000,
    "detector": 8001,
    "responder": 8002,
    "console": 8003,
    "champion": 8004,
    "prometheus": 9090,
    "alertmanager": 9093,
    "grafana": 3000,
    "mlflow": 5000,
}

#: The kit's data in its containers (the ``aiops-data`` volume): incident and alert logs, the backfilled history.
DATA_DIR = Path("/var/lib/aiops")
HISTORY_DIR = DATA_DIR / "history"
#: Prometheus' storage in its container and in the backfill's (the ``prometheus-data`` volume). Not the Prometheus
#: image's own ``/prometheus``: Docker seeds an empty named volume with the image's folder (and its owner) when a
#: container that mounts it is created, so only the kit's image, where the folder belongs to the kit's user, may
#: have one; Prometheus runs as that user.
PROMETHEUS_DATA = "/var/lib/prometheus"
#: Days of backfilled history (as ``aiops demo``: a weekly cycle and a day, so the weekly terms fit from the start).
HISTORY_DAYS = 8.0
#: The trainer's split of that history: seven training days, the rest (less a quarter day) evaluates.
TRAIN_DAYS, EVAL_DAYS = 7.0, 0.75
SEED = 0
#: The kit's user in its image (the Dockerfile's ``aiops``); Prometheus runs as it too, to write the backfilled volume.
KIT_UID = "10001:10001"

#: A kit service's healthcheck: GET its ready URL (exit 1 on an error or an HTTP error status).
HEALTH_PY = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=4)"
HEALTH_TIMING = {"interval": "10s", "timeout": "5s", "retries": 6}


def _url(service: str) -> str:
    return f"http://{service}:{PORTS[service]}"


def kit_specs() -> dict[str, stack.ProcessSpec]:
    """The kit's long-running services as their containers run them (listening on every interface, service names as addresses)."""
    collector_url, prometheus_url = _url("collector"), _url("prometheus")
    return {
        "collector": stack.collector(host="0.0.0.0", port=PORTS["collector"], seed=SEED, log_path=DATA_DIR / "incidents.jsonl"),
        "detector": stack.detector(
            host="0.0.0.0", port=PORTS["detector"], prometheus_url=prometheus_url, collector_url=collector_url,
            incident_records=HISTORY_DIR / "incidents.jsonl",
        ),  # fmt: skip
        "champion": stack.detector(
            host="0.0.0.0", port=PORTS["champion"], prometheus_url=prometheus_url, collector_url=collector_url,
            model_source="registry", tracking_uri=_url("mlflow"),
        ),  # fmt: skip
        "responder": stack.responder(
            host="0.0.0.0", port=PORTS["responder"], collector_url=collector_url, log_path=DATA_DIR / "alerts.jsonl", remediate=False
        ),
        "console": stack.console(
            host="0.0.0.0", port=PORTS["console"], collector_url=collector_url, detector_url=_url("detector"), prometheus_url=prometheus_url
        ),
    }


def train_argv() -> tuple[str, ...]:
    """The one-shot trainer's command: ``aiops train`` on Prometheus' backfilled history, into the MLflow server."""
    return stack.train_argv(prometheus_url=_url("prometheus"), tracking_uri=_url("mlflow"), history_days=TRAIN_DAYS, eval_days=EVAL_DAYS)


def command(argv: tuple[str, ...]) -> list[str]:
    """A spec's ``python -m aiops ...`` as the image runs it: ``aiops ...`` (the image installs the command)."""
    prefix = stack.aiops_argv()
    if argv[: len(prefix)] != prefix:
        raise ValueError(f"not an aiops command: {argv}")
    return ["aiops", *argv[len(prefix) :]]


def _ports(service: str) -> list[str]:
    port = PORTS[service]
    return [f"${{{BIND_VARIABLE}:-127.0.0.1}}:{port}:{port}"]


def _healthy(*services: str) -> dict[str, dict[str, str]]:
    return {s: {"condition": "service_healthy"} for s in services}


def _wget_health(url: str, start_period: str = "30s") -> dict[str, Any]:
    # the Prometheus, Alertmanager and Grafana images carry busybox wget, not Python
    return {"test": ["CMD", "wget", "-q", "-O", "/dev/null", url], **HEALTH_TIMING, "start_period": start_period}


#: Where the Alertmanager container writes the responder's token from ``.env`` before it starts (its config names the file).
RESPONDER_TOKEN_FILE = "/tmp/aiops-responder-token"
#: The tokens every write off loopback needs (plumbing/guard.py); the containers listen off loopback, so ``.env`` must set them.
TOKENS = {
    "AIOPS_TOKEN": "${AIOPS_TOKEN:?set AIOPS_TOKEN in .env (see .env.example)}",
    "AIOPS_RESPONDER_TOKEN": "${AIOPS_RESPONDER_TOKEN:?set AIOPS_RESPONDER_TOKEN in .env (see .env.example)}",
}
#: Which tokens each kit service holds: the collector checks both, the responder and the console send theirs.
SERVICE_TOKENS = {"collector": ("AIOPS_TOKEN", "AIOPS_RESPONDER_TOKEN"), "responder": ("AIOPS_RESPONDER_TOKEN",), "console": ("AIOPS_TOKEN",)}


def _kit_service(spec: stack.ProcessSpec, depends_on: dict[str, dict[str, str]], volumes: list[str]) -> dict[str, Any]:
    service: dict[str, Any] = {
        "image": KIT_IMAGE,
        "build": {"context": ".", "target": "kit"},
        "command": command(spec.argv),
        "ports": _ports(spec.name),
        "healthcheck": {
            "test": ["CMD", "python", "-c", HEALTH_PY, spec.ready_url],
            **HEALTH_TIMING,
            "start_period": f"{spec.ready_timeout_seconds:g}s",
        },
        "restart": "unless-stopped",
    }
    if spec.name in SERVICE_TOKENS:
        service["environment"] = {name: TOKENS[name] for name in SERVICE_TOKENS[spec.name]}
    if depends_on:
        service["depends_on"] = depends_on
    if volumes:
        service["volumes"] = volumes
    return service


def backfill_script() -> str:
    """The backfill's shell script: the history as OpenMetrics (``aiops backfill``), one block per file (promtool), once per volume."""
    done = f"{PROMETHEUS_DATA}/.aiops-backfilled"
    instance = f"collector:{PORTS['collector']}"  # the live scrape's instance label, so history and live data are one series
    return "\n".join(
        [
            "set -eu",
            f"if [ -e {done} ]; then echo 'the history is already in the Prometheus volume'; exit 0; fi",
            f"aiops backfill --days {HISTORY_DAYS:g} --seed {SEED} --instance {instance} --out {HISTORY_DIR}",
            f"for f in {HISTORY_DIR}/history-*.om; do",
            f'  promtool tsdb create-blocks-from openmetrics --quiet "$$f" {PROMETHEUS_DATA}',
            "done",
            f"rm -f {HISTORY_DIR}/history-*.om  # loaded; the detector keeps only incidents.jsonl",
            f"touch {done}",
            "",
        ]
    )


def compose_document() -> dict[str, Any]:
    """``docker-compose.yml`` as data."""
    specs = kit_specs()
    data = f"aiops-data:{DATA_DIR}"
    services: dict[str, Any] = {
        "backfill": {
            "image": BACKFILL_IMAGE,
            "build": {"context": ".", "target": "backfill"},
            "command": ["sh", "-c", backfill_script()],
            "volumes": [f"prometheus-data:{PROMETHEUS_DATA}", data],
        },
        "prometheus": {
            "image": IMAGES["prometheus"],
            "user": KIT_UID,
            "command": [
                "--config.file=/etc/prometheus/prometheus.yml",
                f"--storage.tsdb.path={PROMETHEUS_DATA}",
                f"--storage.tsdb.retention.time={HISTORY_DAYS + 7:g}d",
            ],
            "ports": _ports("prometheus"),
            "volumes": [
                f"./{COMPOSE_MONITORING}/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                f"./{COMPOSE_MONITORING}/rules:/etc/prometheus/rules:ro",
                f"prometheus-data:{PROMETHEUS_DATA}",
            ],
            "healthcheck": _wget_health("http://127.0.0.1:9090/-/ready", "60s"),
            "depends_on": {"backfill": {"condition": "service_completed_successfully"}, **_healthy("alertmanager")},
            "restart": "unless-stopped",
        },
        "alertmanager": {
            "image": IMAGES["alertmanager"],
            # the responder's token from .env into the file the config names, then Alertmanager itself
            "entrypoint": ["/bin/sh", "-c"],
            "command": [
                f"umask 077 && printf '%s' \"$$AIOPS_RESPONDER_TOKEN\" > {RESPONDER_TOKEN_FILE} && exec /bin/alertmanager "
                "--config.file=/etc/alertmanager/alertmanager.yml --storage.path=/alertmanager --cluster.listen-address="
            ],
            "environment": {"AIOPS_RESPONDER_TOKEN": TOKENS["AIOPS_RESPONDER_TOKEN"]},
            "ports": _ports("alertmanager"),
            "volumes": [f"./{COMPOSE_MONITORING}/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"],
            "healthcheck": _wget_health("http://127.0.0.1:9093/-/ready"),
            "restart": "unless-stopped",
        },
        "grafana": {
            "image": IMAGES["grafana"],
            "environment": {
                "GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD in .env (see .env.example)}",
                "GF_AUTH_ANONYMOUS_ENABLED": "true",
                "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
                "GF_USERS_ALLOW_SIGN_UP": "false",
                # the provisioned datasource's URL (monitoring/grafana/provisioning/datasources/aiops.yml)
                "AIOPS_PROMETHEUS_URL": _url("prometheus"),
            },
            "ports": _ports("grafana"),
            "volumes": [
                "./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro",
                "./dashboards/json:/var/lib/grafana/dashboards/aiops:ro",
                "grafana-data:/var/lib/grafana",
            ],
            "healthcheck": _wget_health("http://127.0.0.1:3000/api/health"),
            "depends_on": _healthy("prometheus"),
            "restart": "unless-stopped",
        },
        "mlflow": {
            "image": IMAGES["mlflow"],
            "command": [
                "mlflow", "server", "--host", "0.0.0.0", "--port", str(PORTS["mlflow"]),
                "--backend-store-uri", "sqlite:////mlflow/mlflow.db", "--artifacts-destination", "/mlflow/artifacts",
                # the other containers call it by its service name: accept that Host header besides loopback's
                "--allowed-hosts", f"mlflow,mlflow:{PORTS['mlflow']},localhost,localhost:{PORTS['mlflow']},127.0.0.1,127.0.0.1:{PORTS['mlflow']}",
            ],  # fmt: skip
            "ports": _ports("mlflow"),
            "volumes": ["mlflow-data:/mlflow"],
            "healthcheck": {
                "test": ["CMD", "python", "-c", HEALTH_PY, f"http://127.0.0.1:{PORTS['mlflow']}/health"],
                **HEALTH_TIMING,
                "start_period": "60s",
            },
            "restart": "unless-stopped",
        },
        "trainer": {
            "image": KIT_IMAGE,
            "build": {"context": ".", "target": "kit"},
            "command": command(train_argv()),
            "depends_on": _healthy("prometheus", "mlflow"),
        },
        "collector": _kit_service(specs["collector"], {}, [data]),
        "detector": _kit_service(specs["detector"], _healthy("prometheus", "collector"), [f"{data}:ro"]),
        "champion": _kit_service(
            specs["champion"],
            {**_healthy("prometheus", "collector", "mlflow"), "trainer": {"condition": "service_completed_successfully"}},
            [],
        ),
        "responder": _kit_service(specs["responder"], _healthy("collector"), [data]),
        "console": _kit_service(specs["console"], _healthy("collector", "detector", "prometheus"), []),
    }
    return {
        "services": services,
        "volumes": {name: {} for name in ("prometheus-data", "grafana-data", "mlflow-data", "aiops-data")},
    }


class _Dumper(yaml.SafeDumper):
    """Block style, but a list of scalars (a command, a port) on one line."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(x, (str, int, float)) for x in data) and sum(len(str(x)) for x in data) < 100
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)

_HEADER = """\
# Generated by `aiops compose generate` from aiops/_compose.py and the stack specification (aiops/stack.py):
# edit those, not this file (`aiops compose generate --check` and the tests fail when it drifts).
"""

COMPOSE_HEADER = (
    _HEADER
    + f"""#
# The whole kit: `docker compose up` (README.md, "The docker-compose stack"). Every published port is bound to
# ${BIND_VARIABLE} (default 127.0.0.1, this machine only); {BIND_VARIABLE}=0.0.0.0 in .env opens them for a room.
# Reads are open; every write needs the tokens set in .env (AIOPS_TOKEN, AIOPS_RESPONDER_TOKEN).
"""
)


def render_compose() -> str:
    """``docker-compose.yml``'s text."""
    return COMPOSE_HEADER + "\n" + yaml.dump(compose_document(), Dumper=_Dumper, sort_keys=False, width=160)


def _strip_header(text: str) -> str:
    # the renderers name the absolute path of their source; the generated copy names it relative to the checkout
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("# Rendered from "))


def render_prometheus_config() -> str:
    """The kit's ``prometheus.yml`` with the containers' service names as targets and the rules beside it."""
    targets = {
        mon.COLLECTOR_JOB: [f"collector:{PORTS['collector']}"],
        mon.DETECTOR_JOB: [f"detector:{PORTS['detector']}", f"champion:{PORTS['champion']}"],
    }
    text = _strip_header(mon.render_config(targets, alertmanagers=[f"alertmanager:{PORTS['alertmanager']}"]))
    config = yaml.safe_load(text)
    config["rule_files"] = ["rules/aiops-alerts.yml"]  # relative to this file, in the checkout and in the container alike
    note = "# Rendered from monitoring/prometheus.yml with the compose services' names as targets.\n"
    return _HEADER + note + yaml.safe_dump(config, sort_keys=False)


def render_rules() -> str:
    """The kit's alert rules, the online detector's detections paging (as ``aiops demo`` does by default)."""
    note = "# Rendered from monitoring/rules/aiops-alerts.yml (the online detector's detections page).\n"
    return _HEADER + note + _strip_header(mon.render_rules("online"))


def render_alertmanager_config() -> str:
    """The kit's Alertmanager config, sending to the responder by its service name."""
    note = "# Rendered from monitoring/alertmanager.yml, sending to the responder service.\n"
    return _HEADER + note + _strip_header(mon.render_alertmanager_config(f"{_url('responder')}/alertmanager", token_file=RESPONDER_TOKEN_FILE))


def generated_files(root: Path) -> list[GeneratedFile]:
    """Every generated file under the checkout ``root``: the compose file and its monitoring configs."""
    out = root / COMPOSE_MONITORING
    return [
        GeneratedFile(root / COMPOSE_FILE, render_compose()),
        GeneratedFile(out / "prometheus.yml", render_prometheus_config()),
        GeneratedFile(out / "rules" / "aiops-alerts.yml", render_rules()),
        GeneratedFile(out / "alertmanager.yml", render_alertmanager_config()),
    ]
