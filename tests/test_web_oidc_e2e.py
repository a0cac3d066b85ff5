"""The web app's OIDC sign-in in a real browser (issue 13.1): a real `servanda up` in OIDC mode
(`KEYCLOAK_URL`/`KEYCLOAK_REALM` pointing at the provider), the built SPA on its port, Debian's
chromium driven by web/e2e/oidc.mjs, and tests/oidc_provider.py as the identity provider - a
stand-in for Keycloak, which cannot be installed here (see its docstring and docs/web.md).

Covered: sign-in (authorization code + PKCE) → dashboard as the invited user; silent refresh with a
20 s access token (and with a second tab: the provider spends each refresh token on first use, so
the tabs must not both refresh with one); the provider unreachable mid-session → the notice, the
session kept, and a retry once it is back; the provider ends the session mid-page → sign in again → back on the page; logout
through the end-session endpoint; axe on the sign-in page, the dialog and the dashboard; CSP.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from servanda.platform.embedded_pg import DATABASE_NAME, EmbeddedPostgres
from tests.auth_helpers import ensure_user
from tests.test_cli import _free_port
from tests.test_web_e2e import DIST, ROOT, WEB, _require_browser_tools, _require_built_app

DRIVER = WEB / "e2e" / "oidc.mjs"
TENANT = "kanzlei-demo"  # seeded by `servanda up`
EMAIL = "sso-anwalt@kanzlei-demo.de"
PASSWORD = "sso-test-passwort-1"
ACCESS_TOKEN_LIFETIME_S = 20  # short, so the silent refresh runs within the test

pytestmark = pytest.mark.timeout(600)


@dataclass(frozen=True)
class OidcStack:
    base: str
    issuer: str
    provider_base: str


def _wait_until(check: Any, what: str, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{what}:\n" + log.read_text()[-4000:]
        time.sleep(0.2)


def _invite(data: Path) -> str:
    """The firm invited the user (OIDC's first sign-in links an invited user by e-mail): arranged as
    superuser in the embedded database `servanda up` runs (joined, not started)."""
    embedded = EmbeddedPostgres(data / "pg")
    embedded.start()
    try:
        url = embedded.superuser_url.replace("/postgres?", f"/{DATABASE_NAME}?")
        with psycopg.connect(url, autocommit=True) as su:
            row = su.execute("SELECT id FROM tenants WHERE slug = %s", (TENANT,)).fetchone()
            assert row is not None, f"servanda up seeded no tenant {TENANT}"
            ensure_user(su, row[0], "user", EMAIL, status="invited")
            return str(row[0])
    finally:
        embedded.stop()


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def oidc_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcStack]:
    _require_built_app()
    data = tmp_path_factory.mktemp("web-oidc-e2e")
    port, provider_port = _free_port(), _free_port()
    base, provider_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{provider_port}"
    dist = data / "web-dist"  # own copy: a rebuild during the run must not pull chunks away
    shutil.copytree(DIST, dist)
    env = {
        **os.environ,
        "SERVANDA_DATA_DIR": str(data / "data"),
        "SERVANDA_WEB_DIST": str(dist),
        "AUTH_PROVIDER": "oidc",
        "KEYCLOAK_URL": provider_base,  # issuer = <KEYCLOAK_URL>/realms/servanda, as with Keycloak
        "KEYCLOAK_REALM": "servanda",
    }
    for name in ("DATABASE_URL", "OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_CLIENT_ID"):
        env.pop(name, None)
    up_log, provider_log = data / "up.log", data / "provider.log"
    with up_log.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "servanda", "up", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    provider: subprocess.Popen[bytes] | None = None
    try:
        _wait_until(
            lambda: up.poll() is None and httpx.get(f"{base}/health/ready", timeout=1).status_code == 200,
            "servanda up (OIDC mode) did not become ready",
            up_log,
        )
        tenant_id = _invite(data / "data")
        account = {"email": EMAIL, "password": PASSWORD, "tenant_id": tenant_id, "roles": ["user"]}
        with provider_log.open("wb") as out:
            provider = subprocess.Popen(
                [
                    *(sys.executable, "-m", "tests.oidc_provider", "--port", str(provider_port)),
                    *("--web-origin", base, "--user", json.dumps(account)),
                    *("--access-token-lifetime", str(ACCESS_TOKEN_LIFETIME_S)),
                ],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        issuer = f"{provider_base}/realms/servanda"
        _wait_until(
            lambda: (
                provider.poll() is None
                and httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200
            ),
            "the OIDC test provider did not start",
            provider_log,
            timeout=60,
        )
        yield OidcStack(base, issuer, provider_base)
    finally:
        if provider is not None:
            _stop(provider, 10)
        _stop(up, 90)


def test_the_server_announces_the_provider_and_lets_the_app_reach_it(oidc_stack: OidcStack) -> None:
    config = httpx.get(f"{oidc_stack.base}/api/v1/auth/config").json()
    assert config == {
        "provider": "oidc",
        "issuer": oidc_stack.issuer,
        "clientId": "servanda-web",
        "audience": "servanda-api",
    }
    page = httpx.get(f"{oidc_stack.base}/katalog", headers={"Accept": "text/html"})
    connect_src = re.search(r"connect-src ([^;]+)", page.headers["content-security-policy"])
    assert connect_src is not None
    assert connect_src.group(1).split() == ["'self'", oidc_stack.provider_base]


def test_oidc_sign_in_refresh_expiry_and_logout_in_the_browser(oidc_stack: OidcStack, tmp_path: Path) -> None:
    node = _require_browser_tools()
    done = subprocess.run(
        [node, str(DRIVER), oidc_stack.base, str(tmp_path), oidc_stack.issuer, EMAIL, PASSWORD],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=540,
    )
    output = done.stdout + done.stderr
    print(output)
    results = [json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    failures = [
        line for line in output.splitlines() if re.match(r"(FAILED|AXE FAILED|CSP FAILED|  \S+: )", line)
    ]
    assert done.returncode == 0 and results, "OIDC browser run failed:\n" + "\n".join(
        failures or [output[-3000:]]
    )
    result = results[-1]
    assert result["unreachableProviderNamed"] is True
    assert result["providerOutageNotice"] is True
    assert result["accessTokenLifetimeS"] == ACCESS_TOKEN_LIFETIME_S
    assert result["refreshes"] >= 1 and result["refreshesWithTwoTabs"] >= 4
    assert result["pageAfterSignIn"] == result["pageBeforeExpiry"] == "/katalog?q=Arbeitsvertrag"
    assert result["endSession"] is True and result["refreshAfterLogout"] == 400

    # What the provider saw, independently of the browser's view.
    events = httpx.get(f"{oidc_stack.provider_base}/_test/events").json()
    grants = [(e["grant_type"], e["status"]) for e in events if e["event"] == "token"]
    assert grants.count(("authorization_code", 200)) == 2  # the first sign-in and the one after expiry
    assert ("refresh_token", 200) in grants and ("refresh_token", 400) in grants
    spa_calls = [e for e in events if e["event"] == "token" and e["status"] == 200]
    assert all(e["origin"] == oidc_stack.base for e in spa_calls)  # cross-origin from the SPA (CORS)
    assert [e["reason"] for e in events if e["event"] == "session_ended"] == ["admin sign-out", "logout"]
