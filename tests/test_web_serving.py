"""The built web app served by the API on its own port (platform/spa.py, issue 13 point 7).

A small fake dist stands in for web/dist (the real build is checked where it exists). The app is built
without a reachable database: serving files needs none, and the start-up tolerates a missing database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from servanda.app import create_app
from servanda.platform.config import load_settings
from servanda.platform.spa import ASSET_CACHE, SOURCE_TREE_DIST, locate_web_dist, spa_csp

NO_DATABASE = "postgresql+psycopg://nobody:nothing@127.0.0.1:9/none"
INDEX = '<!doctype html><html lang="de"><head><script type="module" src="/assets/index-Ab12Cd34.js"></script></head><body><div id="root"></div></body></html>'
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX, encoding="utf-8")
    (root / "assets" / "index-Ab12Cd34.js").write_text("console.log('app');\n", encoding="utf-8")
    (root / "assets" / "index-Ef56Gh78.css").write_text("body{margin:0}\n", encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /\n", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not for the web\n", encoding="utf-8")
    return root


def _client(tmp_path: Path, **settings: object) -> Iterator[TestClient]:
    app = create_app(
        load_settings(servanda_env="test", servanda_data_dir=tmp_path / "data", **settings), NO_DATABASE
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def web(tmp_path: Path, dist: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path, servanda_web_dist=dist)


def _is_problem(response: object, status: int) -> None:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    assert response.json()["status"] == status  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "path",
    ["/", "/anmelden?next=%2Fvertraege", "/vertraege/6a1503f5-ef50-48c7-8579-5b21a86870c7", "/katalog/x/y"],
)
def test_a_browser_navigation_gets_index_html_uncached_with_the_app_csp(web: TestClient, path: str) -> None:
    response = web.get(path, headers=HTML)

    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-security-policy"] == spa_csp(None)
    # the API middleware's headers apply to the app's answers too
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"]


def test_hashed_assets_are_cached_for_a_year_and_immutable(web: TestClient) -> None:
    response = web.get("/assets/index-Ab12Cd34.js")

    assert response.status_code == 200
    assert response.text == "console.log('app');\n"
    assert response.headers["cache-control"] == ASSET_CACHE == "public, max-age=31536000, immutable"
    assert "javascript" in response.headers["content-type"]
    assert response.headers["content-security-policy"] == spa_csp(None)
    css = web.get("/assets/index-Ef56Gh78.css")
    assert css.headers["content-type"].startswith("text/css")
    head = web.head("/assets/index-Ab12Cd34.js")
    assert head.status_code == 200 and head.content == b""


def test_a_missing_asset_is_a_404_problem_not_the_page(web: TestClient) -> None:
    """A stale page asking for an old hash must not get HTML for its script."""
    for headers in ({}, HTML):
        response = web.get("/assets/index-00000000.js", headers=headers)
        _is_problem(response, 404)
        assert response.json()["code"] == "resource.not_found"


def test_the_api_keeps_its_404_problem_json_and_csp(web: TestClient) -> None:
    for path in ("/api/v1/gibt-es-nicht", "/api/v1", "/api", "/health/nope"):
        response = web.get(path, headers=HTML)
        _is_problem(response, 404)
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_requests_that_do_not_accept_html_fall_through_to_the_api(web: TestClient) -> None:
    _is_problem(web.get("/vertraege/1", headers={"Accept": "application/json"}), 404)
    _is_problem(web.get("/vertraege/1"), 404)  # the test client's */* is no browser navigation
    assert web.post("/vertraege/1", headers=HTML).status_code in (404, 405)
    assert (
        web.post("/vertraege/1", headers=HTML).headers["content-type"].startswith("application/problem+json")
    )


def test_other_top_level_files_are_served_revalidated(web: TestClient) -> None:
    response = web.get("/robots.txt")
    assert response.status_code == 200 and "Disallow" in response.text
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt"]
)
def test_nothing_outside_dist_is_served(web: TestClient, path: str) -> None:
    response = web.get(path, headers={"Accept": "*/*"})
    assert "not for the web" not in response.text
    assert response.status_code == 404


def test_without_a_built_app_the_api_serves_the_api_only(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-built"
    empty.mkdir()
    assert locate_web_dist(empty) is None
    for client in _client(tmp_path, servanda_web_dist=empty):
        _is_problem(client.get("/", headers=HTML), 404)
        _is_problem(client.get("/vertraege", headers=HTML), 404)


def test_the_csp_is_strict_and_names_the_oidc_provider_when_configured() -> None:
    local = spa_csp(None)
    assert "'unsafe-inline'" not in local and "'unsafe-eval'" not in local
    assert "script-src 'self'" in local and "style-src 'self'" in local
    assert "frame-ancestors 'none'" in local and "base-uri 'self'" in local and "form-action 'self'" in local
    assert "img-src 'self' data: blob:" in local
    assert "connect-src 'self';" in local
    oidc = spa_csp("https://sso.kanzlei.example:8443/realms/servanda")
    assert "connect-src 'self' https://sso.kanzlei.example:8443;" in oidc


def test_the_oidc_origin_reaches_the_app_csp(tmp_path: Path, dist: Path) -> None:
    for client in _client(
        tmp_path,
        servanda_web_dist=dist,
        keycloak_url="https://sso.kanzlei.example",
        keycloak_realm="servanda",
    ):
        csp = client.get("/", headers=HTML).headers["content-security-policy"]
        assert "connect-src 'self' https://sso.kanzlei.example;" in csp


@pytest.mark.skipif(
    not (SOURCE_TREE_DIST / "index.html").is_file(), reason="web/dist not built (make install)"
)
def test_the_built_app_passes_its_csp() -> None:
    """The real build: no inline script or style in index.html, every script and stylesheet from /assets/."""
    index = re.sub(
        r"<!--.*?-->", "", (SOURCE_TREE_DIST / "index.html").read_text(encoding="utf-8"), flags=re.S
    )
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", index, flags=re.S)
    assert scripts, "index.html loads no script"
    for attributes, body in scripts:
        assert body.strip() == "", "inline script (CSP script-src 'self' refuses it)"
        assert re.search(r'src="/assets/[^"]+\.js"', attributes)
    assert "<style" not in index and " style=" not in index
    for href in re.findall(r'<link\b[^>]*href="([^"]+)"', index):
        assert href.startswith("/assets/") or href.startswith("/favicon"), href
    # React Aria's usePress injects an inline style element unless one with its id exists
    assert 'id="react-aria-pressable-style"' in index
