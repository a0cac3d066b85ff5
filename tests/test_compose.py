"""deploy/compose.yaml, the local full stack: valid for `docker-compose config` (Debian's package),
every build and mounted file exists, the app's services get only environment variables the app
reads (and a production configuration it accepts), commands the CLI has, and start in order.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml

from servanda.cli import cli
from servanda.platform.config import Settings
from tests.conftest import repo_root

DEPLOY = repo_root() / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
APP_SERVICES = ("migrate", "api", "worker")
SERVICES = {
    "postgres", "minio", "minio-init", "keycloak", "migrate", "api", "worker", "frontend", "edge",
    "prometheus", "grafana",
}  # fmt: skip


def compose_config(path: Path = COMPOSE) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose missing: install Debian's package docker-compose (.ci/run does as root)"
    return subprocess.run([binary, "-f", str(path), "config"], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    rendered = compose_config()
    assert rendered.returncode == 0, rendered.stderr
    config: dict[str, Any] = yaml.safe_load(rendered.stdout)
    return config


def app_variables() -> set[str]:
    """The environment variables Settings reads (field names and aliases, upper case)."""
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        alias = field.validation_alias
        for choice in getattr(alias, "choices", []):
            names.add(str(choice).upper())
    return names


def unknown_variables(environment: dict[str, str]) -> set[str]:
    return set(environment) - app_variables()


def start_order_problems(services: dict[str, Any]) -> list[str]:
    """Dependencies the stack needs (who waits for whom, and for what)."""
    needed = {
        "minio-init": {"minio": "service_healthy"},
        "migrate": {"postgres": "service_healthy"},
        "api": {"migrate": "service_completed_successfully", "minio-init": "service_completed_successfully"},
        "worker": {
            "migrate": "service_completed_successfully",
            "minio-init": "service_completed_successfully",
        },
        "edge": {"api": "service_healthy"},
        "prometheus": {"api": "service_started", "worker": "service_started"},
        "grafana": {"prometheus": "service_started"},
    }
    problems = []
    for service, waits in needed.items():
        depends = services[service].get("depends_on", {})
        for other, condition in waits.items():
            if depends.get(other, {}).get("condition") != condition:
                problems.append(f"{service} must wait for {other} ({condition})")
    return problems


def test_the_stack_renders_with_every_service(stack: dict[str, Any]) -> None:
    assert set(stack["services"]) == SERVICES


def test_images_builds_and_mounted_files_exist(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        build = service.get("build")
        if build:
            context = Path(build["context"])
            assert (context / build["dockerfile"]).is_file(), (name, build)
            assert context.resolve() == repo_root(), name  # the Dockerfiles copy from the repo root
        else:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag ({image})"
        for source, _ in _mounts(service):
            if source.startswith("/"):
                assert Path(source).exists(), (name, source)
    images = {
        name: service["build"]["dockerfile"]
        for name, service in stack["services"].items()
        if "build" in service
    }
    assert images == {
        "migrate": "deploy/docker/Dockerfile.api",
        "api": "deploy/docker/Dockerfile.api",
        "worker": "deploy/docker/Dockerfile.export-worker",
        "frontend": "deploy/docker/Dockerfile.frontend",
    }


def test_the_app_gets_only_variables_it_reads_and_a_configuration_it_accepts(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = set(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]
    for name in APP_SERVICES:
        service = stack["services"][name]
        assert unknown_variables(service["environment"]) == set(), name
        program, command, *_ = service["command"]
        assert program == "servanda" and command in commands, (name, service["command"])
        # The production validation of `servanda api/worker/migrate` passes with exactly this environment.
        for variable in app_variables():
            monkeypatch.delenv(variable, raising=False)
        for variable, value in service["environment"].items():
            monkeypatch.setenv(variable, str(value))
        settings = Settings()
        assert settings.servanda_env == "production" and settings.identity_provider == "oidc", name
        assert not settings.embedded_database
    assert [stack["services"][n]["command"][1] for n in APP_SERVICES] == ["migrate", "api", "worker"]
    assert "DATABASE_ADMIN_URL" in stack["services"]["migrate"]["environment"]
    for name in ("api", "worker"):  # the owner URL belongs to the migration step only
        assert "DATABASE_ADMIN_URL" not in stack["services"][name]["environment"]
    # A misspelt variable is caught.
    assert unknown_variables({"KEYCLOAK_URL": "x", "EXPORT_CONCURENCY": "3"}) == {"EXPORT_CONCURENCY"}


def test_start_order(stack: dict[str, Any]) -> None:
    assert start_order_problems(stack["services"]) == []
    broken = json.loads(json.dumps(stack["services"]))
    del broken["api"]["depends_on"]["migrate"]
    assert start_order_problems(broken) == ["api must wait for migrate (service_completed_successfully)"]


def test_the_services_find_each_other(stack: dict[str, Any]) -> None:
    services = stack["services"]
    env = services["api"]["environment"]
    # Keycloak: the issuer the API derives is the host name and port Keycloak writes into tokens,
    # reachable inside the network (alias) and from the browser (*.localhost).
    keycloak = services["keycloak"]
    issuer_host = urlsplit(env["KEYCLOAK_URL"])
    assert keycloak["environment"]["KC_HOSTNAME"] == env["KEYCLOAK_URL"]
    assert issuer_host.hostname in keycloak["networks"]["default"]["aliases"]
    assert f"--http-port={issuer_host.port}" in keycloak["command"]
    assert any(
        p["target"] == issuer_host.port and p["published"] == issuer_host.port for p in _ports(keycloak)
    )
    realm_file = next(
        source for source, target in _mounts(keycloak) if target.startswith("/opt/keycloak/data/import/")
    )
    realm = json.loads(Path(realm_file).read_text())
    assert realm["realm"] == env["KEYCLOAK_REALM"]
    clients = {c["clientId"]: c for c in realm["clients"]}
    web = clients[env["OIDC_CLIENT_ID"]]
    assert web["publicClient"] and web["attributes"]["pkce.code.challenge.method"] == "S256"
    mappers = {m["protocolMapper"]: m["config"] for m in web["protocolMappers"]}
    assert mappers["oidc-usermodel-attribute-mapper"]["claim.name"] == "tenant_id"
    assert mappers["oidc-audience-mapper"]["included.custom.audience"] == env["OIDC_AUDIENCE"]
    assert mappers["oidc-usermodel-realm-role-mapper"]["claim.name"] == "realm_access.roles"
    api_client = clients[env["OIDC_AUDIENCE"]]  # the audience is a client of its own that issues nothing
    assert api_client["bearerOnly"] and not api_client["standardFlowEnabled"]
    assert not api_client["directAccessGrantsEnabled"] and not api_client["serviceAccountsEnabled"]
    edge_port = next(p["published"] for p in _ports(services["edge"]))
    assert f"http://localhost:{edge_port}/*" in web["redirectUris"]
    assert env["PUBLIC_BASE_URL"] == f"http://localhost:{edge_port}"
    assert services["frontend"]["environment"]["OIDC_ORIGIN"] == env["KEYCLOAK_URL"]
    # MinIO: the endpoint the API signs download links for, and the bucket the one-shot creates.
    s3 = urlsplit(env["S3_ENDPOINT"])
    assert s3.hostname in services["minio"]["networks"]["default"]["aliases"]
    assert any(p["target"] == s3.port and p["published"] == s3.port for p in _ports(services["minio"]))
    assert f"mc mb --ignore-existing local/{env['S3_BUCKET']}" in " ".join(services["minio-init"]["command"])
    assert services["minio"]["environment"]["MINIO_ROOT_USER"] == env["S3_ACCESS_KEY"]
    # Prometheus scrapes the ports the API and the worker serve /metrics on.
    scrape = yaml.safe_load((DEPLOY / "monitoring" / "prometheus.compose.yml").read_text())
    targets = {j["job_name"]: j["static_configs"][0]["targets"] for j in scrape["scrape_configs"]}
    assert targets["servanda-api"] == [f"api:{env['METRICS_PORT']}"]
    assert targets["servanda-export-worker"] == [
        f"worker:{services['worker']['environment']['EXPORT_WORKER_PORT']}"
    ]
    assert "--config.file=/etc/prometheus/prometheus.compose.yml" in services["prometheus"]["command"]
    # The database roles the URLs name are the ones the init script creates.
    init = (DEPLOY / "compose" / "postgres-init.sql").read_text()
    for name in APP_SERVICES:
        for variable, value in services[name]["environment"].items():
            if variable.startswith("DATABASE_") and variable.endswith("_URL"):
                url = urlsplit(value)
                assert f"CREATE ROLE {url.username} LOGIN" in init and f"PASSWORD '{url.password}'" in init
                assert url.path == "/servanda" and "CREATE DATABASE servanda" in init


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume, in either of docker-compose's renderings."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append((str(volume.get("source", "")), str(volume["target"])))
        else:
            source, target, *_ = str(volume).split(":")
            mounts.append((source, target))
    return mounts


def _ports(service: dict[str, Any]) -> list[dict[str, int]]:
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append({"target": int(port["target"]), "published": int(port["published"])})
        else:
            published, target = str(port).rsplit(":", 1)[-2:] if str(port).count(":") else (port, port)
            ports.append({"target": int(target), "published": int(str(published).split(":")[-1])})
    return ports


def test_docker_compose_rejects_a_broken_stack(tmp_path: Path) -> None:
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["api"]["depends_on"]["nowhere"] = {"condition": "service_started"}
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(broken))
    rendered = compose_config(tmp_path / "compose.yaml")
    assert rendered.returncode != 0 and "nowhere" in rendered.stderr
