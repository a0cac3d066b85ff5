"""Download links valid 15 minutes, and the file names they deliver.

- **Signed API links** (directory storage): ``<download route>?tenant=<id>&expires=<unix>&signature=<hex>``.
  The signature is HMAC-SHA256 over kind (``job`` | ``batch``), tenant, object id and expiry with a
  key derived from ``SERVANDA_SECRET_KEY`` for this purpose only (``platform.keys.derived_key``),
  compared in constant time. The link names its tenant because it replaces the bearer token the
  tenant otherwise comes from; the signature covers it, so it cannot be changed.
- **File names** (``Content-Disposition``, RFC 6266 with RFC 5987 ``filename*``): built from the
  contract title, with an ASCII fallback for old clients.

Pure: no database, no web framework.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import quote, urlencode

from servanda.platform import errors

LINK_TTL_S: Final = 15 * 60
LINK_PURPOSE: Final = "export-download-link"
LinkKind = Literal["job", "batch"]
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class LinkGrant:
    """What a verified signed link allows: downloading one object of one tenant until ``expires``."""

    kind: LinkKind
    tenant_id: uuid.UUID
    object_id: uuid.UUID
    expires: int


def signature(key: bytes, kind: LinkKind, tenant_id: uuid.UUID, object_id: uuid.UUID, expires: int) -> str:
    message = f"servanda-export-download\n{kind}\n{tenant_id}\n{object_id}\n{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_query(key: bytes, kind: LinkKind, tenant_id: uuid.UUID, object_id: uuid.UUID, expires: int) -> str:
    """The query string of a signed link (``tenant``, ``expires``, ``signature``)."""
    sig = signature(key, kind, tenant_id, object_id, expires)
    return urlencode({"tenant": str(tenant_id), "expires": str(expires), "signature": sig})


def link_invalid() -> errors.Forbidden:
    return errors.Forbidden(
        "export.link_invalid",
        "Der Download-Link ist ungültig. Bitte öffnen Sie den Export erneut, um einen neuen Link zu erhalten.",
    )


def link_expired() -> errors.Forbidden:
    return errors.Forbidden(
        "export.link_expired",
        "Der Download-Link ist abgelaufen (gültig 15 Minuten). "
        "Bitte öffnen Sie den Export erneut, um einen neuen Link zu erhalten.",
    )


def verify(
    key: bytes,
    kind: LinkKind,
    object_id: str | None,
    tenant: str | None,
    expires: str | None,
    sig: str | None,
    now: float,
) -> LinkGrant:
    """The grant of a signed link, or 403 ``export.link_invalid`` / ``export.link_expired``.

    The signature is checked before the expiry, so a link whose expiry was changed is invalid,
    not "expired"; an untouched link past its expiry is expired.
    """
    try:
        tenant_id = uuid.UUID(tenant or "")
        obj = uuid.UUID(object_id or "")
        until = int(expires or "")
    except ValueError:
        raise link_invalid() from None
    if not sig or not _HEX64.fullmatch(sig) or not (0 < until < 2**62):
        raise link_invalid()
    if not hmac.compare_digest(signature(key, kind, tenant_id, obj, until), sig):
        raise link_invalid()
    if until < now:
        raise link_expired()
    return LinkGrant(kind, tenant_id, obj, until)


# -- file names ----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_SEPARATORS = re.compile(r"\s*[/\\]+\s*")
_QUOTES = re.compile(r"[\"';:*?<>|]+")  # not in file names on Windows, or breaking the header
_SPACES = re.compile(r"\s+")
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})
_NOT_ASCII_NAME = re.compile(r"[^A-Za-z0-9 ._()+,&-]+")
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"  # RFC 5987 attr-char besides ALPHA / DIGIT
MAX_STEM = 120


def file_stem(title: str | None, fallback: str = "Vertrag") -> str:
    """The title as a file name without extension: no control characters, no path separators
    (``/`` and ``\\`` become ``-``), no characters Windows refuses, single spaces, at most 120
    characters, never empty, never starting with a dot."""
    stem = unicodedata.normalize("NFC", title or "")
    stem = _CONTROL.sub(" ", stem)
    stem = _QUOTES.sub(" ", stem)
    stem = _SEPARATORS.sub("-", stem)
    stem = _SPACES.sub(" ", stem).strip(" .-")
    stem = stem[:MAX_STEM].rstrip(" .-")
    return stem or fallback


def ascii_stem(stem: str, fallback: str = "Vertrag") -> str:
    """An ASCII rendering of a stem: German umlauts as ae/oe/ue/ss, other accents dropped."""
    folded = unicodedata.normalize("NFKD", stem.translate(_FOLD))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = _NOT_ASCII_NAME.sub("_", folded)
    folded = _SPACES.sub(" ", folded).strip(" ._-")
    return folded or fallback


def content_disposition(stem: str, extension: str) -> str:
    """``attachment; filename="<ascii>.<ext>"; filename*=UTF-8''<percent-encoded>.<ext>`` (RFC 6266)."""
    name = f"{stem}.{extension}"
    fallback = f"{ascii_stem(stem)}.{extension}"
    encoded = quote(name, safe=_ATTR_CHAR_SAFE, encoding="utf-8")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
