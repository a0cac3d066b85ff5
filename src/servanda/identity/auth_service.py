"""The built-in identity provider: login, rotating refresh tokens, logout, invites, TOTP.

Failed logins are audited (``user.login_failed``) in their own transaction, so
the record survives the refusal. Accounts lock after repeated failures, and a
per-address throttle answers 429 before the password is even checked.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.identity import passwords
from servanda.identity.access import Principal
from servanda.identity.models import AuthSession, RefreshToken, User, UserInvite
from servanda.identity.repository import AuditRepository, TenantRepository
from servanda.platform.db import Database
from servanda.platform.problems import Problem
from servanda.platform.tokens import LocalTokens

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
THROTTLE_WINDOW_S = 300.0
THROTTLE_MAX_FAILURES = 20
INVITE_TTL = timedelta(days=7)
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


def invalid_credentials() -> Problem:
    return Problem(
        401, "auth.invalid_credentials", "Mandant, E-Mail-Adresse oder Passwort sind nicht korrekt."
    )


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class RequestMeta:
    ip_address: str | None
    user_agent: str | None
    request_id: str | None


class LoginThrottle:
    """Failed logins per client address in a sliding window (per API process)."""

    def __init__(
        self, max_failures: int = THROTTLE_MAX_FAILURES, window_s: float = THROTTLE_WINDOW_S
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _window(self, key: str) -> deque[float]:
        failures = self._failures[key]
        cutoff = time.monotonic() - self.window_s
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures

    def check(self, key: str) -> None:
        failures = self._window(key)
        if len(failures) >= self.max_failures:
            retry = int(failures[0] + self.window_s - time.monotonic()) + 1
            raise Problem(
                429,
                "auth.rate_limited",
                "Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie kurz.",
                headers={"Retry-After": str(max(retry, 1))},
            )

    def failed(self, key: str) -> None:
        self._window(key).append(time.monotonic())


class LocalAuthService:
    def __init__(
        self, db: Database, tokens: LocalTokens, cipher: Fernet, refresh_ttl_s: int, throttle: LoginThrottle
    ):
        self.db = db
        self.tokens = tokens
        self.cipher = cipher
        self.refresh_ttl = timedelta(seconds=refresh_ttl_s)
        self.throttle = throttle

    # -- login -------------------------------------------------------------------------------

    async def login(
        self, tenant_slug: str, email: str, password: str, totp: str | None, meta: RequestMeta
    ) -> TokenPair:
        throttle_key = meta.ip_address or "unknown"
        self.throttle.check(throttle_key)
        async with self.db.session(None) as session:
            tenant = await TenantRepository(session).resolve_slug(tenant_slug)
        if tenant is None:
            passwords.verify_password(_DUMMY_HASH, password)
            self.throttle.failed(throttle_key)
            raise invalid_credentials()
        if tenant.status == "suspended":
            raise Problem(403, "tenant.suspended", "Der Mandant ist gesperrt.")
        if tenant.status != "active":
            raise invalid_credentials()
        async with self.db.session(tenant.id) as session:
            user = await session.scalar(
                select(User).where(text("lower(email) = lower(:email)")).params(email=email.strip())
            )
            failure = self._check(user, password, totp)
            if failure is None and user is not None:
                user.failed_login_count = 0
                user.locked_until = None
                user.last_login_at = datetime.now(UTC)
                pair = await self._open_session(session, user, meta)
                await AuditRepository(session).append(
                    tenant_id=tenant.id,
                    action="user.login",
                    actor_id=user.id,
                    object_type="user",
                    object_id=str(user.id),
                    details={"provider": "local", "mfa": user.mfa_enabled},
                    request_id=meta.request_id,
                    ip_address=meta.ip_address,
                )
                return pair
            assert failure is not None
            if failure.code in ("auth.invalid_credentials", "auth.invalid_totp") and user is not None:
                user.failed_login_count += 1
                if user.failed_login_count >= MAX_FAILED_LOGINS:
                    user.locked_until = datetime.now(UTC) + LOCKOUT
            if failure.code != "auth.mfa_required":
                self.throttle.failed(throttle_key)
            await AuditRepository(session).append(
                tenant_id=tenant.id,
                action="user.login_failed",
                actor_id=user.id if user is not None else None,
                object_type="user",
                object_id=str(user.id) if user is not None else None,
                details={"email": email.strip().lower(), "reason": failure.code},
                request_id=meta.request_id,
                ip_address=meta.ip_address,
            )
        raise failure

    def _check(self, user: User | None, password: str, totp: str | None) -> Problem | None:
        if user is None or user.password_hash is None:
            passwords.verify_password(_DUMMY_HASH, password)
            return invalid_credentials()
        if user.locked_until is not None and user.locked_until > datetime.now(UTC):
            retry = int((user.locked_until - datetime.now(UTC)).total_seconds()) + 1
            return Problem(
                423,
                "auth.account_locked",
                "Das Konto ist nach mehreren Fehlversuchen vorübergehend gesperrt.",
                headers={"Retry-After": str(retry)},
            )
        if not passwords.verify_password(user.password_hash, password):
            return invalid_credentials()
        if user.status != "active":
            return Problem(401, "auth.user_disabled", "Dieses Konto ist deaktiviert.")
        if user.mfa_enabled:
            if not totp:
                return Problem(
                    401, "auth.mfa_required", "Bitte geben Sie den Code Ihrer Authenticator-App ein."
                )
            if not self._totp(user).verify(totp, valid_window=1):
                return Problem(401, "auth.invalid_totp", "Der Code ist nicht korrekt.")
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

    async def refresh(self, refresh_token: str, meta: RequestMeta) -> TokenPair:
        tenant_id = _tenant_of(refresh_token, "rt")
        if tenant_id is None:
            raise Problem(
                401, "auth.invalid_refresh_token", "Die Sitzung ist abgelaufen. Bitte melden Sie sich an."
            )
        async with self.db.session(tenant_id) as session:
            stored = await session.scalar(
                select(RefreshToken)
                .where(RefreshToken.token_hash == _digest(refresh_token))
                .with_for_update()
            )
            login = (
                await session.get(AuthSession, stored.session_id, with_for_update=True) if stored else None
            )
            now = datetime.now(UTC)
            if stored is None or login is None or login.revoked_at is not None or stored.expires_at <= now:
                raise Problem(
                    401, "auth.invalid_refresh_token", "Die Sitzung ist abgelaufen. Bitte melden Sie sich an."
                )
            if stored.used_at is not None:
                # A spent token came back: assume theft and end the whole session.
                login.revoked_at = now
                await AuditRepository(session).append(
                    tenant_id=tenant_id,
                    action="user.logout",
                    actor_id=login.user_id,
                    object_type="user",
                    object_id=str(login.user_id),
                    details={"reason": "refresh_token_reuse", "session": str(login.id)},
                    request_id=meta.request_id,
                    ip_address=meta.ip_address,
                )
                await session.commit()
                raise Problem(
                    401, "auth.invalid_refresh_token", "Die Sitzung wurde aus Sicherheitsgründen beendet."
                )
            user = await session.get(User, login.user_id)
            tenant_status = await TenantRepository(session).status_of(tenant_id)
            if user is None or user.status != "active" or tenant_status != "active":
                raise Problem(
                    401, "auth.invalid_refresh_token", "Die Sitzung ist abgelaufen. Bitte melden Sie sich an."
                )
            stored.used_at = now
            return await self._issue(session, user, login.id)

    async def logout(self, principal: Principal) -> None:
        if principal.session_id is None:
            return
        async with self.db.session(principal.tenant_id) as session:
            await session.execute(
                update(AuthSession)
                .where(AuthSession.id == principal.session_id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            await AuditRepository(session).append(
                tenant_id=principal.tenant_id,
                action="user.logout",
                actor_id=principal.user_id,
                object_type="user",
                object_id=str(principal.user_id),
                details={"session": str(principal.session_id)},
                request_id=principal.request_id,
                ip_address=principal.ip_address,
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
        self, token: str, password: str, display_name: str, meta: RequestMeta
    ) -> TokenPair:
        tenant_id = _tenant_of(token, "inv")
        invalid = Problem(400, "auth.invalid_invite", "Die Einladung ist ungültig oder abgelaufen.")
        if tenant_id is None:
            raise invalid
        violations = passwords.policy_violations(password)
        if violations:
            raise Problem(
                422,
                "user.password_policy",
                violations[0],
                errors=[{"field": "password", "message": v} for v in violations],
            )
        async with self.db.session(tenant_id) as session:
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
            await AuditRepository(session).append(
                tenant_id=tenant_id,
                action="user.activate",
                actor_id=user.id,
                object_type="user",
                object_id=str(user.id),
                details={"via": "invite"},
                request_id=meta.request_id,
                ip_address=meta.ip_address,
            )
            return await self._open_session(session, user, meta)

    # -- TOTP --------------------------------------------------------------------------------

    def _totp(self, user: User) -> pyotp.TOTP:
        try:
            secret = self.cipher.decrypt((user.mfa_secret or "").encode()).decode()
        except InvalidToken:
            raise Problem(
                409, "auth.mfa_not_set_up", "Die Zwei-Faktor-Anmeldung ist nicht eingerichtet."
            ) from None
        return pyotp.TOTP(secret)

    async def mfa_setup(self, principal: Principal) -> tuple[str, str]:
        async with self.db.session(principal.tenant_id) as session:
            user = await session.get(User, principal.user_id, with_for_update=True)
            assert user is not None
            if user.mfa_enabled:
                raise Problem(409, "auth.mfa_already_enabled", "Die Zwei-Faktor-Anmeldung ist bereits aktiv.")
            secret = pyotp.random_base32()
            user.mfa_secret = self.cipher.encrypt(secret.encode()).decode()
        uri = pyotp.TOTP(secret).provisioning_uri(name=principal.email, issuer_name=TOTP_ISSUER)
        return secret, uri

    async def mfa_set(self, principal: Principal, code: str, enabled: bool) -> None:
        async with self.db.session(principal.tenant_id) as session:
            user = await session.get(User, principal.user_id, with_for_update=True)
            assert user is not None
            if user.mfa_secret is None:
                raise Problem(
                    409, "auth.mfa_not_set_up", "Bitte richten Sie zuerst die Authenticator-App ein."
                )
            if not self._totp(user).verify(code, valid_window=1):
                raise Problem(
                    422,
                    "auth.invalid_totp",
                    "Der Code ist nicht korrekt.",
                    errors=[{"field": "code", "message": "Der Code ist nicht korrekt."}],
                )
            user.mfa_enabled = enabled
            if not enabled:
                user.mfa_secret = None
            await AuditRepository(session).append(
                tenant_id=principal.tenant_id,
                action="user.mfa_enable" if enabled else "user.mfa_disable",
                actor_id=principal.user_id,
                object_type="user",
                object_id=str(principal.user_id),
                request_id=principal.request_id,
                ip_address=principal.ip_address,
            )
