"""Domain errors: what services raise when a business rule refuses a request.

Services and repositories never construct an HTTP status. They raise one of
these classes with a stable machine ``code`` (e.g. ``contract.not_found``)
and a German ``detail`` for the user; the HTTP adapter
(:mod:`servanda.platform.problems`) maps the class to the status and renders
an RFC 9457 problem document. No web framework is imported here, so the
engine's callers, the CLI and the export worker can raise and catch them too.
"""

from __future__ import annotations

from typing import Any

# The members of an RFC 9457 problem document the adapter writes itself: ``extra`` never names one
# (``status`` is always the HTTP status code; a resource's state goes in e.g. ``currentStatus``).
RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code", "errors"})


def check_extra(extra: dict[str, Any] | None) -> dict[str, Any]:
    """``extra`` as given, refused (``ValueError``, a programming error) if it names a reserved member."""
    clash = sorted(RESERVED_MEMBERS.intersection(extra or {}))
    if clash:
        raise ValueError(f"extra members {clash} would overwrite standard problem members")
    return dict(extra or {})


class DomainError(Exception):
    """Base class: a refusal with a stable code, a German detail and optional structured members."""

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail
        self.errors = errors
        self.extra = check_extra(extra)
        self.retry_after = retry_after


class BadRequest(DomainError):
    """The request cannot be used as sent (e.g. an invalid, spent or expired one-time token)."""


class Unauthenticated(DomainError):
    """The caller is not (or no longer) signed in."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class NotFound(DomainError):
    """The object does not exist for this caller (also: exists in another tenant)."""


class Conflict(DomainError):
    """The object's current state does not allow the change."""


class PreconditionFailed(DomainError):
    """A request's precondition (``If-Match``) names a state the object no longer has: nothing changed."""


class Invalid(DomainError):
    """The input breaks a rule; ``errors`` name the fields (``[{"field": ..., "message": ...}]``)."""


class GateFailed(Invalid):
    """Publishing gates refused a version; ``extra["gates"]`` carries the gate results."""


class PayloadTooLarge(DomainError):
    """An upload is larger than allowed."""


class UnsupportedMediaType(DomainError):
    """An upload is not of an accepted type (decided from its bytes)."""


class TooManyRequests(DomainError):
    """A limit was reached; ``retry_after`` says in how many seconds to try again."""


class Unavailable(DomainError):
    """A dependency (database, storage, converter) cannot be reached right now."""
