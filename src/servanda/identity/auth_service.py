"""The built-in identity provider: login, rotating refresh tokens, logout, invites, TOTP, password change
and password reset.

Every failed login answers the same 401 ``auth.invalid_credentials`` (unknown
tenant, suspended tenant, unknown e-mail, wrong password, disabled user), after
the same one argon2 verification; the real reason goes to the tenant's audit
log (``user.login_failed``). Nothing locks an account: failures are counted per
(tenant slug, e-mail, source address) in the database, and from the fifth on
that source waits 2^n seconds (at most 15 minutes) for that account - other
sources, the real user's among them, are unaffected. A per-address throttle
(shared by all API processes, in the database) answers 429 before the password is even checked. Signed-in users get five
wrong codes or passwords per 15 minutes (MFA enable/disable, password change).

Transactions: refresh, logout, invites and the MFA set-up work in the request's
unit of work (the session the endpoint passes). Three things must persist
although the request then fails, so they run in their own transaction on
``self.db``, committed before the refusal is raised:

- ``login``: the whole attempt (back-off check under its per-key lock, password
  check, back-off counter, ``user.login_failed``). One transaction and one
  connection per attempt: splitting off the failure bookkeeping would hold two
  pool connections per failed login on a public route (a brute-force run could
  drain the pool) or let parallel guesses slip past the lock.
- ``mfa_set`` and ``change_password``: check, attempt counter and change under
  the user-row lock (a second transaction could not update the row the request
  holds locked; counting apart from the check would let parallel guesses past
  the limit).
- ``refresh`` with a spent token: the session it belongs to is ended in its own
  transaction (theft detection), the refusal follows.

Password reset ("Passwort vergessen") answers the same whether or not the
tenant and account exist (the endpoint always says 202); a granted request
stores the SHA-256 digest of a single-use ``pwr.<tenant>.<secret>`` token valid
for an hour, and the mail leaves after the commit in the background. Using it
sets the password, spends every open reset token of the user and ends all of
the user's sessions. Requests count per source address (``reset_throttle``),
and an account gets at most one mail a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.identity import passwords
from servanda.identity.models import AuthSession, PasswordReset, RefreshToken, User, UserInvite
from servanda.identity.principal import Principal, RequestMeta
from servanda.identity.repository import LoginBackoffRepository
from servanda.platform import errors, ratelimit
from servanda.platform.db import SET_TENANT, Database
from servanda.platform.tokens import LocalTokens
from servanda.tenants.repository import TenantRef, TenantRepository

# Login back-off per (tenant slug, e-mail, source address): free failures, then 2^n s up to the cap.
BACKOFF_FREE_FAILURES = 5
BACKOFF_MAX_DELAY_S = 900
BACKOFF_FORGET_S = 86_400  # a key without failures for a day starts again
# Attempt limit on the code and password checks of signed-in users.
CHECK_MAX_FAILURES = 5
CHECK_WINDOW = timedelta(minutes=15)
THROTTLE_WINDOW_S = 300.0
THROTTLE_MAX_FAILURES = 20
INVITE_TTL = timedelta(days=7)
# Password reset ("Passwort vergessen"): a single-use link valid for an hour; at most one
# mail per account and minute; every request counts against its source address.
PASSWORD_RESET_TTL = timedelta(hours=1)
PASSWORD_RESET_RESEND_AFTER = timedelta(minutes=1)
PASSWORD_RESET_MIN_S = 0.25  # every reset request answers after at least this long
RESET_THROTTLE_MAX = 10
RESET_THROTTLE_WINDOW_S = 900.0
TOTP_ISSUER = "Servanda Office"
_DUMMY_HASH = passwords.hash_password("servanda-timing-equaliser")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(prefix: str, tenant_id: uuid.UUID) -> str:
    """Opaque token that names its tenant, so it can be looked up under row-level security."""
    return f"{prefix}.{tenant_id}.{secrets.token_urlsafe(32)}"


def _tenant_of(token: str, prefix: str) -> uuid.UUID | None:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != prefix:
        return None
    try:
        return uuid.UUID(parts[1])
    except ValueError:
        return None


def invalid_credentials() -> errors.Unauthenticated:
    return errors.Unauthenticated(
        "auth.invalid_credentials", "Mandant, E-Mail-Adresse oder Passwort sind nicht korrekt."
    )


def login_rate_limited(retry_s: int) -> errors.TooManyRequests:
    """The answer of the per-address throttle and of the back-off alike (it names no account)."""
    return errors.TooManyRequests(
        "auth.rate_limited",
        "Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie kurz.",
        retry_after=max(retry_s, 1),
    )


def too_many_attempts(retry_s: int) -> errors.TooManyRequests:
    return errors.TooManyRequests(
        "auth.too_many_attempts",
        "Zu viele falsche Eingaben. Bitte warten Sie, bevor Sie es erneut versuchen.",
        retry_after=max(retry_s, 1),
    )


def invalid_refresh_token(
    detail: str = "Die Sitzung ist abgelaufen. Bitte melden Sie sich an.",
) -> errors.Unauthenticated:
    return errors.Unauthenticated("auth.invalid_refresh_token", detail)


def _backoff_key(tenant_slug: str, email: str, source: str) -> str:
    """Digest of what the caller sent, so an unknown tenant or e-mail is keyed like a known one."""
    material = f"{tenant_slug.strip().lower()}\n{email.strip().lower()}\n{source}"
    return hashlib.sha256(material.encode()).hexdigest()


def reset_rate_limited(retry_s: int) -> errors.TooManyRequests:
    return errors.TooManyRequests(
        "auth.rate_limited",
        "Zu viele Anfragen zum Zurücksetzen des Passworts. Bitte warten Sie kurz.",
        retry_after=max(retry_s, 1),
    )


@dataclass(frozen=True)
class ResetTicket:
    """A password reset was granted: what the mail needs (the token exists only here and in it)."""

    email: str
    display_name: str
    tenant_slug: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class LoginThrottle:
    """Failed logins per client address: a token bucket shared by all API processes.

    ``max_failures`` at once, regained evenly over ``window_s`` (platform/ratelimit.py; the
    key is a digest of ``<kind>:<address>``). Also counts password-reset requests per
    address (``kind="reset"``, every request, with its own refusal).
    """

    def __init__(
        self,
        max_failures: int = THROTTLE_MAX_FAILURES,
        window_s: float = THROTTLE_WINDOW_S,
        refusal: Callable[[int], errors.TooManyRequests] = login_rate_limited,
        kind: str = "login",
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.refusal = refusal
        self.kind = kind

    async def _take(self, db: Database | AsyncSession, source: str, cost: int) -> ratelimit.Quota:
        key = ratelimit.bucket_key(self.kind, source)
        return await ratelimit.take(db, [key], [self.max_failures / self.window_s], [self.max_failures], cost)

    async def check(self, db: Database | AsyncSession, source: str) -> None:
        """Refuse when the address has no failure left (counts nothing)."""
        quota = await self._take(db, source, 0)
        if not quota.allowed:
            raise self.refusal(quota.retry_s)

    async def failed(self, db: Database | AsyncSession, source: str) -> None:
        await self._take(db, source, 1)

    async def count(self, db: Database | AsyncSession, source: str) -> None:
        """Count one request, or refuse it (and count nothing) when none is left."""
        quota = await self._take(db, source, 1)
        if not quota.allowed:
            raise self.refusal(quota.retry_s)


def _login_refusal(reason: str) -> errors.Unauthenticated:
    """What the caller learns. Only someone who knows the password hears about the second factor."""
    if reason == "auth.mfa_required":
        return errors.Unauthenticated(
            "auth.mfa_required", "Bitte geben Sie den Code Ihrer Authenticator-App ein."
        )
    if reason == "auth.invalid_totp":
        return errors.Unauthenticated("auth.invalid_totp", "Der Code ist nicht korrekt.")
    return invalid_credentials()


class LocalAuthService:
    """One per API process. ``db`` serves only the own transactions named in the module docstring;
    everything else runs in the session the caller passes (the request's unit of work)."""

    def __init__(
        self,
        db: Database,
        tokens: LocalTokens,
        cipher: Fernet,
        refresh_ttl_s: int,
        throttle: LoginThrottle,
        reset_throttle: LoginThrottle | None = None,
    ):
        self.db = db
        self.tokens = tokens
        self.cipher = cipher
        self.refresh_ttl = timedelta(seconds=refresh_ttl_s)
        self.throttle = throttle
        self.reset_throttle = reset_throttle or LoginThrottle(
            RESET_THROTTLE_MAX, RESET_THROTTLE_WINDOW_S, refusal=reset_rate_limited, kind="reset"
        )

    # -- login -------------------------------------------------------------------------------

    async def login(
        self, tenant_slug: str, email: str, password: str, totp: str | None, meta: RequestMeta
    ) -> TokenPair:
        source = meta.ip_address or "unknown"
        key = _backoff_key(tenant_slug, email, source)
        # Its own transaction, not the request's: a refusal must leave the counter and the
        # failed-login event committed (see the module docstring).
        async with self.db.session(None) as session:
            await self.throttle.check(session, source)  # only looks: no lock
            backoff = LoginBackoffRepository(session)
            wait = await backoff.wait_s(key)  # also serialises attempts on this key
            if wait > 0:
                raise login_rate_limited(wait)
            tenant = await TenantRepository(session).resolve_slug(tenant_slug)
            user: User | None = None
            if tenant is not None:
                await session.execute(SET_TENANT, {"tenant": str(tenant.id)})
                user = await session.scalar(
                    select(User).where(text("lower(email) = lower(:email)")).params(email=email.strip())
                )
            reason = self._check(tenant, user, password, totp)
            if reason is None and tenant is not None and user is not None:
                await backoff.clear(key)
                user.last_login_at = datetime.now(UTC)
                pair = await self._open_session(session, user, meta)
                await audit.record_system(
                    session,
                    tenant.id,
                    "user.login",
                    "user",
                    user.id,
                    {"provider": "local", "mfa": user.mfa_enabled},
                    actor_id=user.id,
                    origin=meta,
                )
                return pair
            assert reason is not None
            delay = 0
            if reason != "auth.mfa_required":  # the first step of a correct MFA login
                delay = await backoff.failed(
                    key,
                    free=BACKOFF_FREE_FAILURES,
                    max_delay_s=BACKOFF_MAX_DELAY_S,
                    forget_s=BACKOFF_FORGET_S,
                )
                await self.throttle.failed(session, source)  # locks the address's bucket until the commit
            if tenant is not None:
                await audit.record_system(
                    session,
                    tenant.id,
                    "user.login_failed",
                    "user",
                    user.id if user is not None else None,
                    {
                        "email": email.strip().lower(),
                        "reason": reason,
                        **({"backoffSeconds": delay} if delay else {}),
                    },
                    actor_id=user.id if user is not None else None,
                    origin=meta,
                )
        # Committed: the count and the audit event survive the refusal.
        raise _login_refusal(reason)

    def _check(
        self, tenant: TenantRef | None, user: User | None, password: str, totp: str | None
    ) -> str | None:
        """The real reason a login fails (None: it succeeds). Exactly one argon2 verification either way."""
        if tenant is None:
            passwords.verify_password(_DUMMY_HASH, password)
            return "tenant.unknown"
        if user is None or user.password_hash is None:
            passwords.verify_password(_DUMMY_HASH, password)
            return "auth.unknown_user" if user is None else "auth.no_password"
        if not passwords.verify_password(user.password_hash, password):
            return "auth.wrong_password"
        if tenant.status != "active":
            return f"tenant.{tenant.status}"  # tenant.suspended, tenant.deleted
        if user.status != "active":
            return f"auth.user_{user.status}"  # auth.user_disabled, auth.user_invited
        if user.mfa_enabled:
            if not totp:
                return "auth.mfa_required"
            if not self._totp(user).verify(totp, valid_window=1):
                return "auth.invalid_totp"
        return None

    async def _open_session(self, session: AsyncSession, user: User, meta: RequestMeta) -> TokenPair:
        now = datetime.now(UTC)
        login = AuthSession(
            tenant_id=user.tenant_id,
            user_id=user.id,
            expires_at=now + self.refresh_ttl,
            ip_address=meta.ip_address,
            user_agent=(meta.user_agent or "")[:300] or None,
        )
        session.add(login)
        await session.flush()
        return await self._issue(session, user, login.id)

    async def _issue(self, session: AsyncSession, user: User, session_id: uuid.UUID) -> TokenPair:
        refresh = _new_token("rt", user.tenant_id)
        session.add(
            RefreshToken(
                tenant_id=user.tenant_id,
                session_id=session_id,
                token_hash=_digest(refresh),
                expires_at=datetime.now(UTC) + self.refresh_ttl,
            )
        )
        await session.flush()
        access = self.tokens.issue(
            user_id=user.id,
            tenant_id=user.tenant_id,
            email=user.email,
            role=user.role,
            session_id=session_id,
            platform_admin=user.platform_admin,
        )
        return TokenPair(access, refresh, self.tokens.ttl_s)

    # -- refresh and logout ------------------------------------------------------------------

    async def refresh(self, session: AsyncSession, refresh_token: str, meta: RequestMeta) -> TokenPair:
        """Rotate ``refresh_token`` in ``session`` (the request's unit of work, no tenant yet)."""
        tenant_id = _tenant_of(refresh_token, "rt")
        if tenant_id is None:
            raise invalid_refresh_token()
        await session.execute(SET_TENANT, {"tenant": str(tenant_id)})
        stored = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == _digest(refresh_token)).with_for_update()
        )
        # A spent token's session is ended in another transaction, which must be able to lock it:
        # lock it here only on the way to a new token.
        spent = stored is not None and stored.used_at is not None
        login = (
            await session.get(AuthSession, stored.session_id, with_for_update=not spent) if stored else None
        )
        now = datetime.now(UTC)
        if stored is None or login is None or login.revoked_at is not None or stored.expires_at <= now:
            raise invalid_refresh_token()
        if spent:
            await self._end_stolen_session(tenant_id, login.id, login.user_id, meta)
            raise invalid_refresh_token("Die Sitzung wurde aus Sicherheitsgründen beendet.")
        user = await session.get(User, login.user_id)
        tenant_status = await TenantRepository(session).status_of(tenant_id)
        if user is None or user.status != "active" or tenant_status != "active":
            raise invalid_refresh_token()
        stored.used_at = now
        return await self._issue(session, user, login.id)

    async def _end_stolen_session(
        self, tenant_id: uuid.UUID, session_id: uuid.UUID, user_id: uuid.UUID, meta: RequestMeta
    ) -> None:
        """A spent refresh token came back: assume theft and end the whole session.

        Its own transaction, committed before the refusal (the request's unit of work rolls back).
        """
        async with self.db.session(tenant_id) as own:
            ended = await own.execute(
                update(AuthSession)
                .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
                .returning(AuthSession.id)
            )
            if ended.first() is not None:
                await audit.record_system(
                    own,
                    tenant_id,
                    "user.logout",
                    "user",
                    user_id,
                    {"reason": "refresh_token_reuse", "session": str(session_id)},
                    actor_id=user_id,
                    origin=meta,
                )

    async def logout(self, session: AsyncSession, principal: Principal) -> None:
        if principal.session_id is None:
            return
        await session.execute(
            update(AuthSession)
            .where(AuthSession.id == principal.session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        await audit.record(
            session,
            principal,
            "user.logout",
            "user",
            principal.user_id,
            {"session": str(principal.session_id)},
        )

    # -- invites -----------------------------------------------------------------------------

    @staticmethod
    def new_invite(tenant_id: uuid.UUID, user_id: uuid.UUID, created_by: uuid.UUID) -> tuple[str, UserInvite]:
        token = _new_token("inv", tenant_id)
        invite = UserInvite(
            tenant_id=tenant_id,
            user_id=user_id,
            token_hash=_digest(token),
            expires_at=datetime.now(UTC) + INVITE_TTL,
            created_by=created_by,
        )
        return token, invite

    async def accept_invite(
        self, session: AsyncSession, token: str, password: str, display_name: str, meta: RequestMeta
    ) -> TokenPair:
        """Activate the invited user in ``session`` (the request's unit of work, no tenant yet)."""
        tenant_id = _tenant_of(token, "inv")
        invalid = errors.BadRequest("auth.invalid_invite", "Die Einladung ist ungültig oder abgelaufen.")
        if tenant_id is None:
            raise invalid
        violations = passwords.policy_violations(password)
        if violations:
            raise errors.Invalid(
                "user.password_policy",
                violations[0],
                errors=[{"field": "password", "message": v} for v in violations],
            )
        await session.execute(SET_TENANT, {"tenant": str(tenant_id)})
        invite = await session.scalar(
            select(UserInvite).where(UserInvite.token_hash == _digest(token)).with_for_update()
        )
        if invite is None or invite.used_at is not None or invite.expires_at <= datetime.now(UTC):
            raise invalid
        user = await session.get(User, invite.user_id)
        if user is None or user.status != "invited":
            raise invalid
        invite.used_at = datetime.now(UTC)
        user.password_hash = passwords.hash_password(password)
        user.display_name = display_name.strip()
        user.status = "active"
        await audit.record_system(
            session,
            tenant_id,
            "user.activate",
            "user",
            user.id,
            {"via": "invite"},
            actor_id=user.id,
            origin=meta,
        )
        return await self._open_session(session, user, meta)

    # -- password reset ("Passwort vergessen") ------------------------------------------------

    async def request_password_reset(
        self, session: AsyncSession, tenant_slug: str, email: str, meta: RequestMeta
    ) -> ResetTicket | None:
        """A reset token for an active account, else None; the caller answers the same either way.

        In ``session`` (the request's unit of work, no tenant yet). Unknown tenant, unknown
        e-mail, an inactive account and a second request within a minute all end in None;
        the mail goes out after the commit, in the background. Every outcome takes at least
        PASSWORD_RESET_MIN_S, so the time does not tell a hit from a miss (the few queries
        of either path take a fraction of it).
        """
        source = meta.ip_address or "unknown"
        # Every request counts, found or not; on its own connection (a short lock, not the request's).
        await self.reset_throttle.count(self.db, source)
        started = time.monotonic()
        try:
            return await self._request_password_reset(session, tenant_slug, email, meta)
        finally:
            await asyncio.sleep(max(0.0, PASSWORD_RESET_MIN_S - (time.monotonic() - started)))

    async def _request_password_reset(
        self, session: AsyncSession, tenant_slug: str, email: str, meta: RequestMeta
    ) -> ResetTicket | None:
        tenant = await TenantRepository(session).resolve_slug(tenant_slug)
        if tenant is None:
            return None
        await session.execute(SET_TENANT, {"tenant": str(tenant.id)})
        user = await session.scalar(
            select(User)
            .where(text("lower(email) = lower(:email)"))
            .params(email=email.strip())
            .with_for_update()
        )
        if user is None:
            # Audited like a failed login (the tenant's admins see probing); same work as a hit.
            await audit.record_system(
                session,
                tenant.id,
                "user.password_reset_requested",
                "user",
                None,
                {"email": email.strip().lower(), "mailSent": False, "reason": "unknown_user"},
                origin=meta,
            )
            return None
        now = datetime.now(UTC)
        refusal: str | None = None
        if tenant.status != "active" or user.status != "active":
            refusal = "not_active"
        else:
            recent = await session.scalar(
                select(PasswordReset.id).where(
                    PasswordReset.user_id == user.id,
                    PasswordReset.used_at.is_(None),
                    PasswordReset.created_at > now - PASSWORD_RESET_RESEND_AFTER,
                )
            )
            if recent is not None:
                refusal = "recently_sent"
        if refusal is not None:
            await audit.record_system(
                session,
                tenant.id,
                "user.password_reset_requested",
                "user",
                user.id,
                {"mailSent": False, "reason": refusal},
                origin=meta,
            )
            return None
        token = _new_token("pwr", tenant.id)
        expires_at = now + PASSWORD_RESET_TTL
        session.add(
            PasswordReset(
                tenant_id=tenant.id, user_id=user.id, token_hash=_digest(token), expires_at=expires_at
            )
        )
        await session.flush()
        await audit.record_system(
            session,
            tenant.id,
            "user.password_reset_requested",
            "user",
            user.id,
            {"mailSent": True, "expiresAt": expires_at.isoformat()},
            origin=meta,
        )
        return ResetTicket(user.email, user.display_name, tenant_slug.strip(), token, expires_at)

    async def confirm_password_reset(
        self, session: AsyncSession, token: str, password: str, meta: RequestMeta
    ) -> int:
        """Set the new password, spend the token (and any other open one), end every session.

        In ``session`` (the request's unit of work, no tenant yet). Answers how many
        sessions were ended.
        """
        invalid = errors.BadRequest(
            "auth.invalid_reset_token",
            "Der Link zum Zurücksetzen des Passworts ist ungültig. Bitte fordern Sie einen neuen an.",
        )
        tenant_id = _tenant_of(token, "pwr")
        if tenant_id is None:
            raise invalid
        violations = passwords.policy_violations(password)
        if violations:
            raise errors.Invalid(
                "user.password_policy",
                violations[0],
                errors=[{"field": "password", "message": v} for v in violations],
            )
        await session.execute(SET_TENANT, {"tenant": str(tenant_id)})
        reset = await session.scalar(
            select(PasswordReset).where(PasswordReset.token_hash == _digest(token)).with_for_update()
        )
        if reset is None:
            raise invalid
        now = datetime.now(UTC)
        if reset.used_at is not None:
            raise errors.BadRequest(
                "auth.reset_token_used",
                "Dieser Link wurde bereits verwendet. Bitte fordern Sie bei Bedarf einen neuen an.",
            )
        if reset.expires_at <= now:
            raise errors.BadRequest(
                "auth.reset_token_expired",
                "Der Link zum Zurücksetzen des Passworts ist abgelaufen. Bitte fordern Sie einen neuen an.",
            )
        user = await session.get(User, reset.user_id, with_for_update=True)
        tenant_status = await TenantRepository(session).status_of(tenant_id)
        if user is None or user.status != "active" or tenant_status != "active":
            raise invalid
        await session.execute(
            update(PasswordReset)
            .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        user.password_hash = passwords.hash_password(password)
        _checks_passed(user)
        ended = await session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(AuthSession.id)
        )
        count = len(ended.all())
        await audit.record_system(
            session,
            tenant_id,
            "user.password_reset",
            "user",
            user.id,
            {"sessionsEnded": count},
            actor_id=user.id,
            origin=meta,
        )
        return count

    # -- TOTP --------------------------------------------------------------------------------

    def _totp(self, user: User) -> pyotp.TOTP:
        try:
            secret = self.cipher.decrypt((user.mfa_secret or "").encode()).decode()
        except InvalidToken:
            raise errors.Conflict(
                "auth.mfa_not_set_up", "Die Zwei-Faktor-Anmeldung ist nicht eingerichtet."
            ) from None
        return pyotp.TOTP(secret)

    async def mfa_setup(self, session: AsyncSession, principal: Principal) -> tuple[str, str]:
        user = await session.get(User, principal.user_id, with_for_update=True)
        assert user is not None
        if user.mfa_enabled:
            raise errors.Conflict("auth.mfa_already_enabled", "Die Zwei-Faktor-Anmeldung ist bereits aktiv.")
        secret = pyotp.random_base32()
        user.mfa_secret = self.cipher.encrypt(secret.encode()).decode()
        uri = pyotp.TOTP(secret).provisioning_uri(name=principal.email, issuer_name=TOTP_ISSUER)
        return secret, uri

    async def mfa_set(self, principal: Principal, code: str, enabled: bool) -> None:
        """Enable or disable the second factor with a current code.

        Disabling is refused while the tenant requires MFA; that check and the change
        run in one transaction. Its own transaction, not the request's: a wrong code
        stays counted although the request fails (see the module docstring).
        """
        check = "mfa.enable" if enabled else "mfa.disable"
        async with self.db.session(principal.tenant_id) as session:
            if not enabled and await TenantRepository(session).mfa_required(principal.tenant_id):
                raise errors.Conflict(
                    "auth.mfa_required_by_tenant", "Ihr Mandant verlangt die Zwei-Faktor-Anmeldung."
                )
            user = await session.get(User, principal.user_id, with_for_update=True)
            assert user is not None
            if user.mfa_secret is None:
                raise errors.Conflict(
                    "auth.mfa_not_set_up", "Bitte richten Sie zuerst die Authenticator-App ein."
                )
            _refuse_while_blocked(user)
            correct = self._totp(user).verify(code, valid_window=1)
            if correct:
                _checks_passed(user)
                user.mfa_enabled = enabled
                if not enabled:
                    user.mfa_secret = None
                action = "user.mfa_enable" if enabled else "user.mfa_disable"
                await audit.record(session, principal, action, "user", principal.user_id)
            else:
                await _check_failed(session, user, principal, check)
        if not correct:  # raised after the commit, so the failure stays counted
            raise errors.Invalid(
                "auth.invalid_totp",
                "Der Code ist nicht korrekt.",
                errors=[{"field": "code", "message": "Der Code ist nicht korrekt."}],
            )

    # -- password change ---------------------------------------------------------------------

    async def change_password(self, principal: Principal, current: str, new: str) -> None:
        """Set a new password after checking the current one; ends the user's other sessions.

        Its own transaction, not the request's: a wrong password stays counted although
        the request fails (see the module docstring).
        """
        violations = passwords.policy_violations(new)
        if violations:
            raise errors.Invalid(
                "user.password_policy",
                violations[0],
                errors=[{"field": "newPassword", "message": v} for v in violations],
            )
        async with self.db.session(principal.tenant_id) as session:
            user = await session.get(User, principal.user_id, with_for_update=True)
            assert user is not None
            _refuse_while_blocked(user)
            if user.password_hash is None:
                passwords.verify_password(_DUMMY_HASH, current)
                correct = False
            else:
                correct = passwords.verify_password(user.password_hash, current)
            if correct:
                _checks_passed(user)
                user.password_hash = passwords.hash_password(new)
                others = update(AuthSession).where(
                    AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None)
                )
                if principal.session_id is not None:  # the caller's own session stays
                    others = others.where(AuthSession.id != principal.session_id)
                ended = await session.execute(
                    others.values(revoked_at=datetime.now(UTC)).returning(AuthSession.id)
                )
                await audit.record(
                    session,
                    principal,
                    "user.password_change",
                    "user",
                    principal.user_id,
                    {"sessionsEnded": len(ended.all())},
                )
            else:
                await _check_failed(session, user, principal, "password.change")
        if not correct:
            message = "Das aktuelle Passwort ist nicht korrekt."
            raise errors.Invalid(
                "auth.invalid_password",
                message,
                errors=[{"field": "currentPassword", "message": message}],
            )


# -- attempt limit on the checks of signed-in users ------------------------------------------


def _refuse_while_blocked(user: User) -> None:
    """429 once CHECK_MAX_FAILURES wrong answers fell in the current window (even for a right one)."""
    if user.failed_check_since is None or user.failed_check_count < CHECK_MAX_FAILURES:
        return
    remaining = (user.failed_check_since + CHECK_WINDOW - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        raise too_many_attempts(math.ceil(remaining))


def _checks_passed(user: User) -> None:
    user.failed_check_count = 0
    user.failed_check_since = None


async def _check_failed(session: AsyncSession, user: User, principal: Principal, check: str) -> None:
    now = datetime.now(UTC)
    if user.failed_check_since is None or user.failed_check_since + CHECK_WINDOW <= now:
        user.failed_check_since = now
        user.failed_check_count = 1
    else:
        user.failed_check_count += 1
    await audit.record(
        session,
        principal,
        "user.verification_failed",
        "user",
        principal.user_id,
        {"check": check, "failures": user.failed_check_count},
    )
