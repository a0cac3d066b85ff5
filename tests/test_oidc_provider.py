"""The Keycloak stand-in (tests/oidc_provider.py) behaves as the web app's OIDC path needs and refuses
what Keycloak refuses: these tests keep the browser test (test_web_oidc_e2e.py) honest.

No database: the provider runs in a thread; its tokens are checked with the API's own OidcVerifier.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from servanda.platform.oidc import OidcVerifier
from tests.oidc_provider import Account, ProviderConfig, RunningProvider, serve

ORIGIN = "http://127.0.0.1:3999"
REDIRECT = f"{ORIGIN}/anmelden/oidc"
TENANT = str(uuid.uuid4())
ANNA = Account(email="anna@kanzlei-nord.de", password="richtig-geheim-1", tenant_id=TENANT, roles=("editor",))


@pytest.fixture(scope="module")
def provider() -> Iterator[RunningProvider]:
    running = serve(
        ProviderConfig(base_url="", accounts=[ANNA], web_origins=[ORIGIN], access_token_lifetime_s=60)
    )
    yield running
    running.stop()


def _endpoints(provider: RunningProvider) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{provider.issuer}/.well-known/openid-configuration").json()
    return document


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _auth_params(state: str = "st-1", **overrides: str | None) -> dict[str, str]:
    """An authorization request as the web app sends it (an override of None leaves the parameter out)."""
    _, challenge = _pkce()
    params = {
        "response_type": "code",
        "client_id": "servanda-web",
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {k: v for k, v in params.items() if v is not None}


def _authorize(client: httpx.Client, provider: RunningProvider, **overrides: str | None) -> httpx.Response:
    """Sign in at the provider's form (a fresh browser: no SSO cookie)."""
    query = _auth_params(**overrides)
    client.cookies.clear()
    return client.post(
        _endpoints(provider)["authorization_endpoint"],
        params=query,
        data={"username": ANNA.email, "password": ANNA.password},
    )


def _code_and_form(provider: RunningProvider, **token_overrides: str | None) -> dict[str, str]:
    """Sign in as Anna with PKCE; the token request that redeems the code (overrides change it)."""
    verifier, challenge = _pkce()
    with httpx.Client() as client:
        signed_in = _authorize(client, provider, code_challenge=challenge)
        assert signed_in.status_code == 302, signed_in.text
        code = parse_qs(urlparse(signed_in.headers["location"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "client_id": "servanda-web",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **token_overrides,
    }
    return {k: v for k, v in form.items() if v is not None}


def _code_flow(provider: RunningProvider, **token_overrides: str | None) -> httpx.Response:
    form = _code_and_form(provider, **token_overrides)
    return httpx.post(_endpoints(provider)["token_endpoint"], data=form, headers={"Origin": ORIGIN})


def _claims(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return claims


def _refresh(provider: RunningProvider, refresh_token: str) -> httpx.Response:
    return httpx.post(
        _endpoints(provider)["token_endpoint"],
        data={"grant_type": "refresh_token", "client_id": "servanda-web", "refresh_token": refresh_token},
        headers={"Origin": ORIGIN},
    )


def test_discovery_and_keys_are_keycloaks_layout_and_readable_from_any_origin(
    provider: RunningProvider,
) -> None:
    response = httpx.get(f"{provider.issuer}/.well-known/openid-configuration", headers={"Origin": ORIGIN})
    document = response.json()
    assert provider.issuer.endswith("/realms/servanda")
    assert document["issuer"] == provider.issuer
    assert document["token_endpoint"] == f"{provider.issuer}/protocol/openid-connect/token"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert response.headers["access-control-allow-origin"] == "*"
    keys = httpx.get(document["jwks_uri"])
    assert keys.headers["access-control-allow-origin"] == "*"
    assert [(k["kty"], k["alg"], k["use"]) for k in keys.json()["keys"]] == [("RSA", "RS256", "sig")]
    assert "d" not in keys.json()["keys"][0]  # public part only


def test_the_sign_in_form_is_labelled_and_a_wrong_password_is_refused(provider: RunningProvider) -> None:
    params = _auth_params("s")
    url = _endpoints(provider)["authorization_endpoint"]
    form = httpx.get(url, params=params)
    assert form.status_code == 200
    assert '<label for="username">E-Mail-Adresse</label>' in form.text
    assert '<label for="password">Passwort</label>' in form.text
    wrong = httpx.post(url, params=params, data={"username": ANNA.email, "password": "falsch"})
    assert wrong.status_code == 200 and 'role="alert"' in wrong.text
    assert "location" not in wrong.headers


def test_code_flow_with_pkce_gives_tokens_the_api_accepts(provider: RunningProvider) -> None:
    response = _code_flow(provider)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 60
    access, id_token = _claims(body["access_token"]), _claims(body["id_token"])
    assert access["aud"] == "servanda-api" and access["azp"] == "servanda-web" and access["typ"] == "Bearer"
    assert access["realm_access"]["roles"][-1] == "editor"
    assert id_token["aud"] == "servanda-web" and id_token["typ"] == "ID" and id_token["sid"] == access["sid"]
    verifier = OidcVerifier(issuer=provider.issuer, audience="servanda-api")
    claims = asyncio.run(verifier.verify(body["access_token"]))
    assert (claims.subject, str(claims.tenant_id), claims.email, claims.role) == (
        ANNA.sub,
        TENANT,
        ANNA.email,
        "editor",
    )
    with pytest.raises(Exception, match="ungültig"):  # the ID token is no bearer token
        asyncio.run(verifier.verify(body["id_token"]))


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_verifier": None}, "invalid_grant"),
        ({"code_verifier": secrets.token_urlsafe(48)}, "invalid_grant"),
        ({"code_verifier": "short"}, "invalid_grant"),
        ({"redirect_uri": f"{ORIGIN}/anderswo"}, "invalid_grant"),
        ({"client_secret": "geraten"}, "invalid_client"),
        ({"client_id": "fremd"}, "invalid_client"),
    ],
)
def test_token_requests_keycloak_refuses_are_refused(
    provider: RunningProvider, overrides: dict[str, str | None], error: str
) -> None:
    response = _code_flow(provider, **overrides)
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] == error


def test_a_code_is_redeemed_once(provider: RunningProvider) -> None:
    form = _code_and_form(provider)
    url = _endpoints(provider)["token_endpoint"]
    first = httpx.post(url, data=form)
    assert first.status_code == 200
    again = httpx.post(url, data=form)
    assert again.json()["error"] == "invalid_grant"
    # the reuse ended the session the code began: its refresh token is dead too
    assert _refresh(provider, first.json()["refresh_token"]).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_authorization_requests_without_s256_pkce_go_back_with_an_error(
    provider: RunningProvider, overrides: dict[str, str | None], error: str
) -> None:
    with httpx.Client() as client:
        response = _authorize(client, provider, **overrides)
    assert response.status_code == 302, response.text
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert response.headers["location"].startswith(REDIRECT)
    assert query["error"] == [error] and query["state"] == ["st-1"]
    assert "code" not in query


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": f"{ORIGIN}/anmelden/oidc/../boese"},
        {"redirect_uri": "http://evil.example/anmelden/oidc"},
        {"redirect_uri": None},
        {"client_id": "fremd"},
    ],
)
def test_an_unknown_client_or_redirect_uri_gets_an_error_page_not_a_redirect(
    provider: RunningProvider, overrides: dict[str, str | None]
) -> None:
    with httpx.Client() as client:
        response = _authorize(client, provider, **overrides)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_refresh_rotates_and_a_spent_refresh_token_is_refused(provider: RunningProvider) -> None:
    first = _code_flow(provider).json()
    second = _refresh(provider, first["refresh_token"])
    assert second.status_code == 200
    assert second.headers["access-control-allow-origin"] == ORIGIN
    fresh = second.json()
    assert fresh["refresh_token"] != first["refresh_token"]
    assert _claims(fresh["access_token"])["sid"] == _claims(first["access_token"])["sid"]
    assert _refresh(provider, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert _refresh(provider, fresh["refresh_token"]).status_code == 200


def test_token_endpoint_cors_only_for_the_web_origin(provider: RunningProvider) -> None:
    url = _endpoints(provider)["token_endpoint"]
    preflight = httpx.options(url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    foreign = httpx.options(
        url, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in foreign.headers
    refused = httpx.post(url, data={"grant_type": "refresh_token"}, headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in refused.headers


def test_sso_cookie_skips_the_form_until_logout(provider: RunningProvider) -> None:
    with httpx.Client() as client:
        signed_in = _authorize(client, provider)
        assert signed_in.status_code == 302
        params = _auth_params("zwei")
        url = _endpoints(provider)["authorization_endpoint"]
        again = client.get(url, params=params)
        assert again.status_code == 302 and "state=zwei" in again.headers["location"]
        forced = client.get(url, params={**params, "prompt": "login"})
        assert forced.status_code == 200 and "Passwort" in forced.text


def test_end_session_redirects_and_ends_the_refresh_tokens(provider: RunningProvider) -> None:
    tokens = _code_flow(provider).json()
    logout = httpx.get(
        _endpoints(provider)["end_session_endpoint"],
        params={
            "client_id": "servanda-web",
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": f"{ORIGIN}/anmelden",
            "state": "x",
        },
    )
    assert logout.status_code == 302 and logout.headers["location"] == f"{ORIGIN}/anmelden?state=x"
    assert _refresh(provider, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    events = httpx.get(f"{provider.config.base_url}/_test/events").json()
    assert any(e["event"] == "end_session" and e.get("sid") for e in events)


def test_an_unregistered_post_logout_uri_is_not_followed(provider: RunningProvider) -> None:
    tokens = _code_flow(provider).json()
    logout = httpx.get(
        _endpoints(provider)["end_session_endpoint"],
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://evil.example/"},
    )
    assert logout.status_code == 200 and "location" not in logout.headers


def test_the_admin_sign_out_ends_every_session_of_the_user(provider: RunningProvider) -> None:
    tokens = _code_flow(provider).json()
    ended = httpx.post(f"{provider.config.base_url}/_test/sessions/end", json={"email": ANNA.email})
    assert ended.json()["ended"] >= 1
    assert _refresh(provider, tokens["refresh_token"]).json()["error"] == "invalid_grant"
