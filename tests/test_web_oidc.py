"""OIDC sign-in in the browser (issue 13, point 1): why there is no browser run against
oidc-provider-mock, pinned against the real mock process.

The SPA (web/src/api/oidc.ts) is a public client in the browser: it reads the issuer's discovery
document and redeems the code at the token endpoint with `fetch` from the app's origin, without a
client secret, proving possession with the PKCE verifier, and sends the *access token* as bearer
(Keycloak's access token is a JWT carrying tenant_id and the roles). oidc-provider-mock (the
version in uv.lock) cannot serve that flow; each test below shows one reason precisely. Together
they decide that a browser test needs a real Keycloak (not installable here, see test_oidc.py).

When one of these tests fails after an upgrade of the mock, the mock may have learnt the missing
part: then write the browser test (web/e2e/oidc.mjs) instead of adjusting the assertion.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.test_cli import _free_port

APP_ORIGIN = "http://127.0.0.1:8000"  # where `servanda up` serves the SPA
REDIRECT_URI = f"{APP_ORIGIN}/anmelden/oidc"
CLIENT_ID = "servanda-web"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log_path: Path = tmp_path_factory.mktemp("oidc-web-mock") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()[-2000:]
            try:
                if httpx.get(f"{base}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _code(base: str, client_id: str, verifier: str) -> str:
    """The authorization step as the browser does it: the SPA's parameters, the mock's form (sub)."""
    response = httpx.post(
        f"{base}/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "state": "s1",
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        },
        data={"sub": "anna"},
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return parse_qs(urlparse(location).query)["code"][0]


def test_no_cors_so_the_page_cannot_read_discovery_or_the_token_response(provider: str) -> None:
    origin = {"Origin": APP_ORIGIN}
    discovery = httpx.get(f"{provider}/.well-known/openid-configuration", headers=origin)
    assert discovery.status_code == 200
    assert "access-control-allow-origin" not in discovery.headers
    preflight = httpx.options(
        f"{provider}/oauth2/token",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_the_token_endpoint_refuses_a_public_client(provider: str) -> None:
    verifier = "v" * 64
    # even a client registered for it ("none" = public client, as Keycloak's servanda-web is)
    registered = httpx.post(
        f"{provider}/oauth2/clients",
        json={"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"},
    )
    assert registered.status_code in (200, 201), registered.text
    for client_id in (CLIENT_ID, registered.json()["client_id"]):
        token = httpx.post(
            f"{provider}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "code": _code(provider, client_id, verifier),
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
        assert token.status_code == 401, token.text
        assert token.json()["error"] == "invalid_client"


def test_pkce_is_not_checked_and_the_access_token_is_opaque(provider: str) -> None:
    token = httpx.post(
        f"{provider}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": "any",  # the mock accepts any secret for an unregistered client
            "code": _code(provider, CLIENT_ID, "the-verifier-the-browser-kept-" + "x" * 20),
            "redirect_uri": REDIRECT_URI,
            "code_verifier": "a-different-verifier-" + "y" * 30,
        },
    )
    assert token.status_code == 200, token.text  # a wrong verifier is redeemed: no PKCE check
    body = token.json()
    assert body["access_token"].count(".") != 2  # not a JWT: the API cannot verify it as bearer
    assert body["id_token"].count(".") == 2  # only the ID token is (test_oidc.py bears that one)
