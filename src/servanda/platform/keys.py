"""Key material: the JWT signing key of the built-in provider and the secret for data at rest.

From configuration when given; otherwise (never in production) generated once
into ``$SERVANDA_DATA_DIR/keys`` with mode 0600 and reused on every start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from joserfc.jwk import RSAKey

from servanda.platform.config import Settings


def _read_or_create(path: Path, create: bytes) -> bytes:
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(create)
    return create


def signing_key(settings: Settings) -> RSAKey:
    if settings.servanda_jwt_private_key is not None:
        pem = settings.servanda_jwt_private_key.get_secret_value().encode()
    else:
        path = settings.servanda_data_dir.resolve() / "keys" / "jwt-signing.pem"
        generated = RSAKey.generate_key(2048, private=True)
        pem = _read_or_create(path, generated.as_pem(private=True))
    key = RSAKey.import_key(pem)
    key.ensure_kid()
    return key


def _secret(settings: Settings) -> bytes:
    if settings.servanda_secret_key is not None:
        return settings.servanda_secret_key.get_secret_value().encode()
    path = settings.servanda_data_dir.resolve() / "keys" / "secret.key"
    return _read_or_create(path, secrets.token_urlsafe(48).encode())


def data_cipher(settings: Settings) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(_secret(settings)).digest()))


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A 32-byte key for one purpose (e.g. ``export-download-link``), HMAC-SHA256 of the secret key.

    Each purpose gets its own key, so a value signed for one use never verifies for another,
    and none of them reveals the secret or the data cipher's key.
    """
    return hmac.new(_secret(settings), f"servanda:{purpose}".encode(), hashlib.sha256).digest()
