"""The built-in provider verifies a token once and reuses the result until it expires (at most a minute)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from joserfc.jwk import RSAKey

from servanda.platform import tokens
from servanda.platform.tokens import CLOCK_SKEW_S, VERIFIED_TTL_S, LocalTokens, TokenError


@pytest.fixture(scope="module")
def key() -> RSAKey:
    generated = RSAKey.generate_key(2048, private=True)
    generated.ensure_kid()
    return generated


def _issue(local: LocalTokens) -> str:
    return local.issue(
        user_id=uuid.uuid4(), tenant_id=uuid.uuid4(), email="a@k.de", role="user", session_id=uuid.uuid4()
    )


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = tokens.decode_and_validate

    def counted(token: str, *args: object, **kwargs: object) -> dict[str, object]:
        calls.append(token)
        return real(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tokens, "decode_and_validate", counted)
    return calls


def test_a_token_is_verified_once(key: RSAKey, monkeypatch: pytest.MonkeyPatch) -> None:
    local = LocalTokens(key)
    calls = _counting(monkeypatch)
    token = _issue(local)
    first = asyncio.run(local.verify(token))
    second = asyncio.run(local.verify(token))
    assert second == first
    assert calls == [token]


def test_a_verified_token_is_checked_again_after_a_minute(
    key: RSAKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = LocalTokens(key, ttl_s=900)
    calls = _counting(monkeypatch)
    token = _issue(local)
    asyncio.run(local.verify(token))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + VERIFIED_TTL_S + 1)
    asyncio.run(local.verify(token))
    assert len(calls) == 2


def test_a_verified_token_expires_as_before(key: RSAKey, monkeypatch: pytest.MonkeyPatch) -> None:
    local = LocalTokens(key, ttl_s=30)
    token = _issue(local)
    asyncio.run(local.verify(token))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 30 + CLOCK_SKEW_S + 2)
    with pytest.raises(TokenError) as refused:
        asyncio.run(local.verify(token))
    assert refused.value.code == "auth.token_expired"


def test_a_tampered_token_is_refused_after_the_genuine_one(key: RSAKey) -> None:
    local = LocalTokens(key)
    token = _issue(local)
    asyncio.run(local.verify(token))
    header, payload, signature = token.split(".")
    with pytest.raises(TokenError):
        asyncio.run(local.verify(f"{header}.{payload}.{signature[:-4]}AAAA"))
