"""deploy/monitoring: Prometheus configs, the alert rules of blueprint §9.2 and the Grafana dashboards
of §9.3 are valid (promtool), every alert has cases that fire and cases that stay silent (and those
cases catch the blueprint's original expressions), and every metric an alert or a dashboard query
uses is exported by a real `servanda api` and `servanda worker` process after a request and an export.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import DbUnderTest, repo_root
from tests.test_contract_documents import lawyer  # noqa: F401 - fixture
from tests.test_export_worker import Worker, _free_port, completed_contract, data_dir, wait_for, workers  # noqa: F401

MONITORING = repo_root() / "deploy" / "monitoring"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
PROMTOOL = shutil.which("promtool")

# Series Prometheus makes itself for every target; not exported by the app.
PROMETHEUS_SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

# §9.3: the six dashboards.
DASHBOARD_TITLES = {
    "System Health",
    "API Performance",
    "Export Pipeline",
    "Tenant Activity",
    "Database",
    "Security",
}

# The expressions of blueprint §9.2 as written there (DatabaseConnectionPoolExhausted is unchanged).
BLUEPRINT_EXPRESSIONS = {
    "HighErrorRate": 'rate(servanda_http_request_duration_seconds_count{status_code=~"5.."}[5m]) > 0.01',
    "APILatencyHigh": "histogram_quantile(0.95, rate(servanda_http_request_duration_seconds_bucket[5m])) > 2",
    "ExportQueueBacklog": "servanda_export_queue_depth > 50",
    "ExportFailureRate": 'rate(servanda_export_job_duration_seconds_count{status="failed"}[15m]) '
    "/ rate(servanda_export_job_duration_seconds_count[15m]) > 0.05",
}


def promtool(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, (
        "promtool missing: install Debian's package prometheus (.ci/run does as root)"
    )
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def alert_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"][0][
        "rules"
    ]
    return rules


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) of every panel target."""
    found = []
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append((name, panel["title"], target["expr"]))
    return found


# -- PromQL metric names -------------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels and ranges left out)."""
    text = expr.replace("$__rate_interval", "5m")
    text = _STRING.sub('""', text)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or match.group().lower() in _KEYWORDS:
            continue  # a function or aggregation, or an operator keyword
        names.add(match.group())
    return names


def used_metrics() -> dict[str, set[str]]:
    """Metric name -> where it is used (alert names, dashboard/panel)."""
    used: dict[str, set[str]] = {}
    for rule in alert_rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(f"alert {rule['alert']}")
    for board, title, expr in dashboard_queries():
        for name in metric_names(expr):
            used.setdefault(name, set()).add(f"{board}: {title}")
    return used


def exported_names(exposition: str) -> set[str]:
    """Sample names a /metrics answer declares: samples present, and the type's names of empty families."""
    names = set()
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def not_exported(used: dict[str, set[str]], exported: set[str]) -> dict[str, set[str]]:
    return {
        name: where
        for name, where in used.items()
        if name not in exported and name not in PROMETHEUS_SYNTHETIC
    }


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(servanda_http_request_duration_seconds_bucket{route!~"/h.*",'
        'le="0.5"}[$__rate_interval] offset 1h))) / on (job) group_left (instance) max(servanda_db_pool_max) '
        "> bool 2 or vector(0) unless time() - process_start_time_seconds < 600"
    )
    assert metric_names(expr) == {
        "servanda_http_request_duration_seconds_bucket",
        "servanda_db_pool_max",
        "process_start_time_seconds",
    }
    # The check reports what is not exported, and where it is used.
    assert not_exported({"servanda_nope_total": {"alert X"}, "up": {"d"}}, {"servanda_db_pool_max"}) == {
        "servanda_nope_total": {"alert X"}
    }


# -- promtool ------------------------------------------------------------------------------------


def test_promtool_accepts_the_rules_and_both_scrape_configs(tmp_path: Path) -> None:
    checked = promtool("check", "rules", "alerts.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "5 rules found" in checked.stdout
    compose = promtool("check", "config", "prometheus.compose.yml")
    assert compose.returncode == 0, compose.stdout + compose.stderr
    # Debian's promtool is built without the Kubernetes service discovery: check the Kubernetes
    # configuration with its discovery swapped for a static one, everything else as it is.
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"own_namespace": True}}]
    relabel = {(tuple(r["source_labels"]), r.get("action", "replace")): r for r in job["relabel_configs"]}
    assert relabel[(("__meta_kubernetes_pod_label_app",), "keep")]["regex"] == "servanda"
    assert relabel[(("__meta_kubernetes_pod_annotation_prometheus_io_scrape",), "keep")]["regex"] == "true"
    assert relabel[(("__meta_kubernetes_pod_label_component",), "replace")]["replacement"] == "servanda-$1"
    del job["kubernetes_sd_configs"]
    job["static_configs"] = [{"targets": ["api:9464"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(MONITORING / "alerts.yaml", tmp_path)
    k8s = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert k8s.returncode == 0, k8s.stdout + k8s.stderr
    # The compose variant has the jobs the Kubernetes relabelling produces for the blueprint's components.
    jobs = {
        j["job_name"]
        for j in yaml.safe_load((MONITORING / "prometheus.compose.yml").read_text())["scrape_configs"]
    }
    assert jobs == {"servanda-api", "servanda-export-worker"}


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    (tmp_path / "alerts.yaml").write_text(
        (MONITORING / "alerts.yaml")
        .read_text()
        .replace("max(servanda_export_queue_depth)", "max(servanda_export_queue_depth")
    )
    assert promtool("check", "rules", "alerts.yaml", cwd=tmp_path).returncode != 0


def test_the_alert_cases_pass() -> None:
    tested = promtool("test", "rules", "alerts.test.yaml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_of_the_blueprint_has_a_firing_and_a_silent_case() -> None:
    names = [rule["alert"] for rule in alert_rules()]
    assert sorted(names) == sorted(
        [
            "HighErrorRate",
            "APILatencyHigh",
            "ExportQueueBacklog",
            "ExportFailureRate",
            "DatabaseConnectionPoolExhausted",
        ]
    )
    cases = yaml.safe_load((MONITORING / "alerts.test.yaml").read_text())["tests"]
    fires: set[str] = set()
    silent: set[str] = set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else silent).add(check["alertname"])
    assert fires == set(names) and silent == set(names)
    for rule in alert_rules():  # blueprint §9.2 severities; every alert says where its runbook is
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["runbook"] == f"docs/operations.md#alerts ({rule['alert']})"
    doc = (repo_root() / "docs" / "operations.md").read_text()
    for name in names:
        assert f"`{name}`" in doc, f"docs/operations.md does not explain {name}"


def test_the_cases_catch_the_blueprints_original_expressions(tmp_path: Path) -> None:
    """With §9.2's expressions the cases fail exactly where those expressions are wrong."""
    config = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    for rule in config["groups"][0]["rules"]:
        rule["expr"] = BLUEPRINT_EXPRESSIONS.get(rule["alert"], rule["expr"])
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(config))
    shutil.copy(MONITORING / "alerts.test.yaml", tmp_path)
    tested = promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert tested.returncode != 0
    failed = set(re.findall(r"alertname: (\w+)", tested.stdout + tested.stderr))
    assert failed == set(BLUEPRINT_EXPRESSIONS), tested.stdout


def test_the_kubernetes_deployments_carry_what_the_scrape_config_selects() -> None:
    """deploy/k8s/base: app/component labels and prometheus.io annotations on the ports compose scrapes."""
    ports = {"api": 9464, "export-worker": 9465}
    compose_targets = {
        j["job_name"]: j["static_configs"][0]["targets"][0]
        for j in yaml.safe_load((MONITORING / "prometheus.compose.yml").read_text())["scrape_configs"]
    }
    base = repo_root() / "deploy" / "k8s" / "base"
    for component, file in (
        ("api", "api-deployment.yaml"),
        ("export-worker", "export-worker-deployment.yaml"),
    ):
        (deployment,) = [
            d for d in yaml.safe_load_all((base / file).read_text()) if d and d["kind"] == "Deployment"
        ]
        template = deployment["spec"]["template"]
        assert template["metadata"]["labels"] == {"app": "servanda", "component": component} | {
            k: v for k, v in template["metadata"]["labels"].items() if k not in ("app", "component")
        }
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) == ports[component]
        container_ports = {
            p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])
        }
        assert ports[component] in container_ports, (component, container_ports)
        assert compose_targets[f"servanda-{component}"].endswith(f":{ports[component]}")


# -- dashboards ----------------------------------------------------------------------------------


def test_six_provisioned_dashboards_with_valid_queries(tmp_path: Path) -> None:
    boards = dashboards()
    assert {board["title"].removeprefix("Servanda · ") for board in boards.values()} == DASHBOARD_TITLES
    assert len({board["uid"] for board in boards.values()}) == 6
    datasources = yaml.safe_load(
        (MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )["datasources"]
    assert [d["uid"] for d in datasources] == ["prometheus"]
    providers = yaml.safe_load(
        (MONITORING / "grafana" / "provisioning" / "dashboards" / "servanda.yaml").read_text()
    )
    assert providers["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    for name, board in boards.items():
        assert board["panels"], name
        for panel in board["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
    # Every query is valid PromQL: promtool parses them as recording rules.
    rules = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
        for i, (_, _, expr) in enumerate(dashboard_queries())
    ]
    (tmp_path / "queries.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]})
    )
    checked = promtool("check", "rules", "queries.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# -- what a real API and worker export ----------------------------------------------------------


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready:\n{log.read_text()}")


@pytest.fixture
def api_process(clean_db: DbUnderTest, data_dir: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:  # noqa: F811
    """`servanda api` with METRICS_PORT, sharing the data dir (keys, storage) of the `api` fixture."""
    port, metrics_port = _free_port(), _free_port()
    log = tmp_path / "api.log"
    env = {
        **os.environ,
        "DATABASE_URL": clean_db.app,
        "SERVANDA_DATA_DIR": str(data_dir),
        "SERVANDA_ENV": "test",
        "METRICS_PORT": str(metrics_port),
        "METRICS_HOST": "127.0.0.1",
    }
    env.pop("DATABASE_ADMIN_URL", None)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "servanda", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/health/ready", process, log)
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_every_metric_an_alert_or_dashboard_uses_is_exported(
    api: TestClient,
    lawyer: dict[str, Any],  # noqa: F811
    su: psycopg.Connection,
    api_process: tuple[str, str],
    workers: Any,  # noqa: F811
) -> None:
    base, api_metrics = api_process
    worker = workers()
    contract = completed_contract(api, lawyer)
    # A request, a failed login and an export through the real API; the real worker renders it.
    assert httpx.get(f"{base}/api/v1/identity/me", headers=lawyer["headers"], timeout=10).status_code == 200
    refused = httpx.post(
        f"{base}/api/v1/auth/login",
        json={"tenant": "kanzlei-demo", "email": "anwalt@kanzlei-demo.de", "password": "falsch-falsch"},
        timeout=30,
    )
    assert refused.status_code == 401, refused.text
    queued = httpx.post(
        f"{base}/api/v1/export-jobs",
        json={"contractId": contract["id"], "format": "docx"},
        headers=lawyer["headers"],
        timeout=10,
    )
    assert queued.status_code in (201, 202), queued.text
    row = wait_for(su, queued.json()["id"], ("done", "failed"))
    assert row["status"] == "done", (row["error_code"], worker.log.read_text()[-2000:])

    api_scrape = httpx.get(api_metrics, timeout=10).text
    worker_scrape = httpx.get(worker.url("/metrics"), timeout=10).text
    exported = exported_names(api_scrape) | exported_names(worker_scrape)
    assert not_exported(used_metrics(), exported) == {}

    # The histograms and counters the alerts and dashboards rest on have real samples.
    api_samples = {s.name for f in text_string_to_metric_families(api_scrape) for s in f.samples}
    worker_samples = {s.name for f in text_string_to_metric_families(worker_scrape) for s in f.samples}
    for name in (
        "servanda_http_request_duration_seconds_bucket",
        "servanda_db_query_duration_seconds_bucket",
        "servanda_db_pool_active",
        "servanda_active_tenants_total",
        "servanda_security_events_total",
        "process_cpu_seconds_total",
    ):
        assert name in api_samples, name
    for name in (
        "servanda_export_job_duration_seconds_bucket",
        "servanda_export_queue_depth",
        "servanda_export_stored_bytes_total",
        "servanda_db_pool_max",
        "process_resident_memory_bytes",
    ):
        assert name in worker_samples, name
    assert 'servanda_security_events_total{action="user.login_failed"' in api_scrape
    assert 'route="/api/v1/auth/login",status_code="401"' in api_scrape  # the label values dashboards select
