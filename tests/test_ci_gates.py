"""The CI gates `make test` adds (docs/operations.md "CI gates"): the dependency audit fails when its
vulnerability services cannot be reached (unless that is accepted explicitly, loudly), the SBOM step
writes CycloneDX files of the runtime Python and web dependencies, and the coverage floor is wired
into the one pytest run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from tests.conftest import repo_root

ROOT = repo_root()
DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens on the discard port: every request is refused


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    assert Path(found).exists(), "uv missing"
    return found


def run_script(name: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "UV": uv()}
    environment.pop("DEPENDENCY_AUDIT", None)
    environment.update(env)
    return subprocess.run(
        ["bash", str(ROOT / ".ci" / name)], env=environment, capture_output=True, text=True, timeout=300
    )


def test_the_dependency_audit_fails_when_nothing_could_be_audited() -> None:
    offline = {
        "HTTPS_PROXY": DEAD_PROXY,
        "HTTP_PROXY": DEAD_PROXY,
        "npm_config_https_proxy": DEAD_PROXY,
        "npm_config_proxy": DEAD_PROXY,
        "npm_config_fetch_retries": "0",
    }
    refused = run_script("dependency-audit.sh", **offline)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "pip-audit could not query the PyPI vulnerability service" in refused.stderr
    assert "npm audit could not query the registry's advisory service" in refused.stderr
    assert "the vulnerability services could not be reached, so nothing was audited" in refused.stderr
    # Accepting it takes an explicit setting, and the run says loudly that nothing was audited.
    accepted = run_script("dependency-audit.sh", DEPENDENCY_AUDIT="unavailable", **offline)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "DEPENDENCY AUDIT NOT PERFORMED" in accepted.stderr


def test_the_sbom_lists_the_runtime_dependencies(tmp_path: Path) -> None:
    made = run_script("sbom.sh", SBOM_DIR=str(tmp_path))
    assert made.returncode == 0, made.stdout + made.stderr
    python = json.loads((tmp_path / "python.cdx.json").read_text())
    web = json.loads((tmp_path / "web.cdx.json").read_text())
    assert python["bomFormat"] == web["bomFormat"] == "CycloneDX"
    python_names = {c["name"].lower() for c in python["components"]}
    shipped = {c["name"] for c in web["components"] if c.get("scope") == "required"}
    build_only = {
        c["name"]
        for c in web["components"]
        if {"name": "cdx:npm:package:development", "value": "true"} in c.get("properties", [])
    }
    assert {"fastapi", "sqlalchemy", "psycopg", "prometheus-client"} <= python_names
    assert not {"pytest", "mypy", "ruff", "pip-audit"} & python_names  # dev tools do not ship
    assert {"react", "react-dom", "react-router"} <= shipped
    assert {"vitest", "vite", "jsdom"} <= build_only and not build_only & shipped
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    fastapi = next(p["version"] for p in lock["package"] if p["name"] == "fastapi")
    assert any(c["name"].lower() == "fastapi" and c["version"] == fastapi for c in python["components"])


def test_coverage_wraps_the_one_pytest_run_with_a_floor() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (pytest_recipe,) = re.findall(r"^pytest:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert "--cov" in pytest_recipe
    (test_prerequisites,) = re.findall(r"^test: (.+)$", makefile, re.MULTILINE)
    assert {"lint", "types", "pytest", "sbom", "audit"} <= set(test_prerequisites.split())
    coverage = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["coverage"]
    assert coverage["run"]["source"] == ["servanda"]
    assert coverage["report"]["fail_under"] >= 85
